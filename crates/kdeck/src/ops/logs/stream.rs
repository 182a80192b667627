//! One container's log stream. A stream that breaks — or whose first request
//! fails — is asked for again from where it got to: the asked `--since`/`--tail`
//! until a connection succeeded, then the last printed line's second, skipping
//! what was already printed. Nothing is lost or repeated; a log that cannot be read
//! at all is an error, never silence.

use std::sync::Arc;
use std::time::Duration;

use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, LogParams};
use tokio::sync::{Semaphore, mpsc};

use super::render::{render, split_timestamp};
use super::{Options, Source};

/// How many times a stream that does not follow is asked for again before it is
/// reported as failed (each request already went through the client's retries).
const MAX_FAILURES: u32 = 5;

/// How a stream ended.
#[derive(Debug, PartialEq)]
pub enum End {
    /// The whole log (or, following, until the container or pod went away).
    Done,
    /// The log could not be read: why, as the server or the connection said it.
    Failed(String),
    /// The printer is gone (stdout closed).
    Stopped,
}

/// Where a stream got to, so a reconnect neither loses nor repeats lines.
#[derive(Default)]
pub struct Position {
    last: Option<Timestamp>,
    /// Lines already printed that carry exactly `last`.
    at_last: usize,
}

impl Position {
    /// Whether a line stamped `at` is new; records it if so.
    fn advance(&mut self, at: Timestamp, skipped_at_last: &mut usize) -> bool {
        match self.last {
            Some(last) if at < last => false,
            Some(last) if at == last && *skipped_at_last < self.at_last => {
                *skipped_at_last += 1;
                false
            }
            Some(last) if at == last => {
                self.at_last += 1;
                *skipped_at_last += 1;
                true
            }
            _ => {
                self.last = Some(at);
                self.at_last = 1;
                *skipped_at_last = 1;
                true
            }
        }
    }
}

/// Streams one container's log into `lines`, reconnecting until it has all of it
/// (or, following, until the container or pod is gone).
pub async fn stream(client: kube::Client, source: Source, options: Arc<Options>, lines: mpsc::Sender<String>, slots: Arc<Semaphore>) -> End {
    let Ok(_slot) = slots.acquire_owned().await else { return End::Stopped };
    let pods: Api<Pod> = Api::namespaced(client, &source.namespace);
    let mut position = Position::default();
    let mut failures = 0u32;
    // When the first successful request was sent: a reconnect before any line resumes there.
    let mut connected_at: Option<Timestamp> = None;
    loop {
        // Until a request succeeded, --since/--tail as asked; then the last line's
        // second (whole seconds, as the API takes it; what was printed is skipped).
        let resume_at = position.last.or(connected_at).map(|t| Timestamp::from_second(t.as_second()).unwrap_or(t));
        let params = LogParams {
            container: Some(source.container.clone()),
            follow: options.follow,
            previous: options.previous,
            timestamps: true,
            since_seconds: if resume_at.is_none() { options.since.map(|d| d.as_secs().max(1) as i64) } else { None },
            since_time: resume_at,
            tail_lines: if resume_at.is_none() { options.tail } else { None },
            ..LogParams::default()
        };
        let asked_at = Timestamp::now();
        match pods.log_stream(&source.pod, &params).await {
            Ok(reader) => {
                connected_at.get_or_insert(asked_at);
                let mut read = reader.lines();
                let mut skipped_at_last = 0;
                let complete = loop {
                    match read.next().await {
                        None => break true,
                        Some(Err(_)) => break false,
                        Some(Ok(raw)) => {
                            let (at, text) = split_timestamp(&raw);
                            if let Some(at) = at
                                && !position.advance(at, &mut skipped_at_last)
                            {
                                continue;
                            }
                            if let Some(line) = render(&source, at, text, &options)
                                && lines.send(line).await.is_err()
                            {
                                return End::Stopped;
                            }
                        }
                    }
                };
                if complete {
                    failures = 0;
                    if !options.follow {
                        return End::Done;
                    }
                } else {
                    failures += 1;
                    if !options.follow && failures >= MAX_FAILURES {
                        return End::Failed(format!("the stream broke {failures} times"));
                    }
                }
            }
            Err(kube::Error::Api(status)) if status.code == 404 && options.follow => return End::Done,
            // The server's own word on why there is no log (a container not started,
            // no previous instance, no such container): final.
            Err(kube::Error::Api(status)) if (400..500).contains(&status.code) && status.code != 429 => return End::Failed(status.message),
            Err(e) => {
                failures += 1;
                if !options.follow && failures >= MAX_FAILURES {
                    return End::Failed(e.to_string());
                }
            }
        }
        if options.follow && !still_running(&pods, &source).await {
            return End::Done;
        }
        tokio::time::sleep(Duration::from_millis(200 * u64::from(failures.min(10)) + 100)).await;
    }
}

async fn still_running(pods: &Api<Pod>, source: &Source) -> bool {
    match pods.get_opt(&source.pod).await {
        Ok(Some(pod)) => {
            pod.metadata.deletion_timestamp.is_none() && pod.status.as_ref().and_then(|s| s.phase.as_deref()).is_some_and(|p| p == "Running" || p == "Pending")
        }
        Ok(None) => false,
        // Cannot tell (a broken connection): try again.
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_reconnect_skips_lines_already_printed() {
        let mut position = Position::default();
        let mut seen = 0;
        assert!(position.advance(at("2026-11-23T10:00:00Z"), &mut seen));
        assert!(position.advance(at("2026-11-23T10:00:01Z"), &mut seen));
        assert!(position.advance(at("2026-11-23T10:00:01Z"), &mut seen), "two lines in the same instant");
        // Reconnect from the last time: the server repeats from that second.
        let mut seen = 0;
        assert!(!position.advance(at("2026-11-23T10:00:00Z"), &mut seen));
        assert!(!position.advance(at("2026-11-23T10:00:01Z"), &mut seen));
        assert!(!position.advance(at("2026-11-23T10:00:01Z"), &mut seen));
        assert!(position.advance(at("2026-11-23T10:00:01Z"), &mut seen), "a third line in that instant is new");
        assert!(position.advance(at("2026-11-23T10:00:02Z"), &mut seen));
    }
}
