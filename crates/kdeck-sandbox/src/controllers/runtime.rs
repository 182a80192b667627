//! A small controller runtime: each controller maps changes to the keys of objects
//! it must reconcile, and reconciles them one at a time from a de-duplicating
//! queue. A reconcile may ask to be called again after a delay (a kubelet waiting
//! for a container to "start", a rollout waiting for pods to become available).
//!
//! Controllers run level-triggered: reconcile reads the current state and moves it
//! one step towards the desired state, so a missed change is repaired by the next.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use crate::resources::ResourceKey;
use crate::rest::Rest;
use crate::store::Change;

/// An object a controller reconciles.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    pub resource: ResourceKey,
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    pub fn new(resource: ResourceKey, namespace: &str, name: &str) -> Self {
        ObjectRef { resource, namespace: namespace.to_string(), name: name.to_string() }
    }
}

/// The shortest time between two reconciles of the same object.
const MIN_INTERVAL: Duration = Duration::from_millis(50);

/// The key of the object a change is about.
pub fn key_of(change: &Change) -> ObjectRef {
    ObjectRef::new(change.resource.clone(), &change.entry.index.namespace, &change.entry.index.name)
}

/// Every stored object of a resource, as keys.
pub fn every(rest: &Rest, resource: &ResourceKey) -> Vec<ObjectRef> {
    rest.store.list(resource, None, None, |_| true).0.iter().map(|e| ObjectRef::new(resource.clone(), &e.index.namespace, &e.index.name)).collect()
}

/// The keys most workload controllers react to: a change to one of their own
/// objects (`own`), or to a `child` whose controller reference is an `owner_kind`,
/// which reconciles that owner.
pub fn self_or_controller(change: &Change, own: &ResourceKey, owner_kind: &str, child: &ResourceKey) -> Vec<ObjectRef> {
    let index = &change.entry.index;
    if change.resource == *own {
        return vec![key_of(change)];
    }
    if change.resource == *child
        && !index.owners.is_empty()
        && let Some((kind, owner, _)) = super::objects::controller_of(&change.entry.value())
        && kind == owner_kind
    {
        return vec![ObjectRef::new(own.clone(), &index.namespace, owner)];
    }
    Vec::new()
}

pub trait Controller: Send + Sync + 'static {
    /// The objects a change concerns.
    fn keys_for(&self, rest: &Rest, change: &Change) -> Vec<ObjectRef>;
    /// Every object this controller is responsible for (after a restart or lag).
    fn all_keys(&self, rest: &Rest) -> Vec<ObjectRef>;
    /// Moves one object towards its desired state; `Some(delay)` asks to look again.
    fn reconcile(&self, rest: &Rest, key: &ObjectRef) -> Option<Duration>;
    /// Keys to reconcile when something outside the store changes (a process the
    /// kubelet runs exits). Taken once, when the controller starts.
    fn wakeups(&self) -> Option<mpsc::UnboundedReceiver<ObjectRef>> {
        None
    }
}

/// Runs `controller` until the store closes.
pub fn spawn(rest: Rest, controller: impl Controller) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(rest, Arc::new(controller)))
}

/// Reconciles one object; a panic is reported and that object retried later, so one
/// malformed object cannot stop a controller.
fn reconcile_guarded(controller: &dyn Controller, rest: &Rest, key: &ObjectRef) -> Option<Duration> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| controller.reconcile(rest, key))) {
        Ok(delay) => delay,
        Err(_) => {
            eprintln!("kdeck sandbox: a controller failed on {}/{} {}; retrying in 10s", key.resource.qualified(), key.namespace, key.name);
            Some(Duration::from_secs(10))
        }
    }
}

async fn run(rest: Rest, controller: Arc<dyn Controller>) {
    let Ok(subscription) = rest.store.subscribe(None) else { return };
    let mut live = subscription.live;
    let (requeue_tx, mut requeue_rx) = mpsc::unbounded_channel::<ObjectRef>();
    let mut wakeups = controller.wakeups();
    let mut pending: BTreeSet<ObjectRef> = controller.all_keys(&rest).into_iter().collect();
    // When each key's earliest pending requeue fires: a busy object gets one timer,
    // unless a sooner one is asked for.
    let mut scheduled: HashMap<ObjectRef, Instant> = HashMap::new();
    // When each key was last reconciled: a key that comes back sooner than
    // MIN_INTERVAL (its own write re-triggering it, say) waits, so a controller
    // bug cannot turn into a hot loop of writes.
    let mut last_run: HashMap<ObjectRef, Instant> = HashMap::new();
    loop {
        last_run.retain(|_, at| at.elapsed() < MIN_INTERVAL);
        for key in std::mem::take(&mut pending) {
            let delay = match last_run.get(&key) {
                Some(at) => Some(MIN_INTERVAL.saturating_sub(at.elapsed())),
                None => {
                    last_run.insert(key.clone(), Instant::now());
                    reconcile_guarded(controller.as_ref(), &rest, &key)
                }
            };
            if let Some(delay) = delay
                && scheduled.get(&key).is_none_or(|at| Instant::now() + delay < *at)
            {
                scheduled.insert(key.clone(), Instant::now() + delay);
                let tx = requeue_tx.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = tx.send(key);
                });
            }
        }
        tokio::select! {
            received = live.recv() => match received {
                Ok(change) => {
                    pending.extend(controller.keys_for(&rest, &change));
                    // Take whatever else already arrived, so a burst is reconciled once.
                    while let Ok(change) = live.try_recv() {
                        pending.extend(controller.keys_for(&rest, &change));
                    }
                }
                Err(RecvError::Lagged(_)) => pending.extend(controller.all_keys(&rest)),
                Err(RecvError::Closed) => return,
            },
            Some(key) = requeue_rx.recv() => {
                scheduled.remove(&key);
                pending.insert(key);
            }
            Some(key) = async { match wakeups.as_mut() { Some(rx) => rx.recv().await, None => std::future::pending().await } } => {
                pending.insert(key);
            }
        }
    }
}
