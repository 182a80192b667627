//! SecretStores and ClusterSecretStores: their Ready condition, and the store an
//! ExternalSecret may use.

use std::time::Duration;

use serde_json::{Value, json};

use super::provider::{FakeEntry, fake_provider};
use super::spec::{Spec, StoreKind};
use super::{GROUP, SOURCE, VERSION};
use crate::controllers::events;
use crate::controllers::objects::{self, namespace};
use crate::controllers::runtime::ObjectRef;
use crate::rest::Rest;
use crate::rest::selector::LabelSelector;

pub(super) fn reconcile_store(rest: &Rest, key: &ObjectRef) -> Option<Duration> {
    let info = rest.catalogue.find(GROUP, VERSION, &key.resource.plural)?;
    let store = rest.get(&info, Some(&key.namespace), &key.name).ok()?;
    if objects::is_deleting(&store) {
        return None;
    }
    let mut next = store.clone();
    let (status, reason, message) = match fake_provider(&store) {
        Ok(_) => {
            next["status"]["capabilities"] = json!("ReadWrite");
            ("True", "Valid", "store validated".to_string())
        }
        Err(problem) => {
            if let Some(status) = next["status"].as_object_mut() {
                status.remove("capabilities");
            }
            ("False", problem.reason, problem.message)
        }
    };
    objects::set_condition(&mut next, "Ready", status, reason, &message);
    let before = objects::condition(&store, "Ready");
    let changed = before.is_none_or(|c| c["status"] != status || c["reason"] != reason || c["message"] != message.as_str());
    if changed {
        if status == "True" {
            events::normal(rest, &store, &SOURCE, reason, &message);
        } else {
            events::warning(rest, &store, &SOURCE, reason, &message);
        }
    }
    objects::write_status(rest, &info, &store, next);
    None
}

/// The store an ExternalSecret uses, checked as the real client manager checks it.
pub(super) fn resolve_store(rest: &Rest, es: &Value, spec: &Spec) -> Result<Vec<FakeEntry>, String> {
    let es_namespace = namespace(es);
    let (plural, kind, ns) = match spec.store_kind {
        StoreKind::SecretStore => ("secretstores", "SecretStore", Some(es_namespace)),
        StoreKind::ClusterSecretStore => ("clustersecretstores", "ClusterSecretStore", None),
    };
    let store_name = &spec.store_name;
    let Some(info) = rest.catalogue.find(GROUP, VERSION, plural) else {
        return Err(format!("could not get {kind} {store_name:?}, the server could not find the requested resource"));
    };
    let store = rest.get(&info, ns, store_name).map_err(|e| format!("could not get {kind} {store_name:?}, {}", e.message))?;
    if spec.store_kind == StoreKind::ClusterSecretStore && !cluster_store_admits(rest, &store, es_namespace) {
        return Err(format!("using cluster store {store_name:?} is not allowed from namespace {es_namespace:?}: denied by spec.condition"));
    }
    // The real controller refuses stores that are not Ready; the sandbox judges
    // readiness from the spec directly, so a new store needs no reconcile first.
    fake_provider(&store).map_err(|_| format!("the desired SecretStore {store_name} is not ready"))
}

/// Whether a ClusterSecretStore's `spec.conditions` let `namespace` use it.
fn cluster_store_admits(rest: &Rest, store: &Value, namespace: &str) -> bool {
    let conditions = store["spec"]["conditions"].as_array().cloned().unwrap_or_default();
    if conditions.is_empty() {
        return true;
    }
    let labels =
        rest.catalogue.find("", "v1", "namespaces").and_then(|info| rest.get(&info, None, namespace).ok()).map(|ns| objects::labels(&ns)).unwrap_or_default();
    conditions.iter().any(|c| {
        let by_selector = c["namespaceSelector"].is_object() && LabelSelector::from_object(&c["namespaceSelector"]).is_ok_and(|s| s.matches(&labels));
        let by_name = c["namespaces"].as_array().is_some_and(|names| names.iter().any(|n| n == namespace));
        by_selector || by_name
    })
}
