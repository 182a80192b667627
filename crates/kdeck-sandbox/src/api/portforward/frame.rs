//! SPDY/3.1 framing: the frames port-forward clients (kubectl through client-go's
//! spdystream) send and expect, read from a byte buffer and written to bytes.
//!
//! Every frame starts with 8 bytes. A control frame: the control bit, a 15-bit
//! version (3), a 16-bit type, 8 bits of flags and a 24-bit length. A data frame:
//! the control bit clear, a 31-bit stream id, flags and length. Header blocks
//! (SYN_STREAM, SYN_REPLY, HEADERS) are compressed with the session's zlib stream
//! ([`super::headers`]); [`Decoder`] and [`Encoder`] own one direction of it each.

use bytes::{Buf, Bytes, BytesMut};

use super::headers::{self, Deflater, HeaderError, Headers, Inflater};

pub const VERSION: u16 = 3;
/// FLAG_FIN on data frames and on SYN_STREAM / SYN_REPLY / HEADERS.
pub const FLAG_FIN: u8 = 0x01;
/// The largest frame body the 24-bit length allows.
const MAX_LENGTH: usize = (1 << 24) - 1;

const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const SETTINGS: u16 = 4;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const HEADERS: u16 = 8;
const WINDOW_UPDATE: u16 = 9;

/// RST_STREAM status codes.
pub mod rst {
    pub const PROTOCOL_ERROR: u32 = 1;
    pub const CANCEL: u32 = 5;
}

/// GOAWAY status codes.
pub mod goaway {
    pub const OK: u32 = 0;
    pub const PROTOCOL_ERROR: u32 = 1;
}

/// SETTINGS ids.
pub const SETTINGS_INITIAL_WINDOW_SIZE: u32 = 7;

#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    SynStream {
        stream: u32,
        flags: u8,
        headers: Headers,
    },
    SynReply {
        stream: u32,
        flags: u8,
        headers: Headers,
    },
    RstStream {
        stream: u32,
        status: u32,
    },
    /// (id, value) pairs; the per-entry flags are of no use here.
    Settings(Vec<(u32, u32)>),
    Ping(u32),
    GoAway {
        last_good: u32,
        status: u32,
    },
    Headers {
        stream: u32,
        flags: u8,
        headers: Headers,
    },
    WindowUpdate {
        stream: u32,
        delta: u32,
    },
    Data {
        stream: u32,
        flags: u8,
        data: Bytes,
    },
    /// A control frame of a type SPDY/3.1 does not define (to be ignored).
    Unknown(u16),
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FrameError {
    #[error("SPDY version {0} is not supported (only 3)")]
    Version(u16),
    #[error("a {0} frame is too short")]
    Short(&'static str),
    #[error(transparent)]
    Headers(#[from] HeaderError),
}

/// Reads frames from the bytes received so far.
#[derive(Default)]
pub struct Decoder {
    inflater: Inflater,
}

impl Decoder {
    /// The next whole frame in `buf` (consumed from it), or `None` until more bytes come.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        if buf.len() < 8 {
            return Ok(None);
        }
        let length = u32::from_be_bytes([0, buf[5], buf[6], buf[7]]) as usize;
        if buf.len() < 8 + length {
            buf.reserve(8 + length - buf.len());
            return Ok(None);
        }
        let first = buf.get_u32();
        let flags = buf.get_u8();
        buf.advance(3);
        let mut body = buf.split_to(length).freeze();
        if first & 0x8000_0000 == 0 {
            return Ok(Some(Frame::Data { stream: first & 0x7fff_ffff, flags, data: body }));
        }
        let version = ((first >> 16) & 0x7fff) as u16;
        if version != VERSION {
            return Err(FrameError::Version(version));
        }
        let kind = (first & 0xffff) as u16;
        let frame = match kind {
            SYN_STREAM => {
                need(&body, 10, "SYN_STREAM")?;
                let stream = body.get_u32() & 0x7fff_ffff;
                body.advance(6); // associated-to stream, priority, slot
                Frame::SynStream { stream, flags, headers: self.headers(&body)? }
            }
            SYN_REPLY | HEADERS => {
                need(&body, 4, "SYN_REPLY")?;
                let stream = body.get_u32() & 0x7fff_ffff;
                let headers = self.headers(&body)?;
                if kind == SYN_REPLY { Frame::SynReply { stream, flags, headers } } else { Frame::Headers { stream, flags, headers } }
            }
            RST_STREAM => {
                need(&body, 8, "RST_STREAM")?;
                Frame::RstStream { stream: body.get_u32() & 0x7fff_ffff, status: body.get_u32() }
            }
            SETTINGS => {
                need(&body, 4, "SETTINGS")?;
                let count = body.get_u32() as usize;
                need(&body, count.saturating_mul(8), "SETTINGS")?;
                Frame::Settings((0..count).map(|_| (body.get_u32() & 0x00ff_ffff, body.get_u32())).collect())
            }
            PING => {
                need(&body, 4, "PING")?;
                Frame::Ping(body.get_u32())
            }
            GOAWAY => {
                need(&body, 4, "GOAWAY")?;
                let last_good = body.get_u32() & 0x7fff_ffff;
                Frame::GoAway { last_good, status: if body.len() >= 4 { body.get_u32() } else { goaway::OK } }
            }
            WINDOW_UPDATE => {
                need(&body, 8, "WINDOW_UPDATE")?;
                Frame::WindowUpdate { stream: body.get_u32() & 0x7fff_ffff, delta: body.get_u32() & 0x7fff_ffff }
            }
            other => Frame::Unknown(other),
        };
        Ok(Some(frame))
    }

    /// Every header block goes through the inflater, even one that is ignored
    /// afterwards: the zlib stream spans the whole session.
    fn headers(&mut self, block: &[u8]) -> Result<Headers, FrameError> {
        Ok(headers::decode(&self.inflater.inflate(block)?)?)
    }
}

fn need(body: &Bytes, n: usize, name: &'static str) -> Result<(), FrameError> {
    if body.len() < n { Err(FrameError::Short(name)) } else { Ok(()) }
}

/// Writes frames as bytes.
#[derive(Default)]
pub struct Encoder {
    deflater: Deflater,
}

impl Encoder {
    /// Appends `frame` to `out`. Data frames are the caller's to keep under 16 MiB.
    pub fn encode(&mut self, frame: &Frame, out: &mut Vec<u8>) {
        match frame {
            Frame::Data { stream, flags, data } => {
                out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
                length_word(out, *flags, data.len());
                out.extend_from_slice(data);
            }
            Frame::SynStream { stream, flags, headers } => {
                let block = self.block(headers);
                let mut body = (stream & 0x7fff_ffff).to_be_bytes().to_vec();
                body.extend_from_slice(&[0; 6]);
                body.extend_from_slice(&block);
                control(out, SYN_STREAM, *flags, &body);
            }
            Frame::SynReply { stream, flags, headers } | Frame::Headers { stream, flags, headers } => {
                let kind = if matches!(frame, Frame::SynReply { .. }) { SYN_REPLY } else { HEADERS };
                let mut body = (stream & 0x7fff_ffff).to_be_bytes().to_vec();
                body.extend_from_slice(&self.block(headers));
                control(out, kind, *flags, &body);
            }
            Frame::RstStream { stream, status } => control(out, RST_STREAM, 0, &words(&[*stream, *status])),
            Frame::Settings(entries) => {
                let mut body = vec![(entries.len() as u32)];
                entries.iter().for_each(|(id, value)| body.extend([*id & 0x00ff_ffff, *value]));
                control(out, SETTINGS, 0, &words(&body));
            }
            Frame::Ping(id) => control(out, PING, 0, &words(&[*id])),
            Frame::GoAway { last_good, status } => control(out, GOAWAY, 0, &words(&[*last_good, *status])),
            Frame::WindowUpdate { stream, delta } => control(out, WINDOW_UPDATE, 0, &words(&[*stream, *delta])),
            Frame::Unknown(_) => {}
        }
    }

    fn block(&mut self, headers: &Headers) -> Vec<u8> {
        let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        self.deflater.deflate(&headers::encode(&pairs))
    }
}

fn words(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_be_bytes()).collect()
}

fn length_word(out: &mut Vec<u8>, flags: u8, len: usize) {
    debug_assert!(len <= MAX_LENGTH, "a SPDY frame carries at most 16 MiB");
    let len = len.min(MAX_LENGTH) as u32;
    out.extend_from_slice(&((u32::from(flags) << 24) | len).to_be_bytes());
}

fn control(out: &mut Vec<u8>, kind: u16, flags: u8, body: &[u8]) {
    out.extend_from_slice(&((0x8000u32 | u32::from(VERSION)) << 16 | u32::from(kind)).to_be_bytes());
    length_word(out, flags, body.len());
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(frames: &[Frame]) -> Vec<Frame> {
        let (mut encoder, mut decoder) = (Encoder::default(), Decoder::default());
        let mut bytes = Vec::new();
        frames.iter().for_each(|f| encoder.encode(f, &mut bytes));
        // Fed a byte at a time: frames come out only once whole.
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for b in bytes {
            buf.extend_from_slice(&[b]);
            while let Some(frame) = decoder.decode(&mut buf).unwrap() {
                out.push(frame);
            }
        }
        out
    }

    #[test]
    fn frames_round_trip_through_a_byte_stream() {
        let h = |pairs: &[(&str, &str)]| pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect::<Headers>();
        let frames = vec![
            Frame::SynStream { stream: 1, flags: 0, headers: h(&[("streamtype", "error"), ("port", "80"), ("requestid", "0")]) },
            Frame::SynReply { stream: 1, flags: FLAG_FIN, headers: vec![] },
            Frame::Data { stream: 3, flags: 0, data: Bytes::from_static(b"GET / HTTP/1.1\r\n\r\n") },
            Frame::Data { stream: 3, flags: FLAG_FIN, data: Bytes::new() },
            Frame::RstStream { stream: 5, status: rst::CANCEL },
            Frame::Settings(vec![(SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20)]),
            Frame::Ping(7),
            Frame::GoAway { last_good: 5, status: goaway::OK },
            Frame::Headers { stream: 3, flags: 0, headers: h(&[("a", "b")]) },
            Frame::WindowUpdate { stream: 0, delta: 65536 },
        ];
        assert_eq!(round_trip(&frames), frames);
    }

    #[test]
    fn known_bytes_decode_and_bad_versions_are_refused() {
        let mut decoder = Decoder::default();
        // PING 1, as spdystream writes it.
        let mut buf = BytesMut::from(&[0x80, 0x03, 0x00, 0x06, 0, 0, 0, 4, 0, 0, 0, 1][..]);
        assert_eq!(decoder.decode(&mut buf).unwrap(), Some(Frame::Ping(1)));
        assert!(buf.is_empty());
        let mut buf = BytesMut::from(&[0x80, 0x02, 0x00, 0x06, 0, 0, 0, 4, 0, 0, 0, 1][..]);
        assert_eq!(decoder.decode(&mut buf), Err(FrameError::Version(2)));
        let mut buf = BytesMut::from(&[0x80, 0x03, 0x00, 0x03, 0, 0, 0, 2, 0, 0][..]);
        assert_eq!(decoder.decode(&mut buf), Err(FrameError::Short("RST_STREAM")));
        let mut buf = BytesMut::from(&[0x80, 0x03, 0x00, 0x0a, 0, 0, 0, 0][..]);
        assert_eq!(decoder.decode(&mut buf).unwrap(), Some(Frame::Unknown(10)));
    }
}
