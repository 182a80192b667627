//! Which backend answers a request, as ingress-nginx computes it from Ingresses
//! (its `createServers`, `updateServerLocations`, the path sort and nginx's own
//! `server_name`/`location` selection):
//!
//! - **Servers**: one per rule host, plus the catch-all (`_`) for rules without a
//!   host. A request's `Host` (lower-cased, port dropped) picks the server with
//!   that exact name, else a wildcard `*.example.com` server (one label, as
//!   ingress-nginx writes it: `^[\w-]+\.example\.com$`), else the catch-all.
//! - **Locations**: every server has a root location `/` — the default backend
//!   (404), or the `spec.defaultBackend` of the Ingress that defined the server —
//!   which a rule's `/` replaces. Ingresses are taken oldest first, and a path
//!   already defined on a server (same path and type) is not redefined.
//!   `Exact` is `location = /p`; `Prefix` `/p` becomes `location /p/` plus
//!   `location = /p` (unless an Exact `/p` exists); `ImplementationSpecific` is a
//!   plain nginx prefix `location /p` (so `/pizza` matches `/p`).
//! - **Regular expressions**: when any path of a server has
//!   `nginx.ingress.kubernetes.io/use-regex: "true"` or a `rewrite-target` other
//!   than the path itself, every location of that server, from whichever Ingress,
//!   becomes a case-insensitive regular expression `^<path>`, tried longest path
//!   first; the first that matches wins.
//! - Otherwise nginx's rule: an exact location, else the longest prefix.
//! - **Rewrite**: `rewrite-target` replaces the whole path with the target once
//!   the path's regular expression (case-insensitive, unanchored, as ingress-nginx
//!   writes `rewrite "(?i)<path>" <target> break;`) matched, its `$1`…`$9`
//!   substituted; the query string is kept.
//!
//! Paths are matched decoded and normalised (`%xx`, `//`, `.` and `..`) as nginx
//! does. Regular expressions are Rust's `regex` syntax, which is PCRE's without
//! look-around and back-references; a path that does not compile is skipped.

use std::cmp::Reverse;

use regex::Regex;
use serde_json::Value;

use crate::network::backend::ServicePort;

pub const USE_REGEX: &str = "nginx.ingress.kubernetes.io/use-regex";
pub const REWRITE_TARGET: &str = "nginx.ingress.kubernetes.io/rewrite-target";

/// Where a location sends requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The controller's default backend: 404.
    Default,
    Service {
        namespace: String,
        name: String,
        port: ServicePort,
    },
    /// A backend the sandbox does not serve (a `resource` backend), with why.
    Unsupported(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Exact,
    /// nginx's plain prefix (`location /p`): Prefix paths after their split, and ImplementationSpecific.
    Prefix,
}

#[derive(Debug)]
struct Location {
    path: String,
    kind: Kind,
    /// The rule's own type, for "the same path is defined once" (Prefix and its Exact twin differ).
    declared: String,
    rewrite: Option<String>,
    use_regex: bool,
    backend: Backend,
    /// Filled when the server enforces regular expressions.
    regex: Option<Regex>,
    rewrite_regex: Option<Regex>,
}

#[derive(Debug)]
struct Server {
    host: String,
    locations: Vec<Location>,
    enforce_regex: bool,
}

/// Every served Ingress's rules, ready to match requests.
#[derive(Debug, Default)]
pub struct Routes {
    servers: Vec<Server>,
    /// Paths that were skipped, with why (a regular expression Rust cannot compile).
    pub skipped: Vec<String>,
}

/// What a request matched.
#[derive(Debug, PartialEq, Eq)]
pub struct Route {
    pub backend: Backend,
    /// The path (and query) to send upstream, if a rewrite changed it.
    pub rewritten: Option<String>,
}

fn backend_of(namespace: &str, backend: &Value) -> Backend {
    let service = &backend["service"];
    if let Some(name) = service["name"].as_str() {
        let port = match (service["port"]["number"].as_u64().and_then(|n| u16::try_from(n).ok()), service["port"]["name"].as_str()) {
            (Some(n), _) => ServicePort::Number(n),
            (None, Some(name)) => ServicePort::Name(name.to_string()),
            (None, None) => return Backend::Unsupported(format!("the backend service {name:?} names no port")),
        };
        return Backend::Service { namespace: namespace.to_string(), name: name.to_string(), port };
    }
    if backend["resource"].is_object() {
        return Backend::Unsupported("resource backends are not served by the sandbox's ingress".into());
    }
    Backend::Default
}

impl Routes {
    /// The routes of `ingresses` (those the ingress address serves), oldest first.
    pub fn build(ingresses: &[Value]) -> Routes {
        let mut ingresses: Vec<&Value> = ingresses.iter().collect();
        ingresses.sort_by_key(|i| {
            (
                i["metadata"]["creationTimestamp"].as_str().unwrap_or_default().to_string(),
                i["metadata"]["namespace"].as_str().unwrap_or_default().to_string(),
                i["metadata"]["name"].as_str().unwrap_or_default().to_string(),
            )
        });
        let mut servers: Vec<Server> = vec![Server { host: "_".into(), locations: vec![root(Backend::Default)], enforce_regex: false }];
        // The catch-all's default: the oldest Ingress with a default backend and no rules.
        if let Some(ingress) = ingresses.iter().find(|i| i["spec"]["defaultBackend"].is_object() && i["spec"]["rules"].as_array().is_none_or(|r| r.is_empty()))
        {
            servers[0].locations[0].backend = backend_of(ingress["metadata"]["namespace"].as_str().unwrap_or_default(), &ingress["spec"]["defaultBackend"]);
        }
        for ingress in &ingresses {
            let namespace = ingress["metadata"]["namespace"].as_str().unwrap_or_default();
            let annotations = &ingress["metadata"]["annotations"];
            let use_regex = annotations[USE_REGEX] == "true";
            let rewrite = annotations[REWRITE_TARGET].as_str().filter(|t| !t.is_empty()).map(str::to_string);
            let default = match &ingress["spec"]["defaultBackend"] {
                Value::Object(_) => backend_of(namespace, &ingress["spec"]["defaultBackend"]),
                _ => Backend::Default,
            };
            for rule in ingress["spec"]["rules"].as_array().into_iter().flatten() {
                let host = rule["host"].as_str().filter(|h| !h.is_empty()).map(str::to_ascii_lowercase).unwrap_or_else(|| "_".into());
                let index = match servers.iter().position(|s| s.host == host) {
                    Some(i) => i,
                    None => {
                        servers.push(Server { host: host.clone(), locations: vec![root(default.clone())], enforce_regex: false });
                        servers.len() - 1
                    }
                };
                let server = &mut servers[index];
                for path in rule["http"]["paths"].as_array().into_iter().flatten() {
                    let path_text = path["path"].as_str().filter(|p| !p.is_empty()).unwrap_or("/").to_string();
                    let declared = path["pathType"].as_str().unwrap_or("ImplementationSpecific").to_string();
                    let backend = backend_of(namespace, &path["backend"]);
                    let location = Location {
                        kind: if declared == "Exact" { Kind::Exact } else { Kind::Prefix },
                        declared: declared.clone(),
                        rewrite: rewrite.clone().filter(|t| *t != path_text),
                        use_regex,
                        backend,
                        path: path_text,
                        regex: None,
                        rewrite_regex: None,
                    };
                    // A rule's "/" replaces the server's default root; a path defined twice keeps the first.
                    let default_root = server.locations.iter().position(|l| l.declared.is_empty());
                    match default_root {
                        Some(i) if location.path == "/" && location.kind == Kind::Prefix => server.locations[i] = location,
                        _ if server.locations.iter().any(|l| l.path == location.path && l.declared == location.declared) => {}
                        _ => server.locations.push(location),
                    }
                }
            }
        }
        let mut skipped = Vec::new();
        for server in &mut servers {
            finish(server, &mut skipped);
        }
        Routes { servers, skipped }
    }

    /// The route of a request for `host` and `path_and_query`.
    pub fn find(&self, host: &str, path_and_query: &str) -> Route {
        let host = host_name(host);
        let server = self
            .servers
            .iter()
            .find(|s| s.host == host)
            .or_else(|| self.servers.iter().find(|s| s.host.strip_prefix("*.").is_some_and(|suffix| wildcard_matches(suffix, &host))))
            .or_else(|| self.servers.iter().find(|s| s.host == "_"));
        let Some(server) = server else { return Route { backend: Backend::Default, rewritten: None } };
        let (raw_path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        let path = normalize(raw_path);
        let location = if server.enforce_regex {
            server.locations.iter().find(|l| l.regex.as_ref().is_some_and(|r| r.is_match(&path)))
        } else {
            server
                .locations
                .iter()
                .find(|l| l.kind == Kind::Exact && l.path == path)
                .or_else(|| server.locations.iter().filter(|l| l.kind == Kind::Prefix && path.starts_with(&l.path)).max_by_key(|l| l.path.len()))
        };
        let Some(location) = location else { return Route { backend: Backend::Default, rewritten: None } };
        let rewritten = match (&location.rewrite, &location.rewrite_regex) {
            (Some(target), Some(regex)) => regex.captures(&path).map(|captures| {
                let mut new_path = substitute(target, &captures);
                if !new_path.starts_with('/') {
                    new_path.insert(0, '/');
                }
                let mut uri = escape(&new_path);
                if let Some(q) = query {
                    uri.push(if uri.contains('?') { '&' } else { '?' });
                    uri.push_str(q);
                }
                uri
            }),
            _ => None,
        };
        Route { backend: location.backend.clone(), rewritten }
    }
}

fn root(backend: Backend) -> Location {
    Location { path: "/".into(), kind: Kind::Prefix, declared: String::new(), rewrite: None, use_regex: false, backend, regex: None, rewrite_regex: None }
}

/// ingress-nginx's `updateServerLocations`, the regex decision and the path sort.
fn finish(server: &mut Server, skipped: &mut Vec<String>) {
    let exact: Vec<String> = server.locations.iter().filter(|l| l.kind == Kind::Exact).map(|l| l.path.clone()).collect();
    let mut twins = Vec::new();
    for location in &mut server.locations {
        if location.path == "/" || location.declared != "Prefix" || location.rewrite.is_some() || location.use_regex {
            continue;
        }
        let original = location.path.clone();
        if !original.ends_with('/') {
            location.path.push('/');
        }
        if !exact.contains(&original) {
            let mut twin = root(location.backend.clone());
            (twin.path, twin.kind, twin.declared) = (original, Kind::Exact, "Exact".into());
            twins.push(twin);
        }
    }
    server.locations.extend(twins);
    server.enforce_regex = server.locations.iter().any(|l| l.rewrite.is_some() || l.use_regex);
    // Sorted by path, descending, then (stably) by length, longest first.
    server.locations.sort_by(|a, b| b.path.cmp(&a.path));
    server.locations.sort_by_key(|l| Reverse(l.path.len()));
    if server.enforce_regex {
        let host = &server.host;
        server.locations.retain_mut(|l| {
            let anchored = Regex::new(&format!("(?i)^{}", l.path));
            let rewrite = l.rewrite.as_ref().map(|_| Regex::new(&format!("(?i){}", l.path)));
            match (anchored, rewrite) {
                (Ok(anchored), None) => {
                    l.regex = Some(anchored);
                    true
                }
                (Ok(anchored), Some(Ok(rewrite))) => {
                    (l.regex, l.rewrite_regex) = (Some(anchored), Some(rewrite));
                    true
                }
                (Err(e), _) | (_, Some(Err(e))) => {
                    skipped.push(format!("host {host}: path {:?} is not a regular expression the sandbox can use: {e}", l.path));
                    false
                }
            }
        });
    }
}

/// `Host: Example.com:8080` as `example.com`.
fn host_name(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    if host.starts_with('[') {
        return host.split(']').next().map(|h| format!("{h}]")).unwrap_or_default();
    }
    host.rsplit_once(':').filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit())).map(|(h, _)| h.to_string()).unwrap_or(host)
}

/// `*.suffix` matches one label (`[\w-]+`) before `.suffix`.
fn wildcard_matches(suffix: &str, host: &str) -> bool {
    host.strip_suffix(suffix)
        .and_then(|label| label.strip_suffix('.'))
        .is_some_and(|label| !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-'))
}

/// The path as nginx matches it: `%xx` decoded, `//` merged, `.` and `..` resolved.
fn normalize(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b)))
        {
            decoded.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        decoded.push(bytes[i]);
        i += 1;
    }
    let decoded = String::from_utf8_lossy(&decoded);
    let mut parts: Vec<&str> = Vec::new();
    for segment in decoded.split('/').skip(1) {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let trailing = decoded.len() > 1 && (decoded.ends_with('/') || decoded.ends_with("/.") || decoded.ends_with("/.."));
    let mut out = format!("/{}", parts.join("/"));
    if trailing && out != "/" {
        out.push('/');
    }
    out
}

/// `$1`…`$9` of `target` replaced by the captures.
fn substitute(target: &str, captures: &regex::Captures) -> String {
    let mut out = String::new();
    let mut chars = target.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$'
            && let Some(d) = chars.peek().and_then(|d| d.to_digit(10))
        {
            chars.next();
            out.push_str(captures.get(d as usize).map(|m| m.as_str()).unwrap_or_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A rewritten path escaped again for the request line, as nginx escapes it.
fn escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_graphic() && !matches!(b, b'%' | b'"' | b'#' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}') || b == b'?' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
