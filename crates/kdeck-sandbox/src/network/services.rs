//! Services inside pods: their names resolve (each view's `/etc/hosts`, see
//! [`super::hosts`]) and their ports answer.
//!
//! In the node namespace ([`super::netns::node`], where every view's traffic to
//! an address that is not its own goes), each Service's ClusterIP is an address
//! of the loopback, and the sandbox listens on `ClusterIP:port` for every TCP port
//! of a Service that has a ready endpoint: each connection goes, through
//! [`super::dial`], to one of its ready endpoints (taken in turn; the next one
//! when one refuses) on the targetPort (a named one resolved in that pod's
//! containers). A Service with no ready endpoint has no listener, so a connection
//! is refused, as kube-proxy rejects it. A headless Service's pods are reached on
//! their own IPs: a pod with a view directly (the node routes to it), a simulated
//! one through an address the node takes for it, where the sandbox listens on the
//! ports its containers declare.
//!
//! The `kubernetes` Service of `default` is the API server's own: its ClusterIP
//! (10.96.0.1) port answers with the sandbox's API server, so in-cluster clients
//! (`KUBERNETES_SERVICE_HOST`, `https://kubernetes.default.svc`) reach it — the one
//! way out of a pod's network to the host, and only to that listener.
//!
//! [`run`] keeps all of this current: it looks at Services and Endpoints again
//! whenever one changes (and when a view comes or goes), changes only what
//! differs — an address, a listener, a hosts file rewritten in place — and tears
//! down the views of pods that are deleted or finished. It runs only once some
//! pod has a view: purely simulated clusters never pay for it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::hosts::{self, Name};
use super::netns::{self, PodNetwork, node::Node};
use crate::resources::ResourceKey;
use crate::rest::Rest;
use crate::store::{Change, EventType};

/// Where a connection to an address the sandbox serves goes.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    /// A ready endpoint of the Service, for its port `port`.
    Service { namespace: String, name: String, port: u16 },
    /// The simulated pod's own port.
    Pod { namespace: String, name: String, port: u16 },
    /// The API server, on its loopback port.
    ApiServer { port: u16 },
}

/// The API server's loopback port, once it serves (0 before).
static API_PORT: AtomicU16 = AtomicU16::new(0);

/// Tells the network where the API server listens on loopback, for the
/// `kubernetes` Service.
pub fn set_api_port(port: u16) {
    API_PORT.store(port, Ordering::Relaxed);
}

/// What the node namespace should hold.
#[derive(Debug, Default)]
struct Desired {
    local: BTreeSet<Ipv4Addr>,
    listen: BTreeMap<SocketAddrV4, Target>,
}

fn key(plural: &str) -> ResourceKey {
    ResourceKey::new("", plural)
}

fn get(rest: &Rest, plural: &str, namespace: &str, name: &str) -> Option<Value> {
    rest.store.get(&key(plural), &(namespace.to_string(), name.to_string())).map(|e| e.value())
}

fn addresses<'a>(endpoints: &'a Value, field: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    endpoints["subsets"].as_array().into_iter().flatten().flat_map(move |s| s[field].as_array().into_iter().flatten())
}

/// The endpoint addresses a Service sends to (a headless one that publishes
/// not-ready addresses: those too).
fn endpoint_addresses(service: &Value, endpoints: &Value) -> Vec<Value> {
    let mut out: Vec<Value> = addresses(endpoints, "addresses").cloned().collect();
    if service["spec"]["publishNotReadyAddresses"].as_bool() == Some(true) {
        out.extend(addresses(endpoints, "notReadyAddresses").cloned());
    }
    out
}

/// The pod behind an endpoint address: its targetRef, else the pod with that IP.
fn endpoint_pod(rest: &Rest, namespace: &str, address: &Value) -> Option<Value> {
    let target = &address["targetRef"];
    if target["kind"] == "Pod"
        && let Some(name) = target["name"].as_str()
    {
        return get(rest, "pods", target["namespace"].as_str().unwrap_or(namespace), name);
    }
    let ip = address["ip"].as_str()?;
    let (pods, _) = rest.store.list(&key("pods"), Some(namespace), None, |e| e.index.field("status.podIP") == Some(ip));
    pods.first().map(|e| e.value())
}

fn tcp_ports(list: &Value) -> impl Iterator<Item = &Value> {
    list.as_array().into_iter().flatten().filter(|p| p["protocol"].as_str().unwrap_or("TCP") == "TCP")
}

fn port_of(v: &Value) -> Option<u16> {
    v.as_u64().and_then(|p| u16::try_from(p).ok()).filter(|p| *p > 0)
}

/// Every Service with its namespace, name and Endpoints.
fn services(rest: &Rest) -> Vec<(String, String, Value, Value)> {
    let (all, _) = rest.store.list(&key("services"), None, None, |_| true);
    all.iter()
        .map(|e| {
            let (ns, name) = (e.index.namespace.clone(), e.index.name.clone());
            let endpoints = get(rest, "endpoints", &ns, &name).unwrap_or(Value::Null);
            (ns, name, e.value(), endpoints)
        })
        .collect()
}

/// The names cluster DNS would answer for, in a stable order.
pub fn names(rest: &Rest) -> Vec<Name> {
    let mut out = BTreeSet::new();
    for (ns, name, service, endpoints) in services(rest) {
        let name_for = |ip: &str, base: String| Name { ip: ip.to_string(), namespace: ns.clone(), base };
        match service["spec"]["clusterIP"].as_str() {
            Some("None") => {
                for address in endpoint_addresses(&service, &endpoints) {
                    let Some(ip) = address["ip"].as_str() else { continue };
                    out.insert(name_for(ip, name.clone()));
                    if let Some(pod) = endpoint_pod(rest, &ns, &address)
                        && pod["spec"]["subdomain"] == name.as_str()
                    {
                        out.insert(name_for(ip, format!("{}.{name}", hosts::hostname_of(&pod))));
                    }
                }
            }
            Some(ip) if ip.parse::<Ipv4Addr>().is_ok() => {
                out.insert(name_for(ip, name.clone()));
            }
            _ => {}
        }
    }
    out.into_iter().collect()
}

/// The addresses and listeners the node should have; `views` are the IPs of pods
/// with a view (reached directly, not through the node).
fn desired(rest: &Rest, views: &HashSet<Ipv4Addr>) -> Desired {
    let mut d = Desired::default();
    let api_port = API_PORT.load(Ordering::Relaxed);
    for (ns, name, service, endpoints) in services(rest) {
        if ns == "default" && name == "kubernetes" && api_port != 0 {
            if let Some(Ok(ip)) = service["spec"]["clusterIP"].as_str().map(str::parse::<Ipv4Addr>) {
                d.local.insert(ip);
                for port in tcp_ports(&service["spec"]["ports"]).filter_map(|p| port_of(&p["port"])) {
                    d.listen.insert(SocketAddrV4::new(ip, port), Target::ApiServer { port: api_port });
                }
            }
            continue;
        }
        match service["spec"]["clusterIP"].as_str().map(|ip| (ip, ip.parse::<Ipv4Addr>())) {
            Some((_, Ok(ip))) => {
                d.local.insert(ip);
                if addresses(&endpoints, "addresses").next().is_some() {
                    for port in tcp_ports(&service["spec"]["ports"]).filter_map(|p| port_of(&p["port"])) {
                        d.listen.insert(SocketAddrV4::new(ip, port), Target::Service { namespace: ns.clone(), name: name.clone(), port });
                    }
                }
            }
            Some(("None", _)) => {
                for address in endpoint_addresses(&service, &endpoints) {
                    let Some(ip) = address["ip"].as_str().and_then(|ip| ip.parse::<Ipv4Addr>().ok()).filter(|ip| !views.contains(ip)) else { continue };
                    let Some(pod) = endpoint_pod(rest, &ns, &address) else { continue };
                    d.local.insert(ip);
                    let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default().to_string();
                    let declared = pod["spec"]["containers"].as_array().into_iter().flatten().flat_map(|c| tcp_ports(&c["ports"]));
                    for port in declared.filter_map(|p| port_of(&p["containerPort"])) {
                        d.listen.insert(SocketAddrV4::new(ip, port), Target::Pod { namespace: ns.clone(), name: pod_name.clone(), port });
                    }
                }
            }
            _ => {}
        }
    }
    d
}

/// Writes `view`'s `hosts` and `resolv.conf` (its directory made if needed).
pub fn write_files(rest: &Rest, pod: &Value, view: &PodNetwork) -> io::Result<()> {
    write_view(pod, view, &names(rest)).map(|_| ())
}

/// Rewrites the view's files in place (they are bound into the pod's `/etc`);
/// returns the hosts file's text.
fn write_view(pod: &Value, view: &PodNetwork, names: &[Name]) -> io::Result<String> {
    let hosts = hosts::hosts(pod, hosts::hostname_of(pod), names);
    if let Some(dir) = view.etc_file("hosts").parent() {
        std::fs::DirBuilder::new().recursive(true).mode(0o755).create(dir)?;
    }
    rewrite(&view.etc_file("hosts"), hosts.as_bytes())?;
    rewrite(&view.etc_file("resolv.conf"), hosts::resolv_conf(&view.namespace).as_bytes())?;
    Ok(hosts)
}

/// Replaces the file's contents keeping its inode (a bind mount holds it).
fn rewrite(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(false).mode(0o644).open(path)?;
    file.write_all(contents)?;
    file.set_len(contents.len() as u64)
}

/// Aborts its task when dropped.
struct Task(tokio::task::AbortHandle);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What [`run`] has made so far.
#[derive(Default)]
struct Applied {
    local: BTreeSet<Ipv4Addr>,
    listeners: HashMap<SocketAddrV4, (Target, Task)>,
    /// Each view's hosts file as last written.
    hosts: HashMap<String, String>,
}

/// Wakes [`run`]: a view came or went.
static KICK: LazyLock<Notify> = LazyLock::new(Notify::new);

pub fn changed() {
    KICK.notify_one();
}

/// Keeps the node's addresses and listeners and the views' files current, and
/// tears down views of pods that are gone. Runs until aborted.
pub async fn run(rest: Rest, node: Arc<Node>) {
    let Ok(subscription) = rest.store.subscribe(None) else { return };
    let mut live = subscription.live;
    let mut applied = Applied::default();
    loop {
        reconcile(&rest, &node, &mut applied);
        loop {
            tokio::select! {
                received = live.recv() => match received {
                    Ok(change) if concerns(&change) => break,
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => {
                        sweep(&rest);
                        break;
                    }
                    Err(RecvError::Closed) => return,
                },
                _ = KICK.notified() => break,
            }
        }
        // A burst of changes (a rollout) is one reconcile.
        tokio::time::sleep(Duration::from_millis(20)).await;
        loop {
            match live.try_recv() {
                Ok(change) => drop(concerns(&change)),
                Err(TryRecvError::Lagged(_)) => sweep(&rest),
                Err(_) => break,
            }
        }
    }
}

/// Whether a change matters here; a pod with a view that is deleted or finished
/// loses its view on the spot.
fn concerns(change: &Change) -> bool {
    let resource = &change.resource;
    if resource.group.is_empty() && (resource.plural == "services" || resource.plural == "endpoints") {
        return true;
    }
    if resource.group.is_empty() && resource.plural == "pods" {
        let index = &change.entry.index;
        let ended = change.kind == EventType::Deleted || matches!(index.field("status.phase"), Some("Succeeded" | "Failed"));
        if ended && netns::view(&index.uid).is_some() {
            netns::forget(&index.uid);
            return true;
        }
    }
    false
}

/// Tears down the views of pods that are gone (after missing changes).
fn sweep(rest: &Rest) {
    for view in netns::views() {
        let alive = get(rest, "pods", &view.namespace, &view.name)
            .is_some_and(|p| p["metadata"]["uid"] == view.uid.as_str() && !matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed")));
        if !alive {
            netns::forget(&view.uid);
        }
    }
}

fn reconcile(rest: &Rest, node: &Arc<Node>, applied: &mut Applied) {
    let views = netns::views();
    let view_ips: HashSet<Ipv4Addr> = views.iter().filter_map(|v| v.ip).collect();
    let d = desired(rest, &view_ips);
    for ip in d.local.difference(&applied.local.clone()) {
        match node.add_local(*ip) {
            Ok(()) => drop(applied.local.insert(*ip)),
            Err(e) => eprintln!("kdeck sandbox: cannot serve {ip} inside pods: {e}"),
        }
    }
    for ip in applied.local.difference(&d.local).copied().collect::<Vec<_>>() {
        if node.remove_local(ip).is_ok() {
            applied.local.remove(&ip);
        }
    }
    applied.listeners.retain(|addr, (target, _)| d.listen.get(addr) == Some(target));
    for (addr, target) in &d.listen {
        if applied.listeners.contains_key(addr) || !applied.local.contains(addr.ip()) {
            continue;
        }
        match node.listen(SocketAddr::V4(*addr)) {
            Ok(listener) => {
                let task = tokio::spawn(serve(listener, target.clone(), rest.clone()));
                applied.listeners.insert(*addr, (target.clone(), Task(task.abort_handle())));
            }
            Err(e) => eprintln!("kdeck sandbox: cannot listen on {addr} inside pods: {e}"),
        }
    }
    let names = names(rest);
    applied.hosts.retain(|uid, _| views.iter().any(|v| v.uid == *uid));
    for view in &views {
        let Some(pod) = get(rest, "pods", &view.namespace, &view.name) else { continue };
        let text = hosts::hosts(&pod, hosts::hostname_of(&pod), &names);
        if applied.hosts.get(&view.uid) != Some(&text) && write_view(&pod, view, &names).is_ok() {
            applied.hosts.insert(view.uid.clone(), text);
        }
    }
}

async fn serve(listener: tokio::net::TcpListener, target: Target, rest: Rest) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(forward(rest.clone(), target.clone(), stream));
            }
            // Out of descriptors, say: try again shortly.
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Connects the accepted stream to its target and copies both ways; when nothing
/// answers, the client's connection is reset.
async fn forward(rest: Rest, target: Target, mut stream: tokio::net::TcpStream) {
    let _ = stream.set_nodelay(true);
    let connection = match &target {
        Target::Pod { namespace, name, port } => super::dial(&rest, namespace, name, *port).await.ok(),
        Target::Service { namespace, name, port } => to_endpoint(&rest, namespace, name, *port).await,
        Target::ApiServer { port } => {
            let api = tokio::net::TcpStream::connect(SocketAddr::from((Ipv4Addr::LOCALHOST, *port))).await.ok();
            api.map(|s| Box::pin(s) as super::Connection)
        }
    };
    match connection {
        Some(mut connection) => {
            let _ = tokio::io::copy_bidirectional(&mut stream, &mut connection).await;
        }
        None => reset(&stream),
    }
}

/// Makes closing the stream send a reset, as a refused connection would.
fn reset(stream: &tokio::net::TcpStream) {
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: a valid linger structure for SO_LINGER on an open socket.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
}

/// Spreads connections over a Service's endpoints.
static TURN: AtomicUsize = AtomicUsize::new(0);

/// A connection to a ready endpoint of the Service, on the targetPort of its port `port`.
async fn to_endpoint(rest: &Rest, namespace: &str, name: &str, port: u16) -> Option<super::Connection> {
    let service = get(rest, "services", namespace, name)?;
    let spec = tcp_ports(&service["spec"]["ports"]).find(|p| port_of(&p["port"]) == Some(port))?.clone();
    let endpoints = get(rest, "endpoints", namespace, name)?;
    let ready: Vec<Value> = addresses(&endpoints, "addresses").cloned().collect();
    if ready.is_empty() {
        return None;
    }
    let first = TURN.fetch_add(1, Ordering::Relaxed);
    for i in 0..ready.len() {
        let Some(pod) = endpoint_pod(rest, namespace, &ready[(first + i) % ready.len()]) else { continue };
        let Some(target) = target_port(&spec, &pod) else { continue };
        let (pod_ns, pod_name) = (pod["metadata"]["namespace"].as_str().unwrap_or(namespace), pod["metadata"]["name"].as_str().unwrap_or_default());
        if let Ok(connection) = super::dial(rest, pod_ns, pod_name, target).await {
            return Some(connection);
        }
    }
    None
}

/// The Service port's targetPort on `pod`: a number, a named container port of
/// the pod, or the port itself when none is given.
fn target_port(spec: &Value, pod: &Value) -> Option<u16> {
    match &spec["targetPort"] {
        Value::String(named) => match named.parse::<u16>() {
            Ok(n) => Some(n),
            Err(_) => pod["spec"]["containers"]
                .as_array()?
                .iter()
                .flat_map(|c| c["ports"].as_array().into_iter().flatten())
                .find(|p| p["name"] == named.as_str())
                .and_then(|p| port_of(&p["containerPort"])),
        },
        Value::Null => port_of(&spec["port"]),
        other => port_of(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn target_ports_are_numbers_names_or_the_port() {
        let pod = json!({"spec": {"containers": [{"ports": [{"name": "http", "containerPort": 8080}]}]}});
        assert_eq!(target_port(&json!({"port": 80, "targetPort": "http"}), &pod), Some(8080));
        assert_eq!(target_port(&json!({"port": 80, "targetPort": 9000}), &pod), Some(9000));
        assert_eq!(target_port(&json!({"port": 80}), &pod), Some(80));
        assert_eq!(target_port(&json!({"port": 80, "targetPort": "grpc"}), &pod), None);
    }

    #[test]
    fn headless_services_publish_not_ready_addresses_only_when_asked() {
        let endpoints = json!({"subsets": [{"addresses": [{"ip": "10.244.0.2"}], "notReadyAddresses": [{"ip": "10.244.0.3"}]}]});
        let plain = json!({"spec": {"clusterIP": "None"}});
        let publish = json!({"spec": {"clusterIP": "None", "publishNotReadyAddresses": true}});
        assert_eq!(endpoint_addresses(&plain, &endpoints).len(), 1);
        assert_eq!(endpoint_addresses(&publish, &endpoints).len(), 2);
    }
}
