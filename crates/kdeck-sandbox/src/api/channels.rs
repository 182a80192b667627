//! The WebSocket side of exec and attach, as kubectl, kube-rs and the Python client
//! speak it: the `v5.channel.k8s.io` / `v4.channel.k8s.io` subprotocols, where the
//! first byte of each message is the stream — 0 stdin, 1 stdout, 2 stderr, 3 the
//! final status, 4 terminal resize, and (v5) 255 to close a stream.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use super::body::{self, Body};
use crate::rest::ApiError;

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const ERROR: u8 = 3;
pub const RESIZE: u8 = 4;
pub const CLOSE: u8 = 255;
/// Subprotocols served, by name; v5 adds the close signal.
const PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

pub type Ws = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// The client's handshake key; anything but a WebSocket upgrade (such as the SPDY
/// older clients try) is refused.
pub fn websocket_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let upgrade = headers.get(header::UPGRADE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let key = headers.get(header::SEC_WEBSOCKET_KEY).and_then(|v| v.to_str().ok());
    match key {
        Some(key) if upgrade.eq_ignore_ascii_case("websocket") => Ok(key.to_string()),
        _ => Err(ApiError::bad_request(
            "exec and attach are served over WebSocket only (subprotocols v5.channel.k8s.io, v4.channel.k8s.io); upgrade the request",
        )),
    }
}

/// The first subprotocol the client offers that the server speaks.
pub fn pick_protocol(headers: &HeaderMap) -> Result<&'static str, ApiError> {
    let offered = headers.get_all(header::SEC_WEBSOCKET_PROTOCOL).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).map(str::trim);
    for name in offered {
        if let Some(p) = PROTOCOLS.iter().find(|p| **p == name) {
            return Ok(p);
        }
    }
    Err(ApiError::bad_request(format!("none of the offered subprotocols is supported; supported: {}", PROTOCOLS.join(", "))))
}

pub fn switching_protocols(key: &str, protocol: &'static str) -> Response<Body> {
    let mut resp = Response::new(body::full(Bytes::new()));
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = resp.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    if let Ok(v) = HeaderValue::from_str(&accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    // Without a subprotocol (a client that offered none), no header.
    if !protocol.is_empty() {
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(protocol));
    }
    resp
}

/// One message on `channel`.
pub fn frame(channel: u8, data: &[u8]) -> Message {
    let mut bytes = Vec::with_capacity(data.len() + 1);
    bytes.push(channel);
    bytes.extend_from_slice(data);
    Message::Binary(bytes.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_offered_subprotocol_served_is_picked() {
        let offer = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_str(v).unwrap());
            pick_protocol(&h)
        };
        assert_eq!(offer("v5.channel.k8s.io, v4.channel.k8s.io").unwrap(), "v5.channel.k8s.io");
        assert_eq!(offer("v4.channel.k8s.io,v5.channel.k8s.io").unwrap(), "v4.channel.k8s.io");
        assert_eq!(offer("channel.k8s.io, v4.channel.k8s.io").unwrap(), "v4.channel.k8s.io");
        assert_eq!(offer("base64.channel.k8s.io").unwrap_err().code, 400);
        assert_eq!(pick_protocol(&HeaderMap::new()).unwrap_err().code, 400);
    }
}
