//! `kdeck lint`: manifests, kustomizations, Helm charts and Dockerfiles checked
//! before they reach a cluster — security, secret hygiene, reliability, and the
//! references between the objects of one render.
//!
//! [`inputs`] turns paths (or the stack of kdeck.yaml) into [`Render`]s: objects
//! with their file and line (through [`crate::render`]), Dockerfiles, and helm
//! lint's own findings. [`rules`] holds the rule table and one file per family;
//! each rule reports through a [`Sink`], which applies the settings (`--rule`,
//! `--disable`, kdeck.yaml's `lint:`) and the `kdeck.dev/lint-ignore` annotation.
//! [`output`] prints text, JSON and SARIF. No finding carries a secret value.

pub mod dockerfile;
pub mod inputs;
pub mod output;
pub mod rules;

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::render::Manifest;

/// The annotation that turns rules off for one object: `"rule-a,rule-b # why"`.
pub const IGNORE_ANNOTATION: &str = "kdeck.dev/lint-ignore";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn word(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// `lint:` in kdeck.yaml.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LintConfig {
    /// Rules not checked (ids as `kdeck lint` prints them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disable: Vec<String>,
    /// Rules reported at another severity than their own: `{ memory-limit-missing: error }`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub severity: BTreeMap<String, Severity>,
}

/// One finding: the rule, where (file and line; the object, container and field
/// for manifests), what, why it matters and how to fix it. Never a secret's value.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    pub file: String,
    pub line: u32,
    /// `Deployment shop/api`, `Namespace shop`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// `spec.template.spec.containers[0].securityContext`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
    pub why: &'static str,
    pub fix: &'static str,
}

/// An input that could not be linted (a path that does not exist, YAML that does
/// not parse, a chart that does not render, …), or a setting naming an unknown rule.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InputError {
    /// The file, directory or setting.
    pub input: String,
    pub message: String,
}

/// What is linted together: one PATH argument, or the stack. References are
/// resolved within one render.
#[derive(Debug, Default)]
pub struct Render {
    pub objects: Vec<Manifest>,
    pub dockerfiles: Vec<dockerfile::Dockerfile>,
    /// Findings of helm lint, already made.
    pub findings: Vec<Finding>,
    /// Secrets (namespace, name) created by something else than the render (`stack.secrets`).
    pub secrets_elsewhere: BTreeSet<(String, String)>,
    /// Namespaces created by something else than the render (a stack step's namespace).
    pub namespaces_elsewhere: BTreeSet<String>,
    /// IngressClasses the cluster's ingress controller brings (`stack.cluster.ingress`).
    pub ingress_classes_elsewhere: BTreeSet<String>,
    /// Images built from a Dockerfile of the render whose final stage runs as a non-root USER.
    pub non_root_images: BTreeSet<String>,
}

/// Which rules run, at which severity.
#[derive(Debug, Default)]
pub struct Settings {
    only: BTreeSet<&'static str>,
    disabled: BTreeSet<&'static str>,
    severity: BTreeMap<&'static str, Severity>,
}

impl Settings {
    /// From `--rule`, `--disable` and kdeck.yaml's `lint:`; unknown rule names are errors (and left out).
    pub fn new(only: &[String], disable: &[String], config: Option<&LintConfig>, errors: &mut Vec<InputError>) -> Settings {
        let mut settings = Settings::default();
        let mut known = |name: &str, place: &str| match rules::find(name) {
            Some(rule) => Some(rule.id),
            None => {
                errors.push(InputError { input: place.to_string(), message: unknown_rule(name) });
                None
            }
        };
        settings.only = only.iter().filter_map(|r| known(r, "--rule")).collect();
        settings.disabled = disable.iter().filter_map(|r| known(r, "--disable")).collect();
        if let Some(config) = config {
            settings.disabled.extend(config.disable.iter().filter_map(|r| known(r, "kdeck.yaml lint.disable")));
            for (rule, severity) in &config.severity {
                if let Some(id) = known(rule, "kdeck.yaml lint.severity") {
                    settings.severity.insert(id, *severity);
                }
            }
        }
        settings
    }

    pub fn enabled(&self, rule: &str) -> bool {
        (self.only.is_empty() || self.only.contains(rule)) && !self.disabled.contains(rule)
    }
}

fn unknown_rule(name: &str) -> String {
    let ids: Vec<&str> = rules::RULES.iter().map(|r| r.id).collect();
    match crate::project::nearest(name, ids.iter().copied()) {
        Some(near) => format!("unknown rule {name:?} (did you mean {near}?); `kdeck lint --list-rules` lists them"),
        None => format!("unknown rule {name:?}; `kdeck lint --list-rules` lists them"),
    }
}

/// Where findings go: the settings and each object's ignore annotation are applied here.
pub struct Sink<'a> {
    settings: &'a Settings,
    pub findings: Vec<Finding>,
}

impl<'a> Sink<'a> {
    pub fn new(settings: &'a Settings) -> Self {
        Sink { settings, findings: Vec::new() }
    }

    /// A finding about `object`, at `field` (its line is looked up), in `container`.
    pub fn object(&mut self, rule: &'static str, object: &Manifest, field: &str, container: Option<&str>, message: String) {
        if !self.settings.enabled(rule) || ignored(&object.object).iter().any(|r| r == rule) {
            return;
        }
        let (file, line) = match &object.origin {
            Some(origin) => (origin.file.clone(), origin.line_of(field)),
            None => (object.source.clone(), 1),
        };
        let mut finding = self.make(rule, file, line, message);
        finding.object = Some(describe(&object.object));
        finding.container = container.map(str::to_string);
        finding.field = (!field.is_empty()).then(|| field.to_string());
        self.findings.push(finding);
    }

    /// A finding about a line of a file (a Dockerfile, a chart).
    pub fn file(&mut self, rule: &'static str, file: &str, line: u32, message: String) {
        if self.settings.enabled(rule) {
            let finding = self.make(rule, file.to_string(), line, message);
            self.findings.push(finding);
        }
    }

    /// A finding made elsewhere (helm lint's), with its own severity.
    pub fn made(&mut self, finding: Finding) {
        if self.settings.enabled(finding.rule) {
            let severity = self.settings.severity.get(finding.rule).copied().unwrap_or(finding.severity);
            self.findings.push(Finding { severity, ..finding });
        }
    }

    fn make(&self, rule: &'static str, file: String, line: u32, message: String) -> Finding {
        debug_assert!(rules::find(rule).is_some(), "rule {rule} is not in the table");
        let spec = rules::find(rule).unwrap_or(&rules::RULES[0]);
        Finding {
            rule: spec.id,
            severity: self.settings.severity.get(rule).copied().unwrap_or(spec.severity),
            file,
            line,
            object: None,
            container: None,
            field: None,
            message,
            why: spec.why,
            fix: spec.fix,
        }
    }
}

/// The rules an object's `kdeck.dev/lint-ignore` annotation names (before any `#`).
pub fn ignored(object: &Value) -> Vec<String> {
    let Some(text) = object["metadata"]["annotations"][IGNORE_ANNOTATION].as_str() else { return Vec::new() };
    let rules = text.split('#').next().unwrap_or_default();
    rules.split([',', ' ']).map(str::trim).filter(|r| !r.is_empty()).map(str::to_string).collect()
}

/// `Deployment shop/api`, `Namespace shop`.
pub fn describe(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or("?");
    let name = object["metadata"]["name"].as_str().unwrap_or("?");
    match object["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{kind} {ns}/{name}"),
        None => format!("{kind} {name}"),
    }
}

/// The result of a lint: findings in file and line order, and what could not be linted.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub findings: Vec<Finding>,
    pub errors: Vec<InputError>,
    /// Objects and Dockerfiles looked at.
    pub objects: usize,
    pub dockerfiles: usize,
}

/// Runs every enabled rule on each render.
pub fn lint(renders: &[Render], settings: &Settings, errors: Vec<InputError>) -> Report {
    let mut sink = Sink::new(settings);
    let mut errors = errors;
    for render in renders {
        for object in &render.objects {
            for rule in ignored(&object.object) {
                if rules::find(&rule).is_none() {
                    errors.push(InputError { input: format!("{} ({})", describe(&object.object), IGNORE_ANNOTATION), message: unknown_rule(&rule) });
                }
            }
        }
        rules::check(render, &mut sink);
    }
    let mut findings = sink.findings;
    findings.sort_by(|a, b| (&a.file, a.line, a.rule, &a.object, &a.container).cmp(&(&b.file, b.line, b.rule, &b.object, &b.container)));
    findings.dedup_by(|a, b| (&a.file, a.line, a.rule, &a.object, &a.container, &a.message) == (&b.file, b.line, b.rule, &b.object, &b.container, &b.message));
    Report { findings, errors, objects: renders.iter().map(|r| r.objects.len()).sum(), dockerfiles: renders.iter().map(|r| r.dockerfiles.len()).sum() }
}
