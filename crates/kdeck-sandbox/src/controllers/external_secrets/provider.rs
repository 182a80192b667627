//! The ESO `fake` provider: the key/value entries in a store's
//! `spec.provider.fake.data`, the lookups the real provider answers, and what a sync
//! fetches through them.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde_json::{Map, Value};

use super::spec::{DataFrom, DeletionPolicy, RemoteRef, Spec, text};

/// One `spec.provider.fake.data` entry.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct FakeEntry {
    key: String,
    value: String,
    version: String,
}

/// Why a store cannot be used: the Ready condition's reason and message.
#[derive(Debug, PartialEq)]
pub(super) struct StoreProblem {
    pub(super) reason: &'static str,
    pub(super) message: String,
}

/// The store's fake provider data, or why the store is not usable.
pub(super) fn fake_provider(store: &Value) -> Result<Vec<FakeEntry>, StoreProblem> {
    let problem = |message: String| StoreProblem { reason: "InvalidProviderConfig", message };
    let provider = &store["spec"]["provider"];
    let Some(providers) = provider.as_object().filter(|p| !p.is_empty()) else {
        return Err(problem("unable to create client: missing store provider".to_string()));
    };
    let Some(fake) = providers.get("fake") else {
        let names: Vec<&str> = providers.keys().map(String::as_str).collect();
        return Err(problem(format!(
            "unable to create client: provider {:?} is not simulated by the kdeck sandbox; use the \"fake\" provider (spec.provider.fake.data)",
            names.join(",")
        )));
    };
    let mut entries = Vec::new();
    for (pos, data) in fake["data"].as_array().into_iter().flatten().enumerate() {
        let key = text(&data["key"]).unwrap_or_default();
        if key.is_empty() {
            return Err(problem(format!("key must be set in data {pos}")));
        }
        // `valueMap` is the older form of a JSON object value.
        let value = match (text(&data["value"]), data["valueMap"].as_object()) {
            (Some(value), _) => value,
            (None, Some(map)) => Value::Object(map.clone()).to_string(),
            (None, None) => return Err(problem(format!("at least one value must be set in data {pos}"))),
        };
        entries.push(FakeEntry { key, value, version: text(&data["version"]).unwrap_or_default() });
    }
    Ok(entries)
}

/// A lookup that found nothing: ESO's `NoSecretErr`.
const NO_SECRET: &str = "Secret does not exist";

enum Lookup {
    NoSecret,
    Failed(String),
}

/// The fake provider's `GetSecret`: the entry with this key and version (a later
/// entry wins), or one property of its JSON value.
fn get_secret(entries: &[FakeEntry], reference: &RemoteRef) -> Result<Vec<u8>, Lookup> {
    let entry = entries.iter().rev().find(|e| e.key == reference.key && e.version == reference.version).ok_or(Lookup::NoSecret)?;
    if reference.property.is_empty() {
        return Ok(entry.value.clone().into_bytes());
    }
    json_property(&entry.value, &reference.property).map(String::into_bytes).ok_or(Lookup::NoSecret)
}

/// The fake provider's `GetSecretMap`: the (property of the) value as a JSON object,
/// string members as themselves and others as JSON text.
fn get_secret_map(entries: &[FakeEntry], reference: &RemoteRef) -> Result<BTreeMap<String, Vec<u8>>, Lookup> {
    let raw = get_secret(entries, reference)?;
    let members: Map<String, Value> = serde_json::from_slice(&raw).map_err(|e| Lookup::Failed(format!("unable to unmarshal secret: {e}")))?;
    Ok(members
        .into_iter()
        .map(|(k, v)| {
            let bytes = match v {
                Value::String(s) => s.into_bytes(),
                other => other.to_string().into_bytes(),
            };
            (k, bytes)
        })
        .collect())
}

/// A gjson-style path (`a.b.0.c`, `\.` escaping a dot) into a JSON document, as
/// gjson's `String()`: strings as themselves, anything else as JSON text.
fn json_property(document: &str, path: &str) -> Option<String> {
    let root: Value = serde_json::from_str(document).ok()?;
    let mut segments = vec![String::new()];
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => segments.last_mut()?.push(chars.next()?),
            '.' => segments.push(String::new()),
            c => segments.last_mut()?.push(c),
        }
    }
    let mut at = &root;
    for segment in &segments {
        at = match at {
            Value::Object(map) => map.get(segment)?,
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(match at {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    })
}

fn decode(strategy: &str, value: Vec<u8>) -> Result<Vec<u8>, String> {
    let failed = |e: base64::DecodeError| format!("error applying decoding strategy {strategy} to data: {e}");
    match strategy {
        "" | "None" => Ok(value),
        "Base64" => STANDARD.decode(&value).map_err(failed),
        "Base64URL" => URL_SAFE.decode(&value).map_err(failed),
        "Auto" => Ok(STANDARD.decode(&value).or_else(|_| URL_SAFE.decode(&value)).unwrap_or(value)),
        other => Err(format!("error applying decoding strategy {other} to data: unsupported decoding strategy")),
    }
}

fn valid_secret_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 253 && key.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// What a sync fetched: the data, and notices of entries skipped because the
/// provider has no such secret (with a `deletionPolicy` other than Retain).
#[derive(Debug, Default, PartialEq)]
pub(super) struct Fetched {
    pub(super) data: BTreeMap<String, Vec<u8>>,
    pub(super) skipped: Vec<String>,
}

/// Everything `spec.dataFrom` then `spec.data` fetch, merged in that order.
pub(super) fn fetch(spec: &Spec, entries: &[FakeEntry]) -> Result<Fetched, String> {
    let mut fetched = Fetched::default();
    for (i, from) in spec.data_from.iter().enumerate() {
        let reference = match from {
            DataFrom::Extract(reference) => reference,
            DataFrom::Unsupported(why) => return Err(why.clone()),
        };
        match get_secret_map(entries, reference) {
            Ok(map) => {
                if let Some(bad) = map.keys().find(|k| !valid_secret_key(k)) {
                    return Err(format!("invalid secret keys (TIP: use rewrite or conversionStrategy to change keys): key {bad:?} from spec.dataFrom[{i}]"));
                }
                for (k, v) in map {
                    let v = decode(&reference.decoding, v)?;
                    fetched.data.insert(k, v);
                }
            }
            Err(Lookup::NoSecret) if spec.deletion != DeletionPolicy::Retain => {
                fetched.skipped.push(format!("secret does not exist at provider using spec.dataFrom[{i}] (key={})", reference.key));
            }
            Err(Lookup::NoSecret) => return Err(format!("error retrieving secret at .dataFrom[{i}], key: {}, err: {NO_SECRET}", reference.key)),
            Err(Lookup::Failed(e)) => return Err(format!("error retrieving secret at .dataFrom[{i}], key: {}, err: {e}", reference.key)),
        }
    }
    for (i, (secret_key, reference)) in spec.data.iter().enumerate() {
        match get_secret(entries, reference) {
            Ok(value) => {
                fetched.data.insert(secret_key.clone(), decode(&reference.decoding, value)?);
            }
            Err(Lookup::NoSecret) if spec.deletion != DeletionPolicy::Retain => {
                fetched.skipped.push(format!("secret does not exist at provider using spec.data[{i}] (key={})", reference.key));
            }
            Err(Lookup::NoSecret) => return Err(format!("error retrieving secret at .data[{i}], key: {}, err: {NO_SECRET}", reference.key)),
            Err(Lookup::Failed(e)) => return Err(format!("error retrieving secret at .data[{i}], key: {}, err: {e}", reference.key)),
        }
    }
    Ok(fetched)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::{bytes, spec_of};
    use super::*;

    fn entries() -> Vec<FakeEntry> {
        let entry = |key: &str, value: &str, version: &str| FakeEntry { key: key.into(), value: value.into(), version: version.into() };
        vec![
            entry("/db/user", "admin", ""),
            entry("/db/config", r#"{"host": "db.local", "port": 5432, "tls": {"enabled": true}, "replicas": ["a", "b"]}"#, ""),
            entry("/api", "v1-token", "v1"),
            entry("/api", "v2-token", "v2"),
            entry("/not-json", "plain", ""),
        ]
    }

    #[test]
    fn fetches_keys_properties_versions_and_extracts() {
        let spec = spec_of(json!({
            "secretStoreRef": {"name": "fake"},
            "data": [
                {"secretKey": "user", "remoteRef": {"key": "/db/user"}},
                {"secretKey": "host", "remoteRef": {"key": "/db/config", "property": "host"}},
                {"secretKey": "port", "remoteRef": {"key": "/db/config", "property": "port"}},
                {"secretKey": "tls", "remoteRef": {"key": "/db/config", "property": "tls.enabled"}},
                {"secretKey": "second", "remoteRef": {"key": "/db/config", "property": "replicas.1"}},
                {"secretKey": "token", "remoteRef": {"key": "/api", "version": "v1"}},
            ],
            "dataFrom": [{"extract": {"key": "/db/config"}}],
        }));
        let fetched = fetch(&spec, &entries()).expect("fetched");
        let got = |k: &str| String::from_utf8(fetched.data[k].clone()).unwrap();
        assert_eq!(got("user"), "admin");
        assert_eq!(got("host"), "db.local");
        assert_eq!(got("port"), "5432");
        assert_eq!(got("second"), "b");
        assert_eq!(got("token"), "v1-token");
        // dataFrom extract: the JSON object's members, strings as themselves.
        assert_eq!(got("replicas"), r#"["a","b"]"#);
        assert_eq!(got("tls"), "true");
        assert!(fetched.skipped.is_empty());
    }

    #[test]
    fn data_overrides_data_from() {
        let spec = spec_of(json!({
            "secretStoreRef": {"name": "fake"},
            "dataFrom": [{"extract": {"key": "/db/config"}}],
            "data": [{"secretKey": "host", "remoteRef": {"key": "/db/user"}}],
        }));
        assert_eq!(fetch(&spec, &entries()).unwrap().data["host"], bytes("admin"));
    }

    #[test]
    fn missing_keys_properties_and_versions_fail_with_the_key() {
        for remote in
            [json!({"key": "/nope"}), json!({"key": "/db/config", "property": "missing"}), json!({"key": "/api", "version": "v3"}), json!({"key": "/api"})]
        {
            let spec = spec_of(json!({"secretStoreRef": {"name": "fake"}, "data": [{"secretKey": "x", "remoteRef": remote}]}));
            let error = fetch(&spec, &entries()).expect_err("should fail");
            let key = remote["key"].as_str().unwrap();
            assert_eq!(error, format!("error retrieving secret at .data[0], key: {key}, err: Secret does not exist"));
        }
        let spec = spec_of(json!({"secretStoreRef": {"name": "fake"}, "dataFrom": [{"extract": {"key": "/not-json"}}]}));
        assert!(fetch(&spec, &entries()).unwrap_err().contains("unable to unmarshal secret"));
        // With deletionPolicy Delete or Merge, a missing secret is skipped instead.
        let spec = spec_of(json!({
            "secretStoreRef": {"name": "fake"},
            "target": {"deletionPolicy": "Merge"},
            "data": [{"secretKey": "x", "remoteRef": {"key": "/nope"}}, {"secretKey": "user", "remoteRef": {"key": "/db/user"}}],
        }));
        let fetched = fetch(&spec, &entries()).unwrap();
        assert_eq!(fetched.data.keys().collect::<Vec<_>>(), ["user"]);
        assert_eq!(fetched.skipped, ["secret does not exist at provider using spec.data[0] (key=/nope)"]);
    }

    #[test]
    fn extracted_keys_must_be_valid_secret_keys() {
        let mut all = entries();
        all.push(FakeEntry { key: "/bad".into(), value: r#"{"a/b": "x"}"#.into(), version: String::new() });
        let spec = spec_of(json!({"secretStoreRef": {"name": "fake"}, "dataFrom": [{"extract": {"key": "/bad"}}]}));
        assert!(fetch(&spec, &all).unwrap_err().starts_with("invalid secret keys"));
    }

    #[test]
    fn decoding_strategies() {
        let mut all = entries();
        all.push(FakeEntry { key: "/b64".into(), value: "aGVsbG8=".into(), version: String::new() });
        let spec =
            spec_of(json!({"secretStoreRef": {"name": "fake"}, "data": [{"secretKey": "x", "remoteRef": {"key": "/b64", "decodingStrategy": "Base64"}}]}));
        assert_eq!(fetch(&spec, &all).unwrap().data["x"], bytes("hello"));
        let spec =
            spec_of(json!({"secretStoreRef": {"name": "fake"}, "data": [{"secretKey": "x", "remoteRef": {"key": "/db/user", "decodingStrategy": "Base64"}}]}));
        assert!(fetch(&spec, &all).is_err());
    }
}
