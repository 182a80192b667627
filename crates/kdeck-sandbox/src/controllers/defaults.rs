//! What every namespace of a real cluster holds without anyone creating it, kept
//! as the real controllers keep it:
//!
//! - the ServiceAccount `default` (kube-controller-manager's serviceaccount
//!   controller), created as soon as the namespace is and recreated when deleted;
//! - the ConfigMap `kube-root-ca.crt` with the cluster's CA under `ca.crt` (the
//!   root-CA publisher), created, recreated, and put back when changed;
//! - in `default`, the Service `kubernetes` with its Endpoints and EndpointSlice,
//!   pointing at the API server (kube-apiserver's own reconciler).
//!
//! Nothing is created in a namespace that is being deleted.

use serde_json::{Value, json};

use crate::resources::ResourceKey;
use crate::rest::{Rest, Subresource, WriteOptions};
use crate::store::{Change, EventType};

pub const ROOT_CA: &str = "kube-root-ca.crt";
const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/// What the defaults depend on: the API server's CA and address.
#[derive(Clone, Debug, Default)]
pub struct Cluster {
    /// The CA certificate (PEM) clients verify the API server with.
    pub ca_pem: String,
    /// The API server's loopback port, the `kubernetes` Service's target.
    pub api_port: u16,
}

fn key(plural: &str) -> ResourceKey {
    ResourceKey::new("", plural)
}

fn manager() -> WriteOptions {
    WriteOptions { field_manager: Some("kube-controller-manager".into()), ..Default::default() }
}

pub fn on_change(rest: &Rest, cluster: &Cluster, change: &Change) {
    let index = &change.entry.index;
    let resource = &change.resource;
    if *resource == key("namespaces") {
        if change.kind != EventType::Deleted {
            ensure_namespace(rest, cluster, &index.name);
        }
        return;
    }
    let (ns, name) = (index.namespace.as_str(), index.name.as_str());
    match (resource.group.as_str(), resource.plural.as_str(), name) {
        ("", "serviceaccounts", "default") if change.kind == EventType::Deleted => ensure_service_account(rest, ns),
        ("", "configmaps", ROOT_CA) => ensure_root_ca(rest, cluster, ns),
        ("", "services" | "endpoints", "kubernetes") | ("discovery.k8s.io", "endpointslices", "kubernetes") if ns == "default" => {
            ensure_kubernetes_service(rest, cluster)
        }
        _ => {}
    }
}

pub fn resync(rest: &Rest, cluster: &Cluster) {
    let (all, _) = rest.store.list(&key("namespaces"), None, None, |_| true);
    for ns in all {
        ensure_namespace(rest, cluster, &ns.index.name);
    }
}

/// An existing namespace that is not being deleted.
fn active(rest: &Rest, ns: &str) -> bool {
    rest.store.get(&key("namespaces"), &(String::new(), ns.to_string())).is_some_and(|e| {
        let obj = e.value();
        obj["status"]["phase"] != "Terminating" && !obj["metadata"]["deletionTimestamp"].is_string()
    })
}

fn ensure_namespace(rest: &Rest, cluster: &Cluster, ns: &str) {
    ensure_service_account(rest, ns);
    ensure_root_ca(rest, cluster, ns);
    if ns == "default" {
        ensure_kubernetes_service(rest, cluster);
    }
}

/// Creates the `default` ServiceAccount of `ns` if it is missing (also for the
/// ServiceAccount admission, which must not refuse a pod for want of it).
pub(crate) fn ensure_service_account(rest: &Rest, ns: &str) {
    if !active(rest, ns) || rest.store.get(&key("serviceaccounts"), &(ns.to_string(), "default".into())).is_some() {
        return;
    }
    let Some(info) = rest.catalogue.find("", "v1", "serviceaccounts") else { return };
    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns}});
    let _ = rest.create(&info, Some(ns), sa, &manager());
}

fn ensure_root_ca(rest: &Rest, cluster: &Cluster, ns: &str) {
    if cluster.ca_pem.is_empty() || !active(rest, ns) {
        return;
    }
    let Some(info) = rest.catalogue.find("", "v1", "configmaps") else { return };
    let data = json!({"ca.crt": cluster.ca_pem});
    match rest.store.get(&key("configmaps"), &(ns.to_string(), ROOT_CA.into())) {
        None => {
            let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": ROOT_CA, "namespace": ns, "annotations": {"kubernetes.io/description": DESCRIPTION}}, "data": data});
            let _ = rest.create(&info, Some(ns), cm, &manager());
        }
        Some(entry) => {
            let current = entry.value();
            let described = current["metadata"]["annotations"]["kubernetes.io/description"].as_str().is_some_and(|d| !d.is_empty());
            if current["data"] == data && described || current["metadata"]["deletionTimestamp"].is_string() {
                return;
            }
            let mut next = current;
            next["data"] = data;
            next["metadata"]["annotations"]["kubernetes.io/description"] = json!(DESCRIPTION);
            let _ = rest.update(&info, Some(ns), ROOT_CA, next, Subresource::Main, &manager());
        }
    }
}

/// The Service `kubernetes` in `default`, its Endpoints and its EndpointSlice,
/// as kube-apiserver writes them, reaching the sandbox's API port.
fn ensure_kubernetes_service(rest: &Rest, cluster: &Cluster) {
    if cluster.api_port == 0 || !active(rest, "default") {
        return;
    }
    let port = cluster.api_port;
    // The first address of the service range, which the allocator never hands out.
    let ip = crate::tls::KUBERNETES_IP.to_string();
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": ip, "clusterIPs": [ip], "sessionAffinity": "None",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": port}]},
    });
    ensure("services", "v1", service, &["spec"], rest);
    let endpoints = json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}],
    });
    ensure("endpoints", "v1", endpoints, &["subsets"], rest);
    let slice = json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": true}}],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
    });
    ensure("endpointslices", "v1", slice, &["endpoints", "ports"], rest);
}

/// Creates `want`, or puts back the `fields` of the existing object that differ
/// (for a Service: the parts of its spec set here, leaving what defaulting added).
fn ensure(plural: &str, version: &str, want: Value, fields: &[&str], rest: &Rest) {
    let group = want["apiVersion"].as_str().and_then(|v| v.split_once('/')).map(|(g, _)| g).unwrap_or_default().to_string();
    let Some(info) = rest.catalogue.find(&group, version, plural) else { return };
    let Ok(current) = rest.get(&info, Some("default"), "kubernetes") else {
        let _ = rest.create(&info, Some("default"), want, &WriteOptions::default());
        return;
    };
    if current["metadata"]["deletionTimestamp"].is_string() {
        return;
    }
    let mut next = current.clone();
    for field in fields {
        match (&want[*field], &mut next[*field]) {
            (Value::Object(wanted), Value::Object(have)) => {
                for (k, v) in wanted {
                    have.insert(k.clone(), v.clone());
                }
            }
            (wanted, have) => *have = wanted.clone(),
        }
    }
    if next != current {
        let _ = rest.update(&info, Some("default"), "kubernetes", next, Subresource::Main, &WriteOptions::default());
    }
}
