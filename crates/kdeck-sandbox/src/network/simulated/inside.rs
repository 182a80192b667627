//! Simulated servers inside a pod's own network view: once a pod has a view (an
//! exec or a real run made it), its simulated containers' ports are served there
//! too, on the pod's `localhost` and IP — so `kubectl exec redis-0 -- redis-cli
//! ping` answers as in a real pod. Containers whose command really runs listen
//! themselves and are left alone.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use serde_json::Value;

use super::{container_running, ports, serve};
use crate::network::netns::PodNetwork;
use crate::rest::Rest;

/// Listens on each simulated port of the view's pod, until the view goes. Called
/// as the view is made, before any process of the pod starts, so nothing can
/// connect before the simulated servers listen. Needs a tokio runtime.
pub fn serve_view(rest: &Rest, pod: &Value, view: &Arc<PodNetwork>) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else { return };
    let simulated = ports(pod).into_iter().filter(|(container, _)| crate::kubelet::command::argv(pod, container).is_none());
    let mut listeners = Vec::new();
    for (container, port) in simulated {
        // A port a process of the pod already holds stays the process's.
        let Ok(listener) = view.listen(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))) else { continue };
        listeners.push(handle.spawn(accept(rest.clone(), view.clone(), listener, container, port)));
    }
    if listeners.is_empty() {
        return;
    }
    let view = view.clone();
    handle.spawn(async move {
        view.closed().await;
        listeners.iter().for_each(|l| l.abort());
    });
}

async fn accept(rest: Rest, view: Arc<PodNetwork>, listener: tokio::net::TcpListener, container: String, port: u16) {
    while let Ok((conn, _)) = listener.accept().await {
        // The pod as it is now: a container that stopped no longer answers.
        let Some(pod) = crate::network::pod(&rest, &view.namespace, &view.name) else { return };
        if !container_running(&pod, &container) {
            continue;
        }
        let (rest, container) = (rest.clone(), container.clone());
        tokio::spawn(async move { serve_one(&rest, conn, &pod, &container, port).await });
    }
}

async fn serve_one(rest: &Rest, conn: tokio::net::TcpStream, pod: &Value, container: &str, port: u16) {
    let _ = conn.set_nodelay(true);
    serve(rest, conn, pod, container, port).await;
}
