//! Streaming logs from many pods at once, merged line by line with a
//! `pod/container` prefix. While following, pods that appear later are picked up
//! and pods that go away are dropped; a broken stream reconnects from the last
//! line's timestamp and skips what was already printed. Streams are bounded in
//! number; those beyond the bound wait, and the user is told.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kdeck_sandbox::rest::selector::LabelSelector;
use kube::ResourceExt;
use kube::api::{Api, ListParams, LogParams, WatchEvent, WatchParams};
use regex::Regex;
use tokio::sync::{Semaphore, mpsc};

use crate::cluster::Cluster;
use crate::error::{Error, Result};

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

#[derive(Clone, Debug)]
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
struct Source {
    namespace: String,
    pod: String,
    container: String,
}

/// Where a stream got to, so a reconnect neither loses nor repeats lines.
#[derive(Default)]
struct Position {
    last: Option<Timestamp>,
    /// Lines already printed that carry exactly `last`.
    at_last: usize,
}

impl Position {
    /// Whether a line stamped `at` is new; records it if so.
    fn advance(&mut self, at: Timestamp, skipped_at_last: &mut usize) -> bool {
        match self.last {
            Some(last) if at < last => false,
            Some(last) if at == last && *skipped_at_last < self.at_last => {
                *skipped_at_last += 1;
                false
            }
            Some(last) if at == last => {
                self.at_last += 1;
                *skipped_at_last += 1;
                true
            }
            _ => {
                self.last = Some(at);
                self.at_last = 1;
                *skipped_at_last = 1;
                true
            }
        }
    }
}

/// Streams the logs; returns when every stream has ended (never while following,
/// until interrupted). Fails when nothing matches at the start.
pub async fn run(cluster: &Cluster, options: Options) -> Result<()> {
    let options = Arc::new(options);
    let client = cluster.streaming_client()?;
    let pods: Api<Pod> = match &options.namespace {
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
        return Err(Error::not_found(format!("no pods match in {where_} (context {})", cluster.context)));
    }
    let (lines_tx, lines_rx) = mpsc::channel::<String>(1024);
    let printer = tokio::spawn(print_lines(lines_rx));
    let slots = Arc::new(Semaphore::new(MAX_STREAMS));
    let mut streams: BTreeMap<Source, tokio::task::JoinHandle<()>> = BTreeMap::new();
    let start = |pod: &Pod, streams: &mut BTreeMap<Source, tokio::task::JoinHandle<()>>| {
        for source in sources(pod, &options) {
            if streams.contains_key(&source) || !has_started(pod, &source.container) {
                continue;
            }
            if slots.available_permits() == 0 {
                eprintln!("{} streams are open (the limit); {}/{} waits for one to end", MAX_STREAMS, source.pod, source.container);
            }
            let task = tokio::spawn(stream(client.clone(), source.clone(), options.clone(), lines_tx.clone(), slots.clone()));
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
            let watch = pods.watch(&WatchParams::default().timeout(290), &version).await;
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
    for (_, task) in streams {
        let _ = task.await;
    }
    drop(lines_tx);
    let _ = printer.await;
    Ok(())
}

/// Follows one container's log into `lines` until the container has stopped or the
/// pod is gone, resuming cut streams without repeating or losing lines.
pub async fn follow_one(client: kube::Client, namespace: &str, pod: &str, container: &str, lines: mpsc::Sender<String>) {
    let options = Options {
        namespace: Some(namespace.to_string()),
        matches: Vec::new(),
        container: Some(container.to_string()),
        all_containers: false,
        follow: true,
        since: None,
        tail: None,
        previous: false,
        timestamps: false,
        grep: None,
        exclude: None,
        json: false,
        color: false,
        prefix: false,
    };
    let source = Source { namespace: namespace.to_string(), pod: pod.to_string(), container: container.to_string() };
    stream(client, source, Arc::new(options), lines, Arc::new(Semaphore::new(1))).await;
}

fn sources(pod: &Pod, options: &Options) -> Vec<Source> {
    let names: Vec<String> = pod.spec.as_ref().map(|s| s.containers.iter().map(|c| c.name.clone()).collect()).unwrap_or_default();
    let chosen: Vec<String> = if options.all_containers {
        names
    } else if let Some(wanted) = &options.container {
        names.into_iter().filter(|n| n == wanted).collect()
    } else {
        crate::cluster::target::container(pod, None, "").map(|c| vec![c]).unwrap_or_else(|_| names.into_iter().take(1).collect())
    };
    chosen.into_iter().map(|container| Source { namespace: pod.namespace().unwrap_or_default(), pod: pod.name_any(), container }).collect()
}

/// Whether the container has started at least once (before that the API has no log).
fn has_started(pod: &Pod, container: &str) -> bool {
    let statuses = pod.status.as_ref().and_then(|s| s.container_statuses.as_ref());
    statuses
        .into_iter()
        .flatten()
        .any(|c| c.name == container && c.state.as_ref().is_some_and(|s| s.running.is_some() || s.terminated.is_some() || c.restart_count > 0))
}

/// One container's stream, reconnecting while following until the pod or the
/// container is gone.
async fn stream(client: kube::Client, source: Source, options: Arc<Options>, lines: mpsc::Sender<String>, slots: Arc<Semaphore>) {
    let Ok(_slot) = slots.acquire_owned().await else { return };
    let pods: Api<Pod> = Api::namespaced(client, &source.namespace);
    let mut position = Position::default();
    let mut failures = 0u32;
    // When the first connection was made: a reconnect before any line resumes there.
    let mut first_connect: Option<Timestamp> = None;
    loop {
        // The first connection honours --since/--tail; a reconnect resumes at the last
        // line (whole seconds, as the API takes it; what was printed is skipped).
        let resume_at = position.last.or(first_connect).map(|t| Timestamp::from_second(t.as_second()).unwrap_or(t));
        let params = LogParams {
            container: Some(source.container.clone()),
            follow: options.follow,
            previous: options.previous,
            timestamps: true,
            since_seconds: if resume_at.is_none() { options.since.map(|d| d.as_secs().max(1) as i64) } else { None },
            since_time: resume_at,
            tail_lines: if resume_at.is_none() { options.tail } else { None },
            ..LogParams::default()
        };
        first_connect.get_or_insert_with(Timestamp::now);
        if let Ok(reader) = pods.log_stream(&source.pod, &params).await {
            failures = 0;
            let mut read = reader.lines();
            let mut skipped_at_last = 0;
            while let Some(Ok(raw)) = read.next().await {
                let (at, text) = split_timestamp(&raw);
                if let Some(at) = at
                    && !position.advance(at, &mut skipped_at_last)
                {
                    continue;
                }
                if let Some(line) = render(&source, at, text, &options)
                    && lines.send(line).await.is_err()
                {
                    return;
                }
            }
        } else {
            failures += 1;
        }
        if !options.follow || !still_running(&pods, &source).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200 * u64::from(failures.min(10)) + 100)).await;
    }
}

async fn still_running(pods: &Api<Pod>, source: &Source) -> bool {
    match pods.get_opt(&source.pod).await {
        Ok(Some(pod)) => {
            pod.metadata.deletion_timestamp.is_none() && pod.status.as_ref().and_then(|s| s.phase.as_deref()).is_some_and(|p| p == "Running" || p == "Pending")
        }
        Ok(None) => false,
        // Cannot tell (a broken connection): try again.
        Err(_) => true,
    }
}

/// `2026-11-23T10:00:00.123456789Z text` → (time, text).
fn split_timestamp(line: &str) -> (Option<Timestamp>, &str) {
    match line.split_once(' ') {
        Some((stamp, text)) => match stamp.parse::<Timestamp>() {
            Ok(at) => (Some(at), text),
            Err(_) => (None, line),
        },
        None => (line.parse::<Timestamp>().ok(), ""),
    }
}

/// The line as printed, or None when --grep/--exclude filter it out.
fn render(source: &Source, at: Option<Timestamp>, text: &str, options: &Options) -> Option<String> {
    if options.grep.as_ref().is_some_and(|re| !re.is_match(text)) || options.exclude.as_ref().is_some_and(|re| re.is_match(text)) {
        return None;
    }
    if options.json {
        let line = serde_json::json!({
            "namespace": source.namespace, "pod": source.pod, "container": source.container,
            "time": at.map(|t| t.to_string()), "message": text,
        });
        return Some(line.to_string());
    }
    let mut out = String::new();
    if options.prefix {
        let label = if options.namespace.is_none() {
            format!("{}/{}/{}", source.namespace, source.pod, source.container)
        } else {
            format!("{}/{}", source.pod, source.container)
        };
        if options.color {
            out.push_str(&format!("\x1b[{}m{label}\x1b[0m ", colour_for(&label)));
        } else {
            out.push_str(&label);
            out.push(' ');
        }
    }
    if options.timestamps
        && let Some(at) = at
    {
        out.push_str(&at.to_string());
        out.push(' ');
    }
    out.push_str(text);
    Some(out)
}

/// One of six ANSI colours, stable for a label.
fn colour_for(label: &str) -> u8 {
    let hash = label.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    31 + (hash % 6) as u8
}

async fn print_lines(mut lines: mpsc::Receiver<String>) {
    use std::io::Write;
    while let Some(line) = lines.recv().await {
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{line}").is_err() {
            return;
        }
        let _ = out.flush();
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_reconnect_skips_lines_already_printed() {
        let mut position = Position::default();
        let mut seen = 0;
        assert!(position.advance(at("2026-11-23T10:00:00Z"), &mut seen));
        assert!(position.advance(at("2026-11-23T10:00:01Z"), &mut seen));
        assert!(position.advance(at("2026-11-23T10:00:01Z"), &mut seen), "two lines in the same instant");
        // Reconnect from the last time: the server repeats from that second.
        let mut seen = 0;
        assert!(!position.advance(at("2026-11-23T10:00:00Z"), &mut seen));
        assert!(!position.advance(at("2026-11-23T10:00:01Z"), &mut seen));
        assert!(!position.advance(at("2026-11-23T10:00:01Z"), &mut seen));
        assert!(position.advance(at("2026-11-23T10:00:01Z"), &mut seen), "a third line in that instant is new");
        assert!(position.advance(at("2026-11-23T10:00:02Z"), &mut seen));
    }

    #[test]
    fn lines_split_and_filter() {
        let (t, text) = split_timestamp("2026-11-23T10:00:00.5Z GET /health 200");
        assert_eq!((t, text), (Some(at("2026-11-23T10:00:00.5Z")), "GET /health 200"));
        assert_eq!(split_timestamp("no stamp here"), (None, "no stamp here"));
        let source = Source { namespace: "ns".into(), pod: "web-1".into(), container: "app".into() };
        let options = Options {
            namespace: Some("ns".into()),
            matches: vec![],
            container: None,
            all_containers: false,
            follow: false,
            since: None,
            tail: None,
            previous: false,
            timestamps: false,
            grep: Some(Regex::new("GET").unwrap()),
            exclude: Some(Regex::new("health").unwrap()),
            json: false,
            color: false,
            prefix: true,
        };
        assert_eq!(render(&source, None, "GET /api", &options).as_deref(), Some("web-1/app GET /api"));
        assert_eq!(render(&source, None, "GET /health", &options), None);
        assert_eq!(render(&source, None, "POST /api", &options), None);
    }
}
