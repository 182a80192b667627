//! The sandbox network: throughput of `kubectl port-forward` to a real process, and
//! the latency a request pays through the ingress address, against the same
//! backend reached through a NodePort (a plain TCP relay: what the ingress adds is
//! its HTTP routing and proxying).
//!
//! Run alone with `cargo run --release -p kdeck-bench -- network` (kubectl on PATH
//! for the port-forward part).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Env, median, ms, p90};

/// Bytes the port-forward transfer moves.
const TRANSFER_MIB: usize = 64;
const REQUESTS: usize = 2000;

pub struct Figures {
    /// MiB/s through `kubectl port-forward`, and the MiB moved.
    pub port_forward: Option<f64>,
    pub ingress: (Duration, Duration),
    pub node_port: (Duration, Duration),
}

/// Starts a sandbox of its own (real runs on) and measures.
pub async fn measure(kubectl: Option<&Path>) -> Figures {
    let env = Env { dir: tempfile::tempdir().expect("temp dir") };
    let out = env.kdeck(&["sandbox", "start", "--detach", "--name", "bench", "--run-commands"]);
    assert!(out.status.success(), "sandbox start failed: {}", String::from_utf8_lossy(&out.stderr));
    let status: Value = serde_json::from_slice(&env.kdeck(&["sandbox", "status", "--name", "bench", "-o", "json"]).stdout).expect("status json");
    let ingress = status["ingress"].as_str().expect("the ingress address").trim_start_matches("http://").to_string();
    let client = env.client().await;
    apply(&client).await;
    let node_port = wait_node_port(&client).await;
    let port_forward = match kubectl {
        Some(kubectl) => Some(port_forward_throughput(&env, kubectl).await),
        None => None,
    };
    let ingress = latency(&ingress, "web.bench").await;
    let node_port = latency(&format!("127.0.0.1:{node_port}"), "web.bench").await;
    Figures { port_forward, ingress, node_port }
}

/// A real `python3 -m http.server` serving a file of TRANSFER_MIB, and a simulated
/// web server behind a Service with an Ingress and a NodePort.
async fn apply(client: &kube::Client) {
    let objects = [
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "files", "annotations": {"sandbox.kdeck.dev/run-command": "true"}},
            "spec": {"containers": [{"name": "files", "image": "python:3", "workingDir": "/srv",
                "command": ["sh", "-c", format!("head -c {} /dev/zero > /srv/blob && exec python3 -m http.server 8000", TRANSFER_MIB << 20)],
                "volumeMounts": [{"name": "srv", "mountPath": "/srv"}],
                "readinessProbe": {"tcpSocket": {"port": 8000}, "periodSeconds": 1}}],
                "volumes": [{"name": "srv", "emptyDir": {}}]}}),
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
            "Pod" => "api/v1/namespaces/default/pods",
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

/// Runs `kubectl port-forward pod/files LOCAL:8000` and downloads the file through
/// it; MiB/s of the transfer (the best of three).
async fn port_forward_throughput(env: &Env, kubectl: &Path) -> f64 {
    let local = free_port();
    let kubeconfig = env.dir.path().join("kubeconfig");
    for _ in 0..600 {
        let out = Command::new(kubectl)
            .args(["--context", "bench", "get", "pod", "files", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}"])
            .env("KUBECONFIG", &kubeconfig)
            .output()
            .expect("kubectl");
        if String::from_utf8_lossy(&out.stdout) == "True" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let forward: Child = Command::new(kubectl)
        .args(["--context", "bench", "port-forward", "pod/files", &format!("{local}:8000")])
        .env("KUBECONFIG", &kubeconfig)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl port-forward");
    let _guard = KillOnDrop(forward);
    let mut best = 0.0f64;
    for _ in 0..3 {
        let started = Instant::now();
        let bytes = loop {
            match download(local, "/blob").await {
                Some(bytes) => break bytes,
                None if started.elapsed() < Duration::from_secs(30) => tokio::time::sleep(Duration::from_millis(200)).await,
                None => panic!("nothing came through the port-forward"),
            }
        };
        let took = started.elapsed();
        assert_eq!(bytes, TRANSFER_MIB << 20, "the whole file came through");
        best = best.max(bytes as f64 / 1048576.0 / took.as_secs_f64());
    }
    best
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// GETs `path` with HTTP/1.0 (the body ends with the connection); the body's length.
async fn download(port: u16, path: &str) -> Option<usize> {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    tcp.write_all(format!("GET {path} HTTP/1.0\r\nHost: files\r\n\r\n").as_bytes()).await.ok()?;
    let mut buf = vec![0u8; 1 << 20];
    let mut head = Vec::new();
    let mut body = 0usize;
    loop {
        let n = tcp.read(&mut buf).await.ok()?;
        if n == 0 {
            break;
        }
        if body == 0 && head.len() < 4096 {
            head.extend_from_slice(&buf[..n]);
            if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                body = head.len() - end - 4;
                head.truncate(end);
            }
        } else {
            body += n;
        }
    }
    String::from_utf8_lossy(&head).starts_with("HTTP/1.0 200").then_some(body)
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
    match figures.port_forward {
        Some(rate) => println!("| `kubectl port-forward` to a real `python3 -m http.server` ({TRANSFER_MIB} MiB file) | {rate:.0} MiB/s |"),
        None => println!("| `kubectl port-forward` throughput | kubectl not on PATH |"),
    }
    let (ingress, node_port) = (figures.ingress, figures.node_port);
    println!("| GET through the ingress address, keep-alive (median / p90) | {} / {} |", ms(ingress.0), ms(ingress.1));
    println!("| the same GET through a NodePort (median / p90) | {} / {} |", ms(node_port.0), ms(node_port.1));
    println!("| added by the ingress's routing and proxying (median) | {} |", ms(ingress.0.saturating_sub(node_port.0)));
}
