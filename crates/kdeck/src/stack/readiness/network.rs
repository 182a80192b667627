//! Services (ready endpoints) and Ingresses (an address, and backends that exist).

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use super::{Snapshot, Verdict, condition_is, name_of, namespace_of, pods, selector};

/// Ready with one ready endpoint; Services without a selector and ExternalName
/// Services at once.
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

/// Ready once it has an address and every Service it sends traffic to exists.
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::judge;
    use super::super::testing::*;
    use super::*;

    fn service(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "backend", "namespace": NS}, "spec": spec})
    }

    fn backend() -> Value {
        service(
            json!({"type": "ClusterIP", "clusterIP": "10.96.41.7", "selector": {"app": "backend"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}),
        )
    }

    fn slice(ready: Option<bool>, ports: Value) -> Value {
        let mut endpoint = json!({"addresses": ["10.244.0.12"], "targetRef": {"kind": "Pod", "name": "backend-7c9d-abcde", "namespace": NS}});
        if let Some(ready) = ready {
            endpoint["conditions"] = json!({"ready": ready, "serving": ready, "terminating": false});
        }
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
               "metadata": {"name": "backend-x8k2q", "namespace": NS, "labels": {"kubernetes.io/service-name": "backend"}},
               "endpoints": [endpoint], "ports": ports})
    }

    fn endpoints(subset: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "backend", "namespace": NS}, "subsets": [subset]})
    }

    fn backend_pod(name: &str, ready: bool) -> Value {
        let labels = json!({"app": "backend"});
        let mut pod = if ready { ready_pod(name, labels) } else { waiting_pod(name, labels, "ContainerCreating", "", 0) };
        pod["spec"]["containers"][0]["ports"] = json!([{"name": "web", "containerPort": 8080}]);
        pod
    }

    #[test]
    fn services() {
        let port = || json!([{"name": "http", "port": 80, "protocol": "TCP"}]);
        let mut headless = backend();
        headless["spec"]["clusterIP"] = json!("None");
        let mut named_port = backend();
        named_port["spec"]["ports"][0]["targetPort"] = json!("http");
        let mut balanced = backend();
        balanced["spec"]["type"] = json!("LoadBalancer");
        let cases: Vec<(&str, Value, Vec<Value>, Verdict)> = vec![
            ("external name", service(json!({"type": "ExternalName", "externalName": "db.example.com"})), vec![], Verdict::ready()),
            ("no selector", service(json!({"ports": [{"port": 5432}]})), vec![], Verdict::ready()),
            ("selects nothing", backend(), vec![], Verdict::pending("no ready endpoints: selector app=backend matches no pods")),
            (
                "other labels",
                backend(),
                vec![ready_pod("frontend-1", json!({"app": "frontend"}))],
                Verdict::pending("no ready endpoints: selector app=backend matches no pods"),
            ),
            (
                "none ready",
                backend(),
                vec![backend_pod("backend-1", false), backend_pod("backend-2", false)],
                Verdict::pending("no ready endpoints: 2 pods match app=backend, none ready"),
            ),
            ("one not ready", backend(), vec![backend_pod("backend-1", false)], Verdict::pending("no ready endpoints: 1 pod matches app=backend, none ready")),
            (
                "ready pods, no endpoints yet",
                backend(),
                vec![backend_pod("backend-1", true)],
                Verdict::pending("no ready endpoints yet: 1 pod matches app=backend, 1 ready"),
            ),
            (
                "named targetPort not declared",
                named_port,
                vec![backend_pod("backend-1", true)],
                Verdict::pending("no ready endpoints: targetPort \"http\" names no port of the pods app=backend selects"),
            ),
            ("ready slice", backend(), vec![slice(Some(true), port())], Verdict::ready()),
            ("slice without conditions", backend(), vec![slice(None, port())], Verdict::ready()),
            (
                "unready slice",
                backend(),
                vec![slice(Some(false), port()), backend_pod("backend-1", false)],
                Verdict::pending("no ready endpoints: 1 pod matches app=backend, none ready"),
            ),
            (
                "slice without ports",
                backend(),
                vec![slice(Some(true), json!([]))],
                Verdict::pending("no ready endpoints: selector app=backend matches no pods"),
            ),
            ("endpoints", backend(), vec![endpoints(json!({"addresses": [{"ip": "10.244.0.12"}], "ports": port()}))], Verdict::ready()),
            (
                "endpoints not ready",
                backend(),
                vec![endpoints(json!({"notReadyAddresses": [{"ip": "10.244.0.12"}], "ports": port()}))],
                Verdict::pending("no ready endpoints: selector app=backend matches no pods"),
            ),
            ("headless", headless.clone(), vec![slice(Some(true), port())], Verdict::ready()),
            ("headless, nothing", headless, vec![], Verdict::pending("no ready endpoints: selector app=backend matches no pods")),
            ("load balancer", balanced, vec![slice(Some(true), port())], Verdict::ready_with("no external address yet")),
        ];
        for (what, obj, objects, expected) in cases {
            assert_eq!(judge(&obj, &snapshot_of(objects), now()), expected, "{what}");
        }
    }

    #[test]
    fn a_slice_of_another_service_is_not_this_ones() {
        let mut other = slice(Some(true), json!([{"port": 80}]));
        other["metadata"]["labels"]["kubernetes.io/service-name"] = json!("frontend");
        assert_eq!(judge(&backend(), &snapshot_of([other]), now()), Verdict::pending("no ready endpoints: selector app=backend matches no pods"));
    }

    fn ingress(address: bool) -> Value {
        let status = if address { json!({"loadBalancer": {"ingress": [{"ip": "172.18.0.2"}]}}) } else { json!({"loadBalancer": {}}) };
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "shop", "namespace": NS},
               "spec": {"ingressClassName": "nginx", "rules": [{"host": "shop.localtest.me", "http": {"paths": [
                   {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
                   {"path": "/api", "pathType": "Prefix", "backend": {"service": {"name": "backend", "port": {"name": "http"}}}},
               ]}}]},
               "status": status})
    }

    #[test]
    fn ingresses() {
        let svc = |name: &str| json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS}, "spec": {}});
        let both = || snapshot_of([svc("web"), svc("backend")]);
        assert_eq!(judge(&ingress(true), &both(), now()), Verdict::ready());
        assert_eq!(judge(&ingress(false), &both(), now()), Verdict::pending("no address yet"));
        assert_eq!(judge(&ingress(true), &snapshot_of([svc("web")]), now()), Verdict::pending("backend service \"backend\" does not exist"));
        assert_eq!(judge(&ingress(false), &snapshot_of([]), now()), Verdict::pending("backend service \"web\" does not exist"));
        let mut default_backend = ingress(true);
        default_backend["spec"] = json!({"defaultBackend": {"service": {"name": "fallback", "port": {"number": 80}}}});
        assert_eq!(judge(&default_backend, &both(), now()), Verdict::pending("backend service \"fallback\" does not exist"));
    }
}
