//! PersistentVolumeClaims: bound, or waiting for the consumer their StorageClass waits for.

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use super::{Snapshot, Verdict, latest_event, time};

const DEFAULT_CLASS: [&str; 2] = ["storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class"];

/// Ready once bound, or while its StorageClass waits for a first consumer that has
/// not come; Failed when its volume is lost.
pub(super) fn pvc(obj: &Value, snapshot: &Snapshot, _now: Timestamp) -> Verdict {
    match obj["status"]["phase"].as_str() {
        Some("Bound") => return Verdict::ready(),
        Some("Lost") => {
            return Verdict::failed(match obj["spec"]["volumeName"].as_str().filter(|v| !v.is_empty()) {
                Some(volume) => format!("Lost: its PersistentVolume {volume:?} is gone"),
                None => "Lost: its PersistentVolume is gone".to_string(),
            });
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::judge;
    use super::super::testing::*;
    use super::*;

    fn claim(class: Option<&str>, phase: &str) -> Value {
        let mut pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data-postgres-0", "namespace": NS, "uid": "uid-pvc"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "8Gi"}}},
            "status": {"phase": phase}});
        if let Some(class) = class {
            pvc["spec"]["storageClassName"] = json!(class);
        }
        pvc
    }

    fn class(name: &str, mode: &str, default: bool) -> Value {
        let mut class = json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": name},
                               "provisioner": "rancher.io/local-path", "volumeBindingMode": mode, "reclaimPolicy": "Delete"});
        if default {
            class["metadata"]["annotations"] = json!({"storageclass.kubernetes.io/is-default-class": "true"});
        }
        class
    }

    fn event(name: &str, seconds_ago: i64, reason: &str, message: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": NS},
               "involvedObject": {"kind": "PersistentVolumeClaim", "name": "data-postgres-0", "namespace": NS, "uid": "uid-pvc"},
               "reason": reason, "message": message, "type": "Normal", "lastTimestamp": ago(seconds_ago)})
    }

    #[test]
    fn claims() {
        let mut selected = claim(Some("local-path"), "Pending");
        selected["metadata"]["annotations"] = json!({"volume.kubernetes.io/selected-node": "kind-control-plane"});
        let mut lost = claim(Some("standard"), "Lost");
        lost["spec"]["volumeName"] = json!("pvc-3f1c");
        let provisioning = "waiting for a volume to be created, either by external provisioner \"ebs.csi.aws.com\" or manually created by system administrator";
        let mut stale = event("data-postgres-0.18a", 5, "ProvisioningFailed", "from an earlier claim of that name");
        stale["involvedObject"]["uid"] = json!("uid-old");
        let cases: Vec<(&str, Value, Vec<Value>, Verdict)> = vec![
            ("bound", claim(Some("standard"), "Bound"), vec![], Verdict::ready()),
            ("lost", lost, vec![], Verdict::failed("Lost: its PersistentVolume \"pvc-3f1c\" is gone")),
            ("lost, no volume named", claim(Some("standard"), "Lost"), vec![], Verdict::failed("Lost: its PersistentVolume is gone")),
            (
                "first consumer",
                claim(Some("local-path"), "Pending"),
                vec![class("local-path", "WaitForFirstConsumer", false)],
                Verdict::ready_with("waiting for its first consumer"),
            ),
            (
                "first consumer, default class",
                claim(None, "Pending"),
                vec![class("fast", "Immediate", false), class("local-path", "WaitForFirstConsumer", true)],
                Verdict::ready_with("waiting for its first consumer"),
            ),
            (
                "consumer found",
                selected.clone(),
                vec![class("local-path", "WaitForFirstConsumer", false)],
                Verdict::pending("provisioning a volume on node kind-control-plane"),
            ),
            (
                "consumer found, events",
                selected,
                vec![
                    class("local-path", "WaitForFirstConsumer", false),
                    event("e1", 3, "Provisioning", "External provisioner is provisioning volume for claim \"shop/data-postgres-0\""),
                ],
                Verdict::pending("External provisioner is provisioning volume for claim \"shop/data-postgres-0\""),
            ),
            (
                "immediate, latest event",
                claim(Some("gp3"), "Pending"),
                vec![
                    class("gp3", "Immediate", false),
                    event("e1", 30, "Provisioning", "External provisioner is provisioning volume"),
                    event("e2", 10, "ExternalProvisioning", provisioning),
                    stale,
                ],
                Verdict::pending(provisioning),
            ),
            ("no events", claim(Some("gp3"), "Pending"), vec![class("gp3", "Immediate", false)], Verdict::pending("Pending")),
            ("no class", claim(Some(""), "Pending"), vec![class("local-path", "WaitForFirstConsumer", true)], Verdict::pending("Pending")),
            ("class unknown", claim(Some("missing"), "Pending"), vec![], Verdict::pending("Pending")),
        ];
        for (what, obj, objects, expected) in cases {
            assert_eq!(judge(&obj, &snapshot_of(objects), now()), expected, "{what}");
        }
    }

    #[test]
    fn events_of_the_new_api_count_too() {
        let event = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e9", "namespace": NS},
            "regarding": {"kind": "PersistentVolumeClaim", "name": "data-postgres-0", "namespace": NS},
            "reason": "ProvisioningFailed", "note": "storageclass.storage.k8s.io \"gp3\" not found", "eventTime": ago(2)});
        assert_eq!(judge(&claim(Some("gp3"), "Pending"), &snapshot_of([event]), now()), Verdict::pending("storageclass.storage.k8s.io \"gp3\" not found"));
    }
}
