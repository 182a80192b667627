//! ingress-nginx's status updates: every Ingress the ingress address serves (see
//! [`crate::network::ingress`]) gets `status.loadBalancer.ingress: [{ip:
//! 127.0.0.1}]`, and a `Sync` event ("Scheduled for sync") whenever it is
//! picked up or changed. A path the sandbox cannot match (a regular expression outside
//! Rust's syntax) gets an `UnsupportedPath` warning event. Ingresses of other
//! classes are left to their controllers.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

use super::events::{self, Source};
use super::objects;
use super::runtime::{Controller, ObjectRef, every, key_of};
use crate::network::ingress::{self, routes::Routes};
use crate::resources::ResourceKey;
use crate::rest::Rest;
use crate::store::Change;

#[derive(Default)]
pub struct IngressStatus {
    /// The generation of each Ingress last synced.
    synced: Mutex<HashMap<(String, String), i64>>,
}

fn ingresses() -> ResourceKey {
    ResourceKey::new("networking.k8s.io", "ingresses")
}

const SOURCE: Source<'static> = Source { component: "nginx-ingress-controller", host: None };

impl Controller for IngressStatus {
    fn keys_for(&self, rest: &Rest, change: &Change) -> Vec<ObjectRef> {
        if change.resource == ingresses() {
            vec![key_of(change)]
        } else if change.resource == ResourceKey::new("networking.k8s.io", "ingressclasses") {
            every(rest, &ingresses())
        } else {
            Vec::new()
        }
    }

    fn all_keys(&self, rest: &Rest) -> Vec<ObjectRef> {
        every(rest, &ingresses())
    }

    fn reconcile(&self, rest: &Rest, key: &ObjectRef) -> Option<Duration> {
        let info = rest.catalogue.find("networking.k8s.io", "v1", "ingresses")?;
        let Some(ingress) = rest.get(&info, Some(&key.namespace), &key.name).ok().filter(|i| !objects::is_deleting(i)) else {
            self.synced.lock().unwrap_or_else(|p| p.into_inner()).remove(&(key.namespace.clone(), key.name.clone()));
            return None;
        };
        let classes: Vec<Value> =
            rest.store.list(&ResourceKey::new("networking.k8s.io", "ingressclasses"), None, None, |_| true).0.iter().map(|e| e.value()).collect();
        if !ingress::served(&ingress, &classes) {
            return None;
        }
        let generation = ingress["metadata"]["generation"].as_i64().unwrap_or(0);
        let previous = self.synced.lock().unwrap_or_else(|p| p.into_inner()).insert((key.namespace.clone(), key.name.clone()), generation);
        if previous != Some(generation) {
            events::normal(rest, &ingress, &SOURCE, "Sync", "Scheduled for sync");
            for problem in Routes::build(std::slice::from_ref(&ingress)).skipped {
                events::warning(rest, &ingress, &SOURCE, "UnsupportedPath", &problem);
            }
        }
        let address = json!({"ingress": [{"ip": "127.0.0.1"}]});
        if ingress["status"]["loadBalancer"] != address {
            let mut next = ingress.clone();
            next["status"]["loadBalancer"] = address;
            objects::write_status(rest, &info, &ingress, next);
        }
        None
    }
}
