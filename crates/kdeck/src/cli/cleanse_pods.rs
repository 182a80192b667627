//! `kdeck cleanse-pods`: delete finished, failed pods (see `ops::cleanse_pods`).

use clap::Args;

use crate::cluster::{ClusterArgs, names};
use crate::error::{Error, Result};
use crate::ops::cleanse_pods::{self, Options};
use crate::ui::{self, OutputFormat};

#[derive(Debug, Args)]
pub struct CleansePodsArgs {
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
    /// An overall bound on the command, retries included; pods not dealt with by then are named (exit 4).
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    timeout: String,
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

impl CleansePodsArgs {
    pub async fn run(self, cluster: &ClusterArgs) -> Result<()> {
        let namespaces = cluster.namespaces();
        ui::want_json(self.output);
        if let Some(selector) = &self.selector {
            names::validate_selector(selector)?;
        }
        let older_than = self.older_than.as_deref().map(|d| names::parse_duration("--older-than", d)).transpose()?;
        let timeout = names::parse_timeout("--timeout", &self.timeout)?;
        let cluster = cluster.connect().await?;
        let deadline = cluster.set_deadline(timeout);
        let options =
            Options { namespace: namespaces.resolve_existing(&cluster).await?, selector: self.selector, older_than, include_completed: self.include_completed };
        let plan = tokio::time::timeout_at(deadline, cleanse_pods::plan(&cluster, &options))
            .await
            .map_err(|_| cluster.timed_out(format!("could not list the pods within --timeout {}; nothing was deleted", self.timeout)))??;
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
        let report = cleanse_pods::apply(&cluster, &plan, &options, deadline).await;
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
                for (pod, why) in &report.changed {
                    eprintln!("left {pod} alone: {why}");
                }
                for (pod, error) in &report.failed {
                    eprintln!("could not delete {pod}: {error}");
                }
                for pod in &report.timed_out {
                    eprintln!("not deleted before --timeout {}: {pod}", self.timeout);
                }
            }
        }
        if !report.failed.is_empty() {
            return Err(Error::failure(format!("{} pod(s) could not be deleted", report.failed.len())));
        }
        if !report.timed_out.is_empty() {
            return Err(cluster.timed_out(format!("{} pod(s) were not deleted within --timeout {}", report.timed_out.len(), self.timeout)));
        }
        Ok(())
    }
}
