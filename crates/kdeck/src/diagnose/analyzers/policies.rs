//! NetworkPolicies that keep a client from a Service it uses, while the Service has
//! ready endpoints: the backend pods are isolated for ingress and no rule of the
//! policies selecting them admits the client on the port (a default deny with no
//! allow, or an allow for other pods) — or the client is isolated for egress and
//! no rule lets it out to them.
//!
//! Clients are what the objects say: a pod whose configuration names the Service
//! (a URL's host), and an Ingress routing to it (whose controller runs somewhere we
//! do not see, so only a policy admitting nothing at all is said to block it). The
//! reasoning is Kubernetes' own semantics over the objects, nothing is probed.

use std::net::Ipv4Addr;

use serde_json::{Value, json};

use super::config;
use crate::diagnose::chain::{self, pod_ref};
use crate::diagnose::problem::{Evidence, Link, Problem, Severity};
use crate::diagnose::scene::{Scene, name, namespace, reference};
use crate::stack::readiness::selector;

const GROUP: &str = "networking.k8s.io";

/// A Service a client uses that NetworkPolicies keep it from.
pub struct Blocked<'a> {
    /// How the client names it: the value and where it is set.
    pub named: config::NamedService,
    pub service: &'a Value,
    /// A ready pod behind the Service.
    pub backend: &'a Value,
    /// "ingress": the backend's policies admit no such client; "egress": the client's
    /// own policies let it out to no such backend.
    pub direction: &'static str,
    /// The policies isolating that side, and the one to change.
    pub policies: Vec<&'a Value>,
    pub root: &'a Value,
    /// The container ports the client would reach (`8080`, `http/8080`).
    pub ports: Vec<String>,
}

pub fn analyze(scene: &Scene) -> Vec<Problem> {
    if scene.all(GROUP, "NetworkPolicy").next().is_none() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for pod in scene.all("", "Pod").filter(|p| p["status"]["phase"] == "Running") {
        for container in pod["spec"]["containers"].as_array().into_iter().flatten() {
            if let Some(blocked) = blocked_dependency(scene, pod, container) {
                out.push(pod_client_problem(scene, pod, container["name"].as_str().unwrap_or_default(), &blocked, None));
            }
        }
    }
    for ingress in scene.all(GROUP, "Ingress") {
        out.extend(ingress_blocked(scene, ingress));
    }
    out
}

/// The first Service the container's configuration names that NetworkPolicies keep it from.
pub fn blocked_dependency<'a>(scene: &'a Scene, pod: &'a Value, container: &Value) -> Option<Blocked<'a>> {
    // No policy anywhere: nothing is isolated.
    scene.all(GROUP, "NetworkPolicy").next()?;
    for named in config::services_named(scene, pod, container) {
        let Some(service) = scene.get("", "Service", &named.namespace, &named.service) else { continue };
        let Some(backend) = ready_backends(scene, service).into_iter().next() else { continue };
        let ports = target_ports(service, backend, named.port);
        if ports.is_empty() {
            continue;
        }
        let isolating = isolating(scene, backend, "Ingress");
        if !isolating.is_empty() && !isolating.iter().any(|p| admits(scene, p, "ingress", pod, &ports)) {
            let root = root_policy(&isolating, "ingress");
            return Some(Blocked { named, service, backend, direction: "ingress", policies: isolating, root, ports: port_texts(&ports) });
        }
        let isolating = isolating_egress(scene, pod);
        if !isolating.is_empty() && !isolating.iter().any(|p| admits(scene, p, "egress", backend, &ports)) {
            let root = root_policy(&isolating, "egress");
            return Some(Blocked { named, service, backend, direction: "egress", policies: isolating, root, ports: port_texts(&ports) });
        }
    }
    None
}

fn isolating_egress<'a>(scene: &'a Scene, pod: &'a Value) -> Vec<&'a Value> {
    isolating(scene, pod, "Egress")
}

/// The problem of a client pod kept from its Service, rooted at the policy to change;
/// `crash`: the state of the container when it crash-loops for it.
pub fn pod_client_problem(scene: &Scene, pod: &Value, cname: &str, blocked: &Blocked, crash: Option<&str>) -> Problem {
    let ns = namespace(pod);
    let client = reference(scene.workload_of(pod));
    let svc = format!("{}.{}", name(blocked.service), namespace(blocked.service));
    let policy = reference(blocked.root);
    let policy_ns = namespace(blocked.root);
    let summary = match blocked.direction {
        "ingress" => format!(
            "NetworkPolicy {} (namespace {policy_ns}) admits no traffic from {client} to Service {svc}, which container {cname} reads as {}",
            name(blocked.root),
            blocked.named.variable
        ),
        _ => format!(
            "NetworkPolicy {} (namespace {policy_ns}) lets {client} out to no pod of Service {svc}, which container {cname} reads as {}",
            name(blocked.root),
            blocked.named.variable
        ),
    };
    let summary = match crash {
        Some(_) => format!("container {cname} crash-loops: {summary}"),
        None => summary,
    };
    let mut problem = Problem::new(Severity::Error, policy_ns, "networkpolicy-blocks", policy.clone(), summary)
        .affects(client.clone())
        .affects(pod_ref(pod))
        .affects(reference(blocked.service));
    problem.chain = chain::above_pod(scene, pod);
    let state = crash.map_or_else(|| format!("{} = {}", blocked.named.variable, blocked.named.value), str::to_string);
    problem.chain.push(chain::container_link(cname, state));
    problem = problem.evidence(Evidence::new("field", source_of(&blocked.named, &client), format!("{} = {}", blocked.named.variable, blocked.named.value)));
    let labels = client_labels(scene, pod);
    let who =
        Client { name: name(scene.workload_of(pod)).to_string(), text: format!("{client} (pods {})", labels_text(&labels)), labels, namespace: ns.to_string() };
    finish(problem, blocked, &who)
}

/// Who must be let through: a client's pods (their labels, None for every pod of
/// its namespace) and namespace.
struct Client {
    /// For the name of a new policy.
    name: String,
    text: String,
    labels: Value,
    namespace: String,
}

/// The links, evidence and fix from the Service down to the policy.
fn finish(mut problem: Problem, blocked: &Blocked, client: &Client) -> Problem {
    let ready = blocked.service_ready_text();
    problem.chain.push(Link { object: reference(blocked.service), state: ready });
    problem.chain.push(Link { object: reference(blocked.root), state: policy_state(blocked.root, blocked.direction) });
    for policy in &blocked.policies {
        problem = problem.evidence(Evidence::new("field", reference(policy), policy_text(policy, blocked.direction)));
    }
    let isolated = match blocked.direction {
        "ingress" => format!(
            "{} (labels {}) is selected by: {}",
            pod_ref(blocked.backend),
            labels_text(&blocked.backend["metadata"]["labels"]),
            names(&blocked.policies)
        ),
        _ => format!("the client is selected for egress by: {}", names(&blocked.policies)),
    };
    problem = problem.evidence(Evidence::new("state", reference(blocked.service), format!("{isolated}; the client reaches port {}", blocked.ports.join(", "))));
    problem.fix(fix(blocked, client))
}

impl Blocked<'_> {
    fn service_ready_text(&self) -> String {
        format!("ready endpoints, e.g. {}", pod_ref(self.backend))
    }
}

/// Where the client's value is set: its ConfigMap, or the workload's env.
fn source_of(named: &config::NamedService, client: &str) -> String {
    match named.kind {
        "" => client.to_string(),
        _ => format!("configmap/{}", named.object),
    }
}

/// Ingresses whose Service's ready pods are isolated by policies admitting nothing at all.
fn ingress_blocked(scene: &Scene, ingress: &Value) -> Vec<Problem> {
    let ns = namespace(ingress);
    let mut out = Vec::new();
    for backend in crate::diagnose::scene::backends(ingress) {
        let Some(service) = backend["service"]["name"].as_str().and_then(|s| scene.get("", "Service", ns, s)) else { continue };
        let Some(pod) = ready_backends(scene, service).into_iter().next() else { continue };
        let isolating = isolating(scene, pod, "Ingress");
        if isolating.is_empty() || isolating.iter().any(|p| p["spec"]["ingress"].as_array().is_some_and(|r| !r.is_empty())) {
            continue;
        }
        let root = root_policy(&isolating, "ingress");
        let ports = target_ports(service, pod, None);
        let blocked = Blocked {
            named: config::NamedService {
                kind: "",
                object: String::new(),
                variable: String::new(),
                value: String::new(),
                service: name(service).to_string(),
                namespace: ns.to_string(),
                port: None,
            },
            service,
            backend: pod,
            direction: "ingress",
            policies: isolating,
            root,
            ports: port_texts(&ports),
        };
        let summary = format!(
            "NetworkPolicy {} admits no ingress at all to the pods of Service {}, so Ingress {} (its controller) cannot reach them",
            name(root),
            name(service),
            name(ingress)
        );
        let problem = Problem::new(Severity::Error, ns, "networkpolicy-blocks", reference(root), summary)
            .link(reference(ingress), format!("routes to {}", reference(service)))
            .affects(reference(ingress))
            .affects(reference(service))
            .affects(reference(scene.workload_of(pod)));
        let who = Client {
            name: "ingress".to_string(),
            text: format!("the ingress controller serving Ingress {} (its namespace in place of INGRESS-NAMESPACE)", name(ingress)),
            labels: Value::Null,
            namespace: "INGRESS-NAMESPACE".to_string(),
        };
        out.push(finish(problem, &blocked, &who));
    }
    out
}

/// The ready pods a Service selects.
fn ready_backends<'a>(scene: &'a Scene, service: &'a Value) -> Vec<&'a Value> {
    let Some(selected) = service["spec"]["selector"].as_object().filter(|s| !s.is_empty()) else { return Vec::new() };
    scene
        .in_namespace("", "Pod", namespace(service))
        .filter(|p| selector::map_selects(selected, &p["metadata"]["labels"]))
        .filter(|p| p["status"]["conditions"].as_array().into_iter().flatten().any(|c| c["type"] == "Ready" && c["status"] == "True"))
        .collect()
}

/// A port traffic arrives on: protocol, container port number, its name.
#[derive(Debug, Clone, PartialEq)]
struct Target {
    protocol: String,
    number: i64,
    name: Option<String>,
}

/// The container ports of `backend` the Service sends to: the Service port the
/// client names (when its URL has one that the Service serves), else every one.
fn target_ports(service: &Value, backend: &Value, client_port: Option<u16>) -> Vec<Target> {
    let ports: Vec<&Value> = service["spec"]["ports"].as_array().into_iter().flatten().collect();
    let chosen: Vec<&Value> = match client_port {
        Some(p) if ports.iter().any(|sp| sp["port"].as_i64() == Some(i64::from(p))) => {
            ports.into_iter().filter(|sp| sp["port"].as_i64() == Some(i64::from(p))).collect()
        }
        _ => ports,
    };
    let declared: Vec<&Value> =
        backend["spec"]["containers"].as_array().into_iter().flatten().flat_map(|c| c["ports"].as_array().into_iter().flatten()).collect();
    chosen
        .into_iter()
        .filter_map(|sp| {
            let protocol = sp["protocol"].as_str().unwrap_or("TCP").to_string();
            let target = if sp["targetPort"].is_null() { &sp["port"] } else { &sp["targetPort"] };
            let (number, name) = match (target.as_i64(), target.as_str()) {
                (Some(n), _) => (n, declared.iter().find(|d| d["containerPort"].as_i64() == Some(n)).and_then(|d| d["name"].as_str()).map(str::to_string)),
                (None, Some(port_name)) => (declared.iter().find(|d| d["name"] == port_name)?["containerPort"].as_i64()?, Some(port_name.to_string())),
                _ => return None,
            };
            Some(Target { protocol, number, name })
        })
        .collect()
}

fn port_texts(ports: &[Target]) -> Vec<String> {
    ports.iter().map(|t| t.name.as_ref().map_or_else(|| t.number.to_string(), |n| format!("{n}/{}", t.number))).collect()
}

/// The policies of the pod's namespace that select it and isolate it in that
/// direction ("Ingress" or "Egress"), by name.
fn isolating<'a>(scene: &'a Scene, pod: &'a Value, direction: &'a str) -> Vec<&'a Value> {
    let mut out: Vec<&Value> = scene
        .in_namespace(GROUP, "NetworkPolicy", namespace(pod))
        .filter(|p| pod_selector_selects(&p["spec"]["podSelector"], &pod["metadata"]["labels"]))
        .filter(|p| types(p).contains(&direction))
        .collect();
    out.sort_by_key(|p| name(p));
    out
}

/// `spec.policyTypes`, or as the API server defaults it: Ingress, and Egress when
/// there are egress rules.
fn types(policy: &Value) -> Vec<&str> {
    match policy["spec"]["policyTypes"].as_array().filter(|t| !t.is_empty()) {
        Some(types) => types.iter().filter_map(Value::as_str).collect(),
        None if policy["spec"]["egress"].as_array().is_some_and(|e| !e.is_empty()) => vec!["Ingress", "Egress"],
        None => vec!["Ingress"],
    }
}

/// A policy's pod selector: empty selects every pod of its namespace.
fn pod_selector_selects(sel: &Value, labels: &Value) -> bool {
    let empty = sel["matchLabels"].as_object().is_none_or(|m| m.is_empty()) && sel["matchExpressions"].as_array().is_none_or(Vec::is_empty);
    empty || selector::selects(sel, labels)
}

/// The policy to change: one with rules in that direction (where the client is
/// added), else the first (a default deny, beside which an allow is added).
fn root_policy<'a>(policies: &[&'a Value], direction: &str) -> &'a Value {
    policies.iter().find(|p| p["spec"][direction].as_array().is_some_and(|r| !r.is_empty())).unwrap_or(&policies[0])
}

/// Whether a rule of the policy (in `direction`) admits the `other` pod on one of the ports.
fn admits(scene: &Scene, policy: &Value, direction: &str, other: &Value, ports: &[Target]) -> bool {
    let peers_key = if direction == "ingress" { "from" } else { "to" };
    policy["spec"][direction].as_array().into_iter().flatten().any(|rule| {
        let peers_admit = match rule[peers_key].as_array().filter(|p| !p.is_empty()) {
            None => true,
            Some(peers) => peers.iter().any(|peer| peer_admits(scene, namespace(policy), peer, other)),
        };
        peers_admit && ports_admit(rule, ports)
    })
}

/// Whether a peer admits the pod. What cannot be told (a namespace whose labels were
/// not read, a pod without an IPv4 address) counts as admitted: never a block on a guess.
fn peer_admits(scene: &Scene, policy_ns: &str, peer: &Value, pod: &Value) -> bool {
    if peer["ipBlock"].is_object() {
        let Some(ip) = pod["status"]["podIP"].as_str().and_then(|ip| ip.parse::<Ipv4Addr>().ok()) else { return true };
        let Some(inside) = cidr_contains(peer["ipBlock"]["cidr"].as_str().unwrap_or_default(), ip) else { return true };
        let excepted = peer["ipBlock"]["except"].as_array().into_iter().flatten().filter_map(Value::as_str).any(|c| cidr_contains(c, ip) == Some(true));
        return inside && !excepted;
    }
    let pod_ns = namespace(pod);
    let pods_ok = match &peer["podSelector"] {
        Value::Null => true,
        sel => pod_selector_selects(sel, &pod["metadata"]["labels"]),
    };
    let namespace_ok = match &peer["namespaceSelector"] {
        Value::Null => pod_ns == policy_ns,
        sel => match scene.get("", "Namespace", "", pod_ns) {
            Some(ns) => pod_selector_selects(sel, &ns["metadata"]["labels"]),
            None => true,
        },
    };
    pods_ok && namespace_ok
}

/// Whether the rule's ports (none: all) take one of the targets.
fn ports_admit(rule: &Value, targets: &[Target]) -> bool {
    let Some(ports) = rule["ports"].as_array().filter(|p| !p.is_empty()) else { return true };
    targets.iter().any(|t| {
        ports.iter().any(|p| {
            let protocol = p["protocol"].as_str().unwrap_or("TCP");
            protocol == t.protocol
                && match (&p["port"], p["port"].as_i64(), p["port"].as_str()) {
                    (Value::Null, _, _) => true,
                    (_, Some(n), _) => (n..=p["endPort"].as_i64().unwrap_or(n)).contains(&t.number),
                    (_, None, Some(port_name)) => t.name.as_deref() == Some(port_name),
                    _ => false,
                }
        })
    })
}

/// Whether an IPv4 CIDR contains the address; None when it is not an IPv4 CIDR.
fn cidr_contains(cidr: &str, ip: Ipv4Addr) -> Option<bool> {
    let (base, bits) = cidr.split_once('/')?;
    let base: Ipv4Addr = base.parse().ok()?;
    let bits: u32 = bits.parse().ok().filter(|b| *b <= 32)?;
    let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
    Some(u32::from(base) & mask == u32::from(ip) & mask)
}

fn names(policies: &[&Value]) -> String {
    policies.iter().map(|p| name(p)).collect::<Vec<_>>().join(", ")
}

/// "admits no ingress", "admits ingress only from pods app=frontend of its namespace on port 8080".
fn policy_state(policy: &Value, direction: &str) -> String {
    match (direction, rules_text(policy, direction)) {
        ("ingress", None) => "admits no ingress".to_string(),
        ("ingress", Some(rules)) => format!("admits ingress only from {rules}"),
        (_, None) => "lets no egress out".to_string(),
        (_, Some(rules)) => format!("lets egress out only to {rules}"),
    }
}

/// What a policy selects and admits, as evidence.
fn policy_text(policy: &Value, direction: &str) -> String {
    let selects = selector_text(&policy["spec"]["podSelector"]);
    let selects = if selects.is_empty() { "every pod of the namespace".to_string() } else { format!("pods {selects}") };
    let admitted = match (direction, rules_text(policy, direction)) {
        ("ingress", None) => "admits no ingress".to_string(),
        ("ingress", Some(rules)) => format!("admits ingress from {rules}"),
        (_, None) => "lets no egress out".to_string(),
        (_, Some(rules)) => format!("lets egress out to {rules}"),
    };
    format!("selects {selects}; {admitted}")
}

/// The rules of a policy in a direction, "pods app=db of its namespace on port 5432; …".
fn rules_text(policy: &Value, direction: &str) -> Option<String> {
    let peers_key = if direction == "ingress" { "from" } else { "to" };
    let rules: Vec<String> = policy["spec"][direction]
        .as_array()
        .into_iter()
        .flatten()
        .map(|rule| {
            let peers: Vec<String> = rule[peers_key].as_array().into_iter().flatten().map(peer_text).collect();
            let ports: Vec<String> = rule["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| p["port"].as_i64().map_or_else(|| p["port"].as_str().unwrap_or("all").to_string(), |n| n.to_string()))
                .collect();
            let peers = if peers.is_empty() { "anywhere".to_string() } else { peers.join(" or ") };
            let ports = if ports.is_empty() { "any port".to_string() } else { format!("port {}", ports.join(",")) };
            format!("{peers} on {ports}")
        })
        .collect();
    (!rules.is_empty()).then(|| rules.join("; "))
}

fn peer_text(peer: &Value) -> String {
    if let Some(cidr) = peer["ipBlock"]["cidr"].as_str() {
        return format!("ipBlock {cidr}");
    }
    let pods = match &peer["podSelector"] {
        Value::Null => None,
        sel => Some(match selector_text(sel) {
            t if t.is_empty() => "all pods".to_string(),
            t => format!("pods {t}"),
        }),
    };
    let namespaces = match &peer["namespaceSelector"] {
        Value::Null => None,
        sel => Some(match selector_text(sel) {
            t if t.is_empty() => "all namespaces".to_string(),
            t => format!("namespaces {t}"),
        }),
    };
    match (pods, namespaces) {
        (Some(p), Some(n)) => format!("{p} in {n}"),
        (Some(p), None) => format!("{p} of its namespace"),
        (None, Some(n)) => n,
        (None, None) => "?".to_string(),
    }
}

/// `app=web,tier in (a,b)`; "" for an empty selector.
fn selector_text(sel: &Value) -> String {
    let mut parts: Vec<String> = sel["matchLabels"].as_object().into_iter().flatten().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
    for e in sel["matchExpressions"].as_array().into_iter().flatten() {
        let values: Vec<&str> = e["values"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        parts.push(format!("{} {} ({})", e["key"].as_str().unwrap_or_default(), e["operator"].as_str().unwrap_or_default(), values.join(",")));
    }
    parts.join(",")
}

/// The labels that identify the client's pods: its workload's selector, else the
/// pod's labels without the per-pod ones controllers add.
fn client_labels(scene: &Scene, pod: &Value) -> Value {
    let workload = scene.workload_of(pod);
    if let Some(labels) = workload["spec"]["selector"]["matchLabels"].as_object().filter(|m| !m.is_empty()) {
        return Value::Object(labels.clone());
    }
    let per_pod = ["pod-template-hash", "controller-revision-hash", "statefulset.kubernetes.io/pod-name", "job-name", "controller-uid"];
    let labels = pod["metadata"]["labels"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !per_pod.contains(&k.as_str()) && !k.starts_with("batch.kubernetes.io/"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(labels)
}

fn labels_text(labels: &Value) -> String {
    let mut pairs: Vec<String> = labels.as_object().into_iter().flatten().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
    pairs.sort();
    pairs.join(",")
}

/// The change that lets the client through: the rule to add to the policy that has
/// rules, else a policy to add beside a default deny, as a command.
fn fix(blocked: &Blocked, client: &Client) -> String {
    let policy = blocked.root;
    let ns = namespace(policy);
    let mut ports: Vec<i64> = blocked.ports.iter().filter_map(|p| p.rsplit('/').next()?.parse().ok()).collect();
    ports.dedup();
    let ports: Vec<Value> = ports.into_iter().map(|p| json!({"port": p})).collect();
    // The pods let through, as a peer: the client's (ingress), the Service's (egress).
    let (peer_labels, peer_ns) = match blocked.direction {
        "ingress" => (client.labels.clone(), client.namespace.as_str()),
        _ => (blocked.service["spec"]["selector"].clone(), namespace(blocked.service)),
    };
    let mut peer = json!({});
    if peer_labels.is_object() {
        peer["podSelector"] = json!({"matchLabels": peer_labels});
    }
    if peer_ns != ns {
        peer["namespaceSelector"] = json!({"matchLabels": {"kubernetes.io/metadata.name": peer_ns}});
    }
    let peers_key = if blocked.direction == "ingress" { "from" } else { "to" };
    let rule = json!({peers_key: [peer], "ports": ports});
    let direction = blocked.direction;
    if policy["spec"][direction].as_array().is_some_and(|r| !r.is_empty()) {
        return format!("kubectl -n {ns} edit networkpolicy {}   # add to spec.{direction} a rule for {}: {rule}", name(policy), client.text);
    }
    // The pods the new policy opens: the backend's (ingress), the client's (egress).
    let selected = match direction {
        "ingress" => json!({"matchLabels": blocked.service["spec"]["selector"]}),
        _ => json!({"matchLabels": client.labels}),
    };
    let new_name: String = format!("allow-{}-to-{}", client.name, name(blocked.service)).chars().take(63).collect();
    let types = if direction == "ingress" { "Ingress" } else { "Egress" };
    let allow = json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": new_name, "namespace": ns},
        "spec": {"podSelector": selected, "policyTypes": [types], direction: [rule]},
    });
    format!("keep {} and add a policy that lets {} through: kubectl apply -f - <<< '{allow}'", name(policy), client.text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_hold_what_they_should() {
        let ip: Ipv4Addr = "10.244.1.7".parse().unwrap();
        assert_eq!(cidr_contains("10.244.0.0/16", ip), Some(true));
        assert_eq!(cidr_contains("10.245.0.0/16", ip), Some(false));
        assert_eq!(cidr_contains("0.0.0.0/0", ip), Some(true));
        assert_eq!(cidr_contains("fd00::/8", ip), None);
    }

    #[test]
    fn policy_types_default_as_the_api_server_does() {
        assert_eq!(types(&json!({"spec": {"podSelector": {}}})), ["Ingress"]);
        assert_eq!(types(&json!({"spec": {"egress": [{}]}})), ["Ingress", "Egress"]);
        assert_eq!(types(&json!({"spec": {"policyTypes": ["Egress"]}})), ["Egress"]);
    }

    #[test]
    fn rule_ports_match_numbers_ranges_and_names() {
        let target = [Target { protocol: "TCP".into(), number: 8080, name: Some("http".into()) }];
        assert!(ports_admit(&json!({}), &target), "no ports: all");
        assert!(ports_admit(&json!({"ports": [{"port": 8080}]}), &target));
        assert!(ports_admit(&json!({"ports": [{"port": 8000, "endPort": 9000}]}), &target));
        assert!(ports_admit(&json!({"ports": [{"port": "http"}]}), &target));
        assert!(!ports_admit(&json!({"ports": [{"port": 5432}]}), &target));
        assert!(!ports_admit(&json!({"ports": [{"port": 8080, "protocol": "UDP"}]}), &target));
    }
}
