//! Fault injection (`kdeck sandbox start --faults`, `kdeck sandbox faults`): each kind
//! of fault as a kube-rs client sees it under a fixed seed, the same sequence for the
//! same seed, discovery and `/kdeck` never faulted, bad specs refused with where.

mod common;

use std::time::{Duration, Instant};

use common::TestSandbox;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};

/// Starts sandbox `name` injecting `spec` from the start.
fn start_with_faults(name: &str, spec: &str) -> TestSandbox {
    let sandbox = TestSandbox::new(name);
    let out = sandbox.run(&["sandbox", "start", "--detach", "--name", name, "--faults", spec]);
    assert!(out.status.success(), "sandbox start --faults failed: {}", String::from_utf8_lossy(&out.stderr));
    sandbox
}

/// Sets the faults of a running sandbox with `kdeck sandbox faults`.
fn set_faults(sandbox: &TestSandbox, spec: &str) {
    let out = sandbox.run(&["sandbox", "faults", "--name", &sandbox.name, spec]);
    assert!(out.status.success(), "sandbox faults {spec} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// A client that does not retry 429 and 503 by itself, so each answer is seen.
async fn client(sandbox: &TestSandbox) -> kube::Client {
    let raw = Kubeconfig::read_from(sandbox.kubeconfig()).expect("kubeconfig");
    let options = KubeConfigOptions { context: Some(sandbox.name.clone()), ..Default::default() };
    let mut config = kube::Config::from_custom_kubeconfig(raw, &options).await.expect("config");
    config.default_retry = false;
    kube::Client::try_from(config).expect("client")
}

/// One raw request: the status, headers and JSON body, or the transport error.
async fn request(client: &kube::Client, method: &str, path: &str) -> kube::Result<(u16, http::HeaderMap, Value)> {
    let req = http::Request::builder().method(method).uri(path).body(kube::client::Body::from(Vec::new())).unwrap();
    let (parts, body) = client.send(req).await?.into_parts();
    let bytes = body.collect_bytes().await?;
    Ok((parts.status.as_u16(), parts.headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
}

async fn status_of(client: &kube::Client, path: &str) -> u16 {
    request(client, "GET", path).await.expect("an answer").0
}

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";
const PODS: &str = "/api/v1/namespaces/default/pods";

#[tokio::test]
async fn start_with_faults_answers_429_with_retry_after() {
    let sandbox = start_with_faults("faults429", "seed=7,429=1:2s,only=configmaps");
    let client = client(&sandbox).await;
    let (code, headers, body) = request(&client, "GET", CONFIGMAPS).await.unwrap();
    assert_eq!(code, 429);
    assert_eq!(headers.get("retry-after").unwrap(), "2");
    assert_eq!(body["kind"], "Status");
    assert_eq!(body["reason"], "TooManyRequests");
    assert_eq!(body["code"], 429);
    assert_eq!(body["details"]["retryAfterSeconds"], 2);
    // Through the typed API too, and only for the resources named.
    let err = Api::<ConfigMap>::namespaced(client.clone(), "default").list(&ListParams::default()).await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 429), "{err:?}");
    Api::<Pod>::namespaced(client, "default").list(&ListParams::default()).await.unwrap();
    // The sandbox says once in its log that it injects faults.
    let log = std::fs::read_to_string(sandbox.home().join("sandboxes/faults429/sandbox.log")).unwrap();
    assert_eq!(log.matches("injecting faults: seed=7,429=1:2s,only=configmaps").count(), 1, "{log}");
}

#[tokio::test]
async fn runtime_faults_500_and_503_then_clear() {
    let sandbox = TestSandbox::start("faults5xx");
    let client = client(&sandbox).await;
    assert_eq!(status_of(&client, CONFIGMAPS).await, 200);

    set_faults(&sandbox, "seed=1,500=1,only=configmaps");
    let (code, _, body) = request(&client, "GET", CONFIGMAPS).await.unwrap();
    assert_eq!((code, body["reason"].as_str()), (500, Some("InternalError")), "{body}");
    let shown = sandbox.run(&["sandbox", "faults", "--name", "faults5xx"]);
    assert_eq!(String::from_utf8_lossy(&shown.stdout).trim(), "seed=1,500=1,only=configmaps");

    set_faults(&sandbox, "503=1,verbs=create");
    let api = Api::<ConfigMap>::namespaced(client.clone(), "default");
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap();
    let err = api.create(&PostParams::default(), &cm).await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 503 && s.reason == "ServiceUnavailable"), "{err:?}");
    assert_eq!(status_of(&client, CONFIGMAPS).await, 200, "only creates are faulted");

    // A bad spec at runtime is refused by the CLI and by the endpoint, and changes nothing.
    let out = sandbox.run(&["sandbox", "faults", "--name", "faults5xx", "503=2"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("item 1 (\"503=2\"): rate \"2\" is not a number from 0 to 1"));
    let raw = http::Request::put("/kdeck/faults").body(b"503=1,bogus=1".to_vec()).unwrap();
    let err = client.request_text(raw).await.unwrap_err();
    assert!(matches!(&err, kube::Error::Api(s) if s.code == 400 && s.message.contains("item 2 (\"bogus=1\"): unknown fault kind")), "{err:?}");
    let shown = sandbox.run(&["sandbox", "faults", "--name", "faults5xx"]);
    assert_eq!(String::from_utf8_lossy(&shown.stdout).trim(), "seed=0,503=1,verbs=create");

    let out = sandbox.run(&["sandbox", "faults", "--name", "faults5xx", "--clear"]);
    assert!(out.status.success());
    api.create(&PostParams::default(), &cm).await.unwrap();
    let shown = sandbox.run(&["sandbox", "faults", "--name", "faults5xx"]);
    assert_eq!(String::from_utf8_lossy(&shown.stdout).trim(), "");
    assert!(String::from_utf8_lossy(&shown.stderr).contains("injects no faults"));
}

#[tokio::test]
async fn slow_responses_and_dropped_connections() {
    let sandbox = start_with_faults("faultsslow", "slow=1:700ms,only=configmaps");
    let client = client(&sandbox).await;
    let started = Instant::now();
    assert_eq!(status_of(&client, CONFIGMAPS).await, 200);
    assert!(started.elapsed() >= Duration::from_millis(700), "took {:?}", started.elapsed());
    let started = Instant::now();
    assert_eq!(status_of(&client, PODS).await, 200);
    assert!(started.elapsed() < Duration::from_millis(700), "pods are not slowed: {:?}", started.elapsed());

    set_faults(&sandbox, "drop=1,only=configmaps");
    let err = request(&client, "GET", CONFIGMAPS).await.expect_err("the connection is dropped");
    // The client sees the connection end with no answer (an unexpected EOF), not an API status.
    assert!(matches!(err, kube::Error::Service(_) | kube::Error::HyperError(_)), "{err:?}");
    assert!(format!("{err:?}").contains("UnexpectedEof"), "{err:?}");
    let err = Api::<ConfigMap>::namespaced(client.clone(), "default").list(&ListParams::default()).await.unwrap_err();
    assert!(!matches!(err, kube::Error::Api(_)), "{err:?}");
    // The client reconnects for what is not faulted.
    assert_eq!(status_of(&client, PODS).await, 200);
}

#[tokio::test]
async fn watch_streams_are_cut_or_ended_with_410() {
    let sandbox = start_with_faults("faultswatch", "seed=3,watch-cut=1:1s,only=configmaps");
    let client = client(&sandbox).await;
    let api = Api::<ConfigMap>::namespaced(client.clone(), "default");
    let started = Instant::now();
    let events: Vec<_> = api.watch(&WatchParams::default().timeout(30), "0").await.unwrap().collect().await;
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5), "cut after {elapsed:?}");
    for event in &events {
        assert!(matches!(event, Ok(WatchEvent::Added(_) | WatchEvent::Bookmark(_))), "no error event: {event:?}");
    }
    // Lists are not watches: not faulted.
    api.list(&ListParams::default()).await.unwrap();

    set_faults(&sandbox, "seed=3,watch-410=1,only=configmaps");
    let started = Instant::now();
    let events: Vec<_> = api.watch(&WatchParams::default().timeout(30), "0").await.unwrap().collect().await;
    assert!(started.elapsed() < Duration::from_secs(5));
    match events.as_slice() {
        [Ok(WatchEvent::Error(status))] => assert_eq!((status.code, status.reason.as_str()), (410, "Expired")),
        other => panic!("expected one 410 ERROR event, got {other:?}"),
    }
    // With a delay, events come first, then the 410.
    set_faults(&sandbox, "seed=3,watch-410=1:500ms,only=configmaps");
    api.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "w"}})).unwrap()).await.unwrap();
    let events: Vec<_> = api.watch(&WatchParams::default().timeout(30), "0").await.unwrap().collect().await;
    assert!(matches!(events.first(), Some(Ok(WatchEvent::Added(_)))), "{events:?}");
    assert!(matches!(events.last(), Some(Ok(WatchEvent::Error(s))) if s.code == 410), "{events:?}");
}

#[tokio::test]
async fn the_same_seed_gives_the_same_fault_sequence() {
    let sandbox = start_with_faults("faultsseed", "seed=42,500=0.5,only=configmaps");
    let client = client(&sandbox).await;
    let mut runs = Vec::new();
    for spec in ["seed=42,500=0.5,only=configmaps", "seed=42,500=0.5,only=configmaps", "seed=43,500=0.5,only=configmaps"] {
        // Setting a spec restarts the request count, as a fresh start does.
        set_faults(&sandbox, spec);
        let mut codes = Vec::new();
        for _ in 0..24 {
            codes.push(status_of(&client, CONFIGMAPS).await);
            // Requests the spec does not name are not counted.
            assert_eq!(status_of(&client, PODS).await, 200);
        }
        runs.push(codes);
    }
    assert_eq!(runs[0], runs[1], "same seed, same sequence");
    assert!(runs[0].contains(&200) && runs[0].contains(&500), "{:?}", runs[0]);
    assert_ne!(runs[0], runs[2], "another seed, another sequence");
    // A fresh sandbox started with the seed sees the same sequence as well.
    let fresh = start_with_faults("faultsseed2", "seed=42,500=0.5,only=configmaps");
    let client = self::client(&fresh).await;
    let mut codes = Vec::new();
    for _ in 0..24 {
        codes.push(status_of(&client, CONFIGMAPS).await);
    }
    assert_eq!(codes, runs[0]);
}

#[tokio::test]
async fn discovery_health_and_sandbox_endpoints_are_never_faulted() {
    let sandbox = start_with_faults("faultsnever", "drop=1");
    let client = client(&sandbox).await;
    for path in ["/healthz", "/readyz", "/livez", "/version", "/api", "/apis", "/api/v1", "/apis/apps/v1", "/openapi/v2", "/openapi/v3", "/kdeck/faults"] {
        let (code, _, _) = request(&client, "GET", path).await.unwrap_or_else(|e| panic!("{path} was faulted: {e:?}"));
        assert_eq!(code, 200, "{path}");
    }
    assert!(request(&client, "GET", "/api/v1/namespaces").await.is_err(), "resources are faulted");
    // The CLI's own requests to the sandbox go through.
    let out = sandbox.run(&["sandbox", "faults", "--name", "faultsnever"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "seed=0,drop=1");
}

#[test]
fn a_bad_spec_at_start_exits_2_and_says_where() {
    let sandbox = TestSandbox::new("faultsbad");
    let out = sandbox.run(&["sandbox", "start", "--detach", "--name", "faultsbad", "--faults", "seed=1,429=0.5,slo=0.1"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "fault spec \"seed=1,429=0.5,slo=0.1\": item 3 (\"slo=0.1\"): unknown fault kind \"slo\"; known kinds: 429, 500, 503, 403, slow, drop, watch-cut, watch-410"
        ),
        "{stderr}"
    );
    let out = sandbox.run(&["sandbox", "start", "--detach", "--name", "faultsbad", "--faults", "slow=0.5:soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("item 1 (\"slow=0.5:soon\"): bad duration \"soon\""));
    // Nothing was started.
    let out = sandbox.run(&["sandbox", "list", "-o", "json"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
}
