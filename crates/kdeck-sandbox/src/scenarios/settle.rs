//! When a loaded scenario has settled: every object has reached the state its
//! declarations lead to soon, so what a user or a test looks at next is what the
//! scenario is about (the failed pods have failed, the crash loops have crashed,
//! the releases are Ready or failed), not a cluster still starting.
//!
//! The rules, one per kind, judge any object (a scenario's or a user's):
//! - **Pod**: scheduled, or unschedulable (or bound to a node the sandbox does not
//!   run, where it stays as written); its containers created, or held by what
//!   holds them for good (an image that does not pull, a missing ConfigMap or
//!   Secret, a volume whose source is missing); an exit declared within
//!   [`SOON`] of the start has happened (a pod that is not restarted has finished,
//!   one that is restarted has crashed once); a readiness probe expected to pass
//!   within [`SOON`] has passed. Terminating pods are not settled.
//! - **Deployment, ReplicaSet, StatefulSet, DaemonSet**: their controller has seen
//!   their generation; a ReplicaSet has created its pods.
//! - **HelmRelease, ExternalSecret**: `Ready` is `True` or `False`, not `Unknown`.
//!
//! And nothing of these kinds changed between two looks [`QUIET`] apart, so a
//! controller about to create the next object is waited for. A Job that keeps
//! failing with back-off settles between two attempts.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::controllers::objects;
use crate::kubelet::behaviour::Behaviour;
use crate::rest::{ListQuery, Rest};

/// Declared events due within this long of a pod's start are waited for.
pub const SOON: Duration = Duration::from_secs(30);

/// How long nothing may change for the cluster to count as settled.
pub const QUIET: Duration = Duration::from_millis(300);

/// The kinds judged, as (group, version, plural).
const KINDS: &[(&str, &str, &str)] = &[
    ("", "v1", "pods"),
    ("apps", "v1", "deployments"),
    ("apps", "v1", "replicasets"),
    ("apps", "v1", "statefulsets"),
    ("apps", "v1", "daemonsets"),
    ("batch", "v1", "jobs"),
    ("helm.toolkit.fluxcd.io", "v2", "helmreleases"),
    ("external-secrets.io", "v1", "externalsecrets"),
];

/// One look: what has not settled ("pod demo/api-1: ContainerCreating"), and the
/// highest resourceVersion among the kinds judged.
pub fn look(rest: &Rest) -> (Vec<String>, u64) {
    let mut pending = Vec::new();
    let mut newest = 0u64;
    let nodes = crate::kubelet::node_names(rest);
    for &(group, version, plural) in KINDS {
        let Some(info) =
            rest.catalogue.find(group, version, plural).or_else(|| rest.catalogue.find_any_version(&crate::resources::ResourceKey::new(group, plural)))
        else {
            continue;
        };
        let Ok(listing) = rest.list(&info, None, &ListQuery::default()) else { continue };
        for entry in listing.items {
            let obj = entry.value();
            newest = newest.max(obj["metadata"]["resourceVersion"].as_str().and_then(|rv| rv.parse().ok()).unwrap_or(0));
            let why = match plural {
                "pods" => pod(rest, &obj, &nodes),
                "helmreleases" | "externalsecrets" => ready_known(&obj),
                "jobs" => None,
                _ => workload(plural, &obj),
            };
            if let Some(why) = why {
                let ns = obj["metadata"]["namespace"].as_str().unwrap_or_default();
                let name = obj["metadata"]["name"].as_str().unwrap_or_default();
                pending.push(format!("{} {ns}/{name}: {why}", info.kind));
            }
        }
    }
    pending.sort();
    (pending, newest)
}

/// Waits until settled (nothing pending, and nothing changed over [`QUIET`]) or
/// until `deadline`; returns what is still pending then (empty: settled).
pub async fn wait(rest: &Rest, deadline: Instant) -> Vec<String> {
    let mut last: Option<u64> = None;
    loop {
        let rest_clone = rest.clone();
        let (pending, newest) = tokio::task::spawn_blocking(move || look(&rest_clone)).await.unwrap_or_else(|_| (vec!["the check failed".into()], 0));
        if pending.is_empty() && last == Some(newest) {
            return pending;
        }
        if Instant::now() + QUIET > deadline {
            return if pending.is_empty() { vec!["objects were still changing".into()] } else { pending };
        }
        last = pending.is_empty().then_some(newest);
        tokio::time::sleep(QUIET).await;
    }
}

fn workload(plural: &str, obj: &Value) -> Option<String> {
    let generation = obj["metadata"]["generation"].as_i64().unwrap_or(1);
    if obj["status"]["observedGeneration"].as_i64().unwrap_or(0) < generation {
        return Some("not yet seen by its controller".into());
    }
    if plural == "replicasets" {
        let (want, have) = (obj["spec"]["replicas"].as_i64().unwrap_or(1), obj["status"]["replicas"].as_i64().unwrap_or(0));
        if want != have {
            return Some(format!("{have} of {want} pods created"));
        }
    }
    None
}

fn ready_known(obj: &Value) -> Option<String> {
    match objects::condition(obj, "Ready").and_then(|c| c["status"].as_str().map(str::to_string)) {
        Some(status) if status == "True" || status == "False" => None,
        _ => Some("not yet Ready or failed".into()),
    }
}

/// `nodes`: the sandbox's nodes, whose kubelet runs pods (a pod bound to any other
/// node stays as it was written).
fn pod(rest: &Rest, pod: &Value, nodes: &[String]) -> Option<String> {
    if !pod["metadata"]["deletionTimestamp"].is_null() {
        return Some("terminating".into());
    }
    if objects::is_pod_terminal(pod) {
        return None;
    }
    if objects::condition(pod, "PodScheduled").is_some_and(|c| c["status"] == "False") {
        return None;
    }
    match pod["spec"]["nodeName"].as_str().unwrap_or_default() {
        "" => return Some("not scheduled yet".into()),
        node if !nodes.iter().any(|n| n == node) => return None,
        _ => {}
    }
    let statuses = pod["status"]["containerStatuses"].as_array().cloned().unwrap_or_default();
    if statuses.is_empty() {
        return Some("no container status yet".into());
    }
    let creating = statuses.iter().any(|s| matches!(s["state"]["waiting"]["reason"].as_str(), Some("ContainerCreating" | "PodInitializing")));
    if creating && crate::kubelet::init::held(pod) {
        return None;
    }
    if creating {
        let mount_held = pod["spec"]["volumes"].as_array().into_iter().flatten().any(|v| crate::kubelet::env::missing_volume_source(rest, pod, v).is_some());
        return (!mount_held).then(|| "ContainerCreating".into());
    }
    let started = pod["status"]["startTime"].as_str().and_then(crate::time::parse_rfc3339);
    let age = started.map(|s| Duration::from_secs(u64::try_from(crate::time::unix_secs() - s).unwrap_or(0)));
    let behaviour = Behaviour::in_effect(rest, pod);
    let crashed = statuses
        .iter()
        .any(|s| s["restartCount"].as_i64().unwrap_or(0) > 0 || s["lastState"]["terminated"].is_object() || s["state"]["terminated"].is_object());
    let running = statuses.iter().any(|s| s["state"]["running"].is_object());
    if !behaviour.runs_command {
        if let Some(end) = behaviour.run_for.filter(|d| *d <= SOON)
            && running
            && !crashed
            && age.is_none_or(|a| a <= end + SOON)
        {
            return Some(format!("declared to exit {}s after it starts", end.as_secs_f64()));
        }
        if behaviour.evict_after.is_some_and(|d| d <= SOON) {
            return Some("declared to be evicted".into());
        }
    }
    // Readiness expected soon: a probe's initial delay, unless declared to fail.
    if running && !behaviour.readiness_fails && !behaviour.runs_command {
        let specs = pod["spec"]["containers"].as_array().cloned().unwrap_or_default();
        for status in statuses.iter().filter(|s| s["state"]["running"].is_object() && s["ready"] != true) {
            let delay = specs.iter().find(|c| c["name"] == status["name"]).and_then(|c| c["readinessProbe"]["initialDelaySeconds"].as_u64()).unwrap_or(0);
            if Duration::from_secs(delay) <= SOON {
                return Some(format!("container {} not ready yet", status["name"].as_str().unwrap_or_default()));
            }
        }
    }
    None
}
