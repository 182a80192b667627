//! Flux HelmReleases and External Secrets: a release that is not Ready (install or
//! upgrade failed, retries exhausted, suspended), a release waiting on a `dependsOn`
//! that is not Ready (the dependency is the root cause, the waiting release one more
//! link of its chain), an ExternalSecret that cannot sync — and the pods waiting
//! for the Secret it should write.

use serde_json::Value;

use crate::diagnose::problem::{Evidence, Link, Problem, Severity};
use crate::diagnose::scene::{Scene, name, namespace, reference};

const GROUP: &str = "helm.toolkit.fluxcd.io";

pub fn analyze(scene: &Scene) -> Vec<Problem> {
    let mut out: Vec<Problem> = Vec::new();
    let mut waiting: Vec<(&Value, Vec<&Value>)> = Vec::new();
    for hr in scene.all(GROUP, "HelmRelease") {
        match waits_on(scene, hr) {
            Waits::No => out.extend(helm_release(hr)),
            Waits::On(path) => waiting.push((hr, path)),
            Waits::Missing(dependency) => out.push(missing_dependency(hr, &dependency)),
            // A dependency still installing, or out of sight: the release's own condition says it.
            Waits::Unknown => out.extend(helm_release(hr)),
            Waits::InProgress => {}
        }
    }
    for (hr, path) in waiting {
        attach_waiting(&mut out, hr, &path);
    }
    out.extend(scene.all("external-secrets.io", "ExternalSecret").filter_map(external_secret));
    out
}

fn ready(obj: &Value) -> Option<&Value> {
    obj["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == "Ready")
}

/// Ready as Flux's dependency check reads it: the Ready condition True for the
/// generation the controller has seen.
fn is_ready(hr: &Value) -> bool {
    hr["metadata"]["generation"] == hr["status"]["observedGeneration"] && ready(hr).is_some_and(|c| c["status"] == "True")
}

enum Waits<'a> {
    No,
    /// The dependencies from the release's down to the one that is not Ready for a
    /// reason of its own.
    On(Vec<&'a Value>),
    /// A dependency that does not exist: `namespace/name`.
    Missing(String),
    /// A dependency not Ready yet because it is still being reconciled.
    InProgress,
    Unknown,
}

/// Whether the release is held by a `dependsOn` (Flux's `DependencyNotReady`), and by which.
fn waits_on<'a>(scene: &'a Scene, hr: &'a Value) -> Waits<'a> {
    let mut path: Vec<&Value> = Vec::new();
    let mut current = hr;
    loop {
        if ready(current).is_none_or(|c| c["status"] != "False" || c["reason"] != "DependencyNotReady") {
            return match path.last() {
                None => Waits::No,
                Some(last) if ready(last).is_some_and(|c| c["status"] == "False") || last["spec"]["suspend"] == true => Waits::On(path),
                Some(_) => Waits::InProgress,
            };
        }
        let next = current["spec"]["dependsOn"].as_array().into_iter().flatten().find_map(|d| {
            let dep_name = d["name"].as_str()?;
            let dep_ns = d["namespace"].as_str().filter(|n| !n.is_empty()).unwrap_or(namespace(current));
            if !scene.namespaces.iter().any(|n| n == dep_ns) || scene.unreadable.iter().any(|u| u.starts_with("HelmRelease")) {
                return Some(Err(Waits::Unknown));
            }
            match scene.get(GROUP, "HelmRelease", dep_ns, dep_name) {
                None => Some(Err(Waits::Missing(format!("{dep_ns}/{dep_name}")))),
                Some(dep) if !is_ready(dep) => Some(Ok(dep)),
                Some(_) => None,
            }
        });
        match next {
            // Every dependency Ready again: Flux has not looked since, and will.
            None => return Waits::InProgress,
            Some(Err(waits)) => return if path.is_empty() { waits } else { Waits::On(path) },
            Some(Ok(dep)) if path.iter().any(|p| std::ptr::eq(*p, dep)) || std::ptr::eq(dep, hr) => return Waits::Unknown, // a cycle
            Some(Ok(dep)) => {
                path.push(dep);
                current = dep;
            }
        }
    }
}

/// Puts a waiting release in front of the chain of the problem its last dependency
/// is the root of (a suspended or failed release): one problem, not two.
fn attach_waiting(out: &mut [Problem], hr: &Value, path: &[&Value]) {
    let Some(root) = path.last() else { return };
    let Some(problem) = out.iter_mut().find(|p| p.namespace == namespace(root) && p.root_cause.object == reference(root)) else { return };
    let links: Vec<Link> = std::iter::once(hr)
        .chain(path[..path.len() - 1].iter().copied())
        .map(|waiting| Link { object: reference(waiting), state: waiting_state(waiting) })
        .collect();
    // The chain from the release furthest up is kept (the first of equals).
    let in_front = problem.chain.iter().position(|l| l.object == reference(root)).unwrap_or(0);
    if links.len() > in_front {
        problem.chain = links.into_iter().chain(problem.chain.drain(in_front..)).collect();
    }
    problem.severity = Severity::Error;
    let message = ready(hr).and_then(|c| c["message"].as_str()).unwrap_or_default();
    problem.affected.push(reference(hr));
    problem.evidence.push(Evidence::new("condition", reference(hr), format!("Ready=False DependencyNotReady: {message}")));
    problem.fix.push(format!(
        "helmrelease/{} (namespace {}) follows on its own once {} is Ready: Flux checks a release's dependencies again every few seconds",
        name(hr),
        namespace(hr),
        name(root)
    ));
}

/// "DependencyNotReady, dependsOn helmrelease/db".
fn waiting_state(hr: &Value) -> String {
    let deps: Vec<String> =
        hr["spec"]["dependsOn"].as_array().into_iter().flatten().filter_map(|d| d["name"].as_str().map(|n| format!("helmrelease/{n}"))).collect();
    format!("DependencyNotReady, dependsOn {}", deps.join(", "))
}

fn missing_dependency(hr: &Value, dependency: &str) -> Problem {
    let ns = namespace(hr);
    let object = reference(hr);
    Problem::new(
        Severity::Error,
        ns,
        "helmrelease-failed",
        object.clone(),
        format!("HelmRelease {} waits for dependency {dependency}, which does not exist", name(hr)),
    )
    .link(object.clone(), format!("DependencyNotReady, dependsOn {dependency} (missing)"))
    .evidence(Evidence::new(
        "condition",
        object.clone(),
        format!("Ready=False DependencyNotReady: {}", ready(hr).and_then(|c| c["message"].as_str()).unwrap_or_default()),
    ))
    .evidence(Evidence::new("field", object, format!("dependsOn {dependency}")))
    .fix(format!("create HelmRelease {dependency}, or remove it from spec.dependsOn (kubectl -n {ns} edit helmrelease {})", name(hr)))
}

fn helm_release(hr: &Value) -> Option<Problem> {
    let ns = namespace(hr);
    let object = format!("helmrelease/{}", name(hr));
    if hr["spec"]["suspend"] == true {
        return Some(
            Problem::new(
                Severity::Warning,
                ns,
                "helmrelease-suspended",
                object.clone(),
                format!("HelmRelease {} is suspended: Flux does not reconcile it", name(hr)),
            )
            .link(object, "suspended")
            .fix(format!("kdeck hr-restart {} -n {ns} resumes and reconciles it", name(hr))),
        );
    }
    let condition = ready(hr).filter(|c| c["status"] == "False")?;
    let reason = condition["reason"].as_str().unwrap_or_default();
    let message = condition["message"].as_str().unwrap_or_default();
    let exhausted = ["InstallFailed", "UpgradeFailed", "RetriesExceeded"].contains(&reason)
        || hr["status"]["conditions"].as_array().into_iter().flatten().any(|c| c["type"] == "Stalled" && c["status"] == "True");
    let fix = match exhausted {
        true => format!("fix the cause in the chart or values, then: kdeck hr-restart {} -n {ns} --reset (Flux stopped retrying)", name(hr)),
        false => format!("fix the cause, then: kdeck hr-restart {} -n {ns}", name(hr)),
    };
    let mut problem = Problem::new(Severity::Error, ns, "helmrelease-failed", object.clone(), format!("HelmRelease {} is not Ready: {reason}", name(hr)))
        .link(object.clone(), format!("not Ready: {reason}"))
        .evidence(Evidence::new("condition", object, format!("Ready=False {reason}: {message}")))
        .fix(fix);
    for dependency in hr["spec"]["dependsOn"].as_array().into_iter().flatten() {
        if let Some(dep) = dependency["name"].as_str() {
            problem = problem.evidence(Evidence::new("field", format!("helmrelease/{}", name(hr)), format!("dependsOn {dep}")));
        }
    }
    Some(problem)
}

fn external_secret(es: &Value) -> Option<Problem> {
    let condition = ready(es).filter(|c| c["status"] == "False")?;
    let ns = namespace(es);
    let object = reference(es);
    let reason = condition["reason"].as_str().unwrap_or_default();
    let message = condition["message"].as_str().unwrap_or_default();
    let target = es["spec"]["target"]["name"].as_str().unwrap_or(name(es));
    let store = &es["spec"]["secretStoreRef"];
    Some(
        Problem::new(Severity::Error, ns, "externalsecret-error", object.clone(), format!("ExternalSecret {} cannot sync Secret {target}: {reason}", name(es)))
            .link(object.clone(), reason)
            .evidence(Evidence::new("condition", object.clone(), format!("Ready=False {reason}: {message}")))
            .evidence(Evidence::new(
                "field",
                object,
                format!("store {} {}", store["kind"].as_str().unwrap_or("SecretStore"), store["name"].as_str().unwrap_or_default()),
            ))
            .fix(format!("fix the key or the store it names, then: kdeck sync-secrets {} -n {ns} --wait", name(es))),
    )
}
