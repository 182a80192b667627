//! Sandbox benchmarks, run with `cargo run --release -p kdeck-bench`.
//!
//! Starts a sandbox seeded with `scale:20000` (20,000 pods across 40 namespaces) using the
//! release kdeck binary, then measures, side by side in one run:
//! - LIST of all 20,000 pods through the API (what every client pays), and
//!   `kubectl get pods -A -o json` against the same sandbox for comparison;
//! - how long a write takes to reach 100 concurrent watchers;
//! - the sandbox's resident memory;
//! - with kubectl on PATH, kdeck's bulk operations (cleanse-pods, sync-secrets, logs)
//!   against the kubectl one-liners they replace, on the same sandbox (see ops.rs);
//! - `kdeck diagnose -A` against the LISTs it makes (see diagnose.rs; `-- diagnose`
//!   runs only that, on its own scale sandbox);
//! - then, on a fresh sandbox, create throughput with 1, 10 and 50 concurrent clients
//!   (see create.rs; `-- create` runs only that);
//! - then, on a fresh sandbox, the latency the ingress address adds (see network.rs;
//!   `-- network` runs only that);
//! - then, on a sandbox with `--run-commands`, the throughput of port-forward and the
//!   proxy subresource (see portforward.rs; `-- portforward` runs only that);
//! - then, on fresh sandboxes, `kdeck up` against the kubectl commands that bring the
//!   same stack up (see stack.rs; `-- stack` runs only that);
//! - then `kdeck lint` on a 5,000-object render beside `helm lint` and hadolint on the
//!   same inputs (see lint.rs; `-- lint` runs only that).
//!
//! Prints Markdown tables for the README. Timings are medians of repeated runs.

mod create;
mod diagnose;
mod lint;
mod network;
mod ops;
mod portforward;
mod stack;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use serde_json::{Value, json};

const LIST_RUNS: usize = 15;
const WATCHERS: usize = 100;
const WATCH_RUNS: usize = 20;

fn kdeck_bin() -> PathBuf {
    std::env::var_os("KDECK_BIN").map(PathBuf::from).unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/kdeck"))
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    /// A kdeck command in this benchmark's home and kubeconfig.
    fn command(&self) -> Command {
        let mut cmd = Command::new(kdeck_bin());
        cmd.env("KDECK_HOME", self.dir.path().join("home")).env("KUBECONFIG", self.dir.path().join("kubeconfig"));
        cmd
    }

    fn kdeck(&self, args: &[&str]) -> std::process::Output {
        self.command().args(args).output().expect("run kdeck (build it first: cargo build --release -p kdeck)")
    }

    /// A client of the sandbox `bench` through this home's kubeconfig.
    async fn client(&self) -> kube::Client {
        let raw = kube::config::Kubeconfig::read_from(self.dir.path().join("kubeconfig")).expect("kubeconfig");
        let options = kube::config::KubeConfigOptions { context: Some("bench".into()), ..Default::default() };
        kube::Client::try_from(kube::Config::from_custom_kubeconfig(raw, &options).await.expect("config")).expect("client")
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self.kdeck(&["sandbox", "delete", "--name", "bench"]);
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn p90(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[(v.len() * 9 / 10).min(v.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn rss_mib(pid: u64) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|n| n.parse().ok()).unwrap_or(0.0);
    kb / 1024.0
}

/// Pods to seed; `BENCH_PODS` overrides the 20,000 the targets are stated for.
fn pods() -> usize {
    std::env::var("BENCH_PODS").ok().and_then(|n| n.parse().ok()).unwrap_or(20_000)
}

#[tokio::main]
async fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("create") => return create::print(&create::measure().await),
        Some("network") => return network::print(&network::measure().await),
        Some("portforward") => return portforward::print(&portforward::measure(which("kubectl").as_deref()).await),
        Some("stack") => return stack::compare(which("kubectl").as_deref()).await,
        Some("lint") => return lint::compare(),
        _ => {}
    }
    let only_diagnose = std::env::args().nth(1).as_deref() == Some("diagnose");
    let pods = pods();
    let env = Env { dir: tempfile::tempdir().expect("temp dir") };
    let started = Instant::now();
    let out = env.kdeck(&["sandbox", "start", "--detach", "--name", "bench", "--seed", &format!("scale:{pods}"), "--timeout", "300"]);
    assert!(out.status.success(), "sandbox start failed: {}", String::from_utf8_lossy(&out.stderr));
    let seeded_in = started.elapsed();
    let status: Value = serde_json::from_slice(&env.kdeck(&["sandbox", "status", "--name", "bench", "-o", "json"]).stdout).expect("status json");
    let pid = status["pid"].as_u64().expect("pid");
    let kubeconfig = env.dir.path().join("kubeconfig");
    let client = env.client().await;
    let kubectl = which("kubectl");
    let diagnosis = diagnose::measure(&env, kubectl.as_deref()).await;
    if only_diagnose {
        return diagnose::print(&diagnosis, pods);
    }

    let rss_seeded = rss_mib(pid);
    // LIST through the API: request to last byte.
    let mut api_list = Vec::new();
    let mut list_bytes = 0;
    for _ in 0..LIST_RUNS {
        let req = http::Request::get("/api/v1/pods").body(Vec::new()).unwrap();
        let t = Instant::now();
        let body = client.request_text(req).await.expect("list");
        api_list.push(t.elapsed());
        assert!(body.len() > pods * 100, "the list has every pod");
        list_bytes = body.len();
    }
    let count = Api::<k8s_openapi::api::core::v1::Pod>::all(client.clone()).list(&ListParams::default()).await.expect("typed list").items.len();
    assert_eq!(count, pods);

    // The same list as people fetch it today.
    let mut kubectl_list = Vec::new();
    if let Some(kubectl) = &kubectl {
        for _ in 0..5 {
            let t = Instant::now();
            let out =
                Command::new(kubectl).args(["--context", "bench", "get", "pods", "-A", "-o", "json"]).env("KUBECONFIG", &kubeconfig).output().expect("kubectl");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            kubectl_list.push(t.elapsed());
        }
    }

    // Watch fan-out: 100 watchers, one write, time until the last watcher has it.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut fanout = Vec::new();
    for run in 0..WATCH_RUNS {
        let rv = cms.list(&ListParams::default().limit(1)).await.expect("list").metadata.resource_version.expect("rv");
        let name = format!("fanout-{run}");
        let mut watchers = Vec::new();
        for _ in 0..WATCHERS {
            let stream = cms.watch(&WatchParams::default().fields(&format!("metadata.name={name}")).timeout(30), &rv).await.expect("watch");
            watchers.push(tokio::spawn(async move {
                let mut stream = stream.boxed();
                while let Some(event) = stream.next().await {
                    if let Ok(WatchEvent::Added(_)) = event {
                        return Instant::now();
                    }
                }
                panic!("watch ended without the event");
            }));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        let t0 = Instant::now();
        cms.create(&PostParams::default(), &cm).await.expect("create");
        let mut last = t0;
        for w in watchers {
            last = last.max(w.await.expect("watcher"));
        }
        fanout.push(last - t0);
    }
    let rss = rss_mib(pid);

    // Last: the bulk operations change the sandbox.
    let operations = kubectl.as_ref().map(|k| ops::compare(&env, k, pods));

    println!("| measure ({pods} pods) | kdeck sandbox | target | compared with |");
    println!("|---|---|---|---|");
    println!("| start with `--seed scale:{pods}` | {:.1} s | < 60 s | |", seeded_in.as_secs_f64());
    let kubectl_cell = if kubectl_list.is_empty() {
        "kubectl not on PATH".to_string()
    } else {
        format!(
            "`kubectl get pods -A -o json`: {} ({:.1}x)",
            ms(median(kubectl_list.clone())),
            median(kubectl_list).as_secs_f64() / median(api_list.clone()).as_secs_f64()
        )
    };
    println!("| LIST {pods} pods in all namespaces (median / p90) | {} / {} | ≤ 250 ms | {kubectl_cell} |", ms(median(api_list.clone())), ms(p90(api_list)));
    println!("| write → all {WATCHERS} watchers (median / p90) | {} / {} | ≤ 50 ms | |", ms(median(fanout.clone())), ms(p90(fanout)));
    println!(
        "| resident memory after seeding / after the run | {rss_seeded:.0} MiB / {rss:.0} MiB | ≤ 150 MB | the list is {:.1} MiB of JSON |",
        list_bytes as f64 / 1048576.0
    );
    if let Some(rows) = operations {
        println!();
        println!("| operation ({pods} pods) | kdeck | the one-liner | kdeck is |");
        println!("|---|---|---|---|");
        for row in rows {
            let ratio = row.kubectl_time.as_secs_f64() / row.kdeck_time.as_secs_f64();
            println!("| {} | `{}`: {} | `{}`: {} | {ratio:.1}x faster |", row.operation, row.kdeck, ms(row.kdeck_time), row.kubectl, ms(row.kubectl_time));
        }
    }
    println!();
    diagnose::print(&diagnosis, pods);
    drop(env);
    println!();
    create::print(&create::measure().await);
    println!();
    network::print(&network::measure().await);
    println!();
    portforward::print(&portforward::measure(kubectl.as_deref()).await);
    println!();
    stack::compare(kubectl.as_deref()).await;
    println!();
    lint::compare();
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(name)).find(|p| p.is_file()))
}
