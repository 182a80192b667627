//! One way to find where to run or read: a target (a pod, a workload such as
//! `deploy/web`, or a label selector) → its pods → the first ready one → the
//! container. Used by `exec`, `logs`, and the kubernetes executor of `kdeck run`.
//! Each failure says what was looked for and what was found instead.

use std::fmt;

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::core::GroupVersionKind;
use serde_json::Value;

use super::{Cluster, names};
use crate::error::{Error, Result};

/// The annotation kubectl reads to pick a container when none is named.
pub const DEFAULT_CONTAINER: &str = "kubectl.kubernetes.io/default-container";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Pod(String),
    Workload(Workload, String),
    Selector(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
    Job,
    /// A Service: its selector picks the pods (as kubectl's logs, exec and port-forward take it).
    Service,
}

impl Workload {
    fn from_prefix(prefix: &str) -> Option<Self> {
        Some(match prefix {
            "deploy" | "deployment" | "deployments" => Workload::Deployment,
            "sts" | "statefulset" | "statefulsets" => Workload::StatefulSet,
            "ds" | "daemonset" | "daemonsets" => Workload::DaemonSet,
            "rs" | "replicaset" | "replicasets" => Workload::ReplicaSet,
            "job" | "jobs" => Workload::Job,
            "svc" | "service" | "services" => Workload::Service,
            _ => return None,
        })
    }

    fn resource(self) -> ApiResource {
        let (group, kind, plural) = match self {
            Workload::Deployment => ("apps", "Deployment", "deployments"),
            Workload::StatefulSet => ("apps", "StatefulSet", "statefulsets"),
            Workload::DaemonSet => ("apps", "DaemonSet", "daemonsets"),
            Workload::ReplicaSet => ("apps", "ReplicaSet", "replicasets"),
            Workload::Job => ("batch", "Job", "jobs"),
            Workload::Service => ("", "Service", "services"),
        };
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, "v1", kind), plural)
    }

    fn short(self) -> &'static str {
        match self {
            Workload::Deployment => "deploy",
            Workload::StatefulSet => "sts",
            Workload::DaemonSet => "ds",
            Workload::ReplicaSet => "rs",
            Workload::Job => "job",
            Workload::Service => "svc",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Pod(name) => write!(f, "pod/{name}"),
            Target::Workload(kind, name) => write!(f, "{}/{name}", kind.short()),
            Target::Selector(selector) => write!(f, "pods matching {selector}"),
        }
    }
}

impl Target {
    /// `NAME` or `pod/NAME`, `deploy/NAME`, `sts/NAME`, `ds/NAME`, `rs/NAME`, `job/NAME`, `svc/NAME`.
    pub fn parse(text: &str) -> Result<Target> {
        let target = match text.split_once('/') {
            None => Target::Pod(text.to_string()),
            Some(("pod" | "pods" | "po", name)) => Target::Pod(name.to_string()),
            Some((prefix, name)) => match Workload::from_prefix(prefix) {
                Some(kind) => Target::Workload(kind, name.to_string()),
                None => {
                    return Err(Error::usage(format!("unknown target kind {prefix:?} in {text:?}"))
                        .hint("targets are NAME, pod/NAME, deploy/NAME, sts/NAME, ds/NAME, rs/NAME, job/NAME or svc/NAME"));
                }
            },
        };
        if let Target::Pod(name) | Target::Workload(_, name) = &target {
            names::validate_name("target", name)?;
        }
        Ok(target)
    }

    pub fn selector(selector: &str) -> Result<Target> {
        names::validate_selector(selector)?;
        Ok(Target::Selector(selector.to_string()))
    }

    /// The label selector the target stands for (None for a single pod).
    pub async fn label_selector(&self, cluster: &Cluster, namespace: &str) -> Result<Option<String>> {
        Ok(match self {
            Target::Pod(_) => None,
            Target::Selector(selector) => Some(selector.clone()),
            Target::Workload(kind, name) => Some(workload_selector(cluster, namespace, *kind, name).await?.0),
        })
    }

    /// The pods the target stands for (a pod target: that pod, which must exist).
    pub async fn pods(&self, cluster: &Cluster, namespace: &str) -> Result<Vec<Pod>> {
        let api: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
        let selector = match self {
            Target::Pod(name) => {
                return match api.get_opt(name).await.map_err(|e| cluster.error(&format!("reading pod {namespace}/{name}"), e))? {
                    Some(pod) => Ok(vec![pod]),
                    None => Err(not_found_pod(cluster, &api, namespace, name).await),
                };
            }
            Target::Selector(selector) => selector.clone(),
            Target::Workload(kind, name) => workload_selector(cluster, namespace, *kind, name).await?.0,
        };
        let mut pods = api.list(&ListParams::default().labels(&selector)).await.map_err(|e| cluster.error(&format!("listing pods in {namespace}"), e))?.items;
        pods.retain(|p| p.metadata.deletion_timestamp.is_none());
        pods.sort_by_key(|p| (p.metadata.creation_timestamp.as_ref().map(|t| t.0.as_second()), p.name_any()));
        Ok(pods)
    }

    /// The first ready pod of the target (oldest first), or an error describing each
    /// pod's state, or the selector and the workload's status when there are none.
    /// A pod named outright only needs to be running, as with kubectl.
    pub async fn ready_pod(&self, cluster: &Cluster, namespace: &str) -> Result<Pod> {
        let pods = self.pods(cluster, namespace).await?;
        let usable = |p: &Pod| if matches!(self, Target::Pod(_)) { is_running(p) } else { is_ready(p) };
        if let Some(pod) = pods.iter().find(|p| usable(p)) {
            return Ok(pod.clone());
        }
        if pods.is_empty() {
            let mut error = match self {
                Target::Selector(selector) => Error::not_found(format!("no pods match {selector} in namespace {namespace} (context {})", cluster.context)),
                _ => Error::not_found(format!("no pods for {self} in namespace {namespace} (context {})", cluster.context)),
            };
            if let Target::Workload(kind, name) = self {
                let (selector, status) = workload_selector(cluster, namespace, *kind, name).await?;
                error = error.hint(format!("selector used: {selector}"));
                if let Some(status) = status {
                    error = error.hint(format!("{}/{name}: {status}", kind.short()));
                }
            }
            return Err(error.hint(labels_in_use(cluster, namespace).await));
        }
        let states: Vec<String> = pods.iter().map(|p| format!("{}: {}", p.name_any(), pod_state(p))).collect();
        let problem = if matches!(self, Target::Pod(_)) { "is not running" } else { "has no ready pod" };
        Err(Error::failure(format!("{self} in namespace {namespace} {problem}")).hint(states.join("; ")))
    }
}

/// The labels the pods of a namespace carry (most common first), for a selector
/// that matched nothing.
async fn labels_in_use(cluster: &Cluster, namespace: &str) -> String {
    let api: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    let Ok(list) = api.list(&ListParams::default().limit(500)).await else { return format!("the pods of namespace {namespace} could not be listed") };
    let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for pod in &list.items {
        for (k, v) in pod.labels() {
            if k != "pod-template-hash" && k != "controller-revision-hash" {
                *counts.entry(format!("{k}={v}")).or_default() += 1;
            }
        }
    }
    if counts.is_empty() {
        return format!("no pod in namespace {namespace} has labels");
    }
    let mut pairs: Vec<(String, usize)> = counts.into_iter().collect();
    pairs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let shown: Vec<String> = pairs.iter().take(10).map(|(l, n)| format!("{l} ({n})")).collect();
    format!("labels of pods in namespace {namespace}: {}", shown.join(", "))
}

async fn not_found_pod(cluster: &Cluster, api: &Api<Pod>, namespace: &str, name: &str) -> Error {
    Error::not_found(format!("pod {name:?} not found in namespace {namespace} (context {})", cluster.context))
        .hint(super::existing_names(api, "pods", &format!("in namespace {namespace}")).await)
}

/// The workload's pod selector as a label selector string, and a one-line status
/// (none for a Service: its selector is all there is to say).
async fn workload_selector(cluster: &Cluster, namespace: &str, kind: Workload, name: &str) -> Result<(String, Option<String>)> {
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.client.clone(), namespace, &kind.resource());
    let Some(workload) = api.get_opt(name).await.map_err(|e| cluster.error(&format!("reading {}/{name}", kind.short()), e))? else {
        let hint = super::existing_names(&api, &format!("{}s", kind.resource().kind), &format!("in namespace {namespace}")).await;
        return Err(Error::not_found(format!("{}/{name} not found in namespace {namespace} (context {})", kind.short(), cluster.context)).hint(hint));
    };
    if kind == Workload::Service {
        // A Service's selector is a plain map; without one, its endpoints are managed by hand.
        let labels = workload.data["spec"]["selector"].as_object().filter(|m| !m.is_empty());
        let Some(labels) = labels else {
            return Err(Error::failure(format!("svc/{name} has no selector, so no pods belong to it")).hint("name a pod or a workload instead"));
        };
        let selector: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
        let selector = selector.join(",");
        return Ok((selector, None));
    }
    let selector = selector_string(&workload.data["spec"]["selector"]);
    let status = &workload.data["status"];
    let number = |k: &str| status[k].as_i64().unwrap_or(0);
    let summary = format!(
        "{} wanted, {} ready, {} available",
        workload.data["spec"]["replicas"].as_i64().unwrap_or(number("desiredNumberScheduled")),
        number("readyReplicas").max(number("numberReady")).max(number("ready")),
        number("availableReplicas").max(number("numberAvailable"))
    );
    Ok((selector, Some(summary)))
}

/// `matchLabels` and `matchExpressions` as a selector string (`app=web,tier in (a,b)`).
pub fn selector_string(selector: &Value) -> String {
    let mut parts: Vec<String> =
        selector["matchLabels"].as_object().into_iter().flatten().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
    for e in selector["matchExpressions"].as_array().into_iter().flatten() {
        let key = e["key"].as_str().unwrap_or_default();
        let values: Vec<&str> = e["values"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        parts.push(match e["operator"].as_str().unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            _ => format!("!{key}"),
        });
    }
    parts.join(",")
}

pub fn is_running(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

pub fn is_ready(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// What a pod is doing, as `kubectl get pods` would say: phase, or the waiting or
/// terminated reason of its first container that has one.
pub fn pod_state(pod: &Pod) -> String {
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.clone()).unwrap_or_else(|| "Unknown".into());
    let reason = status.into_iter().flat_map(|s| s.container_statuses.iter().flatten()).find_map(|c| {
        let state = c.state.as_ref()?;
        state.waiting.as_ref().and_then(|w| w.reason.clone()).or_else(|| state.terminated.as_ref().and_then(|t| t.reason.clone()))
    });
    match (reason, status.and_then(|s| s.reason.clone())) {
        (_, Some(pod_reason)) => format!("{phase} ({pod_reason})"),
        (Some(reason), None) => format!("{phase} ({reason})"),
        (None, None) if phase == "Running" => "Running, not ready".into(),
        (None, None) => phase,
    }
}

/// Where a pod is in starting up, from its status.
#[derive(Debug, PartialEq)]
pub enum StartState {
    Starting,
    Running,
    /// Stuck for a reason that will not pass by itself (or already ended).
    Failed(String),
    /// No node fits it now (one may come: an autoscaler).
    Unschedulable(String),
}

/// Running, still starting, unschedulable, or stuck for a reason that will not pass by itself.
pub fn start_state(status: &Value) -> StartState {
    match status["phase"].as_str() {
        Some("Running") => return StartState::Running,
        Some("Failed" | "Succeeded") => return StartState::Failed(format!("it ended ({})", status["reason"].as_str().unwrap_or("no reason given"))),
        _ => {}
    }
    let waiting = status["containerStatuses"].as_array().and_then(|c| c.iter().find_map(|c| c["state"]["waiting"].as_object()).cloned());
    if let Some(waiting) = waiting {
        let reason = waiting.get("reason").and_then(|r| r.as_str()).unwrap_or_default();
        if matches!(reason, "ErrImagePull" | "ImagePullBackOff" | "InvalidImageName" | "CreateContainerConfigError" | "CreateContainerError") {
            let message = waiting.get("message").and_then(|m| m.as_str()).unwrap_or_default();
            return StartState::Failed(format!("{reason}: {message}"));
        }
    }
    let unschedulable = status["conditions"].as_array().and_then(|c| c.iter().find(|c| c["type"] == "PodScheduled" && c["reason"] == "Unschedulable").cloned());
    if let Some(condition) = unschedulable {
        return StartState::Unschedulable(condition["message"].as_str().unwrap_or_default().to_string());
    }
    StartState::Starting
}

/// The container to use: the one asked for, else the pod's default-container
/// annotation, else its only container. `config_hint` says how to choose for good
/// (`-c NAME`, or a config key).
pub fn container(pod: &Pod, wanted: Option<&str>, config_hint: &str) -> Result<String> {
    let names: Vec<String> = pod.spec.as_ref().map(|s| s.containers.iter().map(|c| c.name.clone()).collect()).unwrap_or_default();
    let pod_name = pod.name_any();
    if let Some(wanted) = wanted {
        if names.iter().any(|n| n == wanted) {
            return Ok(wanted.to_string());
        }
        return Err(Error::not_found(format!("container {wanted:?} is not in pod {pod_name}")).hint(format!("its containers: {}", names.join(", "))));
    }
    if let Some(default) = pod.annotations().get(DEFAULT_CONTAINER).filter(|d| names.contains(d)) {
        return Ok(default.clone());
    }
    match names.as_slice() {
        [only] => Ok(only.clone()),
        [] => Err(Error::failure(format!("pod {pod_name} has no containers"))),
        _ => Err(Error::usage(format!("pod {pod_name} has several containers: {}; say which one", names.join(", "))).hint(config_hint.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(containers: &[&str], annotations: Value) -> Pod {
        let containers: Vec<Value> = containers.iter().map(|c| json!({"name": c, "image": "x"})).collect();
        serde_json::from_value(json!({"metadata": {"name": "p", "annotations": annotations}, "spec": {"containers": containers}})).unwrap()
    }

    #[test]
    fn targets_parse_like_kubectl_and_refuse_bad_names() {
        assert_eq!(Target::parse("web-0").unwrap(), Target::Pod("web-0".into()));
        assert_eq!(Target::parse("pod/web-0").unwrap(), Target::Pod("web-0".into()));
        assert_eq!(Target::parse("deploy/api").unwrap(), Target::Workload(Workload::Deployment, "api".into()));
        assert_eq!(Target::parse("statefulset/db").unwrap(), Target::Workload(Workload::StatefulSet, "db".into()));
        assert_eq!(Target::parse("svc/web").unwrap(), Target::Workload(Workload::Service, "web".into()));
        assert_eq!(Target::parse("job/migrate").unwrap(), Target::Workload(Workload::Job, "migrate".into()));
        assert!(Target::parse("cm/web").unwrap_err().message.contains("unknown target kind"));
        assert!(Target::parse("deploy/a;b").is_err());
        assert!(Target::selector("app in (").is_err());
    }

    #[test]
    fn containers_are_chosen_as_kubectl_chooses_them() {
        assert_eq!(container(&pod(&["app"], json!({})), None, "").unwrap(), "app");
        let multi = pod(&["app", "redis"], json!({}));
        let err = container(&multi, None, "use -c NAME").unwrap_err();
        assert!(err.message.contains("app, redis") && err.hints == ["use -c NAME"], "{err:?}");
        assert_eq!(container(&multi, Some("redis"), "").unwrap(), "redis");
        assert!(container(&multi, Some("nope"), "").unwrap_err().hints[0].contains("app, redis"));
        assert_eq!(container(&pod(&["app", "redis"], json!({DEFAULT_CONTAINER: "redis"})), None, "").unwrap(), "redis");
    }

    #[test]
    fn workload_selectors_become_selector_strings() {
        let selector = json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}, {"key": "legacy", "operator": "DoesNotExist"}]});
        assert_eq!(selector_string(&selector), "app=web,tier in (a,b),!legacy");
    }
}
