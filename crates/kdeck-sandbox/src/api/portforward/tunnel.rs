//! The byte pipe a SPDY session runs over: either the upgraded connection itself
//! (`Upgrade: SPDY/3.1`, client-go's fallback), or a WebSocket whose binary
//! messages carry the SPDY bytes (subprotocol `SPDY/3.1+portforward.k8s.io`,
//! kubectl's default since 1.31; the apiserver's `streamtunnel.go` on a real
//! cluster). Message boundaries mean nothing in the tunnel: the peer reads it as a
//! stream, so each batch of frames goes out as one message.

use bytes::BytesMut;
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::super::channels::Ws;

type Raw = TokioIo<hyper::upgrade::Upgraded>;

pub enum Reader {
    Raw(ReadHalf<Raw>),
    Ws(SplitStream<Ws>),
}

pub enum Writer {
    Raw(WriteHalf<Raw>),
    Ws(SplitSink<Ws, Message>),
}

/// The two halves of an upgraded `SPDY/3.1` connection.
pub fn raw(upgraded: hyper::upgrade::Upgraded) -> (Reader, Writer) {
    let (read, write) = tokio::io::split(TokioIo::new(upgraded));
    (Reader::Raw(read), Writer::Raw(write))
}

/// The two halves of a WebSocket tunnelling SPDY.
pub fn websocket(ws: Ws) -> (Reader, Writer) {
    let (sink, stream) = ws.split();
    (Reader::Ws(stream), Writer::Ws(sink))
}

impl Reader {
    /// Appends what arrives next to `buf`; `false` once the peer is gone.
    pub async fn read(&mut self, buf: &mut BytesMut) -> bool {
        match self {
            Reader::Raw(read) => {
                buf.reserve(64 * 1024);
                matches!(read.read_buf(buf).await, Ok(n) if n > 0)
            }
            Reader::Ws(stream) => loop {
                match stream.next().await {
                    Some(Ok(Message::Binary(bytes))) => {
                        buf.extend_from_slice(&bytes);
                        return true;
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                    // Text has no meaning in the tunnel (client-go fails on it too).
                    _ => return false,
                }
            },
        }
    }
}

impl Writer {
    pub async fn write(&mut self, bytes: Vec<u8>) -> std::io::Result<()> {
        match self {
            Writer::Raw(write) => {
                write.write_all(&bytes).await?;
                write.flush().await
            }
            Writer::Ws(sink) => sink.send(Message::Binary(bytes.into())).await.map_err(std::io::Error::other),
        }
    }

    /// Ends the connection: a normal WebSocket close (clients treat any other as
    /// an error), or the end of the stream.
    pub async fn close(&mut self) {
        match self {
            Writer::Raw(write) => drop(write.shutdown().await),
            Writer::Ws(sink) => {
                let normal = CloseFrame { code: CloseCode::Normal, reason: "".into() };
                let _ = sink.send(Message::Close(Some(normal))).await;
                let _ = sink.close().await;
            }
        }
    }
}
