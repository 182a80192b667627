//! PersistentVolumeClaims: bound, or waiting for the consumer their StorageClass waits for.

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use super::{Snapshot, Verdict, latest_event, time};

const DEFAULT_CLASS: [&str; 2] = ["storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class"];

pub(super) fn pvc(obj: &Value, snapshot: &Snapshot, _now: Timestamp) -> Verdict {
    match obj["status"]["phase"].as_str() {
        Some("Bound") => return Verdict::ready(),
        Some("Lost") => {
            let volume = obj["spec"]["volumeName"].as_str().unwrap_or_default();
            return Verdict::failed(format!("Lost: its PersistentVolume {volume:?} is gone"));
        }
        _ => {}
    }
    let event = latest_event(obj, snapshot).map(|e| e["message"].as_str().or(e["note"].as_str()).unwrap_or_default().trim().to_string());
    let event = event.filter(|m| !m.is_empty());
    if storage_class(obj, snapshot).is_some_and(|class| class["volumeBindingMode"] == "WaitForFirstConsumer") {
        match obj["metadata"]["annotations"]["volume.kubernetes.io/selected-node"].as_str() {
            None => return Verdict::ready_with("waiting for its first consumer"),
            Some(node) => return Verdict::pending(event.unwrap_or_else(|| format!("provisioning a volume on node {node}"))),
        }
    }
    Verdict::pending(event.unwrap_or_else(|| "Pending".to_string()))
}

/// The StorageClass a claim uses: the one it names, else the cluster's default (the
/// newest, when several claim to be). None for a claim that names the class "".
pub fn storage_class<'a>(pvc: &Value, snapshot: &'a Snapshot) -> Option<&'a Value> {
    let named = pvc["spec"]["storageClassName"].as_str().or(pvc["metadata"]["annotations"]["volume.beta.kubernetes.io/storage-class"].as_str());
    match named {
        Some("") => None,
        Some(name) => snapshot.get("storage.k8s.io", "StorageClass", "", name),
        None => snapshot
            .list("storage.k8s.io", "StorageClass", "")
            .filter(|class| DEFAULT_CLASS.iter().any(|a| class["metadata"]["annotations"][a] == "true"))
            .max_by_key(|class| time(&class["metadata"]["creationTimestamp"])),
    }
}
