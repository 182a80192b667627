//! `kdeck forward`: the stack's declared ports kept open on 127.0.0.1. Unlike
//! `kubectl port-forward`, which is tied to the one pod it picked and dies with
//! it, each new connection goes to a ready pod behind the Service or workload as
//! it is now — a restarted or rolled-out pod is picked up, and said so.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use kube::ResourceExt;
use tokio::net::TcpListener;

use super::tunnel::{self, Forward};

use crate::cluster::Cluster;
use crate::cluster::target::Target;
use crate::error::{Error, Result};
use crate::project::stack::Forward as Declared;

/// One declared forward, checked.
#[derive(Clone, Debug)]
pub struct Planned {
    pub target: Target,
    pub namespace: String,
    pub port: u16,
    pub local: u16,
}

/// The declared forwards, checked (exactly one target each, valid names).
pub fn plan(forwards: &[Declared]) -> Result<Vec<Planned>> {
    forwards
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let place = format!("stack.forward[{i}]");
            // A Service's port is mapped to its targetPort on the pod (see `tunnel`).
            let target = match (&f.service, &f.workload, &f.pod) {
                (Some(s), None, None) => Target::parse(&format!("svc/{s}")),
                (None, Some(w), None) => Target::parse(w),
                (None, None, Some(p)) => Target::parse(&format!("pod/{p}")),
                _ => return Err(Error::usage(format!("{place}: a forward names exactly one of service, workload or pod"))),
            };
            let target = target.map_err(|e| Error::usage(format!("{place}: {}", e.message)))?;
            if f.port == 0 {
                return Err(Error::usage(format!("{place}.port: a port from 1 to 65535")));
            }
            let namespace = f.namespace.clone().unwrap_or_else(|| "default".into());
            crate::cluster::names::validate_namespace(&namespace).map_err(|e| Error::usage(format!("{place}.namespace: {}", e.message)))?;
            Ok(Planned { target, namespace, port: f.port, local: f.local.unwrap_or(f.port) })
        })
        .collect()
}

/// A connection to `forward`'s target as it is now: a ready pod, through the API's
/// port-forward (see [`super::tunnel`]).
pub async fn connect(cluster: &Cluster, forward: &Planned) -> std::result::Result<Forward, String> {
    let (pod, port) = tunnel::resolve(cluster, &forward.namespace, &forward.target, forward.port).await?;
    Forward::open(cluster, &forward.namespace, &pod.name_any(), port).await
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
                        Ok(mut opened) => {
                            let pod = opened.pod.clone();
                            let changed = {
                                let mut last = last_pod.lock().unwrap_or_else(|p| p.into_inner());
                                let previous = last.insert(local, pod.clone());
                                previous.filter(|p| *p != pod)
                            };
                            if let Some(previous) = changed {
                                eprintln!("127.0.0.1:{local}: pod {previous} is gone or not ready; now to pod {pod}");
                            }
                            let _ = tokio::io::copy_bidirectional(&mut socket, &mut opened.stream).await;
                        }
                        Err(e) => eprintln!("127.0.0.1:{local}: {e}"),
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
