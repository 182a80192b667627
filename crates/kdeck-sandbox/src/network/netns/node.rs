//! The node namespace: the simulated node's network, where every view's cable
//! ends and where the sandbox answers for Services and simulated pods.
//!
//! Each view gets a veth pair: `eth0` inside the view, holding the pod's IP
//! (a /32), with a default route through the link-local gateway 169.254.1.1
//! (the node's, on its loopback, answered by ARP as any local address is); the
//! other end in the node namespace, with a /32 route to the pod's IP. Pods with
//! views therefore reach each other directly (the node forwards), and the
//! addresses the sandbox serves — each Service's ClusterIP, and the IPs of
//! simulated pods a headless Service names — are /32s on the node's loopback,
//! where the sandbox listens (see `network::services`). Nothing of this is in the
//! host's namespace: the node namespace has no link to it.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::OwnedFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use super::broker::Broker;
use super::netlink::{self, Netlink};

/// The gateway every view routes through: an address of the node's loopback.
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(169, 254, 1, 1);
/// The loopback's index in every namespace.
const LOOPBACK: u32 = 1;

pub struct Node {
    pub broker: Broker,
    /// Requests to the node namespace's routing, one at a time.
    rtnl: Mutex<Netlink>,
    /// A socket of the node namespace, to look its links up.
    probe: OwnedFd,
    /// Numbers the node's ends of veth pairs.
    links: AtomicU32,
}

fn context(what: &str) -> impl Fn(io::Error) -> io::Error + '_ {
    move |e| io::Error::new(e.kind(), format!("{what}: {e}"))
}

impl Node {
    /// Starts the broker (and with it the node namespace) and sets the node up.
    pub fn start() -> io::Result<Node> {
        let broker =
            Broker::start().map_err(context("cannot create the namespaces pods' networks live in (the machine must allow user and network namespaces)"))?;
        let rtnl = Netlink::new(broker.socket(None, libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE)?);
        let probe = broker.socket(None, libc::AF_INET, libc::SOCK_DGRAM, 0)?;
        rtnl.up("lo").map_err(context("cannot set the node's loopback up"))?;
        rtnl.add_address(LOOPBACK, GATEWAY).map_err(context("cannot add the node's gateway address"))?;
        Ok(Node { broker, rtnl: Mutex::new(rtnl), probe, links: AtomicU32::new(0) })
    }

    fn rtnl(&self) -> std::sync::MutexGuard<'_, Netlink> {
        self.rtnl.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Cables the view `netns`: its loopback up and, when the pod has an IP, the
    /// veth pair and routes. Returns the node's end of the pair.
    pub fn plumb(&self, netns: &OwnedFd, ip: Option<Ipv4Addr>) -> io::Result<Option<String>> {
        let inside = Netlink::new(self.broker.socket(Some(netns), libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE)?);
        inside.up("lo").map_err(context("cannot set the pod's loopback up"))?;
        let Some(ip) = ip else { return Ok(None) };
        let name = format!("kdeck{}", self.links.fetch_add(1, Ordering::Relaxed));
        let rtnl = self.rtnl();
        rtnl.add_veth(&name, "eth0", netns).map_err(context("cannot create the pod's network link"))?;
        let cabled = (|| -> io::Result<()> {
            rtnl.up(&name)?;
            inside.up("eth0")?;
            let eth0 = netlink::link_index(&self.broker.socket(Some(netns), libc::AF_INET, libc::SOCK_DGRAM, 0)?, "eth0")?;
            inside.add_address(eth0, ip)?;
            inside.add_route(Some(GATEWAY), eth0, None)?;
            inside.add_route(None, eth0, Some(GATEWAY))?;
            // The pod is real now: the node stops answering for its address.
            rtnl.delete_address(LOOPBACK, ip)?;
            rtnl.add_route(Some(ip), netlink::link_index(&self.probe, &name)?, None)
        })();
        if let Err(e) = cabled {
            let _ = rtnl.delete_link(&name);
            return Err(context("cannot route the pod's address")(e));
        }
        Ok(Some(name))
    }

    /// Removes the node's end of a view's veth pair (and with it the view's end
    /// and the route).
    pub fn unplumb(&self, link: &str) {
        let _ = self.rtnl().delete_link(link);
    }

    /// Makes `ip` an address of the node (a ClusterIP, a simulated pod's IP).
    pub fn add_local(&self, ip: Ipv4Addr) -> io::Result<()> {
        self.rtnl().add_address(LOOPBACK, ip)
    }

    pub fn remove_local(&self, ip: Ipv4Addr) -> io::Result<()> {
        self.rtnl().delete_address(LOOPBACK, ip)
    }

    /// A listener on `addr` in the node namespace.
    pub fn listen(&self, addr: SocketAddr) -> io::Result<tokio::net::TcpListener> {
        listen_on(&self.broker, None, addr)
    }
}

/// A TCP listener on `addr` made in `netns` (None: the node namespace).
pub fn listen_on(broker: &Broker, netns: Option<&OwnedFd>, addr: SocketAddr) -> io::Result<tokio::net::TcpListener> {
    let fd = broker.socket(netns, family(&addr), libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0)?;
    let socket = tokio::net::TcpSocket::from_std_stream(std::net::TcpStream::from(fd));
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// A TCP connection to `addr` from a socket made in `netns`.
pub async fn connect_in(broker: &Broker, netns: &OwnedFd, addr: SocketAddr) -> io::Result<tokio::net::TcpStream> {
    let fd = broker.socket(Some(netns), family(&addr), libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0)?;
    let socket = tokio::net::TcpSocket::from_std_stream(std::net::TcpStream::from(fd));
    socket.connect(addr).await
}

fn family(addr: &SocketAddr) -> i32 {
    if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn serve_once(listener: tokio::net::TcpListener, banner: &'static [u8]) {
        if let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream.write_all(banner).await;
        }
    }

    async fn read(mut stream: tokio::net::TcpStream) -> String {
        let mut text = String::new();
        stream.read_to_string(&mut text).await.unwrap();
        text
    }

    #[tokio::test]
    async fn views_are_separate_networks_cabled_to_the_node() {
        let node = Node::start().expect("this machine allows user and network namespaces");
        let (a, b) = (node.broker.new_netns().unwrap(), node.broker.new_netns().unwrap());
        let (ip_a, ip_b) = (Ipv4Addr::new(10, 244, 9, 2), Ipv4Addr::new(10, 244, 9, 3));
        node.plumb(&a, Some(ip_a)).unwrap();
        let link_b = node.plumb(&b, Some(ip_b)).unwrap().expect("a link for a pod with an IP");

        // The same port on each view's localhost: no collision, each its own.
        let local = SocketAddr::from((Ipv4Addr::LOCALHOST, 7000));
        tokio::spawn(serve_once(listen_on(&node.broker, Some(&a), local).unwrap(), b"a"));
        tokio::spawn(serve_once(listen_on(&node.broker, Some(&b), local).unwrap(), b"b"));
        assert_eq!(read(connect_in(&node.broker, &a, local).await.unwrap()).await, "a");
        assert_eq!(read(connect_in(&node.broker, &b, local).await.unwrap()).await, "b");

        // Pod to pod through the node; the node's own addresses from a pod.
        let any = SocketAddr::from((Ipv4Addr::UNSPECIFIED, 7001));
        tokio::spawn(serve_once(listen_on(&node.broker, Some(&b), any).unwrap(), b"b by its IP"));
        assert_eq!(read(connect_in(&node.broker, &a, SocketAddr::from((ip_b, 7001))).await.unwrap()).await, "b by its IP");
        let service = Ipv4Addr::new(10, 96, 9, 9);
        node.add_local(service).unwrap();
        tokio::spawn(serve_once(node.listen(SocketAddr::from((service, 80))).unwrap(), b"service"));
        assert_eq!(read(connect_in(&node.broker, &a, SocketAddr::from((service, 80))).await.unwrap()).await, "service");
        node.remove_local(service).unwrap();

        // Unplumbed, a view is cut off from the node.
        node.unplumb(&link_b);
        tokio::spawn(serve_once(listen_on(&node.broker, Some(&b), SocketAddr::from((Ipv4Addr::UNSPECIFIED, 7002))).unwrap(), b"late"));
        let cut = tokio::time::timeout(std::time::Duration::from_secs(2), connect_in(&node.broker, &a, SocketAddr::from((ip_b, 7002)))).await;
        assert!(!matches!(cut, Ok(Ok(_))), "reached a view whose link is gone");
    }
}
