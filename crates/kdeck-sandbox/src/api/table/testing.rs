//! Helpers the table tests share: a fixed clock and one-call table builders.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::{PrinterColumn, RowObject, build};
use crate::time::{parse_rfc3339, rfc3339_unix};

/// The fixed "now" every test renders against: 2025-06-01T12:00:00Z.
const NOW: &str = "2025-06-01T12:00:00Z";

pub(super) fn now() -> SystemTime {
    let secs = parse_rfc3339(NOW).expect("valid");
    UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).expect("after 1970"))
}

/// The RFC 3339 time `secs` seconds before NOW.
pub(super) fn ago(secs: i64) -> String {
    rfc3339_unix(parse_rfc3339(NOW).expect("valid") - secs)
}

pub(super) fn table(group: &str, resource: &str, objects: &[Value]) -> Value {
    let refs: Vec<&Value> = objects.iter().collect();
    build(group, resource, &refs, None, RowObject::Metadata, json!({}), now())
}

/// The cells of the one row a single object renders to.
pub(super) fn row(group: &str, resource: &str, object: Value) -> Vec<Value> {
    let t = table(group, resource, &[object]);
    t["rows"][0]["cells"].as_array().expect("cells").clone()
}

pub(super) fn column_names(t: &Value) -> Vec<&str> {
    t["columnDefinitions"].as_array().expect("columns").iter().map(|c| c["name"].as_str().expect("name")).collect()
}

/// A CRD printer column with just a name, a type and a JSONPath.
pub(super) fn column(name: &str, type_: &str, json_path: &str) -> PrinterColumn {
    PrinterColumn { name: name.to_string(), type_: type_.to_string(), json_path: json_path.to_string(), ..PrinterColumn::default() }
}
