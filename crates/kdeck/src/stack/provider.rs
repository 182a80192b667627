//! Where a stack runs: the cluster's provider creates (or reuses) it, names the
//! kubeconfig context to talk to, and deletes it on `down --delete-cluster`.
//!
//! Providers: the kdeck sandbox (started detached with `--run-commands`, no Docker
//! needed) and `context` (any kubeconfig context: checked, never created or
//! deleted). kind, minikube and k3d are refused with a message until they land.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::project::stack::{Provider, StackCluster};
use crate::sandboxes;

/// The cluster a stack runs on, as the provider knows it.
#[derive(Clone, Debug)]
pub struct Target {
    pub provider: Provider,
    /// The sandbox's, cluster's or profile's name.
    pub name: String,
    /// The kubeconfig context kdeck talks to.
    pub context: String,
    /// The ingress address, when the provider has one (`http://127.0.0.1:PORT`).
    pub ingress: Option<String>,
}

/// What `ensure` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ensured {
    Created,
    Started,
    Running,
}

impl Ensured {
    pub fn text(self) -> &'static str {
        match self {
            Ensured::Created => "created",
            Ensured::Started => "started",
            Ensured::Running => "already running",
        }
    }
}

/// The target `cluster` names, without touching anything. `stack_name` names the
/// sandbox when `cluster.name` does not.
pub async fn target(cluster: &StackCluster, stack_name: &str) -> Result<Target> {
    let name = cluster.name.clone().unwrap_or_else(|| stack_name.to_string());
    match cluster.provider {
        Provider::Sandbox => {
            sandboxes::validate_name(&name)?;
            let ingress = sandboxes::load(&name)?.map(|r| r.ingress).filter(|i| !i.is_empty());
            Ok(Target { provider: Provider::Sandbox, context: name.clone(), name, ingress })
        }
        Provider::Context => {
            let context = match &cluster.name {
                Some(context) => context.clone(),
                None => current_context().await?,
            };
            Ok(Target { provider: Provider::Context, name: context.clone(), context, ingress: None })
        }
        other => Err(not_yet(other)),
    }
}

fn not_yet(provider: Provider) -> Error {
    Error::usage(format!("stack.cluster.provider: {} is not supported by this kdeck yet", provider.name()))
        .hint("use provider: sandbox (built in), or create the cluster yourself and use provider: context with its context name")
}

async fn current_context() -> Result<String> {
    let config = crate::cluster::kubeconfig::read_for(None).await?;
    config.current_context.filter(|c| !c.is_empty()).ok_or_else(|| {
        Error::usage("stack.cluster.provider is context, but it names no context and the kubeconfig has no current one")
            .hint("set stack.cluster.name to a context")
    })
}

/// Makes sure the cluster exists and runs; returns what was done.
pub async fn ensure(cluster: &StackCluster, target: &mut Target) -> Result<Ensured> {
    match target.provider {
        Provider::Sandbox => {
            let previous = sandboxes::load(&target.name)?;
            if let Some(record) = &previous
                && record.is_running()
            {
                if !record.run_commands {
                    eprintln!(
                        "note: sandbox {:?} runs without --run-commands: pods that opt in to running their command stay simulated (restart it: kdeck sandbox stop --name {0} && kdeck up)",
                        target.name
                    );
                }
                target.ingress = Some(record.ingress.clone()).filter(|i| !i.is_empty());
                return Ok(Ensured::Running);
            }
            let options = sandboxes::StartOptions {
                name: target.name.clone(),
                port: 0,
                data_dir: match &previous {
                    Some(r) => r.data_dir.clone(),
                    None => sandboxes::default_data_dir(&target.name)?,
                },
                kubeconfig: crate::cluster::kubeconfig::default_path()?,
                seed: None,
                nodes: 1,
                faults: None,
                run_commands: true,
                ingress_port: cluster.ingress_port,
            };
            let record = sandboxes::spawn_detached(&options, Duration::from_secs(60)).await?;
            target.ingress = Some(record.ingress.clone()).filter(|i| !i.is_empty());
            Ok(if previous.is_some() { Ensured::Started } else { Ensured::Created })
        }
        Provider::Context => {
            crate::cluster::Cluster::connect(Some(&target.context)).await?;
            Ok(Ensured::Running)
        }
        other => Err(not_yet(other)),
    }
}

/// Deletes the cluster (`down --delete-cluster`), keeping claims' data when `keep_data`.
/// Returns what it says it did.
pub async fn delete(target: &Target, keep_data: bool) -> Result<String> {
    match target.provider {
        Provider::Sandbox => {
            let Some(mut record) = sandboxes::load(&target.name)? else {
                return Ok(format!("sandbox {:?} does not exist", target.name));
            };
            sandboxes::stop(&mut record).await?;
            sandboxes::delete_with(&record, keep_data)?;
            Ok(if keep_data {
                format!("sandbox {:?} deleted; its volumes' data is kept for the next `kdeck up`", target.name)
            } else {
                format!("sandbox {:?} deleted with its data", target.name)
            })
        }
        Provider::Context => {
            Err(Error::usage(format!("--delete-cluster: provider context never deletes a cluster (context {:?} is not kdeck's to delete)", target.context)))
        }
        other => Err(not_yet(other)),
    }
}
