//! The hashes ESO writes, computed the same way: MD5s of Go's `%+v` formatting.

use std::collections::BTreeMap;

use serde_json::Value;

use super::spec::text;
use crate::controllers::objects::{name, namespace};

/// `status.syncedResourceVersion` as the real controller computes it: the
/// generation, then a hash of the labels and annotations.
pub(super) fn synced_resource_version(es: &Value) -> String {
    let meta = &es["metadata"];
    let generation = meta["generation"].as_i64().unwrap_or(0);
    let map = |field: &str| -> BTreeMap<String, String> {
        meta[field].as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), text(v).unwrap_or_default())).collect()).unwrap_or_default()
    };
    // fmt.Sprintf("%+v", struct{annotations, labels map[string]string}{…})
    let formatted = format!("{{annotations:{} labels:{}}}", go_string_map(&map("annotations")), go_string_map(&map("labels")));
    format!("{generation}-{}", md5_hex(formatted.as_bytes()))
}

/// Go's `%v` of a `map[string]string` (keys sorted).
fn go_string_map(map: &BTreeMap<String, String>) -> String {
    let items: Vec<String> = map.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("map[{}]", items.join(" "))
}

/// The data-hash annotation: MD5 of Go's `%+v` of the Secret's `map[string][]byte`.
pub(super) fn data_hash(data: &BTreeMap<String, Vec<u8>>) -> String {
    let items: Vec<String> = data
        .iter()
        .map(|(k, v)| {
            let bytes: Vec<String> = v.iter().map(u8::to_string).collect();
            format!("{k}:[{}]", bytes.join(" "))
        })
        .collect();
    md5_hex(format!("map[{}]", items.join(" ")).as_bytes())
}

pub(super) fn owner_label(es: &Value) -> String {
    md5_hex(format!("{}/{}", namespace(es), name(es)).as_bytes())
}

/// MD5 as lowercase hex, for the hashes ESO writes (`utils.ObjectHash`).
fn md5_hex(input: &[u8]) -> String {
    crate::md5::hex(input)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::test_support::bytes;
    use super::*;

    #[test]
    fn md5_matches_known_digests() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"The quick brown fox jumps over the lazy dog"), "9e107d9d372bb6826bd81d3542a419d6");
        assert_eq!(md5_hex(&[b'a'; 1000]), "cabe45dcc9ae5b66ba86600cca6b8ba8");
    }

    #[test]
    fn synced_resource_version_is_generation_and_metadata_hash() {
        let es = json!({"metadata": {"generation": 3, "labels": {"b": "2", "a": "1"}, "annotations": {"force-sync": "1"}}});
        // md5("{annotations:map[force-sync:1] labels:map[a:1 b:2]}"), as Go formats it.
        assert_eq!(synced_resource_version(&es), "3-e968304757cef2a8949005706cfc60dc");
        assert_eq!(synced_resource_version(&json!({"metadata": {"generation": 1}})), "1-2f2c636d06132f67992c15a1daeb0a5f");
        let mut changed = es.clone();
        changed["metadata"]["annotations"]["force-sync"] = json!("2");
        assert_ne!(synced_resource_version(&changed), synced_resource_version(&es));
        let mut bumped = es.clone();
        bumped["metadata"]["generation"] = json!(4);
        assert!(synced_resource_version(&bumped).starts_with("4-"));
        // The status and other metadata do not count.
        let mut other = es.clone();
        other["metadata"]["resourceVersion"] = json!("99");
        other["status"] = json!({"refreshTime": "2026-01-01T00:00:00Z"});
        assert_eq!(synced_resource_version(&other), synced_resource_version(&es));
    }

    #[test]
    fn data_hash_is_go_formatted_md5() {
        let data = BTreeMap::from([("user".to_string(), bytes("admin")), ("password".to_string(), bytes("hunter2"))]);
        assert_eq!(data_hash(&data), "85d4d02c23245668de577637fc47957b");
        assert_eq!(owner_label(&json!({"metadata": {"name": "db", "namespace": "default"}})), "89c2f697232dd61dbcb1fa9e00e1114e");
    }
}
