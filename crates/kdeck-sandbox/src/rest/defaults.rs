//! Defaulting, as the real API server fills in what a manifest leaves out. Rollout
//! checks and printers read these fields, so they must be present.

use serde_json::{Map, Value, json};

use crate::resources::ResourceInfo;

/// Sets a field when it is absent.
fn default(obj: &mut Value, key: &str, value: Value) {
    if let Some(map) = obj.as_object_mut() {
        map.entry(key.to_string()).or_insert(value);
    }
}

fn object<'a>(obj: &'a mut Value, key: &str) -> &'a mut Value {
    if !obj[key].is_object() {
        obj[key] = Value::Object(Map::new());
    }
    &mut obj[key]
}

pub fn apply(info: &ResourceInfo, obj: &mut Value) {
    match (info.group.as_str(), info.plural.as_str()) {
        ("", "pods") => {
            let spec = object(obj, "spec");
            pod_spec(spec);
            requests_from_limits(spec);
        }
        ("", "podtemplates") => template(obj),
        ("", "namespaces") => {
            let name = obj["metadata"]["name"].clone();
            if name.is_string() {
                object(object(obj, "metadata"), "labels")["kubernetes.io/metadata.name"] = name;
            }
            default(object(obj, "spec"), "finalizers", json!(["kubernetes"]));
            default(object(obj, "status"), "phase", json!("Active"));
        }
        ("", "secrets") => default(obj, "type", json!("Opaque")),
        ("", "services") => service(object(obj, "spec")),
        ("", "persistentvolumeclaims") => {
            default(object(obj, "spec"), "volumeMode", json!("Filesystem"));
            default(object(obj, "status"), "phase", json!("Pending"));
        }
        ("apps", "deployments") => {
            let spec = object(obj, "spec");
            default(spec, "replicas", json!(1));
            default(spec, "revisionHistoryLimit", json!(10));
            default(spec, "progressDeadlineSeconds", json!(600));
            default(spec, "strategy", json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}));
            template(spec);
        }
        ("apps", "replicasets") => {
            let spec = object(obj, "spec");
            default(spec, "replicas", json!(1));
            template(spec);
        }
        ("apps", "statefulsets") => {
            let spec = object(obj, "spec");
            default(spec, "replicas", json!(1));
            default(spec, "podManagementPolicy", json!("OrderedReady"));
            default(spec, "revisionHistoryLimit", json!(10));
            default(spec, "updateStrategy", json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}));
            default(spec, "persistentVolumeClaimRetentionPolicy", json!({"whenDeleted": "Retain", "whenScaled": "Retain"}));
            template(spec);
        }
        ("apps", "daemonsets") => {
            let spec = object(obj, "spec");
            default(spec, "revisionHistoryLimit", json!(10));
            default(spec, "updateStrategy", json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}));
            template(spec);
        }
        ("batch", "jobs") => job_spec(object(obj, "spec")),
        ("batch", "cronjobs") => {
            let spec = object(obj, "spec");
            default(spec, "concurrencyPolicy", json!("Allow"));
            default(spec, "suspend", json!(false));
            default(spec, "successfulJobsHistoryLimit", json!(3));
            default(spec, "failedJobsHistoryLimit", json!(1));
            job_spec(object(object(spec, "jobTemplate"), "spec"));
        }
        _ => {}
    }
}

/// `SetDefaults_Pod`: a container's limit without a request requests the limit.
/// Pods only: templates keep what they say.
fn requests_from_limits(spec: &mut Value) {
    for list in ["initContainers", "containers"] {
        for c in spec.get_mut(list).and_then(Value::as_array_mut).into_iter().flatten() {
            let Some(limits) = c["resources"]["limits"].as_object().cloned() else { continue };
            let requests = object(object(c, "resources"), "requests");
            for (name, value) in limits {
                default(requests, &name, value);
            }
        }
    }
}

fn template(spec: &mut Value) {
    pod_spec(object(object(spec, "template"), "spec"));
}

fn job_spec(spec: &mut Value) {
    default(spec, "parallelism", json!(1));
    default(spec, "backoffLimit", json!(6));
    default(spec, "completionMode", json!("NonIndexed"));
    default(spec, "suspend", json!(false));
    default(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
    if spec.get("completions").is_none() {
        spec["completions"] = json!(1);
    }
    template(spec);
}

fn pod_spec(spec: &mut Value) {
    default(spec, "restartPolicy", json!("Always"));
    default(spec, "terminationGracePeriodSeconds", json!(30));
    default(spec, "dnsPolicy", json!("ClusterFirst"));
    default(spec, "schedulerName", json!("default-scheduler"));
    default(spec, "securityContext", json!({}));
    default(spec, "enableServiceLinks", json!(true));
    for list in ["initContainers", "containers"] {
        if let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) {
            containers.iter_mut().for_each(container);
        }
    }
}

fn container(c: &mut Value) {
    default(c, "terminationMessagePath", json!("/dev/termination-log"));
    default(c, "terminationMessagePolicy", json!("File"));
    default(c, "resources", json!({}));
    let image = c["image"].as_str().unwrap_or_default();
    let tag = image.rsplit('/').next().and_then(|last| last.split_once(':')).map(|(_, t)| t);
    let pull = if image.contains('@') || tag.is_some_and(|t| t != "latest") { "IfNotPresent" } else { "Always" };
    default(c, "imagePullPolicy", json!(pull));
    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports {
            default(p, "protocol", json!("TCP"));
        }
    }
}

fn service(spec: &mut Value) {
    default(spec, "type", json!("ClusterIP"));
    default(spec, "sessionAffinity", json!("None"));
    if spec["type"] != "ExternalName" {
        default(spec, "ipFamilies", json!(["IPv4"]));
        default(spec, "ipFamilyPolicy", json!("SingleStack"));
        default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports {
            default(p, "protocol", json!("TCP"));
            let port = p["port"].clone();
            default(p, "targetPort", port);
        }
    }
}
