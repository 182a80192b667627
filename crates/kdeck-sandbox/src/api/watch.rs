//! Watch: a stream of `{"type":…,"object":…}` lines, started from a list snapshot or
//! a resourceVersion, filtered by namespace and selectors, with bookmarks,
//! `sendInitialEvents`, a timeout, and 410 Expired for versions no longer kept.
//! Injected faults (`watch-cut`, `watch-410`, see [`crate::faults`]) end a stream early.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use http::{HeaderValue, Response, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

use super::body::Body;
use super::query::Query;
use crate::faults::WatchFault;
use crate::resources::ResourceInfo;
use crate::rest::{ApiError, ListQuery, Rest};
use crate::store::{Change, EventType, Index, StoreError};

/// Real servers end watches after a random 30–60 minutes; clients then resume.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);

struct Filter {
    info: ResourceInfo,
    namespace: Option<String>,
    query: ListQuery,
}

impl Filter {
    fn matches(&self, index: &Index) -> bool {
        if self.info.namespaced && self.namespace.as_deref().is_some_and(|ns| ns != index.namespace) {
            return false;
        }
        self.query.labels.matches(&index.labels)
            && (self.query.fields.is_empty() || self.query.fields.matches(&(index.namespace.clone(), index.name.clone()), index))
    }

    /// The event type a watcher sees for a change, if any: an object that stops
    /// matching the selector is DELETED for this watcher, one that starts is ADDED.
    fn event_type(&self, change: &Change) -> Option<EventType> {
        if change.resource != self.info.key() {
            return None;
        }
        let now = self.matches(&change.entry.index);
        let before = change.prev.as_ref().map(|p| self.matches(&p.index));
        match (change.kind, before, now) {
            (EventType::Modified, Some(false), true) => Some(EventType::Added),
            (EventType::Modified, Some(true), false) => Some(EventType::Deleted),
            (_, _, true) => Some(change.kind),
            _ => None,
        }
    }
}

fn event_line(kind: &str, raw: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(raw.len() + 32);
    out.put_slice(b"{\"type\":\"");
    out.put_slice(kind.as_bytes());
    out.put_slice(b"\",\"object\":");
    out.put_slice(raw);
    out.put_slice(b"}\n");
    out.freeze()
}

fn bookmark(info: &ResourceInfo, rv: u64, initial_events_end: bool) -> Bytes {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_events_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    let obj = json!({"kind": info.kind, "apiVersion": info.api_version(), "metadata": meta});
    event_line("BOOKMARK", &serde_json::to_vec(&obj).unwrap_or_default())
}

/// A stored object as the requested API shows it: a custom resource in the
/// requested version, a core Event as `events.k8s.io` (see `rest::present`).
fn presented(info: &ResourceInfo, raw: &Bytes) -> Bytes {
    if !crate::rest::needs_conversion(info) {
        return raw.clone();
    }
    let mut v: Value = serde_json::from_slice(raw).unwrap_or(Value::Null);
    crate::rest::present(info, &mut v);
    Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
}

/// A watch asked for as a Table (`kubectl get -w`): each event's object is a
/// Table of its one row; as kube-apiserver sends them, only the first carries the
/// column definitions (later ones have `null`).
pub struct TableView {
    pub columns: Option<Vec<super::table::PrinterColumn>>,
    pub include: super::table::RowObject,
}

impl TableView {
    fn event(&self, info: &ResourceInfo, kind: &str, raw: &Bytes, first: &mut bool) -> Bytes {
        let obj: Value = serde_json::from_slice(raw).unwrap_or(Value::Null);
        let meta = json!({"resourceVersion": obj["metadata"]["resourceVersion"]});
        let mut table = super::table::build(&info.group, &info.plural, &[&obj], self.columns.as_deref(), self.include, meta, std::time::SystemTime::now());
        if !std::mem::take(first) {
            table["columnDefinitions"] = Value::Null;
        }
        event_line(kind, &serde_json::to_vec(&table).unwrap_or_default())
    }
}

pub fn serve(
    rest: &Rest,
    info: &ResourceInfo,
    ns: Option<&str>,
    list_query: ListQuery,
    query: &Query,
    fault: Option<WatchFault>,
    table: Option<TableView>,
) -> Result<Response<Body>, ApiError> {
    let mut first_table = true;
    let rv = query.get("resourceVersion").filter(|v| !v.is_empty());
    let requested = match rv {
        Some(v) => {
            Some(v.parse::<u64>().map_err(|_| ApiError::bad_request(format!("resourceVersion: Invalid value: \"{v}\": must be a non-negative integer")))?)
        }
        None => None,
    };
    let send_initial = query.get("sendInitialEvents").map(|v| v == "true");
    let bookmarks = query.flag("allowWatchBookmarks");
    if send_initial == Some(true) && !bookmarks {
        return Err(ApiError::invalid(
            "WatchOptions",
            "meta.k8s.io",
            "",
            vec![crate::rest::Cause::forbidden("allowWatchBookmarks", "allowWatchBookmarks is required when sendInitialEvents is set")],
        ));
    }
    let timeout = query.u64("timeoutSeconds").map(Duration::from_secs).unwrap_or(DEFAULT_TIMEOUT);
    // An injected fault ends the stream before its timeout: quietly, or with 410 Expired.
    let (end_after, expire) = match fault {
        Some(WatchFault::Cut { after }) => (timeout.min(after), false),
        Some(WatchFault::Expired { after }) if after < timeout => (after, true),
        _ => (timeout, false),
    };
    if expire && end_after.is_zero() {
        let rv = rest.store.resource_version();
        return Ok(stream_response(futures::stream::iter([expired_line(rv)]).boxed()));
    }
    let filter = Filter { info: info.clone(), namespace: ns.map(str::to_string), query: list_query };
    let (tx, rx) = mpsc::channel::<Bytes>(1024);

    // Without a version (or with "0", or with sendInitialEvents), the watch starts with
    // the current state as ADDED events; with a version, it replays what came after.
    let from_snapshot = send_initial == Some(true) || matches!(requested, None | Some(0));
    let mut initial = Vec::new();
    let mut start_rv;
    let subscription;
    if from_snapshot {
        subscription = rest.store.subscribe(None).map_err(|e| ApiError::internal(e.to_string()))?;
        let (items, rv) = rest.store.list(&info.key(), if info.namespaced { ns } else { None }, None, |e| filter.matches(&e.index));
        start_rv = rv;
        if send_initial != Some(false) {
            initial = items
                .iter()
                .map(|e| match &table {
                    Some(view) => view.event(info, "ADDED", &presented(info, &e.raw), &mut first_table),
                    None => event_line("ADDED", &presented(info, &e.raw)),
                })
                .collect();
        }
    } else {
        let since = requested.unwrap_or(0);
        match rest.store.subscribe(Some(since)) {
            Ok(sub) => subscription = sub,
            Err(StoreError::Expired { requested, oldest }) => {
                let status = ApiError::expired(format!("too old resource version: {requested} ({oldest})")).inline();
                let line = event_line("ERROR", &status);
                return Ok(stream_response(futures::stream::iter([line]).boxed()));
            }
            Err(e) => return Err(ApiError::internal(e.to_string())),
        }
        start_rv = since;
    }
    if send_initial == Some(true) {
        initial.push(bookmark(info, start_rv, true));
    }

    let info = info.clone();
    tokio::spawn(async move {
        for line in initial {
            if tx.send(line).await.is_err() {
                return;
            }
        }
        let mut live = subscription.live;
        let deadline = tokio::time::sleep(end_after);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(BOOKMARK_EVERY);
        ticker.tick().await;
        let mut send = |change: &Change| {
            filter.event_type(change).map(|kind| match &table {
                Some(view) => view.event(&info, kind.as_str(), &presented(&info, &change.entry.raw), &mut first_table),
                None => event_line(kind.as_str(), &presented(&info, &change.entry.raw)),
            })
        };
        for change in subscription.backlog {
            start_rv = change.rv;
            if let Some(line) = send(&change)
                && tx.send(line).await.is_err()
            {
                return;
            }
        }
        loop {
            tokio::select! {
                _ = &mut deadline => {
                    if expire {
                        let _ = tx.send(expired_line(start_rv)).await;
                    }
                    return;
                }
                _ = ticker.tick(), if bookmarks => {
                    if tx.send(bookmark(&info, start_rv, false)).await.is_err() { return; }
                }
                received = live.recv() => match received {
                    Ok(change) if change.rv <= start_rv => {}
                    Ok(change) => {
                        start_rv = change.rv;
                        if let Some(line) = send(&change)
                            && tx.send(line).await.is_err() { return; }
                    }
                    // A watcher that fell too far behind is ended; the client resumes
                    // from its last version, as after any dropped connection.
                    Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    });
    let lines = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|line| (line, rx)) });
    Ok(stream_response(lines.boxed()))
}

/// The ERROR event of an injected `watch-410`: the client must list again.
fn expired_line(rv: u64) -> Bytes {
    let status = ApiError::expired(format!("too old resource version: {rv} ({})", rv + 1)).inline();
    event_line("ERROR", &status)
}

fn stream_response(lines: futures::stream::BoxStream<'static, Bytes>) -> Response<Body> {
    let frames = lines.map(|line| Ok::<_, std::convert::Infallible>(Frame::data(line)));
    let mut resp = Response::new(BodyExt::boxed_unsync(StreamBody::new(frames)));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
    resp
}
