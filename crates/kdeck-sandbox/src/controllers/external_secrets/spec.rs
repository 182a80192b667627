//! The ExternalSecret spec, read and validated as the CRD schema and ESO's admission
//! webhook would.

use std::time::Duration;

use serde_json::Value;

use crate::controllers::objects::name;
use crate::time;

/// `spec.refreshInterval` when unset (the CRD's default).
const DEFAULT_REFRESH: Duration = Duration::from_secs(3600);

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum StoreKind {
    SecretStore,
    ClusterSecretStore,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum CreationPolicy {
    Owner,
    Orphan,
    Merge,
    None,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum DeletionPolicy {
    Delete,
    Merge,
    Retain,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum RefreshPolicy {
    CreatedOnce,
    Periodic,
    OnChange,
}

/// A provider reference: `spec.data[].remoteRef` or `spec.dataFrom[].extract`.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct RemoteRef {
    pub(super) key: String,
    pub(super) property: String,
    pub(super) version: String,
    pub(super) decoding: String,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum DataFrom {
    Extract(RemoteRef),
    /// `find`, generators, `rewrite`: what the sandbox does not simulate.
    Unsupported(String),
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Spec {
    pub(super) store_name: String,
    pub(super) store_kind: StoreKind,
    pub(super) target_name: String,
    pub(super) creation: CreationPolicy,
    pub(super) deletion: DeletionPolicy,
    pub(super) immutable: bool,
    pub(super) template: Option<Value>,
    pub(super) data: Vec<(String, RemoteRef)>,
    pub(super) data_from: Vec<DataFrom>,
    pub(super) refresh_interval: Duration,
    pub(super) refresh_policy: RefreshPolicy,
}

/// `<field>: Unsupported value: "x": supported values: "a", "b"`, as the CRD's enum
/// validation reports it.
fn one_of<T: Copy>(obj: &Value, field: &str, default: T, values: &[(&str, T)]) -> Result<T, String> {
    let path: Vec<&str> = field.split('.').collect();
    let mut v = obj;
    for p in &path {
        v = &v[*p];
    }
    let Some(given) = v.as_str().filter(|s| !s.is_empty()) else {
        return if v.is_null() || v == "" { Ok(default) } else { Err(format!("spec.{field}: Invalid value: {v}: must be a string")) };
    };
    values.iter().find(|(name, _)| *name == given).map(|(_, t)| *t).ok_or_else(|| {
        let supported: Vec<String> = values.iter().map(|(n, _)| format!("{n:?}")).collect();
        format!("spec.{field}: Unsupported value: {given:?}: supported values: {}", supported.join(", "))
    })
}

fn remote_ref(v: &Value) -> RemoteRef {
    let field = |f: &str| text(&v[f]).unwrap_or_default();
    RemoteRef { key: field("key"), property: field("property"), version: field("version"), decoding: field("decodingStrategy") }
}

/// Reads and validates the spec as the CRD schema and ESO's admission webhook would;
/// the error is the field problem, as `kubectl` would print it.
pub(super) fn parse_spec(es: &Value) -> Result<Spec, String> {
    let spec = &es["spec"];
    let store_name = text(&spec["secretStoreRef"]["name"]).unwrap_or_default();
    if store_name.is_empty() {
        return Err("spec.secretStoreRef.name: Required value".to_string());
    }
    let store_kind = one_of(
        spec,
        "secretStoreRef.kind",
        StoreKind::SecretStore,
        &[("SecretStore", StoreKind::SecretStore), ("ClusterSecretStore", StoreKind::ClusterSecretStore)],
    )?;
    let creation = one_of(
        spec,
        "target.creationPolicy",
        CreationPolicy::Owner,
        &[("Owner", CreationPolicy::Owner), ("Orphan", CreationPolicy::Orphan), ("Merge", CreationPolicy::Merge), ("None", CreationPolicy::None)],
    )?;
    let deletion = one_of(
        spec,
        "target.deletionPolicy",
        DeletionPolicy::Retain,
        &[("Delete", DeletionPolicy::Delete), ("Merge", DeletionPolicy::Merge), ("Retain", DeletionPolicy::Retain)],
    )?;
    let refresh_policy = one_of(
        spec,
        "refreshPolicy",
        RefreshPolicy::Periodic,
        &[("CreatedOnce", RefreshPolicy::CreatedOnce), ("Periodic", RefreshPolicy::Periodic), ("OnChange", RefreshPolicy::OnChange)],
    )?;
    let refresh_interval = match &spec["refreshInterval"] {
        Value::Null => DEFAULT_REFRESH,
        Value::String(s) => parse_refresh_interval(s).map_err(|e| format!("spec.refreshInterval: Invalid value: {s:?}: {e}"))?,
        other => return Err(format!("spec.refreshInterval: Invalid value: {other}: must be a duration string such as \"1h\"")),
    };
    if deletion == DeletionPolicy::Delete && matches!(creation, CreationPolicy::Merge | CreationPolicy::None) {
        return Err(
            "spec.target: Invalid value: deletionPolicy=Delete must not be used when the controller doesn't own the secret. Please set creationPolicy=Owner"
                .to_string(),
        );
    }
    if deletion == DeletionPolicy::Merge && creation == CreationPolicy::None {
        return Err("spec.target: Invalid value: deletionPolicy=Merge must not be used with creationPolicy=None. There is no Secret to merge with".to_string());
    }
    let mut data = Vec::new();
    for (i, entry) in spec["data"].as_array().into_iter().flatten().enumerate() {
        let secret_key = text(&entry["secretKey"]).unwrap_or_default();
        if secret_key.is_empty() {
            return Err(format!("spec.data[{i}].secretKey: Required value"));
        }
        let reference = remote_ref(&entry["remoteRef"]);
        if reference.key.is_empty() {
            return Err(format!("spec.data[{i}].remoteRef.key: Required value"));
        }
        data.push((secret_key, reference));
    }
    let mut data_from = Vec::new();
    for (i, entry) in spec["dataFrom"].as_array().into_iter().flatten().enumerate() {
        let unsupported = |what: &str| DataFrom::Unsupported(format!("spec.dataFrom[{i}].{what} is not simulated by the kdeck sandbox"));
        data_from.push(if entry["rewrite"].as_array().is_some_and(|r| !r.is_empty()) {
            unsupported("rewrite")
        } else if entry["extract"].is_object() {
            let reference = remote_ref(&entry["extract"]);
            if reference.key.is_empty() {
                return Err(format!("spec.dataFrom[{i}].extract.key: Required value"));
            }
            DataFrom::Extract(reference)
        } else if entry["find"].is_object() {
            unsupported("find")
        } else if entry["sourceRef"].is_object() {
            unsupported("sourceRef")
        } else {
            return Err(format!("spec.dataFrom[{i}]: Invalid value: either extract, find, or sourceRef must be set to dataFrom"));
        });
    }
    let template = spec["target"]["template"].as_object().map(|t| Value::Object(t.clone()));
    if data.is_empty() && data_from.is_empty() && template.is_none() {
        return Err("spec: Invalid value: either data or dataFrom should be specified".to_string());
    }
    let target_name = text(&spec["target"]["name"]).filter(|n| !n.is_empty()).unwrap_or_else(|| name(es).to_string());
    Ok(Spec {
        store_name,
        store_kind,
        target_name,
        creation,
        deletion,
        immutable: spec["target"]["immutable"] == true,
        template,
        data,
        data_from,
        refresh_interval,
        refresh_policy,
    })
}

/// `spec.refreshInterval` as a Go duration (`1h`, `15s`, `1h30m`, `0`). A negative
/// one, which Go accepts and ESO treats like `0`, reads as zero.
fn parse_refresh_interval(s: &str) -> Result<Duration, String> {
    match s.strip_prefix('-').or(s.strip_prefix('+')) {
        Some(rest) if !rest.starts_with(['-', '+']) => {
            let d = time::parse_go_duration(rest).map_err(|_| format!("time: invalid duration {s:?}"))?;
            Ok(if s.starts_with('-') { Duration::ZERO } else { d })
        }
        _ => time::parse_go_duration(s),
    }
}

/// A scalar as the text a Go string field would hold (YAML may have typed it).
pub(super) fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::spec_of;
    use super::*;

    #[test]
    fn refresh_intervals_parse_as_go_durations() {
        let secs = Duration::from_secs;
        assert_eq!(parse_refresh_interval("1h"), Ok(secs(3600)));
        assert_eq!(parse_refresh_interval("15s"), Ok(secs(15)));
        assert_eq!(parse_refresh_interval("1h30m"), Ok(secs(5400)));
        assert_eq!(parse_refresh_interval("1h0m0s"), Ok(secs(3600)));
        assert_eq!(parse_refresh_interval("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_refresh_interval("1.5h"), Ok(secs(5400)));
        assert_eq!(parse_refresh_interval("+5m"), Ok(secs(300)));
        assert_eq!(parse_refresh_interval("0"), Ok(Duration::ZERO));
        assert_eq!(parse_refresh_interval("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_refresh_interval("-1h"), Ok(Duration::ZERO));
        assert_eq!(parse_refresh_interval("1"), Err(r#"time: missing unit in duration "1""#.to_string()));
        assert_eq!(parse_refresh_interval("1d"), Err(r#"time: unknown unit "d" in duration "1d""#.to_string()));
        assert_eq!(parse_refresh_interval("abc"), Err(r#"time: invalid duration "abc""#.to_string()));
        for bad in ["", "h", "--1h", "-", "+", "1h-"] {
            assert!(parse_refresh_interval(bad).is_err(), "{bad:?} should not parse");
        }
        // Through the spec, with the CRD's default.
        let interval =
            |v: Value| spec_of(json!({"secretStoreRef": {"name": "s"}, "refreshInterval": v, "dataFrom": [{"extract": {"key": "k"}}]})).refresh_interval;
        assert_eq!(interval(json!("2m")), secs(120));
        assert_eq!(interval(Value::Null), DEFAULT_REFRESH);
    }

    #[test]
    fn invalid_specs_are_reported_as_the_api_would() {
        let bad = |spec: Value| parse_spec(&json!({"metadata": {"name": "es"}, "spec": spec})).unwrap_err();
        assert_eq!(bad(json!({"data": [{"secretKey": "a", "remoteRef": {"key": "k"}}]})), "spec.secretStoreRef.name: Required value");
        assert_eq!(
            bad(json!({"secretStoreRef": {"name": "s"}, "refreshInterval": "soon", "data": [{"secretKey": "a", "remoteRef": {"key": "k"}}]})),
            r#"spec.refreshInterval: Invalid value: "soon": time: invalid duration "soon""#
        );
        assert_eq!(bad(json!({"secretStoreRef": {"name": "s"}, "data": [{"remoteRef": {"key": "k"}}]})), "spec.data[0].secretKey: Required value");
        assert_eq!(bad(json!({"secretStoreRef": {"name": "s"}, "data": [{"secretKey": "a", "remoteRef": {}}]})), "spec.data[0].remoteRef.key: Required value");
        assert_eq!(bad(json!({"secretStoreRef": {"name": "s"}})), "spec: Invalid value: either data or dataFrom should be specified");
        assert!(
            bad(json!({"secretStoreRef": {"name": "s", "kind": "Vault"}, "dataFrom": [{"extract": {"key": "k"}}]}))
                .starts_with("spec.secretStoreRef.kind: Unsupported value: \"Vault\"")
        );
        assert!(
            bad(json!({"secretStoreRef": {"name": "s"}, "refreshPolicy": "Sometimes", "dataFrom": [{"extract": {"key": "k"}}]})).contains("supported values")
        );
        assert!(
            bad(json!({"secretStoreRef": {"name": "s"}, "target": {"creationPolicy": "Merge", "deletionPolicy": "Delete"}, "dataFrom": [{"extract": {"key": "k"}}]}))
                .contains("deletionPolicy=Delete must not be used")
        );
        let spec = spec_of(json!({"secretStoreRef": {"name": "s"}, "dataFrom": [{"extract": {"key": "k"}}]}));
        assert_eq!((spec.target_name.as_str(), spec.store_kind, spec.creation), ("es", StoreKind::SecretStore, CreationPolicy::Owner));
        assert_eq!((spec.refresh_interval, spec.refresh_policy, spec.deletion), (DEFAULT_REFRESH, RefreshPolicy::Periodic, DeletionPolicy::Retain));
    }
}
