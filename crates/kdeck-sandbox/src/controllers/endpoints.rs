//! Endpoints and EndpointSlices: for each Service with a selector, the addresses of
//! the pods it selects — ready ones as `addresses`, the rest as
//! `notReadyAddresses` — with the Service's ports resolved against the pods'
//! named container ports.

use std::time::Duration;

use serde_json::{Value, json};

use super::objects::{self, name, namespace};
use super::runtime::{Controller, ObjectRef};
use crate::resources::{ResourceInfo, ResourceKey};
use crate::rest::selector::LabelSelector;
use crate::rest::{DeleteOptions, Rest, Subresource, WriteOptions};
use crate::store::Change;
use crate::time;

const MANAGED_BY: &str = "endpointslice-controller.k8s.io";

pub struct Endpoints;

fn services() -> ResourceKey {
    ResourceKey::new("", "services")
}

impl Controller for Endpoints {
    fn keys_for(&self, rest: &Rest, change: &Change) -> Vec<ObjectRef> {
        let index = &change.entry.index;
        if change.resource == services() {
            return vec![ObjectRef::new(services(), &index.namespace, &index.name)];
        }
        if change.resource == ResourceKey::new("", "pods") {
            // Any Service in the namespace may select the pod (before or after the change).
            let (in_ns, _) = rest.store.list(&services(), Some(&index.namespace), None, |_| true);
            return in_ns.iter().map(|e| ObjectRef::new(services(), &e.index.namespace, &e.index.name)).collect();
        }
        Vec::new()
    }

    fn all_keys(&self, rest: &Rest) -> Vec<ObjectRef> {
        rest.store.list(&services(), None, None, |_| true).0.iter().map(|e| ObjectRef::new(services(), &e.index.namespace, &e.index.name)).collect()
    }

    fn reconcile(&self, rest: &Rest, key: &ObjectRef) -> Option<Duration> {
        let endpoints_info = rest.catalogue.find("", "v1", "endpoints")?;
        let slices_info = rest.catalogue.find("discovery.k8s.io", "v1", "endpointslices")?;
        let Ok(service) = rest.get(&rest.catalogue.find("", "v1", "services")?, Some(&key.namespace), &key.name) else {
            // The Service is gone: so are the Endpoints this controller made for it.
            if rest
                .get(&endpoints_info, Some(&key.namespace), &key.name)
                .is_ok_and(|e| e["metadata"]["labels"]["endpoints.kubernetes.io/managed-by"] == "endpoint-controller")
            {
                let _ = rest.delete(&endpoints_info, Some(&key.namespace), &key.name, &DeleteOptions::default());
            }
            return None;
        };
        // A Service without a selector has Endpoints its owner manages.
        let selector = service["spec"]["selector"].as_object().filter(|s| !s.is_empty())?;
        let selector = LabelSelector::from_object(&json!({"matchLabels": selector})).ok()?;
        let (pods, _) = rest.store.list(&ResourceKey::new("", "pods"), Some(&key.namespace), None, |e| selector.matches(&e.index.labels));
        let pods: Vec<Value> = pods.iter().map(|e| e.value()).filter(|p| p["status"]["podIP"].is_string() && !objects::is_pod_terminal(p)).collect();
        write_endpoints(rest, &endpoints_info, &service, &pods);
        write_slice(rest, &slices_info, &service, &pods);
        None
    }
}

fn target_ref(pod: &Value) -> Value {
    json!({"kind": "Pod", "namespace": namespace(pod), "name": name(pod), "uid": pod["metadata"]["uid"]})
}

/// The port `service_port` reaches on `pod` (`podutil.FindPort`): a number as it is;
/// a name looked up among the ports of the pod's containers (and of its sidecars,
/// init containers that keep running) with the Service port's protocol. `None`
/// when no container exposes it: the pod is no endpoint for that port.
fn find_port(service_port: &Value, pod: &Value) -> Option<Value> {
    let protocol = service_port["protocol"].as_str().unwrap_or("TCP");
    match &service_port["targetPort"] {
        Value::String(named) => {
            let sidecars = pod["spec"]["initContainers"].as_array().into_iter().flatten().filter(|c| c["restartPolicy"] == "Always");
            let containers = pod["spec"]["containers"].as_array().into_iter().flatten().chain(sidecars);
            containers
                .flat_map(|c| c["ports"].as_array().into_iter().flatten())
                .find(|cp| cp["name"] == named.as_str() && cp["protocol"].as_str().unwrap_or("TCP") == protocol)
                .map(|cp| cp["containerPort"].clone())
        }
        Value::Null => Some(service_port["port"].clone()),
        other => Some(other.clone()),
    }
}

/// The endpoint ports `pod` serves: one per Service port it has a port for.
fn pod_ports(service: &Value, pod: &Value) -> Vec<Value> {
    service["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let port = find_port(p, pod)?;
            let mut out = json!({"port": port, "protocol": p["protocol"].as_str().unwrap_or("TCP")});
            if let Some(n) = p["name"].as_str() {
                out["name"] = json!(n);
            }
            Some(out)
        })
        .collect()
}

/// The pods grouped by the ports they serve, in the order each set is first met.
fn by_ports<'a>(service: &Value, pods: &'a [Value]) -> Vec<(Vec<Value>, Vec<&'a Value>)> {
    let mut groups: Vec<(Vec<Value>, Vec<&Value>)> = Vec::new();
    for pod in pods {
        let ports = pod_ports(service, pod);
        match groups.iter_mut().find(|(p, _)| *p == ports) {
            Some((_, members)) => members.push(pod),
            None => groups.push((ports, vec![pod])),
        }
    }
    groups
}

/// The Endpoints' subsets as the endpoints controller writes them: a pod is an
/// address under each Service port it has a port for, and is left out when it has
/// none (a named targetPort no container exposes). Addresses with the same ports
/// share a subset (`RepackSubsets`), sorted by IP. A Service without ports lists
/// its pods only when headless.
fn subsets(service: &Value, pods: &[Value]) -> Vec<Value> {
    let has_ports = service["spec"]["ports"].as_array().is_some_and(|p| !p.is_empty());
    let headless = service["spec"]["clusterIP"] == "None";
    let address = |p: &Value| json!({"ip": p["status"]["podIP"], "nodeName": p["spec"]["nodeName"], "targetRef": target_ref(p)});
    let mut out = Vec::new();
    for (ports, members) in by_ports(service, pods) {
        if has_ports && ports.is_empty() || !has_ports && !headless {
            continue;
        }
        let list = |ready: bool| {
            let mut list: Vec<Value> = members.iter().filter(|p| objects::is_pod_ready(p) == ready).map(|p| address(p)).collect();
            list.sort_by(|a, b| a["ip"].as_str().cmp(&b["ip"].as_str()));
            list
        };
        let (ready, not_ready) = (list(true), list(false));
        let mut subset = json!({});
        if !ready.is_empty() {
            subset["addresses"] = json!(ready);
        }
        if !not_ready.is_empty() {
            subset["notReadyAddresses"] = json!(not_ready);
        }
        if !ports.is_empty() {
            subset["ports"] = json!(ports);
        }
        out.push(subset);
    }
    out
}

fn write_endpoints(rest: &Rest, info: &ResourceInfo, service: &Value, pods: &[Value]) {
    let subsets = subsets(service, pods);
    // No endpoints: no subsets field at all, as the real controller writes it (omitempty).
    let subsets = if subsets.is_empty() { Value::Null } else { json!(subsets) };
    let (ns, svc) = (namespace(service), name(service));
    match rest.get(info, Some(ns), svc) {
        Ok(current) => {
            if current["subsets"] != subsets {
                let mut next = current.clone();
                match next.as_object_mut() {
                    Some(fields) if subsets.is_null() => drop(fields.remove("subsets")),
                    _ => next["subsets"] = subsets,
                }
                next["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"] = json!(time::now());
                let _ = rest.update(info, Some(ns), svc, next, Subresource::Main, &WriteOptions::default());
            }
        }
        Err(_) => {
            let endpoints = json!({
                "apiVersion": "v1", "kind": "Endpoints",
                "metadata": {"name": svc, "namespace": ns, "labels": {"endpoints.kubernetes.io/managed-by": "endpoint-controller"},
                    "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": time::now()}},
            });
            let mut endpoints = endpoints;
            if !subsets.is_null() {
                endpoints["subsets"] = subsets;
            }
            let _ = rest.create(info, Some(ns), endpoints, &WriteOptions::default());
        }
    }
}

/// EndpointSlices as the EndpointSlice controller writes them: one per set of ports
/// the pods serve (pods without any of the Service's ports in a slice without
/// ports), or one empty slice when no pod is selected. Slices of the Service that
/// are no longer wanted are removed.
fn write_slice(rest: &Rest, info: &ResourceInfo, service: &Value, pods: &[Value]) {
    let (ns, svc) = (namespace(service), name(service));
    let uid = service["metadata"]["uid"].as_str().unwrap_or_default();
    let mut groups = by_ports(service, pods);
    if groups.is_empty() {
        groups.push((Vec::new(), Vec::new()));
    }
    let mut wanted = Vec::new();
    for (i, (ports, members)) in groups.iter().enumerate() {
        // Named stably from the Service's uid (and, past the first, the ports).
        let seed = if i == 0 { uid.to_string() } else { format!("{uid}/{}", Value::Array(ports.clone())) };
        let slice_name = format!("{svc}-{:05x}", super::events::fnv(&seed) & 0xfffff);
        let endpoints: Vec<Value> = members
            .iter()
            .map(|p| {
                let ready = objects::is_pod_ready(p);
                json!({"addresses": [p["status"]["podIP"]], "conditions": {"ready": ready, "serving": ready, "terminating": false},
                    "nodeName": p["spec"]["nodeName"], "targetRef": target_ref(p)})
            })
            .collect();
        let ports = if ports.is_empty() { Value::Null } else { json!(ports) };
        write_one_slice(rest, info, service, &slice_name, json!(endpoints), ports);
        wanted.push(slice_name);
    }
    let selector = LabelSelector::parse(&format!("kubernetes.io/service-name={svc},endpointslice.kubernetes.io/managed-by={MANAGED_BY}")).ok();
    let (existing, _) = rest.store.list(&info.key(), Some(ns), None, |e| selector.as_ref().is_some_and(|s| s.matches(&e.index.labels)));
    for stale in existing.iter().filter(|e| !wanted.contains(&e.index.name)) {
        let _ = rest.delete(info, Some(ns), &stale.index.name, &DeleteOptions::default());
    }
}

fn write_one_slice(rest: &Rest, info: &ResourceInfo, service: &Value, slice_name: &str, endpoints: Value, ports: Value) {
    let (ns, svc) = (namespace(service), name(service));
    match rest.get(info, Some(ns), slice_name) {
        Ok(current) => {
            if current["endpoints"] != endpoints || current["ports"] != ports {
                let mut next = current.clone();
                next["endpoints"] = endpoints;
                next["ports"] = ports;
                let _ = rest.update(info, Some(ns), slice_name, next, Subresource::Main, &WriteOptions::default());
            }
        }
        Err(_) => {
            let slice = json!({
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": slice_name, "namespace": ns,
                    "labels": {"kubernetes.io/service-name": svc, "endpointslice.kubernetes.io/managed-by": MANAGED_BY},
                    "ownerReferences": [objects::controller_reference(service)]},
                "addressType": "IPv4", "endpoints": endpoints, "ports": ports,
            });
            let _ = rest.create(info, Some(ns), slice, &WriteOptions::default());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, ip: &str, ports: Value) -> Value {
        json!({"metadata": {"name": name, "namespace": "d", "uid": name}, "spec": {"nodeName": "n", "containers": [{"name": "c", "ports": ports}]},
            "status": {"podIP": ip, "phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
    }

    #[test]
    fn a_pod_without_the_named_port_is_left_out() {
        let service = json!({"spec": {"ports": [{"name": "web", "port": 80, "targetPort": "http", "protocol": "TCP"}]}});
        let pods =
            [pod("a", "10.0.0.2", json!([{"name": "http", "containerPort": 8080}])), pod("b", "10.0.0.1", json!([{"name": "other", "containerPort": 9}]))];
        let out = subsets(&service, &pods);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0]["ports"], json!([{"name": "web", "port": 8080, "protocol": "TCP"}]));
        assert_eq!(out[0]["addresses"].as_array().unwrap().len(), 1);
        assert_eq!(out[0]["addresses"][0]["ip"], "10.0.0.2");
        // Nobody exposes it: no subsets at all.
        assert!(subsets(&service, &pods[1..]).is_empty());
    }

    #[test]
    fn pods_serving_different_port_numbers_get_their_own_subsets() {
        let service = json!({"spec": {"ports": [{"port": 80, "targetPort": "http"}]}});
        let pods = [
            pod("a", "10.0.0.3", json!([{"name": "http", "containerPort": 8080}])),
            pod("b", "10.0.0.1", json!([{"name": "http", "containerPort": 9090}])),
            pod("c", "10.0.0.2", json!([{"name": "http", "containerPort": 8080}])),
        ];
        let out = subsets(&service, &pods);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0]["ports"][0]["port"], 8080);
        let ips: Vec<&str> = out[0]["addresses"].as_array().unwrap().iter().map(|a| a["ip"].as_str().unwrap()).collect();
        assert_eq!(ips, ["10.0.0.2", "10.0.0.3"], "sorted by IP");
        assert_eq!(out[1]["ports"][0]["port"], 9090);
    }
}
