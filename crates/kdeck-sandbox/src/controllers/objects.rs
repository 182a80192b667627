//! Reading and writing the parts of objects controllers share: owner references,
//! labels, conditions, pod readiness.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::resources::{ResourceInfo, ResourceKey};
use crate::rest::{Rest, Subresource, WriteOptions};
use crate::time;

/// How soon a workload controller tries again to create a pod the API refused
/// (its ServiceAccount does not exist yet, say). Each failure is a `FailedCreate`
/// warning event on the owner, counting up, as the real controllers record it.
pub const CREATE_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

pub fn labels(obj: &Value) -> BTreeMap<String, String> {
    obj["metadata"]["labels"].as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect()).unwrap_or_default()
}

pub fn name(obj: &Value) -> &str {
    obj["metadata"]["name"].as_str().unwrap_or_default()
}

pub fn namespace(obj: &Value) -> &str {
    obj["metadata"]["namespace"].as_str().unwrap_or_default()
}

pub fn is_deleting(obj: &Value) -> bool {
    obj["metadata"]["deletionTimestamp"].is_string()
}

/// The ownerReference marked `controller: true`, as (kind, name, uid).
pub fn controller_of(obj: &Value) -> Option<(&str, &str, &str)> {
    obj["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)
        .map(|r| (r["kind"].as_str().unwrap_or_default(), r["name"].as_str().unwrap_or_default(), r["uid"].as_str().unwrap_or_default()))
}

/// A controller ownerReference pointing at `owner`.
pub fn controller_reference(owner: &Value) -> Value {
    json!({
        "apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
        "controller": true, "blockOwnerDeletion": true,
    })
}

pub fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_)
}

pub fn condition_is_true(obj: &Value, type_: &str) -> bool {
    condition(obj, type_).is_some_and(|c| c["status"] == "True")
}

/// Removes the condition of `type_`, if there is one.
pub fn remove_condition(obj: &mut Value, type_: &str) {
    if let Some(conditions) = obj["status"]["conditions"].as_array_mut() {
        conditions.retain(|c| c["type"] != type_);
    }
}

/// Sets a condition, keeping lastTransitionTime when the status does not change.
pub fn set_condition(obj: &mut Value, type_: &str, status: &str, reason: &str, message: &str) {
    let now = time::now();
    let mut conditions: Vec<Value> = obj["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let transition = conditions
        .iter()
        .find(|c| c["type"] == type_ && c["status"] == status)
        .and_then(|c| c["lastTransitionTime"].as_str().map(str::to_string))
        .unwrap_or(now.clone());
    let mut condition = json!({"type": type_, "status": status, "lastTransitionTime": transition});
    if !reason.is_empty() {
        condition["reason"] = json!(reason);
    }
    if !message.is_empty() {
        condition["message"] = json!(message);
    }
    match conditions.iter_mut().find(|c| c["type"] == type_) {
        Some(existing) => *existing = condition,
        None => conditions.push(condition),
    }
    obj["status"]["conditions"] = Value::Array(conditions);
}

pub fn is_pod_ready(pod: &Value) -> bool {
    condition_is_true(pod, "Ready")
}

pub fn is_pod_terminal(pod: &Value) -> bool {
    matches!(pod["status"]["phase"].as_str(), Some("Succeeded" | "Failed"))
}

/// Writes `next`'s status if it differs from `current`'s. Conflicts are left to the
/// next reconcile, which the conflicting change triggers anyway.
pub fn write_status(rest: &Rest, info: &ResourceInfo, current: &Value, next: Value) {
    if current["status"] != next["status"] {
        let _ = rest.update(info, Some(namespace(current)), name(current), next, Subresource::Status, &WriteOptions::default());
    }
}

/// Writes `next` (spec or metadata changes) if it differs from `current`.
pub fn write(rest: &Rest, info: &ResourceInfo, current: &Value, next: Value) -> bool {
    current != &next && rest.update(info, Some(namespace(current)), name(current), next, Subresource::Main, &WriteOptions::default()).is_ok()
}

/// The objects of `child` kind whose controller reference is `owner`, oldest first.
pub fn controlled(rest: &Rest, owner: &Value, child: &ResourceKey) -> Vec<Value> {
    let uid = owner["metadata"]["uid"].as_str().unwrap_or_default();
    let mut owned: Vec<Value> = rest
        .store
        .dependents_of(uid)
        .into_iter()
        .filter(|(key, _)| key == child)
        .filter_map(|(key, name)| rest.store.get(&key, &name))
        .map(|e| e.value())
        .filter(|o| controller_of(o).is_some_and(|(_, _, u)| u == uid))
        .collect();
    owned.sort_by_key(|o| o["metadata"]["creationTimestamp"].as_str().unwrap_or_default().to_string());
    owned
}

/// The pods `owner` controls (ReplicaSet, StatefulSet, DaemonSet, Job).
pub fn controlled_pods(rest: &Rest, owner: &Value) -> Vec<Value> {
    controlled(rest, owner, &ResourceKey::new("", "pods"))
}
