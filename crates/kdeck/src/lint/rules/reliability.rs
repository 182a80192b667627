//! Reliability: resources, probes, image tags, disruption budgets, spreading.

use serde_json::Value;

use super::{Render, Sink, containers, namespace, pod_labels, pod_spec};
use crate::stack::readiness::selector;

pub fn check(render: &Render, sink: &mut Sink<'_>) {
    for object in &render.objects {
        let Some((spec_path, spec)) = pod_spec(object) else {
            if object.kind() == "PodDisruptionBudget" {
                pdb(render, object, sink);
            }
            continue;
        };
        let serving = matches!(object.kind(), "Deployment" | "StatefulSet");
        for c in containers(object) {
            let resources = &c.value["resources"];
            let image = c.value["image"].as_str().unwrap_or_default();
            if let Some(problem) = image_problem(image) {
                let policy = c.value["imagePullPolicy"].as_str();
                let note =
                    if policy == Some("IfNotPresent") { " with imagePullPolicy IfNotPresent: nodes keep whichever version they pulled first" } else { "" };
                sink.object(
                    "image-latest",
                    object,
                    &format!("{}.image", c.path),
                    Some(c.name),
                    format!("container {} uses {image:?}, {problem}{note}", c.name),
                );
            }
            if c.init {
                continue;
            }
            if resources["limits"]["memory"].is_null() {
                sink.object(
                    "memory-limit-missing",
                    object,
                    &format!("{}.resources", c.path),
                    Some(c.name),
                    format!("container {} has no memory limit", c.name),
                );
            }
            let missing: Vec<&str> = ["cpu", "memory"].into_iter().filter(|r| resources["requests"][r].is_null() && resources["limits"][r].is_null()).collect();
            if !missing.is_empty() {
                sink.object(
                    "requests-missing",
                    object,
                    &format!("{}.resources", c.path),
                    Some(c.name),
                    format!("container {} requests no {}", c.name, missing.join(" and ")),
                );
            }
            let has_ports = c.value["ports"].as_array().is_some_and(|p| !p.is_empty());
            if serving && has_ports && c.value["readinessProbe"].is_null() {
                sink.object("readiness-probe-missing", object, &c.path, Some(c.name), format!("container {} serves ports but has no readiness probe", c.name));
            }
            let liveness = &c.value["livenessProbe"];
            if !liveness.is_null() && *liveness == c.value["readinessProbe"] && c.value["startupProbe"].is_null() {
                sink.object(
                    "liveness-same-as-readiness",
                    object,
                    &format!("{}.livenessProbe", c.path),
                    Some(c.name),
                    format!("container {}'s liveness probe is its readiness probe, and it has no startup probe", c.name),
                );
            }
        }
        let replicas = object.object["spec"]["replicas"].as_i64().unwrap_or(1);
        let spread = !spec["affinity"]["podAntiAffinity"].is_null() || spec["topologySpreadConstraints"].as_array().is_some_and(|t| !t.is_empty());
        if matches!(object.kind(), "Deployment" | "StatefulSet") && replicas >= 2 && !spread {
            sink.object("no-spread", object, spec_path, None, format!("{replicas} replicas with no pod anti-affinity or topology spread constraint"));
        }
    }
}

/// Why an image reference is not pinned: no tag, or `latest`. Digests are pinned.
pub fn image_problem(image: &str) -> Option<&'static str> {
    if image.is_empty() || image.contains('@') || image.contains("${") || image.contains("{{") {
        return None;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => Some("which has no tag (:latest)"),
        Some((_, "latest")) => Some("the :latest tag"),
        Some(_) => None,
    }
}

/// A PodDisruptionBudget that allows no disruption of a single-replica workload.
fn pdb(render: &Render, budget: &crate::render::Manifest, sink: &mut Sink<'_>) {
    let spec = &budget.object["spec"];
    let blocks = |field: &str| match &spec[field] {
        Value::Number(n) if field == "maxUnavailable" => n.as_i64() == Some(0),
        Value::Number(n) => n.as_i64().is_some_and(|n| n >= 1),
        Value::String(s) if field == "maxUnavailable" => s.trim() == "0%" || s.trim() == "0",
        Value::String(s) => s.trim() == "100%",
        _ => false,
    };
    let field = if blocks("minAvailable") {
        "spec.minAvailable"
    } else if blocks("maxUnavailable") {
        "spec.maxUnavailable"
    } else {
        return;
    };
    let ns = namespace(budget);
    for workload in render.objects.iter().filter(|o| matches!(o.kind(), "Deployment" | "StatefulSet") && namespace(o) == ns) {
        let replicas = workload.object["spec"]["replicas"].as_i64().unwrap_or(1);
        if replicas == 1 && selector::selects(&spec["selector"], pod_labels(workload)) {
            sink.object(
                "pdb-blocks-eviction",
                budget,
                field,
                None,
                format!("{} has 1 replica and this budget allows no disruption of it", crate::lint::describe(&workload.object)),
            );
        }
    }
}
