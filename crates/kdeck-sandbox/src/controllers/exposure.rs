//! NodePort and LoadBalancer Services on the host's loopback, as kind with port
//! mappings gives NodePorts and cloud-provider-kind or `minikube tunnel` give
//! LoadBalancers:
//! - each TCP port's `nodePort` is listened on at `127.0.0.1:<nodePort>`;
//! - a LoadBalancer Service (without a `loadBalancerClass`) gets its own address
//!   127.0.0.N (N ≥ 2; kept across restarts through its status), reported as
//!   `status.loadBalancer.ingress: [{ip, ipMode: VIP}]`, and is listened on there
//!   at each of its `spec.ports`.
//!
//! A port that cannot be listened on (taken on the machine, or below 1024 without
//! the right) gets a `FailedToListen` warning event on the Service and a line in
//! the sandbox's log; a LoadBalancer's also goes into its status
//! (`ingress[].ports[].error`). The sandbox keeps running, and tries again every
//! [`RETRY`].

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

use super::events::{self, Source};
use super::objects;
use super::runtime::{Controller, ObjectRef, every, key_of};
use crate::network::backend::ServicePort;
use crate::network::exposed::{self, Listeners, ServiceKey, Wanted};
use crate::network::nodeports;
use crate::resources::ResourceKey;
use crate::rest::Rest;
use crate::store::Change;

/// How often a port that could not be listened on is tried again.
const RETRY: Duration = Duration::from_secs(30);

#[derive(Default)]
pub struct Exposure {
    listeners: Listeners,
    /// Failures already reported (service, address), so each is told once.
    reported: Mutex<HashSet<(ServiceKey, SocketAddr)>>,
}

fn services() -> ResourceKey {
    ResourceKey::new("", "services")
}

/// The Service port a listener forwards to: its name, else its number.
fn service_port(port: &Value) -> Option<ServicePort> {
    match port["name"].as_str().filter(|n| !n.is_empty()) {
        Some(name) => Some(ServicePort::Name(name.to_string())),
        None => port["port"].as_u64().and_then(|p| u16::try_from(p).ok()).map(ServicePort::Number),
    }
}

fn describe(port: &Value) -> String {
    match port["name"].as_str().filter(|n| !n.is_empty()) {
        Some(name) => format!("port {name:?}"),
        None => format!("port {}", port["port"]),
    }
}

fn is_load_balancer(service: &Value) -> bool {
    service["spec"]["type"] == "LoadBalancer" && service["spec"]["loadBalancerClass"].is_null()
}

impl Controller for Exposure {
    fn keys_for(&self, _rest: &Rest, change: &Change) -> Vec<ObjectRef> {
        if change.resource == services() { vec![key_of(change)] } else { Vec::new() }
    }

    fn all_keys(&self, rest: &Rest) -> Vec<ObjectRef> {
        every(rest, &services())
    }

    fn reconcile(&self, rest: &Rest, key: &ObjectRef) -> Option<Duration> {
        let service_key: ServiceKey = (key.namespace.clone(), key.name.clone());
        let info = rest.catalogue.find("", "v1", "services")?;
        let service = match rest.get(&info, Some(&key.namespace), &key.name) {
            Ok(s) if !objects::is_deleting(&s) => s,
            _ => {
                self.listeners.close(&service_key);
                self.reported.lock().unwrap_or_else(|p| p.into_inner()).retain(|(k, _)| k != &service_key);
                return None;
            }
        };
        let ports: Vec<&Value> =
            service["spec"]["ports"].as_array().into_iter().flatten().filter(|p| p["protocol"].as_str().unwrap_or("TCP") == "TCP").collect();
        let mut wanted: Vec<(Wanted, String)> = Vec::new();
        if nodeports::wanted(&service["spec"]) {
            for port in &ports {
                let (Some(node_port), Some(target)) = (port["nodePort"].as_u64().and_then(|n| u16::try_from(n).ok()), service_port(port)) else { continue };
                let addr = SocketAddr::from(([127, 0, 0, 1], node_port));
                wanted.push((Wanted { addr, port: target }, format!("nodePort of {}", describe(port))));
            }
        }
        let lb_ip = is_load_balancer(&service).then(|| self.load_balancer_ip(rest, &service, &ports));
        if let Some(ip) = lb_ip {
            for port in &ports {
                let (Some(number), Some(target)) = (port["port"].as_u64().and_then(|n| u16::try_from(n).ok()), service_port(port)) else { continue };
                let addr = SocketAddr::new(IpAddr::V4(ip), number);
                wanted.push((Wanted { addr, port: target }, format!("the load balancer's {}", describe(port))));
            }
        }
        let plain: Vec<Wanted> = wanted.iter().map(|(w, _)| w.clone()).collect();
        let failures = self.listeners.set(rest, &service_key, &plain);
        self.report(rest, &service, &service_key, &wanted, &failures);
        self.write_status(rest, &info, &service, lb_ip, &ports, &failures);
        (!failures.is_empty()).then_some(RETRY)
    }
}

impl Exposure {
    /// The Service's LoadBalancer address: the one its status has (if no other
    /// Service has it), else the first free one whose ports can all be listened on.
    fn load_balancer_ip(&self, rest: &Rest, service: &Value, ports: &[&Value]) -> std::net::Ipv4Addr {
        let uid = service["metadata"]["uid"].as_str().unwrap_or_default();
        let (others, _) = rest.store.list(&services(), None, None, |e| e.index.uid != uid);
        let taken: HashSet<String> = others
            .iter()
            .map(|e| e.value())
            .filter(is_load_balancer)
            .filter_map(|s| s["status"]["loadBalancer"]["ingress"][0]["ip"].as_str().map(str::to_string))
            .collect();
        if let Some(ip) =
            service["status"]["loadBalancer"]["ingress"][0]["ip"].as_str().filter(|ip| !taken.contains(*ip)).and_then(exposed::valid_load_balancer_ip)
        {
            return ip;
        }
        let numbers: Vec<u16> = ports.iter().filter_map(|p| p["port"].as_u64().and_then(|n| u16::try_from(n).ok())).collect();
        let free = (0..65_000).map(exposed::load_balancer_ip).filter(|ip| !taken.contains(&ip.to_string()));
        // Another sandbox (or program) may hold an address: skip those it blocks.
        let mut first = None;
        for ip in free.take(64) {
            first.get_or_insert(ip);
            if exposed::bindable(ip, &numbers) {
                return ip;
            }
        }
        first.unwrap_or_else(|| exposed::load_balancer_ip(0))
    }

    fn report(&self, rest: &Rest, service: &Value, key: &ServiceKey, wanted: &[(Wanted, String)], failures: &[(Wanted, std::io::Error)]) {
        let mut reported = self.reported.lock().unwrap_or_else(|p| p.into_inner());
        // What works again may fail again later, and is told again then.
        reported.retain(|(k, addr)| k != key || failures.iter().any(|(w, _)| &w.addr == addr));
        for (want, error) in failures {
            if !reported.insert((key.clone(), want.addr)) {
                continue;
            }
            let what = wanted.iter().find(|(w, _)| w == want).map(|(_, what)| what.as_str()).unwrap_or("a port");
            let message = format!("cannot listen on {} for {what}: {}", want.addr, exposed::error_text(error));
            eprintln!("kdeck sandbox: service {}/{}: {message}; trying again every {}s", key.0, key.1, RETRY.as_secs());
            let component = if want.addr.ip() == IpAddr::from([127, 0, 0, 1]) { "kube-proxy" } else { "service-controller" };
            events::warning(rest, service, &Source { component, host: None }, "FailedToListen", &message);
        }
    }

    fn write_status(
        &self,
        rest: &Rest,
        info: &crate::resources::ResourceInfo,
        service: &Value,
        ip: Option<std::net::Ipv4Addr>,
        ports: &[&Value],
        failures: &[(Wanted, std::io::Error)],
    ) {
        let mut next = service.clone();
        match ip {
            Some(ip) => {
                let mut ingress = json!({"ip": ip.to_string(), "ipMode": "VIP"});
                let lb_failures: Vec<&(Wanted, std::io::Error)> = failures.iter().filter(|(w, _)| w.addr.ip() == IpAddr::V4(ip)).collect();
                if !lb_failures.is_empty() {
                    // Once one port is reported, every port is listed.
                    let statuses: Vec<Value> = ports
                        .iter()
                        .map(|p| {
                            let mut status = json!({"port": p["port"], "protocol": p["protocol"].as_str().unwrap_or("TCP")});
                            if let Some((_, e)) = lb_failures.iter().find(|(w, _)| Some(u64::from(w.addr.port())) == p["port"].as_u64()) {
                                status["error"] = json!(exposed::error_reason(e));
                            }
                            status
                        })
                        .collect();
                    ingress["ports"] = json!(statuses);
                }
                if service["status"]["loadBalancer"]["ingress"][0]["ip"].is_null() {
                    let source = Source { component: "service-controller", host: None };
                    events::normal(rest, service, &source, "EnsuringLoadBalancer", "Ensuring load balancer");
                    events::normal(rest, service, &source, "EnsuredLoadBalancer", "Ensured load balancer");
                }
                next["status"]["loadBalancer"] = json!({"ingress": [ingress]});
            }
            // No longer a LoadBalancer (or another implementation's): no address of ours.
            None if service["spec"]["type"] != "LoadBalancer" && !service["status"]["loadBalancer"]["ingress"].is_null() => {
                next["status"]["loadBalancer"] = json!({})
            }
            None => {}
        }
        objects::write_status(rest, info, service, next);
    }
}

/// Stops every listener (the sandbox is stopping).
impl Drop for Exposure {
    fn drop(&mut self) {
        self.listeners.close_all();
    }
}
