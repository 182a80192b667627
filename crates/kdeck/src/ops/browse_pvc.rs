//! Looking inside a PersistentVolumeClaim: an ephemeral pod mounts the claim at
//! `/data` (read-only unless asked), kdeck attaches a shell or runs a command in
//! it, and deletes the pod on every way out — the command ending, Ctrl-C,
//! SIGTERM, SIGHUP, a failed start, the timeout. A pod left by a killed kdeck
//! carries an expiry annotation and its own deadline; later runs sweep it, and
//! `--cleanup` removes every one.

use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;
use tokio::time::Instant;

use crate::cluster::delete::{self, Deleted, Precondition};
use crate::cluster::target::{StartState, start_state};
use crate::cluster::{Cluster, names, wait};
use crate::error::{Error, ExitCode, Result};

pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by=kdeck";
pub use crate::cluster::PURPOSE_LABEL;
pub const PURPOSE: &str = "browse-pvc";
pub const CLAIM_LABEL: &str = "kdeck.dev/claim";
pub const EXPIRES_AT: &str = "kdeck.dev/expires-at";
const CONTAINER: &str = "browse";
/// Where the claim is mounted in the pod.
pub const MOUNT_PATH: &str = "/data";

#[derive(Clone, Debug)]
pub struct Options {
    pub claim: String,
    pub namespace: String,
    pub read_write: bool,
    pub image: String,
    pub user: i64,
    /// How long the pod may live (and how long starting may take).
    pub timeout: Duration,
}

/// The label selector of every browse pod.
pub fn selector() -> String {
    format!("{MANAGED_BY},{PURPOSE_LABEL}={PURPOSE}")
}

/// Where the pod has to run: on the node of the pod using a ReadWriteOnce claim.
#[derive(Debug, Default, PartialEq)]
pub struct Placement {
    pub node: Option<String>,
    /// Why, for the user.
    pub note: Option<String>,
}

/// Checks the claim and its users: a ReadWriteOncePod claim in use is refused; a
/// ReadWriteOnce claim in use pins the pod to that pod's node.
pub fn placement(claim: &PersistentVolumeClaim, pods: &[Pod]) -> Result<Placement> {
    let name = claim.name_any();
    let modes: Vec<String> = claim.spec.as_ref().and_then(|s| s.access_modes.clone()).unwrap_or_default();
    let users: Vec<&Pod> = pods
        .iter()
        .filter(|p| !matches!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed")))
        .filter(|p| {
            p.spec
                .as_ref()
                .and_then(|s| s.volumes.as_ref())
                .is_some_and(|v| v.iter().any(|v| v.persistent_volume_claim.as_ref().is_some_and(|c| c.claim_name == name)))
        })
        .collect();
    let Some(user) = users.first() else { return Ok(Placement::default()) };
    if modes.iter().any(|m| m == "ReadWriteOncePod") {
        return Err(Error::failure(format!("claim {name} is ReadWriteOncePod and pod {} uses it; no other pod can mount it", user.name_any()))
            .hint(format!("stop {} first (scale its workload to 0), then browse the claim", user.name_any())));
    }
    let only_once = !modes.is_empty() && modes.iter().all(|m| m == "ReadWriteOnce");
    let node = user.spec.as_ref().and_then(|s| s.node_name.clone());
    if only_once && let Some(node) = node {
        let note = format!("claim {name} is ReadWriteOnce and mounted by pod {} on node {node}: the browse pod runs on that node too", user.name_any());
        return Ok(Placement { node: Some(node), note: Some(note) });
    }
    Ok(Placement::default())
}

/// A name no other browse pod has: `kdeck-browse-<claim>-<5 characters>`.
pub fn pod_name(claim: &str) -> String {
    let suffix = names::random_suffix();
    let claim: String = claim.chars().take(63 - "kdeck-browse--xxxxx".len()).collect();
    format!("kdeck-browse-{}-{suffix}", claim.trim_end_matches(['-', '.']))
}

/// The pod: the claim at /data, a restricted security context, a deadline.
pub fn pod_manifest(name: &str, options: &Options, placement: &Placement, expires_at: Timestamp) -> Pod {
    let seconds = options.timeout.as_secs().max(1);
    let mut spec = json!({
        "restartPolicy": "Never",
        "activeDeadlineSeconds": seconds,
        "terminationGracePeriodSeconds": 1,
        "securityContext": {"runAsNonRoot": true, "runAsUser": options.user, "runAsGroup": options.user, "fsGroup": options.user, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{
            "name": CONTAINER,
            "image": options.image,
            "command": ["sleep", seconds.to_string()],
            "workingDir": MOUNT_PATH,
            "volumeMounts": [{"name": "data", "mountPath": MOUNT_PATH, "readOnly": !options.read_write}],
            "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}},
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "128Mi"}},
        }],
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": options.claim, "readOnly": !options.read_write}}],
    });
    if let Some(node) = &placement.node {
        spec["nodeName"] = json!(node);
    }
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/managed-by": "kdeck", PURPOSE_LABEL: PURPOSE, CLAIM_LABEL: options.claim},
            "annotations": {EXPIRES_AT: expires_at.to_string()},
        },
        "spec": spec,
    }))
    .expect("the browse pod manifest is a valid Pod")
}

/// Deletes browse pods in `namespace` (None: all) — every one, or only expired ones.
/// Returns the names deleted.
pub async fn sweep(cluster: &Cluster, namespace: Option<&str>, only_expired: bool) -> Result<Vec<String>> {
    let api: Api<Pod> = match namespace {
        Some(ns) => Api::namespaced(cluster.client.clone(), ns),
        None => Api::all(cluster.client.clone()),
    };
    let pods = api.list(&ListParams::default().labels(&selector())).await.map_err(|e| cluster.error("listing browse pods", e))?.items;
    let now = Timestamp::now();
    let mut deleted = Vec::new();
    for pod in pods {
        let expired = pod.annotations().get(EXPIRES_AT).and_then(|t| t.parse::<Timestamp>().ok()).is_none_or(|t| t <= now);
        if only_expired && !expired {
            continue;
        }
        let ns = pod.namespace().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(cluster.client.clone(), &ns);
        // The pod as listed: one renewed or replaced since is not swept.
        match delete::planned(&api, &pod.name_any(), &Precondition::exact(&pod), &DeleteParams::default().grace_period(0)).await {
            Ok(Deleted::Yes) => deleted.push(format!("{ns}/{}", pod.name_any())),
            Ok(Deleted::AlreadyGone | Deleted::Changed(_)) => {}
            Err(e) => return Err(cluster.error(&format!("deleting browse pod {ns}/{}", pod.name_any()), e)),
        }
    }
    Ok(deleted)
}

/// A browse pod that exists until dropped or deleted: the guard of every way out.
pub struct BrowsePod {
    api: Api<Pod>,
    pub name: String,
    /// The pod kdeck created: only it is deleted, never another of the same name.
    uid: Precondition,
    deleted: bool,
}

impl BrowsePod {
    /// Checks the claim, sweeps expired browse pods, creates the pod and waits until
    /// it runs. Any failure after creation deletes it.
    pub async fn start(cluster: &Cluster, options: &Options, mut say: impl FnMut(&str)) -> Result<BrowsePod> {
        names::validate_name("PersistentVolumeClaim", &options.claim)?;
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(cluster.client.clone(), &options.namespace);
        let Some(claim) = claims.get_opt(&options.claim).await.map_err(|e| cluster.error(&format!("reading claim {}", options.claim), e))? else {
            let hint = crate::cluster::existing_names(&claims, "claims", &format!("in namespace {}", options.namespace)).await;
            return Err(
                Error::not_found(format!("claim {:?} not found in namespace {} (context {})", options.claim, options.namespace, cluster.context)).hint(hint)
            );
        };
        let api: Api<Pod> = Api::namespaced(cluster.client.clone(), &options.namespace);
        let pods = api.list(&ListParams::default()).await.map_err(|e| cluster.error("listing pods", e))?.items;
        let placement = placement(&claim, &pods)?;
        if let Some(note) = &placement.note {
            say(note);
        }
        for swept in sweep(cluster, Some(&options.namespace), true).await? {
            say(&format!("removed expired browse pod {swept}"));
        }
        let name = pod_name(&options.claim);
        let expires_at = Timestamp::now().checked_add(jiff_span(options.timeout)).unwrap_or_else(|_| Timestamp::now());
        let manifest = pod_manifest(&name, options, &placement, expires_at);
        let created = api.create(&PostParams::default(), &manifest).await.map_err(|e| cluster.error(&format!("creating browse pod {name}"), e))?;
        let mut pod = BrowsePod { api, name, uid: Precondition::uid(created.uid().unwrap_or_default()), deleted: false };
        say(&format!(
            "started pod {} mounting claim {} at {MOUNT_PATH} ({})",
            pod.name,
            options.claim,
            if options.read_write { "read-write" } else { "read-only" }
        ));
        if let Err(e) = pod.wait_running(cluster, Instant::now() + options.timeout.min(Duration::from_secs(300))).await {
            pod.delete().await;
            return Err(e);
        }
        Ok(pod)
    }

    async fn wait_running(&self, cluster: &Cluster, deadline: Instant) -> Result<()> {
        let resource = kube::api::ApiResource::erase::<Pod>(&());
        let api: Api<kube::api::DynamicObject> = Api::namespaced_with(cluster.client.clone(), self.api_namespace(), &resource);
        let keys = std::collections::BTreeSet::from([(self.api_namespace().to_string(), self.name.clone())]);
        let settled = |p: &kube::api::DynamicObject| start_state(&p.data["status"]) != StartState::Starting;
        let outcome = wait::until_settled(&api, &keys, deadline, settled, |_| {}).await;
        let Some(pod) = outcome.settled.values().next() else {
            return Err(Error::new(ExitCode::Timeout, format!("browse pod {} did not start in time", self.name)));
        };
        match start_state(&pod.data["status"]) {
            StartState::Running => Ok(()),
            StartState::Failed(reason) => Err(Error::failure(format!("browse pod {} did not start: {reason}", self.name))),
            // A browse pod is wanted now, not after a node scales up.
            StartState::Unschedulable(why) => Err(Error::failure(format!("browse pod {} did not start: Unschedulable: {why}", self.name))),
            StartState::Starting => unreachable!("settled pods are not starting"),
        }
    }

    fn api_namespace(&self) -> &str {
        self.api.namespace().unwrap_or("default")
    }

    /// Deletes the pod now (idempotent; a pod already gone is fine).
    pub async fn delete(&mut self) {
        if !self.deleted {
            let _ = delete::planned(&self.api, &self.name, &self.uid, &DeleteParams::default().grace_period(0)).await;
            self.deleted = true;
        }
    }
}

impl Drop for BrowsePod {
    /// The last resort (a panic, an early return): delete without waiting for the answer.
    fn drop(&mut self) {
        if !self.deleted {
            let (api, name, uid) = (self.api.clone(), self.name.clone(), self.uid.clone());
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move { delete::planned(&api, &name, &uid, &DeleteParams::default().grace_period(0)).await });
            }
        }
    }
}

fn jiff_span(d: Duration) -> k8s_openapi::jiff::SignedDuration {
    k8s_openapi::jiff::SignedDuration::try_from(d).unwrap_or(k8s_openapi::jiff::SignedDuration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(modes: &[&str]) -> PersistentVolumeClaim {
        serde_json::from_value(json!({"metadata": {"name": "data"}, "spec": {"accessModes": modes}})).unwrap()
    }

    fn user(name: &str, node: &str, phase: &str) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"nodeName": node, "containers": [],
            "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]}, "status": {"phase": phase}}))
        .unwrap()
    }

    #[test]
    fn claims_in_use_pin_or_refuse() {
        assert_eq!(placement(&claim(&["ReadWriteOnce"]), &[]).unwrap(), Placement::default());
        let pinned = placement(&claim(&["ReadWriteOnce"]), &[user("app-0", "node-2", "Running")]).unwrap();
        assert_eq!(pinned.node.as_deref(), Some("node-2"));
        assert!(pinned.note.unwrap().contains("app-0"));
        assert_eq!(placement(&claim(&["ReadWriteMany"]), &[user("app-0", "node-2", "Running")]).unwrap().node, None);
        assert_eq!(placement(&claim(&["ReadWriteOnce"]), &[user("done", "node-2", "Succeeded")]).unwrap().node, None, "finished pods do not hold it");
        let refused = placement(&claim(&["ReadWriteOncePod"]), &[user("app-0", "node-2", "Running")]).unwrap_err();
        assert!(refused.message.contains("pod app-0"), "{}", refused.message);
    }

    #[test]
    fn pods_are_named_uniquely_and_validly() {
        let (a, b) = (pod_name("gatus-data"), pod_name("gatus-data"));
        assert!(a.starts_with("kdeck-browse-gatus-data-") && a.len() == "kdeck-browse-gatus-data-".len() + 5, "{a}");
        assert_ne!(a, b);
        let long = pod_name(&"x".repeat(200));
        assert!(long.len() <= 63 && names::validate_namespace(&long).is_ok(), "{long}");
    }

    #[test]
    fn start_failures_are_recognised() {
        assert_eq!(start_state(&json!({"phase": "Running"})), StartState::Running);
        assert_eq!(start_state(&json!({"phase": "Pending"})), StartState::Starting);
        let pull =
            json!({"phase": "Pending", "containerStatuses": [{"state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}}]});
        assert!(matches!(start_state(&pull), StartState::Failed(r) if r.starts_with("ImagePullBackOff")));
    }
}
