//! `pods/{name}/portforward` (GET or POST, upgraded), in the three forms clients speak:
//!
//! - a WebSocket with subprotocol `SPDY/3.1+portforward.k8s.io`: a SPDY session
//!   tunnelled in binary messages ([`tunnel`], [`session`]) — kubectl's default;
//! - `Upgrade: SPDY/3.1` with `X-Stream-Protocol-Version: portforward.k8s.io`: the
//!   same session on the upgraded connection — client-go's fallback;
//! - a WebSocket with `v4.channel.k8s.io` (or its base64 variant, or no
//!   subprotocol) and `ports=`: one channel pair per port ([`websocket`]) — the
//!   Python client, kube-rs.
//!
//! What the apiserver refuses is refused with its Status (unknown pod, no node,
//! a port that does not convert, no upgrade); what the kubelet refuses comes as its
//! plain text (a pod that no longer runs, missing ports, a protocol it does not
//! speak). Once upgraded, each connection dials the pod's port through
//! [`crate::network::dial`] and a failure goes on that connection's error stream in
//! the kubelet's and container runtime's words.

mod frame;
mod headers;
mod session;
mod tunnel;
mod websocket;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::body::{self, Body};
use super::channels::switching_protocols;
use super::query::Query;
use crate::network::{self, Connection, DialError};
use crate::rest::{ApiError, Rest};

/// The one SPDY protocol served.
const PROTOCOL: &str = "portforward.k8s.io";
/// How kubectl names the SPDY protocol as a WebSocket subprotocol.
const TUNNEL_PREFIX: &str = "SPDY/3.1+";
const CHANNEL_PROTOCOLS: [&str; 2] = ["v4.channel.k8s.io", "v4.base64.channel.k8s.io"];
const HEADER_PROTOCOL_VERSION: &str = "x-stream-protocol-version";

/// The pod a session forwards to, and how its runtime names it in errors.
#[derive(Clone)]
pub struct Target {
    rest: Rest,
    namespace: String,
    name: String,
    /// The pod sandbox's id (64 hex digits, derived from the uid) and network namespace.
    sandbox: String,
    netns: String,
}

impl Target {
    fn new(rest: &Rest, namespace: &str, name: &str, pod: &Value) -> Self {
        let uid = pod["metadata"]["uid"].as_str().unwrap_or(name);
        let word = |salt: u32| crate::controllers::events::fnv(&format!("{salt}/{uid}"));
        let sandbox: String = (0..8).map(|i| format!("{:08x}", word(i))).collect();
        let (a, b, c) = (word(8), word(9), word(10));
        let netns = format!("/var/run/netns/cni-{a:08x}-{:04x}-{:04x}-{:04x}-{:04x}{c:08x}", b >> 16, b & 0xffff, a >> 16, c >> 16);
        Target { rest: rest.clone(), namespace: namespace.to_string(), name: name.to_string(), sandbox, netns }
    }

    /// Connects to the pod's `port`, or says why not as the kubelet does on the
    /// error stream.
    pub async fn dial(&self, port: u16) -> Result<Connection, String> {
        let err = match network::dial(&self.rest, &self.namespace, &self.name, port).await {
            Ok(conn) => return Ok(conn),
            Err(err) => err,
        };
        let id = &self.sandbox;
        let cause = match err {
            // What containerd says when nothing listens (and a pod that is not running
            // has nothing listening).
            DialError::Refused { .. } | DialError::NotRunning { .. } => format!(
                "failed to execute portforward in network namespace \"{}\": failed to connect to localhost:{port} inside namespace \"{id}\", \
                 IPv4: dial tcp4 127.0.0.1:{port}: connect: connection refused IPv6 dial tcp6 [::1]:{port}: connect: connection refused ",
                self.netns
            ),
            DialError::NoPod(_) => format!("failed to find sandbox \"{id}\" in store: not found"),
            DialError::Other(message) => message,
        };
        Err(format!("error forwarding port {port} to pod {id}, uid : {cause}"))
    }
}

/// Serves one port-forward request; `ns` and `name` come from the path.
pub async fn serve(rest: &Rest, mut req: Request<crate::api::body::RequestBody>, ns: &str, name: &str, query: &Query) -> Result<Response<Body>, ApiError> {
    let pods = rest.catalogue.find("", "v1", "pods").ok_or_else(|| ApiError::internal("pods are not served"))?;
    let pod = rest.get(&pods, Some(ns), name)?;
    if pod["spec"]["nodeName"].as_str().is_none_or(str::is_empty) {
        return Err(ApiError::bad_request(format!("pod {name} does not have a host assigned")));
    }
    // The apiserver converts `ports` whatever the protocol.
    let ports = ports(query)?;
    if !is_upgrade(req.headers()) {
        return Err(ApiError::bad_request("Upgrade request required"));
    }
    // The kubelet only knows running pods.
    if matches!(pod["status"]["phase"].as_str(), Some("Succeeded" | "Failed")) {
        return Ok(text(StatusCode::INTERNAL_SERVER_ERROR, format!("pod not found (\"{name}_{ns}\")")));
    }
    let target = Target::new(rest, ns, name, &pod);
    let headers = req.headers().clone();
    let upgrade = hyper::upgrade::on(&mut req);
    let websocket_key = headers.get(header::SEC_WEBSOCKET_KEY).and_then(|v| v.to_str().ok()).map(str::to_string);
    let upgrade_to = headers.get(header::UPGRADE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
    match websocket_key {
        Some(key) if upgrade_to == "websocket" => {
            let offered = offered(&headers, header::SEC_WEBSOCKET_PROTOCOL);
            let tunnelled: Vec<&str> = offered.iter().filter_map(|p| p.strip_prefix(TUNNEL_PREFIX)).filter(|p| p.ends_with(".k8s.io")).collect();
            if !tunnelled.is_empty() {
                if !tunnelled.contains(&PROTOCOL) {
                    return Ok(unnegotiated(&tunnelled));
                }
                tokio::spawn(async move {
                    let Ok(upgraded) = upgrade.await else { return };
                    let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
                    let (reader, writer) = tunnel::websocket(ws);
                    session::run(reader, writer, target).await;
                });
                return Ok(switching_protocols(&key, "SPDY/3.1+portforward.k8s.io"));
            }
            let protocol = match offered.iter().find_map(|o| CHANNEL_PROTOCOLS.iter().find(|p| *p == o)) {
                Some(protocol) => *protocol,
                None if offered.is_empty() => "",
                None => {
                    let message =
                        format!("unable to upgrade websocket connection: requested protocol(s) are not supported: {offered:?}; supports {CHANNEL_PROTOCOLS:?}");
                    return Ok(text(StatusCode::BAD_REQUEST, message));
                }
            };
            if ports.is_empty() {
                return Ok(text(StatusCode::BAD_REQUEST, "query parameter \"port\" is required".into()));
            }
            if ports.contains(&0) {
                return Ok(text(StatusCode::BAD_REQUEST, "port \"0\" must be > 0".into()));
            }
            tokio::spawn(async move {
                let Ok(upgraded) = upgrade.await else { return };
                let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
                websocket::run(ws, protocol == CHANNEL_PROTOCOLS[1], ports, target).await;
            });
            Ok(switching_protocols(&key, protocol))
        }
        _ if upgrade_to.contains("spdy/3.1") => {
            let offered = offered(&headers, HEADER_PROTOCOL_VERSION);
            if offered.is_empty() {
                return Ok(text(StatusCode::BAD_REQUEST, "unable to upgrade: X-Stream-Protocol-Version is required".into()));
            }
            if !offered.iter().any(|p| p == PROTOCOL) {
                let offered: Vec<&str> = offered.iter().map(String::as_str).collect();
                return Ok(unnegotiated(&offered));
            }
            tokio::spawn(async move {
                let Ok(upgraded) = upgrade.await else { return };
                let (reader, writer) = tunnel::raw(upgraded);
                session::run(reader, writer, target).await;
            });
            let mut resp = Response::new(body::full(Bytes::new()));
            *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
            resp.headers_mut().insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
            resp.headers_mut().insert(HEADER_PROTOCOL_VERSION, HeaderValue::from_static(PROTOCOL));
            Ok(resp)
        }
        _ => {
            let message = format!("unable to upgrade: missing upgrade headers in request: Upgrade={upgrade_to:?}");
            Ok(text(StatusCode::BAD_REQUEST, message))
        }
    }
}

/// The `ports` query parameter as the apiserver converts it: repeated and/or
/// comma-separated unsigned 16-bit numbers (Go's `strconv.ParseUint` rules).
fn ports(query: &Query) -> Result<Vec<u16>, ApiError> {
    let mut ports = Vec::new();
    for value in query.all("ports") {
        for part in value.split(',') {
            let syntax = !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
            let cause = match part.parse::<u64>() {
                Ok(port) if syntax && port <= u64::from(u16::MAX) => {
                    ports.push(port as u16);
                    continue;
                }
                _ if syntax => "value out of range",
                _ => "invalid syntax",
            };
            return Err(ApiError::bad_request(format!("cannot convert to []int32: strconv.ParseUint: parsing \"{part}\": {cause}")));
        }
    }
    Ok(ports)
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.get_all(header::CONNECTION).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

/// The values of a header, repeated and/or comma-separated.
fn offered(headers: &HeaderMap, name: impl header::AsHeaderName) -> Vec<String> {
    headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect()
}

/// The kubelet's answer to SPDY protocols it does not speak.
fn unnegotiated(offered: &[&str]) -> Response<Body> {
    let message = format!("unable to upgrade: unable to negotiate protocol: client supports [{}], server accepts [{PROTOCOL}]", offered.join(" "));
    let mut resp = text(StatusCode::FORBIDDEN, message);
    resp.headers_mut().insert("x-accepted-stream-protocol-versions", HeaderValue::from_static(PROTOCOL));
    resp
}

/// A plain-text answer, as the kubelet writes its errors (the apiserver passes them on).
fn text(status: StatusCode, message: String) -> Response<Body> {
    let mut resp = Response::new(body::full(Bytes::from(message)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_convert_as_the_apiserver_converts_them() {
        assert_eq!(ports(&Query::parse("ports=80,8080&ports=9090")).unwrap(), vec![80, 8080, 9090]);
        assert_eq!(ports(&Query::parse("")).unwrap(), Vec::<u16>::new());
        let err = |q: &str| ports(&Query::parse(q)).unwrap_err().message;
        assert_eq!(err("ports=70000"), "cannot convert to []int32: strconv.ParseUint: parsing \"70000\": value out of range");
        assert_eq!(err("ports=http"), "cannot convert to []int32: strconv.ParseUint: parsing \"http\": invalid syntax");
        assert_eq!(err("ports=-1"), "cannot convert to []int32: strconv.ParseUint: parsing \"-1\": invalid syntax");
        assert_eq!(err("ports=80,"), "cannot convert to []int32: strconv.ParseUint: parsing \"\": invalid syntax");
    }

    #[test]
    fn sandbox_ids_look_like_containerds() {
        let pod = serde_json::json!({"metadata": {"uid": "0b1f-aa"}});
        let rest = Rest::new(std::sync::Arc::new(crate::store::Store::new()), crate::resources::Catalogue::new());
        let target = Target::new(&rest, "default", "web", &pod);
        assert_eq!(target.sandbox.len(), 64);
        assert!(target.sandbox.chars().all(|c| c.is_ascii_hexdigit()));
        assert!(target.netns.starts_with("/var/run/netns/cni-") && target.netns.len() == "/var/run/netns/cni-".len() + 36, "{}", target.netns);
    }
}
