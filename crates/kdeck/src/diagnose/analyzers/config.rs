//! What a container reads from ConfigMaps and Secrets: references that do not
//! resolve (a missing object, a missing key), and values that send a dependency
//! to `localhost` while the dependency is a Service of the cluster.

use serde_json::Value;

use crate::diagnose::scene::{Scene, name, namespace};

/// Something a container reads: an env variable (literal or from a key), or a
/// whole ConfigMap/Secret (envFrom, a volume).
#[derive(Debug)]
pub struct Source<'a> {
    /// "ConfigMap" or "Secret"; "" for a literal value.
    pub kind: &'static str,
    pub object: &'a str,
    /// The key read, None for all of them.
    pub key: Option<&'a str>,
    /// The env variable it becomes, None for envFrom and volumes.
    pub variable: Option<&'a str>,
    pub optional: bool,
    /// A literal env value.
    pub literal: Option<&'a str>,
}

/// Every source a container reads, volumes of the pod included.
pub fn sources<'a>(pod: &'a Value, container: &'a Value) -> Vec<Source<'a>> {
    let mut out = Vec::new();
    let optional = |v: &Value| v["optional"].as_bool().unwrap_or(false);
    for env in container["env"].as_array().into_iter().flatten() {
        let variable = env["name"].as_str();
        let from = &env["valueFrom"];
        for (field, kind) in [("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")] {
            let r = &from[field];
            if let Some(object) = r["name"].as_str() {
                out.push(Source { kind, object, key: r["key"].as_str(), variable, optional: optional(r), literal: None });
            }
        }
        if let Some(value) = env["value"].as_str() {
            out.push(Source { kind: "", object: "", key: None, variable, optional: true, literal: Some(value) });
        }
    }
    for from in container["envFrom"].as_array().into_iter().flatten() {
        for (field, kind) in [("configMapRef", "ConfigMap"), ("secretRef", "Secret")] {
            if let Some(object) = from[field]["name"].as_str() {
                out.push(Source { kind, object, key: None, variable: None, optional: optional(&from[field]), literal: None });
            }
        }
    }
    let mounted: Vec<&str> = container["volumeMounts"].as_array().into_iter().flatten().filter_map(|m| m["name"].as_str()).collect();
    for volume in pod["spec"]["volumes"].as_array().into_iter().flatten().filter(|v| v["name"].as_str().is_some_and(|n| mounted.contains(&n))) {
        if let Some(object) = volume["configMap"]["name"].as_str() {
            out.push(Source { kind: "ConfigMap", object, key: None, variable: None, optional: optional(&volume["configMap"]), literal: None });
        }
        if let Some(object) = volume["secret"]["secretName"].as_str() {
            out.push(Source { kind: "Secret", object, key: None, variable: None, optional: optional(&volume["secret"]), literal: None });
        }
    }
    out
}

/// A reference that does not resolve: (the object, the key when the object exists
/// but lacks it). None when every reference resolves, or when the kind could not be read.
pub fn missing<'a>(scene: &Scene, pod: &Value, sources: &'a [Source<'a>]) -> Option<(&'a Source<'a>, bool)> {
    for source in sources.iter().filter(|s| !s.kind.is_empty() && !s.optional) {
        if scene.unreadable.iter().any(|u| u.starts_with(source.kind)) {
            continue;
        }
        match scene.get("", source.kind, namespace(pod), source.object) {
            None => return Some((source, false)),
            Some(obj) => {
                if let Some(key) = source.key
                    && !has_key(obj, key)
                {
                    return Some((source, true));
                }
            }
        }
    }
    None
}

fn has_key(obj: &Value, key: &str) -> bool {
    obj["data"].get(key).is_some() || obj["binaryData"].get(key).is_some() || obj["stringData"].get(key).is_some()
}

/// A value that points a dependency at this container's own loopback while the
/// dependency is a Service of the namespace.
#[derive(Debug)]
pub struct LocalhostDependency {
    /// "ConfigMap" (with its name) or "" for a literal env value.
    pub kind: &'static str,
    pub object: String,
    pub variable: String,
    /// The value with any credentials masked.
    pub value: String,
    pub service: String,
    pub port: u16,
}

/// The first value the container reads (literal env, or a ConfigMap key) that names
/// `localhost`/`127.0.0.1` with a port some Service of the namespace serves — or, with
/// no port, a URL scheme a Service is named after (`redis://localhost` and Service `redis`).
pub fn localhost_dependency(scene: &Scene, pod: &Value, container: &Value) -> Option<LocalhostDependency> {
    let ns = namespace(pod);
    let services: Vec<&Value> = scene.in_namespace("", "Service", ns).filter(|s| name(s) != "kubernetes").collect();
    let values = read_values(scene, pod, container);
    for (kind, object, variable, value) in values {
        let Some((scheme, port)) = loopback_target(&value) else { continue };
        let serves = |svc: &&&Value| match port {
            Some(port) => svc["spec"]["ports"].as_array().into_iter().flatten().any(|p| p["port"].as_u64() == Some(u64::from(port))),
            None => !scheme.is_empty() && name(svc).contains(scheme.as_str()),
        };
        if let Some(service) = services.iter().find(serves) {
            let port = port.or_else(|| service["spec"]["ports"][0]["port"].as_u64().and_then(|p| u16::try_from(p).ok())).unwrap_or(0);
            return Some(LocalhostDependency {
                kind,
                object,
                variable,
                value: crate::redact::url_credentials(&value),
                service: name(service).to_string(),
                port,
            });
        }
    }
    None
}

/// A value naming, as the host of a URL or `host:port`, a Service that does not
/// exist: a bare name in the pod's namespace, or `NAME.NAMESPACE[.svc[.cluster.local]]`
/// for a namespace of the scope.
#[derive(Debug)]
pub struct UnknownService {
    pub named: NamedService,
    /// The Services the named namespace has.
    pub existing: Vec<String>,
}

pub fn unknown_service(scene: &Scene, pod: &Value, container: &Value) -> Option<UnknownService> {
    let named = services_named(scene, pod, container).into_iter().find(|n| scene.get("", "Service", &n.namespace, &n.service).is_none())?;
    let existing: Vec<String> = scene.in_namespace("", "Service", &named.namespace).map(|s| name(s).to_string()).collect();
    Some(UnknownService { named, existing })
}

/// A value a container reads that names a Service (as the host of a URL): the
/// Service may or may not exist.
#[derive(Debug)]
pub struct NamedService {
    /// "ConfigMap" (with its name) or "" for a literal env value.
    pub kind: &'static str,
    pub object: String,
    pub variable: String,
    /// The value with any credentials masked.
    pub value: String,
    pub service: String,
    pub namespace: String,
    /// The port the URL names, if any.
    pub port: Option<u16>,
}

/// Every value the container reads whose URL host is a Service name: a bare name in
/// the pod's namespace, or `NAME.NAMESPACE[.svc[.cluster.local]]` for a namespace of the scope.
pub fn services_named(scene: &Scene, pod: &Value, container: &Value) -> Vec<NamedService> {
    let mut out = Vec::new();
    for (kind, object, variable, value) in read_values(scene, pod, container) {
        let Some((host, port)) = host_port_of(&value) else { continue };
        let parts: Vec<&str> = host.split('.').collect();
        let (service, ns) = match parts.as_slice() {
            [name] => (*name, namespace(pod)),
            [name, ns] | [name, ns, "svc"] | [name, ns, "svc", "cluster", "local"] if scene.namespaces.iter().any(|n| n == ns) => (*name, *ns),
            _ => continue,
        };
        if matches!(service, "localhost" | "") || service.parse::<std::net::Ipv4Addr>().is_ok() {
            continue;
        }
        out.push(NamedService {
            kind,
            object,
            variable,
            value: crate::redact::url_credentials(&value),
            service: service.to_string(),
            namespace: ns.to_string(),
            port,
        });
    }
    out
}

/// The values a container reads (literal env, ConfigMap keys) as (kind, object, variable, value).
fn read_values(scene: &Scene, pod: &Value, container: &Value) -> Vec<(&'static str, String, String, String)> {
    let ns = namespace(pod);
    let mut values = Vec::new();
    for source in sources(pod, container) {
        match (source.kind, source.literal) {
            ("", Some(value)) => values.push(("", String::new(), source.variable.unwrap_or_default().to_string(), value.to_string())),
            ("ConfigMap", _) => {
                let Some(cm) = scene.get("", "ConfigMap", ns, source.object) else { continue };
                for (key, value) in cm["data"].as_object().into_iter().flatten() {
                    if source.key.is_none_or(|k| k == key) {
                        let variable = source.variable.unwrap_or(key).to_string();
                        values.push(("ConfigMap", source.object.to_string(), variable, value.as_str().unwrap_or_default().to_string()));
                    }
                }
            }
            _ => {}
        }
    }
    values
}

/// The host and port of `scheme://[user[:pw]@]host[:port][/…]`; only URLs with a
/// scheme (a bare word could be anything).
fn host_port_of(value: &str) -> Option<(&str, Option<u16>)> {
    let (_, rest) = value.trim().split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) => (host, port.parse::<u16>().ok()),
        None => (host_port, None),
    };
    (!host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')).then_some((host, port))
}

/// (URL scheme or "", port) when the value names the loopback host: `postgres://u:p@localhost:5432/db`,
/// `localhost:6379`, `http://127.0.0.1:8000`.
fn loopback_target(value: &str) -> Option<(String, Option<u16>)> {
    let value = value.trim();
    let (scheme, rest) = value.split_once("://").map_or(("", value), |(s, r)| (s, r));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) => (host, port.parse::<u16>().ok()),
        None => (host_port, None),
    };
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1");
    let scheme = scheme.split('+').next().unwrap_or_default().to_ascii_lowercase();
    let scheme = match scheme.as_str() {
        "postgresql" => "postgres".to_string(),
        "rediss" => "redis".to_string(),
        _ => scheme,
    };
    (loopback && (port.is_some() || !scheme.is_empty())).then_some((scheme, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_values_are_told_from_others() {
        assert_eq!(loopback_target("postgres://app:pw@localhost:5432/app"), Some(("postgres".into(), Some(5432))));
        assert_eq!(loopback_target("localhost:6379"), Some(("".into(), Some(6379))));
        assert_eq!(loopback_target("redis://127.0.0.1"), Some(("redis".into(), None)));
        assert_eq!(loopback_target("postgresql+asyncpg://db@localhost/app"), Some(("postgres".into(), None)));
        assert_eq!(loopback_target("postgres://postgres.demo:5432/app"), None);
        assert_eq!(loopback_target("localhost"), None, "a bare word names no dependency");
        assert_eq!(loopback_target("info"), None);
    }

    #[test]
    fn hosts_are_read_from_urls_only() {
        assert_eq!(host_port_of("postgres://app:pw@postgres-db:5432/app"), Some(("postgres-db", Some(5432))));
        assert_eq!(host_port_of("http://backend.shop.svc.cluster.local:8000/x"), Some(("backend.shop.svc.cluster.local", Some(8000))));
        assert_eq!(host_port_of("http://api/v1"), Some(("api", None)));
        assert_eq!(host_port_of("backend:8000"), None, "no scheme: not taken as a URL");
        assert_eq!(host_port_of("info"), None);
    }
}
