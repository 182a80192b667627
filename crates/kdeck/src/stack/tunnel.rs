//! Where a connection into the stack goes — a `tcp`, `postgres` or `redis` check's,
//! or one `kdeck forward` accepted — and the port-forward that gets it there: a Service's port becomes its target port on a ready pod of its
//! selector (as `kubectl port-forward svc/NAME` does), a workload its first ready
//! pod (through [`crate::cluster::target`], the one way kdeck finds pods), and the
//! connection is a kube-rs port-forward — no kubectl, no client binaries.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use kube::api::{Api, Portforwarder};
use tokio::io::DuplexStream;

use crate::cluster::Cluster;
use crate::cluster::target::{Target, Workload};
use crate::error::Error;

/// An error as one line for a check's detail: the message and its first hints.
pub fn said(error: &Error) -> String {
    let mut text = error.message.clone();
    for hint in error.hints.iter().take(2) {
        text.push_str("; ");
        text.push_str(hint);
    }
    text
}

/// The ready pod behind `target` and the port to reach on it (`port` is the
/// Service's port for a Service, else the pod's).
pub async fn resolve(cluster: &Cluster, namespace: &str, target: &Target, port: u16) -> Result<(Pod, u16), String> {
    let Target::Workload(Workload::Service, service) = target else {
        let pod = target.ready_pod(cluster, namespace).await.map_err(|e| said(&e))?;
        return Ok((pod, port));
    };
    let services: Api<Service> = Api::namespaced(cluster.client.clone(), namespace);
    let found = services.get_opt(service).await.map_err(|e| said(&cluster.error(&format!("reading svc/{service}"), e)))?;
    let Some(found) = found else {
        let known = crate::cluster::existing_names(&services, "services", &format!("in namespace {namespace}")).await;
        return Err(format!("svc/{service} not found in namespace {namespace}; {known}"));
    };
    let ports = found.spec.as_ref().and_then(|s| s.ports.clone()).unwrap_or_default();
    let Some(entry) = ports.iter().find(|p| p.port == i32::from(port)) else {
        let have: Vec<String> = ports.iter().map(|p| p.port.to_string()).collect();
        return Err(format!("svc/{service} has no port {port} (its ports: {})", if have.is_empty() { "none".into() } else { have.join(", ") }));
    };
    let pod = target.ready_pod(cluster, namespace).await.map_err(|e| said(&e))?;
    let on_pod = match &entry.target_port {
        None => port,
        Some(IntOrString::Int(n)) => u16::try_from(*n).map_err(|_| format!("svc/{service} port {port} has target port {n}, which is not a port"))?,
        Some(IntOrString::String(name)) => named_port(&pod, name)
            .ok_or_else(|| format!("svc/{service} port {port} targets port {name:?}, which no container of pod {} declares", pod.name_any()))?,
    };
    Ok((pod, on_pod))
}

/// The container port named `name` in `pod`.
fn named_port(pod: &Pod, name: &str) -> Option<u16> {
    let containers = pod.spec.as_ref().map(|s| s.containers.as_slice()).unwrap_or_default();
    containers.iter().flat_map(|c| c.ports.iter().flatten()).find(|p| p.name.as_deref() == Some(name)).and_then(|p| u16::try_from(p.container_port).ok())
}

type Closed = Pin<Box<dyn Future<Output = Option<String>> + Send>>;

/// One forwarded connection to a pod's port; the forward ends when it is dropped.
pub struct Forward {
    pub stream: DuplexStream,
    pub pod: String,
    pub port: u16,
    errors: Option<Closed>,
    forwarder: Portforwarder,
}

impl Forward {
    /// Opens a port-forward to `port` of `pod` and takes its one connection.
    pub async fn open(cluster: &Cluster, namespace: &str, pod: &str, port: u16) -> Result<Forward, String> {
        let client = cluster.streaming_client().map_err(|e| said(&e))?;
        let pods: Api<Pod> = Api::namespaced(client, namespace);
        let doing = format!("opening a port-forward to pod {namespace}/{pod} port {port}");
        let mut forwarder = pods.portforward(pod, &[port]).await.map_err(|e| said(&cluster.error(&doing, e)))?;
        let stream = forwarder.take_stream(port).ok_or_else(|| format!("{doing}: no stream for the port"))?;
        let errors = forwarder.take_error(port).map(|f| Box::pin(f) as Closed);
        Ok(Forward { stream, pod: pod.to_string(), port, errors, forwarder })
    }

    /// What the forward's error channel says within `grace`, shortened: None when it says nothing.
    pub async fn error(&mut self, grace: Duration) -> Option<String> {
        let errors = self.errors.take()?;
        let message = tokio::time::timeout(grace, errors).await.ok().flatten()?;
        Some(self.shorten(&message))
    }

    /// Why the connection ended before an answer: the forward's error, or that the server closed it.
    pub async fn why_closed(&mut self) -> String {
        match self.error(Duration::from_secs(2)).await {
            Some(message) => message,
            None => format!("port {} of pod {} closed the connection without answering", self.port, self.pod),
        }
    }

    fn shorten(&self, message: &str) -> String {
        if message.contains("connection refused") {
            format!("connection refused on port {} of pod {} (nothing listens there)", self.port, self.pod)
        } else {
            format!("port-forward to port {} of pod {}: {}", self.port, self.pod, message.trim())
        }
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        self.forwarder.abort();
    }
}
