//! `exec`: where the sandbox runs real processes. Main containers stay
//! simulated; an exec runs exactly the argv the client sent (never through a
//! shell, never anything a manifest says) as a local process confined to the pod
//! ([`confine`]): its own user, PID, mount, UTS and IPC namespaces; the pod's
//! user and capabilities as its securityContext says ([`security`], mapped to
//! unprivileged host ids by [`userns`]); a root filesystem of its own
//! ([`view`]) with the container's volumes at their paths ([`volumes`],
//! [`files`]); the container's environment ([`crate::kubelet::env`] plus what a
//! runtime adds). [`process`] starts it with pipes or a pseudo-terminal.
//!
//! The one other real process is a container's own command in a pod that opts in
//! with `sandbox.kdeck.dev/run-command` ([`crate::kubelet::command`]): it is
//! prepared by the same [`prepare_process`] and started by the same [`process::start`].

pub(crate) mod child;
pub mod confine;
pub mod files;
mod ops;
pub mod process;
pub mod security;
pub mod userns;
mod view;
pub mod volumes;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use crate::kubelet::logs;
use crate::network::netns::{self, PodNetwork};
use crate::rest::{ApiError, Rest};
use security::Security;

/// Where volumes live when the server has not said (see [`set_data_dir`]).
static DATA_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Tells exec where the sandbox keeps its data; volumes go under `<dir>/volumes`.
/// The first call wins: one sandbox serves per process.
pub fn set_data_dir(dir: PathBuf) {
    let _ = DATA_DIR.set(dir);
}

/// The sandbox's data directory, or a private per-user directory under the
/// system's temporary directory when the server did not set one.
pub fn data_dir() -> PathBuf {
    DATA_DIR.get().cloned().unwrap_or_else(|| {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let uid = unsafe { libc::geteuid() };
        std::env::temp_dir().join(format!("kdeck-sandbox-exec-{uid}"))
    })
}

/// What the client asked to run and which streams it wants.
#[derive(Clone, Debug, Default)]
pub struct ExecRequest {
    pub command: Vec<String>,
    pub container: Option<String>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

/// Everything needed to start the process, resolved from the pod while it is read.
#[derive(Debug)]
pub struct Prepared {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<String>,
    pub hostname: String,
    pub mounts: Vec<volumes::Mount>,
    /// The user, capabilities and root filesystem the securityContext asks for.
    pub security: Security,
    /// Files written into the pod's `/etc`: hostname, passwd, group.
    pub etc: Vec<(String, Vec<u8>)>,
    /// Host files bound read-only onto the pod's `/etc`: the view's `hosts` and
    /// `resolv.conf`, which the sandbox keeps current.
    pub etc_bound: Vec<(String, PathBuf)>,
    /// The pod's network view, joined before anything else is made (kept alive
    /// here while the process starts).
    pub network: Option<Arc<PodNetwork>>,
    /// The host directory that is the container's `/tmp` (None with a read-only root).
    pub tmp: Option<PathBuf>,
    pub tty: bool,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// stderr goes to stdout's pipe, so the two interleave as they were written
    /// (a container's log); `outputs` then has the one channel 1.
    pub merge_stderr: bool,
}

/// Picks the container, checks the pod can be exec'd into, and resolves the
/// environment and volumes. Errors are worded as the apiserver and kubelet word them.
pub fn prepare(rest: &Rest, pod: &Value, request: &ExecRequest) -> Result<Prepared, ApiError> {
    let container_name = logs::container_name(pod, request.container.as_deref().filter(|c| !c.is_empty())).map_err(|e| ApiError::bad_request(e.to_string()))?;
    check_running(pod, &container_name)?;
    if request.command.is_empty() {
        return Err(ApiError::bad_request("you must specify at least 1 command"));
    }
    if !(request.stdin || request.stdout || request.stderr) {
        return Err(ApiError::bad_request("you must specify at least 1 of stdin, stdout, stderr"));
    }
    let container = ["containers", "initContainers"]
        .iter()
        .flat_map(|l| pod["spec"][*l].as_array().into_iter().flatten())
        .find(|c| c["name"] == container_name.as_str())
        .ok_or_else(|| ApiError::bad_request(format!("container {container_name} is not valid for pod {}", name_of(pod))))?;
    let mut prepared = prepare_process(rest, pod, container, request.command.clone(), request.tty)?;
    prepared.stdin = request.stdin;
    prepared.stdout = request.stdout;
    // With a terminal, stderr is the terminal: the client gets one stream.
    prepared.stderr = request.stderr && !request.tty;
    Ok(prepared)
}

/// The confined view `argv` runs in as `container` of `pod`: the container's
/// environment (resolved as the kubelet does, plus what a runtime adds), its
/// user and capabilities, its volumes, its working directory and the pod's
/// hostname. No streams are connected (stdin, stdout and stderr are /dev/null
/// until the caller asks for them).
pub fn prepare_process(rest: &Rest, pod: &Value, container: &Value, argv: Vec<String>, tty: bool) -> Result<Prepared, ApiError> {
    let security = Security::of(pod, container);
    let mapping = userns::Mapping::current();
    mapping.check(security.uid, security.gid, &security.groups).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let hostname = hostname_of(pod).to_string();
    let mut env = crate::kubelet::env::resolve(rest, pod, container).map_err(|e| ApiError::bad_request(e.to_string()))?;
    add_defaults(&mut env, &hostname, security.home(), tty);
    let owners = volumes::Owners { mapping, fs_group: security.fs_group };
    let mounts = volumes::materialize(rest, pod, container, &data_dir(), &owners)?;
    let tmp = if security.read_only_root { None } else { Some(volumes::container_tmp(&data_dir(), pod, container, &owners)?) };
    // Last: a view made for a pod whose exec fails on something else is still
    // the pod's, kept for its next exec.
    let network = netns::ensure(rest, pod).map_err(ApiError::internal)?;
    let etc = etc_files(&hostname, &security);
    let etc_bound = ["hosts", "resolv.conf"].iter().map(|f| (f.to_string(), network.etc_file(f))).collect();
    Ok(Prepared {
        argv,
        env,
        working_dir: container["workingDir"].as_str().filter(|w| !w.is_empty()).map(str::to_string),
        hostname,
        mounts,
        security,
        etc,
        etc_bound,
        network: Some(network),
        tmp,
        tty,
        stdin: false,
        stdout: false,
        stderr: false,
        merge_stderr: false,
    })
}

/// The pod's hostname: `spec.hostname`, else its name.
fn hostname_of(pod: &Value) -> &str {
    crate::network::hosts::hostname_of(pod)
}

/// What the runtime writes into the pod's `/etc`: `hostname`, `passwd` and
/// `group`. `hosts` and `resolv.conf` are the network view's, bound instead (see
/// [`crate::network::hosts`]).
fn etc_files(hostname: &str, security: &Security) -> Vec<(String, Vec<u8>)> {
    vec![
        ("hostname".to_string(), format!("{hostname}\n").into_bytes()),
        ("passwd".to_string(), security.passwd().into_bytes()),
        ("group".to_string(), security.group().into_bytes()),
    ]
}

/// PATH of most images, for containers whose spec does not set one.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn set(env: &mut Vec<(String, String)>, name: String, value: String) {
    match env.iter_mut().find(|(k, _)| *k == name) {
        Some(slot) => slot.1 = value,
        None => env.push((name, value)),
    }
}

/// What the runtime sets besides the spec: HOSTNAME always, PATH and HOME (the
/// user's home) when the spec does not, TERM with a terminal.
pub fn add_defaults(env: &mut Vec<(String, String)>, hostname: &str, home: &str, tty: bool) {
    let has = |env: &Vec<(String, String)>, k: &str| env.iter().any(|(n, _)| n == k);
    if !has(env, "PATH") {
        env.insert(0, ("PATH".into(), DEFAULT_PATH.into()));
    }
    set(env, "HOSTNAME".into(), hostname.to_string());
    if tty && !has(env, "TERM") {
        env.push(("TERM".into(), "xterm".into()));
    }
    if !has(env, "HOME") {
        env.push(("HOME".into(), home.into()));
    }
}

fn name_of(pod: &Value) -> &str {
    pod["metadata"]["name"].as_str().unwrap_or_default()
}

/// A pod can be exec'd into once it is on a node and the container runs.
fn check_running(pod: &Value, container: &str) -> Result<(), ApiError> {
    let name = name_of(pod);
    if pod["spec"]["nodeName"].as_str().is_none_or(str::is_empty) {
        return Err(ApiError::bad_request(format!("pod {name} does not have a host assigned")));
    }
    let phase = pod["status"]["phase"].as_str().unwrap_or("Pending");
    if matches!(phase, "Succeeded" | "Failed") {
        return Err(ApiError::bad_request(format!("cannot exec into a container in a completed pod; current phase is {phase}")));
    }
    let running = ["containerStatuses", "initContainerStatuses"]
        .iter()
        .flat_map(|l| pod["status"][*l].as_array().into_iter().flatten())
        .find(|s| s["name"] == container)
        .is_some_and(|s| s["state"].get("running").is_some());
    if !running {
        return Err(ApiError::bad_request(format!("container not found (\"{container}\")")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(phase: &str, node: &str, running: bool) -> Value {
        let state = if running { json!({"running": {"startedAt": "2026-01-01T00:00:00Z"}}) } else { json!({"waiting": {"reason": "ContainerCreating"}}) };
        json!({"metadata": {"name": "web"}, "spec": {"nodeName": node, "containers": [{"name": "c"}]},
               "status": {"phase": phase, "containerStatuses": [{"name": "c", "state": state}]}})
    }

    #[test]
    fn only_running_containers_on_a_node_can_be_execd_into() {
        assert!(check_running(&pod("Running", "n1", true), "c").is_ok());
        assert_eq!(check_running(&pod("Pending", "", false), "c").unwrap_err().message, "pod web does not have a host assigned");
        assert_eq!(check_running(&pod("Pending", "n1", false), "c").unwrap_err().message, "container not found (\"c\")");
        assert_eq!(
            check_running(&pod("Succeeded", "n1", false), "c").unwrap_err().message,
            "cannot exec into a container in a completed pod; current phase is Succeeded"
        );
    }
}
