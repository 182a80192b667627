//! `persistence`: a marker (a random token in `PATH/.kdeck-verify-marker`) is
//! written into a workload's volume by exec, its pod is deleted (with a uid
//! precondition: that pod, not a successor of the same name), and the marker is
//! read back in the replacement once it is ready. What the volume is (a claim, an
//! emptyDir, none) and whether the claim is still the same object (its uid) explain
//! a marker that is gone. With `acrossRecreate`, the marker is kept and read again
//! after the cluster is recreated ([`Marker::read_again`], under `kdeck verify --recreate`).

use futures::StreamExt;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams, ListParams, Preconditions, WatchEvent, WatchParams};

use super::inpod::InPod;
use crate::cluster::Cluster;
use crate::cluster::target::{self, Target};
use crate::stack::tunnel::said;

/// The marker's file name in the checked directory.
pub const MARKER: &str = ".kdeck-verify-marker";

/// A marker written by a check, to be read again after a recreate.
#[derive(Clone, Debug)]
pub struct Marker {
    pub check: String,
    pub namespace: String,
    pub target: Target,
    pub container: Option<String>,
    pub file: String,
    token: String,
    /// The claim the path is on, and its uid when written.
    claim: Option<(String, String)>,
}

/// What `path` is on in the container: a claim (by name), another volume, or nothing.
#[derive(Debug, PartialEq)]
enum Volume {
    Claim(String),
    Other { volume: String, kind: String },
    None { mounts: Vec<String> },
}

fn volume_of(pod: &Pod, container: &str, path: &str) -> Volume {
    let spec = pod.spec.clone().unwrap_or_default();
    let mounts = spec.containers.iter().find(|c| c.name == container).and_then(|c| c.volume_mounts.clone()).unwrap_or_default();
    let covering = mounts
        .iter()
        .filter(|m| {
            let at = m.mount_path.trim_end_matches('/');
            path == at || path.starts_with(&format!("{at}/")) || at.is_empty()
        })
        .max_by_key(|m| m.mount_path.len());
    let Some(mount) = covering else {
        return Volume::None { mounts: mounts.iter().map(|m| m.mount_path.clone()).collect() };
    };
    let volume = spec.volumes.unwrap_or_default().into_iter().find(|v| v.name == mount.name);
    match volume {
        Some(v) if v.persistent_volume_claim.is_some() => Volume::Claim(v.persistent_volume_claim.map(|c| c.claim_name).unwrap_or_default()),
        Some(v) => {
            let value = serde_json::to_value(&v).unwrap_or_default();
            let kind = value.as_object().and_then(|o| o.keys().find(|k| *k != "name").cloned()).unwrap_or_else(|| "unknown".into());
            Volume::Other { volume: v.name, kind }
        }
        None => Volume::Other { volume: mount.name.clone(), kind: "undeclared".into() },
    }
}

async fn claim_uid(cluster: &Cluster, namespace: &str, claim: &str) -> Result<Option<String>, String> {
    let api: Api<PersistentVolumeClaim> = Api::namespaced(cluster.client.clone(), namespace);
    let found = api.get_opt(claim).await.map_err(|e| said(&cluster.error(&format!("reading claim {namespace}/{claim}"), e)))?;
    Ok(found.and_then(|c| c.metadata.uid))
}

/// Writes `token` to `file` with sh, else python3 (the values are arguments, not script text).
async fn write(pod: &InPod<'_>, file: &str, token: &str) -> Result<(), String> {
    let sh = ["sh", "-c", "printf '%s' \"$1\" > \"$2\"", "sh", token, file];
    let py = ["python3", "-c", "import sys\nopen(sys.argv[2], 'w').write(sys.argv[1])\n", token, file];
    for argv in [&sh[..], &py[..]] {
        let ran = pod.run(argv).await?;
        if ran.missing() {
            continue;
        }
        if ran.code != 0 {
            return Err(format!("cannot write the marker {file} in {}: {}", pod.describe(), ran.why()));
        }
        return Ok(());
    }
    Err(format!("cannot check: {} has neither sh nor python3 to write the marker", pod.describe()))
}

/// The marker's text, or None when the file is not there.
async fn read(pod: &InPod<'_>, file: &str) -> Result<Option<String>, String> {
    let ran = pod.run(&["cat", file]).await?;
    if ran.missing() {
        return Err(format!("cannot check: {} has no cat to read the marker", pod.describe()));
    }
    Ok((ran.code == 0).then_some(ran.stdout))
}

async fn remove(pod: &InPod<'_>, file: &str) {
    let _ = pod.run(&["rm", "-f", file]).await;
}

/// Waits (on a watch, bounded by the check's timeout) for a ready pod of `selector` other than `old_uid`.
async fn replacement(cluster: &Cluster, namespace: &str, selector: &str, old_uid: &str) -> Result<Pod, String> {
    let api: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    let fits = |p: &Pod| p.metadata.uid.as_deref() != Some(old_uid) && p.metadata.deletion_timestamp.is_none() && target::is_ready(p);
    loop {
        let list = api.list(&ListParams::default().labels(selector)).await.map_err(|e| said(&cluster.error("listing the workload's pods", e)))?;
        if let Some(pod) = list.items.iter().find(|p| fits(p)) {
            return Ok(pod.clone());
        }
        let version = list.metadata.resource_version.unwrap_or_default();
        let Ok(stream) = api.watch(&WatchParams::default().labels(selector).timeout(60), &version).await else {
            // A watch that cannot start: list again shortly (the check's timeout bounds it all).
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            continue;
        };
        let mut stream = stream.boxed();
        while let Some(event) = stream.next().await {
            match event {
                Ok(WatchEvent::Added(pod) | WatchEvent::Modified(pod)) if fits(&pod) => return Ok(pod),
                Ok(WatchEvent::Error(_)) | Err(_) => break,
                _ => {}
            }
        }
    }
}

/// Why a marker is gone: what the path is on.
fn gone_because(volume: &Volume, claim_then: Option<&str>, claim_now: Option<&str>, path: &str) -> String {
    match volume {
        Volume::Claim(claim) => match (claim_then, claim_now) {
            (Some(then), Some(now)) if then != now => format!("claim {claim} was deleted: the pod now has a new claim of that name"),
            (_, None) => format!("claim {claim} was deleted"),
            _ => format!("claim {claim} is the same, but its volume lost the data"),
        },
        Volume::Other { volume, kind } => format!("{path} is on volume {volume} ({kind}), which goes with its pod"),
        Volume::None { .. } => format!("{path} is on no volume: the container's own files go with it"),
    }
}

pub async fn check(
    cluster: &Cluster,
    name: &str,
    namespace: &str,
    target: &Target,
    container: Option<&str>,
    path: &str,
    keep: bool,
) -> Result<(String, Option<Marker>), String> {
    let before = InPod::of(cluster, namespace, target, container).await?;
    let volume = volume_of(&before.pod, &before.container, path);
    if let Volume::None { mounts } = &volume {
        let mounts = if mounts.is_empty() { "none".to_string() } else { mounts.join(", ") };
        return Err(format!("{path} is on no volume of {} (its mounts: {mounts}): nothing there persists", before.describe()));
    }
    let claim_then = match &volume {
        Volume::Claim(claim) => claim_uid(cluster, namespace, claim).await?,
        _ => None,
    };
    let file = format!("{path}/{MARKER}");
    let token = format!("kdeck-verify {:016x}{:016x}", rand::random::<u64>(), rand::random::<u64>());
    write(&before, &file, &token).await?;
    if read(&before, &file).await?.as_deref() != Some(token.as_str()) {
        return Err(format!("the marker written to {file} in {} cannot be read back there", before.describe()));
    }
    let selector = target.label_selector(cluster, namespace).await.map_err(|e| said(&e))?.unwrap_or_default();
    let old_name = before.name();
    let old_uid = before.pod.metadata.uid.clone().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    let params = DeleteParams { preconditions: Some(Preconditions { uid: Some(old_uid.clone()), resource_version: None }), ..Default::default() };
    api.delete(&old_name, &params).await.map_err(|e| said(&cluster.error(&format!("deleting pod {namespace}/{old_name}"), e)))?;
    let new_pod = replacement(cluster, namespace, &selector, &old_uid).await?;
    let after = InPod::at(cluster, namespace, new_pod, container)?;
    let found = read(&after, &file).await?;
    let claim_now = match &volume {
        Volume::Claim(claim) => claim_uid(cluster, namespace, claim).await?,
        _ => None,
    };
    if found.as_deref() != Some(token.as_str()) {
        let why = gone_because(&volume, claim_then.as_deref(), claim_now.as_deref(), path);
        return Err(format!("the marker written in pod {old_name} is gone in its replacement {}: the data did not persist ({why})", after.name()));
    }
    let on = match &volume {
        Volume::Claim(claim) => format!("claim {claim}"),
        Volume::Other { volume, kind } => format!("volume {volume} ({kind})"),
        Volume::None { .. } => String::new(),
    };
    let detail = format!("the marker in {path} ({on}) survived the deletion of pod {old_name}: read back in {}", after.describe());
    if !keep {
        remove(&after, &file).await;
        return Ok((detail, None));
    }
    let claim = match (&volume, claim_now) {
        (Volume::Claim(claim), Some(uid)) => Some((claim.clone(), uid)),
        _ => None,
    };
    let marker = Marker {
        check: name.to_string(),
        namespace: namespace.to_string(),
        target: target.clone(),
        container: container.map(str::to_string),
        file,
        token,
        claim,
    };
    Ok((detail, Some(marker)))
}

impl Marker {
    /// After the cluster was recreated: the marker is still there (and is removed).
    pub async fn read_again(&self, cluster: &Cluster) -> Result<String, String> {
        let pod = InPod::of(cluster, &self.namespace, &self.target, self.container.as_deref()).await?;
        let found = read(&pod, &self.file).await?;
        if found.as_deref() == Some(self.token.as_str()) {
            remove(&pod, &self.file).await;
            return Ok(format!("the marker {} survived the cluster's deletion: read back in {}", self.file, pod.describe()));
        }
        let why = match &self.claim {
            Some((claim, then)) => match claim_uid(cluster, &self.namespace, claim).await? {
                Some(now) if &now != then => format!(
                    "claim {claim} was deleted with the cluster and is a new one now; keep volumes' data across a recreate with stack.cluster.keepData: true"
                ),
                Some(_) => format!("claim {claim} is the same, but its volume lost the data"),
                None => format!("claim {claim} was deleted"),
            },
            None => "the path is not on a claim".into(),
        };
        Err(format!("the marker {} is gone after the cluster was recreated: the data did not persist ({why})", self.file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_volume_under_a_path_is_found() {
        let pod: Pod = serde_json::from_value(json!({"spec": {
            "containers": [{"name": "db", "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql"}, {"name": "tmp", "mountPath": "/tmp"}]}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data-pg-0"}}, {"name": "tmp", "emptyDir": {}}]}}))
        .unwrap();
        assert_eq!(volume_of(&pod, "db", "/var/lib/postgresql/data"), Volume::Claim("data-pg-0".into()));
        assert_eq!(volume_of(&pod, "db", "/tmp"), Volume::Other { volume: "tmp".into(), kind: "emptyDir".into() });
        assert!(matches!(volume_of(&pod, "db", "/var/lib/postgres"), Volume::None { .. }));
        let claim = Volume::Claim("c".into());
        assert!(gone_because(&claim, Some("1"), Some("2"), "/d").contains("was deleted"));
        assert!(gone_because(&claim, Some("1"), Some("1"), "/d").contains("is the same"));
    }
}
