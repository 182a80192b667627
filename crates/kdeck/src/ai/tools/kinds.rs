//! The kinds the read tools know, and one summary per object: the few fields a
//! person looks at (`kubectl get` columns, plus a Secret's keys — never a value).

use kube::api::ApiResource;
use kube::core::GroupVersionKind;
use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::error::{Error, Result};

/// A kind: its resource, whether it is namespaced.
pub struct Kind {
    pub kind: &'static str,
    pub resource: ApiResource,
    pub namespaced: bool,
}

/// (names, group, version, kind, plural, namespaced).
type BuiltIn = (&'static [&'static str], &'static str, &'static str, &'static str, &'static str, bool);

const BUILT_IN: &[BuiltIn] = &[
    (&["pod", "pods", "po"], "", "v1", "Pod", "pods", true),
    (&["deployment", "deployments", "deploy"], "apps", "v1", "Deployment", "deployments", true),
    (&["statefulset", "statefulsets", "sts"], "apps", "v1", "StatefulSet", "statefulsets", true),
    (&["daemonset", "daemonsets", "ds"], "apps", "v1", "DaemonSet", "daemonsets", true),
    (&["replicaset", "replicasets", "rs"], "apps", "v1", "ReplicaSet", "replicasets", true),
    (&["service", "services", "svc"], "", "v1", "Service", "services", true),
    (&["ingress", "ingresses", "ing"], "networking.k8s.io", "v1", "Ingress", "ingresses", true),
    (&["configmap", "configmaps", "cm"], "", "v1", "ConfigMap", "configmaps", true),
    (&["secret", "secrets"], "", "v1", "Secret", "secrets", true),
    (&["persistentvolumeclaim", "persistentvolumeclaims", "pvc"], "", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true),
    (&["job", "jobs"], "batch", "v1", "Job", "jobs", true),
    (&["cronjob", "cronjobs", "cj"], "batch", "v1", "CronJob", "cronjobs", true),
    (&["node", "nodes", "no"], "", "v1", "Node", "nodes", false),
    (&["namespace", "namespaces", "ns"], "", "v1", "Namespace", "namespaces", false),
];

/// The names the tools take, for messages and descriptions.
pub const KNOWN: &str = "pods, deployments, statefulsets, daemonsets, replicasets, services, ingresses, configmaps, secrets, pvc, jobs, cronjobs, nodes, namespaces, helmreleases, externalsecrets";

/// Whether `name` names a kind the tools know (checked before any request).
pub fn known(name: &str) -> Result<()> {
    let name = name.to_ascii_lowercase();
    let custom = matches!(name.as_str(), "hr" | "helmrelease" | "helmreleases" | "es" | "externalsecret" | "externalsecrets");
    if custom || BUILT_IN.iter().any(|(names, ..)| names.contains(&name.as_str())) {
        return Ok(());
    }
    Err(Error::usage(format!("unknown kind {name:?}")).hint(format!("kinds: {KNOWN}")))
}

/// The kind `name` stands for; HelmRelease and ExternalSecret at the version the cluster serves.
pub async fn resolve(cluster: &Cluster, name: &str) -> Result<Kind> {
    known(name)?;
    let name = name.to_ascii_lowercase();
    if let Some((_, group, version, kind, plural, namespaced)) = BUILT_IN.iter().find(|(names, ..)| names.contains(&name.as_str())) {
        return Ok(Kind { kind, resource: ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural), namespaced: *namespaced });
    }
    let custom = if name.starts_with('h') { &crate::cluster::crds::HELM_RELEASE } else { &crate::cluster::crds::EXTERNAL_SECRET };
    Ok(Kind { kind: custom.kind, resource: custom.discover(cluster).await?, namespaced: true })
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn ready_condition(obj: &Value) -> Value {
    let conditions = obj["status"]["conditions"].as_array();
    match conditions.and_then(|c| c.iter().find(|c| c["type"] == "Ready")) {
        Some(c) => json!({"ready": c["status"], "reason": c["reason"], "message": c["message"]}),
        None => Value::Null,
    }
}

/// A Secret with its keys and type only: values never leave this function.
pub fn secret_keys(obj: &Value) -> Value {
    let mut keys: Vec<String> = Vec::new();
    for field in ["data", "stringData"] {
        keys.extend(obj[field].as_object().into_iter().flatten().map(|(k, _)| k.clone()));
    }
    keys.sort();
    keys.dedup();
    json!({"type": obj["type"], "keys": keys, "note": "values are never shown"})
}

/// The summary of one object: name, namespace and the fields that say its state.
pub fn summary(obj: &Value) -> Value {
    let meta = &obj["metadata"];
    let mut out = json!({"name": meta["name"]});
    if let Some(ns) = meta["namespace"].as_str() {
        out["namespace"] = json!(ns);
    }
    let (spec, status) = (&obj["spec"], &obj["status"]);
    let extra = match obj["kind"].as_str().unwrap_or_default() {
        "Pod" => {
            let statuses = status["containerStatuses"].as_array().cloned().unwrap_or_default();
            let ready = statuses.iter().filter(|c| c["ready"] == true).count();
            let restarts: i64 = statuses.iter().filter_map(|c| c["restartCount"].as_i64()).sum();
            let waiting: Vec<String> = statuses.iter().filter_map(|c| c["state"]["waiting"]["reason"].as_str().map(str::to_string)).collect();
            let pod: Result<k8s_openapi::api::core::v1::Pod, _> = serde_json::from_value(obj.clone());
            let state = pod.map(|p| crate::cluster::target::pod_state(&p)).unwrap_or_else(|_| text(&status["phase"]));
            json!({"status": state, "ready": format!("{ready}/{}", spec["containers"].as_array().map_or(0, Vec::len)),
                   "restarts": restarts, "waiting": waiting, "node": spec["nodeName"]})
        }
        "Deployment" | "StatefulSet" | "ReplicaSet" => json!({
            "replicas": spec["replicas"], "ready": status["readyReplicas"].as_i64().unwrap_or(0),
            "updated": status["updatedReplicas"].as_i64().unwrap_or(0), "available": status["availableReplicas"].as_i64().unwrap_or(0),
            "images": images(spec)}),
        "DaemonSet" => json!({"desired": status["desiredNumberScheduled"], "ready": status["numberReady"], "images": images(spec)}),
        "Service" => json!({"type": spec["type"], "clusterIP": spec["clusterIP"], "selector": spec["selector"],
            "ports": spec["ports"].as_array().into_iter().flatten().map(|p| format!("{}→{}/{}", text(&p["port"]), text(&p["targetPort"]), p["protocol"].as_str().unwrap_or("TCP"))).collect::<Vec<_>>()}),
        "Ingress" => json!({"class": spec["ingressClassName"], "rules": spec["rules"]}),
        "ConfigMap" => json!({"keys": obj["data"].as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default()}),
        "Secret" => secret_keys(obj),
        "PersistentVolumeClaim" => json!({"phase": status["phase"], "storageClass": spec["storageClassName"], "capacity": status["capacity"]["storage"]}),
        "Job" => json!({"succeeded": status["succeeded"], "failed": status["failed"], "active": status["active"], "conditions": conditions(obj)}),
        "CronJob" => json!({"schedule": spec["schedule"], "suspend": spec["suspend"], "lastScheduleTime": status["lastScheduleTime"]}),
        "Node" => json!({"conditions": conditions(obj), "unschedulable": spec["unschedulable"], "kubelet": status["nodeInfo"]["kubeletVersion"]}),
        "Namespace" => json!({"phase": status["phase"]}),
        _ => json!({"ready": ready_condition(obj), "suspend": spec["suspend"]}),
    };
    if let (Some(out), Some(extra)) = (out.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            if !v.is_null() {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

fn images(spec: &Value) -> Vec<String> {
    spec["template"]["spec"]["containers"].as_array().into_iter().flatten().map(|c| format!("{}={}", text(&c["name"]), text(&c["image"]))).collect()
}

fn conditions(obj: &Value) -> Vec<String> {
    obj["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let reason = c["reason"].as_str().map(|r| format!(" ({r})")).unwrap_or_default();
            format!("{}={}{reason}", text(&c["type"]), text(&c["status"]))
        })
        .collect()
}

/// An object to show whole: without managedFields and the last-applied annotation
/// (which holds a Secret's values when it was applied), a Secret as its keys.
pub fn shown(obj: &Value) -> Value {
    if obj["kind"] == "Secret" {
        let mut out = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": obj["metadata"]["name"], "namespace": obj["metadata"]["namespace"]}});
        if let (Some(out), Some(keys)) = (out.as_object_mut(), secret_keys(obj).as_object()) {
            out.extend(keys.clone());
        }
        return out;
    }
    let mut obj = obj.clone();
    mask_literal_secrets(&mut obj);
    if let Some(meta) = obj["metadata"].as_object_mut() {
        meta.remove("managedFields");
        if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
    obj
}

/// Literal values under names that look secret (`DB_PASSWORD`, `API_TOKEN`) in
/// containers' env and in a ConfigMap's data become the mask: a password written
/// into a manifest is no less a secret for not being in a Secret.
fn mask_literal_secrets(obj: &mut Value) {
    use crate::project::secret::{MASK, looks_secret};
    let mask_env = |pod_spec: &mut Value| {
        for field in ["containers", "initContainers"] {
            for container in pod_spec[field].as_array_mut().into_iter().flatten() {
                for env in container["env"].as_array_mut().into_iter().flatten() {
                    let secret = env["name"].as_str().is_some_and(looks_secret);
                    if secret && env["value"].is_string() {
                        env["value"] = json!(MASK);
                    }
                }
            }
        }
    };
    if obj["kind"] == "Pod" {
        mask_env(&mut obj["spec"]);
    } else if obj["spec"]["template"]["spec"].is_object() {
        mask_env(&mut obj["spec"]["template"]["spec"]);
    } else if obj["spec"]["jobTemplate"]["spec"]["template"]["spec"].is_object() {
        mask_env(&mut obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]);
    }
    if obj["kind"] == "ConfigMap" {
        for (key, value) in obj["data"].as_object_mut().into_iter().flatten() {
            if looks_secret(key) {
                *value = json!(MASK);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_show_keys_never_values() {
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": "db", "namespace": "demo",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"stringData\":{\"password\":\"hunter2-pw\"}}"}},
            "data": {"password": "aHVudGVyMi1wdw=="}, "stringData": {"user": "app"}});
        for shown in [summary(&secret), shown(&secret)] {
            let text = shown.to_string();
            assert!(text.contains("password") && text.contains("user"), "keys are shown: {text}");
            assert!(!text.contains("aHVudGVyMi1wdw") && !text.contains("hunter2") && !text.contains("\"app\""), "no value: {text}");
        }
    }

    #[test]
    fn literal_values_under_secret_names_are_masked() {
        let deploy = json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "api",
            "env": [{"name": "DB_PASSWORD", "value": "hunter2-pw"}, {"name": "LOG_LEVEL", "value": "info"}]}]}}}});
        let shown = shown(&deploy);
        assert_eq!(shown["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"], "******");
        assert_eq!(shown["spec"]["template"]["spec"]["containers"][0]["env"][1]["value"], "info");
        let cm = json!({"kind": "ConfigMap", "data": {"SMTP_PASSWORD": "x1y2z3w4", "HOST": "smtp"}});
        assert_eq!(super::shown(&cm)["data"], json!({"SMTP_PASSWORD": "******", "HOST": "smtp"}));
    }

    #[test]
    fn kinds_are_checked_before_any_request() {
        assert!(known("po").is_ok() && known("HelmReleases").is_ok() && known("svc").is_ok());
        let err = known("pods; rm -rf /").unwrap_err();
        assert!(err.message.contains("unknown kind") && err.hints[0].contains("deployments"), "{err:?}");
    }

    #[test]
    fn a_pod_summary_says_its_state() {
        let pod = json!({"kind": "Pod", "metadata": {"name": "api-1", "namespace": "demo"}, "spec": {"containers": [{"name": "api"}]},
            "status": {"phase": "Running", "containerStatuses": [{"name": "api", "ready": false, "restartCount": 4, "image": "i", "imageID": "",
                "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        let s = summary(&pod);
        assert_eq!(s["status"], "Running (CrashLoopBackOff)");
        assert_eq!(s["ready"], "0/1");
        assert_eq!(s["restarts"], 4);
    }
}
