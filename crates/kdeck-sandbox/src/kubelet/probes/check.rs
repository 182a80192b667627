//! One probe attempt, as the kubelet's prober makes it, with the kubelet's wording
//! of what went wrong:
//!
//! - `httpGet`: an HTTP/1.1 GET of `path` (default `/`) through
//!   [`crate::network::dial`] with the kubelet's headers (`Host: <pod IP>:<port>`,
//!   `User-Agent: kube-probe/<version>`, `Accept: */*`) and `httpHeaders` over
//!   them; a status from 200 to 399 passes (a redirect is not followed). Only
//!   `scheme: HTTP`: HTTPS is reported as an error, not attempted. `host` is not
//!   used: the pod is always dialled.
//! - `tcpSocket`: a connection through [`crate::network::dial`] passes.
//! - `exec`: the command runs in the container as an exec does
//!   ([`crate::kubelet::exec::prepare_process`], [`process::start`]); exit 0
//!   passes, otherwise its output (stdout and stderr, at most 10 KiB) is the
//!   failure's message.
//! - `grpc`: reported as an error, not attempted.
//!
//! An attempt that takes longer than `timeoutSeconds` fails; a timed-out exec's
//! process is killed.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::AsyncReadExt;

use crate::kubelet::exec::{self, process};
use crate::network::{self, DialError};
use crate::rest::Rest;

/// The most output of an exec probe kept for its message, as the kubelet keeps.
const MAX_OUTPUT: usize = 10 * 1024;

/// How one attempt went.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Success,
    /// The probe ran and failed: the kubelet's description of why.
    Failure(String),
    /// The probe could not be made: not counted.
    Error(String),
}

/// Makes one attempt of `probe` on `container` of `pod`, within `timeout`.
pub async fn attempt(rest: &Rest, pod: &Value, container: &str, probe: &Value, timeout: Duration) -> Outcome {
    let spec = pod["spec"]["containers"].as_array().into_iter().flatten().find(|c| c["name"] == container).cloned().unwrap_or_default();
    let ip = pod["status"]["podIP"].as_str().unwrap_or("127.0.0.1").to_string();
    if let Some(http) = probe.get("httpGet").filter(|h| h.is_object()) {
        let port = match port_of(&spec, &http["port"]) {
            Ok(port) => port,
            Err(why) => return Outcome::Error(why),
        };
        let scheme = http["scheme"].as_str().unwrap_or("HTTP");
        if !scheme.eq_ignore_ascii_case("HTTP") {
            return Outcome::Error(format!("scheme {scheme} is not supported by the sandbox's prober (only HTTP)"));
        }
        let path = path_of(http);
        let url = format!("http://{}{path}", host_port(&ip, port));
        let get = http_get(rest, pod, &ip, port, &path, http);
        return match tokio::time::timeout(timeout, get).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::Failure(format!("Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)")),
        };
    }
    if let Some(tcp) = probe.get("tcpSocket").filter(|t| t.is_object()) {
        let port = match port_of(&spec, &tcp["port"]) {
            Ok(port) => port,
            Err(why) => return Outcome::Error(why),
        };
        let address = host_port(&ip, port);
        return match tokio::time::timeout(timeout, dial(rest, pod, port)).await {
            Ok(Ok(_)) => Outcome::Success,
            Ok(Err(why)) => Outcome::Failure(format!("dial tcp {address}: {why}")),
            Err(_) => Outcome::Failure(format!("dial tcp {address}: i/o timeout")),
        };
    }
    if let Some(command) = probe["exec"]["command"].as_array() {
        let argv: Vec<String> = command.iter().map(|w| w.as_str().map_or_else(|| w.to_string(), str::to_string)).collect();
        if argv.is_empty() {
            return Outcome::Error("exec probe has no command".into());
        }
        return run(rest, pod, &spec, argv, timeout).await;
    }
    if probe.get("grpc").is_some_and(Value::is_object) {
        return Outcome::Error("gRPC probes are not supported by the sandbox's prober".into());
    }
    Outcome::Error("missing probe handler".into())
}

/// `10.244.0.5:8080` (`[fd00::5]:8080` for IPv6).
fn host_port(ip: &str, port: u16) -> String {
    if ip.contains(':') { format!("[{ip}]:{port}") } else { format!("{ip}:{port}") }
}

/// `path` of an httpGet, with its leading slash.
fn path_of(http: &Value) -> String {
    let path = http["path"].as_str().unwrap_or_default();
    if path.starts_with('/') { path.to_string() } else { format!("/{path}") }
}

/// The probe's port: a number, or the name of one of the container's ports.
fn port_of(container: &Value, port: &Value) -> Result<u16, String> {
    if let Some(n) = port.as_u64() {
        return u16::try_from(n).ok().filter(|p| *p > 0).ok_or_else(|| format!("invalid port number: {n}"));
    }
    let name = port.as_str().unwrap_or_default();
    if let Ok(n) = name.parse::<u16>() {
        return Ok(n);
    }
    container["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == name)
        .and_then(|p| p["containerPort"].as_u64())
        .and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| format!("couldn't find port: {name} in container {}", container["name"].as_str().unwrap_or_default()))
}

/// Connects to the pod's port; the error as Go's dialer words it.
async fn dial(rest: &Rest, pod: &Value, port: u16) -> Result<network::Connection, String> {
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    network::dial(rest, namespace, name, port).await.map_err(|e| match e {
        DialError::Refused { .. } => "connect: connection refused".to_string(),
        other => other.to_string(),
    })
}

/// The request the kubelet sends: its default headers, `httpHeaders` over them.
fn request(ip: &str, port: u16, path: &str, http: &Value) -> Result<http::Request<Empty<Bytes>>, String> {
    let version = crate::api::discovery::KUBERNETES_VERSION.trim_start_matches('v');
    let minor = version.rsplit_once('.').map_or(version, |(major_minor, _)| major_minor);
    let mut headers = vec![
        ("Host".to_string(), host_port(ip, port)),
        ("User-Agent".to_string(), format!("kube-probe/{minor}")),
        ("Accept".to_string(), "*/*".to_string()),
        ("Connection".to_string(), "close".to_string()),
    ];
    for header in http["httpHeaders"].as_array().into_iter().flatten() {
        let (Some(name), Some(value)) = (header["name"].as_str(), header["value"].as_str()) else { continue };
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        headers.push((name.to_string(), value.to_string()));
    }
    let mut builder = http::Request::get(path);
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    builder.body(Empty::new()).map_err(|e| e.to_string())
}

/// One HTTP/1.1 GET through the pod's network: 200–399 passes.
async fn http_get(rest: &Rest, pod: &Value, ip: &str, port: u16, path: &str, http: &Value) -> Outcome {
    let url = format!("http://{}{path}", host_port(ip, port));
    let request = match request(ip, port, path, http) {
        Ok(request) => request,
        Err(why) => return Outcome::Error(format!("invalid request for \"{url}\": {why}")),
    };
    let conn = match dial(rest, pod, port).await {
        Ok(conn) => conn,
        Err(why) => return Outcome::Failure(format!("Get \"{url}\": dial tcp {}: {why}", host_port(ip, port))),
    };
    let (mut sender, connection) = match hyper::client::conn::http1::handshake(TokioIo::new(conn)).await {
        Ok(parts) => parts,
        Err(e) => return Outcome::Failure(format!("Get \"{url}\": {e}")),
    };
    let mut connection = std::pin::pin!(connection);
    let mut send = std::pin::pin!(sender.send_request(request));
    let response = tokio::select! {
        biased;
        response = &mut send => response,
        // The server closed the connection (`Connection: close`): the response, if
        // one came, has been handed over already.
        _ = &mut connection => send.await,
    };
    match response {
        Ok(response) if (200..400).contains(&response.status().as_u16()) => Outcome::Success,
        Ok(response) => Outcome::Failure(format!("HTTP probe failed with statuscode: {}", response.status().as_u16())),
        Err(e) => Outcome::Failure(format!("Get \"{url}\": {e}")),
    }
}

/// Runs an exec probe's command in the container, killed after `timeout`.
async fn run(rest: &Rest, pod: &Value, container: &Value, argv: Vec<String>, timeout: Duration) -> Outcome {
    let (rest, pod, container, command) = (rest.clone(), pod.clone(), container.clone(), argv.clone());
    // Writing volumes' files and forking block: off the reactor, as an exec's start.
    let started = tokio::task::spawn_blocking(move || {
        let mut prepared = exec::prepare_process(&rest, &pod, &container, command, false).map_err(|e| Outcome::Error(e.message))?;
        prepared.stdout = true;
        prepared.stderr = true;
        prepared.merge_stderr = true;
        process::start(&prepared, &exec::data_dir().join("exec-root")).map_err(|e| match e {
            // As a runtime's exec of a command that is not there: a failure with its message.
            process::StartError::Exec { message, .. } => Outcome::Failure(message),
            process::StartError::Confine(message) => Outcome::Error(message),
        })
    })
    .await;
    let running = match started {
        Ok(Ok(running)) => running,
        Ok(Err(outcome)) => return outcome,
        Err(e) => return Outcome::Error(format!("exec probe failed: {e}")),
    };
    let process::Running { mut child, outputs, .. } = running;
    let finished = async move {
        let mut output = Vec::new();
        for (_, mut reader) in outputs {
            let mut buf = [0u8; 4096];
            loop {
                match reader.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let room = MAX_OUTPUT.saturating_sub(output.len());
                        output.extend_from_slice(&buf[..n.min(room)]);
                    }
                }
            }
        }
        let code = child.wait().await.map_or(1, process::exit_code);
        (code, String::from_utf8_lossy(&output).into_owned())
    };
    // On a timeout the child is dropped, which kills the relay and the pod's namespace with it.
    match tokio::time::timeout(timeout, finished).await {
        Ok((0, _)) => Outcome::Success,
        Ok((_, output)) => Outcome::Failure(output),
        Err(_) => Outcome::Failure(format!("command \"{}\" timed out", argv.join(" "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ports_are_numbers_or_the_containers_port_names() {
        let container = json!({"name": "web", "ports": [{"name": "http", "containerPort": 8080}]});
        assert_eq!(port_of(&container, &json!(9000)), Ok(9000));
        assert_eq!(port_of(&container, &json!("http")), Ok(8080));
        assert_eq!(port_of(&container, &json!("9001")), Ok(9001));
        assert_eq!(port_of(&container, &json!("admin")), Err("couldn't find port: admin in container web".into()));
        assert!(port_of(&container, &json!(0)).is_err());
    }

    #[test]
    fn the_request_has_the_kubelets_headers_and_the_probes_over_them() {
        let http = json!({"path": "healthz", "httpHeaders": [{"name": "X-Check", "value": "1"}, {"name": "accept", "value": "application/json"}]});
        let request = request("10.244.0.5", 8080, &path_of(&http), &http).unwrap();
        assert_eq!(request.uri(), "/healthz");
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        assert_eq!(header("host").as_deref(), Some("10.244.0.5:8080"));
        assert!(header("user-agent").is_some_and(|ua| ua.starts_with("kube-probe/1.")), "{:?}", header("user-agent"));
        assert_eq!(header("accept").as_deref(), Some("application/json"));
        assert_eq!(header("x-check").as_deref(), Some("1"));
        assert_eq!(path_of(&json!({})), "/");
    }
}
