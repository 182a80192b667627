//! LIST pages, read as the store is now or as it was at an earlier resourceVersion.
//!
//! kube-apiserver serves every page of a paged list from the state at the first
//! page's resourceVersion (an etcd read at that revision, or a watch-cache
//! snapshot). The store does the same without copying anything: an object whose
//! current version was written at or before the requested version is read as it
//! is; one changed since is read as it was, from the history the store keeps for
//! watches anyway (each change holds the version it replaced, see
//! [`super::Change::prev`]); one created since is left out, one deleted since is
//! read from the change that deleted it. A page costs its own size plus one pass
//! over the changes made since its resourceVersion (at most the history's length);
//! when those are no longer all kept, the read is refused with
//! [`StoreError::Expired`], as a compacted etcd refuses it.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::iter::Peekable;
use std::ops::Bound;

use super::{Entry, Inner, ObjectName, Store, StoreError};
use crate::resources::ResourceKey;

/// What one page reads.
pub struct PageRequest<'a> {
    /// Only this namespace's objects.
    pub namespace: Option<&'a str>,
    /// Where the page starts, in (namespace, name) order.
    pub start: Bound<&'a ObjectName>,
    /// The resourceVersion to read at; `None` reads the latest state.
    pub at: Option<u64>,
    /// At most this many objects that `keep` accepts.
    pub limit: Option<usize>,
    /// Count the objects after the page (for `remainingItemCount`).
    pub count_rest: bool,
}

pub struct Page {
    pub items: Vec<Entry>,
    /// The resourceVersion the page was read at.
    pub rv: u64,
    /// Objects (matching `keep` or not) follow the last item: the list continues.
    pub more: bool,
    /// How many objects follow the last item, when counted and there are any.
    pub rest: Option<usize>,
}

/// A (namespace, name) borrowed from an entry.
type Key<'a> = (&'a str, &'a str);

fn key_of(name: &ObjectName) -> Key<'_> {
    (name.0.as_str(), name.1.as_str())
}

fn after_start(key: Key, start: Bound<&ObjectName>) -> bool {
    match start {
        Bound::Included(s) => key >= key_of(s),
        Bound::Excluded(s) => key > key_of(s),
        Bound::Unbounded => true,
    }
}

impl Inner {
    /// Where the changes after `since` begin in the history, when all of them are kept.
    pub(super) fn changes_after(&self, since: u64) -> Result<usize, StoreError> {
        let oldest = self.history.front().map(|c| c.rv).unwrap_or(self.rv + 1);
        if since + 1 < oldest {
            return Err(StoreError::Expired { requested: since, oldest });
        }
        Ok(self.history.partition_point(|c| c.rv <= since))
    }

    /// The objects of `key` in the request's range that changed after `at`, each with
    /// its version at `at` (none: it did not exist then).
    fn changed_since<'a>(&'a self, key: &ResourceKey, at: u64, request: &PageRequest) -> Result<BTreeMap<Key<'a>, Option<&'a Entry>>, StoreError> {
        let first = self.changes_after(at)?;
        let mut changed = BTreeMap::new();
        for change in self.history.range(first..) {
            let index = &change.entry.index;
            if change.resource != *key || request.namespace.is_some_and(|ns| ns != index.namespace) {
                continue;
            }
            let name = (index.namespace.as_str(), index.name.as_str());
            if after_start(name, request.start) {
                // The first change after `at` holds the version that was current at `at`.
                changed.entry(name).or_insert(change.prev.as_ref());
            }
        }
        Ok(changed)
    }
}

/// The objects as they were at the page's version, in key order: the current ones
/// merged with the versions of those changed since.
struct AtVersion<'a, C: Iterator<Item = (&'a ObjectName, &'a Entry)>, O: Iterator<Item = (Key<'a>, Option<&'a Entry>)>> {
    current: Peekable<C>,
    changed: Peekable<O>,
}

impl<'a, C, O> Iterator for AtVersion<'a, C, O>
where
    C: Iterator<Item = (&'a ObjectName, &'a Entry)>,
    O: Iterator<Item = (Key<'a>, Option<&'a Entry>)>,
{
    type Item = &'a Entry;

    fn next(&mut self) -> Option<&'a Entry> {
        loop {
            let now = self.current.peek().map(|(name, _)| key_of(name));
            let then = self.changed.peek().map(|(name, _)| *name);
            let order = match (now, then) {
                (None, None) => return None,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(now), Some(then)) => now.cmp(&then),
            };
            if order == Ordering::Less {
                return self.current.next().map(|(_, entry)| entry);
            }
            if order == Ordering::Equal {
                self.current.next();
            }
            if let Some((_, Some(entry))) = self.changed.next() {
                return Some(entry);
            }
        }
    }
}

impl Store {
    /// One page of a resource's objects, in (namespace, name) order: those `keep`
    /// accepts, up to the limit, as they were at the requested version.
    pub fn page(&self, key: &ResourceKey, request: &PageRequest, mut keep: impl FnMut(&Entry) -> bool) -> Result<Page, StoreError> {
        let inner = self.read();
        let at = request.at.unwrap_or(inner.rv);
        if at > inner.rv {
            return Err(StoreError::TooNew { requested: at, current: inner.rv });
        }
        let changed = if at < inner.rv { inner.changed_since(key, at, request)? } else { BTreeMap::new() };
        // A namespace's objects are one run of the (namespace, name) order.
        let ns_start = request.namespace.map(|ns| (ns.to_string(), String::new()));
        let start = match (request.start, &ns_start) {
            (Bound::Unbounded, Some(first)) => Bound::Included(first),
            (start, _) => start,
        };
        let current = inner.objects.get(key).into_iter().flat_map(move |objects| objects.range::<ObjectName, _>((start, Bound::Unbounded)));
        let namespace = request.namespace;
        let current = current
            .skip_while(move |((ns, _), _)| namespace.is_some_and(|want| ns.as_str() < want))
            .take_while(move |((ns, _), _)| namespace.is_none_or(|want| ns == want));
        let mut objects = AtVersion { current: current.peekable(), changed: changed.into_iter().peekable() };
        let limit = request.limit.unwrap_or(usize::MAX);
        let mut items = Vec::new();
        if limit > 0 {
            for entry in objects.by_ref() {
                if keep(entry) {
                    items.push(entry.clone());
                    if items.len() >= limit {
                        break;
                    }
                }
            }
        }
        let (more, rest) = if request.count_rest {
            let rest = objects.count();
            (rest > 0, Some(rest).filter(|&n| n > 0))
        } else {
            (objects.next().is_some(), None)
        };
        Ok(Page { items, rv: at, more, rest })
    }

    /// Waits, until `deadline` at the latest, for the store to reach resourceVersion
    /// `rv`; whether it did.
    pub async fn wait_for(&self, rv: u64, deadline: tokio::time::Instant) -> bool {
        let mut live = self.fanout.subscribe();
        loop {
            if self.resource_version() >= rv {
                return true;
            }
            match tokio::time::timeout_at(deadline, live.recv()).await {
                Ok(Ok(change)) if change.rv >= rv => return true,
                Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
                Ok(Err(tokio::sync::broadcast::error::RecvError::Closed)) | Err(_) => return self.resource_version() >= rv,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn cm(ns: &str, name: &str, data: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": ns}, "data": {"k": data}})
    }

    fn key() -> ResourceKey {
        ResourceKey::new("", "configmaps")
    }

    fn read(store: &Store, at: Option<u64>, start: Bound<&ObjectName>, limit: Option<usize>) -> Result<Page, StoreError> {
        store.page(&key(), &PageRequest { namespace: None, start, at, limit, count_rest: true }, |_| true)
    }

    fn names(page: &Page) -> Vec<String> {
        page.items.iter().map(|e| format!("{}/{}={}", e.index.namespace, e.index.name, e.value()["data"]["k"].as_str().unwrap_or_default())).collect()
    }

    #[test]
    fn a_page_at_an_earlier_version_sees_the_objects_as_they_were() {
        let store = Store::new();
        for name in ["a", "b", "c", "d"] {
            store.create(&key(), cm("n", name, "1")).unwrap();
        }
        let first = read(&store, None, Bound::Unbounded, Some(2)).unwrap();
        assert_eq!((names(&first), first.rv, first.more, first.rest), (vec!["n/a=1".to_string(), "n/b=1".into()], 4, true, Some(2)));
        // Between the pages: one created, one updated, one deleted, one deleted and created again.
        store.create(&key(), cm("n", "bb", "1")).unwrap();
        let c = store.get(&key(), &("n".into(), "c".into())).unwrap();
        store.update(&key(), cm("n", "c", "2"), None).unwrap();
        store.delete(&key(), &("n".into(), "d".into()), None).unwrap();
        store.create(&key(), cm("n", "e", "1")).unwrap();
        store.delete(&key(), &("n".into(), "e".into()), None).unwrap();
        let after = ("n".to_string(), "b".to_string());
        let second = read(&store, Some(first.rv), Bound::Excluded(&after), Some(10)).unwrap();
        assert_eq!((names(&second), second.rv, second.more), (vec!["n/c=1".to_string(), "n/d=1".into()], 4, false));
        assert_eq!(second.items[0].raw, c.raw, "the version that was current, with its own resourceVersion");
        let now = read(&store, None, Bound::Excluded(&after), None).unwrap();
        assert_eq!(names(&now), ["n/bb=1", "n/c=2"]);
    }

    #[test]
    fn versions_no_longer_kept_are_expired_and_future_ones_too_new() {
        let store = Store::with_history(3);
        for name in ["a", "b", "c", "d", "e"] {
            store.create(&key(), cm("n", name, "1")).unwrap();
        }
        // Changes 3..=5 are kept: the state at 2 can be rebuilt, not the one at 1.
        assert_eq!(names(&read(&store, Some(2), Bound::Unbounded, None).unwrap()), ["n/a=1", "n/b=1"]);
        assert!(matches!(read(&store, Some(1), Bound::Unbounded, None), Err(StoreError::Expired { requested: 1, oldest: 3 })));
        assert!(matches!(read(&store, Some(6), Bound::Unbounded, None), Err(StoreError::TooNew { requested: 6, current: 5 })));
    }

    #[test]
    fn a_namespace_is_one_run_and_selectors_filter_within_the_limit() {
        let store = Store::new();
        for (ns, name) in [("a", "x"), ("b", "x"), ("b", "y"), ("b", "z"), ("c", "x")] {
            store.create(&key(), cm(ns, name, name)).unwrap();
        }
        let request = PageRequest { namespace: Some("b"), start: Bound::Unbounded, at: Some(3), limit: None, count_rest: false };
        let page = store.page(&key(), &request, |_| true).unwrap();
        assert_eq!(names(&page), ["b/x=x", "b/y=y"]);
        // One accepted object fills the page; objects after it, accepted or not, continue the list.
        let request = PageRequest { namespace: None, start: Bound::Unbounded, at: None, limit: Some(1), count_rest: false };
        let page = store.page(&key(), &request, |e| e.index.name == "z").unwrap();
        assert_eq!((names(&page), page.more), (vec!["b/z=z".to_string()], true));
        let request = PageRequest { namespace: None, start: Bound::Unbounded, at: None, limit: Some(5), count_rest: true };
        let page = store.page(&key(), &request, |_| true).unwrap();
        assert_eq!((page.items.len(), page.more, page.rest), (5, false, None), "a limit the list fits in ends it");
    }
}
