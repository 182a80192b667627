//! Dynamic completion: what the shell offers after `--context`, `-n` and the
//! commands' names comes from the kubeconfig and the cluster (contexts,
//! namespaces, pods and workloads, HelmReleases, ExternalSecrets, claims) and from
//! kdeck.yaml (tasks). The cluster is asked with a short limit: a cluster that does
//! not answer completes nothing rather than hang the shell.
//!
//! Wired through clap's completion engine: the shell calls `COMPLETE=SHELL kdeck
//! -- WORDS…` (what `kdeck completions SHELL` registers).

use std::time::Duration;

use clap_complete::engine::CompletionCandidate;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim, Pod};
use kube::Api;
use kube::api::{ApiResource, DynamicObject, ListParams};

/// How long a completion may wait for the cluster (kubectl's completion uses a
/// 5 s request timeout; a shell waiting that long feels hung).
const LIMIT: Duration = Duration::from_secs(2);

fn candidates(names: impl IntoIterator<Item = String>) -> Vec<CompletionCandidate> {
    names.into_iter().map(CompletionCandidate::new).collect()
}

/// The contexts of the kubeconfig (merged as kubectl merges it).
pub fn contexts() -> Vec<CompletionCandidate> {
    let Ok(config) = crate::cluster::kubeconfig::read_merged() else { return Vec::new() };
    candidates(config.contexts.into_iter().map(|c| c.name))
}

/// The value the words being completed give a flag (`--context X`, `-n X`,
/// `--namespace=X`): the shell passes every word to this process.
fn typed(flags: &[&str]) -> Option<String> {
    let words: Vec<String> = std::env::args().skip_while(|a| a != "--").skip(1).collect();
    let mut found = None;
    for (i, word) in words.iter().enumerate() {
        for flag in flags {
            if word == flag {
                found = words.get(i + 1).cloned();
            } else if let Some(value) = word.strip_prefix(&format!("{flag}=")) {
                found = Some(value.to_string());
            }
        }
    }
    found.filter(|v| !v.is_empty())
}

/// Runs `ask` against the cluster the words name (`--context`, else KDECK_CONTEXT,
/// the project's, the current context) in the namespace they name (`-n`, else the
/// context's), within [`LIMIT`]; nothing on any failure.
fn from_cluster<F, Fut>(ask: F) -> Vec<CompletionCandidate>
where
    F: FnOnce(crate::cluster::Cluster, String) -> Fut,
    Fut: std::future::Future<Output = Vec<String>>,
{
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return Vec::new() };
    runtime.block_on(async {
        let work = async {
            let context = typed(&["--context", "--cluster"])
                .or_else(|| std::env::var("KDECK_CONTEXT").ok().filter(|c| !c.is_empty()))
                .or_else(|| crate::project::default_context().ok().flatten());
            let cluster = crate::cluster::Cluster::connect(context.as_deref()).await.ok()?;
            let namespace = typed(&["-n", "--namespace"]).unwrap_or_else(|| cluster.default_namespace.clone());
            Some(ask(cluster, namespace).await)
        };
        candidates(tokio::time::timeout(LIMIT, work).await.ok().flatten().unwrap_or_default())
    })
}

async fn names<K>(api: Api<K>) -> Vec<String>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.list(&ListParams::default()).await.map(|l| l.items.iter().filter_map(|o| o.meta().name.clone()).collect()).unwrap_or_default()
}

pub fn namespaces() -> Vec<CompletionCandidate> {
    from_cluster(|cluster, _| async move { names(Api::<Namespace>::all(cluster.client)).await })
}

/// Pods by name, and workloads as `deploy/NAME`, `sts/NAME`, `ds/NAME` (logs and exec targets).
pub fn targets() -> Vec<CompletionCandidate> {
    from_cluster(|cluster, ns| async move {
        let client = cluster.client;
        // One round trip's time, not four: the lists are made at once.
        let (pods, deployments, stateful_sets, daemon_sets) = tokio::join!(
            names(Api::<Pod>::namespaced(client.clone(), &ns)),
            names(Api::<Deployment>::namespaced(client.clone(), &ns)),
            names(Api::<StatefulSet>::namespaced(client.clone(), &ns)),
            names(Api::<DaemonSet>::namespaced(client, &ns)),
        );
        let prefixed = |prefix: &str, names: Vec<String>| names.into_iter().map(|n| format!("{prefix}/{n}")).collect::<Vec<_>>();
        let mut out = pods;
        out.extend(prefixed("deploy", deployments));
        out.extend(prefixed("sts", stateful_sets));
        out.extend(prefixed("ds", daemon_sets));
        out
    })
}

pub fn claims() -> Vec<CompletionCandidate> {
    from_cluster(|cluster, ns| async move { names(Api::<PersistentVolumeClaim>::namespaced(cluster.client, &ns)).await })
}

fn custom(kind: &'static crate::cluster::crds::CustomKind) -> Vec<CompletionCandidate> {
    from_cluster(move |cluster, ns| async move {
        let Ok(resource): Result<ApiResource, _> = kind.discover(&cluster).await else { return Vec::new() };
        names(Api::<DynamicObject>::namespaced_with(cluster.client, &ns, &resource)).await
    })
}

pub fn helm_releases() -> Vec<CompletionCandidate> {
    custom(&crate::cluster::crds::HELM_RELEASE)
}

pub fn external_secrets() -> Vec<CompletionCandidate> {
    custom(&crate::cluster::crds::EXTERNAL_SECRET)
}

/// The tasks of the project's kdeck.yaml (this directory or a parent).
pub fn tasks() -> Vec<CompletionCandidate> {
    let Ok(project) = crate::project::ProjectArgs::default().load() else { return Vec::new() };
    candidates(project.tasks().into_keys())
}
