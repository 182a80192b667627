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
    let pods = current_pods(obj, snapshot, updated);
    if let Some(progressing) = condition(obj, "Progressing").filter(|c| c["status"] == "False" && c["reason"] == "ProgressDeadlineExceeded") {
        let evidence = pods::evidence(&pods, now).map(|(verdict, _)| format!(" ({})", reason_of(&verdict))).unwrap_or_default();
        return Verdict::failed(format!("{}{evidence}", describe(progressing)));
    }
    if updated == wanted && total == updated && counts.available == wanted {
        return Verdict::ready();
    }
    let evidence = pods::evidence(&pods, now);
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
    let pods: Vec<&Value> = pods_of(workload, snapshot).into_iter().filter(|p| pods::is_live(p)).collect();
    if updated <= 0 {
        return Vec::new();
    }
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
