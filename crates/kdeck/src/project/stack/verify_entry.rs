//! One entry of `stack.verify` as read: a [`VerifyCheck`], or — when the entry has
//! an unknown kind, a missing or mistyped field — what is wrong and where (the
//! line and column in kdeck.yaml), so that `kdeck verify` reports that one check
//! as failed and still runs the others, where a strict parse would refuse the file.
//!
//! The entry is read as a map of spanned values (serde-saphyr keeps each one's
//! place), then typed. YAML's plain scalars are text to serde-saphyr where a string
//! is expected (`command: [redis-cli, -p, 6379]`); through a JSON value they became
//! numbers, so a number or boolean found where a string is expected is taken as its text.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_saphyr::{Location, Spanned};

use super::VerifyCheck;

/// A check as declared: typed, or what is wrong with it.
#[derive(Clone, Debug)]
pub struct VerifyEntry {
    pub check: Result<VerifyCheck, BadEntry>,
    /// The entry as written, for `kdeck config` and flavors.
    raw: Value,
    /// Line and column of the entry, and of each of its keys' values.
    at: Option<(u64, u64)>,
    keys: BTreeMap<String, (u64, u64)>,
}

/// Why an entry is not a check, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadEntry {
    /// The entry's `name`, when it has one.
    pub name: Option<String>,
    /// The key path inside the entry (`dns`, `http.port`), empty for the entry itself.
    pub path: String,
    pub message: String,
    /// Line and column in the file (none after a flavor's patch, which has no lines).
    pub at: Option<(u64, u64)>,
}

impl VerifyEntry {
    pub fn of(check: VerifyCheck) -> VerifyEntry {
        let raw = serde_json::to_value(&check).unwrap_or_default();
        VerifyEntry { check: Ok(check), raw, at: None, keys: BTreeMap::new() }
    }

    /// Line and column of `key`'s value in the file, else of the entry (none from a flavor's JSON).
    pub fn place_of(&self, key: &str) -> Option<(u64, u64)> {
        self.keys.get(key).copied().or(self.at)
    }
}

fn known(location: &Location) -> Option<(u64, u64)> {
    (location.line() > 0).then(|| (location.line(), location.column()))
}

impl<'de> Deserialize<'de> for VerifyEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let entry = Spanned::<BTreeMap<String, Spanned<Value>>>::deserialize(deserializer)?;
        let mut raw = Value::Object(entry.value.iter().map(|(k, v)| (k.clone(), v.value.clone())).collect());
        let check = typed(&mut raw).map_err(|(path, message)| {
            // The place of the key the problem is under, else the entry's.
            let first = path.split(['.', '[']).next().unwrap_or_default();
            let key = message.split('`').nth(1).unwrap_or_default();
            let at = [first, key].iter().find_map(|k| entry.value.get(*k)).and_then(|v| known(&v.referenced)).or_else(|| known(&entry.referenced));
            BadEntry { name: raw["name"].as_str().map(str::to_string), path, message, at }
        });
        let keys = entry.value.iter().filter_map(|(k, v)| Some((k.clone(), known(&v.referenced)?))).collect();
        Ok(VerifyEntry { check, raw, at: known(&entry.referenced), keys })
    }
}

/// The check typed from `raw` (whose numbers that are text become strings), or (key path, problem).
fn typed(raw: &mut Value) -> Result<VerifyCheck, (String, String)> {
    for _ in 0..64 {
        let error = match serde_path_to_error::deserialize::<_, VerifyCheck>(raw.clone()) {
            Ok(check) => return Ok(check),
            Err(error) => error,
        };
        let path = error.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let message = error.inner().to_string();
        let scalar = ["invalid type: integer", "invalid type: floating point", "invalid type: boolean"].iter().any(|p| message.starts_with(p));
        if scalar && message.ends_with("expected a string") && stringify(raw, error.path()) {
            continue;
        }
        return Err((path, describe(&message)));
    }
    Err((String::new(), "too many values that should be text".into()))
}

/// Replaces the number or boolean at `path` by its text; false when there is none.
fn stringify(raw: &mut Value, path: &serde_path_to_error::Path) -> bool {
    use serde_path_to_error::Segment;
    let mut at = raw;
    for segment in path.iter() {
        at = match segment {
            Segment::Map { key } => match at.get_mut(key) {
                Some(next) => next,
                None => return false,
            },
            Segment::Seq { index } => match at.get_mut(*index) {
                Some(next) => next,
                None => return false,
            },
            _ => return false,
        };
    }
    let text = match at {
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return false,
    };
    *at = Value::String(text);
    true
}

/// Serde's words made kdeck's: "unknown key `dnss`; valid keys: …", "missing key `port`".
fn describe(message: &str) -> String {
    let quoted = |text: &str| text.split('`').skip(1).step_by(2).collect::<Vec<_>>().join(", ");
    if let Some((key, rest)) = message.strip_prefix("unknown field `").and_then(|r| r.split_once('`')) {
        return format!("unknown key `{key}` (valid keys here: {})", quoted(rest));
    }
    if let Some((key, _)) = message.strip_prefix("missing field `").and_then(|r| r.split_once('`')) {
        return format!("missing key `{key}`");
    }
    message.to_string()
}

impl Serialize for VerifyEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(serializer)
    }
}

impl JsonSchema for VerifyEntry {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        VerifyCheck::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        VerifyCheck::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(yaml: &str) -> Vec<VerifyEntry> {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn good_entries_are_typed_with_numbers_as_text() {
        let read = entries("- name: ping\n  exec: {workload: deploy/r, command: [redis-cli, -p, 6379, ping]}\n");
        let check = read[0].check.as_ref().unwrap();
        assert_eq!(check.exec.as_ref().unwrap().command, ["redis-cli", "-p", "6379", "ping"]);
        assert_eq!(serde_json::to_value(&read[0]).unwrap()["exec"]["command"][2], "6379", "shown as the text it is");
    }

    #[test]
    fn bad_entries_say_what_and_where() {
        let read = entries("- name: a\n  tcp: {port: 1, pod: p}\n- name: b\n  dnss: {from: deploy/web}\n- name: c\n  dns:\n    from: deploy/web\n");
        assert!(read[0].check.is_ok());
        let bad = read[1].check.as_ref().unwrap_err();
        assert_eq!(bad.name.as_deref(), Some("b"));
        assert!(bad.message.starts_with("unknown key `dnss` (valid keys here: name, timeout, http"), "{}", bad.message);
        assert_eq!(bad.at.map(|(line, _)| line), Some(4));
        let bad = read[2].check.as_ref().unwrap_err();
        assert_eq!((bad.path.as_str(), bad.message.as_str()), ("dns", "missing key `service`"));
        assert_eq!(bad.at.map(|(line, _)| line), Some(7));
        assert_eq!(read[0].place_of("tcp"), Some((2, 8)));
        assert_eq!(read[0].place_of("nothing"), Some((1, 3)));
    }

    #[test]
    fn entries_come_from_json_too_without_places() {
        // A flavor's patched document is JSON: the same entries, no lines.
        let read: Vec<VerifyEntry> =
            serde_json::from_value(serde_json::json!([{"name": "a", "tcp": {"port": 1, "pod": "p"}}, {"name": "b", "dns": {}}])).unwrap();
        assert!(read[0].check.is_ok());
        let bad = read[1].check.as_ref().unwrap_err();
        assert_eq!((bad.message.as_str(), bad.at), ("missing key `from`", None));
    }
}
