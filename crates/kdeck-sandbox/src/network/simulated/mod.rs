//! Simulated servers: what answers on a simulated container's port, chosen by
//! what the container is. A container that is not running refuses.
//!
//! How the protocol of `(container, port)` is chosen ([`protocol`]), first match wins:
//! 1. an `httpGet` probe of the container on that port, or a port named like HTTP
//!    (`http`, `web`, `metrics`, `http-*`, `*-http`, …): **HTTP** ([`http`]);
//! 2. port 6379, a port named `redis`, or a Redis-like image (`redis`, `valkey`,
//!    `keydb`): **Redis** ([`redis`]);
//! 3. port 5432, a port named `postgres`/`postgresql`/`pg`, or a PostgreSQL image
//!    (`postgres`, `postgresql`, `pgvector`, `postgis`, `timescaledb`): **PostgreSQL**
//!    ([`postgres`]);
//! 4. a web server image (`nginx`, `httpd`, …) or a port number web servers and
//!    apps commonly use (80, 3000, 5000, 8000–8099, 8888, 9090, …): **HTTP**;
//! 5. anything else: the connection is accepted and nothing is said.
//!
//! Which container answers a port: the main container that declares it as a
//! `containerPort`, else one whose probe uses it, else one whose recognised image
//! listens there by default (Redis 6379, PostgreSQL 5432, nginx/httpd 80) — so a
//! `valkey` sidecar without declared ports still answers on 6379. Any other port
//! is refused, as is every port of a container that is not running.
//!
//! [`connect`] answers in memory (what [`super::dial`] uses); [`serve`] answers on
//! any connection, and [`ports`] lists what to listen on, so a pod's own network
//! view can serve the same answers on its `localhost`.

mod container;
mod http;
pub mod inside;
mod postgres;
mod redis;
pub mod scram;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Conn, Connection};
use crate::rest::Rest;

/// What a simulated container speaks on a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Http,
    Redis,
    Postgres,
    /// Accepts connections and says nothing.
    Silent,
}

/// How much a connection to a simulated server buffers each way.
const BUFFER: usize = 64 * 1024;

/// A connection to the simulated server on `port` of `pod`, if one answers there:
/// an in-memory pipe with the server on its other end.
pub async fn connect(rest: &Rest, pod: &Value, port: u16) -> Option<Connection> {
    let (container, _) = answerer(pod, port)?;
    if !container_running(pod, &container) {
        return None;
    }
    let (client, server) = tokio::io::duplex(BUFFER);
    let (rest, pod) = (rest.clone(), pod.clone());
    tokio::spawn(async move { serve(&rest, server, &pod, &container, port).await });
    Some(Box::pin(client))
}

/// Serves one connection as `container` of `pod` would on `port`, whatever carries
/// it (an in-memory pipe from [`connect`], or a socket inside the pod's own network
/// view). Returns when the conversation is over.
pub async fn serve(rest: &Rest, conn: impl Conn + 'static, pod: &Value, container: &str, port: u16) {
    let Some(spec) = containers(pod).find(|c| c["name"] == container) else { return };
    match protocol(spec, port) {
        Protocol::Http => http::serve(rest, conn, pod, spec, port).await,
        Protocol::Redis => redis::serve(conn, &redis::Config::of(rest, pod, spec)).await,
        Protocol::Postgres => postgres::serve(conn, &postgres::Config::of(rest, pod, spec)).await,
        Protocol::Silent => silent(conn).await,
    }
}

/// The container that answers `port` of `pod` and what it speaks there; None when
/// nothing listens on it.
pub fn answerer(pod: &Value, port: u16) -> Option<(String, Protocol)> {
    let declares = |c: &&Value| declared_port(c, port).is_some();
    let probes = |c: &&Value| probe_ports(c).any(|(p, _)| p == port);
    let by_default = |c: &&Value| family(image(c)).default_port() == Some(port);
    let container = containers(pod).find(declares).or_else(|| containers(pod).find(probes)).or_else(|| containers(pod).find(by_default))?;
    Some((container["name"].as_str().unwrap_or_default().to_string(), protocol(container, port)))
}

/// Every port a simulated server answers on in `pod`, with its container (as
/// [`answerer`] picks it): what a pod's own network view listens on for it, so
/// [`serve`] answers there too. Whether the container runs is checked per
/// connection by the caller ([`container_running`]).
pub fn ports(pod: &Value) -> Vec<(String, u16)> {
    let mut ports: Vec<u16> = Vec::new();
    for container in containers(pod) {
        let declared = container["ports"].as_array().into_iter().flatten().filter(|p| p["protocol"].as_str().unwrap_or("TCP") == "TCP");
        ports.extend(declared.filter_map(|p| p["containerPort"].as_u64().and_then(|n| u16::try_from(n).ok())));
        ports.extend(probe_ports(container).map(|(p, _)| p));
        ports.extend(family(image(container)).default_port());
    }
    ports.sort_unstable();
    ports.dedup();
    ports.into_iter().filter_map(|port| answerer(pod, port).map(|(container, _)| (container, port))).collect()
}

/// What `container` speaks on `port` (see the module's documentation).
pub fn protocol(container: &Value, port: u16) -> Protocol {
    let name = declared_port(container, port).and_then(|p| p["name"].as_str()).unwrap_or_default().to_ascii_lowercase();
    if probe_ports(container).any(|(p, http)| p == port && http) || http_name(&name) {
        return Protocol::Http;
    }
    let family = family(image(container));
    if port == 6379 || name.contains("redis") || family == Family::Redis {
        return Protocol::Redis;
    }
    if port == 5432 || name.contains("postgres") || name == "pg" || family == Family::Postgres {
        return Protocol::Postgres;
    }
    if matches!(family, Family::Nginx | Family::Httpd) || http_port(port) && !name.contains("https") && !name.contains("tls") {
        return Protocol::Http;
    }
    Protocol::Silent
}

/// The pod's main containers.
/// The containers a simulated server may answer for: not one whose command really
/// runs (what listens there is that process, or nothing until it binds).
fn containers(pod: &Value) -> impl Iterator<Item = &Value> {
    pod["spec"]["containers"].as_array().into_iter().flatten().filter(|c| crate::kubelet::command::argv(pod, c["name"].as_str().unwrap_or_default()).is_none())
}

/// Whether `container` of `pod` runs now (not waiting to start or restart, not exited).
pub fn container_running(pod: &Value, container: &str) -> bool {
    pod["status"]["containerStatuses"].as_array().into_iter().flatten().any(|s| s["name"] == container && s["state"]["running"].is_object())
}

/// The `ports` entry of `container` for TCP `port`.
fn declared_port(container: &Value, port: u16) -> Option<&Value> {
    container["ports"].as_array()?.iter().find(|p| p["containerPort"].as_u64() == Some(u64::from(port)) && p["protocol"].as_str().unwrap_or("TCP") == "TCP")
}

/// A port reference of a probe (a number, or the name of a declared port).
fn resolve_port(container: &Value, port: &Value) -> Option<u16> {
    match port {
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::String(name) => container["ports"]
            .as_array()?
            .iter()
            .find(|p| p["name"] == name.as_str())
            .and_then(|p| p["containerPort"].as_u64())
            .and_then(|n| u16::try_from(n).ok())
            .or_else(|| name.parse().ok()),
        _ => None,
    }
}

/// The ports the container's probes use, and whether each is an HTTP probe.
fn probe_ports(container: &Value) -> impl Iterator<Item = (u16, bool)> + '_ {
    ["readinessProbe", "livenessProbe", "startupProbe"].into_iter().filter_map(|probe| {
        let probe = &container[probe];
        if probe["httpGet"].is_object() {
            resolve_port(container, &probe["httpGet"]["port"]).map(|p| (p, true))
        } else if probe["tcpSocket"].is_object() {
            resolve_port(container, &probe["tcpSocket"]["port"]).map(|p| (p, false))
        } else {
            None
        }
    })
}

/// The `httpGet` probe paths of `container` on `port`: (path, is the readiness probe).
fn probe_paths(container: &Value, port: u16) -> Vec<(String, bool)> {
    ["readinessProbe", "livenessProbe", "startupProbe"]
        .into_iter()
        .filter_map(|kind| {
            let get = &container[kind]["httpGet"];
            (get.is_object() && resolve_port(container, &get["port"]) == Some(port))
                .then(|| (get["path"].as_str().unwrap_or("/").to_string(), kind == "readinessProbe"))
        })
        .collect()
}

fn http_name(name: &str) -> bool {
    if name.contains("https") || name.contains("tls") {
        return false;
    }
    matches!(name, "web" | "metrics" | "api" | "ui" | "admin" | "health" | "healthz" | "dashboard" | "console")
        || name.contains("http")
        || name.starts_with("web-")
        || name.ends_with("-web")
}

/// Port numbers web servers and apps commonly listen on.
fn http_port(port: u16) -> bool {
    matches!(port, 80 | 81 | 3000 | 3001 | 3100 | 4000 | 4180 | 5000 | 5601 | 5678 | 8000..=8099 | 8888 | 9000 | 9090 | 9091 | 9093 | 9100 | 9200)
}

/// The container's image reference.
fn image(container: &Value) -> &str {
    container["image"].as_str().unwrap_or_default()
}

/// An image's name without registry, repository path, tag or digest: `redis` for
/// `docker.io/library/redis:7.2`.
pub(crate) fn image_name(image: &str) -> String {
    let without_digest = image.split('@').next().unwrap_or_default();
    let last = without_digest.rsplit('/').next().unwrap_or_default();
    last.split(':').next().unwrap_or_default().to_ascii_lowercase()
}

/// An image's tag, if it has one.
pub(crate) fn image_tag(image: &str) -> Option<&str> {
    let without_digest = image.split('@').next()?;
    without_digest.rsplit('/').next()?.split_once(':').map(|(_, tag)| tag)
}

/// The numbers at the start of a tag such as `7.2.4-alpine` or `pg16`: [7, 2, 4], [16].
pub(crate) fn tag_version(image: &str) -> Vec<u32> {
    let Some(tag) = image_tag(image) else { return Vec::new() };
    let start = tag.find(|c: char| c.is_ascii_digit()).unwrap_or(tag.len());
    let tag = &tag[start..];
    let end = tag.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(tag.len());
    tag[..end].split('.').map_while(|n| n.parse().ok()).take(3).collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Redis,
    Postgres,
    Nginx,
    Httpd,
    Other,
}

impl Family {
    fn default_port(self) -> Option<u16> {
        match self {
            Family::Redis => Some(6379),
            Family::Postgres => Some(5432),
            Family::Nginx | Family::Httpd => Some(80),
            Family::Other => None,
        }
    }
}

fn family(image: &str) -> Family {
    let name = image_name(image);
    // Exporters, UIs and tools named after a server speak HTTP, not its protocol.
    let tool = ["exporter", "insight", "commander", "admin", "ui", "operator", "backup", "proxy", "bouncer"].iter().any(|t| name.contains(t));
    if tool {
        return Family::Other;
    }
    if ["redis", "valkey", "keydb"].iter().any(|p| name.starts_with(p)) {
        Family::Redis
    } else if ["postgres", "pgvector", "postgis", "timescaledb"].iter().any(|p| name.starts_with(p)) {
        Family::Postgres
    } else if name.starts_with("nginx") || name == "openresty" {
        Family::Nginx
    } else if name == "httpd" || name == "apache2" {
        Family::Httpd
    } else {
        Family::Other
    }
}

/// A port that accepts connections and says nothing: what is sent is read and dropped.
async fn silent(mut conn: impl Conn) {
    let mut buf = [0u8; 8192];
    while matches!(conn.read(&mut buf).await, Ok(n) if n > 0) {}
    let _ = conn.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(containers: Value) -> Value {
        json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": containers},
            "status": {"phase": "Running", "containerStatuses": [{"name": "app", "state": {"running": {}}}, {"name": "db", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}})
    }

    #[test]
    fn the_protocol_follows_the_image_the_port_and_its_name() {
        let c = |image: &str, ports: Value| json!({"name": "app", "image": image, "ports": ports});
        assert_eq!(protocol(&c("redis:7.2", json!([{"containerPort": 6379}])), 6379), Protocol::Redis);
        assert_eq!(protocol(&c("docker.io/valkey/valkey:8.1", json!([])), 6379), Protocol::Redis);
        assert_eq!(protocol(&c("example/cache", json!([{"containerPort": 7000, "name": "redis"}])), 7000), Protocol::Redis);
        assert_eq!(protocol(&c("pgvector/pgvector:pg16", json!([{"containerPort": 5432, "name": "postgres"}])), 5432), Protocol::Postgres);
        assert_eq!(protocol(&c("bitnami/postgresql:16", json!([])), 5432), Protocol::Postgres);
        assert_eq!(protocol(&c("nginx:1.27", json!([{"containerPort": 80}])), 80), Protocol::Http);
        assert_eq!(protocol(&c("example/api:1.4", json!([{"containerPort": 8080, "name": "http"}])), 8080), Protocol::Http);
        assert_eq!(protocol(&c("example/api:1.4", json!([{"containerPort": 9999, "name": "grpc"}])), 9999), Protocol::Silent);
        assert_eq!(protocol(&c("example/api:1.4", json!([{"containerPort": 8443, "name": "https"}])), 8443), Protocol::Silent);
        assert_eq!(protocol(&c("oliver006/redis_exporter", json!([{"containerPort": 9121, "name": "metrics"}])), 9121), Protocol::Http);
        let probed = json!({"name": "app", "image": "example/x", "ports": [{"containerPort": 7777, "name": "main"}],
            "readinessProbe": {"httpGet": {"path": "/ready", "port": "main"}}});
        assert_eq!(protocol(&probed, 7777), Protocol::Http);
        assert_eq!(probe_paths(&probed, 7777), vec![("/ready".to_string(), true)]);
    }

    #[test]
    fn the_container_that_declares_the_port_answers_and_only_while_it_runs() {
        let p = pod(json!([{"name": "app", "image": "example/api", "ports": [{"containerPort": 8080}]}, {"name": "db", "image": "postgres:16"}]));
        assert_eq!(answerer(&p, 8080), Some(("app".to_string(), Protocol::Http)));
        assert_eq!(answerer(&p, 5432), Some(("db".to_string(), Protocol::Postgres)));
        assert_eq!(answerer(&p, 9999), None);
        assert!(container_running(&p, "app"));
        assert!(!container_running(&p, "db"));
        assert_eq!(ports(&p), vec![("db".to_string(), 5432), ("app".to_string(), 8080)]);
    }

    /// A sandbox's REST layer with `pod` stored.
    fn rest_with(pod: &Value) -> Rest {
        let rest = Rest::new(std::sync::Arc::new(crate::store::Store::new()), crate::resources::Catalogue::new());
        rest.store.create(&crate::resources::ResourceKey::new("", "pods"), pod.clone()).unwrap();
        rest
    }

    async fn get(conn: &mut Connection, path: &str) -> String {
        conn.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        // One answer: headers, then a body as long as Content-Length says.
        loop {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0, "the connection ended before the answer");
            answer.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&answer).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length: ").map(|v| v.trim().parse::<usize>().unwrap()));
                if length.is_some_and(|l| body.len() >= l) {
                    return text;
                }
            }
        }
    }

    #[tokio::test]
    async fn through_dial_probe_paths_follow_readiness_and_a_stopped_container_refuses() {
        let mut p = pod(json!([{"name": "app", "image": "example/api:1", "ports": [{"name": "http", "containerPort": 8080}],
            "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}}}, {"name": "db", "image": "postgres:16"}]));
        p["metadata"]["uid"] = json!("u1");
        let rest = rest_with(&p);
        let mut conn = crate::network::dial(&rest, "default", "p", 8080).await.unwrap();
        let ready = get(&mut conn, "/ready").await;
        assert!(ready.starts_with("HTTP/1.1 200 OK\r\n"), "{ready}");
        // The same connection (keep-alive): any other path names the pod.
        let other = get(&mut conn, "/anything?x=1").await;
        assert!(other.contains("Pod: default/p\n") && other.contains("GET /anything?x=1 HTTP/1.1"), "{other}");
        // Declared failing readiness: the probe path answers 503.
        p["metadata"]["annotations"] = json!({"sandbox.kdeck.dev/readiness-fail": "true"});
        let rest = rest_with(&p);
        let mut conn = crate::network::dial(&rest, "default", "p", 8080).await.unwrap();
        assert!(get(&mut conn, "/ready").await.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
        // db is crash-looping: refused. An undeclared port: refused.
        for port in [5432, 9999] {
            match crate::network::dial(&rest, "default", "p", port).await {
                Err(crate::network::DialError::Refused { port: refused, .. }) => assert_eq!(refused, port),
                other => panic!("port {port}: {:?}", other.map(|_| "a connection")),
            }
        }
        p["status"]["phase"] = json!("Pending");
        let rest = rest_with(&p);
        assert!(matches!(crate::network::dial(&rest, "default", "p", 8080).await, Err(crate::network::DialError::NotRunning { .. })));
    }

    #[test]
    fn images_names_tags_and_versions() {
        assert_eq!(image_name("docker.io/library/redis:7.2@sha256:abc"), "redis");
        assert_eq!(image_name("localhost:5000/pg"), "pg");
        assert_eq!(image_tag("localhost:5000/pg"), None);
        assert_eq!(tag_version("redis:7.2.4-alpine"), vec![7, 2, 4]);
        assert_eq!(tag_version("pgvector/pgvector:pg16"), vec![16]);
        assert_eq!(tag_version("postgres"), Vec::<u32>::new());
    }
}
