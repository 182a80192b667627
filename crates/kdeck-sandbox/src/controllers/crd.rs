//! CustomResourceDefinitions: serve a CRD's resources as soon as it is stored, and
//! stop serving them (deleting their objects) when it goes.

use crate::resources::{ResourceKey, infos_from_crd};
use crate::rest::{DeleteOptions, ListQuery, Rest};
use crate::store::{Change, EventType};

fn crd_key() -> ResourceKey {
    ResourceKey::new("apiextensions.k8s.io", "customresourcedefinitions")
}

pub fn register_all(rest: &Rest) {
    let (crds, _) = rest.store.list(&crd_key(), None, None, |_| true);
    for entry in crds {
        register(rest, &entry.value());
    }
}

pub(crate) fn register(rest: &Rest, crd: &serde_json::Value) {
    let spec = &crd["spec"];
    let (Some(group), Some(plural)) = (spec["group"].as_str(), spec["names"]["plural"].as_str()) else { return };
    if let Ok(infos) = infos_from_crd(crd) {
        rest.catalogue.set_custom(group, plural, infos);
    }
}

pub fn on_change(rest: &Rest, change: &Change) {
    if change.resource != crd_key() {
        return;
    }
    let crd = change.entry.value();
    match change.kind {
        EventType::Added | EventType::Modified => register(rest, &crd),
        EventType::Deleted => {
            let spec = &crd["spec"];
            let (Some(group), Some(plural)) = (spec["group"].as_str(), spec["names"]["plural"].as_str()) else { return };
            // Delete the objects while the resource is still known, then stop serving it.
            if let Some(info) = rest.catalogue.find_any_version(&ResourceKey::new(group, plural)) {
                let _ = rest.delete_collection(&info, None, &ListQuery::default(), &DeleteOptions::default());
                let (left, _) = rest.store.list(&info.key(), None, None, |_| true);
                for entry in left {
                    let _ = rest.store.delete(&info.key(), &(entry.index.namespace.clone(), entry.index.name.clone()), None);
                }
            }
            rest.catalogue.set_custom(group, plural, Vec::new());
        }
    }
    super::apiservices::sync(rest);
}
