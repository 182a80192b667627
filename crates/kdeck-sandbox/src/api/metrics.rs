//! `metrics.k8s.io/v1beta1`, as metrics-server serves it: PodMetrics (namespaced)
//! and NodeMetrics, `get` and `list` only, computed on each request from the
//! running containers' usage ([`crate::kubelet::usage`]) — nothing is stored.
//! `kubectl top pods|nodes` read these; so do kdeck's `top` and `rightsize`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::kubelet::usage::{self, Usage};
use crate::resources::ResourceInfo;
use crate::rest::{ApiError, ListQuery, Rest};

pub const GROUP: &str = "metrics.k8s.io";

/// What a node uses besides its pods (the system daemons and the kubelet).
const NODE_OVERHEAD: Usage = Usage { cpu: 0.06, memory: 600.0 * 1024.0 * 1024.0 };

/// The sample a read returns: its time and number ([`usage::sample_now`]).
struct Sample {
    unix_secs: i64,
    number: u64,
}

impl Sample {
    fn now() -> Self {
        let unix_secs = crate::time::unix_secs();
        let number = usage::sample_now(unix_secs);
        Sample { unix_secs: i64::try_from(number * usage::RESOLUTION.as_secs()).unwrap_or(unix_secs), number }
    }
}

/// One object by name: NotFound as metrics-server words it when the pod or node
/// does not exist or has no running container.
pub fn get(rest: &Rest, info: &ResourceInfo, ns: Option<&str>, name: &str) -> Result<Value, ApiError> {
    let sample = Sample::now();
    let found = match info.plural.as_str() {
        "pods" => {
            let pods = rest.catalogue.find("", "v1", "pods").ok_or_else(|| ApiError::internal("pods are not served"))?;
            rest.get(&pods, ns, name).ok().and_then(|pod| pod_metrics(&pod, &sample))
        }
        _ => {
            let nodes = rest.catalogue.find("", "v1", "nodes").ok_or_else(|| ApiError::internal("nodes are not served"))?;
            let node = rest.get(&nodes, None, name).ok();
            node.and_then(|node| node_metrics(rest, &node, &sample))
        }
    };
    found.ok_or_else(|| ApiError::not_found(info, name))
}

/// Every object the query selects (by the pods' or nodes' labels and names).
pub fn list(rest: &Rest, info: &ResourceInfo, ns: Option<&str>, query: &ListQuery) -> Result<Vec<Value>, ApiError> {
    let sample = Sample::now();
    let query = ListQuery { labels: query.labels.clone(), fields: query.fields.clone(), ..ListQuery::default() };
    Ok(match info.plural.as_str() {
        "pods" => {
            let pods = rest.catalogue.find("", "v1", "pods").ok_or_else(|| ApiError::internal("pods are not served"))?;
            rest.list(&pods, ns, &query)?.items.iter().filter_map(|e| pod_metrics(&e.value(), &sample)).collect()
        }
        _ => {
            let nodes = rest.catalogue.find("", "v1", "nodes").ok_or_else(|| ApiError::internal("nodes are not served"))?;
            rest.list(&nodes, None, &query)?.items.iter().filter_map(|e| node_metrics(rest, &e.value(), &sample)).collect()
        }
    })
}

/// The usage of each running container of a pod: (name, usage).
pub fn container_usage(pod: &Value, sample_number: u64, unix_secs: i64) -> Vec<(String, Usage)> {
    if pod["status"]["phase"] != "Running" || !pod["metadata"]["deletionTimestamp"].is_null() {
        return Vec::new();
    }
    let specs = pod["spec"]["containers"].as_array().cloned().unwrap_or_default();
    let statuses = pod["status"]["containerStatuses"].as_array().cloned().unwrap_or_default();
    specs
        .iter()
        .filter_map(|spec| {
            let name = spec["name"].as_str()?;
            let status = statuses.iter().find(|s| s["name"] == name)?;
            let started = crate::time::parse_rfc3339(status["state"]["running"]["startedAt"].as_str()?)?;
            let running_for = Duration::from_secs(u64::try_from(unix_secs - started).unwrap_or(0));
            Some((name.to_string(), usage::of_container(pod, spec, running_for, sample_number)))
        })
        .collect()
}

fn pod_metrics(pod: &Value, sample: &Sample) -> Option<Value> {
    let containers = container_usage(pod, sample.number, sample.unix_secs);
    if containers.is_empty() {
        return None;
    }
    let meta = &pod["metadata"];
    Some(json!({
        "kind": "PodMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"], "creationTimestamp": crate::time::now(), "labels": labels(meta)},
        "timestamp": crate::time::rfc3339_unix(sample.unix_secs),
        "window": format!("{}s", usage::RESOLUTION.as_secs()),
        "containers": containers.iter().map(|(name, usage)| json!({"name": name, "usage": usage.to_json()})).collect::<Vec<_>>(),
    }))
}

/// A node's usage: its running pods' and its own. None while it is not Ready.
fn node_metrics(rest: &Rest, node: &Value, sample: &Sample) -> Option<Value> {
    let ready = node["status"]["conditions"].as_array()?.iter().any(|c| c["type"] == "Ready" && c["status"] == "True");
    if !ready {
        return None;
    }
    let name = node["metadata"]["name"].as_str()?;
    let pods = rest.catalogue.find("", "v1", "pods")?;
    let fields = crate::rest::selector::FieldSelector::parse(&format!("spec.nodeName={name}"), crate::store::index_fields(&pods.key())).ok()?;
    let query = ListQuery { fields, ..ListQuery::default() };
    let listing = rest.list(&pods, None, &query).ok()?;
    let total =
        listing.items.iter().flat_map(|e| container_usage(&e.value(), sample.number, sample.unix_secs)).fold(NODE_OVERHEAD, |sum, (_, usage)| sum + usage);
    Some(json!({
        "kind": "NodeMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {"name": name, "creationTimestamp": crate::time::now(), "labels": labels(&node["metadata"])},
        "timestamp": crate::time::rfc3339_unix(sample.unix_secs),
        "window": format!("{}s", usage::RESOLUTION.as_secs()),
        "usage": total.to_json(),
    }))
}

fn labels(meta: &Value) -> Value {
    if meta["labels"].is_object() { meta["labels"].clone() } else { json!({}) }
}

/// The kubelet's `/stats/summary` (`nodes/NAME/proxy/stats/summary`), from the same
/// usage: the node, and each running pod with its containers. None for a node
/// that does not exist.
pub fn summary(rest: &Rest, node_name: &str) -> Option<Value> {
    let sample = Sample::now();
    let nodes = rest.catalogue.find("", "v1", "nodes")?;
    let node = rest.get(&nodes, None, node_name).ok()?;
    let pods = rest.catalogue.find("", "v1", "pods")?;
    let fields = crate::rest::selector::FieldSelector::parse(&format!("spec.nodeName={node_name}"), crate::store::index_fields(&pods.key())).ok()?;
    let query = ListQuery { fields, ..ListQuery::default() };
    let time = crate::time::rfc3339_unix(sample.unix_secs);
    let started = |pod: &Value, container: &str| -> Option<i64> {
        let statuses = pod["status"]["containerStatuses"].as_array()?;
        crate::time::parse_rfc3339(statuses.iter().find(|s| s["name"] == container)?["state"]["running"]["startedAt"].as_str()?)
    };
    let stats = |usage: Usage, since: i64| {
        let seconds = u64::try_from(sample.unix_secs - since).unwrap_or(0) as f64;
        let bytes = usage.memory.round() as u64;
        (
            json!({"time": time, "usageNanoCores": (usage.cpu * 1e9).round() as u64, "usageCoreNanoSeconds": (usage.cpu * 1e9 * seconds).round() as u64}),
            json!({"time": time, "usageBytes": bytes, "workingSetBytes": bytes, "rssBytes": bytes, "pageFaults": 0, "majorPageFaults": 0}),
        )
    };
    let mut total = NODE_OVERHEAD;
    let mut pod_stats = Vec::new();
    for entry in rest.list(&pods, None, &query).ok()?.items {
        let pod = entry.value();
        let containers = container_usage(&pod, sample.number, sample.unix_secs);
        if containers.is_empty() {
            continue;
        }
        let pod_start = pod["status"]["startTime"].as_str().and_then(crate::time::parse_rfc3339).unwrap_or(sample.unix_secs);
        let mut pod_total = Usage::ZERO;
        let mut container_stats = Vec::new();
        for (name, usage) in &containers {
            pod_total = pod_total + *usage;
            let since = started(&pod, name).unwrap_or(pod_start);
            let (cpu, memory) = stats(*usage, since);
            container_stats.push(json!({"name": name, "startTime": crate::time::rfc3339_unix(since), "cpu": cpu, "memory": memory}));
        }
        total = total + pod_total;
        let (cpu, memory) = stats(pod_total, pod_start);
        let meta = &pod["metadata"];
        pod_stats.push(json!({
            "podRef": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"]},
            "startTime": crate::time::rfc3339_unix(pod_start),
            "containers": container_stats,
            "cpu": cpu,
            "memory": memory,
        }));
    }
    let node_start = node["metadata"]["creationTimestamp"].as_str().and_then(crate::time::parse_rfc3339).unwrap_or(sample.unix_secs);
    let (cpu, mut memory) = stats(total, node_start);
    if let Some(capacity) = node["status"]["allocatable"]["memory"].as_str().and_then(crate::quantity::parse) {
        memory["availableBytes"] = json!((capacity - total.memory).max(0.0).round() as u64);
    }
    Some(json!({
        "node": {"nodeName": node_name, "startTime": crate::time::rfc3339_unix(node_start), "cpu": cpu, "memory": memory, "systemContainers": []},
        "pods": pod_stats,
    }))
}
