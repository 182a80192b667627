//! The External Secrets Operator, simulated: SecretStores and ClusterSecretStores
//! with the ESO `fake` provider (a key/value map in the store's spec), and
//! ExternalSecrets that sync that data into Secrets.
//!
//! Follows the real controller's rules: a target Secret is (re)written when the
//! ExternalSecret's generation, labels or annotations change (`syncedResourceVersion`,
//! the `force-sync` annotation convention), when `refreshInterval` has elapsed
//! (`refreshPolicy: Periodic`, the default; `0` syncs only once), when the Secret is
//! missing or its data no longer matches the `reconcile.external-secrets.io/data-hash`
//! annotation. `CreatedOnce` syncs once, `OnChange` on spec or metadata changes only.
//! Hashes are the same MD5s of Go's `%+v` formatting the real controller writes.
//!
//! Nothing happens while the External Secrets CRDs are not installed.
//!
//! Not simulated: providers other than `fake` (a store naming another is not Ready),
//! `dataFrom` `find`, `sourceRef` (generators) and `rewrite`,
//! `target.template.templateFrom`, and template actions beyond the few [`template`]
//! renders; an ExternalSecret using one fails with a message saying so. There is no
//! admission webhook: what it would refuse is reported in the ExternalSecret's Ready
//! condition and a Warning event instead.
//!
//! Where things are:
//! - this module: the [`Controller`] (which changes wake which objects) and the
//!   reconcile of one ExternalSecret, down to its status;
//! - [`spec`]: the ExternalSecret spec, read and validated;
//! - [`store`]: SecretStores and ClusterSecretStores: their status, and which one an
//!   ExternalSecret may use;
//! - [`provider`]: the `fake` provider's data and lookups (what a sync fetches);
//! - [`refresh`]: when to read the provider again;
//! - [`target`]: writing the target Secret;
//! - [`template`]: the Go-template subset of `target.template.data`;
//! - [`hash`]: the MD5-based hashes ESO writes, byte for byte.

mod hash;
mod provider;
mod refresh;
mod spec;
mod store;
mod target;
mod template;

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};

use super::events::{self, Source};
use super::objects::{self, name, namespace};
use super::runtime::{self, Controller, ObjectRef};
use crate::resources::{ResourceInfo, ResourceKey};
use crate::rest::{Rest, Subresource, WriteOptions};
use crate::store::{Change, EventType};
use crate::time;
use hash::synced_resource_version;
use refresh::{next_refresh, retry_delay, should_refresh};
use spec::parse_spec;
use store::reconcile_store;
use target::{Failure, Outcome, secret_valid, sync};

const SOURCE: Source = Source { component: "external-secrets", host: None };
const GROUP: &str = "external-secrets.io";
const VERSION: &str = "v1";

pub struct ExternalSecrets;

/// What each ExternalSecret (its `syncedResourceVersion`: generation and metadata
/// hash) and store (its generation) looked like at its last change, by uid: what the
/// real controller's generation, label and annotation predicates compare, so that
/// status writes do not requeue ExternalSecrets. Uids are unique, so sandboxes
/// sharing a process do not mix.
static SEEN: LazyLock<Mutex<HashMap<String, String>>> = LazyLock::new(Mutex::default);

/// Whether a change is news by [`SEEN`]: an addition, a deletion, or a new `version`.
fn news(change: &Change, version: impl FnOnce(&Value) -> String) -> bool {
    let uid = &change.entry.index.uid;
    let mut seen = SEEN.lock().unwrap_or_else(PoisonError::into_inner);
    if change.kind == EventType::Deleted {
        seen.remove(uid);
        return true;
    }
    let version = version(&change.entry.value());
    seen.insert(uid.clone(), version.clone()).is_none_or(|before| before != version)
}

fn external_secrets() -> ResourceKey {
    ResourceKey::new(GROUP, "externalsecrets")
}

fn secret_stores() -> ResourceKey {
    ResourceKey::new(GROUP, "secretstores")
}

fn cluster_secret_stores() -> ResourceKey {
    ResourceKey::new(GROUP, "clustersecretstores")
}

fn secrets() -> ResourceKey {
    ResourceKey::new("", "secrets")
}

impl Controller for ExternalSecrets {
    fn keys_for(&self, rest: &Rest, change: &Change) -> Vec<ObjectRef> {
        let resource = &change.resource;
        let index = &change.entry.index;
        if *resource == external_secrets() {
            // A write that changes neither the generation nor labels or annotations
            // (a status write) is no news.
            return if news(change, synced_resource_version) { vec![runtime::key_of(change)] } else { Vec::new() };
        }
        if *resource == secret_stores() || *resource == cluster_secret_stores() {
            // The store itself always; its ExternalSecrets when its spec changed (they
            // judge a store by its spec, so its status writes are no news to them).
            let mut keys = vec![runtime::key_of(change)];
            if news(change, |store| store["metadata"]["generation"].to_string()) {
                keys.extend(if *resource == secret_stores() {
                    referencing(rest, Some(index.namespace.as_str()), "SecretStore", Some(index.name.as_str()))
                } else {
                    referencing(rest, None, "ClusterSecretStore", Some(index.name.as_str()))
                });
            }
            return keys;
        }
        if *resource == secrets() {
            let secret = change.entry.value();
            let mut keys: Vec<ObjectRef> = targeting(rest, &index.namespace, &index.name);
            if let Some((kind, owner, _)) = objects::controller_of(&secret)
                && kind == "ExternalSecret"
            {
                let key = ObjectRef::new(external_secrets(), &index.namespace, owner);
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
            return keys;
        }
        if *resource == ResourceKey::new("", "namespaces")
            && (change.kind != EventType::Modified || change.prev.as_ref().is_none_or(|before| before.index.labels != index.labels))
        {
            // Its labels may now match (or no longer match) a ClusterSecretStore's conditions.
            return referencing(rest, Some(index.name.as_str()), "ClusterSecretStore", None);
        }
        if *resource == ResourceKey::new("apiextensions.k8s.io", "customresourcedefinitions") && change.entry.value()["spec"]["group"] == GROUP {
            return self.all_keys(rest);
        }
        Vec::new()
    }

    fn all_keys(&self, rest: &Rest) -> Vec<ObjectRef> {
        let mut keys = Vec::new();
        let mut seen = SEEN.lock().unwrap_or_else(PoisonError::into_inner);
        for resource in [secret_stores(), cluster_secret_stores(), external_secrets()] {
            if rest.catalogue.find(GROUP, VERSION, &resource.plural).is_none() {
                continue;
            }
            // Everything is reconciled as it is now, so that is what has been seen.
            for entry in rest.store.list(&resource, None, None, |_| true).0 {
                let obj = entry.value();
                let version = if resource == external_secrets() { synced_resource_version(&obj) } else { obj["metadata"]["generation"].to_string() };
                seen.insert(entry.index.uid.clone(), version);
                keys.push(ObjectRef::new(resource.clone(), &entry.index.namespace, &entry.index.name));
            }
        }
        keys
    }

    fn reconcile(&self, rest: &Rest, key: &ObjectRef) -> Option<Duration> {
        if key.resource == external_secrets() {
            reconcile_external_secret(rest, key)
        } else if key.resource == secret_stores() || key.resource == cluster_secret_stores() {
            reconcile_store(rest, key)
        } else {
            None
        }
    }
}

/// The ExternalSecrets (in `namespace`, or anywhere) whose store reference is of
/// `kind` and, when given, named `store`.
fn referencing(rest: &Rest, namespace: Option<&str>, kind: &str, store: Option<&str>) -> Vec<ObjectRef> {
    let (entries, _) = rest.store.list(&external_secrets(), namespace, None, |_| true);
    entries
        .iter()
        .filter(|e| {
            let es = e.value();
            let reference = &es["spec"]["secretStoreRef"];
            reference["kind"].as_str().unwrap_or("SecretStore") == kind && store.is_none_or(|s| reference["name"] == s)
        })
        .map(|e| ObjectRef::new(external_secrets(), &e.index.namespace, &e.index.name))
        .collect()
}

/// The ExternalSecrets in `namespace` whose target Secret is `secret`.
fn targeting(rest: &Rest, namespace: &str, secret: &str) -> Vec<ObjectRef> {
    let (entries, _) = rest.store.list(&external_secrets(), Some(namespace), None, |_| true);
    entries
        .iter()
        .filter(|e| {
            let es = e.value();
            es["spec"]["target"]["name"].as_str().filter(|n| !n.is_empty()).unwrap_or(&e.index.name) == secret
        })
        .map(|e| ObjectRef::new(external_secrets(), &e.index.namespace, &e.index.name))
        .collect()
}

fn reconcile_external_secret(rest: &Rest, key: &ObjectRef) -> Option<Duration> {
    let info = rest.catalogue.find(GROUP, VERSION, "externalsecrets")?;
    let secrets_info = rest.catalogue.find("", "v1", "secrets")?;
    let es = rest.get(&info, Some(&key.namespace), &key.name).ok()?;
    if objects::is_deleting(&es) {
        return None;
    }
    let now = crate::time::unix_nanos();
    let spec = match parse_spec(&es) {
        Ok(spec) => spec,
        Err(problem) => {
            // What the webhook would have refused; a spec change brings it back here.
            let error = format!("ExternalSecret.{GROUP} {:?} is invalid: {problem}", name(&es));
            mark_failed(rest, &info, &es, &Failure { message: "", error });
            return None;
        }
    };
    let existing = rest.get(&secrets_info, Some(&key.namespace), &spec.target_name).ok();
    if !should_refresh(&es, &spec, now) && secret_valid(existing.as_ref(), &spec) {
        return next_refresh(&es, &spec, now);
    }
    match sync(rest, &secrets_info, &es, &spec, existing.as_ref()) {
        Outcome::Done { reason, message, binding } => {
            let mut next = es.clone();
            objects::set_condition(&mut next, "Ready", "True", reason, message);
            next["status"]["refreshTime"] = json!(time::rfc3339_unix((now / 1_000_000_000) as i64));
            next["status"]["syncedResourceVersion"] = json!(synced_resource_version(&es));
            if let Some(binding) = binding {
                next["status"]["binding"] = json!({"name": binding});
            }
            if !write_status(rest, &info, &es, &next) {
                return Some(Duration::from_secs(1));
            }
            next_refresh(&next, &spec, now)
        }
        Outcome::Failed(failure) => {
            mark_failed(rest, &info, &es, &failure);
            Some(retry_delay(&es, now))
        }
        Outcome::Retry => Some(Duration::from_millis(200)),
    }
}

/// Ready False with reason SecretSyncedError, and a Warning event with the error.
fn mark_failed(rest: &Rest, info: &ResourceInfo, es: &Value, failure: &Failure) {
    events::warning(rest, es, &SOURCE, "UpdateFailed", &failure.error);
    let mut next = es.clone();
    let message = if failure.message.is_empty() { failure.error.clone() } else { format!("{}: {}", failure.message, failure.error) };
    objects::set_condition(&mut next, "Ready", "False", "SecretSyncedError", &message);
    objects::write_status(rest, info, es, next);
}

/// Writes `next`'s status if it changed, as [`objects::write_status`] does, but says
/// whether it did: false when the write failed, so that a sync's status is retried.
fn write_status(rest: &Rest, info: &ResourceInfo, current: &Value, next: &Value) -> bool {
    current["status"] == next["status"]
        || rest.update(info, Some(namespace(current)), name(current), next.clone(), Subresource::Status, &WriteOptions::default()).is_ok()
}

#[cfg(test)]
mod test_support {
    use serde_json::{Value, json};

    use super::spec::{Spec, parse_spec};

    pub(super) fn spec_of(spec: Value) -> Spec {
        parse_spec(&json!({"metadata": {"name": "es", "namespace": "default", "generation": 1}, "spec": spec})).expect("valid spec")
    }

    pub(super) fn bytes(s: &str) -> Vec<u8> {
        s.as_bytes().to_vec()
    }
}
