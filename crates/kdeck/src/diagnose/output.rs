//! The report as text (one block per problem, root cause first), JSON (a stable
//! shape) and SARIF 2.1.0 (one result per problem, located by namespace/kind/name).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use super::problem::{Problem, Severity};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub context: String,
    /// The namespaces looked at.
    pub namespaces: Vec<String>,
    pub problems: Vec<Problem>,
    /// Objects no problem touches, by kind.
    pub healthy: BTreeMap<String, usize>,
    /// What could not be read: the diagnosis may be incomplete there.
    pub unreadable: Vec<String>,
    /// What was not looked at and why, without being an error (no metrics.k8s.io).
    pub notes: Vec<String>,
    /// Where the root objects come from in the project's stack, once [`Report::locate`] looked.
    #[serde(skip)]
    pub sources: Option<super::sources::Sources>,
    /// What `--explain` could not do, if anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain_note: Option<String>,
    /// The Secret values of the scope, for scrubbing what a model answers.
    #[serde(skip)]
    pub redactor: crate::redact::Redactor,
}

impl Report {
    /// Has the model word each problem (`--explain`); a model that cannot leaves a note.
    pub async fn explain(&mut self, model: Result<crate::llm::Model, String>, anonymize: bool) {
        self.explain_note = match model {
            Err(why) => Some(format!("no explanation: {why}")),
            Ok(model) => super::explain::explain(&model, &mut self.problems, &self.redactor, anonymize).await,
        };
    }
}

impl Report {
    /// Locates the root objects in the project's stack render (for SARIF), when the
    /// current directory is in a project with a stack; a stack that does not render
    /// leaves a note, and the results located by namespace/kind/name.
    pub fn locate(&mut self) {
        match super::sources::from_project() {
            Ok(sources) => self.sources = sources,
            Err(why) => self.notes.push(format!("the stack of kdeck.yaml could not be rendered, so results name no file: {why}")),
        }
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.problems.iter().filter(|p| p.severity == severity).count()
    }

    pub fn json(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        value["summary"] = json!({"errors": self.count(Severity::Error), "warnings": self.count(Severity::Warning)});
        value
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        for problem in &self.problems {
            block(&mut out, problem);
        }
        let healthy: Vec<String> = self.healthy.iter().filter(|(_, n)| **n > 0).map(|(kind, n)| format!("{n} {kind}")).collect();
        let place = match self.namespaces.as_slice() {
            [one] => format!("namespace {one}"),
            many => format!("{} namespaces", many.len()),
        };
        if !healthy.is_empty() {
            out.push_str(&format!("healthy in {place}: {}\n", healthy.join(", ")));
        }
        out.push_str(&match (self.count(Severity::Error), self.count(Severity::Warning)) {
            (0, 0) => format!("no problems found in {place} (context {})\n", self.context),
            (e, w) => format!("{e} error(s), {w} warning(s) in {place} (context {})\n", self.context),
        });
        for what in &self.unreadable {
            out.push_str(&format!("could not read {what}: the diagnosis may be incomplete there\n"));
        }
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        if let Some(note) = &self.explain_note {
            out.push_str(&format!("note: {note}\n"));
        }
        out
    }

    pub fn sarif(&self) -> Value {
        use crate::ui::sarif;
        let mut ids: Vec<&str> = self.problems.iter().map(|p| p.root_cause.rule).collect();
        ids.sort_unstable();
        ids.dedup();
        let rules: Vec<sarif::Rule<'_>> = ids.iter().map(|id| sarif::Rule { id, description: rule_description(id), help: None }).collect();
        let located: Vec<(String, &str)> = self
            .problems
            .iter()
            .map(|p| {
                let (kind, name) = p.root_cause.object.split_once('/').unwrap_or(("", p.root_cause.object.as_str()));
                let qualified = if p.namespace.is_empty() { format!("{kind}/{name}") } else { format!("{}/{kind}/{name}", p.namespace) };
                (qualified, name)
            })
            .collect();
        let results: Vec<sarif::Result<'_>> = self
            .problems
            .iter()
            .zip(&located)
            .map(|(p, (qualified, name))| sarif::Result {
                rule: p.root_cause.rule,
                level: match p.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                },
                message: &p.root_cause.summary,
                locations: {
                    let file = self.sources.as_ref().and_then(|s| s.find(&p.namespace, &p.root_cause.object));
                    file.map(|(uri, line)| sarif::Location::File { uri, line }).into_iter().chain([sarif::Location::Logical { qualified, name }]).collect()
                },
                fingerprint: Some(("kdeckProblemId/v1", &p.id)),
                properties: json!({
                    "chain": p.chain.iter().map(|l| format!("{} ({})", l.object, l.state)).collect::<Vec<_>>(),
                    "fix": p.fix,
                    "affected": p.affected,
                    "count": p.count,
                }),
            })
            .collect();
        let mut log = sarif::log(&rules, &results);
        // What was not looked at (no metrics, a stack that does not render), as the run's notifications.
        if !self.notes.is_empty() {
            let notes: Vec<Value> = self.notes.iter().map(|n| json!({"level": "note", "message": {"text": n}})).collect();
            log["runs"][0]["invocations"] = json!([{"executionSuccessful": true, "toolExecutionNotifications": notes}]);
        }
        log
    }
}

fn block(out: &mut String, p: &Problem) {
    let count = if p.count > 1 { format!(" ({} pods)", p.count) } else { String::new() };
    let place = if p.namespace.is_empty() { String::new() } else { format!(" -n {}", p.namespace) };
    out.push_str(&format!("{} {}{place}: {}{count}\n", p.severity.word().to_uppercase(), p.root_cause.object, p.root_cause.summary));
    if !p.chain.is_empty() {
        let links: Vec<String> = p.chain.iter().map(|l| format!("{} ({})", l.object, l.state)).collect();
        out.push_str(&format!("  chain:    {}\n", links.join(" → ")));
    }
    for (i, e) in p.evidence.iter().enumerate() {
        let label = if i == 0 { "evidence:" } else { "" };
        out.push_str(&format!("  {label:<9} {} {}: {}\n", e.kind, e.object, e.text));
    }
    for (i, fix) in p.fix.iter().enumerate() {
        let label = if i == 0 { "fix:" } else { "" };
        out.push_str(&format!("  {label:<9} {fix}\n"));
    }
    if let Some(explanation) = &p.explanation {
        out.push_str(&format!("  model:    ({}, worded by a model, not checked by kdeck)\n", explanation.model));
        for line in explanation.text.lines().filter(|l| !l.trim().is_empty()) {
            out.push_str(&format!("            {}\n", line.trim()));
        }
    }
    if p.affected.len() > 1 {
        let shown: Vec<&str> = p.affected.iter().take(6).map(String::as_str).collect();
        let more = if p.affected.len() > 6 { format!(", … {} more", p.affected.len() - 6) } else { String::new() };
        out.push_str(&format!("  affects:  {}{more}\n", shown.join(", ")));
    }
    out.push('\n');
}

/// One line per rule, for SARIF's rule table and the README.
pub fn rule_description(rule: &str) -> &'static str {
    match rule {
        "crash-loop" => "A container keeps exiting with an error",
        "unknown-service" => "A setting names a Service that does not exist",
        "localhost-dependency" => "A setting sends a dependency to localhost while it is a Service of the cluster",
        "image-pull" => "An image cannot be pulled (missing tag or repository, no access, registry unreachable)",
        "container-config" => "A container cannot be created from its configuration",
        "missing-secret" => "A Secret a container reads does not exist",
        "missing-configmap" => "A ConfigMap a container reads does not exist",
        "missing-key" => "A key a container reads is not in its ConfigMap or Secret",
        "oom-killed" => "A container is killed for exceeding its memory limit",
        "readiness-probe" => "A container never passes its readiness probe",
        "liveness-probe" => "A container's liveness probe fails and the kubelet kills it",
        "unschedulable" => "No node can take a pod",
        "evicted" => "Pods were evicted from a node under pressure",
        "stuck-terminating" => "A pod stays terminating",
        "service-selects-nothing" => "A Service's selector matches no pod",
        "service-target-port" => "A Service's named targetPort is declared by no selected container",
        "ingress-missing-service" => "An Ingress routes to a Service that does not exist",
        "ingress-missing-port" => "An Ingress routes to a port its Service does not have",
        "ingress-class-missing" => "An Ingress asks for an IngressClass that does not exist",
        "ingress-tls-secret" => "An Ingress's TLS Secret does not exist",
        "pvc-pending" => "A PersistentVolumeClaim cannot bind",
        "job-failed" => "A Job failed",
        "rollout-stuck" => "A workload is not available for a reason its pods do not show",
        "node-not-ready" => "A node is not Ready",
        "node-pressure" => "A node is under memory, disk or PID pressure",
        "helmrelease-failed" => "A Flux HelmRelease is not Ready",
        "helmrelease-suspended" => "A Flux HelmRelease is suspended",
        "externalsecret-error" => "An ExternalSecret cannot sync its Secret",
        "pod-deadline-exceeded" => "A pod was stopped at its activeDeadlineSeconds",
        "pod-failed" => "A pod ended with a failed container and will not run again",
        "cronjob-missed" => "A CronJob missed its schedule",
        "networkpolicy-blocks" => "A NetworkPolicy keeps a client from a Service it uses",
        "memory-near-limit" => "A container uses nearly all of its memory limit",
        "cpu-throttled" => "A container uses all of its CPU limit and is throttled",
        "requests-far-from-usage" => "A container's requests are far from what it uses",
        _ => "A problem kdeck diagnose found",
    }
}
