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
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4,
        11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    const K: [u32; 64] = [
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
        0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
        0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
        0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
        0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
        0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
    ];
    let mut message = input.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&((input.len() as u64).wrapping_mul(8)).to_le_bytes());
    let mut state: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    for block in message.chunks_exact(64) {
        let words: Vec<u32> = block.chunks_exact(4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])).collect();
        let [mut a, mut b, mut c, mut d] = state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let rotated = a.wrapping_add(f).wrapping_add(K[i]).wrapping_add(words[g]).rotate_left(S[i]);
            (a, d, c) = (d, c, b);
            b = b.wrapping_add(rotated);
        }
        for (s, v) in state.iter_mut().zip([a, b, c, d]) {
            *s = s.wrapping_add(v);
        }
    }
    state.iter().flat_map(|s| s.to_le_bytes()).map(|b| format!("{b:02x}")).collect()
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
