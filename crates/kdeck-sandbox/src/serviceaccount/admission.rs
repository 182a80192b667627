//! The ServiceAccount admission plugin, on every pod created (by a client or a
//! controller), as kube-apiserver runs it (plugin/pkg/admission/serviceaccount):
//!
//! - a pod that names no account runs as `default` (already set by the pod
//!   strategy, see `rest::strategy`);
//! - the account must exist, else the pod is refused: `pods "web" is forbidden:
//!   error looking up service account team/robot: serviceaccount "robot" not
//!   found` (a pod with `generateName` is named by its prefix, as upstream, whose
//!   name is not generated yet). The real plugin waits up to ten tries for
//!   `default`, which the controller is about to create; here it is created on the
//!   spot, as the controller would;
//! - unless the pod (first) or the account says `automountServiceAccountToken:
//!   false`, the projected volume `kube-api-access-xxxxx` (the token, the root CA,
//!   the namespace) is added and mounted read-only at
//!   `/var/run/secrets/kubernetes.io/serviceaccount` in every init container and
//!   container that has nothing mounted there;
//! - a pod without `imagePullSecrets` gets the account's.

use serde_json::{Value, json};

use super::{MOUNT_PATH, VOLUME_PREFIX, WARN_ONLY_EXPIRATION};
use crate::resources::{ResourceInfo, ResourceKey};
use crate::rest::{ApiError, Rest};

/// Admits `pod` (its namespace set), to be created under `requested_name` (its
/// name, else its `generateName`), changing it as the plugin does.
pub fn admit(rest: &Rest, info: &ResourceInfo, requested_name: &str, pod: &mut Value) -> Result<(), ApiError> {
    if !(info.group.is_empty() && info.plural == "pods") {
        return Ok(());
    }
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or_default().to_string();
    let ns = ns.as_str();
    let Some(spec) = pod.get_mut("spec").filter(|s| s.is_object()) else { return Ok(()) };
    let name = match spec["serviceAccountName"].as_str().filter(|n| !n.is_empty()) {
        Some(name) => name.to_string(),
        None => {
            spec["serviceAccountName"] = json!("default");
            "default".to_string()
        }
    };
    let key = ResourceKey::new("", "serviceaccounts");
    let lookup = || rest.store.get(&key, &(ns.to_string(), name.clone())).map(|e| e.value());
    let mut account = lookup();
    if account.is_none() && name == "default" {
        crate::controllers::defaults::ensure_service_account(rest, ns);
        account = lookup();
    }
    let Some(account) = account else {
        let mut err = ApiError::forbidden(format!(
            "pods \"{requested_name}\" is forbidden: error looking up service account {ns}/{name}: serviceaccount \"{name}\" not found"
        ));
        err.details = Some(json!({"name": requested_name, "kind": "pods"}));
        return Err(err);
    };
    let automount = spec["automountServiceAccountToken"].as_bool().or(account["automountServiceAccountToken"].as_bool()).unwrap_or(true);
    if automount {
        mount_token(spec);
    }
    let pull_secrets = &account["imagePullSecrets"];
    if spec["imagePullSecrets"].as_array().is_none_or(Vec::is_empty) && pull_secrets.as_array().is_some_and(|s| !s.is_empty()) {
        let names: Vec<Value> = pull_secrets.as_array().into_iter().flatten().map(|s| json!({"name": s["name"]})).collect();
        spec["imagePullSecrets"] = json!(names);
    }
    Ok(())
}

/// The projected volume the plugin adds (`TokenVolumeSource`).
pub fn token_volume(name: &str) -> Value {
    json!({
        "name": name,
        "projected": {
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": WARN_ONLY_EXPIRATION, "path": "token"}},
                {"configMap": {"name": crate::controllers::defaults::ROOT_CA, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ],
            "defaultMode": 0o644,
        },
    })
}

/// Mounts the token volume in every container that has nothing at the mount path,
/// adding the volume when one needs it (an existing `kube-api-access-` volume is reused).
fn mount_token(spec: &mut Value) {
    let existing = spec["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["name"].as_str())
        .find(|n| n.starts_with(&format!("{VOLUME_PREFIX}-")))
        .map(str::to_string);
    let has_volume = existing.is_some();
    let volume = existing.unwrap_or_else(|| format!("{VOLUME_PREFIX}-{}", crate::rest::random_suffix()));
    let mut needed = false;
    for list in ["initContainers", "containers"] {
        for container in spec.get_mut(list).and_then(Value::as_array_mut).into_iter().flatten() {
            let mounted = container["volumeMounts"].as_array().into_iter().flatten().any(|m| m["mountPath"] == MOUNT_PATH);
            if mounted || !container.is_object() {
                continue;
            }
            let mount = json!({"name": volume, "readOnly": true, "mountPath": MOUNT_PATH});
            match container.get_mut("volumeMounts").and_then(Value::as_array_mut) {
                Some(mounts) => mounts.push(mount),
                None => container["volumeMounts"] = json!([mount]),
            }
            needed = true;
        }
    }
    if needed && !has_volume {
        match spec.get_mut("volumes").and_then(Value::as_array_mut) {
            Some(volumes) => volumes.push(token_volume(&volume)),
            None => spec["volumes"] = json!([token_volume(&volume)]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rest() -> Rest {
        super::super::test_rest()
    }

    fn create(rest: &Rest, body: Value) -> Result<Value, ApiError> {
        let pods = rest.catalogue.find("", "v1", "pods").unwrap();
        rest.create(&pods, Some("team"), body, &Default::default())
    }

    #[test]
    fn pods_get_the_token_volume_in_every_container() {
        let rest = rest();
        let pod = create(
            &rest,
            json!({"metadata": {"name": "web"}, "spec": {
                "initContainers": [{"name": "init", "image": "busybox"}],
                "containers": [{"name": "a", "image": "nginx", "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                               {"name": "b", "image": "nginx", "volumeMounts": [{"name": "own", "mountPath": MOUNT_PATH}]}],
                "volumes": [{"name": "data", "emptyDir": {}}, {"name": "own", "emptyDir": {}}]}}),
        )
        .unwrap();
        let spec = &pod["spec"];
        assert_eq!(spec["serviceAccountName"], "default", "`default` was created on the spot");
        let volume = spec["volumes"][2]["name"].as_str().unwrap();
        assert!(volume.strip_prefix("kube-api-access-").is_some_and(|s| s.len() == 5), "{volume}");
        assert_eq!(spec["volumes"][2], token_volume(volume));
        assert_eq!(spec["volumes"][2]["projected"]["defaultMode"], 420);
        let mount = json!({"name": volume, "readOnly": true, "mountPath": MOUNT_PATH});
        assert_eq!(spec["initContainers"][0]["volumeMounts"], json!([mount]));
        assert_eq!(spec["containers"][0]["volumeMounts"][1], mount, "appended after the container's own");
        assert_eq!(spec["containers"][1]["volumeMounts"].as_array().unwrap().len(), 1, "its own mount at the path wins");
    }

    #[test]
    fn automount_false_and_missing_accounts() {
        let rest = rest();
        let sas = rest.catalogue.find("", "v1", "serviceaccounts").unwrap();
        let quiet = json!({"metadata": {"name": "quiet"}, "automountServiceAccountToken": false, "imagePullSecrets": [{"name": "regcred"}]});
        rest.create(&sas, Some("team"), quiet, &Default::default()).unwrap();
        let pod = |sa: &str, automount: Value| json!({"metadata": {"generateName": "job-"}, "spec": {"serviceAccountName": sa, "automountServiceAccountToken": automount, "containers": [{"name": "c", "image": "x"}]}});
        let quiet_pod = create(&rest, pod("quiet", Value::Null)).unwrap();
        assert!(quiet_pod["spec"]["volumes"].is_null(), "the account says no");
        assert_eq!(quiet_pod["spec"]["imagePullSecrets"], json!([{"name": "regcred"}]));
        let overridden = create(&rest, pod("quiet", json!(true))).unwrap();
        assert_eq!(overridden["spec"]["volumes"].as_array().unwrap().len(), 1, "the pod's own choice wins");
        assert!(create(&rest, pod("default", json!(false))).unwrap()["spec"]["volumes"].is_null());

        let refused = create(&rest, pod("robot", Value::Null)).unwrap_err();
        assert_eq!((refused.code, refused.reason), (403, "Forbidden"));
        assert_eq!(refused.message, "pods \"job-\" is forbidden: error looking up service account team/robot: serviceaccount \"robot\" not found");
        assert_eq!(refused.details, Some(json!({"name": "job-", "kind": "pods"})));
    }
}
