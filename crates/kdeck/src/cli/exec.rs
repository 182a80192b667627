//! `kdeck exec`: run a command (default `/bin/sh`) in a container of a pod, a
//! workload's first ready pod, or the first ready pod matching a selector.

use std::io::IsTerminal;

use clap::Args;
use kube::ResourceExt;

use crate::cluster::ClusterArgs;
use crate::cluster::target::{self, Target};
use crate::error::{Error, Result};
use crate::ops::exec::{self, Session};

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// A pod, or deploy/NAME, sts/NAME, ds/NAME, rs/NAME, job/NAME, svc/NAME (its first ready pod).
    #[arg(value_name = "TARGET", required_unless_present = "selector", add = clap_complete::ArgValueCandidates::new(crate::cli::complete::targets))]
    target: Option<String>,
    /// The first ready pod whose labels match (instead of TARGET).
    #[arg(long, short = 'l', value_name = "SELECTOR", conflicts_with = "target")]
    selector: Option<String>,
    /// Container (default: the pod's default-container annotation, else its only container).
    #[arg(long, short = 'c', value_name = "NAME")]
    container: Option<String>,
    /// The command and its arguments (default: /bin/sh).
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

impl ExecArgs {
    pub async fn run(self, cluster: &ClusterArgs) -> Result<()> {
        let target = match (&self.target, &self.selector) {
            (_, Some(selector)) => Target::selector(selector)?,
            (Some(target), None) => Target::parse(target)?,
            (None, None) => return Err(Error::usage("say where to run: a TARGET or -l SELECTOR")),
        };
        let given = cluster.one_namespace("exec")?;
        let cluster = cluster.connect().await?;
        let namespace = given.unwrap_or_else(|| cluster.default_namespace.clone());
        let pod = target.ready_pod(&cluster, &namespace).await?;
        let container = target::container(&pod, self.container.as_deref(), "pick one with -c NAME")?;
        let pod_name = pod.name_any();
        if !matches!(target, Target::Pod(_)) {
            eprintln!("{target}: using pod {pod_name} (container {container})");
        }
        let command = if self.command.is_empty() { vec!["/bin/sh".to_string()] } else { self.command };
        let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
        let session = Session { namespace: &namespace, pod: &pod_name, container: &container, command: &command, tty, stdin: !tty };
        Error::from_remote_exit(exec::run(&cluster, &session).await?)
    }
}
