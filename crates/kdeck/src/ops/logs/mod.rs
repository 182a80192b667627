//! Streaming logs from many pods at once, merged line by line with a
//! `pod/container` prefix. While following, pods that appear later are picked up
//! and pods that go away are dropped; a broken stream reconnects from the last
//! line's timestamp and skips what was already printed. Streams are bounded in
//! number; those beyond the bound wait, and the user is told.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kdeck_sandbox::rest::selector::LabelSelector;
use kube::ResourceExt;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use regex::Regex;
use tokio::sync::{Semaphore, mpsc};

use crate::cluster::Cluster;
use crate::error::{Error, Result};

mod render;
mod stream;

/// How many log streams are open at once; more wait for a free slot.
pub const MAX_STREAMS: usize = 64;

/// Which pods: by exact name, by a name pattern, or by labels (workloads and `-l`).
#[derive(Clone, Debug)]
pub enum PodMatch {
    Name(String),
    Pattern(Regex),
    Labels(String),
}

impl PodMatch {
    fn matches(&self, pod: &Pod, labels: Option<&LabelSelector>) -> bool {
        match self {
            PodMatch::Name(name) => pod.name_any() == *name,
            PodMatch::Pattern(re) => re.is_match(&pod.name_any()),
            PodMatch::Labels(_) => labels.is_some_and(|s| s.matches(pod.labels())),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// None: every namespace.
    pub namespace: Option<String>,
    pub matches: Vec<PodMatch>,
    pub container: Option<String>,
    pub all_containers: bool,
    pub follow: bool,
    pub since: Option<Duration>,
    pub tail: Option<i64>,
    pub previous: bool,
    pub timestamps: bool,
    pub grep: Option<Regex>,
    pub exclude: Option<Regex>,
    pub json: bool,
    pub color: bool,
    /// Show the `pod/container` prefix (several sources, or asked for).
    pub prefix: bool,
}

/// One container's log.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Source {
    namespace: String,
    pod: String,
    container: String,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} container {}", self.namespace, self.pod, self.container)
    }
}

/// Streams the logs; returns when every stream has ended (never while following,
/// until interrupted). Fails when nothing matches at the start, and when a log
/// could not be read (after what could be read was printed).
pub async fn run(cluster: &Cluster, options: Options) -> Result<()> {
    let options = Arc::new(options);
    let client = cluster.streaming_client()?;
    let pods: Api<Pod> = match &options.namespace {
        Some(ns) => Api::namespaced(cluster.client.clone(), ns),
        None => Api::all(cluster.client.clone()),
    };
    let watch_pods: Api<Pod> = match &options.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let selectors: Vec<Option<LabelSelector>> = options
        .matches
        .iter()
        .map(|m| match m {
            PodMatch::Labels(s) => LabelSelector::parse(s).map(Some).map_err(|e| Error::usage(format!("invalid label selector {s:?}: {e}"))),
            _ => Ok(None),
        })
        .collect::<Result<_>>()?;
    let wanted = |pod: &Pod| options.matches.iter().zip(&selectors).any(|(m, s)| m.matches(pod, s.as_ref()));
    let list = pods.list(&ListParams::default()).await.map_err(|e| cluster.error("listing pods", e))?;
    let mut matched: Vec<Pod> = list.items.into_iter().filter(|p| wanted(p)).collect();
    matched.sort_by_key(|p| (p.namespace(), p.name_any()));
    if matched.is_empty() && !options.follow {
        let where_ = options.namespace.as_deref().map_or("any namespace".to_string(), |ns| format!("namespace {ns}"));
        return Err(Error::not_found(format!("no pods match {} in {where_} (context {})", describe(&options.matches), cluster.context)));
    }
    // A container that none of the pods has is an error at once, following or not
    // (the pods a workload adds later have the same containers), as kubectl says it.
    if let Some(wanted) = &options.container
        && !options.all_containers
        && !matched.is_empty()
        && matched.iter().all(|pod| sources(pod, &options).1.is_some())
    {
        let why = sources(&matched[0], &options).1.unwrap_or_else(|| format!("container {wanted} is in none of the pods"));
        let more = if matched.len() > 1 { format!(" (nor in any of the other {} pods)", matched.len() - 1) } else { String::new() };
        return Err(Error::not_found(format!("{why}{more}")));
    }
    let (lines_tx, lines_rx) = mpsc::channel::<String>(1024);
    let printer = tokio::spawn(render::print_lines(lines_rx));
    let slots = Arc::new(Semaphore::new(MAX_STREAMS));
    let mut streams: BTreeMap<Source, tokio::task::JoinHandle<stream::End>> = BTreeMap::new();
    // What cannot be shown and why (no such container, not started yet), said once.
    let mut problems: BTreeMap<Source, String> = BTreeMap::new();
    let mut start = |pod: &Pod, streams: &mut BTreeMap<Source, tokio::task::JoinHandle<stream::End>>| {
        let (chosen, missing) = sources(pod, &options);
        if let Some(problem) = missing {
            let source =
                Source { namespace: pod.namespace().unwrap_or_default(), pod: pod.name_any(), container: options.container.clone().unwrap_or_default() };
            if !problems.contains_key(&source) && options.follow {
                eprintln!("kdeck: {problem}");
            }
            problems.insert(source, problem);
        }
        for source in chosen {
            if streams.contains_key(&source) {
                continue;
            }
            if !has_started(pod, &source.container) {
                let problem = format!(
                    "container {} in pod {}/{} is waiting to start: {}",
                    source.container,
                    source.namespace,
                    source.pod,
                    waiting_reason(pod, &source.container)
                );
                if options.follow && !problems.contains_key(&source) {
                    eprintln!("kdeck: {problem}; its log follows once it starts");
                }
                problems.insert(source, problem);
                continue;
            }
            problems.remove(&source);
            if slots.available_permits() == 0 {
                eprintln!("{} streams are open (the limit); {}/{} waits for one to end", MAX_STREAMS, source.pod, source.container);
            }
            let task = tokio::spawn(stream::stream(client.clone(), source.clone(), options.clone(), lines_tx.clone(), slots.clone()));
            streams.insert(source, task);
        }
    };
    for pod in &matched {
        start(pod, &mut streams);
    }
    if options.follow {
        // Pick up pods that appear (or start) later; drop those that go.
        let mut version = list.metadata.resource_version.unwrap_or_default();
        loop {
            let watch = watch_pods.watch(&WatchParams::default().timeout(290), &version).await;
            let Ok(events) = watch else {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            };
            let mut events = events.boxed();
            while let Some(event) = events.next().await {
                match event {
                    Ok(WatchEvent::Added(pod) | WatchEvent::Modified(pod)) if wanted(&pod) => {
                        version = pod.resource_version().unwrap_or(version);
                        if pod.metadata.deletion_timestamp.is_none() {
                            start(&pod, &mut streams);
                        }
                    }
                    Ok(WatchEvent::Deleted(pod)) => {
                        version = pod.resource_version().unwrap_or(version);
                        streams.retain(|s, task| {
                            let gone = s.pod == pod.name_any() && Some(&s.namespace) == pod.namespace().as_ref();
                            if gone {
                                task.abort();
                            }
                            !gone
                        });
                    }
                    Ok(WatchEvent::Added(pod) | WatchEvent::Modified(pod)) => version = pod.resource_version().unwrap_or(version),
                    Ok(WatchEvent::Bookmark(b)) => version = b.metadata.resource_version,
                    // 410 Gone or a broken watch: relist from now (streams already open go on).
                    Ok(WatchEvent::Error(_)) | Err(_) => {
                        if let Ok(list) = pods.list(&ListParams::default()).await {
                            version = list.metadata.resource_version.clone().unwrap_or_default();
                            for pod in list.items.iter().filter(|p| wanted(p)) {
                                start(pod, &mut streams);
                            }
                        }
                        break;
                    }
                }
            }
        }
    }
    let mut failed: Vec<String> = problems.into_values().collect();
    for (source, task) in streams {
        if let Ok(stream::End::Failed(why)) = task.await {
            failed.push(format!("cannot read the log of {source}: {why}"));
        }
    }
    drop(lines_tx);
    let _ = printer.await;
    match failed.len() {
        0 => Ok(()),
        1 => Err(Error::failure(failed.remove(0))),
        n => {
            for why in &failed {
                eprintln!("kdeck: {why}");
            }
            Err(Error::failure(format!("{n} logs could not be shown (see above)")))
        }
    }
}

/// Follows one container's log into `lines` until the container has stopped or the
/// pod is gone, resuming cut streams without repeating or losing lines.
pub async fn follow_one(client: kube::Client, namespace: &str, pod: &str, container: &str, lines: mpsc::Sender<String>) {
    let options = Options { namespace: Some(namespace.to_string()), container: Some(container.to_string()), follow: true, ..Options::default() };
    let source = Source { namespace: namespace.to_string(), pod: pod.to_string(), container: container.to_string() };
    stream::stream(client, source, Arc::new(options), lines, Arc::new(Semaphore::new(1))).await;
}

/// The containers of `pod` whose logs are wanted, and what is wrong when the asked
/// container is not one of them.
fn sources(pod: &Pod, options: &Options) -> (Vec<Source>, Option<String>) {
    let names: Vec<String> = pod.spec.as_ref().map(|s| s.containers.iter().map(|c| c.name.clone()).collect()).unwrap_or_default();
    let mut missing = None;
    let chosen: Vec<String> = if options.all_containers {
        names
    } else if let Some(wanted) = &options.container {
        if !names.contains(wanted) {
            let (ns, name) = (pod.namespace().unwrap_or_default(), pod.name_any());
            missing = Some(format!("container {wanted} is not valid for pod {ns}/{name}: its containers are {}", names.join(", ")));
        }
        names.into_iter().filter(|n| n == wanted).collect()
    } else {
        crate::cluster::target::container(pod, None, "").map(|c| vec![c]).unwrap_or_else(|_| names.into_iter().take(1).collect())
    };
    let chosen = chosen.into_iter().map(|container| Source { namespace: pod.namespace().unwrap_or_default(), pod: pod.name_any(), container }).collect();
    (chosen, missing)
}

/// Whether the container has started at least once (before that the API has no log).
fn has_started(pod: &Pod, container: &str) -> bool {
    let statuses = pod.status.as_ref().and_then(|s| s.container_statuses.as_ref());
    statuses
        .into_iter()
        .flatten()
        .any(|c| c.name == container && c.state.as_ref().is_some_and(|s| s.running.is_some() || s.terminated.is_some() || c.restart_count > 0))
}

/// Why a container has not started, as kubectl words it (`ContainerCreating`).
fn waiting_reason(pod: &Pod, container: &str) -> String {
    let statuses = pod.status.as_ref().and_then(|s| s.container_statuses.as_ref());
    let waiting = statuses.into_iter().flatten().find(|c| c.name == container).and_then(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone());
    waiting.unwrap_or_else(|| crate::cluster::target::pod_state(pod))
}

/// The distinct pods a set of sources covers (for messages).
pub fn describe(matches: &[PodMatch]) -> String {
    let parts: BTreeSet<String> = matches
        .iter()
        .map(|m| match m {
            PodMatch::Name(n) => format!("pod {n}"),
            PodMatch::Pattern(re) => format!("pods named like {}", re.as_str()),
            PodMatch::Labels(s) => format!("pods with {s}"),
        })
        .collect();
    parts.into_iter().collect::<Vec<_>>().join(", ")
}
