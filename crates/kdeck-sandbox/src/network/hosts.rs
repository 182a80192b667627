//! What a pod's `/etc/hosts` and `/etc/resolv.conf` say inside its network view.
//!
//! `hosts` is the kubelet's (localhost, the pod's IP with its hostname — and its
//! `hostname.subdomain.NS.svc.cluster.local` name —, hostAliases), followed by
//! the names cluster DNS would answer: every Service's ClusterIP as `NAME.NS`,
//! `NAME.NS.svc` and `NAME.NS.svc.cluster.local` (and `NAME` alone in the pod's
//! own namespace, as the search path makes it), and for a headless Service its
//! pods' IPs, under the Service's name and as `HOSTNAME.NAME…` for pods whose
//! hostname and subdomain put them there (a StatefulSet's `postgres-0.postgres`).
//! The sandbox has no DNS server: these lines are how names resolve, and the
//! sandbox rewrites them while the pod lives (see `network::services`).

use serde_json::Value;

/// A name cluster DNS would answer for, as the sandbox records it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Name {
    pub ip: String,
    pub namespace: String,
    /// `backend` for a Service, `postgres-0.postgres` for a pod of a headless one.
    pub base: String,
}

pub const DOMAIN: &str = "cluster.local";

/// The pod's hostname: `spec.hostname`, else its name.
pub fn hostname_of(pod: &Value) -> &str {
    pod["spec"]["hostname"].as_str().filter(|h| !h.is_empty()).unwrap_or_else(|| pod["metadata"]["name"].as_str().unwrap_or_default())
}

/// The kubelet's part of the hosts file.
pub fn pod_part(pod: &Value, hostname: &str) -> String {
    let mut hosts = String::from(
        "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n",
    );
    if let Some(ip) = pod["status"]["podIP"].as_str().filter(|ip| !ip.is_empty()) {
        let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
        match pod["spec"]["subdomain"].as_str().filter(|s| !s.is_empty()) {
            Some(sub) => hosts.push_str(&format!("{ip}\t{hostname}.{sub}.{ns}.svc.{DOMAIN}\t{hostname}\n")),
            None => hosts.push_str(&format!("{ip}\t{hostname}\n")),
        }
    }
    let aliases = pod["spec"]["hostAliases"].as_array().cloned().unwrap_or_default();
    if !aliases.is_empty() {
        hosts.push_str("\n# Entries added by HostAliases.\n");
        for alias in aliases {
            let names: Vec<&str> = alias["hostnames"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            if let Some(ip) = alias["ip"].as_str() {
                hosts.push_str(&format!("{ip}\t{}\n", names.join("\t")));
            }
        }
    }
    hosts
}

/// The cluster's names as a pod of namespace `pod_ns` resolves them.
pub fn cluster_part(names: &[Name], pod_ns: &str) -> String {
    let mut out = String::from("\n# Services of the cluster (kept current by the sandbox: it has no DNS server).\n");
    for name in names {
        let Name { ip, namespace, base } = name;
        let short = if namespace == pod_ns { format!("{base}\t") } else { String::new() };
        out.push_str(&format!("{ip}\t{short}{base}.{namespace}\t{base}.{namespace}.svc\t{base}.{namespace}.svc.{DOMAIN}\n"));
    }
    out
}

/// The whole hosts file of `pod` in its view.
pub fn hosts(pod: &Value, hostname: &str, names: &[Name]) -> String {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    let mut out = pod_part(pod, hostname);
    out.push_str(&cluster_part(names, ns));
    out
}

/// The resolver's configuration: the cluster's search path, as the kubelet
/// writes it. There is no nameserver: names resolve through /etc/hosts only,
/// and nothing outside the sandbox is reachable.
pub fn resolv_conf(pod_ns: &str) -> String {
    format!("# The sandbox has no DNS server: cluster names resolve through /etc/hosts.\nsearch {pod_ns}.svc.{DOMAIN} svc.{DOMAIN} {DOMAIN}\noptions ndots:5\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_short_in_the_pods_namespace_and_qualified_everywhere() {
        let names = vec![
            Name { ip: "10.96.0.5".into(), namespace: "shop".into(), base: "backend".into() },
            Name { ip: "10.244.0.9".into(), namespace: "db".into(), base: "postgres-0.postgres".into() },
        ];
        let pod = json!({"metadata": {"name": "web", "namespace": "shop"}, "status": {"podIP": "10.244.0.3"}});
        let text = hosts(&pod, "web", &names);
        assert!(text.starts_with("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"), "{text}");
        assert!(text.contains("10.244.0.3\tweb\n"), "{text}");
        assert!(text.contains("10.96.0.5\tbackend\tbackend.shop\tbackend.shop.svc\tbackend.shop.svc.cluster.local\n"), "{text}");
        assert!(text.contains("10.244.0.9\tpostgres-0.postgres.db\tpostgres-0.postgres.db.svc\tpostgres-0.postgres.db.svc.cluster.local\n"), "{text}");
        assert_eq!(resolv_conf("shop").lines().nth(1), Some("search shop.svc.cluster.local svc.cluster.local cluster.local"));
    }

    #[test]
    fn a_pod_with_a_subdomain_gets_its_full_name() {
        let pod = json!({"metadata": {"name": "pg-0", "namespace": "db"}, "spec": {"subdomain": "pg"}, "status": {"podIP": "10.244.0.4"},
                         "hostAliases": []});
        assert!(pod_part(&pod, "pg-0").contains("10.244.0.4\tpg-0.pg.db.svc.cluster.local\tpg-0\n"));
    }
}
