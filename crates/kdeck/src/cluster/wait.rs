//! Waiting on the real signal: watch a set of objects until each reaches a state
//! (or the deadline passes), resuming the watch when the server ends it or says
//! 410 Gone, and relisting when a connection breaks.
//!
//! The wait never depends on an event arriving to notice time passing: the
//! deadline is a timer, and the objects still pending are looked at again every
//! [`RECHECK`], so a `settled` rule with a grace period ("failed, and more than 2 s
//! after our change") holds on time even when the cluster is silent.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::StreamExt;
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, ListParams, WatchEvent, WatchParams};
use tokio::time::Instant;

/// How often pending objects are judged again without a new event.
const RECHECK: Duration = Duration::from_millis(250);

/// (namespace, name) of a namespaced object.
pub type Key = (String, String);

pub fn key_of(obj: &DynamicObject) -> Key {
    (obj.namespace().unwrap_or_default(), obj.name_any())
}

/// What a wait ended with: the objects that reached the state, and the last seen
/// version of those that did not (None: never seen).
#[derive(Debug, Default)]
pub struct Outcome {
    pub settled: BTreeMap<Key, DynamicObject>,
    pub pending: BTreeMap<Key, Option<DynamicObject>>,
}

/// Watches `api` until `settled` holds for every key, or `deadline`. `seen` is called
/// with each new version of a watched object (for progress output).
pub async fn until_settled(
    api: &Api<DynamicObject>,
    keys: &BTreeSet<Key>,
    deadline: Instant,
    settled: impl Fn(&DynamicObject) -> bool,
    mut seen: impl FnMut(&DynamicObject),
) -> Outcome {
    let mut outcome = Outcome { settled: BTreeMap::new(), pending: keys.iter().map(|k| (k.clone(), None)).collect() };
    let mut consider = |obj: DynamicObject, outcome: &mut Outcome| {
        let key = key_of(&obj);
        if !outcome.pending.contains_key(&key) {
            return;
        }
        seen(&obj);
        if settled(&obj) {
            outcome.pending.remove(&key);
            outcome.settled.insert(key, obj);
        } else {
            outcome.pending.insert(key, Some(obj));
        }
    };
    while !outcome.pending.is_empty() && Instant::now() < deadline {
        // (Re)list: the starting point, and the catch-up after a broken or expired watch.
        let version = match tokio::time::timeout_at(deadline, api.list(&ListParams::default())).await {
            Ok(Ok(list)) => {
                let version = list.metadata.resource_version.clone().unwrap_or_default();
                list.items.into_iter().for_each(|o| consider(o, &mut outcome));
                version
            }
            Ok(Err(_)) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Err(_) => break,
        };
        if outcome.pending.is_empty() {
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now()).as_secs().clamp(1, 290) as u32;
        let Ok(stream) = api.watch(&WatchParams::default().timeout(left), &version).await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let mut stream = stream.boxed();
        loop {
            if Instant::now() >= deadline {
                return outcome;
            }
            match tokio::time::timeout_at(deadline.min(Instant::now() + RECHECK), stream.next()).await {
                Ok(Some(Ok(WatchEvent::Added(obj) | WatchEvent::Modified(obj)))) => consider(obj, &mut outcome),
                Ok(Some(Ok(WatchEvent::Deleted(_) | WatchEvent::Bookmark(_)))) => {}
                // 410 Gone, a broken stream, or the server's timeout: relist and resume.
                Ok(Some(Ok(WatchEvent::Error(_)) | Err(_)) | None) => break,
                // Quiet for a while: judge the last versions again (grace periods).
                Err(_) => {
                    let now_settled: Vec<Key> = outcome.pending.iter().filter(|(_, o)| o.as_ref().is_some_and(&settled)).map(|(k, _)| k.clone()).collect();
                    for key in now_settled {
                        if let Some(Some(obj)) = outcome.pending.remove(&key) {
                            outcome.settled.insert(key, obj);
                        }
                    }
                }
            }
            if outcome.pending.is_empty() {
                return outcome;
            }
        }
    }
    outcome
}
