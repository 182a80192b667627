//! `kdeck logs`: logs of pods, workloads or pods named like a pattern, merged and
//! followed (see `ops::logs`).

use std::io::IsTerminal;

use clap::Args;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use regex::Regex;

use crate::cluster::target::Target;
use crate::cluster::{ClusterArgs, names};
use crate::error::{Error, Result};
use crate::ops::logs::{self, Options, PodMatch};

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Pods (NAME), workloads (deploy/NAME, sts/NAME, ds/NAME, rs/NAME, job/NAME), or a
    /// pattern (regular expression) pod names must match.
    #[arg(value_name = "TARGET", add = clap_complete::ArgValueCandidates::new(crate::cli::complete::targets))]
    targets: Vec<String>,
    /// Pods whose labels match (as kubectl -l).
    #[arg(long, short = 'l', value_name = "SELECTOR")]
    selector: Option<String>,
    /// Container (default: the pod's default container, else its first).
    #[arg(long, short = 'c', value_name = "NAME", conflicts_with = "all_containers")]
    container: Option<String>,
    /// Every container of each pod.
    #[arg(long)]
    all_containers: bool,
    /// Keep streaming new lines and new pods (the default).
    #[arg(long, short = 'f', overrides_with = "no_follow")]
    follow: bool,
    /// Print what is there and exit.
    #[arg(long)]
    no_follow: bool,
    /// Only lines newer than this (0 for all).
    #[arg(long, default_value = "1h", value_name = "DURATION")]
    since: String,
    /// Lines to show from the end of each log at the start (-1 for all).
    #[arg(long, default_value_t = 100, value_name = "N", allow_negative_numbers = true)]
    tail: i64,
    /// The previous container instance's log (after a restart).
    #[arg(long, short = 'p')]
    previous: bool,
    /// Prefix each line with its time.
    #[arg(long)]
    timestamps: bool,
    /// Only lines matching this regular expression.
    #[arg(long, value_name = "RE")]
    grep: Option<String>,
    /// Drop lines matching this regular expression.
    #[arg(long, value_name = "RE")]
    exclude: Option<String>,
    /// Always prefix lines with pod/container (the default when several may show).
    #[arg(long)]
    prefix: bool,
    /// An overall bound, retries included (default 5m without following; none while following).
    #[arg(long, value_name = "DURATION")]
    timeout: Option<String>,
    /// `json`: one JSON object per line.
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: crate::ui::OutputFormat,
}

fn regex(flag: &str, text: &str) -> Result<Regex> {
    Regex::new(text).map_err(|e| Error::usage(format!("invalid {flag} {text:?}: {e}")))
}

impl LogsArgs {
    pub async fn run(self, cluster: &ClusterArgs) -> Result<()> {
        let namespaces = cluster.namespaces();
        if self.targets.is_empty() && self.selector.is_none() {
            return Err(Error::usage("say whose logs: TARGET… or -l SELECTOR").hint("kdeck logs deploy/web, kdeck logs 'api-.*', kdeck logs -l app=web"));
        }
        if let Some(selector) = &self.selector {
            names::validate_selector(selector)?;
        }
        let since = names::parse_duration("--since", &self.since)?;
        let follow = self.follow || !self.no_follow;
        let timeout = match (&self.timeout, follow) {
            (Some(t), _) => Some((t.clone(), names::parse_timeout("--timeout", t)?)),
            (None, false) => Some(("5m".to_string(), std::time::Duration::from_secs(300))),
            (None, true) => None,
        };
        let grep = self.grep.as_deref().map(|g| regex("--grep", g)).transpose()?;
        let exclude = self.exclude.as_deref().map(|g| regex("--exclude", g)).transpose()?;
        // Workload and pod targets are checked before connecting; patterns as regexes.
        let parsed: Vec<(&String, Option<Target>)> = self
            .targets
            .iter()
            .map(|t| (t, if t.contains('/') { Some(Target::parse(t)) } else { None }))
            .map(|(t, p)| Ok((t, p.transpose()?)))
            .collect::<Result<_>>()?;
        let cluster = cluster.connect().await?;
        let deadline = timeout.as_ref().map(|(_, t)| cluster.set_deadline(*t));
        let namespace = namespaces.resolve_existing(&cluster).await?;
        let home = namespace.clone().unwrap_or_else(|| cluster.default_namespace.clone());
        let mut matches = Vec::new();
        for (text, target) in parsed {
            matches.push(match target {
                Some(Target::Pod(name)) => PodMatch::Name(name),
                Some(target) => PodMatch::Labels(target.label_selector(&cluster, &home).await?.unwrap_or_default()),
                None if is_pod(&cluster, &home, text).await? => PodMatch::Name(text.clone()),
                None => PodMatch::Pattern(regex("pod name pattern", text)?),
            });
        }
        if let Some(selector) = self.selector {
            matches.push(PodMatch::Labels(selector));
        }
        let single_pod = matches.len() == 1 && matches!(matches[0], PodMatch::Name(_)) && !self.all_containers;
        if follow && std::io::stderr().is_terminal() {
            eprintln!("following logs of {} (Ctrl-C to stop)", logs::describe(&matches));
        }
        let options = Options {
            namespace,
            matches,
            container: self.container,
            all_containers: self.all_containers,
            follow,
            since: (!since.is_zero()).then_some(since),
            tail: (self.tail >= 0).then_some(self.tail),
            previous: self.previous,
            timestamps: self.timestamps,
            grep,
            exclude,
            json: self.output == crate::ui::OutputFormat::Json,
            color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            prefix: self.prefix || !single_pod,
        };
        match (deadline, timeout) {
            (Some(deadline), Some((text, _))) => tokio::time::timeout_at(deadline, logs::run(&cluster, options))
                .await
                .map_err(|_| cluster.timed_out(format!("the logs were not all read within --timeout {text}")))?,
            _ => logs::run(&cluster, options).await,
        }
    }
}

/// Whether a pod of exactly this name exists (then it is a name, not a pattern).
/// When that cannot be told, the command fails: a guess could show another pod's log.
async fn is_pod(cluster: &crate::cluster::Cluster, namespace: &str, name: &str) -> Result<bool> {
    if names::validate_name("pod", name).is_err() {
        return Ok(false);
    }
    let found = Api::<Pod>::namespaced(cluster.client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|e| cluster.error(&format!("checking whether pod {name} exists in namespace {namespace}"), e))?;
    Ok(found.is_some())
}
