//! `kdeck rightsize` against the sandbox's metrics.k8s.io with declared usage.

mod common;

use common::TestSandbox;
use common::project::{stderr, stdout};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

fn resources(d: &Deployment) -> Value {
    serde_json::to_value(&d.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0].resources).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rightsize_suggests_from_sampled_usage_and_applies_only_when_confirmed() {
    let sandbox = TestSandbox::start("rightsize");
    let api: Api<Deployment> = Api::namespaced(sandbox.client().await, "default");
    let hungry: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "hungry"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "hungry"}}, "template": {
            "metadata": {"labels": {"app": "hungry"}, "annotations": {"sandbox.kdeck.dev/cpu-usage": "120m", "sandbox.kdeck.dev/memory-usage": "200Mi"}},
            "spec": {"containers": [{"name": "app", "image": "example/app:1",
                "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}}}]}}}
    }))
    .unwrap();
    api.create(&PostParams::default(), &hungry).await.unwrap();
    common::wait_object(&api, "hungry", "available", |d: &Deployment| d.status.as_ref().and_then(|s| s.available_replicas) == Some(2)).await;

    let out = sandbox.run(&["rightsize", "deploy/hungry", "-n", "default", "--window", "2s", "-o", "json", "--context", "rightsize"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let s = &doc["suggestions"][0];
    assert_eq!((s["workload"].as_str(), s["container"].as_str()), (Some("deploy/hungry"), Some("app")));
    assert!(s["samples"].as_u64().unwrap() >= 2, "both pods sampled: {s}");
    let cpu = s["suggestedRequests"]["cpu"].as_str().unwrap().trim_end_matches('m').parse::<u64>().unwrap();
    assert!((150..=170).contains(&cpu), "120m used: p90 + 25 % ≈ 150–160m: {s}");
    assert_eq!(s["suggestedRequests"]["memory"], "240Mi", "200Mi used + 20 %: {s}");
    assert_eq!(s["suggestedLimits"]["memory"], "300Mi", "1.5 × the peak: {s}");
    assert!(s["suggestedLimits"].get("cpu").is_none() && s["reason"].as_str().unwrap().contains("CPU limit is kept"), "{s}");
    assert_eq!(s["changes"], true);
    assert_eq!(resources(&api.get("hungry").await.unwrap())["requests"]["cpu"], "1", "without --apply nothing changes");

    // --apply: a plan; without a terminal and without --yes, refused; --dry-run changes nothing.
    let out = sandbox.run(&["rightsize", "deploy/hungry", "-n", "default", "--window", "1s", "--apply", "--context", "rightsize"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("refusing without --yes"), "{}", stderr(&out));
    let out = sandbox.run(&["rightsize", "deploy/hungry", "-n", "default", "--window", "1s", "--apply", "--dry-run", "--context", "rightsize"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("requests.cpu 1 → ") && stdout(&out).contains("usage over 1s"), "{}", stdout(&out));
    assert_eq!(resources(&api.get("hungry").await.unwrap())["requests"]["cpu"], "1");

    let out = sandbox.run(&["rightsize", "deploy/hungry", "-n", "default", "--window", "1s", "--apply", "--yes", "--context", "rightsize"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("rolled out"), "the rollout is watched: {}", stderr(&out));
    let now = resources(&api.get("hungry").await.unwrap());
    assert_eq!(now["requests"]["memory"], "240Mi");
    assert_eq!(now["limits"], json!({"cpu": "2", "memory": "300Mi"}), "the CPU limit is kept: {now}");

    // Bad input before any request.
    let out = sandbox.run(&["rightsize", "pod/x", "--context", "rightsize"]);
    assert_eq!(out.status.code(), Some(2));
    let out = sandbox.run(&["rightsize", "--window", "soon", "--context", "rightsize"]);
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn without_metrics_served_rightsize_says_so_and_exits_3() {
    let sandbox = TestSandbox::new("no-metrics");
    let out = sandbox.run(&["sandbox", "start", "--detach", "--name", "no-metrics", "--no-metrics"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let client = sandbox.client().await;
    // As on a cluster without metrics-server: the group is not discovered at all.
    let groups = client.list_api_groups().await.unwrap();
    assert!(groups.groups.iter().all(|g| g.name != "metrics.k8s.io"), "metrics.k8s.io is not served");
    let api: Api<Deployment> = Api::namespaced(client, "default");
    let web: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "nginx", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}}
    }))
    .unwrap();
    api.create(&PostParams::default(), &web).await.unwrap();
    common::wait_object(&api, "web", "available", |d: &Deployment| d.status.as_ref().and_then(|s| s.available_replicas) == Some(1)).await;
    let out = sandbox.run(&["rightsize", "deploy/web", "-n", "default", "--window", "1s", "--context", "no-metrics"]);
    assert_eq!(out.status.code(), Some(3), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("metrics"), "says why: {}", stderr(&out));
    // The stop's hint restarts it as it ran.
    let out = sandbox.run(&["sandbox", "stop", "--name", "no-metrics"]);
    assert!(stderr(&out).contains("kdeck sandbox start --detach --name no-metrics --no-metrics"), "{}", stderr(&out));
}
