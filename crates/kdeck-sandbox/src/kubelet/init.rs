//! Init containers, as the kubelet runs them: in order, each to completion
//! before the next and before the main containers, which wait `PodInitializing`.
//! A native sidecar (an init container with `restartPolicy: Always`) starts in
//! its turn and keeps running beside the main containers. While they run the pod
//! is `Pending`, `Initialized` is `False` (`ContainersNotInitialized`), and
//! `kubectl get` shows `Init:N/M`.
//!
//! In a pod that opts in to real runs (`run-command`, in a sandbox started with
//! `--run-commands`), an init container with a `command` runs it as a main
//! container does ([`super::command`]): it completes when its process exits 0, and
//! its output is its log. Otherwise, and for native sidecars, init containers are
//! simulated, and how they end is declared on the pod (prefix `sandbox.kdeck.dev/`):
//!
//! | annotation | meaning |
//! |---|---|
//! | `init-run-seconds: N` | how long each init container runs (default 0.5; or per container: `migrate=3,seed=1`) |
//! | `init-exit-code: N` | its exit code (default 0); non-zero fails it: `Init:Error`, then with restartPolicy Always or OnFailure a restart after the back-off (`Init:CrashLoopBackOff`), with Never the pod fails. Per container: `migrate=1` |
//! | `init-crash-log: TEXT` | what a failing init container prints as it exits (its log) |
//!
//! An image that does not pull and a missing ConfigMap or Secret hold an init
//! container as they hold a main one (`Init:ErrImagePull`,
//! `Init:CreateContainerConfigError`).

use std::time::Duration;

use serde_json::{Value, json};

use super::behaviour::{Behaviour, for_container};
use super::restart::{Pending, go_duration, pod_ref};
use super::{Kubelet, RETRY, containers, elapsed_since, env, unpullable};
use crate::controllers::events::Source;
use crate::controllers::objects;
use crate::resources::ResourceInfo;
use crate::rest::Rest;
use crate::time;

/// Where a pod's initialization is.
pub(super) enum Step {
    /// Every init container completed (sidecars started): the main containers go on.
    Done,
    /// Still initializing (or failed for good); look again after this long.
    Wait(Option<Duration>),
}

/// Whether the pod has init containers that have not all completed.
pub(super) fn initializing(pod: &Value) -> bool {
    !containers(pod, "initContainers").is_empty() && objects::condition(pod, "Initialized").is_none_or(|c| c["status"] != "True")
}

/// What the pod declares of its init container `name`: (run time, exit code).
fn declared(pod: &Value, name: &str) -> (Duration, i64) {
    let annotation = |key: &str| pod["metadata"]["annotations"][format!("sandbox.kdeck.dev/{key}")].as_str().and_then(|t| for_container(t, name));
    let run = annotation("init-run-seconds").and_then(|v| v.parse::<f64>().ok()).filter(|s| s.is_finite() && *s >= 0.0).unwrap_or(0.5);
    let code = annotation("init-exit-code").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    (Duration::from_secs_f64(run), code)
}

/// The status the kubelet writes for a container not yet started.
pub(super) fn waiting(container: &Value, reason: &str) -> Value {
    json!({"name": container["name"], "image": container["image"], "imageID": "", "ready": false, "restartCount": 0, "started": false, "state": {"waiting": {"reason": reason}}})
}

fn is_sidecar(spec: &Value) -> bool {
    spec["restartPolicy"] == "Always"
}

impl Kubelet {
    /// Takes the pod's initialization one step further (see the module).
    pub(super) fn init_step(&self, rest: &Rest, info: &ResourceInfo, stored: &Value, source: &Source) -> Step {
        // The pod has its address before any container runs.
        let pod = &self.with_ip(rest, stored);
        // Volumes are mounted before any container starts.
        for volume in pod["spec"]["volumes"].as_array().into_iter().flatten() {
            if let Some(missing) = env::missing_volume_source(rest, pod, volume) {
                let message = format!("MountVolume.SetUp failed for volume \"{}\" : {missing}", volume["name"].as_str().unwrap_or_default());
                crate::controllers::events::warning(rest, pod, source, "FailedMount", &message);
                return Step::Wait(Some(RETRY));
            }
        }
        let specs = containers(pod, "initContainers");
        let mut statuses: Vec<Value> = pod["status"]["initContainerStatuses"].as_array().cloned().unwrap_or_default();
        if statuses.len() != specs.len() {
            statuses = specs.iter().map(|c| waiting(c, "PodInitializing")).collect();
        }
        let uid = pod["metadata"]["uid"].as_str().unwrap_or_default().to_string();
        let policy = pod["spec"]["restartPolicy"].as_str().unwrap_or("Always");
        let backoff_base = Behaviour::of(pod).backoff_base;
        let crash_log = pod["metadata"]["annotations"]["sandbox.kdeck.dev/init-crash-log"].as_str().map(str::to_string);
        let mut events = Pending::default();
        let mut wait: Option<Duration> = None;
        let mut pod_failed = false;
        let mut done = true;
        for (spec, status) in specs.iter().zip(statuses.iter_mut()) {
            let name = spec["name"].as_str().unwrap_or_default().to_string();
            let image = spec["image"].as_str().unwrap_or_default().to_string();
            let (run_for, exit_code) = declared(pod, &name);
            let state = status["state"].clone();
            if is_sidecar(spec) && state["running"].is_object() {
                continue;
            }
            if state["terminated"]["exitCode"] == 0 && !is_sidecar(spec) {
                continue;
            }
            done = false;
            let run = status["restartCount"].as_i64().unwrap_or(0);
            if let Some(started) = state["running"]["startedAt"].as_str() {
                let elapsed = elapsed_since(started);
                // How the run ended: its process's exit, or what the pod declares.
                let ended = if super::command::is_real(pod, status) {
                    match super::command::poll(&uid, &name, run) {
                        // The process's exit wakes the kubelet.
                        super::command::State::Running => None,
                        super::command::State::Exited(exit) => Some(exit),
                        super::command::State::Lost => Some(super::command::Exit::lost()),
                    }
                } else if elapsed < run_for {
                    wait = Some(run_for - elapsed);
                    None
                } else {
                    let reason = if exit_code == 0 { "Completed" } else { "Error" };
                    Some(super::command::Exit { code: exit_code, reason, message: (exit_code != 0).then(|| crash_log.clone()).flatten() })
                };
                let Some(exit) = ended else { break };
                let exit_code = exit.code;
                let mut terminated = json!({"exitCode": exit_code, "reason": exit.reason, "startedAt": started, "finishedAt": time::now(), "containerID": status["containerID"]});
                if let Some(message) = &exit.message {
                    terminated["message"] = json!(message);
                }
                status["ready"] = json!(exit_code == 0);
                status["started"] = json!(false);
                if exit_code == 0 {
                    status["state"] = json!({"terminated": terminated});
                    done = true;
                    continue;
                }
                if policy == "Never" {
                    status["state"] = json!({"terminated": terminated});
                    pod_failed = true;
                    break;
                }
                // Restarted after the back-off, as a main container is.
                let restarts = status["restartCount"].as_i64().unwrap_or(0) + 1;
                let backoff = self.backoffs.next(&uid, &name, backoff_base, elapsed, restarts);
                status["restartCount"] = json!(restarts);
                status["lastState"] = json!({"terminated": terminated});
                let message = format!("back-off {} restarting failed container={name} pod={}", go_duration(backoff), pod_ref(pod));
                status["state"] = json!({"waiting": {"reason": "CrashLoopBackOff", "message": message}});
                events.warning("BackOff", format!("Back-off restarting failed container {name} in pod {}", pod_ref(pod)));
                wait = Some(backoff);
                break;
            }
            // Waiting: after a back-off, a failed pull or missing configuration, or not yet started.
            if state["waiting"]["reason"] == "CrashLoopBackOff" {
                let finished = status["lastState"]["terminated"]["finishedAt"].as_str().map(str::to_string);
                let (backoff, waited) = self.backoffs.current(&uid, &name, backoff_base, status["restartCount"].as_i64().unwrap_or(0), finished.as_deref());
                if waited < backoff {
                    wait = Some(backoff - waited);
                    break;
                }
            }
            if unpullable(pod, &image) {
                if state["waiting"]["reason"] != "ErrImagePull" && state["waiting"]["reason"] != "ImagePullBackOff" {
                    events.normal("Pulling", format!("Pulling image \"{image}\""));
                    events.warning("Failed", format!("Failed to pull image \"{image}\": {}", super::pull_failure(pod, &image)));
                    events.warning("Failed", "Error: ErrImagePull".to_string());
                    status["state"] = json!({"waiting": {"reason": "ErrImagePull", "message": super::pull_failure(pod, &image)}});
                } else {
                    events.normal("BackOff", format!("Back-off pulling image \"{image}\""));
                    status["state"] = json!({"waiting": {"reason": "ImagePullBackOff", "message": format!("Back-off pulling image \"{image}\"")}});
                }
                wait = Some(RETRY);
                break;
            }
            if let Err(e) = env::resolve(rest, pod, spec) {
                events.warning("Failed", format!("Error: {e}"));
                status["state"] = json!({"waiting": {"reason": "CreateContainerConfigError", "message": e.to_string()}});
                wait = Some(RETRY);
                break;
            }
            if status["restartCount"] == 0 {
                events.normal("Pulled", format!("Container image \"{image}\" already present on machine"));
            }
            events.normal("Created", format!("Created container: {name}"));
            events.normal("Started", format!("Started container {name}"));
            status["containerID"] = json!(super::command::container_id(pod, &name));
            status["imageID"] = json!(format!("docker.io/library/{image}"));
            status["state"] = json!({"running": {"startedAt": time::now()}});
            if super::command::argv(pod, &name).is_some() {
                if let Err(exit) = super::command::start(rest, pod, &name, run, &self.wake) {
                    events.warning("Failed", format!("Error: {}", exit.message.clone().unwrap_or_default()));
                }
                // A run that could not start is recorded as exited: the next look ends it.
                status["started"] = json!(true);
                wait = Some(RETRY);
                break;
            }
            if is_sidecar(spec) {
                // Started: the next init container may go.
                status["started"] = json!(true);
                status["ready"] = json!(true);
                done = true;
                continue;
            }
            status["started"] = json!(true);
            wait = Some(run_for);
            break;
        }
        let mut next = pod.clone();
        let incomplete: Vec<String> = specs
            .iter()
            .zip(&statuses)
            .filter(|(spec, s)| if is_sidecar(spec) { !s["state"]["running"].is_object() } else { s["state"]["terminated"]["exitCode"] != 0 })
            .filter_map(|(spec, _)| spec["name"].as_str().map(str::to_string))
            .collect();
        next["status"]["initContainerStatuses"] = Value::Array(statuses);
        let finished = done && incomplete.is_empty();
        if finished {
            objects::set_condition(&mut next, "Initialized", "True", "", "");
            let main: Vec<Value> = next["status"]["containerStatuses"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|mut s| {
                    if s["state"]["waiting"]["reason"] == "PodInitializing" {
                        s["state"] = json!({"waiting": {"reason": "ContainerCreating"}});
                    }
                    s
                })
                .collect();
            next["status"]["containerStatuses"] = Value::Array(main);
        } else {
            let message = format!("containers with incomplete status: [{}]", incomplete.join(" "));
            objects::set_condition(&mut next, "Initialized", "False", "ContainersNotInitialized", &message);
        }
        if pod_failed {
            next["status"]["phase"] = json!("Failed");
            objects::set_condition(&mut next, "ContainersReady", "False", "PodFailed", "");
            objects::set_condition(&mut next, "Ready", "False", "PodFailed", "");
        }
        objects::write_status(rest, info, stored, next);
        events.record(rest, pod, source);
        if finished { Step::Done } else { Step::Wait(wait.or((!pod_failed).then_some(RETRY))) }
    }
}

/// Whether an init container holds the pod for good as far as a settle check is
/// concerned: failed (waiting to restart, or the pod failed), or held by a pull or
/// configuration error.
pub fn held(pod: &Value) -> bool {
    pod["status"]["initContainerStatuses"].as_array().into_iter().flatten().any(|s| {
        s["lastState"]["terminated"].is_object()
            || s["state"]["terminated"]["exitCode"].as_i64().is_some_and(|c| c != 0)
            || matches!(s["state"]["waiting"]["reason"].as_str(), Some("ErrImagePull" | "ImagePullBackOff" | "CreateContainerConfigError" | "CrashLoopBackOff"))
    })
}
