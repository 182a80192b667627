//! `http` checks: through the API's service proxy
//! (`/api/v1/namespaces/NS/services/NAME:PORT/proxy/PATH`, with kdeck's client) or
//! an `http://` or `https://` URL asked from this machine — `${stack:ingress}`
//! being the provider's ingress address. The answer is judged by its status, its body and
//! how long it took; a failure says what was expected and what came.
//!
//! The URL client is a few lines of HTTP/1.1 (`Connection: close`, chunked bodies
//! decoded) rather than a new crate: a health check needs no more.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::plan::Expect;

/// Bodies are read up to this much.
const BODY_MAX: usize = 4 * 1024 * 1024;

/// Judges an answer: `message` is the API server's Status message, if it answered one.
fn judge(expect: &Expect, status: u16, body: &[u8], latency: Duration, message: Option<String>) -> Result<String, String> {
    let took = format!("{:.0}ms", latency.as_secs_f64() * 1000.0);
    if status != expect.status {
        let why = message.map(|m| format!(": {m}")).unwrap_or_default();
        return Err(format!("status {status} (expected {}){why}", expect.status));
    }
    if let Some(text) = &expect.body_contains
        && !String::from_utf8_lossy(body).contains(text.as_str())
    {
        return Err(format!("status {status}, but the body ({} bytes) does not contain {text:?}", body.len()));
    }
    let mut held = String::new();
    if !expect.json_path.is_empty() {
        let document: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| format!("status {status}, but the body is not JSON ({e}), so jsonPath cannot be checked"))?;
        for (path, wanted) in &expect.json_path {
            let selected = kdeck_sandbox::api::table::jsonpath::select(path, &document).unwrap_or_default();
            if selected.is_empty() {
                return Err(format!("status {status}, but {path} selects nothing in the body"));
            }
            // As kubectl prints what a path selects: strings bare, the rest as JSON.
            let text = |v: &serde_json::Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
            let got = selected.iter().map(|v| text(v)).collect::<Vec<_>>().join(" ");
            if !(selected.len() == 1 && selected[0] == wanted) && got != text(wanted) {
                return Err(format!("status {status}, but {path} is {got:?} (expected {:?})", text(wanted)));
            }
            held.push_str(&format!(", {path} = {got:?}"));
        }
    }
    if let Some(max) = expect.max_latency
        && latency > max
    {
        return Err(format!("status {status} after {took}, slower than maxLatency {:?}", max));
    }
    let contains = expect.body_contains.as_ref().map(|t| format!(", body contains {t:?}")).unwrap_or_default();
    Ok(format!("status {status} in {took}{contains}{held}"))
}

/// Through the API's service proxy, with a client that does not retry (a 503 is an answer here).
pub async fn proxy(probe: &kube::Client, namespace: &str, service: &str, port: u16, path: &str, expect: &Expect) -> Result<String, String> {
    let uri = format!("/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy{path}");
    let request = http::Request::get(&uri).body(kube::client::Body::from(Vec::new())).map_err(|e| format!("building the request: {e}"))?;
    let started = Instant::now();
    let response = probe.send(request).await.map_err(|e| format!("the API server did not answer the proxy request: {e}"))?;
    let status = response.status().as_u16();
    let from_api = response.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"));
    let body = response.into_body().collect_bytes().await.map_err(|e| format!("reading the answer: {e}"))?;
    let latency = started.elapsed();
    let message = from_api
        .then(|| serde_json::from_slice::<serde_json::Value>(&body).ok())
        .flatten()
        .filter(|v| v["kind"] == "Status")
        .and_then(|v| v["message"].as_str().map(str::to_string));
    judge(expect, status, &body, latency, message).map(|ok| format!("svc/{service}:{port}{path}: {ok}")).map_err(|e| format!("svc/{service}:{port}{path}: {e}"))
}

/// The parts of an `http://` or `https://` URL.
#[derive(Debug, PartialEq)]
pub struct Url {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, at least `/`.
    pub path: String,
}

pub fn parse_url(url: &str) -> Result<Url, String> {
    let (tls, rest, default_port) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
        (Some(rest), _) => (false, rest, 80),
        (_, Some(rest)) => (true, rest, 443),
        _ => return Err(format!("{url:?} is not an http:// or https:// URL")),
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let path = if path.starts_with('?') { format!("/{path}") } else { path };
    if authority.contains('@') {
        return Err(format!("{url:?}: credentials in a URL are not taken"));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
            (host.to_string(), port.parse::<u16>().map_err(|_| format!("{url:?}: {port:?} is not a port"))?)
        }
        _ => (authority.to_string(), default_port),
    };
    if host.is_empty() || path.chars().any(|c| c.is_control() || c == ' ') {
        return Err(format!("{url:?} is not a URL kdeck can ask"));
    }
    Ok(Url { tls, host, port, path })
}

/// `${stack:ingress}` expanded with the provider's ingress address.
pub fn expand(url: &str, ingress: Option<&str>, provider: &str) -> Result<String, String> {
    if !url.contains("${stack:ingress}") {
        return Ok(url.to_string());
    }
    match ingress {
        Some(address) => Ok(url.replace("${stack:ingress}", address.trim_end_matches('/'))),
        None => Err(format!("${{stack:ingress}}: the {provider} provider has no ingress address kdeck knows (the sandbox's is set when it starts)")),
    }
}

/// A GET of `url` from this machine; over TLS for `https://` (the certificate
/// verified against the system's roots for the name asked, unless `insecure`).
pub async fn url(url: &str, host: Option<&str>, insecure: bool, expect: &Expect) -> Result<String, String> {
    let (status, body, latency) = get(url, host, insecure, "kdeck-verify").await?;
    judge(expect, status, &body, latency, None).map_err(|e| format!("{url}: {e}"))
}

/// A GET of `url` (`Host: host` when given; TLS verified against the system's
/// roots unless `insecure`): its status, its body (up to [`BODY_MAX`]) and how
/// long it took. Errors name the URL. Also what `up` downloads ingress-nginx's
/// manifest with.
pub async fn get(url: &str, host: Option<&str>, insecure: bool, agent: &str) -> Result<(u16, Vec<u8>, Duration), String> {
    let parsed = parse_url(url)?;
    let started = Instant::now();
    let address = format!("{}:{}", parsed.host.trim_start_matches('[').trim_end_matches(']'), parsed.port);
    let tcp = tokio::net::TcpStream::connect(&address).await.map_err(|e| format!("{url}: cannot connect to {address}: {e}"))?;
    let default_port = if parsed.tls { 443 } else { 80 };
    let host_header =
        host.map(str::to_string).unwrap_or_else(|| if parsed.port == default_port { parsed.host.clone() } else { format!("{}:{}", parsed.host, parsed.port) });
    let request = format!("GET {} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: {agent}\r\nAccept: */*\r\nConnection: close\r\n\r\n", parsed.path);
    let raw = if parsed.tls {
        // The name asked for: the Host header's (host-based ingress rules), else the URL's.
        let name = host.map(|h| h.rsplit_once(':').map_or(h, |(n, _)| n)).unwrap_or(&parsed.host);
        let stream = tls::connect(tcp, name.trim_start_matches('[').trim_end_matches(']'), insecure).await.map_err(|e| format!("{url}: {e}"))?;
        exchange(stream, &request).await
    } else {
        exchange(tcp, &request).await
    }
    .map_err(|e| format!("{url}: {e}"))?;
    let latency = started.elapsed();
    let (status, body) = parse_response(&raw).map_err(|e| format!("{url}: {e}"))?;
    Ok((status, body, latency))
}

/// Sends the request and reads the whole answer (up to [`BODY_MAX`]).
async fn exchange(mut stream: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin, request: &str) -> Result<Vec<u8>, String> {
    stream.write_all(request.as_bytes()).await.map_err(|e| format!("sending the request: {e}"))?;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(e) if raw.is_empty() => return Err(format!("no answer: {e}")),
            // A server that closes without TLS's close_notify: what came is the answer.
            Err(_) => break,
        }
        if raw.len() > BODY_MAX {
            break;
        }
    }
    Ok(raw)
}

mod tls {
    //! The TLS side of `https://` checks: rustls with the system's roots, or, when
    //! asked (`insecure`), a verifier that accepts any certificate (`curl -k`).
    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};

    pub async fn connect(tcp: tokio::net::TcpStream, name: &str, insecure: bool) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions().map_err(|e| e.to_string())?;
        let config = if insecure {
            builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyCertificate(provider))).with_no_client_auth()
        } else {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        let server = ServerName::try_from(name.to_string()).map_err(|_| format!("{name:?} is not a name TLS can ask for"))?;
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(server, tcp).await.map_err(|e| match insecure {
            false => format!("TLS handshake failed: {e} (for a self-signed certificate, set insecure: true on the check)"),
            true => format!("TLS handshake failed: {e}"),
        })
    }

    /// Accepts any certificate, still checking the handshake's signatures.
    #[derive(Debug)]
    struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

    impl ServerCertVerifier for AnyCertificate {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}

/// The status and the (de-chunked) body of a raw HTTP/1.x response.
pub fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>), String> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("the answer is not HTTP (no end of headers)")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut words = status_line.split(' ');
    let version = words.next().unwrap_or_default();
    let status = words.next().and_then(|s| s.parse::<u16>().ok()).filter(|_| version.starts_with("HTTP/1."));
    let status = status.ok_or_else(|| format!("the answer is not HTTP ({:?})", status_line.chars().take(40).collect::<String>()))?;
    let chunked = lines.any(|l| {
        let lower = l.to_ascii_lowercase();
        lower.starts_with("transfer-encoding:") && lower.contains("chunked")
    });
    let body = &raw[end + 4..];
    Ok((status, if chunked { dechunk(body) } else { body.to_vec() }))
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&body[..eol]);
        let Ok(size) = usize::from_str_radix(size_text.split(';').next().unwrap_or_default().trim(), 16) else { break };
        if size == 0 {
            break;
        }
        let start = eol + 2;
        let stop = (start + size).min(body.len());
        out.extend_from_slice(&body[start..stop]);
        body = body.get(stop + 2..).unwrap_or_default();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expect() -> Expect {
        Expect { status: 200, body_contains: Some("ok".into()), max_latency: Some(Duration::from_secs(2)), json_path: Vec::new() }
    }

    #[test]
    fn urls_parse() {
        assert_eq!(parse_url("http://127.0.0.1:8080/a?b").unwrap(), Url { tls: false, host: "127.0.0.1".into(), port: 8080, path: "/a?b".into() });
        assert_eq!(parse_url("http://example.test").unwrap(), Url { tls: false, host: "example.test".into(), port: 80, path: "/".into() });
        assert_eq!(parse_url("https://example.test/x").unwrap(), Url { tls: true, host: "example.test".into(), port: 443, path: "/x".into() });
        assert!(parse_url("ftp://x").is_err());
        assert!(parse_url("http://u:p@x/").is_err());
        assert!(parse_url("http://x:99999/").is_err());
    }

    #[test]
    fn ingress_expands_or_says_why_not() {
        assert_eq!(expand("${stack:ingress}/auth/", Some("http://127.0.0.1:3000"), "sandbox").unwrap(), "http://127.0.0.1:3000/auth/");
        assert!(expand("${stack:ingress}/", None, "kind").unwrap_err().contains("kind provider"));
    }

    #[test]
    fn responses_are_read_and_judged() {
        let (status, body) = parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n3\r\n!!!\r\n0\r\n\r\n").unwrap();
        assert_eq!((status, body.as_slice()), (200, b"ok!!!".as_slice()));
        assert!(judge(&expect(), status, &body, Duration::from_millis(5), None).unwrap().starts_with("status 200 in 5ms"));
        let e = judge(&expect(), 503, b"", Duration::ZERO, Some("no endpoints available for service \"web\"".into())).unwrap_err();
        assert_eq!(e, "status 503 (expected 200): no endpoints available for service \"web\"");
        assert!(judge(&expect(), 200, b"nope", Duration::ZERO, None).unwrap_err().contains("does not contain \"ok\""));
        assert!(judge(&expect(), 200, b"ok", Duration::from_secs(3), None).unwrap_err().contains("slower than maxLatency"));
        assert!(parse_response(b"SSH-2.0\r\n\r\n").is_err());
    }

    /// Serves one canned answer over TLS, with the sandbox's self-made certificate.
    async fn tls_server() -> (u16, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let certs = kdeck_sandbox::tls::Certificates::load_or_create(dir.path()).unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(certs.server_config(dir.path()).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let mut request = [0u8; 1024];
                    let _ = tls.read(&mut request).await;
                    let _ = tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{\"status\":\"ok\"}").await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        (port, dir)
    }

    #[tokio::test]
    async fn https_urls_are_asked_over_tls_and_verified_unless_insecure() {
        let (port, _dir) = tls_server().await;
        let plain = Expect { status: 200, body_contains: Some("ok".into()), max_latency: None, json_path: vec![("{.status}".into(), json!("ok"))] };
        let address = format!("https://127.0.0.1:{port}/health");
        let passed = url(&address, None, true, &plain).await.unwrap();
        assert!(passed.starts_with("status 200") && passed.contains("{.status} = \"ok\""), "{passed}");
        // Verified against the system's roots, a self-made certificate is refused.
        let refused = url(&address, None, false, &plain).await.unwrap_err();
        assert!(refused.contains("TLS handshake failed") && refused.contains("insecure: true"), "{refused}");
        // Not TLS at all: said as such.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let plain_port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            if let Ok((mut tcp, _)) = listener.accept().await {
                let _ = tcp.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await;
            }
        });
        assert!(url(&format!("https://127.0.0.1:{plain_port}/"), None, true, &plain).await.unwrap_err().contains("TLS handshake failed"));
    }

    #[test]
    fn json_paths_select_what_the_body_must_hold() {
        let with = |pairs: &[(&str, serde_json::Value)]| Expect {
            status: 200,
            body_contains: None,
            max_latency: None,
            json_path: pairs.iter().map(|(p, v)| (p.to_string(), v.clone())).collect(),
        };
        let body = br#"{"status": "ok", "version": 3, "checks": [{"name": "db", "up": true}, {"name": "cache", "up": false}]}"#;
        let ok = with(&[("{.status}", json!("ok")), (".version", json!(3)), ("$.checks[?(@.name==\"db\")].up", json!(true))]);
        let passed = judge(&ok, 200, body, Duration::ZERO, None).unwrap();
        assert!(passed.contains("{.status} = \"ok\"") && passed.contains(".version = \"3\""), "{passed}");
        // A value given as text matches what kubectl would print.
        assert!(judge(&with(&[("{.version}", json!("3"))]), 200, body, Duration::ZERO, None).is_ok());
        let e = judge(&with(&[("{.checks[*].up}", json!("true true"))]), 200, body, Duration::ZERO, None).unwrap_err();
        assert_eq!(e, "status 200, but {.checks[*].up} is \"true false\" (expected \"true true\")");
        assert_eq!(
            judge(&with(&[("{.missing}", json!("x"))]), 200, body, Duration::ZERO, None).unwrap_err(),
            "status 200, but {.missing} selects nothing in the body"
        );
        assert!(judge(&with(&[("{.status}", json!("ok"))]), 200, b"<html>", Duration::ZERO, None).unwrap_err().contains("the body is not JSON"));
    }
}
