//! Checks every object read back from the state file or the journal, so a damaged
//! file is refused (with its line) instead of loading objects the API would never
//! have stored: the resource must be known — built in, or defined by a
//! CustomResourceDefinition in the same state — and the object must have a valid
//! name, a namespace exactly when its resource is namespaced, a uid and a
//! resourceVersion.

use std::collections::HashMap;

use serde_json::Value;

use super::ObjectName;
use crate::resources::{Catalogue, ResourceKey};
use crate::rest::validate::{dns1123_label, name_rule, path_segment};

fn crd_key() -> ResourceKey {
    ResourceKey::new("apiextensions.k8s.io", "customresourcedefinitions")
}

/// A name check: `Err` says what is wrong.
type NameRule = fn(&str) -> Result<(), String>;

/// The resources a state may hold: the built-in ones, and those its CRDs define.
pub struct Kinds {
    builtin: Catalogue,
    /// (group, plural) → namespaced, from the CRDs seen.
    custom: HashMap<ResourceKey, bool>,
}

impl Default for Kinds {
    fn default() -> Self {
        Self::new()
    }
}

impl Kinds {
    pub fn new() -> Self {
        Kinds { builtin: Catalogue::new(), custom: HashMap::new() }
    }

    /// Learns the resource a CRD record defines (any other record is ignored).
    pub fn learn(&mut self, key: &ResourceKey, obj: &Value) {
        if *key != crd_key() {
            return;
        }
        let spec = &obj["spec"];
        if let (Some(group), Some(plural)) = (spec["group"].as_str(), spec["names"]["plural"].as_str()) {
            let namespaced = spec["scope"].as_str().unwrap_or("Namespaced") == "Namespaced";
            self.custom.insert(ResourceKey::new(group, plural), namespaced);
        }
    }

    /// Whether the resource is namespaced and the rule its names follow.
    fn rules(&self, key: &ResourceKey) -> Result<(bool, NameRule), String> {
        if let Some(info) = self.builtin.find_any_version(key) {
            if !info.verbs.contains(&"get") {
                return Err(format!("{} are requests, never stored", key.qualified()));
            }
            return Ok((info.namespaced, name_rule(&info)));
        }
        match self.custom.get(key) {
            Some(&namespaced) => Ok((namespaced, path_segment)),
            None => Err(format!("unknown resource {:?}: neither built in nor defined by a CustomResourceDefinition in the state", key.qualified())),
        }
    }

    /// Checks one stored object of resource `key`; returns its name.
    pub fn check(&self, key: &ResourceKey, obj: &Value) -> Result<ObjectName, String> {
        let (namespaced, name_rule) = self.rules(key)?;
        let Some(meta) = obj.get("metadata").filter(|m| m.is_object()) else {
            return Err("the object has no metadata".into());
        };
        let name = match &meta["name"] {
            Value::String(n) if !n.is_empty() => n.as_str(),
            Value::Null => return Err("the object has no metadata.name".into()),
            _ => return Err("metadata.name must be a non-empty string".into()),
        };
        name_rule(name).map_err(|e| format!("metadata.name {name:?} is invalid: {e}"))?;
        let namespace = match (&meta["namespace"], namespaced) {
            (Value::String(ns), true) if !ns.is_empty() => {
                dns1123_label(ns).map_err(|e| format!("metadata.namespace {ns:?} is invalid: {e}"))?;
                ns.clone()
            }
            (Value::Null, true) | (Value::String(_), true) => {
                return Err(format!("{} are namespaced, but the object {name:?} has no metadata.namespace", key.qualified()));
            }
            (Value::Null, false) => String::new(),
            (Value::String(ns), false) if ns.is_empty() => String::new(),
            (other, false) => return Err(format!("{} are cluster-scoped, but the object {name:?} has metadata.namespace {other}", key.qualified())),
            (other, true) => return Err(format!("metadata.namespace must be a string, not {other}")),
        };
        if meta["uid"].as_str().is_none_or(str::is_empty) {
            return Err(format!("the object {name:?} has no metadata.uid"));
        }
        Ok((namespace, name.to_string()))
    }
}

/// The object's metadata.resourceVersion, which must be a positive number.
pub fn resource_version(obj: &Value) -> Result<u64, String> {
    match &obj["metadata"]["resourceVersion"] {
        Value::String(s) => s.parse::<u64>().ok().filter(|&rv| rv > 0).ok_or_else(|| format!("metadata.resourceVersion {s:?} is not a positive number")),
        Value::Null => Err("the object has no metadata.resourceVersion".into()),
        other => Err(format!("metadata.resourceVersion must be a string, not {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm(meta: Value) -> Value {
        json!({"metadata": meta})
    }

    #[test]
    fn objects_are_checked_against_their_resource() {
        let mut kinds = Kinds::new();
        let cms = ResourceKey::new("", "configmaps");
        let ok = cm(json!({"name": "a.b-c", "namespace": "default", "uid": "u"}));
        assert_eq!(kinds.check(&cms, &ok).unwrap(), ("default".to_string(), "a.b-c".to_string()));
        let err = |key: &ResourceKey, obj: Value| kinds.check(key, &obj).unwrap_err();
        assert!(err(&cms, cm(json!({"name": "has space", "namespace": "d", "uid": "u"}))).contains("metadata.name \"has space\" is invalid"));
        assert!(err(&cms, cm(json!({"name": "a", "uid": "u"}))).contains("has no metadata.namespace"));
        assert!(err(&cms, cm(json!({"name": "a", "namespace": "Bad_NS", "uid": "u"}))).contains("metadata.namespace \"Bad_NS\""));
        assert!(err(&cms, cm(json!({"name": "a", "namespace": "d"}))).contains("no metadata.uid"));
        let ns = ResourceKey::new("", "namespaces");
        assert!(err(&ns, cm(json!({"name": "x", "namespace": "d", "uid": "u"}))).contains("cluster-scoped"));
        assert!(err(&ns, cm(json!({"name": "x.y", "uid": "u"}))).contains("invalid"), "a namespace's name is a DNS-1123 label");
        let reviews = ResourceKey::new("authorization.k8s.io", "selfsubjectaccessreviews");
        assert!(err(&reviews, cm(json!({"name": "x", "uid": "u"}))).contains("never stored"));
        // RBAC names need only be usable in a path.
        let roles = ResourceKey::new("rbac.authorization.k8s.io", "clusterroles");
        assert!(kinds.check(&roles, &cm(json!({"name": "system:controller:x", "uid": "u"}))).is_ok());

        let widgets = ResourceKey::new("example.com", "widgets");
        assert!(err(&widgets, cm(json!({"name": "w", "namespace": "d", "uid": "u"}))).contains("unknown resource \"widgets.example.com\""));
        let crd = json!({"spec": {"group": "example.com", "scope": "Cluster", "names": {"plural": "widgets"}}});
        kinds.learn(&crd_key(), &crd);
        assert!(kinds.check(&widgets, &cm(json!({"name": "w", "uid": "u"}))).is_ok());
        assert!(kinds.check(&widgets, &cm(json!({"name": "w/x", "uid": "u"}))).unwrap_err().contains("invalid"));
    }

    #[test]
    fn resource_versions_are_positive_numbers() {
        assert_eq!(resource_version(&cm(json!({"resourceVersion": "12"}))), Ok(12));
        assert!(resource_version(&cm(json!({}))).is_err());
        assert!(resource_version(&cm(json!({"resourceVersion": "0"}))).is_err());
        assert!(resource_version(&cm(json!({"resourceVersion": 12}))).is_err());
    }
}
