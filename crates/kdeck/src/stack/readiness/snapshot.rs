//! What the wait has seen of the cluster besides the objects it judges.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

/// The objects the wait has seen in the stack's namespaces (kept current by watches
/// elsewhere): workloads' pods, Services' Endpoints/EndpointSlices, StorageClasses, events.
/// Ingresses look for their backend Services here too; a Deployment's ReplicaSets, when
/// present, tell its current pods from its old ones exactly.
///
/// Kept by (API group, kind, namespace) — hashed, as every lookup names all three —
/// then by name, in order. Cluster-scoped objects have the namespace "".
#[derive(Default, Debug, Clone)]
pub struct Snapshot {
    objects: HashMap<Bucket, BTreeMap<String, Value>>,
}

/// "group\0kind\0namespace": one allocation per lookup instead of three.
type Bucket = String;

fn bucket(group: &str, kind: &str, namespace: &str) -> Bucket {
    format!("{group}\0{kind}\0{namespace}")
}

impl Snapshot {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces an object (keyed by its apiVersion group, kind, namespace, name).
    /// An object without a kind or a name is ignored.
    pub fn upsert(&mut self, obj: Value) {
        if let Some((bucket, name)) = key_of(&obj) {
            self.objects.entry(bucket).or_default().insert(name, obj);
        }
    }

    /// Forgets an object (a watch's DELETED).
    pub fn remove(&mut self, obj: &Value) {
        if let Some((bucket, name)) = key_of(obj)
            && let Some(named) = self.objects.get_mut(&bucket)
        {
            named.remove(&name);
        }
    }

    pub fn get(&self, group: &str, kind: &str, namespace: &str, name: &str) -> Option<&Value> {
        self.objects.get(&bucket(group, kind, namespace))?.get(name)
    }

    /// Objects of a kind in a namespace ("" for cluster-scoped kinds), by name.
    pub fn list<'a>(&'a self, group: &str, kind: &str, namespace: &str) -> impl Iterator<Item = &'a Value> + 'a + use<'a> {
        self.objects.get(&bucket(group, kind, namespace)).into_iter().flat_map(BTreeMap::values)
    }

    /// Every namespace an object of the snapshot lives in, sorted.
    pub fn namespaces(&self) -> Vec<String> {
        let set: BTreeSet<&str> = self
            .objects
            .iter()
            .filter(|(_, named)| !named.is_empty())
            .filter_map(|(bucket, _)| bucket.rsplit('\0').next())
            .filter(|ns| !ns.is_empty())
            .collect();
        set.into_iter().map(str::to_string).collect()
    }

    pub fn len(&self) -> usize {
        self.objects.values().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The API group of an apiVersion: "apps" for "apps/v1", "" for "v1".
pub fn group_of(api_version: &str) -> &str {
    api_version.split_once('/').map_or("", |(group, _)| group)
}

fn key_of(obj: &Value) -> Option<(Bucket, String)> {
    let metadata = &obj["metadata"];
    let kind = obj["kind"].as_str().filter(|k| !k.is_empty())?;
    let name = metadata["name"].as_str().filter(|n| !n.is_empty())?;
    let group = group_of(obj["apiVersion"].as_str().unwrap_or_default());
    Some((bucket(group, kind, metadata["namespace"].as_str().unwrap_or_default()), name.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(ns: &str, name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": ns, "name": name}})
    }

    #[test]
    fn keys_objects_by_group_kind_namespace_and_name() {
        let mut snapshot = Snapshot::new();
        snapshot.upsert(pod("shop", "b"));
        snapshot.upsert(pod("shop", "a"));
        snapshot.upsert(pod("shopping", "c"));
        snapshot.upsert(json!({"apiVersion": "apps/v1", "kind": "Pod", "metadata": {"namespace": "shop", "name": "odd"}}));
        snapshot.upsert(json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "standard"}}));
        snapshot.upsert(json!({"kind": "Pod", "metadata": {}}));
        assert_eq!(snapshot.len(), 5);
        let names: Vec<&str> = snapshot.list("", "Pod", "shop").map(|p| p["metadata"]["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(snapshot.get("storage.k8s.io", "StorageClass", "", "standard").is_some());
        assert!(snapshot.get("", "Pod", "shopping", "c").is_some());
    }

    #[test]
    fn upsert_replaces_and_remove_forgets() {
        let mut snapshot = Snapshot::new();
        snapshot.upsert(pod("shop", "a"));
        let mut newer = pod("shop", "a");
        newer["status"] = json!({"phase": "Running"});
        snapshot.upsert(newer);
        assert_eq!(snapshot.get("", "Pod", "shop", "a").unwrap()["status"]["phase"], "Running");
        snapshot.remove(&pod("shop", "a"));
        assert!(snapshot.is_empty());
    }

    #[test]
    fn group_of_api_versions() {
        assert_eq!(group_of("v1"), "");
        assert_eq!(group_of("apps/v1"), "apps");
        assert_eq!(group_of("helm.toolkit.fluxcd.io/v2"), "helm.toolkit.fluxcd.io");
    }
}
