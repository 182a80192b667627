//! The one way kdeck builds a Kubernetes client, and the one retry layer every
//! command uses.
//!
//! Every request gets a connect timeout and a first-byte timeout (the response
//! headers must arrive in time, streams included); request/response calls also
//! get a timeout between bytes. Idempotent requests are retried on 429, 500, 502,
//! 503, 504 and on broken or timed-out connections, with capped, jittered
//! exponential back-off (a server's `Retry-After` is honoured when it asks for
//! longer), but never past the command's deadline ([`Retries::set_deadline`]): a
//! `--timeout` is an overall bound that holds through retries. Once retries add up
//! to a second, a line on a terminal says what is being retried and why.
//!
//! Idempotent means: GET (get, list, watch, logs), HEAD, and the writes kdeck
//! makes repeatable by construction — DELETE (kdeck's deletes carry preconditions,
//! so a repeat after a lost answer is refused or finds the object gone) and PATCH
//! (kdeck's merge patches set fixed values, so applying one twice changes nothing
//! more). POST and PUT are sent once: a create repeated after a lost answer could
//! create twice.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use kube::client::{Body, ClientBuilder};
use tokio::time::Instant;
use tower::BoxError;
use tower::buffer::BufferLayer;
use tower::retry::{Policy, RetryLayer};
use tower::timeout::TimeoutLayer;

/// How long to wait for a TCP/TLS connection before saying the cluster does not answer.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a request may wait for its response headers (streams too).
pub const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a request/response call may stay silent between bytes. Streams (exec,
/// logs, watches) have no such limit: they may be idle for as long as the user likes.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The first back-off, doubled on each retry up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A server's `Retry-After` longer than this is not waited for in one go.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// How long one request keeps retrying after its first answer (less when the
/// command's deadline comes first).
const RETRY_BUDGET: Duration = Duration::from_secs(60);
/// Retries are shown once their back-off adds up to this, then at most this often.
const REPORT_AFTER: Duration = Duration::from_secs(1);

/// What the retry layer shares across the requests of one command: its deadline
/// and what it has retried so far.
#[derive(Debug, Default)]
pub struct Retries {
    deadline: Mutex<Option<Instant>>,
    /// Total back-off waited, in milliseconds.
    waited_ms: AtomicU64,
    count: AtomicU32,
    /// When the last line was shown (ms of `waited_ms` at that time).
    reported_at_ms: AtomicU64,
    report: bool,
    /// What was retried last, and why: said when the deadline ends the command.
    last: Mutex<Option<String>>,
}

impl Retries {
    pub fn new() -> Arc<Retries> {
        Arc::new(Retries { report: std::io::stderr().is_terminal(), ..Default::default() })
    }

    /// No retry waits past `deadline`; the command's own timer ends the command there.
    pub fn set_deadline(&self, deadline: Instant) {
        *self.deadline.lock().unwrap_or_else(|p| p.into_inner()) = Some(deadline);
    }

    pub fn deadline(&self) -> Option<Instant> {
        *self.deadline.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many requests were retried so far.
    pub fn count(&self) -> u32 {
        self.count.load(Ordering::Relaxed)
    }

    /// The last retried request and why it was retried, if any was.
    pub fn last(&self) -> Option<String> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn note(&self, waited: Duration, what: &str) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(what.to_string());
        let count = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let total = self.waited_ms.fetch_add(waited.as_millis() as u64, Ordering::Relaxed) + waited.as_millis() as u64;
        let last = self.reported_at_ms.load(Ordering::Relaxed);
        let every = REPORT_AFTER.as_millis() as u64;
        if self.report
            && total >= every
            && total - last >= every
            && self.reported_at_ms.compare_exchange(last, total, Ordering::Relaxed, Ordering::Relaxed).is_ok()
        {
            eprintln!("retrying: {what} ({count} retries, {:.1}s of back-off so far)", total as f64 / 1000.0);
        }
    }
}

/// A client for `config` with kdeck's timeouts and retry layer. `streaming`: no
/// limit between bytes (exec, attach, followed logs, watches).
pub fn build(mut config: kube::Config, retries: &Arc<Retries>, streaming: bool) -> Result<kube::Client, kube::Error> {
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = if streaming { None } else { Some(READ_TIMEOUT) };
    // kube's own retry waits up to 1000 s between tries and knows no deadline.
    config.default_retry = false;
    let client = ClientBuilder::try_from(config)?
        // The retry layer needs a service it can clone; the buffer makes one.
        .with_layer(&BufferLayer::new(1024))
        .with_layer(&TimeoutLayer::new(FIRST_BYTE_TIMEOUT))
        .with_layer(&RetryLayer::new(RetryPolicy { shared: retries.clone(), attempt: 0, first: None }))
        .build();
    Ok(client)
}

/// The retry policy: one clone per request, sharing [`Retries`].
#[derive(Clone)]
struct RetryPolicy {
    shared: Arc<Retries>,
    attempt: u32,
    /// When the first answer came back (the first retry decision).
    first: Option<Instant>,
}

/// Whether a repeat of the request can do no harm (see the module doc).
fn repeatable(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::DELETE | Method::PATCH)
}

fn retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

/// Whether an error is a transport failure worth a retry: a connection refused,
/// reset or closed early. Not a timeout (the server took its chance: a second wait
/// as long would only double the hang) and not a credential plugin that failed
/// (repeating it would fail again).
fn retryable_error(err: &BoxError) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err.as_ref());
    while let Some(e) = source {
        let auth = e.downcast_ref::<kube::client::AuthError>().is_some() || matches!(e.downcast_ref::<kube::Error>(), Some(kube::Error::Auth(_)));
        let timeout =
            e.is::<tower::timeout::error::Elapsed>() || e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut);
        if auth || timeout {
            return false;
        }
        source = e.source();
    }
    true
}

/// Doubling back-off from [`FIRST_BACKOFF`] to [`MAX_BACKOFF`], with jitter
/// between half and all of it, so many clients do not retry in step.
fn backoff(attempt: u32) -> Duration {
    let full = FIRST_BACKOFF.saturating_mul(1u32 << attempt.min(10)).min(MAX_BACKOFF);
    let half = full / 2;
    half + half.mul_f64(rand::random::<f64>())
}

/// The `Retry-After` of a response, in whole seconds as the API server sends it.
fn retry_after<B>(response: &Response<B>) -> Option<Duration> {
    let seconds: u64 = response.headers().get(http::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

impl<B> Policy<Request<Body>, Response<B>, BoxError> for RetryPolicy {
    type Future = tokio::time::Sleep;

    fn retry(&mut self, req: &mut Request<Body>, result: &mut Result<Response<B>, BoxError>) -> Option<Self::Future> {
        if !repeatable(req.method()) {
            return None;
        }
        let (delay, why) = match result {
            Ok(response) if retryable_status(response.status()) => {
                let delay = backoff(self.attempt).max(retry_after(response).unwrap_or_default());
                (delay, format!("the cluster answered {}", response.status()))
            }
            Ok(_) => return None,
            Err(err) if retryable_error(err) => (backoff(self.attempt), format!("no answer ({err})")),
            Err(_) => return None,
        };
        let now = Instant::now();
        let first = *self.first.get_or_insert(now);
        let budget = first + RETRY_BUDGET;
        let limit = self.shared.deadline().map_or(budget, |d| d.min(budget));
        if now + delay >= limit {
            return None;
        }
        self.attempt += 1;
        self.shared.note(delay, &format!("{} {}: {why}", req.method(), req.uri().path()));
        Some(tokio::time::sleep(delay))
    }

    fn clone_request(&mut self, req: &Request<Body>) -> Option<Request<Body>> {
        if !repeatable(req.method()) {
            return None;
        }
        let body = req.body().try_clone()?;
        let mut copy = Request::builder().method(req.method().clone()).uri(req.uri().clone()).version(req.version()).body(body).ok()?;
        *copy.headers_mut() = req.headers().clone();
        *copy.extensions_mut() = req.extensions().clone();
        Some(copy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for attempt in 0..20 {
            let d = backoff(attempt);
            let full = FIRST_BACKOFF.saturating_mul(1 << attempt.min(10)).min(MAX_BACKOFF);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?} not within [{:?}, {full:?}]", full / 2);
        }
        assert!(backoff(30) <= MAX_BACKOFF);
    }

    #[test]
    fn only_repeatable_requests_and_transient_answers_are_retried() {
        assert!(repeatable(&Method::GET) && repeatable(&Method::DELETE) && repeatable(&Method::PATCH));
        assert!(!repeatable(&Method::POST) && !repeatable(&Method::PUT));
        for code in [429, 500, 502, 503, 504] {
            assert!(retryable_status(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        for code in [200, 400, 401, 403, 404, 409, 410, 422, 501] {
            assert!(!retryable_status(StatusCode::from_u16(code).unwrap()), "{code}");
        }
        let auth: BoxError = Box::new(kube::Error::Auth(kube::client::AuthError::ExecPluginFailed));
        assert!(!retryable_error(&auth));
        let io: BoxError = Box::new(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset"));
        assert!(retryable_error(&io));
        let slow: BoxError = Box::new(std::io::Error::new(std::io::ErrorKind::TimedOut, "read timed out"));
        assert!(!retryable_error(&slow), "a timeout is not waited for twice");
    }

    #[tokio::test]
    async fn retries_stop_at_the_deadline() {
        let shared = Retries::new();
        shared.set_deadline(Instant::now() + Duration::from_millis(700));
        let mut policy = RetryPolicy { shared: shared.clone(), attempt: 0, first: None };
        let mut req = Request::builder().method(Method::GET).uri("/api/v1/pods").body(Body::empty()).unwrap();
        let mut tries = 0;
        loop {
            let mut result: Result<Response<()>, BoxError> = Ok(Response::builder().status(503).body(()).unwrap());
            match policy.retry(&mut req, &mut result) {
                Some(sleep) => {
                    tries += 1;
                    sleep.await;
                }
                None => break,
            }
        }
        assert!(tries >= 1, "at least one retry fits in 700 ms");
        assert!(Instant::now() < shared.deadline().unwrap(), "no retry sleeps past the deadline");
        assert_eq!(shared.count(), tries);

        let mut post = Request::builder().method(Method::POST).uri("/api/v1/pods").body(Body::empty()).unwrap();
        let mut result: Result<Response<()>, BoxError> = Ok(Response::builder().status(503).body(()).unwrap());
        assert!(policy.retry(&mut post, &mut result).is_none(), "a create is sent once");
    }
}
