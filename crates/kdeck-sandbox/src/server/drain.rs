//! Stopping without cutting answers short: once draining begins, connections are
//! asked to close after their current requests (HTTP/1 stops keep-alive, HTTP/2
//! sends GOAWAY), requests that still arrive are refused with 503, and the server
//! waits — within a bound — until no request is being handled. A writer's answer
//! waits for its change to be durable, so every answered change is on disk by then.

use std::sync::Arc;

use tokio::sync::watch;

#[derive(Clone)]
pub struct Drain(Arc<Inner>);

struct Inner {
    closing: watch::Sender<bool>,
    /// Requests being handled (until their response head is ready).
    requests: watch::Sender<usize>,
}

/// Held while a request is handled.
pub struct Request(Drain);

impl Drop for Request {
    fn drop(&mut self) {
        self.0.0.requests.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Default for Drain {
    fn default() -> Self {
        Self::new()
    }
}

impl Drain {
    pub fn new() -> Self {
        Drain(Arc::new(Inner { closing: watch::Sender::new(false), requests: watch::Sender::new(0) }))
    }

    /// A request arrives: `None` once draining began (it is refused).
    pub fn request(&self) -> Option<Request> {
        // Counted before the check: a request that sees "not closing" is waited for.
        self.0.requests.send_modify(|n| *n += 1);
        let guard = Request(self.clone());
        (!*self.0.closing.borrow()).then_some(guard)
    }

    /// Starts draining.
    pub fn begin(&self) {
        self.0.closing.send_replace(true);
    }

    /// Resolves once draining began.
    pub async fn closing(&self) {
        let mut rx = self.0.closing.subscribe();
        let _ = rx.wait_for(|closing| *closing).await;
    }

    /// Resolves once no request is being handled.
    pub async fn idle(&self) {
        let mut rx = self.0.requests.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn draining_waits_for_requests_in_flight_and_refuses_new_ones() {
        let drain = Drain::new();
        let in_flight = drain.request().expect("accepted before draining");
        drain.begin();
        drain.closing().await;
        assert!(drain.request().is_none(), "refused while draining");
        assert!(tokio::time::timeout(Duration::from_millis(50), drain.idle()).await.is_err(), "a request is still in flight");
        drop(in_flight);
        tokio::time::timeout(Duration::from_secs(1), drain.idle()).await.expect("idle once it is answered");
    }
}
