//! `kdeck browse-pvc`: a shell (or a command) in an ephemeral pod that mounts a
//! claim at /data; the pod is deleted on every way out (see `ops::browse_pvc`).

use std::io::IsTerminal;

use clap::Args;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::ResourceExt;
use kube::api::ApiResource;

use crate::cluster::locate::{self, Scope};
use crate::cluster::{ClusterArgs, names};
use crate::error::{Error, ExitCode, Result};
use crate::interrupt::Signals;
use crate::ops::browse_pvc::{self, BrowsePod, Options};
use crate::ops::exec::{self, Session};

#[derive(Debug, Args)]
pub struct BrowsePvcArgs {
    /// The PersistentVolumeClaim to look into.
    #[arg(value_name = "PVC", required_unless_present = "cleanup", add = clap_complete::ArgValueCandidates::new(crate::cli::complete::claims))]
    claim: Option<String>,
    /// Mount the claim read-write (read-only by default).
    #[arg(long)]
    rw: bool,
    /// Image of the browse pod.
    #[arg(long, default_value = "alpine")]
    image: String,
    /// User (and group) the pod runs as.
    #[arg(long, default_value_t = 1000, value_name = "UID")]
    as_user: i64,
    /// How long the pod may live; the session ends then.
    #[arg(long, default_value = "1h", value_name = "DURATION")]
    timeout: String,
    /// Remove the browse pods a killed kdeck left behind (in the namespace, or with -A everywhere).
    #[arg(long, conflicts_with_all = ["claim", "command"])]
    cleanup: bool,
    /// Run this instead of an interactive shell.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

impl BrowsePvcArgs {
    pub async fn run(self, cluster: &ClusterArgs) -> Result<()> {
        let namespaces = cluster.namespaces();
        let timeout = names::parse_timeout("--timeout", &self.timeout)?;
        if let Some(claim) = &self.claim {
            names::validate_name("PersistentVolumeClaim", claim)?;
        }
        let cluster = cluster.connect().await?;
        let namespace = namespaces.resolve_existing(&cluster).await?;
        if self.cleanup {
            let deleted = browse_pvc::sweep(&cluster, namespace.as_deref(), false).await?;
            for pod in &deleted {
                println!("deleted {pod}");
            }
            eprintln!("{} browse pod(s) removed", deleted.len());
            return Ok(());
        }
        let Some(home) = namespace else { return Err(Error::usage("-A only goes with --cleanup; a claim lives in one namespace")) };
        // The claim is found as every named object is: -n, else here, else a unique match elsewhere.
        let claim = self.claim.unwrap_or_default();
        let scope = if namespaces.namespace.is_some() { Scope::Given(&home) } else { Scope::Default(&home) };
        let claims = ApiResource::erase::<PersistentVolumeClaim>(&());
        let found = locate::named(&cluster, &claims, "PersistentVolumeClaim", &claim, scope, |note| eprintln!("{note}")).await?;
        let namespace = found.namespace().unwrap_or(home);
        let options = Options { claim, namespace, read_write: self.rw, image: self.image, user: self.as_user, timeout };
        let mut signals = Signals::new()?;
        // Starting may be interrupted too; the guard inside deletes what was created.
        let mut pod = tokio::select! {
            pod = BrowsePod::start(&cluster, &options, |line| eprintln!("{line}")) => pod?,
            code = signals.next() => return Err(Error::new(ExitCode::Remote(code), "interrupted while the browse pod was starting; it is removed")),
        };
        // A shell gets a terminal when there is one; a command gets plain streams.
        let tty = self.command.is_empty() && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
        let command = if self.command.is_empty() { vec!["/bin/sh".to_string()] } else { self.command };
        let session = Session { namespace: &options.namespace, pod: &pod.name, container: "browse", command: &command, tty, stdin: !tty };
        let outcome = tokio::select! {
            result = exec::run(&cluster, &session) => result.map(Ended::Exited),
            code = signals.next() => Ok(Ended::Signalled(code)),
            _ = tokio::time::sleep(timeout) => Ok(Ended::TimedOut),
        };
        pod.delete().await;
        eprintln!("deleted pod {}", pod.name);
        match outcome? {
            Ended::Exited(code) => Error::from_remote_exit(code),
            Ended::Signalled(code) => Err(Error::new(ExitCode::Remote(code), "interrupted")),
            Ended::TimedOut => Err(Error::new(ExitCode::Timeout, format!("the session reached --timeout {}", self.timeout))),
        }
    }
}

enum Ended {
    Exited(i32),
    /// By a signal; the exit code a shell would report (128 + signal number).
    Signalled(u8),
    TimedOut,
}
