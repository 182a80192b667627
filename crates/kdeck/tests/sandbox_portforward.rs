//! Port-forward and the proxy subresources end to end through kube-rs
//! (`Api::<Pod>::portforward` over WebSocket v4 channels, raw requests for the
//! proxy), against a sandbox started with `--run-commands` whose pod really runs
//! the conformance suite's HTTP server (`scripts/conformance.d/portforward.py`).
//! kubectl's SPDY forms and the Python client are checked by
//! `scripts/conformance.d/steps-portforward.sh`.

mod common;

use std::time::Duration;

use common::{TestSandbox, free_port, wait_pod};
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{Api, PostParams};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SERVER: &str = include_str!("../../../scripts/conformance.d/portforward.py");
/// sha256 of the 2 MiB of the server's pattern (byte i = i % 251).
const PATTERN_2MIB_SHA256: &str = "1e075c8d478ad21844e33e830a695ef03a4d2488b69ee275bd8947618bb1be1e";

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// A pod whose command really runs the HTTP server on `port`, and a Service `echo` for it.
async fn echo_pod(client: &kube::Client, port: u16) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "echo", "labels": {"app": "echo"}, "annotations": {"sandbox.kdeck.dev/run-command": "true"}},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "server", "image": "python:3",
            "command": ["python3", "-c", SERVER, "serve", port.to_string()], "ports": [{"name": "http", "containerPort": port}]}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let service: Service = serde_json::from_value(json!({"metadata": {"name": "echo"},
        "spec": {"selector": {"app": "echo"}, "ports": [{"name": "web", "port": 80, "targetPort": "http"}]}}))
    .unwrap();
    services.create(&PostParams::default(), &service).await.unwrap();
    wait_pod(&pods, "echo", "Running", |p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")).await;
    // The server answers once it has bound its port, and the Service once the pod
    // is among its ready endpoints (as on a real cluster, a moment after Running).
    for _ in 0..300 {
        if raw(client, "GET", &format!("/api/v1/namespaces/default/pods/echo:{port}/proxy/ready"), vec![]).await.is_ok()
            && raw(client, "GET", "/api/v1/namespaces/default/services/echo:80/proxy/ready", vec![]).await.is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the echo server never answered");
}

/// A client without kube-rs's default retries: it retries a 503 up to 15 times
/// with back-off, and the proxy's "no endpoints" answers are 503s (as on a real cluster).
async fn client_without_retries(sandbox: &TestSandbox, context: &str) -> kube::Client {
    let raw = kube::config::Kubeconfig::read_from(sandbox.kubeconfig()).unwrap();
    let options = kube::config::KubeConfigOptions { context: Some(context.to_string()), ..Default::default() };
    let mut config = kube::Config::from_custom_kubeconfig(raw, &options).await.unwrap();
    config.default_retry = false;
    kube::Client::try_from(config).unwrap()
}

async fn raw(client: &kube::Client, method: &str, path: &str, body: Vec<u8>) -> kube::Result<String> {
    client.request_text(http::Request::builder().method(method).uri(path).body(body).unwrap()).await
}

/// An HTTP/1.1 exchange on a forwarded stream: the status line and the body.
async fn exchange(stream: &mut (impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin), request: &[u8]) -> (String, Vec<u8>) {
    stream.write_all(request).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("a whole HTTP response");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    (head.lines().next().unwrap_or_default().to_string(), response[split + 4..].to_vec())
}

fn api_error(result: kube::Result<impl std::fmt::Debug>) -> (u16, String) {
    match result {
        Err(kube::Error::Api(status)) => (status.code, status.message.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn kube_rs_forwards_two_ports_up_and_down_and_a_refused_port_gets_the_kubelets_error() {
    let sandbox = TestSandbox::start_with_args("pf-kube", &["--run-commands"]);
    let client = sandbox.client().await;
    let (port, closed) = (free_port(), free_port());
    echo_pod(&client, port).await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");

    let mut forwarder = pods.portforward("echo", &[port, closed]).await.expect("upgraded");
    let mut stream = forwarder.take_stream(port).unwrap();
    let mut request = format!("POST /up?via=kube-rs HTTP/1.1\r\nHost: pf\r\nConnection: close\r\nContent-Length: {}\r\n\r\n", 2 << 20).into_bytes();
    request.extend(pattern(2 << 20));
    let (status, body) = exchange(&mut stream, &request).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let echo: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((echo["method"].as_str(), echo["path"].as_str()), (Some("POST"), Some("/up?via=kube-rs")));
    assert_eq!((echo["bodyLength"].as_u64(), echo["bodySha256"].as_str()), (Some(2 << 20), Some(PATTERN_2MIB_SHA256)));
    // Nothing listens on the other port: no bytes, and the kubelet's words on its error channel.
    let mut refused = forwarder.take_stream(closed).unwrap();
    let mut nothing = Vec::new();
    refused.read_to_end(&mut nothing).await.unwrap();
    assert!(nothing.is_empty());
    let error = forwarder.take_error(closed).unwrap().await.expect("an error message");
    assert!(error.starts_with(&format!("error forwarding port {closed} to pod ")), "{error}");
    assert!(error.contains(&format!("failed to connect to localhost:{closed} inside namespace")) && error.contains("connect: connection refused"), "{error}");
    // kube-rs ends the session (and with it the error futures) once our streams are
    // gone. The server has closed the WebSocket already (as the kubelet does once every
    // port's connection ended), so kube-rs's own close fails: its result is not ours.
    drop((stream, refused));
    assert_eq!(forwarder.take_error(port).unwrap().await, None);
    let _ = forwarder.join().await;

    // Many sessions at once, each downloading a different size.
    let downloads = (0..12usize).map(|i| {
        let pods = pods.clone();
        async move {
            let mut forwarder = pods.portforward("echo", &[port]).await.expect("upgraded");
            let mut stream = forwarder.take_stream(port).unwrap();
            let n = 300_000 + i * 1_000;
            let (status, body) = exchange(&mut stream, format!("GET /bytes/{n} HTTP/1.1\r\nHost: pf\r\nConnection: close\r\n\r\n").as_bytes()).await;
            assert_eq!(status, "HTTP/1.1 200 OK");
            assert!(body == pattern(n), "download {i}: {} bytes, not the pattern", body.len());
            drop(stream);
            let _ = forwarder.join().await;
        }
    });
    futures::future::join_all(downloads).await;
}

#[tokio::test]
async fn port_forward_refusals_are_worded_as_the_apiserver_and_kubelet_word_them() {
    let sandbox = TestSandbox::start_with_args("pf-refused", &["--run-commands"]);
    let client = sandbox.client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod = |name: &str, spec: Value| -> Pod {
        serde_json::from_value(json!({"metadata": {"name": name, "annotations": {"sandbox.kdeck.dev/run-command": "true"}}, "spec": spec})).unwrap()
    };
    let done = json!({"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox", "command": ["true"]}]});
    pods.create(&PostParams::default(), &pod("done", done)).await.unwrap();
    let pending = json!({"nodeSelector": {"disk": "none-has-it"}, "containers": [{"name": "c", "image": "busybox"}]});
    pods.create(&PostParams::default(), &pod("pending", pending)).await.unwrap();
    wait_pod(&pods, "done", "Succeeded", |p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Succeeded")).await;

    let refused = |result: kube::Result<kube::api::Portforwarder>| api_error(result.map(|_| ()));
    assert_eq!(refused(pods.portforward("nosuch", &[80]).await), (404, "pods \"nosuch\" not found".into()));
    assert_eq!(refused(pods.portforward("pending", &[80]).await), (400, "pod pending does not have a host assigned".into()));
    // The kubelet knows only running pods (its plain-text answer).
    assert_eq!(refused(pods.portforward("done", &[80]).await), (500, "pod not found (\"done_default\")".into()));
    assert_eq!(refused(pods.portforward("done", &[0]).await).0, 500);

    // Ports as the apiserver converts them, then as the kubelet checks them.
    sandbox_pod_running(&client).await;
    assert_eq!(refused(pods.portforward("sleeper", &[0]).await), (400, "port \"0\" must be > 0".into()));
    let base = "/api/v1/namespaces/default/pods/sleeper/portforward";
    let (code, message) = api_error(raw(&client, "GET", &format!("{base}?ports=70000"), vec![]).await);
    assert_eq!((code, message.as_str()), (400, "cannot convert to []int32: strconv.ParseUint: parsing \"70000\": value out of range"));
    let (code, message) = api_error(raw(&client, "GET", &format!("{base}?ports=http"), vec![]).await);
    assert_eq!((code, message.as_str()), (400, "cannot convert to []int32: strconv.ParseUint: parsing \"http\": invalid syntax"));
    let upgrade = http::Request::get(base).body(vec![]).unwrap();
    let (code, message) = api_error(client.connect(upgrade).await.map(|_| ()));
    assert_eq!((code, message.as_str()), (400, "query parameter \"port\" is required"));
    // Not upgraded at all.
    assert_eq!(api_error(raw(&client, "POST", base, vec![]).await), (400, "Upgrade request required".into()));
    // The read-only token may not create pods/portforward.
    let readonly: Api<Pod> = Api::namespaced(sandbox.readonly_client().await, "default");
    let (code, message) = refused(readonly.portforward("sleeper", &[80]).await);
    assert_eq!(code, 403);
    assert!(message.contains("cannot create resource \"pods/portforward\""), "{message}");
}

/// A running pod (its command sleeps) for checks that need the kubelet to get the request.
async fn sandbox_pod_running(client: &kube::Client) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "sleeper"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})).unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    wait_pod(&pods, "sleeper", "Running", |p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")).await;
}

#[tokio::test]
async fn proxy_subresources_pass_methods_bodies_and_headers_and_fail_as_the_apiserver_does() {
    let sandbox = TestSandbox::start_with_args("pf-proxy", &["--run-commands"]);
    let client = client_without_retries(&sandbox, "pf-proxy").await;
    let port = free_port();
    echo_pod(&client, port).await;
    let base = "/api/v1/namespaces/default";

    let first = raw(&client, "GET", &format!("{base}/services/echo:80/proxy/a/b?x=1&y=%20z"), vec![]).await.unwrap();
    let echo: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first:?}"));
    assert_eq!((echo["method"].as_str(), echo["path"].as_str()), (Some("GET"), Some("/a/b?x=1&y=%20z")));
    assert_eq!(echo["headers"]["authorization"], Value::Null, "the caller's token is not passed on");
    assert_eq!(echo["headers"]["x-forwarded-uri"], format!("{base}/services/echo:80/proxy/a/b"));
    let upload = raw(&client, "PUT", &format!("{base}/services/echo:web/proxy/up"), pattern(2 << 20)).await.unwrap();
    let echo: Value = serde_json::from_str(&upload).unwrap();
    assert_eq!((echo["method"].as_str(), echo["bodySha256"].as_str()), (Some("PUT"), Some(PATTERN_2MIB_SHA256)));
    let echo: Value = serde_json::from_str(&raw(&client, "DELETE", &format!("{base}/pods/echo:{port}/proxy/gone"), vec![]).await.unwrap()).unwrap();
    assert_eq!((echo["method"].as_str(), echo["path"].as_str()), (Some("DELETE"), Some("/gone")));
    let echo: Value = serde_json::from_str(&raw(&client, "POST", &format!("{base}/pods/http:echo:/proxy/first"), b"hi".to_vec()).await.unwrap()).unwrap();
    assert_eq!((echo["path"].as_str(), echo["bodyLength"].as_u64()), (Some("/first"), Some(2)), "the first declared port");
    let download = http::Request::get(format!("{base}/services/echo:80/proxy/bytes/3000000")).body(vec![]).unwrap();
    let mut bytes = Vec::new();
    futures::AsyncReadExt::read_to_end(&mut Box::pin(client.request_stream(download).await.unwrap()), &mut bytes).await.unwrap();
    assert!(bytes == pattern(3_000_000), "a 3 MB download through the proxy: {} bytes, not the pattern", bytes.len());

    let unavailable = |r| api_error(r);
    assert_eq!(
        unavailable(raw(&client, "GET", &format!("{base}/services/echo:81/proxy/"), vec![]).await),
        (503, "no service port 81 found for service \"echo\"".into())
    );
    assert_eq!(
        unavailable(raw(&client, "GET", &format!("{base}/services/echo:nope/proxy/"), vec![]).await),
        (503, "no endpoints available for service \"echo:nope\"".into())
    );
    assert_eq!(
        unavailable(raw(&client, "GET", &format!("{base}/services/echo/proxy/"), vec![]).await),
        (503, "no endpoints available for service \"echo\"".into())
    );
    assert_eq!(unavailable(raw(&client, "GET", &format!("{base}/services/a:b:c:d/proxy/"), vec![]).await), (400, "invalid service request \"a:b:c:d\"".into()));
    assert_eq!(unavailable(raw(&client, "GET", &format!("{base}/services/nosuch:80/proxy/"), vec![]).await), (404, "services \"nosuch\" not found".into()));
    assert_eq!(unavailable(raw(&client, "GET", &format!("{base}/services/nosuch/proxy/"), vec![]).await), (404, "endpoints \"nosuch\" not found".into()));
    let (code, message) = unavailable(raw(&client, "GET", &format!("{base}/pods/echo:1/proxy/"), vec![]).await);
    assert_eq!(code, 503);
    assert!(message.starts_with("error trying to reach service: dial tcp 10.") && message.ends_with(":1: connect: connection refused"), "{message}");

    // Read-only: GET is a get of services/proxy, POST a create.
    let readonly = client_without_retries(&sandbox, "pf-proxy-readonly").await;
    assert!(raw(&readonly, "GET", &format!("{base}/services/echo:80/proxy/ro"), vec![]).await.is_ok());
    let (code, message) = api_error(raw(&readonly, "POST", &format!("{base}/services/echo:80/proxy/ro"), vec![]).await);
    assert_eq!(code, 403);
    assert!(message.contains("cannot create resource \"services/proxy\""), "{message}");
}
