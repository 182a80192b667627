//! Waiting until a stack's objects are ready, on watches: every kind involved
//! (the objects', and the pods, endpoints and events their readiness reads) is
//! listed and watched into one [`Snapshot`], and every object is judged again on
//! each change and every [`RECHECK`] (grace periods hold without events). A
//! verdict that changes is printed as one line; the wait ends when all are ready,
//! when something failed (after a short grace to collect every other failure), or
//! at the deadline.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kube::api::{Api, ApiResource, DynamicObject};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::readiness::{self, Snapshot, Verdict};
use crate::cluster::{Cluster, listing};
use crate::render::describe;

/// How often objects are judged again without a change.
const RECHECK: Duration = Duration::from_millis(250);
/// The reason of an object no list or watch has shown yet.
const NOT_SEEN: &str = "not seen yet";
/// After the first failure, how long the wait goes on collecting others.
const FAILURE_GRACE: Duration = Duration::from_secs(2);

/// One object the wait is about, and how it ended.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Judged {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    #[serde(flatten)]
    pub verdict: Verdict,
    /// Seconds from the start of the wait to ready (None: never ready).
    pub ready_after: Option<f64>,
    /// Seconds from the start of the wait until its pods (the pod itself, a
    /// workload's pods) were all scheduled, and all their containers started. None
    /// for kinds without pods, when it has not happened, or when it happened before
    /// this wait (a pod left unchanged).
    pub scheduled_after: Option<f64>,
    pub started_after: Option<f64>,
}

impl Judged {
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{} -n {ns}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

/// How a wait ended.
#[derive(Debug)]
pub struct Waited {
    pub objects: Vec<Judged>,
    pub timed_out: bool,
}

impl Waited {
    pub fn failed(&self) -> impl Iterator<Item = &Judged> {
        self.objects.iter().filter(|j| matches!(j.verdict, Verdict::Failed { .. }))
    }
    pub fn pending(&self) -> impl Iterator<Item = &Judged> {
        self.objects.iter().filter(|j| matches!(j.verdict, Verdict::Pending { .. }))
    }
    pub fn all_ready(&self) -> bool {
        self.objects.iter().all(|j| matches!(j.verdict, Verdict::Ready { .. }))
    }
}

/// The kinds whose objects readiness reads besides the targets themselves.
fn supporting() -> Vec<ApiResource> {
    use k8s_openapi::api::{apps::v1 as apps, core::v1, discovery::v1 as discovery, storage::v1 as storage};
    vec![
        // Tell a Deployment's current pods from its old ones.
        ApiResource::erase::<apps::ReplicaSet>(&()),
        ApiResource::erase::<v1::Pod>(&()),
        ApiResource::erase::<v1::Endpoints>(&()),
        ApiResource::erase::<discovery::EndpointSlice>(&()),
        ApiResource::erase::<v1::Event>(&()),
        ApiResource::erase::<storage::StorageClass>(&()),
        ApiResource::erase::<v1::Service>(&()),
    ]
}

/// Waits until every object of `targets` (as applied: apiVersion, kind, metadata)
/// is ready, something failed, or `deadline`. `resources` gives each target's
/// served resource and whether it is namespaced. `progress` prints changes.
pub async fn until_ready(cluster: &Cluster, targets: &[(Value, ApiResource, bool)], deadline: Instant, progress: bool) -> Waited {
    watch(cluster, targets, deadline, progress, true).await
}

/// Prints every change of `targets`' verdicts until interrupted (`kdeck status -w`).
pub async fn forever(cluster: &Cluster, targets: &[(Value, ApiResource, bool)]) {
    let far = Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600);
    watch(cluster, targets, far, true, false).await;
}

/// The wait itself: `settle` ends it when every verdict is final (or after the
/// failure grace); without it, it runs until the deadline.
async fn watch(cluster: &Cluster, targets: &[(Value, ApiResource, bool)], deadline: Instant, progress: bool, settle: bool) -> Waited {
    let started = Instant::now();
    let started_wall = k8s_openapi::jiff::Timestamp::now();
    let namespaces: BTreeSet<String> = targets.iter().filter_map(|(o, _, _)| o["metadata"]["namespace"].as_str().map(str::to_string)).collect();
    let (tx, mut rx) = mpsc::unbounded_channel::<Change>();
    let mut watched: BTreeSet<(String, String, Option<String>)> = BTreeSet::new();
    let mut tasks = Vec::new();
    let streaming = cluster.streaming_client().unwrap_or_else(|_| cluster.client.clone());
    let mut watch = |resource: &ApiResource, namespace: Option<String>| {
        let key = (resource.api_version.clone(), resource.kind.clone(), namespace.clone());
        if !watched.insert(key) {
            return;
        }
        let api: Api<DynamicObject> = match &namespace {
            Some(ns) => Api::namespaced_with(streaming.clone(), ns, resource),
            None => Api::all_with(streaming.clone(), resource),
        };
        tasks.push(tokio::spawn(feed(api, resource.clone(), tx.clone())));
    };
    for (_, resource, namespaced) in targets {
        if *namespaced {
            namespaces.iter().for_each(|ns| watch(resource, Some(ns.clone())));
        } else {
            watch(resource, None);
        }
    }
    for resource in supporting() {
        if resource.kind == "StorageClass" {
            watch(&resource, None);
        } else {
            namespaces.iter().for_each(|ns| watch(&resource, Some(ns.clone())));
        }
    }
    drop(tx);

    let mut snapshot = Snapshot::new();
    // Objects deleted since the wait began, as they were last: a finished Job its TTL removed.
    let mut removed: Removed = BTreeMap::new();
    let mut last: BTreeMap<usize, Verdict> = BTreeMap::new();
    let mut ready_at: BTreeMap<usize, f64> = BTreeMap::new();
    let mut first_failure: Option<Instant> = None;
    let mut ticker = tokio::time::interval(RECHECK);
    let timed_out = loop {
        tokio::select! {
            change = rx.recv() => match change {
                Some(change) => take(change, &mut snapshot, &mut removed),
                None => tokio::time::sleep_until(deadline.min(Instant::now() + RECHECK)).await,
            },
            _ = ticker.tick() => {}
            _ = tokio::time::sleep_until(deadline) => break true,
        }
        // Drain what else arrived before judging.
        while let Ok(change) = rx.try_recv() {
            take(change, &mut snapshot, &mut removed);
        }
        let now = k8s_openapi::jiff::Timestamp::now();
        for (i, (target, _, _)) in targets.iter().enumerate() {
            let verdict = match current(&snapshot, target) {
                Some(live) => readiness::judge(live, &snapshot, now),
                None => removed
                    .get(&key(target))
                    .and_then(|gone| finished_and_removed(target, gone, &snapshot, now))
                    .unwrap_or(Verdict::Pending { reason: NOT_SEEN.into() }),
            };
            if last.get(&i) != Some(&verdict) {
                let unseen = matches!(&verdict, Verdict::Pending { reason } if reason == NOT_SEEN);
                if progress && !unseen {
                    eprintln!("  {:<44} {}", describe(target), verdict_text(&verdict));
                }
                // Ready since when: a resource that falls back (a crash-looping pod) starts over.
                if matches!(verdict, Verdict::Ready { .. }) {
                    ready_at.insert(i, started.elapsed().as_secs_f64());
                } else {
                    ready_at.remove(&i);
                }
                if matches!(verdict, Verdict::Failed { .. }) && first_failure.is_none() {
                    first_failure = Some(Instant::now());
                }
                last.insert(i, verdict);
            }
        }
        let all_settled = last.len() == targets.len() && last.values().all(|v| !matches!(v, Verdict::Pending { .. }));
        if settle && (all_settled || first_failure.is_some_and(|t| t.elapsed() >= FAILURE_GRACE)) {
            break false;
        }
    };
    tasks.iter().for_each(|t| t.abort());
    let objects = targets
        .iter()
        .enumerate()
        .map(|(i, (target, _, _))| {
            let (scheduled_after, started_after) = current(&snapshot, target).map(|live| pod_timings(live, &snapshot, started_wall)).unwrap_or_default();
            Judged {
                kind: target["kind"].as_str().unwrap_or_default().to_string(),
                namespace: target["metadata"]["namespace"].as_str().map(str::to_string),
                name: target["metadata"]["name"].as_str().unwrap_or_default().to_string(),
                verdict: last.get(&i).cloned().unwrap_or(Verdict::Pending { reason: NOT_SEEN.into() }),
                ready_after: ready_at.get(&i).copied(),
                scheduled_after,
                started_after,
            }
        })
        .collect();
    Waited { objects, timed_out }
}

/// Judges `targets` once, on one list of each kind involved (`kdeck status`).
pub async fn judge_once(cluster: &Cluster, targets: &[(Value, ApiResource, bool)]) -> Vec<Judged> {
    let namespaces: BTreeSet<String> = targets.iter().filter_map(|(o, _, _)| o["metadata"]["namespace"].as_str().map(str::to_string)).collect();
    let mut snapshot = Snapshot::new();
    let mut listed: BTreeSet<(String, String, Option<String>)> = BTreeSet::new();
    let mut lists: Vec<(ApiResource, Option<String>)> = Vec::new();
    for (_, resource, namespaced) in targets {
        if *namespaced {
            lists.extend(namespaces.iter().map(|ns| (resource.clone(), Some(ns.clone()))));
        } else {
            lists.push((resource.clone(), None));
        }
    }
    for resource in supporting() {
        if resource.kind == "StorageClass" {
            lists.push((resource, None));
        } else {
            lists.extend(namespaces.iter().map(|ns| (resource.clone(), Some(ns.clone()))));
        }
    }
    for (resource, namespace) in lists {
        if !listed.insert((resource.api_version.clone(), resource.kind.clone(), namespace.clone())) {
            continue;
        }
        if let Ok(items) = listing::list_values(&cluster.client, &resource, namespace.as_deref()).await {
            items.into_iter().for_each(|value| snapshot.upsert(value));
        }
    }
    let now = k8s_openapi::jiff::Timestamp::now();
    targets
        .iter()
        .map(|(target, _, _)| Judged {
            kind: target["kind"].as_str().unwrap_or_default().to_string(),
            namespace: target["metadata"]["namespace"].as_str().map(str::to_string),
            name: target["metadata"]["name"].as_str().unwrap_or_default().to_string(),
            verdict: match current(&snapshot, target) {
                Some(live) => readiness::judge(live, &snapshot, now),
                None => Verdict::Pending { reason: "does not exist".into() },
            },
            ready_after: None,
            scheduled_after: None,
            started_after: None,
        })
        .collect()
}

/// When the resource's pods were all scheduled and all started, in seconds after
/// `since`: the latest pod's `PodScheduled` transition and its containers' latest
/// `startedAt`. Pods being deleted are not counted.
fn pod_timings(live: &Value, snapshot: &Snapshot, since: k8s_openapi::jiff::Timestamp) -> (Option<f64>, Option<f64>) {
    let pods: Vec<&Value> = match (live["apiVersion"].as_str(), live["kind"].as_str()) {
        (Some("v1"), Some("Pod")) => vec![live],
        (Some("apps/v1"), Some("Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")) | (Some("batch/v1"), Some("Job")) => {
            readiness::pods_of(live, snapshot)
        }
        _ => return (None, None),
    };
    let pods: Vec<&Value> = pods.into_iter().filter(|p| p["metadata"]["deletionTimestamp"].is_null()).collect();
    if pods.is_empty() {
        return (None, None);
    }
    let time = |v: &Value| v.as_str().and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok());
    let scheduled = |pod: &Value| {
        let condition = pod["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == "PodScheduled" && c["status"] == "True")?;
        time(&condition["lastTransitionTime"])
    };
    let started = |pod: &Value| {
        let statuses = pod["status"]["containerStatuses"].as_array().filter(|s| !s.is_empty())?;
        statuses
            .iter()
            .map(|s| time(&s["state"]["running"]["startedAt"]).or_else(|| time(&s["state"]["terminated"]["startedAt"])))
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .max()
    };
    let latest = |of: &dyn Fn(&Value) -> Option<k8s_openapi::jiff::Timestamp>| {
        let at = pods.iter().map(|p| of(p)).collect::<Option<Vec<_>>>()?.into_iter().max()?;
        let seconds = at.duration_since(since).as_secs_f64();
        // More than a second before the wait began: the pod was there already.
        (seconds > -1.0).then_some(seconds.max(0.0))
    };
    (latest(&scheduled), latest(&started))
}

/// Objects deleted since a wait began, by [`key`], as they were last.
type Removed = BTreeMap<(String, String, String, String), Value>;

/// Takes a change into the snapshot, remembering what was deleted.
fn take(change: Change, snapshot: &mut Snapshot, removed: &mut Removed) {
    match change {
        Change::Upsert(obj) => {
            removed.remove(&key(&obj));
            snapshot.upsert(obj);
        }
        Change::Remove(obj) => {
            snapshot.remove(&obj);
            removed.insert(key(&obj), obj);
        }
    }
}

/// (group, kind, namespace, name) of an object.
fn key(object: &Value) -> (String, String, String, String) {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let group = object["apiVersion"].as_str().unwrap_or_default().split_once('/').map(|(g, _)| g).unwrap_or("").to_string();
    (group, text(&object["kind"]), text(&object["metadata"]["namespace"]), text(&object["metadata"]["name"]))
}

/// The verdict of a Job that `ttlSecondsAfterFinished` removed once it finished
/// (ingress-nginx's admission Jobs have 0: they are gone the moment they
/// complete), judged as it was last seen: complete is ready, failed is failed.
/// None for anything else that was deleted.
fn finished_and_removed(target: &Value, gone: &Value, snapshot: &Snapshot, now: k8s_openapi::jiff::Timestamp) -> Option<Verdict> {
    let is_job = gone["apiVersion"] == "batch/v1" && gone["kind"] == "Job";
    let same = target["metadata"]["uid"].as_str().is_none_or(|uid| gone["metadata"]["uid"].as_str() == Some(uid));
    if !is_job || !same || !gone["spec"]["ttlSecondsAfterFinished"].is_i64() {
        return None;
    }
    match readiness::judge(gone, snapshot, now) {
        Verdict::Ready { .. } => Some(Verdict::ready_with("completed, then removed by its ttlSecondsAfterFinished")),
        failed @ Verdict::Failed { .. } => Some(failed),
        Verdict::Pending { .. } => None,
    }
}

/// The live version of `target` in the snapshot.
fn current<'a>(snapshot: &'a Snapshot, target: &Value) -> Option<&'a Value> {
    let group = target["apiVersion"].as_str().unwrap_or_default().split_once('/').map(|(g, _)| g).unwrap_or("");
    snapshot.get(
        group,
        target["kind"].as_str().unwrap_or_default(),
        target["metadata"]["namespace"].as_str().unwrap_or_default(),
        target["metadata"]["name"].as_str().unwrap_or_default(),
    )
}

/// `ready`, `ready (completed)`, `pending: …`, `FAILED: …`.
pub fn verdict_text(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Ready { note: None } => "ready".into(),
        Verdict::Ready { note: Some(note) } => format!("ready ({note})"),
        Verdict::Pending { reason } => format!("pending: {reason}"),
        Verdict::Failed { reason } => format!("FAILED: {reason}"),
    }
}

/// A change, as the snapshot takes it (typed: a list's items carry no kind).
enum Change {
    Upsert(Value),
    Remove(Value),
}

/// Follows `api` ([`crate::cluster::wait::follow`]) into `tx` until the receiver is gone.
async fn feed(api: Api<DynamicObject>, resource: ApiResource, tx: mpsc::UnboundedSender<Change>) {
    use crate::cluster::wait::{Seen, follow};
    let typed = |obj: DynamicObject| listing::value_of(obj, &resource);
    follow(api, |seen| {
        let change = match seen {
            Seen::Upsert(obj) => Change::Upsert(typed(obj)),
            Seen::Remove(obj) => Change::Remove(typed(obj)),
        };
        tx.send(change).is_ok()
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(ttl: Option<i64>, conditions: Value) -> Value {
        let mut job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "admission-create", "namespace": "ingress-nginx", "uid": "u1"},
            "spec": {"completions": 1}, "status": {"conditions": conditions}});
        if let Some(ttl) = ttl {
            job["spec"]["ttlSecondsAfterFinished"] = json!(ttl);
        }
        job
    }

    #[test]
    fn a_job_its_ttl_removed_keeps_how_it_finished() {
        let (snapshot, now) = (Snapshot::new(), k8s_openapi::jiff::Timestamp::now());
        let complete = json!([{"type": "Complete", "status": "True"}]);
        let target = job(Some(0), json!([]));
        assert_eq!(
            finished_and_removed(&target, &job(Some(0), complete.clone()), &snapshot, now),
            Some(Verdict::ready_with("completed, then removed by its ttlSecondsAfterFinished"))
        );
        let failed =
            finished_and_removed(&target, &job(Some(0), json!([{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}])), &snapshot, now);
        assert!(matches!(failed, Some(Verdict::Failed { .. })), "{failed:?}");
        // Deleted while running, without a TTL, or another Job of that name: not finished.
        assert_eq!(finished_and_removed(&target, &job(Some(0), json!([])), &snapshot, now), None);
        assert_eq!(finished_and_removed(&job(None, json!([])), &job(None, complete.clone()), &snapshot, now), None);
        let mut other = job(Some(0), complete);
        other["metadata"]["uid"] = json!("u2");
        assert_eq!(finished_and_removed(&target, &other, &snapshot, now), None);
    }
}
