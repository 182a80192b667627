//! `kubernetes`: the task in the first ready pod of the component's workload,
//! through the API's exec (no kubectl). The script runs under `sh -euc` after a
//! `cd` and `export`s; the remote exit code is the task's.

use std::io::IsTerminal;

use kube::ResourceExt;

use crate::cluster::access::{self, Permission};
use crate::cluster::{Cluster, target};
use crate::error::Result;
use crate::ops::exec::{self, Session};
use crate::tasks::output::{Output, Stream};
use crate::tasks::resolve::Resolved;
use crate::tasks::script::remote_shell;

pub struct Kubernetes {
    cluster: Cluster,
    namespace: String,
    pod: String,
    container: String,
    command: Vec<String>,
}

pub async fn prepare(resolved: &Resolved, plan: &mut Vec<(&'static str, String)>) -> Result<Kubernetes> {
    let (cluster, namespace, kube) = super::connect(resolved, plan).await?;
    access::require(&cluster, &namespace, Permission { verb: "create", group: "", resource: "pods", subresource: Some("exec") }).await?;
    let pod = kube.workload.ready_pod(&cluster, &namespace).await?;
    let container = target::container(&pod, kube.container.as_deref(), &kube.container_hint)?;
    plan.push(("pod", format!("{} (first ready pod of {})", pod.name_any(), kube.workload)));
    plan.push(("container", container.clone()));
    plan.push(("directory", resolved.workdir_shown.clone().unwrap_or_else(|| "(the container's)".into())));
    plan.push(("command", resolved.body_shown.describe("sh -euc", &resolved.args)));
    let command = remote_shell(&resolved.body, &resolved.args, &resolved.env, resolved.workdir.as_deref());
    Ok(Kubernetes { cluster, namespace, pod: pod.name_any(), container, command })
}

impl Kubernetes {
    pub async fn run(&self, resolved: &Resolved, output: &Output) -> Result<i32> {
        let terminal = std::io::stdin().is_terminal();
        let tty = resolved.interactive && terminal && std::io::stdout().is_terminal();
        let session = Session {
            namespace: &self.namespace,
            pod: &self.pod,
            container: &self.container,
            command: &self.command,
            tty,
            // Piped input goes to the task; an idle terminal is not attached unless asked for.
            stdin: resolved.interactive || !terminal,
        };
        output.note(&format!("kdeck: running {} in pod {}/{} (container {})", resolved.name, self.namespace, self.pod, self.container));
        if tty {
            return exec::run(&self.cluster, &session).await;
        }
        exec::run_with_output(&self.cluster, &session, Box::new(output.writer(Stream::Stdout)), Box::new(output.writer(Stream::Stderr))).await
    }
}
