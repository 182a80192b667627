//! Services and networking: Services, Endpoints, EndpointSlices, Ingresses,
//! IngressClasses and NetworkPolicies.

use serde_json::Value;

use super::duration::Ctx;
use super::obj::{Obj, format_label_selector, format_labels, list_with_more_or, non_empty};
use super::{AGE, Col, NAME, Row, cells, col, wide};

#[rustfmt::skip]
pub(super) const SERVICE_COLUMNS: &[Col] = &[
    NAME,
    col("Type", "string", "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer."),
    col("Cluster-IP", "string", "clusterIP is the IP address of the service and is usually assigned randomly."),
    col("External-IP", "string", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
    col("Port(s)", "string", "The list of ports that are exposed by this service."),
    AGE,
    wide("Selector", "string", "Route service traffic to pods with label keys and values matching this selector."),
];

pub(super) fn service_row(svc: Obj<'_>, ctx: &Ctx) -> Row {
    let spec = svc.child(&["spec"]);
    // The API server defaults spec.type to ClusterIP.
    let kind = spec.opt_str(&["type"]).and_then(non_empty).unwrap_or("ClusterIP");
    // clusterIPs is authoritative; the v1 conversion fills it from the legacy clusterIP.
    let cluster_ip = match spec.list(&["clusterIPs"]).first() {
        Some(ip) => ip.as_str().unwrap_or(""),
        None => spec.opt_str(&["clusterIP"]).and_then(non_empty).unwrap_or("<none>"),
    };
    let ports = service_ports(spec.list(&["ports"]));
    Row::from(cells![
        svc.name(),
        kind,
        cluster_ip,
        service_external_ip(svc, kind),
        if ports.is_empty() { "<none>".to_string() } else { ports },
        svc.age(ctx),
        format_labels(spec.map(&["selector"])),
    ])
}

/// makePortString: `80/TCP,443:30443/TCP` (the node port shows when one is allocated).
fn service_ports(ports: &[Value]) -> String {
    ports
        .iter()
        .map(Obj)
        .map(|p| {
            // The API server defaults a port's protocol to TCP.
            let protocol = p.opt_str(&["protocol"]).and_then(non_empty).unwrap_or("TCP");
            match p.int(&["nodePort"]) {
                node_port if node_port > 0 => {
                    format!("{}:{node_port}/{protocol}", p.int(&["port"]))
                }
                _ => format!("{}/{protocol}", p.int(&["port"])),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// getServiceExternalIP. The server prints wide, so load-balancer addresses are
/// never clipped to 16 characters.
fn service_external_ip(svc: Obj<'_>, kind: &str) -> String {
    let external_ips: Vec<&str> = svc.list(&["spec", "externalIPs"]).iter().map(|v| v.as_str().unwrap_or("")).collect();
    match kind {
        "ClusterIP" | "NodePort" if !external_ips.is_empty() => external_ips.join(","),
        "ClusterIP" | "NodePort" => "<none>".to_string(),
        "LoadBalancer" => {
            let lb = load_balancer_addresses(svc.list(&["status", "loadBalancer", "ingress"]));
            if !external_ips.is_empty() {
                let mut all: Vec<&str> = lb.iter().map(String::as_str).collect();
                all.extend(external_ips);
                all.join(",")
            } else if !lb.is_empty() {
                lb.join(",")
            } else {
                "<pending>".to_string()
            }
        }
        "ExternalName" => svc.str(&["spec", "externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    }
}

/// Load-balancer ingress points: each one's IP, else its hostname; sorted, deduplicated.
fn load_balancer_addresses(ingress: &[Value]) -> Vec<String> {
    let mut addresses: Vec<String> =
        ingress.iter().map(Obj).filter_map(|i| non_empty(i.str(&["ip"])).or_else(|| non_empty(i.str(&["hostname"])))).map(str::to_string).collect();
    addresses.sort();
    addresses.dedup();
    addresses
}

#[rustfmt::skip]
pub(super) const ENDPOINTS_COLUMNS: &[Col] = &[
    NAME,
    col("Endpoints", "string", "The set of all endpoints is the union of all subsets."),
    AGE,
];

/// formatEndpoints: `ip:port` for every port of every subset, three at most.
pub(super) fn endpoints_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let subsets = o.list(&["subsets"]);
    let endpoints = if subsets.is_empty() {
        "<none>".to_string()
    } else {
        let mut list = Vec::new();
        let mut count = 0;
        for subset in subsets.iter().map(Obj) {
            let addresses: Vec<&str> = subset.list(&["addresses"]).iter().map(|a| Obj(a).str(&["ip"])).collect();
            let ports = subset.list(&["ports"]);
            if ports.is_empty() {
                // Headless services may have no ports.
                count += addresses.len();
                list.extend(addresses.iter().map(|ip| ip.to_string()));
                continue;
            }
            for port in ports.iter().map(Obj) {
                count += addresses.len();
                list.extend(addresses.iter().map(|ip| join_host_port(ip, port.int(&["port"]))));
            }
        }
        list_with_more_or(&list, 3, ",", count, "")
    };
    Row::from(cells![o.name(), endpoints, o.age(ctx)])
}

/// net.JoinHostPort: IPv6 addresses get brackets.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

#[rustfmt::skip]
pub(super) const ENDPOINT_SLICE_COLUMNS: &[Col] = &[
    NAME,
    col("AddressType", "string", "addressType specifies the type of address carried by this EndpointSlice."),
    col("Ports", "string", "ports specifies the list of network ports exposed by each endpoint in this slice."),
    col("Endpoints", "string", "endpoints is a list of unique endpoints in this slice."),
    AGE,
];

pub(super) fn endpoint_slice_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let ports: Vec<String> = o
        .list(&["ports"])
        .iter()
        .map(Obj)
        .map(|p| match (p.opt_int(&["port"]), p.opt_str(&["name"])) {
            (Some(port), _) => port.to_string(),
            (None, Some(name)) => name.to_string(),
            (None, None) => "*".to_string(),
        })
        .collect();
    let addresses: Vec<String> =
        o.list(&["endpoints"]).iter().flat_map(|e| Obj(e).list(&["addresses"])).map(|a| a.as_str().unwrap_or("").to_string()).collect();
    Row::from(cells![
        o.name(),
        o.str(&["addressType"]),
        list_with_more_or(&ports, 3, ",", ports.len(), "<unset>"),
        list_with_more_or(&addresses, 3, ",", addresses.len(), "<unset>"),
        o.age(ctx),
    ])
}

#[rustfmt::skip]
pub(super) const INGRESS_COLUMNS: &[Col] = &[
    NAME,
    col("Class", "string", "The name of the IngressClass resource that should be used for additional configuration"),
    col("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
    col("Address", "string", "Address is a list containing ingress points for the load-balancer"),
    col("Ports", "string", "Ports of TLS configurations that open"),
    AGE,
];

pub(super) fn ingress_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    // formatHosts: up to three hosts; "more" once a rule follows the third host,
    // counted against all rules, hosted or not.
    let rules = o.list(&["spec", "rules"]);
    let mut hosts = Vec::new();
    let mut more = false;
    for rule in rules.iter().map(Obj) {
        if hosts.len() == 3 {
            more = true;
        }
        if !more && !rule.str(&["host"]).is_empty() {
            hosts.push(rule.str(&["host"]));
        }
    }
    let hosts = match (hosts.is_empty(), more) {
        (true, _) => "*".to_string(),
        (false, true) => format!("{} + {} more...", hosts.join(","), rules.len() - 3),
        (false, false) => hosts.join(","),
    };
    let ports = if o.list(&["spec", "tls"]).is_empty() { "80" } else { "80, 443" };
    Row::from(cells![
        o.name(),
        o.opt_str(&["spec", "ingressClassName"]).unwrap_or("<none>"),
        hosts,
        load_balancer_addresses(o.list(&["status", "loadBalancer", "ingress"])).join(","),
        ports,
        o.age(ctx),
    ])
}

#[rustfmt::skip]
pub(super) const INGRESS_CLASS_COLUMNS: &[Col] = &[
    NAME,
    col("Controller", "string", "Controller that is responsible for handling this class"),
    col("Parameters", "string", "A reference to a resource with additional parameters"),
    AGE,
];

pub(super) fn ingress_class_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    let parameters = match o.obj(&["spec", "parameters"]) {
        None => "<none>".to_string(),
        Some(p) => {
            let kind = match p.opt_str(&["apiGroup"]) {
                Some(group) => format!("{}.{group}", p.str(&["kind"])),
                None => p.str(&["kind"]).to_string(),
            };
            format!("{kind}/{}", p.str(&["name"]))
        }
    };
    Row::from(cells![o.name(), o.str(&["spec", "controller"]), parameters, o.age(ctx)])
}

#[rustfmt::skip]
pub(super) const NETWORK_POLICY_COLUMNS: &[Col] = &[
    NAME,
    col("Pod-Selector", "string", "Selects the pods to which this NetworkPolicy object applies."),
    AGE,
];

pub(super) fn network_policy_row(o: Obj<'_>, ctx: &Ctx) -> Row {
    // podSelector is a struct, not a pointer: absent means "all pods", shown as <none>.
    let selector = match o.obj(&["spec", "podSelector"]) {
        Some(selector) => format_label_selector(Some(selector.0)),
        None => "<none>".to_string(),
    };
    Row::from(cells![o.name(), selector, o.age(ctx)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::table::testing::{ago, row};
    use serde_json::json;

    #[test]
    fn service_ports_and_addresses() {
        let svc = |spec: Value, status: Value| json!({"metadata": {"name": "svc", "creationTimestamp": ago(45)}, "spec": spec, "status": status});
        let cluster = svc(
            json!({"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                   "ports": [{"port": 80, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
                   "selector": {"app": "web", "tier": "front"}}),
            json!({}),
        );
        assert_eq!(
            row("", "services", cluster),
            vec![
                json!("svc"),
                json!("ClusterIP"),
                json!("10.96.0.10"),
                json!("<none>"),
                json!("80/TCP,443/TCP,53/UDP"),
                json!("45s"),
                json!("app=web,tier=front"),
            ]
        );

        let node_port = svc(
            json!({"type": "NodePort", "clusterIP": "10.96.1.1", "externalIPs": ["1.2.3.4"],
                   "ports": [{"port": 80, "nodePort": 30080}, {"port": 443, "nodePort": 30443, "protocol": "TCP"}]}),
            json!({}),
        );
        let cells = row("", "services", node_port);
        assert_eq!(cells[2..5], [json!("10.96.1.1"), json!("1.2.3.4"), json!("80:30080/TCP,443:30443/TCP")]);

        let pending = svc(json!({"type": "LoadBalancer", "clusterIPs": ["10.96.2.2"], "ports": [{"port": 80, "nodePort": 31000}]}), json!({}));
        assert_eq!(row("", "services", pending)[3], "<pending>");
        let ready = svc(
            json!({"type": "LoadBalancer", "externalIPs": ["9.9.9.9"]}),
            json!({"loadBalancer": {"ingress": [{"hostname": "lb.example.com"}, {"ip": "203.0.113.10"}, {"ip": "203.0.113.10"}]}}),
        );
        assert_eq!(row("", "services", ready)[3], "203.0.113.10,lb.example.com,9.9.9.9");

        let external = svc(json!({"type": "ExternalName", "externalName": "db.example.com"}), json!({}));
        let cells = row("", "services", external);
        assert_eq!(cells[2..5], [json!("<none>"), json!("db.example.com"), json!("<none>")]);

        let headless = svc(json!({"clusterIP": "None", "ports": [{"port": 5432}]}), json!({}));
        let cells = row("", "services", headless);
        assert_eq!(cells[1..5], [json!("ClusterIP"), json!("None"), json!("<none>"), json!("5432/TCP")]);
        assert_eq!(cells[6], "<none>");
    }

    #[test]
    fn endpoints_ingress_and_slices() {
        let ep = json!({"metadata": {"name": "web"}, "subsets": [
            {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}, {"port": 443}]},
            {"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]},
        ]});
        assert_eq!(row("", "endpoints", ep)[1], "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 2 more...");
        let headless = json!({"subsets": [{"addresses": [{"ip": "fd00::1"}]}]});
        assert_eq!(row("", "endpoints", headless)[1], "fd00::1");
        assert_eq!(row("", "endpoints", json!({}))[1], "<none>");

        let ing = json!({"metadata": {"name": "web"}, "spec": {"ingressClassName": "nginx", "tls": [{}],
            "rules": [{"host": "a.example.com"}, {"host": "b.example.com"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.5"}]}}});
        assert_eq!(
            row("networking.k8s.io", "ingresses", ing)[1..5],
            [json!("nginx"), json!("a.example.com,b.example.com"), json!("203.0.113.5"), json!("80, 443")]
        );
        let bare = row("networking.k8s.io", "ingresses", json!({"spec": {"rules": [{}]}}));
        assert_eq!(bare[1..5], [json!("<none>"), json!("*"), json!(""), json!("80")]);

        let hosts = |hosts: &[&str]| {
            let rules: Vec<Value> = hosts.iter().map(|h| json!({"host": h})).collect();
            row("networking.k8s.io", "ingresses", json!({"spec": {"rules": rules}}))[2].clone()
        };
        assert_eq!(hosts(&["a", "", "b", "c"]), "a,b,c");
        assert_eq!(hosts(&["a", "b", "c", "d", "e"]), "a,b,c + 2 more...");
        assert_eq!(hosts(&["a", "", "b", "c", ""]), "a,b,c + 2 more...");

        let slice = json!({"metadata": {"name": "web-abc"}, "addressType": "IPv4",
            "ports": [{"port": 80, "name": "http"}, {"name": "metrics"}, {}],
            "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3", "10.0.0.4"]}]});
        let cells = row("discovery.k8s.io", "endpointslices", slice);
        assert_eq!(cells[1..4], [json!("IPv4"), json!("80,metrics,*"), json!("10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...")]);
        let empty = row("discovery.k8s.io", "endpointslices", json!({}));
        assert_eq!(empty[2..4], [json!("<unset>"), json!("<unset>")]);
    }
}
