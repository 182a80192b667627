//! Where a stack runs: the cluster's provider creates (or reuses) it, names the
//! kubeconfig context to talk to, and deletes it on `down --delete-cluster`.
//!
//! Providers: the kdeck sandbox (started detached with `--run-commands`, no Docker
//! needed), `kind`, `minikube` and `k3d` (their own tools, run with argv — never a
//! shell — through [`crate::render::tools::run`]) and `context` (any kubeconfig
//! context: checked, never created or deleted). With `keepData`, the volumes of
//! kind, minikube and k3d live on the host under `.kdeck/volumes/<cluster>/`.

mod k3d;
pub mod kind;
mod minikube;
mod sandbox;

use std::path::{Path, PathBuf};

use super::StackDef;
use crate::error::{Error, Result};
use crate::project::stack::{Provider, StackCluster};
use crate::render::tools::{self, Tool};
use crate::sandboxes;

pub const KIND: Tool = Tool { name: "kind", install: "install kind: https://kind.sigs.k8s.io/docs/user/quick-start/#installation" };
pub const MINIKUBE: Tool = Tool { name: "minikube", install: "install minikube: https://minikube.sigs.k8s.io/docs/start/" };
pub const K3D: Tool = Tool { name: "k3d", install: "install k3d: https://k3d.io/#installation" };
pub const DOCKER: Tool = Tool { name: "docker", install: "install Docker and start its engine: https://docs.docker.com/engine/install/" };

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
/// sandbox or cluster when `cluster.name` does not.
pub async fn target(cluster: &StackCluster, stack_name: &str) -> Result<Target> {
    let name = cluster.name.clone().unwrap_or_else(|| stack_name.to_string());
    let named = |provider: Provider, context: String| Target { provider, name: name.clone(), context, ingress: None };
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
        Provider::Kind => {
            validate_cluster_name(&name)?;
            Ok(named(Provider::Kind, format!("kind-{name}")))
        }
        Provider::Minikube => {
            validate_cluster_name(&name)?;
            Ok(named(Provider::Minikube, name.clone()))
        }
        Provider::K3d => {
            validate_cluster_name(&name)?;
            Ok(named(Provider::K3d, format!("k3d-{name}")))
        }
    }
}

/// kind, minikube and k3d names become container and host names: DNS labels, and
/// never something a tool could read as a flag.
fn validate_cluster_name(name: &str) -> Result<()> {
    crate::cluster::names::validate_namespace(name).map_err(|_| {
        Error::usage(format!("stack.cluster.name: {name:?} is not a valid cluster name")).hint("lower-case letters, digits and '-', at most 63 characters")
    })
}

async fn current_context() -> Result<String> {
    let config = crate::cluster::kubeconfig::read_for(None).await?;
    config.current_context.filter(|c| !c.is_empty()).ok_or_else(|| {
        Error::usage("stack.cluster.provider is context, but it names no context and the kubeconfig has no current one")
            .hint("set stack.cluster.name to a context")
    })
}

/// Makes sure the cluster exists and runs; returns what was done.
pub async fn ensure(def: &StackDef, target: &mut Target) -> Result<Ensured> {
    match target.provider {
        Provider::Sandbox => sandbox::ensure(&def.config.cluster, target).await,
        Provider::Context => {
            crate::cluster::Cluster::connect(Some(&target.context)).await?;
            Ok(Ensured::Running)
        }
        Provider::Kind => kind::ensure(def, target).await,
        Provider::Minikube => minikube::ensure(def, target),
        Provider::K3d => k3d::ensure(def, target),
    }
}

/// Deletes the cluster (`down --delete-cluster`), keeping claims' data when `keep_data`.
/// Returns what it says it did.
pub async fn delete(def: &StackDef, target: &Target, keep_data: bool) -> Result<String> {
    let said = match target.provider {
        Provider::Sandbox => return sandbox::delete(target, keep_data).await,
        Provider::Context => {
            return Err(Error::usage(format!(
                "--delete-cluster: provider context never deletes a cluster (context {:?} is not kdeck's to delete)",
                target.context
            )));
        }
        Provider::Kind => {
            let kind = KIND.find("stack.cluster.provider kind")?;
            run(&kind, &["delete", "cluster", "--name", &target.name], "kind delete cluster")?;
            format!("kind cluster {:?} deleted", target.name)
        }
        Provider::Minikube => {
            let minikube = MINIKUBE.find("stack.cluster.provider minikube")?;
            run(&minikube, &["delete", "-p", &target.name], "minikube delete")?;
            format!("minikube profile {:?} deleted", target.name)
        }
        Provider::K3d => {
            let k3d = K3D.find("stack.cluster.provider k3d")?;
            run(&k3d, &["cluster", "delete", &target.name], "k3d cluster delete")?;
            format!("k3d cluster {:?} deleted", target.name)
        }
    };
    let volumes = volumes_dir(&def.root, &target.name);
    if !volumes.exists() {
        return Ok(said);
    }
    if keep_data {
        return Ok(format!("{said}; its volumes' data is kept in {} for the next `kdeck up`", volumes.display()));
    }
    match std::fs::remove_dir_all(&volumes) {
        Ok(()) => Ok(format!("{said} with its volumes' data")),
        Err(e) => {
            Ok(format!("{said}; its volumes' data in {} could not be removed ({e}: files the cluster wrote as root): remove it yourself", volumes.display()))
        }
    }
}

/// Runs a provider's tool (`program args…`, argv, never a shell); a failure
/// carries the tool's last lines, introduced by `what`.
pub(crate) fn run(program: &Path, args: &[&str], what: &str) -> Result<String> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tools::run(program, &args, what)
}

/// Where a cluster's volumes live on the host with `keepData`:
/// `<project>/.kdeck/volumes/<cluster>` (absolute: the tools mount it).
pub fn volumes_dir(root: &Path, cluster: &str) -> PathBuf {
    absolute(root).join(".kdeck").join("volumes").join(cluster)
}

/// `root` made absolute (symlinks resolved), as the tools are given it.
pub(crate) fn absolute(root: &Path) -> PathBuf {
    std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf())
}

/// Creates `dir` under the project's `.kdeck/` (`volumes/<cluster>`, `kind`) with a
/// `.gitignore` in `.kdeck/<first part>/`, so nothing kdeck keeps there is committed
/// by accident (and none lands inside a mounted volume).
fn create_kept_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::failure(format!("cannot create {}: {e}", dir.display())))?;
    let ignored = dir.ancestors().find(|a| a.parent().is_some_and(|p| p.file_name().is_some_and(|n| n == ".kdeck"))).unwrap_or(dir);
    let ignore = ignored.join(".gitignore");
    if !ignore.exists() {
        let _ = std::fs::write(&ignore, "*\n");
    }
    Ok(())
}

/// The file `stack.cluster.config` names, relative to kdeck.yaml; an error naming the key when it is missing.
fn config_file(def: &StackDef) -> Result<Option<PathBuf>> {
    let Some(config) = &def.config.cluster.config else { return Ok(None) };
    let path = absolute(&def.root).join(config);
    if !path.is_file() {
        return Err(Error::usage(format!("stack.cluster.config: {config} does not exist (relative to {})", def.root.display()))
            .hint("name a file beside kdeck.yaml, or remove the key"));
    }
    Ok(Some(path))
}
