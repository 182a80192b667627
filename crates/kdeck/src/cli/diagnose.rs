//! `kdeck diagnose`: the root causes of what is broken (see `diagnose`).

use clap::{Args, ValueEnum};

use crate::cluster::{ClusterArgs, names};
use crate::diagnose::problem::Severity;
use crate::diagnose::{self, Options};
use crate::error::{Error, ExitCode, Result};
use crate::ui;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// One block per problem, for people.
    #[default]
    Text,
    /// The report as JSON (problems with id, severity, root cause, chain, evidence, fix, affected).
    Json,
    /// SARIF 2.1.0: one result per problem, located by namespace/kind/name (and by file and line when the object comes from the project's stack).
    Sarif,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Exit 1 when an error is found (the default).
    #[default]
    Error,
    /// Exit 1 when an error or a warning is found.
    Warning,
    /// Exit 0 whatever is found.
    Never,
}

#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// Narrow the report to problems about these objects (deploy/api, service/web, ingress/web, hr/gatus, pod/NAME).
    #[arg(value_name = "TARGET")]
    targets: Vec<String>,
    /// Only problems about objects whose labels match (as kubectl -l).
    #[arg(long, short = 'l', value_name = "SELECTOR")]
    selector: Option<String>,
    /// Leave out events older than this (30m, 1h, 24h).
    #[arg(long, value_name = "DURATION")]
    since: Option<String>,
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: ReportFormat,
    /// The lowest severity that makes the exit code 1.
    #[arg(long, value_enum, default_value_t)]
    fail_on: FailOn,
    /// Have a model word each problem (after redaction; see --llm-provider). Without it, no network call but the cluster's.
    #[arg(long)]
    explain: bool,
    /// With --explain: send object, container and namespace names as masks, restored in the answer.
    #[arg(long, requires = "explain")]
    anonymize: bool,
    #[command(flatten)]
    llm: crate::llm::LlmArgs,
    /// An overall bound on reading the cluster.
    #[arg(long, default_value = "1m", value_name = "DURATION")]
    timeout: String,
}

impl DiagnoseArgs {
    pub async fn run(self, cluster: &ClusterArgs) -> Result<()> {
        let namespaces = cluster.namespaces();
        if self.output != ReportFormat::Text {
            ui::want_json(ui::OutputFormat::Json);
        }
        let targets = self
            .targets
            .iter()
            .map(|t| {
                let normalized = diagnose::normalize_target(t).ok_or_else(|| {
                    Error::usage(format!("invalid target {t:?}"))
                        .hint("targets look like deploy/api, sts/db, service/web, ingress/web, pod/NAME, pvc/data, job/NAME, hr/NAME, es/NAME")
                })?;
                names::validate_name("target", normalized.split_once('/').map_or("", |(_, n)| n))?;
                Ok(normalized)
            })
            .collect::<Result<Vec<_>>>()?;
        if let Some(selector) = &self.selector {
            names::validate_selector(selector)?;
        }
        let since = self.since.as_deref().map(|d| names::parse_duration("--since", d)).transpose()?;
        let timeout = names::parse_timeout("--timeout", &self.timeout)?;
        let explain = match self.explain {
            true => Some(crate::llm::Model::resolve(&self.llm, crate::project::llm_config()?.as_ref())),
            false => None,
        };
        let cluster = cluster.connect().await?;
        let deadline = cluster.set_deadline(timeout);
        let options = Options { namespace: namespaces.resolve_existing(&cluster).await?, targets, selector: self.selector, since };
        let mut report = tokio::time::timeout_at(deadline, diagnose::diagnose(&cluster, &options))
            .await
            .map_err(|_| cluster.timed_out(format!("could not read the cluster within --timeout {}", self.timeout)))??;
        if let Some(model) = explain {
            report.explain(model, self.anonymize).await;
        }
        if self.output == ReportFormat::Sarif {
            report.locate();
        }
        match self.output {
            ReportFormat::Text => print!("{}", report.text()),
            ReportFormat::Json => ui::print_json(&report.json()),
            ReportFormat::Sarif => ui::print_json(&report.sarif()),
        }
        let threshold = match self.fail_on {
            FailOn::Error => Some(Severity::Error),
            FailOn::Warning => Some(Severity::Warning),
            FailOn::Never => None,
        };
        match threshold {
            Some(threshold) if report.problems.iter().any(|p| p.severity >= threshold) => Err(Error::new(ExitCode::Failure, "")),
            _ => Ok(()),
        }
    }
}
