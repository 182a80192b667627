//! The simulated kubelet. Containers are simulated unless they opt in: a pod bound
//! to a sandbox node moves through the states a real kubelet reports —
//! ContainerCreating, then Running, then Ready once its readiness probe's initial
//! delay has passed — with conditions, container statuses, IPs and events written
//! as the real one writes them, and ends or restarts as its declared behaviour
//! says ([`behaviour`]). The exception is opt-in: in a sandbox started with
//! `--run-commands`, a pod annotated `sandbox.kdeck.dev/run-command: "true"` really
//! runs its containers' commands ([`command`]), whatever its restart policy; their
//! exits end the containers, which restart as the kubelet restarts them
//! ([`restart`]), and their probes really run ([`probes`]). Without the flag they
//! stay simulated (event `RunCommandDisabled`).
//!
//! Each reconcile reads the pod's status and takes the next step, so a restarted
//! sandbox carries on where it stopped. [`logs`] serves what the containers "print".

pub mod behaviour;
pub mod certgen;
pub mod command;
pub mod env;
pub mod exec;
pub mod init;
pub mod logs;
pub mod probes;
pub mod restart;
pub mod usage;

use behaviour::Behaviour;

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::controllers::events::{self, Source};
use crate::controllers::objects;
use crate::controllers::runtime::{Controller, ObjectRef};
use crate::resources::{ResourceInfo, ResourceKey};
use crate::rest::Rest;
use crate::store::{Change, EventType};
use crate::time;

/// How long "creating" a container takes.
const CREATE_DELAY: Duration = Duration::from_millis(300);

pub struct Kubelet {
    /// The last host number handed out per node, within the node's podCIDR.
    last_ip: Mutex<HashMap<String, u32>>,
    /// When each pod's containers began "creating" (timestamps only have seconds).
    creating_since: Mutex<HashMap<String, Instant>>,
    /// Image pulls that failed: (pod uid, container) → (attempts, when the next may run).
    pull_attempts: Mutex<HashMap<(String, String), (u32, Instant)>>,
    /// The containers' restart back-offs ([`restart`]).
    backoffs: restart::Backoffs,
    /// Pods to look at now: a container's real process exited ([`command`]), a
    /// probe's result changed ([`probes`]).
    wake: mpsc::UnboundedSender<ObjectRef>,
    wakeups: Mutex<Option<mpsc::UnboundedReceiver<ObjectRef>>>,
}

impl Default for Kubelet {
    fn default() -> Self {
        let (wake, wakeups) = mpsc::unbounded_channel();
        Kubelet {
            last_ip: Mutex::default(),
            creating_since: Mutex::default(),
            pull_attempts: Mutex::default(),
            backoffs: restart::Backoffs::default(),
            wake,
            wakeups: Mutex::new(Some(wakeups)),
        }
    }
}

impl Kubelet {
    /// How long until the next pull of a failing image may be tried (None: now),
    /// recording the attempt. The back-off doubles from RETRY up to 5 minutes.
    fn pull_wait(&self, pod: &Value, container: &str) -> Option<Duration> {
        let key = (pod["metadata"]["uid"].as_str().unwrap_or_default().to_string(), container.to_string());
        let mut attempts = self.pull_attempts.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match attempts.get(&key) {
            Some((_, next)) if *next > now => Some(*next - now),
            previous => {
                let tries = previous.map_or(0, |(n, _)| *n) + 1;
                let backoff = (RETRY * 2u32.saturating_pow(tries - 1)).min(Duration::from_secs(300));
                attempts.insert(key, (tries, now + backoff));
                None
            }
        }
    }

    /// Drops what the kubelet kept about a pod that is gone: its image-pull back-offs
    /// and when its containers began creating.
    fn forget_pod(&self, uid: &str) {
        self.pull_attempts.lock().unwrap_or_else(|p| p.into_inner()).retain(|(pod, _), _| pod != uid);
        self.creating_since.lock().unwrap_or_else(|p| p.into_inner()).remove(uid);
    }

    /// Whether the pod's containers have been "creating" long enough (or since before a restart).
    fn created(&self, uid: &str) -> bool {
        let mut map = self.creating_since.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(uid) {
            Some(at) if at.elapsed() < CREATE_DELAY => false,
            _ => {
                map.remove(uid);
                true
            }
        }
    }

    /// The pod with its IP: the one it has, else the next free one of its node (the
    /// pod's sandbox, and its address, come before any of its containers).
    fn with_ip(&self, rest: &Rest, pod: &Value) -> Value {
        let mut next = pod.clone();
        if pod["status"]["podIP"].as_str().is_none_or(str::is_empty) {
            let ip = self.pod_ip(rest, pod["spec"]["nodeName"].as_str().unwrap_or_default());
            next["status"]["podIP"] = json!(ip);
            next["status"]["podIPs"] = json!([{"ip": ip}]);
        }
        next
    }

    /// The next free address in the node's podCIDR (a /24), continuing after the
    /// highest one its pods already have.
    fn pod_ip(&self, rest: &Rest, node: &str) -> String {
        let nodes = rest.catalogue.find("", "v1", "nodes");
        let cidr = nodes
            .and_then(|info| rest.get(&info, None, node).ok())
            .and_then(|n| n["spec"]["podCIDR"].as_str().map(str::to_string))
            .unwrap_or_else(|| "10.244.0.0/24".into());
        let prefix = cidr.split('/').next().unwrap_or_default().rsplit_once('.').map(|(p, _)| p.to_string()).unwrap_or_default();
        let mut last = self.last_ip.lock().unwrap_or_else(|p| p.into_inner());
        let n = last.entry(node.to_string()).or_insert_with(|| {
            let (on_node, _) = rest.store.list(&pods(), None, None, |e| e.index.field("spec.nodeName") == Some(node));
            on_node.iter().filter_map(|e| e.index.field("status.podIP").and_then(|ip| ip.rsplit('.').next()).and_then(|h| h.parse().ok())).max().unwrap_or(1)
        });
        *n = if *n >= 254 { 2 } else { *n + 1 };
        format!("{prefix}.{n}")
    }
}

fn pods() -> ResourceKey {
    ResourceKey::new("", "pods")
}

/// Names of the nodes that exist, whose kubelet this is.
pub(crate) fn node_names(rest: &Rest) -> Vec<String> {
    rest.store.list(&ResourceKey::new("", "nodes"), None, None, |_| true).0.iter().map(|e| e.index.name.clone()).collect()
}

impl Controller for Kubelet {
    fn keys_for(&self, _rest: &Rest, change: &Change) -> Vec<ObjectRef> {
        let index = &change.entry.index;
        if change.resource == pods() && change.kind == EventType::Deleted {
            // A pod gone for good: its processes stop (if a forced deletion left any),
            // its probes and back-offs and its logs go.
            if command::any() {
                command::forget_pod(&index.uid);
            }
            probes::forget_pod(&index.uid);
            self.backoffs.forget_pod(&index.uid);
            self.forget_pod(&index.uid);
        }
        let on_node = index.field("spec.nodeName").is_some_and(|n| !n.is_empty());
        if change.resource == pods() && change.kind != EventType::Deleted && on_node {
            vec![ObjectRef::new(pods(), &index.namespace, &index.name)]
        } else {
            Vec::new()
        }
    }

    fn all_keys(&self, rest: &Rest) -> Vec<ObjectRef> {
        if command::any() {
            // Deletions missed while behind the change feed.
            let (all, _) = rest.store.list(&pods(), None, None, |_| true);
            command::retain_pods(&all.iter().map(|e| e.index.uid.clone()).collect::<HashSet<String>>());
        }
        let nodes = node_names(rest);
        let (bound, _) = rest.store.list(&pods(), None, None, |e| {
            e.index.field("spec.nodeName").is_some_and(|n| nodes.iter().any(|x| x == n))
                && !matches!(e.index.field("status.phase"), Some("Succeeded" | "Failed"))
        });
        bound.iter().map(|e| ObjectRef::new(pods(), &e.index.namespace, &e.index.name)).collect()
    }

    fn wakeups(&self) -> Option<mpsc::UnboundedReceiver<ObjectRef>> {
        self.wakeups.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn reconcile(&self, rest: &Rest, key: &ObjectRef) -> Option<Duration> {
        let next = self.reconcile_pod(rest, key);
        // A real process whose container stopped otherwise (evicted, say) stops too.
        if command::any_running()
            && let Some(info) = rest.catalogue.find("", "v1", "pods")
            && let Ok(pod) = rest.get(&info, Some(&key.namespace), &key.name)
            && !objects::is_deleting(&pod)
        {
            command::stop_unless_running(&pod);
        }
        next
    }
}

impl Kubelet {
    fn reconcile_pod(&self, rest: &Rest, key: &ObjectRef) -> Option<Duration> {
        let info = rest.catalogue.find("", "v1", "pods")?;
        let pod = rest.get(&info, Some(&key.namespace), &key.name).ok()?;
        let node = pod["spec"]["nodeName"].as_str().unwrap_or_default().to_string();
        if node.is_empty() || !node_names(rest).contains(&node) {
            return None;
        }
        let source = Source { component: "kubelet", host: Some(&node) };
        if objects::is_deleting(&pod) {
            return terminate(rest, &info, &pod, &source);
        }
        if objects::is_pod_terminal(&pod) {
            return None;
        }
        let uid = pod["metadata"]["uid"].as_str().unwrap_or_default().to_string();
        if pod["status"]["containerStatuses"].as_array().is_none_or(|s| s.is_empty()) {
            self.creating_since.lock().unwrap_or_else(|p| p.into_inner()).insert(uid, Instant::now());
            create_containers(rest, &info, &pod, &node);
            return Some(CREATE_DELAY);
        }
        let deadline_check = deadline_when_due(rest, &info, &pod, &source);
        let pod = rest.get(&info, Some(&key.namespace), &key.name).ok()?;
        if objects::is_pod_terminal(&pod) {
            return None;
        }
        // Init containers first, each to completion; the main containers wait.
        let pod = if init::initializing(&pod) {
            if !self.created(&uid) {
                return Some(CREATE_DELAY);
            }
            match self.init_step(rest, &info, &pod, &source) {
                init::Step::Wait(next) => return [next, deadline_check].into_iter().flatten().min(),
                init::Step::Done => rest.get(&info, Some(&key.namespace), &key.name).ok()?,
            }
        } else {
            pod
        };
        let statuses = pod["status"]["containerStatuses"].as_array();
        let mut retry = None;
        if statuses.is_some_and(|s| s.iter().any(waiting_to_start)) {
            if !self.created(&uid) {
                return Some(CREATE_DELAY);
            }
            retry = self.try_start(rest, &info, &pod, &source);
        }
        let pod = rest.get(&info, Some(&key.namespace), &key.name).ok()?;
        let eviction_check = if pod["status"]["phase"] == "Running" { evict_when_due(rest, &info, &pod, &source) } else { None };
        let pod = rest.get(&info, Some(&key.namespace), &key.name).ok()?;
        if objects::is_pod_terminal(&pod) {
            return None;
        }
        let exit_check = self.exits_and_restarts(rest, &info, &pod, &source);
        let pod = rest.get(&info, Some(&key.namespace), &key.name).ok()?;
        let readiness_check = update_readiness(rest, &info, &pod, &source);
        [retry, eviction_check, deadline_check, exit_check, readiness_check].into_iter().flatten().min()
    }
}

fn containers(pod: &Value, list: &str) -> Vec<Value> {
    pod["spec"][list].as_array().cloned().unwrap_or_default()
}

fn create_containers(rest: &Rest, info: &ResourceInfo, pod: &Value, node: &str) {
    let mut next = pod.clone();
    let now = time::now();
    let node_ip = node_ip(rest, node);
    let status = &mut next["status"];
    status["phase"] = json!("Pending");
    status["hostIP"] = json!(node_ip);
    status["hostIPs"] = json!([{"ip": node_ip}]);
    status["startTime"] = json!(now);
    status["qosClass"] = json!(crate::rest::strategy::qos_class(pod));
    let inits = containers(pod, "initContainers");
    // With init containers, everything waits PodInitializing until they ran.
    let reason = if inits.is_empty() { "ContainerCreating" } else { "PodInitializing" };
    next["status"]["containerStatuses"] = Value::Array(containers(pod, "containers").iter().map(|c| init::waiting(c, reason)).collect());
    objects::set_condition(&mut next, "PodReadyToStartContainers", "False", "", "");
    if inits.is_empty() {
        objects::set_condition(&mut next, "Initialized", "True", "", "");
    } else {
        next["status"]["initContainerStatuses"] = Value::Array(inits.iter().map(|c| init::waiting(c, reason)).collect());
        let names: Vec<&str> = inits.iter().filter_map(|c| c["name"].as_str()).collect();
        let message = format!("containers with incomplete status: [{}]", names.join(" "));
        objects::set_condition(&mut next, "Initialized", "False", "ContainersNotInitialized", &message);
    }
    objects::set_condition(&mut next, "Ready", "False", "ContainersNotReady", &not_ready_message(pod));
    objects::set_condition(&mut next, "ContainersReady", "False", "ContainersNotReady", &not_ready_message(pod));
    objects::set_condition(&mut next, "PodScheduled", "True", "", "");
    objects::write_status(rest, info, pod, next);
}

/// Waiting states a container leaves once what blocked it is fixed.
fn waiting_to_start(status: &Value) -> bool {
    matches!(status["state"]["waiting"]["reason"].as_str(), Some("ContainerCreating" | "ErrImagePull" | "ImagePullBackOff" | "CreateContainerConfigError"))
}

/// How often a pod blocked on a missing volume source, image or config is looked at again.
const RETRY: Duration = Duration::from_secs(2);

/// Whether an image is declared unpullable: the pod says so, or its registry is in
/// the reserved `.invalid` domain.
fn unpullable(pod: &Value, image: &str) -> bool {
    matches!(pod["metadata"]["annotations"]["sandbox.kdeck.dev/image-pull"].as_str(), Some("fail" | "unauthorized"))
        || image.split('/').next().is_some_and(|host| image.contains('/') && host.ends_with(".invalid"))
}

/// Why the runtime could not pull: the registry refused (declared `image-pull:
/// unauthorized`, as a private registry answers a pull without credentials), else
/// the reference was not found — in containerd's words.
fn pull_failure(pod: &Value, image: &str) -> String {
    let registry = image.split('/').next().filter(|h| image.contains('/') && h.contains('.')).unwrap_or("registry-1.docker.io");
    match pod["metadata"]["annotations"]["sandbox.kdeck.dev/image-pull"].as_str() {
        Some("unauthorized") => format!(
            "rpc error: code = Unknown desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": failed to authorize: failed to fetch anonymous token: unexpected status from GET request to https://{registry}/token: 401 Unauthorized"
        ),
        _ => format!(
            "rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": {image}: not found"
        ),
    }
}

impl Kubelet {
    /// Mounts volumes, pulls images and creates containers, as far as each can go:
    /// a missing volume source keeps the pod ContainerCreating (`FailedMount`), an
    /// unpullable image gives ErrImagePull then ImagePullBackOff, a missing
    /// ConfigMap/Secret reference CreateContainerConfigError. Returns when to retry.
    fn try_start(&self, rest: &Rest, info: &ResourceInfo, pod: &Value, source: &Source) -> Option<Duration> {
        for volume in pod["spec"]["volumes"].as_array().into_iter().flatten() {
            if let Some(missing) = env::missing_volume_source(rest, pod, volume) {
                let message = format!("MountVolume.SetUp failed for volume \"{}\" : {missing}", volume["name"].as_str().unwrap_or_default());
                events::warning(rest, pod, source, "FailedMount", &message);
                return Some(RETRY);
            }
        }
        let mut next = self.with_ip(rest, pod);
        let specs = containers(pod, "containers");
        let mut statuses: Vec<Value> = pod["status"]["containerStatuses"].as_array().cloned().unwrap_or_default();
        let mut retry = None;
        let mut started = Vec::new();
        // Created and Started (or Failed) of the containers started, recorded once written.
        let mut created = restart::Pending::default();
        // Opted-in containers whose command the sandbox does not run (no --run-commands).
        let mut not_run: Vec<String> = Vec::new();
        for status in statuses.iter_mut().filter(|s| waiting_to_start(s)) {
            let Some(spec) = specs.iter().find(|c| c["name"] == status["name"]) else { continue };
            let name = spec["name"].as_str().unwrap_or_default().to_string();
            let image = spec["image"].as_str().unwrap_or_default().to_string();
            let first_try = status["state"]["waiting"]["reason"] == "ContainerCreating";
            if unpullable(pod, &image) {
                // Pull attempts follow a back-off; between them the state holds.
                if let Some(wait) = self.pull_wait(pod, &name) {
                    retry = Some(wait);
                    continue;
                }
                let (reason, message) = if status["state"]["waiting"]["reason"] != "ContainerCreating" {
                    events::normal(rest, pod, source, "BackOff", &format!("Back-off pulling image \"{image}\""));
                    ("ImagePullBackOff", format!("Back-off pulling image \"{image}\""))
                } else {
                    let why = pull_failure(pod, &image);
                    events::normal(rest, pod, source, "Pulling", &format!("Pulling image \"{image}\""));
                    events::warning(rest, pod, source, "Failed", &format!("Failed to pull image \"{image}\": {why}"));
                    ("ErrImagePull", why)
                };
                events::warning(rest, pod, source, "Failed", &format!("Error: {reason}"));
                status["state"] = json!({"waiting": {"reason": reason, "message": message}});
                retry = Some(RETRY);
                continue;
            }
            if first_try {
                events::normal(rest, pod, source, "Pulling", &format!("Pulling image \"{image}\""));
                events::normal(
                    rest,
                    pod,
                    source,
                    "Pulled",
                    &format!("Successfully pulled image \"{image}\" in 120ms (120ms including waiting). Image size: 0 bytes."),
                );
            }
            if let Err(e) = env::resolve(rest, pod, spec) {
                events::warning(rest, pod, source, "Failed", &format!("Error: {e}"));
                status["state"] = json!({"waiting": {"reason": "CreateContainerConfigError", "message": e.to_string()}});
                retry = Some(RETRY);
                continue;
            }
            if command::argv(pod, &name).is_none() && command::declared_argv(pod, &name).is_some() {
                not_run.push(name.clone());
            }
            status["imageID"] = json!(format!("docker.io/library/{image}"));
            // A real container's process starts now (with the pod's IP in its view).
            if let Some(after) = self.start_run(rest, &next, status, &mut created) {
                retry = Some(retry.map_or(after, |r: Duration| r.min(after)));
            }
            started.push(name);
        }
        let phase = restart::pod_phase(pod, &statuses);
        next["status"]["phase"] = json!(phase);
        next["status"]["containerStatuses"] = Value::Array(statuses);
        if matches!(phase, "Succeeded" | "Failed") {
            // Every container ended as it started (a command that cannot start, never restarted).
            objects::set_condition(&mut next, "ContainersReady", "False", "PodFailed", "");
            objects::set_condition(&mut next, "Ready", "False", "PodFailed", "");
        }
        objects::set_condition(&mut next, "PodReadyToStartContainers", "True", "", "");
        objects::write_status(rest, info, pod, next);
        created.record(rest, pod, source);
        for name in not_run {
            let message = format!(
                "container {name} asks to run its command ({}), but this sandbox runs no commands: it is simulated; start the sandbox with --run-commands to run it",
                command::ANNOTATION
            );
            events::warning(rest, pod, source, "RunCommandDisabled", &message);
        }
        retry
    }
}

/// Marks running containers ready: simulated ones once their readiness probe's
/// initial delay passed (unless it is declared to fail), real ones as their
/// probes say ([`probes::results`]); containers that do not run are not ready.
/// Returns when to look again.
fn update_readiness(rest: &Rest, info: &ResourceInfo, pod: &Value, source: &Source) -> Option<Duration> {
    if objects::is_pod_terminal(pod) {
        return None;
    }
    let readiness_fails = Behaviour::of(pod).readiness_fails;
    let mut unhealthy = false;
    let specs = containers(pod, "containers");
    let mut statuses: Vec<Value> = pod["status"]["containerStatuses"].as_array().cloned().unwrap_or_default();
    let mut wait: Option<Duration> = None;
    for status in &mut statuses {
        let Some(started) = status["state"]["running"]["startedAt"].as_str() else {
            status["ready"] = json!(false);
            continue;
        };
        let name = status["name"].as_str().unwrap_or_default().to_string();
        if command::is_real(pod, status) {
            // Its probes' workers wake the kubelet when their results change.
            let results = probes::results(pod, &name, status["restartCount"].as_i64().unwrap_or(0));
            status["started"] = json!(results.started);
            status["ready"] = json!(results.ready);
            continue;
        }
        let spec = specs.iter().find(|c| c["name"] == status["name"]);
        let delay = Duration::from_secs(spec.and_then(|c| c["readinessProbe"]["initialDelaySeconds"].as_u64()).unwrap_or(0));
        let elapsed = elapsed_since(started);
        let probed = spec.is_some_and(|c| c["readinessProbe"].is_object());
        if probed && readiness_fails && elapsed >= delay {
            // Checked again every periodSeconds, as the kubelet probes.
            let period = Duration::from_secs(spec.and_then(|c| c["readinessProbe"]["periodSeconds"].as_u64()).unwrap_or(10).max(1));
            unhealthy = true;
            status["ready"] = json!(false);
            wait = Some(wait.map_or(period, |w| w.min(period)));
        } else if elapsed >= delay {
            status["ready"] = json!(true);
        } else {
            wait = Some(wait.map_or(delay - elapsed, |w| w.min(delay - elapsed)));
        }
    }
    let all_ready = !statuses.is_empty() && statuses.iter().all(|s| s["ready"] == true);
    let mut next = pod.clone();
    next["status"]["containerStatuses"] = Value::Array(statuses);
    if all_ready {
        objects::set_condition(&mut next, "ContainersReady", "True", "", "");
        objects::set_condition(&mut next, "Ready", "True", "", "");
    } else {
        objects::set_condition(&mut next, "ContainersReady", "False", "ContainersNotReady", &not_ready_message(pod));
        objects::set_condition(&mut next, "Ready", "False", "ContainersNotReady", &not_ready_message(pod));
    }
    objects::write_status(rest, info, pod, next);
    if unhealthy {
        events::warning(rest, pod, source, "Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503");
    }
    wait
}

/// Graceful termination: stops the running containers (`Killing`), lets them take
/// their declared `termination-seconds` (default: they exit at once on SIGTERM,
/// within the grace period either way), then deletes the pod for good.
fn terminate(rest: &Rest, info: &ResourceInfo, pod: &Value, source: &Source) -> Option<Duration> {
    let grace = Duration::from_secs(pod["metadata"]["deletionGracePeriodSeconds"].as_u64().unwrap_or(0));
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
    let now = time::now();
    let mut next = pod.clone();
    let mut killing = Vec::new();
    // Containers whose real process got SIGTERM and has not exited yet.
    let mut still_stopping = false;
    if let Some(statuses) = next["status"]["containerStatuses"].as_array_mut() {
        for status in statuses.iter_mut().filter(|s| s["state"]["running"].is_object()) {
            let name = status["name"].as_str().unwrap_or_default().to_string();
            let mut exit = command::Exit { code: 0, reason: "Completed", message: None };
            if command::is_real(pod, status) {
                // A real process stops on SIGTERM (SIGKILL after the grace period) and
                // the container ends with its exit code.
                match command::stop(uid, &name, status["restartCount"].as_i64().unwrap_or(0), grace) {
                    command::Stopping::Stopping { first } => {
                        if first {
                            killing.push(name);
                        }
                        still_stopping = true;
                        continue;
                    }
                    command::Stopping::Exited { exit: exited, signalled } => {
                        if !signalled {
                            killing.push(name);
                        }
                        exit = exited;
                    }
                    command::Stopping::Unknown => killing.push(name),
                }
            } else {
                killing.push(name);
            }
            let started = status["state"]["running"]["startedAt"].clone();
            let mut terminated = json!({"exitCode": exit.code, "reason": exit.reason, "startedAt": started, "finishedAt": now});
            if let Some(message) = exit.message {
                terminated["message"] = json!(message);
            }
            status["state"] = json!({"terminated": terminated});
            status["ready"] = json!(false);
            status["started"] = json!(false);
        }
    }
    if next != *pod || !killing.is_empty() {
        objects::set_condition(&mut next, "Ready", "False", "PodCompleted", "");
        objects::set_condition(&mut next, "ContainersReady", "False", "PodCompleted", "");
        objects::write_status(rest, info, pod, next);
        for name in killing {
            events::normal(rest, pod, source, "Killing", &format!("Stopping container {name}"));
        }
    }
    if still_stopping {
        // The process's exit wakes the kubelet; the SIGKILL comes with the grace period's end.
        return Some(grace.max(Duration::from_secs(1)));
    }
    let takes = pod["metadata"]["annotations"]["sandbox.kdeck.dev/termination-seconds"]
        .as_str()
        .and_then(|t| t.parse::<f64>().ok())
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_millis(100))
        .min(grace);
    let stopping_for = pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["state"]["terminated"]["finishedAt"].as_str())
        .map(elapsed_since)
        .min()
        // Nothing was running (waiting to start, or in back-off): nothing to wait for.
        .unwrap_or(takes);
    if stopping_for < takes {
        return Some(takes - stopping_for);
    }
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    if rest.delete(info, Some(ns), name, &crate::rest::DeleteOptions { grace_period: Some(0), ..Default::default() }).is_ok() {
        // The pod's emptyDirs go with it; claims keep their data.
        let _ = exec::volumes::remove_pod_volumes(&exec::data_dir(), pod["metadata"]["uid"].as_str().unwrap_or_default());
    }
    None
}

/// Evicts the pod once its declared time is up, as the kubelet does under node
/// memory pressure. Returns when to look again, or None when there is nothing due.
fn evict_when_due(rest: &Rest, info: &ResourceInfo, pod: &Value, source: &Source) -> Option<Duration> {
    let after = Behaviour::of(pod).evict_after?;
    let started = pod["status"]["startTime"].as_str().map(elapsed_since).unwrap_or_default();
    if started < after {
        return Some(after - started);
    }
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let message = format!(
        "The node was low on resource: memory. Threshold quantity: 100Mi, available: 52Mi. Container {} was using 812Mi, request is 0, has larger consumption of memory.",
        containers(pod, "containers").first().and_then(|c| c["name"].as_str()).unwrap_or(name)
    );
    fail_pod(rest, info, pod, source, "Evicted", &message, &unknown_end(), true);
    None
}

/// Ends a pod past its `activeDeadlineSeconds` (counted from its start), as the
/// kubelet does: its containers killed, phase Failed with reason `DeadlineExceeded`.
fn deadline_when_due(rest: &Rest, info: &ResourceInfo, pod: &Value, source: &Source) -> Option<Duration> {
    let deadline = Duration::from_secs(pod["spec"]["activeDeadlineSeconds"].as_u64()?);
    let started = pod["status"]["startTime"].as_str().map(elapsed_since)?;
    if started < deadline {
        return Some(deadline - started);
    }
    let killed = json!({"exitCode": 137, "reason": "Error"});
    fail_pod(rest, info, pod, source, "DeadlineExceeded", "Pod was active on the node longer than the specified deadline", &killed, false);
    None
}

/// How the kubelet ends a container whose state it cannot know as its pod ends.
fn unknown_end() -> Value {
    json!({"exitCode": 137, "reason": "ContainerStatusUnknown", "message": "The container could not be located when the pod was terminated"})
}

/// Fails a pod for `reason` (with its warning event): its running containers end
/// as `terminated` says (start and finish times added), the others as the kubelet
/// ends containers it cannot account for; with `disruption`, the
/// `DisruptionTarget` condition an eviction sets.
#[allow(clippy::too_many_arguments)]
fn fail_pod(rest: &Rest, info: &ResourceInfo, pod: &Value, source: &Source, reason: &str, message: &str, terminated: &Value, disruption: bool) {
    let mut next = pod.clone();
    let now = time::now();
    next["status"]["phase"] = json!("Failed");
    next["status"]["reason"] = json!(reason);
    next["status"]["message"] = json!(message);
    let statuses: Vec<Value> = pod["status"]["containerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|mut s| {
            if s["state"]["terminated"].is_object() {
                return s;
            }
            // A container that never ran ends as the kubelet ends it in a terminal pod.
            let mut ended = if s["state"]["running"].is_object() { terminated.clone() } else { unknown_end() };
            ended["startedAt"] = s["state"]["running"]["startedAt"].clone();
            ended["finishedAt"] = json!(now);
            s["ready"] = json!(false);
            s["started"] = json!(false);
            s["state"] = json!({"terminated": ended});
            s
        })
        .collect();
    next["status"]["containerStatuses"] = Value::Array(statuses);
    if disruption {
        objects::set_condition(&mut next, "DisruptionTarget", "True", "TerminationByKubelet", message);
    }
    objects::set_condition(&mut next, "Ready", "False", "PodFailed", "");
    objects::set_condition(&mut next, "ContainersReady", "False", "PodFailed", "");
    objects::write_status(rest, info, pod, next);
    events::warning(rest, pod, source, reason, message);
}

/// Time since an RFC 3339 timestamp (zero when absent or in the future).
fn elapsed_since(timestamp: &str) -> Duration {
    let Some(at) = time::parse_rfc3339_nanos(timestamp) else { return Duration::ZERO };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i128).unwrap_or(0);
    Duration::from_nanos(u64::try_from((now - at).max(0)).unwrap_or(0))
}

fn not_ready_message(pod: &Value) -> String {
    let all = containers(pod, "containers");
    let names: Vec<&str> = all.iter().filter_map(|c| c["name"].as_str()).collect();
    format!("containers with unready status: [{}]", names.join(" "))
}

fn node_ip(rest: &Rest, node: &str) -> String {
    let Some(info) = rest.catalogue.find("", "v1", "nodes") else { return String::new() };
    rest.get(&info, None, node)
        .ok()
        .and_then(|n| n["status"]["addresses"].as_array()?.iter().find(|a| a["type"] == "InternalIP").and_then(|a| a["address"].as_str().map(str::to_string)))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deleted_pods_pull_back_offs_are_forgotten() {
        let kubelet = Kubelet::default();
        let (pod, other) = (serde_json::json!({"metadata": {"uid": "u1"}}), serde_json::json!({"metadata": {"uid": "u2"}}));
        assert!(kubelet.pull_wait(&pod, "app").is_none(), "the first pull is tried at once");
        assert!(kubelet.pull_wait(&pod, "app").is_some(), "the next waits out the back-off");
        kubelet.pull_wait(&other, "app");
        kubelet.forget_pod("u1");
        let kept = kubelet.pull_attempts.lock().unwrap();
        assert_eq!(kept.keys().map(|(uid, _)| uid.as_str()).collect::<Vec<_>>(), ["u2"]);
    }
}
