//! Storage: StorageClasses, VolumeAttachments, CSINodes, CSIDrivers,
//! PersistentVolumes and PersistentVolumeClaims.

use serde_json::Value;

use super::duration::Ctx;
use super::obj::{Obj, or_none};
use super::{AGE, Col, NAME, Row, cells, col, wide};

#[rustfmt::skip]
pub(super) const STORAGE_CLASS_COLUMNS: &[Col] = &[
    NAME,
    col("Provisioner", "string", "provisioner indicates the type of the provisioner."),
    col("ReclaimPolicy", "string", "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete."),
    col("VolumeBindingMode", "string", "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used."),
    col("AllowVolumeExpansion", "string", "allowVolumeExpansion shows whether the storage class allow volume expand."),
    AGE,
];

pub(super) fn storage_class_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let annotations = o.child(&["metadata", "annotations"]);
    let is_default = annotations.str(&["storageclass.kubernetes.io/is-default-class"]) == "true"
        || annotations.str(&["storageclass.beta.kubernetes.io/is-default-class"]) == "true";
    let name = if is_default { format!("{} (default)", o.name()) } else { o.name().to_string() };
    Row::from(cells![
        name,
        o.str(&["provisioner"]),
        o.opt_str(&["reclaimPolicy"]).unwrap_or("Delete"),
        o.opt_str(&["volumeBindingMode"]).unwrap_or("Immediate"),
        o.bool(&["allowVolumeExpansion"]),
        o.age(ctx),
    ])
}

#[rustfmt::skip]
pub(super) const VOLUME_ATTACHMENT_COLUMNS: &[Col] = &[
    NAME,
    // The real definition gives Attacher format "name" too.
    Col { name: "Attacher", kind: "string", format: "name", priority: 0, description: "attacher indicates the name of the volume driver that MUST handle this request." },
    col("PV", "string", "persistentVolumeName represents the name of the persistent volume to attach."),
    col("Node", "string", "nodeName represents the node that the volume should be attached to."),
    col("Attached", "boolean", "attached indicates the volume is successfully attached."),
    AGE,
];

pub(super) fn volume_attachment_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    Row::from(cells![
        o.name(),
        o.str(&["spec", "attacher"]),
        o.str(&["spec", "source", "persistentVolumeName"]),
        o.str(&["spec", "nodeName"]),
        o.bool(&["status", "attached"]),
        o.age(ctx),
    ])
}

#[rustfmt::skip]
pub(super) const CSI_NODE_COLUMNS: &[Col] = &[
    NAME,
    col("Drivers", "integer", "Drivers indicates the number of CSI drivers registered on the node"),
    AGE,
];

pub(super) fn csi_node_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    Row::from(cells![o.name(), o.list(&["spec", "drivers"]).len(), o.age(ctx)])
}

#[rustfmt::skip]
pub(super) const CSI_DRIVER_COLUMNS: &[Col] = &[
    NAME,
    col("AttachRequired", "boolean", "attachRequired indicates this CSI volume driver requires an attach operation."),
    col("PodInfoOnMount", "boolean", "podInfoOnMount indicates this CSI volume driver requires additional pod information (like podName, podUID, etc.) during mount operations."),
    col("StorageCapacity", "boolean", "storageCapacity indicates that the CSI volume driver wants pod scheduling to consider the storage capacity that the driver deployment will report."),
    col("TokenRequests", "string", "tokenRequests indicates the CSI driver needs pods' service account tokens it is mounting volume for to do necessary authentication."),
    col("RequiresRepublish", "boolean", "requiresRepublish indicates the CSI driver wants `NodePublishVolume` being periodically called to reflect any possible change in the mounted volume."),
    col("Modes", "string", "volumeLifecycleModes defines what kind of volumes this CSI volume driver supports."),
    AGE,
];

pub(super) fn csi_driver_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let spec = o.child(&["spec"]);
    let token_requests = match spec.at(&["tokenRequests"]) {
        Some(Value::Array(requests)) => requests.iter().map(|t| Obj(t).str(&["audience"])).collect::<Vec<_>>().join(","),
        _ => "<unset>".to_string(),
    };
    let modes: Vec<&str> = spec.list(&["volumeLifecycleModes"]).iter().map(|m| m.as_str().unwrap_or("")).collect();
    Row::from(cells![
        o.name(),
        spec.opt_bool(&["attachRequired"]).unwrap_or(true),
        spec.bool(&["podInfoOnMount"]),
        spec.bool(&["storageCapacity"]),
        token_requests,
        spec.bool(&["requiresRepublish"]),
        or_none(&modes.join(",")),
        o.age(ctx),
    ])
}

#[rustfmt::skip]
pub(super) const PERSISTENT_VOLUME_COLUMNS: &[Col] = &[
    NAME,
    col("Capacity", "string", "capacity is the description of the persistent volume's resources and capacity."),
    col("Access Modes", "string", "accessModes contains all ways the volume can be mounted."),
    col("Reclaim Policy", "string", "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim."),
    col("Status", "string", "phase indicates if a volume is available, bound to a claim, or released by a claim."),
    col("Claim", "string", "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim."),
    col("StorageClass", "string", "StorageClass of the pv"),
    col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
    col("Reason", "string", "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI."),
    AGE,
    wide("VolumeMode", "string", "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state."),
];

pub(super) fn persistent_volume_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let spec = o.child(&["spec"]);
    let claim = match spec.obj(&["claimRef"]) {
        Some(c) => format!("{}/{}", c.str(&["namespace"]), c.str(&["name"])),
        None => String::new(),
    };
    let phase = if o.has(&["metadata", "deletionTimestamp"]) { "Terminating" } else { o.str(&["status", "phase"]) };
    let class = match o.opt_str(&["metadata", "annotations", BETA_STORAGE_CLASS]) {
        Some(class) => class,
        None => spec.str(&["storageClassName"]),
    };
    Row::from(cells![
        o.name(),
        spec.quantity(&["capacity", "storage"]),
        access_modes(spec.list(&["accessModes"])),
        spec.str(&["persistentVolumeReclaimPolicy"]),
        phase,
        claim,
        class,
        spec.opt_str(&["volumeAttributesClassName"]).unwrap_or("<unset>"),
        o.str(&["status", "reason"]),
        o.age(ctx),
        spec.opt_str(&["volumeMode"]).unwrap_or("<unset>"),
    ])
}

/// The storage class annotation that still wins over spec.storageClassName.
const BETA_STORAGE_CLASS: &str = "volume.beta.kubernetes.io/storage-class";

#[rustfmt::skip]
pub(super) const PERSISTENT_VOLUME_CLAIM_COLUMNS: &[Col] = &[
    NAME,
    col("Status", "string", "phase represents the current phase of PersistentVolumeClaim."),
    col("Volume", "string", "volumeName is the binding reference to the PersistentVolume backing this claim."),
    col("Capacity", "string", "capacity represents the actual resources of the underlying volume."),
    col("Access Modes", "string", "accessModes contains the actual access modes the volume backing the PVC has."),
    col("StorageClass", "string", "StorageClass of the pvc"),
    col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
    AGE,
    wide("VolumeMode", "string", "volumeMode defines what type of volume is required by the claim."),
];

pub(super) fn persistent_volume_claim_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let spec = o.child(&["spec"]);
    let status = o.child(&["status"]);
    let phase = if o.has(&["metadata", "deletionTimestamp"]) { "Terminating" } else { status.str(&["phase"]) };
    // Capacity and access modes are only shown once the claim is bound to a volume.
    let (capacity, modes) = if spec.str(&["volumeName"]).is_empty() {
        (String::new(), String::new())
    } else {
        (status.quantity(&["capacity", "storage"]), access_modes(status.list(&["accessModes"])))
    };
    let class = match o.opt_str(&["metadata", "annotations", BETA_STORAGE_CLASS]) {
        Some(class) => class,
        None => spec.str(&["storageClassName"]),
    };
    Row::from(cells![
        o.name(),
        phase,
        spec.str(&["volumeName"]),
        capacity,
        modes,
        class,
        spec.opt_str(&["volumeAttributesClassName"]).unwrap_or("<unset>"),
        o.age(ctx),
        spec.opt_str(&["volumeMode"]).unwrap_or("<unset>"),
    ])
}

/// GetAccessModesAsString: abbreviations in a fixed order, each once.
fn access_modes(modes: &[Value]) -> String {
    let has = |mode: &str| modes.iter().any(|m| m.as_str() == Some(mode));
    [("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP")]
        .iter()
        .filter(|(mode, _)| has(mode))
        .map(|(_, short)| *short)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use crate::api::table::testing::row;
    use serde_json::json;

    #[test]
    fn volumes_and_storage_classes() {
        let pvc = json!({"metadata": {"name": "data"}, "spec": {"volumeName": "pv-1", "storageClassName": "standard",
            "resources": {"requests": {"storage": "1Gi"}}},
            "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce", "ReadOnlyMany"]}});
        let cells = row("", "persistentvolumeclaims", pvc);
        assert_eq!(cells[1..7], [json!("Bound"), json!("pv-1"), json!("1Gi"), json!("RWO,ROX"), json!("standard"), json!("<unset>")]);
        let pending = json!({"spec": {"storageClassName": "fast"}, "status": {"phase": "Pending"},
            "metadata": {"annotations": {"volume.beta.kubernetes.io/storage-class": "legacy"}}});
        let cells = row("", "persistentvolumeclaims", pending);
        assert_eq!(cells[1..6], [json!("Pending"), json!(""), json!(""), json!(""), json!("legacy")]);

        let pv = json!({"metadata": {"name": "pv-1"}, "spec": {"capacity": {"storage": "10Gi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOncePod"], "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": "default", "name": "data"}, "storageClassName": "standard", "volumeMode": "Filesystem"},
            "status": {"phase": "Bound"}});
        let cells = row("", "persistentvolumes", pv);
        assert_eq!(
            cells[1..9],
            [json!("10Gi"), json!("RWX,RWOP"), json!("Retain"), json!("Bound"), json!("default/data"), json!("standard"), json!("<unset>"), json!("")]
        );
        assert_eq!(cells[10], "Filesystem");

        // Capacity is a Quantity value: missing reads as 0.
        assert_eq!(row("", "persistentvolumes", json!({}))[1], "0");
        let bound = json!({"spec": {"volumeName": "pv-2"}, "status": {"phase": "Bound"}});
        assert_eq!(row("", "persistentvolumeclaims", bound)[3..5], [json!("0"), json!("")]);

        let sc = json!({"metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer"});
        assert_eq!(
            row("storage.k8s.io", "storageclasses", sc)[..5],
            [json!("standard (default)"), json!("rancher.io/local-path"), json!("Delete"), json!("WaitForFirstConsumer"), json!(false)]
        );
    }
}
