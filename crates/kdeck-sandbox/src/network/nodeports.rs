//! NodePorts, the API server's part: a `NodePort` Service, and a `LoadBalancer`
//! one unless `allocateLoadBalancerNodePorts: false`, gets a port in
//! 30000–32767 for each of its ports, random and unique in the cluster, kept
//! across updates (a `kubectl apply` that leaves `nodePort` out keeps the one it
//! has); a requested one must be in the range and free. Changing the type to
//! `ClusterIP` drops them. `externalTrafficPolicy` defaults to `Cluster`.
//!
//! Called by the REST layer on create and update; the listeners on those ports
//! are [`super::exposed`]'s.

use std::collections::HashSet;
use std::ops::RangeInclusive;

use serde_json::{Value, json};

use crate::resources::ResourceKey;
use crate::rest::error::Cause;
use crate::store::Store;

pub const RANGE: RangeInclusive<u16> = 30000..=32767;

/// Whether a Service of this spec has node ports.
pub fn wanted(spec: &Value) -> bool {
    match spec["type"].as_str() {
        Some("NodePort") => true,
        Some("LoadBalancer") => spec["allocateLoadBalancerNodePorts"] != false,
        _ => false,
    }
}

fn node_port(port: &Value) -> Option<u16> {
    port["nodePort"].as_u64().filter(|n| *n > 0).and_then(|n| u16::try_from(n).ok())
}

fn invalid(field: String, value: impl std::fmt::Display, detail: &str) -> Cause {
    Cause { field, reason: "FieldValueInvalid", message: format!("Invalid value: {value}: {detail}") }
}

/// Node ports of every other Service in the cluster.
fn used_elsewhere(store: &Store, service: &Value) -> HashSet<u16> {
    let (ns, name) = (service["metadata"]["namespace"].as_str().unwrap_or_default(), service["metadata"]["name"].as_str().unwrap_or_default());
    let (services, _) = store.list(&ResourceKey::new("", "services"), None, None, |e| !(e.index.namespace == ns && e.index.name == name));
    services.iter().flat_map(|e| e.value()["spec"]["ports"].as_array().cloned().unwrap_or_default()).filter_map(|p| node_port(&p)).collect()
}

/// The node port `old` gave the same port (by name, else number and protocol).
fn previous(old: Option<&Value>, port: &Value) -> Option<u16> {
    let old = old.filter(|o| wanted(&o["spec"]))?;
    let same = |p: &&Value| match port["name"].as_str().filter(|n| !n.is_empty()) {
        Some(name) => p["name"] == name,
        None => p["port"] == port["port"] && p["protocol"] == port["protocol"],
    };
    old["spec"]["ports"].as_array()?.iter().find(same).and_then(node_port)
}

/// Assigns and checks the node ports of `service` (being created, or replacing
/// `old`); the causes of an Invalid answer otherwise.
pub fn assign(store: &Store, service: &mut Value, old: Option<&Value>) -> Vec<Cause> {
    let spec = &mut service["spec"];
    if !spec.is_object() {
        return Vec::new();
    }
    let kind = spec["type"].as_str().unwrap_or("ClusterIP").to_string();
    if matches!(kind.as_str(), "NodePort" | "LoadBalancer") && spec["externalTrafficPolicy"].is_null() {
        spec["externalTrafficPolicy"] = json!("Cluster");
    }
    if kind == "LoadBalancer" && spec["allocateLoadBalancerNodePorts"].is_null() {
        spec["allocateLoadBalancerNodePorts"] = json!(true);
    }
    let mut causes = Vec::new();
    let Some(ports) = spec["ports"].as_array().cloned() else { return causes };
    if !wanted(spec) {
        for (i, port) in ports.iter().enumerate() {
            let Some(given) = node_port(port) else { continue };
            if previous(old, port) == Some(given) {
                // Left over from the type it had: dropped with it.
                if let Some(p) = spec["ports"][i].as_object_mut() {
                    p.remove("nodePort");
                }
            } else if kind == "ClusterIP" {
                causes.push(Cause {
                    field: format!("spec.ports[{i}].nodePort"),
                    reason: "FieldValueForbidden",
                    message: "Forbidden: may not be used when `type` is 'ClusterIP'".into(),
                });
            }
        }
        return causes;
    }
    let used = used_elsewhere(store, service);
    let mut taken: HashSet<u16> = HashSet::new();
    let mut missing = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let field = format!("spec.ports[{i}].nodePort");
        match port["nodePort"].as_i64().filter(|n| *n != 0) {
            Some(n) => {
                let Some(n) = u16::try_from(n).ok().filter(|n| RANGE.contains(n)) else {
                    causes.push(invalid(
                        field,
                        n,
                        &format!("provided port is not in the valid range. The range of valid ports is {}-{}", RANGE.start(), RANGE.end()),
                    ));
                    continue;
                };
                if used.contains(&n) {
                    causes.push(invalid(field, n, "provided port is already allocated"));
                } else if !taken.insert(n) {
                    causes.push(Cause { field, reason: "FieldValueDuplicate", message: format!("Duplicate value: {n}") });
                }
            }
            None => missing.push(i),
        }
    }
    for i in missing {
        let port = &ports[i];
        let chosen = previous(old, port).filter(|n| !used.contains(n) && !taken.contains(n)).or_else(|| free(&used, &taken));
        match chosen {
            Some(n) => {
                taken.insert(n);
                service["spec"]["ports"][i]["nodePort"] = json!(n);
            }
            None => causes.push(Cause { field: format!("spec.ports[{i}].nodePort"), reason: "InternalError", message: "Internal error: range is full".into() }),
        }
    }
    causes
}

/// A random free port of the range.
fn free(used: &HashSet<u16>, taken: &HashSet<u16>) -> Option<u16> {
    let size = u32::from(RANGE.end() - RANGE.start()) + 1;
    let start = rand::random::<u32>() % size;
    (0..size).map(|k| RANGE.start() + u16::try_from((start + k) % size).unwrap_or(0)).find(|n| !used.contains(n) && !taken.contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(kind: &str, ports: Value) -> Value {
        json!({"metadata": {"name": "web", "namespace": "default"}, "spec": {"type": kind, "ports": ports}})
    }

    #[test]
    fn node_ports_are_given_kept_checked_and_dropped() {
        let store = Store::new();
        let mut svc =
            service("NodePort", json!([{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "admin", "port": 81, "protocol": "TCP", "nodePort": 30081}]));
        assert!(assign(&store, &mut svc, None).is_empty());
        let given = svc["spec"]["ports"][0]["nodePort"].as_u64().unwrap();
        assert!(RANGE.contains(&(given as u16)));
        assert_eq!(svc["spec"]["ports"][1]["nodePort"], 30081);
        assert_eq!(svc["spec"]["externalTrafficPolicy"], "Cluster");
        // An update that leaves nodePort out keeps it.
        let mut applied = service("NodePort", json!([{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "admin", "port": 81, "protocol": "TCP"}]));
        assert!(assign(&store, &mut applied, Some(&svc)).is_empty());
        assert_eq!(applied["spec"]["ports"][0]["nodePort"].as_u64(), Some(given));
        assert_eq!(applied["spec"]["ports"][1]["nodePort"], 30081);
        // Back to ClusterIP: dropped.
        let mut cluster_ip = applied.clone();
        cluster_ip["spec"]["type"] = json!("ClusterIP");
        assert!(assign(&store, &mut cluster_ip, Some(&applied)).is_empty());
        assert!(cluster_ip["spec"]["ports"][0]["nodePort"].is_null());
        let mut forbidden = service("ClusterIP", json!([{"port": 80, "nodePort": 30080}]));
        assert_eq!(assign(&store, &mut forbidden, None)[0].reason, "FieldValueForbidden");
    }

    #[test]
    fn out_of_range_duplicate_and_taken_ports_are_refused() {
        let store = Store::new();
        let mut low = service("NodePort", json!([{"port": 80, "nodePort": 80}]));
        let causes = assign(&store, &mut low, None);
        assert_eq!(causes[0].field, "spec.ports[0].nodePort");
        assert_eq!(causes[0].message, "Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767");
        let mut twice = service("NodePort", json!([{"name": "a", "port": 80, "nodePort": 30080}, {"name": "b", "port": 81, "nodePort": 30080}]));
        assert_eq!(assign(&store, &mut twice, None)[0].message, "Duplicate value: 30080");
        let info = crate::resources::Catalogue::new();
        let _ = info;
        store
            .create(
                &ResourceKey::new("", "services"),
                json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "other", "namespace": "default", "uid": "u1"},
            "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}}),
            )
            .unwrap();
        let mut taken = service("NodePort", json!([{"port": 80, "nodePort": 30080}]));
        assert_eq!(assign(&store, &mut taken, None)[0].message, "Invalid value: 30080: provided port is already allocated");
        let mut lb = service("LoadBalancer", json!([{"port": 80}]));
        assert!(assign(&store, &mut lb, None).is_empty());
        assert!(lb["spec"]["ports"][0]["nodePort"].as_u64().is_some_and(|n| n != 30080));
        let mut no_ports = service("LoadBalancer", json!([{"port": 80}]));
        no_ports["spec"]["allocateLoadBalancerNodePorts"] = json!(false);
        assert!(assign(&store, &mut no_ports, None).is_empty());
        assert!(no_ports["spec"]["ports"][0]["nodePort"].is_null());
    }
}
