//! Object storage: every object as its serialized JSON plus a small index (labels,
//! selectable fields, owners), one global resourceVersion counter, a bounded history
//! of changes for resuming watches and reading lists as they were at an earlier
//! resourceVersion ([`pages`]), and a broadcast channel that fans changes out to
//! watchers.
//!
//! Keeping the JSON serialized makes LIST and watch fan-out a matter of copying
//! bytes: a 20,000-pod list is never re-encoded.
//!
//! With a journal attached ([`disk`]), every change is appended to it under the
//! write lock, in resourceVersion order; [`Store::durable`] waits until a change is
//! on disk. Reads and watches never wait for the journal.

pub mod disk;
mod index;
pub mod journal;
mod pages;
pub mod persist;
mod replay;
pub mod validate;

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, OnceLock, RwLock};

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::broadcast;

pub use index::{Index, selectable_fields as index_fields};
pub use journal::JournalError;
pub use pages::{Page, PageRequest};

use journal::Journal;

use crate::resources::ResourceKey;

/// How many past changes are kept, by default, for watches that resume from a
/// resourceVersion and for list pages read at an earlier one. Older versions answer
/// 410 Expired, as a compacted etcd does, and clients list again. Each kept change
/// pins the object it wrote and the version it replaced, so this bounds memory too.
pub const HISTORY_LEN: usize = 10_000;
/// How far a watcher may fall behind before its stream is ended.
const FANOUT_CAPACITY: usize = 16_384;

tokio::task_local! {
    /// The highest resourceVersion the store gave a change made by this task.
    static CHANGED: Cell<u64>;
}

/// Runs `request` and returns, with its output, the highest resourceVersion of the
/// changes it made to the store (0 for none): what a writer must see durable before
/// it answers. Changes other tasks make meanwhile (controllers) are not counted.
pub async fn tracking_changes<F: Future>(request: F) -> (F::Output, u64) {
    CHANGED
        .scope(Cell::new(0), async {
            let output = request.await;
            (output, CHANGED.try_with(Cell::get).unwrap_or(0))
        })
        .await
}

fn note_change(rv: u64) {
    let _ = CHANGED.try_with(|changed| changed.set(changed.get().max(rv)));
}

/// (namespace, name); the namespace is empty for cluster-scoped objects.
pub type ObjectName = (String, String);

#[derive(Clone, Debug)]
pub struct Entry {
    pub raw: Bytes,
    pub index: Arc<Index>,
}

impl Entry {
    pub fn value(&self) -> Value {
        // Stored bytes were produced by serde_json from a Value, so they always parse.
        serde_json::from_slice(&self.raw).unwrap_or(Value::Null)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as watchers see it.
#[derive(Debug)]
pub struct Change {
    pub rv: u64,
    pub kind: EventType,
    pub resource: ResourceKey,
    pub entry: Entry,
    /// The object as it was before a MODIFIED or DELETED change (none for ADDED):
    /// a list read at an earlier resourceVersion finds it here, and watches with a
    /// selector compare its labels, to turn an object that stops matching into
    /// DELETED and one that starts matching into ADDED. Keeping it costs nothing on
    /// the write path: the writer holds that entry already.
    pub prev: Option<Entry>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists")]
    AlreadyExists,
    #[error("not found")]
    NotFound,
    #[error("the object has been modified")]
    Conflict,
    #[error("too old resource version: {requested} ({oldest})")]
    Expired { requested: u64, oldest: u64 },
    #[error("too large resource version: {requested}, current: {current}")]
    TooNew { requested: u64, current: u64 },
}

#[derive(Default)]
struct Inner {
    rv: u64,
    objects: HashMap<ResourceKey, BTreeMap<ObjectName, Entry>>,
    history: VecDeque<Arc<Change>>,
    /// Owner uid → dependents, for garbage collection without a full scan.
    dependents: HashMap<String, BTreeSet<(ResourceKey, ObjectName)>>,
    /// uid → where the object lives, so owners can be found by the uid dependents name.
    uids: HashMap<String, (ResourceKey, ObjectName)>,
}

pub struct Store {
    inner: RwLock<Inner>,
    history_len: usize,
    fanout: broadcast::Sender<Arc<Change>>,
    /// Where changes are made durable; none for a store kept in memory only.
    journal: OnceLock<Arc<Journal>>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

/// What a watch starts with: the changes since the requested version, and the live feed.
pub struct Subscription {
    pub backlog: Vec<Arc<Change>>,
    pub live: broadcast::Receiver<Arc<Change>>,
}

impl Store {
    pub fn new() -> Self {
        Self::with_history(HISTORY_LEN)
    }

    /// A store that keeps `history_len` past changes (at least one) for resuming
    /// watches and reading earlier versions of lists.
    pub fn with_history(history_len: usize) -> Self {
        Self { inner: RwLock::new(Inner::default()), history_len: history_len.max(1), fanout: broadcast::channel(FANOUT_CAPACITY).0, journal: OnceLock::new() }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn resource_version(&self) -> u64 {
        self.read().rv
    }

    pub fn get(&self, key: &ResourceKey, name: &ObjectName) -> Option<Entry> {
        self.read().objects.get(key).and_then(|m| m.get(name)).cloned()
    }

    /// Entries of one resource as they are now, in (namespace, name) order, starting
    /// after `after`. Returns the store's resourceVersion at the time of the read.
    pub fn list(&self, key: &ResourceKey, namespace: Option<&str>, after: Option<&ObjectName>, keep: impl FnMut(&Entry) -> bool) -> (Vec<Entry>, u64) {
        let start = after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        let request = PageRequest { namespace, start, at: None, limit: None, count_rest: false };
        match self.page(key, &request, keep) {
            Ok(page) => (page.items, page.rv),
            // A read of the latest state can be neither too old nor too new.
            Err(_) => (Vec::new(), self.resource_version()),
        }
    }

    /// Stores a new object, setting its resourceVersion.
    pub fn create(&self, key: &ResourceKey, mut obj: Value) -> Result<Entry, StoreError> {
        let mut inner = self.write();
        let name = object_name(&obj);
        if inner.objects.get(key).is_some_and(|m| m.contains_key(&name)) {
            return Err(StoreError::AlreadyExists);
        }
        inner.rv += 1;
        set_resource_version(&mut obj, inner.rv);
        let entry = make_entry(key, &obj);
        self.journal_put(inner.rv, key, &entry);
        inner.add_dependents(key, &name, &entry.index);
        inner.objects.entry(key.clone()).or_default().insert(name, entry.clone());
        self.publish(&mut inner, EventType::Added, key, entry.clone(), None);
        Ok(entry)
    }

    /// Replaces an object. With `expected_rv`, fails with Conflict if it changed since.
    pub fn update(&self, key: &ResourceKey, mut obj: Value, expected_rv: Option<u64>) -> Result<Entry, StoreError> {
        let mut inner = self.write();
        let name = object_name(&obj);
        let old = inner.objects.get(key).and_then(|m| m.get(&name)).ok_or(StoreError::NotFound)?.clone();
        if let Some(expected) = expected_rv
            && old.index.rv != expected
        {
            return Err(StoreError::Conflict);
        }
        inner.rv += 1;
        set_resource_version(&mut obj, inner.rv);
        let entry = make_entry(key, &obj);
        self.journal_put(inner.rv, key, &entry);
        inner.remove_dependents(key, &name, &old.index);
        inner.add_dependents(key, &name, &entry.index);
        inner.objects.entry(key.clone()).or_default().insert(name, entry.clone());
        self.publish(&mut inner, EventType::Modified, key, entry.clone(), Some(old));
        Ok(entry)
    }

    /// Removes an object. The DELETED event carries the object at a new resourceVersion.
    pub fn delete(&self, key: &ResourceKey, name: &ObjectName, expected_rv: Option<u64>) -> Result<Entry, StoreError> {
        let mut inner = self.write();
        let old = inner.objects.get(key).and_then(|m| m.get(name)).ok_or(StoreError::NotFound)?.clone();
        if let Some(expected) = expected_rv
            && old.index.rv != expected
        {
            return Err(StoreError::Conflict);
        }
        if let Some(m) = inner.objects.get_mut(key) {
            m.remove(name);
        }
        inner.remove_dependents(key, name, &old.index);
        inner.rv += 1;
        note_change(inner.rv);
        if let Some(journal) = self.journal.get() {
            journal.delete(inner.rv, key, name);
        }
        let mut obj = old.value();
        set_resource_version(&mut obj, inner.rv);
        let entry = make_entry(key, &obj);
        self.publish(&mut inner, EventType::Deleted, key, entry.clone(), Some(old));
        Ok(entry)
    }

    /// Objects whose ownerReferences name this uid.
    pub fn dependents_of(&self, uid: &str) -> Vec<(ResourceKey, ObjectName)> {
        self.read().dependents.get(uid).map(|s| s.iter().cloned().collect()).unwrap_or_default()
    }

    /// Where the object with this uid lives, if it exists.
    pub fn find_uid(&self, uid: &str) -> Option<(ResourceKey, ObjectName)> {
        self.read().uids.get(uid).cloned()
    }

    /// Every uid that some object names as its owner.
    pub fn owner_uids(&self) -> Vec<String> {
        self.read().dependents.keys().cloned().collect()
    }

    /// Every (resource, name) stored in a namespace.
    pub fn names_in_namespace(&self, namespace: &str) -> Vec<(ResourceKey, ObjectName)> {
        let inner = self.read();
        let mut out = Vec::new();
        for (key, objects) in &inner.objects {
            let start = (namespace.to_string(), String::new());
            for ((ns, name), _) in objects.range(start..) {
                if ns != namespace {
                    break;
                }
                out.push((key.clone(), (ns.clone(), name.clone())));
            }
        }
        out
    }

    /// Starts a watch from `since` (exclusive). `None` means "from now".
    pub fn subscribe(&self, since: Option<u64>) -> Result<Subscription, StoreError> {
        let inner = self.read();
        let live = self.fanout.subscribe();
        let mut backlog = Vec::new();
        if let Some(since) = since
            && since < inner.rv
        {
            let start = inner.changes_after(since)?;
            backlog.extend(inner.history.range(start..).cloned());
        }
        Ok(Subscription { backlog, live })
    }

    fn publish(&self, inner: &mut Inner, kind: EventType, key: &ResourceKey, entry: Entry, prev: Option<Entry>) {
        let change = Arc::new(Change { rv: inner.rv, kind, resource: key.clone(), entry, prev });
        if inner.history.len() >= self.history_len {
            inner.history.pop_front();
        }
        inner.history.push_back(change.clone());
        // No receivers is fine: nobody is watching.
        let _ = self.fanout.send(change);
    }

    fn journal_put(&self, rv: u64, key: &ResourceKey, entry: &Entry) {
        note_change(rv);
        if let Some(journal) = self.journal.get() {
            journal.put(rv, key, &entry.raw);
        }
    }

    /// From now on every change is appended to `journal` (see [`disk::open`]).
    pub(crate) fn attach_journal(&self, journal: Arc<Journal>) {
        let _ = self.journal.set(journal);
    }

    /// Waits until every change up to `rv` is durable. Immediate for a store without
    /// a journal. A writer answers only after this, so an acknowledged change survives
    /// a crash.
    pub async fn durable(&self, rv: u64) -> Result<(), JournalError> {
        match self.journal.get() {
            Some(journal) => journal.wait(rv).await,
            None => Ok(()),
        }
    }

    /// Everything stored, in resourceVersion order, for persistence. The lock is held
    /// only while collecting references; sorting happens after.
    pub fn snapshot(&self) -> (u64, Vec<(ResourceKey, Bytes)>) {
        let (rv, mut all) = {
            let inner = self.read();
            let all: Vec<(u64, ResourceKey, Bytes)> =
                inner.objects.iter().flat_map(|(key, objects)| objects.values().map(move |e| (e.index.rv, key.clone(), e.raw.clone()))).collect();
            (inner.rv, all)
        };
        all.sort_unstable_by_key(|(rv, _, _)| *rv);
        (rv, all.into_iter().map(|(_, key, raw)| (key, raw)).collect())
    }

    /// Loads persisted objects into an empty store (no events are published).
    pub fn restore(&self, rv: u64, objects: Vec<(ResourceKey, Value)>) {
        let mut inner = self.write();
        for (key, obj) in objects {
            let name = object_name(&obj);
            let entry = make_entry(&key, &obj);
            inner.add_dependents(&key, &name, &entry.index);
            inner.objects.entry(key).or_default().insert(name, entry);
        }
        inner.rv = rv;
    }
}

impl Inner {
    fn add_dependents(&mut self, key: &ResourceKey, name: &ObjectName, index: &Index) {
        if !index.uid.is_empty() {
            self.uids.insert(index.uid.clone(), (key.clone(), name.clone()));
        }
        for owner in &index.owners {
            self.dependents.entry(owner.clone()).or_default().insert((key.clone(), name.clone()));
        }
    }

    fn remove_dependents(&mut self, key: &ResourceKey, name: &ObjectName, index: &Index) {
        self.uids.remove(&index.uid);
        for owner in &index.owners {
            if let Some(set) = self.dependents.get_mut(owner) {
                set.remove(&(key.clone(), name.clone()));
                if set.is_empty() {
                    self.dependents.remove(owner);
                }
            }
        }
    }
}

pub fn object_name(obj: &Value) -> ObjectName {
    let meta = &obj["metadata"];
    (meta["namespace"].as_str().unwrap_or_default().to_string(), meta["name"].as_str().unwrap_or_default().to_string())
}

fn set_resource_version(obj: &mut Value, rv: u64) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
}

fn make_entry(key: &ResourceKey, obj: &Value) -> Entry {
    let raw = Bytes::from(serde_json::to_vec(obj).unwrap_or_default());
    Entry { raw, index: Arc::new(Index::of(key, obj)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm(name: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": "d"}})
    }

    #[test]
    fn watches_resume_from_kept_versions_and_expire_older_ones() {
        let store = Store::with_history(3);
        let key = ResourceKey::new("", "configmaps");
        for name in ["a", "b", "c", "d", "e"] {
            store.create(&key, cm(name)).unwrap();
        }
        // Versions 3..=5 are kept: resuming after 2 replays 3, 4 and 5.
        let sub = store.subscribe(Some(2)).unwrap();
        assert_eq!(sub.backlog.iter().map(|c| c.rv).collect::<Vec<_>>(), [3, 4, 5]);
        assert!(matches!(store.subscribe(Some(1)), Err(StoreError::Expired { requested: 1, oldest: 3 })));
        assert!(store.subscribe(Some(5)).unwrap().backlog.is_empty());
    }

    #[tokio::test]
    async fn a_request_learns_the_versions_of_its_own_changes_only() {
        let store = Arc::new(Store::new());
        let key = ResourceKey::new("", "configmaps");
        store.create(&key, cm("before")).unwrap();
        let ((), changed) = tracking_changes(async {
            store.create(&key, cm("a")).unwrap();
            tokio::task::yield_now().await;
            store.delete(&key, &("d".into(), "a".into()), None).unwrap();
        })
        .await;
        assert_eq!(changed, 3, "the highest version this request gave a change");
        let (other, changed) = tracking_changes(async {
            let (store, key) = (store.clone(), key.clone());
            // A change another task makes meanwhile (a controller) is not this request's.
            tokio::spawn(async move { store.create(&key, cm("c")).unwrap().index.rv }).await.unwrap()
        })
        .await;
        assert_eq!((other, changed), (4, 0));
        let (_, changed) = tracking_changes(async { store.get(&key, &("d".into(), "c".into())) }).await;
        assert_eq!(changed, 0, "a read changes nothing");
    }

    #[test]
    fn conflicting_writes_are_refused_and_dependents_are_indexed() {
        let store = Store::new();
        let key = ResourceKey::new("", "configmaps");
        let owner = store.create(&key, json!({"metadata": {"name": "o", "namespace": "d", "uid": "u-owner"}})).unwrap();
        store.create(&key, json!({"metadata": {"name": "c", "namespace": "d", "uid": "u-c", "ownerReferences": [{"uid": "u-owner"}]}})).unwrap();
        assert_eq!(store.dependents_of("u-owner"), [(key.clone(), ("d".to_string(), "c".to_string()))]);
        assert!(matches!(store.update(&key, owner.value(), Some(owner.index.rv + 7)), Err(StoreError::Conflict)));
        store.delete(&key, &("d".into(), "c".into()), None).unwrap();
        assert!(store.dependents_of("u-owner").is_empty());
        assert_eq!(store.find_uid("u-owner"), Some((key, ("d".to_string(), "o".to_string()))));
    }
}
