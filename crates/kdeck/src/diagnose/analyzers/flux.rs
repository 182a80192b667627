//! Flux HelmReleases and External Secrets: a release that is not Ready (install or
//! upgrade failed, retries exhausted, suspended), an ExternalSecret that cannot
//! sync — and the pods waiting for the Secret it should write.

use serde_json::Value;

use crate::diagnose::problem::{Evidence, Problem, Severity};
use crate::diagnose::scene::{Scene, name, namespace, reference};

pub fn analyze(scene: &Scene) -> Vec<Problem> {
    let mut out: Vec<Problem> = scene.all("helm.toolkit.fluxcd.io", "HelmRelease").filter_map(helm_release).collect();
    out.extend(scene.all("external-secrets.io", "ExternalSecret").filter_map(external_secret));
    out
}

fn ready(obj: &Value) -> Option<&Value> {
    obj["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == "Ready")
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
        .link(object.clone(), reason)
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
