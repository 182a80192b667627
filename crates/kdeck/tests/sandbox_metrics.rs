//! `metrics.k8s.io` and the kubelet's stats summary, as metrics-server and the
//! kubelet serve them: usage declared per pod is what the API reports, undeclared
//! usage follows the requests, nodes add up their pods, and memory declared to
//! grow ends in an OOM kill at the limit. Spoken to through kube-rs's HTTP client.

mod common;

use common::{TestSandbox, wait_object};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

async fn get(client: &kube::Client, path: &str) -> (u16, Value) {
    let request = http::Request::builder().uri(path).body(Vec::new()).unwrap();
    let response = client.send(request.map(kube::client::Body::from)).await.expect("request sent");
    let code = response.status().as_u16();
    let bytes = response.into_body().collect_bytes().await.expect("body read");
    (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn quantity(text: &str) -> f64 {
    let (number, factor) = match text {
        t if t.ends_with('n') => (&t[..t.len() - 1], 1e-9),
        t if t.ends_with("Ki") => (&t[..t.len() - 2], 1024.0),
        t => panic!("metrics-server writes nanocores and Ki, not {t}"),
    };
    number.parse::<f64>().unwrap() * factor
}

fn running(pod: &Pod) -> bool {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

fn pod(name: &str, annotations: Value, resources: Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"containers": [{"name": "app", "image": "nginx", "resources": resources}, {"name": "sidecar", "image": "busybox"}]}
    }))
    .unwrap()
}

#[tokio::test]
async fn pod_and_node_metrics_report_declared_and_default_usage() {
    let sandbox = TestSandbox::start("metrics");
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    // Discovery lists the group as metrics-server registers it: get and list only.
    let (code, resources) = get(&client, "/apis/metrics.k8s.io/v1beta1").await;
    assert_eq!(code, 200);
    let kinds: Vec<(String, Value)> =
        resources["resources"].as_array().unwrap().iter().map(|r| (r["kind"].as_str().unwrap().to_string(), r["verbs"].clone())).collect();
    assert_eq!(kinds, vec![("PodMetrics".to_string(), json!(["get", "list"])), ("NodeMetrics".to_string(), json!(["get", "list"]))]);

    let declared = json!({"sandbox.kdeck.dev/cpu-usage": "app=350m,sidecar=5m", "sandbox.kdeck.dev/memory-usage": "app=300Mi,sidecar=10Mi"});
    pods.create(&PostParams::default(), &pod("declared", declared, json!({}))).await.unwrap();
    pods.create(&PostParams::default(), &pod("requests", json!({}), json!({"requests": {"cpu": "1", "memory": "1Gi"}}))).await.unwrap();
    // Not running: no metrics, as metrics-server has none for it.
    let pending: Pod = serde_json::from_value(
        json!({"metadata": {"name": "pending"}, "spec": {"nodeSelector": {"nowhere": "true"}, "containers": [{"name": "app", "image": "nginx"}]}}),
    )
    .unwrap();
    pods.create(&PostParams::default(), &pending).await.unwrap();
    wait_object(&pods, "declared", "Running", running).await;
    wait_object(&pods, "requests", "Running", running).await;

    let (code, metrics) = get(&client, "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/declared").await;
    assert_eq!(code, 200, "{metrics}");
    assert_eq!(metrics["kind"], "PodMetrics");
    assert_eq!(metrics["window"], "15s");
    assert_eq!(
        metrics["containers"],
        json!([{"name": "app", "usage": {"cpu": "350000000n", "memory": "307200Ki"}}, {"name": "sidecar", "usage": {"cpu": "5000000n", "memory": "10240Ki"}}])
    );

    // Undeclared: about 30 % of the CPU request and 60 % of the memory request.
    let (_, metrics) = get(&client, "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/requests").await;
    let app = &metrics["containers"][0]["usage"];
    let (cpu, memory) = (quantity(app["cpu"].as_str().unwrap()), quantity(app["memory"].as_str().unwrap()));
    assert!((0.27..=0.33).contains(&cpu), "cpu {cpu}");
    assert!((0.58..=0.62).contains(&(memory / 1024f64.powi(3))), "memory {memory}");

    let (code, missing) = get(&client, "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/pending").await;
    assert_eq!((code, missing["reason"].as_str()), (404, Some("NotFound")), "{missing}");
    assert_eq!(missing["message"], "pods.metrics.k8s.io \"pending\" not found");

    // Lists: all namespaces, or by label; writes are refused.
    let (_, list) = get(&client, "/apis/metrics.k8s.io/v1beta1/pods").await;
    assert_eq!(list["kind"], "PodMetricsList");
    let names: Vec<&str> = list["items"].as_array().unwrap().iter().filter_map(|i| i["metadata"]["name"].as_str()).collect();
    assert!(names.contains(&"declared") && names.contains(&"requests") && !names.contains(&"pending"), "{names:?}");
    let request = http::Request::builder().method("DELETE").uri("/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/declared").body(Vec::new()).unwrap();
    let response = client.send(request.map(kube::client::Body::from)).await.unwrap();
    assert_eq!(response.status().as_u16(), 405);

    // A node uses what its pods use and more; the kubelet's summary agrees.
    let (_, nodes) = get(&client, "/apis/metrics.k8s.io/v1beta1/nodes").await;
    let node = &nodes["items"][0];
    let node_name = node["metadata"]["name"].as_str().unwrap();
    let node_cpu = quantity(node["usage"]["cpu"].as_str().unwrap());
    assert!(node_cpu > 0.355 + cpu, "node {node_cpu} is more than its pods");
    let (code, summary) = get(&client, &format!("/api/v1/nodes/{node_name}/proxy/stats/summary")).await;
    assert_eq!(code, 200, "{summary}");
    assert_eq!(summary["node"]["nodeName"], node_name);
    let declared_stats = summary["pods"].as_array().unwrap().iter().find(|p| p["podRef"]["name"] == "declared").expect("the pod is in the summary");
    assert_eq!(declared_stats["containers"][0]["cpu"]["usageNanoCores"], 350_000_000u64);
    assert_eq!(declared_stats["memory"]["workingSetBytes"], 310u64 * 1024 * 1024);
    let (code, _) = get(&client, "/api/v1/nodes/nope/proxy/stats/summary").await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn memory_declared_to_grow_is_killed_at_its_limit() {
    let sandbox = TestSandbox::start("metrics-oom");
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    // 28Mi of room at 600Mi a minute: killed within about 3 s of each start.
    let annotations =
        json!({"sandbox.kdeck.dev/memory-usage": "app=100Mi", "sandbox.kdeck.dev/memory-growth": "app=600Mi", "sandbox.kdeck.dev/backoff-seconds": "60"});
    pods.create(&PostParams::default(), &pod("leaky", annotations, json!({"limits": {"memory": "128Mi"}}))).await.unwrap();
    let oom_killed = |p: &Pod| {
        p.status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|c| c.iter().find(|c| c.name == "app"))
            .and_then(|c| c.last_state.as_ref()?.terminated.as_ref())
            .is_some_and(|t| t.reason.as_deref() == Some("OOMKilled") && t.exit_code == 137)
    };
    wait_object(&pods, "leaky", "OOMKilled", oom_killed).await;
}
