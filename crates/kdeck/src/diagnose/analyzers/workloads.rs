//! Workloads, Jobs and nodes: a Job that failed (with its failed pods' last log
//! lines), a CronJob that missed its schedule, a rollout that stopped progressing
//! for no pod-level reason found, a node that is not Ready or under pressure.

use serde_json::Value;

use crate::diagnose::chain;
use crate::diagnose::problem::{Evidence, Problem, Severity};
use crate::diagnose::scene::{Scene, name, namespace, reference};
use crate::stack::readiness::{self, Verdict};

pub fn analyze(scene: &Scene) -> Vec<Problem> {
    let mut out: Vec<Problem> = scene.all("batch", "Job").filter_map(|job| job_failed(scene, job)).collect();
    out.extend(scene.all("batch", "CronJob").filter_map(|cj| cronjob_missed(scene, cj)));
    out.extend(scene.objects.list("", "Node", "").filter_map(node));
    out
}

fn condition<'a>(obj: &'a Value, kind: &str) -> Option<&'a Value> {
    obj["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == kind && c["status"] == "True")
}

fn job_failed(scene: &Scene, job: &Value) -> Option<Problem> {
    let failed = condition(job, "Failed")?;
    let ns = namespace(job);
    let reason = failed["reason"].as_str().unwrap_or("Failed");
    let message = failed["message"].as_str().unwrap_or_default();
    let owner = scene.workload_of(job);
    let mut problem = Problem::new(Severity::Error, ns, "job-failed", reference(job), format!("Job {} failed: {reason}", name(job))).evidence(Evidence::new(
        "condition",
        reference(job),
        format!("Failed=True {reason}: {message}"),
    ));
    if owner != job {
        problem = problem.link(reference(owner), "its last run failed").affects(reference(owner));
    }
    problem = problem.link(reference(job), format!("{reason}, {} failed pods", job["status"]["failed"].as_i64().unwrap_or(0)));
    let pods: Vec<&Value> = scene.in_namespace("", "Pod", ns).filter(|p| scene.workload_of(p)["metadata"]["uid"] == job["metadata"]["uid"]).collect();
    if let Some(pod) = pods.iter().rfind(|p| p["status"]["phase"] == "Failed") {
        for status in pod["status"]["containerStatuses"].as_array().into_iter().flatten() {
            let terminated = &status["state"]["terminated"];
            let container = status["name"].as_str().unwrap_or_default();
            if terminated["exitCode"].as_i64().unwrap_or(0) == 0 {
                continue;
            }
            problem = problem.link(chain::pod_ref(pod), "Failed").link(format!("container {container}"), format!("exit {}", terminated["exitCode"]));
            let lines = scene.logs.get(&(ns.to_string(), name(pod).to_string(), container.to_string())).cloned().unwrap_or_default();
            for line in lines.iter().rev().take(5).collect::<Vec<_>>().into_iter().rev() {
                problem = problem.evidence(Evidence::new("log", format!("{} {container}", chain::pod_ref(pod)), line.trim()));
            }
            break;
        }
    }
    let fix = match reason {
        "DeadlineExceeded" => "the Job ran past activeDeadlineSeconds: make it faster or raise the deadline".to_string(),
        _ => format!("read the failed pod's log (kdeck logs -n {ns} job/{} ), fix the cause, then delete the Job to run it again", name(job)),
    };
    Some(problem.fix(fix))
}

/// How long after a firing time a CronJob's Job may take to appear (the controller
/// looks every 10 s; a busy one later).
const CRON_SLACK_SECONDS: i64 = 90;

/// A CronJob (not suspended) whose schedule fired since its last run, and longer ago
/// than the controller needs, without a new Job: under `concurrencyPolicy: Forbid`,
/// because a Job of an earlier run still runs; otherwise for the reason its events
/// give. Schedules with a time zone other than UTC are not judged.
fn cronjob_missed(scene: &Scene, cj: &Value) -> Option<Problem> {
    let spec = &cj["spec"];
    if spec["suspend"] == true || spec["timeZone"].as_str().is_some_and(|z| !matches!(z, "UTC" | "Etc/UTC")) {
        return None;
    }
    let schedule = kdeck_sandbox::cron::Schedule::parse(spec["schedule"].as_str()?).ok()?;
    let now = scene.now.as_second();
    let last = crate::diagnose::scene::time(&cj["status"]["lastScheduleTime"]);
    let since = last.or_else(|| crate::diagnose::scene::time(&cj["metadata"]["creationTimestamp"]))?.as_second();
    let due = schedule.last_between(since, now - CRON_SLACK_SECONDS)?;
    let ns = namespace(cj);
    let object = reference(cj);
    let missed = k8s_openapi::jiff::Timestamp::from_second(due).ok()?;
    let ran = match last {
        Some(t) => format!("last ran {} ago", crate::diagnose::scene::age(scene.now, t)),
        None => "has never run".to_string(),
    };
    let summary_tail =
        format!("missed its run of {} ({} ago) and {ran}", missed.strftime("%Y-%m-%d %H:%M UTC"), crate::diagnose::scene::age(scene.now, missed));
    let mut evidence = vec![Evidence::new(
        "field",
        object.clone(),
        format!("schedule {:?}, concurrencyPolicy {}", spec["schedule"].as_str().unwrap_or_default(), spec["concurrencyPolicy"].as_str().unwrap_or("Allow")),
    )];
    if let Some(event) = scene.event_text(cj, &["JobAlreadyActive", "MissSchedule", "FailedCreate", "UnparseableSchedule", "FailedNeedsStart"]) {
        evidence.push(Evidence::new("event", object.clone(), event));
    }
    let stuck = cj["status"]["active"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| scene.get("batch", "Job", ns, r["name"].as_str().unwrap_or_default()))
        .min_by_key(|job| job["metadata"]["creationTimestamp"].as_str().unwrap_or_default().to_string());
    let mut problem = match stuck.filter(|_| spec["concurrencyPolicy"] == "Forbid") {
        Some(job) => {
            let started = crate::diagnose::scene::time(&job["status"]["startTime"])
                .map(|t| format!(", running for {}", crate::diagnose::scene::age(scene.now, t)))
                .unwrap_or_default();
            let mut p = Problem::new(
                Severity::Error,
                ns,
                "cronjob-missed",
                reference(job),
                format!("{object} {summary_tail}: its Job {} still runs and concurrencyPolicy is Forbid", name(job)),
            )
            .affects(object.clone())
            .link(object.clone(), "no new run while a Job is active (Forbid)")
            .link(reference(job), format!("still active{started}"));
            p = p.fix(format!(
                "find why job/{} does not finish (kdeck diagnose job/{} -n {ns}); delete it to let the next run start (kubectl -n {ns} delete job {}), and give the template an activeDeadlineSeconds",
                name(job),
                name(job),
                name(job)
            ));
            p
        }
        None => Problem::new(Severity::Warning, ns, "cronjob-missed", object.clone(), format!("{object} {summary_tail}")).fix(format!(
            "kubectl -n {ns} describe cronjob {} shows the controller's reason; a CronJob that must catch up needs startingDeadlineSeconds large enough",
            name(cj)
        )),
    };
    for e in evidence {
        problem = problem.evidence(e);
    }
    Some(problem)
}

/// Workloads whose readiness rule says Failed while no pod-level problem explains
/// them (a rollout past its progress deadline, say): the rule's own reason.
pub fn unexplained(scene: &Scene, found: &[Problem]) -> Vec<Problem> {
    let mut out = Vec::new();
    for kind in ["Deployment", "StatefulSet", "DaemonSet"] {
        for workload in scene.all("apps", kind) {
            let ns = namespace(workload);
            let object = reference(workload);
            if found.iter().any(|p| p.touches(ns, &object)) {
                continue;
            }
            if let Verdict::Failed { reason } = readiness::judge(workload, &scene.objects, scene.now) {
                let mut problem = Problem::new(Severity::Error, ns, "rollout-stuck", object.clone(), format!("{} is not available: {reason}", object))
                    .evidence(Evidence::new("state", object.clone(), reason))
                    .fix(format!("kubectl -n {ns} describe {object}; kdeck diagnose {object} -n {ns} once its pods exist"));
                problem.chain = chain::above_workload(scene, workload);
                out.push(problem);
            }
        }
    }
    out
}

fn node(node: &Value) -> Option<Problem> {
    let conditions = node["status"]["conditions"].as_array()?;
    let ready = conditions.iter().find(|c| c["type"] == "Ready");
    let object = reference(node);
    if ready.is_some_and(|c| c["status"] != "True") {
        let c = ready?;
        return Some(
            Problem::new(Severity::Error, "", "node-not-ready", object.clone(), format!("node {} is not Ready", name(node)))
                .evidence(Evidence::new(
                    "condition",
                    object,
                    format!(
                        "Ready={} {}: {}",
                        c["status"].as_str().unwrap_or_default(),
                        c["reason"].as_str().unwrap_or_default(),
                        c["message"].as_str().unwrap_or_default()
                    ),
                ))
                .fix("check the kubelet and the container runtime on the node"),
        );
    }
    let pressure: Vec<&str> = conditions
        .iter()
        .filter(|c| c["status"] == "True" && c["type"].as_str().is_some_and(|t| t.ends_with("Pressure")))
        .filter_map(|c| c["type"].as_str())
        .collect();
    (!pressure.is_empty()).then(|| {
        Problem::new(Severity::Warning, "", "node-pressure", object.clone(), format!("node {} is under {}", name(node), pressure.join(", ")))
            .evidence(Evidence::new("condition", object, pressure.iter().map(|p| format!("{p}=True")).collect::<Vec<_>>().join(", ")))
            .fix("free or add capacity; pods are evicted while the pressure lasts")
    })
}
