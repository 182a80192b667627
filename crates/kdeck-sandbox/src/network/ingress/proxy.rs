//! Passing a request on, as ingress-nginx's location does:
//! - no matching rule: the default backend's `404 Not Found` page (nginx's);
//! - a backend Service that does not exist, has no such port or no ready
//!   endpoint: `503 Service Temporarily Unavailable` (nginx's page);
//! - otherwise the request goes to a ready endpoint (pod and targetPort, through
//!   [`crate::network::dial`]) over HTTP/1.1, bodies streamed both ways, with the
//!   headers ingress-nginx sets: `Host` as the client sent it, `X-Request-ID`,
//!   `X-Real-IP` and `X-Forwarded-For` (the client's address; one that came with
//!   the request is passed as `X-Original-Forwarded-For`), `X-Forwarded-Host`,
//!   `X-Forwarded-Port`, `X-Forwarded-Proto`/`X-Forwarded-Scheme`/`X-Scheme`
//!   (`http`); hop-by-hop headers and `Proxy` are dropped. WebSocket and other
//!   upgrades are passed through. The answer's `Server` is `nginx`, as nginx
//!   hides the upstream's;
//! - an endpoint that cannot be reached: `502 Bad Gateway`; none within 5 s, or no
//!   answer within 60 s: `504 Gateway Time-out` (ingress-nginx's default
//!   `proxy-connect-timeout` and `proxy-read-timeout`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use super::routes::{Backend, Routes};
use crate::network::backend::{self, ConnectError};
use crate::rest::Rest;

pub type Body = BoxBody<Bytes, hyper::Error>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// nginx's own error page for `status`.
pub fn page(status: u16) -> http::Response<Body> {
    let title = match status {
        400 => "400 Bad Request",
        404 => "404 Not Found",
        500 => "500 Internal Server Error",
        502 => "502 Bad Gateway",
        504 => "504 Gateway Time-out",
        _ => "503 Service Temporarily Unavailable",
    };
    let html = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    let mut response = http::Response::new(Full::new(Bytes::from(html)).map_err(|never: Infallible| match never {}).boxed());
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::SERVICE_UNAVAILABLE);
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    response.headers_mut().insert(header::SERVER, HeaderValue::from_static("nginx"));
    response
}

/// Headers that belong to one connection, never passed on.
const HOP_BY_HOP: [&str; 8] = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "proxy"];

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<String> =
        headers.get_all(header::CONNECTION).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(|v| v.trim().to_ascii_lowercase()).collect();
    for name in named.iter().map(String::as_str).chain(HOP_BY_HOP) {
        if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
            headers.remove(name);
        }
    }
}

fn wants_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers.get_all(header::CONNECTION).iter().filter_map(|v| v.to_str().ok()).any(|v| v.to_ascii_lowercase().contains("upgrade"))
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

pub async fn handle(rest: &Rest, routes: &Routes, mut request: http::Request<Incoming>, client: SocketAddr, local: SocketAddr) -> http::Response<Body> {
    let host =
        request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_string).or_else(|| request.uri().authority().map(|a| a.to_string()));
    let Some(host) = host else { return page(400) };
    let path_and_query = request.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
    let route = routes.find(&host, &path_and_query);
    let (namespace, name, port) = match route.backend {
        Backend::Default => return page(404),
        Backend::Unsupported(_) => return page(503),
        Backend::Service { namespace, name, port } => (namespace, name, port),
    };
    let conn = match tokio::time::timeout(CONNECT_TIMEOUT, backend::connect(rest, &namespace, &name, &port)).await {
        Err(_) => return page(504),
        Ok(Err(ConnectError::NoBackend(_))) => return page(503),
        Ok(Err(ConnectError::Dial(_))) => return page(502),
        Ok(Ok((conn, _pod))) => conn,
    };
    let Ok((mut sender, connection)) = hyper::client::conn::http1::Builder::new().title_case_headers(true).handshake::<_, Incoming>(TokioIo::new(conn)).await
    else {
        return page(502);
    };
    tokio::spawn(connection.with_upgrades());

    let upgrade = wants_upgrade(request.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut request));
    let (parts, body) = request.into_parts();
    let mut upstream = http::Request::new(body);
    *upstream.method_mut() = parts.method;
    *upstream.uri_mut() = route.rewritten.as_deref().unwrap_or(&path_and_query).parse().unwrap_or_else(|_| http::Uri::from_static("/"));
    let mut headers = parts.headers;
    let upgrade_to = headers.get(header::UPGRADE).cloned();
    let original_xff = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()).map(str::to_string);
    strip_hop_by_hop(&mut headers);
    let client_ip = client.ip().to_string();
    set(&mut headers, "host", &host);
    let request_id: [u8; 16] = rand::random();
    set(&mut headers, "x-request-id", &request_id.iter().map(|b| format!("{b:02x}")).collect::<String>());
    set(&mut headers, "x-real-ip", &client_ip);
    set(&mut headers, "x-forwarded-for", &client_ip);
    set(&mut headers, "x-forwarded-host", &host);
    set(&mut headers, "x-forwarded-port", &local.port().to_string());
    for scheme in ["x-forwarded-proto", "x-forwarded-scheme", "x-scheme"] {
        set(&mut headers, scheme, "http");
    }
    match original_xff {
        Some(xff) => set(&mut headers, "x-original-forwarded-for", &xff),
        None => drop(headers.remove("x-original-forwarded-for")),
    }
    if let (true, Some(protocol)) = (upgrade, upgrade_to) {
        headers.insert(header::UPGRADE, protocol);
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
    *upstream.headers_mut() = headers;

    let mut response = match tokio::time::timeout(READ_TIMEOUT, sender.send_request(upstream)).await {
        Err(_) => return page(504),
        Ok(Err(_)) => return page(502),
        Ok(Ok(response)) => response,
    };
    if response.status() == http::StatusCode::SWITCHING_PROTOCOLS
        && let Some(client_upgrade) = client_upgrade
    {
        let server_upgrade = hyper::upgrade::on(&mut response);
        tokio::spawn(async move {
            if let (Ok(client), Ok(server)) = (client_upgrade.await, server_upgrade.await) {
                let _ = tokio::io::copy_bidirectional(&mut TokioIo::new(client), &mut TokioIo::new(server)).await;
            }
        });
        let (parts, _) = response.into_parts();
        return http::Response::from_parts(parts, Full::new(Bytes::new()).map_err(|never: Infallible| match never {}).boxed());
    }
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.insert(header::SERVER, HeaderValue::from_static("nginx"));
    http::Response::from_parts(parts, body.boxed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_are_dropped() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive, X-Secret-Hop"));
        headers.insert("x-secret-hop", HeaderValue::from_static("1"));
        headers.insert("proxy", HeaderValue::from_static("http://evil"));
        headers.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key("x-kept"));
    }

    #[test]
    fn pages_are_nginx_s() {
        let page = page(503);
        assert_eq!(page.status(), 503);
        assert_eq!(page.headers()[header::SERVER], "nginx");
    }
}
