//! `kdeck sync-secrets`: force External Secrets to re-sync (see `ops::sync_secrets`).

use std::time::Duration;

use clap::Args;

use crate::cluster::{ClusterArgs, names};
use crate::error::{Error, Result};
use crate::ops::sync_secrets::{self, Options};
use crate::ui::{self, OutputFormat};

#[derive(Debug, Args)]
pub struct SyncSecretsArgs {
    /// ExternalSecrets to sync (default: every one in the namespace, or with -A everywhere).
    #[arg(value_name = "NAME", add = clap_complete::ArgValueCandidates::new(crate::cli::complete::external_secrets))]
    names: Vec<String>,
    /// Only ExternalSecrets whose labels match (as kubectl -l).
    #[arg(long, short = 'l', value_name = "SELECTOR", conflicts_with = "names")]
    selector: Option<String>,
    /// Wait until each has re-synced or failed (default on a terminal).
    #[arg(long, overrides_with = "no_wait")]
    wait: bool,
    /// Do not wait; only annotate.
    #[arg(long)]
    no_wait: bool,
    /// An overall bound on the command, retries included (the wait ends a little before it, to read each result once more).
    #[arg(long, default_value = "2m", value_name = "DURATION")]
    timeout: String,
    /// Print the plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

impl SyncSecretsArgs {
    pub async fn run(self, cluster: &ClusterArgs) -> Result<()> {
        let namespaces = cluster.namespaces();
        ui::want_json(self.output);
        if let Some(selector) = &self.selector {
            names::validate_selector(selector)?;
        }
        if !self.names.is_empty() && namespaces.all_namespaces {
            return Err(Error::usage("names need one namespace; use -n NAMESPACE, or -A with -l SELECTOR"));
        }
        let timeout = names::parse_timeout("--timeout", &self.timeout)?;
        let wait = self.wait || (!self.no_wait && ui::is_interactive());
        let cluster = cluster.connect().await?;
        let deadline = cluster.set_deadline(timeout);
        let namespace_given = namespaces.namespace.is_some();
        let options = Options { names: self.names, namespace: namespaces.resolve_existing(&cluster).await?, namespace_given, selector: self.selector };
        let selected = tokio::time::timeout_at(deadline, sync_secrets::select(&cluster, &options))
            .await
            .map_err(|_| cluster.timed_out(format!("could not list the ExternalSecrets within --timeout {}; nothing was annotated", self.timeout)))??;
        let now = kdeck_sandbox::time::unix_secs();
        let plan = sync_secrets::plan(&cluster, &selected, now);
        if self.dry_run {
            plan.print_dry_run(self.output);
            return Ok(());
        }
        for item in plan.items.iter().filter(|i| !i.reason.starts_with("re-sync")) {
            eprintln!("warning: {}/{}: {}", item.namespace, item.name, item.reason);
        }
        if wait && self.output == OutputFormat::Text {
            eprintln!("annotated {} ExternalSecret(s); waiting up to {} for them to re-sync…", plan.items.len(), self.timeout);
        }
        // The last stretch is kept for reading each result once more.
        let wait_until = wait.then(|| deadline - (timeout / 10).min(Duration::from_secs(2)));
        let rows = sync_secrets::apply(&cluster, &selected, now, wait_until).await;
        match self.output {
            OutputFormat::Json => ui::print_json(&serde_json::json!({"plan": plan, "results": rows})),
            OutputFormat::Text => {
                let table: Vec<Vec<String>> = rows
                    .iter()
                    .map(|r| vec![r.namespace.clone(), r.name.clone(), r.result.clone(), r.refresh_time.clone().unwrap_or_default(), r.message.clone()])
                    .collect();
                print!("{}", ui::table(&["NAMESPACE", "NAME", "RESULT", "REFRESHED", "MESSAGE"], &table));
            }
        }
        let count = |result: &str| rows.iter().filter(|r| r.result == result).count();
        if count("Failed") + count("NotAnnotated") > 0 {
            return Err(Error::failure(format!("{} of {} ExternalSecret(s) failed to sync", count("Failed") + count("NotAnnotated"), rows.len())));
        }
        if count("TimedOut") + count("Unknown") > 0 {
            return Err(cluster.timed_out(format!("{} ExternalSecret(s) did not re-sync within {}", count("TimedOut") + count("Unknown"), self.timeout)));
        }
        Ok(())
    }
}
