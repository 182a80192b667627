//! A SPDY port-forward session, served the way the kubelet serves one
//! (`pkg/kubelet/cri/streaming/portforward/httpstream.go` over spdystream):
//!
//! - For each forwarded connection the client opens two streams with the same
//!   `requestID` header: an *error* stream and a *data* stream, each naming the pod
//!   `port` (and `streamType`). Each valid stream gets an empty SYN_REPLY; an invalid
//!   one is reset (RST_STREAM CANCEL), as the kubelet's stream handler does.
//! - Once both streams of a request are there, the pod's port is dialled
//!   ([`super::Target::dial`]) and bytes are copied both ways: the client's
//!   half-close (FIN) half-closes the pod connection, the pod's end ends the data
//!   stream and then the error stream. A failure is written on the error stream in
//!   the kubelet's words, then both streams are closed.
//! - Many connections share one session; PINGs are answered, a GOAWAY stops new
//!   streams, an RST_STREAM aborts its connection, and the session ends with a
//!   GOAWAY when the client goes away.
//!
//! Flow control: the client's data is acknowledged with WINDOW_UPDATEs (stream
//! and session, SPDY/3.1) as it is written to the pod. The client's windows are
//! counted, but only honoured once the client shows it does flow control (sends a
//! WINDOW_UPDATE or an initial window SETTING): spdystream, which kubectl and every
//! Go client use, never sends either and would stall after 64 KiB otherwise.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;

use super::Target;
use super::frame::{Decoder, Encoder, FLAG_FIN, Frame, SETTINGS_INITIAL_WINDOW_SIZE, goaway, rst};
use super::headers::{self, Headers};
use super::tunnel::{Reader, Writer};

/// How long the second stream of a request may take (the kubelet's default).
const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);
/// SPDY/3's initial window, for streams and (3.1) the session.
const INITIAL_WINDOW: i64 = 64 * 1024;
/// Acknowledge the client's data in steps of this much.
const ACK_EVERY: usize = 32 * 1024;
/// The most the pod's bytes take in one data frame.
const CHUNK: usize = 64 * 1024;

/// What the session passes to a connection about its data stream.
enum Inbound {
    Data(Bytes),
    Fin,
    Reset,
}

/// A request whose error and data streams are not both there yet.
struct Pending {
    error: Option<u32>,
    data: Option<(u32, u16, mpsc::Receiver<Inbound>)>,
    since: Instant,
}

struct Session {
    target: Target,
    out: mpsc::Sender<Frame>,
    windows: Arc<Windows>,
    /// Open data streams, by id.
    data: HashMap<u32, mpsc::Sender<Inbound>>,
    pending: HashMap<String, Pending>,
    last_stream: u32,
    going_away: bool,
    connections: JoinSet<()>,
    done: mpsc::UnboundedSender<u32>,
}

/// Serves one session until the client leaves.
pub async fn run(mut reader: Reader, writer: Writer, target: Target) {
    let (out, frames) = mpsc::channel(64);
    let writing = tokio::spawn(write_frames(writer, frames));
    let (done, mut finished) = mpsc::unbounded_channel();
    let mut session = Session {
        target,
        out,
        windows: Arc::new(Windows::default()),
        data: HashMap::new(),
        pending: HashMap::new(),
        last_stream: 0,
        going_away: false,
        connections: JoinSet::new(),
        done,
    };
    let (mut buf, mut decoder) = (BytesMut::new(), Decoder::default());
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let status = 'session: loop {
        tokio::select! {
            more = reader.read(&mut buf) => {
                if !more {
                    break goaway::OK;
                }
                loop {
                    match decoder.decode(&mut buf) {
                        Ok(Some(frame)) => session.handle(frame).await,
                        Ok(None) => break,
                        Err(_) => break 'session goaway::PROTOCOL_ERROR,
                    }
                }
            }
            Some(stream) = finished.recv() => {
                session.data.remove(&stream);
                session.windows.forget(stream);
            }
            _ = tick.tick() => session.expire().await,
        }
    };
    session.connections.shutdown().await;
    let _ = session.out.send(Frame::GoAway { last_good: session.last_stream, status }).await;
    drop(session);
    let _ = writing.await;
}

/// Writes frames in the order they are queued, batching what is already waiting.
async fn write_frames(mut writer: Writer, mut frames: mpsc::Receiver<Frame>) {
    let mut encoder = Encoder::default();
    while let Some(frame) = frames.recv().await {
        let mut bytes = Vec::new();
        encoder.encode(&frame, &mut bytes);
        while bytes.len() < 256 * 1024 {
            let Ok(frame) = frames.try_recv() else { break };
            encoder.encode(&frame, &mut bytes);
        }
        if writer.write(bytes).await.is_err() {
            return;
        }
    }
    writer.close().await;
}

impl Session {
    async fn send(&self, frame: Frame) {
        let _ = self.out.send(frame).await;
    }

    async fn handle(&mut self, frame: Frame) {
        match frame {
            Frame::SynStream { stream, flags, headers } => self.open(stream, flags, &headers).await,
            Frame::Data { stream, flags, data } => {
                let Some(inbound) = self.data.get(&stream) else { return };
                let delivered =
                    (data.is_empty() || inbound.send(Inbound::Data(data)).await.is_ok()) && (flags & FLAG_FIN == 0 || inbound.send(Inbound::Fin).await.is_ok());
                if !delivered {
                    self.data.remove(&stream);
                }
            }
            Frame::RstStream { stream, .. } => {
                if let Some(inbound) = self.data.remove(&stream) {
                    let _ = inbound.send(Inbound::Reset).await;
                }
            }
            // Odd ids are the client's pings, to be echoed; even ones would be answers to ours.
            Frame::Ping(id) if id % 2 == 1 => self.send(Frame::Ping(id)).await,
            Frame::GoAway { .. } => self.going_away = true,
            Frame::WindowUpdate { stream, delta } => self.windows.update(stream, delta),
            Frame::Settings(entries) => {
                if let Some((_, size)) = entries.iter().find(|(id, _)| *id == SETTINGS_INITIAL_WINDOW_SIZE) {
                    self.windows.initial(*size);
                }
            }
            // Replies and headers from a client, its echoed pings, unknown frames: nothing to do.
            _ => {}
        }
    }

    /// A new stream: checked as the kubelet checks it, replied to, paired.
    async fn open(&mut self, stream: u32, flags: u8, headers: &Headers) {
        if self.going_away {
            return;
        }
        if stream.is_multiple_of(2) || stream <= self.last_stream {
            return self.send(Frame::RstStream { stream, status: rst::PROTOCOL_ERROR }).await;
        }
        self.last_stream = stream;
        let port = headers::get(headers, "port").and_then(|p| p.parse::<u16>().ok()).filter(|p| *p > 0);
        let kind = headers::get(headers, "streamtype");
        let (Some(port), Some(kind @ ("error" | "data"))) = (port, kind) else {
            return self.send(Frame::RstStream { stream, status: rst::CANCEL }).await;
        };
        self.send(Frame::SynReply { stream, flags: 0, headers: vec![] }).await;
        // Clients older than request ids pair streams by their ids (error n, data n+2).
        let request = match headers::get(headers, "requestid") {
            Some(id) => id.to_string(),
            None if kind == "error" => stream.to_string(),
            None => stream.saturating_sub(2).to_string(),
        };
        let pending = self.pending.entry(request.clone()).or_insert_with(|| Pending { error: None, data: None, since: Instant::now() });
        let taken = if kind == "error" { pending.error.is_some() } else { pending.data.is_some() };
        if taken {
            let error = pending.error;
            let message = format!("error processing stream for request {request}: {kind} stream already assigned");
            if let Some(error) = error {
                self.send(Frame::Data { stream: error, flags: 0, data: message.into() }).await;
            }
            return;
        }
        if kind == "error" {
            pending.error = Some(stream);
        } else {
            let (tx, rx) = mpsc::channel(16);
            if flags & FLAG_FIN != 0 {
                let _ = tx.try_send(Inbound::Fin);
            }
            self.data.insert(stream, tx);
            self.windows.open(stream);
            pending.data = Some((stream, port, rx));
        }
        if pending.error.is_none() || pending.data.is_none() {
            return;
        }
        let Some(Pending { error: Some(error), data: Some((data, port, inbound)), .. }) = self.pending.remove(&request) else { return };
        let connection = Connection { target: self.target.clone(), port, data, error, out: self.out.clone(), windows: self.windows.clone() };
        let done = self.done.clone();
        self.connections.spawn(async move {
            connection.forward(inbound).await;
            let _ = done.send(data);
        });
    }

    /// Requests whose second stream never came: told so on the error stream.
    async fn expire(&mut self) {
        let late: Vec<String> = self.pending.iter().filter(|(_, p)| p.since.elapsed() >= STREAM_CREATION_TIMEOUT).map(|(r, _)| r.clone()).collect();
        for request in late {
            let Some(pending) = self.pending.remove(&request) else { continue };
            if let Some(error) = pending.error {
                let message = format!("(conn={}, request={request}) timed out waiting for streams", self.target.name);
                self.send(Frame::Data { stream: error, flags: 0, data: message.into() }).await;
                self.send(Frame::Data { stream: error, flags: FLAG_FIN, data: Bytes::new() }).await;
            }
            if let Some((data, _, _)) = pending.data {
                self.data.remove(&data);
                self.send(Frame::Data { stream: data, flags: FLAG_FIN, data: Bytes::new() }).await;
            }
        }
    }
}

/// One forwarded connection: a data stream, its error stream, the pod's port.
struct Connection {
    target: Target,
    port: u16,
    data: u32,
    error: u32,
    out: mpsc::Sender<Frame>,
    windows: Arc<Windows>,
}

impl Connection {
    async fn forward(self, mut inbound: mpsc::Receiver<Inbound>) {
        let conn = match self.target.dial(self.port).await {
            Ok(conn) => conn,
            Err(message) => {
                let _ = self.out.send(Frame::Data { stream: self.error, flags: 0, data: message.into() }).await;
                self.fin(self.error).await;
                self.fin(self.data).await;
                return;
            }
        };
        let (mut from_pod, mut to_pod) = tokio::io::split(conn);
        // The client's bytes to the pod; `false` when the client reset the stream.
        let upstream = async {
            let mut unacknowledged = 0;
            while let Some(message) = inbound.recv().await {
                match message {
                    Inbound::Data(bytes) => {
                        if to_pod.write_all(&bytes).await.is_err() {
                            break;
                        }
                        unacknowledged += bytes.len();
                        if unacknowledged >= ACK_EVERY {
                            let delta = unacknowledged as u32;
                            let _ = self.out.send(Frame::WindowUpdate { stream: self.data, delta }).await;
                            let _ = self.out.send(Frame::WindowUpdate { stream: 0, delta }).await;
                            unacknowledged = 0;
                        }
                    }
                    Inbound::Fin => {
                        let _ = to_pod.shutdown().await;
                        break;
                    }
                    Inbound::Reset => return false,
                }
            }
            true
        };
        // The pod's bytes to the client, then the end of the data stream.
        let downstream = async {
            let mut buf = vec![0u8; CHUNK];
            loop {
                let n = match from_pod.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let mut sent = 0;
                while sent < n {
                    let allowed = self.windows.take(self.data, n - sent).await;
                    let chunk = Bytes::copy_from_slice(&buf[sent..sent + allowed]);
                    if self.out.send(Frame::Data { stream: self.data, flags: 0, data: chunk }).await.is_err() {
                        return;
                    }
                    sent += allowed;
                }
            }
            self.fin(self.data).await;
        };
        tokio::pin!(upstream, downstream);
        let mut client_done = false;
        loop {
            tokio::select! {
                open = &mut upstream, if !client_done => {
                    if !open {
                        return;
                    }
                    client_done = true;
                }
                () = &mut downstream => break,
            }
        }
        self.fin(self.error).await;
    }

    async fn fin(&self, stream: u32) {
        let _ = self.out.send(Frame::Data { stream, flags: FLAG_FIN, data: Bytes::new() }).await;
    }
}

/// The client's receive windows, as this side spends them.
#[derive(Default)]
struct Windows {
    state: Mutex<WindowState>,
    changed: Notify,
}

struct WindowState {
    /// Whether the client does flow control (see the module's documentation).
    enforce: bool,
    initial: i64,
    session: i64,
    streams: HashMap<u32, i64>,
}

impl Default for WindowState {
    fn default() -> Self {
        WindowState { enforce: false, initial: INITIAL_WINDOW, session: INITIAL_WINDOW, streams: HashMap::new() }
    }
}

impl Windows {
    fn lock(&self) -> std::sync::MutexGuard<'_, WindowState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn open(&self, stream: u32) {
        let mut state = self.lock();
        let initial = state.initial;
        state.streams.insert(stream, initial);
    }

    fn forget(&self, stream: u32) {
        self.lock().streams.remove(&stream);
    }

    fn update(&self, stream: u32, delta: u32) {
        let mut state = self.lock();
        state.enforce = true;
        match stream {
            0 => state.session += i64::from(delta),
            _ => {
                if let Some(window) = state.streams.get_mut(&stream) {
                    *window += i64::from(delta);
                }
            }
        }
        drop(state);
        self.changed.notify_waiters();
    }

    fn initial(&self, size: u32) {
        let mut state = self.lock();
        let delta = i64::from(size) - state.initial;
        state.initial = i64::from(size);
        state.streams.values_mut().for_each(|w| *w += delta);
        state.enforce = true;
        drop(state);
        self.changed.notify_waiters();
    }

    /// How much of `want` bytes may go out on `stream` now (at least 1), waiting
    /// for the client to open its windows if it does flow control.
    async fn take(&self, stream: u32, want: usize) -> usize {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.lock();
                let window = state.streams.get(&stream).copied().unwrap_or(state.initial);
                let allowed = if state.enforce { (want as i64).min(window).min(state.session) } else { want as i64 };
                if allowed > 0 {
                    state.session -= allowed;
                    if let Some(w) = state.streams.get_mut(&stream) {
                        *w -= allowed;
                    }
                    return allowed as usize;
                }
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn windows_are_honoured_once_the_client_does_flow_control() {
        let windows = Arc::new(Windows::default());
        windows.open(1);
        // spdystream never updates: nothing ever waits.
        assert_eq!(windows.take(1, 100_000).await, 100_000);
        let windows = Arc::new(Windows::default());
        windows.open(1);
        windows.update(0, 1000);
        assert_eq!(windows.take(1, 100_000).await, 65_536);
        let waiting = tokio::spawn({
            let windows = windows.clone();
            async move { windows.take(1, 10).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "an exhausted window waits");
        windows.update(1, 4);
        assert_eq!(waiting.await.unwrap(), 4);
    }
}
