//! The DaemonSet controller: one pod per node that matches the template's
//! nodeSelector, replaced node by node (maxUnavailable at a time) when the template
//! changes, with the status `kubectl rollout status` reads.

use std::time::Duration;

use serde_json::{Value, json};

use super::events::{self, Source};
use super::objects::{self, name, namespace};
use super::runtime::{Controller, ObjectRef, every, self_or_controller};
use crate::resources::ResourceKey;
use crate::rest::{DeleteOptions, ListQuery, Rest, WriteOptions};
use crate::store::{Change, EventType};

const SOURCE: Source = Source { component: "daemonset-controller", host: None };
const REVISION_LABEL: &str = "controller-revision-hash";

pub struct DaemonSets;

fn daemonsets() -> ResourceKey {
    ResourceKey::new("apps", "daemonsets")
}

impl Controller for DaemonSets {
    fn keys_for(&self, rest: &Rest, change: &Change) -> Vec<ObjectRef> {
        // A node coming or going changes where every DaemonSet runs.
        if change.resource == ResourceKey::new("", "nodes") && change.kind != EventType::Modified {
            return every(rest, &daemonsets());
        }
        self_or_controller(change, &daemonsets(), "DaemonSet", &ResourceKey::new("", "pods"))
    }

    fn all_keys(&self, rest: &Rest) -> Vec<ObjectRef> {
        every(rest, &daemonsets())
    }

    fn reconcile(&self, rest: &Rest, key: &ObjectRef) -> Option<Duration> {
        let info = rest.catalogue.find("apps", "v1", "daemonsets")?;
        let pods_info = rest.catalogue.find("", "v1", "pods")?;
        let ds = rest.get(&info, Some(&key.namespace), &key.name).ok()?;
        if objects::is_deleting(&ds) {
            return None;
        }
        let revision = super::deployment::template_hash(&ds["spec"]["template"]);
        let nodes = eligible_nodes(rest, &ds);
        let pods: Vec<Value> = objects::controlled_pods(rest, &ds).into_iter().filter(|p| !objects::is_deleting(p)).collect();
        let on = |node: &str| pods.iter().find(|p| p["spec"]["nodeName"] == node);
        let mut retry = None;
        for node in nodes.iter().filter(|n| on(n).is_none()) {
            match rest.create(&pods_info, Some(namespace(&ds)), pod_for(&ds, node, &revision), &WriteOptions::default()) {
                Ok(_) => events::normal(rest, &ds, &SOURCE, "SuccessfulCreate", &format!("Created pod on node {node}")),
                Err(e) => {
                    events::warning(rest, &ds, &SOURCE, "FailedCreate", &format!("Error creating: {e}"));
                    retry = Some(objects::CREATE_RETRY);
                    break;
                }
            }
        }
        // Pods on nodes that no longer qualify go; outdated ones are replaced a few at a time.
        for pod in pods.iter().filter(|p| !nodes.iter().any(|n| p["spec"]["nodeName"] == n.as_str())) {
            let _ = rest.delete(&pods_info, Some(namespace(pod)), name(pod), &DeleteOptions::default());
        }
        let max_unavailable = ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"].as_i64().unwrap_or(1).max(1) as usize;
        let unavailable = nodes.iter().filter(|n| !on(n).is_some_and(objects::is_pod_ready)).count();
        if ds["spec"]["updateStrategy"]["type"] != "OnDelete" {
            let outdated: Vec<&Value> = pods.iter().filter(|p| p["metadata"]["labels"][REVISION_LABEL] != revision.as_str()).collect();
            for pod in outdated.iter().take(max_unavailable.saturating_sub(unavailable)) {
                let _ = rest.delete(&pods_info, Some(namespace(pod)), name(pod), &DeleteOptions::default());
            }
        }
        write_status(rest, &info, &ds, &nodes, &revision);
        retry
    }
}

fn eligible_nodes(rest: &Rest, ds: &Value) -> Vec<String> {
    let Some(info) = rest.catalogue.find("", "v1", "nodes") else { return Vec::new() };
    let Ok(listing) = rest.list(&info, None, &ListQuery::default()) else { return Vec::new() };
    let selector = ds["spec"]["template"]["spec"]["nodeSelector"].as_object().cloned().unwrap_or_default();
    listing
        .items
        .iter()
        .map(|e| e.value())
        .filter(|n| {
            let labels = objects::labels(n);
            selector.iter().all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str())
        })
        .map(|n| name(&n).to_string())
        .collect()
}

fn pod_for(ds: &Value, node: &str, revision: &str) -> Value {
    let template = &ds["spec"]["template"];
    let mut metadata = if template["metadata"].is_object() { template["metadata"].clone() } else { json!({}) };
    metadata["generateName"] = json!(format!("{}-", name(ds)));
    metadata["labels"][REVISION_LABEL] = json!(revision);
    metadata["ownerReferences"] = json!([objects::controller_reference(ds)]);
    let mut spec = template["spec"].clone();
    // Bound directly, as each pod belongs to one node.
    spec["nodeName"] = json!(node);
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec})
}

fn write_status(rest: &Rest, info: &crate::resources::ResourceInfo, ds: &Value, nodes: &[String], revision: &str) {
    let pods: Vec<Value> = objects::controlled_pods(rest, ds).into_iter().filter(|p| !objects::is_deleting(p)).collect();
    let scheduled = nodes.iter().filter(|n| pods.iter().any(|p| p["spec"]["nodeName"] == n.as_str())).count();
    let ready = pods.iter().filter(|p| objects::is_pod_ready(p)).count();
    let updated = pods.iter().filter(|p| p["metadata"]["labels"][REVISION_LABEL] == revision).count();
    let mut next = ds.clone();
    let status = &mut next["status"];
    status["observedGeneration"] = ds["metadata"]["generation"].clone();
    status["desiredNumberScheduled"] = json!(nodes.len());
    status["currentNumberScheduled"] = json!(scheduled);
    status["numberMisscheduled"] = json!(0);
    status["numberReady"] = json!(ready);
    status["numberAvailable"] = json!(ready);
    status["numberUnavailable"] = json!(nodes.len().saturating_sub(ready));
    status["updatedNumberScheduled"] = json!(updated);
    objects::write_status(rest, info, ds, next);
}
