//! The chain of objects from what a user sees down to a failing pod: the Ingress
//! in front of a Service, the Service selecting the pod, the workload owning it,
//! the pod, the container — each with its state, as one line reads it.

use serde_json::Value;

use super::problem::Link;
use super::scene::{Scene, name, reference};
use crate::stack::readiness::{self, Verdict};

/// The links above a pod: Ingresses and Services that reach it, its workload, the pod.
pub fn above_pod(scene: &Scene, pod: &Value) -> Vec<Link> {
    let workload = scene.workload_of(pod);
    let mut links = above_workload(scene, workload);
    if workload != pod {
        links.push(Link { object: reference(pod), state: pod_state(pod) });
    }
    links
}

/// The links above a workload (or a bare pod), and the workload itself.
pub fn above_workload(scene: &Scene, workload: &Value) -> Vec<Link> {
    let mut links = Vec::new();
    let services = scene.services_of_workload(workload);
    for service in &services {
        for ingress in scene.ingresses_of(service) {
            links.push(Link { object: reference(ingress), state: "routes to ".to_string() + &reference(service) });
        }
    }
    for service in services {
        links.push(Link { object: reference(service), state: verdict_text(&readiness::judge(service, &scene.objects, scene.now)) });
    }
    links.push(Link { object: reference(workload), state: workload_state(scene, workload) });
    links
}

fn verdict_text(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Ready { note: None } => "ready".into(),
        Verdict::Ready { note: Some(note) } => format!("ready ({note})"),
        Verdict::Pending { reason } | Verdict::Failed { reason } => reason.clone(),
    }
}

/// "0/2 available", "1/3 ready", a pod's own state for a bare pod.
pub fn workload_state(scene: &Scene, workload: &Value) -> String {
    let status = &workload["status"];
    let int = |v: &Value| v.as_i64().unwrap_or(0);
    match workload["kind"].as_str().unwrap_or_default() {
        "Deployment" => format!("{}/{} available", int(&status["availableReplicas"]), int(&workload["spec"]["replicas"])),
        "StatefulSet" => format!("{}/{} ready", int(&status["readyReplicas"]), int(&workload["spec"]["replicas"])),
        "DaemonSet" => format!("{}/{} ready", int(&status["numberReady"]), int(&status["desiredNumberScheduled"])),
        "Pod" => pod_state(workload),
        _ => verdict_text(&readiness::judge(workload, &scene.objects, scene.now)),
    }
}

/// A pod's state as `kubectl get pods` shows it: the waiting or terminated reason of
/// its first troubled container, else its phase; with its restarts.
pub fn pod_state(pod: &Value) -> String {
    let statuses =
        || pod["status"]["initContainerStatuses"].as_array().into_iter().flatten().chain(pod["status"]["containerStatuses"].as_array().into_iter().flatten());
    let reason = pod["status"]["reason"]
        .as_str()
        .map(str::to_string)
        .or_else(|| statuses().find_map(|s| s["state"]["waiting"]["reason"].as_str().or(s["state"]["terminated"]["reason"].as_str()).map(str::to_string)));
    let restarts: i64 = statuses().map(|s| s["restartCount"].as_i64().unwrap_or(0)).sum();
    let phase = pod["status"]["phase"].as_str().unwrap_or("Unknown");
    let state = reason.unwrap_or_else(|| phase.to_string());
    match restarts {
        0 => state,
        n => format!("{state}, {n} restarts"),
    }
}

/// `container api`.
pub fn container_link(container: &str, state: impl Into<String>) -> Link {
    Link { object: format!("container {container}"), state: state.into() }
}

/// The pod's name, for evidence.
pub fn pod_ref(pod: &Value) -> String {
    format!("pod/{}", name(pod))
}
