//! How a simulated container behaves, declared with pod (or pod template)
//! annotations. Containers are never run; these say when they "exit" and how:
//!
//! | annotation (`sandbox.kdeck.dev/…`) | meaning |
//! |---|---|
//! | `run-seconds: N` | main containers exit after N seconds (pods with restartPolicy Never/OnFailure default to 1, or N for a `sleep N` command; Always runs forever) |
//! | `exit-code: N` | the exit code then (default 0; non-zero is reason `Error`) |
//! | `crash-log: TEXT` | lines the container prints as it exits (shown by `kubectl logs`, and `--previous` after a restart) |
//! | `oom-after-seconds: N` | killed for memory after N seconds: exit 137, reason `OOMKilled` (also when memory declared to grow reaches the limit, see [`super::usage`]) |
//! | `backoff-seconds: N` | base of the restart back-off (default 10, doubling to 300), as CrashLoopBackOff; on a Job's template, of its pod-replacement back-off (default 10, doubling to 360) |
//! | `readiness-fail: "true"` | containers that define a readinessProbe never pass it: Running, not Ready, `Unhealthy` events |
//! | `liveness-fail-after-seconds: N` | the liveness probe fails after N seconds: `Unhealthy`, the kubelet kills the container (exit 137) and restarts it |
//! | `termination-seconds: N` | how long containers take to stop after SIGTERM when the pod is deleted (default 0.1; never beyond the grace period) |
//! | `evict-after-seconds: N` | the pod is evicted for node memory pressure after N seconds (phase Failed, reason Evicted) |
//! | `crash-when-env: NAME=VALUE` | the declared exit happens only while the container's env NAME is VALUE (from a ConfigMap, say), so fixing the config and restarting fixes the pod |
//! | `run-command: "true"` | in a sandbox started with `--run-commands`, each main and init container (not native sidecars) that has a `command` really runs it (`command` + `args`, no shell added), confined as an exec is, whatever the restartPolicy: its stdout and stderr are the container's log, its exit ends the container and the restart policy restarts it or not; its probes really run (run-seconds, exit-code, crash-log, oom-, readiness- and liveness- annotations do not apply to it; backoff-seconds does); see [`super::command`], [`super::restart`], [`super::probes`] |

use std::time::Duration;

use serde_json::Value;

const PREFIX: &str = "sandbox.kdeck.dev/";

#[derive(Clone, Debug, PartialEq)]
pub struct Behaviour {
    /// When the main containers exit after starting; None runs forever.
    pub run_for: Option<Duration>,
    pub exit_code: i64,
    pub reason: &'static str,
    pub crash_log: Option<String>,
    pub backoff_base: Duration,
    /// (NAME, VALUE): the exit only happens while env NAME has VALUE.
    pub crash_when_env: Option<(String, String)>,
    /// When the pod is evicted after it started, if it is.
    pub evict_after: Option<Duration>,
    /// The exit is the kubelet killing the container for a failed liveness probe.
    pub liveness_kill: bool,
    /// Readiness probes never pass.
    pub readiness_fails: bool,
    /// Main containers with a command really run it ([`runs_command`]).
    pub runs_command: bool,
}

fn annotation<'a>(pod: &'a Value, name: &str) -> Option<&'a str> {
    pod["metadata"]["annotations"][format!("{PREFIX}{name}")].as_str()
}

/// Whether the pod's main containers that have a `command` really run it:
/// `run-command: "true"` (whatever the restartPolicy).
pub fn runs_command(pod: &Value) -> bool {
    annotation(pod, "run-command").is_some_and(|v| v.trim() == "true")
}

/// The value of an annotation that may name containers: `VALUE` for every
/// container, or `app=VALUE,sidecar=VALUE` (a container not named has none).
pub fn for_container<'a>(text: &'a str, container: &str) -> Option<&'a str> {
    let text = text.trim();
    if !text.contains('=') {
        return Some(text);
    }
    text.split(',').filter_map(|part| part.split_once('=')).find(|(c, _)| c.trim() == container).map(|(_, v)| v.trim())
}

fn seconds(pod: &Value, name: &str) -> Option<Duration> {
    annotation(pod, name).and_then(|v| v.trim().parse::<f64>().ok()).filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64)
}

impl Behaviour {
    pub fn of(pod: &Value) -> Self {
        let runs_to_completion = matches!(pod["spec"]["restartPolicy"].as_str(), Some("Never" | "OnFailure"));
        let declared_exit = annotation(pod, "exit-code").and_then(|v| v.trim().parse::<i64>().ok()).unwrap_or(0);
        // How the main containers end, if they do: (after, exit code, reason, killed by a liveness probe).
        let oom_after = seconds(pod, "oom-after-seconds").or_else(|| super::usage::oom_after(pod));
        let (run_for, exit_code, reason, liveness_kill) = if let Some(after) = oom_after {
            (Some(after), 137, "OOMKilled", false)
        } else if let Some(after) = seconds(pod, "liveness-fail-after-seconds") {
            (Some(after), 137, "Error", true)
        } else {
            let run_for = seconds(pod, "run-seconds").or(runs_to_completion.then(|| sleep_command(pod).unwrap_or(Duration::from_secs(1))));
            (run_for, declared_exit, if declared_exit == 0 { "Completed" } else { "Error" }, false)
        };
        Behaviour {
            run_for,
            exit_code,
            reason,
            crash_log: annotation(pod, "crash-log").map(str::to_string),
            backoff_base: seconds(pod, "backoff-seconds").unwrap_or(Duration::from_secs(10)),
            crash_when_env: annotation(pod, "crash-when-env").and_then(|c| c.split_once('=')).map(|(n, v)| (n.trim().to_string(), v.to_string())),
            evict_after: seconds(pod, "evict-after-seconds"),
            liveness_kill,
            readiness_fails: annotation(pod, "readiness-fail") == Some("true"),
            runs_command: runs_command(pod),
        }
    }

    /// The behaviour as it plays out now: a crash declared to depend on
    /// configuration (`crash-when-env`) happens only while that configuration holds.
    pub fn in_effect(rest: &crate::rest::Rest, pod: &Value) -> Self {
        let mut behaviour = Self::of(pod);
        if let Some((var, value)) = behaviour.crash_when_env.clone() {
            let first = pod["spec"]["containers"][0].clone();
            let env = super::env::resolve(rest, pod, &first).unwrap_or_default();
            if !env.iter().any(|(n, v)| *n == var && *v == value) {
                behaviour.run_for = None;
            }
        }
        behaviour
    }

    /// The wait before restart number `restarts` (1 for the first), doubling to 5 minutes.
    pub fn backoff(&self, restarts: i64) -> Duration {
        let factor = 2u32.saturating_pow(u32::try_from(restarts.saturating_sub(1).clamp(0, 16)).unwrap_or(16));
        (self.backoff_base * factor).min(Duration::from_secs(300))
    }
}

/// A first container whose command is `sleep N` (as a helper or debug pod's is)
/// runs N seconds, as it would on a node.
fn sleep_command(pod: &Value) -> Option<Duration> {
    let container = &pod["spec"]["containers"][0];
    let words: Vec<&str> =
        container["command"].as_array()?.iter().chain(container["args"].as_array().into_iter().flatten()).filter_map(Value::as_str).collect();
    match words.as_slice() {
        ["sleep", n] => n.parse::<f64>().ok().filter(|n| n.is_finite() && *n >= 0.0).map(Duration::from_secs_f64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_sleep_command_runs_that_long() {
        let pod = serde_json::json!({"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "command": ["sleep", "30"]}]}});
        assert_eq!(super::sleep_command(&pod), Some(Duration::from_secs(30)));
        let args = serde_json::json!({"spec": {"containers": [{"name": "c", "command": ["sleep"], "args": ["2.5"]}]}});
        assert_eq!(super::sleep_command(&args), Some(Duration::from_millis(2500)));
        assert_eq!(super::sleep_command(&serde_json::json!({"spec": {"containers": [{"name": "c", "command": ["sh", "-c", "sleep 3"]}]}})), None);
    }

    use super::*;
    use serde_json::json;

    #[test]
    fn declared_and_default_behaviours() {
        let service = json!({"spec": {"restartPolicy": "Always"}});
        assert_eq!(Behaviour::of(&service).run_for, None);
        let job = json!({"spec": {"restartPolicy": "Never"}});
        assert_eq!(Behaviour::of(&job).run_for, Some(Duration::from_secs(1)));
        let crash = json!({"metadata": {"annotations": {"sandbox.kdeck.dev/run-seconds": "2", "sandbox.kdeck.dev/exit-code": "3"}}, "spec": {}});
        let b = Behaviour::of(&crash);
        assert_eq!((b.run_for, b.exit_code, b.reason), (Some(Duration::from_secs(2)), 3, "Error"));
        assert_eq!((b.backoff(1), b.backoff(2), b.backoff(10)), (Duration::from_secs(10), Duration::from_secs(20), Duration::from_secs(300)));
        let oom = json!({"metadata": {"annotations": {"sandbox.kdeck.dev/oom-after-seconds": "0.5"}}, "spec": {}});
        assert_eq!((Behaviour::of(&oom).exit_code, Behaviour::of(&oom).reason), (137, "OOMKilled"));
    }

    #[test]
    fn pods_that_opt_in_run_their_command_whatever_their_restart_policy() {
        let pod = |policy: &str, value: &str| json!({"metadata": {"annotations": {"sandbox.kdeck.dev/run-command": value}}, "spec": {"restartPolicy": policy}});
        assert!(Behaviour::of(&pod("Never", "true")).runs_command);
        assert!(runs_command(&pod("OnFailure", "true")));
        assert!(runs_command(&pod("Always", "true")));
        assert!(!runs_command(&pod("Never", "false")));
        assert!(!runs_command(&json!({"spec": {"restartPolicy": "Never"}})));
    }
}
