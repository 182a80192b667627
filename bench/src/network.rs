//! The sandbox network: the latency a request pays through the ingress address,
//! against the same backend reached through a NodePort (a plain TCP relay: what the
//! ingress adds is its HTTP routing and proxying). Port-forward and proxy throughput
//! are in portforward.rs.
//!
//! Run alone with `cargo run --release -p kdeck-bench -- network`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Env, median, ms, p90};

const REQUESTS: usize = 2000;

pub struct Figures {
    pub ingress: (Duration, Duration),
    pub node_port: (Duration, Duration),
}

/// Starts a sandbox of its own (real runs on) and measures.
pub async fn measure() -> Figures {
    let env = Env { dir: tempfile::tempdir().expect("temp dir") };
    let out = env.kdeck(&["sandbox", "start", "--detach", "--name", "bench", "--run-commands"]);
    assert!(out.status.success(), "sandbox start failed: {}", String::from_utf8_lossy(&out.stderr));
    let status: Value = serde_json::from_slice(&env.kdeck(&["sandbox", "status", "--name", "bench", "-o", "json"]).stdout).expect("status json");
    let ingress = status["ingress"].as_str().expect("the ingress address").trim_start_matches("http://").to_string();
    let client = env.client().await;
    apply(&client).await;
    let node_port = wait_node_port(&client).await;
    let ingress = latency(&ingress, "web.bench").await;
    let node_port = latency(&format!("127.0.0.1:{node_port}"), "web.bench").await;
    Figures { ingress, node_port }
}

/// A simulated web server behind a Service with an Ingress and a NodePort.
async fn apply(client: &kube::Client) {
    let objects = [
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}}}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
            "spec": {"type": "NodePort", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 80}]}}),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web"},
            "spec": {"rules": [{"host": "web.bench", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}}),
    ];
    for object in objects {
        let resource = match object["kind"].as_str().unwrap() {
            "Deployment" => "apis/apps/v1/namespaces/default/deployments",
            "Service" => "api/v1/namespaces/default/services",
            _ => "apis/networking.k8s.io/v1/namespaces/default/ingresses",
        };
        let request =
            http::Request::post(format!("/{resource}")).header("content-type", "application/json").body(serde_json::to_vec(&object).unwrap()).unwrap();
        client.request_text(request).await.expect("create");
    }
}

async fn wait_node_port(client: &kube::Client) -> u16 {
    for _ in 0..300 {
        let service: Value =
            serde_json::from_str(&client.request_text(http::Request::get("/api/v1/namespaces/default/services/web").body(Vec::new()).unwrap()).await.unwrap())
                .unwrap();
        let endpoints = client.request_text(http::Request::get("/api/v1/namespaces/default/endpoints/web").body(Vec::new()).unwrap()).await.unwrap_or_default();
        if let Some(port) = service["spec"]["ports"][0]["nodePort"].as_u64()
            && endpoints.contains("\"addresses\"")
        {
            return port as u16;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the web Service never got a ready endpoint");
}

/// Median and p90 of REQUESTS keep-alive GETs to `addr` with `Host: host`.
async fn latency(addr: &str, host: &str) -> (Duration, Duration) {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let _ = tcp.set_nodelay(true);
    let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
    let mut times = Vec::with_capacity(REQUESTS);
    let mut buf = vec![0u8; 64 * 1024];
    for i in 0..REQUESTS + 100 {
        let started = Instant::now();
        tcp.write_all(request.as_bytes()).await.expect("send");
        read_response(&mut tcp, &mut buf).await;
        // The first hundred warm up.
        if i >= 100 {
            times.push(started.elapsed());
        }
    }
    (median(times.clone()), p90(times))
}

/// Reads one response with a Content-Length body.
async fn read_response(tcp: &mut TcpStream, buf: &mut [u8]) {
    let mut have = Vec::new();
    loop {
        let n = tcp.read(buf).await.expect("read");
        assert!(n > 0, "the connection closed mid-response");
        have.extend_from_slice(&buf[..n]);
        let Some(end) = have.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&have[..end]).to_ascii_lowercase();
        let length: usize = head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
        if have.len() >= end + 4 + length {
            assert!(head.starts_with("http/1.1 200"), "{head}");
            return;
        }
    }
}

pub fn print(figures: &Figures) {
    println!("| measure | sandbox |");
    println!("|---|---|");
    let (ingress, node_port) = (figures.ingress, figures.node_port);
    println!("| GET through the ingress address, keep-alive (median / p90) | {} / {} |", ms(ingress.0), ms(ingress.1));
    println!("| the same GET through a NodePort (median / p90) | {} / {} |", ms(node_port.0), ms(node_port.1));
    println!("| added by the ingress's routing and proxying (median) | {} |", ms(ingress.0.saturating_sub(node_port.0)));
}
