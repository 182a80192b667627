//! `GET pods/{name}/log`: container, follow, previous, tailLines, sinceSeconds,
//! sinceTime, timestamps and limitBytes, as the kubelet serves them. The lines
//! come from [`crate::kubelet::logs`]; following streams new ones as they are
//! "written", until the container stops or the client goes.

use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, Response, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::Value;
use tokio::sync::mpsc;

use super::body::Body;
use super::query::Query;
use crate::faults::WatchFault;
use crate::kubelet::logs::{self, LogLine, Run};
use crate::rest::{ApiError, Rest};

struct Format {
    timestamps: bool,
    limit_bytes: Option<usize>,
}

impl Format {
    fn render(&self, lines: &[LogLine], budget: &mut Option<usize>) -> Bytes {
        let mut out = String::new();
        for line in lines {
            if self.timestamps {
                out.push_str(&logs::timestamp(line.at));
                out.push(' ');
            }
            out.push_str(&line.text);
            out.push('\n');
        }
        let mut bytes = out.into_bytes();
        if let Some(left) = budget {
            bytes.truncate(*left);
            *left -= bytes.len();
        }
        Bytes::from(bytes)
    }
}

/// A followed log ends early under an injected stream fault (`watch-cut` or
/// `watch-410`: a log has no events, so both just end it), as a broken connection would.
pub fn serve(rest: &Rest, ns: &str, name: &str, query: &Query, fault: Option<WatchFault>) -> Result<Response<Body>, ApiError> {
    let pods = rest.catalogue.find("", "v1", "pods").ok_or_else(|| ApiError::internal("pods are not served"))?;
    let pod = rest.get(&pods, Some(ns), name)?;
    let bad = |e: logs::LogError| ApiError::bad_request(e.to_string());
    let container = logs::container_name(&pod, query.get("container").filter(|c| !c.is_empty())).map_err(bad)?;
    let previous = query.flag("previous");
    let run = logs::run_of(&pod, &container, previous).map_err(bad)?;
    // Subscribed before the first read, so no output of a real process falls between.
    let mut changes = run.changes();
    let number = |key: &str| -> Result<Option<i64>, ApiError> {
        query.get(key).map(|v| v.parse::<i64>().map_err(|_| ApiError::bad_request(format!("{key}: must be an integer, got {v:?}")))).transpose()
    };
    let now = crate::time::unix_nanos();
    let after = lines_after(number("sinceSeconds")?, query.get("sinceTime"), now)?;
    let mut lines = logs::lines(&run, after, now);
    if let Some(tail) = number("tailLines")? {
        let keep = usize::try_from(tail.max(0)).unwrap_or(0);
        lines.drain(..lines.len().saturating_sub(keep));
    }
    let format = Format { timestamps: query.flag("timestamps"), limit_bytes: number("limitBytes")?.map(|n| n.max(0) as usize) };
    let mut budget = format.limit_bytes;
    let first = format.render(&lines, &mut budget);
    let follow = query.flag("follow") && !previous && run.finished.is_none();
    if !follow {
        return Ok(text_response(futures::stream::iter([first]).boxed()));
    }
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let (rest, ns, name, uid) = (rest.clone(), ns.to_string(), name.to_string(), pod["metadata"]["uid"].clone());
    tokio::spawn(async move {
        if !first.is_empty() && tx.send(first).await.is_err() {
            return;
        }
        let mut sent_until = now;
        let cut_at = fault.map(|f| match f {
            WatchFault::Cut { after } | WatchFault::Expired { after } => tokio::time::Instant::now() + after,
        });
        loop {
            logs::wait_for_output(&run, &mut changes).await;
            // A real process's output is complete once it exited: what is left is sent, then the stream ends.
            let complete = run.output_complete();
            let running = still_running(&rest, &ns, &name, &uid, &container, &run);
            if budget == Some(0) || (!running && run.captured.is_none()) {
                return;
            }
            if cut_at.is_some_and(|at| tokio::time::Instant::now() >= at) {
                return;
            }
            let until = crate::time::unix_nanos();
            let new = logs::lines(&run, sent_until, until);
            sent_until = until;
            if !new.is_empty() && tx.send(format.render(&new, &mut budget)).await.is_err() {
                return;
            }
            if complete || !running {
                return;
            }
        }
    });
    let chunks = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) });
    Ok(text_response(chunks.boxed()))
}

/// The bound `logs::lines` keeps lines strictly after, for sinceSeconds or sinceTime.
/// The kubelet keeps a line stamped exactly at the "since" time (it skips only lines
/// before it), so the bound is one nanosecond earlier.
fn lines_after(since_seconds: Option<i64>, since_time: Option<&str>, now: i128) -> Result<i128, ApiError> {
    let since = match (since_seconds, since_time) {
        (Some(s), _) => now - i128::from(s) * 1_000_000_000,
        (None, Some(t)) => crate::time::parse_rfc3339_nanos(t).ok_or_else(|| ApiError::bad_request(format!("sinceTime: {t:?} is not an RFC 3339 time")))?,
        (None, None) => return Ok(i128::MIN),
    };
    Ok(since - 1)
}

/// The same pod (uid) still runs the same container instance.
pub(super) fn still_running(rest: &Rest, ns: &str, name: &str, uid: &Value, container: &str, run: &Run) -> bool {
    let Some(pods) = rest.catalogue.find("", "v1", "pods") else { return false };
    let Ok(pod) = rest.get(&pods, Some(ns), name) else { return false };
    pod["metadata"]["uid"] == *uid && logs::run_of(&pod, container, false).is_ok_and(|now| now.started == run.started && now.finished.is_none())
}

fn text_response(chunks: futures::stream::BoxStream<'static, Bytes>) -> Response<Body> {
    let frames = chunks.map(|b| Ok::<_, std::convert::Infallible>(Frame::data(b)));
    let mut resp = Response::new(BodyExt::boxed_unsync(StreamBody::new(frames)));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(started: i128) -> Run {
        Run { started, finished: None, image: "nginx:1.27".into(), rate: 0.0, exit_message: None, captured: None }
    }

    #[test]
    fn a_line_stamped_exactly_at_since_time_is_included() {
        let started = crate::time::parse_rfc3339_nanos("2026-03-01T10:00:00Z").unwrap();
        let run = run(started);
        let now = started + 60_000_000_000;
        let all = logs::lines(&run, i128::MIN, now);
        assert!(all.len() > 1 && all[0].at == started, "the first line is stamped at the start");

        let since_start = logs::lines(&run, lines_after(None, Some("2026-03-01T10:00:00Z"), now).unwrap(), now);
        assert_eq!(since_start, all, "sinceTime at the first line's stamp keeps it");
        let second = logs::timestamp(all[1].at);
        let since_second = logs::lines(&run, lines_after(None, Some(&second), now).unwrap(), now);
        assert_eq!(since_second, all[1..], "sinceTime {second} keeps the line stamped then and those after");
        // sinceSeconds counts back from now the same way.
        assert_eq!(logs::lines(&run, lines_after(Some(60), None, now).unwrap(), now), all);
        assert!(lines_after(None, Some("yesterday"), now).is_err());
    }
}
