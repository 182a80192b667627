//! Opening a sandbox (state, certificates, tokens) and serving it over HTTPS.
//!
//! Stopping (the `shutdown` future: SIGTERM, Ctrl-C, `kdeck sandbox stop`): the
//! listener closes, requests in flight are drained (see [`drain`]) for at most
//! [`DRAIN_FOR`], controllers and commands stop, then the journal is flushed and
//! the last snapshot written before `serve` returns. The network's listeners (the
//! ingress address, NodePorts, LoadBalancer addresses) close with the controllers.

mod drain;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::api::ApiServer;
use crate::api::auth::Tokens;
use crate::faults::{FaultSpec, Faults};
use crate::resources::{Catalogue, ResourceKey};
use crate::rest::Rest;
use crate::store::Store;
use crate::store::disk::{self, Disk};
use crate::tls::{Certificates, TlsError};
use crate::{controllers, fsutil};

const TOKENS_FILE: &str = "tokens.json";
/// Credentials an older sandbox may have left readable by others (see fsutil);
/// the certificates' files are `tls::FILES`.
const PRIVATE_FILES: &[&str] = &[TOKENS_FILE, crate::serviceaccount::token::KEY_FILE];
/// How long a stop waits for requests in flight.
const DRAIN_FOR: Duration = Duration::from_secs(5);
/// After the requests, how long answers get to reach their clients before the
/// remaining connections (watches, log streams, exec sessions) are cut.
const FLUSH_FOR: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error(transparent)]
    State(#[from] disk::DiskError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot use the data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind { port: u16, source: std::io::Error },
    #[error("cannot listen on 127.0.0.1:{port} for the ingress address: {source}")]
    IngressBind { port: u16, source: std::io::Error },
    #[error("{0}")]
    Seed(String),
    #[error("the sandbox could not write its state on the way out: {0}")]
    Stop(String),
}

#[derive(Clone, Debug)]
pub struct SandboxConfig {
    pub name: String,
    pub data_dir: PathBuf,
    /// 0 picks a free port.
    pub port: u16,
    /// How many nodes the cluster has (at least one).
    pub nodes: usize,
    /// Pods that opt in with `sandbox.kdeck.dev/run-command` run their command for real.
    pub run_commands: bool,
    /// Serve `metrics.k8s.io` (as a cluster with metrics-server does); off, the
    /// group is not served at all, as on a cluster without it.
    pub metrics: bool,
    /// How many past changes are kept for resuming watches and continuing paged
    /// lists ([`crate::store::HISTORY_LEN`] by default); older versions answer 410.
    pub history: usize,
}

/// What a client needs to reach the sandbox.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub server: String,
    pub ca_pem: String,
    pub admin_token: String,
    pub readonly_token: String,
}

pub struct Sandbox {
    rest: Rest,
    tokens: Tokens,
    tls: TlsAcceptor,
    listener: TcpListener,
    disk: Disk,
    ca_pem: String,
    faults: Faults,
    /// The ingress address, once [`Sandbox::listen_ingress`] bound it.
    ingress: Option<TcpListener>,
}

impl Sandbox {
    /// Loads (or initialises) the sandbox in `config.data_dir` and binds its port.
    pub async fn open(config: &SandboxConfig) -> Result<Self, SandboxError> {
        let dir = &config.data_dir;
        fsutil::create_private_dir(dir).map_err(|source| SandboxError::DataDir { path: dir.clone(), source })?;
        for file in PRIVATE_FILES.iter().chain(crate::tls::FILES) {
            fsutil::make_private(&dir.join(file)).map_err(|source| SandboxError::DataDir { path: dir.join(file), source })?;
        }
        // Pod volumes (emptyDir, claims) live under the data dir, so they persist with it.
        crate::kubelet::exec::set_data_dir(dir.clone());
        crate::kubelet::command::set_enabled(config.run_commands);
        let store = Arc::new(Store::with_history(config.history));
        // From here on every change is journaled, the bootstrap objects included.
        let disk = Disk::open(dir, &store)?;
        let catalogue = Catalogue::new();
        if !config.metrics {
            catalogue.remove_group(crate::api::metrics::GROUP);
        }
        let rest = Rest::new(store, catalogue);
        bootstrap(&rest);
        controllers::nodes::ensure(&rest, &config.name, config.nodes);
        controllers::volumes::ensure_default_class(&rest);
        crate::network::ingress::ensure_class(&rest);
        let certs = Certificates::load_or_create(dir)?;
        let tls = TlsAcceptor::from(certs.server_config(dir)?);
        let tokens = load_or_create_tokens(dir, &config.name)?;
        let sa_key = dir.join(crate::serviceaccount::token::KEY_FILE);
        crate::serviceaccount::token::init(dir).map_err(|source| SandboxError::DataDir { path: sa_key, source })?;
        let listener = TcpListener::bind(("127.0.0.1", config.port)).await.map_err(|source| SandboxError::Bind { port: config.port, source })?;
        Ok(Sandbox { rest, tokens, tls, listener, disk, ca_pem: certs.ca_pem, faults: Faults::default(), ingress: None })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn credentials(&self) -> Credentials {
        Credentials {
            server: format!("https://{}", self.local_addr()),
            ca_pem: self.ca_pem.clone(),
            admin_token: self.tokens.admin.clone(),
            readonly_token: self.tokens.readonly.clone(),
        }
    }

    /// Binds the ingress address, `127.0.0.1:port` (0: a free port), served with the
    /// API from [`Sandbox::serve`] on (see [`crate::network::ingress`]).
    pub async fn listen_ingress(&mut self, port: u16) -> Result<SocketAddr, SandboxError> {
        let listener = crate::network::ingress::bind(port).await.map_err(|source| SandboxError::IngressBind { port, source })?;
        let address = listener.local_addr().map_err(|source| SandboxError::IngressBind { port, source })?;
        self.ingress = Some(listener);
        Ok(address)
    }

    /// Loads a named scenario into the sandbox.
    pub fn seed(&self, scenario: &str) -> Result<(), SandboxError> {
        crate::scenarios::load(&self.rest, scenario).map_err(SandboxError::Seed)
    }

    /// Injects the faults of `spec` into requests (see [`crate::faults`]); `None` clears them.
    /// They can also be changed while serving, through `/kdeck/faults`.
    pub fn set_faults(&self, spec: Option<FaultSpec>) {
        self.faults.set(spec);
    }

    /// Serves until `shutdown` completes, then drains, flushes and writes the state.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), SandboxError> {
        let address = self.local_addr().to_string();
        let cluster = controllers::defaults::Cluster { ca_pem: self.ca_pem.clone(), api_port: self.local_addr().port() };
        // Pods reach the API server at the `kubernetes` Service's ClusterIP.
        crate::network::services::set_api_port(cluster.api_port);
        let Sandbox { rest, tokens, tls, listener, disk, faults, ingress, .. } = self;
        let api = Arc::new(ApiServer { rest: rest.clone(), tokens, address, faults });
        let mut controllers = controllers::start(rest.clone(), cluster);
        if let Some(ingress) = ingress {
            controllers.push(tokio::spawn(crate::network::ingress::serve(rest.clone(), ingress)));
        }
        let drain = drain::Drain::new();
        let mut connections = tokio::task::JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                accepted = listener.accept() => {
                    let Ok((tcp, _)) = accepted else { continue };
                    let _ = tcp.set_nodelay(true);
                    connections.spawn(serve_connection(tcp, tls.clone(), api.clone(), drain.clone()));
                }
            }
        }
        drop(listener);
        drain.begin();
        if tokio::time::timeout(DRAIN_FOR, drain.idle()).await.is_err() {
            eprintln!("kdeck sandbox: requests still running after {}s are cut", DRAIN_FOR.as_secs());
        }
        let _ = tokio::time::timeout(FLUSH_FOR, async { while connections.join_next().await.is_some() {} }).await;
        connections.shutdown().await;
        // Aborting them also closes the ingress address, NodePorts and LoadBalancer addresses.
        controllers.iter().for_each(|c| c.abort());
        for controller in controllers {
            let _ = controller.await;
        }
        // Containers whose command really runs stop with the sandbox.
        crate::kubelet::command::stop_all().await;
        // Pods' network views go with them.
        crate::network::netns::shutdown();
        match tokio::task::spawn_blocking(move || disk.close()).await {
            Ok(closed) => closed?,
            Err(e) => return Err(SandboxError::Stop(e.to_string())),
        }
        Ok(())
    }
}

async fn serve_connection(tcp: tokio::net::TcpStream, tls: TlsAcceptor, api: Arc<ApiServer>, drain: drain::Drain) {
    let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_secs(10), tls.accept(tcp)).await else { return };
    // An injected `drop` fault closes the connection without answering (see crate::faults).
    let drop_connection = Arc::new(tokio::sync::Notify::new());
    let dropper = drop_connection.clone();
    let requests = drain.clone();
    let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
        let (api, dropper, requests) = (api.clone(), dropper.clone(), requests.clone());
        async move {
            let Some(_handling) = requests.request() else {
                return Ok::<_, Infallible>(crate::api::body::error_response(&crate::rest::ApiError::new(
                    503,
                    "ServiceUnavailable",
                    "the sandbox is shutting down",
                )));
            };
            let head = req.method() == http::Method::HEAD;
            // A bug must cost one request a 500, never the connection or the server.
            let response = std::panic::AssertUnwindSafe(api.handle(req.map(crate::api::body::RequestBody::new))).catch_unwind().await;
            let response = response
                .unwrap_or_else(|_| crate::api::body::error_response(&crate::rest::ApiError::internal("the sandbox failed on this request; this is a bug")));
            if crate::faults::drops_connection(&response) {
                dropper.notify_one();
                std::future::pending::<()>().await;
            }
            Ok::<_, Infallible>(if head { without_body(response) } else { response })
        }
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let closing = drain.closing();
    tokio::pin!(closing);
    let mut asked_to_close = false;
    loop {
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = drop_connection.notified() => return,
            _ = &mut closing, if !asked_to_close => {
                connection.as_mut().graceful_shutdown();
                asked_to_close = true;
            }
        }
    }
}

/// The answer to a HEAD request: the headers of the GET answer, no body. hyper's
/// HTTP/2 server would send the body as DATA frames, which clients reject as a
/// protocol error on a HEAD stream.
fn without_body(response: http::Response<crate::api::body::Body>) -> http::Response<crate::api::body::Body> {
    use hyper::body::Body as _;
    let (mut parts, body) = response.into_parts();
    if let Some(length) = body.size_hint().exact()
        && !parts.headers.contains_key(http::header::CONTENT_LENGTH)
    {
        parts.headers.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(length));
    }
    http::Response::from_parts(parts, crate::api::body::full(bytes::Bytes::new()))
}

fn load_or_create_tokens(dir: &Path, name: &str) -> Result<Tokens, SandboxError> {
    let path = dir.join(TOKENS_FILE);
    let io_err = |source| SandboxError::DataDir { path: path.clone(), source };
    if let Ok(text) = std::fs::read_to_string(&path) {
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if let (Some(admin), Some(readonly)) = (v["admin"].as_str(), v["readonly"].as_str()) {
            return Ok(Tokens { admin: admin.into(), readonly: readonly.into(), cluster_name: name.into() });
        }
    }
    let token = || {
        let bytes: [u8; 24] = rand::random();
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let tokens = Tokens { admin: token(), readonly: token(), cluster_name: name.into() };
    let text = json!({"admin": tokens.admin, "readonly": tokens.readonly}).to_string();
    fsutil::write_private(&path, text.as_bytes()).map_err(io_err)?;
    Ok(tokens)
}

/// What every cluster has: the system namespaces, the APIServices of what it serves.
fn bootstrap(rest: &Rest) {
    let key = ResourceKey::new("", "namespaces");
    let Some(info) = rest.catalogue.find("", "v1", "namespaces") else { return };
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        if rest.store.get(&key, &(String::new(), ns.to_string())).is_none() {
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}});
            let _ = rest.create(&info, None, obj, &Default::default());
        }
    }
    crate::controllers::apiservices::sync(rest);
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Empty};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};

    /// An HTTP/2 connection to the sandbox, as `curl --http2` makes.
    async fn http2(credentials: &Credentials) -> hyper::client::conn::http2::SendRequest<Empty<bytes::Bytes>> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(credentials.ca_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let address: SocketAddr = credentials.server.trim_start_matches("https://").parse().unwrap();
        let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
        let name = ServerName::IpAddress(address.ip().into());
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await.unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let (send, connection) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls)).await.unwrap();
        tokio::spawn(connection);
        send
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn head_over_http2_answers_headers_without_a_body() {
        let dir = tempfile::tempdir().unwrap();
        let config = SandboxConfig {
            name: "head".into(),
            data_dir: dir.path().join("data"),
            port: 0,
            nodes: 1,
            run_commands: false,
            metrics: true,
            history: crate::store::HISTORY_LEN,
        };
        let sandbox = Sandbox::open(&config).await.unwrap();
        let credentials = sandbox.credentials();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(sandbox.serve(async {
            let _ = stopped.await;
        }));
        let mut send = http2(&credentials).await;
        for (path, status) in [("/healthz", 200), ("/version", 200), ("/api/v1/namespaces/default/configmaps", 405), ("/api/v1/nowhere", 404)] {
            let request = http::Request::head(format!("{}{path}", credentials.server))
                .header(http::header::AUTHORIZATION, format!("Bearer {}", credentials.admin_token))
                .body(Empty::new())
                .unwrap();
            let response = send.send_request(request).await.unwrap_or_else(|e| panic!("HEAD {path}: {e}"));
            assert_eq!(response.status(), status, "HEAD {path}");
            assert!(response.headers().contains_key(http::header::CONTENT_LENGTH), "HEAD {path} says how long the GET answer is");
            // A body on a HEAD stream is a protocol error for the client's HTTP/2 stack.
            let body = response.into_body().collect().await.unwrap_or_else(|e| panic!("HEAD {path}: {e}")).to_bytes();
            assert!(body.is_empty(), "HEAD {path}");
        }
        // The connection is still good for a GET.
        let request = http::Request::get(format!("{}/version", credentials.server)).body(Empty::new()).unwrap();
        let body = send.send_request(request).await.unwrap().into_body().collect().await.unwrap().to_bytes();
        assert!(body.starts_with(b"{"));
        let _ = stop.send(());
        server.await.unwrap().unwrap();
    }
}
