//! Pods and their containers: crash loops (with the cause the last log lines and
//! the configuration give), OOM kills, image pulls told apart, configuration that
//! does not resolve, probes failing, pods no node takes, evictions, pods stuck
//! terminating. Each pod's problem is rooted in the object to change.

use serde_json::Value;

use super::config;
use crate::diagnose::chain::{self, container_link, pod_ref};
use crate::diagnose::problem::{Evidence, Problem, Severity};
use crate::diagnose::scene::{Scene, name, namespace, reference, short_kind};

/// Log lines kept as evidence of a crash.
const LOG_LINES: usize = 5;

pub fn analyze(scene: &Scene) -> Vec<Problem> {
    let mut out = Vec::new();
    for pod in scene.all("", "Pod") {
        if pod["status"]["phase"] == "Succeeded" {
            continue;
        }
        if let Some(problem) = analyze_pod(scene, pod) {
            out.push(problem);
        }
    }
    out
}

fn analyze_pod(scene: &Scene, pod: &Value) -> Option<Problem> {
    let workload = scene.workload_of(pod);
    // A Job's failed pods are the Job's story (its analyzer reads their logs).
    if pod["status"]["phase"] == "Failed" && matches!(workload["kind"].as_str(), Some("Job" | "CronJob")) {
        return None;
    }
    if let Some(problem) = stuck_terminating(scene, pod) {
        return Some(problem);
    }
    if pod["status"]["phase"] == "Failed" {
        return failed_pod(scene, pod);
    }
    if let Some(problem) = unschedulable(scene, pod) {
        return Some(problem);
    }
    let ready = condition(pod, "Ready").is_some_and(|c| c["status"] == "True");
    for (spec, status) in containers(pod) {
        if ready && status["state"]["waiting"].is_null() && !flapping(scene, status) {
            continue;
        }
        if let Some(problem) = container(scene, pod, spec, status) {
            return Some(problem);
        }
    }
    if !ready && let Some(problem) = mount(scene, pod) {
        return Some(problem);
    }
    None
}

/// Each container's spec with its status, init containers first.
fn containers(pod: &Value) -> Vec<(&Value, &Value)> {
    let mut out = Vec::new();
    for (specs, statuses) in [("initContainers", "initContainerStatuses"), ("containers", "containerStatuses")] {
        for spec in pod["spec"][specs].as_array().into_iter().flatten() {
            let status = pod["status"][statuses].as_array().into_iter().flatten().find(|s| s["name"] == spec["name"]).unwrap_or(&Value::Null);
            out.push((spec, status));
        }
    }
    out
}

/// How recent a failure must be for a container that is up again to count as
/// crash-looping still: a crash loop with a short back-off is Ready between crashes.
const FLAPPING_WINDOW_SECONDS: i64 = 600;

/// Running now, but failed at least twice and lately: between two crashes of a
/// loop. A container that restarted once, or long ago, and runs is fine.
fn flapping(scene: &Scene, status: &Value) -> bool {
    let last = &status["lastState"]["terminated"];
    let failed = last["exitCode"].as_i64().is_some_and(|c| c != 0);
    let restarts = status["restartCount"].as_i64().unwrap_or(0);
    let ended = crate::diagnose::scene::time(&last["finishedAt"]);
    failed && restarts >= 2 && ended.is_some_and(|t| scene.now.as_second() - t.as_second() < FLAPPING_WINDOW_SECONDS)
}

fn condition<'a>(obj: &'a Value, kind: &str) -> Option<&'a Value> {
    obj["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == kind)
}

/// A problem rooted at `object`, with the chain from what reaches the pod down to the container.
pub(super) fn pod_problem(scene: &Scene, pod: &Value, rule: &'static str, severity: Severity, object: String, summary: String) -> Problem {
    let workload = scene.workload_of(pod);
    let mut problem = Problem::new(severity, namespace(pod), rule, object, summary).affects(reference(workload)).affects(pod_ref(pod));
    problem.chain = chain::above_pod(scene, pod);
    problem
}

fn container(scene: &Scene, pod: &Value, spec: &Value, status: &Value) -> Option<Problem> {
    let cname = spec["name"].as_str().unwrap_or_default();
    let waiting = &status["state"]["waiting"];
    let reason = waiting["reason"].as_str().unwrap_or_default();
    let message = waiting["message"].as_str().unwrap_or_default();
    let workload = reference(scene.workload_of(pod));
    match reason {
        "ErrImagePull" | "ImagePullBackOff" | "InvalidImageName" => return Some(image_pull(scene, pod, spec, reason, message)),
        "CreateContainerConfigError" | "CreateContainerError" => {
            let sources = config::sources(pod, spec);
            if let Some(problem) = missing_reference(scene, pod, &sources, cname, reason) {
                return Some(problem);
            }
            let problem = pod_problem(scene, pod, "container-config", Severity::Error, workload, format!("container {cname} cannot be created: {message}"));
            return Some(problem.link(container_link(cname, reason).object, reason).evidence(Evidence::new(
                "state",
                pod_ref(pod),
                format!("{reason}: {message}"),
            )));
        }
        _ => {}
    }
    let last = &status["lastState"]["terminated"];
    let now_terminated = &status["state"]["terminated"];
    let ended = if last.is_object() { last } else { now_terminated };
    let restarts = status["restartCount"].as_i64().unwrap_or(0);
    let crashing = reason == "CrashLoopBackOff" || (ended["exitCode"].as_i64().unwrap_or(0) != 0 && (restarts > 0 || now_terminated.is_object()));
    if ended["reason"] == "OOMKilled" && (crashing || restarts > 0) {
        return Some(oom(scene, pod, spec, status, restarts));
    }
    if crashing {
        return Some(crash(scene, pod, spec, ended, restarts));
    }
    let running_unready = status["state"]["running"].is_object() && status["ready"] == false;
    if running_unready
        && spec["readinessProbe"].is_object()
        && let Some(event) = scene.event_text(pod, &["Unhealthy"])
    {
        let problem = pod_problem(scene, pod, "readiness-probe", Severity::Error, workload, format!("container {cname} never passes its readiness probe"));
        return Some(
            problem
                .link(format!("container {cname}"), "running, not ready")
                .evidence(Evidence::new("event", pod_ref(pod), event))
                .evidence(Evidence::new("field", format!("container {cname}"), format!("readinessProbe: {}", probe_text(&spec["readinessProbe"]))))
                .fix("check what the probe asks against what the app serves (path, port, timing); `kdeck exec` into the pod and call it"),
        );
    }
    None
}

fn probe_text(probe: &Value) -> String {
    let how = if let Some(get) = probe["httpGet"].as_object() {
        format!(
            "GET {} on port {}",
            get.get("path").and_then(Value::as_str).unwrap_or("/"),
            get.get("port").map(|p| p.to_string().trim_matches('"').to_string()).unwrap_or_default()
        )
    } else if probe["tcpSocket"].is_object() {
        format!("TCP port {}", probe["tcpSocket"]["port"].to_string().trim_matches('"'))
    } else if let Some(command) = probe["exec"]["command"].as_array() {
        format!("exec {}", command.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "))
    } else {
        "?".to_string()
    };
    let seconds = |k: &str, d: i64| probe[k].as_i64().unwrap_or(d);
    format!("{how}, every {}s, timeout {}s, {} failures", seconds("periodSeconds", 10), seconds("timeoutSeconds", 1), seconds("failureThreshold", 3))
}

fn image_pull(scene: &Scene, pod: &Value, spec: &Value, reason: &str, message: &str) -> Problem {
    let cname = spec["name"].as_str().unwrap_or_default();
    let image = spec["image"].as_str().unwrap_or_default();
    let event = scene.event_text(pod, &["Failed"]).unwrap_or_else(|| message.to_string());
    let text = format!("{message} {event}").to_ascii_lowercase();
    let has_pull_secret = pod["spec"]["imagePullSecrets"].as_array().is_some_and(|a| !a.is_empty());
    let (why, fix) = if ["unauthorized", "denied", "authentication required", "forbidden", "401", "403"].iter().any(|w| text.contains(w)) {
        let fix = match has_pull_secret {
            true => "the pod's imagePullSecrets do not grant access: check the registry credentials in them".to_string(),
            false => format!(
                "the registry needs credentials: kubectl -n {} create secret docker-registry regcred --docker-server=… and add imagePullSecrets: [{{name: regcred}}] to {}",
                namespace(pod),
                reference(scene.workload_of(pod))
            ),
        };
        ("the registry refused the pull (no access)", fix)
    } else if ["no such host", "i/o timeout", "connection refused", "dial tcp", "network is unreachable"].iter().any(|w| text.contains(w)) {
        ("the registry cannot be reached", "check the registry host in the image reference, and the node's network/DNS".to_string())
    } else if reason == "InvalidImageName" {
        ("the image reference is not valid", format!("fix the image of container {cname}"))
    } else {
        (
            "the image or its tag does not exist",
            format!("fix the tag or repository of container {cname} (kubectl -n {} set image {} {cname}=…)", namespace(pod), reference(scene.workload_of(pod))),
        )
    };
    let workload = reference(scene.workload_of(pod));
    pod_problem(scene, pod, "image-pull", Severity::Error, workload, format!("image {image:?} of container {cname} cannot be pulled: {why}"))
        .link(format!("container {cname}"), reason)
        .evidence(Evidence::new("event", pod_ref(pod), event))
        .fix(fix)
}

/// A ConfigMap, Secret or key the container reads that does not exist. When an
/// ExternalSecret is meant to write the missing Secret, the problem is the ExternalSecret's.
fn missing_reference(scene: &Scene, pod: &Value, sources: &[config::Source], cname: &str, reason: &str) -> Option<Problem> {
    let (source, key_missing) = config::missing(scene, pod, sources)?;
    let ns = namespace(pod);
    let object = format!("{}/{}", short_kind(source.kind), source.object);
    let reader = reference(scene.workload_of(pod));
    if source.kind == "Secret"
        && !key_missing
        && let Some(es) = external_secret_for(scene, ns, source.object)
    {
        let summary = format!("ExternalSecret {} has not written Secret {}, which container {cname} reads", name(es), source.object);
        let synced = es["status"]["conditions"].as_array().into_iter().flatten().find(|c| c["type"] == "Ready");
        let state = synced.and_then(|c| c["reason"].as_str()).unwrap_or("not synced yet");
        return Some(
            pod_problem(scene, pod, "externalsecret-error", Severity::Error, reference(es), summary)
                .link(format!("container {cname}"), reason)
                .link(object, "missing")
                .link(reference(es), state),
        );
    }
    let (rule, summary, fix) = match (key_missing, source.key) {
        (true, Some(key)) => (
            "missing-key",
            format!("{} {} has no key {key:?}, which container {cname} of {reader} reads", source.kind, source.object),
            format!("add {key} to {object} (kubectl -n {ns} edit {object}), or fix the key {reader} reads"),
        ),
        _ => (
            if source.kind == "Secret" { "missing-secret" } else { "missing-configmap" },
            format!("{} {} does not exist; container {cname} of {reader} reads it", source.kind, source.object),
            format!("create {object} in namespace {ns} (or fix the name {reader} reads)"),
        ),
    };
    let read_as = match (source.variable, source.key) {
        (Some(var), Some(key)) => format!("env {var} from key {key}"),
        _ => "all keys (envFrom or a volume)".to_string(),
    };
    Some(
        pod_problem(scene, pod, rule, Severity::Error, object.clone(), summary)
            .link(format!("container {cname}"), reason)
            .link(object.clone(), if key_missing { "key missing" } else { "missing" })
            .evidence(Evidence::new("field", format!("container {cname}"), format!("reads {object}: {read_as}")))
            .fix(fix),
    )
}

/// The ExternalSecret of the namespace whose target is the Secret `secret`.
fn external_secret_for<'a>(scene: &'a Scene, ns: &'a str, secret: &'a str) -> Option<&'a Value> {
    scene.in_namespace("external-secrets.io", "ExternalSecret", ns).find(|es| es["spec"]["target"]["name"].as_str().unwrap_or(name(es)) == secret)
}

/// ContainerCreating on a volume whose source does not exist (FailedMount).
fn mount(scene: &Scene, pod: &Value) -> Option<Problem> {
    let event = scene.event_text(pod, &["FailedMount"])?;
    for volume in pod["spec"]["volumes"].as_array().into_iter().flatten() {
        let (kind, object) = if let Some(n) = volume["configMap"]["name"].as_str() {
            ("ConfigMap", n)
        } else if let Some(n) = volume["secret"]["secretName"].as_str() {
            ("Secret", n)
        } else {
            continue;
        };
        let optional = volume["configMap"]["optional"] == true || volume["secret"]["optional"] == true;
        if optional || scene.get("", kind, namespace(pod), object).is_some() || scene.unreadable.iter().any(|u| u.starts_with(kind)) {
            continue;
        }
        let reference_text = format!("{}/{object}", short_kind(kind));
        let rule = if kind == "Secret" { "missing-secret" } else { "missing-configmap" };
        let summary = format!(
            "{kind} {object} does not exist; volume {} of {} mounts it",
            volume["name"].as_str().unwrap_or_default(),
            reference(scene.workload_of(pod))
        );
        return Some(
            pod_problem(scene, pod, rule, Severity::Error, reference_text.clone(), summary)
                .link(reference_text.clone(), "missing")
                .evidence(Evidence::new("event", pod_ref(pod), event))
                .fix(format!("create {reference_text} in namespace {}", namespace(pod))),
        );
    }
    None
}

fn oom(scene: &Scene, pod: &Value, spec: &Value, status: &Value, restarts: i64) -> Problem {
    let cname = spec["name"].as_str().unwrap_or_default();
    let limit = spec["resources"]["limits"]["memory"].as_str().unwrap_or("none");
    let workload = reference(scene.workload_of(pod));
    let mut problem =
        pod_problem(scene, pod, "oom-killed", Severity::Error, workload.clone(), format!("container {cname} is killed for memory (limit {limit})"))
            .link(format!("container {cname}"), format!("OOMKilled, exit 137, {restarts} restarts"))
            .evidence(Evidence::new("state", pod_ref(pod), format!("last state: terminated, reason OOMKilled, exit code 137; memory limit {limit}")));
    if let Some(usage) = super::usage::memory_evidence(scene, pod, spec, status) {
        problem = problem.evidence(usage);
    }
    problem.fix(format!(
        "raise the memory limit of container {cname} (kubectl -n {} set resources {workload} -c {cname} --limits=memory=…), or find what grows",
        namespace(pod)
    ))
}

fn crash(scene: &Scene, pod: &Value, spec: &Value, ended: &Value, restarts: i64) -> Problem {
    let ns = namespace(pod);
    let cname = spec["name"].as_str().unwrap_or_default();
    let workload = reference(scene.workload_of(pod));
    let exit = ended["exitCode"].as_i64().unwrap_or(0);
    let signal = ended["signal"].as_i64().map(|s| format!(", signal {s}")).unwrap_or_default();
    let lines = scene.logs.get(&(ns.to_string(), name(pod).to_string(), cname.to_string())).cloned().unwrap_or_default();
    let last_lines: Vec<&String> = lines.iter().rev().take(LOG_LINES).collect::<Vec<_>>().into_iter().rev().collect();
    let quoted = lines.last().map(|l| format!(": {:?}", l.trim())).unwrap_or_default();
    let container_state = format!("exit {exit}{signal}{quoted}");
    let killed_by_probe = exit == 137 && scene.event_text(pod, &["Killing", "Unhealthy"]).is_some_and(|e| e.to_ascii_lowercase().contains("liveness"));
    let mut problem = if killed_by_probe {
        pod_problem(
            scene,
            pod,
            "liveness-probe",
            Severity::Error,
            workload.clone(),
            format!("the liveness probe of container {cname} fails, and the kubelet kills it"),
        )
        .link(format!("container {cname}"), format!("killed by its liveness probe, {restarts} restarts"))
        .evidence(Evidence::new("field", format!("container {cname}"), format!("livenessProbe: {}", probe_text(&spec["livenessProbe"]))))
        .fix("make the probe match what the app serves, or give it time (initialDelaySeconds, failureThreshold)")
    } else if let Some(dependency) = config::localhost_dependency(scene, pod, spec) {
        let (root, place) = match dependency.kind {
            "" => (workload.clone(), format!("the env of container {cname}")),
            _ => (format!("configmap/{}", dependency.object), format!("ConfigMap {}", dependency.object)),
        };
        let target = format!("{}.{ns}:{}", dependency.service, dependency.port);
        let summary = format!(
            "container {cname} crash-loops because {place} sets {} to localhost, while the dependency is the Service {} ({target})",
            dependency.variable, dependency.service
        );
        let edit = match dependency.kind {
            "" => format!("kubectl -n {ns} set env {workload} -c {cname} {}=…{target}…", dependency.variable),
            _ => format!("kubectl -n {ns} edit configmap {}   # {}: point it at {target}", dependency.object, dependency.variable),
        };
        let mut p = pod_problem(scene, pod, "localhost-dependency", Severity::Error, root.clone(), summary)
            .link(format!("container {cname}"), container_state.clone())
            .evidence(Evidence::new("field", root.clone(), format!("{} = {}", dependency.variable, dependency.value)))
            .evidence(Evidence::new("field", format!("service/{}", dependency.service), format!("serves port {} in namespace {ns}", dependency.port)))
            .fix(edit)
            .fix(format!("kubectl -n {ns} rollout restart {workload}"));
        if root != workload {
            p = p.link(root, format!("{} points at localhost", dependency.variable));
        }
        p
    } else if let Some(unknown) = config::unknown_service(scene, pod, spec) {
        let (root, place) = match unknown.named.kind {
            "" => (workload.clone(), format!("the env of container {cname}")),
            _ => (format!("configmap/{}", unknown.named.object), format!("ConfigMap {}", unknown.named.object)),
        };
        let existing = if unknown.existing.is_empty() { "none".to_string() } else { unknown.existing.join(", ") };
        let summary = format!(
            "container {cname} crash-loops because {place} sets {} to Service {:?}, which does not exist in namespace {}",
            unknown.named.variable, unknown.named.service, unknown.named.namespace
        );
        let edit = match unknown.named.kind {
            "" => format!("kubectl -n {ns} set env {workload} -c {cname} {}=…", unknown.named.variable),
            _ => format!("kubectl -n {ns} edit configmap {}   # {}: name one of the Services: {existing}", unknown.named.object, unknown.named.variable),
        };
        let mut p = pod_problem(scene, pod, "unknown-service", Severity::Error, root.clone(), summary)
            .link(format!("container {cname}"), container_state.clone())
            .evidence(Evidence::new("field", root.clone(), format!("{} = {}", unknown.named.variable, unknown.named.value)))
            .evidence(Evidence::new("field", format!("namespace {}", unknown.named.namespace), format!("Services: {existing}")))
            .fix(edit)
            .fix(format!("kubectl -n {ns} rollout restart {workload}"));
        if root != workload {
            p = p.link(root, format!("{} names Service {}", unknown.named.variable, unknown.named.service));
        }
        p
    } else if let Some(blocked) = super::policies::blocked_dependency(scene, pod, spec) {
        super::policies::pod_client_problem(scene, pod, cname, &blocked, Some(&container_state))
    } else {
        let cause = match lines.last() {
            Some(line) => format!("exits with code {exit}{signal}: {:?}", line.trim()),
            None => format!("exits with code {exit}{signal} (no log lines)"),
        };
        // An init container that fails holds the whole pod before its containers start.
        let kind = if pod["spec"]["initContainers"].as_array().into_iter().flatten().any(|c| c["name"] == cname) { "init container" } else { "container" };
        pod_problem(scene, pod, "crash-loop", Severity::Error, workload.clone(), format!("{kind} {cname} crash-loops: it {cause}"))
            .link(format!("{kind} {cname}"), container_state.clone())
            .fix(format!("read the log above; kdeck logs -n {ns} {} -c {cname} -p shows the previous run", name(pod)))
    };
    for line in last_lines {
        problem = problem.evidence(Evidence::new("log", format!("{} {cname} (previous run)", pod_ref(pod)), line.trim()));
    }
    if let Some(event) = scene.event_text(pod, &["BackOff"]) {
        problem = problem.evidence(Evidence::new("event", pod_ref(pod), event));
    }
    problem
}

fn unschedulable(scene: &Scene, pod: &Value) -> Option<Problem> {
    let scheduled = condition(pod, "PodScheduled").filter(|c| c["status"] == "False" && c["reason"] == "Unschedulable")?;
    let message = scheduled["message"].as_str().unwrap_or_default();
    // A claim still binding (or one that never will) is the storage analyzer's story.
    if message.to_ascii_lowercase().contains("persistentvolumeclaim") {
        return None;
    }
    let workload = reference(scene.workload_of(pod));
    let lower = message.to_ascii_lowercase();
    let why = if lower.contains("insufficient cpu") {
        "no node has the CPU it requests"
    } else if lower.contains("insufficient memory") {
        "no node has the memory it requests"
    } else if lower.contains("were unschedulable") {
        "the nodes are cordoned (kubectl uncordon NODE once they may take pods again)"
    } else if lower.contains("taint") {
        "every node has a taint it does not tolerate"
    } else if lower.contains("affinity") || lower.contains("selector") {
        "no node matches its node selector or affinity"
    } else {
        "no node can take it"
    };
    let ns = namespace(pod);
    Some(
        pod_problem(scene, pod, "unschedulable", Severity::Error, workload.clone(), format!("{} cannot be scheduled: {why}", pod_ref(pod)))
            .evidence(Evidence::new("condition", pod_ref(pod), format!("PodScheduled=False Unschedulable: {message}")))
            .evidence(Evidence::new("field", workload.clone(), scheduling_fields(pod)))
            .fix(format!("lower the requests, or fix the nodeSelector/affinity/tolerations of {workload} (kubectl -n {ns} edit {workload}); nodes: kubectl get nodes --show-labels")),
    )
}

/// What the pod asks of a node: requests, node selector, tolerations.
fn scheduling_fields(pod: &Value) -> String {
    let mut parts = Vec::new();
    for c in pod["spec"]["containers"].as_array().into_iter().flatten() {
        if let Some(requests) = c["resources"]["requests"].as_object() {
            let text: Vec<String> = requests.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
            parts.push(format!("container {} requests {}", c["name"].as_str().unwrap_or_default(), text.join(",")));
        }
    }
    if let Some(selector) = pod["spec"]["nodeSelector"].as_object() {
        let text: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
        parts.push(format!("nodeSelector {}", text.join(",")));
    }
    if parts.is_empty() { "no requests or node selector".to_string() } else { parts.join("; ") }
}

/// A Failed pod outside a Job: evicted (grouped by node), stopped for its deadline,
/// or ended by a container that failed.
fn failed_pod(scene: &Scene, pod: &Value) -> Option<Problem> {
    let reason = pod["status"]["reason"].as_str().unwrap_or_default();
    let message = pod["status"]["message"].as_str().unwrap_or_default();
    let node = pod["spec"]["nodeName"].as_str().unwrap_or("?");
    let ns = namespace(pod);
    match reason {
        "Evicted" => Some(
            Problem::new(Severity::Warning, ns, "evicted", format!("node/{node}"), format!("pods were evicted from node {node}"))
                .affects(pod_ref(pod))
                .evidence(Evidence::new("state", pod_ref(pod), format!("Evicted: {message}")))
                .fix(format!("check the pressure on node {node}; kdeck cleanse-pods -n {ns} removes the evicted pods")),
        ),
        "DeadlineExceeded" => Some(deadline_exceeded(scene, pod, message)),
        _ => ended_with_error(scene, pod),
    }
}

/// A pod that ran to its end and failed (restartPolicy Never, or OnFailure past
/// nothing): the first container, init containers first, that exited non-zero.
fn ended_with_error(scene: &Scene, pod: &Value) -> Option<Problem> {
    let (spec, status) = containers(pod).into_iter().find(|(_, status)| status["state"]["terminated"]["exitCode"].as_i64().is_some_and(|c| c != 0))?;
    let ns = namespace(pod);
    let cname = spec["name"].as_str().unwrap_or_default();
    let ended = &status["state"]["terminated"];
    let exit = ended["exitCode"].as_i64().unwrap_or_default();
    let reason = ended["reason"].as_str().unwrap_or("Error");
    let kind = if pod["spec"]["initContainers"].as_array().into_iter().flatten().any(|c| c["name"] == cname) { "init container" } else { "container" };
    let lines = scene.logs.get(&(ns.to_string(), name(pod).to_string(), cname.to_string())).cloned().unwrap_or_default();
    let cause = match lines.last() {
        Some(line) => format!("exited with code {exit}: {:?}", line.trim()),
        None => format!("exited with code {exit} (no log lines)"),
    };
    let owner = scene.workload_of(pod);
    let root = reference(owner);
    let mut problem = pod_problem(scene, pod, "pod-failed", Severity::Error, root.clone(), format!("{} failed: its {kind} {cname} {cause}", pod_ref(pod)))
        .link(format!("{kind} {cname}"), format!("exit {exit} ({reason})"))
        .evidence(Evidence::new("state", pod_ref(pod), format!("Failed: {kind} {cname} terminated with exit code {exit}, reason {reason}")));
    for line in lines.iter().rev().take(LOG_LINES).collect::<Vec<_>>().into_iter().rev() {
        problem = problem.evidence(Evidence::new("log", format!("{} {cname}", pod_ref(pod)), line.trim()));
    }
    let again = match owner == pod {
        true => format!("then run it again: a pod that ended never restarts (kubectl -n {ns} delete pod {} and re-apply it)", name(pod)),
        false => format!("then let {root} replace it"),
    };
    Some(problem.fix(format!("read the log above (kdeck logs -n {ns} {} -c {cname}) and fix what it reports; {again}", name(pod))))
}

/// A pod the kubelet stopped at its `activeDeadlineSeconds`: its containers killed,
/// the pod Failed for good (a pod is never restarted once it ends).
fn deadline_exceeded(scene: &Scene, pod: &Value, message: &str) -> Problem {
    let ns = namespace(pod);
    let owner = scene.workload_of(pod);
    let root = reference(owner);
    let deadline = pod["spec"]["activeDeadlineSeconds"].as_i64().map_or("?".to_string(), |s| s.to_string());
    let started = crate::diagnose::scene::time(&pod["status"]["startTime"]);
    let ran = started.map(|t| format!(", started {} ago", crate::diagnose::scene::age(scene.now, t))).unwrap_or_default();
    let mut problem = pod_problem(
        scene,
        pod,
        "pod-deadline-exceeded",
        Severity::Error,
        root.clone(),
        format!("{} was stopped at its activeDeadlineSeconds ({deadline}s) before it finished", pod_ref(pod)),
    )
    .evidence(Evidence::new("state", pod_ref(pod), format!("Failed, reason DeadlineExceeded: {message}")))
    .evidence(Evidence::new("field", pod_ref(pod), format!("activeDeadlineSeconds: {deadline}{ran}")));
    for status in pod["status"]["containerStatuses"].as_array().into_iter().flatten() {
        let cname = status["name"].as_str().unwrap_or_default();
        let lines = scene.logs.get(&(ns.to_string(), name(pod).to_string(), cname.to_string())).cloned().unwrap_or_default();
        for line in lines.iter().rev().take(3).collect::<Vec<_>>().into_iter().rev() {
            problem = problem.evidence(Evidence::new("log", format!("{} {cname}", pod_ref(pod)), line.trim()));
        }
    }
    let recreate = match owner == pod {
        true => format!("then create the pod again (kubectl -n {ns} delete pod {} and re-apply it): a pod that ended never runs again", name(pod)),
        false => format!("then let {root} replace it"),
    };
    problem.fix(format!("make its work fit in the deadline, or raise spec.activeDeadlineSeconds; {recreate}"))
}

/// Being deleted for longer than its grace period and a minute more.
fn stuck_terminating(scene: &Scene, pod: &Value) -> Option<Problem> {
    let since = crate::diagnose::scene::time(&pod["metadata"]["deletionTimestamp"])?;
    let waited = scene.now.as_second() - since.as_second();
    if waited < 60 {
        return None;
    }
    let finalizers: Vec<&str> = pod["metadata"]["finalizers"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let why = if finalizers.is_empty() {
        "its node does not confirm it stopped".to_string()
    } else {
        format!("finalizers {} are not removed", finalizers.join(", "))
    };
    let ns = namespace(pod);
    Some(
        pod_problem(scene, pod, "stuck-terminating", Severity::Warning, pod_ref(pod), format!("{} has been terminating for {waited}s: {why}", pod_ref(pod)))
            .fix(format!("find what holds it; as a last resort: kubectl -n {ns} delete pod {} --grace-period=0 --force", name(pod))),
    )
}
