//! Reliability under failure, end to end: the kdeck binary against a sandbox that
//! injects faults (`kdeck sandbox faults`), checking the cluster's state and what
//! kdeck printed afterwards. A delete never hits an object replaced since the plan;
//! logs neither lose nor invent lines; every command ends within its deadline and
//! says why when it cannot finish.

mod common;

use std::time::{Duration, Instant};

use common::{TestSandbox, api_log, wait_pod};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::{Value, json};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn phase(pod: &Pod) -> String {
    pod.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default()
}

/// Replaces the faults the sandbox injects (an empty spec clears them).
pub fn set_faults(sandbox: &TestSandbox, spec: &str) {
    let out = if spec.is_empty() {
        sandbox.run(&["sandbox", "faults", "--clear", "--name", &sandbox.name])
    } else {
        sandbox.run(&["sandbox", "faults", spec, "--name", &sandbox.name])
    };
    assert!(out.status.success(), "setting faults {spec:?}: {}", stderr(&out));
}

/// A pod that fails (exit 1) about a second after it starts.
fn failing_pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "annotations": {"sandbox.kdeck.dev/exit-code": "1"}},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "main", "image": "busybox"}]},
    }))
    .unwrap()
}

/// A pod that runs until deleted, printing `rate` log lines a second.
fn running_pod(name: &str, rate: u32) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": name}, "annotations": {"sandbox.kdeck.dev/log-rate": rate.to_string()}},
        "spec": {"containers": [{"name": "main", "image": "nginx"}]},
    }))
    .unwrap()
}

#[tokio::test]
async fn cleanse_pods_leaves_alone_a_pod_replaced_between_plan_and_delete() {
    let sandbox = TestSandbox::start("swap");
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for name in ["victim", "control"] {
        pods.create(&PostParams::default(), &failing_pod(name)).await.unwrap();
    }
    for name in ["victim", "control"] {
        wait_pod(&pods, name, "Failed", |p| phase(p) == "Failed").await;
    }
    // The plan lists the pods, then the Jobs; the Job list is held back, and in
    // that window `victim` is replaced by a running pod of the same name.
    set_faults(&sandbox, "slow=1:6s,only=jobs,verbs=list");
    let child = sandbox
        .kdeck()
        .args(["cleanse-pods", "--context", "swap", "-n", "default", "-o", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    pods.delete("victim", &DeleteParams::default().grace_period(0)).await.unwrap();
    for _ in 0..50 {
        if pods.get_opt("victim").await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let replacement = pods.create(&PostParams::default(), &running_pod("victim", 0)).await.unwrap();
    wait_pod(&pods, "victim", "Running", |p| phase(p) == "Running").await;

    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(report["result"]["deleted"], json!({"Error": 1}), "only the control pod is deleted: {report}");
    let changed = report["result"]["changed"].to_string();
    assert!(changed.contains("default/victim") && changed.contains("replaced"), "the swap is reported: {report}");
    let item = report["plan"]["items"].as_array().unwrap().iter().find(|i| i["name"] == "victim").unwrap().clone();
    assert!(item["uid"].is_string() && item["resourceVersion"].is_string(), "the plan names the pod it was made for: {item}");

    let now = pods.get("victim").await.expect("the running pod survives");
    assert_eq!(now.metadata.uid, replacement.metadata.uid);
    assert_eq!(phase(&now), "Running");
    assert!(pods.get_opt("control").await.unwrap().is_none(), "the control pod is deleted");
}

#[tokio::test]
async fn logs_keep_their_history_through_failed_requests_and_never_show_another_pod() {
    let sandbox = TestSandbox::start("logfaults");
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for name in ["fast", "breakfast"] {
        pods.create(&PostParams::default(), &running_pod(name, 200)).await.unwrap();
    }
    for name in ["fast", "breakfast"] {
        wait_pod(&pods, name, "Running", |p| phase(p) == "Running").await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = api_log(&pods, "fast").await;
    assert!(before.len() > 200, "the pod has a history to lose: {} lines", before.len());

    // Most log requests fail (the list of pods does not): each is retried from the
    // same starting point, so the whole history arrives, once, in order.
    set_faults(&sandbox, "seed=3,500=0.6,drop=0.1,verbs=get,only=pods");
    let out =
        sandbox.run(&["logs", "--context", "logfaults", "-l", "app=fast", "--no-follow", "--since", "0", "--tail", "-1", "--timestamps", "--timeout", "60s"]);
    set_faults(&sandbox, "");
    assert!(out.status.success(), "{}", stderr(&out));
    let shown: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(|l| l.trim_start_matches("fast/main ").to_string()).collect();
    let after = api_log(&pods, "fast").await;
    assert!(shown.len() >= before.len(), "no history lost: {} lines shown, {} were there before", shown.len(), before.len());
    assert_eq!(shown[..], after[..shown.len()], "exactly the log, in order, without repeats");

    // Every pod GET fails: kdeck cannot tell whether `fast` is a pod name or a
    // pattern, so it stops — it does not show `breakfast` — and says why.
    set_faults(&sandbox, "500=1,verbs=get,only=pods");
    let started = Instant::now();
    let out = sandbox.run(&["logs", "--context", "logfaults", "fast", "--no-follow", "--tail", "5", "--timeout", "3s"]);
    assert!(started.elapsed() < Duration::from_secs(8), "the deadline holds: {:?}", started.elapsed());
    assert!(!out.status.success(), "no output because of errors is an error");
    assert!(String::from_utf8_lossy(&out.stdout).is_empty(), "no other pod's lines: {}", String::from_utf8_lossy(&out.stdout));
    let err = stderr(&out);
    assert!(err.contains("fast") && (err.contains("500") || err.contains("Internal")), "{err}");

    // The pod is known, but reading its log fails every time: an error, not silence.
    set_faults(&sandbox, "");
    let out = sandbox.run(&["logs", "--context", "logfaults", "deploy/none", "--no-follow"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    set_faults(&sandbox, "500=1,verbs=get,only=pods");
    let out = sandbox.run(&["logs", "--context", "logfaults", "-l", "app=fast", "--no-follow", "--tail", "5", "--timeout", "4s"]);
    assert!(!out.status.success(), "a log that cannot be read fails the command");
    assert!(String::from_utf8_lossy(&out.stdout).is_empty());
}

#[tokio::test]
async fn logs_say_why_there_is_nothing_to_show() {
    let sandbox = TestSandbox::start("lognothing");
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &running_pod("web", 0)).await.unwrap();
    wait_pod(&pods, "web", "Running", |p| phase(p) == "Running").await;

    let out = sandbox.run(&["logs", "--context", "lognothing", "web", "-c", "nope", "--no-follow"]);
    assert!(!out.status.success(), "an unknown container is an error");
    assert!(stderr(&out).contains("nope") && stderr(&out).contains("main"), "names the containers there are: {}", stderr(&out));

    let out = sandbox.run(&["logs", "--context", "lognothing", "web", "-p", "--no-follow"]);
    assert!(!out.status.success(), "no previous instance is an error: {}", stderr(&out));
    assert!(stderr(&out).contains("previous"), "{}", stderr(&out));

    let pending: Pod = serde_json::from_value(json!({
        "metadata": {"name": "waiting"},
        "spec": {"containers": [{"name": "main", "image": "registry.invalid/app:1"}]},
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pending).await.unwrap();
    wait_pod(&pods, "waiting", "not pulling", |p| format!("{:?}", p.status).contains("ImagePull")).await;
    let out = sandbox.run(&["logs", "--context", "lognothing", "waiting", "--no-follow"]);
    assert!(!out.status.success(), "a container that never started has no log: {}", stderr(&out));
    assert!(stderr(&out).contains("waiting to start"), "{}", stderr(&out));
}

#[tokio::test]
async fn every_command_ends_within_its_deadline() {
    let sandbox = TestSandbox::start_seeded("deadline", "home-ops");
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    wait_pod(&pods, "db-migrate-error", "Failed", |p| phase(p) == "Failed").await;

    // The server takes every pod request and never answers in time.
    set_faults(&sandbox, "slow=1:100s,only=pods");
    let started = Instant::now();
    let out = sandbox.run(&["cleanse-pods", "--context", "deadline", "-n", "default", "--timeout", "3s"]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(took < Duration::from_secs(6), "--timeout 3s took {took:?}");
    assert!(stderr(&out).contains("--timeout 3s") && stderr(&out).contains("nothing was deleted"), "{}", stderr(&out));

    // Without a --timeout of its own, a request gets 30 s for its first byte.
    let started = Instant::now();
    let out = sandbox.run(&["logs", "--context", "deadline", "db-migrate-error", "--no-follow"]);
    let took = started.elapsed();
    assert!(!out.status.success());
    assert!(took >= Duration::from_secs(29) && took < Duration::from_secs(45), "first-byte timeout, took {took:?}: {}", stderr(&out));
    set_faults(&sandbox, "");

    // A failure the controller reports is seen within a couple of seconds, even
    // though no new event arrives (the secret was already failing).
    let started = Instant::now();
    let out = sandbox.run(&["sync-secrets", "--context", "deadline", "volsync-restic", "-n", "storage", "--wait"]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Failed"));
    assert!(took < Duration::from_secs(6), "a failure is reported within ~2 s of the annotation, took {took:?}");

    // Throttled almost always: the command still ends by its deadline, and no
    // secret that synced is called timed out.
    set_faults(&sandbox, "seed=11,429=0.9:1s");
    let started = Instant::now();
    let out = sandbox.run(&["sync-secrets", "--context", "deadline", "-A", "--wait", "--timeout", "10s", "-o", "json"]);
    let took = started.elapsed();
    set_faults(&sandbox, "");
    assert!(took < Duration::from_secs(13), "--timeout 10s took {took:?}");
    if let Ok(report) = serde_json::from_slice::<Value>(&out.stdout) {
        for row in report["results"].as_array().into_iter().flatten() {
            assert!(!row["result"].as_str().unwrap_or_default().is_empty() && row["message"].is_string(), "every secret is reported with its reason: {row}");
        }
    }
}
