//! The scheduler: binds each pending pod to a node whose labels match its
//! nodeSelector and required node affinity and whose allocatable resources fit its
//! requests, spreading pods over nodes. A pod that fits nowhere stays Pending with
//! `PodScheduled=False` (Unschedulable) and a `FailedScheduling` event.

use std::time::Duration;

use serde_json::{Value, json};

use super::events::{self, Source};
use super::objects::{self, name, namespace};
use super::runtime::{Controller, ObjectRef};
use crate::quantity;
use crate::resources::ResourceKey;
use crate::rest::selector::LabelSelector;
use crate::rest::{ListQuery, Rest, Subresource, WriteOptions};
use crate::store::{Change, EventType};

const SOURCE: Source = Source { component: "default-scheduler", host: None };

pub struct Scheduler;

fn pods() -> ResourceKey {
    ResourceKey::new("", "pods")
}

fn unbound(rest: &Rest) -> Vec<ObjectRef> {
    let (pending, _) = rest.store.list(&pods(), None, None, |e| e.index.field("spec.nodeName") == Some(""));
    pending.iter().map(|e| ObjectRef::new(pods(), &e.index.namespace, &e.index.name)).collect()
}

impl Controller for Scheduler {
    fn keys_for(&self, rest: &Rest, change: &Change) -> Vec<ObjectRef> {
        let index = &change.entry.index;
        match (change.resource.plural.as_str(), change.kind) {
            ("pods", EventType::Added | EventType::Modified) if change.resource.group.is_empty() && index.field("spec.nodeName") == Some("") => {
                vec![ObjectRef::new(pods(), &index.namespace, &index.name)]
            }
            // Capacity changed: a node came, or a bound pod went.
            ("nodes", EventType::Added | EventType::Modified) | ("pods", EventType::Deleted) | ("persistentvolumeclaims", _)
                if change.resource.group.is_empty() =>
            {
                unbound(rest)
            }
            _ => Vec::new(),
        }
    }

    fn all_keys(&self, rest: &Rest) -> Vec<ObjectRef> {
        unbound(rest)
    }

    fn reconcile(&self, rest: &Rest, key: &ObjectRef) -> Option<Duration> {
        let info = rest.catalogue.find("", "v1", "pods")?;
        let pod = rest.get(&info, Some(&key.namespace), &key.name).ok()?;
        if pod["spec"]["nodeName"].as_str().is_some_and(|n| !n.is_empty()) || objects::is_deleting(&pod) {
            return None;
        }
        let nodes_info = rest.catalogue.find("", "v1", "nodes")?;
        let nodes = rest.list(&nodes_info, None, &ListQuery::default()).ok()?.items;
        let nodes: Vec<Value> = nodes.iter().map(|e| e.value()).collect();
        if let Some(problem) = claim_problem(rest, &pod) {
            unschedulable(rest, &info, pod, nodes.len(), &problem);
            return None;
        }
        let usage = usage_by_node(rest);
        let mut rejections: Vec<&'static str> = Vec::new();
        let mut best: Option<(f64, &Value)> = None;
        for node in &nodes {
            match fits(&pod, node, usage.get(name(node)).copied().unwrap_or_default()) {
                Ok(load) => {
                    if best.is_none_or(|(l, _)| load < l) {
                        best = Some((load, node));
                    }
                }
                Err(why) => rejections.push(why),
            }
        }
        match best {
            Some((_, node)) => bind(rest, &info, pod, name(node)),
            None => unschedulable(rest, &info, pod, nodes.len(), &count_reasons(&rejections)),
        }
        None
    }
}

/// What the pods already on a node request: (cpu cores, memory bytes, pod count).
#[derive(Clone, Copy, Default)]
struct Usage {
    cpu: f64,
    memory: f64,
    pods: usize,
}

/// Every node's usage, from one pass over the pods that are not finished.
fn usage_by_node(rest: &Rest) -> std::collections::HashMap<String, Usage> {
    let mut usage: std::collections::HashMap<String, Usage> = std::collections::HashMap::new();
    let (bound, _) = rest.store.list(&pods(), None, None, |e| {
        e.index.field("spec.nodeName").is_some_and(|n| !n.is_empty()) && !matches!(e.index.field("status.phase"), Some("Succeeded" | "Failed"))
    });
    for pod in &bound {
        let (cpu, memory) = requests(&pod.value());
        let entry = usage.entry(pod.index.field("spec.nodeName").unwrap_or_default().to_string()).or_default();
        entry.cpu += cpu;
        entry.memory += memory;
        entry.pods += 1;
    }
    usage
}

/// The node's CPU load after placing the pod (lower is better), or why it does not fit.
fn fits(pod: &Value, node: &Value, used: Usage) -> Result<f64, &'static str> {
    if !objects::condition_is_true(node, "Ready") || node["spec"]["unschedulable"] == true {
        return Err("node(s) were unschedulable");
    }
    let labels = objects::labels(node);
    let selector_ok = pod["spec"]["nodeSelector"].as_object().is_none_or(|sel| sel.iter().all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str()));
    let terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"].as_array();
    let affinity_ok = terms.is_none_or(|terms| {
        terms.iter().any(|t| LabelSelector::from_object(&json!({"matchExpressions": t["matchExpressions"]})).is_ok_and(|s| s.matches(&labels)))
    });
    if !selector_ok || !affinity_ok {
        return Err("node(s) didn't match Pod's node affinity/selector");
    }
    let (cpu, memory) = requests(pod);
    let (cpu, memory) = (cpu + used.cpu, memory + used.memory);
    let allocatable = |r: &str| node["status"]["allocatable"][r].as_str().and_then(quantity::parse).unwrap_or(0.0);
    if cpu > allocatable("cpu") {
        return Err("Insufficient cpu");
    }
    if memory > allocatable("memory") {
        return Err("Insufficient memory");
    }
    if used.pods as f64 + 1.0 > allocatable("pods") {
        return Err("Too many pods");
    }
    Ok(cpu / allocatable("cpu").max(0.001) + used.pods as f64 * 1e-6)
}

/// Total (cpu cores, memory bytes) requested by the pod's containers.
fn requests(pod: &Value) -> (f64, f64) {
    pod["spec"]["containers"].as_array().into_iter().flatten().fold((0.0, 0.0), |(c, m), container| {
        let req = |r: &str| container["resources"]["requests"][r].as_str().and_then(quantity::parse).unwrap_or(0.0);
        (c + req("cpu"), m + req("memory"))
    })
}

fn bind(rest: &Rest, info: &crate::resources::ResourceInfo, mut pod: Value, node: &str) {
    pod["spec"]["nodeName"] = json!(node);
    let (ns, pod_name) = (namespace(&pod).to_string(), name(&pod).to_string());
    let Ok(mut bound) = rest.update(info, Some(&ns), &pod_name, pod, Subresource::Main, &WriteOptions::default()) else { return };
    let before = bound.clone();
    objects::set_condition(&mut bound, "PodScheduled", "True", "", "");
    objects::write_status(rest, info, &before, bound.clone());
    let message = format!("Successfully assigned {}/{} to {node}", namespace(&bound), name(&bound));
    events::normal(rest, &bound, &SOURCE, "Scheduled", &message);
}

/// "3 Insufficient cpu, 1 node(s) didn't match …", as the scheduler counts them.
fn count_reasons(rejections: &[&str]) -> String {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for r in rejections {
        match counts.iter_mut().find(|(k, _)| k == r) {
            Some((_, n)) => *n += 1,
            None => counts.push((r, 1)),
        }
    }
    counts.iter().map(|(r, n)| format!("{n} {r}")).collect::<Vec<_>>().join(", ")
}

/// Why the pod's claims keep it from any node: missing or not yet bound.
fn claim_problem(rest: &Rest, pod: &Value) -> Option<String> {
    let info = rest.catalogue.find("", "v1", "persistentvolumeclaims")?;
    for volume in pod["spec"]["volumes"].as_array().into_iter().flatten() {
        let Some(claim) = volume["persistentVolumeClaim"]["claimName"].as_str() else { continue };
        match rest.get(&info, Some(namespace(pod)), claim) {
            Err(_) => return Some(format!("persistentvolumeclaim \"{claim}\" not found")),
            Ok(pvc) if pvc["status"]["phase"] != "Bound" => return Some("pod has unbound immediate PersistentVolumeClaims".to_string()),
            Ok(_) => {}
        }
    }
    None
}

fn unschedulable(rest: &Rest, info: &crate::resources::ResourceInfo, pod: Value, node_count: usize, reasons: &str) {
    let message = format!(
        "0/{node_count} nodes are available: {reasons}. preemption: 0/{node_count} nodes are available: {node_count} Preemption is not helpful for scheduling."
    );
    // Already reported: nothing to do until a node or a pod changes.
    if objects::condition(&pod, "PodScheduled").is_some_and(|c| c["message"] == message.as_str()) {
        return;
    }
    let mut next = pod.clone();
    next["status"]["phase"] = json!("Pending");
    objects::set_condition(&mut next, "PodScheduled", "False", "Unschedulable", &message);
    objects::write_status(rest, info, &pod, next);
    events::warning(rest, &pod, &SOURCE, "FailedScheduling", &message);
}
