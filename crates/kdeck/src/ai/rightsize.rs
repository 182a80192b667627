//! `kdeck rightsize`: requests and limits from what containers use.
//!
//! `metrics.k8s.io` keeps no history, so usage is sampled while the command runs,
//! over `--window` (one sample per 15 s, as metrics-server scrapes). Per container
//! of a workload (all its pods' samples together):
//!
//! - CPU request: p90 usage + 25 % headroom, never below the peak seen; CPU limit:
//!   none is added (a CPU limit throttles without protecting anything), an existing
//!   one below the new request is raised to it;
//! - memory request: p90 + 20 %, never below the peak seen; memory limit: 1.5 × the
//!   peak, never below the request (memory is not compressible: above its limit the
//!   container is killed);
//! - CPU rounded up to 5m (at least 5m), memory up to Mi (at least 16Mi).
//!
//! Applying is a [`crate::ops::workload`] plan per workload (one patch, one rollout).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kube::api::{Api, DynamicObject};
use serde::Serialize;
use serde_json::Value;

use crate::cluster::{Cluster, names};
use crate::error::{Error, Result};
use crate::ops::workload::{Kind, Resources};

/// How often a sample is taken (metrics-server's resolution).
pub const INTERVAL: Duration = Duration::from_secs(15);

/// A quantity as a number: cores or bytes (`250m`, `123456n`, `300Mi`).
pub fn quantity(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Some(n) = text.strip_suffix('n') {
        return n.parse::<f64>().ok().map(|v| v * 1e-9);
    }
    if let Some(u) = text.strip_suffix('u') {
        return u.parse::<f64>().ok().map(|v| v * 1e-6);
    }
    kdeck_sandbox::quantity::parse(text)
}

/// Cores as kdeck writes them: millicores rounded up to 5m, at least 5m.
pub fn cpu_text(cores: f64) -> String {
    let milli = ((cores * 1000.0 / 5.0).ceil() * 5.0).max(5.0) as u64;
    format!("{milli}m")
}

/// Bytes as kdeck writes them: Mi rounded up, at least 16Mi.
pub fn memory_text(bytes: f64) -> String {
    let mi = (bytes / (1024.0 * 1024.0)).ceil().max(16.0) as u64;
    format!("{mi}Mi")
}

/// The p-th percentile (0–100) of the values, nearest rank.
fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// What a container has and what kdeck suggests, with why.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Suggestion {
    pub namespace: String,
    pub workload: String,
    pub container: String,
    pub samples: usize,
    /// Usage seen: p90 and peak (`cpu`, `memory`).
    pub usage: BTreeMap<String, BTreeMap<String, String>>,
    pub requests: BTreeMap<String, String>,
    pub limits: BTreeMap<String, String>,
    pub suggested_requests: BTreeMap<String, String>,
    pub suggested_limits: BTreeMap<String, String>,
    pub reason: String,
    /// Whether the suggestion differs from what it has.
    pub changes: bool,
}

/// The suggestion for one container from its samples (cores and bytes).
pub fn suggest(resources: &Value, cpu: &[f64], memory: &[f64]) -> (BTreeMap<String, String>, BTreeMap<String, String>, String) {
    let (cpu_p90, cpu_peak) = (percentile(cpu, 90.0), cpu.iter().copied().fold(0.0, f64::max));
    let (mem_p90, mem_peak) = (percentile(memory, 90.0), memory.iter().copied().fold(0.0, f64::max));
    let cpu_request = (cpu_p90 * 1.25).max(cpu_peak);
    let mem_request = (mem_p90 * 1.2).max(mem_peak);
    let mem_limit = (mem_peak * 1.5).max(mem_request);
    let requests = BTreeMap::from([("cpu".to_string(), cpu_text(cpu_request)), ("memory".to_string(), memory_text(mem_request))]);
    let mut limits = BTreeMap::from([("memory".to_string(), memory_text(mem_limit))]);
    let cpu_limit_now = resources["limits"]["cpu"].as_str().and_then(quantity);
    let cpu_policy = match cpu_limit_now {
        Some(limit) if limit < quantity(&requests["cpu"]).unwrap_or(0.0) => {
            limits.insert("cpu".into(), requests["cpu"].clone());
            "its CPU limit, below the new request, is raised to it"
        }
        Some(_) => "its CPU limit is kept",
        None => "no CPU limit is added (it would throttle, not protect)",
    };
    let reason = format!(
        "{} samples: CPU p90 {} peak {}, memory p90 {} peak {}; requests at p90 with headroom, never below the peak; memory limit 1.5 × peak; {cpu_policy}",
        cpu.len(),
        cpu_text(cpu_p90),
        cpu_text(cpu_peak),
        memory_text(mem_p90),
        memory_text(mem_peak)
    );
    (requests, limits, reason)
}

/// A workload to size: its kind, name, namespace, the object.
pub struct Workload {
    pub kind: Kind,
    pub namespace: String,
    pub object: DynamicObject,
}

/// The workloads named by `targets` (deploy/NAME, sts/NAME, ds/NAME), or every
/// Deployment, StatefulSet and DaemonSet of the scope.
pub async fn workloads(cluster: &Cluster, namespace: Option<&str>, targets: &[String]) -> Result<Vec<Workload>> {
    let mut out = Vec::new();
    if targets.is_empty() {
        for kind in [Kind::Deployment, Kind::StatefulSet, Kind::DaemonSet] {
            let api: Api<DynamicObject> = match namespace {
                Some(ns) => Api::namespaced_with(cluster.client.clone(), ns, &kind.resource()),
                None => Api::all_with(cluster.client.clone(), &kind.resource()),
            };
            let list = api.list(&Default::default()).await.map_err(|e| cluster.error(&format!("listing {}s", kind.name()), e))?;
            for object in list.items {
                let namespace = object.metadata.namespace.clone().unwrap_or_default();
                out.push(Workload { kind, namespace, object });
            }
        }
        return Ok(out);
    }
    let Some(namespace) = namespace else {
        return Err(Error::usage("targets are looked for in one namespace; -A does not apply with them").hint("name the namespace with -n"));
    };
    for target in targets {
        let (kind, name) = crate::ai::tools::args::workload(target)?;
        let api: Api<DynamicObject> = Api::namespaced_with(cluster.client.clone(), namespace, &kind.resource());
        let Some(object) = api.get_opt(&name).await.map_err(|e| cluster.error(&format!("reading {target}"), e))? else {
            let hint = crate::cluster::existing_names(&api, &format!("{}s", kind.name()), &format!("in namespace {namespace}")).await;
            return Err(Error::not_found(format!("{}/{name} not found in namespace {namespace}", kind.short())).hint(hint));
        };
        out.push(Workload { kind, namespace: namespace.to_string(), object });
    }
    Ok(out)
}

/// One read of the pods' metrics of the namespaces: (namespace, pod) → container → (cores, bytes).
/// None when the cluster does not serve metrics.k8s.io.
pub type Sample = BTreeMap<(String, String), BTreeMap<String, (f64, f64)>>;

pub async fn sample(cluster: &Cluster, namespaces: &BTreeSet<String>) -> Result<Option<Sample>> {
    let mut out = Sample::new();
    for ns in namespaces {
        match read(cluster, Some(ns)).await? {
            Some(sample) => out.extend(sample),
            None => return Ok(None),
        }
    }
    Ok(Some(out))
}

/// One read of the pods' metrics of a namespace, or of every namespace (None) in one
/// request. None when the cluster does not serve metrics.k8s.io.
pub async fn read(cluster: &Cluster, namespace: Option<&str>) -> Result<Option<Sample>> {
    let path = match namespace {
        Some(ns) => format!("/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods"),
        None => "/apis/metrics.k8s.io/v1beta1/pods".to_string(),
    };
    let request = http::Request::get(&path).body(Vec::new()).map_err(|e| Error::failure(e.to_string()))?;
    let text = match cluster.client.request_text(request).await {
        Ok(text) => text,
        Err(kube::Error::Api(status)) if status.code == 404 || status.code == 503 => return Ok(None),
        Err(e) => return Err(cluster.error("reading metrics.k8s.io", e)),
    };
    let list: Value = serde_json::from_str(&text).map_err(|e| Error::failure(format!("metrics.k8s.io answered something that is not JSON: {e}")))?;
    let mut out = Sample::new();
    for item in list["items"].as_array().into_iter().flatten() {
        let ns = item["metadata"]["namespace"].as_str().or(namespace).unwrap_or_default().to_string();
        let pod = item["metadata"]["name"].as_str().unwrap_or_default().to_string();
        let containers = item["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                let cpu = c["usage"]["cpu"].as_str().and_then(quantity).unwrap_or(0.0);
                let memory = c["usage"]["memory"].as_str().and_then(quantity).unwrap_or(0.0);
                (c["name"].as_str().unwrap_or_default().to_string(), (cpu, memory))
            })
            .collect();
        out.insert((ns, pod), containers);
    }
    Ok(Some(out))
}

/// The suggestions for the workloads from the samples: each container's values
/// across the pods its workload selects.
pub async fn suggestions(cluster: &Cluster, workloads: &[Workload], samples: &[Sample]) -> Result<Vec<Suggestion>> {
    let mut out = Vec::new();
    for w in workloads {
        let selector = crate::cluster::target::selector_string(&w.object.data["spec"]["selector"]);
        let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(cluster.client.clone(), &w.namespace);
        let names: BTreeSet<String> = pods
            .list(&kube::api::ListParams::default().labels(&selector))
            .await
            .map_err(|e| cluster.error("listing pods", e))?
            .items
            .into_iter()
            .filter_map(|p| p.metadata.name)
            .collect();
        let name = w.object.metadata.name.clone().unwrap_or_default();
        for container in w.object.data["spec"]["template"]["spec"]["containers"].as_array().into_iter().flatten() {
            let cname = container["name"].as_str().unwrap_or_default().to_string();
            let (mut cpu, mut memory) = (Vec::new(), Vec::new());
            for sample in samples {
                for ((ns, pod), containers) in sample {
                    if *ns == w.namespace
                        && names.contains(pod)
                        && let Some((c, m)) = containers.get(&cname)
                    {
                        cpu.push(*c);
                        memory.push(*m);
                    }
                }
            }
            let resources = &container["resources"];
            let map = |section: &str| -> BTreeMap<String, String> {
                resources[section].as_object().into_iter().flatten().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect()
            };
            let (requests, limits) = (map("requests"), map("limits"));
            let workload = format!("{}/{name}", w.kind.short());
            if cpu.is_empty() {
                out.push(Suggestion {
                    namespace: w.namespace.clone(),
                    workload,
                    container: cname,
                    samples: 0,
                    usage: BTreeMap::new(),
                    suggested_requests: requests.clone(),
                    suggested_limits: limits.clone(),
                    requests,
                    limits,
                    reason: "no usage seen: none of its pods ran during the window; left as it is".into(),
                    changes: false,
                });
                continue;
            }
            let (suggested_requests, suggested_limits, reason) = suggest(resources, &cpu, &memory);
            let usage = BTreeMap::from([
                (
                    "cpu".to_string(),
                    BTreeMap::from([
                        ("p90".to_string(), cpu_text(percentile(&cpu, 90.0))),
                        ("peak".to_string(), cpu_text(cpu.iter().copied().fold(0.0, f64::max))),
                    ]),
                ),
                (
                    "memory".to_string(),
                    BTreeMap::from([
                        ("p90".to_string(), memory_text(percentile(&memory, 90.0))),
                        ("peak".to_string(), memory_text(memory.iter().copied().fold(0.0, f64::max))),
                    ]),
                ),
            ]);
            let same =
                |now: &BTreeMap<String, String>, new: &BTreeMap<String, String>| new.iter().all(|(k, v)| now.get(k).and_then(|q| quantity(q)) == quantity(v));
            let changes = !(same(&requests, &suggested_requests) && same(&limits, &suggested_limits));
            out.push(Suggestion {
                namespace: w.namespace.clone(),
                workload,
                container: cname,
                samples: cpu.len(),
                usage,
                requests,
                limits,
                suggested_requests,
                suggested_limits,
                reason,
                changes,
            });
        }
    }
    Ok(out)
}

/// The change per workload: its containers' suggestions that differ.
pub fn changes(suggestions: &[Suggestion]) -> BTreeMap<(String, String), Vec<Resources>> {
    let mut out: BTreeMap<(String, String), Vec<Resources>> = BTreeMap::new();
    for s in suggestions.iter().filter(|s| s.changes) {
        out.entry((s.namespace.clone(), s.workload.clone())).or_default().push(Resources {
            container: s.container.clone(),
            requests: s.suggested_requests.clone(),
            limits: s.suggested_limits.clone(),
        });
    }
    out
}

/// `--window`, checked: at least 1s.
pub fn window(text: &str) -> Result<Duration> {
    names::parse_timeout("--window", text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities_from_metrics_and_specs() {
        assert_eq!(quantity("250m"), Some(0.25));
        assert!((quantity("123456789n").unwrap() - 0.123456789).abs() < 1e-12);
        assert_eq!(quantity("300Mi"), Some(300.0 * 1024.0 * 1024.0));
        assert_eq!(cpu_text(0.1211), "125m");
        assert_eq!(cpu_text(0.0), "5m");
        assert_eq!(memory_text(300.5 * 1024.0 * 1024.0), "301Mi");
    }

    #[test]
    fn suggestions_follow_p90_with_headroom_and_never_go_below_the_peak() {
        let mib = 1024.0 * 1024.0;
        let cpu = [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.4];
        let memory = [200.0 * mib; 10];
        let (requests, limits, reason) = suggest(&json!({"requests": {"cpu": "1", "memory": "1Gi"}}), &cpu, &memory);
        assert_eq!(requests["cpu"], "400m", "the peak (400m) is above p90 + 25 % (125m): never below what it needed");
        assert_eq!(requests["memory"], "240Mi");
        assert_eq!(limits["memory"], "300Mi");
        assert!(!limits.contains_key("cpu") && reason.contains("no CPU limit is added"), "{reason}");
        let (_, limits, reason) = suggest(&json!({"limits": {"cpu": "100m"}}), &[0.3], &[100.0 * mib]);
        assert_eq!(limits["cpu"], "375m", "raised to the new request (300m + 25 %)");
        assert!(reason.contains("raised"), "{reason}");
    }
}
