//! Services (ready endpoints) and Ingresses (an address, and backends that exist).

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use super::{Snapshot, Verdict, condition_is, name_of, namespace_of, pods, selector};

pub(super) fn service(obj: &Value, snapshot: &Snapshot, _now: Timestamp) -> Verdict {
    let spec = &obj["spec"];
    if spec["type"] == "ExternalName" {
        return Verdict::ready();
    }
    // Without a selector, the Service's endpoints are managed by hand.
    let Some(selected) = spec["selector"].as_object().filter(|s| !s.is_empty()) else { return Verdict::ready() };
    let (namespace, name) = (namespace_of(obj), name_of(obj));
    let ports = spec["ports"].as_array().map(Vec::as_slice).unwrap_or_default();
    if has_ready_endpoint(snapshot, namespace, name, !ports.is_empty()) {
        let no_address = spec["type"] == "LoadBalancer" && obj["status"]["loadBalancer"]["ingress"].as_array().is_none_or(Vec::is_empty);
        return if no_address { Verdict::ready_with("no external address yet") } else { Verdict::ready() };
    }
    let text = selector::map_text(selected);
    let matching: Vec<&Value> =
        snapshot.list("", "Pod", namespace).filter(|p| pods::is_live(p) && selector::map_selects(selected, &p["metadata"]["labels"])).collect();
    let ready: Vec<&Value> = matching.iter().copied().filter(|p| condition_is(p, "Ready", "True")).collect();
    if matching.is_empty() {
        return Verdict::pending(format!("no ready endpoints: selector {text} matches no pods"));
    }
    let count = |n: usize| if n == 1 { "1 pod matches".to_string() } else { format!("{n} pods match") };
    if ready.is_empty() {
        return Verdict::pending(format!("no ready endpoints: {} {text}, none ready", count(matching.len())));
    }
    // A targetPort naming a port no selected pod declares gives the Service no endpoint port.
    for port in ports {
        if let Some(target) = port["targetPort"].as_str()
            && !ready.iter().any(|p| declares_port(p, target))
        {
            return Verdict::pending(format!("no ready endpoints: targetPort {target:?} names no port of the pods {text} selects"));
        }
    }
    Verdict::pending(format!("no ready endpoints yet: {} {text}, {} ready", count(matching.len()), ready.len()))
}

/// Whether the Service has an endpoint ready to serve: an address in its Endpoints, or
/// an EndpointSlice endpoint not marked unready, with ports when the Service has any.
fn has_ready_endpoint(snapshot: &Snapshot, namespace: &str, name: &str, needs_ports: bool) -> bool {
    let non_empty = |v: &Value| v.as_array().is_some_and(|a| !a.is_empty());
    let has_ports = |v: &Value| !needs_ports || non_empty(&v["ports"]);
    let endpoints = snapshot
        .get("", "Endpoints", namespace, name)
        .is_some_and(|ep| ep["subsets"].as_array().into_iter().flatten().any(|subset| non_empty(&subset["addresses"]) && has_ports(subset)));
    endpoints
        || snapshot
            .list("discovery.k8s.io", "EndpointSlice", namespace)
            .filter(|slice| slice["metadata"]["labels"]["kubernetes.io/service-name"] == name)
            .any(|slice| has_ports(slice) && slice["endpoints"].as_array().into_iter().flatten().any(|e| e["conditions"]["ready"].as_bool() != Some(false)))
}

/// Whether a pod's containers declare a port of that name.
fn declares_port(pod: &Value, name: &str) -> bool {
    pod["spec"]["containers"].as_array().into_iter().flatten().flat_map(|c| c["ports"].as_array().into_iter().flatten()).any(|p| p["name"] == name)
}

pub(super) fn ingress(obj: &Value, snapshot: &Snapshot, _now: Timestamp) -> Verdict {
    let namespace = namespace_of(obj);
    if let Some(missing) = backends(obj).into_iter().find(|b| snapshot.get("", "Service", namespace, b).is_none()) {
        return Verdict::pending(format!("backend service {missing:?} does not exist"));
    }
    let has_address = obj["status"]["loadBalancer"]["ingress"].as_array().is_some_and(|a| !a.is_empty());
    if has_address { Verdict::ready() } else { Verdict::pending("no address yet") }
}

/// The Services an Ingress sends traffic to, each once, in the order it names them.
fn backends(ingress: &Value) -> Vec<&str> {
    let spec = &ingress["spec"];
    let paths = spec["rules"].as_array().into_iter().flatten().flat_map(|r| r["http"]["paths"].as_array().into_iter().flatten()).map(|p| &p["backend"]);
    let mut names: Vec<&str> = Vec::new();
    for backend in [&spec["defaultBackend"], &spec["backend"]].into_iter().chain(paths) {
        let name = backend["service"]["name"].as_str().or(backend["serviceName"].as_str());
        if let Some(name) = name.filter(|n| !names.contains(n)) {
            names.push(name);
        }
    }
    names
}
