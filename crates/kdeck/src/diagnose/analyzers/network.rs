//! Services and Ingresses: a selector that matches no pod (with the labels that do
//! exist), a named targetPort no selected container declares, an Ingress backend
//! whose Service or port does not exist, a missing IngressClass or TLS Secret.

use serde_json::Value;

use crate::diagnose::problem::{Evidence, Problem, Severity};
use crate::diagnose::scene::{Scene, backends, name, namespace, reference};
use crate::stack::readiness::selector;

pub fn analyze(scene: &Scene) -> Vec<Problem> {
    let mut out = Vec::new();
    for service in scene.all("", "Service") {
        out.extend(service_problem(scene, service));
    }
    for ingress in scene.all("networking.k8s.io", "Ingress") {
        out.extend(ingress_problems(scene, ingress));
    }
    out
}

fn service_problem(scene: &Scene, service: &Value) -> Option<Problem> {
    let selected = service["spec"]["selector"].as_object().filter(|s| !s.is_empty())?;
    let ns = namespace(service);
    let text = selector::map_text(selected);
    let pods: Vec<&Value> = scene.in_namespace("", "Pod", ns).filter(|p| selector::map_selects(selected, &p["metadata"]["labels"])).collect();
    let workloads: Vec<&Value> = ["Deployment", "StatefulSet", "DaemonSet"]
        .iter()
        .flat_map(|k| scene.in_namespace("apps", k, ns))
        .filter(|w| selector::map_selects(selected, &w["spec"]["template"]["metadata"]["labels"]))
        .collect();
    let svc = reference(service);
    if pods.is_empty() && workloads.is_empty() {
        // Which labels exist under the selector's keys: the nearest to what it asks.
        let mut nearest: Vec<String> = Vec::new();
        for pod in scene.in_namespace("", "Pod", ns) {
            let labels = &pod["metadata"]["labels"];
            let pairs: Vec<String> = selected.keys().filter_map(|k| labels[k].as_str().map(|v| format!("{k}={v}"))).collect();
            if !pairs.is_empty() {
                let owner = reference(scene.workload_of(pod));
                let entry = format!("{} ({owner})", pairs.join(","));
                if !nearest.contains(&entry) {
                    nearest.push(entry);
                }
            }
        }
        let mut problem = Problem::new(
            Severity::Error,
            ns,
            "service-selects-nothing",
            svc.clone(),
            format!("Service {} selects {text}, which no pod or workload has", name(service)),
        )
        .evidence(Evidence::new("field", svc.clone(), format!("selector: {text}")));
        if !nearest.is_empty() {
            nearest.truncate(5);
            problem = problem.evidence(Evidence::new("field", "pods of the namespace", format!("labels under the same keys: {}", nearest.join("; "))));
        }
        for ingress in scene.ingresses_of(service) {
            problem = problem.link(reference(ingress), format!("routes to {svc}"));
        }
        return Some(
            problem
                .link(svc.clone(), "no endpoints")
                .affects(svc)
                .fix(format!("fix the selector (kubectl -n {ns} edit service {}) or the labels of the workload meant to serve it", name(service))),
        );
    }
    // A named targetPort that no selected container declares: the endpoints controller leaves those pods out.
    for port in service["spec"]["ports"].as_array().into_iter().flatten() {
        let Some(target) = port["targetPort"].as_str() else { continue };
        let templates: Vec<&Value> = workloads.iter().map(|w| &w["spec"]["template"]).chain(pods.iter().copied()).collect();
        if !templates.iter().any(|t| declares_port(t, target)) {
            let declared: Vec<String> = templates.iter().flat_map(|t| port_names(t)).collect();
            let mut problem = Problem::new(
                Severity::Error,
                ns,
                "service-target-port",
                svc.clone(),
                format!("Service {} sends port {} to the container port named {target:?}, which no pod it selects declares", name(service), port["port"]),
            )
            .evidence(Evidence::new("field", svc.clone(), format!("targetPort: {target}")))
            .evidence(Evidence::new(
                "field",
                "selected containers",
                format!("declare ports: {}", if declared.is_empty() { "none".to_string() } else { declared.join(", ") }),
            ))
            .fix(format!("set targetPort to one of the declared ports (kubectl -n {ns} edit service {})", name(service)));
            for ingress in scene.ingresses_of(service) {
                problem = problem.link(reference(ingress), format!("routes to {svc}"));
            }
            problem = problem.link(svc.clone(), "no endpoint port").affects(svc);
            return Some(problem);
        }
    }
    None
}

/// `name/port` of each declared container port of a pod or pod template (lint shares it).
pub fn port_names(template: &Value) -> Vec<String> {
    template["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["ports"].as_array().into_iter().flatten())
        .map(|p| match p["name"].as_str() {
            Some(n) => format!("{n}/{}", p["containerPort"]),
            None => p["containerPort"].to_string(),
        })
        .collect()
}

pub fn declares_port(template: &Value, port_name: &str) -> bool {
    template["spec"]["containers"].as_array().into_iter().flatten().flat_map(|c| c["ports"].as_array().into_iter().flatten()).any(|p| p["name"] == port_name)
}

fn ingress_problems(scene: &Scene, ingress: &Value) -> Vec<Problem> {
    let ns = namespace(ingress);
    let ing = reference(ingress);
    let mut out = Vec::new();
    for backend in backends(ingress) {
        let Some(service_name) = backend["service"]["name"].as_str() else { continue };
        let port = &backend["service"]["port"];
        let port_text = port["number"].as_i64().map(|n| n.to_string()).or_else(|| port["name"].as_str().map(str::to_string)).unwrap_or_default();
        let Some(service) = scene.get("", "Service", ns, service_name) else {
            let existing: Vec<&str> = scene.in_namespace("", "Service", ns).map(name).collect();
            out.push(
                Problem::new(
                    Severity::Error,
                    ns,
                    "ingress-missing-service",
                    ing.clone(),
                    format!("Ingress {} routes to Service {service_name}, which does not exist", name(ingress)),
                )
                .link(ing.clone(), format!("backend service/{service_name}:{port_text}"))
                .link(format!("service/{service_name}"), "missing")
                .evidence(Evidence::new("field", ing.clone(), format!("backend: service {service_name}, port {port_text}")))
                .evidence(Evidence::new(
                    "field",
                    format!("namespace {ns}"),
                    format!("Services: {}", if existing.is_empty() { "none".into() } else { existing.join(", ") }),
                ))
                .fix(format!("point the backend at an existing Service (kubectl -n {ns} edit ingress {})", name(ingress))),
            );
            continue;
        };
        let ports = service["spec"]["ports"].as_array().map(Vec::as_slice).unwrap_or_default();
        let has_port = ports.iter().any(|p| match port["number"].as_i64() {
            Some(n) => p["port"].as_i64() == Some(n),
            None => p["name"] == port["name"],
        });
        if !has_port {
            let served: Vec<String> =
                ports.iter().map(|p| p["name"].as_str().map_or_else(|| p["port"].to_string(), |n| format!("{n}/{}", p["port"]))).collect();
            out.push(
                Problem::new(
                    Severity::Error,
                    ns,
                    "ingress-missing-port",
                    ing.clone(),
                    format!("Ingress {} routes to port {port_text} of Service {service_name}, which has no such port", name(ingress)),
                )
                .link(ing.clone(), format!("backend service/{service_name}:{port_text}"))
                .link(reference(service), format!("serves {}", served.join(", ")))
                .evidence(Evidence::new("field", ing.clone(), format!("backend port: {port_text}")))
                .evidence(Evidence::new("field", reference(service), format!("ports: {}", served.join(", "))))
                .fix(format!("use one of the Service's ports in the Ingress (kubectl -n {ns} edit ingress {})", name(ingress))),
            );
        }
    }
    let classes_readable = !scene.unreadable.iter().any(|u| u.starts_with("IngressClass"));
    if let Some(class) = ingress["spec"]["ingressClassName"].as_str()
        && classes_readable
        && scene.get("networking.k8s.io", "IngressClass", "", class).is_none()
        && scene.objects.list("networking.k8s.io", "IngressClass", "").next().is_some()
    {
        let known: Vec<&str> = scene.objects.list("networking.k8s.io", "IngressClass", "").map(name).collect();
        out.push(
            Problem::new(
                Severity::Error,
                ns,
                "ingress-class-missing",
                ing.clone(),
                format!("Ingress {} asks for IngressClass {class}, which does not exist", name(ingress)),
            )
            .link(ing.clone(), "no controller serves it")
            .evidence(Evidence::new("field", ing.clone(), format!("ingressClassName: {class}; classes: {}", known.join(", "))))
            .fix(format!("set ingressClassName to one of: {}", known.join(", "))),
        );
    }
    for tls in ingress["spec"]["tls"].as_array().into_iter().flatten() {
        if let Some(secret) = tls["secretName"].as_str()
            && scene.get("", "Secret", ns, secret).is_none()
            && !scene.unreadable.iter().any(|u| u.starts_with("Secret"))
        {
            out.push(
                Problem::new(
                    Severity::Error,
                    ns,
                    "ingress-tls-secret",
                    ing.clone(),
                    format!("Ingress {} uses TLS Secret {secret}, which does not exist", name(ingress)),
                )
                .link(ing.clone(), "TLS without a certificate")
                .link(format!("secret/{secret}"), "missing")
                .fix(format!("create the TLS Secret (kubectl -n {ns} create secret tls {secret} --cert=… --key=…) or let cert-manager issue it")),
            );
        }
    }
    out
}
