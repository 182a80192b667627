//! Planned changes to one workload or pod — scale, rollout restart, set image, set
//! resources, delete pod — as `kubectl scale`/`rollout restart`/`set image`/`set
//! resources`/`delete pod` make them, but planned first: the plan reads the object,
//! says what changes from what to what, and carries the exact patch and the uid of
//! the object it was made for. Applying re-reads the object and leaves it alone when
//! it was replaced since (another uid); a pod is deleted with a uid precondition.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use serde_json::{Value, json};

use super::plan::{Plan, PlanItem};
use crate::cluster::delete::{self, Deleted, Precondition};
use crate::cluster::{Cluster, names};
use crate::error::{Error, Result};

/// The annotation `kubectl rollout restart` sets on the pod template.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Deployment,
    StatefulSet,
    DaemonSet,
}

impl Kind {
    /// `deploy`, `deployment`, `sts`, `statefulset`, `ds`, `daemonset` (and plurals).
    pub fn parse(short: &str) -> Option<Kind> {
        Some(match short {
            "deploy" | "deployment" | "deployments" => Kind::Deployment,
            "sts" | "statefulset" | "statefulsets" => Kind::StatefulSet,
            "ds" | "daemonset" | "daemonsets" => Kind::DaemonSet,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Deployment => "Deployment",
            Kind::StatefulSet => "StatefulSet",
            Kind::DaemonSet => "DaemonSet",
        }
    }

    pub fn short(self) -> &'static str {
        match self {
            Kind::Deployment => "deploy",
            Kind::StatefulSet => "sts",
            Kind::DaemonSet => "ds",
        }
    }

    pub fn resource(self) -> ApiResource {
        let plural = format!("{}s", self.name().to_ascii_lowercase());
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("apps", "v1", self.name()), &plural)
    }
}

/// A change to a workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Scale(i32),
    Restart,
    SetImage {
        container: String,
        image: String,
    },
    /// New requests and limits of one or more containers, in one patch (one rollout).
    SetResources(Vec<Resources>),
}

/// Requests and limits of one container by resource name (`cpu`, `memory`), as quantities.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resources {
    pub container: String,
    pub requests: BTreeMap<String, String>,
    pub limits: BTreeMap<String, String>,
}

impl Change {
    fn operation(&self) -> &'static str {
        match self {
            Change::Scale(_) => "scale",
            Change::Restart => "rollout restart",
            Change::SetImage { .. } => "set image",
            Change::SetResources(_) => "set resources",
        }
    }
}

/// An image reference as a registry takes it: no spaces, no shell characters.
pub fn validate_image(image: &str) -> Result<()> {
    let ok = !image.is_empty()
        && image.len() <= 512
        && image.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':' | '@'))
        && !image.starts_with(['-', '.', '/', ':', '@']);
    if ok {
        return Ok(());
    }
    Err(Error::usage(format!("invalid image {image:?}")).hint("images look like nginx:1.27, registry.example.com/team/api:1.4.2 or name@sha256:…"))
}

/// A resource quantity (`250m`, `1`, `0.5`, `512Mi`, `2Gi`).
pub fn validate_quantity(what: &str, quantity: &str) -> Result<()> {
    let digits_end = quantity.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(quantity.len());
    let (number, suffix) = quantity.split_at(digits_end);
    let number_ok = !number.is_empty() && number.matches('.').count() <= 1 && !number.starts_with('.') && !number.ends_with('.');
    let suffix_ok = matches!(suffix, "" | "m" | "k" | "M" | "G" | "T" | "Ki" | "Mi" | "Gi" | "Ti");
    if number_ok && suffix_ok && quantity.len() <= 32 {
        return Ok(());
    }
    Err(Error::usage(format!("invalid {what} {quantity:?}")).hint("quantities look like 250m, 1, 0.5 (CPU) or 256Mi, 2Gi (memory)"))
}

/// The plan: one item, the workload, with the patch and its uid.
pub async fn plan(cluster: &Cluster, kind: Kind, namespace: &str, name: &str, change: &Change) -> Result<Plan> {
    names::validate_name(kind.name(), name)?;
    let api: Api<DynamicObject> = Api::namespaced_with(cluster.client.clone(), namespace, &kind.resource());
    let Some(object) = api.get_opt(name).await.map_err(|e| cluster.error(&format!("reading {}/{name}", kind.short()), e))? else {
        let hint = crate::cluster::existing_names(&api, &format!("{}s", kind.name()), &format!("in namespace {namespace}")).await;
        return Err(Error::not_found(format!("{}/{name} not found in namespace {namespace} (context {})", kind.short(), cluster.context)).hint(hint));
    };
    let (what, patch) = patch_for(kind, &object.data, change)?;
    let mut plan = Plan::new(change.operation(), &cluster.context);
    let mut item = PlanItem::new(kind.name(), namespace.to_string(), name.to_string(), what, "asked for".into());
    item.uid = object.metadata.uid.clone();
    item.patch = Some(patch);
    plan.items.push(item);
    Ok(plan)
}

/// What the change does in words, and the patch that does it: a strategic merge
/// patch (containers are merged by name, as kubectl set image sends them).
pub fn patch_for(kind: Kind, object: &Value, change: &Change) -> Result<(String, Value)> {
    let containers = object["spec"]["template"]["spec"]["containers"].as_array().cloned().unwrap_or_default();
    let index_of = |container: &str| -> Result<usize> {
        containers.iter().position(|c| c["name"] == container).ok_or_else(|| {
            let names: Vec<&str> = containers.iter().filter_map(|c| c["name"].as_str()).collect();
            Error::not_found(format!("container {container:?} is not in {}", kind.short())).hint(format!("its containers: {}", names.join(", ")))
        })
    };
    Ok(match change {
        Change::Scale(replicas) => {
            if kind == Kind::DaemonSet {
                return Err(Error::usage("a DaemonSet cannot be scaled: it runs one pod per node").hint("scale a Deployment or a StatefulSet"));
            }
            if !(0..=1000).contains(replicas) {
                return Err(Error::usage(format!("invalid replicas {replicas}")).hint("replicas are between 0 and 1000"));
            }
            let now = object["spec"]["replicas"].as_i64().unwrap_or(1);
            (format!("replicas {now} → {replicas}"), json!({"spec": {"replicas": replicas}}))
        }
        Change::Restart => {
            let at = k8s_openapi::jiff::Timestamp::now().to_string();
            ("restart its pods (template annotation restartedAt)".to_string(), json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: at}}}}}))
        }
        Change::SetImage { container, image } => {
            names::validate_namespace(container).map_err(|_| Error::usage(format!("invalid container name {container:?}")))?;
            validate_image(image)?;
            let i = index_of(container)?;
            let now = containers[i]["image"].as_str().unwrap_or_default();
            (format!("container {container}: image {now} → {image}"), containers_patch(json!({"name": container, "image": image})))
        }
        Change::SetResources(all) => {
            if all.is_empty() {
                return Err(Error::usage("set resources needs a container"));
            }
            let mut patches = Vec::new();
            let mut said_all = Vec::new();
            for Resources { container, requests, limits } in all {
                names::validate_namespace(container).map_err(|_| Error::usage(format!("invalid container name {container:?}")))?;
                if requests.is_empty() && limits.is_empty() {
                    return Err(Error::usage("set resources needs requests or limits").hint("e.g. requests cpu=250m, memory=256Mi"));
                }
                for (key, value) in requests.iter().chain(limits) {
                    if !matches!(key.as_str(), "cpu" | "memory" | "ephemeral-storage") {
                        return Err(Error::usage(format!("unknown resource {key:?}")).hint("resources are cpu, memory and ephemeral-storage"));
                    }
                    validate_quantity(key, value)?;
                }
                let i = index_of(container)?;
                let mut resources = containers[i]["resources"].clone();
                if !resources.is_object() {
                    resources = json!({});
                }
                let mut said = Vec::new();
                for (section, wanted) in [("requests", requests), ("limits", limits)] {
                    for (key, value) in wanted {
                        let before = resources[section][key].as_str().unwrap_or("none").to_string();
                        said.push(format!("{section}.{key} {before} → {value}"));
                        if !resources[section].is_object() {
                            resources[section] = json!({});
                        }
                        resources[section][key] = json!(value);
                    }
                }
                said_all.push(format!("container {container}: {}", said.join(", ")));
                patches.push(json!({"name": container, "resources": resources}));
            }
            (said_all.join("; "), json!({"spec": {"template": {"spec": {"containers": patches}}}}))
        }
    })
}

/// A strategic merge patch of one container, merged by its name (as kubectl set image sends).
fn containers_patch(container: Value) -> Value {
    json!({"spec": {"template": {"spec": {"containers": [container]}}}})
}

/// The containers a patch names that `object` does not have (a strategic merge
/// would add them rather than change them).
fn missing_containers(patch: &Value, object: &Value) -> Vec<String> {
    let have = object["spec"]["template"]["spec"]["containers"].as_array().cloned().unwrap_or_default();
    let named = patch["spec"]["template"]["spec"]["containers"].as_array().cloned().unwrap_or_default();
    named.iter().filter_map(|c| c["name"].as_str()).filter(|n| !have.iter().any(|h| h["name"] == *n)).map(str::to_string).collect()
}

/// Applies a workload plan: each object is read again and patched only if it is
/// still the one planned for. Returns one line per item.
pub async fn apply(cluster: &Cluster, plan: &Plan) -> Result<Vec<String>> {
    let mut done = Vec::new();
    for item in &plan.items {
        let kind = Kind::parse(&item.kind.to_ascii_lowercase()).ok_or_else(|| Error::failure(format!("cannot apply a plan for a {}", item.kind)))?;
        let api: Api<DynamicObject> = Api::namespaced_with(cluster.client.clone(), &item.namespace, &kind.resource());
        let reference = format!("{}/{} in namespace {}", kind.short(), item.name, item.namespace);
        let current = api.get_opt(&item.name).await.map_err(|e| cluster.error(&format!("reading {reference}"), e))?;
        let Some(current) = current else { return Err(Error::not_found(format!("{reference} is gone since the plan; nothing was changed"))) };
        if current.metadata.uid != item.uid {
            return Err(Error::failure(format!("{reference} was replaced since the plan (another uid); nothing was changed")).hint("plan again"));
        }
        let Some(patch) = &item.patch else { return Err(Error::failure("the plan has no patch")) };
        let missing = missing_containers(patch, &current.data);
        if !missing.is_empty() {
            return Err(Error::failure(format!("{reference} no longer has container {} since the plan; nothing was changed", missing.join(", "))));
        }
        api.patch(&item.name, &PatchParams::default(), &Patch::Strategic(patch))
            .await
            .map_err(|e| cluster.error(&format!("{} {reference}", plan.operation), e))?;
        done.push(format!("{}: {}", reference, item.change));
    }
    Ok(done)
}

/// The plan of deleting one pod, by its uid.
pub async fn plan_delete_pod(cluster: &Cluster, namespace: &str, name: &str) -> Result<Plan> {
    names::validate_name("pod", name)?;
    let api: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    let Some(pod) = api.get_opt(name).await.map_err(|e| cluster.error(&format!("reading pod {namespace}/{name}"), e))? else {
        let hint = crate::cluster::existing_names(&api, "pods", &format!("in namespace {namespace}")).await;
        return Err(Error::not_found(format!("pod {name:?} not found in namespace {namespace} (context {})", cluster.context)).hint(hint));
    };
    let owner = pod.metadata.owner_references.iter().flatten().find(|r| r.controller == Some(true)).map(|r| format!("{} {}", r.kind, r.name));
    let reason = match owner {
        Some(owner) => format!("{}; its {owner} replaces it", crate::cluster::target::pod_state(&pod)),
        None => format!("{}; nothing owns it, so it is not replaced", crate::cluster::target::pod_state(&pod)),
    };
    let mut plan = Plan::new("delete pod", &cluster.context);
    let mut item = PlanItem::new("Pod", namespace.to_string(), name.to_string(), "delete".into(), reason);
    item.uid = pod.metadata.uid.clone();
    plan.items.push(item);
    Ok(plan)
}

/// Deletes the planned pod if it is still the pod planned for.
pub async fn apply_delete_pod(cluster: &Cluster, plan: &Plan) -> Result<Vec<String>> {
    let mut done = Vec::new();
    for item in &plan.items {
        let api: Api<Pod> = Api::namespaced(cluster.client.clone(), &item.namespace);
        let precondition = Precondition::uid(item.uid.clone().unwrap_or_default());
        let reference = format!("pod {}/{}", item.namespace, item.name);
        match delete::planned(&api, &item.name, &precondition, &DeleteParams::default()).await {
            Ok(Deleted::Yes) => done.push(format!("{reference}: deleted")),
            Ok(Deleted::AlreadyGone) => done.push(format!("{reference}: already gone")),
            Ok(Deleted::Changed(why)) => return Err(Error::failure(format!("{reference} was replaced since the plan, left alone: {why}"))),
            Err(e) => return Err(cluster.error(&format!("deleting {reference}"), e)),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment() -> Value {
        json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [
            {"name": "api", "image": "example/api:1", "resources": {"limits": {"memory": "1Gi"}}},
            {"name": "sidecar", "image": "proxy:2"}]}}}})
    }

    #[test]
    fn scale_says_from_what_to_what() {
        let (what, patch) = patch_for(Kind::Deployment, &deployment(), &Change::Scale(3)).unwrap();
        assert_eq!(what, "replicas 1 → 3");
        assert_eq!(patch, json!({"spec": {"replicas": 3}}));
        assert!(patch_for(Kind::DaemonSet, &deployment(), &Change::Scale(3)).unwrap_err().message.contains("DaemonSet"));
        assert!(patch_for(Kind::Deployment, &deployment(), &Change::Scale(-1)).is_err());
    }

    #[test]
    fn images_and_resources_pin_the_container_by_name() {
        let change = Change::SetImage { container: "sidecar".into(), image: "proxy:3".into() };
        let (what, patch) = patch_for(Kind::Deployment, &deployment(), &change).unwrap();
        assert_eq!(what, "container sidecar: image proxy:2 → proxy:3");
        assert_eq!(patch, json!({"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "proxy:3"}]}}}}));
        assert!(missing_containers(&patch, &deployment()).is_empty());
        assert_eq!(missing_containers(&patch, &json!({"spec": {"template": {"spec": {"containers": [{"name": "api"}]}}}})), ["sidecar"]);
        let change = Change::SetResources(vec![Resources {
            container: "api".into(),
            requests: BTreeMap::from([("cpu".into(), "250m".into())]),
            limits: BTreeMap::new(),
        }]);
        let (what, patch) = patch_for(Kind::Deployment, &deployment(), &change).unwrap();
        assert_eq!(what, "container api: requests.cpu none → 250m");
        let resources = &patch["spec"]["template"]["spec"]["containers"][0]["resources"];
        assert_eq!(*resources, json!({"limits": {"memory": "1Gi"}, "requests": {"cpu": "250m"}}), "the limits it had are kept");
        let missing = Change::SetImage { container: "web".into(), image: "nginx".into() };
        assert!(patch_for(Kind::Deployment, &deployment(), &missing).unwrap_err().hints[0].contains("api, sidecar"));
    }

    #[test]
    fn images_and_quantities_refuse_shell_characters() {
        for bad in ["nginx; rm -rf /", "$(id)", "a b", "`x`", "img|sh", "", "-x"] {
            assert!(validate_image(bad).is_err(), "{bad:?}");
        }
        for good in ["nginx", "nginx:1.27", "registry.example.com:5000/team/api:1.4.2", "api@sha256:abc123"] {
            assert!(validate_image(good).is_ok(), "{good:?}");
        }
        for good in ["250m", "1", "0.5", "512Mi", "2Gi"] {
            assert!(validate_quantity("cpu", good).is_ok(), "{good:?}");
        }
        for bad in ["", "1;2", "lots", "1.2.3", "5 Gi", ".5"] {
            assert!(validate_quantity("cpu", bad).is_err(), "{bad:?}");
        }
    }
}
