//! Controllers of the simulated control plane. Each reacts to changes from the store
//! and writes through the REST layer, so its writes obey the same rules as a
//! client's.
//!
//! The core controllers (CRDs, garbage collection, namespaces and what each one holds
//! by default, see [`defaults`]) react to each change in one loop; the workload controllers (scheduler, kubelet, ReplicaSets,
//! Deployments, StatefulSets, DaemonSets, Jobs, CronJobs, Endpoints, volumes,
//! External Secrets' SecretStores and ExternalSecrets, the listeners of NodePort
//! and LoadBalancer Services ([`exposure`]), Ingress statuses ([`ingress`])) each
//! run on [`runtime`], reconciling objects from a queue.
//!
//! After falling behind the change feed (a burst of writes), every controller
//! resynchronises from the full state, as real controllers do after a relist.

pub mod apiservices;
pub(crate) mod crd;
mod cronjob;
mod daemonset;
pub mod defaults;
mod deployment;
mod endpoints;
pub mod events;
mod exposure;
mod external_secrets;
mod gc;
mod helm_release;
mod ingress;
mod job;
mod namespace;
pub mod nodes;
pub(crate) mod objects;
mod replicaset;
pub(crate) mod runtime;
mod scheduler;
mod statefulset;
pub mod volumes;

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;

use crate::rest::Rest;
use crate::store::Change;

/// Registers what the stored state implies before the server takes requests
/// (the CRDs' resources, the namespaces' defaults), then runs the controllers until the process ends.
pub fn start(rest: Rest, cluster: defaults::Cluster) -> Vec<tokio::task::JoinHandle<()>> {
    crd::register_all(&rest);
    // What every namespace holds is there before the first request, as on a cluster
    // that is up.
    defaults::resync(&rest, &cluster);
    vec![
        tokio::spawn(run(rest.clone(), cluster)),
        runtime::spawn(rest.clone(), scheduler::Scheduler),
        runtime::spawn(rest.clone(), crate::kubelet::Kubelet::default()),
        runtime::spawn(rest.clone(), replicaset::ReplicaSets),
        runtime::spawn(rest.clone(), deployment::Deployments),
        runtime::spawn(rest.clone(), job::Jobs),
        runtime::spawn(rest.clone(), statefulset::StatefulSets),
        runtime::spawn(rest.clone(), daemonset::DaemonSets),
        runtime::spawn(rest.clone(), cronjob::CronJobs),
        runtime::spawn(rest.clone(), external_secrets::ExternalSecrets),
        runtime::spawn(rest.clone(), volumes::Provisioner),
        runtime::spawn(rest.clone(), helm_release::HelmReleases),
        runtime::spawn(rest.clone(), endpoints::Endpoints),
        runtime::spawn(rest.clone(), exposure::Exposure::default()),
        runtime::spawn(rest, ingress::IngressStatus::default()),
    ]
}

async fn run(rest: Rest, cluster: defaults::Cluster) {
    let Ok(subscription) = rest.store.subscribe(None) else { return };
    let mut live = subscription.live;
    resync(&rest, &cluster);
    loop {
        match live.recv().await {
            Ok(change) => handle(&rest, &cluster, &change),
            Err(RecvError::Lagged(_)) => resync(&rest, &cluster),
            Err(RecvError::Closed) => return,
        }
    }
}

fn handle(rest: &Rest, cluster: &defaults::Cluster, change: &Arc<Change>) {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        crd::on_change(rest, change);
        gc::on_change(rest, change);
        namespace::on_change(rest, change);
        defaults::on_change(rest, cluster, change);
    }));
    if outcome.is_err() {
        eprintln!("kdeck sandbox: a core controller failed on {} {}/{}", change.resource.qualified(), change.entry.index.namespace, change.entry.index.name);
    }
}

fn resync(rest: &Rest, cluster: &defaults::Cluster) {
    crd::register_all(rest);
    apiservices::sync(rest);
    gc::resync(rest);
    namespace::resync(rest);
    defaults::resync(rest, cluster);
}
