//! `kdeck diagnose -A` on the `scale` sandbox against the LISTs it makes, made
//! directly through a new kube client (the floor: diagnosis may cost at most 1.5×
//! of it; the diagnosis also pays its process start and the logs of failed
//! containers), and beside `kubectl get … -A -o json` of the same kinds for reference.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::core::GroupVersionKind;

use super::{Env, median, ms};

const RUNS: usize = 5;

/// The kinds `kdeck diagnose` lists (its collect module), as (group, version, kind, plural).
const KINDS: &[(&str, &str, &str, &str)] = &[
    ("", "v1", "Pod", "pods"),
    ("", "v1", "Service", "services"),
    ("", "v1", "ConfigMap", "configmaps"),
    ("", "v1", "Secret", "secrets"),
    ("", "v1", "Event", "events"),
    ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
    ("", "v1", "Node", "nodes"),
    ("apps", "v1", "Deployment", "deployments"),
    ("apps", "v1", "StatefulSet", "statefulsets"),
    ("apps", "v1", "DaemonSet", "daemonsets"),
    ("apps", "v1", "ReplicaSet", "replicasets"),
    ("batch", "v1", "Job", "jobs"),
    ("batch", "v1", "CronJob", "cronjobs"),
    ("networking.k8s.io", "v1", "Ingress", "ingresses"),
    ("networking.k8s.io", "v1", "IngressClass", "ingressclasses"),
    ("storage.k8s.io", "v1", "StorageClass", "storageclasses"),
    ("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    ("helm.toolkit.fluxcd.io", "v2", "HelmRelease", "helmreleases"),
    ("external-secrets.io", "v1", "ExternalSecret", "externalsecrets"),
];

pub struct Measured {
    pub diagnose: Duration,
    pub lists: Duration,
    pub kubectl: Option<Duration>,
    pub problems: usize,
}

async fn lists(client: &kube::Client) -> Duration {
    let started = Instant::now();
    let results: Vec<usize> = futures::stream::iter(KINDS.iter().map(|(group, version, kind, plural)| {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural));
        async move { api.list(&ListParams::default()).await.map(|l| l.items.len()).unwrap_or(0) }
    }))
    .buffer_unordered(8)
    .collect()
    .await;
    assert!(results.iter().sum::<usize>() > 0);
    started.elapsed()
}

pub async fn measure(env: &Env, kubectl: Option<&Path>) -> Measured {
    let (mut diagnose, mut listed, mut kubectl_times, mut problems) = (Vec::new(), Vec::new(), Vec::new(), 0);
    for _ in 0..RUNS {
        let started = Instant::now();
        let out = env.command().args(["--context", "bench", "diagnose", "-A", "-o", "json", "--fail-on", "never"]).output().expect("kdeck diagnose");
        diagnose.push(started.elapsed());
        assert!(out.status.success(), "diagnose failed: {}", String::from_utf8_lossy(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("diagnose JSON");
        problems = report["problems"].as_array().map_or(0, Vec::len);
        // A new client each time: its connections are made anew, as a kdeck process makes them.
        listed.push(lists(&env.client().await).await);
        if let Some(kubectl) = kubectl {
            let kinds = "pods,services,configmaps,secrets,events,pvc,deployments,statefulsets,daemonsets,replicasets,jobs,cronjobs,ingresses,endpointslices";
            let started = Instant::now();
            let out = Command::new(kubectl)
                .args(["--context", "bench", "get", kinds, "-A", "-o", "json"])
                .env("KUBECONFIG", env.dir.path().join("kubeconfig"))
                .output()
                .expect("kubectl");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            kubectl_times.push(started.elapsed());
        }
    }
    Measured { diagnose: median(diagnose), lists: median(listed), kubectl: (!kubectl_times.is_empty()).then(|| median(kubectl_times)), problems }
}

pub fn print(m: &Measured, pods: usize) {
    println!("| diagnosis ({pods} pods, all namespaces) | time | target |");
    println!("|---|---|---|");
    println!("| `kdeck diagnose -A -o json` ({} problems) | {} | ≤ 1.5× the LISTs |", m.problems, ms(m.diagnose));
    println!(
        "| the same {} LISTs through a kube client, 8 at a time | {} ({:.2}×) | |",
        KINDS.len(),
        ms(m.lists),
        m.diagnose.as_secs_f64() / m.lists.as_secs_f64()
    );
    if let Some(kubectl) = m.kubectl {
        println!("| `kubectl get pods,services,configmaps,… -A -o json` (reference, no diagnosis) | {} | |", ms(kubectl));
    }
}
