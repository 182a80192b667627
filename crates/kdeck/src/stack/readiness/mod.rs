//! Readiness rules: whether an applied object is Ready, still Pending (with the
//! reason a human needs), or Failed (it will not heal by waiting, so the wait
//! stops early). One rule per kind, in the spirit of kstatus, but stricter where
//! waiting would only hide a broken rollout: a crash-looping container, an image
//! that cannot be pulled, a missing Secret or a pod no node can take fail fast.
//!
//! Everything here is a pure function of objects as the API returns them and of
//! what the [`Snapshot`] holds; `kdeck up` and `kdeck status` feed them from watches.

mod conditions;
mod network;
pub(crate) mod pods;
pub(crate) mod selector;
mod snapshot;
mod storage;
mod workloads;

#[cfg(test)]
mod testing;

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

pub use pods::{CRASH_LOOP_RESTARTS, UNSCHEDULABLE_GRACE_SECONDS, judge_pod};
pub use snapshot::{Snapshot, group_of};
pub use storage::storage_class;
pub use workloads::{pods_of, rejudge_at};

/// What the rules say of one object.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum Verdict {
    /// Ready; `note` says anything worth knowing ("waiting for its first consumer").
    Ready { note: Option<String> },
    /// Not yet; `reason` is the exact reason, for a human.
    Pending { reason: String },
    /// Will not heal by waiting; `reason` says why, with the evidence (pod, container, message).
    Failed { reason: String },
}

impl Verdict {
    pub fn ready() -> Self {
        Verdict::Ready { note: None }
    }

    pub fn ready_with(note: impl Into<String>) -> Self {
        Verdict::Ready { note: Some(note.into()) }
    }

    pub fn pending(reason: impl Into<String>) -> Self {
        Verdict::Pending { reason: reason.into() }
    }

    pub fn failed(reason: impl Into<String>) -> Self {
        Verdict::Failed { reason: reason.into() }
    }

    pub fn is_ready(&self) -> bool {
        matches!(self, Verdict::Ready { .. })
    }

    pub fn is_failed(&self) -> bool {
        matches!(self, Verdict::Failed { .. })
    }
}

/// A readiness rule: judges one object of its kind.
type Rule = fn(&Value, &Snapshot, Timestamp) -> Verdict;

/// The rule of each kind that has one, by (API group, kind). Kinds not listed are
/// judged by their status conditions, and are Ready without any.
const RULES: &[(&str, &str, Rule)] = &[
    ("apps", "Deployment", workloads::deployment),
    ("apps", "StatefulSet", workloads::statefulset),
    ("apps", "DaemonSet", workloads::daemonset),
    ("apps", "ReplicaSet", workloads::replicaset),
    ("batch", "Job", workloads::job),
    ("batch", "CronJob", |_, _, _| Verdict::ready()),
    ("", "Pod", |pod, _, now| judge_pod(pod, now)),
    ("", "Service", network::service),
    ("networking.k8s.io", "Ingress", network::ingress),
    ("", "PersistentVolumeClaim", storage::pvc),
    ("apiextensions.k8s.io", "CustomResourceDefinition", conditions::crd),
    ("apiregistration.k8s.io", "APIService", conditions::apiservice),
    ("", "Namespace", conditions::namespace),
];

/// Judges `obj` (an object as read from the API) with what `snapshot` holds, at `now`.
pub fn judge(obj: &Value, snapshot: &Snapshot, now: Timestamp) -> Verdict {
    if let Some(verdict) = terminating(obj) {
        return verdict;
    }
    if let Some(verdict) = stale_generation(obj) {
        return verdict;
    }
    let group = group_of(obj["apiVersion"].as_str().unwrap_or_default());
    let kind = obj["kind"].as_str().unwrap_or_default();
    match RULES.iter().find(|(g, k, _)| *g == group && *k == kind) {
        Some((_, _, rule)) => rule(obj, snapshot, now),
        None => conditions::generic(obj),
    }
}

/// Pending while the object is being deleted, naming the finalizers it waits for.
fn terminating(obj: &Value) -> Option<Verdict> {
    obj["metadata"]["deletionTimestamp"].as_str()?;
    let finalizers: Vec<&str> = obj["metadata"]["finalizers"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    Some(match finalizers.is_empty() {
        true => Verdict::pending("terminating"),
        false => Verdict::pending(format!("terminating, waiting for finalizers: {}", finalizers.join(", "))),
    })
}

/// Pending while the controller has not observed the object's latest generation.
fn stale_generation(obj: &Value) -> Option<Verdict> {
    let generation = obj["metadata"]["generation"].as_i64()?;
    let observed = obj["status"]["observedGeneration"].as_i64()?;
    (observed < generation).then(|| unseen_generation(generation))
}

fn unseen_generation(generation: i64) -> Verdict {
    Verdict::pending(format!("the controller has not seen generation {generation} yet"))
}

/// The object's name, "" without one.
fn name_of(obj: &Value) -> &str {
    obj["metadata"]["name"].as_str().unwrap_or_default()
}

fn namespace_of(obj: &Value) -> &str {
    obj["metadata"]["namespace"].as_str().unwrap_or_default()
}

/// The status condition of a type, if the object has one.
fn condition<'a>(obj: &'a Value, kind: &str) -> Option<&'a Value> {
    obj["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == kind)
}

/// Whether the object has a condition of `kind` with `status` ("True", "False", "Unknown").
fn condition_is(obj: &Value, kind: &str, status: &str) -> bool {
    condition(obj, kind).is_some_and(|c| c["status"] == status)
}

/// A condition's reason and message as "Reason: message", either alone when the
/// other is empty, "" when both are.
fn describe(condition: &Value) -> String {
    let reason = condition["reason"].as_str().unwrap_or_default().trim();
    let message = condition["message"].as_str().unwrap_or_default().trim();
    match (reason.is_empty(), message.is_empty()) {
        (false, false) => format!("{reason}: {message}"),
        (false, true) => reason.to_string(),
        _ => message.to_string(),
    }
}

/// An integer field, `default` when absent.
fn int(value: &Value, default: i64) -> i64 {
    value.as_i64().unwrap_or(default)
}

/// A timestamp field (RFC 3339, as the API writes them).
fn time(value: &Value) -> Option<Timestamp> {
    value.as_str()?.parse().ok()
}

/// The latest event about `obj` in the snapshot (core/v1 or events.k8s.io/v1), by
/// kind and name, and by uid when both carry one (events of a deleted namesake are not its).
pub fn latest_event<'a>(obj: &Value, snapshot: &'a Snapshot) -> Option<&'a Value> {
    events_about(obj, snapshot).into_iter().next()
}

/// Every event about `obj` in the snapshot, newest first.
pub fn events_about<'a>(obj: &Value, snapshot: &'a Snapshot) -> Vec<&'a Value> {
    let (kind, name, uid) = (&obj["kind"], &obj["metadata"]["name"], obj["metadata"]["uid"].as_str());
    let about = |subject: &Value| {
        subject["kind"] == *kind && subject["name"] == *name && (uid.is_none() || subject["uid"].is_null() || subject["uid"] == uid.unwrap_or_default())
    };
    let core = snapshot.list("", "Event", namespace_of(obj)).filter(|e| about(&e["involvedObject"]));
    let events = snapshot.list("events.k8s.io", "Event", namespace_of(obj)).filter(|e| about(&e["regarding"]));
    let mut all: Vec<&Value> = core.chain(events).collect();
    all.sort_by_key(|e| std::cmp::Reverse(event_time(e)));
    all
}

/// When an event last happened: its series, last timestamp, event time, or creation.
pub fn event_time(event: &Value) -> Option<Timestamp> {
    [
        &event["series"]["lastObservedTime"],
        &event["lastTimestamp"],
        &event["eventTime"],
        &event["deprecatedLastTimestamp"],
        &event["metadata"]["creationTimestamp"],
    ]
    .into_iter()
    .find_map(time)
}

/// "1 pod", "2 pods".
fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::testing::*;
    use super::*;

    #[test]
    fn verdicts_serialize_with_a_state_tag() {
        let json = |v: &Verdict| serde_json::to_value(v).unwrap();
        assert_eq!(json(&Verdict::ready()), json!({"state": "ready", "note": null}));
        assert_eq!(json(&Verdict::ready_with("completed")), json!({"state": "ready", "note": "completed"}));
        assert_eq!(json(&Verdict::pending("ContainerCreating")), json!({"state": "pending", "reason": "ContainerCreating"}));
        assert_eq!(json(&Verdict::failed("x")), json!({"state": "failed", "reason": "x"}));
    }

    #[test]
    fn a_generation_the_controller_has_not_seen_is_pending_for_any_kind() {
        let cases = [
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "generation": 4},
                   "spec": {"replicas": 1}, "status": {"observedGeneration": 3, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1}}),
            json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "metadata": {"name": "redis", "generation": 4},
                   "status": {"observedGeneration": 3, "conditions": [{"type": "Ready", "status": "True"}]}}),
        ];
        for obj in cases {
            assert_eq!(judge(&obj, &Snapshot::new(), now()), Verdict::pending("the controller has not seen generation 4 yet"), "{obj}");
        }
    }

    #[test]
    fn objects_being_deleted_are_pending() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "deletionTimestamp": "2025-06-01T11:59:00Z"}});
        assert_eq!(judge(&cm, &Snapshot::new(), now()), Verdict::pending("terminating"));
        let hr = json!({"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                        "metadata": {"name": "r", "deletionTimestamp": "2025-06-01T11:59:00Z", "finalizers": ["finalizers.fluxcd.io"]}});
        assert_eq!(judge(&hr, &Snapshot::new(), now()), Verdict::pending("terminating, waiting for finalizers: finalizers.fluxcd.io"));
    }

    #[test]
    fn cronjobs_are_ready_once_they_exist() {
        let cj = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "backup"}, "spec": {"schedule": "0 3 * * *"}});
        assert_eq!(judge(&cj, &Snapshot::new(), now()), Verdict::ready());
    }
}
