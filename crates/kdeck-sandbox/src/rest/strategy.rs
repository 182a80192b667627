//! What the real registry's per-kind strategies and conversions do to an object
//! on its way in or out, beyond defaulting: a Pod's status on create, a Secret's
//! `stringData`, and which kinds answer a delete with the object itself.

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::resources::ResourceInfo;

fn is(info: &ResourceInfo, group: &str, plural: &str) -> bool {
    info.group == group && info.plural == plural
}

/// Conversion from the wire form, on every write (create, update, patch, apply):
/// a pod spec's deprecated `serviceAccount` and `serviceAccountName` name the same
/// account; a Secret's `stringData` overwrites the same keys of `data`, base64-encoded,
/// and is never stored or returned (core/v1 `Convert_v1_Secret_To_core_Secret`).
pub fn convert_in(info: &ResourceInfo, obj: &mut Value) {
    for path in pod_spec_paths(info) {
        if let Some(spec) = path.iter().try_fold(&mut *obj, |v, key| v.get_mut(*key)) {
            mirror_service_account(spec);
        }
    }
    if !is(info, "", "secrets") {
        return;
    }
    let Some(map) = obj.as_object_mut() else { return };
    let Some(string_data) = map.remove("stringData") else { return };
    let Value::Object(string_data) = string_data else { return };
    if string_data.is_empty() {
        return;
    }
    if !map.get("data").is_some_and(Value::is_object) {
        map.insert("data".into(), Value::Object(Map::new()));
    }
    let Some(data) = map.get_mut("data").and_then(Value::as_object_mut) else { return };
    for (key, value) in string_data {
        let text = match value {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        };
        data.insert(key, json!(base64::engine::general_purpose::STANDARD.encode(text)));
    }
}

/// `PrepareForCreate`: what the strategy sets on a new object after the client's
/// status was dropped. A Pod starts `Pending`, with its QoS class. And the
/// ServiceAccount admission plugin's first step: a pod that names no account runs
/// as `default` (the rest of the plugin: `serviceaccount::admission`).
pub fn prepare_for_create(info: &ResourceInfo, obj: &mut Value) {
    if is(info, "", "pods") {
        let qos = qos_class(obj);
        obj["status"] = json!({"phase": "Pending", "qosClass": qos});
        if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut)
            && spec.get("serviceAccountName").and_then(Value::as_str).is_none_or(str::is_empty)
        {
            spec.insert("serviceAccountName".into(), json!("default"));
            spec.insert("serviceAccount".into(), json!("default"));
        }
    }
}

/// Where the objects of a kind carry pod specs.
fn pod_spec_paths(info: &ResourceInfo) -> &'static [&'static [&'static str]] {
    match (info.group.as_str(), info.plural.as_str()) {
        ("", "pods") => &[&["spec"]],
        ("", "podtemplates") => &[&["template", "spec"]],
        ("", "replicationcontrollers") | ("apps", "deployments" | "replicasets" | "statefulsets" | "daemonsets") | ("batch", "jobs") => {
            &[&["spec", "template", "spec"]]
        }
        ("batch", "cronjobs") => &[&["spec", "jobTemplate", "spec", "template", "spec"]],
        _ => &[],
    }
}

/// core/v1's PodSpec conversion: `serviceAccountName` comes from the deprecated
/// `serviceAccount` when unset, and `serviceAccount` always repeats it.
fn mirror_service_account(spec: &mut Value) {
    let Some(spec) = spec.as_object_mut() else { return };
    let named = |key: &str| spec.get(key).and_then(Value::as_str).filter(|n| !n.is_empty()).map(str::to_string);
    match named("serviceAccountName").or_else(|| named("serviceAccount")) {
        Some(name) => {
            spec.insert("serviceAccountName".into(), json!(name));
            spec.insert("serviceAccount".into(), json!(name));
        }
        None => {
            spec.remove("serviceAccount");
        }
    }
}

/// The kinds whose registry is built with `ReturnDeletedObject: true`: a delete
/// that removes one at once answers with the object. Every other kind answers a
/// `Status` of `Success` (the generic registry's `finalizeDelete`).
pub fn returns_deleted_object(info: &ResourceInfo) -> bool {
    matches!(
        (info.group.as_str(), info.plural.as_str()),
        ("", "pods" | "services" | "serviceaccounts" | "namespaces" | "persistentvolumes" | "persistentvolumeclaims")
            | ("storage.k8s.io", "storageclasses")
            | ("apiextensions.k8s.io", "customresourcedefinitions")
    )
}

/// The pod's QoS class, as `qos.ComputePodQOS` computes it: only cpu and memory
/// count, and only quantities above zero; no request or limit at all is
/// BestEffort; limits of both on every container, with the summed requests equal
/// to the summed limits, is Guaranteed; anything else Burstable.
pub fn qos_class(pod: &Value) -> &'static str {
    let mut requests: Map<String, Value> = Map::new();
    let mut limits: Map<String, Value> = Map::new();
    let mut guaranteed = true;
    let containers = ["initContainers", "containers"].into_iter().flat_map(|list| pod["spec"][list].as_array().into_iter().flatten());
    for container in containers {
        let resources = &container["resources"];
        // A limit without a request requests the limit (the Pod's defaulting).
        let mut own_requests = resources["requests"].as_object().cloned().unwrap_or_default();
        for (name, limit) in resources["limits"].as_object().into_iter().flatten() {
            own_requests.entry(name.clone()).or_insert_with(|| limit.clone());
        }
        add_up(&mut requests, &own_requests);
        let found = add_up(&mut limits, resources["limits"].as_object().unwrap_or(&Map::new()));
        if !(found.contains(&"cpu") && found.contains(&"memory")) {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    let equal = |a: &Value, b: &Value| a.as_f64().zip(b.as_f64()).is_some_and(|(a, b)| (a - b).abs() <= f64::EPSILON * a.abs().max(1.0));
    if guaranteed && requests.len() == limits.len() && requests.iter().all(|(name, r)| limits.get(name).is_some_and(|l| equal(l, r))) {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// Adds the positive cpu and memory quantities of `list` to `sums`; returns which were found.
fn add_up(sums: &mut Map<String, Value>, list: &Map<String, Value>) -> Vec<&'static str> {
    let mut found = Vec::new();
    for name in ["cpu", "memory"] {
        let amount = list.get(name).and_then(quantity).filter(|q| *q > 0.0);
        if let Some(amount) = amount {
            found.push(name);
            let sum = sums.get(name).and_then(Value::as_f64).unwrap_or(0.0) + amount;
            sums.insert(name.into(), json!(sum));
        }
    }
    found
}

fn quantity(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => crate::quantity::parse(s),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(containers: Value) -> Value {
        json!({"spec": {"containers": containers}})
    }

    #[test]
    fn qos_classes_as_the_real_computation() {
        assert_eq!(qos_class(&pod(json!([{"name": "a"}]))), "BestEffort");
        assert_eq!(qos_class(&pod(json!([{"name": "a", "resources": {"requests": {"cpu": "0"}}}]))), "BestEffort");
        // Limits only: the requests default to them.
        assert_eq!(qos_class(&pod(json!([{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]))), "Guaranteed");
        assert_eq!(
            qos_class(&pod(json!([{"name": "a", "resources": {"requests": {"cpu": "1000m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1024Mi"}}}]))),
            "Guaranteed"
        );
        assert_eq!(qos_class(&pod(json!([{"name": "a", "resources": {"limits": {"cpu": "1"}}}]))), "Burstable");
        assert_eq!(
            qos_class(&pod(json!([{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}, {"name": "b"}]))),
            "Burstable",
            "a container without limits"
        );
        assert_eq!(qos_class(&pod(json!([{"name": "a", "resources": {"requests": {"cpu": "100m"}}}]))), "Burstable");
        // Only cpu and memory count.
        assert_eq!(qos_class(&pod(json!([{"name": "a", "resources": {"requests": {"ephemeral-storage": "1Gi"}}}]))), "BestEffort");
    }

    #[test]
    fn service_account_names_mirror_each_other() {
        let catalogue = crate::resources::Catalogue::new();
        let deployments = catalogue.find("apps", "v1", "deployments").unwrap();
        let mut d = json!({"spec": {"template": {"spec": {"serviceAccount": "old"}}}});
        convert_in(&deployments, &mut d);
        assert_eq!(d["spec"]["template"]["spec"], json!({"serviceAccount": "old", "serviceAccountName": "old"}));
        let pods = catalogue.find("", "v1", "pods").unwrap();
        let mut p = json!({"spec": {"serviceAccountName": "api"}});
        convert_in(&pods, &mut p);
        assert_eq!(p["spec"]["serviceAccount"], "api");
        let mut bare = json!({"spec": {"containers": []}});
        convert_in(&pods, &mut bare);
        prepare_for_create(&pods, &mut bare);
        assert_eq!((bare["spec"]["serviceAccountName"].as_str(), bare["spec"]["serviceAccount"].as_str()), (Some("default"), Some("default")));
    }

    #[test]
    fn string_data_is_merged_into_data() {
        let info = crate::resources::Catalogue::new().find("", "v1", "secrets").unwrap();
        let mut secret = json!({"data": {"a": "b2xk", "keep": "eA=="}, "stringData": {"a": "new", "b": "two"}});
        convert_in(&info, &mut secret);
        assert_eq!(secret, json!({"data": {"a": "bmV3", "keep": "eA==", "b": "dHdv"}}));
        let mut only = json!({"stringData": {"k": "v"}});
        convert_in(&info, &mut only);
        assert_eq!(only, json!({"data": {"k": "dg=="}}));
    }
}
