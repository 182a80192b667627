//! Diagnosis: the root cause of what is broken, with the chain of objects from
//! what the user sees down to it, the evidence for each step and the fix —
//! deterministic, from the cluster's state alone.
//!
//! [`collect`] reads the scope (one LIST per kind, the logs of failed containers),
//! the [`analyzers`] turn the [`scene::Scene`] into [`problem::Problem`]s, grouped by
//! root cause, and every text is scrubbed by the [`crate::redact::Redactor`] before it
//! is shown. [`output`] writes text, JSON and SARIF.

pub mod analyzers;
pub mod chain;
pub mod collect;
pub mod explain;
pub mod output;
pub mod problem;
pub mod scene;
pub mod sources;

use std::collections::BTreeMap;

use output::Report;
use problem::Problem;

use kdeck_sandbox::rest::selector::LabelSelector;

use crate::cluster::Cluster;
use crate::error::{Error, Result};

pub struct Options {
    /// None: every namespace.
    pub namespace: Option<String>,
    /// `KIND/NAME` (kdeck's short kinds) the report is narrowed to.
    pub targets: Vec<String>,
    /// A label selector (as kubectl -l): only problems about an object with matching labels.
    pub selector: Option<String>,
    /// Events older than this are left out.
    pub since: Option<std::time::Duration>,
}

/// Kinds summed up in the "healthy" line.
const HEALTHY_KINDS: &[(&str, &str, &str)] = &[
    ("", "Pod", "pods"),
    ("apps", "Deployment", "deployments"),
    ("apps", "StatefulSet", "statefulsets"),
    ("apps", "DaemonSet", "daemonsets"),
    ("batch", "Job", "jobs"),
    ("", "Service", "services"),
    ("networking.k8s.io", "Ingress", "ingresses"),
    ("", "PersistentVolumeClaim", "claims"),
    ("helm.toolkit.fluxcd.io", "HelmRelease", "helmreleases"),
    ("external-secrets.io", "ExternalSecret", "externalsecrets"),
];

/// Diagnoses the scope. A target that does not exist is an error naming the
/// objects of its kind that do.
pub async fn diagnose(cluster: &Cluster, options: &Options) -> Result<Report> {
    let collected = collect::collect(cluster, options.namespace.as_deref(), options.since).await?;
    let scene = collected.scene;
    for target in &options.targets {
        check_target(&scene, target)?;
    }
    let selector = match &options.selector {
        Some(text) => Some(LabelSelector::parse(text).map_err(|e| Error::usage(format!("invalid label selector {text:?}: {e}")))?),
        None => None,
    };
    let problems = analyzers::run(&scene);
    let healthy = healthy(&scene, &problems);
    let problems: Vec<Problem> = problems
        .into_iter()
        .filter(|p| options.targets.is_empty() || options.targets.iter().any(|t| p.touches(&p.namespace, t)))
        .filter(|p| selector.as_ref().is_none_or(|s| labelled(&scene, p, s)))
        .map(|p| scrub(p, &collected.redactor))
        .collect();
    let report = Report {
        context: cluster.context.clone(),
        namespaces: scene.namespaces.clone(),
        problems,
        healthy,
        unreadable: scene.unreadable.clone(),
        notes: scene.notes.clone(),
        sources: None,
        explain_note: None,
        redactor: collected.redactor,
    };
    // Freeing tens of thousands of parsed objects one by one takes a fifth of a
    // large diagnosis: it happens beside the report, not before it (a command
    // that ends first does not wait for it).
    std::thread::spawn(move || drop(scene));
    Ok(report)
}

/// Whether an object the problem names (its root cause, a link, an affected object)
/// carries labels the selector matches.
fn labelled(scene: &scene::Scene, problem: &Problem, selector: &LabelSelector) -> bool {
    let objects = std::iter::once(&problem.root_cause.object).chain(problem.chain.iter().map(|l| &l.object)).chain(&problem.affected);
    objects.filter_map(|reference| reference.split_once('/')).any(|(short, name)| {
        let Some((group, kind)) = kind_of(short) else { return false };
        let namespace = if kind == "Node" { "" } else { problem.namespace.as_str() };
        scene.get(group, kind, namespace, name).is_some_and(|obj| {
            let labels: BTreeMap<String, String> =
                obj["metadata"]["labels"].as_object().into_iter().flatten().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect();
            selector.matches(&labels)
        })
    })
}

/// The (group, kind) of a short kind.
pub(crate) fn kind_of(short: &str) -> Option<(&'static str, &'static str)> {
    Some(match short {
        "deploy" => ("apps", "Deployment"),
        "sts" => ("apps", "StatefulSet"),
        "ds" => ("apps", "DaemonSet"),
        "pod" => ("", "Pod"),
        "service" => ("", "Service"),
        "ingress" => ("networking.k8s.io", "Ingress"),
        "configmap" => ("", "ConfigMap"),
        "secret" => ("", "Secret"),
        "pvc" => ("", "PersistentVolumeClaim"),
        "job" => ("batch", "Job"),
        "cronjob" => ("batch", "CronJob"),
        "helmrelease" => ("helm.toolkit.fluxcd.io", "HelmRelease"),
        "externalsecret" => ("external-secrets.io", "ExternalSecret"),
        "node" => ("", "Node"),
        "networkpolicy" => ("networking.k8s.io", "NetworkPolicy"),
        _ => return None,
    })
}

fn check_target(scene: &scene::Scene, target: &str) -> Result<()> {
    let Some((short, name)) = target.split_once('/') else { return Ok(()) };
    let Some((group, kind)) = kind_of(short) else { return Ok(()) };
    let namespaces: Vec<&str> = if kind == "Node" { vec![""] } else { scene.namespaces.iter().map(String::as_str).collect() };
    if namespaces.iter().any(|ns| scene.get(group, kind, ns, name).is_some()) {
        return Ok(());
    }
    let mut existing: Vec<&str> = namespaces.iter().flat_map(|ns| scene.in_namespace(group, kind, ns)).map(scene::name).collect();
    existing.sort_unstable();
    existing.dedup();
    let place = match scene.namespaces.as_slice() {
        [one] if kind != "Node" => format!(" in namespace {one}"),
        _ => String::new(),
    };
    let error = Error::not_found(format!("{kind} {name:?} not found{place}"));
    let error = match crate::project::suggest::nearest(name, existing.iter().copied()) {
        Some(near) => error.hint(format!("did you mean {short}/{near}?")),
        None => error,
    };
    existing.truncate(20);
    Err(match existing.is_empty() {
        true => error.hint(format!("there is no {kind} here")),
        false => error.hint(format!("{kind}s here: {}", existing.join(", "))),
    })
}

/// Objects no problem touches, by kind (whatever targets narrow the report to).
fn healthy(scene: &scene::Scene, problems: &[Problem]) -> BTreeMap<String, usize> {
    let touched: std::collections::HashSet<(&str, &str)> = problems
        .iter()
        .flat_map(|p| {
            let objects = std::iter::once(&p.root_cause.object).chain(p.chain.iter().map(|l| &l.object)).chain(&p.affected);
            objects.map(move |o| (p.namespace.as_str(), o.as_str()))
        })
        .collect();
    HEALTHY_KINDS
        .iter()
        .map(|(group, kind, label)| {
            let fine = scene.all(group, kind).filter(|obj| !touched.contains(&(scene::namespace(obj), scene::reference(obj).as_str()))).count();
            (label.to_string(), fine)
        })
        .collect()
}

/// Every text of the problem through the redactor.
fn scrub(mut problem: Problem, redactor: &crate::redact::Redactor) -> Problem {
    problem.root_cause.summary = redactor.scrub(&problem.root_cause.summary);
    for link in &mut problem.chain {
        link.state = redactor.scrub(&link.state);
    }
    for evidence in &mut problem.evidence {
        evidence.text = redactor.scrub(&evidence.text);
    }
    for fix in &mut problem.fix {
        *fix = redactor.scrub(fix);
    }
    problem
}

/// `deployment/api`, `svc/web`, `hr/gatus` → the short form problems use.
pub fn normalize_target(target: &str) -> Option<String> {
    let (kind, name) = target.split_once('/')?;
    let kind = match kind.to_ascii_lowercase().as_str() {
        "deploy" | "deployment" | "deployments" => "deploy",
        "sts" | "statefulset" | "statefulsets" => "sts",
        "ds" | "daemonset" | "daemonsets" => "ds",
        "po" | "pod" | "pods" => "pod",
        "svc" | "service" | "services" => "service",
        "ing" | "ingress" | "ingresses" => "ingress",
        "cm" | "configmap" | "configmaps" => "configmap",
        "secret" | "secrets" => "secret",
        "pvc" | "persistentvolumeclaim" | "persistentvolumeclaims" => "pvc",
        "job" | "jobs" => "job",
        "cj" | "cronjob" | "cronjobs" => "cronjob",
        "hr" | "helmrelease" | "helmreleases" => "helmrelease",
        "es" | "externalsecret" | "externalsecrets" => "externalsecret",
        "no" | "node" | "nodes" => "node",
        "netpol" | "networkpolicy" | "networkpolicies" => "networkpolicy",
        _ => return None,
    };
    (!name.is_empty()).then(|| format!("{kind}/{name}"))
}
