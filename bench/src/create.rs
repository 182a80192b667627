//! Create throughput: N concurrent clients create ConfigMaps for a few seconds
//! against a fresh sandbox (each answer comes once the create is on disk), for N in
//! `BENCH_CREATE_CLIENTS` (default 1,10,50), `BENCH_CREATE_SECONDS` each (default 5).
//!
//! Run alone with `cargo run --release -p kdeck-bench -- create`; `KDECK_BIN` picks
//! the kdeck binary to measure (to compare two builds on the same machine).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use serde_json::json;

use super::{Env, median, ms};

pub struct Row {
    pub clients: usize,
    pub creates: usize,
    pub per_second: f64,
    pub median: Duration,
    pub p99: Duration,
}

fn clients() -> Vec<usize> {
    std::env::var("BENCH_CREATE_CLIENTS")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).filter(|&n| n > 0).collect::<Vec<usize>>())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| vec![1, 10, 50])
}

fn seconds() -> Duration {
    Duration::from_secs_f64(std::env::var("BENCH_CREATE_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5.0))
}

/// Starts a sandbox of its own and measures each client count in turn.
pub async fn measure() -> Vec<Row> {
    let env = Env { dir: tempfile::tempdir().expect("temp dir") };
    let out = env.kdeck(&["sandbox", "start", "--detach", "--name", "bench"]);
    assert!(out.status.success(), "sandbox start failed: {}", String::from_utf8_lossy(&out.stderr));
    let client = env.client().await;
    let mut rows = Vec::new();
    for (round, n) in clients().into_iter().enumerate() {
        rows.push(round_of(&client, round, n, seconds()).await);
    }
    rows
}

async fn round_of(client: &kube::Client, round: usize, n: usize, duration: Duration) -> Row {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..n {
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        let stop = stop.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            for i in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": format!("r{round}-w{w}-{i}")}, "data": {"key": "value"}})).unwrap();
                let t = Instant::now();
                api.create(&PostParams::default(), &cm).await.expect("create");
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.expect("worker"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let p99 = latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)];
    Row { clients: n, creates: latencies.len(), per_second: latencies.len() as f64 / elapsed.as_secs_f64(), median: median(latencies), p99 }
}

pub fn print(rows: &[Row]) {
    println!("| concurrent clients | creates/s | median / p99 latency | creates |");
    println!("|---|---|---|---|");
    for row in rows {
        println!("| {} | {:.0} | {} / {} | {} |", row.clients, row.per_second, ms(row.median), ms(row.p99), row.creates);
    }
}
