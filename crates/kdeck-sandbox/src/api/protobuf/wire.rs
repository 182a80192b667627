//! The protobuf wire-format reader: varints, length-delimited payloads, field
//! keys, skipping of unknown fields (groups included), and the [`Path`] that
//! locates a value in the object for error messages.

use std::fmt;

use super::{ProtobufError, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Wire {
    Varint,
    Fixed64,
    Len,
    StartGroup,
    EndGroup,
    Fixed32,
}

impl fmt::Display for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Wire::Varint => "varint",
            Wire::Fixed64 => "fixed64",
            Wire::Len => "length-delimited",
            Wire::StartGroup => "start-group",
            Wire::EndGroup => "end-group",
            Wire::Fixed32 => "fixed32",
        })
    }
}

/// Deepest group nesting accepted while skipping unknown fields.
const MAX_GROUP_DEPTH: usize = 64;

/// A cursor over one message's bytes. `base` is the offset of `buf` within the
/// whole body so that errors point at the right byte.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8], base: usize) -> Self {
        Reader { buf, pos: 0, base }
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn offset(&self) -> usize {
        self.base + self.pos
    }

    fn malformed(&self, offset: usize, detail: impl Into<String>) -> ProtobufError {
        ProtobufError::Malformed { offset, detail: detail.into() }
    }

    pub(super) fn varint(&mut self) -> Result<u64> {
        let start = self.offset();
        let mut value: u64 = 0;
        for i in 0..10 {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(self.malformed(start, "truncated varint"));
            };
            self.pos += 1;
            if i == 9 && byte > 1 {
                return Err(self.malformed(start, "varint overflows 64 bits"));
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.malformed(start, "varint longer than 10 bytes"))
    }

    /// Takes the next `n` bytes; `item_start` is where the item being read
    /// began, which is what a truncation error points at.
    fn take(&mut self, n: usize, what: &str, item_start: usize) -> Result<(&'a [u8], usize)> {
        let start = self.offset();
        let remaining = self.buf.len().saturating_sub(self.pos);
        let Some(bytes) = self.buf.get(self.pos..).and_then(|rest| rest.get(..n)) else {
            return Err(self.malformed(item_start, format!("truncated {what}: needs {n} bytes, only {remaining} left")));
        };
        self.pos += n;
        Ok((bytes, start))
    }

    /// Reads a length-delimited payload, returning it and its offset.
    pub(super) fn len_delimited(&mut self) -> Result<(&'a [u8], usize)> {
        let start = self.offset();
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| self.malformed(start, format!("length {len} is too large")))?;
        self.take(len, "length-delimited field", start)
    }

    /// Reads a field key, returning the field number and wire type.
    fn key(&mut self) -> Result<(u32, Wire)> {
        let start = self.offset();
        let tag = self.varint()?;
        let wire = match tag & 7 {
            0 => Wire::Varint,
            1 => Wire::Fixed64,
            2 => Wire::Len,
            3 => Wire::StartGroup,
            4 => Wire::EndGroup,
            5 => Wire::Fixed32,
            other => return Err(self.malformed(start, format!("invalid wire type {other}"))),
        };
        let number = tag >> 3;
        // Valid field numbers are 1 ..= 2^29 - 1.
        match u32::try_from(number) {
            Ok(n) if (1..(1 << 29)).contains(&n) => Ok((n, wire)),
            _ => Err(self.malformed(start, format!("invalid field number {number}"))),
        }
    }

    /// Skips over a field's value, including (deprecated) groups, so unknown
    /// fields can be collected and reported together.
    fn skip(&mut self, number: u32, wire: Wire) -> Result<()> {
        match wire {
            Wire::Varint => self.varint().map(drop),
            Wire::Fixed64 => self.take(8, "fixed64", self.offset()).map(drop),
            Wire::Fixed32 => self.take(4, "fixed32", self.offset()).map(drop),
            Wire::Len => self.len_delimited().map(drop),
            Wire::EndGroup => Err(self.malformed(self.offset(), format!("unexpected end-group for field {number}"))),
            Wire::StartGroup => {
                // Iterative so hostile nesting cannot overflow the stack.
                let mut open = vec![number];
                while let Some(&current) = open.last() {
                    if self.at_end() {
                        return Err(self.malformed(self.offset(), format!("truncated group for field {current}")));
                    }
                    let start = self.offset();
                    let (n, w) = self.key()?;
                    match w {
                        Wire::StartGroup => {
                            if open.len() >= MAX_GROUP_DEPTH {
                                return Err(self.malformed(start, "groups nested too deeply"));
                            }
                            open.push(n);
                        }
                        Wire::EndGroup if n == current => {
                            open.pop();
                        }
                        Wire::EndGroup => {
                            return Err(self.malformed(start, format!("end-group for field {n} inside group {current}")));
                        }
                        other => self.skip(n, other)?,
                    }
                }
                Ok(())
            }
        }
    }

    fn wrong_wire(&self, path: &Path<'_>, found: Wire, expected: Wire) -> ProtobufError {
        self.malformed(self.offset(), format!("field {} has wire type {found}, expected {expected}", path.render()))
    }

    /// Reads a length-delimited value for the field at `path`.
    pub(super) fn len_field(&mut self, wire: Wire, path: &Path<'_>) -> Result<(&'a [u8], usize)> {
        if wire != Wire::Len {
            return Err(self.wrong_wire(path, wire, Wire::Len));
        }
        self.len_delimited()
    }

    /// Reads a varint value for the field at `path`.
    pub(super) fn varint_field(&mut self, wire: Wire, path: &Path<'_>) -> Result<u64> {
        if wire != Wire::Varint {
            return Err(self.wrong_wire(path, wire, Wire::Varint));
        }
        self.varint()
    }

    /// Reads a UTF-8 string value for the field at `path`.
    pub(super) fn string_field(&mut self, wire: Wire, path: &Path<'_>) -> Result<String> {
        let (bytes, _) = self.len_field(wire, path)?;
        utf8(bytes, path)
    }
}

/// Calls `visit` for every field of one message. `visit` returns `Ok(false)`
/// for field numbers it does not know; those are skipped and reported together
/// once the whole message has been read.
pub(super) fn walk<'a>(
    data: &'a [u8],
    base: usize,
    message: &'static str,
    path: &Path<'_>,
    mut visit: impl FnMut(u32, Wire, &mut Reader<'a>) -> Result<bool>,
) -> Result<()> {
    let mut reader = Reader::new(data, base);
    let mut unknown = Vec::new();
    while !reader.at_end() {
        let (number, wire) = reader.key()?;
        if !visit(number, wire, &mut reader)? {
            reader.skip(number, wire)?;
            if !unknown.contains(&number) {
                unknown.push(number);
            }
        }
    }
    if unknown.is_empty() { Ok(()) } else { Err(ProtobufError::UnknownFields { message, path: path.render(), fields: unknown }) }
}

// ---------------------------------------------------------------------------
// Paths for error messages
// ---------------------------------------------------------------------------

/// Where in the object a value sits, e.g. `Deployment.spec.template.spec.containers[0]`.
/// Built on the stack as decoding descends and only rendered for errors.
#[derive(Clone, Copy)]
pub(super) enum Path<'a> {
    Root(&'a str),
    Field(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn render(&self) -> String {
        match self {
            Path::Root(name) => (*name).to_owned(),
            Path::Field(parent, name) => format!("{}.{name}", parent.render()),
            Path::Index(parent, index) => format!("{}[{index}]", parent.render()),
        }
    }
}

pub(super) fn invalid(path: &Path<'_>, detail: impl Into<String>) -> ProtobufError {
    ProtobufError::InvalidValue { path: path.render(), detail: detail.into() }
}

pub(super) fn utf8(bytes: &[u8], path: &Path<'_>) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|e| invalid(path, format!("string is not valid UTF-8 ({e})")))
}

#[cfg(test)]
mod tests {
    use super::super::test_encoder::*;
    use super::*;

    #[test]
    fn truncated_varint_reports_offset() {
        // Envelope field 1 key, then a length varint cut short.
        let bytes = [b'k', b'8', b's', 0, 0x0a, 0x80];
        let err = decode_err(&bytes);
        assert_eq!(err.to_string(), "malformed protobuf: truncated varint at byte 5");
    }

    #[test]
    fn length_past_end_is_malformed() {
        let bytes = [b'k', b'8', b's', 0, 0x12, 0x05, 0x01];
        let err = decode_err(&bytes);
        assert!(matches!(err, ProtobufError::Malformed { offset: 5, .. }), "{err}");
    }

    #[test]
    fn unknown_fields_of_every_wire_type_are_parsed_and_reported() {
        let mut object = Pb::new().string(3, "Opaque");
        object.key(40, 1);
        object.0.extend_from_slice(&[0; 8]);
        object.key(41, 5);
        object.0.extend_from_slice(&[0; 4]);
        object.key(42, 3); // start group
        object.key(1, 0);
        object.raw_varint(7);
        object.key(43, 3); // nested group
        object.key(43, 4);
        object.key(42, 4); // end group
        let err = decode_err(&body("v1", "Secret", object));
        assert!(matches!(&err, ProtobufError::UnknownFields { fields, .. } if fields == &[40, 41, 42]), "{err}");
    }

    #[test]
    fn unbalanced_groups_are_malformed() {
        let mut object = Pb::new();
        object.key(42, 3);
        object.key(43, 4);
        assert!(matches!(decode_err(&body("v1", "Secret", object)), ProtobufError::Malformed { .. }));
        let mut object = Pb::new();
        object.key(42, 4);
        assert!(matches!(decode_err(&body("v1", "Secret", object)), ProtobufError::Malformed { .. }));
        let mut object = Pb::new();
        for _ in 0..100 {
            object.key(42, 3);
        }
        assert!(matches!(decode_err(&body("v1", "Secret", object)), ProtobufError::Malformed { .. }));
    }

    #[test]
    fn wrong_wire_type_is_malformed() {
        // Secret.type (a string) sent as a varint.
        let err = decode_err(&body("v1", "Secret", Pb::new().int(3, 1)));
        assert!(err.to_string().contains("Secret.type"), "{err}");
        assert!(matches!(err, ProtobufError::Malformed { .. }));
    }

    #[test]
    fn invalid_utf8_is_refused() {
        let err = decode_err(&body("v1", "Secret", Pb::new().bytes(3, &[0xff, 0xfe])));
        assert!(matches!(&err, ProtobufError::InvalidValue { path, .. } if path == "Secret.type"), "{err}");
    }
}
