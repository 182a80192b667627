//! Storage: the sandbox's default StorageClass, and a provisioner that binds each
//! claim of a sandbox class to a new PersistentVolume (`pvc-<uid>`), deleted with
//! the claim under the Delete reclaim policy. The volume's data lives in the
//! sandbox's data directory (see the exec runtime), so it outlives the pods; it is
//! removed with the volume under Delete, kept under Retain.

use std::time::Duration;

use serde_json::{Value, json};

use super::events::{self, Source};
use super::objects::{name, namespace};
use super::runtime::{Controller, ObjectRef};
use crate::resources::ResourceKey;
use crate::rest::{DeleteOptions, ListQuery, Rest, Subresource, WriteOptions};
use crate::store::{Change, EventType};

pub const PROVISIONER: &str = "sandbox.kdeck.dev/local";
pub const DEFAULT_CLASS: &str = "standard";
const SOURCE: Source = Source { component: "persistentvolume-controller", host: None };

/// Creates the default StorageClass if the sandbox has none.
pub fn ensure_default_class(rest: &Rest) {
    let Some(info) = rest.catalogue.find("storage.k8s.io", "v1", "storageclasses") else { return };
    if rest.get(&info, None, DEFAULT_CLASS).is_ok() {
        return;
    }
    let class = json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": DEFAULT_CLASS, "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": PROVISIONER, "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate", "allowVolumeExpansion": true,
    });
    let _ = rest.create(&info, None, class, &WriteOptions::default());
}

/// The name of the StorageClass marked default, if any.
pub fn default_class(rest: &Rest) -> Option<String> {
    let info = rest.catalogue.find("storage.k8s.io", "v1", "storageclasses")?;
    let classes = rest.list(&info, None, &ListQuery::default()).ok()?.items;
    classes
        .iter()
        .map(|e| e.value())
        .find(|c| c["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true")
        .map(|c| name(&c).to_string())
}

pub struct Provisioner;

fn claims() -> ResourceKey {
    ResourceKey::new("", "persistentvolumeclaims")
}

impl Controller for Provisioner {
    fn keys_for(&self, _rest: &Rest, change: &Change) -> Vec<ObjectRef> {
        let index = &change.entry.index;
        if change.resource == claims() && (change.kind == EventType::Deleted || index.field("status.phase") != Some("Bound")) {
            return vec![ObjectRef::new(claims(), &index.namespace, &index.name)];
        }
        Vec::new()
    }

    fn all_keys(&self, rest: &Rest) -> Vec<ObjectRef> {
        rest.store.list(&claims(), None, None, |_| true).0.iter().map(|e| ObjectRef::new(claims(), &e.index.namespace, &e.index.name)).collect()
    }

    fn reconcile(&self, rest: &Rest, key: &ObjectRef) -> Option<Duration> {
        let info = rest.catalogue.find("", "v1", "persistentvolumeclaims")?;
        let pv_info = rest.catalogue.find("", "v1", "persistentvolumes")?;
        let Ok(claim) = rest.get(&info, Some(&key.namespace), &key.name) else {
            release_volumes(rest, &pv_info, key);
            return None;
        };
        if claim["status"]["phase"] == "Bound" || claim["metadata"]["deletionTimestamp"].is_string() {
            return None;
        }
        let class_name = claim["spec"]["storageClassName"].as_str().unwrap_or_default().to_string();
        let classes = rest.catalogue.find("storage.k8s.io", "v1", "storageclasses")?;
        let class = match rest.get(&classes, None, &class_name) {
            Ok(class) => class,
            Err(_) => {
                let message = if class_name.is_empty() {
                    "no persistent volumes available for this claim and no storage class is set".to_string()
                } else {
                    format!("storageclass.storage.k8s.io \"{class_name}\" not found")
                };
                events::warning(rest, &claim, &SOURCE, if class_name.is_empty() { "FailedBinding" } else { "ProvisioningFailed" }, &message);
                return None;
            }
        };
        if class["provisioner"] != PROVISIONER {
            events::normal(
                rest,
                &claim,
                &SOURCE,
                "ExternalProvisioning",
                &format!("Waiting for a volume to be created by the external provisioner '{}'.", class["provisioner"].as_str().unwrap_or_default()),
            );
            return None;
        }
        bind(rest, &info, &pv_info, &claim, &class);
        None
    }
}

fn bind(rest: &Rest, info: &crate::resources::ResourceInfo, pv_info: &crate::resources::ResourceInfo, claim: &Value, class: &Value) {
    let (ns, claim_name) = (namespace(claim), name(claim));
    let pv_name = format!("pvc-{}", claim["metadata"]["uid"].as_str().unwrap_or_default());
    let storage = claim["spec"]["resources"]["requests"]["storage"].clone();
    let access_modes = claim["spec"]["accessModes"].clone();
    if rest.get(pv_info, None, &pv_name).is_err() {
        let pv = json!({
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": pv_name, "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER}},
            "spec": {
                "capacity": {"storage": storage}, "accessModes": access_modes, "volumeMode": "Filesystem",
                "persistentVolumeReclaimPolicy": class["reclaimPolicy"].as_str().unwrap_or("Delete"), "storageClassName": name(class),
                "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "namespace": ns, "name": claim_name, "uid": claim["metadata"]["uid"]},
                "hostPath": {"path": format!("/var/lib/kdeck-sandbox/volumes/pvc/{ns}/{claim_name}"), "type": "DirectoryOrCreate"},
            },
        });
        let Ok(created) = rest.create(pv_info, None, pv, &WriteOptions::default()) else { return };
        let mut bound = created;
        bound["status"] = json!({"phase": "Bound"});
        let _ = rest.update(pv_info, None, &pv_name, bound, Subresource::Status, &WriteOptions::default());
        events::normal(rest, claim, &SOURCE, "ProvisioningSucceeded", &format!("Successfully provisioned volume {pv_name}"));
    }
    let mut next = claim.clone();
    next["spec"]["volumeName"] = json!(pv_name);
    for (k, v) in
        [("pv.kubernetes.io/bind-completed", "yes"), ("pv.kubernetes.io/bound-by-controller", "yes"), ("volume.kubernetes.io/storage-provisioner", PROVISIONER)]
    {
        next["metadata"]["annotations"][k] = json!(v);
    }
    let Ok(mut updated) = rest.update(info, Some(ns), claim_name, next, Subresource::Main, &WriteOptions::default()) else { return };
    updated["status"] = json!({"phase": "Bound", "accessModes": access_modes, "capacity": {"storage": storage}});
    let _ = rest.update(info, Some(ns), claim_name, updated, Subresource::Status, &WriteOptions::default());
}

/// A claim is gone: its volumes are deleted (Delete policy) or released (Retain).
fn release_volumes(rest: &Rest, pv_info: &crate::resources::ResourceInfo, claim: &ObjectRef) {
    let Ok(listing) = rest.list(pv_info, None, &ListQuery::default()) else { return };
    for pv in listing.items.iter().map(|e| e.value()) {
        let claim_ref = &pv["spec"]["claimRef"];
        if claim_ref["namespace"] != claim.namespace.as_str() || claim_ref["name"] != claim.name.as_str() {
            continue;
        }
        if pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain" {
            let mut released = pv.clone();
            released["status"] = json!({"phase": "Released"});
            let _ = rest.update(pv_info, None, name(&pv), released, Subresource::Status, &WriteOptions::default());
        } else {
            let _ = rest.delete(pv_info, None, name(&pv), &DeleteOptions::default());
            // The volume's data goes with it, as a provisioner deletes the disk — unless
            // a new claim of the same name took its place meanwhile.
            if rest.store.get(&claims(), &(claim.namespace.clone(), claim.name.clone())).is_none() {
                let dir = crate::kubelet::exec::volumes::pvc_dir(&crate::kubelet::exec::data_dir(), &claim.namespace, &claim.name);
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}
