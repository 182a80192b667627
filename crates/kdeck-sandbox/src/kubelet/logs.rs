//! What the simulated containers "print". Logs are computed from the container's
//! start time and image, never stored: a start-up log that looks like the real
//! image's, then — with the pod annotation `sandbox.kdeck.dev/log-rate: "N"` — N
//! synthetic request lines per second for load tests. The same call gives the same
//! lines, so `--previous`, `--since` and `--tail` agree across restarts.
//!
//! A container whose command really runs (`sandbox.kdeck.dev/run-command`, see
//! [`super::command`]) logs what its process writes instead: [`Captured`] output,
//! kept per run of the container (pod uid, container, restart number), appended as
//! it arrives ([`Captured::push`]) with followers woken at once
//! ([`Run::changes`], [`wait_for_output`]), and written to
//! `DATA/logs/<pod uid>/<container>/<run>.log` when the run ends, so it is still
//! there after a sandbox restart. It goes with the pod ([`forget_pod`]).

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;

use crate::time;

pub const LOG_RATE_ANNOTATION: &str = "sandbox.kdeck.dev/log-rate";
/// Most lines one call produces, whatever the rate and age.
const MAX_LINES: u64 = 1_000_000;

#[derive(Clone, Debug, PartialEq)]
pub struct LogLine {
    /// When the line was "written", in nanoseconds since the epoch.
    pub at: i128,
    pub text: String,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LogError {
    #[error("a container name must be specified for pod {pod}, choose one of: [{choices}]")]
    ContainerRequired { pod: String, choices: String },
    #[error("container {container} is not valid for pod {pod}")]
    NoSuchContainer { pod: String, container: String },
    #[error("container \"{container}\" in pod \"{pod}\" is waiting to start: {reason}")]
    Waiting { pod: String, container: String, reason: String },
    #[error("previous terminated container \"{container}\" in pod \"{pod}\" not found")]
    NoPrevious { pod: String, container: String },
}

/// The container a log request is for: the one named, or the only one there is.
pub fn container_name(pod: &Value, requested: Option<&str>) -> Result<String, LogError> {
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let names: Vec<&str> =
        ["initContainers", "containers"].iter().flat_map(|l| pod["spec"][*l].as_array().into_iter().flatten()).filter_map(|c| c["name"].as_str()).collect();
    match requested {
        Some(c) if names.contains(&c) => Ok(c.to_string()),
        Some(c) => Err(LogError::NoSuchContainer { pod: pod_name, container: c.to_string() }),
        None => {
            let main: Vec<&str> = pod["spec"]["containers"].as_array().into_iter().flatten().filter_map(|c| c["name"].as_str()).collect();
            match main.as_slice() {
                [only] => Ok(only.to_string()),
                _ => Err(LogError::ContainerRequired { pod: pod_name, choices: main.join(" ") }),
            }
        }
    }
}

/// One run of a container: when it started, when (if) it ended, and what it ran.
pub struct Run {
    pub started: i128,
    pub finished: Option<i128>,
    pub image: String,
    pub rate: f64,
    pub exit_message: Option<String>,
    /// The real output, when the container's command really runs: then the log is that alone.
    pub captured: Option<Arc<Captured>>,
}

impl Run {
    /// Notifications of new output (real processes only; simulated logs are polled).
    pub fn changes(&self) -> Option<watch::Receiver<u64>> {
        self.captured.as_ref().map(|c| c.version.subscribe())
    }

    /// The run's process has exited and all its output is in: nothing more will come.
    pub fn output_complete(&self) -> bool {
        self.captured.as_ref().is_some_and(|c| c.is_done())
    }
}

/// Waits until a follower should look for new lines: new output of a real
/// process (or its end), or the next poll of a simulated log.
pub async fn wait_for_output(run: &Run, changes: &mut Option<watch::Receiver<u64>>) {
    match changes {
        Some(rx) => {
            tokio::select! {
                _ = rx.changed() => {}
                _ = tokio::time::sleep(follow_interval(run)) => {}
            }
        }
        None => tokio::time::sleep(follow_interval(run)).await,
    }
}

/// Most bytes of output kept per run; older lines go first, as log rotation would.
const MAX_CAPTURED_BYTES: usize = 10 * 1024 * 1024;

/// The output of one run of a real process, as lines in arrival order.
pub struct Captured {
    state: Mutex<CapturedState>,
    version: watch::Sender<u64>,
}

#[derive(Default)]
struct CapturedState {
    lines: VecDeque<LogLine>,
    bytes: usize,
    done: bool,
}

impl Captured {
    fn new(lines: Vec<LogLine>, done: bool) -> Self {
        let bytes = lines.iter().map(|l| l.text.len()).sum();
        Captured { state: Mutex::new(CapturedState { lines: lines.into(), bytes, done }), version: watch::Sender::new(0) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CapturedState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends lines written now and wakes followers. The time is taken under the
    /// lock, so a follower that read up to time T has seen every line stamped ≤ T.
    pub fn push(&self, texts: Vec<String>) {
        if texts.is_empty() {
            return;
        }
        {
            let mut state = self.lock();
            let at = time::unix_nanos().max(state.lines.back().map_or(0, |l| l.at));
            for text in texts {
                state.bytes += text.len();
                state.lines.push_back(LogLine { at, text });
            }
            while state.bytes > MAX_CAPTURED_BYTES
                && let Some(old) = state.lines.pop_front()
            {
                state.bytes -= old.text.len();
            }
        }
        self.version.send_modify(|v| *v += 1);
    }

    /// The process exited and its output is all in.
    pub fn finish(&self) {
        self.lock().done = true;
        self.version.send_modify(|v| *v += 1);
    }

    pub fn is_done(&self) -> bool {
        self.lock().done
    }

    /// The lines written in `(after, until]`.
    pub fn between(&self, after: i128, until: i128) -> Vec<LogLine> {
        self.lock().lines.iter().filter(|l| l.at > after && l.at <= until).cloned().collect()
    }

    /// `<nanos> <text>` per line.
    fn serialize(&self) -> String {
        self.lock().lines.iter().map(|l| format!("{} {}\n", l.at, l.text)).collect()
    }

    fn parse(text: &str) -> Vec<LogLine> {
        text.lines().filter_map(|l| l.split_once(' ')).filter_map(|(at, text)| Some(LogLine { at: at.parse().ok()?, text: text.to_string() })).collect()
    }
}

/// (pod uid, container, run number: the container's restartCount when it started).
type RunKey = (String, String, i64);

static CAPTURED: LazyLock<Mutex<HashMap<RunKey, Arc<Captured>>>> = LazyLock::new(Default::default);

fn captured_map() -> std::sync::MutexGuard<'static, HashMap<RunKey, Arc<Captured>>> {
    CAPTURED.lock().unwrap_or_else(|p| p.into_inner())
}

fn pod_log_dir(uid: &str) -> PathBuf {
    super::exec::data_dir().join("logs").join(super::exec::volumes::safe(uid))
}

fn log_file(uid: &str, container: &str, run: i64) -> PathBuf {
    pod_log_dir(uid).join(super::exec::volumes::safe(container)).join(format!("{run}.log"))
}

/// The output of run `run` of a container whose command really runs: what was
/// captured so far, what an earlier sandbox wrote to disk, or an empty log that
/// the process will fill.
pub fn captured(uid: &str, container: &str, run: i64) -> Arc<Captured> {
    let key = (uid.to_string(), container.to_string(), run);
    let mut map = captured_map();
    if let Some(found) = map.get(&key) {
        return found.clone();
    }
    let stored = std::fs::read_to_string(log_file(uid, container, run)).ok();
    let log = Arc::new(match stored {
        Some(text) => Captured::new(Captured::parse(&text), true),
        None => Captured::new(Vec::new(), false),
    });
    map.insert(key, log.clone());
    log
}

/// Writes a run's output to disk (when it ends, or when the sandbox stops).
pub fn persist(uid: &str, container: &str, run: i64, log: &Captured) {
    let path = log_file(uid, container, run);
    let written = path.parent().map_or(Ok(()), crate::fsutil::create_private_dir).and_then(|()| std::fs::write(&path, log.serialize()));
    if let Err(e) = written {
        eprintln!("kdeck sandbox: cannot keep the log of {container} in pod {uid}: {e}");
    }
}

/// Forgets the logs of a deleted pod, in memory and on disk.
pub fn forget_pod(uid: &str) {
    captured_map().retain(|(u, _, _), _| u != uid);
    let _ = std::fs::remove_dir_all(pod_log_dir(uid));
}

/// Forgets the logs of every pod not among `uids`.
pub fn retain_pods(uids: &std::collections::HashSet<String>) {
    let gone: std::collections::HashSet<String> = captured_map().keys().map(|(u, _, _)| u.clone()).filter(|u| !uids.contains(u)).collect();
    gone.iter().for_each(|uid| forget_pod(uid));
}

pub fn any_captured() -> bool {
    !captured_map().is_empty()
}

/// The run whose logs are asked for: the current one, or with `previous` the one before.
pub fn run_of(pod: &Value, container: &str, previous: bool) -> Result<Run, LogError> {
    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let status =
        ["initContainerStatuses", "containerStatuses"].iter().flat_map(|l| pod["status"][*l].as_array().into_iter().flatten()).find(|s| s["name"] == container);
    let waiting = || LogError::Waiting { pod: pod_name.clone(), container: container.to_string(), reason: "ContainerCreating".into() };
    let status = status.ok_or_else(waiting)?;
    let state = if previous { &status["lastState"] } else { &status["state"] };
    let at = |v: &Value| v.as_str().and_then(time::parse_rfc3339_nanos);
    let (started, finished) = if let Some(running) = state.get("running") {
        (at(&running["startedAt"]), None)
    } else if let Some(done) = state.get("terminated") {
        (at(&done["startedAt"]), at(&done["finishedAt"]))
    } else if previous {
        return Err(LogError::NoPrevious { pod: pod_name, container: container.to_string() });
    } else {
        let reason = state["waiting"]["reason"].as_str().unwrap_or("ContainerCreating").to_string();
        return Err(LogError::Waiting { pod: pod_name, container: container.to_string(), reason });
    };
    let spec = ["initContainers", "containers"].iter().flat_map(|l| pod["spec"][*l].as_array().into_iter().flatten()).find(|c| c["name"] == container);
    let captured = super::command::is_real(pod, status).then(|| {
        // Run N is the one that started when the restart count was N.
        let restarts = status["restartCount"].as_i64().unwrap_or(0);
        captured(pod["metadata"]["uid"].as_str().unwrap_or_default(), container, if previous { restarts - 1 } else { restarts })
    });
    Ok(Run {
        started: started.unwrap_or(0),
        finished,
        image: spec.and_then(|c| c["image"].as_str()).unwrap_or_default().to_string(),
        rate: pod["metadata"]["annotations"][LOG_RATE_ANNOTATION].as_str().and_then(|r| r.parse::<f64>().ok()).filter(|r| *r > 0.0).unwrap_or(0.0),
        exit_message: state["terminated"]["message"].as_str().map(str::to_string),
        captured,
    })
}

const STEP: i128 = 15_000_000;

/// The lines written in `(after, until]` (nanoseconds), oldest first.
pub fn lines(run: &Run, after: i128, until: i128) -> Vec<LogLine> {
    if let Some(captured) = &run.captured {
        // Stamped as they arrived; finishedAt (whole seconds) may precede the last ones.
        return captured.between(after, until);
    }
    let until = run.finished.map_or(until, |f| f.min(until));
    let mut out: Vec<LogLine> = startup(&run.image)
        .into_iter()
        .enumerate()
        .map(|(i, text)| LogLine { at: run.started + STEP * i as i128, text })
        .filter(|l| l.at > after && l.at <= until)
        .collect();
    if run.rate > 0.0 {
        // Synthetic line k is written at started + 1s + k/rate.
        let first_at = run.started + 1_000_000_000;
        let period = (1e9 / run.rate) as i128;
        let index_at = |t: i128| if t < first_at { -1 } else { (t - first_at) / period.max(1) };
        let (from, to) = (index_at(after) + 1, index_at(until));
        let from = from.max(to - MAX_LINES as i128 + 1).max(0);
        for k in from..=to {
            out.push(LogLine { at: first_at + k * period, text: synthetic(k as u64) });
        }
    }
    if let (Some(message), Some(finished)) = (&run.exit_message, run.finished)
        && finished > after
        && finished <= until
    {
        out.extend(message.lines().map(|text| LogLine { at: finished, text: text.to_string() }));
    }
    out.sort_by_key(|l| l.at);
    out
}

fn synthetic(k: u64) -> String {
    let paths = ["/api/items", "/api/orders", "/healthz", "/api/users", "/metrics"];
    let status = if k % 50 == 49 { 500 } else { 200 };
    format!("level=info msg=\"request handled\" method=GET path={}/{} status={status} duration_ms={}", paths[(k % 5) as usize], k, k % 97 + 1)
}

/// A short start-up log in the style of well-known images.
fn startup(image: &str) -> Vec<String> {
    let base = image.rsplit('/').next().unwrap_or(image).split(['@', ':']).next().unwrap_or_default();
    let tag = image.rsplit_once(':').map(|(_, t)| t).filter(|t| !t.contains('/')).unwrap_or("latest");
    let lines: &[&str] = match base {
        "nginx" => &[
            "/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, will attempt to perform configuration",
            "/docker-entrypoint.sh: Looking for shell scripts in /docker-entrypoint.d/",
            "/docker-entrypoint.sh: Launching /docker-entrypoint.d/10-listen-on-ipv6-by-default.sh",
            "/docker-entrypoint.sh: Configuration complete; ready for start up",
            "[notice] 1#1: using the \"epoll\" event method",
            "[notice] 1#1: nginx/{tag}",
            "[notice] 1#1: start worker processes",
        ],
        "postgres" | "pgvector" => &[
            "PostgreSQL Database directory appears to contain a database; Skipping initialization",
            "LOG:  starting PostgreSQL {tag} on x86_64-pc-linux-gnu, compiled by gcc",
            "LOG:  listening on IPv4 address \"0.0.0.0\", port 5432",
            "LOG:  listening on Unix socket \"/var/run/postgresql/.s.PGSQL.5432\"",
            "LOG:  database system was shut down at startup",
            "LOG:  database system is ready to accept connections",
        ],
        "redis" | "valkey" => &[
            "1:C # oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo",
            "1:C # Redis version={tag}, bits=64, commit=00000000, modified=0, pid=1, just started",
            "1:M * monotonic clock: POSIX clock_gettime",
            "1:M * Running mode=standalone, port=6379.",
            "1:M * Server initialized",
            "1:M * Ready to accept connections tcp",
        ],
        "server" | "authentik" => &[
            "{\"event\": \"Loaded config\", \"level\": \"debug\", \"logger\": \"authentik.lib.config\"}",
            "{\"event\": \"Starting authentik bootstrap\", \"level\": \"info\", \"logger\": \"authentik.lib.config\"}",
            "{\"event\": \"PostgreSQL connection successful\", \"level\": \"info\", \"logger\": \"authentik.lib.config\"}",
            "{\"event\": \"Redis Connection successful\", \"level\": \"info\", \"logger\": \"authentik.lib.config\"}",
            "{\"event\": \"Finished authentik bootstrap\", \"level\": \"info\", \"logger\": \"authentik.lib.config\"}",
            "{\"event\": \"Starting server\", \"level\": \"info\", \"logger\": \"authentik.router\"}",
        ],
        "alpine" | "busybox" | "debian" | "ubuntu" => &[],
        _ => &["Starting {image}", "Configuration loaded", "Listening on 0.0.0.0:8080", "Ready"],
    };
    lines.iter().map(|l| l.replace("{tag}", tag).replace("{image}", image)).collect()
}

/// Seconds and nanoseconds to a `--timestamps` prefix.
pub fn timestamp(at: i128) -> String {
    let secs = (at / 1_000_000_000) as i64;
    let nanos = (at % 1_000_000_000) as u32;
    let base = time::rfc3339_unix(secs);
    format!("{}.{nanos:09}Z", base.trim_end_matches('Z'))
}

pub fn follow_interval(run: &Run) -> Duration {
    if run.rate > 0.0 { Duration::from_secs_f64((1.0 / run.rate).clamp(0.01, 1.0)) } else { Duration::from_secs(1) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Value {
        json!({"metadata": {"name": "web", "annotations": {LOG_RATE_ANNOTATION: "10"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]},
            "status": {"containerStatuses": [{"name": "nginx", "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]}})
    }

    #[test]
    fn start_up_then_synthetic_lines_at_the_declared_rate() {
        let run = run_of(&pod(), "nginx", false).unwrap();
        let start = run.started;
        let all = lines(&run, 0, start + 3_000_000_000);
        assert!(all[0].text.contains("docker-entrypoint"));
        assert!(all.iter().any(|l| l.text == "[notice] 1#1: nginx/1.27"));
        assert_eq!(all.iter().filter(|l| l.text.contains("request handled")).count(), 21, "10/s for the 2 s after the first second");
        // The same window gives the same lines; a later window continues it.
        assert_eq!(lines(&run, 0, start + 3_000_000_000), all);
        let later = lines(&run, start + 3_000_000_000, start + 4_000_000_000);
        assert_eq!(later.len(), 10);
    }

    #[test]
    fn errors_name_the_containers_and_states() {
        let mut two = pod();
        two["spec"]["containers"] = json!([{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]);
        assert_eq!(container_name(&two, None).unwrap_err().to_string(), "a container name must be specified for pod web, choose one of: [a b]");
        assert!(matches!(container_name(&pod(), Some("nope")), Err(LogError::NoSuchContainer { .. })));
        assert!(matches!(run_of(&pod(), "nginx", true), Err(LogError::NoPrevious { .. })));
        let mut creating = pod();
        creating["status"]["containerStatuses"][0]["state"] = json!({"waiting": {"reason": "ContainerCreating"}});
        assert_eq!(run_of(&creating, "nginx", false).err().unwrap().to_string(), "container \"nginx\" in pod \"web\" is waiting to start: ContainerCreating");
    }

    #[test]
    fn timestamps_have_nanoseconds() {
        assert_eq!(timestamp(1_767_225_600_123_000_000), "2026-01-01T00:00:00.123000000Z");
    }
}
