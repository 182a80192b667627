//! Namespace deletion: a Terminating namespace is emptied, and removed once nothing
//! is left in it (objects with finalizers hold it until they are finalized).

use crate::resources::ResourceKey;
use crate::rest::{DeleteOptions, Rest};
use crate::store::{Change, EventType};

fn namespaces() -> ResourceKey {
    ResourceKey::new("", "namespaces")
}

pub fn on_change(rest: &Rest, change: &Change) {
    let index = &change.entry.index;
    if change.resource == namespaces() {
        if change.kind != EventType::Deleted && index.field("status.phase") == Some("Terminating") {
            finalize(rest, &index.name);
        }
    } else if change.kind == EventType::Deleted
        && !index.namespace.is_empty()
        && let Some(ns) = rest.store.get(&namespaces(), &(String::new(), index.namespace.clone()))
        && ns.index.field("status.phase") == Some("Terminating")
    {
        finalize(rest, &index.namespace);
    }
}

fn finalize(rest: &Rest, namespace: &str) {
    let contents = rest.store.names_in_namespace(namespace);
    if contents.is_empty() {
        let _ = rest.store.delete(&namespaces(), &(String::new(), namespace.to_string()), None);
        return;
    }
    for (key, name) in contents {
        if let Some(info) = rest.catalogue.find_any_version(&key) {
            let _ = rest.delete(&info, Some(&name.0), &name.1, &DeleteOptions::default());
        }
    }
    if rest.store.names_in_namespace(namespace).is_empty() {
        let _ = rest.store.delete(&namespaces(), &(String::new(), namespace.to_string()), None);
    }
}

pub fn resync(rest: &Rest) {
    let (all, _) = rest.store.list(&namespaces(), None, None, |e| e.index.field("status.phase") == Some("Terminating"));
    for ns in all {
        finalize(rest, &ns.index.name);
    }
}
