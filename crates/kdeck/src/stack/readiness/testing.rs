//! Realistic objects for the readiness tests.

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::Snapshot;

pub const NS: &str = "shop";

/// The instant every test judges at.
pub fn now() -> Timestamp {
    "2025-06-01T12:00:00Z".parse().unwrap()
}

/// The RFC 3339 time `seconds` before [`now`].
pub fn ago(seconds: i64) -> String {
    now().checked_sub(SignedDuration::from_secs(seconds)).unwrap().to_string()
}

pub fn snapshot_of(objects: impl IntoIterator<Item = Value>) -> Snapshot {
    let mut snapshot = Snapshot::new();
    for obj in objects {
        snapshot.upsert(obj);
    }
    snapshot
}

/// A pod of namespace [`NS`] with one container "app", and the given status.
pub fn pod(name: &str, labels: Value, status: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": labels, "creationTimestamp": ago(300), "uid": format!("uid-{name}")},
        "spec": {"containers": [{"name": "app", "image": "ghcr.io/acme/api:1.4.2", "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}}}]},
        "status": status,
    })
}

/// A scheduled, running, ready pod.
pub fn ready_pod(name: &str, labels: Value) -> Value {
    pod(
        name,
        labels,
        json!({
            "phase": "Running",
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": ago(290)},
                {"type": "Initialized", "status": "True", "lastTransitionTime": ago(289)},
                {"type": "ContainersReady", "status": "True", "lastTransitionTime": ago(280)},
                {"type": "Ready", "status": "True", "lastTransitionTime": ago(280)},
            ],
            "containerStatuses": [{"name": "app", "ready": true, "started": true, "restartCount": 0, "state": {"running": {"startedAt": ago(285)}}}],
        }),
    )
}

/// A scheduled pod whose container "app" waits with `reason`, after `restarts` restarts.
pub fn waiting_pod(name: &str, labels: Value, reason: &str, message: &str, restarts: i64) -> Value {
    let mut status = json!({"name": "app", "ready": false, "started": false, "restartCount": restarts, "state": {"waiting": {"reason": reason}}});
    if !message.is_empty() {
        status["state"]["waiting"]["message"] = json!(message);
    }
    if restarts > 0 {
        status["lastState"] = json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": ago(20), "finishedAt": ago(15)}});
    }
    pod(
        name,
        labels,
        json!({
            "phase": if restarts > 0 { "Running" } else { "Pending" },
            "conditions": [
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": ago(290)},
                {"type": "Ready", "status": "False", "reason": "ContainersNotReady", "message": "containers with unready status: [app]"},
            ],
            "containerStatuses": [status],
        }),
    )
}

/// A pod the scheduler could not place, for the last `seconds` seconds.
pub fn unschedulable_pod(name: &str, labels: Value, seconds: i64, message: &str) -> Value {
    pod(
        name,
        labels,
        json!({
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message, "lastTransitionTime": ago(seconds)}],
        }),
    )
}
