//! Containers whose command really runs: the pod annotation
//! `sandbox.kdeck.dev/run-command: "true"`, in a sandbox started with
//! `--run-commands` ([`set_enabled`]; without it such containers stay simulated
//! and the kubelet says so in a `RunCommandDisabled` event), whatever the pod's
//! restartPolicy: a Job's pod runs to completion, a Deployment's, StatefulSet's or
//! DaemonSet's serves until it is deleted. When the kubelet starts such a pod's main
//! or init container that has a `command` ([`start`], the one place a run begins;
//! native sidecars stay simulated), its
//! `command` + `args` start as a local process, exactly that argv (no shell
//! added), prepared and confined as an exec is ([`super::exec::prepare_process`],
//! [`super::exec::process::start`]): the pod's namespaces, user, root filesystem,
//! environment, volumes, working directory and hostname, stdin /dev/null, no terminal.
//!
//! Its stdout and stderr share one pipe, so they interleave as written; each line
//! becomes the container's log ([`super::logs::Captured`]) as it arrives. When the
//! process exits, the pod's init exits and the kernel kills whatever it left in
//! its PID namespace, the output drains, the exit is recorded and the
//! kubelet is woken to end the container with that exit code (128 + N for a
//! process killed by signal N); the kubelet then restarts it or not, as the
//! restart policy says ([`super::restart`]). A command that cannot be started
//! fails the run at once with reason `StartError` (exit 128), as a runtime reports it.
//!
//! The kubelet stops a process whose container it stops — the pod deleted,
//! evicted, a failed liveness probe — with SIGTERM (passed on to the command by
//! the pod's init), then SIGKILL to the namespace once the grace period is
//! over; a pod that vanishes at once (grace period 0) gets the 2 s the kubelet
//! gives a forced deletion. When the sandbox shuts down, every process is stopped
//! the same way ([`stop_all`]); a container that ran when the sandbox stopped ends
//! after the restart with exit 137, reason `ContainerStatusUnknown`.
//!
//! Containers without a command (the image's entrypoint is unknown) stay simulated.
//! There is no cgroup: resource limits are not enforced.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc::UnboundedSender;

use super::behaviour;
use super::exec::{self, process};
use super::logs::{self, Captured};
use crate::controllers::runtime::ObjectRef;
use crate::resources::ResourceKey;
use crate::rest::Rest;

/// The pod annotation that makes containers run their command.
pub const ANNOTATION: &str = "sandbox.kdeck.dev/run-command";
/// How long output still drains after the main process exited (something that
/// escaped its group may hold the pipe open forever).
const DRAIN: Duration = Duration::from_secs(2);
/// The least grace a stop gives, as the kubelet gives a forced deletion.
const MIN_GRACE: Duration = Duration::from_secs(2);
/// Longest the sandbox waits for processes to exit on SIGTERM when it shuts down.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// A line longer than this is split, as container runtimes split long lines.
const MAX_LINE: usize = 16 * 1024;

/// Whether the sandbox runs opted-in containers' commands (`--run-commands`).
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Lets opted-in containers run their command for real (the sandbox's
/// `--run-commands`); off by default, as any pod spec can opt in.
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::SeqCst);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::SeqCst)
}

/// The argv `container` of `pod` really runs, if it does: the sandbox runs
/// commands, the pod opted in and `container` is a main container with a command.
pub fn argv(pod: &Value, container: &str) -> Option<Vec<String>> {
    if !enabled() {
        return None;
    }
    declared_argv(pod, container)
}

/// The argv `container` of `pod` asks to run, whether or not the sandbox runs it:
/// the pod opted in ([`behaviour::runs_command`]) and `container` is a main or
/// init container with a command (native sidecars stay simulated).
pub fn declared_argv(pod: &Value, container: &str) -> Option<Vec<String>> {
    if !behaviour::runs_command(pod) {
        return None;
    }
    let spec = spec_of(pod, container).filter(|c| c["restartPolicy"] != "Always")?;
    let command = spec["command"].as_array().filter(|c| !c.is_empty())?;
    let word = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
    Some(command.iter().chain(spec["args"].as_array().into_iter().flatten()).map(word).collect())
}

/// The spec of `container` of `pod`, a main or an init container.
fn spec_of<'p>(pod: &'p Value, container: &str) -> Option<&'p Value> {
    ["containers", "initContainers"].iter().flat_map(|list| pod["spec"][*list].as_array().into_iter().flatten()).find(|c| c["name"] == container)
}

/// The scheme of the containerID of a container whose command runs for real, so
/// that a sandbox restarted without `--run-commands` still knows it was a
/// process (and is lost), not a simulation.
const PROCESS_SCHEME: &str = "kdeck-process://";

/// The containerID the kubelet reports for `container` of `pod`.
pub fn container_id(pod: &Value, container: &str) -> String {
    let hash = crate::controllers::events::fnv(&format!("{}{container}", pod["metadata"]["uid"]));
    let scheme = if argv(pod, container).is_some() { PROCESS_SCHEME } else { "kdeck://" };
    format!("{scheme}{hash:016x}")
}

/// Whether the container (its status) runs, or ran, its command as a process.
pub fn is_real(pod: &Value, status: &Value) -> bool {
    let name = status["name"].as_str().unwrap_or_default();
    argv(pod, name).is_some() || status["containerID"].as_str().is_some_and(|id| id.starts_with(PROCESS_SCHEME))
}

/// How a run of a container's command ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Exit {
    pub code: i64,
    pub reason: &'static str,
    pub message: Option<String>,
}

impl Exit {
    fn exited(code: i32) -> Exit {
        Exit { code: i64::from(code), reason: if code == 0 { "Completed" } else { "Error" }, message: None }
    }

    fn start_error(message: String) -> Exit {
        Exit { code: 128, reason: "StartError", message: Some(message) }
    }

    /// A container that ran when the sandbox stopped: its process is gone.
    pub fn lost() -> Exit {
        Exit { code: 137, reason: "ContainerStatusUnknown", message: Some("The container could not be located when the sandbox restarted".into()) }
    }
}

/// What the process side shares with the registry.
struct Shared {
    /// The main process has not exited yet.
    alive: AtomicBool,
    /// Set once the process exited and its output is all in the log.
    exit: Mutex<Option<Exit>>,
}

impl Shared {
    fn exit(&self) -> Option<Exit> {
        self.exit.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The latest run of one container's command.
struct Proc {
    /// The container's restartCount when it started.
    run: i64,
    /// The relay's pid (see [`process::start`]); None when it never started.
    pid: Option<i32>,
    shared: Arc<Shared>,
    /// Whether it was asked to stop (SIGTERM sent).
    stopping: bool,
}

#[derive(Default)]
struct Registry {
    /// (pod uid, container) → its latest run.
    procs: HashMap<(String, String), Proc>,
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(Default::default);

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

fn uid_of(pod: &Value) -> String {
    pod["metadata"]["uid"].as_str().unwrap_or_default().to_string()
}

/// Where a run of a container's command is.
#[derive(Debug, PartialEq)]
pub enum State {
    Running,
    Exited(Exit),
    /// Not known: it ran in a sandbox that has since stopped (or never started).
    Lost,
}

/// The state of run `run` of `container` of the pod with this uid.
pub fn poll(uid: &str, container: &str, run: i64) -> State {
    match registry().procs.get(&(uid.to_string(), container.to_string())) {
        Some(proc) if proc.run == run => proc.shared.exit().map_or(State::Running, State::Exited),
        _ => State::Lost,
    }
}

/// Starts run `run` of `container` of `pod` (the pod as the kubelet is about to
/// write it: its IP assigned): the one place a real run begins. `wake` gets the
/// pod's key when the process exits. Starting a run that already started does
/// nothing more (a status write that failed is retried without a second
/// process). A run that cannot start is recorded as exited with `StartError`,
/// which is also returned.
pub fn start(rest: &Rest, pod: &Value, container: &str, run: i64, wake: &UnboundedSender<ObjectRef>) -> Result<(), Exit> {
    let uid = uid_of(pod);
    match poll(&uid, container, run) {
        State::Running => return Ok(()),
        State::Exited(exit) => return if exit.reason == "StartError" { Err(exit) } else { Ok(()) },
        State::Lost => {}
    }
    match spawn(rest, pod, container, run, wake) {
        Ok(()) => Ok(()),
        Err(exit) => {
            let shared = Arc::new(Shared { alive: AtomicBool::new(false), exit: Mutex::new(Some(exit.clone())) });
            let previous = registry().procs.insert((uid, container.to_string()), Proc { run, pid: None, shared, stopping: false });
            if let Some(previous) = previous {
                signal(&previous, libc::SIGKILL);
            }
            Err(exit)
        }
    }
}

/// Starts the process of run `run` and its supervisor: the pod's view is prepared
/// and the process started here and nowhere else (the hook for anything a real
/// run must join, such as the pod's network view).
fn spawn(rest: &Rest, pod: &Value, container: &str, run: i64, wake: &UnboundedSender<ObjectRef>) -> Result<(), Exit> {
    let failed = |why: String| Exit::start_error(format!("failed to start container \"{container}\": {why}"));
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(failed("no runtime to supervise the process".into()));
    }
    let argv = argv(pod, container).ok_or_else(|| failed("the container has no command".into()))?;
    let spec = spec_of(pod, container).cloned().unwrap_or_default();
    // `$(VAR)` in command and args, from the container's environment, as the kubelet does.
    let env = super::env::resolve(rest, pod, &spec).unwrap_or_default();
    let argv: Vec<String> = argv.iter().map(|word| super::env::expand(word, &env)).collect();
    let mut prepared = exec::prepare_process(rest, pod, &spec, argv, false).map_err(|e| failed(e.message))?;
    prepared.stdout = true;
    prepared.stderr = true;
    prepared.merge_stderr = true;
    let running = process::start(&prepared, &exec::data_dir().join("exec-root")).map_err(|e| failed(e.to_string()))?;
    let uid = uid_of(pod);
    let log = logs::captured(&uid, container, run);
    let pid = running.child.id().and_then(|pid| i32::try_from(pid).ok());
    let shared = Arc::new(Shared { alive: AtomicBool::new(true), exit: Mutex::new(None) });
    let previous = registry().procs.insert((uid.clone(), container.to_string()), Proc { run, pid, shared: shared.clone(), stopping: false });
    if let Some(previous) = previous {
        // An earlier run still going (it should not be) does not outlive its successor.
        signal(&previous, libc::SIGKILL);
    }
    let pod_ref = ObjectRef::new(
        ResourceKey::new("", "pods"),
        pod["metadata"]["namespace"].as_str().unwrap_or_default(),
        pod["metadata"]["name"].as_str().unwrap_or_default(),
    );
    let run_key = (uid, container.to_string(), run);
    tokio::spawn(supervise(running, shared, log, run_key, wake.clone(), pod_ref));
    Ok(())
}

/// Captures the output until the process exits, then records the exit and wakes the kubelet.
async fn supervise(
    running: process::Running,
    shared: Arc<Shared>,
    log: Arc<Captured>,
    (uid, container, run): (String, String, i64),
    wake: UnboundedSender<ObjectRef>,
    pod_ref: ObjectRef,
) {
    let process::Running { mut child, outputs, .. } = running;
    let readers: Vec<_> = outputs.into_iter().map(|(_, reader)| tokio::spawn(capture(reader, log.clone()))).collect();
    // The relay exits once the pod's init did, and with it everything the command started.
    let code = child.wait().await.map_or(1, process::exit_code);
    shared.alive.store(false, Ordering::SeqCst);
    for reader in readers {
        let abort = reader.abort_handle();
        if tokio::time::timeout(DRAIN, reader).await.is_err() {
            abort.abort();
        }
    }
    log.finish();
    let current = registry().procs.get(&(uid.clone(), container.clone())).is_some_and(|p| Arc::ptr_eq(&p.shared, &shared));
    if current {
        // Unless the pod is already gone (its logs with it).
        logs::persist(&uid, &container, run, &log);
    }
    *shared.exit.lock().unwrap_or_else(|p| p.into_inner()) = Some(Exit::exited(code));
    let _ = wake.send(pod_ref);
}

/// Appends what the process writes to its log, line by line.
async fn capture(mut reader: process::Reader, log: Arc<Captured>) {
    let mut buf = vec![0u8; 32 * 1024];
    let mut pending = Vec::new();
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                pending.extend_from_slice(&buf[..n]);
                log.push(split_lines(&mut pending, false));
            }
        }
    }
    log.push(split_lines(&mut pending, true));
}

/// The complete lines at the start of `pending`, taken out of it; at the `end`
/// (or when a line grows too long) the rest too.
fn split_lines(pending: &mut Vec<u8>, end: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let mut start = 0;
    while let Some(i) = pending[start..].iter().position(|b| *b == b'\n') {
        lines.push(String::from_utf8_lossy(&pending[start..start + i]).into_owned());
        start += i + 1;
    }
    pending.drain(..start);
    while pending.len() >= MAX_LINE {
        lines.push(String::from_utf8_lossy(&pending[..MAX_LINE]).into_owned());
        pending.drain(..MAX_LINE);
    }
    if end && !pending.is_empty() {
        lines.push(String::from_utf8_lossy(pending).into_owned());
        pending.clear();
    }
    lines
}

/// Signals the relay: SIGTERM reaches the command through the pod's init,
/// SIGKILL ends the pod's namespace.
fn kill(pid: i32, sig: libc::c_int) {
    if pid > 1 {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Signals the process while it runs.
fn signal(proc: &Proc, sig: libc::c_int) {
    if let Some(pid) = proc.pid
        && proc.shared.alive.load(Ordering::SeqCst)
    {
        kill(pid, sig);
    }
}

/// SIGTERM now, SIGKILL when `grace` is over if it still runs.
fn terminate(proc: &mut Proc, grace: Duration) {
    proc.stopping = true;
    let Some(pid) = proc.pid else { return };
    if !proc.shared.alive.load(Ordering::SeqCst) {
        return;
    }
    kill(pid, libc::SIGTERM);
    let shared = proc.shared.clone();
    let kill = move || {
        if shared.alive.load(Ordering::SeqCst) {
            kill(pid, libc::SIGKILL);
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn(async move {
                tokio::time::sleep(grace).await;
                kill();
            });
        }
        Err(_) => {
            std::thread::spawn(move || {
                std::thread::sleep(grace);
                kill();
            });
        }
    }
}

/// Where a stop asked for by a pod's deletion is.
#[derive(Debug, PartialEq)]
pub enum Stopping {
    /// SIGTERM was sent (`first`: by this call); the process has not exited yet.
    Stopping { first: bool },
    /// It exited (`signalled`: after a stop asked for it).
    Exited { exit: Exit, signalled: bool },
    /// No process of that run is known (never started, or lost with a restart).
    Unknown,
}

/// Stops run `run` of the container (SIGTERM, SIGKILL after `grace`), as the
/// kubelet stops a deleted pod's containers, and tells how far that got.
pub fn stop(uid: &str, container: &str, run: i64, grace: Duration) -> Stopping {
    let mut registry = registry();
    let Some(proc) = registry.procs.get_mut(&(uid.to_string(), container.to_string())).filter(|p| p.run == run) else {
        return Stopping::Unknown;
    };
    if let Some(exit) = proc.shared.exit() {
        return Stopping::Exited { exit, signalled: proc.stopping };
    }
    let first = !proc.stopping;
    if first {
        terminate(proc, grace);
    }
    Stopping::Stopping { first }
}

/// Whether any process or captured log is known at all (a cheap check before a sweep).
pub fn any() -> bool {
    let registry = registry();
    !registry.procs.is_empty() || logs::any_captured()
}

/// Whether any process runs that nobody has asked to stop yet.
pub fn any_running() -> bool {
    registry().procs.values().any(|p| !p.stopping && p.shared.alive.load(Ordering::SeqCst))
}

/// Stops the processes of the pod whose containers no longer run (evicted, say):
/// SIGTERM, then SIGKILL after the pod's terminationGracePeriodSeconds.
pub fn stop_unless_running(pod: &Value) {
    let uid = uid_of(pod);
    let grace = Duration::from_secs(pod["spec"]["terminationGracePeriodSeconds"].as_u64().unwrap_or(30));
    let statuses: Vec<Value> =
        ["initContainerStatuses", "containerStatuses"].iter().flat_map(|list| pod["status"][*list].as_array().cloned().unwrap_or_default()).collect();
    let mut registry = registry();
    for ((u, container), proc) in registry.procs.iter_mut() {
        if *u != uid || proc.stopping {
            continue;
        }
        // Running at this run, or waiting at it: started, its Running status not written yet.
        let runs = statuses.iter().any(|s| {
            s["name"] == container.as_str()
                && s["restartCount"].as_i64().unwrap_or(0) == proc.run
                && (s["state"]["running"].is_object() || s["state"]["waiting"].is_object())
        });
        if !runs {
            terminate(proc, grace);
        }
    }
}

/// Forgets a pod that is gone: its processes are stopped (SIGTERM, SIGKILL after
/// the least grace) and its logs removed.
pub fn forget_pod(uid: &str) {
    let removed: Vec<Proc> = {
        let mut registry = registry();
        let keys: Vec<(String, String)> = registry.procs.keys().filter(|(u, _)| u == uid).cloned().collect();
        keys.iter().filter_map(|k| registry.procs.remove(k)).collect()
    };
    for mut proc in removed {
        // Even one already stopping: a forced deletion cuts its grace short.
        terminate(&mut proc, MIN_GRACE);
    }
    logs::forget_pod(uid);
}

/// Forgets every pod not among `uids` (after the kubelet missed deletions).
pub fn retain_pods(uids: &HashSet<String>) {
    let gone: HashSet<String> = {
        let registry = registry();
        registry.procs.keys().map(|(u, _)| u.clone()).filter(|u| !uids.contains(u)).collect()
    };
    for uid in gone {
        forget_pod(&uid);
    }
    logs::retain_pods(uids);
}

/// Stops every process, as the sandbox shuts down: SIGTERM, up to 5 s to exit,
/// then SIGKILL; returns once their exits and logs are recorded (or a few seconds
/// later at most).
pub async fn stop_all() {
    let running: Vec<Arc<Shared>> = {
        let mut registry = registry();
        registry
            .procs
            .values_mut()
            .filter(|p| p.shared.alive.load(Ordering::SeqCst))
            .map(|p| {
                signal(p, libc::SIGTERM);
                p.stopping = true;
                p.shared.clone()
            })
            .collect()
    };
    if running.is_empty() {
        return;
    }
    wait_for(&running, Instant::now() + SHUTDOWN_GRACE, |s| !s.alive.load(Ordering::SeqCst)).await;
    registry().procs.values().for_each(|p| signal(p, libc::SIGKILL));
    wait_for(&running, Instant::now() + DRAIN + Duration::from_secs(1), |s| s.exit().is_some()).await;
}

async fn wait_for(running: &[Arc<Shared>], until: Instant, done: fn(&Shared) -> bool) {
    while Instant::now() < until && !running.iter().all(|s| done(s)) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_main_containers_with_a_command_of_opted_in_pods_run() {
        let pod = |policy: &str| {
            json!({"metadata": {"annotations": {ANNOTATION: "true"}}, "spec": {"restartPolicy": policy, "containers": [
                {"name": "job", "command": ["sh", "-c"], "args": ["echo $X", "x"]},
                {"name": "sidecar", "image": "envoy"}]}})
        };
        assert_eq!(declared_argv(&pod("Never"), "job"), Some(vec!["sh".to_string(), "-c".into(), "echo $X".into(), "x".into()]));
        assert_eq!(declared_argv(&pod("Never"), "sidecar"), None);
        assert_eq!(declared_argv(&pod("Never"), "missing"), None);
        assert_eq!(declared_argv(&pod("Always"), "job").map(|a| a.len()), Some(4));
    }

    #[test]
    fn output_is_split_into_lines_as_it_arrives() {
        let mut pending = b"one\ntwo\npart".to_vec();
        assert_eq!(split_lines(&mut pending, false), vec!["one", "two"]);
        assert_eq!(pending, b"part");
        pending.extend_from_slice(b"ial\n\nlast");
        assert_eq!(split_lines(&mut pending, false), vec!["partial", ""]);
        assert_eq!(split_lines(&mut pending, true), vec!["last"]);
        assert!(pending.is_empty());
        let mut long = vec![b'x'; MAX_LINE + 3];
        assert_eq!(split_lines(&mut long, false).len(), 1);
        assert_eq!(long.len(), 3);
    }

    #[test]
    fn a_run_nobody_started_is_lost_and_stops_as_unknown() {
        assert_eq!(stop("no-such-uid", "c", 0, Duration::ZERO), Stopping::Unknown);
        assert_eq!(poll("no-such-uid", "c", 0), State::Lost);
    }
}
