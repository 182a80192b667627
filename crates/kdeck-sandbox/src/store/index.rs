//! The parts of an object that LIST and watch filter on, extracted once at write time.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::resources::ResourceKey;

#[derive(Clone, Debug, Default)]
pub struct Index {
    pub rv: u64,
    pub uid: String,
    pub name: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    /// Values of the selectable fields (`status.phase`, …) other than name and namespace.
    pub fields: Vec<(&'static str, String)>,
    /// uids named in ownerReferences.
    pub owners: Vec<String>,
}

/// Fields a field selector may use, per resource, beyond metadata.name/namespace.
pub fn selectable_fields(key: &ResourceKey) -> &'static [&'static str] {
    match (key.group.as_str(), key.plural.as_str()) {
        ("", "pods") => &[
            "status.phase",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "events") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("events.k8s.io", "events") => &["regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid", "reason", "reportingController", "type"],
        ("", "secrets") => &["type"],
        ("", "namespaces") => &["status.phase"],
        ("", "nodes") => &["spec.unschedulable"],
        ("", "replicationcontrollers") | ("apps", "replicasets") => &["status.replicas"],
        ("batch", "jobs") => &["status.successful"],
        ("certificates.k8s.io", "certificatesigningrequests") => &["spec.signerName"],
        _ => &[],
    }
}

impl Index {
    pub fn of(key: &ResourceKey, obj: &Value) -> Self {
        let meta = &obj["metadata"];
        let labels =
            meta["labels"].as_object().map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect()).unwrap_or_default();
        let owners =
            meta["ownerReferences"].as_array().map(|refs| refs.iter().filter_map(|r| r["uid"].as_str().map(str::to_string)).collect()).unwrap_or_default();
        let fields = selectable_fields(key)
            .iter()
            .map(|path| {
                let mut v = obj;
                for part in path.split('.') {
                    v = &v[part];
                }
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                (*path, text)
            })
            .collect();
        Index {
            rv: resource_version(obj),
            uid: meta["uid"].as_str().unwrap_or_default().to_string(),
            name: meta["name"].as_str().unwrap_or_default().to_string(),
            namespace: meta["namespace"].as_str().unwrap_or_default().to_string(),
            labels,
            fields,
            owners,
        }
    }

    pub fn field(&self, path: &str) -> Option<&str> {
        self.fields.iter().find(|(p, _)| *p == path).map(|(_, v)| v.as_str())
    }
}

pub fn resource_version(obj: &Value) -> u64 {
    obj["metadata"]["resourceVersion"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}
