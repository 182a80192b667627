//! `kdeck rightsize`: requests and limits from sampled usage (see `ai::rightsize`).

use std::collections::BTreeSet;

use clap::Args;
use kube::api::{Api, DynamicObject};
use serde_json::json;

use crate::ai::rightsize;
use crate::cluster::{ClusterArgs, wait};
use crate::error::{Error, Result};
use crate::ops::workload::{self, Change};
use crate::ui::{self, OutputFormat};

#[derive(Debug, Args)]
pub struct RightsizeArgs {
    /// Workloads to size (deploy/NAME, sts/NAME, ds/NAME); default: every one of the namespace.
    #[arg(value_name = "TARGET")]
    targets: Vec<String>,
    /// How long to sample usage (metrics.k8s.io keeps no history: kdeck samples every 15s while it runs).
    #[arg(long, default_value = "1h", value_name = "DURATION")]
    window: String,
    /// Patch the workloads with the suggestions (a plan, confirmation, the rollout watched).
    #[arg(long)]
    apply: bool,
    /// With --apply: print the plans and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// With --apply: do not ask before patching.
    #[arg(long, short = 'y')]
    yes: bool,
    /// With --apply: how long the rollouts may take.
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    timeout: String,
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

impl RightsizeArgs {
    pub async fn run(self, cluster_args: &ClusterArgs) -> Result<()> {
        ui::want_json(self.output);
        for target in &self.targets {
            crate::ai::tools::args::workload(target)?;
        }
        let window = rightsize::window(&self.window)?;
        let timeout = crate::cluster::names::parse_timeout("--timeout", &self.timeout)?;
        let cluster = cluster_args.connect().await?;
        let namespace = cluster_args.namespaces().resolve_existing(&cluster).await?;
        let workloads = rightsize::workloads(&cluster, namespace.as_deref(), &self.targets).await?;
        if workloads.is_empty() {
            let place = namespace.as_deref().map_or("in any namespace".to_string(), |ns| format!("in namespace {ns}"));
            return Err(Error::not_found(format!("no Deployments, StatefulSets or DaemonSets {place} (context {})", cluster.context)));
        }
        let namespaces: BTreeSet<String> = workloads.iter().map(|w| w.namespace.clone()).collect();
        let not_served = || {
            Error::not_found(format!("metrics not served: the cluster (context {}) does not serve metrics.k8s.io", cluster.context))
                .hint("install metrics-server; kdeck sizes from what containers use, and nothing else says it")
        };
        let started = tokio::time::Instant::now();
        if self.output == OutputFormat::Text {
            eprintln!("sampling usage for {} (every {}s)…", self.window, rightsize::INTERVAL.as_secs());
        }
        let mut samples = vec![rightsize::sample(&cluster, &namespaces).await?.ok_or_else(not_served)?];
        loop {
            let left = window.saturating_sub(started.elapsed());
            if left.is_zero() {
                break;
            }
            tokio::time::sleep(left.min(rightsize::INTERVAL)).await;
            samples.push(rightsize::sample(&cluster, &namespaces).await?.ok_or_else(not_served)?);
        }
        let suggestions = rightsize::suggestions(&cluster, &workloads, &samples).await?;
        let changes = rightsize::changes(&suggestions);
        let mut plans = Vec::new();
        if self.apply {
            for ((ns, target), resources) in &changes {
                let (kind, name) = crate::ai::tools::args::workload(target)?;
                let mut plan = workload::plan(&cluster, kind, ns, &name, &Change::SetResources(resources.clone())).await?;
                for item in &mut plan.items {
                    item.reason = format!("usage over {} ({} samples)", self.window, samples.len());
                }
                plans.push((kind, plan));
            }
        }
        match self.output {
            OutputFormat::Json => {}
            OutputFormat::Text => {
                let pairs = |m: &std::collections::BTreeMap<String, String>| m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
                let rows: Vec<Vec<String>> = suggestions
                    .iter()
                    .map(|s| {
                        let now = format!("{} / {}", pairs(&s.requests), pairs(&s.limits));
                        let new = if s.changes { format!("{} / {}", pairs(&s.suggested_requests), pairs(&s.suggested_limits)) } else { "as it is".into() };
                        vec![s.namespace.clone(), format!("{} {}", s.workload, s.container), now, new]
                    })
                    .collect();
                print!("{}", ui::table(&["NAMESPACE", "CONTAINER", "REQUESTS / LIMITS NOW", "SUGGESTED"], &rows));
                for s in &suggestions {
                    println!("{} {}: {}", s.workload, s.container, s.reason);
                }
                for (_, plan) in &plans {
                    print!("{}", plan.table());
                }
            }
        }
        let json_out = |applied: serde_json::Value| {
            let plans: Vec<&crate::ops::plan::Plan> = plans.iter().map(|(_, p)| p).collect();
            ui::print_json(&json!({"window": self.window, "samples": samples.len(), "suggestions": suggestions, "plans": plans, "applied": applied}))
        };
        if !self.apply || plans.is_empty() || self.dry_run {
            if self.output == OutputFormat::Json {
                json_out(json!([]));
            } else if self.apply && self.dry_run {
                eprintln!("dry run: {} workload(s) would be patched on context {}, nothing changed", plans.len(), cluster.context);
            } else if !self.apply && !changes.is_empty() {
                eprintln!("to apply: kdeck rightsize {} --window {} --apply", self.targets.join(" "), self.window);
            }
            return Ok(());
        }
        ui::confirm(&format!("patch the requests and limits of {} workload(s) on context {}?", plans.len(), cluster.context), self.yes)?;
        let deadline = cluster.set_deadline(timeout);
        let mut applied = Vec::new();
        for (kind, plan) in &plans {
            let done = workload::apply(&cluster, plan).await?;
            let item = &plan.items[0];
            let api: Api<DynamicObject> = Api::namespaced_with(cluster.client.clone(), &item.namespace, &kind.resource());
            let keys = BTreeSet::from([(item.namespace.clone(), item.name.clone())]);
            let kind = *kind;
            let complete = move |obj: &DynamicObject| {
                let value = serde_json::to_value(obj).unwrap_or_default();
                crate::ai::tools::read::rollout(kind, &value)["complete"] == true
            };
            let outcome = wait::until_settled(&api, &keys, deadline, complete, |_| {}).await;
            let rolled_out = outcome.pending.is_empty();
            if self.output == OutputFormat::Text {
                eprintln!("{}: {}", done.join("; "), if rolled_out { "rolled out" } else { "not rolled out within --timeout" });
            }
            applied.push(json!({"namespace": item.namespace, "name": item.name, "kind": kind.name(), "rolledOut": rolled_out}));
            if !rolled_out {
                if self.output == OutputFormat::Json {
                    json_out(json!(applied));
                }
                return Err(cluster.timed_out(format!("{}/{} did not roll out within --timeout {}", kind.short(), item.name, self.timeout)));
            }
        }
        if self.output == OutputFormat::Json {
            json_out(json!(applied));
        }
        Ok(())
    }
}
