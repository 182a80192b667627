//! The catalogue of resource types the sandbox serves: the built-in kinds, and the
//! custom resources that CustomResourceDefinitions add at run time.
//!
//! Discovery, routing, validation and tables all read this one table, so a kind is
//! described once.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;

/// Identifies a resource's storage: objects of every served version share it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceKey {
    pub group: String,
    pub plural: String,
}

impl ResourceKey {
    pub fn new(group: &str, plural: &str) -> Self {
        Self { group: group.to_string(), plural: plural.to_string() }
    }

    /// `plural` for the core group, `plural.group` otherwise (as in RBAC messages).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() { self.plural.clone() } else { format!("{}.{}", self.plural, self.group) }
    }
}

/// Everything the server needs to know about one resource in one API version.
#[derive(Clone, Debug)]
pub struct ResourceInfo {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// `status`, `scale`, `log`, `exec`, … served under `plural/<sub>`.
    pub subresources: Vec<String>,
    /// The verbs a client may use; `create` etc. are absent for read-only kinds.
    pub verbs: Vec<&'static str>,
    /// For custom resources: the CRD's printer columns, scale paths and schema flags.
    pub custom: Option<CustomInfo>,
}

#[derive(Clone, Debug, Default)]
pub struct CustomInfo {
    pub printer_columns: Vec<Value>,
    /// (specReplicasPath, statusReplicasPath, labelSelectorPath) when scale is enabled.
    pub scale_paths: Option<(String, String, Option<String>)>,
    /// The storage version; objects are stored with it and converted on read.
    pub storage_version: String,
}

impl ResourceInfo {
    /// Where its objects are stored: their own key, except `events.k8s.io` Events,
    /// stored as core Events (one store served by both APIs, see `rest::events`).
    pub fn key(&self) -> ResourceKey {
        if self.group == "events.k8s.io" && self.plural == "events" {
            return ResourceKey::new("", "events");
        }
        ResourceKey::new(&self.group, &self.plural)
    }

    /// `plural.group` (`deployments.apps`; the plural alone for the core group), as
    /// the API server names a resource in its messages.
    pub fn qualified(&self) -> String {
        ResourceKey::new(&self.group, &self.plural).qualified()
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    pub fn has_subresource(&self, name: &str) -> bool {
        self.subresources.iter().any(|s| s == name)
    }

    pub fn is_custom(&self) -> bool {
        self.custom.is_some()
    }
}

const ALL_VERBS: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

/// One row of the built-in table: (group, version, plural, singular, kind, namespaced,
/// short names, categories, subresources).
type Builtin = (&'static str, &'static str, &'static str, &'static str, &'static str, bool, &'static str, &'static str, &'static str);

const BUILTINS: &[Builtin] = &[
    ("", "v1", "namespaces", "namespace", "Namespace", false, "ns", "", "status,finalize"),
    ("", "v1", "pods", "pod", "Pod", true, "po", "all", "status,log,exec,attach,portforward,eviction,binding,ephemeralcontainers,resize"),
    ("", "v1", "services", "service", "Service", true, "svc", "all", "status,proxy"),
    ("", "v1", "endpoints", "endpoints", "Endpoints", true, "ep", "", ""),
    ("", "v1", "configmaps", "configmap", "ConfigMap", true, "cm", "", ""),
    ("", "v1", "secrets", "secret", "Secret", true, "", "", ""),
    ("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, "sa", "", "token"),
    ("", "v1", "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", true, "pvc", "", "status"),
    ("", "v1", "persistentvolumes", "persistentvolume", "PersistentVolume", false, "pv", "", "status"),
    ("", "v1", "nodes", "node", "Node", false, "no", "", "status,proxy"),
    ("", "v1", "events", "event", "Event", true, "ev", "", ""),
    ("", "v1", "replicationcontrollers", "replicationcontroller", "ReplicationController", true, "rc", "all", "status,scale"),
    ("", "v1", "resourcequotas", "resourcequota", "ResourceQuota", true, "quota", "", "status"),
    ("", "v1", "limitranges", "limitrange", "LimitRange", true, "limits", "", ""),
    ("", "v1", "podtemplates", "podtemplate", "PodTemplate", true, "", "", ""),
    ("apps", "v1", "deployments", "deployment", "Deployment", true, "deploy", "all", "status,scale"),
    ("apps", "v1", "replicasets", "replicaset", "ReplicaSet", true, "rs", "all", "status,scale"),
    ("apps", "v1", "statefulsets", "statefulset", "StatefulSet", true, "sts", "all", "status,scale"),
    ("apps", "v1", "daemonsets", "daemonset", "DaemonSet", true, "ds", "all", "status"),
    ("apps", "v1", "controllerrevisions", "controllerrevision", "ControllerRevision", true, "", "", ""),
    ("batch", "v1", "jobs", "job", "Job", true, "", "all", "status"),
    ("batch", "v1", "cronjobs", "cronjob", "CronJob", true, "cj", "all", "status"),
    ("autoscaling", "v2", "horizontalpodautoscalers", "horizontalpodautoscaler", "HorizontalPodAutoscaler", true, "hpa", "all", "status"),
    ("autoscaling", "v1", "horizontalpodautoscalers", "horizontalpodautoscaler", "HorizontalPodAutoscaler", true, "hpa", "all", "status"),
    ("networking.k8s.io", "v1", "ingresses", "ingress", "Ingress", true, "ing", "", "status"),
    ("networking.k8s.io", "v1", "ingressclasses", "ingressclass", "IngressClass", false, "", "", ""),
    ("networking.k8s.io", "v1", "networkpolicies", "networkpolicy", "NetworkPolicy", true, "netpol", "", ""),
    ("storage.k8s.io", "v1", "storageclasses", "storageclass", "StorageClass", false, "sc", "", ""),
    ("rbac.authorization.k8s.io", "v1", "roles", "role", "Role", true, "", "", ""),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", true, "", "", ""),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", false, "", "", ""),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", false, "", "", ""),
    ("policy", "v1", "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", true, "pdb", "", "status"),
    ("discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", true, "", "", ""),
    ("coordination.k8s.io", "v1", "leases", "lease", "Lease", true, "", "", ""),
    ("events.k8s.io", "v1", "events", "event", "Event", true, "ev", "", ""),
    (
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "customresourcedefinition",
        "CustomResourceDefinition",
        false,
        "crd,crds",
        "api-extensions",
        "status",
    ),
    // Stored (and patched, as kube-webhook-certgen does); the sandbox calls no admission webhook.
    (
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "validatingwebhookconfiguration",
        "ValidatingWebhookConfiguration",
        false,
        "",
        "api-extensions",
        "",
    ),
    (
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "mutatingwebhookconfiguration",
        "MutatingWebhookConfiguration",
        false,
        "",
        "api-extensions",
        "",
    ),
    ("scheduling.k8s.io", "v1", "priorityclasses", "priorityclass", "PriorityClass", false, "pc", "", ""),
    ("apiregistration.k8s.io", "v1", "apiservices", "apiservice", "APIService", false, "", "api-extensions", "status"),
    ("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "selfsubjectaccessreview", "SelfSubjectAccessReview", false, "", "", ""),
    ("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "selfsubjectrulesreview", "SelfSubjectRulesReview", true, "", "", ""),
    ("authentication.k8s.io", "v1", "selfsubjectreviews", "selfsubjectreview", "SelfSubjectReview", false, "", "", ""),
    // Computed on each read, as metrics-server serves them (see `api::metrics`).
    ("metrics.k8s.io", "v1beta1", "pods", "", "PodMetrics", true, "", "", ""),
    ("metrics.k8s.io", "v1beta1", "nodes", "", "NodeMetrics", false, "", "", ""),
];

/// Kinds that are requests, not stored objects: only `create` is served.
fn create_only(group: &str) -> bool {
    matches!(group, "authorization.k8s.io" | "authentication.k8s.io")
}

fn split(list: &str) -> Vec<String> {
    list.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

fn builtin_infos() -> Vec<ResourceInfo> {
    BUILTINS
        .iter()
        .map(|&(group, version, plural, singular, kind, namespaced, short, cats, subs)| ResourceInfo {
            group: group.into(),
            version: version.into(),
            plural: plural.into(),
            singular: singular.into(),
            kind: kind.into(),
            namespaced,
            short_names: split(short),
            categories: split(cats),
            subresources: split(subs),
            verbs: if create_only(group) {
                vec!["create"]
            } else if group == "metrics.k8s.io" {
                vec!["get", "list"]
            } else {
                ALL_VERBS.to_vec()
            },
            custom: None,
        })
        .collect()
}

/// The live catalogue. Cheap to clone; CRD changes are seen by every clone.
#[derive(Clone)]
pub struct Catalogue {
    inner: Arc<RwLock<Vec<ResourceInfo>>>,
}

impl Default for Catalogue {
    fn default() -> Self {
        Self::new()
    }
}

impl Catalogue {
    pub fn new() -> Self {
        Self { inner: Arc::new(RwLock::new(builtin_infos())) }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<ResourceInfo>> {
        self.inner.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<ResourceInfo>> {
        self.inner.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The resource served at `/{group}/{version}/{plural}`.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<ResourceInfo> {
        self.read().iter().find(|r| r.group == group && r.version == version && r.plural == plural).cloned()
    }

    /// Any served version of a resource (used where only storage matters).
    pub fn find_any_version(&self, key: &ResourceKey) -> Option<ResourceInfo> {
        self.read().iter().find(|r| r.group == key.group && r.plural == key.plural).cloned()
    }

    /// The resource whose objects have this apiVersion and kind.
    pub fn find_kind(&self, api_version: &str, kind: &str) -> Option<ResourceInfo> {
        let (group, version) = split_api_version(api_version);
        self.read().iter().find(|r| r.group == group && r.version == version && r.kind == kind).cloned()
    }

    pub fn all(&self) -> Vec<ResourceInfo> {
        self.read().clone()
    }

    /// Group → versions, in the order versions were registered (preferred first).
    pub fn groups(&self) -> BTreeMap<String, Vec<String>> {
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in self.read().iter() {
            let versions = groups.entry(r.group.clone()).or_default();
            if !versions.contains(&r.version) {
                versions.push(r.version.clone());
            }
        }
        groups
    }

    /// Stops serving a built-in group (`metrics.k8s.io` on a sandbox started without metrics).
    pub fn remove_group(&self, group: &str) {
        self.write().retain(|r| r.group != group);
    }

    /// Replaces the resources a CRD serves (all of its versions). `infos` empty removes them.
    pub fn set_custom(&self, group: &str, plural: &str, infos: Vec<ResourceInfo>) {
        let mut all = self.write();
        all.retain(|r| !(r.is_custom() && r.group == group && r.plural == plural));
        all.extend(infos);
    }
}

/// `apps/v1` → ("apps", "v1"); `v1` → ("", "v1").
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// The ResourceInfos a CustomResourceDefinition serves, or an error message the
/// CRD's status reports (the real apiextensions server rejects such CRDs at admission).
pub fn infos_from_crd(crd: &Value) -> Result<Vec<ResourceInfo>, String> {
    let spec = crd.get("spec").ok_or("spec is required")?;
    let group = spec.get("group").and_then(Value::as_str).ok_or("spec.group is required")?;
    let names = spec.get("names").ok_or("spec.names is required")?;
    let plural = names.get("plural").and_then(Value::as_str).ok_or("spec.names.plural is required")?;
    let kind = names.get("kind").and_then(Value::as_str).ok_or("spec.names.kind is required")?;
    let singular = names.get("singular").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| kind.to_lowercase());
    let namespaced = spec.get("scope").and_then(Value::as_str).unwrap_or("Namespaced") == "Namespaced";
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array).map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect()).unwrap_or_default()
    };
    let short_names = strings(names.get("shortNames"));
    let categories = strings(names.get("categories"));
    let versions = spec.get("versions").and_then(Value::as_array).ok_or("spec.versions is required")?;
    let storage_version = versions
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .and_then(|v| v.get("name").and_then(Value::as_str))
        .ok_or("exactly one version must be marked as storage version")?;
    let mut infos = Vec::new();
    for v in versions {
        if v.get("served").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        let Some(version) = v.get("name").and_then(Value::as_str) else { continue };
        let sub = v.get("subresources");
        let mut subresources = Vec::new();
        if sub.and_then(|s| s.get("status")).is_some() {
            subresources.push("status".to_string());
        }
        let scale_paths = sub.and_then(|s| s.get("scale")).map(|scale| {
            subresources.push("scale".to_string());
            let path = |k: &str| scale.get(k).and_then(Value::as_str).map(str::to_string);
            (
                path("specReplicasPath").unwrap_or_else(|| ".spec.replicas".into()),
                path("statusReplicasPath").unwrap_or_else(|| ".status.replicas".into()),
                path("labelSelectorPath"),
            )
        });
        infos.push(ResourceInfo {
            group: group.into(),
            version: version.into(),
            plural: plural.into(),
            singular: singular.clone(),
            kind: kind.into(),
            namespaced,
            short_names: short_names.clone(),
            categories: categories.clone(),
            subresources,
            verbs: ALL_VERBS.to_vec(),
            custom: Some(CustomInfo {
                printer_columns: v.get("additionalPrinterColumns").and_then(Value::as_array).cloned().unwrap_or_default(),
                scale_paths,
                storage_version: storage_version.to_string(),
            }),
        });
    }
    Ok(infos)
}
