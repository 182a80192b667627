//! SPDY/3 header blocks: the name/value block, and the zlib stream it travels in.
//!
//! Each side compresses all its header blocks as ONE zlib stream, primed with the
//! dictionary of the SPDY/3 specification and flushed (`Z_SYNC_FLUSH`) at the end of
//! every block, so a block can refer back to anything sent before on the session.
//!
//! - In: the client's blocks go through [`Inflater`], a raw-deflate decompressor
//!   (miniz_oxide's core) whose 32 KiB history window starts out holding the
//!   dictionary — which is what "a preset dictionary" means to deflate.
//! - Out: [`Deflater`] writes each block as deflate *stored* blocks (type 00,
//!   uncompressed, byte-aligned) ended by the empty stored block a sync flush
//!   writes. That is a valid zlib stream any inflater reads; our blocks are a few
//!   bytes (a SYN_REPLY carries no headers), so compressing them buys nothing.

use std::sync::OnceLock;

use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress, inflate_flags::TINFL_FLAG_HAS_MORE_INPUT};

/// Header names of the SPDY/3 dictionary, each written length-prefixed.
const DICTIONARY_NAMES: [&str; 65] = [
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
];

/// The rest of the SPDY/3 dictionary, as is.
const DICTIONARY_TAIL: &str = "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505\
203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized403 Forbidden404 \
Not Found500 Internal Server Error501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct \
Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,\
application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdch\
charset=utf-8charset=iso-8859-1,utf-,*,enq=0.";

/// The deflate window: the history a back-reference may reach.
const WINDOW: usize = 32 * 1024;

/// A decompressed header block larger than this is refused (a zlib bomb, not headers).
const MAX_BLOCK: usize = 256 * 1024;

/// The preset dictionary of SPDY/3 (1423 bytes).
pub fn dictionary() -> &'static [u8] {
    static DICTIONARY: OnceLock<Vec<u8>> = OnceLock::new();
    DICTIONARY.get_or_init(|| {
        let mut d = Vec::with_capacity(1423);
        for name in DICTIONARY_NAMES {
            d.extend_from_slice(&(name.len() as u32).to_be_bytes());
            d.extend_from_slice(name.as_bytes());
        }
        d.extend_from_slice(DICTIONARY_TAIL.as_bytes());
        d
    })
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    (b << 16) | a
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum HeaderError {
    #[error("the header block does not start with a zlib header")]
    ZlibHeader,
    #[error("the header block is compressed with a dictionary other than SPDY/3's")]
    Dictionary,
    #[error("the header block does not decompress ({0})")]
    Inflate(String),
    #[error("a header block is larger than {MAX_BLOCK} bytes")]
    TooLarge,
    #[error("the header block is malformed")]
    Malformed,
}

/// The receiving side of the session's header compression.
pub struct Inflater {
    state: Box<DecompressorOxide>,
    window: Box<[u8]>,
    /// Where the next output byte goes in the window.
    pos: usize,
    /// The zlib header (2 bytes, 4 more with a dictionary id) is read before the first block.
    started: bool,
}

impl Default for Inflater {
    fn default() -> Self {
        let mut window = vec![0u8; WINDOW].into_boxed_slice();
        let dict = dictionary();
        window[..dict.len()].copy_from_slice(dict);
        Inflater { state: Box::default(), window, pos: dict.len(), started: false }
    }
}

impl Inflater {
    /// Decompresses the next header block of the session.
    pub fn inflate(&mut self, block: &[u8]) -> Result<Vec<u8>, HeaderError> {
        let mut input = block;
        if !self.started {
            input = self.zlib_header(input)?;
            self.started = true;
        }
        let mut out = Vec::new();
        loop {
            let (status, consumed, written) = decompress(&mut self.state, input, &mut self.window, self.pos, TINFL_FLAG_HAS_MORE_INPUT);
            out.extend_from_slice(&self.window[self.pos..self.pos + written]);
            self.pos = (self.pos + written) & (WINDOW - 1);
            input = &input[consumed..];
            if out.len() > MAX_BLOCK {
                return Err(HeaderError::TooLarge);
            }
            match status {
                TINFLStatus::HasMoreOutput => continue,
                TINFLStatus::NeedsMoreInput if input.is_empty() => return Ok(out),
                // A peer that ends its stream: what came is still the block.
                TINFLStatus::Done => return Ok(out),
                other => return Err(HeaderError::Inflate(format!("{other:?}"))),
            }
        }
    }

    fn zlib_header<'a>(&self, input: &'a [u8]) -> Result<&'a [u8], HeaderError> {
        let [cmf, flg, rest @ ..] = input else { return Err(HeaderError::ZlibHeader) };
        if cmf & 0x0f != 8 || (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 != 0 {
            return Err(HeaderError::ZlibHeader);
        }
        if flg & 0x20 == 0 {
            return Ok(rest);
        }
        let [a, b, c, d, rest @ ..] = rest else { return Err(HeaderError::ZlibHeader) };
        if u32::from_be_bytes([*a, *b, *c, *d]) != adler32(dictionary()) {
            return Err(HeaderError::Dictionary);
        }
        Ok(rest)
    }
}

/// The sending side of the session's header compression (stored blocks).
#[derive(Default)]
pub struct Deflater {
    started: bool,
}

impl Deflater {
    /// The next header block of the session, as zlib stream bytes.
    pub fn deflate(&mut self, raw: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(raw.len() + 16);
        if !self.started {
            // CMF: deflate with a 32 KiB window; FLG: a preset dictionary follows
            // (0x7820 is a multiple of 31, as the check bits require).
            out.extend_from_slice(&[0x78, 0x20]);
            out.extend_from_slice(&adler32(dictionary()).to_be_bytes());
            self.started = true;
        }
        for chunk in raw.chunks(u16::MAX as usize) {
            let len = chunk.len() as u16;
            // BFINAL 0, BTYPE 00 (stored), padded to the byte; then LEN and NLEN.
            out.push(0);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&(!len).to_le_bytes());
            out.extend_from_slice(chunk);
        }
        // The sync-flush marker, an empty stored block: only on reading it does Go's
        // inflater hand over what came before without asking for more input — the
        // next frame's bytes, which are not there yet.
        out.extend_from_slice(&[0, 0, 0, 0xff, 0xff]);
        out
    }
}

/// Header pairs, names lowercase; a name may come more than once.
pub type Headers = Vec<(String, String)>;

/// The first value of `name`.
pub fn get<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// The uncompressed name/value block: a count, then length-prefixed names and
/// values (32-bit big-endian lengths); several values of a name are NUL-separated.
pub fn encode(headers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(headers.len() as u32).to_be_bytes());
    for (name, value) in headers {
        for field in [name.to_ascii_lowercase().as_bytes(), value.as_bytes()] {
            out.extend_from_slice(&(field.len() as u32).to_be_bytes());
            out.extend_from_slice(field);
        }
    }
    out
}

pub fn decode(raw: &[u8]) -> Result<Headers, HeaderError> {
    let mut block = Cursor(raw);
    let count = block.word()?;
    let mut headers = Vec::new();
    for _ in 0..count {
        let len = block.word()?;
        let name = String::from_utf8_lossy(block.take(len)?).to_ascii_lowercase();
        let len = block.word()?;
        let value = String::from_utf8_lossy(block.take(len)?).into_owned();
        headers.extend(value.split('\0').map(|v| (name.clone(), v.to_string())));
    }
    Ok(headers)
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], HeaderError> {
        if self.0.len() < n {
            return Err(HeaderError::Malformed);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn word(&mut self) -> Result<usize, HeaderError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn the_dictionary_is_spdy3s() {
        assert_eq!(dictionary().len(), 1423);
        assert_eq!(adler32(dictionary()), 0xe3c6_a7c2);
        assert!(dictionary().starts_with(b"\0\0\0\x07options\0\0\0\x04head"));
        assert!(dictionary().ends_with(b"utf-,*,enq=0."));
    }

    #[test]
    fn blocks_compressed_by_zlib_with_the_dictionary_inflate_in_sequence() {
        // What a Go client sends: zlib level 9 with the dictionary, one stream,
        // sync-flushed after each block; the second block refers back into the first.
        let mut inflater = Inflater::default();
        let first = inflater.inflate(&hex("78f9e3c6a7c202253a48f95b044eea16061606409ab308125f99a074cc68004e892545a989b9d0c2863515141500000000ffff")).unwrap();
        let pairs = |h: Headers| h.into_iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join(" ");
        assert_eq!(pairs(decode(&first).unwrap()), "port=8080 requestid=0 streamtype=error");
        let second = inflater.inflate(&hex("225333a8a44a04000000ffff")).unwrap();
        assert_eq!(pairs(decode(&second).unwrap()), "port=8080 requestid=0 streamtype=data");
    }

    #[test]
    fn stored_blocks_round_trip_and_a_foreign_dictionary_is_refused() {
        let (mut out, mut back) = (Deflater::default(), Inflater::default());
        for headers in [vec![], vec![("Port", "80"), ("streamType", "data")], vec![("x", "a\0b")]] {
            let raw = encode(&headers);
            assert_eq!(back.inflate(&out.deflate(&raw)).unwrap(), raw);
        }
        assert_eq!(decode(&encode(&[("x", "a\0b")])).unwrap(), vec![("x".into(), "a".into()), ("x".into(), "b".into())]);
        let big = "v".repeat(70_000);
        let raw = encode(&[("big", big.as_str())]);
        assert_eq!(back.inflate(&out.deflate(&raw)).unwrap(), raw);
        assert_eq!(Inflater::default().inflate(&[0x78, 0xf9, 0, 0, 0, 1, 0]), Err(HeaderError::Dictionary));
        assert_eq!(Inflater::default().inflate(&[0x12]), Err(HeaderError::ZlibHeader));
        assert_eq!(decode(&[0, 0, 0, 1, 0, 0, 0, 9, b'a']), Err(HeaderError::Malformed));
    }
}
