//! The Pod rule, and what a workload learns from its pods: the first that fails
//! fast, else the one in the worst state.

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use super::{Verdict, condition, condition_is, describe, int, name_of, time};

/// How long a pod may wait for a node before it fails: longer, and the cluster has
/// no room for it (a local cluster has no autoscaler to add any).
pub const UNSCHEDULABLE_GRACE_SECONDS: i64 = 60;

/// Restarts after which a crash-looping container is taken as broken.
pub const CRASH_LOOP_RESTARTS: i64 = 3;

/// A pod's verdict, and how bad its state is next to its siblings' (higher is worse).
pub(super) struct Assessment {
    pub verdict: Verdict,
    pub rank: u8,
}

/// Running, but not ready (a readiness probe, a readiness gate).
const NOT_READY: u8 = 10;
/// On its way: containers being created, init containers running.
pub(super) const STARTING: u8 = 20;
/// Something is wrong that may still heal: a crash, a failed pull, a runtime error.
const TROUBLED: u8 = 40;
/// No node has taken it.
const UNSCHEDULED: u8 = 50;

/// Judges a pod by itself.
pub fn judge_pod(pod: &Value, now: Timestamp) -> Verdict {
    assess(pod, now).verdict
}

/// Judges a pod and ranks its state.
pub(super) fn assess(pod: &Value, now: Timestamp) -> Assessment {
    match pod["status"]["phase"].as_str() {
        Some("Succeeded") => return Assessment { verdict: Verdict::ready_with("completed"), rank: 0 },
        Some("Failed") => return Assessment { verdict: Verdict::failed(failure(pod)), rank: u8::MAX },
        _ => {}
    }
    if condition_is(pod, "Ready", "True") {
        return Assessment { verdict: Verdict::ready(), rank: 0 };
    }
    if let Some(reason) = fails_fast(pod) {
        return Assessment { verdict: Verdict::failed(reason), rank: u8::MAX };
    }
    if let Some(assessment) = scheduling(pod, now) {
        return assessment;
    }
    not_ready(pod)
}

/// The verdict the pods of a workload give it, if any: Failed naming the first pod
/// that fails fast, else Pending naming the pod in the worst state ("api-6f9c-x2:
/// ContainerCreating"). Pods being deleted or finished are left out: their
/// controller replaces them, and their failures are counted by its own status.
pub(super) fn evidence(pods: &[&Value], now: Timestamp) -> Option<(Verdict, u8)> {
    let mut worst: Option<(u8, String)> = None;
    for pod in pods.iter().filter(|p| is_live(p)) {
        let assessment = assess(pod, now);
        match assessment.verdict {
            Verdict::Failed { reason } => return Some((Verdict::failed(format!("{}: {reason}", name_of(pod))), u8::MAX)),
            Verdict::Pending { reason } if worst.as_ref().is_none_or(|(rank, _)| assessment.rank > *rank) => {
                worst = Some((assessment.rank, format!("{}: {reason}", name_of(pod))));
            }
            _ => {}
        }
    }
    worst.map(|(rank, reason)| (Verdict::pending(reason), rank))
}

/// Neither being deleted nor finished.
pub(crate) fn is_live(pod: &Value) -> bool {
    pod["metadata"]["deletionTimestamp"].is_null() && !matches!(pod["status"]["phase"].as_str(), Some("Succeeded" | "Failed"))
}

/// Why a pod in phase Failed failed: its own reason (Evicted, DeadlineExceeded), else
/// the first container that exited non-zero.
fn failure(pod: &Value) -> String {
    let own = describe(&pod["status"]);
    if !own.is_empty() {
        return own;
    }
    for (label, status) in container_statuses(pod) {
        let terminated = &status["state"]["terminated"];
        if int(&terminated["exitCode"], 0) != 0 {
            return format!("{label}: {}", exit(terminated));
        }
    }
    "Failed".to_string()
}

/// The first container (init containers first) in a state that waiting will not mend.
fn fails_fast(pod: &Value) -> Option<String> {
    for (label, status) in container_statuses(pod) {
        let waiting = &status["state"]["waiting"];
        let reason = waiting["reason"].as_str().unwrap_or_default();
        let message = one_line(waiting["message"].as_str().unwrap_or_default());
        let restarts = int(&status["restartCount"], 0);
        let last = &status["lastState"]["terminated"];
        match reason {
            "ImagePullBackOff" | "InvalidImageName" | "CreateContainerConfigError" => {
                return Some(if message.is_empty() { format!("{label}: {reason}") } else { format!("{label}: {reason}: {message}") });
            }
            "CrashLoopBackOff" if restarts >= CRASH_LOOP_RESTARTS => {
                let last = if last.is_object() { format!(", last {}", exit(last)) } else { String::new() };
                return Some(format!("{label}: CrashLoopBackOff (restarts {restarts}){last}"));
            }
            "RunContainerError" | "StartError" if restarts >= CRASH_LOOP_RESTARTS => {
                let detail = if !message.is_empty() {
                    format!(": {message}")
                } else if last.is_object() {
                    format!(", last {}", exit(last))
                } else {
                    String::new()
                };
                return Some(format!("{label}: {reason} (restarts {restarts}){detail}"));
            }
            _ => {}
        }
    }
    None
}

/// The scheduler's verdict on a pod it has not placed: Pending with its message, or
/// Failed once the pod has been unschedulable past the grace period. Messages about
/// claims still binding and nodes still starting stay Pending: those heal.
fn scheduling(pod: &Value, now: Timestamp) -> Option<Assessment> {
    let scheduled = condition(pod, "PodScheduled").filter(|c| c["status"] == "False")?;
    let reason = scheduled["reason"].as_str().unwrap_or_default();
    let message = one_line(scheduled["message"].as_str().unwrap_or_default());
    let said = if message.is_empty() { reason.to_string() } else { message.clone() };
    let heals = ["persistentvolumeclaim", "node.kubernetes.io/not-ready", "node.kubernetes.io/network-unavailable"];
    if reason == "Unschedulable" && !heals.iter().any(|h| message.to_ascii_lowercase().contains(h)) {
        let since = time(&scheduled["lastTransitionTime"]).or_else(|| time(&pod["metadata"]["creationTimestamp"]));
        let waited = since.map(|since| now.as_second() - since.as_second()).unwrap_or(0);
        if waited > UNSCHEDULABLE_GRACE_SECONDS {
            return Some(Assessment { verdict: Verdict::failed(format!("unschedulable for {waited}s: {said}")), rank: u8::MAX });
        }
    }
    Some(Assessment { verdict: Verdict::pending(format!("Pending: {said}")), rank: UNSCHEDULED })
}

/// When an unschedulable pod's grace period is over and it fails, if it is one.
pub(super) fn unschedulable_deadline(pod: &Value) -> Option<Timestamp> {
    let scheduled = condition(pod, "PodScheduled").filter(|c| c["status"] == "False" && c["reason"] == "Unschedulable")?;
    let since = time(&scheduled["lastTransitionTime"]).or_else(|| time(&pod["metadata"]["creationTimestamp"]))?;
    since.checked_add(k8s_openapi::jiff::SignedDuration::from_secs(UNSCHEDULABLE_GRACE_SECONDS + 1)).ok()
}

/// Why a scheduled pod is not ready: the first init container not done, else the
/// first container not ready, else the pod's Ready condition.
fn not_ready(pod: &Value) -> Assessment {
    let pending = |reason: String, rank: u8| Assessment { verdict: Verdict::pending(reason), rank };
    let status = &pod["status"];
    if status["phase"] == "Unknown" {
        return pending("Unknown: its node stopped reporting".to_string(), TROUBLED);
    }
    let inits = status["initContainerStatuses"].as_array().map(Vec::as_slice).unwrap_or_default();
    for (done, init) in inits.iter().enumerate() {
        let name = init["name"].as_str().unwrap_or_default();
        let terminated = &init["state"]["terminated"];
        if (terminated.is_object() && int(&terminated["exitCode"], 0) == 0) || (is_sidecar(pod, name) && init["started"] == true) {
            continue;
        }
        let step = format!("Init:{done}/{}", inits.len());
        return match container_state(init) {
            Some((state, rank)) if rank > STARTING => pending(format!("Init:{state}"), rank),
            Some((state, rank)) => pending(format!("{step}: {name:?} {state}"), rank),
            None => pending(format!("{step}: {name:?} running"), STARTING),
        };
    }
    let containers = status["containerStatuses"].as_array().map(Vec::as_slice).unwrap_or_default();
    let several = pod["spec"]["containers"].as_array().is_some_and(|c| c.len() > 1);
    if let Some(container) = containers.iter().find(|c| c["ready"] != true) {
        let name = container["name"].as_str().unwrap_or_default();
        let (state, rank) = container_state(container).unwrap_or_else(|| (format!("Running, not ready: {}", probe(pod, container)), NOT_READY));
        return pending(if several { format!("container {name:?}: {state}") } else { state }, rank);
    }
    if containers.is_empty() {
        return match pod["spec"]["nodeName"].as_str() {
            Some(node) => pending(format!("Pending: scheduled to {node}, waiting for its kubelet"), STARTING),
            None => pending("Pending: waiting for the scheduler".to_string(), STARTING),
        };
    }
    let gate = condition(pod, "Ready").map(describe).filter(|d| !d.is_empty()).unwrap_or_else(|| "waiting for its Ready condition".to_string());
    pending(format!("Running, not ready: {gate}"), NOT_READY)
}

/// A container's state when it is not running: "ContainerCreating", "CrashLoopBackOff
/// (restarts 2)", "ErrImagePull: <message>", with how bad it is; None when it runs.
fn container_state(status: &Value) -> Option<(String, u8)> {
    let state = &status["state"];
    if let Some(reason) = state["waiting"]["reason"].as_str() {
        let message = one_line(state["waiting"]["message"].as_str().unwrap_or_default());
        return Some(match reason {
            "ContainerCreating" | "PodInitializing" => (reason.to_string(), STARTING),
            "CrashLoopBackOff" => (format!("CrashLoopBackOff (restarts {})", int(&status["restartCount"], 0)), TROUBLED),
            _ if message.is_empty() => (reason.to_string(), TROUBLED),
            _ => (format!("{reason}: {message}"), TROUBLED),
        });
    }
    if state["terminated"].is_object() {
        return Some((format!("Terminated: {}", exit(&state["terminated"])), TROUBLED));
    }
    state["waiting"].is_object().then(|| ("Waiting".to_string(), STARTING))
}

/// Why a running container is not ready yet, from the probes its spec declares.
fn probe(pod: &Value, status: &Value) -> &'static str {
    let name = &status["name"];
    let spec = pod["spec"]["containers"].as_array().into_iter().flatten().find(|c| c["name"] == *name).unwrap_or(&Value::Null);
    if !spec["startupProbe"].is_null() && status["started"] != true {
        "startup probe not passed yet"
    } else if !spec["readinessProbe"].is_null() {
        "readiness probe failing"
    } else {
        "container not ready yet"
    }
}

/// Whether an init container is a sidecar (restartPolicy Always): it keeps running.
fn is_sidecar(pod: &Value, name: &str) -> bool {
    pod["spec"]["initContainers"].as_array().into_iter().flatten().any(|c| c["name"] == name && c["restartPolicy"] == "Always")
}

/// The statuses of the init containers then of the containers, each with a label
/// naming it (`init container "migrate"`, `container "app"`).
fn container_statuses(pod: &Value) -> impl Iterator<Item = (String, &Value)> {
    let status = &pod["status"];
    let of = |field: &str, what: &'static str| {
        status[field].as_array().into_iter().flatten().map(move |c| (format!("{what} {:?}", c["name"].as_str().unwrap_or_default()), c))
    };
    of("initContainerStatuses", "init container").chain(of("containerStatuses", "container"))
}

/// "exited with code 1 (Error): <termination message>".
fn exit(terminated: &Value) -> String {
    let mut text = format!("exited with code {}", int(&terminated["exitCode"], 0));
    if let Some(reason) = terminated["reason"].as_str().filter(|r| !r.is_empty()) {
        text.push_str(&format!(" ({reason})"));
    }
    let message = one_line(terminated["message"].as_str().unwrap_or_default());
    if !message.is_empty() {
        text.push_str(&format!(": {message}"));
    }
    text
}

/// A message on one line, its non-blank lines joined, cut to 300 characters.
fn one_line(message: &str) -> String {
    let joined = message.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" / ");
    match joined.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &joined[..cut]),
        None => joined,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::testing::*;
    use super::*;

    const NO_ROOM: &str =
        "0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.";

    fn terminated_pod(status: Value) -> Value {
        pod("migrate-x7k2p", json!({"job-name": "migrate"}), status)
    }

    #[test]
    fn pod_states() {
        let labels = || json!({"app": "api"});
        let mut init_running = pod("api-1", labels(), json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}]}));
        init_running["spec"]["initContainers"] = json!([{"name": "migrate", "image": "ghcr.io/acme/migrate:3"}]);
        init_running["status"]["initContainerStatuses"] =
            json!([{"name": "migrate", "ready": false, "restartCount": 0, "state": {"running": {"startedAt": ago(5)}}}]);
        init_running["status"]["containerStatuses"] =
            json!([{"name": "app", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}]);
        let mut init_crashing = init_running.clone();
        init_crashing["status"]["initContainerStatuses"][0]["state"] = json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}});
        init_crashing["status"]["initContainerStatuses"][0]["restartCount"] = json!(1);
        let mut sidecar_started = init_running.clone();
        sidecar_started["spec"]["initContainers"][0]["restartPolicy"] = json!("Always");
        sidecar_started["status"]["initContainerStatuses"][0]["started"] = json!(true);
        sidecar_started["status"]["containerStatuses"][0]["state"] = json!({"waiting": {"reason": "ContainerCreating"}});
        let mut probing = ready_pod("api-1", labels());
        probing["status"]["conditions"][3] = json!({"type": "Ready", "status": "False", "reason": "ContainersNotReady"});
        probing["status"]["containerStatuses"][0]["ready"] = json!(false);
        let mut starting = probing.clone();
        starting["spec"]["containers"][0]["startupProbe"] = json!({"tcpSocket": {"port": 8080}});
        starting["status"]["containerStatuses"][0]["started"] = json!(false);
        let mut gated = ready_pod("api-1", labels());
        gated["status"]["conditions"][3] = json!({"type": "Ready", "status": "False", "reason": "ReadinessGatesNotReady", "message": "corresponding condition of pod readiness gate \"target-health\" does not exist."});
        let mut two = waiting_pod("api-1", labels(), "ContainerCreating", "", 0);
        two["spec"]["containers"] = json!([{"name": "app"}, {"name": "proxy"}]);
        two["status"]["containerStatuses"] = json!([
            {"name": "app", "ready": true, "restartCount": 0, "state": {"running": {}}},
            {"name": "proxy", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}},
        ]);
        let mut bound_later = unschedulable_pod(
            "postgres-0",
            labels(),
            600,
            "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
        );
        let node_starting =
            unschedulable_pod("api-1", labels(), 600, "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }.");
        let mut unscheduled_no_time = unschedulable_pod("api-1", labels(), 0, NO_ROOM);
        unscheduled_no_time["status"]["conditions"][0]["lastTransitionTime"] = Value::Null;
        unscheduled_no_time["metadata"]["creationTimestamp"] = json!(ago(61));
        let gated_scheduling = pod(
            "api-1",
            labels(),
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated", "message": "Scheduling is blocked due to non-empty scheduling gates"}]}),
        );
        bound_later["metadata"]["name"] = json!("postgres-0");

        let cases: Vec<(&str, Value, Verdict)> = vec![
            ("ready", ready_pod("api-1", labels()), Verdict::ready()),
            ("completed", terminated_pod(json!({"phase": "Succeeded"})), Verdict::ready_with("completed")),
            (
                "evicted",
                terminated_pod(
                    json!({"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory. Threshold quantity: 100Mi, available: 48Mi."}),
                ),
                Verdict::failed("Evicted: The node was low on resource: memory. Threshold quantity: 100Mi, available: 48Mi."),
            ),
            (
                "exited non-zero",
                terminated_pod(json!({"phase": "Failed", "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0,
                    "state": {"terminated": {"exitCode": 2, "reason": "Error", "message": "migration 0042 failed:\n  relation \"orders\" already exists\n"}}}]})),
                Verdict::failed("container \"app\": exited with code 2 (Error): migration 0042 failed: / relation \"orders\" already exists"),
            ),
            ("failed without a word", terminated_pod(json!({"phase": "Failed"})), Verdict::failed("Failed")),
            ("creating", waiting_pod("api-1", labels(), "ContainerCreating", "", 0), Verdict::pending("ContainerCreating")),
            (
                "crash loop, 2 restarts",
                waiting_pod("api-1", labels(), "CrashLoopBackOff", "back-off 20s restarting failed container", 2),
                Verdict::pending("CrashLoopBackOff (restarts 2)"),
            ),
            (
                "crash loop, 3 restarts",
                waiting_pod("api-1", labels(), "CrashLoopBackOff", "back-off 40s restarting failed container", 3),
                Verdict::failed("container \"app\": CrashLoopBackOff (restarts 3), last exited with code 1 (Error)"),
            ),
            (
                "image pull back-off",
                waiting_pod("api-1", labels(), "ImagePullBackOff", "Back-off pulling image \"ghcr.io/acme/api:1.4.3\"", 0),
                Verdict::failed("container \"app\": ImagePullBackOff: Back-off pulling image \"ghcr.io/acme/api:1.4.3\""),
            ),
            (
                "first pull error",
                waiting_pod(
                    "api-1",
                    labels(),
                    "ErrImagePull",
                    "rpc error: code = NotFound desc = failed to pull and unpack image \"ghcr.io/acme/api:1.4.3\": not found",
                    0,
                ),
                Verdict::pending("ErrImagePull: rpc error: code = NotFound desc = failed to pull and unpack image \"ghcr.io/acme/api:1.4.3\": not found"),
            ),
            (
                "invalid image name",
                waiting_pod(
                    "api-1",
                    labels(),
                    "InvalidImageName",
                    "Failed to apply default image tag \"ghcr.io/acme/API:latest\": couldn't parse image name",
                    0,
                ),
                Verdict::failed(
                    "container \"app\": InvalidImageName: Failed to apply default image tag \"ghcr.io/acme/API:latest\": couldn't parse image name",
                ),
            ),
            (
                "missing secret",
                waiting_pod("api-1", labels(), "CreateContainerConfigError", "secret \"db-credentials\" not found", 0),
                Verdict::failed("container \"app\": CreateContainerConfigError: secret \"db-credentials\" not found"),
            ),
            (
                "run error, 1 restart",
                waiting_pod("api-1", labels(), "RunContainerError", "exec: \"/app/server\": permission denied", 1),
                Verdict::pending("RunContainerError: exec: \"/app/server\": permission denied"),
            ),
            (
                "run error, 3 restarts",
                waiting_pod("api-1", labels(), "RunContainerError", "exec: \"/app/server\": permission denied", 3),
                Verdict::failed("container \"app\": RunContainerError (restarts 3): exec: \"/app/server\": permission denied"),
            ),
            ("unschedulable 30s", unschedulable_pod("postgres-0", labels(), 30, NO_ROOM), Verdict::pending(format!("Pending: {NO_ROOM}"))),
            ("unschedulable 90s", unschedulable_pod("postgres-0", labels(), 90, NO_ROOM), Verdict::failed(format!("unschedulable for 90s: {NO_ROOM}"))),
            ("unschedulable since creation", unscheduled_no_time, Verdict::failed(format!("unschedulable for 61s: {NO_ROOM}"))),
            (
                "waiting for its claim",
                bound_later,
                Verdict::pending(
                    "Pending: 0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
                ),
            ),
            (
                "node starting",
                node_starting,
                Verdict::pending("Pending: 0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }."),
            ),
            ("scheduling gates", gated_scheduling, Verdict::pending("Pending: Scheduling is blocked due to non-empty scheduling gates")),
            ("init running", init_running, Verdict::pending("Init:0/1: \"migrate\" running")),
            ("init crashing", init_crashing, Verdict::pending("Init:CrashLoopBackOff (restarts 1)")),
            ("sidecar started", sidecar_started, Verdict::pending("ContainerCreating")),
            ("readiness probe", probing, Verdict::pending("Running, not ready: readiness probe failing")),
            ("startup probe", starting, Verdict::pending("Running, not ready: startup probe not passed yet")),
            (
                "readiness gate",
                gated,
                Verdict::pending("Running, not ready: ReadinessGatesNotReady: corresponding condition of pod readiness gate \"target-health\" does not exist."),
            ),
            ("second container", two, Verdict::pending("container \"proxy\": ContainerCreating")),
            ("lost node", pod("api-1", labels(), json!({"phase": "Unknown"})), Verdict::pending("Unknown: its node stopped reporting")),
            ("just created", pod("api-1", labels(), json!({"phase": "Pending"})), Verdict::pending("Pending: waiting for the scheduler")),
        ];
        for (what, pod, expected) in cases {
            assert_eq!(judge_pod(&pod, now()), expected, "{what}");
        }
    }

    #[test]
    fn init_containers_fail_fast_too() {
        let mut pod = waiting_pod("api-1", json!({}), "PodInitializing", "", 0);
        pod["status"]["initContainerStatuses"] = json!([{"name": "wait-for-db", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "CreateContainerConfigError", "message": "couldn't find key password in Secret shop/db"}}}]);
        assert_eq!(
            judge_pod(&pod, now()),
            Verdict::failed("init container \"wait-for-db\": CreateContainerConfigError: couldn't find key password in Secret shop/db")
        );
    }

    #[test]
    fn long_messages_are_cut() {
        let pod = waiting_pod("api-1", json!({}), "ErrImagePull", &"x".repeat(500), 0);
        let Verdict::Pending { reason } = judge_pod(&pod, now()) else { panic!() };
        assert_eq!(reason.chars().count(), "ErrImagePull: ".len() + 301);
        assert!(reason.ends_with('…'));
    }

    #[test]
    fn evidence_names_the_pod_in_the_worst_state() {
        let creating = waiting_pod("api-a", json!({}), "ContainerCreating", "", 0);
        let unscheduled = unschedulable_pod("api-b", json!({}), 10, NO_ROOM);
        let ready = ready_pod("api-c", json!({}));
        let (verdict, _) = evidence(&[&creating, &unscheduled, &ready], now()).unwrap();
        assert_eq!(verdict, Verdict::pending(format!("api-b: Pending: {NO_ROOM}")));

        let crashing = waiting_pod("api-d", json!({}), "CrashLoopBackOff", "", 5);
        let (verdict, _) = evidence(&[&creating, &unscheduled, &crashing], now()).unwrap();
        assert_eq!(verdict, Verdict::failed("api-d: container \"app\": CrashLoopBackOff (restarts 5), last exited with code 1 (Error)"));

        assert_eq!(evidence(&[&ready], now()), None);
        let mut going = crashing.clone();
        going["metadata"]["deletionTimestamp"] = json!(ago(1));
        let evicted = terminated_pod(json!({"phase": "Failed", "reason": "Evicted"}));
        assert_eq!(evidence(&[&going, &evicted], now()), None, "pods being deleted and finished pods are not evidence");
    }
}
