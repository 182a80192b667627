//! Operations facing bad input and strange servers: every failure says something a
//! human understands, `-o json` prints a document on every outcome, and input is
//! checked before anything changes.

mod common;

use common::TestSandbox;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::core::GroupVersionKind;
use serde_json::Value;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn helm_releases(client: kube::Client, ns: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk("helm.toolkit.fluxcd.io", "v2", "HelmRelease"), "helmreleases");
    Api::namespaced_with(client, ns, &resource)
}

#[tokio::test]
async fn json_output_has_a_document_on_every_outcome_and_input_is_checked_first() {
    let sandbox = TestSandbox::start_seeded("opserr", "home-ops");
    let ctx = sandbox.name.clone();

    // A release that fails: the JSON names the plan and the error, exit 1.
    let out = sandbox.run(&["hr-restart", "loki", "--context", &ctx, "-o", "json", "--timeout", "20s"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("a JSON document on failure");
    assert_eq!(doc["error"]["exitCode"], 1);
    assert!(doc["error"]["message"].as_str().unwrap().contains("InstallFailed"), "{doc}");
    assert_eq!(doc["plan"]["operation"], "hr-restart");

    // Nothing found: still a document.
    let out = sandbox.run(&["sync-secrets", "nope", "-n", "default", "--context", &ctx, "-o", "json"]);
    assert_eq!(out.status.code(), Some(3));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("a JSON document when nothing matches");
    assert!(doc["error"]["message"].as_str().unwrap().contains("nope"), "{doc}");

    // A zero timeout is refused before the release is touched.
    let releases = helm_releases(sandbox.client().await, "observability");
    let before = releases.get("gatus").await.unwrap().metadata.resource_version;
    let out = sandbox.run(&["hr-restart", "gatus", "--context", &ctx, "--timeout", "0s"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("too short"), "{}", stderr(&out));
    assert_eq!(releases.get("gatus").await.unwrap().metadata.resource_version, before, "nothing changed");

    // A mistyped namespace is named, with the nearest ones — not "nothing to do".
    for args in [vec!["cleanse-pods", "-n", "defualt"], vec!["logs", "-n", "observabilty", "-l", "app=x", "--no-follow"]] {
        let mut full = args.clone();
        full.extend(["--context", &ctx]);
        let out = sandbox.run(&full);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("not found") && (stderr(&out).contains("default") || stderr(&out).contains("observability")), "{}", stderr(&out));
    }
}

/// A web server that answers every request `404` with an empty body.
async fn silent_404_server() -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = conn.read(&mut buf).await {
                    if n == 0 || conn.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn a_server_that_is_not_kubernetes_gets_a_message_not_an_empty_line() {
    let port = silent_404_server().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("config");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: web, cluster: {{server: \"http://127.0.0.1:{port}\"}}}}]\nusers: [{{name: web, user: {{token: t}}}}]\ncontexts: [{{name: web, context: {{cluster: web, user: web}}}}]\ncurrent-context: web\n"
        ),
    )
    .unwrap();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(common::BIN).args(["cleanse-pods", "-n", "default"]).env("KUBECONFIG", &kubeconfig).env("NO_COLOR", "1").output().unwrap()
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("could not find the requested resource") && err.contains("HTTP 404"), "{err}");
    assert!(err.contains("Kubernetes API server"), "says what to check: {err}");
    assert!(!err.lines().any(|l| l.trim_end().ends_with(": ")), "no empty message: {err}");
}

#[tokio::test]
async fn every_command_finds_a_named_object_the_same_way() {
    let sandbox = TestSandbox::start_seeded("lookup", "home-ops");
    let ctx = sandbox.name.clone();
    // Not in the context's namespace (default), unique elsewhere: used, and said.
    let out = sandbox.run(&["sync-secrets", "grafana", "--context", &ctx, "--no-wait"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("using observability/grafana"), "{}", stderr(&out));
    let out = sandbox.run(&["browse-pvc", "gatus-data", "--context", &ctx, "--", "ls", "/data"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("using observability/gatus-data"), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("config.yaml"));
    // With -n, only there; where it does exist is named.
    for args in [["hr-restart", "gatus", "-n", "default"], ["sync-secrets", "gatus", "-n", "default"], ["browse-pvc", "gatus-data", "-n", "default"]] {
        let mut full = args.to_vec();
        full.extend(["--context", &ctx, "--dry-run"]);
        if args[0] == "browse-pvc" {
            full.truncate(4);
            full.extend(["--context", &ctx, "--", "true"]);
        }
        let out = sandbox.run(&full);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("it exists in: observability"), "{args:?}: {}", stderr(&out));
    }
}

#[tokio::test]
async fn a_service_is_a_target_as_kubectl_takes_it() {
    let sandbox = TestSandbox::start_seeded("svctarget", "home-ops");
    let ctx = sandbox.name.clone();
    let services: Api<k8s_openapi::api::core::v1::Service> = Api::namespaced(sandbox.client().await, "default");
    let service = serde_json::json!({"metadata": {"name": "echo-server"},
        "spec": {"selector": {"app.kubernetes.io/name": "echo-server"}, "ports": [{"port": 80, "targetPort": 8080}]}});
    services.create(&Default::default(), &serde_json::from_value(service).unwrap()).await.unwrap();
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> = Api::namespaced(sandbox.client().await, "default");
    common::wait_object(&deployments, "echo-server", "available", |d| d.status.as_ref().and_then(|s| s.available_replicas) == Some(2)).await;
    let out = sandbox.run(&["logs", "svc/echo-server", "--context", &ctx, "-n", "default", "--no-follow"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("echo-server-"), "the Service's pods' lines, prefixed");
    let out = sandbox.run(&["exec", "svc/echo-server", "--context", &ctx, "-n", "default", "--", "hostname"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("echo-server-"), "{}", String::from_utf8_lossy(&out.stdout));
    let out = sandbox.run(&["exec", "svc/nope", "--context", &ctx, "-n", "default", "--", "true"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}
