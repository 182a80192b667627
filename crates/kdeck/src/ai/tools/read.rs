//! The read tools: each answers with JSON built from the Kubernetes API (never a
//! shell), bounded in size. The registry redacts what they return.

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, LogParams};
use serde_json::{Value, json};

use kdeck_sandbox::rest::selector::LabelSelector;

use super::Tools;
use super::args::{self, DiagnoseArgs, EventsArgs, ListArgs, LogsArgs, ObjectArgs, RightsizeArgs, TopArgs, WorkloadArgs};
use super::kinds;
use crate::cluster::listing;
use crate::cluster::names;
use crate::cluster::target::Target;
use crate::error::{Error, Result};

/// At most this many objects are listed (the rest counted).
const MAX_LISTED: usize = 200;
/// At most this many pods' logs per call.
const MAX_LOG_PODS: usize = 5;
/// At most this many bytes of one log.
const MAX_LOG_BYTES: i64 = 64 * 1024;

pub async fn diagnose(tools: &Tools, a: &DiagnoseArgs) -> Result<Value> {
    let namespace = tools.scope(&a.namespace, a.all_namespaces)?;
    let targets = match &a.target {
        Some(t) => {
            let normalized = crate::diagnose::normalize_target(t)
                .ok_or_else(|| Error::usage(format!("invalid target {t:?}")).hint("targets look like deploy/api, service/web, pod/NAME, hr/NAME"))?;
            names::validate_name("target", normalized.split_once('/').map_or("", |(_, n)| n))?;
            vec![normalized]
        }
        None => Vec::new(),
    };
    let options = crate::diagnose::Options { namespace, targets, selector: None, since: None };
    let report = crate::diagnose::diagnose(&tools.cluster, &options).await?;
    Ok(report.json())
}

/// Objects of a kind, filtered by labels.
async fn objects(tools: &Tools, kind: &kinds::Kind, namespace: Option<&str>, selector: Option<&str>) -> Result<Vec<Value>> {
    let namespace = if kind.namespaced { namespace } else { None };
    let items =
        listing::list_values(&tools.cluster.client, &kind.resource, namespace).await.map_err(|e| tools.cluster.error(&format!("listing {}s", kind.kind), e))?;
    let selector = selector.map(LabelSelector::parse).transpose().map_err(|e| Error::usage(format!("invalid label selector: {e}")))?;
    Ok(items.into_iter().filter(|obj| selector.as_ref().is_none_or(|s| s.matches(&labels(obj)))).collect())
}

fn labels(obj: &Value) -> std::collections::BTreeMap<String, String> {
    obj["metadata"]["labels"].as_object().into_iter().flatten().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect()
}

pub async fn list(tools: &Tools, a: &ListArgs) -> Result<Value> {
    let namespace = tools.scope(&a.namespace, a.all_namespaces)?;
    let selector = args::selector(&a.selector)?;
    let kind = kinds::resolve(&tools.cluster, &a.kind).await?;
    let items = objects(tools, &kind, namespace.as_deref(), selector.as_deref()).await?;
    let total = items.len();
    let shown: Vec<Value> = items.iter().take(MAX_LISTED).map(kinds::summary).collect();
    let mut out = json!({"kind": kind.kind, "count": total, "items": shown});
    if kind.namespaced {
        out["namespace"] = json!(namespace.as_deref().unwrap_or("(all)"));
    }
    if total > MAX_LISTED {
        out["note"] = json!(format!("the first {MAX_LISTED} of {total} are shown; narrow with a selector or a namespace"));
    }
    Ok(out)
}

/// One object, or a not-found error naming those that exist.
async fn object(tools: &Tools, a: &ObjectArgs) -> Result<(kinds::Kind, String, Value)> {
    names::validate_name("object", &a.name)?;
    let namespace = tools.scope(&a.namespace, false)?.unwrap_or_default();
    let kind = kinds::resolve(&tools.cluster, &a.kind).await?;
    let api: Api<DynamicObject> = match kind.namespaced {
        true => Api::namespaced_with(tools.cluster.client.clone(), &namespace, &kind.resource),
        false => Api::all_with(tools.cluster.client.clone(), &kind.resource),
    };
    let found = api.get_opt(&a.name).await.map_err(|e| tools.cluster.error(&format!("reading {} {}", kind.kind, a.name), e))?;
    let Some(found) = found else {
        let place = if kind.namespaced { format!("in namespace {namespace}") } else { "in the cluster".into() };
        let hint = crate::cluster::existing_names(&api, &format!("{}s", kind.kind), &place).await;
        return Err(Error::not_found(format!("{} {:?} not found {place}", kind.kind, a.name)).hint(hint));
    };
    let value = listing::value_of(found, &kind.resource);
    Ok((kind, namespace, value))
}

pub async fn get(tools: &Tools, a: &ObjectArgs) -> Result<Value> {
    let (_, _, value) = object(tools, a).await?;
    Ok(kinds::shown(&value))
}

pub async fn describe(tools: &Tools, a: &ObjectArgs) -> Result<Value> {
    let (kind, namespace, value) = object(tools, a).await?;
    let mut out = json!({"kind": kind.kind, "summary": kinds::summary(&value), "labels": value["metadata"]["labels"],
        "created": value["metadata"]["creationTimestamp"], "conditions": value["status"]["conditions"]});
    let spec = &value["spec"];
    let pod_spec = if kind.kind == "Pod" { spec } else { &spec["template"]["spec"] };
    if let Some(containers) = pod_spec["containers"].as_array() {
        let statuses = value["status"]["containerStatuses"].as_array().cloned().unwrap_or_default();
        out["containers"] = containers
            .iter()
            .map(|c| {
                let status = statuses.iter().find(|s| s["name"] == c["name"]).cloned().unwrap_or(Value::Null);
                // Environment: names and where values come from; literal values are left out.
                let env: Vec<Value> = c["env"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| if e["valueFrom"].is_null() { json!({"name": e["name"]}) } else { json!({"name": e["name"], "from": e["valueFrom"]}) })
                    .collect();
                json!({"name": c["name"], "image": c["image"], "ports": c["ports"], "resources": c["resources"], "envFrom": c["envFrom"], "env": env,
                       "readinessProbe": c["readinessProbe"], "livenessProbe": c["livenessProbe"],
                       "state": status["state"], "lastState": status["lastState"], "restartCount": status["restartCount"]})
            })
            .collect();
    }
    // The pods a workload or Service selects.
    let selector = match kind.kind {
        "Service" => spec["selector"]
            .as_object()
            .filter(|m| !m.is_empty())
            .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect::<Vec<_>>().join(",")),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => Some(crate::cluster::target::selector_string(&spec["selector"])),
        _ => None,
    };
    if let Some(selector) = selector.filter(|s| !s.is_empty()) {
        let pods = kinds::resolve(&tools.cluster, "pods").await?;
        let matched = objects(tools, &pods, Some(&namespace), Some(&selector)).await?;
        out["selector"] = json!(selector);
        out["pods"] = json!(matched.iter().take(20).map(kinds::summary).collect::<Vec<_>>());
        if kind.kind == "Service" && matched.is_empty() {
            out["note"] = json!(format!("no pod in namespace {namespace} matches the selector {selector}: the Service has no endpoints"));
        }
    }
    let events = events_of(tools, Some(&namespace), Some((kind.kind, value["metadata"]["name"].as_str().unwrap_or_default())), false, 20).await?;
    out["events"] = json!(events);
    Ok(out)
}

/// Events, newest last, as rows.
async fn events_of(tools: &Tools, namespace: Option<&str>, about: Option<(&str, &str)>, warnings_only: bool, limit: usize) -> Result<Vec<Value>> {
    let kind = kinds::Kind {
        kind: "Event",
        resource: kube::api::ApiResource::from_gvk_with_plural(&kube::core::GroupVersionKind::gvk("", "v1", "Event"), "events"),
        namespaced: true,
    };
    let mut events = objects(tools, &kind, namespace, None).await?;
    events.retain(|e| {
        about.is_none_or(|(kind, name)| e["involvedObject"]["kind"] == kind && e["involvedObject"]["name"] == name)
            && (!warnings_only || e["type"] == "Warning")
    });
    events.sort_by_key(crate::stack::readiness::event_time);
    let skip = events.len().saturating_sub(limit);
    Ok(events
        .iter()
        .skip(skip)
        .map(|e| {
            let object = format!(
                "{}/{}",
                e["involvedObject"]["kind"].as_str().unwrap_or_default().to_ascii_lowercase(),
                e["involvedObject"]["name"].as_str().unwrap_or_default()
            );
            json!({"time": crate::stack::readiness::event_time(e).map(|t| t.to_string()), "type": e["type"], "reason": e["reason"], "object": object,
                   "namespace": e["metadata"]["namespace"], "count": e["count"], "message": e["message"]})
        })
        .collect())
}

pub async fn events(tools: &Tools, a: &EventsArgs) -> Result<Value> {
    let namespace = tools.scope(&a.namespace, a.all_namespaces)?;
    let limit = a.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(Error::usage(format!("invalid limit {limit}")).hint("limit is between 1 and 200"));
    }
    let about = match &a.object {
        Some(object) => {
            let (kind, name) =
                object.split_once('/').ok_or_else(|| Error::usage(format!("invalid object {object:?}")).hint("objects look like pod/NAME, deploy/NAME"))?;
            names::validate_name("object", name)?;
            let resolved = kinds::resolve(&tools.cluster, kind).await?;
            Some((resolved.kind, name.to_string()))
        }
        None => None,
    };
    let rows = events_of(tools, namespace.as_deref(), about.as_ref().map(|(k, n)| (*k, n.as_str())), a.warnings_only, limit).await?;
    Ok(json!({"namespace": namespace.as_deref().unwrap_or("(all)"), "events": rows}))
}

pub async fn logs(tools: &Tools, a: &LogsArgs) -> Result<Value> {
    let namespace = tools.scope(&a.namespace, false)?.unwrap_or_default();
    let target = Target::parse(&a.target)?;
    if let Some(container) = &a.container {
        args::container(container)?;
    }
    let tail = a.tail.unwrap_or(100);
    if !(1..=500).contains(&tail) {
        return Err(Error::usage(format!("invalid tail {tail}")).hint("tail is between 1 and 500 lines"));
    }
    let since = a.since.as_deref().map(|d| names::parse_duration("since", d)).transpose()?;
    let pods = target.pods(&tools.cluster, &namespace).await?;
    if pods.is_empty() {
        return Err(Error::not_found(format!("no pods for {target} in namespace {namespace}")));
    }
    let api: Api<Pod> = Api::namespaced(tools.cluster.client.clone(), &namespace);
    let mut logs = Vec::new();
    for pod in pods.iter().take(MAX_LOG_PODS) {
        let container = crate::cluster::target::container(pod, a.container.as_deref(), "name the container")?;
        let params = LogParams {
            container: Some(container.clone()),
            tail_lines: Some(tail),
            since_seconds: since.map(|d| d.as_secs().max(1) as i64),
            previous: a.previous,
            limit_bytes: Some(MAX_LOG_BYTES),
            ..LogParams::default()
        };
        let entry = match api.logs(&pod.name_any(), &params).await {
            Ok(text) => json!({"pod": pod.name_any(), "container": container, "lines": text.lines().collect::<Vec<_>>()}),
            Err(e) => json!({"pod": pod.name_any(), "container": container, "error": tools.cluster.error("reading the log", e).message}),
        };
        logs.push(entry);
    }
    let mut out = json!({"namespace": namespace, "target": target.to_string(), "logs": logs});
    if pods.len() > MAX_LOG_PODS {
        out["note"] = json!(format!("logs of the first {MAX_LOG_PODS} of {} pods", pods.len()));
    }
    Ok(out)
}

pub async fn rollout_status(tools: &Tools, a: &WorkloadArgs) -> Result<Value> {
    let (kind, name) = args::workload(&a.target)?;
    let object_args = ObjectArgs { kind: kind.short().into(), name: name.clone(), namespace: a.namespace.clone() };
    let (_, namespace, value) = object(tools, &object_args).await?;
    let rollout = rollout(kind, &value);
    let (complete, message) = (rollout["complete"].as_bool().unwrap_or(false), rollout["message"].as_str().unwrap_or_default().to_string());
    let (wanted, updated, ready, available) = (&rollout["replicas"], &rollout["updated"], &rollout["ready"], &rollout["available"]);
    let status = &value["status"];
    Ok(json!({"namespace": namespace, "target": format!("{}/{name}", kind.short()), "complete": complete, "message": message,
              "replicas": wanted, "updated": updated, "ready": ready, "available": available, "conditions": status["conditions"]}))
}

pub async fn stack_status() -> Result<Value> {
    let project = crate::project::ProjectArgs::default().load()?;
    let def = crate::stack::StackDef::of(&project)?;
    let (context, judged) = crate::stack::down::status(&def).await?;
    let ready = judged.iter().filter(|j| matches!(j.verdict, crate::stack::readiness::Verdict::Ready { .. })).count();
    Ok(json!({"stack": def.name, "context": context, "ready": format!("{ready}/{}", judged.len()), "resources": judged}))
}

pub async fn top(tools: &Tools, a: &TopArgs) -> Result<Value> {
    let nodes = match a.kind.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("pods" | "pod" | "po") => false,
        Some("nodes" | "node" | "no") => true,
        Some(other) => return Err(Error::usage(format!("top shows pods or nodes, not {other:?}"))),
    };
    let namespace = tools.scope(&a.namespace, a.all_namespaces)?;
    let selector = args::selector(&a.selector)?;
    let path = match (nodes, &namespace) {
        (true, _) => "/apis/metrics.k8s.io/v1beta1/nodes".to_string(),
        (false, Some(ns)) => format!("/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods"),
        (false, None) => "/apis/metrics.k8s.io/v1beta1/pods".to_string(),
    };
    let request = http::Request::get(&path).body(Vec::new()).map_err(|e| Error::failure(e.to_string()))?;
    let text = match tools.cluster.client.request_text(request).await {
        Ok(text) => text,
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 503 => {
            return Ok(json!({"metricsServed": false,
                "message": "metrics not served: this cluster does not serve metrics.k8s.io (install metrics-server); requests and limits are in describe"}));
        }
        Err(e) => return Err(tools.cluster.error("reading metrics.k8s.io", e)),
    };
    let list: Value = serde_json::from_str(&text).map_err(|e| Error::failure(format!("metrics.k8s.io answered something that is not JSON: {e}")))?;
    let selector = selector.as_deref().map(LabelSelector::parse).transpose().map_err(|e| Error::usage(format!("invalid label selector: {e}")))?;
    let items: Vec<Value> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|item| selector.as_ref().is_none_or(|s| s.matches(&labels(item))))
        .map(|item| match nodes {
            true => json!({"node": item["metadata"]["name"], "cpu": item["usage"]["cpu"], "memory": item["usage"]["memory"]}),
            false => json!({"pod": item["metadata"]["name"], "namespace": item["metadata"]["namespace"],
                "containers": item["containers"].as_array().into_iter().flatten()
                    .map(|c| json!({"name": c["name"], "cpu": c["usage"]["cpu"], "memory": c["usage"]["memory"]})).collect::<Vec<_>>()}),
        })
        .collect();
    Ok(json!({"metricsServed": true, "items": items}))
}

/// Where a workload's rollout is: `complete`, a message as kubectl words it, and the counts.
pub fn rollout(kind: crate::ops::workload::Kind, value: &Value) -> Value {
    let name = value["metadata"]["name"].as_str().unwrap_or_default();
    let (spec, status) = (&value["spec"], &value["status"]);
    let number = |k: &str| status[k].as_i64().unwrap_or(0);
    let generation = value["metadata"]["generation"].as_i64().unwrap_or(0);
    let observed = status["observedGeneration"].as_i64().unwrap_or(0);
    let (wanted, updated, ready, available) = match kind {
        crate::ops::workload::Kind::DaemonSet => {
            (number("desiredNumberScheduled"), number("updatedNumberScheduled"), number("numberReady"), number("numberAvailable"))
        }
        _ => (spec["replicas"].as_i64().unwrap_or(1), number("updatedReplicas"), number("readyReplicas"), number("availableReplicas")),
    };
    let stuck = status["conditions"].as_array().into_iter().flatten().find(|c| c["reason"] == "ProgressDeadlineExceeded").map(|c| c["message"].clone());
    let complete = observed >= generation && updated >= wanted && available >= wanted && number("replicas").max(wanted) <= wanted;
    let message = match (&stuck, complete) {
        (Some(m), _) => format!("{}/{name} exceeded its progress deadline: {}", kind.short(), m.as_str().unwrap_or_default()),
        (None, true) => format!("{}/{name} successfully rolled out", kind.short()),
        (None, false) if observed < generation => "waiting for the controller to see the new spec".into(),
        (None, false) => format!("waiting for rollout to finish: {updated} of {wanted} updated, {available} available, {ready} ready"),
    };
    json!({"complete": complete, "stuck": stuck.is_some(), "message": message, "replicas": wanted, "updated": updated, "ready": ready, "available": available})
}

/// Suggestions for one workload from usage sampled over a short window (see `ai::rightsize`).
pub async fn rightsize(tools: &Tools, a: &RightsizeArgs) -> Result<Value> {
    use crate::ai::rightsize as sizing;
    let namespace = tools.scope(&a.namespace, false)?.unwrap_or_default();
    let window = std::time::Duration::from_secs(a.window_seconds.unwrap_or(15).clamp(1, 60));
    let workloads = sizing::workloads(&tools.cluster, Some(&namespace), std::slice::from_ref(&a.target)).await?;
    let namespaces = std::collections::BTreeSet::from([namespace.clone()]);
    let not_served = || json!({"metricsServed": false, "message": "metrics not served: this cluster does not serve metrics.k8s.io (install metrics-server)"});
    let Some(first) = sizing::sample(&tools.cluster, &namespaces).await? else { return Ok(not_served()) };
    let mut samples = vec![first];
    let started = tokio::time::Instant::now();
    while started.elapsed() < window {
        tokio::time::sleep(window.saturating_sub(started.elapsed()).min(sizing::INTERVAL)).await;
        match sizing::sample(&tools.cluster, &namespaces).await? {
            Some(sample) => samples.push(sample),
            None => return Ok(not_served()),
        }
    }
    let suggestions = sizing::suggestions(&tools.cluster, &workloads, &samples).await?;
    Ok(json!({"metricsServed": true, "windowSeconds": window.as_secs(), "suggestions": suggestions,
              "note": "a short window: kdeck rightsize --window 1h samples longer; apply a suggestion with set_resources"}))
}
