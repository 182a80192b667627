//! Deleting pods that are finished and failed — matched on API fields, never on
//! printed text. kubectl's `--field-selector status.phase==Evicted` matches nothing
//! (Evicted is a reason, not a phase); here every failed pod is found and named
//! with its reason. Running, Pending and Unknown pods are never touched, nor pods
//! of a Job that is still running.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams};
use serde::Serialize;

use kdeck_sandbox::rest::selector::LabelSelector;
use tokio::time::Instant;

use super::plan::{Plan, PlanItem};
use crate::cluster::Cluster;
use crate::cluster::delete::{self, Deleted, Precondition};
use crate::error::Result;

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// None: every namespace.
    pub namespace: Option<String>,
    pub selector: Option<String>,
    /// Only pods finished at least this long ago.
    pub older_than: Option<Duration>,
    /// Also delete Succeeded (Completed) pods.
    pub include_completed: bool,
}

/// Why a pod is to be deleted, or None to keep it.
pub fn reason_to_delete(pod: &Pod, include_completed: bool) -> Option<String> {
    let status = pod.status.as_ref()?;
    let terminated_reasons =
        || status.container_statuses.iter().flatten().filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.reason.clone()).collect::<Vec<_>>();
    match status.phase.as_deref()? {
        "Failed" => Some(status.reason.clone().or_else(|| terminated_reasons().into_iter().next()).unwrap_or_else(|| "Failed".into())),
        "Succeeded" if terminated_reasons().iter().any(|r| r == "ContainerStatusUnknown") => Some("ContainerStatusUnknown".into()),
        "Succeeded" if include_completed => Some("Completed".into()),
        _ => None,
    }
}

/// When the pod finished: its last container exit, else its start, else its creation.
fn finished_at(pod: &Pod) -> Option<i64> {
    let status = pod.status.as_ref();
    let exits = status
        .into_iter()
        .flat_map(|s| s.container_statuses.iter().flatten())
        .filter_map(|c| Some(c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref()?.0.as_second()));
    exits.max().or_else(|| status?.start_time.as_ref().map(|t| t.0.as_second())).or_else(|| pod.metadata.creation_timestamp.as_ref().map(|t| t.0.as_second()))
}

/// The Job a pod belongs to, by its controller reference.
fn owning_job(pod: &Pod) -> Option<String> {
    pod.owner_references().iter().find(|r| r.controller == Some(true) && r.kind == "Job").map(|r| r.name.clone())
}

fn job_is_running(job: &Job) -> bool {
    let finished = job
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True"));
    !finished
}

/// Why `pod` is to be deleted under `options`, or None to keep it. `job_running`
/// says whether the Job that owns it (by name) still runs.
fn qualifies(pod: &Pod, job_running: impl Fn(&str) -> bool, options: &Options, now: i64) -> Option<String> {
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let reason = reason_to_delete(pod, options.include_completed)?;
    if owning_job(pod).is_some_and(|job| job_running(&job)) {
        return None;
    }
    if let Some(min_age) = options.older_than
        && finished_at(pod).is_none_or(|t| now - t < min_age.as_secs() as i64)
    {
        return None;
    }
    Some(reason)
}

/// The plan: each pod to delete with its reason, from pods and the Jobs still
/// running. Each item names the pod's uid and resourceVersion: the delete is
/// refused if the pod was replaced or changed since.
pub fn select(pods: &[Pod], running_jobs: &BTreeSet<(String, String)>, options: &Options, now: i64) -> Vec<PlanItem> {
    let mut items: Vec<PlanItem> = pods
        .iter()
        .filter_map(|pod| {
            let namespace = pod.namespace().unwrap_or_default();
            let reason = qualifies(pod, |job| running_jobs.contains(&(namespace.clone(), job.to_string())), options, now)?;
            let mut item = PlanItem::new("Pod", namespace, pod.name_any(), "delete".into(), reason);
            (item.uid, item.resource_version) = (pod.metadata.uid.clone(), pod.metadata.resource_version.clone());
            Some(item)
        })
        .collect();
    items.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    items
}

pub async fn plan(cluster: &Cluster, options: &Options) -> Result<Plan> {
    let (pods, jobs): (Api<Pod>, Api<Job>) = match &options.namespace {
        Some(ns) => (Api::namespaced(cluster.client.clone(), ns), Api::namespaced(cluster.client.clone(), ns)),
        None => (Api::all(cluster.client.clone()), Api::all(cluster.client.clone())),
    };
    let mut params = ListParams::default();
    if let Some(selector) = &options.selector {
        params = params.labels(selector);
    }
    let where_ = options.namespace.as_deref().map_or("in all namespaces".to_string(), |ns| format!("in namespace {ns}"));
    let pods = pods.list(&params).await.map_err(|e| cluster.error(&format!("listing pods {where_}"), e))?.items;
    let running_jobs = jobs
        .list(&ListParams::default())
        .await
        .map_err(|e| cluster.error(&format!("listing jobs {where_}"), e))?
        .items
        .iter()
        .filter(|j| job_is_running(j))
        .map(|j| (j.namespace().unwrap_or_default(), j.name_any()))
        .collect();
    let mut plan = Plan::new("cleanse-pods", &cluster.context);
    plan.items = select(&pods, &running_jobs, options, kdeck_sandbox::time::unix_secs());
    Ok(plan)
}

/// What applying the plan did.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Deleted pods, counted by reason.
    pub deleted: BTreeMap<String, usize>,
    /// Pods that were already gone (not an error).
    pub already_gone: usize,
    /// Pods replaced or changed since the plan so that they no longer qualify: left
    /// alone, with what changed.
    pub changed: Vec<(String, String)>,
    /// Pods that could not be deleted, with the error.
    pub failed: Vec<(String, String)>,
    /// Pods not dealt with before the deadline (`--timeout`).
    pub timed_out: Vec<String>,
}

/// What became of one planned pod.
enum Outcome {
    Deleted,
    AlreadyGone,
    Changed(String),
    Failed(String),
    TimedOut,
}

/// Deletes the planned pods, 16 at a time, each only if it is still the pod
/// planned for; a pod that changed since is looked at again and deleted only if it
/// still qualifies. Every pod is reported, those the deadline cut off included.
pub async fn apply(cluster: &Cluster, plan: &Plan, options: &Options, deadline: Instant) -> Report {
    let results = futures::stream::iter(plan.items.iter().map(|item| async move {
        let outcome = match tokio::time::timeout_at(deadline, delete_one(cluster, item, options)).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::TimedOut,
        };
        (item, outcome)
    }))
    .buffer_unordered(super::CONCURRENCY)
    .collect::<Vec<_>>()
    .await;
    let mut report = Report::default();
    for (item, outcome) in results {
        let pod = format!("{}/{}", item.namespace, item.name);
        match outcome {
            Outcome::Deleted => *report.deleted.entry(item.reason.clone()).or_default() += 1,
            Outcome::AlreadyGone => report.already_gone += 1,
            Outcome::Changed(why) => report.changed.push((pod, why)),
            Outcome::Failed(why) => report.failed.push((pod, why)),
            Outcome::TimedOut => report.timed_out.push(pod),
        }
    }
    report.changed.sort();
    report.failed.sort();
    report.timed_out.sort();
    report
}

/// How many times a pod that changed since the plan is looked at again.
const RECHECKS: usize = 3;

async fn delete_one(cluster: &Cluster, item: &PlanItem, options: &Options) -> Outcome {
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &item.namespace);
    let mut precondition = item.precondition();
    for _ in 0..=RECHECKS {
        match delete::planned(&pods, &item.name, &precondition, &DeleteParams::default()).await {
            Ok(Deleted::Yes) => return Outcome::Deleted,
            Ok(Deleted::AlreadyGone) => return Outcome::AlreadyGone,
            Ok(Deleted::Changed(_)) => match recheck(cluster, &pods, item, options).await {
                Ok(Some(current)) => precondition = current,
                Ok(None) => return Outcome::AlreadyGone,
                Err(why) => return why,
            },
            Err(e) => return Outcome::Failed(cluster.error("delete", e).message),
        }
    }
    Outcome::Changed("it kept changing while kdeck tried to delete it; skipped".into())
}

/// After a refused delete: the pod's current precondition if it is the same pod and
/// still qualifies, None if it is gone, or why it is left alone.
async fn recheck(cluster: &Cluster, pods: &Api<Pod>, item: &PlanItem, options: &Options) -> Result<Option<Precondition>, Outcome> {
    let changed = |why: String| Err(Outcome::Changed(format!("changed since planned, skipped: {why}")));
    let current = match pods.get_opt(&item.name).await {
        Ok(Some(pod)) => pod,
        Ok(None) => return Ok(None),
        Err(e) => return Err(Outcome::Failed(cluster.error("reading the pod again", e).message)),
    };
    if current.metadata.uid != item.uid {
        return changed(format!("it was replaced by another pod of the same name (uid {})", current.metadata.uid.as_deref().unwrap_or("?")));
    }
    if let Some(selector) = &options.selector
        && !LabelSelector::parse(selector).is_ok_and(|s| s.matches(current.labels()))
    {
        return changed(format!("its labels no longer match {selector}"));
    }
    let jobs: Api<Job> = Api::namespaced(cluster.client.clone(), &item.namespace);
    let mut running = false;
    if let Some(job) = owning_job(&current) {
        running = match jobs.get_opt(&job).await {
            Ok(job) => job.as_ref().is_some_and(job_is_running),
            Err(e) => return Err(Outcome::Failed(cluster.error("reading the pod's job", e).message)),
        };
    }
    match qualifies(&current, |_| running, options, kdeck_sandbox::time::unix_secs()) {
        Some(_) => Ok(Some(Precondition::exact(&current))),
        None => changed(format!("it is now {} and no longer qualifies", crate::cluster::target::pod_state(&current))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": "default", "creationTimestamp": "2026-11-20T10:00:00Z"}, "spec": {"containers": []}, "status": status}))
            .unwrap()
    }

    fn terminated(reason: &str) -> serde_json::Value {
        json!([{"name": "c", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 1, "reason": reason, "finishedAt": "2026-11-20T10:05:00Z"}}}])
    }

    #[test]
    fn failed_pods_are_named_by_their_reason_and_live_ones_kept() {
        let pods = vec![
            pod("evicted", json!({"phase": "Failed", "reason": "Evicted"})),
            pod("error", json!({"phase": "Failed", "containerStatuses": terminated("Error")})),
            pod("oom", json!({"phase": "Failed", "containerStatuses": terminated("OOMKilled")})),
            pod("shutdown", json!({"phase": "Failed", "reason": "NodeShutdown"})),
            pod("unknown-status", json!({"phase": "Failed", "containerStatuses": terminated("ContainerStatusUnknown")})),
            pod("running", json!({"phase": "Running"})),
            pod("pending", json!({"phase": "Pending"})),
            pod("lost", json!({"phase": "Unknown"})),
            pod("done", json!({"phase": "Succeeded", "containerStatuses": terminated("Completed")})),
        ];
        let items = select(&pods, &BTreeSet::new(), &Options::default(), 0);
        let got: Vec<(&str, &str)> = items.iter().map(|i| (i.name.as_str(), i.reason.as_str())).collect();
        assert_eq!(
            got,
            [("error", "Error"), ("evicted", "Evicted"), ("oom", "OOMKilled"), ("shutdown", "NodeShutdown"), ("unknown-status", "ContainerStatusUnknown")]
        );
        let with_completed = select(&pods, &BTreeSet::new(), &Options { include_completed: true, ..Default::default() }, 0);
        assert!(with_completed.iter().any(|i| i.name == "done" && i.reason == "Completed"));
    }

    #[test]
    fn pods_of_running_jobs_and_recent_pods_are_kept() {
        let mut failed_try = pod("sync-abc", json!({"phase": "Failed", "containerStatuses": terminated("Error")}));
        failed_try.metadata.owner_references =
            Some(vec![serde_json::from_value(json!({"apiVersion": "batch/v1", "kind": "Job", "name": "sync", "uid": "u", "controller": true})).unwrap()]);
        let running = BTreeSet::from([("default".to_string(), "sync".to_string())]);
        assert!(select(&[failed_try.clone()], &running, &Options::default(), 0).is_empty());
        assert_eq!(select(&[failed_try.clone()], &BTreeSet::new(), &Options::default(), 0).len(), 1, "a finished Job's pods go");

        let finished = kdeck_sandbox::time::parse_rfc3339("2026-11-20T10:05:00Z").unwrap();
        let older_than = Options { older_than: Some(Duration::from_secs(3600)), ..Default::default() };
        assert!(select(&[failed_try.clone()], &BTreeSet::new(), &older_than, finished + 600).is_empty(), "finished 10 minutes ago");
        assert_eq!(select(&[failed_try], &BTreeSet::new(), &older_than, finished + 7200).len(), 1, "finished 2 hours ago");
    }
}
