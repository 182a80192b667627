//! What the analyzers read: the objects of the scope (one LIST per kind), the
//! last log lines of failing containers, and the relations between objects —
//! a pod's owning workload, the Services that select it, the Ingresses in front
//! of those Services.

use std::collections::BTreeMap;

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use crate::stack::readiness::{self, Snapshot, selector};

/// (namespace, pod, container) → the last lines of the container's previous run
/// (or of its current one when it never restarted).
pub type Logs = BTreeMap<(String, String, String), Vec<String>>;

pub struct Scene {
    pub objects: Snapshot,
    pub logs: Logs,
    pub now: Timestamp,
    /// The namespaces looked at: the one of `-n`, or with `-A` every namespace
    /// an object was read in.
    pub namespaces: Vec<String>,
    /// Kinds that could not be read (no rights, not served), and why.
    pub unreadable: Vec<String>,
    /// What the containers use now, from `metrics.k8s.io`: None when it is not served,
    /// or not read because no container of the scope has requests or limits.
    pub usage: Option<Usage>,
    /// Said once under the report: what was not looked at, and why (not an error).
    pub notes: Vec<String>,
}

/// (namespace, pod) → container → (cores, bytes), one read of `metrics.k8s.io`.
pub type Usage = crate::ai::rightsize::Sample;

/// The short kind kdeck and kubectl write in `KIND/NAME`.
pub fn short_kind(kind: &str) -> String {
    match kind {
        "Deployment" => "deploy".into(),
        "StatefulSet" => "sts".into(),
        "DaemonSet" => "ds".into(),
        "ReplicaSet" => "rs".into(),
        "PersistentVolumeClaim" => "pvc".into(),
        other => other.to_lowercase(),
    }
}

pub fn name(obj: &Value) -> &str {
    obj["metadata"]["name"].as_str().unwrap_or_default()
}

pub fn namespace(obj: &Value) -> &str {
    obj["metadata"]["namespace"].as_str().unwrap_or_default()
}

/// `deploy/api`, `pod/api-7f9c-x2`, `configmap/api-config`.
pub fn reference(obj: &Value) -> String {
    format!("{}/{}", short_kind(obj["kind"].as_str().unwrap_or_default()), name(obj))
}

impl Scene {
    /// Objects of a kind in every namespace of the scope.
    pub fn all<'a>(&'a self, group: &'a str, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.namespaces.iter().flat_map(move |ns| self.objects.list(group, kind, ns))
    }

    pub fn in_namespace<'a>(&'a self, group: &'a str, kind: &'a str, namespace: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.objects.list(group, kind, namespace)
    }

    pub fn get(&self, group: &str, kind: &str, namespace: &str, name: &str) -> Option<&Value> {
        self.objects.get(group, kind, namespace, name)
    }

    /// The workload a pod belongs to, followed up its owners (pod → ReplicaSet →
    /// Deployment, Job → CronJob); the pod itself when it has no owner.
    pub fn workload_of<'a>(&'a self, pod: &'a Value) -> &'a Value {
        let mut current = pod;
        for _ in 0..3 {
            let Some(owner) = controller_of(current) else { break };
            let (group, kind) = (readiness::group_of(owner["apiVersion"].as_str().unwrap_or_default()), owner["kind"].as_str().unwrap_or_default());
            match self.get(group, kind, namespace(current), owner["name"].as_str().unwrap_or_default()) {
                Some(next) => current = next,
                None => break,
            }
        }
        current
    }

    /// The pods whose workload is `workload` (its pods, or its ReplicaSets' or Jobs' pods).
    pub fn pods_of<'a>(&'a self, workload: &'a Value) -> impl Iterator<Item = &'a Value> + 'a {
        let uid = workload["metadata"]["uid"].clone();
        self.in_namespace("", "Pod", namespace(workload)).filter(move |pod| self.workload_of(pod)["metadata"]["uid"] == uid)
    }

    /// Services in the pod's namespace whose selector matches its labels.
    pub fn services_of<'a>(&'a self, pod: &'a Value) -> impl Iterator<Item = &'a Value> + 'a {
        self.in_namespace("", "Service", namespace(pod))
            .filter(move |svc| svc["spec"]["selector"].as_object().is_some_and(|s| selector::map_selects(s, &pod["metadata"]["labels"])))
    }

    /// Services selecting any pod of the workload, or any pod its template would make.
    pub fn services_of_workload<'a>(&'a self, workload: &'a Value) -> Vec<&'a Value> {
        let template_labels = &workload["spec"]["template"]["metadata"]["labels"];
        let labels = if template_labels.is_object() { template_labels } else { &workload["metadata"]["labels"] };
        self.in_namespace("", "Service", namespace(workload))
            .filter(|svc| svc["spec"]["selector"].as_object().is_some_and(|s| selector::map_selects(s, labels)))
            .collect()
    }

    /// Ingresses with a backend (a rule's or the default) naming the Service.
    pub fn ingresses_of<'a>(&'a self, service: &'a Value) -> impl Iterator<Item = &'a Value> + 'a {
        self.in_namespace("networking.k8s.io", "Ingress", namespace(service))
            .filter(move |ingress| backends(ingress).iter().any(|b| b["service"]["name"].as_str() == Some(name(service))))
    }
}

/// The owner reference with `controller: true`, if any.
pub fn controller_of(obj: &Value) -> Option<&Value> {
    obj["metadata"]["ownerReferences"].as_array()?.iter().find(|o| o["controller"] == true)
}

/// Every backend an Ingress names: the default backend and each rule path's.
pub fn backends(ingress: &Value) -> Vec<&Value> {
    let mut out: Vec<&Value> = Vec::new();
    if ingress["spec"]["defaultBackend"].is_object() {
        out.push(&ingress["spec"]["defaultBackend"]);
    }
    for rule in ingress["spec"]["rules"].as_array().into_iter().flatten() {
        for path in rule["http"]["paths"].as_array().into_iter().flatten() {
            out.push(&path["backend"]);
        }
    }
    out
}

/// A timestamp field (RFC 3339).
pub fn time(value: &Value) -> Option<Timestamp> {
    value.as_str()?.parse().ok()
}

/// "45s", "3m", "2h", "4d": how long ago, as kubectl writes ages.
pub fn age(now: Timestamp, then: Timestamp) -> String {
    let seconds = now.as_second().saturating_sub(then.as_second()).max(0);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

impl Scene {
    /// Events about an object (core/v1 and events.k8s.io/v1), newest first.
    pub fn events_about<'a>(&'a self, obj: &Value) -> Vec<&'a Value> {
        readiness::events_about(obj, &self.objects)
    }

    /// The newest event about `obj` whose reason is one of `reasons`, as evidence text:
    /// `Failed ×12, 3m ago: Failed to pull image …`.
    pub fn event_text(&self, obj: &Value, reasons: &[&str]) -> Option<String> {
        let event = self.events_about(obj).into_iter().find(|e| reasons.iter().any(|r| e["reason"] == *r))?;
        let count = event["count"].as_i64().or(event["series"]["count"].as_i64()).unwrap_or(1);
        let message = event["message"].as_str().or(event["note"].as_str()).unwrap_or_default().trim();
        let when = readiness::event_time(event).map(|t| format!(", {} ago", age(self.now, t))).unwrap_or_default();
        let times = if count > 1 { format!(" ×{count}") } else { String::new() };
        Some(format!("{}{times}{when}: {message}", event["reason"].as_str().unwrap_or_default()))
    }
}
