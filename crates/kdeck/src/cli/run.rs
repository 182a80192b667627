//! `kdeck run`: run project tasks from `kdeck.yaml` — locally, in a compose
//! container, in a pod of the deployed namespace, or as a one-off Job.

use clap::Args;

use crate::cluster::ClusterArgs;
use crate::error::Result;
use crate::project::ProjectArgs;
use crate::project::config::ExecutorKind;
use crate::tasks::resolve::RunOptions;
use crate::tasks::{self, RunSettings};
use crate::ui::OutputFormat;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Tasks to run; their `pre` tasks run first.
    #[arg(required = true, value_name = "TASK", add = clap_complete::ArgValueCandidates::new(crate::cli::complete::tasks))]
    tasks: Vec<String>,
    #[command(flatten)]
    project: ProjectArgs,
    /// Where the tasks run (local, container, kubernetes, job), pre tasks included; default: each task's first available.
    #[arg(long, short = 'x', value_enum, value_name = "EXECUTOR")]
    executor: Option<ExecutorKind>,
    /// Print what would run — executor, context, namespace, pod, container, command, env names — and run nothing.
    #[arg(long)]
    dry_run: bool,
    /// Answer the tasks' confirmations.
    #[arg(long, short = 'y')]
    yes: bool,
    /// How many independent tasks run at once.
    #[arg(long, short = 'j', value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: u16,
    /// After a failure, go on with the tasks that do not depend on it.
    #[arg(long)]
    keep_going: bool,
    /// Output format of --dry-run.
    #[arg(long, short = 'o', value_enum, default_value_t = OutputFormat::Text, requires = "dry_run")]
    output: OutputFormat,
    /// Arguments for the named tasks (their $1, $2, …).
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<String>,
}

impl RunArgs {
    pub async fn run(self, cluster: &ClusterArgs) -> Result<()> {
        crate::ui::want_json(self.output);
        // -n: the namespace of kubernetes and job tasks (over KDECK_NAMESPACE, K8S_NAMESPACE and kdeck.yaml).
        let namespace = cluster.one_namespace("run")?;
        let project = self.project.load()?;
        let settings = RunSettings {
            options: RunOptions { executor: self.executor, namespace, context: cluster.context.clone(), args: self.args },
            dry_run: self.dry_run,
            yes: self.yes,
            jobs: usize::from(self.jobs),
            keep_going: self.keep_going,
            json: self.output == OutputFormat::Json,
        };
        tasks::run(&project, &self.tasks, &settings).await
    }
}
