//! Port-forward over WebSocket channels, as the kubelet serves it
//! (`pkg/kubelet/cri/streaming/portforward/websocket.go`) to the Python client and
//! kube-rs: subprotocol `v4.channel.k8s.io` (binary messages), its base64 variant
//! `v4.base64.channel.k8s.io` (text messages), or none at all (binary).
//!
//! For the i-th port of `ports=`, channel 2i carries data both ways and channel
//! 2i+1 errors; the first message on each is the port, 2 bytes little-endian. Each
//! port gets one connection to the pod, dialled at once; the first byte of every
//! message names its channel. The WebSocket closes once every connection has ended
//! (v4 has no way to close one channel).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::super::channels::Ws;
use super::Target;

/// Serves the ports until their connections end or the client leaves.
pub async fn run(ws: Ws, base64: bool, ports: Vec<u16>, target: Target) {
    let (mut sink, mut stream) = ws.split();
    let (out, mut outgoing) = mpsc::channel::<(u8, Bytes)>(64);
    let writer = tokio::spawn(async move {
        while let Some((channel, data)) = outgoing.recv().await {
            if sink.send(message(base64, channel, &data)).await.is_err() {
                return;
            }
        }
        let normal = CloseFrame { code: CloseCode::Normal, reason: "".into() };
        let _ = sink.send(Message::Close(Some(normal))).await;
        let _ = sink.close().await;
    });
    for (i, port) in ports.iter().enumerate() {
        let number = Bytes::copy_from_slice(&port.to_le_bytes());
        let _ = out.send((data_channel(i), number.clone())).await;
        let _ = out.send((data_channel(i) + 1, number)).await;
    }
    let mut inbound = Vec::with_capacity(ports.len());
    let mut connections = JoinSet::new();
    for (i, &port) in ports.iter().enumerate() {
        let (tx, rx) = mpsc::channel::<Bytes>(16);
        inbound.push(tx);
        connections.spawn(forward(target.clone(), port, data_channel(i), rx, out.clone()));
    }
    drop(out);
    loop {
        tokio::select! {
            message = stream.next() => {
                let bytes = match message {
                    Some(Ok(Message::Binary(bytes))) => bytes,
                    Some(Ok(Message::Text(text))) if base64 => match decode_text(text.as_str()) {
                        Some(bytes) => bytes,
                        None => continue,
                    },
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_) | Message::Text(_))) => continue,
                    _ => break,
                };
                // Data for the pod comes on the even channels; what a client writes on
                // an error channel, and empty messages, mean nothing.
                let Some((&channel, data)) = bytes.split_first() else { continue };
                if channel % 2 == 0 && !data.is_empty()
                    && let Some(port) = inbound.get(usize::from(channel / 2))
                {
                    let _ = port.send(bytes.slice(1..)).await;
                }
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {
                if connections.is_empty() {
                    break;
                }
            }
        }
    }
    connections.shutdown().await;
    let _ = writer.await;
}

fn data_channel(i: usize) -> u8 {
    (i * 2) as u8
}

/// One port's connection for the life of the WebSocket.
async fn forward(target: Target, port: u16, channel: u8, mut inbound: mpsc::Receiver<Bytes>, out: mpsc::Sender<(u8, Bytes)>) {
    let conn = match target.dial(port).await {
        Ok(conn) => conn,
        Err(message) => {
            let _ = out.send((channel + 1, Bytes::from(message))).await;
            return;
        }
    };
    let (mut from_pod, mut to_pod) = tokio::io::split(conn);
    let upstream = async {
        while let Some(bytes) = inbound.recv().await {
            if to_pod.write_all(&bytes).await.is_err() {
                break;
            }
        }
        std::future::pending::<()>().await;
    };
    let downstream = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from_pod.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if out.send((channel, Bytes::copy_from_slice(&buf[..n]))).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    tokio::select! {
        () = upstream => {}
        () = downstream => {}
    }
}

/// A message on `channel`: binary, or for the base64 protocol text with the
/// channel as a digit.
fn message(base64: bool, channel: u8, data: &[u8]) -> Message {
    if base64 {
        let mut text = char::from(b'0' + channel).to_string();
        text.push_str(&STANDARD.encode(data));
        return Message::Text(text.into());
    }
    let mut bytes = Vec::with_capacity(data.len() + 1);
    bytes.push(channel);
    bytes.extend_from_slice(data);
    Message::Binary(bytes.into())
}

/// A base64 text message back to the binary form: the channel byte, then the data.
fn decode_text(text: &str) -> Option<Bytes> {
    let (first, rest) = text.split_at_checked(1)?;
    let channel = first.as_bytes()[0].checked_sub(b'0')?;
    let mut bytes = vec![channel];
    bytes.extend(STANDARD.decode(rest).ok()?);
    Some(bytes.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_messages_carry_the_channel_as_a_digit() {
        assert_eq!(message(true, 1, &80u16.to_le_bytes()), Message::Text("1UAA=".into()));
        assert_eq!(message(false, 2, b"hi"), Message::Binary(vec![2, b'h', b'i'].into()));
        assert_eq!(decode_text("0aGk=").unwrap().as_ref(), [0, b'h', b'i']);
        assert_eq!(decode_text(""), None);
    }
}
