//! `pods/{name}/attach`: the container's output from now on, over the same
//! WebSocket channels as exec. Containers are simulated, so what they "print" is
//! their log ([`crate::kubelet::logs`]); stdin is accepted and discarded, since no
//! process reads it. The stream ends, with a Success status, when the container
//! stops or the client leaves.

use futures::{SinkExt, StreamExt};
use http::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::body::Body;
use super::channels::{ERROR, STDOUT, Ws, frame, pick_protocol, switching_protocols, websocket_key};
use super::logs::still_running;
use super::query::Query;
use crate::kubelet::logs::{self, Run};
use crate::rest::{ApiError, Rest};

pub async fn serve(rest: &Rest, mut req: Request<crate::api::body::RequestBody>, ns: &str, name: &str, query: &Query) -> Result<Response<Body>, ApiError> {
    let pods = rest.catalogue.find("", "v1", "pods").ok_or_else(|| ApiError::internal("pods are not served"))?;
    let pod = rest.get(&pods, Some(ns), name)?;
    if pod["spec"]["nodeName"].as_str().unwrap_or_default().is_empty() {
        return Err(ApiError::bad_request(format!("pod {name} does not have a host assigned")));
    }
    let bad = |e: logs::LogError| ApiError::bad_request(e.to_string());
    let container = logs::container_name(&pod, query.get("container").filter(|c| !c.is_empty())).map_err(bad)?;
    let run = logs::run_of(&pod, &container, false).map_err(bad)?;
    if run.finished.is_some() {
        return Err(ApiError::bad_request(format!("cannot attach to a container that has stopped: container \"{container}\" in pod \"{name}\"")));
    }
    let key = websocket_key(req.headers())?;
    let protocol = pick_protocol(req.headers())?;
    let upgrade = hyper::upgrade::on(&mut req);
    let (rest, ns, name, uid) = (rest.clone(), ns.to_string(), name.to_string(), pod["metadata"]["uid"].clone());
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        session(ws, &rest, &ns, &name, &uid, &container, run).await;
    });
    Ok(switching_protocols(&key, protocol))
}

/// Sends new output until the container stops (Success) or the client goes.
async fn session(ws: Ws, rest: &Rest, ns: &str, name: &str, uid: &serde_json::Value, container: &str, run: Run) {
    let (mut sink, mut incoming) = ws.split();
    let mut changes = run.changes();
    let mut sent_until = crate::time::unix_nanos();
    loop {
        tokio::select! {
            message = incoming.next() => match message {
                // Stdin and resizes have no reader; a close or an error ends the session.
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => continue,
            },
            _ = logs::wait_for_output(&run, &mut changes) => {}
        }
        let complete = run.output_complete();
        let until = crate::time::unix_nanos();
        let text: String = logs::lines(&run, sent_until, until).into_iter().map(|l| l.text + "\n").collect();
        sent_until = until;
        if !text.is_empty() && sink.send(frame(STDOUT, text.as_bytes())).await.is_err() {
            return;
        }
        if complete || !still_running(rest, ns, name, uid, container, &run) {
            let _ = sink.send(frame(ERROR, json!({"metadata": {}, "status": "Success"}).to_string().as_bytes())).await;
            let _ = sink.close().await;
            return;
        }
    }
}
