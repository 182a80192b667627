//! Deployments, StatefulSets, DaemonSets, ReplicaSets and Jobs: their status
//! counts, and their pods for the reason they are not there yet.

use std::collections::BTreeMap;

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use super::pods::{self, STARTING};
use super::{Snapshot, Verdict, condition, condition_is, describe, int, namespace_of, plural, selector, time, unseen_generation};

/// The pods of a workload (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job) in
/// the snapshot: those its `spec.selector` (matchLabels and matchExpressions) selects in its namespace.
pub fn pods_of<'a>(workload: &Value, snapshot: &'a Snapshot) -> Vec<&'a Value> {
    let selector = &workload["spec"]["selector"];
    snapshot.list("", "Pod", namespace_of(workload)).filter(|pod| selector::selects(selector, &pod["metadata"]["labels"])).collect()
}

/// When `obj`'s verdict may change with no new event: the earliest instant one of its
/// pods (or the pod itself) will have been unschedulable past the grace period. A wait
/// judges again then, not only when a watch brings something.
pub fn rejudge_at(obj: &Value, snapshot: &Snapshot) -> Option<Timestamp> {
    let pods = match (obj["apiVersion"].as_str(), obj["kind"].as_str()) {
        (Some("v1"), Some("Pod")) => vec![obj],
        (Some("apps/v1"), Some("Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")) | (Some("batch/v1"), Some("Job")) => pods_of(obj, snapshot),
        _ => return None,
    };
    pods.into_iter().filter(|p| pods::is_live(p)).filter_map(pods::unschedulable_deadline).min()
}

/// Ready once every wanted replica is updated and available and no old one is left;
/// Failed past its progress deadline or when a current pod fails fast.
pub(super) fn deployment(obj: &Value, snapshot: &Snapshot, now: Timestamp) -> Verdict {
    if let Some(verdict) = unobserved(obj) {
        return verdict;
    }
    let wanted = int(&obj["spec"]["replicas"], 1);
    let status = &obj["status"];
    let (total, updated) = (int(&status["replicas"], 0), int(&status["updatedReplicas"], 0));
    let counts = Counts {
        wanted,
        ready: int(&status["readyReplicas"], 0),
        updated: Some(updated),
        available: int(&status["availableReplicas"], 0),
        old: total - updated,
    };
    let pods = || current_pods(obj, snapshot, updated);
    if let Some(progressing) = condition(obj, "Progressing").filter(|c| c["status"] == "False" && c["reason"] == "ProgressDeadlineExceeded") {
        let evidence = pods::evidence(&pods(), now).map(|(verdict, _)| format!(" ({})", reason_of(&verdict))).unwrap_or_default();
        return Verdict::failed(format!("{}{evidence}", describe(progressing)));
    }
    if updated == wanted && total == updated && counts.available == wanted {
        return Verdict::ready();
    }
    let evidence = pods::evidence(&pods(), now);
    if let Some((verdict @ Verdict::Failed { .. }, _)) = evidence {
        return verdict;
    }
    if let Some(failure) = condition(obj, "ReplicaFailure").filter(|c| c["status"] == "True") {
        return Verdict::pending(format!("ReplicaFailure: {}", describe(failure)));
    }
    if obj["spec"]["paused"] == true {
        return Verdict::pending(format!("rollout is paused: {}", counts.text()));
    }
    evidence.map(|(verdict, _)| verdict).unwrap_or_else(|| Verdict::pending(counts.text()))
}

/// Ready once every replica is ready and, with rolling updates, on the update revision
/// (past the partition); Failed when any of its pods fails fast.
pub(super) fn statefulset(obj: &Value, snapshot: &Snapshot, now: Timestamp) -> Verdict {
    if let Some(verdict) = unobserved(obj) {
        return verdict;
    }
    let spec = &obj["spec"];
    let status = &obj["status"];
    let (wanted, total, updated) = (int(&spec["replicas"], 1), int(&status["replicas"], 0), int(&status["updatedReplicas"], 0));
    let counts = Counts {
        wanted,
        ready: int(&status["readyReplicas"], 0),
        updated: Some(updated),
        available: int(&status["availableReplicas"], int(&status["readyReplicas"], 0)),
        old: total - wanted,
    };
    let all_ready = counts.ready == wanted && total == wanted;
    let (current, update) = (status["currentRevision"].as_str().unwrap_or_default(), status["updateRevision"].as_str().unwrap_or_default());
    let partition = int(&spec["updateStrategy"]["rollingUpdate"]["partition"], 0);
    let rolled_out = match spec["updateStrategy"]["type"].as_str() {
        Some("OnDelete") => true,
        _ if partition > 0 => updated >= wanted - partition,
        _ => updated == wanted && current == update,
    };
    if all_ready && rolled_out {
        return Verdict::ready();
    }
    // A StatefulSet does not replace a broken pod during a rollout, whatever its
    // revision: every pod counts.
    let pods = pods_of(obj, snapshot);
    if let Some((verdict, _)) = pods::evidence(&pods, now) {
        return verdict;
    }
    if all_ready && !update.is_empty() && current != update {
        return Verdict::pending(format!("revision {update} not rolled out yet ({updated}/{wanted} updated, current {current})"));
    }
    Verdict::pending(counts.text())
}

/// Ready once it runs ready, updated and available on every node it wants.
pub(super) fn daemonset(obj: &Value, snapshot: &Snapshot, now: Timestamp) -> Verdict {
    if let Some(verdict) = unobserved(obj) {
        return verdict;
    }
    let status = &obj["status"];
    let Some(wanted) = status["desiredNumberScheduled"].as_i64() else {
        return Verdict::pending("the controller has not counted its nodes yet");
    };
    let updated = int(&status["updatedNumberScheduled"], 0);
    let counts = Counts { wanted, ready: int(&status["numberReady"], 0), updated: Some(updated), available: int(&status["numberAvailable"], 0), old: 0 };
    if counts.ready == wanted && updated == wanted && counts.available == wanted {
        return match wanted {
            0 => Verdict::ready_with("no node to run on"),
            _ => Verdict::ready(),
        };
    }
    let pods = current_pods(obj, snapshot, updated);
    pods::evidence(&pods, now).map(|(verdict, _)| verdict).unwrap_or_else(|| Verdict::pending(counts.text()))
}

/// Ready once every wanted replica is ready and available.
pub(super) fn replicaset(obj: &Value, snapshot: &Snapshot, now: Timestamp) -> Verdict {
    if let Some(verdict) = unobserved(obj) {
        return verdict;
    }
    let status = &obj["status"];
    let wanted = int(&obj["spec"]["replicas"], 1);
    let total = int(&status["replicas"], 0);
    let counts =
        Counts { wanted, ready: int(&status["readyReplicas"], 0), updated: None, available: int(&status["availableReplicas"], 0), old: total - wanted };
    if counts.ready == wanted && counts.available == wanted && total == wanted {
        return Verdict::ready();
    }
    let evidence = pods::evidence(&pods_of(obj, snapshot), now);
    if let Some((verdict @ Verdict::Failed { .. }, _)) = evidence {
        return verdict;
    }
    if let Some(failure) = condition(obj, "ReplicaFailure").filter(|c| c["status"] == "True") {
        return Verdict::pending(format!("ReplicaFailure: {}", describe(failure)));
    }
    evidence.map(|(verdict, _)| verdict).unwrap_or_else(|| Verdict::pending(counts.text()))
}

/// Ready once complete; Failed when the Job failed or one of its pods fails fast;
/// Pending while it runs.
pub(super) fn job(obj: &Value, snapshot: &Snapshot, now: Timestamp) -> Verdict {
    if condition_is(obj, "Complete", "True") {
        return Verdict::ready();
    }
    // FailureTarget comes first, while the failed Job's pods are still terminating.
    for kind in ["Failed", "FailureTarget"] {
        if let Some(failed) = condition(obj, kind).filter(|c| c["status"] == "True") {
            let why = describe(failed);
            return Verdict::failed(if why.is_empty() { "the Job failed".to_string() } else { why });
        }
    }
    if obj["spec"]["suspend"] == true {
        return Verdict::ready_with("suspended");
    }
    let evidence = pods::evidence(&pods_of(obj, snapshot), now);
    if let Some((verdict @ Verdict::Failed { .. }, _)) = evidence {
        return verdict;
    }
    let status = &obj["status"];
    let mut reason =
        format!("running: {} active, {} succeeded of {}", int(&status["active"], 0), int(&status["succeeded"], 0), int(&obj["spec"]["completions"], 1));
    let failed = int(&status["failed"], 0);
    if failed > 0 {
        reason.push_str(&format!(", {failed} failed (backoff limit {})", int(&obj["spec"]["backoffLimit"], 6)));
    }
    if let Some((pod, rank)) = evidence
        && rank >= STARTING
    {
        reason.push_str(&format!("; {}", reason_of(&pod)));
    }
    Verdict::pending(reason)
}

/// The replica counts of a workload's status.
struct Counts {
    wanted: i64,
    ready: i64,
    /// None for kinds without a rollout.
    updated: Option<i64>,
    available: i64,
    /// Replicas still running that are to go (an old template's, or beyond the wanted).
    old: i64,
}

impl Counts {
    /// "2/3 ready, 1 updated", with the available and the old replicas when they matter.
    fn text(&self) -> String {
        let mut text = format!("{}/{} ready", self.ready, self.wanted);
        if let Some(updated) = self.updated {
            text.push_str(&format!(", {updated} updated"));
        }
        if self.available < self.ready {
            text.push_str(&format!(", {} available", self.available));
        }
        if self.old > 0 {
            text.push_str(&format!(", {} still running", plural(self.old as usize, "old replica", "old replicas")));
        }
        text
    }
}

/// Pending while an apps/v1 controller has not written any status for the object's
/// generation (kstatus lets an absent observedGeneration pass; a rollout that has
/// not started is not ready).
fn unobserved(obj: &Value) -> Option<Verdict> {
    let generation = obj["metadata"]["generation"].as_i64()?;
    obj["status"]["observedGeneration"].is_null().then(|| unseen_generation(generation))
}

/// The live pods of the workload's current pod template, which are the ones that
/// decide its rollout; an old template's broken pods are replaced by it. The template
/// is known from the Deployment's newest ReplicaSet when the snapshot holds it, else
/// it is the one whose pods were created last; none while no pod is updated yet.
fn current_pods<'a>(workload: &Value, snapshot: &'a Snapshot, updated: i64) -> Vec<&'a Value> {
    let label = if workload["kind"] == "Deployment" { "pod-template-hash" } else { "controller-revision-hash" };
    if updated <= 0 {
        return Vec::new();
    }
    let pods: Vec<&Value> = pods_of(workload, snapshot).into_iter().filter(|p| pods::is_live(p)).collect();
    let template = |pod: &Value| pod["metadata"]["labels"][label].as_str().unwrap_or_default().to_string();
    if let Some(hash) = newest_replicaset_hash(workload, snapshot) {
        return pods.into_iter().filter(|p| template(p) == hash).collect();
    }
    let mut created: BTreeMap<String, Option<Timestamp>> = BTreeMap::new();
    for pod in &pods {
        let at = time(&pod["metadata"]["creationTimestamp"]);
        let newest = created.entry(template(pod)).or_default();
        *newest = (*newest).max(at);
    }
    let Some(newest) = created.iter().max_by_key(|(_, at)| **at).map(|(hash, _)| hash.clone()) else { return pods };
    pods.into_iter().filter(|p| template(p) == newest).collect()
}

/// The pod-template-hash of a Deployment's ReplicaSet for its current revision, when
/// the snapshot holds that ReplicaSet.
fn newest_replicaset_hash(deployment: &Value, snapshot: &Snapshot) -> Option<String> {
    const REVISION: &str = "deployment.kubernetes.io/revision";
    let uid = deployment["metadata"]["uid"].as_str()?;
    let revision = deployment["metadata"]["annotations"][REVISION].as_str()?;
    let owned = |rs: &&Value| rs["metadata"]["ownerReferences"].as_array().into_iter().flatten().any(|o| o["uid"] == uid);
    let replicaset =
        snapshot.list("apps", "ReplicaSet", namespace_of(deployment)).filter(owned).find(|rs| rs["metadata"]["annotations"][REVISION] == revision)?;
    Some(replicaset["metadata"]["labels"]["pod-template-hash"].as_str()?.to_string())
}

/// The reason or note a verdict carries, "" for a plain Ready.
fn reason_of(verdict: &Verdict) -> &str {
    match verdict {
        Verdict::Ready { note } => note.as_deref().unwrap_or_default(),
        Verdict::Pending { reason } | Verdict::Failed { reason } => reason,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::judge;
    use super::super::testing::*;
    use super::*;

    const NO_ROOM: &str = "0/1 nodes are available: 1 Insufficient memory.";

    /// Deployment "api" (selector app=api) with `replicas` wanted and the given status.
    fn deployment(replicas: i64, status: Value) -> Value {
        let mut status = status;
        status["observedGeneration"] = json!(2);
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "api", "namespace": NS, "generation": 2, "uid": "uid-api", "annotations": {"deployment.kubernetes.io/revision": "2"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "api"}}, "template": {"metadata": {"labels": {"app": "api"}}}},
            "status": status,
        })
    }

    fn rolling(replicas: i64, total: i64, updated: i64, ready: i64) -> Value {
        deployment(replicas, json!({"replicas": total, "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": ready}))
    }

    fn api_labels(hash: &str) -> Value {
        json!({"app": "api", "pod-template-hash": hash})
    }

    fn verdict(obj: &Value, pods: Vec<Value>) -> Verdict {
        judge(obj, &snapshot_of(pods), now())
    }

    #[test]
    fn deployments() {
        let crashing = |restarts| waiting_pod("api-6f9c-x2", api_labels("6f9c"), "CrashLoopBackOff", "back-off 40s restarting failed container", restarts);
        let mut deadline = rolling(1, 1, 1, 0);
        deadline["status"]["conditions"] = json!([{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
            "message": "ReplicaSet \"api-6f9c\" has timed out progressing."}]);
        let mut replica_failure = rolling(2, 0, 0, 0);
        replica_failure["status"]["conditions"] = json!([{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
            "message": "pods \"api-6f9c-\" is forbidden: exceeded quota: compute, requested: limits.memory=2Gi, used: limits.memory=7Gi, limited: limits.memory=8Gi"}]);
        let mut paused = rolling(2, 2, 0, 2);
        paused["spec"]["paused"] = json!(true);
        let mut unobserved = rolling(1, 1, 1, 1);
        unobserved["status"] = json!({});

        let cases: Vec<(&str, Value, Vec<Value>, Verdict)> = vec![
            ("rolled out", rolling(3, 3, 3, 3), vec![], Verdict::ready()),
            ("zero replicas", deployment(0, json!({})), vec![], Verdict::ready()),
            (
                "replicas default to 1",
                {
                    let mut d = rolling(1, 1, 1, 1);
                    d["spec"].as_object_mut().unwrap().remove("replicas");
                    d
                },
                vec![],
                Verdict::ready(),
            ),
            ("counts", rolling(3, 3, 1, 2), vec![], Verdict::pending("2/3 ready, 1 updated, 2 old replicas still running")),
            (
                "not yet available",
                deployment(2, json!({"replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 1})),
                vec![],
                Verdict::pending("2/2 ready, 2 updated, 1 available"),
            ),
            (
                "a pod creating",
                rolling(1, 1, 1, 0),
                vec![waiting_pod("api-6f9c-x2", api_labels("6f9c"), "ContainerCreating", "", 0)],
                Verdict::pending("api-6f9c-x2: ContainerCreating"),
            ),
            ("crash loop, 2 restarts", rolling(1, 1, 1, 0), vec![crashing(2)], Verdict::pending("api-6f9c-x2: CrashLoopBackOff (restarts 2)")),
            (
                "crash loop, 3 restarts",
                rolling(1, 1, 1, 0),
                vec![crashing(3)],
                Verdict::failed("api-6f9c-x2: container \"app\": CrashLoopBackOff (restarts 3), last exited with code 1 (Error)"),
            ),
            (
                "image pull back-off",
                rolling(1, 1, 1, 0),
                vec![waiting_pod("api-6f9c-x2", api_labels("6f9c"), "ImagePullBackOff", "Back-off pulling image \"ghcr.io/acme/api:1.4.3\"", 0)],
                Verdict::failed("api-6f9c-x2: container \"app\": ImagePullBackOff: Back-off pulling image \"ghcr.io/acme/api:1.4.3\""),
            ),
            (
                "missing secret key",
                rolling(1, 1, 1, 0),
                vec![waiting_pod("api-6f9c-x2", api_labels("6f9c"), "CreateContainerConfigError", "couldn't find key DATABASE_URL in Secret shop/api-env", 0)],
                Verdict::failed("api-6f9c-x2: container \"app\": CreateContainerConfigError: couldn't find key DATABASE_URL in Secret shop/api-env"),
            ),
            (
                "unschedulable 30s",
                rolling(1, 1, 1, 0),
                vec![unschedulable_pod("api-6f9c-x2", api_labels("6f9c"), 30, NO_ROOM)],
                Verdict::pending(format!("api-6f9c-x2: Pending: {NO_ROOM}")),
            ),
            (
                "unschedulable 90s",
                rolling(1, 1, 1, 0),
                vec![unschedulable_pod("api-6f9c-x2", api_labels("6f9c"), 90, NO_ROOM)],
                Verdict::failed(format!("api-6f9c-x2: unschedulable for 90s: {NO_ROOM}")),
            ),
            (
                "progress deadline",
                deadline,
                vec![waiting_pod("api-6f9c-x2", api_labels("6f9c"), "ContainerCreating", "", 0)],
                Verdict::failed("ProgressDeadlineExceeded: ReplicaSet \"api-6f9c\" has timed out progressing. (api-6f9c-x2: ContainerCreating)"),
            ),
            (
                "replica failure",
                replica_failure,
                vec![],
                Verdict::pending(
                    "ReplicaFailure: FailedCreate: pods \"api-6f9c-\" is forbidden: exceeded quota: compute, requested: limits.memory=2Gi, used: limits.memory=7Gi, limited: limits.memory=8Gi",
                ),
            ),
            ("paused", paused, vec![], Verdict::pending("rollout is paused: 2/2 ready, 0 updated, 2 old replicas still running")),
            ("no status yet", unobserved, vec![], Verdict::pending("the controller has not seen generation 2 yet")),
        ];
        for (what, obj, pods, expected) in cases {
            assert_eq!(verdict(&obj, pods), expected, "{what}");
        }
    }

    #[test]
    fn an_old_templates_broken_pods_do_not_fail_a_rollout_that_replaces_them() {
        let mut old = waiting_pod("api-5d4b-q1", api_labels("5d4b"), "CrashLoopBackOff", "", 7);
        old["metadata"]["creationTimestamp"] = json!(ago(3600));
        let mut new = waiting_pod("api-6f9c-x2", api_labels("6f9c"), "ContainerCreating", "", 0);
        new["metadata"]["creationTimestamp"] = json!(ago(5));
        let obj = rolling(1, 2, 1, 0);
        assert_eq!(verdict(&obj, vec![old.clone(), new.clone()]), Verdict::pending("api-6f9c-x2: ContainerCreating"));

        // Before the new ReplicaSet has a pod, the old ones say nothing.
        assert_eq!(verdict(&rolling(1, 1, 0, 0), vec![old.clone()]), Verdict::pending("0/1 ready, 0 updated, 1 old replica still running"));

        // With the ReplicaSets in the snapshot, the current template is known, whatever the pods' ages.
        new["metadata"]["creationTimestamp"] = json!(ago(7200));
        let replicaset = |hash: &str, revision: &str| {
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": format!("api-{hash}"), "namespace": NS,
                "labels": {"app": "api", "pod-template-hash": hash}, "annotations": {"deployment.kubernetes.io/revision": revision},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "api", "uid": "uid-api", "controller": true}]}})
        };
        let snapshot = snapshot_of([old.clone(), new, replicaset("5d4b", "1"), replicaset("6f9c", "2")]);
        assert_eq!(judge(&obj, &snapshot, now()), Verdict::pending("api-6f9c-x2: ContainerCreating"));

        // A broken pod of the current template fails the rollout.
        let snapshot = snapshot_of([old, replicaset("5d4b", "2")]);
        assert!(judge(&obj, &snapshot, now()).is_failed());
    }

    fn statefulset(status: Value, strategy: Value) -> Value {
        let mut status = status;
        status["observedGeneration"] = json!(1);
        json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "postgres", "namespace": NS, "generation": 1},
            "spec": {"replicas": 1, "serviceName": "postgres", "selector": {"matchLabels": {"app": "postgres"}}, "updateStrategy": strategy},
            "status": status,
        })
    }

    #[test]
    fn statefulsets() {
        let rolling = json!({"type": "RollingUpdate"});
        let settled = json!({"replicas": 1, "readyReplicas": 1, "updatedReplicas": 1, "currentRevision": "postgres-7d9", "updateRevision": "postgres-7d9"});
        let updating = json!({"replicas": 1, "readyReplicas": 1, "updatedReplicas": 1, "currentRevision": "postgres-5c8", "updateRevision": "postgres-7d9"});
        let starting = json!({"replicas": 1, "readyReplicas": 0, "updatedReplicas": 1, "currentRevision": "postgres-7d9", "updateRevision": "postgres-7d9"});
        let labels = || json!({"app": "postgres", "controller-revision-hash": "postgres-7d9"});
        let cases: Vec<(&str, Value, Vec<Value>, Verdict)> = vec![
            ("rolled out", statefulset(settled.clone(), rolling.clone()), vec![], Verdict::ready()),
            (
                "default strategy",
                statefulset(updating.clone(), Value::Null),
                vec![],
                Verdict::pending("revision postgres-7d9 not rolled out yet (1/1 updated, current postgres-5c8)"),
            ),
            (
                "revisions differ",
                statefulset(updating.clone(), rolling.clone()),
                vec![],
                Verdict::pending("revision postgres-7d9 not rolled out yet (1/1 updated, current postgres-5c8)"),
            ),
            ("on delete", statefulset(updating, json!({"type": "OnDelete"})), vec![], Verdict::ready()),
            (
                "partitioned",
                statefulset(
                    json!({"replicas": 1, "readyReplicas": 1, "updatedReplicas": 0, "currentRevision": "a", "updateRevision": "b"}),
                    json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}),
                ),
                vec![],
                Verdict::ready(),
            ),
            ("counts", statefulset(starting.clone(), rolling.clone()), vec![], Verdict::pending("0/1 ready, 1 updated")),
            (
                "unschedulable 30s",
                statefulset(starting.clone(), rolling.clone()),
                vec![unschedulable_pod("postgres-0", labels(), 30, NO_ROOM)],
                Verdict::pending(format!("postgres-0: Pending: {NO_ROOM}")),
            ),
            (
                "unschedulable 90s",
                statefulset(starting.clone(), rolling.clone()),
                vec![unschedulable_pod("postgres-0", labels(), 90, NO_ROOM)],
                Verdict::failed(format!("postgres-0: unschedulable for 90s: {NO_ROOM}")),
            ),
            (
                "crash loop on an old revision",
                statefulset(starting, rolling),
                vec![waiting_pod("postgres-0", json!({"app": "postgres", "controller-revision-hash": "postgres-5c8"}), "CrashLoopBackOff", "", 4)],
                Verdict::failed("postgres-0: container \"app\": CrashLoopBackOff (restarts 4), last exited with code 1 (Error)"),
            ),
        ];
        for (what, obj, pods, expected) in cases {
            assert_eq!(verdict(&obj, pods), expected, "{what}");
        }
    }

    fn daemonset(status: Value) -> Value {
        let mut status = status;
        status["observedGeneration"] = json!(1);
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "fluent-bit", "namespace": NS, "generation": 1},
               "spec": {"selector": {"matchLabels": {"app": "fluent-bit"}}}, "status": status})
    }

    #[test]
    fn daemonsets() {
        let counts = |desired, ready, updated, available| json!({"desiredNumberScheduled": desired, "currentNumberScheduled": desired, "numberReady": ready, "updatedNumberScheduled": updated, "numberAvailable": available});
        let labels = json!({"app": "fluent-bit", "controller-revision-hash": "6b7c"});
        let cases: Vec<(&str, Value, Vec<Value>, Verdict)> = vec![
            ("all ready", daemonset(counts(3, 3, 3, 3)), vec![], Verdict::ready()),
            ("no node", daemonset(counts(0, 0, 0, 0)), vec![], Verdict::ready_with("no node to run on")),
            ("counts", daemonset(counts(3, 2, 3, 2)), vec![], Verdict::pending("2/3 ready, 3 updated")),
            ("not counted", daemonset(json!({})), vec![], Verdict::pending("the controller has not counted its nodes yet")),
            (
                "image pull",
                daemonset(counts(1, 0, 1, 0)),
                vec![waiting_pod("fluent-bit-k2x", labels, "ImagePullBackOff", "", 0)],
                Verdict::failed("fluent-bit-k2x: container \"app\": ImagePullBackOff"),
            ),
        ];
        for (what, obj, pods, expected) in cases {
            assert_eq!(verdict(&obj, pods), expected, "{what}");
        }
    }

    #[test]
    fn replicasets() {
        let rs = |ready, available| {
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "api-6f9c", "namespace": NS},
                   "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "api", "pod-template-hash": "6f9c"}}},
                   "status": {"replicas": 2, "readyReplicas": ready, "availableReplicas": available}})
        };
        assert_eq!(verdict(&rs(2, 2), vec![]), Verdict::ready());
        assert_eq!(verdict(&rs(2, 1), vec![]), Verdict::pending("2/2 ready, 1 available"));
        assert_eq!(
            verdict(&rs(1, 1), vec![waiting_pod("api-6f9c-x2", api_labels("6f9c"), "ContainerCreating", "", 0)]),
            Verdict::pending("api-6f9c-x2: ContainerCreating")
        );
    }

    fn job(status: Value) -> Value {
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "namespace": NS, "generation": 1, "uid": "uid-migrate"},
               "spec": {"completions": 1, "backoffLimit": 6, "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "uid-migrate"}}},
               "status": status})
    }

    #[test]
    fn jobs() {
        let labels = || json!({"batch.kubernetes.io/controller-uid": "uid-migrate", "job-name": "migrate"});
        let mut suspended = job(json!({}));
        suspended["spec"]["suspend"] = json!(true);
        let mut running_pod = ready_pod("migrate-x7k2p", labels());
        running_pod["metadata"]["name"] = json!("migrate-x7k2p");
        let cases: Vec<(&str, Value, Vec<Value>, Verdict)> = vec![
            (
                "complete",
                job(json!({"succeeded": 1, "conditions": [{"type": "SuccessCriteriaMet", "status": "True"}, {"type": "Complete", "status": "True"}]})),
                vec![],
                Verdict::ready(),
            ),
            (
                "failed",
                job(
                    json!({"failed": 7, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}),
                ),
                vec![],
                Verdict::failed("BackoffLimitExceeded: Job has reached the specified backoff limit"),
            ),
            (
                "failure target",
                job(
                    json!({"conditions": [{"type": "FailureTarget", "status": "True", "reason": "DeadlineExceeded", "message": "Job was active longer than specified deadline"}]}),
                ),
                vec![],
                Verdict::failed("DeadlineExceeded: Job was active longer than specified deadline"),
            ),
            ("running", job(json!({"active": 1, "ready": 1})), vec![running_pod], Verdict::pending("running: 1 active, 0 succeeded of 1")),
            ("retrying", job(json!({"active": 1, "failed": 2})), vec![], Verdict::pending("running: 1 active, 0 succeeded of 1, 2 failed (backoff limit 6)")),
            (
                "pod starting",
                job(json!({"active": 1})),
                vec![waiting_pod("migrate-x7k2p", labels(), "ContainerCreating", "", 0)],
                Verdict::pending("running: 1 active, 0 succeeded of 1; migrate-x7k2p: ContainerCreating"),
            ),
            (
                "image pull",
                job(json!({"active": 1})),
                vec![waiting_pod("migrate-x7k2p", labels(), "ImagePullBackOff", "Back-off pulling image \"ghcr.io/acme/migrate:3\"", 0)],
                Verdict::failed("migrate-x7k2p: container \"app\": ImagePullBackOff: Back-off pulling image \"ghcr.io/acme/migrate:3\""),
            ),
            (
                "missing config",
                job(json!({"active": 1})),
                vec![waiting_pod("migrate-x7k2p", labels(), "CreateContainerConfigError", "configmap \"migrate-config\" not found", 0)],
                Verdict::failed("migrate-x7k2p: container \"app\": CreateContainerConfigError: configmap \"migrate-config\" not found"),
            ),
            ("suspended", suspended, vec![], Verdict::ready_with("suspended")),
        ];
        for (what, obj, pods, expected) in cases {
            assert_eq!(verdict(&obj, pods), expected, "{what}");
        }
    }

    #[test]
    fn pods_of_follows_the_selector_in_the_workloads_namespace() {
        let pod_in = |ns: &str, name: &str, labels: Value| {
            let mut pod = ready_pod(name, labels);
            pod["metadata"]["namespace"] = json!(ns);
            pod
        };
        let snapshot = snapshot_of([
            pod_in(NS, "web-1", json!({"app": "web", "track": "stable"})),
            pod_in(NS, "web-2", json!({"app": "web", "track": "canary"})),
            pod_in(NS, "web-3", json!({"app": "web", "track": "stable", "debug": "true"})),
            pod_in(NS, "web-4", json!({"app": "web"})),
            pod_in(NS, "db-1", json!({"app": "db", "track": "stable"})),
            pod_in("other", "web-9", json!({"app": "web", "track": "stable"})),
        ]);
        let names = |selector: Value| {
            let workload = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": NS}, "spec": {"selector": selector}});
            pods_of(&workload, &snapshot).iter().map(|p| p["metadata"]["name"].as_str().unwrap().to_string()).collect::<Vec<_>>()
        };
        assert_eq!(names(json!({"matchLabels": {"app": "web"}})), ["web-1", "web-2", "web-3", "web-4"]);
        assert_eq!(
            names(json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "track", "operator": "In", "values": ["stable", "beta"]}]})),
            ["web-1", "web-3"]
        );
        assert_eq!(names(json!({"matchExpressions": [{"key": "track", "operator": "NotIn", "values": ["canary"]}]})), ["db-1", "web-1", "web-3", "web-4"]);
        assert_eq!(
            names(json!({"matchExpressions": [{"key": "track", "operator": "Exists"}, {"key": "app", "operator": "In", "values": ["web"]}]})),
            ["web-1", "web-2", "web-3"]
        );
        assert_eq!(
            names(json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "debug", "operator": "DoesNotExist"}]})),
            ["web-1", "web-2", "web-4"]
        );
        assert!(names(json!({})).is_empty(), "an empty selector selects nothing");
        assert!(names(Value::Null).is_empty());
    }

    #[test]
    fn rejudge_at_the_end_of_an_unschedulable_pods_grace() {
        let labels = || json!({"app": "api", "pod-template-hash": "6f9c"});
        let snapshot = snapshot_of([
            unschedulable_pod("api-6f9c-a", labels(), 10, NO_ROOM),
            unschedulable_pod("api-6f9c-b", labels(), 40, NO_ROOM),
            waiting_pod("api-6f9c-c", labels(), "ContainerCreating", "", 0),
        ]);
        let in_seconds = |s: i64| now().checked_add(k8s_openapi::jiff::SignedDuration::from_secs(s)).unwrap();
        assert_eq!(rejudge_at(&rolling(3, 3, 3, 0), &snapshot), Some(in_seconds(21)));
        assert_eq!(rejudge_at(snapshot.get("", "Pod", NS, "api-6f9c-a").unwrap(), &snapshot), Some(in_seconds(51)));
        assert_eq!(rejudge_at(snapshot.get("", "Pod", NS, "api-6f9c-c").unwrap(), &snapshot), None);
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": NS}});
        assert_eq!(rejudge_at(&cm, &snapshot), None);
        // At that instant, the verdict has turned.
        let b = snapshot.get("", "Pod", NS, "api-6f9c-b").unwrap();
        assert_eq!(judge(b, &snapshot, in_seconds(20)), Verdict::pending(format!("Pending: {NO_ROOM}")));
        assert_eq!(judge(b, &snapshot, in_seconds(21)), Verdict::failed(format!("unschedulable for 61s: {NO_ROOM}")));
    }
}
