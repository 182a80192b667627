//! `kdeck cleanse-pods`: delete finished, failed pods (see `ops::cleanse_pods`).

use clap::Args;

use crate::cluster::{ClusterArgs, NamespaceArgs, names};
use crate::error::{Error, Result};
use crate::ops::cleanse_pods::{self, Options};
use crate::ui::{self, OutputFormat};

#[derive(Debug, Args)]
pub struct CleansePodsArgs {
    #[command(flatten)]
    namespaces: NamespaceArgs,
    /// Only pods whose labels match (as kubectl -l).
    #[arg(long, short = 'l', value_name = "SELECTOR")]
    selector: Option<String>,
    /// Only pods that finished at least this long ago (30m, 2h, …).
    #[arg(long, value_name = "DURATION")]
    older_than: Option<String>,
    /// Also delete Completed (Succeeded) pods.
    #[arg(long)]
    include_completed: bool,
    /// Print the plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Do not ask before deleting in every namespace.
    #[arg(long, short = 'y')]
    yes: bool,
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

impl CleansePodsArgs {
    pub async fn run(self, cluster: &ClusterArgs) -> Result<()> {
        if let Some(selector) = &self.selector {
            names::validate_selector(selector)?;
        }
        let older_than = self.older_than.as_deref().map(|d| names::parse_duration("--older-than", d)).transpose()?;
        let cluster = cluster.connect().await?;
        let options = Options { namespace: self.namespaces.resolve(&cluster)?, selector: self.selector, older_than, include_completed: self.include_completed };
        let plan = cleanse_pods::plan(&cluster, &options).await?;
        if self.dry_run {
            plan.print_dry_run(self.output);
            return Ok(());
        }
        if plan.items.is_empty() {
            match self.output {
                OutputFormat::Json => ui::print_json(&serde_json::json!({"plan": plan, "result": cleanse_pods::Report::default()})),
                OutputFormat::Text => eprintln!("no finished, failed pods to delete (context {})", cluster.context),
            }
            return Ok(());
        }
        if options.namespace.is_none() {
            ui::confirm(&format!("delete {} pod(s) across all namespaces of context {}?", plan.items.len(), cluster.context), self.yes)?;
        }
        let report = cleanse_pods::apply(&cluster, &plan).await;
        match self.output {
            OutputFormat::Json => ui::print_json(&serde_json::json!({"plan": plan, "result": report})),
            OutputFormat::Text => {
                print!("{}", plan.table());
                let counts: Vec<String> = report.deleted.iter().map(|(reason, n)| format!("{n} {reason}")).collect();
                let total: usize = report.deleted.values().sum();
                eprintln!("deleted {total} pod(s){}", if counts.is_empty() { String::new() } else { format!(": {}", counts.join(", ")) });
                if report.already_gone > 0 {
                    eprintln!("{} pod(s) were already gone", report.already_gone);
                }
                for (pod, error) in &report.failed {
                    eprintln!("could not delete {pod}: {error}");
                }
            }
        }
        if report.failed.is_empty() { Ok(()) } else { Err(Error::failure(format!("{} pod(s) could not be deleted", report.failed.len()))) }
    }
}
