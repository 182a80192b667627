//! Named fixtures a sandbox can start with (`kdeck sandbox start --seed NAME`):
//! manifests kept as YAML beside this file (`demo.yaml`), and generated ones
//! (`scale:N`).

use serde_json::{Value, json};

use crate::rest::{Rest, Subresource, WriteOptions};

pub const KNOWN: &[&str] = &["demo", "scale:N"];

/// Scenarios written as manifests, by name.
const MANIFESTS: &[(&str, &str)] = &[("demo", include_str!("demo.yaml"))];

pub fn load(rest: &Rest, name: &str) -> Result<(), String> {
    if let Some((_, manifests)) = MANIFESTS.iter().find(|(n, _)| *n == name) {
        return apply_manifests(rest, name, manifests);
    }
    if let Some(count) = name.strip_prefix("scale:") {
        let count: usize = count.parse().map_err(|_| format!("scenario {name:?}: N must be a whole number, as in scale:20000"))?;
        return scale(rest, count);
    }
    Err(format!("unknown scenario {name:?}; known scenarios: {}", KNOWN.join(", ")))
}

/// Creates each document of a multi-document YAML file (objects that exist are kept).
fn apply_manifests(rest: &Rest, scenario: &str, manifests: &str) -> Result<(), String> {
    let docs: Vec<Value> = serde_saphyr::from_str_multiple(manifests).map_err(|e| format!("scenario {scenario}: {e}"))?;
    for doc in docs.into_iter().filter(|d| d.is_object()) {
        let api_version = doc["apiVersion"].as_str().unwrap_or_default().to_string();
        let kind = doc["kind"].as_str().unwrap_or_default().to_string();
        let info = rest.catalogue.find_kind(&api_version, &kind).ok_or_else(|| format!("scenario {scenario}: {api_version} {kind} is not served"))?;
        let ns = doc["metadata"]["namespace"].as_str().map(str::to_string);
        create(rest, &info.plural, &info.group, &info.version, ns.as_deref(), doc)?;
    }
    Ok(())
}

fn create(rest: &Rest, plural: &str, group: &str, version: &str, ns: Option<&str>, obj: Value) -> Result<Value, String> {
    let info = rest.catalogue.find(group, version, plural).ok_or_else(|| format!("{plural} is not served"))?;
    match rest.create(&info, ns, obj, &WriteOptions::default()) {
        Ok(v) => Ok(v),
        Err(e) if e.code == 409 => Ok(Value::Null),
        Err(e) => Err(e.message),
    }
}

/// `scale:N`: N pods in namespace `scale` with a realistic mix of states, for benchmarks.
fn scale(rest: &Rest, count: usize) -> Result<(), String> {
    create(rest, "namespaces", "", "v1", None, json!({"metadata": {"name": "scale"}}))?;
    let pods = rest.catalogue.find("", "v1", "pods").ok_or("pods are not served")?;
    for i in 0..count {
        let name = format!("app-{}-{i:05}", i % 50);
        let pod = json!({
            "metadata": {"name": name, "labels": {"app": format!("app-{}", i % 50), "tier": if i % 3 == 0 { "web" } else { "worker" }}},
            "spec": {"containers": [{"name": "main", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}], "nodeName": "scale-node"},
        });
        let created = create(rest, "pods", "", "v1", Some("scale"), pod)?;
        if created.is_null() {
            continue;
        }
        let mut with_status = created;
        with_status["status"] = status_for(i, &with_status["metadata"]["creationTimestamp"]);
        rest.update(&pods, Some("scale"), &name, with_status, Subresource::Status, &WriteOptions::default()).map_err(|e| e.message)?;
    }
    Ok(())
}

/// 90% Running, then Pending, Succeeded, Evicted, Error and OOMKilled in turn.
fn status_for(i: usize, started: &Value) -> Value {
    let running = json!({"running": {"startedAt": started}});
    let (phase, reason, state, ready) = match i % 20 {
        0 => ("Pending", None, json!({"waiting": {"reason": "ContainerCreating"}}), false),
        1 => ("Succeeded", None, json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": started}}), false),
        2 if i % 40 == 2 => {
            ("Failed", Some("Evicted"), json!({"terminated": {"exitCode": 137, "reason": "Error", "startedAt": started, "finishedAt": started}}), false)
        }
        2 => ("Failed", None, json!({"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": started, "finishedAt": started}}), false),
        _ => ("Running", None, running, true),
    };
    let mut status = json!({
        "phase": phase,
        "podIP": format!("10.244.{}.{}", i / 250 % 250, i % 250 + 1),
        "hostIP": "172.18.0.2",
        "startTime": started,
        "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }, "lastTransitionTime": started}],
        "containerStatuses": [{"name": "main", "image": "nginx:1.27", "imageID": "", "ready": ready, "started": ready, "restartCount": 0, "state": state}],
    });
    if let Some(reason) = reason {
        status["reason"] = json!(reason);
        status["message"] = json!("The node was low on resource: memory. Threshold quantity: 100Mi, available: 52Mi.");
    }
    status
}

/// Whether `name` is a scenario this sandbox can load (checked before starting).
pub fn is_known(name: &str) -> bool {
    MANIFESTS.iter().any(|(n, _)| *n == name) || name.strip_prefix("scale:").is_some_and(|n| n.parse::<usize>().is_ok())
}
