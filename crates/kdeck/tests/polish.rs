//! The rough edges a new user met (issue 16), each reproduced as it was met on a
//! `home-ops` sandbox and checked fixed: the message, the exit code, and that
//! nothing changed where nothing should.

mod common;

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::TestSandbox;
use common::project::{stderr, stdout};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PostParams};
use kube::core::GroupVersionKind;
use serde_json::{Value, json};

fn external_secrets(client: kube::Client) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("external-secrets.io", "v1", "ExternalSecret"), "externalsecrets");
    Api::all_with(client, &resource)
}

#[tokio::test]
async fn a_followed_pod_that_has_not_started_is_waited_for_then_streamed() {
    let sandbox = TestSandbox::start_seeded("follow", "home-ops");
    let client = sandbox.client().await;
    // A pod waiting for a ConfigMap that does not exist yet: CreateContainerConfigError.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod = json!({"metadata": {"name": "late"}, "spec": {"containers": [{"name": "app", "image": "nginx:1.27",
        "envFrom": [{"configMapRef": {"name": "late-config"}}]}]}});
    pods.create(&PostParams::default(), &serde_json::from_value(pod).unwrap()).await.unwrap();
    let mut follow =
        sandbox.kdeck().args(["--context", "follow", "logs", "-n", "default", "late", "-f"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let configmaps: Api<ConfigMap> = Api::namespaced(client, "default");
    configmaps
        .create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "late-config"}, "data": {"A": "1"}})).unwrap())
        .await
        .unwrap();
    // The pod starts within the kubelet's retry, and its log follows.
    std::thread::sleep(Duration::from_secs(6));
    follow.kill().unwrap();
    follow.wait().unwrap();
    let (mut out, mut err) = (String::new(), String::new());
    follow.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    follow.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(err.contains("waiting to start"), "a line says the pod is waited for: {err}");
    assert!(!out.trim().is_empty(), "then its log streams: stdout {out:?}, stderr {err}");
}

#[tokio::test]
async fn typos_and_empty_matches_are_named_with_what_exists() {
    let sandbox = TestSandbox::start_seeded("typos", "home-ops");
    let run = |args: &[&str]| sandbox.run(&[&["--context", "typos"][..], args].concat());
    // A mistyped namespace: browse-pvc says so and names the nearest one.
    let out = run(&["browse-pvc", "gatus-data", "-n", "observabilty", "--", "ls"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("observabilty") && stderr(&out).contains("observability"), "{}", stderr(&out));
    // exec -l with a selector that matches nothing lists the labels pods do have.
    let out = run(&["exec", "-n", "default", "-l", "app=nope", "--", "true"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("app=nope") && stderr(&out).contains("labels of pods in namespace default:"), "{}", stderr(&out));
    assert!(stderr(&out).contains("app.kubernetes.io/name=echo-server (2)"), "the labels that exist, with their counts: {}", stderr(&out));
    // A logs pattern that matches nothing is repeated in the message.
    let out = run(&["logs", "-n", "default", "nomatch-xyz", "--no-follow"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("nomatch-xyz"), "the pattern is named: {}", stderr(&out));
    // Following an unknown container fails at once, naming the ones there are.
    let started = Instant::now();
    let out = run(&["logs", "-n", "default", "deploy/paperless", "-c", "nope", "-f"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(10) && stderr(&out).contains("nope"), "{}", stderr(&out));
    // A KUBECONFIG naming files that do not exist: named plainly, and the hint is about KUBECONFIG.
    let out = sandbox.kdeck().env("KUBECONFIG", "/nope/a:/nope/b").args(["sync-secrets", "-A"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no kubeconfig: /nope/a, /nope/b do not exist"), "unquoted paths: {}", stderr(&out));
    assert!(stderr(&out).contains("KUBECONFIG names these files"), "{}", stderr(&out));
    // -A before the subcommand, as kubectl users type it.
    let out = run(&["-A", "sync-secrets", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(["observability", "default", "storage"].iter().all(|ns| stdout(&out).contains(ns)), "every namespace: {}", stdout(&out));
    // The hr-restart dry run says in words what changes; the patches are for -o json.
    let out = run(&["hr-restart", "gatus", "-n", "observability", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("suspend") && !stdout(&out).contains('{'), "no JSON in the table: {}", stdout(&out));
}

#[tokio::test]
async fn stop_and_status_suggest_the_same_start_command() {
    let sandbox = TestSandbox::start("same-start");
    let stopped = sandbox.run(&["sandbox", "stop", "--name", "same-start"]);
    assert!(stopped.status.success(), "{}", stderr(&stopped));
    let status = sandbox.run(&["sandbox", "status", "--name", "same-start"]);
    let suggested = "kdeck sandbox start --detach --name same-start";
    assert!(stderr(&stopped).contains(suggested), "stop: {}", stderr(&stopped));
    assert!(stdout(&status).contains(suggested), "status: {}", stdout(&status));
    let faults = sandbox.run(&["sandbox", "faults", "--name", "same-start"]);
    assert!(stderr(&faults).contains(suggested), "a command that needs it running: {}", stderr(&faults));
}

#[tokio::test]
async fn a_command_that_times_out_still_prints_its_json_document() {
    let sandbox = TestSandbox::start_seeded("late-json", "home-ops");
    let faults = sandbox.run(&["sandbox", "faults", "slow=1:5s,only=pods", "--name", "late-json"]);
    assert!(faults.status.success(), "{}", stderr(&faults));
    let started = Instant::now();
    let out = sandbox.run(&["--context", "late-json", "cleanse-pods", "-A", "--dry-run", "--timeout", "2s", "-o", "json"]);
    assert!(started.elapsed() < Duration::from_secs(5), "the deadline holds: {:?}", started.elapsed());
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let document: Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("one JSON document ({e}): {}", stdout(&out)));
    assert_eq!(document["error"]["exitCode"], 4, "{document}");
    assert!(document["error"]["message"].as_str().unwrap().contains("--timeout 2s"), "{document}");
}

#[tokio::test]
async fn a_500_on_listing_external_secrets_is_retried_not_fatal() {
    let sandbox = TestSandbox::start_seeded("retry-500", "home-ops");
    let client = sandbox.client().await;
    let annotated = |list: &[DynamicObject]| list.iter().filter(|es| es.metadata.annotations.as_ref().is_some_and(|a| a.contains_key("force-sync"))).count();
    // Half of the lists of ExternalSecrets fail: over three runs, some first list does.
    let faults = sandbox.run(&["sandbox", "faults", "seed=3,500=0.5,only=externalsecrets,verbs=list", "--name", "retry-500"]);
    assert!(faults.status.success(), "{}", stderr(&faults));
    for _ in 0..3 {
        let out = sandbox.run(&["--context", "retry-500", "sync-secrets", "-A", "--no-wait"]);
        assert!(out.status.success(), "a 500 is retried by the one retry layer: {}", stderr(&out));
    }
    sandbox.run(&["sandbox", "faults", "--clear", "--name", "retry-500"]);
    let all = external_secrets(client).list(&ListParams::default()).await.unwrap().items;
    assert_eq!(annotated(&all), all.len(), "every ExternalSecret was asked to sync");
}

#[tokio::test]
async fn a_namespace_that_may_not_be_read_is_not_taken_as_missing() {
    let sandbox = TestSandbox::start_seeded("no-ns-read", "home-ops");
    // As under namespace-scoped RBAC: reading a Namespace is forbidden.
    let faults = sandbox.run(&["sandbox", "faults", "403=1,only=namespaces,verbs=get", "--name", "no-ns-read"]);
    assert!(faults.status.success(), "{}", stderr(&faults));
    let out = sandbox.run(&["--context", "no-ns-read", "sync-secrets", "-n", "observability", "--dry-run"]);
    assert!(out.status.success(), "the command goes on: {}", stderr(&out));
    assert!(stderr(&out).contains("namespace observability could not be checked"), "and says so: {}", stderr(&out));
    assert!(stdout(&out).contains("gatus"), "{}", stdout(&out));
}
