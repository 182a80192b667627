//! Server-side apply and managedFields bookkeeping.
//!
//! Each apply records the set of fields the manager applied (fieldsV1). The next
//! apply by the same manager removes the fields it no longer sets, then merges the
//! new configuration, which is what makes apply declarative. Lists are owned as a
//! whole (an applied list replaces the live one), where the real server merges
//! keyed lists item by item. Conflicts between managers are resolved in favour of
//! the applier, as with `--force-conflicts`.

use serde_json::{Map, Value, json};

use super::ApiError;
use crate::resources::ResourceInfo;
use crate::time;

/// Fields the server owns, which no manager's set includes.
const SERVER_OWNED: &[&str] =
    &["uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"];

/// The fieldsV1 set of a configuration: `{"f:spec":{"f:replicas":{}}}`. Lists are
/// owned as a whole.
pub fn fieldset(config: &Value) -> Value {
    let mut out = Map::new();
    for (k, v) in config.as_object().into_iter().flatten() {
        match k.as_str() {
            "apiVersion" | "kind" | "status" => {}
            "metadata" => {
                let meta: Map<String, Value> =
                    v.as_object().into_iter().flatten().filter(|(k, _)| !SERVER_OWNED.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
                out.insert("f:metadata".into(), members(&Value::Object(meta)));
            }
            _ => {
                out.insert(format!("f:{k}"), members(v));
            }
        }
    }
    Value::Object(out)
}

fn members(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (format!("f:{k}"), members(v))).collect()),
        _ => json!({}),
    }
}

fn upsert_entry(obj: &mut Value, manager: &str, operation: &str, api_version: &str, fields: Value) {
    let entry =
        json!({"manager": manager, "operation": operation, "apiVersion": api_version, "time": time::now(), "fieldsType": "FieldsV1", "fieldsV1": fields});
    let mut entries: Vec<Value> = obj["metadata"]["managedFields"].as_array().cloned().unwrap_or_default();
    match entries.iter_mut().find(|e| e["manager"] == manager && e["operation"] == operation) {
        Some(existing) => *existing = entry,
        None => entries.push(entry),
    }
    obj["metadata"]["managedFields"] = Value::Array(entries);
}

pub fn record_update(obj: &mut Value, manager: &str, api_version: &str) {
    let fields = fieldset(obj);
    upsert_entry(obj, manager, "Update", api_version, fields);
}

pub fn record_apply(obj: &mut Value, applied: &Value, manager: &str, api_version: &str) {
    upsert_entry(obj, manager, "Apply", api_version, fieldset(applied));
}

fn previous_fields(live: &Value, manager: &str) -> Option<Value> {
    live["metadata"]["managedFields"].as_array()?.iter().find(|e| e["manager"] == manager && e["operation"] == "Apply").map(|e| e["fieldsV1"].clone())
}

/// Removes from `live` the fields present in `old` but not in `new`.
fn remove_dropped(live: &mut Value, old: &Value, new: &Value) {
    let (Some(old), Some(live_map)) = (old.as_object(), live.as_object_mut()) else { return };
    for (key, old_child) in old {
        let Some(field) = key.strip_prefix("f:") else { continue };
        match new.get(key) {
            None => {
                live_map.remove(field);
            }
            Some(new_child) => {
                if let Some(child) = live_map.get_mut(field) {
                    remove_dropped(child, old_child, new_child);
                }
            }
        }
    }
}

/// Applies `applied` to `live` on behalf of `manager`.
pub fn merge(info: &ResourceInfo, live: &mut Value, applied: &Value, manager: &str) -> Result<(), ApiError> {
    if !applied.is_object() {
        return Err(ApiError::bad_request(format!("the applied configuration of a {} must be an object", info.kind)));
    }
    super::types::check(info, applied)?;
    let name = live["metadata"]["name"].clone();
    if let Some(applied_name) = applied["metadata"]["name"].as_str()
        && Some(applied_name) != name.as_str()
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({applied_name}) does not match the name on the URL ({})",
            name.as_str().unwrap_or_default()
        )));
    }
    let new_fields = fieldset(applied);
    if let Some(old_fields) = previous_fields(live, manager) {
        remove_dropped(live, &old_fields, &new_fields);
    }
    let mut config = applied.clone();
    if let Some(meta) = config.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
        meta.remove("resourceVersion");
    }
    // Lists are owned whole, so an applied list replaces the live one; maps merge.
    json_patch::merge(live, &config);
    live["metadata"]["name"] = name;
    record_apply(live, applied, manager, &info.api_version());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_dropped_from_the_applied_config_is_removed() {
        let info = crate::resources::Catalogue::new().find("", "v1", "configmaps").unwrap();
        let mut live = json!({"metadata": {"name": "c"}, "data": {"a": "1"}});
        merge(&info, &mut live, &json!({"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}}), "m").unwrap();
        assert_eq!(live["data"], json!({"a": "1", "b": "2"}));
        merge(&info, &mut live, &json!({"metadata": {"name": "c"}, "data": {"a": "1"}}), "m").unwrap();
        assert_eq!(live["data"], json!({"a": "1"}));
    }
}
