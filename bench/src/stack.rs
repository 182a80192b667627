//! Bringing a stack up: `kdeck up` against the kubectl commands people type today,
//! side by side in one run (`cargo run --release -p kdeck-bench -- stack`; also last in
//! the full bench).
//!
//! The stack, written by the bench as a kustomization (`k8s/`, namespace `shop`): a
//! Namespace, a ConfigMap, three Deployments of 2 replicas whose readiness probes pass
//! 2, 3 and 4 s after their containers start, their Services, a postgres-like
//! StatefulSet with a volumeClaimTemplate (and its headless Service), and a migration
//! Job that runs for 4 s. Every run gets a fresh sandbox (`kdeck sandbox start
//! --detach`), so each way meets the same empty cluster; the ways take turns, run after
//! run, to share the machine's noise:
//! - **kdeck**: `kdeck up` in a project whose `kdeck.yaml` deploys the kustomization
//!   onto that sandbox's context (provider `context`);
//! - **the seed's way**: `kubectl apply -k k8s && kubectl wait --for=condition=ready pod
//!   --all -n shop --timeout=300s`;
//! - **the expert's**: `kubectl apply -k k8s --server-side`, then `kubectl rollout status`
//!   of each Deployment and of the StatefulSet, then `kubectl wait
//!   --for=condition=complete job/migrate`. Rollout status takes one object at a time;
//!   it checks the controller saw the new generation and that updated replicas are
//!   available, which `kubectl wait --for=condition=Available deploy --all` does not,
//!   and it covers the StatefulSet too.
//!
//! kubectl is the one on `PATH` (the kubectl rows are left out without it), run with
//! the sandbox's kubeconfig (its current context is the sandbox) and a fresh `HOME`.
//! Time to ready: from the start of the first command to the exit of the last.
//! Detection latency: from the moment the last resource became ready to that exit. The
//! bench watches the moment itself (a pod's Ready condition turning True, the Job's
//! Complete), to the millisecond; the API's own stamps (`lastTransitionTime`,
//! `completionTime`) are whole seconds, so the latency read from them (up to 1 s more)
//! is given beside it. A negative latency is a way that exited before all was ready.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, PodCondition};
use kube::api::{Api, ListParams, WatchEvent, WatchParams};

use super::Env;

const NS: &str = "shop";
/// 3 Deployments x 2 replicas, the StatefulSet's pod and the Job.
const READY_OBJECTS: usize = 8;

const KUSTOMIZATION: &str = "namespace: shop\nresources: [app.yaml]\n";

const KDECK_YAML: &str = "stack:\n  name: shop\n  cluster: {provider: context, name: bench}\n  deploy:\n    - kustomize: k8s\n";

/// A Deployment of 2 replicas ready `delay` seconds after it starts, and its Service.
fn deployment(name: &str, port: u16, delay: u32) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers: [{{name: {name}, image: nginx:1.27, ports: [{{containerPort: {port}}}], envFrom: [{{configMapRef: {{name: app-config}}}}],
        readinessProbe: {{httpGet: {{path: /healthz, port: {port}}}, initialDelaySeconds: {delay}, periodSeconds: 2}}}}]
---
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec: {{selector: {{app: {name}}}, ports: [{{port: {port}}}]}}
---
"
    )
}

const DATA: &str = "apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data: {LOG_LEVEL: info, DATABASE_HOST: db}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: postgres, image: postgres:16, ports: [{containerPort: 5432}], volumeMounts: [{name: data, mountPath: /var/lib/postgresql/data}],
        readinessProbe: {exec: {command: [pg_isready, -U, postgres]}, initialDelaySeconds: 3, periodSeconds: 2}}]
  volumeClaimTemplates: [{metadata: {name: data}, spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}]
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec: {clusterIP: None, selector: {app: db}, ports: [{port: 5432}]}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec: {restartPolicy: Never, containers: [{name: migrate, image: busybox, command: [sleep, \"4\"]}]}
";

/// Writes the project (kdeck.yaml and the kustomization) into `dir`.
fn write_project(dir: &Path) {
    let app = [deployment("web", 80, 2), deployment("api", 8080, 3), deployment("worker", 9090, 4)].concat() + DATA;
    std::fs::create_dir_all(dir.join("k8s")).expect("project dir");
    for (path, text) in [("kdeck.yaml", KDECK_YAML), ("k8s/kustomization.yaml", KUSTOMIZATION), ("k8s/app.yaml", app.as_str())] {
        std::fs::write(dir.join(path), text).expect("write the project");
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Way {
    Kdeck,
    Seed,
    Expert,
}

impl Way {
    /// Its name and its commands as a person types them.
    fn label(self) -> (&'static str, &'static str) {
        match self {
            Way::Kdeck => ("kdeck", "kdeck up"),
            Way::Seed => ("the seed's way", "kubectl apply -k k8s && kubectl wait --for=condition=ready pod --all -n shop --timeout=300s"),
            Way::Expert => (
                "the expert's",
                "kubectl apply -k k8s --server-side && for w in deploy/web deploy/api deploy/worker sts/db; do kubectl rollout status -n shop $w; done && kubectl wait -n shop --for=condition=complete job/migrate",
            ),
        }
    }

    /// The commands, run one after the other (stopping at a failure), as `(program, args)`.
    fn commands(self) -> Vec<(&'static str, Vec<&'static str>)> {
        let wait = |w: &'static str| ("kubectl", vec!["rollout", "status", "-n", NS, w, "--timeout=300s"]);
        match self {
            Way::Kdeck => vec![("kdeck", vec!["up", "--timeout", "5m"])],
            Way::Seed => {
                vec![("kubectl", vec!["apply", "-k", "k8s"]), ("kubectl", vec!["wait", "--for=condition=ready", "pod", "--all", "-n", NS, "--timeout=300s"])]
            }
            Way::Expert => vec![
                ("kubectl", vec!["apply", "-k", "k8s", "--server-side"]),
                wait("deploy/web"),
                wait("deploy/api"),
                wait("deploy/worker"),
                wait("statefulset/db"),
                ("kubectl", vec!["wait", "-n", NS, "--for=condition=complete", "job/migrate", "--timeout=300s"]),
            ],
        }
    }
}

/// One run of a way: how long it took, whether it succeeded, and its detection
/// latencies (seconds; watched, and from the API's stamps).
struct Run {
    took: Duration,
    failure: Option<String>,
    latency: Option<f64>,
    api_latency: Option<f64>,
}

/// Runs `way` once on a fresh sandbox.
async fn run_once(way: Way, kubectl: Option<&Path>) -> Run {
    let env = Env { dir: tempfile::tempdir().expect("temp dir") };
    let out = env.kdeck(&["sandbox", "start", "--detach", "--name", "bench"]);
    assert!(out.status.success(), "sandbox start failed: {}", String::from_utf8_lossy(&out.stderr));
    let project = env.dir.path().join("project");
    write_project(&project);
    let client = env.client().await;

    // The bench's own watch of pods and Jobs, from before the first command.
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    let jobs: Api<Job> = Api::namespaced(client.clone(), NS);
    let params = WatchParams::default().timeout(290);
    let pod_events = pods.watch(&params, "0").await.expect("watch pods").map(|e| e.map(|e| event_ready(e, |p| ready_condition(p).is_some())));
    let job_done = |j: &Job| j.status.as_ref().is_some_and(|s| s.completion_time.is_some());
    let job_events = jobs.watch(&params, "0").await.expect("watch jobs").map(move |e| e.map(|e| event_ready(e, job_done)));
    let watcher = tokio::spawn(async move {
        let mut ready: HashMap<String, Instant> = HashMap::new();
        let mut events = futures::stream::select(pod_events.boxed(), job_events.boxed());
        while let Some(Ok(event)) = events.next().await {
            if let Some(name) = event {
                ready.entry(name).or_insert_with(Instant::now);
            }
            if ready.len() == READY_OBJECTS {
                break;
            }
        }
        ready.into_values().max()
    });

    let started = Instant::now();
    let mut failure = None;
    for (program, args) in way.commands() {
        let mut command = match program {
            "kdeck" => env.command(),
            _ => {
                let mut c = std::process::Command::new(kubectl.expect("kubectl"));
                c.env("KUBECONFIG", env.dir.path().join("kubeconfig")).env("HOME", env.dir.path());
                c
            }
        };
        command.args(&args).current_dir(&project).stdin(std::process::Stdio::null());
        let out = tokio::process::Command::from(command).output().await.expect("run the command");
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            failure =
                Some(format!("`{program} {}` exited {}: {}", args.join(" "), out.status.code().unwrap_or(-1), stderr.trim().lines().last().unwrap_or("")));
            break;
        }
    }
    let (took, exited_at) = (started.elapsed(), SystemTime::now());
    let exited = started + took;

    // Everything becomes ready in the end (a way may exit before): wait for it, then read.
    let last_ready = tokio::time::timeout(Duration::from_secs(60), watcher).await.ok().and_then(|r| r.ok()).flatten();
    // Negative when it exited first.
    let latency = last_ready.map(|t| exited.checked_duration_since(t).map_or_else(|| -t.duration_since(exited).as_secs_f64(), |d| d.as_secs_f64()));
    let api_latency = api_last_ready(&pods, &jobs).await.map(|t| {
        let exit = k8s_openapi::jiff::Timestamp::try_from(exited_at).expect("a time after 1970");
        exit.duration_since(t).as_secs_f64()
    });
    Run { took, failure, latency, api_latency }
}

/// The name of the object an event shows ready.
fn event_ready<K: kube::Resource>(event: WatchEvent<K>, ready: fn(&K) -> bool) -> Option<String> {
    match event {
        WatchEvent::Added(o) | WatchEvent::Modified(o) if ready(&o) => o.meta().name.clone(),
        _ => None,
    }
}

/// A pod's Ready condition, when it is True.
fn ready_condition(pod: &Pod) -> Option<&PodCondition> {
    pod.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready" && c.status == "True")
}

/// The latest of the pods' Ready transitions and the Jobs' completions, as the API stamps them.
async fn api_last_ready(pods: &Api<Pod>, jobs: &Api<Job>) -> Option<k8s_openapi::jiff::Timestamp> {
    let pods = pods.list(&ListParams::default()).await.ok()?.items;
    let jobs = jobs.list(&ListParams::default()).await.ok()?.items;
    let pod_times = pods.iter().filter_map(|p| ready_condition(p)?.last_transition_time.as_ref().map(|t| t.0));
    let job_times = jobs.iter().filter_map(|j| j.status.as_ref()?.completion_time.as_ref().map(|t| t.0));
    pod_times.chain(job_times).max()
}

/// The median of `v` (None when empty).
fn median_of(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

/// Runs each way `BENCH_STACK_RUNS` times (default 5), taking turns, and prints the table.
pub async fn compare(kubectl: Option<&Path>) {
    let runs = std::env::var("BENCH_STACK_RUNS").ok().and_then(|n| n.parse().ok()).unwrap_or(5);
    let ways: Vec<Way> = if kubectl.is_some() { vec![Way::Kdeck, Way::Seed, Way::Expert] } else { vec![Way::Kdeck] };
    let mut results: Vec<Vec<Run>> = ways.iter().map(|_| Vec::new()).collect();
    for round in 0..runs {
        for (i, way) in ways.iter().enumerate() {
            // A way that failed once is not run again (its failure is the result).
            if round > 0 && results[i].iter().any(|r| r.failure.is_some()) {
                continue;
            }
            let run = run_once(*way, kubectl).await;
            eprintln!("stack: {} run {}: {:.2} s {}", way.label().0, round + 1, run.took.as_secs_f64(), run.failure.as_deref().unwrap_or(""));
            results[i].push(run);
        }
    }
    let secs = |v: Option<f64>| v.map_or("-".to_string(), |s| format!("{s:.2} s"));
    let time = |runs: &[Run]| median_of(runs.iter().map(|r| r.took.as_secs_f64()).collect());
    let latency = |runs: &[Run]| median_of(runs.iter().filter_map(|r| r.latency).collect());
    println!("| way | command | time to ready (median) | detection latency (median; from the API's whole-second stamps) |");
    println!("|---|---|---|---|");
    for (way, runs) in ways.iter().zip(&results) {
        let api = median_of(runs.iter().filter_map(|r| r.api_latency).collect());
        let failure = runs.iter().find_map(|r| r.failure.as_deref());
        let time_cell = failure.map_or(secs(time(runs)), |f| format!("failed after {}: {f}", secs(time(runs))));
        println!("| {} | `{}` | {time_cell} | {} ({}) |", way.label().0, way.label().1, secs(latency(runs)), secs(api));
    }
    if kubectl.is_none() {
        println!("\nkubectl is not on PATH: the kubectl rows are left out.");
    }
    // The first way is kdeck; the ratios are of the medians.
    for (way, runs) in ways.iter().zip(&results).skip(1) {
        if let (Some(k), Some(t), false) = (time(&results[0]), time(runs), runs.iter().any(|r| r.failure.is_some())) {
            let (ratio, word) = if t >= k { (t / k, "faster") } else { (k / t, "slower") };
            let latencies = format!("{} vs {}", secs(latency(&results[0])), secs(latency(runs)));
            println!("\nkdeck vs {}: {ratio:.2}x {word} to ready; detection latency {latencies}", way.label().0);
        }
    }
}
