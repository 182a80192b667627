//! Services reachable from the host, on loopback only: the listeners of NodePorts
//! (`127.0.0.1:<nodePort>`) and LoadBalancer addresses (`127.0.0.N:<port>`, N ≥ 2),
//! each forwarding a connection to a ready endpoint of its Service port (see
//! [`super::backend`]). A connection that finds no ready endpoint is reset, as
//! kube-proxy rejects it. Which listeners a Service has is decided by its
//! controller (`controllers::exposure`); this module opens and closes them.
//!
//! Dropping [`Listeners`] closes every listener and the connections they carry.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use super::backend::{self, ServicePort};
use crate::rest::Rest;

/// A Service, as `(namespace, name)`.
pub type ServiceKey = (String, String);

/// A listener a Service should have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted {
    pub addr: SocketAddr,
    /// The Service port it forwards to.
    pub port: ServicePort,
}

/// A task aborted when dropped.
struct Task(JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct Listening {
    wanted: Wanted,
    _task: Task,
}

#[derive(Default)]
pub struct Listeners {
    open: Mutex<HashMap<ServiceKey, Vec<Listening>>>,
}

/// Whether an address is loopback (the only kind the sandbox listens on).
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// Binds a loopback address now (std's listener sets SO_REUSEADDR on Unix, so a
/// restarted sandbox gets its ports back at once).
pub fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    if !is_loopback(&addr) {
        return Err(std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, "the sandbox listens on loopback only"));
    }
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

impl Listeners {
    /// Makes `service`'s listeners exactly `wanted`: closes the others, opens the
    /// missing ones. Returns those that could not be opened, with why.
    pub fn set(&self, rest: &Rest, service: &ServiceKey, wanted: &[Wanted]) -> Vec<(Wanted, std::io::Error)> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let listening = open.entry(service.clone()).or_default();
        listening.retain(|l| wanted.contains(&l.wanted));
        let mut failures = Vec::new();
        for want in wanted {
            if listening.iter().any(|l| &l.wanted == want) {
                continue;
            }
            match bind(want.addr).and_then(TcpListener::from_std) {
                Ok(listener) => {
                    let task = tokio::spawn(accept(listener, rest.clone(), service.clone(), want.port.clone()));
                    listening.push(Listening { wanted: want.clone(), _task: Task(task) });
                }
                Err(e) => failures.push((want.clone(), e)),
            }
        }
        if listening.is_empty() {
            open.remove(service);
        }
        failures
    }

    /// Closes every listener of `service`.
    pub fn close(&self, service: &ServiceKey) {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).remove(service);
    }

    /// Closes every listener.
    pub fn close_all(&self) {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

async fn accept(listener: TcpListener, rest: Rest, service: ServiceKey, port: ServicePort) {
    // Connections end with their listener.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((tcp, _)) = accepted else { continue };
                let _ = tcp.set_nodelay(true);
                connections.spawn(forward(tcp, rest.clone(), service.clone(), port.clone()));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn forward(mut tcp: TcpStream, rest: Rest, (namespace, name): ServiceKey, port: ServicePort) {
    match backend::connect(&rest, &namespace, &name, &port).await {
        Ok((mut conn, _)) => {
            let _ = tokio::io::copy_bidirectional(&mut tcp, &mut conn).await;
        }
        // No endpoint: reset the connection, as a rejected one is.
        Err(_) => {
            let _ = tcp.set_zero_linger();
        }
    }
}

/// The n-th LoadBalancer address: 127.0.0.2, 127.0.0.3, …, 127.0.0.254, 127.0.1.2, …
pub fn load_balancer_ip(n: usize) -> Ipv4Addr {
    let per = 253;
    let third = u8::try_from((n / per) % 256).unwrap_or(0);
    let fourth = u8::try_from(n % per + 2).unwrap_or(2);
    Ipv4Addr::new(127, 0, third, fourth)
}

/// Whether `ip` can be a LoadBalancer address (loopback, not 127.0.0.1).
pub fn valid_load_balancer_ip(ip: &str) -> Option<Ipv4Addr> {
    let ip: Ipv4Addr = ip.parse().ok()?;
    (ip.is_loopback() && ip != Ipv4Addr::LOCALHOST && ip.octets()[3] != 0 && ip.octets()[3] != 255).then_some(ip)
}

/// Whether every port in `ports` can be listened on at `ip` now.
pub fn bindable(ip: Ipv4Addr, ports: &[u16]) -> bool {
    ports.iter().all(|p| bind(SocketAddr::new(IpAddr::V4(ip), *p)).is_ok())
}

/// How a listen failure is named in a LoadBalancer's `ports[].error` (a CamelCase
/// reason, qualified as the API asks of values that are not its own).
pub fn error_reason(error: &std::io::Error) -> &'static str {
    match error.kind() {
        std::io::ErrorKind::AddrInUse => "sandbox.kdeck.dev/AddressInUse",
        std::io::ErrorKind::PermissionDenied => "sandbox.kdeck.dev/PermissionDenied",
        std::io::ErrorKind::AddrNotAvailable => "sandbox.kdeck.dev/AddressNotAvailable",
        _ => "sandbox.kdeck.dev/ListenFailed",
    }
}

/// A listen failure in words, without the OS error number.
pub fn error_text(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::AddrInUse => "address already in use".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)".into(),
        std::io::ErrorKind::AddrNotAvailable => "address not available".into(),
        _ => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_balancer_addresses_are_loopback_and_never_127_0_0_1() {
        assert_eq!(load_balancer_ip(0), Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(load_balancer_ip(252), Ipv4Addr::new(127, 0, 0, 254));
        assert_eq!(load_balancer_ip(253), Ipv4Addr::new(127, 0, 1, 2));
        for n in 0..70_000 {
            let ip = load_balancer_ip(n);
            assert!(valid_load_balancer_ip(&ip.to_string()).is_some(), "{ip}");
        }
        assert!(valid_load_balancer_ip("127.0.0.1").is_none());
        assert!(valid_load_balancer_ip("10.0.0.2").is_none());
        assert!(bind("0.0.0.0:0".parse().unwrap()).is_err(), "never anything but loopback");
    }
}
