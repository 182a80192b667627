//! `kdeck up`, `status`, `render`, `down`, `doctor`: the stack of `kdeck.yaml`
//! (see `stack`).

use clap::{Args, ValueEnum};

use crate::cluster::{ClusterArgs, names};
use crate::error::{Error, ExitCode, Result};
use crate::project::ProjectArgs;
use crate::stack::down::{self, DownOptions};
use crate::stack::up::{self, UpOptions};
use crate::stack::{StackDef, masked, wait};
use crate::ui::{self, OutputFormat};

/// The stack commands act on the stack's own cluster: -n/-A/--context do not apply.
fn no_cluster_flags(cluster: &ClusterArgs, command: &str) -> Result<()> {
    cluster.no_namespace(command)?;
    if cluster.context.is_some() {
        return Err(Error::usage(format!("{command} acts on the stack's cluster (stack.cluster in kdeck.yaml); --context does not apply"))
            .hint("to use an existing context: stack: { cluster: { provider: context, name: CONTEXT } }"));
    }
    Ok(())
}

fn load(project: &ProjectArgs) -> Result<StackDef> {
    StackDef::of(&project.load()?)
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    project: ProjectArgs,
    /// Print the plan (cluster, secrets, each object's change, what is pruned) and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// An overall bound: resources not ready by then are named with their reason (exit 4).
    #[arg(long, default_value = "10m", value_name = "DURATION")]
    timeout: String,
    /// Take over fields another field manager owns.
    #[arg(long)]
    force_conflicts: bool,
    /// Do not roll workloads when a ConfigMap or Secret they read changes.
    #[arg(long)]
    no_rollout_on_config: bool,
    /// Build no image of stack.images (images already built are still loaded into kind, minikube or k3d).
    #[arg(long)]
    skip_build: bool,
    /// Do not run the stack's checks (stack.verify) once it is ready.
    #[arg(long)]
    no_verify: bool,
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

impl UpArgs {
    pub async fn run(self, cluster: &ClusterArgs) -> Result<()> {
        ui::want_json(self.output);
        no_cluster_flags(cluster, "kdeck up")?;
        let timeout = names::parse_timeout("--timeout", &self.timeout)?;
        let def = load(&self.project)?;
        let options = UpOptions {
            dry_run: self.dry_run,
            timeout,
            force_conflicts: self.force_conflicts,
            rollout_on_config: !self.no_rollout_on_config,
            skip_build: self.skip_build,
            progress: self.output == OutputFormat::Text,
            verify: !self.no_verify,
        };
        let mut signals = crate::interrupt::Signals::new()?;
        let (report, result) = tokio::select! {
            done = up::up(&def, &options) => done,
            code = signals.next() => {
                return Err(Error::new(ExitCode::Remote(code), format!("interrupted while {}", up::where_now()))
                    .hint("what was applied stays; run `kdeck up` again to continue"));
            }
        };
        match self.output {
            OutputFormat::Json => {
                let mut doc = serde_json::to_value(&report).unwrap_or_default();
                if let Err(e) = &result {
                    doc["error"] = ui::error_json(e);
                }
                ui::print_json(&doc);
            }
            OutputFormat::Text => print_up(&report),
        }
        result
    }
}

fn print_up(report: &up::UpReport) {
    if report.dry_run {
        println!("dry run: stack {} on {} {:?} (context {}): cluster {}", report.stack, report.provider, report.cluster, report.context, report.cluster_action);
        if let Some(ingress) = &report.ingress_controller {
            println!("  ingress controller {}: {}", ingress.controller, ingress.action);
            println!("    {} (sha256 {})", ingress.source, ingress.sha256);
        }
        for image in &report.images {
            println!("  image {}: {}", image.name, image.action);
        }
        for s in &report.secrets {
            println!("  secret {}/{}: {}", s.namespace.as_deref().unwrap_or("default"), s.name, s.change);
        }
        for step in &report.steps {
            match step.helm {
                Some(change) => println!("{} — helm {}", step.title, change.text()),
                None => println!("{}", step.title),
            }
            for o in &step.objects {
                println!("  {:<10} {}", o.change, object_name(&o.kind, o.namespace.as_deref(), &o.name));
            }
        }
        for o in &report.pruned {
            println!("  {:<10} {}", o.change, object_name(&o.kind, o.namespace.as_deref(), &o.name));
        }
        println!("nothing was changed");
        return;
    }
    if report.resources.is_empty() && report.steps.is_empty() {
        return;
    }
    let rows: Vec<Vec<String>> = report
        .resources
        .iter()
        .map(|j| {
            vec![
                object_name(&j.kind, None, &j.name),
                j.namespace.clone().unwrap_or_default(),
                wait::verdict_text(&j.verdict),
                j.scheduled_after.map(|s| format!("{s:.1}s")).unwrap_or_default(),
                j.started_after.map(|s| format!("{s:.1}s")).unwrap_or_default(),
                j.ready_after.map(|s| format!("{s:.1}s")).unwrap_or_default(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        print!("{}", ui::table(&["RESOURCE", "NAMESPACE", "STATE", "SCHEDULED", "STARTED", "READY AFTER"], &rows));
    }
    if let Some(controller) = &report.ingress_controller {
        println!("ingress controller: {}, {} ({}, sha256 {})", controller.controller, controller.action, controller.source, controller.sha256);
    }
    if let Some(ingress) = &report.ingress {
        println!("ingress: {ingress}");
    }
    // verify: the checks run at the end of `up`
    for check in &report.checks {
        println!("{}", check.line());
    }
    if report.result == "ready" {
        let unchanged = report.steps.iter().all(|s| s.objects.iter().all(|o| o.change == "unchanged" || o.change == "helm unchanged"))
            && report.pruned.is_empty()
            && report.secrets.iter().all(|s| s.change == "exists")
            && report.cluster_action == "already running";
        let what = if unchanged { "ready; nothing changed" } else { "ready" };
        println!("stack {} is {what} (context {}, {:.1}s)", report.stack, report.context, report.seconds.total);
    }
}

fn object_name(kind: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{kind}/{name} -n {ns}"),
        None => format!("{kind}/{name}"),
    }
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    project: ProjectArgs,
    /// After the table, print each change of a resource's state until interrupted.
    #[arg(long, short = 'w', conflicts_with = "output")]
    watch: bool,
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

impl StatusArgs {
    pub async fn run(self, cluster: &ClusterArgs) -> Result<()> {
        ui::want_json(self.output);
        no_cluster_flags(cluster, "kdeck status")?;
        let def = load(&self.project)?;
        let (context, judged) = down::status(&def).await?;
        let ready = judged.iter().filter(|j| matches!(j.verdict, crate::stack::readiness::Verdict::Ready { .. })).count();
        match self.output {
            OutputFormat::Json => {
                ui::print_json(&serde_json::json!({"stack": def.name, "context": context, "resources": judged, "ready": ready == judged.len()}))
            }
            OutputFormat::Text => {
                let rows: Vec<Vec<String>> = judged
                    .iter()
                    .map(|j| vec![object_name(&j.kind, None, &j.name), j.namespace.clone().unwrap_or_default(), wait::verdict_text(&j.verdict)])
                    .collect();
                print!("{}", ui::table(&["RESOURCE", "NAMESPACE", "STATE"], &rows));
                println!("{ready}/{} ready (stack {}, context {context})", judged.len(), def.name);
            }
        }
        if self.watch {
            use std::io::Write;
            let _ = std::io::stdout().flush();
            eprintln!("watching (Ctrl-C to stop):");
            let mut signals = crate::interrupt::Signals::new()?;
            tokio::select! {
                done = down::watch_status(&def) => done?,
                _ = signals.next() => {}
            }
            return Ok(());
        }
        if ready == judged.len() { Ok(()) } else { Err(Error::new(ExitCode::Failure, String::new())) }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum RenderFormat {
    #[default]
    Yaml,
    Json,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    project: ProjectArgs,
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: RenderFormat,
}

impl RenderArgs {
    pub fn run(self, cluster: &ClusterArgs) -> Result<()> {
        no_cluster_flags(cluster, "kdeck render")?;
        let def = load(&self.project)?;
        let steps = crate::render::render(&def.root, &def.config)?;
        let objects: Vec<serde_json::Value> = steps.iter().flat_map(|s| s.manifests.iter().map(|m| masked(&m.object))).collect();
        match self.output {
            RenderFormat::Json => ui::print_json(&serde_json::json!({"apiVersion": "v1", "kind": "List", "items": objects})),
            RenderFormat::Yaml => {
                for (step, manifests) in steps.iter().map(|s| (s, &s.manifests)) {
                    for m in manifests {
                        println!("---\n# {}", step.title);
                        print!("{}", serde_saphyr::to_string(&masked(&m.object)).unwrap_or_default());
                    }
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Args)]
pub struct DownArgs {
    #[command(flatten)]
    project: ProjectArgs,
    /// Also delete the cluster (kdeck sandbox delete, kind delete cluster, …), keeping volume data when stack.cluster.keepData is set.
    #[arg(long)]
    delete_cluster: bool,
    /// Also delete PersistentVolumeClaims (their data) and the kept generated secrets.
    #[arg(long)]
    delete_data: bool,
    /// Print what would be removed and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

impl DownArgs {
    pub async fn run(self, cluster: &ClusterArgs) -> Result<()> {
        ui::want_json(self.output);
        no_cluster_flags(cluster, "kdeck down")?;
        let def = load(&self.project)?;
        if !self.dry_run {
            let mut what = format!("Remove stack {}", def.name);
            if self.delete_data {
                what.push_str(" with its data");
            }
            if self.delete_cluster {
                what.push_str(" and delete its cluster");
            }
            ui::confirm(&format!("{what}?"), self.yes)?;
        }
        let report = down::down(&def, &DownOptions { dry_run: self.dry_run, delete_data: self.delete_data, delete_cluster: self.delete_cluster }).await?;
        match self.output {
            OutputFormat::Json => ui::print_json(&serde_json::to_value(&report).unwrap_or_default()),
            OutputFormat::Text => {
                for o in report.removed.iter().chain(&report.kept) {
                    println!("{:<8} {}", o.change, object_name(&o.kind, o.namespace.as_deref(), &o.name));
                }
                for r in &report.helm_releases {
                    println!("{:<8} helm release {r}", if report.dry_run { "uninstall" } else { "uninstalled" });
                }
                if let Some(cluster) = &report.cluster {
                    println!("{cluster}");
                }
                if report.dry_run {
                    println!("dry run: nothing was changed");
                } else {
                    let kept = if report.kept.is_empty() { String::new() } else { format!("; {} kept (data: --delete-data removes it)", report.kept.len()) };
                    println!("stack {} is down{kept}", def.name);
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    #[command(flatten)]
    project: ProjectArgs,
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

impl DoctorArgs {
    pub async fn run(self, cluster: &ClusterArgs) -> Result<()> {
        ui::want_json(self.output);
        no_cluster_flags(cluster, "kdeck doctor")?;
        let def = load(&self.project)?;
        let checks = crate::stack::doctor::doctor(&def).await;
        let failed = checks.iter().filter(|c| !c.ok).count();
        match self.output {
            OutputFormat::Json => ui::print_json(&serde_json::json!({"stack": def.name, "checks": checks, "ok": failed == 0})),
            OutputFormat::Text => {
                for check in &checks {
                    println!("{:<5} {:<10} {}", if check.ok { "ok" } else { "FAIL" }, check.check, check.detail);
                    if let Some(fix) = &check.fix {
                        println!("      {:<10} fix: {fix}", "");
                    }
                }
            }
        }
        if failed == 0 { Ok(()) } else { Err(Error::failure(format!("{failed} check(s) failed"))) }
    }
}

#[derive(Debug, Args)]
pub struct ForwardArgs {
    #[command(flatten)]
    project: ProjectArgs,
}

impl ForwardArgs {
    pub async fn run(self, cluster: &ClusterArgs) -> Result<()> {
        no_cluster_flags(cluster, "kdeck forward")?;
        let def = load(&self.project)?;
        let forwards = crate::stack::forward::plan(&def.config.forward)?;
        if forwards.is_empty() {
            return Err(
                Error::usage("the stack declares no ports to forward").hint("add them: stack: { forward: [ { service: backend-service, port: 8000 } ] }")
            );
        }
        let target = crate::stack::provider::target(&def.config.cluster, &def.name).await?;
        let cluster = crate::cluster::Cluster::connect(Some(&target.context)).await?;
        let mut signals = crate::interrupt::Signals::new()?;
        eprintln!("(Ctrl-C to stop)");
        tokio::select! {
            done = crate::stack::forward::serve(&cluster, forwards) => done,
            _ = signals.next() => Ok(()),
        }
    }
}
// verify: begin (`kdeck verify`)
#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    project: ProjectArgs,
    /// The checks to run, by name (default: all of stack.verify).
    #[arg(value_name = "CHECK")]
    checks: Vec<String>,
    /// The timeout of each check that declares none.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    timeout: String,
    /// Also run the `acrossRecreate` part of persistence checks: `down --delete-cluster`, `up`, then read the markers again.
    #[arg(long)]
    recreate: bool,
    /// With --recreate: do not ask for confirmation.
    #[arg(long, short = 'y', requires = "recreate")]
    yes: bool,
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

impl VerifyArgs {
    pub async fn run(self, cluster: &ClusterArgs) -> Result<()> {
        ui::want_json(self.output);
        no_cluster_flags(cluster, "kdeck verify")?;
        let timeout = names::parse_timeout("--timeout", &self.timeout)?;
        let def = load(&self.project)?;
        let planned = crate::stack::verify::selected(&def, &self.checks, self.recreate)?;
        if self.recreate {
            if !self.yes && !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                return Err(Error::usage("verify --recreate deletes the stack's cluster: refusing without --yes, since there is no terminal to confirm on")
                    .hint("run it on a terminal, or pass --yes: kdeck verify --recreate --yes"));
            }
            let keep = if def.config.cluster.keep_data { "keeping volume data (keepData)" } else { "with its volume data (keepData is not set)" };
            ui::confirm(&format!("verify --recreate deletes the cluster of stack {} {keep} and brings the stack up again. Continue?", def.name), self.yes)?;
        }
        let (context, checks) = crate::stack::verify::verify(&def, planned, timeout, self.recreate).await?;
        let failed: Vec<&str> = checks.iter().filter(|c| !c.ok).map(|c| c.name.as_str()).collect();
        match self.output {
            OutputFormat::Json => ui::print_json(&serde_json::json!({"stack": def.name, "context": context, "checks": checks, "ok": failed.is_empty()})),
            OutputFormat::Text => {
                for check in &checks {
                    println!("{}", check.line());
                }
            }
        }
        verdict(&checks)
    }
}

/// Ok when every check passed; else an error naming the ones that failed (exit 1).
fn verdict(checks: &[crate::stack::verify::CheckResult]) -> Result<()> {
    let failed: Vec<String> = checks.iter().filter(|c| !c.ok).map(|c| format!("{:?}", c.name)).collect();
    if failed.is_empty() {
        return Ok(());
    }
    Err(Error::failure(format!("{} of {} check(s) failed: {}", failed.len(), checks.len(), failed.join(", ")))
        .hint("each FAIL line says what was expected and what was seen; `kdeck verify NAME` runs one again"))
}
// verify: end
