//! The proxy subresources: `services/NAME[:PORT]/proxy/PATH` and
//! `pods/NAME[:PORT]/proxy/PATH`, any method, as `kubectl proxy`, `kubectl get --raw`
//! and dashboards use them.
//!
//! Where a request goes is decided as kube-apiserver decides it
//! (`ResourceLocation` of services and pods): `[SCHEME:]NAME[:PORT]`, with SCHEME
//! `http` (default) or `https`. For a Service, a port number is looked up among its
//! ports and replaced by that port's name, and a ready endpoint with that port name
//! is picked at random from its Endpoints (unnamed port: the empty name). For a
//! pod, the port defaults to its first declared container port, then to the
//! scheme's. The connection is made with [`crate::network::dial`].
//!
//! The request is streamed both ways (bodies are never read whole), query string
//! kept, hop-by-hop headers dropped each way, the caller's credentials
//! (`Authorization`, impersonation) not passed on, `X-Forwarded-For` and
//! `X-Forwarded-Uri` added; the backend's CORS headers are dropped and a redirect to
//! itself comes back under the proxy path, as the apiserver's proxy transport does.
//! Upgrades (WebSocket) pass through. Not done: rewriting links inside HTML bodies.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri, header};
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use serde_json::Value;

use super::body::{self, Body};
use crate::network::{self, DialError};
use crate::rest::{ApiError, Rest};

/// The verb a proxy request is authorized as.
pub fn verb(method: &Method) -> &'static str {
    match *method {
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "get",
    }
}

/// Where a proxied request goes.
struct Backend {
    pod: String,
    ip: String,
    port: String,
    https: bool,
}

/// Serves `kind` (`services` or `pods`) `id` `/proxy…` in namespace `ns`.
pub async fn serve(rest: &Rest, req: Request<super::body::RequestBody>, ns: &str, kind: &str, id: &str) -> Result<Response<Body>, ApiError> {
    let backend = if kind == "services" { locate_service(rest, ns, id)? } else { locate_pod(rest, ns, id)? };
    let raw_path = req.uri().path().to_string();
    let path = proxied_path(&raw_path);
    if path.is_empty() && matches!(*req.method(), Method::GET | Method::HEAD) {
        // The apiserver's redirect of a proxy root without its slash.
        let query = req.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
        let mut resp = Response::new(body::full(Bytes::new()));
        *resp.status_mut() = StatusCode::MOVED_PERMANENTLY;
        resp.headers_mut().insert(header::LOCATION, header_value(&format!("{raw_path}/{query}")));
        return Ok(resp);
    }
    let prefix = raw_path.strip_suffix(proxied_path_raw(&raw_path)).unwrap_or(&raw_path).to_string();
    let port: u16 = match backend.port.as_str() {
        "" if backend.https => 443,
        "" => 80,
        p => p.parse().map_err(|_| unreachable_backend(format!("dial tcp: lookup tcp/{p}: unknown port")))?,
    };
    let conn = network::dial(rest, ns, &backend.pod, port).await.map_err(|e| unreachable_backend(dial_error(&backend.ip, port, &e)))?;
    forward(req, conn, &backend, &format!("{}:{port}", backend.ip), &prefix, if path.is_empty() { "/".into() } else { path }).await
}

/// `[SCHEME:]NAME[:PORT]`, as `SplitSchemeNamePort` splits it.
fn split_scheme_name_port(id: &str) -> Option<(bool, &str, &str)> {
    let parts: Vec<&str> = id.split(':').collect();
    let (scheme, name, port) = match parts.as_slice() {
        [name] => ("", *name, ""),
        [name, port] => ("", *name, *port),
        [scheme, name, port] => (*scheme, *name, *port),
        _ => return None,
    };
    (!name.is_empty() && matches!(scheme, "" | "http" | "https")).then_some((scheme == "https", name, port))
}

fn locate_service(rest: &Rest, ns: &str, id: &str) -> Result<Backend, ApiError> {
    let (https, name, port) = split_scheme_name_port(id).ok_or_else(|| ApiError::bad_request(format!("invalid service request {id:?}")))?;
    let get = |plural: &str| {
        let info = rest.catalogue.find("", "v1", plural).ok_or_else(|| ApiError::internal(format!("{plural} are not served")))?;
        rest.get(&info, Some(ns), name)
    };
    let unavailable = |message: String| ApiError::new(503, "ServiceUnavailable", message);
    // A port number stands for the Service port's name.
    let port_name = match port.parse::<i64>() {
        Ok(number) => {
            let service = get("services")?;
            let ports = service["spec"]["ports"].as_array().cloned().unwrap_or_default();
            let found = ports.iter().find(|p| p["port"].as_i64() == Some(number));
            let found = found.ok_or_else(|| unavailable(format!("no service port {number} found for service {name:?}")))?;
            found["name"].as_str().unwrap_or_default().to_string()
        }
        Err(_) => port.to_string(),
    };
    pick_endpoint(rest, ns, name, id, &port_name, https, &get("endpoints")?)
}

/// A ready address of `endpoints` with a port named `port`, that is a pod with that IP.
fn pick_endpoint(rest: &Rest, ns: &str, name: &str, id: &str, port: &str, https: bool, endpoints: &Value) -> Result<Backend, ApiError> {
    let unavailable = |what: &str| ApiError::new(503, "ServiceUnavailable", format!("no endpoints available for service {what:?}"));
    let subsets = endpoints["subsets"].as_array().cloned().unwrap_or_default();
    if subsets.is_empty() {
        return Err(unavailable(name));
    }
    let start = rand::random_range(0..subsets.len());
    for subset in subsets.iter().cycle().skip(start).take(subsets.len()) {
        let addresses = subset["addresses"].as_array().cloned().unwrap_or_default();
        let Some(number) =
            subset["ports"].as_array().into_iter().flatten().find(|p| p["name"].as_str().unwrap_or_default() == port).and_then(|p| p["port"].as_u64())
        else {
            continue;
        };
        if addresses.is_empty() {
            continue;
        }
        let first = rand::random_range(0..addresses.len());
        for address in addresses.iter().cycle().skip(first).take(addresses.len()) {
            let ip = address["ip"].as_str().unwrap_or_default();
            let target = &address["targetRef"];
            let pod = target["name"].as_str().filter(|_| target["kind"] == "Pod" && target["namespace"].as_str().is_none_or(|n| n == ns));
            let Some(pod) = pod.and_then(|p| network::pod(rest, ns, p)).filter(|p| pod_ips(p).iter().any(|i| i == ip)) else { continue };
            let pod = pod["metadata"]["name"].as_str().unwrap_or_default().to_string();
            return Ok(Backend { pod, ip: ip.to_string(), port: number.to_string(), https });
        }
    }
    Err(unavailable(id))
}

fn locate_pod(rest: &Rest, ns: &str, id: &str) -> Result<Backend, ApiError> {
    let (https, name, port) = split_scheme_name_port(id).ok_or_else(|| ApiError::bad_request(format!("invalid pod request {id:?}")))?;
    let info = rest.catalogue.find("", "v1", "pods").ok_or_else(|| ApiError::internal("pods are not served"))?;
    let pod = rest.get(&info, Some(ns), name)?;
    let port = match port {
        "" => pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|c| c["ports"].as_array()?.first()?["containerPort"].as_u64())
            .map(|p| p.to_string())
            .unwrap_or_default(),
        port => port.to_string(),
    };
    let ip = pod_ips(&pod).into_iter().next().unwrap_or_default();
    // Go's IsGlobalUnicast.
    let global = match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => !(v4.is_unspecified() || v4.is_loopback() || v4.is_multicast() || v4.is_link_local() || v4.is_broadcast()),
        Ok(std::net::IpAddr::V6(v6)) => !(v6.is_unspecified() || v6.is_loopback() || v6.is_multicast() || v6.segments()[0] & 0xffc0 == 0xfe80),
        Err(_) => false,
    };
    if !global {
        return Err(ApiError::bad_request("address not allowed"));
    }
    Ok(Backend { pod: name.to_string(), ip, port, https })
}

fn pod_ips(pod: &Value) -> Vec<String> {
    let listed = pod["status"]["podIPs"].as_array().into_iter().flatten().filter_map(|p| p["ip"].as_str()).map(str::to_string);
    let ips: Vec<String> = listed.collect();
    if ips.is_empty() { pod["status"]["podIP"].as_str().map(str::to_string).into_iter().collect() } else { ips }
}

/// What follows `/proxy` in the raw request path ("" or "/…"), still encoded.
fn proxied_path_raw(path: &str) -> &str {
    let mut rest = path;
    // api / v1 / namespaces / NS / KIND / ID / proxy
    for _ in 0..7 {
        rest = rest.trim_start_matches('/');
        rest = &rest[rest.find('/').unwrap_or(rest.len())..];
    }
    rest
}

/// The path to ask the backend for: `.` and `..` resolved as Go's `path.Join` does,
/// a trailing slash kept; "" when nothing follows `/proxy`.
fn proxied_path(path: &str) -> String {
    let raw = proxied_path_raw(path);
    let mut segments: Vec<&str> = Vec::new();
    for segment in raw.split('/') {
        match segment {
            "" | "." => {}
            ".." => drop(segments.pop()),
            s => segments.push(s),
        }
    }
    if raw.is_empty() {
        return String::new();
    }
    let mut joined = format!("/{}", segments.join("/"));
    if raw.ends_with('/') && !joined.ends_with('/') {
        joined.push('/');
    }
    joined
}

fn unreachable_backend(cause: String) -> ApiError {
    ApiError::new(503, "ServiceUnavailable", format!("error trying to reach service: {cause}"))
}

fn dial_error(ip: &str, port: u16, err: &DialError) -> String {
    match err {
        DialError::Refused { .. } | DialError::NotRunning { .. } | DialError::NoPod(_) => format!("dial tcp {ip}:{port}: connect: connection refused"),
        DialError::Other(message) => message.clone(),
    }
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("/"))
}

/// Headers that describe one hop, never passed on (RFC 9110 §7.6.1), plus those the
/// `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for name in named {
        if !(keep_upgrade && name == header::UPGRADE) {
            headers.remove(name);
        }
    }
    for name in ["keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding"] {
        headers.remove(name);
    }
    if !keep_upgrade {
        headers.remove(header::CONNECTION);
        headers.remove(header::UPGRADE);
    }
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.get_all(header::CONNECTION).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

async fn forward(
    mut req: Request<super::body::RequestBody>,
    conn: network::Connection,
    backend: &Backend,
    host: &str,
    prefix: &str,
    path: String,
) -> Result<Response<Body>, ApiError> {
    let upgrade = is_upgrade(req.headers()) && req.version() == http::Version::HTTP_11;
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let (mut parts, incoming) = req.into_parts();
    let path_and_query = match parts.uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.clone(),
    };
    let forwarded_uri = format!("{prefix}{path}");
    let mut headers = std::mem::take(&mut parts.headers);
    strip_hop_by_hop(&mut headers, upgrade);
    headers.remove(header::AUTHORIZATION);
    let impersonation: Vec<HeaderName> = headers.keys().filter(|n| n.as_str().starts_with("impersonate-")).cloned().collect();
    impersonation.into_iter().for_each(|n| drop(headers.remove(n)));
    if !headers.contains_key(header::HOST) {
        let authority = parts.uri.authority().map(|a| a.to_string()).unwrap_or_else(|| host.to_string());
        headers.insert(header::HOST, header_value(&authority));
    }
    let forwarded_for = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prior) => format!("{prior}, 127.0.0.1"),
        None => "127.0.0.1".to_string(),
    };
    headers.insert("x-forwarded-for", header_value(&forwarded_for));
    headers.insert("x-forwarded-uri", header_value(&forwarded_uri));
    let sent_host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let mut out = Request::new(incoming);
    *out.method_mut() = parts.method.clone();
    *out.uri_mut() = path_and_query.parse::<Uri>().map_err(|e| ApiError::bad_request(format!("invalid proxy path: {e}")))?;
    *out.headers_mut() = headers;

    let io = if backend.https { tls(conn, &backend.ip).await? } else { conn };
    let (mut sender, connection) =
        hyper::client::conn::http1::Builder::new().handshake(TokioIo::new(io)).await.map_err(|e| unreachable_backend(e.to_string()))?;
    tokio::spawn(connection.with_upgrades());
    let mut resp = sender.send_request(out).await.map_err(|e| unreachable_backend(e.to_string()))?;

    if resp.status() == StatusCode::SWITCHING_PROTOCOLS
        && let Some(client_upgrade) = client_upgrade
    {
        let backend_upgrade = hyper::upgrade::on(&mut resp);
        tokio::spawn(async move {
            if let (Ok(client), Ok(backend)) = tokio::join!(client_upgrade, backend_upgrade) {
                let _ = tokio::io::copy_bidirectional(&mut TokioIo::new(client), &mut TokioIo::new(backend)).await;
            }
        });
        let (parts, _) = resp.into_parts();
        return Ok(Response::from_parts(parts, body::full(Bytes::new())));
    }
    let (mut parts, incoming) = resp.into_parts();
    strip_hop_by_hop(&mut parts.headers, false);
    for cors in ["access-control-allow-credentials", "access-control-allow-headers", "access-control-allow-methods", "access-control-allow-origin"] {
        parts.headers.remove(cors);
    }
    if let Some(location) = parts.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()) {
        let rewritten = rewrite_location(location, host, &sent_host, prefix);
        parts.headers.insert(header::LOCATION, header_value(&rewritten));
    }
    Ok(Response::from_parts(parts, Relay(incoming).boxed_unsync()))
}

/// A backend's redirect to a path on itself, as seen through the proxy (the
/// apiserver's `rewriteURL`): other hosts and relative paths are left alone.
fn rewrite_location(location: &str, backend_host: &str, request_host: &str, prefix: &str) -> String {
    let Ok(uri) = location.parse::<Uri>() else { return location.to_string() };
    let host = uri.authority().map(|a| a.as_str()).unwrap_or_default();
    let different_host = !host.is_empty() && host != backend_host && host != request_host;
    let path = uri.path();
    if different_host || !path.starts_with('/') {
        return location.to_string();
    }
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    if path.starts_with(prefix) {
        return format!("{path}{query}");
    }
    format!("{}{path}{query}", prefix.trim_end_matches('/'))
}

/// TLS to an `https:` backend, without verifying its certificate — as the
/// apiserver's proxy transport does (pods serve whatever certificate they have).
async fn tls(conn: network::Connection, ip: &str) -> Result<network::Connection, ApiError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ApiError::internal(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(ip.to_string()).map_err(|e| unreachable_backend(e.to_string()))?;
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, conn).await.map_err(|e| unreachable_backend(e.to_string()))?;
    Ok(Box::pin(stream))
}

#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The backend's body, streamed. A backend that fails mid-way ends the body early
/// (with a Content-Length, the client sees it cut).
struct Relay(Incoming);

impl hyper::body::Body for Relay {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match ready!(Pin::new(&mut self.0).poll_frame(cx)) {
            Some(Ok(frame)) => Poll::Ready(Some(Ok(frame))),
            Some(Err(_)) | None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.0.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_split_as_the_apiserver_splits_them() {
        assert_eq!(split_scheme_name_port("web"), Some((false, "web", "")));
        assert_eq!(split_scheme_name_port("web:http"), Some((false, "web", "http")));
        assert_eq!(split_scheme_name_port("https:web:443"), Some((true, "web", "443")));
        assert_eq!(split_scheme_name_port("http:web:"), Some((false, "web", "")));
        assert_eq!(split_scheme_name_port("ftp:web:21"), None);
        assert_eq!(split_scheme_name_port(":80"), None);
        assert_eq!(split_scheme_name_port("a:b:c:d"), None);
    }

    #[test]
    fn the_proxied_path_is_what_follows_proxy_cleaned() {
        let p = |s: &str| proxied_path(s);
        assert_eq!(p("/api/v1/namespaces/default/services/web:80/proxy"), "");
        assert_eq!(p("/api/v1/namespaces/default/services/web:80/proxy/"), "/");
        assert_eq!(p("/api/v1/namespaces/default/services/web/proxy/a/b/"), "/a/b/");
        assert_eq!(p("/api/v1/namespaces/default/pods/web/proxy/a/../../b%20c"), "/b%20c");
        assert_eq!(proxied_path_raw("/api/v1/namespaces/default/pods/web/proxy/x/y"), "/x/y");
    }

    #[test]
    fn redirects_to_the_backend_come_back_under_the_proxy_path() {
        let prefix = "/api/v1/namespaces/default/services/web:80/proxy";
        assert_eq!(rewrite_location("/login?next=1", "10.244.0.5:80", "", prefix), format!("{prefix}/login?next=1"));
        assert_eq!(rewrite_location("http://10.244.0.5:80/x", "10.244.0.5:80", "", prefix), format!("{prefix}/x"));
        assert_eq!(rewrite_location("https://example.org/x", "10.244.0.5:80", "", prefix), "https://example.org/x");
        assert_eq!(rewrite_location("relative/x", "10.244.0.5:80", "", prefix), "relative/x");
        assert_eq!(rewrite_location(&format!("{prefix}/y"), "10.244.0.5:80", "", prefix), format!("{prefix}/y"));
    }

    #[test]
    fn hop_by_hop_headers_are_dropped() {
        let mut h = HeaderMap::new();
        for (n, v) in [("connection", "keep-alive, x-private"), ("keep-alive", "5"), ("x-private", "1"), ("transfer-encoding", "chunked"), ("x-kept", "1")] {
            h.insert(n, HeaderValue::from_static(v));
        }
        strip_hop_by_hop(&mut h, false);
        assert_eq!(h.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["x-kept"]);
    }
}
