//! Configuration changes take effect: a workload that reads a ConfigMap or Secret
//! the stack applies (env, envFrom, volumes) gets the content's hash as an
//! annotation on its pod template, so changing the ConfigMap and running `up`
//! rolls it — what Helm users do by hand with `checksum/config`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

/// The pod-template annotation carrying the hash.
pub const CONFIG_HASH: &str = "kdeck.dev/config-hash";

/// Annotates, in place, every workload of `objects` that reads a ConfigMap or
/// Secret among `objects` or `extra` (the stack's dev secrets).
pub fn annotate(objects: &mut [Value], extra: &[Value]) {
    let mut configs: BTreeMap<(String, String, String), String> = BTreeMap::new();
    for object in objects.iter().chain(extra) {
        let kind = object["kind"].as_str().unwrap_or_default();
        if object["apiVersion"] == "v1" && (kind == "ConfigMap" || kind == "Secret") {
            let key = (kind.to_string(), namespace(object), object["metadata"]["name"].as_str().unwrap_or_default().to_string());
            let content = json!([object["data"], object["binaryData"], object["stringData"]]).to_string();
            configs.insert(key, content);
        }
    }
    if configs.is_empty() {
        return;
    }
    for object in objects.iter_mut() {
        let Some(template) = pod_template(object) else { continue };
        let ns = namespace(object);
        let used = references(&template["spec"]);
        let mut content = String::new();
        for (kind, name) in used {
            if let Some(c) = configs.get(&(kind.clone(), ns.clone(), name.clone())) {
                content.push_str(&format!("{kind}/{name}={c}\n"));
            }
        }
        if content.is_empty() {
            continue;
        }
        let digest = ring::digest::digest(&ring::digest::SHA256, content.as_bytes());
        let hash: String = digest.as_ref().iter().take(12).map(|b| format!("{b:02x}")).collect();
        if let Some(template) = template_mut(object) {
            template["metadata"]["annotations"][CONFIG_HASH] = json!(hash);
        }
    }
}

fn namespace(object: &Value) -> String {
    object["metadata"]["namespace"].as_str().unwrap_or("default").to_string()
}

fn pod_template(object: &Value) -> Option<Value> {
    let template = match object["kind"].as_str()? {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => &object["spec"]["template"],
        "CronJob" => &object["spec"]["jobTemplate"]["spec"]["template"],
        _ => return None,
    };
    template.is_object().then(|| template.clone())
}

fn template_mut(object: &mut Value) -> Option<&mut Value> {
    match object["kind"].as_str()? {
        "CronJob" => Some(&mut object["spec"]["jobTemplate"]["spec"]["template"]),
        _ => Some(&mut object["spec"]["template"]),
    }
}

/// (kind, name) of every ConfigMap and Secret a pod spec reads.
fn references(spec: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let mut add = |kind: &str, name: &Value| {
        if let Some(name) = name.as_str() {
            out.insert((kind.to_string(), name.to_string()));
        }
    };
    let containers = ["containers", "initContainers"].into_iter().flat_map(|k| spec[k].as_array().cloned().unwrap_or_default());
    for container in containers {
        for env in container["env"].as_array().into_iter().flatten() {
            add("ConfigMap", &env["valueFrom"]["configMapKeyRef"]["name"]);
            add("Secret", &env["valueFrom"]["secretKeyRef"]["name"]);
        }
        for from in container["envFrom"].as_array().into_iter().flatten() {
            add("ConfigMap", &from["configMapRef"]["name"]);
            add("Secret", &from["secretRef"]["name"]);
        }
    }
    for volume in spec["volumes"].as_array().into_iter().flatten() {
        add("ConfigMap", &volume["configMap"]["name"]);
        add("Secret", &volume["secret"]["secretName"]);
        for source in volume["projected"]["sources"].as_array().into_iter().flatten() {
            add("ConfigMap", &source["configMap"]["name"]);
            add("Secret", &source["secret"]["name"]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "shop"},
            "spec": {"template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [{"name": "api",
                "envFrom": [{"configMapRef": {"name": "api-config"}}]}]}}}})
    }

    fn config(level: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "api-config", "namespace": "shop"}, "data": {"LOG_LEVEL": level}})
    }

    fn hash(objects: &[Value]) -> Value {
        objects[0]["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH].clone()
    }

    #[test]
    fn a_changed_configmap_changes_the_hash() {
        let mut a = vec![deployment(), config("info")];
        let mut b = vec![deployment(), config("debug")];
        let mut c = vec![deployment(), config("info")];
        annotate(&mut a, &[]);
        annotate(&mut b, &[]);
        annotate(&mut c, &[]);
        assert!(hash(&a).is_string());
        assert_ne!(hash(&a), hash(&b));
        assert_eq!(hash(&a), hash(&c), "stable: the same content, the same hash");
    }

    #[test]
    fn workloads_reading_nothing_of_the_stack_are_left_alone() {
        let mut objects = vec![deployment(), json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other", "namespace": "shop"}, "data": {}})];
        annotate(&mut objects, &[]);
        assert!(hash(&objects).is_null());
    }
}
