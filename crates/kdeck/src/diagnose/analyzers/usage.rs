//! What containers use, from one read of `metrics.k8s.io` (the way `kdeck rightsize`
//! reads it): memory near its limit (a kill for memory ahead), CPU at its limit
//! (throttled), and requests far from usage — each against the container's own
//! requests and limits.
//!
//! `metrics.k8s.io` keeps no history, so one read is one sample: memory is said to
//! grow only on evidence the cluster keeps — the same container was killed for
//! memory before (its last run's length is the pace it reached the limit at).
//! Without metrics nothing here runs, and the report says so once.

use serde_json::Value;

use super::pods::pod_problem;
use crate::ai::rightsize::quantity;
use crate::diagnose::chain::pod_ref;
use crate::diagnose::problem::{Evidence, Problem, Severity};
use crate::diagnose::scene::{Scene, name, namespace, reference, time};

/// Memory at or above this share of its limit is near it.
const MEMORY_NEAR_LIMIT: f64 = 0.9;
/// CPU at or above this share of its limit is throttled.
const CPU_AT_LIMIT: f64 = 0.9;
/// A request this many times the usage is far above it: CPU (idle moments are
/// common, so only a wide gap counts) and memory (steadier).
const CPU_OVER_REQUEST: f64 = 10.0;
const MEMORY_OVER_REQUEST: f64 = 4.0;
/// Usage this many times the request is far above it.
const UNDER_REQUEST: f64 = 2.0;
/// Requests this small are not worth a warning when unused (cores, bytes).
const MIN_CPU_REQUEST: f64 = 0.1;
const MIN_MEMORY_REQUEST: f64 = 128.0 * MIB;
/// Usage this small above a small request is not worth one either.
const MIN_CPU_USAGE: f64 = 0.05;
const MIN_MEMORY_USAGE: f64 = 64.0 * MIB;

const MIB: f64 = 1024.0 * 1024.0;

pub fn analyze(scene: &Scene) -> Vec<Problem> {
    let Some(usage) = &scene.usage else { return Vec::new() };
    let mut out = Vec::new();
    for pod in scene.all("", "Pod").filter(|p| p["status"]["phase"] == "Running") {
        let Some(containers) = usage.get(&(namespace(pod).to_string(), name(pod).to_string())) else { continue };
        for spec in pod["spec"]["containers"].as_array().into_iter().flatten() {
            let cname = spec["name"].as_str().unwrap_or_default();
            let Some(&(cpu, memory)) = containers.get(cname) else { continue };
            let status = container_status(pod, cname);
            out.extend(memory_near_limit(scene, pod, spec, status, memory));
            out.extend(cpu_throttled(scene, pod, spec, cpu));
            out.extend(requests_far(scene, pod, spec, status, cpu, memory));
        }
    }
    out
}

fn container_status<'a>(pod: &'a Value, container: &str) -> &'a Value {
    pod["status"]["containerStatuses"].as_array().into_iter().flatten().find(|s| s["name"] == container).unwrap_or(&Value::Null)
}

/// A resource of a container's requests or limits, as a number (cores or bytes).
fn resource(spec: &Value, section: &str, what: &str) -> Option<f64> {
    let value = &spec["resources"][section][what];
    value.as_str().and_then(quantity).or_else(|| value.as_f64()).filter(|q| *q > 0.0)
}

/// The memory evidence of a container: what it uses of its limit now and how long
/// into its run, and — when its last run was killed for memory — how long that run
/// took to reach the limit and when this one will, at that pace. None without metrics.
pub fn memory_evidence(scene: &Scene, pod: &Value, spec: &Value, status: &Value) -> Option<Evidence> {
    let usage = scene.usage.as_ref()?;
    let cname = spec["name"].as_str().unwrap_or_default();
    let object = format!("{} {cname}", pod_ref(pod));
    let last_run = killed_for_memory_after(status);
    let Some(&(_, memory)) = usage.get(&(namespace(pod).to_string(), name(pod).to_string())).and_then(|c| c.get(cname)) else {
        let last = last_run.map(|d| format!("; its last run was killed at the limit after {}", span(d))).unwrap_or_default();
        return Some(Evidence::new("usage", object, format!("not running now, so metrics.k8s.io has no usage for it{last}")));
    };
    let limit = resource(spec, "limits", "memory");
    let share = limit.map(|l| format!(" of its {} limit ({:.0} %)", mib(l), memory / l * 100.0)).unwrap_or_else(|| " (no limit)".to_string());
    let running = time(&status["state"]["running"]["startedAt"]).map(|t| scene.now.as_second() - t.as_second());
    let into = running.map(|t| format!(", {} into this run", span(t))).unwrap_or_default();
    let mut text = format!("memory {}{share}{into}", mib(memory));
    match last_run {
        Some(last_run) => {
            text.push_str(&format!("; its last run was killed at the limit after {}", span(last_run)));
            if let (Some(limit), Some(t)) = (limit, running)
                && last_run > t
            {
                let per_minute = (limit - memory).max(0.0) / (last_run - t) as f64 * 60.0;
                text.push_str(&format!(": at that pace (about {}/min) the next kill comes in about {}", mib(per_minute), span(last_run - t)));
            }
        }
        None => text.push_str("; one sample: metrics.k8s.io keeps no history, so whether it grows is not known"),
    }
    Some(Evidence::new("usage", object, text))
}

/// How long the container's last run lasted when it ended killed for memory.
fn killed_for_memory_after(status: &Value) -> Option<i64> {
    let last = &status["lastState"]["terminated"];
    if last["reason"] != "OOMKilled" {
        return None;
    }
    let (started, finished) = (time(&last["startedAt"])?, time(&last["finishedAt"])?);
    Some((finished.as_second() - started.as_second()).max(0))
}

/// Memory at 90 % of its limit or more: killed for memory at the limit. A container
/// killed for memory before is that story again (`oom-killed`, an error); otherwise
/// a warning.
fn memory_near_limit(scene: &Scene, pod: &Value, spec: &Value, status: &Value, memory: f64) -> Option<Problem> {
    let limit = resource(spec, "limits", "memory")?;
    if memory < limit * MEMORY_NEAR_LIMIT {
        return None;
    }
    let ns = namespace(pod);
    let cname = spec["name"].as_str().unwrap_or_default();
    let workload = reference(scene.workload_of(pod));
    let share = format!("{} of its {} memory limit ({:.0} %)", mib(memory), mib(limit), memory / limit * 100.0);
    let raise =
        format!("raise the memory limit of container {cname} (kubectl -n {ns} set resources {workload} -c {cname} --limits=memory=…), or find what grows");
    let (rule, severity, summary, state) = match killed_for_memory_after(status) {
        Some(_) => (
            "oom-killed",
            Severity::Error,
            format!("container {cname} was killed for memory and uses {share} again"),
            "killed for memory before, near the limit again",
        ),
        None => {
            ("memory-near-limit", Severity::Warning, format!("container {cname} uses {share}: at the limit it is killed for memory"), "near its memory limit")
        }
    };
    let mut problem = pod_problem(scene, pod, rule, severity, workload.clone(), summary)
        .link(format!("container {cname}"), state)
        .evidence(memory_evidence(scene, pod, spec, status)?)
        .fix(raise);
    if rightsizable(&workload) {
        problem = problem.fix(format!("kdeck rightsize {workload} -n {ns} --window 15m suggests a limit from what it uses"));
    }
    Some(problem)
}

/// CPU at 90 % of its limit or more: the kernel throttles it there.
fn cpu_throttled(scene: &Scene, pod: &Value, spec: &Value, cpu: f64) -> Option<Problem> {
    let limit = resource(spec, "limits", "cpu")?;
    if cpu < limit * CPU_AT_LIMIT {
        return None;
    }
    let ns = namespace(pod);
    let cname = spec["name"].as_str().unwrap_or_default();
    let workload = reference(scene.workload_of(pod));
    let mut problem = pod_problem(
        scene,
        pod,
        "cpu-throttled",
        Severity::Warning,
        workload.clone(),
        format!("container {cname} uses {} of its {} CPU limit: it is throttled, and slows down", millicores(cpu), millicores(limit)),
    )
    .link(format!("container {cname}"), "at its CPU limit")
    .evidence(Evidence::new(
        "usage",
        format!("{} {cname}", pod_ref(pod)),
        format!("cpu {} of its {} limit ({:.0} %){}", millicores(cpu), millicores(limit), cpu / limit * 100.0, request_text(spec, "cpu", millicores)),
    ))
    .fix(format!("raise or remove the CPU limit of container {cname} (kubectl -n {ns} set resources {workload} -c {cname} --limits=cpu=…)"));
    if rightsizable(&workload) {
        problem = problem.fix(format!("kdeck rightsize {workload} -n {ns} --window 15m shows what it needs"));
    }
    Some(problem)
}

/// Requests far from what the container uses: far above (reserved for nothing) or
/// far below (the scheduler packs it too tight; memory above its request makes it
/// among the first evicted). Only for workloads `kdeck rightsize` sizes, and only
/// for ready containers (a starting or failing one uses what it uses).
fn requests_far(scene: &Scene, pod: &Value, spec: &Value, status: &Value, cpu: f64, memory: f64) -> Option<Problem> {
    let workload = reference(scene.workload_of(pod));
    if !rightsizable(&workload) || status["ready"] != true {
        return None;
    }
    let mut gaps = Vec::new();
    if let Some(request) = resource(spec, "requests", "cpu") {
        if request >= MIN_CPU_REQUEST && cpu * CPU_OVER_REQUEST <= request {
            gaps.push(format!("cpu: requests {}, uses {}", millicores(request), millicores(cpu)));
        } else if cpu >= MIN_CPU_USAGE && cpu >= request * UNDER_REQUEST {
            gaps.push(format!("cpu: uses {}, {:.1}× its request of {}", millicores(cpu), cpu / request, millicores(request)));
        }
    }
    if let Some(request) = resource(spec, "requests", "memory") {
        if request >= MIN_MEMORY_REQUEST && memory * MEMORY_OVER_REQUEST <= request {
            gaps.push(format!("memory: requests {}, uses {}", mib(request), mib(memory)));
        } else if memory >= MIN_MEMORY_USAGE && memory >= request * UNDER_REQUEST {
            gaps.push(format!("memory: uses {}, {:.1}× its request of {}", mib(memory), memory / request, mib(request)));
        }
    }
    if gaps.is_empty() {
        return None;
    }
    let ns = namespace(pod);
    let cname = spec["name"].as_str().unwrap_or_default();
    Some(
        pod_problem(
            scene,
            pod,
            "requests-far-from-usage",
            Severity::Warning,
            workload.clone(),
            format!("the requests of container {cname} are far from what it uses ({})", gaps.join("; ")),
        )
        .link(format!("container {cname}"), "requests far from usage")
        .evidence(Evidence::new("usage", format!("{} {cname}", pod_ref(pod)), format!("{} (one sample of metrics.k8s.io)", gaps.join("; "))))
        .fix(format!("kdeck rightsize {workload} -n {ns} --window 1h samples its usage and suggests requests (--apply sets them)")),
    )
}

/// `; request 250m` when the container requests the resource.
fn request_text(spec: &Value, what: &str, show: fn(f64) -> String) -> String {
    resource(spec, "requests", what).map(|r| format!("; request {}", show(r))).unwrap_or_default()
}

/// The workloads `kdeck rightsize` sizes.
fn rightsizable(workload: &str) -> bool {
    ["deploy/", "sts/", "ds/"].iter().any(|k| workload.starts_with(k))
}

fn mib(bytes: f64) -> String {
    format!("{:.0}Mi", bytes / MIB)
}

fn millicores(cores: f64) -> String {
    format!("{:.0}m", cores * 1000.0)
}

/// "45s", "3m20s", "2h5m": a length of time.
fn span(seconds: i64) -> String {
    let s = seconds.max(0);
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_quantities_read_as_people_write_them() {
        assert_eq!(span(45), "45s");
        assert_eq!(span(200), "3m20s");
        assert_eq!(span(180), "3m");
        assert_eq!(span(7500), "2h5m");
        assert_eq!(mib(118.0 * MIB), "118Mi");
        assert_eq!(millicores(0.4999), "500m");
    }

    #[test]
    fn a_last_run_killed_for_memory_gives_its_length() {
        let status = serde_json::json!({"lastState": {"terminated": {"reason": "OOMKilled", "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:05:30Z"}}});
        assert_eq!(killed_for_memory_after(&status), Some(330));
        let status =
            serde_json::json!({"lastState": {"terminated": {"reason": "Error", "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:05:30Z"}}});
        assert_eq!(killed_for_memory_after(&status), None);
    }
}
