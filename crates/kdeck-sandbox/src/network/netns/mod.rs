//! A pod's own network view: a network namespace created when the first exec or
//! real run of the pod starts (never for pods that stay simulated), held for the
//! pod's life and joined by every exec and real run in it — two execs see each
//! other's listeners on `localhost`; two pods listening on the same port do not
//! collide.
//!
//! - **Made by** the [`broker`], a single-threaded child of the sandbox; held by
//!   a descriptor the sandbox keeps (no process, no bind mount: when the sandbox
//!   dies, even by SIGKILL, the kernel frees every view not still used by a
//!   process in it). A sandbox running as an ordinary user keeps its views in a
//!   user namespace it owns, which the exec relay joins before the view (see
//!   `kubelet::exec::confine`: relay joins user namespace → view → creates the
//!   pod's own namespaces).
//! - **Inside**: `lo` up; `eth0` with the pod's IP, cabled to the [`node`]
//!   namespace, through which it reaches Services and other pods; ports below
//!   1024 open to the pod's user, as container runtimes set it.
//! - **Names**: a directory of the pod's (`DATA/network/<uid>/`) holds its `hosts`
//!   and `resolv.conf` ([`crate::network::hosts`]), bound read-only onto the pod's
//!   `/etc` and rewritten in place while the pod lives
//!   ([`crate::network::services`]).
//! - **Torn down** when the pod is deleted or finishes, and all at sandbox stop
//!   ([`shutdown`]).
//!
//! The sandbox reaches a process of the view with [`PodNetwork::connect`] (how
//! `network::dial` reaches real processes) and can serve inside it with
//! [`PodNetwork::listen`] (simulated servers answering on the pod's own
//! `localhost` and IP): [`created`] tells of each new view, [`PodNetwork::closed`]
//! of its end.

mod broker;
pub mod netlink;
pub mod node;

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

use serde_json::Value;
use tokio::sync::{broadcast, watch};

use super::Connection;
use crate::rest::Rest;
use node::Node;

/// A pod's network view.
pub struct PodNetwork {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    /// The pod's IP, on the view's `eth0`.
    pub ip: Option<Ipv4Addr>,
    net: OwnedFd,
    /// The node's end of the view's veth pair.
    link: Option<String>,
    /// Holds the view's `hosts` and `resolv.conf`.
    dir: PathBuf,
    node: Arc<Node>,
    gone: watch::Sender<bool>,
}

impl std::fmt::Debug for PodNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodNetwork").field("pod", &format_args!("{}/{}", self.namespace, self.name)).field("ip", &self.ip).finish()
    }
}

impl PodNetwork {
    /// Connects to `127.0.0.1:port` inside the view, where the pod's processes listen.
    pub async fn connect(&self, port: u16) -> io::Result<Connection> {
        let stream = node::connect_in(&self.node.broker, &self.net, SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
        let _ = stream.set_nodelay(true);
        Ok(Box::pin(stream))
    }

    /// A listener on `addr` inside the view, for the sandbox to serve something on
    /// the pod's own network: `0.0.0.0:PORT` answers on the pod's `localhost` and on
    /// its IP (what other pods and headless Services reach), `127.0.0.1:PORT` on
    /// `localhost` only. It takes the port from the pod's processes (and they from
    /// it), as two containers of a pod share ports. Drop it when
    /// [`PodNetwork::closed`] completes, or the view's namespace outlives the pod.
    pub fn listen(&self, addr: SocketAddr) -> io::Result<tokio::net::TcpListener> {
        node::listen_on(&self.node.broker, Some(&self.net), addr)
    }

    /// Completes once the view is torn down (the pod is gone, or the sandbox stops).
    pub async fn closed(&self) {
        let mut gone = self.gone.subscribe();
        let _ = gone.wait_for(|g| *g).await;
    }

    /// What a process must `setns` to, in this order, to enter the view: the
    /// views' user namespace (an unprivileged sandbox only), then the view.
    pub fn join_fds(&self) -> (Option<RawFd>, RawFd) {
        (self.node.broker.user.as_ref().map(AsRawFd::as_raw_fd), self.net.as_raw_fd())
    }

    /// The host file bound onto the pod's `/etc/NAME` (`hosts`, `resolv.conf`).
    pub fn etc_file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn teardown(&self) {
        if let Some(link) = &self.link {
            self.node.unplumb(link);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        self.gone.send_replace(true);
    }
}

#[derive(Default)]
struct State {
    node: Option<Arc<Node>>,
    views: HashMap<String, Arc<PodNetwork>>,
    controller: Option<tokio::task::JoinHandle<()>>,
}

static STATE: LazyLock<Mutex<State>> = LazyLock::new(Default::default);

/// Each view as it is made.
static CREATED: LazyLock<broadcast::Sender<Arc<PodNetwork>>> = LazyLock::new(|| broadcast::channel(64).0);

/// Tells of every view made from now on (to serve something in each, say).
pub fn created() -> broadcast::Receiver<Arc<PodNetwork>> {
    CREATED.subscribe()
}

fn state() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|p| p.into_inner())
}

/// The network view of the pod with this uid, if it has one.
pub fn view(uid: &str) -> Option<Arc<PodNetwork>> {
    state().views.get(uid).cloned()
}

/// Every view there is.
pub fn views() -> Vec<Arc<PodNetwork>> {
    state().views.values().cloned().collect()
}

/// The node namespace, once some pod has a view.
pub fn node() -> Option<Arc<Node>> {
    state().node.clone()
}

/// Where views keep their files.
fn files_dir() -> PathBuf {
    crate::kubelet::exec::data_dir().join("network")
}

/// The view of `pod`, made now if it has none: what every exec and real run joins.
/// Fails, saying why, where the machine cannot give pods a network of their own
/// (no user or network namespaces); nothing else of the sandbox depends on it.
pub fn ensure(rest: &Rest, pod: &Value) -> Result<Arc<PodNetwork>, String> {
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
    let mut state = state();
    if state.node.as_ref().is_some_and(|n| n.broker.exited()) {
        // The broker was killed: its views can no longer be reached. Start over.
        eprintln!("kdeck sandbox: the network broker exited; pods' network views are made anew");
        let views = std::mem::take(&mut state.views);
        views.values().for_each(|v| v.teardown());
        state.node = None;
        if let Some(controller) = state.controller.take() {
            controller.abort();
        }
    }
    if let Some(view) = state.views.get(uid) {
        return Ok(view.clone());
    }
    let failed = |e: io::Error| format!("cannot give the pod its own network: {e}");
    let node = match &state.node {
        Some(node) => node.clone(),
        None => {
            let node = Arc::new(Node::start().map_err(failed)?);
            // Files of views a killed sandbox left behind.
            let _ = std::fs::remove_dir_all(files_dir());
            state.node = Some(node.clone());
            node
        }
    };
    let ip = pod["status"]["podIP"].as_str().and_then(|ip| ip.parse().ok());
    let net = node.broker.new_netns().map_err(failed)?;
    let link = node.plumb(&net, ip).map_err(failed)?;
    let dir = files_dir().join(uid);
    let (gone, _) = watch::channel(false);
    let view = Arc::new(PodNetwork {
        uid: uid.to_string(),
        namespace: pod["metadata"]["namespace"].as_str().unwrap_or("default").to_string(),
        name: pod["metadata"]["name"].as_str().unwrap_or_default().to_string(),
        ip,
        net,
        link,
        dir,
        node: node.clone(),
        gone,
    });
    if let Err(e) = super::services::write_files(rest, pod, &view) {
        view.teardown();
        return Err(format!("cannot write the pod's /etc/hosts: {e}"));
    }
    state.views.insert(uid.to_string(), view.clone());
    if state.controller.as_ref().is_none_or(|c| c.is_finished())
        && let Ok(handle) = tokio::runtime::Handle::try_current()
    {
        state.controller = Some(handle.spawn(super::services::run(rest.clone(), node)));
    }
    drop(state);
    // A pod deleted while its view was being made: the change that said so may
    // have been seen before the view existed.
    let key = crate::resources::ResourceKey::new("", "pods");
    let current = rest.store.get(&key, &(view.namespace.clone(), view.name.clone()));
    if current.is_none_or(|e| e.index.uid != view.uid) {
        forget(&view.uid);
    } else {
        // Simulated containers answer inside the view before anything runs in it.
        super::simulated::inside::serve_view(rest, pod, &view);
        // Nobody listening is fine.
        let _ = CREATED.send(view.clone());
    }
    super::services::changed();
    Ok(view)
}

/// Tears the view of the pod with this uid down (it is gone, or finished).
pub fn forget(uid: &str) {
    let removed = state().views.remove(uid);
    if let Some(view) = removed {
        view.teardown();
        super::services::changed();
    }
}

/// Tears every view down and stops the broker, as the sandbox stops.
pub fn shutdown() {
    let (views, node, controller) = {
        let mut state = state();
        (std::mem::take(&mut state.views), state.node.take(), state.controller.take())
    };
    if let Some(controller) = controller {
        controller.abort();
    }
    for view in views.values() {
        view.teardown();
    }
    drop(views);
    drop(node);
}
