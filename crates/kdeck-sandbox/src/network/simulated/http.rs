//! The simulated HTTP server (HTTP/1.1 with keep-alive; any method; HEAD answered
//! without a body; request bodies read and dropped):
//! - the container's `httpGet` probe paths answer `200 ok` while it is healthy, and
//!   the readiness probe's path `503` while its readiness is declared failing
//!   (`sandbox.kdeck.dev/readiness-fail`);
//! - any other path answers `200`: nginx images with nginx's welcome page, httpd
//!   images with "It works!", any other image with a short text naming the pod and
//!   echoing the request line and headers (as `traefik/whoami` does), which shows
//!   what a proxy in front (the ingress address) passed on.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::Value;

use super::{Family, probe_paths};
use crate::kubelet::behaviour::Behaviour;
use crate::network::Conn;
use crate::rest::Rest;

/// nginx's own `index.html`.
const NGINX_WELCOME: &str = "<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href=\"http://nginx.org/\">nginx.org</a>.<br/>
Commercial support is available at
<a href=\"http://nginx.com/\">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
";

/// httpd's default `index.html`.
const HTTPD_WORKS: &str = "<html><body><h1>It works!</h1></body></html>\n";

/// Everything a request needs to be answered, fixed when the connection opens.
#[derive(Clone)]
struct Site {
    rest: Rest,
    namespace: String,
    pod: String,
    container: String,
    ip: String,
    family: Family,
    server: String,
    /// (path, is the readiness probe's).
    probes: Vec<(String, bool)>,
}

pub async fn serve(rest: &Rest, conn: impl Conn + 'static, pod: &Value, container: &Value, port: u16) {
    let image = container["image"].as_str().unwrap_or_default();
    let family = super::family(image);
    let version = super::tag_version(image).iter().map(u32::to_string).collect::<Vec<_>>().join(".");
    let server = match family {
        Family::Nginx if !version.is_empty() => format!("nginx/{version}"),
        Family::Nginx => "nginx".to_string(),
        Family::Httpd => "Apache/2.4".to_string(),
        _ => "kdeck-sandbox".to_string(),
    };
    let site = Site {
        rest: rest.clone(),
        namespace: pod["metadata"]["namespace"].as_str().unwrap_or_default().to_string(),
        pod: pod["metadata"]["name"].as_str().unwrap_or_default().to_string(),
        container: container["name"].as_str().unwrap_or_default().to_string(),
        ip: pod["status"]["podIP"].as_str().unwrap_or_default().to_string(),
        family,
        server,
        probes: probe_paths(container, port),
    };
    let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
        let site = site.clone();
        async move { Ok::<_, Infallible>(site.answer(request).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new().keep_alive(true).title_case_headers(true).serve_connection(TokioIo::new(conn), service).await;
}

impl Site {
    async fn answer(&self, request: http::Request<Incoming>) -> http::Response<Full<Bytes>> {
        let (parts, mut body) = request.into_parts();
        // The body is read and dropped, so a client sending one is never stuck.
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                break;
            }
        }
        let path = parts.uri.path();
        if let Some((_, readiness)) = self.probes.iter().find(|(p, _)| p.split('?').next() == Some(path)) {
            return if *readiness && self.readiness_fails() {
                self.response(503, "text/plain; charset=utf-8", "readiness declared failing (sandbox.kdeck.dev/readiness-fail)\n".into())
            } else {
                self.response(200, "text/plain; charset=utf-8", "ok\n".into())
            };
        }
        match self.family {
            Family::Nginx => self.response(200, "text/html", NGINX_WELCOME.into()),
            Family::Httpd => self.response(200, "text/html", HTTPD_WORKS.into()),
            _ => self.response(200, "text/plain; charset=utf-8", self.whoami(&parts)),
        }
    }

    /// Whether the pod (as it is now) declares its readiness failing.
    fn readiness_fails(&self) -> bool {
        crate::network::pod(&self.rest, &self.namespace, &self.pod).is_some_and(|pod| Behaviour::of(&pod).readiness_fails)
    }

    fn whoami(&self, parts: &http::request::Parts) -> String {
        let mut text = format!(
            "Hostname: {}\nPod: {}/{}\nContainer: {}\nIP: {}\n{} {} {:?}\n",
            self.pod,
            self.namespace,
            self.pod,
            self.container,
            self.ip,
            parts.method,
            parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"),
            parts.version
        );
        for (name, value) in &parts.headers {
            text.push_str(&format!("{}: {}\n", canonical(name.as_str()), String::from_utf8_lossy(value.as_bytes())));
        }
        text
    }

    fn response(&self, status: u16, content_type: &str, body: String) -> http::Response<Full<Bytes>> {
        let mut response = http::Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
        let headers = response.headers_mut();
        if let Ok(v) = http::HeaderValue::from_str(content_type) {
            headers.insert(http::header::CONTENT_TYPE, v);
        }
        if let Ok(v) = http::HeaderValue::from_str(&self.server) {
            headers.insert(http::header::SERVER, v);
        }
        response
    }
}

/// `x-forwarded-for` as `X-Forwarded-For`.
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    #[test]
    fn header_names_are_shown_canonically() {
        assert_eq!(super::canonical("x-forwarded-for"), "X-Forwarded-For");
        assert_eq!(super::canonical("host"), "Host");
        assert_eq!(super::canonical("-"), "-");
    }
}
