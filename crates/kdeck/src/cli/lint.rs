//! `kdeck lint`: manifests, kustomizations, Helm charts and Dockerfiles checked
//! before they reach a cluster (see `lint`).

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::diagnose::FailOn;
use crate::cluster::ClusterArgs;
use crate::error::{Error, ExitCode, Result};
use crate::lint::{self, InputError, Settings, Severity, inputs};
use crate::project::ProjectArgs;
use crate::ui;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    /// Findings grouped by file, with why and fix, for people.
    #[default]
    Text,
    /// `{findings, errors, summary}`.
    Json,
    /// SARIF 2.1.0: one result per finding at its file and line, for code-scanning services.
    Sarif,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// YAML manifests, kustomization directories, Helm charts, Dockerfiles, or directories holding them (default: the current directory, unless --stack).
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// A values file for the Helm charts linted (as `helm template --values`); repeatable.
    #[arg(long = "values", value_name = "FILE")]
    values: Vec<PathBuf>,
    /// A value for the Helm charts linted (as `helm template --set`); repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Lint what the stack: section of kdeck.yaml renders (as `kdeck up` would) and the Dockerfiles of its images.
    #[arg(long)]
    stack: bool,
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: LintFormat,
    /// The lowest severity that makes the exit code 1 (info never does).
    #[arg(long, value_enum, default_value_t)]
    fail_on: FailOn,
    /// Check only these rules (repeatable, or comma-separated).
    #[arg(long = "rule", value_name = "RULE", value_delimiter = ',')]
    rules: Vec<String>,
    /// Do not check these rules (repeatable, or comma-separated).
    #[arg(long = "disable", value_name = "RULE", value_delimiter = ',')]
    disable: Vec<String>,
    /// Print every rule (id, family, severity, why) and exit.
    #[arg(long)]
    list_rules: bool,
    #[command(flatten)]
    project: ProjectArgs,
}

impl LintArgs {
    pub fn run(self, cluster: &ClusterArgs) -> Result<()> {
        cluster.no_namespace("kdeck lint")?;
        if self.list_rules {
            print!("{}", lint::output::rules_text());
            return Ok(());
        }
        if self.output != LintFormat::Text {
            ui::want_json(ui::OutputFormat::Json);
        }
        let set = self
            .set
            .iter()
            .map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())).ok_or_else(|| Error::usage(format!("--set {kv:?}: expected KEY=VALUE"))))
            .collect::<Result<Vec<_>>>()?;
        // The project file: required with --stack; otherwise read, when there is one, for its `lint:` settings.
        let project = if self.stack || self.project.file.is_some() {
            Some(self.project.load()?)
        } else {
            let found = std::env::current_dir().ok().and_then(|cwd| crate::project::load::find(&cwd).ok());
            match found {
                Some(file) => Some(crate::project::Project::open(&file, self.project.flavor.as_deref().filter(|f| !f.is_empty()))?),
                None => None,
            }
        };
        let mut errors: Vec<InputError> = Vec::new();
        let settings = Settings::new(&self.rules, &self.disable, project.as_ref().and_then(|p| p.config.lint.as_ref()), &mut errors);
        let paths = if self.paths.is_empty() && !self.stack { vec![PathBuf::from(".")] } else { self.paths };
        let chart = inputs::ChartOptions { values: self.values, set };
        let mut renders = inputs::from_paths(&paths, &chart, &mut errors);
        if self.stack
            && let Some(project) = &project
        {
            renders.extend(inputs::from_stack(project, &mut errors));
        }
        let report = lint::lint(&renders, &settings, errors);
        match self.output {
            LintFormat::Text => print!("{}", report.text()),
            LintFormat::Json => ui::print_json(&report.json()),
            LintFormat::Sarif => ui::print_json(&report.sarif()),
        }
        if !report.errors.is_empty() {
            let listed: Vec<String> = report.errors.iter().map(|e| format!("  {}: {}", e.input, e.message.replace('\n', "\n    "))).collect();
            return Err(Error::usage(format!("could not lint {} input(s); the rest was linted:\n{}", report.errors.len(), listed.join("\n"))));
        }
        let threshold = match self.fail_on {
            FailOn::Error => Some(Severity::Error),
            FailOn::Warning => Some(Severity::Warning),
            FailOn::Never => None,
        };
        match threshold {
            Some(threshold) if report.findings.iter().any(|f| f.severity >= threshold) => Err(Error::new(ExitCode::Failure, "")),
            _ => Ok(()),
        }
    }
}
