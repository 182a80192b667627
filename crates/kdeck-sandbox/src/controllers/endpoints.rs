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

/// The Service's ports with targetPort resolved for `pod` (a named port is looked up
/// in its containers).
fn ports(service: &Value, pod: Option<&Value>) -> Vec<Value> {
    service["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let port = match &p["targetPort"] {
                Value::String(named) => pod
                    .and_then(|pod| {
                        pod["spec"]["containers"]
                            .as_array()?
                            .iter()
                            .flat_map(|c| c["ports"].as_array().into_iter().flatten())
                            .find(|cp| cp["name"] == named.as_str())
                            .map(|cp| cp["containerPort"].clone())
                    })
                    .unwrap_or(Value::Null),
                Value::Null => p["port"].clone(),
                other => other.clone(),
            };
            let mut out = json!({"port": port, "protocol": p["protocol"].as_str().unwrap_or("TCP")});
            if let Some(n) = p["name"].as_str() {
                out["name"] = json!(n);
            }
            out
        })
        .collect()
}

fn write_endpoints(rest: &Rest, info: &ResourceInfo, service: &Value, pods: &[Value]) {
    let address = |p: &Value| json!({"ip": p["status"]["podIP"], "nodeName": p["spec"]["nodeName"], "targetRef": target_ref(p)});
    let ready: Vec<Value> = pods.iter().filter(|p| objects::is_pod_ready(p)).map(address).collect();
    let not_ready: Vec<Value> = pods.iter().filter(|p| !objects::is_pod_ready(p)).map(address).collect();
    let mut subset = json!({"ports": ports(service, pods.first())});
    if !ready.is_empty() {
        subset["addresses"] = json!(ready);
    }
    if !not_ready.is_empty() {
        subset["notReadyAddresses"] = json!(not_ready);
    }
    // No pods: no subsets field at all, as the real controller writes it (omitempty).
    let subsets = if pods.is_empty() { Value::Null } else { json!([subset]) };
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

fn write_slice(rest: &Rest, info: &ResourceInfo, service: &Value, pods: &[Value]) {
    let (ns, svc) = (namespace(service), name(service));
    // One slice per Service, named stably from its uid.
    let uid = service["metadata"]["uid"].as_str().unwrap_or_default();
    let slice_name = format!("{svc}-{:05x}", super::events::fnv(uid) & 0xfffff);
    let endpoints: Vec<Value> = pods
        .iter()
        .map(|p| {
            let ready = objects::is_pod_ready(p);
            json!({"addresses": [p["status"]["podIP"]], "conditions": {"ready": ready, "serving": ready, "terminating": false},
                "nodeName": p["spec"]["nodeName"], "targetRef": target_ref(p)})
        })
        .collect();
    let ports = ports(service, pods.first());
    match rest.get(info, Some(ns), &slice_name) {
        Ok(current) => {
            if current["endpoints"] != json!(endpoints) || current["ports"] != json!(ports) {
                let mut next = current.clone();
                next["endpoints"] = json!(endpoints);
                next["ports"] = json!(ports);
                let _ = rest.update(info, Some(ns), &slice_name, next, Subresource::Main, &WriteOptions::default());
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
