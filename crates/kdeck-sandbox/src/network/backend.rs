//! A Service port's backends: the ready endpoints the Endpoints controller lists
//! for it, each a pod and the port its targetPort resolved to, and connecting to
//! one of them through [`super::dial`] (round robin; an endpoint that refuses is
//! skipped for the next, as ingress-nginx retries the next upstream).

use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

use super::{Connection, DialError};
use crate::resources::ResourceKey;
use crate::rest::Rest;

/// A Service port, as an Ingress backend names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServicePort {
    Number(u16),
    Name(String),
}

/// Why a Service port has nothing to connect to.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum NoBackend {
    #[error("service \"{0}\" not found")]
    NoService(String),
    #[error("service \"{service}\" has no port {port}")]
    NoPort { service: String, port: String },
    #[error("service \"{0}\" has no ready endpoint")]
    NoEndpoints(String),
}

/// The Service `namespace/name`, if it exists.
pub fn service(rest: &Rest, namespace: &str, name: &str) -> Option<Value> {
    rest.store.get(&ResourceKey::new("", "services"), &(namespace.to_string(), name.to_string())).map(|e| e.value())
}

/// The ready endpoints of a Service port: (pod name, target port).
pub fn ready(rest: &Rest, namespace: &str, name: &str, port: &ServicePort) -> Result<Vec<(String, u16)>, NoBackend> {
    let service = service(rest, namespace, name).ok_or_else(|| NoBackend::NoService(name.to_string()))?;
    let spec_port = service["spec"]["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| match port {
            ServicePort::Number(n) => p["port"].as_u64() == Some(u64::from(*n)),
            ServicePort::Name(n) => p["name"] == n.as_str(),
        })
        .ok_or_else(|| NoBackend::NoPort {
            service: name.to_string(),
            port: match port {
                ServicePort::Number(n) => n.to_string(),
                ServicePort::Name(n) => format!("{n:?}"),
            },
        })?;
    let port_name = spec_port["name"].as_str().unwrap_or_default();
    let endpoints = rest.store.get(&ResourceKey::new("", "endpoints"), &(namespace.to_string(), name.to_string())).map(|e| e.value()).unwrap_or(Value::Null);
    let mut ready = Vec::new();
    for subset in endpoints["subsets"].as_array().into_iter().flatten() {
        let target = subset["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"].as_str().unwrap_or_default() == port_name)
            .and_then(|p| p["port"].as_u64())
            .and_then(|p| u16::try_from(p).ok());
        let Some(target) = target else { continue };
        for address in subset["addresses"].as_array().into_iter().flatten() {
            if address["targetRef"]["kind"] == "Pod"
                && let Some(pod) = address["targetRef"]["name"].as_str()
            {
                ready.push((pod.to_string(), target));
            }
        }
    }
    if ready.is_empty() {
        return Err(NoBackend::NoEndpoints(name.to_string()));
    }
    Ok(ready)
}

/// Why connecting to a Service port failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    NoBackend(#[from] NoBackend),
    /// Every ready endpoint refused (the last one's reason).
    #[error(transparent)]
    Dial(#[from] DialError),
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Connects to one ready endpoint of a Service port, round robin, trying the
/// others when one refuses. Returns the pod it reached too.
pub async fn connect(rest: &Rest, namespace: &str, name: &str, port: &ServicePort) -> Result<(Connection, String), ConnectError> {
    let endpoints = ready(rest, namespace, name, port)?;
    let start = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut last = None;
    for k in 0..endpoints.len() {
        let (pod, target) = &endpoints[(start + k) % endpoints.len()];
        match super::dial(rest, namespace, pod, *target).await {
            Ok(conn) => return Ok((conn, pod.clone())),
            Err(e) => last = Some(e),
        }
    }
    Err(ConnectError::Dial(last.unwrap_or_else(|| DialError::Other("no endpoint answered".into()))))
}
