//! Probes of containers whose command really runs ([`super::command`]), run for
//! real as the kubelet's prober runs them. (Simulated containers keep their
//! declared probe behaviour: `readiness-fail`, `liveness-fail-after-seconds`.)
//!
//! When such a container's run starts, one worker per probe it declares
//! (startup, readiness, liveness) starts with it ([`watch`]) and lives as long as
//! that run: it probes first `initialDelaySeconds` after the start, then every
//! `periodSeconds`, each attempt bounded by `timeoutSeconds` ([`check`]: an
//! HTTP/1.1 GET or a TCP connect through [`crate::network::dial`], or a command
//! run in the container as an exec is). As in the kubelet, a result counts once
//! it repeats `successThreshold` (readiness) or `failureThreshold` times in a
//! row; until then the previous one holds. Readiness starts failed, liveness
//! passed, startup unknown; readiness and liveness are not probed before the
//! startup probe has passed. Every failed attempt records an `Unhealthy`
//! warning (`Readiness probe failed: HTTP probe failed with statuscode: 503`);
//! an attempt that cannot be made at all (an HTTPS or gRPC probe, which the
//! sandbox does not speak, a named port the container does not have) records
//! `… probe errored: …` and is not counted, as the kubelet throws errors away.
//!
//! A result that changes wakes the kubelet, which reads them back: a container is
//! `started` once its startup probe passed and `ready` once started and its
//! readiness probe passed ([`results`]), so a failing readiness probe takes the
//! pod out of its Services' endpoints; a liveness or startup probe that failed
//! ([`failed`]) makes the kubelet kill the container and restart it
//! ([`super::restart`]). After such a failure the worker stops probing, until the
//! next run's worker starts.

mod check;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;

use crate::controllers::events::{self, Source};
use crate::controllers::runtime::ObjectRef;
use crate::resources::ResourceKey;
use crate::rest::Rest;
use check::Outcome;

/// The three probes a container may declare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Startup,
    Readiness,
    Liveness,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Startup, Kind::Readiness, Kind::Liveness];

    /// The container field that declares it.
    pub fn field(self) -> &'static str {
        match self {
            Kind::Startup => "startupProbe",
            Kind::Readiness => "readinessProbe",
            Kind::Liveness => "livenessProbe",
        }
    }

    /// As the kubelet's messages name it: `failed liveness probe`.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Startup => "startup",
            Kind::Readiness => "readiness",
            Kind::Liveness => "liveness",
        }
    }

    /// As its events begin: `Liveness probe failed: …`.
    fn title(self) -> &'static str {
        match self {
            Kind::Startup => "Startup",
            Kind::Readiness => "Readiness",
            Kind::Liveness => "Liveness",
        }
    }

    /// The result before the first one counts: readiness fails, liveness passes,
    /// startup is unknown.
    fn initial(self) -> Option<bool> {
        match self {
            Kind::Startup => None,
            Kind::Readiness => Some(false),
            Kind::Liveness => Some(true),
        }
    }
}

/// A probe's timing and thresholds, with the API's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    pub initial_delay: Duration,
    pub period: Duration,
    pub timeout: Duration,
    pub success_threshold: u32,
    pub failure_threshold: u32,
}

impl Params {
    pub fn of(probe: &Value, kind: Kind) -> Params {
        let number = |field: &str, default: u64| probe[field].as_u64().unwrap_or(default);
        Params {
            initial_delay: Duration::from_secs(number("initialDelaySeconds", 0)),
            period: Duration::from_secs(number("periodSeconds", 10).max(1)),
            timeout: Duration::from_secs(number("timeoutSeconds", 1).max(1)),
            // Liveness and startup probes must use 1 (the API refuses others).
            success_threshold: if kind == Kind::Readiness { u32::try_from(number("successThreshold", 1).max(1)).unwrap_or(1) } else { 1 },
            failure_threshold: u32::try_from(number("failureThreshold", 3).max(1)).unwrap_or(u32::MAX),
        }
    }
}

/// What a worker found so far.
#[derive(Debug)]
struct Probed {
    /// The result that counts (None: not known yet).
    result: Option<bool>,
    /// The last attempt's outcome and how many times in a row it came.
    last: Option<bool>,
    streak: u32,
}

impl Probed {
    fn new(kind: Kind) -> Self {
        Probed { result: kind.initial(), last: None, streak: 0 }
    }

    /// Counts one attempt's outcome; returns whether the result that counts changed.
    fn count(&mut self, passed: bool, params: &Params) -> bool {
        if self.last == Some(passed) {
            self.streak = self.streak.saturating_add(1);
        } else {
            self.last = Some(passed);
            self.streak = 1;
        }
        let needed = if passed { params.success_threshold } else { params.failure_threshold };
        if self.streak < needed {
            return false;
        }
        let changed = self.result != Some(passed);
        self.result = Some(passed);
        changed
    }
}

struct Worker {
    /// The run (restartCount) it probes.
    run: i64,
    probed: Arc<Mutex<Probed>>,
    task: tokio::task::AbortHandle,
}

/// (pod uid, container, probe) → its worker.
type Key = (String, String, Kind);

static WORKERS: LazyLock<Mutex<HashMap<Key, Worker>>> = LazyLock::new(Default::default);

fn workers() -> MutexGuard<'static, HashMap<Key, Worker>> {
    WORKERS.lock().unwrap_or_else(|p| p.into_inner())
}

fn lock(probed: &Mutex<Probed>) -> MutexGuard<'_, Probed> {
    probed.lock().unwrap_or_else(|p| p.into_inner())
}

fn container_spec<'a>(pod: &'a Value, container: &str) -> Option<&'a Value> {
    pod["spec"]["containers"].as_array()?.iter().find(|c| c["name"] == container)
}

/// Whether the container declares a startup probe.
pub fn has_startup_probe(pod: &Value, container: &str) -> bool {
    container_spec(pod, container).is_some_and(|c| c[Kind::Startup.field()].is_object())
}

/// Starts a worker for each probe run `run` of `container` declares, replacing
/// any of an earlier run. Needs the tokio runtime (the kubelet runs on it).
pub fn watch(rest: &Rest, pod: &Value, container: &str, run: i64, wake: &UnboundedSender<ObjectRef>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    let Some(spec) = container_spec(pod, container) else { return };
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default().to_string();
    let target = Target {
        uid: uid.clone(),
        namespace: pod["metadata"]["namespace"].as_str().unwrap_or_default().to_string(),
        pod: pod["metadata"]["name"].as_str().unwrap_or_default().to_string(),
        container: container.to_string(),
        run,
    };
    let mut workers = workers();
    for kind in Kind::ALL {
        let key = (uid.clone(), container.to_string(), kind);
        if workers.get(&key).is_some_and(|w| w.run == run) {
            continue;
        }
        if let Some(old) = workers.remove(&key) {
            old.task.abort();
        }
        let probe = &spec[kind.field()];
        if !probe.is_object() {
            continue;
        }
        let probed = Arc::new(Mutex::new(Probed::new(kind)));
        let job = work(rest.clone(), target.clone(), kind, probe.clone(), probed.clone(), wake.clone());
        let task = runtime.spawn(job).abort_handle();
        workers.insert(key, Worker { run, probed, task });
    }
}

/// The result that counts of one probe of run `run`, if it has a worker.
fn result_of(uid: &str, container: &str, run: i64, kind: Kind) -> Option<Option<bool>> {
    let workers = workers();
    let worker = workers.get(&(uid.to_string(), container.to_string(), kind)).filter(|w| w.run == run)?;
    Some(lock(&worker.probed).result)
}

/// What the probes of a running real container say of it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Results {
    /// Its startup probe passed (or it has none).
    pub started: bool,
    /// Started, and its readiness probe passed (or it has none).
    pub ready: bool,
}

/// What the probes of run `run` of `container` say (a probe without a worker —
/// none started yet — counts as not passed).
pub fn results(pod: &Value, container: &str, run: i64) -> Results {
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
    let passed = |kind: Kind| {
        let declared = container_spec(pod, container).is_some_and(|c| c[kind.field()].is_object());
        !declared || result_of(uid, container, run, kind).flatten() == Some(true)
    };
    let started = passed(Kind::Startup);
    Results { started, ready: started && passed(Kind::Readiness) }
}

/// The probe whose failure means run `run` of the container is to be killed:
/// its liveness or startup probe failed `failureThreshold` times in a row.
pub fn failed(uid: &str, container: &str, run: i64) -> Option<Kind> {
    [Kind::Liveness, Kind::Startup].into_iter().find(|kind| result_of(uid, container, run, *kind) == Some(Some(false)))
}

/// Stops the workers of run `run` of the container (it ended).
pub fn forget_run(uid: &str, container: &str, run: i64) {
    workers().retain(|(u, c, _), worker| {
        let ended = u == uid && c == container && worker.run <= run;
        if ended {
            worker.task.abort();
        }
        !ended
    });
}

/// Stops every worker of the pod (it is gone).
pub fn forget_pod(uid: &str) {
    workers().retain(|(u, _, _), worker| {
        if u == uid {
            worker.task.abort();
        }
        u != uid
    });
}

/// Which run a worker probes.
#[derive(Clone, Debug)]
struct Target {
    uid: String,
    namespace: String,
    pod: String,
    container: String,
    run: i64,
}

/// Where the probed run is.
enum Now {
    /// Starting: the kubelet has not written it Running yet.
    NotYet,
    /// Running, in this pod.
    Running(Value),
    /// Over (or the pod is gone or going).
    Over,
}

impl Target {
    fn now(&self, rest: &Rest) -> Now {
        let Some(pod) = crate::network::pod(rest, &self.namespace, &self.pod) else { return Now::Over };
        if pod["metadata"]["uid"] != self.uid.as_str() || !pod["metadata"]["deletionTimestamp"].is_null() {
            return Now::Over;
        }
        let Some(status) = pod["status"]["containerStatuses"].as_array().and_then(|s| s.iter().find(|s| s["name"] == self.container.as_str())) else {
            return Now::Over;
        };
        let run = status["restartCount"].as_i64().unwrap_or(0);
        let running = status["state"]["running"].is_object();
        match run.cmp(&self.run) {
            std::cmp::Ordering::Equal if running => Now::Running(pod),
            std::cmp::Ordering::Less => Now::NotYet,
            // Waiting at this run number: its Running status is not written yet.
            std::cmp::Ordering::Equal if status["state"]["waiting"].is_object() => Now::NotYet,
            _ => Now::Over,
        }
    }

    fn key(&self) -> ObjectRef {
        ObjectRef::new(ResourceKey::new("", "pods"), &self.namespace, &self.pod)
    }
}

/// Whether the container may be probed by `kind` yet: readiness and liveness wait
/// for the startup probe.
fn gated(target: &Target, pod: &Value, kind: Kind) -> bool {
    kind != Kind::Startup
        && has_startup_probe(pod, &target.container)
        && result_of(&target.uid, &target.container, target.run, Kind::Startup).flatten() != Some(true)
}

/// How often a worker looks whether its run has been written Running yet.
const STARTING_POLL: Duration = Duration::from_millis(100);

/// One probe's worker: probes the run until it ends (or the probe killed it).
async fn work(rest: Rest, target: Target, kind: Kind, probe: Value, probed: Arc<Mutex<Probed>>, wake: UnboundedSender<ObjectRef>) {
    let params = Params::of(&probe, kind);
    tokio::time::sleep(params.initial_delay).await;
    loop {
        let pod = match target.now(&rest) {
            Now::Running(pod) => pod,
            Now::NotYet => {
                tokio::time::sleep(STARTING_POLL).await;
                continue;
            }
            Now::Over => break,
        };
        if gated(&target, &pod, kind) {
            // Looked at again soon: readiness is probed as soon as the container started.
            tokio::time::sleep(params.period.min(Duration::from_secs(1))).await;
            continue;
        }
        let outcome = check::attempt(&rest, &pod, &target.container, &probe, params.timeout).await;
        // The run may have ended while the attempt ran.
        let Now::Running(pod) = target.now(&rest) else { break };
        let node = pod["spec"]["nodeName"].as_str().unwrap_or_default().to_string();
        let source = Source { component: "kubelet", host: Some(&node) };
        let passed = match outcome {
            Outcome::Success => Some(true),
            Outcome::Failure(output) => {
                events::warning(&rest, &pod, &source, "Unhealthy", &format!("{} probe failed: {output}", kind.title()));
                Some(false)
            }
            Outcome::Error(why) => {
                events::warning(&rest, &pod, &source, "Unhealthy", &format!("{} probe errored: {why}", kind.title()));
                None
            }
        };
        let (changed, done) = match passed {
            Some(passed) => {
                let mut probed = lock(&probed);
                let changed = probed.count(passed, &params);
                // A liveness or startup failure kills the run (no more probing it);
                // a startup probe that passed is done.
                let done = (kind != Kind::Readiness && probed.result == Some(false)) || (kind == Kind::Startup && probed.result == Some(true));
                (changed, done)
            }
            None => (false, false),
        };
        if changed {
            let _ = wake.send(target.key());
        }
        if done {
            break;
        }
        tokio::time::sleep(params.period).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parameters_default_as_the_api_does() {
        let params = Params::of(&json!({"httpGet": {"port": 80}}), Kind::Readiness);
        assert_eq!(
            params,
            Params {
                initial_delay: Duration::ZERO,
                period: Duration::from_secs(10),
                timeout: Duration::from_secs(1),
                success_threshold: 1,
                failure_threshold: 3
            }
        );
        let liveness = Params::of(&json!({"periodSeconds": 0, "successThreshold": 3, "failureThreshold": 1, "initialDelaySeconds": 5}), Kind::Liveness);
        assert_eq!((liveness.period, liveness.success_threshold, liveness.failure_threshold), (Duration::from_secs(1), 1, 1));
        assert_eq!(liveness.initial_delay, Duration::from_secs(5));
    }

    #[test]
    fn a_result_counts_once_it_repeats_its_threshold() {
        let params = Params::of(&json!({"successThreshold": 2, "failureThreshold": 3}), Kind::Readiness);
        let mut probed = Probed::new(Kind::Readiness);
        assert_eq!(probed.result, Some(false), "readiness starts failed");
        assert!(!probed.count(true, &params));
        assert!(probed.count(true, &params), "two successes in a row make it ready");
        assert_eq!(probed.result, Some(true));
        assert!(!probed.count(false, &params) && !probed.count(false, &params));
        assert!(!probed.count(true, &params), "a success breaks the run of failures");
        assert!(!probed.count(false, &params) && !probed.count(false, &params));
        assert!(probed.count(false, &params), "the third failure in a row counts");
        assert_eq!(probed.result, Some(false));
        let mut liveness = Probed::new(Kind::Liveness);
        assert_eq!(liveness.result, Some(true), "liveness starts passed");
        assert!(!liveness.count(true, &Params::of(&json!({}), Kind::Liveness)));
        assert_eq!(Probed::new(Kind::Startup).result, None);
    }

    #[test]
    fn containers_without_probes_are_started_and_ready_and_never_fail() {
        let pod = json!({"metadata": {"uid": "no-probes"}, "spec": {"containers": [{"name": "c"}]}});
        assert_eq!(results(&pod, "c", 0), Results { started: true, ready: true });
        assert_eq!(failed("no-probes", "c", 0), None);
        // Declared but not probed yet: not started, not ready.
        let probed = json!({"metadata": {"uid": "unprobed"}, "spec": {"containers": [{"name": "c", "startupProbe": {"exec": {"command": ["true"]}}}]}});
        assert_eq!(results(&probed, "c", 0), Results { started: false, ready: false });
        assert!(has_startup_probe(&probed, "c"));
    }
}
