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
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watcher = tokio::spawn(follow(api.clone(), move |event| tx.send(event).is_ok()));
    let mut ticker = tokio::time::interval(RECHECK);
    while !outcome.pending.is_empty() {
        tokio::select! {
            event = rx.recv() => match event {
                Some(Seen::Upsert(obj)) => {
                    let key = key_of(&obj);
                    if outcome.pending.contains_key(&key) {
                        seen(&obj);
                        outcome.pending.insert(key, Some(obj));
                    }
                }
                Some(Seen::Remove(_)) => {}
                None => tokio::time::sleep_until(deadline).await,
            },
            _ = ticker.tick() => {}
            _ = tokio::time::sleep_until(deadline) => break,
        }
        // Judge the last versions, on every change and on the timer (grace periods).
        let now_settled: Vec<Key> = outcome.pending.iter().filter(|(_, o)| o.as_ref().is_some_and(&settled)).map(|(k, _)| k.clone()).collect();
        for key in now_settled {
            if let Some(Some(obj)) = outcome.pending.remove(&key) {
                outcome.settled.insert(key, obj);
            }
        }
    }
    watcher.abort();
    outcome
}

/// What a watch saw.
pub enum Seen {
    Upsert(DynamicObject),
    Remove(DynamicObject),
}

/// Lists `api` and watches it from there, passing every object and change to
/// `send` until it returns false; a watch that ends, breaks or expires (410 Gone)
/// is resumed from a fresh list. The one list-and-watch loop of kdeck's waits.
pub async fn follow(api: Api<DynamicObject>, mut send: impl FnMut(Seen) -> bool) {
    loop {
        let version = match api.list(&ListParams::default()).await {
            Ok(list) => {
                for obj in list.items {
                    if !send(Seen::Upsert(obj)) {
                        return;
                    }
                }
                list.metadata.resource_version.unwrap_or_default()
            }
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let Ok(stream) = api.watch(&WatchParams::default().timeout(290), &version).await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let mut stream = stream.boxed();
        while let Some(event) = stream.next().await {
            let sent = match event {
                Ok(WatchEvent::Added(obj) | WatchEvent::Modified(obj)) => send(Seen::Upsert(obj)),
                Ok(WatchEvent::Deleted(obj)) => send(Seen::Remove(obj)),
                Ok(WatchEvent::Bookmark(_)) => true,
                // 410 Gone and broken streams: relist.
                Ok(WatchEvent::Error(_)) | Err(_) => break,
            };
            if !sent {
                return;
            }
        }
    }
}
