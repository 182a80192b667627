//! The command line: one file per command, each an options struct that is
//! validated, then run.

pub mod ask;
pub mod browse_pvc;
pub mod cleanse_pods;
pub mod complete;
pub mod completions;
pub mod config;
pub mod diagnose;
pub mod exec;
pub mod hr_restart;
pub mod init;
pub mod lint;
pub mod logs;
pub mod mcp;
pub mod rightsize;
pub mod run;
pub mod sandbox;
pub mod stack;
pub mod sync_secrets;
pub mod tasks;

use clap::{Parser, Subcommand};

use crate::cluster::ClusterArgs;
use crate::error::Result;

#[derive(Debug, Parser)]
#[command(name = "kdeck", version, about = "One fast binary for the work people do around Kubernetes clusters", propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run, inspect and remove local sandbox clusters.
    #[command(subcommand)]
    Sandbox(sandbox::SandboxCommand),
    /// Force External Secrets to re-sync, and wait until they did.
    SyncSecrets(sync_secrets::SyncSecretsArgs),
    /// Restart a Flux HelmRelease (suspend, resume, reconcile) and wait until it is Ready.
    HrRestart(hr_restart::HrRestartArgs),
    /// Delete finished, failed pods (Evicted, Error, OOMKilled, …) — never running ones.
    CleansePods(cleanse_pods::CleansePodsArgs),
    /// Run a command (default /bin/sh) in a pod, or in a workload's first ready pod.
    Exec(exec::ExecArgs),
    /// Stream logs of pods, workloads or pods named like a pattern, merged and followed.
    Logs(logs::LogsArgs),
    /// Look inside a PersistentVolumeClaim from an ephemeral pod (deleted on every way out).
    BrowsePvc(browse_pvc::BrowsePvcArgs),
    /// Bring the stack of kdeck.yaml up: cluster, dev secrets, render, apply, wait until ready.
    Up(stack::UpArgs),
    /// The stack's resources with their readiness and the exact reason when not ready.
    Status(stack::StatusArgs),
    /// Print the objects `kdeck up` would apply (Helm and kustomize output included; secrets masked).
    Render(stack::RenderArgs),
    /// Remove what `kdeck up` applied, keeping volumes' data unless --delete-data.
    Down(stack::DownArgs),
    /// Run the stack's checks (stack.verify): HTTP, TCP, PostgreSQL, Redis, exec, env; exit 0 only if all pass.
    Verify(stack::VerifyArgs),
    /// The root causes of what is broken, with the chain of evidence and the fix (exit 1 when errors are found).
    Diagnose(diagnose::DiagnoseArgs),
    /// Ask a model about the cluster: it calls kdeck's tools (reads at once, changes only as plans you confirm).
    Ask(ask::AskArgs),
    /// Suggest requests and limits from sampled usage (metrics.k8s.io); --apply patches them after confirmation.
    Rightsize(rightsize::RightsizeArgs),
    /// Serve kdeck's tools to AI assistants over MCP (read-only unless --allow-changes; changes only after the user confirms).
    Mcp(mcp::McpArgs),
    /// Check manifests, kustomizations, Helm charts and Dockerfiles before they ship: security, secrets, reliability, references (exit 1 on findings).
    Lint(lint::LintArgs),
    /// Check what `kdeck up` needs: tools, provider, cluster, RBAC for what the stack applies.
    Doctor(stack::DoctorArgs),
    /// Keep the stack's declared ports open on 127.0.0.1, following restarts and rollouts.
    Forward(stack::ForwardArgs),
    /// Run project tasks from kdeck.yaml: locally, in a compose container, in a pod, or as a Job.
    Run(run::RunArgs),
    /// List the project's tasks and the executors available for each right now.
    Tasks(tasks::TasksArgs),
    /// Print the project configuration after flavors and ${…} expansion (secrets masked), or its JSON schema.
    Config(config::ConfigArgs),
    /// Write files that connect kdeck to a project's tools (a Taskfile for `task k8s:…`).
    #[command(subcommand)]
    Init(init::InitCommand),
    /// Print a shell completion script (bash, zsh, fish).
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff): kdeck man | man -l -
    Man,
}

impl Cli {
    pub async fn run(self) -> Result<()> {
        let local = |what: &str| self.cluster.no_namespace(what);
        match self.command {
            Command::Sandbox(cmd) => {
                local("kdeck sandbox")?;
                cmd.run().await
            }
            Command::SyncSecrets(args) => args.run(&self.cluster).await,
            Command::HrRestart(args) => args.run(&self.cluster).await,
            Command::CleansePods(args) => args.run(&self.cluster).await,
            Command::Exec(args) => args.run(&self.cluster).await,
            Command::Logs(args) => args.run(&self.cluster).await,
            Command::BrowsePvc(args) => args.run(&self.cluster).await,
            Command::Run(args) => args.run(&self.cluster).await,
            Command::Up(args) => args.run(&self.cluster).await,
            Command::Status(args) => args.run(&self.cluster).await,
            Command::Render(args) => args.run(&self.cluster),
            Command::Down(args) => args.run(&self.cluster).await,
            Command::Verify(args) => args.run(&self.cluster).await,
            Command::Diagnose(args) => args.run(&self.cluster).await,
            Command::Ask(args) => args.run(&self.cluster).await,
            Command::Mcp(args) => args.run(&self.cluster).await,
            Command::Rightsize(args) => args.run(&self.cluster).await,
            Command::Lint(args) => args.run(&self.cluster),
            Command::Doctor(args) => args.run(&self.cluster).await,
            Command::Forward(args) => args.run(&self.cluster).await,
            Command::Tasks(args) => local("kdeck tasks").and_then(|()| args.run()),
            Command::Config(args) => local("kdeck config").and_then(|()| args.run()),
            Command::Init(cmd) => local("kdeck init").and_then(|()| cmd.run()),
            Command::Completions(args) => local("kdeck completions").and_then(|()| args.run()),
            Command::Man => local("kdeck man").and_then(|()| completions::man()),
        }
    }
}
