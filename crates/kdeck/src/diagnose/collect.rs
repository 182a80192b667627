//! Reading the scope: one LIST per kind, all at once, into a [`Snapshot`]; then the
//! last log lines of the containers that failed (bounded per workload and overall).
//! Secret values go to the [`Redactor`] and never into the snapshot. A kind that
//! cannot be read is named, never silently skipped.

use std::collections::BTreeMap;

use futures::StreamExt;
use kube::api::{Api, ApiResource, LogParams};
use kube::core::GroupVersionKind;
use serde_json::Value;

use super::scene::{Logs, Scene, name, namespace};
use crate::cluster::crds::{self, CustomKind};
use crate::cluster::{Cluster, listing};
use crate::error::Result;
use crate::redact::Redactor;
use crate::stack::readiness::Snapshot;

/// (group, version, kind, plural, namespaced) of every built-in kind the analyzers read.
const KINDS: &[(&str, &str, &str, &str, bool)] = &[
    ("", "v1", "Pod", "pods", true),
    ("", "v1", "Service", "services", true),
    ("", "v1", "ConfigMap", "configmaps", true),
    ("", "v1", "Secret", "secrets", true),
    ("", "v1", "Event", "events", true),
    ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true),
    ("", "v1", "Node", "nodes", false),
    ("apps", "v1", "Deployment", "deployments", true),
    ("apps", "v1", "StatefulSet", "statefulsets", true),
    ("apps", "v1", "DaemonSet", "daemonsets", true),
    ("apps", "v1", "ReplicaSet", "replicasets", true),
    ("batch", "v1", "Job", "jobs", true),
    ("batch", "v1", "CronJob", "cronjobs", true),
    ("networking.k8s.io", "v1", "Ingress", "ingresses", true),
    ("networking.k8s.io", "v1", "IngressClass", "ingressclasses", false),
    ("storage.k8s.io", "v1", "StorageClass", "storageclasses", false),
    ("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true),
    ("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true),
    ("", "v1", "Namespace", "namespaces", false),
];

/// The custom kinds read when the cluster serves them.
const CUSTOM: &[&CustomKind] = &[&crds::HELM_RELEASE, &crds::EXTERNAL_SECRET];

/// Containers whose logs are read, at most, per workload and in all.
const LOGS_PER_WORKLOAD: usize = 2;
const LOGS_IN_ALL: usize = 40;
/// Lines read from each.
const LOG_TAIL: i64 = 20;

/// Lists are made this many at once.
const CONCURRENT: usize = 8;

pub struct Collected {
    pub scene: Scene,
    pub redactor: Redactor,
}

/// Reads the namespace (None: every namespace) into a scene.
pub async fn collect(cluster: &Cluster, namespace_scope: Option<&str>, since: Option<std::time::Duration>) -> Result<Collected> {
    // A cluster that does not answer is an error, not a scene with nothing in it.
    cluster.client.apiserver_version().await.map_err(|e| cluster.error("reading the cluster", e))?;
    let mut resources: Vec<(ApiResource, bool)> = KINDS
        .iter()
        .map(|(group, version, kind, plural, namespaced)| {
            (ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural), *namespaced)
        })
        .collect();
    let mut unreadable = Vec::new();
    for custom in CUSTOM {
        match custom.discover(cluster).await {
            Ok(resource) => resources.push((resource, true)),
            Err(e) if e.code == crate::error::ExitCode::NotFound => {} // Not installed: nothing to diagnose.
            Err(e) => unreadable.push(format!("{} ({})", custom.kind, e.message)),
        }
    }
    // Lists are read as JSON values straight away (no typed objects in between):
    // the analyzers read fields, and 20,000 pods parse once instead of twice.
    let lists = futures::stream::iter(resources.into_iter().map(|(resource, namespaced)| {
        let client = cluster.client.clone();
        async move {
            let listed = listing::list_values(&client, &resource, if namespaced { namespace_scope } else { None }).await;
            (resource, listed)
        }
    }))
    .buffer_unordered(CONCURRENT)
    .collect::<Vec<_>>()
    .await;
    let mut objects = Snapshot::new();
    let mut redactor = Redactor::default();
    let now = k8s_openapi::jiff::Timestamp::now();
    let oldest = since.and_then(|s| now.checked_sub(k8s_openapi::jiff::SignedDuration::try_from(s).ok()?).ok());
    for (resource, listed) in lists {
        match listed {
            Ok(items) => {
                for mut value in items {
                    if resource.kind == "Secret" {
                        redactor.take_secret_values(&mut value);
                    }
                    if resource.kind == "Event" && oldest.is_some_and(|oldest| event_before(&value, oldest)) {
                        continue;
                    }
                    objects.upsert(value);
                }
            }
            Err(kube::Error::Api(status)) if status.code == 403 => unreadable.push(format!("{} (forbidden: {})", resource.kind, status.message)),
            Err(kube::Error::Api(status)) if status.code == 404 => {} // Not served by this cluster.
            Err(e) => unreadable.push(format!("{} ({e})", resource.kind)),
        }
    }
    let namespaces = match namespace_scope {
        Some(ns) => vec![ns.to_string()],
        None => objects.namespaces(),
    };
    let mut scene = Scene { objects, logs: Logs::new(), now, namespaces, unreadable, usage: None, notes: Vec::new() };
    let (logs, usage) = futures::join!(read_logs(cluster, &scene), read_usage(cluster, &scene, namespace_scope));
    scene.logs = logs;
    match usage {
        Ok(Some(usage)) => scene.usage = Some(usage),
        Ok(None) if wants_usage(&scene) => scene.notes.push(NO_METRICS.to_string()),
        Ok(None) => {}
        Err(e) => scene.unreadable.push(format!("PodMetrics ({})", e.message)),
    }
    Ok(Collected { scene, redactor })
}

const NO_METRICS: &str =
    "metrics.k8s.io is not served (no metrics-server): usage was not checked (memory near its limit, CPU throttled, requests far from usage)";

/// Whether a container of the scope has requests or limits: only then can its usage
/// say something (a memory limit near, a CPU limit reached, a request far off).
fn wants_usage(scene: &Scene) -> bool {
    scene.namespaces.iter().flat_map(|ns| scene.objects.list("", "Pod", ns)).any(|pod| {
        pod["status"]["phase"] == "Running"
            && pod["spec"]["containers"].as_array().into_iter().flatten().any(|c| {
                c["resources"]["limits"].as_object().is_some_and(|m| !m.is_empty()) || c["resources"]["requests"].as_object().is_some_and(|m| !m.is_empty())
            })
    })
}

/// One read of `metrics.k8s.io` for the scope (the namespace, or every namespace at
/// once), the way `kdeck rightsize` reads it; skipped when no usage could matter.
async fn read_usage(cluster: &Cluster, scene: &Scene, namespace_scope: Option<&str>) -> Result<Option<super::scene::Usage>> {
    if !wants_usage(scene) {
        return Ok(None);
    }
    crate::ai::rightsize::read(cluster, namespace_scope).await
}

fn event_before(event: &Value, oldest: k8s_openapi::jiff::Timestamp) -> bool {
    crate::stack::readiness::event_time(event).is_some_and(|t| t < oldest)
}

/// The containers whose last run failed, and the last lines of that run.
async fn read_logs(cluster: &Cluster, scene: &Scene) -> Logs {
    let mut wanted: Vec<(String, String, String, bool)> = Vec::new();
    let mut per_workload: BTreeMap<String, usize> = BTreeMap::new();
    for pod in scene.namespaces.iter().flat_map(|ns| scene.objects.list("", "Pod", ns)) {
        let workload = scene.workload_of(pod);
        let key = format!("{}/{}", namespace(pod), super::scene::reference(workload));
        for status in
            pod["status"]["initContainerStatuses"].as_array().into_iter().flatten().chain(pod["status"]["containerStatuses"].as_array().into_iter().flatten())
        {
            let failed_before = status["lastState"]["terminated"]["exitCode"].as_i64().is_some_and(|c| c != 0);
            let failed_now = status["state"]["terminated"]["exitCode"].as_i64().is_some_and(|c| c != 0);
            if !(failed_before || failed_now) || wanted.len() >= LOGS_IN_ALL {
                continue;
            }
            let count = per_workload.entry(key.clone()).or_default();
            if *count >= LOGS_PER_WORKLOAD {
                continue;
            }
            *count += 1;
            let container = status["name"].as_str().unwrap_or_default().to_string();
            // The previous run when the container has restarted since; its current one when it is the run that ended.
            let previous = failed_before && !failed_now;
            wanted.push((namespace(pod).to_string(), name(pod).to_string(), container, previous));
        }
    }
    let client = cluster.client.clone();
    futures::stream::iter(wanted.into_iter().map(|(ns, pod, container, previous)| {
        let api: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), &ns);
        async move {
            let params =
                LogParams { container: Some(container.clone()), previous, tail_lines: Some(LOG_TAIL), limit_bytes: Some(64 * 1024), ..LogParams::default() };
            let lines = match api.logs(&pod, &params).await {
                Ok(text) => text.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect(),
                // No previous run kept (the pod was recreated): the current one.
                Err(_) if previous => api
                    .logs(&pod, &LogParams { previous: false, ..params })
                    .await
                    .map(|t| t.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect())
                    .unwrap_or_default(),
                Err(_) => Vec::new(),
            };
            ((ns, pod, container), lines)
        }
    }))
    .buffer_unordered(CONCURRENT)
    .collect()
    .await
}
