//! The StatefulSet controller: pods `name-0 … name-(n-1)` with stable names and
//! hostnames, one claim per volumeClaimTemplate and ordinal (kept when pods go),
//! created in order under OrderedReady (each waits for the previous to be Ready)
//! or all at once under Parallel, scaled down from the highest ordinal, and rolled
//! from the highest ordinal down when the template changes.

use std::time::Duration;

use serde_json::{Value, json};

use super::events::{self, Source};
use super::objects::{self, name, namespace};
use super::runtime::{Controller, ObjectRef, every, self_or_controller};
use crate::resources::ResourceKey;
use crate::rest::{DeleteOptions, Rest, WriteOptions};
use crate::store::Change;

const SOURCE: Source = Source { component: "statefulset-controller", host: None };
const REVISION_LABEL: &str = "controller-revision-hash";

pub struct StatefulSets;

fn statefulsets() -> ResourceKey {
    ResourceKey::new("apps", "statefulsets")
}

impl Controller for StatefulSets {
    fn keys_for(&self, _rest: &Rest, change: &Change) -> Vec<ObjectRef> {
        self_or_controller(change, &statefulsets(), "StatefulSet", &ResourceKey::new("", "pods"))
    }

    fn all_keys(&self, rest: &Rest) -> Vec<ObjectRef> {
        every(rest, &statefulsets())
    }

    fn reconcile(&self, rest: &Rest, key: &ObjectRef) -> Option<Duration> {
        let info = rest.catalogue.find("apps", "v1", "statefulsets")?;
        let pods_info = rest.catalogue.find("", "v1", "pods")?;
        let sts = rest.get(&info, Some(&key.namespace), &key.name).ok()?;
        if objects::is_deleting(&sts) {
            return None;
        }
        let replicas = sts["spec"]["replicas"].as_i64().unwrap_or(1).max(0) as usize;
        let revision = format!("{}-{}", name(&sts), super::deployment::template_hash(&sts["spec"]["template"]));
        let ordered = sts["spec"]["podManagementPolicy"] != "Parallel";
        let pods = objects::controlled_pods(rest, &sts);
        let pod_at = |i: usize| pods.iter().find(|p| name(p) == pod_name(&sts, i));
        // Create missing pods in order (OrderedReady stops at the first one not Ready).
        let mut retry = None;
        for i in 0..replicas {
            match pod_at(i) {
                Some(pod) => {
                    if ordered && (objects::is_deleting(pod) || !objects::is_pod_ready(pod)) {
                        break;
                    }
                }
                None => {
                    ensure_claims(rest, &sts, i);
                    match rest.create(&pods_info, Some(namespace(&sts)), pod_for(&sts, i, &revision), &WriteOptions::default()) {
                        Ok(_) => events::normal(
                            rest,
                            &sts,
                            &SOURCE,
                            "SuccessfulCreate",
                            &format!("create Pod {} in StatefulSet {} successful", pod_name(&sts, i), name(&sts)),
                        ),
                        Err(e) => {
                            let message = format!("create Pod {} in StatefulSet {} failed error: {e}", pod_name(&sts, i), name(&sts));
                            events::warning(rest, &sts, &SOURCE, "FailedCreate", &message);
                            retry = Some(objects::CREATE_RETRY);
                            break;
                        }
                    }
                    if ordered {
                        break;
                    }
                }
            }
        }
        // Scale down from the highest ordinal, one at a time when ordered.
        let mut extra: Vec<&Value> = pods.iter().filter(|p| ordinal(&sts, p).is_some_and(|o| o >= replicas) && !objects::is_deleting(p)).collect();
        extra.sort_by_key(|p| std::cmp::Reverse(ordinal(&sts, p)));
        for pod in extra.iter().take(if ordered { 1 } else { extra.len() }) {
            if rest.delete(&pods_info, Some(namespace(pod)), name(pod), &DeleteOptions::default()).is_ok() {
                events::normal(rest, &sts, &SOURCE, "SuccessfulDelete", &format!("delete Pod {} in StatefulSet {} successful", name(pod), name(&sts)));
            }
        }
        // Roll: replace the highest-ordinal outdated pod once every pod is Ready.
        let all_ready = (0..replicas).all(|i| pod_at(i).is_some_and(objects::is_pod_ready));
        if all_ready && sts["spec"]["updateStrategy"]["type"] != "OnDelete" {
            let partition = sts["spec"]["updateStrategy"]["rollingUpdate"]["partition"].as_i64().unwrap_or(0).max(0) as usize;
            if let Some(outdated) = (partition..replicas).rev().filter_map(pod_at).find(|p| p["metadata"]["labels"][REVISION_LABEL] != revision.as_str()) {
                let _ = rest.delete(&pods_info, Some(namespace(outdated)), name(outdated), &DeleteOptions::default());
            }
        }
        write_status(rest, &info, &sts, &revision, replicas);
        retry
    }
}

fn pod_name(sts: &Value, ordinal: usize) -> String {
    format!("{}-{ordinal}", name(sts))
}

fn ordinal(sts: &Value, pod: &Value) -> Option<usize> {
    name(pod).strip_prefix(&format!("{}-", name(sts)))?.parse().ok()
}

fn claim_name(template: &Value, sts: &Value, ordinal: usize) -> String {
    format!("{}-{}", name(template), pod_name(sts, ordinal))
}

/// Creates the ordinal's claims from volumeClaimTemplates if they do not exist.
/// They are not owned by the pod or the StatefulSet, so they outlive both (Retain).
fn ensure_claims(rest: &Rest, sts: &Value, ordinal: usize) {
    let Some(info) = rest.catalogue.find("", "v1", "persistentvolumeclaims") else { return };
    for template in sts["spec"]["volumeClaimTemplates"].as_array().into_iter().flatten() {
        let claim = claim_name(template, sts, ordinal);
        if rest.get(&info, Some(namespace(sts)), &claim).is_ok() {
            continue;
        }
        let mut labels = sts["spec"]["selector"]["matchLabels"].clone();
        if !labels.is_object() {
            labels = json!({});
        }
        let pvc = json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": claim, "namespace": namespace(sts), "labels": labels},
            "spec": template["spec"],
        });
        if rest.create(&info, Some(namespace(sts)), pvc, &WriteOptions::default()).is_ok() {
            events::normal(
                rest,
                sts,
                &SOURCE,
                "SuccessfulCreate",
                &format!("create Claim {claim} Pod {} in StatefulSet {} success", pod_name(sts, ordinal), name(sts)),
            );
        }
    }
}

fn pod_for(sts: &Value, ordinal: usize, revision: &str) -> Value {
    let template = &sts["spec"]["template"];
    let mut metadata = if template["metadata"].is_object() { template["metadata"].clone() } else { json!({}) };
    let name = pod_name(sts, ordinal);
    metadata["name"] = json!(name);
    metadata["labels"]["statefulset.kubernetes.io/pod-name"] = json!(name);
    metadata["labels"]["apps.kubernetes.io/pod-index"] = json!(ordinal.to_string());
    metadata["labels"][REVISION_LABEL] = json!(revision);
    metadata["ownerReferences"] = json!([objects::controller_reference(sts)]);
    let mut spec = template["spec"].clone();
    spec["hostname"] = json!(name);
    if let Some(service) = sts["spec"]["serviceName"].as_str().filter(|s| !s.is_empty()) {
        spec["subdomain"] = json!(service);
    }
    let mut volumes = spec["volumes"].as_array().cloned().unwrap_or_default();
    for template in sts["spec"]["volumeClaimTemplates"].as_array().into_iter().flatten() {
        volumes.retain(|v| v["name"] != template["metadata"]["name"]);
        volumes.push(json!({"name": template["metadata"]["name"], "persistentVolumeClaim": {"claimName": claim_name(template, sts, ordinal)}}));
    }
    if !volumes.is_empty() {
        spec["volumes"] = Value::Array(volumes);
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec})
}

fn write_status(rest: &Rest, info: &crate::resources::ResourceInfo, sts: &Value, revision: &str, replicas: usize) {
    let pods: Vec<Value> = objects::controlled_pods(rest, sts).into_iter().filter(|p| !objects::is_deleting(p)).collect();
    let updated = pods.iter().filter(|p| p["metadata"]["labels"][REVISION_LABEL] == revision).count();
    let ready = pods.iter().filter(|p| objects::is_pod_ready(p)).count();
    let mut next = sts.clone();
    let status = &mut next["status"];
    // Once every pod runs the new template, the update revision becomes current.
    let current = if updated == replicas && pods.len() == replicas {
        revision.to_string()
    } else {
        sts["status"]["currentRevision"].as_str().unwrap_or(revision).to_string()
    };
    status["observedGeneration"] = sts["metadata"]["generation"].clone();
    status["replicas"] = json!(pods.len());
    status["readyReplicas"] = json!(ready);
    status["availableReplicas"] = json!(ready);
    status["currentReplicas"] = json!(pods.iter().filter(|p| p["metadata"]["labels"][REVISION_LABEL] == current.as_str()).count());
    status["updatedReplicas"] = json!(updated);
    status["currentRevision"] = json!(current);
    status["updateRevision"] = json!(revision);
    status["collisionCount"] = json!(0);
    objects::write_status(rest, info, sts, next);
}
