//! The Deployment controller: one ReplicaSet per pod template (named by its
//! pod-template-hash), rolled over by the strategy — RollingUpdate within
//! maxSurge/maxUnavailable, or Recreate — and the status and conditions that
//! `kubectl rollout status` reads.

use std::time::Duration;

use serde_json::{Value, json};

use super::events::{self, Source};
use super::objects::{self, name, namespace};
use super::runtime::{Controller, ObjectRef, every, self_or_controller};
use crate::resources::{ResourceInfo, ResourceKey};
use crate::rest::{DeleteOptions, Rest, WriteOptions};
use crate::store::Change;

const SOURCE: Source = Source { component: "deployment-controller", host: None };
const REVISION: &str = "deployment.kubernetes.io/revision";
const HASH_LABEL: &str = "pod-template-hash";

pub struct Deployments;

fn deployments() -> ResourceKey {
    ResourceKey::new("apps", "deployments")
}

impl Controller for Deployments {
    fn keys_for(&self, _rest: &Rest, change: &Change) -> Vec<ObjectRef> {
        self_or_controller(change, &deployments(), "Deployment", &ResourceKey::new("apps", "replicasets"))
    }

    fn all_keys(&self, rest: &Rest) -> Vec<ObjectRef> {
        every(rest, &deployments())
    }

    fn reconcile(&self, rest: &Rest, key: &ObjectRef) -> Option<Duration> {
        let info = rest.catalogue.find("apps", "v1", "deployments")?;
        let rs_info = rest.catalogue.find("apps", "v1", "replicasets")?;
        let deploy = rest.get(&info, Some(&key.namespace), &key.name).ok()?;
        if objects::is_deleting(&deploy) {
            return None;
        }
        let hash = template_hash(&deploy["spec"]["template"]);
        let mut sets = owned_replicasets(rest, &deploy);
        let revision = |rs: &Value| rs["metadata"]["annotations"][REVISION].as_str().and_then(|r| r.parse::<i64>().ok()).unwrap_or(0);
        let max_revision = sets.iter().map(revision).max().unwrap_or(0);
        let new_rs = match sets.iter().position(|rs| rs["metadata"]["labels"][HASH_LABEL] == hash.as_str()) {
            Some(i) => {
                // A rollback to an older template makes it the newest revision again.
                if revision(&sets[i]) < max_revision {
                    let mut next = sets[i].clone();
                    next["metadata"]["annotations"][REVISION] = json!((max_revision + 1).to_string());
                    let rs_name = name(&next).to_string();
                    if let Ok(updated) =
                        rest.update(&rs_info, Some(namespace(&deploy)), &rs_name, next, crate::rest::Subresource::Main, &WriteOptions::default())
                    {
                        sets[i] = updated;
                    }
                }
                sets.remove(i)
            }
            None if deploy["spec"]["paused"] == true => return self.status_only(rest, &info, &deploy, None, &sets),
            None => create_replicaset(rest, &rs_info, &deploy, &hash, max_revision + 1, &sets)?,
        };
        let olds = sets;
        if deploy["spec"]["paused"] != true {
            match deploy["spec"]["strategy"]["type"].as_str() {
                Some("Recreate") => recreate(rest, &rs_info, &deploy, &new_rs, &olds),
                _ => rolling_update(rest, &rs_info, &deploy, &new_rs, &olds),
            }
            clean_up_history(rest, &rs_info, &deploy);
        }
        // Read back what the scaling wrote before reporting.
        let new_rs = rest.get(&rs_info, Some(namespace(&deploy)), name(&new_rs)).unwrap_or(new_rs);
        let olds: Vec<Value> = owned_replicasets(rest, &deploy).into_iter().filter(|rs| name(rs) != name(&new_rs)).collect();
        self.status_only(rest, &info, &deploy, Some(&new_rs), &olds)
    }
}

impl Deployments {
    fn status_only(&self, rest: &Rest, info: &ResourceInfo, deploy: &Value, new_rs: Option<&Value>, olds: &[Value]) -> Option<Duration> {
        let desired = deploy["spec"]["replicas"].as_i64().unwrap_or(1);
        let all: Vec<&Value> = new_rs.into_iter().chain(olds.iter()).collect();
        let sum = |field: &str| all.iter().map(|rs| rs["status"][field].as_i64().unwrap_or(0)).sum::<i64>();
        let (replicas, ready, available) = (sum("replicas"), sum("readyReplicas"), sum("availableReplicas"));
        let updated = new_rs.map(|rs| rs["status"]["replicas"].as_i64().unwrap_or(0)).unwrap_or(0);
        let mut next = deploy.clone();
        let status = &mut next["status"];
        status["observedGeneration"] = deploy["metadata"]["generation"].clone();
        status["replicas"] = json!(replicas);
        status["updatedReplicas"] = json!(updated);
        status["readyReplicas"] = json!(ready);
        status["availableReplicas"] = json!(available);
        status["unavailableReplicas"] = json!((replicas - available).max(0));
        let (_, max_unavailable) = surge_and_unavailable(deploy);
        if available >= desired - max_unavailable {
            objects::set_condition(&mut next, "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.");
        } else {
            objects::set_condition(&mut next, "Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.");
        }
        // The ReplicaSets' failure to create pods, the new one's first (GetReplicaFailures).
        let failure = all.iter().find_map(|rs| objects::condition(rs, "ReplicaFailure").filter(|c| c["status"] == "True")).cloned();
        match failure {
            Some(failure) => {
                let text = |k: &str| failure[k].as_str().unwrap_or_default().to_string();
                objects::set_condition(&mut next, "ReplicaFailure", "True", &text("reason"), &text("message"));
                if let Some(c) = next["status"]["conditions"].as_array_mut().and_then(|cs| cs.iter_mut().find(|c| c["type"] == "ReplicaFailure")) {
                    c["lastUpdateTime"] = c["lastTransitionTime"].clone();
                }
            }
            None => objects::remove_condition(&mut next, "ReplicaFailure"),
        }
        let rs_name = new_rs.map(name).unwrap_or_default();
        let complete = updated == desired && replicas == desired && available == desired && new_rs.is_some();
        let mut recheck = None;
        if complete {
            set_progressing(&mut next, deploy, "True", "NewReplicaSetAvailable", &format!("ReplicaSet \"{rs_name}\" has successfully progressed."));
        } else if deploy["spec"]["paused"] == true {
            set_progressing(&mut next, deploy, "Unknown", "DeploymentPaused", "Deployment is paused");
        } else {
            let deadline = Duration::from_secs(deploy["spec"]["progressDeadlineSeconds"].as_u64().unwrap_or(600));
            let progressing_for = objects::condition(deploy, "Progressing")
                .filter(|c| c["reason"] == "ReplicaSetUpdated" || c["reason"] == "NewReplicaSetCreated")
                .and_then(|c| c["lastUpdateTime"].as_str())
                .and_then(crate::time::parse_rfc3339)
                .map(|t| Duration::from_secs((unix_now() - t).max(0) as u64))
                .unwrap_or(Duration::ZERO);
            if progressing_for > deadline {
                set_progressing(&mut next, deploy, "False", "ProgressDeadlineExceeded", &format!("ReplicaSet \"{rs_name}\" has timed out progressing."));
            } else {
                set_progressing(&mut next, deploy, "True", "ReplicaSetUpdated", &format!("ReplicaSet \"{rs_name}\" is progressing."));
                recheck = Some(deadline.saturating_sub(progressing_for) + Duration::from_secs(1));
            }
        }
        if let Some(rev) = new_rs.and_then(|rs| rs["metadata"]["annotations"][REVISION].as_str())
            && deploy["metadata"]["annotations"][REVISION].as_str() != Some(rev)
        {
            let mut annotated = deploy.clone();
            annotated["metadata"]["annotations"][REVISION] = json!(rev);
            if let Ok(updated) = rest.update(info, Some(namespace(deploy)), name(deploy), annotated, crate::rest::Subresource::Main, &WriteOptions::default()) {
                next["metadata"] = updated["metadata"].clone();
                objects::write_status(rest, info, &updated, next);
                return recheck;
            }
        }
        objects::write_status(rest, info, deploy, next);
        recheck
    }
}

/// Progressing keeps lastUpdateTime while the reason stays, so the deadline can be measured.
fn set_progressing(next: &mut Value, deploy: &Value, status: &str, reason: &str, message: &str) {
    let previous = objects::condition(deploy, "Progressing").cloned();
    objects::set_condition(next, "Progressing", status, reason, message);
    let kept = previous.filter(|p| p["reason"] == reason).and_then(|p| p["lastUpdateTime"].as_str().map(str::to_string)).unwrap_or_else(crate::time::now);
    if let Some(c) = next["status"]["conditions"].as_array_mut().and_then(|cs| cs.iter_mut().find(|c| c["type"] == "Progressing")) {
        c["lastUpdateTime"] = json!(kept);
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// A stable hash of the pod template, encoded like the real controller's (no vowels).
pub fn template_hash(template: &Value) -> String {
    let mut template = template.clone();
    if let Some(labels) = template.get_mut("metadata").and_then(|m| m.get_mut("labels")).and_then(Value::as_object_mut) {
        labels.remove(HASH_LABEL);
    }
    let hash = events::fnv(&serde_json::to_string(&template).unwrap_or_default());
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    hash.to_string().bytes().map(|b| ALPHANUMS[b as usize % ALPHANUMS.len()] as char).collect()
}

/// The ReplicaSets the Deployment controls and is not deleting, oldest first.
fn owned_replicasets(rest: &Rest, deploy: &Value) -> Vec<Value> {
    objects::controlled(rest, deploy, &ResourceKey::new("apps", "replicasets")).into_iter().filter(|rs| !objects::is_deleting(rs)).collect()
}

/// maxSurge and maxUnavailable as pod counts (percentages: surge rounds up, unavailable down).
fn surge_and_unavailable(deploy: &Value) -> (i64, i64) {
    let desired = deploy["spec"]["replicas"].as_i64().unwrap_or(1);
    let rolling = &deploy["spec"]["strategy"]["rollingUpdate"];
    let resolve = |v: &Value, default: &str, round_up: bool| -> i64 {
        match v {
            Value::Number(n) => n.as_i64().unwrap_or(0),
            Value::String(s) if s.ends_with('%') => {
                let pct: f64 = s.trim_end_matches('%').parse().unwrap_or(25.0);
                let exact = desired as f64 * pct / 100.0;
                (if round_up { exact.ceil() } else { exact.floor() }) as i64
            }
            Value::String(s) => s.parse().unwrap_or(0),
            _ => resolve_default(default, desired, round_up),
        }
    };
    let surge = resolve(&rolling["maxSurge"], "25%", true);
    let unavailable = resolve(&rolling["maxUnavailable"], "25%", false);
    if surge == 0 && unavailable == 0 { (0, 1) } else { (surge, unavailable) }
}

fn resolve_default(pct: &str, desired: i64, round_up: bool) -> i64 {
    let exact = desired as f64 * pct.trim_end_matches('%').parse::<f64>().unwrap_or(25.0) / 100.0;
    (if round_up { exact.ceil() } else { exact.floor() }) as i64
}

fn create_replicaset(rest: &Rest, info: &ResourceInfo, deploy: &Value, hash: &str, revision: i64, olds: &[Value]) -> Option<Value> {
    let mut template = deploy["spec"]["template"].clone();
    template["metadata"]["labels"][HASH_LABEL] = json!(hash);
    let mut selector = deploy["spec"]["selector"].clone();
    selector["matchLabels"][HASH_LABEL] = json!(hash);
    let desired = deploy["spec"]["replicas"].as_i64().unwrap_or(1);
    let old_total: i64 = olds.iter().map(|rs| rs["spec"]["replicas"].as_i64().unwrap_or(0)).sum();
    let initial = match deploy["spec"]["strategy"]["type"].as_str() {
        Some("Recreate") if old_total > 0 => 0,
        _ if old_total == 0 => desired,
        _ => (desired + surge_and_unavailable(deploy).0 - old_total).clamp(0, desired),
    };
    let mut labels = template["metadata"]["labels"].clone();
    labels[HASH_LABEL] = json!(hash);
    let rs = json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {
            "name": format!("{}-{hash}", name(deploy)), "namespace": namespace(deploy), "labels": labels,
            "annotations": {REVISION: revision.to_string(), "deployment.kubernetes.io/desired-replicas": desired.to_string(),
                "deployment.kubernetes.io/max-replicas": (desired + surge_and_unavailable(deploy).0).to_string()},
            "ownerReferences": [objects::controller_reference(deploy)],
        },
        "spec": {"replicas": initial, "minReadySeconds": deploy["spec"]["minReadySeconds"].as_i64().unwrap_or(0), "selector": selector, "template": template},
    });
    let created = rest.create(info, Some(namespace(deploy)), rs, &WriteOptions::default()).ok()?;
    events::normal(rest, deploy, &SOURCE, "ScalingReplicaSet", &format!("Scaled up replica set {} from 0 to {initial}", name(&created)));
    Some(created)
}

fn scale(rest: &Rest, info: &ResourceInfo, deploy: &Value, rs: &Value, to: i64) {
    let from = rs["spec"]["replicas"].as_i64().unwrap_or(0);
    if from == to {
        return;
    }
    let mut next = rs.clone();
    next["spec"]["replicas"] = json!(to);
    let desired = deploy["spec"]["replicas"].as_i64().unwrap_or(1);
    next["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] = json!(desired.to_string());
    if objects::write(rest, info, rs, next) {
        let direction = if to > from { "up" } else { "down" };
        events::normal(rest, deploy, &SOURCE, "ScalingReplicaSet", &format!("Scaled {direction} replica set {} from {from} to {to}", name(rs)));
    }
}

fn rolling_update(rest: &Rest, info: &ResourceInfo, deploy: &Value, new_rs: &Value, olds: &[Value]) {
    let desired = deploy["spec"]["replicas"].as_i64().unwrap_or(1);
    let (surge, max_unavailable) = surge_and_unavailable(deploy);
    let spec = |rs: &Value| rs["spec"]["replicas"].as_i64().unwrap_or(0);
    let available = |rs: &Value| rs["status"]["availableReplicas"].as_i64().unwrap_or(0);
    let old_total: i64 = olds.iter().map(spec).sum();
    // Scale the new ReplicaSet up within the surge, or down to the desired count.
    let new_spec = spec(new_rs);
    let target = if new_spec > desired { desired } else { (new_spec + (desired + surge - old_total - new_spec).max(0)).min(desired) };
    scale(rest, info, deploy, new_rs, target);
    // Scale old ReplicaSets down while enough pods stay available.
    let all_available: i64 = available(new_rs) + olds.iter().map(available).sum::<i64>();
    let min_available = desired - max_unavailable;
    let new_unavailable = (target - available(new_rs)).max(0);
    let mut budget = (all_available - min_available).min(target + old_total - min_available - new_unavailable).max(0);
    // Old pods that are not available anyway can go at once.
    for rs in olds {
        let unhealthy = spec(rs) - available(rs);
        let mut to = spec(rs);
        if unhealthy > 0 {
            to -= unhealthy;
        }
        let cut = budget.min(to);
        to -= cut;
        budget -= cut;
        scale(rest, info, deploy, rs, to.max(0));
    }
}

fn recreate(rest: &Rest, info: &ResourceInfo, deploy: &Value, new_rs: &Value, olds: &[Value]) {
    for rs in olds {
        scale(rest, info, deploy, rs, 0);
    }
    let old_pods_left: i64 = olds.iter().map(|rs| rs["status"]["replicas"].as_i64().unwrap_or(0)).sum();
    if old_pods_left == 0 {
        scale(rest, info, deploy, new_rs, deploy["spec"]["replicas"].as_i64().unwrap_or(1));
    }
}

/// Deletes scaled-down old ReplicaSets beyond revisionHistoryLimit, oldest first.
fn clean_up_history(rest: &Rest, info: &ResourceInfo, deploy: &Value) {
    let limit = deploy["spec"]["revisionHistoryLimit"].as_i64().unwrap_or(10).max(0) as usize;
    let hash = template_hash(&deploy["spec"]["template"]);
    let idle: Vec<Value> = owned_replicasets(rest, deploy)
        .into_iter()
        .filter(|rs| {
            rs["metadata"]["labels"][HASH_LABEL] != hash.as_str() && rs["spec"]["replicas"] == 0 && rs["status"]["replicas"].as_i64().unwrap_or(0) == 0
        })
        .collect();
    for rs in idle.iter().take(idle.len().saturating_sub(limit)) {
        let _ = rest.delete(info, Some(namespace(rs)), name(rs), &DeleteOptions::default());
    }
}
