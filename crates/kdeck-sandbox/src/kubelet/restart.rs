//! How a running container's run ends and when the next one begins, as the
//! kubelet's runtime manager decides it.
//!
//! A run ends when its real process exits ([`command`]), when its declared run
//! time is over (simulated containers, [`Behaviour`]), or when the kubelet kills
//! it for a failed liveness or startup probe ([`probes`]: `Killing … failed
//! liveness probe, will be restarted`, SIGTERM, SIGKILL after the probe's or the
//! pod's grace period). The ended run becomes `lastState.terminated` (exit code,
//! reason, start and finish) when the restart policy restarts it — `Always`
//! always, `OnFailure` after a non-zero exit or a probe kill, `Never` never — and
//! `state.terminated` otherwise; the pod ends once no container will run again.
//!
//! A restart waits its back-off in `CrashLoopBackOff` (a `BackOff` warning event,
//! the message `back-off 40s restarting failed container=…`): the base (10 s, or
//! the `backoff-seconds` annotation) doubling with each restart up to 5 minutes,
//! and back to the base once a run lasted more than 10 minutes (twice the
//! maximum), as the kubelet's back-off entries expire. Like the kubelet's, the
//! back-off is kept in memory ([`Backoffs`]); after a sandbox restart it is
//! derived from the restart count. A run that could not start (`StartError`, a
//! binary that does not exist) shows `RunContainerError` with the runtime's
//! message and a `Failed` event for half its back-off (10 s at most, until the
//! kubelet's next look), then `CrashLoopBackOff`. A real container whose
//! process was lost with a sandbox restart starts again at once, as after a node
//! reboot. When the back-off is over the container starts again (`Pulled`,
//! `Created`, `Started`; `restartCount` is the run's number) and a real
//! container's process and probes with it ([`Kubelet::start_run`]).
//!
//! One difference from the kubelet remains: it restarts a container the first
//! time without waiting; here every restart waits its back-off.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::behaviour::Behaviour;
use super::command::{self, Exit};
use super::{Kubelet, elapsed_since, probes};
use crate::controllers::events::{self, Source};
use crate::controllers::objects;
use crate::resources::ResourceInfo;
use crate::rest::Rest;
use crate::time;

/// The longest back-off, as the kubelet's.
const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// A run longer than this resets the back-off (the kubelet's entries expire after twice the maximum).
const STABLE_RUN: Duration = Duration::from_secs(600);
/// How long a failed start shows `RunContainerError` before `CrashLoopBackOff`, at
/// most: until the kubelet's next look at the pod (its error back-off is 10 s).
const RUN_ERROR_SHOWN: Duration = Duration::from_secs(10);

/// How long a failed start shows `RunContainerError`: half its back-off, at most 10 s.
fn run_error_shown(backoff: Duration) -> Duration {
    (backoff / 2).min(RUN_ERROR_SHOWN)
}

/// The current back-off of each container that restarted: (pod uid, container) →
/// (delay, when it began; timestamps in the status only have whole seconds).
#[derive(Default)]
pub struct Backoffs {
    delays: Mutex<HashMap<(String, String), (Duration, Instant)>>,
}

/// The back-off before restart number `restarts` (1 for the first) when nothing
/// better is known: the base doubling per restart, up to the maximum.
pub fn derived_backoff(base: Duration, restarts: i64) -> Duration {
    let doublings = u32::try_from(restarts.saturating_sub(1).clamp(0, 16)).unwrap_or(16);
    base.saturating_mul(2u32.saturating_pow(doublings)).min(MAX_BACKOFF)
}

/// The next back-off after a run that lasted `ran`: the base after a stable run
/// or the first time, else twice the previous one (up to the maximum); without a
/// previous one known, derived from the restart count.
fn next_backoff(previous: Option<Duration>, base: Duration, ran: Duration, restarts: i64) -> Duration {
    if ran > STABLE_RUN {
        return base.min(MAX_BACKOFF);
    }
    match previous {
        Some(previous) if !previous.is_zero() => previous.saturating_mul(2).min(MAX_BACKOFF),
        _ => derived_backoff(base, restarts),
    }
}

impl Backoffs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), (Duration, Instant)>> {
        self.delays.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves the container's back-off on for restart number `restarts` after a
    /// run that lasted `ran`; it begins now.
    pub(super) fn next(&self, uid: &str, container: &str, base: Duration, ran: Duration, restarts: i64) -> Duration {
        let key = (uid.to_string(), container.to_string());
        let mut delays = self.lock();
        let delay = next_backoff(delays.get(&key).map(|(d, _)| *d), base, ran, restarts);
        delays.insert(key, (delay, Instant::now()));
        delay
    }

    /// The back-off the container waits now and how long it has waited: as
    /// recorded, else derived from the restart count and the last run's finish.
    pub(super) fn current(&self, uid: &str, container: &str, base: Duration, restarts: i64, finished: Option<&str>) -> (Duration, Duration) {
        match self.lock().get(&(uid.to_string(), container.to_string())) {
            Some((delay, since)) => (*delay, since.elapsed()),
            None => (derived_backoff(base, restarts), finished.map(elapsed_since).unwrap_or_default()),
        }
    }

    pub fn forget_pod(&self, uid: &str) {
        self.lock().retain(|(u, _), _| u != uid);
    }
}

/// `5m0s`, `40s`, `2.5s`, `200ms`: a duration as Go prints it (the kubelet's back-off message).
pub(super) fn go_duration(d: Duration) -> String {
    let millis = d.as_millis();
    if millis < 1000 {
        return format!("{millis}ms");
    }
    let whole = d.as_secs();
    let fraction = d.subsec_millis();
    let seconds = if fraction == 0 { format!("{}s", whole % 60) } else { format!("{}.{}s", whole % 60, format!("{fraction:03}").trim_end_matches('0')) };
    match (whole / 3600, whole / 60 % 60) {
        (0, 0) => seconds,
        (0, m) => format!("{m}m{seconds}"),
        (h, m) => format!("{h}h{m}m{seconds}"),
    }
}

/// Events to record once the status is written: (normal?, reason, message).
#[derive(Default)]
pub(super) struct Pending(Vec<(bool, &'static str, String)>);

impl Pending {
    pub(super) fn normal(&mut self, reason: &'static str, message: String) {
        self.0.push((true, reason, message));
    }

    pub(super) fn warning(&mut self, reason: &'static str, message: String) {
        self.0.push((false, reason, message));
    }

    pub(super) fn record(self, rest: &Rest, pod: &Value, source: &Source) {
        for (normal, reason, message) in self.0 {
            if normal {
                events::normal(rest, pod, source, reason, &message);
            } else {
                events::warning(rest, pod, source, reason, &message);
            }
        }
    }
}

/// The earliest of the checks asked for.
#[derive(Default)]
struct Due(Option<Duration>);

impl Due {
    fn at(&mut self, d: Duration) {
        self.0 = Some(self.0.map_or(d, |n| n.min(d)));
    }
}

/// `name_namespace(uid)`, as the kubelet names a pod in its messages.
pub(super) fn pod_ref(pod: &Value) -> String {
    let meta = &pod["metadata"];
    format!("{}_{}({})", meta["name"].as_str().unwrap_or_default(), meta["namespace"].as_str().unwrap_or_default(), meta["uid"].as_str().unwrap_or_default())
}

fn uid_of(pod: &Value) -> &str {
    pod["metadata"]["uid"].as_str().unwrap_or_default()
}

/// The grace period of a kill for a failed probe: the probe's own, else the pod's.
fn probe_grace(pod: &Value, container: &str, kind: probes::Kind) -> Duration {
    let spec = pod["spec"]["containers"].as_array().into_iter().flatten().find(|c| c["name"] == container);
    let own = spec.and_then(|c| c[kind.field()]["terminationGracePeriodSeconds"].as_u64());
    Duration::from_secs(own.or(pod["spec"]["terminationGracePeriodSeconds"].as_u64()).unwrap_or(30))
}

/// The pod's phase from its containers' states, as the kubelet works it out: Pending
/// while one waits to be created; Running while one runs, or while they are all
/// stopped and will restart; Succeeded or Failed once they are all stopped for good.
pub(super) fn pod_phase(pod: &Value, statuses: &[Value]) -> &'static str {
    let (mut running, mut stopped, mut succeeded, mut waiting) = (0, 0, 0, 0);
    for status in statuses {
        let state = &status["state"];
        if state["running"].is_object() {
            running += 1;
        } else if state["terminated"].is_object() {
            stopped += 1;
            if state["terminated"]["exitCode"] == 0 {
                succeeded += 1;
            }
        } else if status["lastState"]["terminated"].is_object() {
            // Waiting to restart after a run.
            stopped += 1;
        } else {
            waiting += 1;
        }
    }
    let policy = pod["spec"]["restartPolicy"].as_str().unwrap_or("Always");
    match () {
        _ if waiting > 0 || statuses.is_empty() => "Pending",
        _ if running > 0 => "Running",
        _ if policy == "Always" => "Running",
        _ if stopped == succeeded => "Succeeded",
        _ if policy == "Never" => "Failed",
        _ => "Running",
    }
}

impl Kubelet {
    /// Starts run `run` of container `name` (its status is `status`): for a
    /// container whose command really runs, its process and its probe workers.
    /// On success the status is Running and `Created`/`Started` are recorded; a
    /// process that cannot start ends the run at once ([`Self::end_run`]). `pod`
    /// is the pod as it is about to be written (its IP assigned). Returns when
    /// to look again, if the start failed.
    pub(super) fn start_run(&self, rest: &Rest, pod: &Value, status: &mut Value, events: &mut Pending) -> Option<Duration> {
        let name = status["name"].as_str().unwrap_or_default().to_string();
        let run = status["restartCount"].as_i64().unwrap_or(0);
        let now = time::now();
        status["containerID"] = json!(command::container_id(pod, &name));
        events.normal("Created", format!("Created container: {name}"));
        if command::argv(pod, &name).is_some() {
            if let Err(exit) = command::start(rest, pod, &name, run, &self.wake) {
                let message = exit.message.clone().unwrap_or_default();
                events.warning("Failed", format!("Error: {message}"));
                status["state"] = json!({"running": {"startedAt": now}});
                return self.end_run(pod, status, &exit, None, events);
            }
            probes::watch(rest, pod, &name, run, &self.wake);
        }
        status["state"] = json!({"running": {"startedAt": now}});
        // A startup probe decides when a real container has started.
        status["started"] = json!(!probes::has_startup_probe(pod, &name) || command::argv(pod, &name).is_none());
        events.normal("Started", format!("Started container {name}"));
        None
    }

    /// Ends the running container `status` with `exit`: terminated for good, or
    /// waiting for its restart as the restart policy says (`killed_by`: the probe
    /// whose failure killed it). Returns when its restart is due.
    fn end_run(&self, pod: &Value, status: &mut Value, exit: &Exit, killed_by: Option<probes::Kind>, events: &mut Pending) -> Option<Duration> {
        let name = status["name"].as_str().unwrap_or_default().to_string();
        let behaviour = Behaviour::of(pod);
        let policy = pod["spec"]["restartPolicy"].as_str().unwrap_or("Always");
        let started = status["state"]["running"]["startedAt"].clone();
        let ran = started.as_str().map(elapsed_since).unwrap_or_default();
        let mut terminated =
            json!({"exitCode": exit.code, "reason": exit.reason, "startedAt": started, "finishedAt": time::now(), "containerID": status["containerID"]});
        if let Some(message) = &exit.message {
            terminated["message"] = json!(message);
        }
        status["ready"] = json!(false);
        status["started"] = json!(false);
        // As the restart policy says of how the run ended (a simulated run ends with
        // its declared exit, or with what a known tool's run came to: see `certgen`).
        let restart = match policy {
            "Never" => false,
            "OnFailure" => exit.code != 0 || killed_by.is_some(),
            _ => true,
        };
        if !restart {
            status["state"] = json!({"terminated": terminated});
            return None;
        }
        let run = status["restartCount"].as_i64().unwrap_or(0);
        let restarts = run + 1;
        let lost = exit.reason == Exit::lost().reason;
        let backoff = if lost { Duration::ZERO } else { self.backoffs.next(uid_of(pod), &name, behaviour.backoff_base, ran, restarts) };
        status["restartCount"] = json!(restarts);
        status["lastState"] = json!({"terminated": terminated});
        if exit.reason == "StartError" {
            let message = exit.message.clone().unwrap_or_default();
            status["state"] = json!({"waiting": {"reason": "RunContainerError", "message": message}});
            return Some(run_error_shown(backoff));
        }
        if backoff.is_zero() {
            status["state"] = json!({"waiting": {"reason": "ContainerStatusUnknown"}});
            return Some(Duration::ZERO);
        }
        self.back_off(pod, status, backoff, events);
        Some(backoff)
    }

    /// Shows the container in `CrashLoopBackOff` for `backoff`, with the `BackOff` event.
    fn back_off(&self, pod: &Value, status: &mut Value, backoff: Duration, events: &mut Pending) {
        let name = status["name"].as_str().unwrap_or_default().to_string();
        let pod_ref = pod_ref(pod);
        let message = format!("back-off {} restarting failed container={name} pod={pod_ref}", go_duration(backoff));
        status["state"] = json!({"waiting": {"reason": "CrashLoopBackOff", "message": message}});
        events.warning("BackOff", format!("Back-off restarting failed container {name} in pod {pod_ref}"));
    }

    /// Ends containers whose run is over (their process exited, their declared run
    /// time passed, a probe failed), restarts them after their back-off when the
    /// restart policy says so, and finishes the pod when none will run again.
    /// Returns when the next exit or restart is due.
    pub(super) fn exits_and_restarts(&self, rest: &Rest, info: &ResourceInfo, pod: &Value, source: &Source) -> Option<Duration> {
        let behaviour = Behaviour::in_effect(rest, pod);
        let uid = uid_of(pod).to_string();
        let mut statuses: Vec<Value> = pod["status"]["containerStatuses"].as_array().cloned().unwrap_or_default();
        let mut due = Due::default();
        let mut events = Pending::default();
        for status in &mut statuses {
            let name = status["name"].as_str().unwrap_or_default().to_string();
            let run = status["restartCount"].as_i64().unwrap_or(0);
            if let Some(started) = status["state"]["running"]["startedAt"].as_str().map(str::to_string) {
                let real = command::is_real(pod, status);
                let mut killed_by = None;
                let exit = if real {
                    match command::poll(&uid, &name, run) {
                        command::State::Running => {
                            if let Some(kind) = probes::failed(&uid, &name, run) {
                                let grace = probe_grace(pod, &name, kind);
                                if command::stop(&uid, &name, run, grace) == (command::Stopping::Stopping { first: true }) {
                                    let restarts = pod["spec"]["restartPolicy"].as_str() != Some("Never");
                                    let then = if restarts { ", will be restarted" } else { "" };
                                    events.normal("Killing", format!("Container {name} failed {} probe{then}", kind.word()));
                                }
                            }
                            // Its exit wakes the kubelet; this is only a safety net.
                            due.at(Duration::from_secs(10));
                            continue;
                        }
                        command::State::Exited(exit) => {
                            killed_by = probes::failed(&uid, &name, run);
                            exit
                        }
                        command::State::Lost => Exit::lost(),
                    }
                } else {
                    let Some(run_for) = behaviour.run_for else { continue };
                    let elapsed = elapsed_since(&started);
                    if elapsed < run_for {
                        due.at(run_for - elapsed);
                        continue;
                    }
                    if behaviour.liveness_kill {
                        events.warning("Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500".to_string());
                        events.normal("Killing", format!("Container {name} failed liveness probe, will be restarted"));
                    }
                    let declared = Exit { code: behaviour.exit_code, reason: behaviour.reason, message: behaviour.crash_log.clone() };
                    // A known tool's run changes the cluster as it exits (kube-webhook-certgen).
                    match (declared.code, super::certgen::run(rest, pod, &name)) {
                        (0, Some(Err(fatal))) => Exit { code: 1, reason: "Error", message: Some(fatal) },
                        _ => declared,
                    }
                };
                probes::forget_run(&uid, &name, run);
                if let Some(next) = self.end_run(pod, status, &exit, killed_by, &mut events) {
                    due.at(next);
                }
            }
            if let Some(reason) = status["state"]["waiting"]["reason"].as_str().map(str::to_string)
                && matches!(reason.as_str(), "CrashLoopBackOff" | "RunContainerError" | "ContainerStatusUnknown")
            {
                let run = status["restartCount"].as_i64().unwrap_or(0);
                let (backoff, waited) = if reason == "ContainerStatusUnknown" {
                    (Duration::ZERO, Duration::ZERO)
                } else {
                    let finished = status["lastState"]["terminated"]["finishedAt"].as_str();
                    self.backoffs.current(&uid, &name, behaviour.backoff_base, run, finished)
                };
                if waited < backoff {
                    if reason == "RunContainerError" {
                        let shown = run_error_shown(backoff);
                        if waited < shown {
                            due.at(shown - waited);
                            continue;
                        }
                        self.back_off(pod, status, backoff, &mut events);
                    }
                    due.at(backoff - waited);
                    continue;
                }
                events.normal("Pulled", format!("Container image \"{}\" already present on machine", status["image"].as_str().unwrap_or_default()));
                match self.start_run(rest, pod, status, &mut events) {
                    Some(next) => due.at(next),
                    None => due.at(behaviour.run_for.unwrap_or(Duration::from_secs(1))),
                }
            }
        }
        let mut next = pod.clone();
        let phase = pod_phase(pod, &statuses);
        next["status"]["phase"] = json!(phase);
        next["status"]["containerStatuses"] = Value::Array(statuses);
        if matches!(phase, "Succeeded" | "Failed") {
            let reason = if phase == "Succeeded" { "PodCompleted" } else { "PodFailed" };
            objects::set_condition(&mut next, "ContainersReady", "False", reason, "");
            objects::set_condition(&mut next, "Ready", "False", reason, "");
        }
        objects::write_status(rest, info, pod, next);
        events.record(rest, pod, source);
        due.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn the_backoff_doubles_to_five_minutes_and_resets_after_ten_minutes_of_running() {
        let base = S(10);
        let mut previous = None;
        let mut seen = Vec::new();
        for restarts in 1..=7 {
            let next = next_backoff(previous, base, S(3), restarts);
            seen.push(next.as_secs());
            previous = Some(next);
        }
        assert_eq!(seen, vec![10, 20, 40, 80, 160, 300, 300]);
        // A run of more than ten minutes: back to the base.
        assert_eq!(next_backoff(previous, base, S(601), 8), base);
        // Exactly ten minutes is not yet stable, as the kubelet's `>`.
        assert_eq!(next_backoff(previous, base, S(600), 8), S(300));
        // Unknown (a restarted sandbox): derived from the restart count.
        assert_eq!(next_backoff(None, base, S(1), 3), S(40));
        assert_eq!(next_backoff(None, Duration::from_millis(200), S(0), 1), Duration::from_millis(200));
    }

    #[test]
    fn backoffs_are_kept_per_container_and_forgotten_with_the_pod() {
        let backoffs = Backoffs::default();
        assert_eq!(backoffs.next("u", "c", S(10), S(1), 1), S(10));
        assert_eq!(backoffs.next("u", "c", S(10), S(1), 2), S(20));
        let (delay, waited) = backoffs.current("u", "c", S(10), 2, None);
        assert_eq!(delay, S(20));
        assert!(waited < S(5));
        assert_eq!(backoffs.next("u", "other", S(10), S(1), 5), S(160));
        backoffs.forget_pod("u");
        assert_eq!(backoffs.current("u", "c", S(10), 2, None), (S(20), Duration::ZERO), "derived again");
        assert_eq!(backoffs.current("u", "c", S(10), 1, None).0, S(10));
    }

    #[test]
    fn the_phase_follows_the_containers_as_the_kubelet_works_it_out() {
        let pod = |policy: &str| json!({"spec": {"restartPolicy": policy}});
        let running = json!({"state": {"running": {}}});
        let creating = json!({"state": {"waiting": {"reason": "ContainerCreating"}}});
        let backing_off = json!({"state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": {"terminated": {"exitCode": 1}}});
        let done = json!({"state": {"terminated": {"exitCode": 0}}});
        let failed = json!({"state": {"terminated": {"exitCode": 2}}});
        assert_eq!(pod_phase(&pod("Always"), &[running.clone(), creating.clone()]), "Pending");
        assert_eq!(pod_phase(&pod("Always"), std::slice::from_ref(&backing_off)), "Running");
        assert_eq!(pod_phase(&pod("OnFailure"), &[backing_off.clone(), done.clone()]), "Running");
        assert_eq!(pod_phase(&pod("Never"), &[done.clone(), done.clone()]), "Succeeded");
        assert_eq!(pod_phase(&pod("Never"), &[done.clone(), failed.clone()]), "Failed");
        assert_eq!(pod_phase(&pod("Never"), &[running, failed]), "Running");
        assert_eq!(pod_phase(&pod("Never"), &[]), "Pending");
    }

    #[test]
    fn durations_print_as_go_prints_them() {
        assert_eq!(go_duration(S(10)), "10s");
        assert_eq!(go_duration(S(80)), "1m20s");
        assert_eq!(go_duration(S(300)), "5m0s");
        assert_eq!(go_duration(Duration::from_millis(200)), "200ms");
        assert_eq!(go_duration(Duration::from_millis(1600)), "1.6s");
        assert_eq!(go_duration(S(3725)), "1h2m5s");
    }
}
