//! The fault-injection harness: `cleanse-pods`, `sync-secrets` and `logs` run again
//! and again against a sandbox injecting a randomized mix of every fault kind
//! (429, 500, 503, dropped connections, slow answers, cut and expired streams),
//! each run on fresh objects, and the cluster is checked afterwards:
//!
//! - no wrong deletion: every pod that is not finished-and-failed is still there;
//! - no missed target: every failed pod is deleted or reported with its reason,
//!   every ExternalSecret is reported with its result;
//! - no lost or repeated log line: what `logs` printed is exactly the start of the
//!   pod's log, at least as long as the log was when it began;
//! - every run ends within its `--timeout` (plus the process's start-up).
//!
//! `KDECK_FAULT_RUNS` sets how many runs (default 4; the README's figures come from
//! 100: `KDECK_FAULT_RUNS=100 cargo test -p kdeck --test fault_harness -- --nocapture`).

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{TestSandbox, api_log, wait_object_for};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PostParams};
use kube::core::GroupVersionKind;
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(20);
/// Setup runs on a machine that may be busy: it is given longer than tests' usual 10 s.
const SETUP_WAIT: Duration = Duration::from_secs(60);
/// What a run may take beyond its --timeout: starting the process, reading the kubeconfig.
const SLACK: Duration = Duration::from_secs(2);

/// A small deterministic generator, so a run's faults can be told from its number.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    fn rate(&mut self, max: f64) -> f64 {
        (self.next() * max * 100.0).round() / 100.0
    }
}

/// A fault spec drawing every kind at a random rate; the exclusive kinds add up to at most 0.6.
fn fault_spec(run: u64) -> String {
    let mut d = Draw(run.wrapping_mul(7919) + 17);
    let (r429, r500, r503, drop) = (d.rate(0.25), d.rate(0.15), d.rate(0.1), d.rate(0.1));
    let (cut, expired) = (d.rate(0.3), d.rate(0.2));
    let slow = d.rate(0.3);
    let slow_ms = 50 + (d.next() * 500.0) as u64;
    let cut_ms = 200 + (d.next() * 800.0) as u64;
    format!("seed={run},429={r429}:1s,500={r500},503={r503},drop={drop},slow={slow}:{slow_ms}ms,watch-cut={cut}:{cut_ms}ms,watch-410={expired}")
}

fn set_faults(sandbox: &TestSandbox, spec: Option<&str>) {
    let out = match spec {
        Some(spec) => sandbox.run(&["sandbox", "faults", spec, "--name", &sandbox.name]),
        None => sandbox.run(&["sandbox", "faults", "--clear", "--name", &sandbox.name]),
    };
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn pod(name: &str, annotations: Value, restart: &str, image: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": name}, "annotations": annotations},
        "spec": {"restartPolicy": restart, "containers": [{"name": "main", "image": image}]},
    }))
    .unwrap()
}

fn phase(p: &Pod) -> String {
    p.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default()
}

fn es_api(client: &kube::Client, ns: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), ns, &ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("external-secrets.io", "v1", kind), plural))
}

/// What the harness found wrong, over all runs.
#[derive(Debug, Default)]
struct Tally {
    runs: usize,
    wrong_deletions: Vec<String>,
    missed_targets: Vec<String>,
    lost_or_repeated_lines: Vec<String>,
    over_time: Vec<String>,
    exits: Vec<(String, Option<i32>)>,
}

/// Failed pods (to delete), and pods that must stay: running, completed, pending.
const FAILED: [&str; 5] = ["fail-0", "fail-1", "fail-2", "fail-3", "evicted"];
const KEPT: [&str; 4] = ["chatty", "idle", "done", "stuck"];
const SECRETS: [&str; 4] = ["es-0", "es-1", "es-2", "es-3"];

async fn set_up(client: &kube::Client, ns: &str) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap()).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    for name in &FAILED[..4] {
        pods.create(&PostParams::default(), &pod(name, json!({"sandbox.kdeck.dev/exit-code": "1"}), "Never", "busybox")).await.unwrap();
    }
    pods.create(&PostParams::default(), &pod("evicted", json!({"sandbox.kdeck.dev/evict-after-seconds": "1"}), "Always", "nginx")).await.unwrap();
    pods.create(&PostParams::default(), &pod("chatty", json!({"sandbox.kdeck.dev/log-rate": "300"}), "Always", "nginx")).await.unwrap();
    pods.create(&PostParams::default(), &pod("idle", json!({}), "Always", "nginx")).await.unwrap();
    pods.create(&PostParams::default(), &pod("done", json!({"sandbox.kdeck.dev/exit-code": "0"}), "Never", "busybox")).await.unwrap();
    pods.create(&PostParams::default(), &pod("stuck", json!({"sandbox.kdeck.dev/image-pull": "fail"}), "Always", "nginx")).await.unwrap();
    let stores = es_api(client, ns, "SecretStore", "secretstores");
    let store = json!({"apiVersion": "external-secrets.io/v1", "kind": "SecretStore", "metadata": {"name": "fake"},
        "spec": {"provider": {"fake": {"data": [{"key": "k", "value": "v"}]}}}});
    stores.create(&PostParams::default(), &serde_json::from_value(store).unwrap()).await.unwrap();
    let ess = es_api(client, ns, "ExternalSecret", "externalsecrets");
    for name in SECRETS {
        let es = json!({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": {"name": name},
            "spec": {"refreshInterval": "1h", "secretStoreRef": {"name": "fake", "kind": "SecretStore"}, "target": {"name": name},
                     "data": [{"secretKey": "k", "remoteRef": {"key": "k"}}]}});
        ess.create(&PostParams::default(), &serde_json::from_value(es).unwrap()).await.unwrap();
    }
    for name in FAILED {
        wait_object_for(&pods, name, "Failed", SETUP_WAIT, |p| phase(p) == "Failed").await;
    }
    wait_object_for(&pods, "done", "Succeeded", SETUP_WAIT, |p| phase(p) == "Succeeded").await;
    wait_object_for(&pods, "chatty", "Running", SETUP_WAIT, |p| phase(p) == "Running").await;
    for name in SECRETS {
        wait_object_for(&ess, name, "synced", SETUP_WAIT, |es| es.data["status"]["syncedResourceVersion"].is_string()).await;
    }
}

/// Runs kdeck; returns (exit code, stdout, stderr, how long it took).
fn run(sandbox: &TestSandbox, args: &[&str]) -> (Option<i32>, String, String, Duration) {
    let started = Instant::now();
    let out = sandbox.run(args);
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned(), started.elapsed())
}

async fn check_cleanse(sandbox: &TestSandbox, client: &kube::Client, ns: &str, tally: &mut Tally, uids: &[(String, Option<String>)]) {
    let timeout = format!("{}s", TIMEOUT.as_secs());
    let (code, stdout, stderr, took) = run(sandbox, &["cleanse-pods", "--context", &sandbox.name, "-n", ns, "-o", "json", "--timeout", &timeout]);
    tally.exits.push((format!("{ns} cleanse-pods"), code));
    if took > TIMEOUT + SLACK {
        tally.over_time.push(format!("{ns} cleanse-pods took {took:?}"));
    }
    set_faults(sandbox, None);
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let now: Vec<Pod> = pods.list(&ListParams::default()).await.unwrap().items;
    let uid_of = |name: &str| now.iter().find(|p| p.metadata.name.as_deref() == Some(name)).map(|p| p.metadata.uid.clone());
    for (name, uid) in uids.iter().filter(|(n, _)| KEPT.contains(&n.as_str())) {
        if uid_of(name) != Some(uid.clone()) {
            tally.wrong_deletions.push(format!("{ns}/{name} was deleted by cleanse-pods (exit {code:?}): {stderr}"));
        }
    }
    let report: Option<Value> = serde_json::from_str(&stdout).ok();
    let reported: BTreeSet<String> = report
        .iter()
        .flat_map(|r| {
            let result = &r["result"];
            let named = |key: &str| {
                result[key].as_array().into_iter().flatten().map(|e| e[0].as_str().or(e.as_str()).unwrap_or_default().to_string()).collect::<Vec<_>>()
            };
            [named("changed"), named("failed"), named("timedOut")].concat()
        })
        .collect();
    for name in FAILED {
        let gone = uid_of(name).is_none();
        let said = reported.contains(&format!("{ns}/{name}")) || (report.is_none() && code != Some(0) && !stderr.trim().is_empty());
        if !gone && !said {
            tally.missed_targets.push(format!("{ns}/{name}: neither deleted nor reported (exit {code:?}): {stdout} {stderr}"));
        }
    }
}

async fn check_sync(sandbox: &TestSandbox, ns: &str, tally: &mut Tally) {
    let timeout = format!("{}s", TIMEOUT.as_secs());
    let (code, stdout, stderr, took) = run(sandbox, &["sync-secrets", "--context", &sandbox.name, "-n", ns, "--wait", "-o", "json", "--timeout", &timeout]);
    tally.exits.push((format!("{ns} sync-secrets"), code));
    if took > TIMEOUT + SLACK {
        tally.over_time.push(format!("{ns} sync-secrets took {took:?}"));
    }
    let report: Option<Value> = serde_json::from_str(&stdout).ok();
    let rows: Vec<Value> = report.iter().flat_map(|r| r["results"].as_array().cloned().unwrap_or_default()).collect();
    for name in SECRETS {
        let row = rows.iter().find(|r| r["name"] == name);
        let reported = row.is_some_and(|r| {
            let result = r["result"].as_str().unwrap_or_default();
            result == "Synced" || (!result.is_empty() && !r["message"].as_str().unwrap_or_default().is_empty())
        });
        let failed_whole = report.is_none() && code != Some(0) && !stderr.trim().is_empty();
        if !reported && !failed_whole {
            tally.missed_targets.push(format!("{ns}/{name}: no result (exit {code:?}): {row:?} {stderr}"));
        }
    }
}

async fn check_logs(sandbox: &TestSandbox, client: &kube::Client, ns: &str, spec: &str, tally: &mut Tally) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let before = api_log(&pods, "chatty").await.len();
    set_faults(sandbox, Some(spec));
    let timeout = format!("{}s", TIMEOUT.as_secs());
    let (code, stdout, stderr, took) = run(
        sandbox,
        &["logs", "--context", &sandbox.name, "-n", ns, "chatty", "--no-follow", "--since", "0", "--tail", "-1", "--timestamps", "--timeout", &timeout],
    );
    tally.exits.push((format!("{ns} logs"), code));
    if took > TIMEOUT + SLACK {
        tally.over_time.push(format!("{ns} logs took {took:?}"));
    }
    // Following, with streams cut and expired, for a few seconds.
    let (_, followed, _, took_follow) =
        run(sandbox, &["logs", "--context", &sandbox.name, "-n", ns, "chatty", "--since", "0", "--tail", "-1", "--timestamps", "--timeout", "4s"]);
    if took_follow > Duration::from_secs(4) + SLACK {
        tally.over_time.push(format!("{ns} logs -f took {took_follow:?}"));
    }
    set_faults(sandbox, None);
    let truth = api_log(&pods, "chatty").await;
    let shown: Vec<&str> = stdout.lines().collect();
    if code == Some(0) && shown.len() < before {
        tally.lost_or_repeated_lines.push(format!("{ns} logs: {} lines shown, {before} were there before", shown.len()));
    }
    if code != Some(0) && stderr.trim().is_empty() {
        tally.lost_or_repeated_lines.push(format!("{ns} logs failed (exit {code:?}) without saying why"));
    }
    for (what, text) in [("logs", stdout.as_str()), ("logs -f", followed.as_str())] {
        let shown: Vec<&str> = text.lines().collect();
        if let Some(i) = (0..shown.len().min(truth.len())).find(|&i| shown[i] != truth[i]) {
            tally.lost_or_repeated_lines.push(format!("{ns} {what}: line {i} is {:?}, the log has {:?}", shown[i], truth[i]));
        } else if shown.len() > truth.len() {
            tally.lost_or_repeated_lines.push(format!("{ns} {what}: {} lines shown, the log has {}", shown.len(), truth.len()));
        }
    }
}

#[tokio::test]
async fn operations_hold_their_guarantees_under_random_faults() {
    let runs: u64 = std::env::var("KDECK_FAULT_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(4);
    let sandbox = TestSandbox::start_seeded("harness", "crds");
    let client = sandbox.client().await;
    let mut tally = Tally::default();
    for run in 0..runs {
        let ns = format!("run-{run}");
        set_up(&client, &ns).await;
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let uids: Vec<(String, Option<String>)> =
            pods.list(&ListParams::default()).await.unwrap().items.into_iter().map(|p| (p.metadata.name.unwrap_or_default(), p.metadata.uid)).collect();
        let spec = fault_spec(run);
        check_logs(&sandbox, &client, &ns, &spec, &mut tally).await;
        set_faults(&sandbox, Some(&spec));
        check_sync(&sandbox, &ns, &mut tally).await;
        check_cleanse(&sandbox, &client, &ns, &mut tally, &uids).await;
        tally.runs += 1;
        // Each run on fresh objects: the namespace goes, so the sandbox stays small.
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let _ = namespaces.delete(&ns, &Default::default()).await;
    }
    let nonzero = tally.exits.iter().filter(|(_, c)| *c != Some(0)).count();
    eprintln!(
        "fault harness: {} runs × 3 commands: {} wrong deletions, {} missed targets, {} lost or repeated log lines, {} over their --timeout; {} of {} commands exited non-zero (each with its reason)",
        tally.runs,
        tally.wrong_deletions.len(),
        tally.missed_targets.len(),
        tally.lost_or_repeated_lines.len(),
        tally.over_time.len(),
        nonzero,
        tally.exits.len()
    );
    assert!(tally.wrong_deletions.is_empty(), "wrong deletions: {:#?}", tally.wrong_deletions);
    assert!(tally.missed_targets.is_empty(), "missed targets: {:#?}", tally.missed_targets);
    assert!(tally.lost_or_repeated_lines.is_empty(), "log lines: {:#?}", tally.lost_or_repeated_lines);
    assert!(tally.over_time.is_empty(), "over time: {:#?}", tally.over_time);
}
