//! Deletes: at once, or by marking the object when something must happen before it
//! goes (finalizers, dependents in foreground deletion, a pod's graceful
//! termination, a namespace's contents).

use serde_json::{Value, json};

use super::{ApiError, DeleteOptions, ListQuery, Propagation, Rest, UPDATE_RETRIES, current_is_marked, entry_key, entry_name, settle};
use crate::resources::ResourceInfo;
use crate::time;

/// What a delete did.
#[derive(Debug)]
pub enum Deletion {
    /// The object is gone (as it was when removed).
    Removed(Value),
    /// The object stays, marked for deletion, until its finalizers or its kubelet are done.
    Marked(Value),
}

impl Deletion {
    pub fn into_object(self) -> Value {
        match self {
            Deletion::Removed(obj) | Deletion::Marked(obj) => obj,
        }
    }
}

impl Rest {
    /// Deletes an object: at once, or by marking it when finalizers must run first.
    /// Returns the object as it was removed, or as it is now marked.
    pub fn delete(&self, info: &ResourceInfo, ns: Option<&str>, name: &str, opts: &DeleteOptions) -> Result<Value, ApiError> {
        self.delete_reporting(info, ns, name, opts).map(Deletion::into_object)
    }

    /// As [`Rest::delete`], telling whether the object went at once or lingers.
    pub fn delete_reporting(&self, info: &ResourceInfo, ns: Option<&str>, name: &str, opts: &DeleteOptions) -> Result<Deletion, ApiError> {
        for _ in 0..UPDATE_RETRIES {
            let entry = self.get_entry(info, ns, name)?;
            let mut obj = entry.value();
            if let Some(uid) = &opts.precondition_uid
                && obj["metadata"]["uid"].as_str() != Some(uid)
            {
                let why =
                    format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {}", obj["metadata"]["uid"].as_str().unwrap_or_default());
                return Err(ApiError::conflict_with(info, name, &why));
            }
            if let Some(rv) = &opts.precondition_rv
                && obj["metadata"]["resourceVersion"].as_str() != Some(rv)
            {
                let why = format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    obj["metadata"]["resourceVersion"].as_str().unwrap_or_default()
                );
                return Err(ApiError::conflict_with(info, name, &why));
            }
            let graceful = self.needs_graceful_delete(info, &mut obj, opts);
            let outcome = if graceful { Deletion::Marked } else { Deletion::Removed };
            if opts.dry_run {
                return Ok(outcome(obj));
            }
            let result = if graceful {
                if current_is_marked(&entry) && obj == entry.value() {
                    return Ok(Deletion::Marked(obj));
                }
                self.store.update(&info.key(), obj, Some(entry.index.rv))
            } else {
                self.store.delete(&info.key(), &entry_key(&entry), Some(entry.index.rv))
            };
            if let Some(done) = settle(result, info, name) {
                return done.map(outcome);
            }
        }
        Err(ApiError::conflict(info, name))
    }

    /// Marks `obj` for deletion when something must happen before it goes (finalizers,
    /// dependents, a namespace's contents). Returns false when it can go at once.
    fn needs_graceful_delete(&self, info: &ResourceInfo, obj: &mut Value, opts: &DeleteOptions) -> bool {
        let propagation = opts.propagation;
        let is_namespace = info.group.is_empty() && info.plural == "namespaces";
        let pod_grace = self.pod_grace_period(info, obj, opts.grace_period);
        if pod_grace > 0 {
            // The kubelet stops the containers, then deletes the pod (see kubelet). A
            // second delete leaves that to it, unless it asks for no grace at all.
            if !obj["metadata"]["deletionTimestamp"].is_string() {
                let until = std::time::SystemTime::now() + std::time::Duration::from_secs(pod_grace as u64);
                obj["metadata"]["deletionTimestamp"] = json!(time::rfc3339(until));
                obj["metadata"]["deletionGracePeriodSeconds"] = json!(pod_grace);
            }
            return true;
        }
        let finalizer = match propagation {
            Propagation::Foreground if !self.store.dependents_of(obj["metadata"]["uid"].as_str().unwrap_or_default()).is_empty() => Some("foregroundDeletion"),
            Propagation::Orphan if !self.store.dependents_of(obj["metadata"]["uid"].as_str().unwrap_or_default()).is_empty() => Some("orphan"),
            _ => None,
        };
        let has_finalizers = obj["metadata"]["finalizers"].as_array().is_some_and(|f| !f.is_empty());
        if !is_namespace && finalizer.is_none() && !has_finalizers {
            return false;
        }
        let meta = &mut obj["metadata"];
        if let Some(f) = finalizer {
            let list = meta["finalizers"].as_array().cloned().unwrap_or_default();
            if !list.iter().any(|x| x == f) {
                let mut list = list;
                list.push(json!(f));
                meta["finalizers"] = Value::Array(list);
            }
        }
        if !meta["deletionTimestamp"].is_string() {
            meta["deletionTimestamp"] = json!(time::now());
            meta["deletionGracePeriodSeconds"] = json!(0);
        }
        if is_namespace {
            obj["status"]["phase"] = json!("Terminating");
        }
        true
    }

    /// A pod that runs on a node terminates gracefully: its grace period, from the
    /// request or its spec. Pods that never ran, or ended, go at once (0).
    fn pod_grace_period(&self, info: &ResourceInfo, pod: &Value, requested: Option<i64>) -> i64 {
        if !(info.group.is_empty() && info.plural == "pods") || matches!(pod["status"]["phase"].as_str(), Some("Succeeded" | "Failed")) {
            return 0;
        }
        let node = pod["spec"]["nodeName"].as_str().unwrap_or_default();
        let nodes = crate::resources::ResourceKey::new("", "nodes");
        if node.is_empty() || self.store.get(&nodes, &(String::new(), node.to_string())).is_none() {
            return 0;
        }
        requested.unwrap_or_else(|| pod["spec"]["terminationGracePeriodSeconds"].as_i64().unwrap_or(30)).max(0)
    }

    pub fn delete_collection(&self, info: &ResourceInfo, ns: Option<&str>, query: &ListQuery, opts: &DeleteOptions) -> Result<Vec<Value>, ApiError> {
        let listing = self.list(info, ns, &ListQuery { labels: query.labels.clone(), fields: query.fields.clone(), ..ListQuery::default() })?;
        let mut deleted = Vec::new();
        for entry in listing.items {
            let name = entry_name(&entry);
            match self.delete(info, Some(&entry.index.namespace), &name, opts) {
                Ok(obj) => deleted.push(obj),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(deleted)
    }
}
