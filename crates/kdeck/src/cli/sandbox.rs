//! `kdeck sandbox start|stop|status|list|delete|seed|faults`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use k8s_openapi::api::core::v1::{Namespace, Node};
use kube::api::{Api, ListParams};
use serde_json::json;

use crate::cluster::kubeconfig;
use crate::error::{Error, Result};
use crate::sandboxes::{self, DEFAULT_NAME, Record, StartOptions};
use crate::ui::{self, OutputFormat};

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Start a sandbox cluster (in the foreground, or in the background with --detach).
    Start(StartArgs),
    /// Stop a running sandbox; its objects are kept for the next start.
    Stop(NameArgs),
    /// Show a sandbox: whether it runs, where, and what is in it.
    Status(StatusArgs),
    /// List the sandboxes on this machine.
    List(ListArgs),
    /// Stop a sandbox and remove its data and its kubeconfig entries.
    Delete(NameArgs),
    /// Load a named scenario into a running sandbox (objects that exist are kept).
    Seed(SeedArgs),
    /// Show, set or clear the faults a running sandbox injects (see the README).
    Faults(FaultsArgs),
}

#[derive(Debug, Args)]
pub struct FaultsArgs {
    /// The fault spec to inject from now on, e.g. seed=42,429=0.2:1s,slow=0.3:800ms,only=pods;
    /// without it (and without --clear), print the spec in force.
    #[arg(conflicts_with = "clear")]
    spec: Option<String>,
    /// Stop injecting faults.
    #[arg(long)]
    clear: bool,
    /// Name of the sandbox.
    #[arg(long, default_value = DEFAULT_NAME)]
    name: String,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// The scenario: crds, demo, home-ops, broken:NAME, broken:all or scale:N (see the README).
    scenario: String,
    /// Name of the sandbox.
    #[arg(long, default_value = DEFAULT_NAME)]
    name: String,
    /// Return once the scenario is loaded, without waiting for it to settle.
    #[arg(long)]
    no_wait: bool,
    /// How long to wait for the scenario to settle.
    #[arg(long, default_value = "60", value_name = "SECONDS")]
    timeout: u64,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Name of the sandbox; also its kubeconfig cluster, user and context.
    #[arg(long, default_value = DEFAULT_NAME)]
    name: String,
    /// Port to listen on (127.0.0.1 only); a free one by default.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Where the sandbox keeps its state.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Return once the sandbox answers, leaving it running in the background.
    #[arg(long, short = 'd')]
    detach: bool,
    /// How many nodes the cluster has.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=100))]
    nodes: u16,
    /// Load a named scenario into the sandbox (see the README).
    #[arg(long)]
    seed: Option<String>,
    /// Inject faults into API requests, e.g. seed=42,429=0.2:1s,500=0.1,only=pods (see the README).
    #[arg(long, value_name = "SPEC")]
    faults: Option<String>,
    /// Run the command of pods that opt in with the annotation
    /// sandbox.kdeck.dev/run-command: "true" as real (confined) processes; without
    /// it their containers stay simulated. Exec always runs for real.
    #[arg(long)]
    run_commands: bool,
    /// Serve no metrics.k8s.io, as a cluster without metrics-server (kubectl top,
    /// kdeck rightsize then say metrics are not available).
    #[arg(long)]
    no_metrics: bool,
    /// Port of the ingress address, where Ingresses are served over HTTP (127.0.0.1
    /// only); by default the one of the last start if it is free, else a free one.
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    ingress_port: Option<u16>,
    /// How many past changes the sandbox keeps: watches resume, and paged lists
    /// continue, from a resourceVersion among them; older ones get 410 Expired, as
    /// after etcd's compaction.
    #[arg(long, value_name = "CHANGES", default_value_t = kdeck_sandbox::store::HISTORY_LEN, value_parser = history_len)]
    history: usize,
    /// With --seed and --detach: return once the scenario is loaded, without
    /// waiting for it to settle.
    #[arg(long)]
    no_wait: bool,
    /// How long --detach waits for the sandbox to answer and, with --seed, for the
    /// scenario to settle.
    #[arg(long, default_value = "60", value_name = "SECONDS")]
    timeout: u64,
}

#[derive(Debug, Args)]
pub struct NameArgs {
    /// Name of the sandbox.
    #[arg(long, default_value = DEFAULT_NAME)]
    name: String,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Name of the sandbox.
    #[arg(long, default_value = DEFAULT_NAME)]
    name: String,
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long, short = 'o', value_enum, default_value_t)]
    output: OutputFormat,
}

impl SandboxCommand {
    pub async fn run(self) -> Result<()> {
        match self {
            SandboxCommand::Start(args) => args.run().await,
            SandboxCommand::Stop(args) => stop(&args.name).await,
            SandboxCommand::Status(args) => args.run().await,
            SandboxCommand::List(args) => args.run(),
            SandboxCommand::Delete(args) => delete(&args.name).await,
            SandboxCommand::Seed(args) => args.run().await,
            SandboxCommand::Faults(args) => args.run().await,
        }
    }
}

impl StartArgs {
    /// Fills in defaults: the data directory and the kubeconfig path.
    fn complete(&self) -> Result<StartOptions> {
        sandboxes::validate_name(&self.name)?;
        if let Some(seed) = &self.seed {
            check_scenario(seed)?;
        }
        if let Some(faults) = &self.faults {
            sandboxes::parse_faults(faults)?;
        }
        let previous = sandboxes::load(&self.name)?;
        let data_dir = match (&self.data_dir, &previous) {
            (Some(d), _) => std::path::absolute(d).map_err(|e| Error::usage(format!("bad --data-dir: {e}")))?,
            (None, Some(r)) => r.data_dir.clone(),
            (None, None) => sandboxes::default_data_dir(&self.name)?,
        };
        // The global --kubeconfig (else $KUBECONFIG, else ~/.kube/config), made absolute.
        let kubeconfig = std::path::absolute(kubeconfig::default_path()?).map_err(|e| Error::usage(format!("bad kubeconfig path: {e}")))?;
        Ok(StartOptions {
            name: self.name.clone(),
            port: self.port,
            data_dir,
            kubeconfig,
            seed: self.seed.clone(),
            nodes: usize::from(self.nodes),
            faults: self.faults.clone(),
            run_commands: self.run_commands,
            metrics: !self.no_metrics,
            ingress_port: self.ingress_port,
            history: self.history,
        })
    }

    async fn run(self) -> Result<()> {
        let opts = self.complete()?;
        if self.detach {
            let started = std::time::Instant::now();
            let timeout = Duration::from_secs(self.timeout);
            let record = sandboxes::spawn_detached(&opts, timeout).await?;
            eprintln!("sandbox {:?} is running at {} (pid {})", record.name, record.server, record.pid);
            eprintln!("  ingress: {}", record.ingress);
            println!("{}", record.name);
            if let Some(seed) = opts.seed.as_deref().filter(|_| !self.no_wait) {
                sandboxes::wait_settled(&record, seed, timeout.saturating_sub(started.elapsed())).await?;
            }
            return Ok(());
        }
        sandboxes::serve(&opts, |record| {
            eprintln!("sandbox {:?} is serving at {}", record.name, record.server);
            eprintln!("  kubeconfig: {} (contexts {} and {}-readonly)", record.kubeconfig.display(), record.name, record.name);
            eprintln!("  data:       {}", record.data_dir.display());
            eprintln!("  ingress:    {}", record.ingress);
            eprintln!("  commands:   {}", run_commands_text(record.run_commands));
            eprintln!("press Ctrl-C to stop");
        })
        .await
    }
}

/// `--history`: at least one change, at most a million (each pins two versions of an object).
fn history_len(text: &str) -> std::result::Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
        _ => Err(format!("{text:?} is not a number of changes from 1 to 1000000")),
    }
}

/// Whether opted-in pods' commands run, as `status` and `start` say it.
fn run_commands_text(run: bool) -> &'static str {
    if run { "run for pods that opt in (--run-commands)" } else { "simulated (start with --run-commands to run opted-in pods' commands)" }
}

/// An unknown scenario is a usage error that lists the known ones.
fn check_scenario(name: &str) -> Result<()> {
    if kdeck_sandbox::scenarios::is_known(name) {
        return Ok(());
    }
    Err(Error::usage(format!("unknown scenario {name:?}")).hint(kdeck_sandbox::scenarios::known_for(name)))
}

impl SeedArgs {
    async fn run(self) -> Result<()> {
        check_scenario(&self.scenario)?;
        let record = sandboxes::require(&self.name)?;
        let path = format!("seed/{}", self.scenario);
        sandboxes::admin_request(&record, http::Method::POST, &path, Vec::new()).await?;
        if !self.no_wait {
            sandboxes::wait_settled(&record, &self.scenario, Duration::from_secs(self.timeout)).await?;
        }
        eprintln!("scenario {:?} loaded into sandbox {:?}", self.scenario, self.name);
        Ok(())
    }
}

impl FaultsArgs {
    async fn run(self) -> Result<()> {
        // A bad spec is refused before the sandbox is looked up, with where it is wrong.
        let spec = self.spec.as_deref().map(sandboxes::parse_faults).transpose()?;
        let record = sandboxes::require(&self.name)?;
        let name = &self.name;
        match spec {
            Some(spec) => {
                let set = sandboxes::admin_request(&record, http::Method::PUT, "faults", spec.to_string().into_bytes()).await?;
                eprintln!("sandbox {name:?} injects faults: {}", set.trim());
            }
            None if self.clear => {
                sandboxes::admin_request(&record, http::Method::DELETE, "faults", Vec::new()).await?;
                eprintln!("sandbox {name:?} no longer injects faults");
            }
            None => match sandboxes::admin_request(&record, http::Method::GET, "faults", Vec::new()).await?.trim() {
                "" => eprintln!("sandbox {name:?} injects no faults"),
                spec => println!("{spec}"),
            },
        }
        Ok(())
    }
}

async fn stop(name: &str) -> Result<()> {
    let mut record = sandboxes::require(name)?;
    if sandboxes::stop(&mut record).await? {
        eprintln!("sandbox {name:?} stopped; its objects are kept (start it again with: {})", record.start_command());
    } else {
        eprintln!("sandbox {name:?} is not running");
    }
    Ok(())
}

async fn delete(name: &str) -> Result<()> {
    let mut record = sandboxes::require(name)?;
    sandboxes::stop(&mut record).await?;
    sandboxes::delete(&record)?;
    eprintln!("sandbox {name:?} deleted (data and kubeconfig entries removed)");
    Ok(())
}

impl StatusArgs {
    async fn run(self) -> Result<()> {
        let record = sandboxes::require(&self.name)?;
        let running = record.is_running();
        let mut status = json!({
            "name": record.name,
            "running": running,
            "pid": if running { Some(record.pid) } else { None },
            "server": record.server,
            "context": record.name,
            "readonlyContext": format!("{}-readonly", record.name),
            "kubeconfig": record.kubeconfig,
            "dataDir": record.data_dir,
            "runCommands": record.run_commands,
            "ingress": (!record.ingress.is_empty()).then_some(&record.ingress),
        });
        if running {
            let cluster = inspect(&record).await?;
            status["kubernetesVersion"] = json!(cluster.version);
            status["namespaces"] = json!(cluster.namespaces);
            status["nodes"] = json!(cluster.nodes);
        }
        match self.output {
            OutputFormat::Json => ui::print_json(&status),
            OutputFormat::Text => print_status(&record, running, &status),
        }
        Ok(())
    }
}

struct ClusterInfo {
    version: String,
    namespaces: Vec<String>,
    nodes: Vec<String>,
}

/// Reads what the status shows from the sandbox itself, through the Kubernetes API.
async fn inspect(record: &Record) -> Result<ClusterInfo> {
    let client = crate::cluster::client_for(&record.kubeconfig, &record.name).await?;
    let unreachable = |e: kube::Error| Error::failure(format!("sandbox {:?} does not answer at {}: {e}", record.name, record.server));
    let version = client.apiserver_version().await.map_err(unreachable)?.git_version;
    let namespaces = Api::<Namespace>::all(client.clone()).list(&ListParams::default()).await.map_err(unreachable)?;
    let nodes = Api::<Node>::all(client).list(&ListParams::default()).await.map_err(unreachable)?;
    let names = |items: Vec<Option<String>>| items.into_iter().flatten().collect();
    Ok(ClusterInfo {
        version,
        namespaces: names(namespaces.items.into_iter().map(|n| n.metadata.name).collect()),
        nodes: names(nodes.items.into_iter().map(|n| n.metadata.name).collect()),
    })
}

fn print_status(record: &Record, running: bool, status: &serde_json::Value) {
    let state = if running { format!("running (pid {})", record.pid) } else { "stopped".to_string() };
    let mut rows = vec![
        ("sandbox", record.name.clone()),
        ("state", state),
        ("server", record.server.clone()),
        ("context", format!("{} (read-only: {}-readonly)", record.name, record.name)),
        ("kubeconfig", record.kubeconfig.display().to_string()),
        ("data", record.data_dir.display().to_string()),
        ("commands", run_commands_text(record.run_commands).to_string()),
    ];
    if !record.ingress.is_empty() {
        rows.push(("ingress", record.ingress.clone()));
    }
    if running {
        rows.push(("kubernetes", status["kubernetesVersion"].as_str().unwrap_or_default().to_string()));
        let ns: Vec<&str> = status["namespaces"].as_array().into_iter().flatten().filter_map(|n| n.as_str()).collect();
        rows.push(("namespaces", ns.join(", ")));
        let nodes: Vec<&str> = status["nodes"].as_array().into_iter().flatten().filter_map(|n| n.as_str()).collect();
        rows.push(("nodes", nodes.join(", ")));
    }
    for (k, v) in rows {
        println!("{k:<12}{v}");
    }
    if running {
        println!("\ntry: kubectl --context {} create deployment web --image=nginx --replicas=2", record.name);
        println!("     kubectl --context {} rollout status deployment/web", record.name);
    } else {
        println!("\nstart it with: {}", record.start_command());
    }
}

impl ListArgs {
    fn run(self) -> Result<()> {
        let records = sandboxes::list()?;
        match self.output {
            OutputFormat::Json => {
                let items: Vec<_> = records
                    .iter()
                    .map(|r| json!({"name": r.name, "running": r.is_running(), "server": r.server, "dataDir": r.data_dir, "kubeconfig": r.kubeconfig}))
                    .collect();
                ui::print_json(&json!(items));
            }
            OutputFormat::Text if records.is_empty() => eprintln!("no sandboxes yet; start one with: kdeck sandbox start --detach"),
            OutputFormat::Text => {
                let rows: Vec<Vec<String>> = records
                    .iter()
                    .map(|r| {
                        vec![
                            r.name.clone(),
                            if r.is_running() { "running".into() } else { "stopped".into() },
                            r.server.clone(),
                            r.data_dir.display().to_string(),
                        ]
                    })
                    .collect();
                print!("{}", ui::table(&["NAME", "STATUS", "SERVER", "DATA"], &rows));
            }
        }
        Ok(())
    }
}
