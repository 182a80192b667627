//! The sandbox network: what answers on a pod's port, and the ways to reach it —
//! port-forward and the proxy subresources (through the API), Service names
//! inside pods, and (on loopback only) an ingress address, NodePorts and
//! LoadBalancer addresses.
//!
//! Everything that connects to a pod goes through [`dial`]:
//! - a pod with a network view of its own ([`netns`]: created when something runs
//!   in it for real — an exec, a `run-command` container) is reached inside that
//!   view on `127.0.0.1:PORT`, where its real processes listen and where the
//!   sandbox also serves its simulated containers' ports;
//! - any other pod is answered in memory by the simulated server of the container
//!   that declares the port ([`simulated`]).
//!
//! A pod that is not running, and a port nothing answers on, are refused with the
//! kubelet's wording.

pub mod netns;
pub mod simulated;

use std::pin::Pin;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::resources::ResourceKey;
use crate::rest::Rest;

/// A connection to a pod's port: bytes both ways.
pub trait Conn: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Conn for T {}

pub type Connection = Pin<Box<dyn Conn>>;

/// Why a pod's port could not be reached. The messages go to clients as they are
/// (port-forward's error stream, a proxy's 503), so they follow the kubelet's and
/// apiserver's wording.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error("pods \"{0}\" not found")]
    NoPod(String),
    /// The pod exists but does not run (Pending, finished, being deleted).
    #[error("pod {pod} is not running (phase {phase})")]
    NotRunning { pod: String, phase: String },
    /// Nothing listens on the port.
    #[error("failed to connect to localhost:{port} inside namespace of pod {pod}: connection refused")]
    Refused { pod: String, port: u16 },
    #[error("{0}")]
    Other(String),
}

/// The pod `namespace/name` as stored, if it exists.
pub fn pod(rest: &Rest, namespace: &str, name: &str) -> Option<Value> {
    let key = ResourceKey::new("", "pods");
    rest.store.get(&key, &(namespace.to_string(), name.to_string())).map(|e| e.value())
}

/// Connects to `port` of pod `namespace/name`.
pub async fn dial(rest: &Rest, namespace: &str, name: &str, port: u16) -> Result<Connection, DialError> {
    let pod = pod(rest, namespace, name).ok_or_else(|| DialError::NoPod(name.to_string()))?;
    let phase = pod["status"]["phase"].as_str().unwrap_or("Pending");
    if phase != "Running" || !pod["metadata"]["deletionTimestamp"].is_null() {
        return Err(DialError::NotRunning { pod: name.to_string(), phase: phase.to_string() });
    }
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
    if let Some(view) = netns::view(uid) {
        return view.connect(port).await.map_err(|_| DialError::Refused { pod: name.to_string(), port });
    }
    if let Some(conn) = interim_host_loopback(&pod, port).await {
        return Ok(conn);
    }
    simulated::connect(rest, &pod, port).await.ok_or_else(|| DialError::Refused { pod: name.to_string(), port })
}

/// INTERIM, until pods have network views ([`netns`]; its owner replaces this):
/// a container whose command really runs shares the host's network today, so what
/// it listens on is the host's `127.0.0.1:PORT`. Only pods with such a container
/// running are dialled there — never a simulated pod, which must not reach
/// whatever else listens on this machine.
async fn interim_host_loopback(pod: &Value, port: u16) -> Option<Connection> {
    let statuses = pod["status"]["containerStatuses"].as_array()?;
    let real = statuses.iter().any(|s| !s["state"]["running"].is_null() && crate::kubelet::command::is_real(pod, s));
    if !real {
        return None;
    }
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    let _ = stream.set_nodelay(true);
    Some(Box::pin(stream))
}
