//! `kdeck hr-restart`: suspend, resume and reconcile a Flux HelmRelease, then wait
//! for it (see `ops::hr_restart`).

use clap::Args;

use crate::cluster::{ClusterArgs, names};
use crate::error::Result;
use crate::ops::hr_restart::{self, Mode};
use crate::ui::{self, OutputFormat};

#[derive(Debug, Args)]
pub struct HrRestartArgs {
    /// The HelmRelease.
    #[arg(add = clap_complete::ArgValueCandidates::new(crate::cli::complete::helm_releases))]
    name: String,
    /// Force a Helm upgrade even when nothing changed.
    #[arg(long, conflicts_with = "reset")]
    force: bool,
    /// Reset the failure counts, so a release that ran out of retries is tried again.
    #[arg(long)]
    reset: bool,
    /// Resume a release that was suspended before (it is left suspended otherwise).
    #[arg(long)]
    resume: bool,
    /// How long to wait for the release to become Ready.
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    timeout: String,
    /// Print the plan and change nothing.
    #[arg(long)]
    dry_run: bool,
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

impl HrRestartArgs {
    pub async fn run(self, cluster: &ClusterArgs) -> Result<()> {
        ui::want_json(self.output);
        names::validate_name("HelmRelease", &self.name)?;
        let namespace = cluster.one_namespace("hr-restart")?;
        let timeout = names::parse_timeout("--timeout", &self.timeout)?;
        let mode = if self.force {
            Mode::Force
        } else if self.reset {
            Mode::Reset
        } else {
            Mode::Reconcile
        };
        let cluster = cluster.connect().await?;
        let deadline = cluster.set_deadline(timeout);
        let found = tokio::time::timeout_at(deadline, hr_restart::find(&cluster, &self.name, namespace.as_deref()))
            .await
            .map_err(|_| cluster.timed_out(format!("could not find HelmRelease {} within --timeout {}", self.name, self.timeout)))??;
        let token = hr_restart::new_token();
        let plan = hr_restart::plan(&cluster, &found, mode, self.resume, &token);
        if self.dry_run {
            plan.print_dry_run(self.output);
            return Ok(());
        }
        let text = self.output == OutputFormat::Text;
        let target = format!("{}/{}", found.namespace(), self.name);
        if found.was_suspended() && text {
            if self.resume {
                eprintln!("HelmRelease {target} was suspended; resuming it (--resume)");
            } else {
                eprintln!("HelmRelease {target} was suspended and stays suspended (pass --resume to resume it); a reconcile was requested");
            }
        }
        let mut last_line = String::new();
        let applied = hr_restart::apply(&cluster, &found, mode, self.resume, &token, deadline, |o| {
            let line = format!("{target}: Ready={} {} {}", o.ready, o.reason, o.message);
            if text && line != last_line {
                eprintln!("{line}");
                last_line = line;
            }
        })
        .await;
        let done = match applied {
            Ok(done) => done,
            Err(error) => {
                if !text {
                    ui::print_json(&serde_json::json!({"plan": plan, "result": null, "error": ui::error_json(&error)}));
                }
                return Err(error);
            }
        };
        match self.output {
            OutputFormat::Json => ui::print_json(&serde_json::json!({"plan": plan, "result": done})),
            OutputFormat::Text => print!(
                "{}",
                ui::table(
                    &["NAMESPACE", "NAME", "READY", "REVISION", "SUSPENDED", "MESSAGE"],
                    &[vec![
                        done.namespace.clone(),
                        done.name.clone(),
                        done.ready.clone(),
                        done.revision.clone(),
                        done.suspended.to_string(),
                        done.message.clone()
                    ]]
                )
            ),
        }
        Ok(())
    }
}
