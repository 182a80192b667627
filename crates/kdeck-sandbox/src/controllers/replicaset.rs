//! The ReplicaSet controller: keeps `spec.replicas` pods from the template, owned by
//! the ReplicaSet, and reports replicas, ready and available counts.

use std::time::Duration;

use serde_json::{Value, json};

use super::events::{self, Source};
use super::objects::{self, name, namespace};
use super::runtime::{Controller, ObjectRef, every, self_or_controller};
use crate::resources::ResourceKey;
use crate::rest::{DeleteOptions, Rest, WriteOptions};
use crate::store::Change;

const SOURCE: Source = Source { component: "replicaset-controller", host: None };
/// Pods created per reconcile at most, as the real controller's slow start batches.
const BURST: i64 = 500;

pub struct ReplicaSets;

fn replicasets() -> ResourceKey {
    ResourceKey::new("apps", "replicasets")
}

impl Controller for ReplicaSets {
    fn keys_for(&self, _rest: &Rest, change: &Change) -> Vec<ObjectRef> {
        self_or_controller(change, &replicasets(), "ReplicaSet", &ResourceKey::new("", "pods"))
    }

    fn all_keys(&self, rest: &Rest) -> Vec<ObjectRef> {
        every(rest, &replicasets())
    }

    fn reconcile(&self, rest: &Rest, key: &ObjectRef) -> Option<Duration> {
        let info = rest.catalogue.find("apps", "v1", "replicasets")?;
        let pods_info = rest.catalogue.find("", "v1", "pods")?;
        let rs = rest.get(&info, Some(&key.namespace), &key.name).ok()?;
        if objects::is_deleting(&rs) {
            return None;
        }
        let mut pods = objects::controlled_pods(rest, &rs);
        let want = rs["spec"]["replicas"].as_i64().unwrap_or(1);
        let active: Vec<&Value> = pods.iter().filter(|p| !objects::is_deleting(p) && !objects::is_pod_terminal(p)).collect();
        let diff = want - active.len() as i64;
        let mut refused = None;
        if diff > 0 {
            for _ in 0..diff.min(BURST) {
                match rest.create(&pods_info, Some(namespace(&rs)), pod_from_template(&rs), &WriteOptions::default()) {
                    Ok(pod) => {
                        events::normal(rest, &rs, &SOURCE, "SuccessfulCreate", &format!("Created pod: {}", name(&pod)));
                        pods.push(pod);
                    }
                    Err(e) => {
                        events::warning(rest, &rs, &SOURCE, "FailedCreate", &format!("Error creating: {e}"));
                        refused = Some(e.message);
                        break;
                    }
                }
            }
        } else if diff < 0 {
            let mut victims: Vec<&Value> = active.clone();
            // Delete unscheduled, then not ready, then the newest first, like the real controller.
            victims.sort_by_key(|p| {
                (
                    p["spec"]["nodeName"].as_str().is_some_and(|n| !n.is_empty()),
                    objects::is_pod_ready(p),
                    std::cmp::Reverse(p["metadata"]["creationTimestamp"].as_str().unwrap_or_default().to_string()),
                )
            });
            let names: Vec<String> = victims.iter().take((-diff) as usize).map(|p| name(p).to_string()).collect();
            for victim in names {
                if rest.delete(&pods_info, Some(namespace(&rs)), &victim, &DeleteOptions::default()).is_ok() {
                    events::normal(rest, &rs, &SOURCE, "SuccessfulDelete", &format!("Deleted pod: {victim}"));
                    pods.retain(|p| name(p) != victim);
                }
            }
        }
        let retry = refused.is_some();
        write_status(rest, &info, &rs, &pods, refused);
        if retry {
            return Some(objects::CREATE_RETRY);
        }
        (diff > BURST).then_some(Duration::from_millis(10))
    }
}

fn pod_from_template(rs: &Value) -> Value {
    let template = &rs["spec"]["template"];
    let mut metadata = template["metadata"].clone();
    if !metadata.is_object() {
        metadata = json!({});
    }
    metadata["generateName"] = json!(format!("{}-", name(rs)));
    metadata["ownerReferences"] = json!([objects::controller_reference(rs)]);
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"]})
}

/// A pod counts as available once it has been ready for minReadySeconds.
pub fn is_available(pod: &Value, min_ready_seconds: i64) -> bool {
    if !objects::is_pod_ready(pod) {
        return false;
    }
    if min_ready_seconds <= 0 {
        return true;
    }
    let since = objects::condition(pod, "Ready").and_then(|c| c["lastTransitionTime"].as_str()).and_then(crate::time::parse_rfc3339).unwrap_or(i64::MAX);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    now - since >= min_ready_seconds
}

/// The status, with the `ReplicaFailure` condition (`FailedCreate` and the API's
/// message) while pods cannot be created, as the real controller reports it.
fn write_status(rest: &Rest, info: &crate::resources::ResourceInfo, rs: &Value, pods: &[Value], refused: Option<String>) {
    let active: Vec<&Value> = pods.iter().filter(|p| !objects::is_deleting(p) && !objects::is_pod_terminal(p)).collect();
    let min_ready = rs["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
    let selector_labels = rs["spec"]["template"]["metadata"]["labels"].as_object().cloned().unwrap_or_default();
    let fully_labeled = active.iter().filter(|p| selector_labels.iter().all(|(k, v)| p["metadata"]["labels"][k] == *v)).count();
    let mut next = rs.clone();
    let status = &mut next["status"];
    status["replicas"] = json!(active.len());
    status["fullyLabeledReplicas"] = json!(fully_labeled);
    status["readyReplicas"] = json!(active.iter().filter(|p| objects::is_pod_ready(p)).count());
    status["availableReplicas"] = json!(active.iter().filter(|p| is_available(p, min_ready)).count());
    status["observedGeneration"] = rs["metadata"]["generation"].clone();
    match refused {
        Some(message) if objects::condition(rs, "ReplicaFailure").is_none() => {
            objects::set_condition(&mut next, "ReplicaFailure", "True", "FailedCreate", &message);
        }
        Some(_) => {}
        None => objects::remove_condition(&mut next, "ReplicaFailure"),
    }
    objects::write_status(rest, info, rs, next);
}
