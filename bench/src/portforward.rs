//! Throughput through port-forward and the proxy subresource: MiB/s of one download
//! (`BENCH_PF_MIB`, default 256 MiB) from a pod whose command really runs (the
//! conformance suite's HTTP server, `scripts/conformance.d/portforward.py`): from
//! the same server run on the host (the baseline: what the server itself does), through
//! `kubectl port-forward` (SPDY over WebSocket, its default, and plain SPDY) when
//! kubectl is on PATH, through kube-rs's `portforward` (WebSocket v4 channels) and
//! through `pods/NAME:PORT/proxy`. Nothing is compared with another tool: this is how
//! fast bytes cross the sandbox.
//!
//! Run alone with `cargo run --release -p kdeck-bench -- portforward`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, PostParams};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::Env;

const SERVER: &str = include_str!("../../scripts/conformance.d/portforward.py");

pub struct Row {
    pub path: &'static str,
    pub mib_per_second: f64,
}

fn mib() -> usize {
    std::env::var("BENCH_PF_MIB").ok().and_then(|n| n.parse().ok()).unwrap_or(256)
}

/// Starts a sandbox with `--run-commands` and a pod serving on a free port, then
/// times one download through each path.
pub async fn measure(kubectl: Option<&Path>) -> Vec<Row> {
    let env = Env { dir: tempfile::tempdir().expect("temp dir") };
    let out = env.kdeck(&["sandbox", "start", "--detach", "--name", "bench", "--run-commands"]);
    assert!(out.status.success(), "sandbox start failed: {}", String::from_utf8_lossy(&out.stderr));
    let client = env.client().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "echo", "annotations": {"sandbox.kdeck.dev/run-command": "true"}},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "server", "image": "python:3",
            "command": ["python3", "-c", SERVER, "serve", port.to_string()], "ports": [{"containerPort": port}]}]}
    }))
    .expect("pod");
    pods.create(&PostParams::default(), &pod).await.expect("create the pod");
    // The pod listens in its own network: it is ready once the proxy reaches it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let ready = format!("/api/v1/namespaces/default/pods/echo:{port}/proxy/ready");
    while client.request_text(http::Request::get(&ready).body(Vec::new()).expect("request")).await.is_err() {
        assert!(Instant::now() < deadline, "the pod's server never listened");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let bytes = mib() << 20;
    let mut rows = Vec::new();
    rows.push(Row { path: "the same server on the host's loopback (baseline)", mib_per_second: on_the_host(bytes).await });
    if let Some(kubectl) = kubectl {
        for (path, websockets) in [("`kubectl port-forward` (SPDY over WebSocket)", "true"), ("`kubectl port-forward` (plain SPDY)", "false")] {
            let mut child = Command::new(kubectl)
                .args(["--context", "bench", "port-forward", "pod/echo", &format!(":{port}")])
                .env("KUBECONFIG", env.dir.path().join("kubeconfig"))
                .env("KUBECTL_PORT_FORWARD_WEBSOCKETS", websockets)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("kubectl port-forward");
            let mut line = String::new();
            let mut output = BufReader::new(child.stdout.take().expect("stdout"));
            output.read_line(&mut line).expect("kubectl's first line");
            // The rest of kubectl's output is drained: a closed pipe would end it.
            std::thread::spawn(move || std::io::copy(&mut output, &mut std::io::sink()));
            let local: u16 =
                line.split(':').nth(1).and_then(|rest| rest.split_whitespace().next()).and_then(|p| p.parse().ok()).expect("Forwarding from 127.0.0.1:PORT");
            let stream = tokio::net::TcpStream::connect(("127.0.0.1", local)).await.expect("connect to kubectl");
            rows.push(Row { path, mib_per_second: download(stream, bytes).await });
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    let mut forwarder = pods.portforward("echo", &[port]).await.expect("portforward");
    let stream = forwarder.take_stream(port).expect("stream");
    rows.push(Row { path: "kube-rs `portforward` (WebSocket v4)", mib_per_second: download(stream, bytes).await });
    forwarder.abort();
    let request = http::Request::get(format!("/api/v1/namespaces/default/pods/echo:{port}/proxy/bytes/{bytes}")).body(Vec::new()).expect("request");
    let started = Instant::now();
    let mut body = Box::pin(client.request_stream(request).await.expect("proxy"));
    let received = futures::io::copy(&mut body, &mut futures::io::sink()).await.expect("proxied body") as usize;
    assert_eq!(received, bytes, "the whole body through the proxy");
    rows.push(Row { path: "`pods/NAME:PORT/proxy` (kube-rs)", mib_per_second: mib() as f64 / started.elapsed().as_secs_f64() });
    rows
}

/// The server run as a plain process on the host, downloaded from directly: what
/// the server itself does, without the sandbox in between.
async fn on_the_host(bytes: usize) -> f64 {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port();
    let mut server =
        Command::new("python3").args(["-c", SERVER, "serve", &port.to_string()]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("python3");
    let deadline = Instant::now() + Duration::from_secs(30);
    let stream = loop {
        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(stream) => break stream,
            Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => panic!("the server on the host never listened: {e}"),
        }
    };
    let rate = download(stream, bytes).await;
    let _ = server.kill();
    let _ = server.wait();
    rate
}

/// Asks for `bytes` bytes over `stream` and reads them all; MiB/s from request to last byte.
async fn download(mut stream: impl AsyncRead + AsyncWrite + Unpin, bytes: usize) -> f64 {
    let started = Instant::now();
    stream.write_all(format!("GET /bytes/{bytes} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n").as_bytes()).await.expect("request");
    let mut buf = vec![0u8; 1 << 20];
    let mut received = 0;
    loop {
        match stream.read(&mut buf).await.unwrap_or_else(|e| panic!("read after {received} bytes: {e}")) {
            0 => break,
            n => received += n,
        }
    }
    assert!(received > bytes, "the whole response: {received} of {bytes} bytes");
    (bytes as f64 / 1048576.0) / started.elapsed().as_secs_f64()
}

pub fn print(rows: &[Row]) {
    println!("| download of {} MiB from a pod, through | MiB/s |", mib());
    println!("|---|---|");
    for row in rows {
        println!("| {} | {:.0} |", row.path, row.mib_per_second);
    }
}
