//! Which cluster a command talks to, and the clients for it.
//!
//! The context comes from `--context` (alias `--cluster`, env `KDECK_CONTEXT`), else
//! the project's `kdeck.yaml`, else the kubeconfig's current context; it must exist in the kubeconfig, and kdeck
//! never changes `current-context`. The kubeconfig is read as kubectl reads it
//! (`$KUBECONFIG`, paths merged, else `~/.kube/config`).

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio::time::Instant;

use super::client::{self, Retries};
use crate::error::{Error, ExitCode, Result};

/// Where a command acts: the context, and the namespace (`-n`) or all of them
/// (`-A`). Global, as kubectl takes them: `kdeck -n demo logs …` works like
/// `kdeck logs -n demo …`.
#[derive(Clone, Debug, Default, Args)]
pub struct ClusterArgs {
    /// Kubeconfig file to read and write, and only that one (as kubectl's --kubeconfig; default: $KUBECONFIG, else ~/.kube/config).
    #[arg(long, value_name = "FILE", global = true, value_hint = clap::ValueHint::FilePath)]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// Kubeconfig context to use (default: the project's kdeck.yaml, else the current context); never changes current-context.
    #[arg(long, visible_alias = "cluster", env = "KDECK_CONTEXT", value_name = "NAME", global = true, add = clap_complete::ArgValueCandidates::new(crate::cli::complete::contexts))]
    pub context: Option<String>,
    /// Namespace (default: the context's namespace, else `default`).
    #[arg(long, short = 'n', value_name = "NS", global = true, add = clap_complete::ArgValueCandidates::new(crate::cli::complete::namespaces))]
    pub namespace: Option<String>,
    /// Act in every namespace (commands that can).
    #[arg(long, short = 'A', global = true, conflicts_with = "namespace")]
    pub all_namespaces: bool,
}

/// Namespace selection for commands that act in one namespace or all of them.
#[derive(Clone, Debug, Default)]
pub struct NamespaceArgs {
    pub namespace: Option<String>,
    pub all_namespaces: bool,
}

/// A connection to one cluster, by context.
#[derive(Clone)]
pub struct Cluster {
    pub context: String,
    pub server: String,
    /// The context's namespace, or `default`.
    pub default_namespace: String,
    config: kube::Config,
    /// Request/response calls (timeouts between bytes; the retry layer).
    pub client: kube::Client,
    /// The retry layer's state shared by every client of this cluster: the
    /// command's deadline, what was retried.
    pub retries: Arc<Retries>,
}

impl ClusterArgs {
    /// The namespace selection (`-n` or `-A`).
    pub fn namespaces(&self) -> NamespaceArgs {
        NamespaceArgs { namespace: self.namespace.clone(), all_namespaces: self.all_namespaces }
    }

    /// For commands that act in one namespace: `-A` is refused, naming the command.
    pub fn one_namespace(&self, command: &str) -> Result<Option<String>> {
        if self.all_namespaces {
            return Err(Error::usage(format!("{command} acts in one namespace; -A does not apply")).hint("name it with -n NAMESPACE"));
        }
        if let Some(ns) = &self.namespace {
            super::names::validate_namespace(ns)?;
        }
        Ok(self.namespace.clone())
    }

    /// For commands that act on no cluster: `-n` and `-A` are refused.
    pub fn no_namespace(&self, command: &str) -> Result<()> {
        if self.namespace.is_some() || self.all_namespaces {
            return Err(Error::usage(format!("{command} acts on no namespace; -n and -A do not apply")));
        }
        Ok(())
    }

    /// The cluster of `--context`, else of the project's `defaults.kubernetes.context`
    /// (kdeck.yaml here or in a parent), else of the current context.
    pub async fn connect(&self) -> Result<Cluster> {
        let context = match &self.context {
            Some(context) => Some(context.clone()),
            None => crate::project::default_context()?,
        };
        Cluster::connect(context.as_deref()).await
    }
}

impl NamespaceArgs {
    /// The namespace to act in; None for all namespaces. Validated before any request.
    pub fn resolve(&self, cluster: &Cluster) -> Result<Option<String>> {
        if self.all_namespaces {
            return Ok(None);
        }
        let namespace = self.namespace.clone().unwrap_or_else(|| cluster.default_namespace.clone());
        super::names::validate_namespace(&namespace)?;
        Ok(Some(namespace))
    }

    /// As [`resolve`](Self::resolve), and a namespace given with `-n` must exist:
    /// a typo is named with the nearest namespaces, not answered "nothing to do".
    pub async fn resolve_existing(&self, cluster: &Cluster) -> Result<Option<String>> {
        let namespace = self.resolve(cluster)?;
        if let (Some(ns), Some(_)) = (&namespace, &self.namespace) {
            super::access::require_namespace(cluster, ns).await?;
        }
        Ok(namespace)
    }
}

impl Cluster {
    pub async fn connect(context: Option<&str>) -> Result<Cluster> {
        // As kubectl reads it (missing files of $KUBECONFIG skipped); the context's
        // credential plugin, if any, has run once with a time limit.
        let kubeconfig = super::kubeconfig::read_for(context).await?;
        let names: Vec<String> = kubeconfig.contexts.iter().map(|c| c.name.clone()).collect();
        let context = match context.or(kubeconfig.current_context.as_deref()) {
            Some(c) => c.to_string(),
            None => return Err(Error::usage("no context given and the kubeconfig has no current context").hint(contexts_hint(&names))),
        };
        let Some(named) = kubeconfig.contexts.iter().find(|c| c.name == context) else {
            return Err(Error::not_found(format!("context {context:?} is not in the kubeconfig")).hint(contexts_hint(&names)));
        };
        let default_namespace = named.context.as_ref().and_then(|c| c.namespace.clone()).unwrap_or_else(|| "default".into());
        let options = kube::config::KubeConfigOptions { context: Some(context.clone()), ..Default::default() };
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &options).await.map_err(|e| Error::usage(format!("context {context:?} cannot be used: {e}")))?;
        let server = config.cluster_url.to_string().trim_end_matches('/').to_string();
        let retries = Retries::new();
        let client =
            client::build(config.clone(), &retries, false).map_err(|e| Error::failure(format!("cannot create a client for context {context:?}: {e}")))?;
        Ok(Cluster { context, server, default_namespace, config, client, retries })
    }

    /// A client for long-lived streams (exec, attach, followed logs, watches): no
    /// limit between bytes; the same first-byte timeout and retry layer.
    pub fn streaming_client(&self) -> Result<kube::Client> {
        client::build(self.config.clone(), &self.retries, true)
            .map_err(|e| Error::failure(format!("cannot create a client for context {:?}: {e}", self.context)))
    }

    /// Bounds the whole command: no retry waits past `timeout` from now. Returns the
    /// deadline, for the command's own timer.
    pub fn set_deadline(&self, timeout: Duration) -> Instant {
        let deadline = Instant::now() + timeout;
        self.retries.set_deadline(deadline);
        deadline
    }

    /// Runs `work` until the command's deadline (if one is set); None when the
    /// deadline came first.
    pub async fn bounded<F: std::future::Future>(&self, work: F) -> Option<F::Output> {
        match self.retries.deadline() {
            Some(deadline) => tokio::time::timeout_at(deadline, work).await.ok(),
            None => Some(work.await),
        }
    }

    /// The error of a command that ran out of time: `message`, and what was being
    /// retried when it did (so "timed out" is never all it says).
    pub fn timed_out(&self, message: impl Into<String>) -> Error {
        let error = Error::new(ExitCode::Timeout, message);
        match self.retries.last() {
            Some(last) => error.hint(format!("requests were being retried: {last}")),
            None => error,
        }
    }

    /// Turns a client error into one that says what was being done, where, and what next.
    pub fn error(&self, doing: &str, err: kube::Error) -> Error {
        match err {
            kube::Error::Api(status) => {
                let code = match status.code {
                    404 => ExitCode::NotFound,
                    400 | 422 => ExitCode::Usage,
                    _ => ExitCode::Failure,
                };
                // An API server answers errors with a Status; anything else (nothing, a
                // page of HTML from a proxy) is summarised rather than shown.
                let foreign = status.reason == "Failed to parse error data" || status.message.trim().is_empty();
                let message = if foreign { self.wordless(status.code) } else { status.message.clone() };
                let error = Error::new(code, format!("{doing}: {message}"));
                if foreign {
                    error.hint(format!(
                        "{} answered without a Kubernetes Status: check that context {:?} points at a Kubernetes API server (a proxy or another web server answers like this)",
                        self.server, self.context
                    ))
                } else if status.code == 403 {
                    error.hint(format!("the credentials of context {:?} lack this permission; ask for the RBAC verb named above", self.context))
                } else {
                    error
                }
            }
            other => Error::failure(format!("{doing}: the cluster at {} (context {:?}) did not answer: {other}", self.server, self.context))
                .hint("check that the cluster is running and reachable, or pick another --context"),
        }
    }
}

impl Cluster {
    /// What an answer without a message means, in words (the apiserver's own wording
    /// for the common codes).
    fn wordless(&self, code: u16) -> String {
        let what = match code {
            404 => "the server could not find the requested resource",
            401 => "the server has asked for the client to provide credentials",
            403 => "the server does not allow this request",
            409 => "the object has been modified or already exists",
            429 => "the server has received too many requests and has asked us to try again later",
            500 => "an error on the server has prevented the request from succeeding",
            503 => "the server is currently unable to handle the request",
            504 => "the server was unable to return a response in the time allotted",
            _ => "the server refused the request",
        };
        format!("{what} (HTTP {code} from {})", self.server)
    }
}

pub(crate) fn contexts_hint(names: &[String]) -> String {
    if names.is_empty() { "the kubeconfig has no contexts".into() } else { format!("contexts in the kubeconfig: {}", names.join(", ")) }
}
