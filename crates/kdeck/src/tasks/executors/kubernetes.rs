//! `kubernetes`: the task in the first ready pod of the component's workload,
//! through the API's exec (no kubectl). The script runs under `sh -euc` after a
//! `cd` and `export`s; the remote exit code is the task's.

use std::io::IsTerminal;

use kube::ResourceExt;

use crate::cluster::access::{self, Permission};
use crate::cluster::{Cluster, target};
use crate::error::{Error, Result};
use crate::ops::exec::{self, Session};
use crate::tasks::output::{Output, Stream};
use crate::tasks::resolve::{KubeTarget, Resolved};
use crate::tasks::script::remote_shell;

pub struct Kubernetes {
    cluster: Cluster,
    namespace: String,
    pod: String,
    container: String,
    command: Vec<String>,
}

pub async fn prepare(resolved: &Resolved, plan: &mut Vec<(&'static str, String)>) -> Result<Kubernetes> {
    let (cluster, namespace, kube) = connect(resolved, plan).await?;
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

/// The cluster and namespace a kubernetes or job task runs in (added to the plan),
/// checked to exist before anything else is asked of them.
pub(super) async fn connect<'a>(resolved: &'a Resolved, plan: &mut Vec<(&'static str, String)>) -> Result<(Cluster, String, &'a KubeTarget)> {
    let Some(kube) = &resolved.kube else {
        return Err(Error::usage(format!("task {}: its component has no Kubernetes workload", resolved.name)));
    };
    let cluster = Cluster::connect(kube.context.as_ref().map(|c| c.value.as_str())).await?;
    let context_source = kube.context.as_ref().map_or("the kubeconfig's current context".to_string(), |c| format!("from {}", c.source));
    plan.push(("context", format!("{} ({context_source})", cluster.context)));
    let (namespace, source) = match &kube.namespace {
        Some(ns) => (ns.value.clone(), format!("from {}", ns.source)),
        None => (cluster.default_namespace.clone(), format!("the namespace of context {}", cluster.context)),
    };
    plan.push(("namespace", format!("{namespace} ({source})")));
    access::require_namespace(&cluster, &namespace).await?;
    Ok((cluster, namespace, kube))
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
