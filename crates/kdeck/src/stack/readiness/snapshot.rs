//! What the wait has seen of the cluster besides the objects it judges.

use std::collections::BTreeMap;

use serde_json::Value;

/// (API group, kind, namespace, name); cluster-scoped objects have the namespace "".
type Key = (String, String, String, String);

/// The objects the wait has seen in the stack's namespaces (kept current by watches
/// elsewhere): workloads' pods, Services' Endpoints/EndpointSlices, StorageClasses, events.
/// Ingresses look for their backend Services here too; a Deployment's ReplicaSets, when
/// present, tell its current pods from its old ones exactly.
#[derive(Default, Debug, Clone)]
pub struct Snapshot {
    objects: BTreeMap<Key, Value>,
}

impl Snapshot {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces an object (keyed by its apiVersion group, kind, namespace, name).
    /// An object without a kind or a name is ignored.
    pub fn upsert(&mut self, obj: Value) {
        if let Some(key) = key_of(&obj) {
            self.objects.insert(key, obj);
        }
    }

    /// Forgets an object (a watch's DELETED).
    pub fn remove(&mut self, obj: &Value) {
        if let Some(key) = key_of(obj) {
            self.objects.remove(&key);
        }
    }

    pub fn get(&self, group: &str, kind: &str, namespace: &str, name: &str) -> Option<&Value> {
        self.objects.get(&(group.to_string(), kind.to_string(), namespace.to_string(), name.to_string()))
    }

    /// Objects of a kind in a namespace ("" for cluster-scoped kinds), by name.
    pub fn list<'a>(&'a self, group: &str, kind: &str, namespace: &str) -> impl Iterator<Item = &'a Value> + 'a + use<'a> {
        let prefix = (group.to_string(), kind.to_string(), namespace.to_string());
        let start: Key = (prefix.0.clone(), prefix.1.clone(), prefix.2.clone(), String::new());
        self.objects.range(start..).take_while(move |(k, _)| k.0 == prefix.0 && k.1 == prefix.1 && k.2 == prefix.2).map(|(_, v)| v)
    }

    /// Every namespace an object of the snapshot lives in, sorted.
    pub fn namespaces(&self) -> Vec<String> {
        let set: std::collections::BTreeSet<&String> = self.objects.keys().map(|k| &k.2).filter(|ns| !ns.is_empty()).collect();
        set.into_iter().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

/// The API group of an apiVersion: "apps" for "apps/v1", "" for "v1".
pub fn group_of(api_version: &str) -> &str {
    api_version.split_once('/').map_or("", |(group, _)| group)
}

fn key_of(obj: &Value) -> Option<Key> {
    let metadata = &obj["metadata"];
    let kind = obj["kind"].as_str().filter(|k| !k.is_empty())?;
    let name = metadata["name"].as_str().filter(|n| !n.is_empty())?;
    let group = group_of(obj["apiVersion"].as_str().unwrap_or_default());
    Some((group.to_string(), kind.to_string(), metadata["namespace"].as_str().unwrap_or_default().to_string(), name.to_string()))
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
