//! `kdeck forward`: the stack's declared ports kept open on 127.0.0.1. Unlike
//! `kubectl port-forward`, which is tied to the one pod it picked and dies with
//! it, each new connection goes to a ready pod behind the Service or workload as
//! it is now — a restarted or rolled-out pod is picked up, and said so.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::{Pod, Service};
use kube::Api;
use kube::ResourceExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

use crate::cluster::Cluster;
use crate::cluster::target::Target;
use crate::error::{Error, Result};
use crate::project::stack::Forward;

/// One declared forward, checked.
#[derive(Clone, Debug)]
pub struct Planned {
    pub target: Target,
    pub namespace: String,
    pub port: u16,
    pub local: u16,
    /// Whether `port` is a Service port (mapped to the pod's targetPort).
    pub service: Option<String>,
}

/// The declared forwards, checked (exactly one target each, valid names).
pub fn plan(forwards: &[Forward]) -> Result<Vec<Planned>> {
    forwards
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let place = format!("stack.forward[{i}]");
            let (target, service) = match (&f.service, &f.workload, &f.pod) {
                (Some(s), None, None) => (Target::parse(&format!("svc/{s}")), Some(s.clone())),
                (None, Some(w), None) => (Target::parse(w), None),
                (None, None, Some(p)) => (Target::parse(&format!("pod/{p}")), None),
                _ => return Err(Error::usage(format!("{place}: a forward names exactly one of service, workload or pod"))),
            };
            let target = target.map_err(|e| Error::usage(format!("{place}: {}", e.message)))?;
            if f.port == 0 {
                return Err(Error::usage(format!("{place}.port: a port from 1 to 65535")));
            }
            let namespace = f.namespace.clone().unwrap_or_else(|| "default".into());
            crate::cluster::names::validate_namespace(&namespace).map_err(|e| Error::usage(format!("{place}.namespace: {}", e.message)))?;
            Ok(Planned { target, namespace, port: f.port, local: f.local.unwrap_or(f.port), service })
        })
        .collect()
}

/// The container port behind Service `name`'s `port` in `pod` (a named targetPort
/// resolved through the pod's ports), as kubectl's port-forward svc/NAME does.
async fn pod_port(cluster: &Cluster, namespace: &str, name: &str, port: u16, pod: &Pod) -> Result<u16> {
    let api: Api<Service> = Api::namespaced(cluster.client.clone(), namespace);
    let service = api.get(name).await.map_err(|e| cluster.error(&format!("reading service {namespace}/{name}"), e))?;
    let ports = service.spec.and_then(|s| s.ports).unwrap_or_default();
    let Some(entry) = ports.iter().find(|p| p.port == i32::from(port)) else {
        let have: Vec<String> = ports.iter().map(|p| p.port.to_string()).collect();
        return Err(Error::not_found(format!("service {namespace}/{name} has no port {port}")).hint(format!("its ports: {}", have.join(", "))));
    };
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    match &entry.target_port {
        None => Ok(port),
        Some(IntOrString::Int(n)) => u16::try_from(*n).map_err(|_| Error::failure(format!("service {name}: targetPort {n} is out of range"))),
        Some(IntOrString::String(named)) => pod
            .spec
            .iter()
            .flat_map(|s| &s.containers)
            .flat_map(|c| c.ports.iter().flatten())
            .find(|p| p.name.as_deref() == Some(named.as_str()))
            .and_then(|p| u16::try_from(p.container_port).ok())
            .ok_or_else(|| Error::not_found(format!("pod {} declares no port named {named:?} (targetPort of service {name})", pod.name_any()))),
    }
}

/// A connection to `forward`'s target as it is now: a ready pod, through the API's
/// port-forward. Returns the pod's name and the stream.
pub async fn connect(cluster: &Cluster, forward: &Planned) -> Result<(String, impl AsyncRead + AsyncWrite + Unpin + use<>)> {
    let pod = forward.target.ready_pod(cluster, &forward.namespace).await?;
    let port = match &forward.service {
        Some(name) => pod_port(cluster, &forward.namespace, name, forward.port, &pod).await?,
        None => forward.port,
    };
    let name = pod.name_any();
    let pods: Api<Pod> = Api::namespaced(cluster.streaming_client()?, &forward.namespace);
    let mut forwarder = pods.portforward(&name, &[port]).await.map_err(|e| cluster.error(&format!("port-forward to pod {}/{name}", forward.namespace), e))?;
    let stream = forwarder.take_stream(port).ok_or_else(|| Error::failure(format!("port-forward to pod {name}: no stream for port {port}")))?;
    // The forwarder lives as long as the connection: it is joined when the stream ends.
    tokio::spawn(async move {
        let _ = forwarder.join().await;
    });
    Ok((name, stream))
}

/// Listens on each forward's local port and serves connections until the future
/// is dropped (Ctrl-C). Each connection goes to a ready pod as of then; a change of
/// pod is printed.
pub async fn serve(cluster: &Cluster, forwards: Vec<Planned>) -> Result<()> {
    let mut listeners = Vec::new();
    for forward in forwards {
        let listener = TcpListener::bind(("127.0.0.1", forward.local)).await.map_err(|e| {
            Error::failure(format!("cannot listen on 127.0.0.1:{}: {e}", forward.local)).hint("another process holds that port: pick another `local:`")
        })?;
        let local = listener.local_addr().map(|a| a.port()).unwrap_or(forward.local);
        eprintln!("forwarding 127.0.0.1:{local} -> {} port {} (namespace {})", forward.target, forward.port, forward.namespace);
        listeners.push((listener, forward, local));
    }
    let last_pod: Arc<Mutex<BTreeMap<u16, String>>> = Arc::default();
    let mut tasks = Vec::new();
    for (listener, forward, local) in listeners {
        let cluster = cluster.clone();
        let last_pod = last_pod.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else { continue };
                let (cluster, forward, last_pod) = (cluster.clone(), forward.clone(), last_pod.clone());
                tokio::spawn(async move {
                    match connect(&cluster, &forward).await {
                        Ok((pod, mut stream)) => {
                            let changed = {
                                let mut last = last_pod.lock().unwrap_or_else(|p| p.into_inner());
                                let previous = last.insert(local, pod.clone());
                                previous.filter(|p| *p != pod)
                            };
                            if let Some(previous) = changed {
                                eprintln!("127.0.0.1:{local}: pod {previous} is gone or not ready; now to pod {pod}");
                            }
                            let _ = tokio::io::copy_bidirectional(&mut socket, &mut stream).await;
                        }
                        Err(e) => eprintln!("127.0.0.1:{local}: {}", e.message),
                    }
                });
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    Ok(())
}
