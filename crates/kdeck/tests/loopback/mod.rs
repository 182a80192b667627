//! Helpers of the network tests (`sandbox_simulated`, `sandbox_ingress`): creating
//! objects from JSON, raw HTTP/RESP clients over TCP, the sandbox's listening
//! sockets, and the real clients (`redis-cli`, `psql`, `pg_isready`, `curl`) when
//! they are installed.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event, Pod, Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::api::{Api, ListParams, PostParams};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::TestSandbox;

/// Creates each object (Deployment, Service, Secret, Ingress, IngressClass, Pod)
/// in the namespace `default`.
pub async fn create(client: &kube::Client, objects: &[Value]) {
    let pp = PostParams::default();
    for object in objects {
        let what = format!("{} {}", object["kind"], object["metadata"]["name"]);
        let result = match object["kind"].as_str() {
            Some("Deployment") => {
                Api::<Deployment>::default_namespaced(client.clone()).create(&pp, &serde_json::from_value(object.clone()).unwrap()).await.map(drop)
            }
            Some("Service") => Api::<Service>::default_namespaced(client.clone()).create(&pp, &serde_json::from_value(object.clone()).unwrap()).await.map(drop),
            Some("Secret") => Api::<Secret>::default_namespaced(client.clone()).create(&pp, &serde_json::from_value(object.clone()).unwrap()).await.map(drop),
            Some("Ingress") => Api::<Ingress>::default_namespaced(client.clone()).create(&pp, &serde_json::from_value(object.clone()).unwrap()).await.map(drop),
            Some("IngressClass") => Api::<IngressClass>::all(client.clone()).create(&pp, &serde_json::from_value(object.clone()).unwrap()).await.map(drop),
            Some("Pod") => Api::<Pod>::default_namespaced(client.clone()).create(&pp, &serde_json::from_value(object.clone()).unwrap()).await.map(drop),
            other => panic!("no helper creates {other:?}"),
        };
        result.unwrap_or_else(|e| panic!("creating {what}: {e}"));
    }
}

/// A Deployment of one container.
pub fn deployment(name: &str, replicas: i32, container: Value) -> Value {
    serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container]}}}})
}

/// A Service of `kind` selecting `app=<app>`.
pub fn service(name: &str, app: &str, kind: &str, ports: Value) -> Value {
    serde_json::json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
        "spec": {"type": kind, "selector": {"app": app}, "ports": ports}})
}

/// The nodePort of the Service's first port.
pub async fn node_port(client: &kube::Client, name: &str) -> u16 {
    let svc = Api::<Service>::default_namespaced(client.clone()).get(name).await.unwrap();
    let port = svc.spec.unwrap().ports.unwrap()[0].node_port.expect("a nodePort");
    u16::try_from(port).unwrap()
}

/// Retries `attempt` every 100 ms until it gives Some, for 20 s at most.
pub async fn eventually<T, F: std::future::Future<Output = Option<T>>>(what: &str, mut attempt: impl FnMut() -> F) -> T {
    for _ in 0..200 {
        if let Some(value) = attempt().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never happened: {what}");
}

/// The messages of the events about `name` with `reason`.
pub async fn events(client: &kube::Client, name: &str, reason: &str) -> Vec<String> {
    let events = Api::<Event>::default_namespaced(client.clone());
    let list = events.list(&ListParams::default().fields(&format!("involvedObject.name={name}"))).await.unwrap();
    list.items.into_iter().filter(|e| e.reason.as_deref() == Some(reason)).filter_map(|e| e.message).collect()
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request (`Connection: close`) to `addr`, with `host` as its Host.
/// Err when the connection is refused, reset or closed without an answer.
pub async fn http(addr: SocketAddr, method: &str, host: &str, path: &str, body: &[u8]) -> Result<Answer, String> {
    let mut tcp = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: kdeck-test\r\nConnection: close\r\nContent-Length: {}\r\n\r\n", body.len());
    tcp.write_all(head.as_bytes()).await.map_err(|e| e.to_string())?;
    tcp.write_all(body).await.map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut raw))
        .await
        .map_err(|_| "no answer within 10s".to_string())?
        .map_err(|e| e.to_string())?;
    parse(&raw, method == "HEAD").ok_or_else(|| format!("not an HTTP answer: {:?}", String::from_utf8_lossy(&raw)))
}

/// Parses a whole HTTP/1.1 answer (Content-Length, chunked, or to the end).
pub fn parse(raw: &[u8], head_only: bool) -> Option<Answer> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string())).collect();
    let mut rest = &raw[split + 4..];
    let chunked = headers.iter().any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let mut body = Vec::new();
    if head_only {
    } else if chunked {
        loop {
            let end = rest.windows(2).position(|w| w == b"\r\n")?;
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..end]).trim(), 16).ok()?;
            rest = &rest[end + 2..];
            if size == 0 {
                break;
            }
            body.extend_from_slice(rest.get(..size)?);
            rest = rest.get(size + 2..)?;
        }
    } else {
        body.extend_from_slice(rest);
    }
    Some(Answer { status, headers, body: String::from_utf8_lossy(&body).into_owned() })
}

/// Sends RESP commands and reads one line (or bulk string) per command.
pub async fn redis(addr: SocketAddr, commands: &[&[&str]]) -> Vec<String> {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let mut replies = Vec::new();
    let mut pending = Vec::new();
    for command in commands {
        let mut frame = format!("*{}\r\n", command.len());
        for arg in *command {
            frame.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        tcp.write_all(frame.as_bytes()).await.unwrap();
        // A reply: one line, or a bulk string's header line and its data.
        let reply = loop {
            if let Some(end) = pending.windows(2).position(|w: &[u8]| w == b"\r\n") {
                let line = String::from_utf8_lossy(&pending[..end]).into_owned();
                if let Some(len) = line.strip_prefix('$').and_then(|l| l.parse::<usize>().ok()) {
                    if pending.len() >= end + 2 + len + 2 {
                        let data = String::from_utf8_lossy(&pending[end + 2..end + 2 + len]).into_owned();
                        pending.drain(..end + 2 + len + 2);
                        break data;
                    }
                } else {
                    pending.drain(..end + 2);
                    break line;
                }
            }
            let mut buf = [0u8; 4096];
            let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await.expect("a reply within 5s").unwrap();
            assert!(n > 0, "the connection closed before the reply to {command:?}");
            pending.extend_from_slice(&buf[..n]);
        };
        replies.push(reply);
    }
    replies
}

/// The path of a client program, if installed. Missing, the test is skipped with a
/// message, except under CI (`CI` set), where a missing client fails the test.
pub fn client_program(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|p| p.join(name)).find(|p| p.is_file()));
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "{name} is not installed, and CI needs it");
        eprintln!("skipped: {name} is not installed");
    }
    found
}

/// Runs a client program with a deadline: (exit success, stdout + stderr).
pub fn run_client(program: &PathBuf, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut command = std::process::Command::new("timeout");
    command.arg("20").arg(program).args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().expect("run the client");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// `kdeck sandbox status -o json`.
pub fn status(sandbox: &TestSandbox) -> Value {
    let out = sandbox.run(&["sandbox", "status", "--name", &sandbox.name, "-o", "json"]);
    assert!(out.status.success(), "status: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The ingress address of a running sandbox.
pub fn ingress_address(sandbox: &TestSandbox) -> SocketAddr {
    let status = status(sandbox);
    let url = status["ingress"].as_str().expect("status shows the ingress address");
    url.strip_prefix("http://").expect("an http:// address").parse().unwrap()
}

/// The TCP sockets process `pid` listens on, read from /proc.
pub fn listening_sockets(pid: u32) -> Vec<SocketAddr> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|link| link.to_str()?.strip_prefix("socket:[")?.strip_suffix(']').map(str::to_string))
        .collect();
    let mut listening = Vec::new();
    for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
        let Ok(table) = std::fs::read_to_string(file) else { continue };
        for line in table.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local_address, state 0A = LISTEN, inode.
            if fields.len() < 10 || fields[3] != "0A" || !inodes.iter().any(|i| i == fields[9]) {
                continue;
            }
            let Some((ip, port)) = fields[1].split_once(':') else { continue };
            let port = u16::from_str_radix(port, 16).unwrap();
            let ip = if v6 {
                let bytes: Vec<u8> = (0..16).map(|i| u8::from_str_radix(&ip[i * 2..i * 2 + 2], 16).unwrap()).collect();
                // /proc prints each 32-bit word in host order.
                let mut octets = [0u8; 16];
                for word in 0..4 {
                    for b in 0..4 {
                        octets[word * 4 + b] = bytes[word * 4 + 3 - b];
                    }
                }
                IpAddr::V6(Ipv6Addr::from(octets))
            } else {
                IpAddr::V4(Ipv4Addr::from(u32::from_str_radix(ip, 16).unwrap().swap_bytes()))
            };
            listening.push(SocketAddr::new(ip, port));
        }
    }
    listening
}

/// Whether an address is loopback (an IPv4-mapped one included).
pub fn loopback(addr: &SocketAddr) -> bool {
    match addr.ip() {
        IpAddr::V4(ip) => ip.is_loopback(),
        IpAddr::V6(ip) => ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}
