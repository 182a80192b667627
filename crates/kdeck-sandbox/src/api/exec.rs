//! `pods/{name}/exec` over WebSocket, as kubectl, kube-rs and the Python client
//! speak it: the `v5.channel.k8s.io` / `v4.channel.k8s.io` subprotocols, where the
//! first byte of each message is the stream — 0 stdin, 1 stdout, 2 stderr,
//! 3 the final status, 4 terminal resize, and (v5) 255 to close a stream.
//!
//! Everything that can be refused is refused before the upgrade, with a plain
//! HTTP error (unknown container, pod not running, unconfinable). Once upgraded,
//! the process's streams are forwarded until it exits; then its metav1 Status
//! goes out on channel 3 and the connection closes.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use http::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};

use super::body::Body;
use super::channels::{CLOSE, ERROR, RESIZE, STDERR, STDIN, Ws, frame, pick_protocol, switching_protocols, websocket_key};
use super::query::Query;
use crate::kubelet::exec::process::{self, Running, StartError};
use crate::kubelet::exec::{self as kexec, ExecRequest};
use crate::rest::{ApiError, Rest};

/// How long output still drains after the process exited (a background child may
/// hold the pipes open forever).
const DRAIN: Duration = Duration::from_secs(2);

/// How long the client has to answer the close once the status is sent.
const CLOSE_HANDSHAKE: Duration = Duration::from_secs(5);

/// Serves one exec request; `ns` and `name` come from the path.
pub async fn serve(rest: &Rest, mut req: Request<crate::api::body::RequestBody>, ns: &str, name: &str, query: &Query) -> Result<Response<Body>, ApiError> {
    let handshake = websocket_key(req.headers()).and_then(|key| Ok((key, pick_protocol(req.headers())?)));
    let (rest, ns, name, request) = (rest.clone(), ns.to_string(), name.to_string(), exec_request(query));
    // Reading volumes' sources, writing their files and forking block: off the reactor.
    let start = tokio::task::spawn_blocking(move || start(&rest, &ns, &name, &request, handshake));
    let (key, protocol, argv, started) = start.await.map_err(|e| ApiError::internal(format!("exec failed: {e}")))??;
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        session(ws, started, argv).await;
    });
    Ok(switching_protocols(&key, protocol))
}

/// What [`start`] hands the session: the handshake's key and subprotocol, the
/// argv (for the status message), and the process or why it could not be executed.
type Started = (String, &'static str, Vec<String>, Result<Running, (String, i32)>);

fn start(rest: &Rest, ns: &str, name: &str, request: &ExecRequest, handshake: Result<(String, &'static str), ApiError>) -> Result<Started, ApiError> {
    let pods = rest.catalogue.find("", "v1", "pods").ok_or_else(|| ApiError::internal("pods are not served"))?;
    let pod = rest.get(&pods, Some(ns), name)?;
    let prepared = kexec::prepare(rest, &pod, request)?;
    // After the pod checks, so a client that falls back to SPDY still gets their errors.
    let (key, protocol) = handshake?;
    let started = match process::start(&prepared, &kexec::data_dir().join("exec-root")) {
        Ok(running) => Ok(running),
        Err(StartError::Confine(message)) => return Err(ApiError::internal(message)),
        Err(StartError::Exec { message, code }) => Err((message, code)),
    };
    Ok((key, protocol, prepared.argv, started))
}

fn exec_request(query: &Query) -> ExecRequest {
    ExecRequest {
        command: query.all("command").map(str::to_string).collect(),
        container: query.get("container").map(str::to_string),
        stdin: query.flag("stdin"),
        stdout: query.flag("stdout"),
        stderr: query.flag("stderr"),
        tty: query.flag("tty"),
    }
}

/// Forwards streams until the process exits, then sends its status and closes.
async fn session(ws: Ws, started: Result<Running, (String, i32)>, argv: Vec<String>) {
    let (mut sink, mut incoming) = ws.split();
    let (out_tx, mut out_rx) = mpsc::channel::<Message>(64);
    let writer = tokio::spawn(async move {
        while let Some(msg) = out_rx.recv().await {
            if sink.send(msg).await.is_err() {
                return;
            }
        }
        // A normal close: clients treat any other as a broken stream.
        let normal = CloseFrame { code: CloseCode::Normal, reason: "".into() };
        let _ = sink.send(Message::Close(Some(normal))).await;
        let _ = sink.close().await;
    });
    let code = match started {
        Ok(running) => run(running, &mut incoming, &out_tx).await,
        Err((message, code)) => {
            let _ = out_tx.send(frame(STDERR, format!("{message}\n").as_bytes())).await;
            Some(code)
        }
    };
    if let Some(code) = code {
        let _ = out_tx.send(frame(ERROR, status(code, &argv).to_string().as_bytes())).await;
    }
    drop(out_tx);
    // The client may still be sending input the process never read, blocked until
    // we read it, and so not reading the status: keep taking (and dropping) its
    // messages until it answers the close, so it is never left writing into a
    // connection that resets and loses the status.
    let reader = async {
        while let Some(Ok(msg)) = incoming.next().await {
            if msg.is_close() {
                return;
            }
        }
    };
    let stop_writing = writer.abort_handle();
    if tokio::time::timeout(CLOSE_HANDSHAKE, async { tokio::join!(writer, reader) }).await.is_err() {
        stop_writing.abort();
    }
}

/// Runs the session of a started process; `None` when the client went away first.
async fn run(running: Running, incoming: &mut futures::stream::SplitStream<Ws>, out: &mpsc::Sender<Message>) -> Option<i32> {
    let Running { mut child, stdin, outputs, pty } = running;
    let pumps: Vec<_> = outputs.into_iter().map(|(channel, reader)| tokio::spawn(pump(channel, reader, out.clone()))).collect();
    let (in_tx, in_rx) = mpsc::channel::<Vec<u8>>(64);
    let feeder = stdin.map(|w| tokio::spawn(feed(w, in_rx)));
    let mut in_tx = Some(in_tx);
    // Input read from the client but not yet taken by the feeder. While it waits,
    // the client is not read from (back-pressure), but the process is still watched:
    // a command that exits without reading all its input must not hang the session.
    let mut pending: Option<Vec<u8>> = None;
    let status = loop {
        let tx = in_tx.clone();
        let room = async move {
            match tx {
                Some(tx) => tx.reserve_owned().await.ok(),
                None => None,
            }
        };
        tokio::select! {
            status = child.wait() => break status.ok(),
            permit = room, if pending.is_some() => match permit {
                Some(permit) => drop(permit.send(pending.take().unwrap_or_default())),
                // The feeder is gone (the process closed its stdin): input is dropped.
                None => pending = None,
            },
            msg = incoming.next(), if pending.is_none() => {
                let Some(Ok(msg)) = msg else {
                    // The client is gone: nothing is left to read the output.
                    let _ = child.start_kill();
                    let _ = child.wait().await;
                    pumps.iter().for_each(|p| p.abort());
                    return None;
                };
                let data: &[u8] = match &msg {
                    Message::Binary(b) => b,
                    Message::Text(t) => t.as_bytes(),
                    _ => continue,
                };
                match data.split_first() {
                    Some((&STDIN, bytes)) if in_tx.is_some() => pending = Some(bytes.to_vec()),
                    Some((&RESIZE, bytes)) => {
                        if let (Some(pty), Some((w, h))) = (&pty, window_size(bytes)) { process::resize(pty, w, h); }
                    }
                    Some((&CLOSE, [STDIN, ..])) => in_tx = None,
                    _ => {}
                }
            }
        }
    };
    drop(in_tx);
    if let Some(f) = feeder {
        f.abort();
    }
    for pump in pumps {
        let abort = pump.abort_handle();
        if tokio::time::timeout(DRAIN, pump).await.is_err() {
            abort.abort();
        }
    }
    Some(status.map_or(1, process::exit_code))
}

/// Copies one output stream to its channel.
async fn pump(channel: u8, mut reader: process::Reader, out: mpsc::Sender<Message>) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if out.send(frame(channel, &buf[..n])).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Writes what arrives on channel 0 to the process; closing the channel is EOF.
async fn feed(mut writer: process::Writer, mut rx: mpsc::Receiver<Vec<u8>>) {
    while let Some(bytes) = rx.recv().await {
        if writer.write_all(&bytes).await.is_err() || writer.flush().await.is_err() {
            return;
        }
    }
    let _ = writer.shutdown().await;
}

/// `{"Width":W,"Height":H}` from channel 4.
fn window_size(bytes: &[u8]) -> Option<(u16, u16)> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    Some((u16::try_from(v["Width"].as_u64()?).ok()?, u16::try_from(v["Height"].as_u64()?).ok()?))
}

/// The metav1 Status the kubelet sends on channel 3 when the command ends.
fn status(code: i32, argv: &[String]) -> Value {
    if code == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!("command terminated with non-zero exit code: error executing command [{}], exit code {code}", argv.join(" ")),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_shaped_like_the_kubelets() {
        assert_eq!(status(0, &[]).to_string(), r#"{"metadata":{},"status":"Success"}"#);
        let failed = status(3, &["sh".into(), "-c".into(), "exit 3".into()]);
        assert_eq!(failed["message"], "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3");
        assert_eq!(failed["details"]["causes"][0], json!({"reason": "ExitCode", "message": "3"}));
    }

    #[test]
    fn window_sizes_are_parsed_from_json() {
        assert_eq!(window_size(br#"{"Width":80,"Height":24}"#), Some((80, 24)));
        assert_eq!(window_size(b"junk"), None);
    }
}
