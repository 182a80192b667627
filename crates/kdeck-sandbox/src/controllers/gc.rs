//! Garbage collection through ownerReferences: dependents of a deleted owner are
//! deleted (background), deleted before it (foreground, `foregroundDeletion`
//! finalizer), or released (orphan, `orphan` finalizer).

use serde_json::{Value, json};

use crate::resources::ResourceKey;
use crate::rest::{DeleteOptions, Propagation, Rest, Subresource, WriteOptions};
use crate::store::{Change, EventType, ObjectName};

pub fn on_change(rest: &Rest, change: &Change) {
    let index = &change.entry.index;
    match change.kind {
        EventType::Deleted => {
            collect_dependents(rest, &index.uid, Propagation::Background);
            // A dependent going may let an owner in foreground deletion finish.
            for owner in &index.owners {
                if let Some((key, name)) = rest.store.find_uid(owner) {
                    finish_owner(rest, &key, &name);
                }
            }
        }
        EventType::Added | EventType::Modified => {
            let obj = change.entry.value();
            if obj["metadata"]["deletionTimestamp"].is_string() {
                finish_owner(rest, &change.resource, &(index.namespace.clone(), index.name.clone()));
            }
        }
    }
}

/// Deletes or releases what `uid` owned, unless another owner still exists.
fn collect_dependents(rest: &Rest, uid: &str, propagation: Propagation) {
    for (key, name) in rest.store.dependents_of(uid) {
        let Some(info) = rest.catalogue.find_any_version(&key) else { continue };
        let Some(entry) = rest.store.get(&key, &name) else { continue };
        let live_owner = entry.index.owners.iter().any(|o| o != uid && rest.store.find_uid(o).is_some());
        if live_owner || propagation == Propagation::Orphan {
            release(rest, &key, &name, uid);
        } else {
            let opts = DeleteOptions { propagation, ..Default::default() };
            let _ = rest.delete(&info, Some(&name.0), &name.1, &opts);
        }
    }
}

/// Removes the ownerReference to `uid` from a dependent.
fn release(rest: &Rest, key: &ResourceKey, name: &ObjectName, uid: &str) {
    let Some(info) = rest.catalogue.find_any_version(key) else { return };
    let Some(entry) = rest.store.get(key, name) else { return };
    let mut obj = entry.value();
    let refs: Vec<Value> = obj["metadata"]["ownerReferences"].as_array().cloned().unwrap_or_default().into_iter().filter(|r| r["uid"] != uid).collect();
    obj["metadata"]["ownerReferences"] = json!(refs);
    let _ = rest.update(&info, Some(&name.0), &name.1, obj, Subresource::Main, &WriteOptions::default());
}

/// Progresses an owner marked for deletion whose GC finalizers are pending.
fn finish_owner(rest: &Rest, key: &ResourceKey, name: &ObjectName) {
    let Some(info) = rest.catalogue.find_any_version(key) else { return };
    let Some(entry) = rest.store.get(key, name) else { return };
    let obj = entry.value();
    let finalizers: Vec<String> = obj["metadata"]["finalizers"].as_array().into_iter().flatten().filter_map(|f| f.as_str().map(str::to_string)).collect();
    let uid = entry.index.uid.clone();
    let pending = |f: &str| finalizers.iter().any(|x| x == f);
    if pending("orphan") {
        collect_dependents(rest, &uid, Propagation::Orphan);
    } else if pending("foregroundDeletion") {
        collect_dependents(rest, &uid, Propagation::Foreground);
    } else {
        return;
    }
    if !rest.store.dependents_of(&uid).is_empty() {
        return;
    }
    let mut next = obj;
    let kept: Vec<String> = finalizers.into_iter().filter(|f| f != "orphan" && f != "foregroundDeletion").collect();
    next["metadata"]["finalizers"] = json!(kept);
    let _ = rest.update(&info, Some(&name.0), &name.1, next, Subresource::Main, &WriteOptions::default());
}

/// Deletes dependents whose owners are all gone (after a restart or a missed event).
pub fn resync(rest: &Rest) {
    for uid in rest.store.owner_uids() {
        if rest.store.find_uid(&uid).is_none() {
            collect_dependents(rest, &uid, Propagation::Background);
        }
    }
}
