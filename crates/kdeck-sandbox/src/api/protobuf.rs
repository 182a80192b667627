//! Decoding of Kubernetes protobuf request bodies into JSON.
//!
//! Go clients (kubectl, helm, anything built on client-go's typed clients)
//! send built-in objects as `Content-Type: application/vnd.kubernetes.protobuf`.
//! The sandbox stores objects as JSON, so such bodies are turned into exactly
//! the JSON the Go API server would have produced for the same object.
//!
//! # Wire format
//!
//! A body is the 4-byte magic `k8s\0` followed by a `runtime.Unknown` message
//! (k8s.io/apimachinery/pkg/runtime/generated.proto):
//!
//! ```text
//! message Unknown {
//!   optional TypeMeta typeMeta = 1;        // { apiVersion = 1; kind = 2; }
//!   optional bytes raw = 2;                // the object's own message
//!   optional string contentEncoding = 3;   // always empty in practice
//!   optional string contentType = 4;       // empty or the protobuf type
//! }
//! ```
//!
//! `raw` is decoded with a small table-driven proto2 decoder. Every supported
//! message type is a static `Msg` table of (field number, JSON name, type),
//! transcribed from the `generated.proto` files of k8s.io/api and
//! k8s.io/apimachinery. Field numbers never change in Kubernetes, so the tables
//! only ever need additions.
//!
//! # Zero values and `omitempty`
//!
//! Go's generated marshallers always write non-pointer scalar fields, even when
//! they hold the zero value, while `encoding/json` drops zero values of fields
//! tagged `omitempty`. To produce the same JSON, every scalar field carries a
//! `Rule`: `Rule::Omit` for non-pointer `omitempty` fields (zero value is
//! dropped) and `Rule::Keep` for pointer fields and fields without
//! `omitempty` (a value on the wire is always emitted, so `replicas: 0` or
//! `immutable: false` survive). Message-typed fields are emitted whenever they
//! are on the wire, which matches Go: non-pointer structs are always written
//! (and always appear in Go's JSON, e.g. `"status": {}`), pointer structs only
//! when set. A zero `metav1.Time` becomes `null`, as in Go.
//!
//! # Supported kinds
//!
//! - `v1`: Secret, ConfigMap, Namespace, ServiceAccount, Service, Event, Pod,
//!   PersistentVolumeClaim, Binding
//! - `apps/v1`: Deployment, ReplicaSet, DaemonSet, ControllerRevision
//! - `batch/v1`: Job, CronJob
//! - `authorization.k8s.io/v1`: SelfSubjectAccessReview, SubjectAccessReview,
//!   LocalSubjectAccessReview, SelfSubjectRulesReview
//! - `authentication.k8s.io/v1`: TokenRequest
//! - `coordination.k8s.io/v1`: Lease
//! - `policy/v1` and `policy/v1beta1`: Eviction
//! - DeleteOptions under any apiVersion (client-go sends it in the group of
//!   the resource being deleted)
//!
//! Pod templates cover what kubectl, helm charts and controllers commonly
//! send; the in-tree cloud volume plugins, container statuses and a few
//! alpha fields are not in the tables and are refused like any unknown field.
//!
//! # Never dropping data
//!
//! A field number that is not in a table is an error naming the message and
//! the field, never silently skipped: a newer client may send fields this
//! server does not know, and storing the object without them would lose data.
//! Callers should turn any [`ProtobufError`] into a 4xx response carrying its
//! message, so the user learns to send JSON for that object.

use std::fmt;

use base64::Engine as _;
use serde_json::{Map, Value};

/// The prefix of every Kubernetes protobuf body.
const MAGIC: &[u8] = b"k8s\0";

/// The only content type allowed inside the envelope besides "" (which means
/// the same thing).
const PROTOBUF_CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Why a protobuf body could not be turned into JSON.
#[derive(Debug, thiserror::Error)]
pub enum ProtobufError {
    /// The body does not start with `k8s\0`.
    #[error("protobuf body does not start with the Kubernetes magic prefix \"k8s\\0\"")]
    MissingMagic,

    /// The bytes are not valid protobuf (truncated, bad wire type, ...).
    #[error("malformed protobuf: {detail} at byte {offset}")]
    Malformed {
        /// Offset from the start of the body (magic included).
        offset: usize,
        detail: String,
    },

    /// The envelope has no apiVersion or kind, so the object cannot be typed.
    #[error("protobuf envelope has no {0}; cannot tell which object the body holds")]
    MissingTypeMeta(&'static str),

    /// The envelope says the payload is compressed or otherwise encoded.
    #[error("protobuf envelope uses content encoding {0:?}, which is not supported; send JSON instead")]
    UnsupportedContentEncoding(String),

    /// The envelope says the payload is not protobuf.
    #[error("protobuf envelope declares content type {0:?} for the object, which is not supported; send JSON instead")]
    UnsupportedContentType(String),

    /// No schema table exists for this kind.
    #[error("protobuf body for {api_version} {kind} is not supported; send JSON instead")]
    UnsupportedKind { api_version: String, kind: String },

    /// The object holds fields the schema tables do not know. Decoding them
    /// away would lose data, so the whole body is refused.
    #[error(
        "protobuf message {message} at {path} has field number(s) {} that this server does not understand; \
         refusing to drop data, send JSON instead",
        join_numbers(.fields)
    )]
    UnknownFields { message: &'static str, path: String, fields: Vec<u32> },

    /// A field was well-formed protobuf but holds a value with no JSON form
    /// (invalid UTF-8, a timestamp outside years 0-9999, ...).
    #[error("invalid value at {path}: {detail}")]
    InvalidValue { path: String, detail: String },
}

fn join_numbers(numbers: &[u32]) -> String {
    numbers.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

type Result<T> = std::result::Result<T, ProtobufError>;

/// Decodes a Kubernetes protobuf request body (the 4-byte magic `k8s\0` followed by a
/// runtime.Unknown envelope) into the JSON form of the object, with apiVersion and kind set.
pub fn decode(body: &[u8]) -> std::result::Result<Value, ProtobufError> {
    let payload = body.strip_prefix(MAGIC).ok_or(ProtobufError::MissingMagic)?;
    let envelope = Envelope::parse(payload, MAGIC.len())?;
    if envelope.api_version.is_empty() {
        return Err(ProtobufError::MissingTypeMeta("apiVersion"));
    }
    if envelope.kind.is_empty() {
        return Err(ProtobufError::MissingTypeMeta("kind"));
    }
    if !envelope.content_encoding.is_empty() {
        return Err(ProtobufError::UnsupportedContentEncoding(envelope.content_encoding));
    }
    if !envelope.content_type.is_empty() && envelope.content_type != PROTOBUF_CONTENT_TYPE {
        return Err(ProtobufError::UnsupportedContentType(envelope.content_type));
    }
    let Some(schema) = schema_for(&envelope.api_version, &envelope.kind) else {
        return Err(ProtobufError::UnsupportedKind { api_version: envelope.api_version, kind: envelope.kind });
    };

    let mut object = Map::new();
    object.insert("apiVersion".to_owned(), Value::String(envelope.api_version.clone()));
    object.insert("kind".to_owned(), Value::String(envelope.kind.clone()));
    let root = Path::Root(&envelope.kind);
    decode_message(schema, envelope.raw, envelope.raw_offset, &root, &mut object)?;
    Ok(Value::Object(object))
}

// ---------------------------------------------------------------------------
// Envelope
// ---------------------------------------------------------------------------

/// The parts of `runtime.Unknown` the decoder needs.
struct Envelope<'a> {
    api_version: String,
    kind: String,
    raw: &'a [u8],
    /// Offset of `raw` within the whole body, for error messages.
    raw_offset: usize,
    content_encoding: String,
    content_type: String,
}

impl<'a> Envelope<'a> {
    fn parse(data: &'a [u8], base: usize) -> Result<Self> {
        let root = Path::Root("envelope");
        let mut env = Envelope {
            api_version: String::new(),
            kind: String::new(),
            raw: &[],
            raw_offset: base,
            content_encoding: String::new(),
            content_type: String::new(),
        };
        walk(data, base, "runtime.Unknown", &root, |number, wire, r| {
            match number {
                1 => {
                    let path = Path::Field(&root, "typeMeta");
                    let (bytes, offset) = r.len_field(wire, &path)?;
                    (env.api_version, env.kind) = parse_type_meta(bytes, offset, &path)?;
                }
                2 => (env.raw, env.raw_offset) = r.len_field(wire, &Path::Field(&root, "raw"))?,
                3 => {
                    let path = Path::Field(&root, "contentEncoding");
                    env.content_encoding = r.string_field(wire, &path)?;
                }
                4 => {
                    let path = Path::Field(&root, "contentType");
                    env.content_type = r.string_field(wire, &path)?;
                }
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(env)
    }
}

/// runtime.TypeMeta { apiVersion = 1; kind = 2; } (note: the reverse of
/// meta/v1 TypeMeta's numbering).
fn parse_type_meta(data: &[u8], base: usize, path: &Path<'_>) -> Result<(String, String)> {
    let mut api_version = String::new();
    let mut kind = String::new();
    walk(data, base, "runtime.TypeMeta", path, |number, wire, r| {
        match number {
            1 => api_version = r.string_field(wire, &Path::Field(path, "apiVersion"))?,
            2 => kind = r.string_field(wire, &Path::Field(path, "kind"))?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok((api_version, kind))
}

// ---------------------------------------------------------------------------
// Wire-format reader
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wire {
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
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], base: usize) -> Self {
        Reader { buf, pos: 0, base }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn offset(&self) -> usize {
        self.base + self.pos
    }

    fn malformed(&self, offset: usize, detail: impl Into<String>) -> ProtobufError {
        ProtobufError::Malformed { offset, detail: detail.into() }
    }

    fn varint(&mut self) -> Result<u64> {
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
    fn len_delimited(&mut self) -> Result<(&'a [u8], usize)> {
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
    fn len_field(&mut self, wire: Wire, path: &Path<'_>) -> Result<(&'a [u8], usize)> {
        if wire != Wire::Len {
            return Err(self.wrong_wire(path, wire, Wire::Len));
        }
        self.len_delimited()
    }

    /// Reads a varint value for the field at `path`.
    fn varint_field(&mut self, wire: Wire, path: &Path<'_>) -> Result<u64> {
        if wire != Wire::Varint {
            return Err(self.wrong_wire(path, wire, Wire::Varint));
        }
        self.varint()
    }

    /// Reads a UTF-8 string value for the field at `path`.
    fn string_field(&mut self, wire: Wire, path: &Path<'_>) -> Result<String> {
        let (bytes, _) = self.len_field(wire, path)?;
        utf8(bytes, path)
    }
}

/// Calls `visit` for every field of one message. `visit` returns `Ok(false)`
/// for field numbers it does not know; those are skipped and reported together
/// once the whole message has been read.
fn walk<'a>(
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
enum Path<'a> {
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

fn invalid(path: &Path<'_>, detail: impl Into<String>) -> ProtobufError {
    ProtobufError::InvalidValue { path: path.render(), detail: detail.into() }
}

fn utf8(bytes: &[u8], path: &Path<'_>) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|e| invalid(path, format!("string is not valid UTF-8 ({e})")))
}

// ---------------------------------------------------------------------------
// Schema model
// ---------------------------------------------------------------------------

/// One protobuf message type.
struct Msg {
    /// Shown in errors, e.g. "core/v1 Container".
    name: &'static str,
    fields: &'static [Field],
}

impl Msg {
    const fn new(name: &'static str, fields: &'static [Field]) -> Self {
        Msg { name, fields }
    }

    fn field(&self, number: u32) -> Option<&Field> {
        self.fields.iter().find(|f| f.number == number)
    }
}

/// One field of a message.
struct Field {
    number: u32,
    /// The Go json tag name.
    json: &'static str,
    ty: Ty,
    rule: Rule,
}

/// How a field maps onto JSON (see the module docs on zero values).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Non-pointer Go field with `omitempty`: a zero scalar is left out.
    Omit,
    /// Pointer field or field without `omitempty`: emitted whenever present.
    Keep,
    /// `repeated`: a JSON array, elements appended in wire order.
    Repeated,
}

/// The type of a field's value.
enum Ty {
    Str,
    /// `bytes`, shown as standard base64 like Go's `[]byte`.
    Bytes,
    I32,
    I64,
    Bool,
    /// A nested message, shown as a JSON object.
    Msg(&'static Msg),
    /// An embedded Go struct (`json:",inline"`): its fields are merged into
    /// the enclosing JSON object.
    Inline(&'static Msg),
    /// `map<string, V>`: repeated entry messages { key = 1; value = 2; }.
    Map(&'static Ty),
    /// metav1.Time { int64 seconds = 1; int32 nanos = 2; } as RFC 3339.
    Time,
    /// metav1.MicroTime, same message, RFC 3339 with six fractional digits.
    MicroTime,
    /// resource.Quantity { string string = 1; } as the plain string.
    Quantity,
    /// intstr.IntOrString { int64 type = 1; int32 intVal = 2; string strVal = 3; }.
    IntOrString,
    /// runtime.RawExtension { bytes raw = 1; } holding JSON.
    RawExtension,
    /// metav1.FieldsV1 { bytes Raw = 1; } holding JSON.
    FieldsV1,
    /// A message { repeated string items = 1; } that is a plain list in JSON
    /// (authorization/authentication ExtraValue).
    StringList,
}

impl Ty {
    fn is_varint(&self) -> bool {
        matches!(self, Ty::I32 | Ty::I64 | Ty::Bool)
    }

    /// Only plain scalars are subject to `omitempty`; Go never omits struct
    /// types such as IntOrString or Quantity, even when they are zero.
    fn is_scalar(&self) -> bool {
        matches!(self, Ty::Str | Ty::Bytes | Ty::I32 | Ty::I64 | Ty::Bool)
    }
}

const fn f(number: u32, json: &'static str, ty: Ty) -> Field {
    Field { number, json, ty, rule: Rule::Omit }
}

const fn keep(number: u32, json: &'static str, ty: Ty) -> Field {
    Field { number, json, ty, rule: Rule::Keep }
}

const fn rep(number: u32, json: &'static str, ty: Ty) -> Field {
    Field { number, json, ty, rule: Rule::Repeated }
}

use Ty::{Bool, I32, I64, IntOrString, MicroTime, Quantity, Str, Time};

const MAP_STR: Ty = Ty::Map(&Ty::Str);
const MAP_BYTES: Ty = Ty::Map(&Ty::Bytes);
const MAP_QUANTITY: Ty = Ty::Map(&Ty::Quantity);
const MAP_EXTRA: Ty = Ty::Map(&Ty::StringList);

const fn m(msg: &'static Msg) -> Ty {
    Ty::Msg(msg)
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

fn decode_message(msg: &'static Msg, data: &[u8], base: usize, path: &Path<'_>, out: &mut Map<String, Value>) -> Result<()> {
    walk(data, base, msg.name, path, |number, wire, reader| match msg.field(number) {
        Some(field) => {
            decode_field(field, wire, reader, path, out)?;
            Ok(true)
        }
        None => Ok(false),
    })
}

fn decode_field(field: &Field, wire: Wire, reader: &mut Reader<'_>, path: &Path<'_>, out: &mut Map<String, Value>) -> Result<()> {
    let field_path = Path::Field(path, field.json);
    if field.rule == Rule::Repeated {
        let slot = out.entry(field.json).or_insert_with(|| Value::Array(Vec::new()));
        if !slot.is_array() {
            *slot = Value::Array(Vec::new());
        }
        let Value::Array(items) = slot else {
            return Ok(());
        };
        if wire == Wire::Len && field.ty.is_varint() {
            // Packed encoding: one payload holding consecutive varints.
            let (bytes, offset) = reader.len_delimited()?;
            let mut packed = Reader::new(bytes, offset);
            while !packed.at_end() {
                items.push(varint_json(&field.ty, packed.varint()?));
            }
        } else {
            let element_path = Path::Index(&field_path, items.len());
            items.push(read_value(&field.ty, wire, reader, &element_path)?);
        }
        return Ok(());
    }

    match &field.ty {
        Ty::Inline(inner) => {
            let (bytes, offset) = reader.len_field(wire, &field_path)?;
            decode_message(inner, bytes, offset, path, out)
        }
        Ty::Msg(inner) => {
            let (bytes, offset) = reader.len_field(wire, &field_path)?;
            // A repeated occurrence of a message field merges into the first,
            // as protobuf requires.
            let slot = out.entry(field.json).or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            match slot {
                Value::Object(object) => decode_message(inner, bytes, offset, &field_path, object),
                _ => Ok(()),
            }
        }
        Ty::Map(value_ty) => {
            let (bytes, offset) = reader.len_field(wire, &field_path)?;
            let (key, value) = decode_map_entry(value_ty, bytes, offset, &field_path)?;
            let slot = out.entry(field.json).or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Value::Object(map) = slot {
                map.insert(key, value);
            }
            Ok(())
        }
        ty => {
            let value = read_value(ty, wire, reader, &field_path)?;
            if field.rule == Rule::Omit && ty.is_scalar() && is_zero(&value) {
                // Last occurrence wins in protobuf; a zero last value means
                // Go would have omitted the field.
                out.remove(field.json);
            } else {
                out.insert(field.json.to_owned(), value);
            }
            Ok(())
        }
    }
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Number(n) => n.as_i64() == Some(0),
        Value::Bool(b) => !b,
        _ => false,
    }
}

fn varint_json(ty: &Ty, raw: u64) -> Value {
    match ty {
        // proto int32: the low 32 bits, sign included (negative numbers are
        // sent sign-extended to 64 bits).
        Ty::I32 => Value::from(i64::from(raw as u32 as i32)),
        Ty::Bool => Value::Bool(raw != 0),
        _ => Value::from(raw as i64),
    }
}

/// Reads one value of `ty` (never `Inline`/`Map`, which are handled by the
/// caller because they write into the enclosing object).
fn read_value(ty: &Ty, wire: Wire, reader: &mut Reader<'_>, path: &Path<'_>) -> Result<Value> {
    if ty.is_varint() {
        let raw = reader.varint_field(wire, path)?;
        return Ok(varint_json(ty, raw));
    }
    let (bytes, offset) = reader.len_field(wire, path)?;
    match ty {
        Ty::Str => utf8(bytes, path).map(Value::String),
        Ty::Bytes => Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))),
        Ty::Msg(inner) => {
            let mut object = Map::new();
            decode_message(inner, bytes, offset, path, &mut object)?;
            Ok(Value::Object(object))
        }
        Ty::Time => decode_time(bytes, offset, path, false),
        Ty::MicroTime => decode_time(bytes, offset, path, true),
        Ty::Quantity => decode_quantity(bytes, offset, path),
        Ty::IntOrString => decode_int_or_string(bytes, offset, path),
        Ty::RawExtension => decode_raw_json(bytes, offset, path, "runtime.RawExtension"),
        Ty::FieldsV1 => decode_raw_json(bytes, offset, path, "meta/v1 FieldsV1"),
        Ty::StringList => decode_string_list(bytes, offset, path),
        Ty::I32 | Ty::I64 | Ty::Bool | Ty::Inline(_) | Ty::Map(_) => Err(invalid(path, "internal schema error: field type cannot appear here")),
    }
}

fn decode_map_entry(value_ty: &Ty, data: &[u8], base: usize, path: &Path<'_>) -> Result<(String, Value)> {
    let mut key = String::new();
    let mut value = None;
    walk(data, base, "map entry", path, |number, wire, reader| {
        match number {
            1 => key = reader.string_field(wire, &Path::Field(path, "key"))?,
            2 => value = Some(read_value(value_ty, wire, reader, &Path::Field(path, "value"))?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    // A missing value is the zero value of its type, as in Go.
    let value = value.unwrap_or_else(|| match value_ty {
        Ty::Str | Ty::Bytes => Value::String(String::new()),
        Ty::Quantity => Value::String("0".to_owned()),
        Ty::I32 | Ty::I64 => Value::from(0),
        Ty::Bool => Value::Bool(false),
        _ => Value::Null,
    });
    Ok((key, value))
}

/// metav1.Time / metav1.MicroTime. Go always writes a non-pointer Time, as an
/// empty message when it is the zero time, and renders the zero time as null.
fn decode_time(data: &[u8], base: usize, path: &Path<'_>, micro: bool) -> Result<Value> {
    if data.is_empty() {
        return Ok(Value::Null);
    }
    let mut seconds: i64 = 0;
    let mut nanos: i64 = 0;
    let message = if micro { "meta/v1 MicroTime" } else { "meta/v1 Time" };
    walk(data, base, message, path, |number, wire, reader| {
        match number {
            1 => seconds = reader.varint_field(wire, &Path::Field(path, "seconds"))? as i64,
            2 => nanos = i64::from(reader.varint_field(wire, &Path::Field(path, "nanos"))? as u32 as i32),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    match format_time(seconds, nanos, micro) {
        Ok(Some(text)) => Ok(Value::String(text)),
        Ok(None) => Ok(Value::Null),
        Err(detail) => Err(invalid(path, detail)),
    }
}

/// Seconds from 1970-01-01 to 0001-01-01, Go's zero time.
const GO_ZERO_TIME: i64 = -62_135_596_800;
/// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the range RFC 3339 can show.
const MIN_SECONDS: i64 = -62_167_219_200;
const MAX_SECONDS: i64 = 253_402_300_799;

/// Formats a UTC instant like Go's `time.RFC3339` (or RFC3339 with exactly six
/// fractional digits for MicroTime). `None` is Go's zero time.
fn format_time(seconds: i64, nanos: i64, micro: bool) -> std::result::Result<Option<String>, String> {
    // time.Unix normalises nanoseconds outside [0, 1e9) into the seconds.
    let seconds = seconds.checked_add(nanos.div_euclid(1_000_000_000)).ok_or_else(|| format!("timestamp {seconds}s is out of range"))?;
    let nanos = nanos.rem_euclid(1_000_000_000);
    if seconds == GO_ZERO_TIME && nanos == 0 {
        return Ok(None);
    }
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&seconds) {
        return Err(format!("timestamp {seconds}s is outside the years 0000-9999"));
    }
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (of_day / 3600, of_day / 60 % 60, of_day % 60);
    let mut text = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
    if micro {
        // Go's layout truncates, it does not round.
        text.push_str(&format!(".{:06}", nanos / 1000));
    }
    text.push('Z');
    Ok(Some(text))
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// algorithm). Only called for days within years 0000-9999.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// resource.Quantity: the string as sent. An absent string is Go's zero
/// Quantity, which serialises as "0".
fn decode_quantity(data: &[u8], base: usize, path: &Path<'_>) -> Result<Value> {
    let mut text = None;
    walk(data, base, "resource.Quantity", path, |number, wire, reader| {
        match number {
            1 => text = Some(reader.string_field(wire, &Path::Field(path, "string"))?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(Value::String(text.unwrap_or_else(|| "0".to_owned())))
}

fn decode_int_or_string(data: &[u8], base: usize, path: &Path<'_>) -> Result<Value> {
    let mut kind: u64 = 0;
    let mut int_val: i64 = 0;
    let mut str_val = String::new();
    walk(data, base, "intstr.IntOrString", path, |number, wire, reader| {
        match number {
            1 => kind = reader.varint_field(wire, &Path::Field(path, "type"))?,
            2 => int_val = i64::from(reader.varint_field(wire, &Path::Field(path, "intVal"))? as u32 as i32),
            3 => str_val = reader.string_field(wire, &Path::Field(path, "strVal"))?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    match kind {
        0 => Ok(Value::from(int_val)),
        1 => Ok(Value::String(str_val)),
        other => Err(invalid(path, format!("IntOrString has unknown type {other}"))),
    }
}

/// RawExtension and FieldsV1 both carry JSON bytes in field 1; Go writes them
/// out verbatim, and nil as null.
fn decode_raw_json(data: &[u8], base: usize, path: &Path<'_>, message: &'static str) -> Result<Value> {
    let mut raw: &[u8] = &[];
    walk(data, base, message, path, |number, wire, reader| {
        match number {
            1 => raw = reader.len_field(wire, &Path::Field(path, "raw"))?.0,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(raw).map_err(|e| invalid(path, format!("embedded data is not JSON ({e})")))
}

fn decode_string_list(data: &[u8], base: usize, path: &Path<'_>) -> Result<Value> {
    let mut items = Vec::new();
    walk(data, base, "ExtraValue", path, |number, wire, reader| {
        match number {
            1 => items.push(Value::String(reader.string_field(wire, &Path::Field(path, "items"))?)),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    // Go decodes an empty list to a nil slice, which is null in JSON.
    Ok(if items.is_empty() { Value::Null } else { Value::Array(items) })
}

// ---------------------------------------------------------------------------
// Kind registry
// ---------------------------------------------------------------------------

fn schema_for(api_version: &str, kind: &str) -> Option<&'static Msg> {
    let schema = match (api_version, kind) {
        // Every group registers the meta/v1 options types under its own
        // version, so client-go sends e.g. "apps/v1 DeleteOptions".
        (_, "DeleteOptions") => &DELETE_OPTIONS,

        ("v1", "Secret") => &SECRET,
        ("v1", "ConfigMap") => &CONFIG_MAP,
        ("v1", "Namespace") => &NAMESPACE,
        ("v1", "ServiceAccount") => &SERVICE_ACCOUNT,
        ("v1", "Service") => &SERVICE,
        ("v1", "Event") => &EVENT,
        ("v1", "Pod") => &POD,
        ("v1", "PersistentVolumeClaim") => &PERSISTENT_VOLUME_CLAIM,
        ("v1", "Binding") => &BINDING,

        ("apps/v1", "Deployment") => &DEPLOYMENT,
        ("apps/v1", "ReplicaSet") => &REPLICA_SET,
        ("apps/v1", "DaemonSet") => &DAEMON_SET,
        ("apps/v1", "ControllerRevision") => &CONTROLLER_REVISION,

        ("batch/v1", "Job") => &JOB,
        ("batch/v1", "CronJob") => &CRON_JOB,

        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => &SELF_SUBJECT_ACCESS_REVIEW,
        ("authorization.k8s.io/v1", "SubjectAccessReview") => &SUBJECT_ACCESS_REVIEW,
        ("authorization.k8s.io/v1", "LocalSubjectAccessReview") => &SUBJECT_ACCESS_REVIEW,
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => &SELF_SUBJECT_RULES_REVIEW,

        ("authentication.k8s.io/v1", "TokenRequest") => &TOKEN_REQUEST,

        ("coordination.k8s.io/v1", "Lease") => &LEASE,

        ("policy/v1" | "policy/v1beta1", "Eviction") => &EVICTION,

        _ => return None,
    };
    Some(schema)
}

// ---------------------------------------------------------------------------
// meta/v1 (k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto)
// ---------------------------------------------------------------------------

static OBJECT_META: Msg = Msg::new(
    "meta/v1 ObjectMeta",
    &[
        f(1, "name", Str),
        f(2, "generateName", Str),
        f(3, "namespace", Str),
        f(4, "selfLink", Str),
        f(5, "uid", Str),
        f(6, "resourceVersion", Str),
        f(7, "generation", I64),
        f(8, "creationTimestamp", Time),
        f(9, "deletionTimestamp", Time),
        keep(10, "deletionGracePeriodSeconds", I64),
        f(11, "labels", MAP_STR),
        f(12, "annotations", MAP_STR),
        rep(13, "ownerReferences", m(&OWNER_REFERENCE)),
        rep(14, "finalizers", Str),
        // Removed in Kubernetes 1.25, but client-go before that always sends
        // it (usually empty), so it must not count as unknown.
        f(15, "clusterName", Str),
        rep(17, "managedFields", m(&MANAGED_FIELDS_ENTRY)),
    ],
);

static OWNER_REFERENCE: Msg = Msg::new(
    "meta/v1 OwnerReference",
    &[
        keep(5, "apiVersion", Str),
        keep(1, "kind", Str),
        keep(3, "name", Str),
        keep(4, "uid", Str),
        keep(6, "controller", Bool),
        keep(7, "blockOwnerDeletion", Bool),
    ],
);

static MANAGED_FIELDS_ENTRY: Msg = Msg::new(
    "meta/v1 ManagedFieldsEntry",
    &[
        f(1, "manager", Str),
        f(2, "operation", Str),
        f(3, "apiVersion", Str),
        f(4, "time", Time),
        f(6, "fieldsType", Str),
        f(7, "fieldsV1", Ty::FieldsV1),
        f(8, "subresource", Str),
    ],
);

static LABEL_SELECTOR: Msg = Msg::new("meta/v1 LabelSelector", &[f(1, "matchLabels", MAP_STR), rep(2, "matchExpressions", m(&LABEL_SELECTOR_REQUIREMENT))]);

static LABEL_SELECTOR_REQUIREMENT: Msg = Msg::new("meta/v1 LabelSelectorRequirement", &[keep(1, "key", Str), keep(2, "operator", Str), rep(3, "values", Str)]);

static CONDITION: Msg = Msg::new(
    "meta/v1 Condition",
    &[
        keep(1, "type", Str),
        keep(2, "status", Str),
        f(3, "observedGeneration", I64),
        f(4, "lastTransitionTime", Time),
        keep(5, "reason", Str),
        keep(6, "message", Str),
    ],
);

static DELETE_OPTIONS: Msg = Msg::new(
    "meta/v1 DeleteOptions",
    &[
        keep(1, "gracePeriodSeconds", I64),
        f(2, "preconditions", m(&PRECONDITIONS)),
        keep(3, "orphanDependents", Bool),
        keep(4, "propagationPolicy", Str),
        rep(5, "dryRun", Str),
        keep(6, "ignoreStoreReadErrorWithClusterBreakingPotential", Bool),
    ],
);

static PRECONDITIONS: Msg = Msg::new("meta/v1 Preconditions", &[keep(1, "uid", Str), keep(2, "resourceVersion", Str)]);

// ---------------------------------------------------------------------------
// core/v1 (k8s.io/api/core/v1/generated.proto): config and identity objects
// ---------------------------------------------------------------------------

static SECRET: Msg = Msg::new(
    "core/v1 Secret",
    &[f(1, "metadata", m(&OBJECT_META)), keep(5, "immutable", Bool), f(2, "data", MAP_BYTES), f(4, "stringData", MAP_STR), f(3, "type", Str)],
);

static CONFIG_MAP: Msg =
    Msg::new("core/v1 ConfigMap", &[f(1, "metadata", m(&OBJECT_META)), keep(4, "immutable", Bool), f(2, "data", MAP_STR), f(3, "binaryData", MAP_BYTES)]);

static NAMESPACE: Msg =
    Msg::new("core/v1 Namespace", &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&NAMESPACE_SPEC)), f(3, "status", m(&NAMESPACE_STATUS))]);

static NAMESPACE_SPEC: Msg = Msg::new("core/v1 NamespaceSpec", &[rep(1, "finalizers", Str)]);

static NAMESPACE_STATUS: Msg = Msg::new("core/v1 NamespaceStatus", &[f(1, "phase", Str), rep(2, "conditions", m(&NAMESPACE_CONDITION))]);

static NAMESPACE_CONDITION: Msg = Msg::new(
    "core/v1 NamespaceCondition",
    &[keep(1, "type", Str), keep(2, "status", Str), f(4, "lastTransitionTime", Time), f(5, "reason", Str), f(6, "message", Str)],
);

static SERVICE_ACCOUNT: Msg = Msg::new(
    "core/v1 ServiceAccount",
    &[
        f(1, "metadata", m(&OBJECT_META)),
        rep(2, "secrets", m(&OBJECT_REFERENCE)),
        rep(3, "imagePullSecrets", m(&LOCAL_OBJECT_REFERENCE)),
        keep(4, "automountServiceAccountToken", Bool),
    ],
);

static OBJECT_REFERENCE: Msg = Msg::new(
    "core/v1 ObjectReference",
    &[
        f(1, "kind", Str),
        f(2, "namespace", Str),
        f(3, "name", Str),
        f(4, "uid", Str),
        f(5, "apiVersion", Str),
        f(6, "resourceVersion", Str),
        f(7, "fieldPath", Str),
    ],
);

static LOCAL_OBJECT_REFERENCE: Msg = Msg::new("core/v1 LocalObjectReference", &[f(1, "name", Str)]);

static BINDING: Msg = Msg::new("core/v1 Binding", &[f(1, "metadata", m(&OBJECT_META)), f(2, "target", m(&OBJECT_REFERENCE))]);

// ---------------------------------------------------------------------------
// core/v1: Service
// ---------------------------------------------------------------------------

static SERVICE: Msg = Msg::new("core/v1 Service", &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&SERVICE_SPEC)), f(3, "status", m(&SERVICE_STATUS))]);

static SERVICE_SPEC: Msg = Msg::new(
    "core/v1 ServiceSpec",
    &[
        rep(1, "ports", m(&SERVICE_PORT)),
        f(2, "selector", MAP_STR),
        f(3, "clusterIP", Str),
        rep(18, "clusterIPs", Str),
        f(4, "type", Str),
        rep(5, "externalIPs", Str),
        f(7, "sessionAffinity", Str),
        f(8, "loadBalancerIP", Str),
        rep(9, "loadBalancerSourceRanges", Str),
        f(10, "externalName", Str),
        f(11, "externalTrafficPolicy", Str),
        f(12, "healthCheckNodePort", I32),
        f(13, "publishNotReadyAddresses", Bool),
        f(14, "sessionAffinityConfig", m(&SESSION_AFFINITY_CONFIG)),
        rep(19, "ipFamilies", Str),
        keep(17, "ipFamilyPolicy", Str),
        keep(20, "allocateLoadBalancerNodePorts", Bool),
        keep(21, "loadBalancerClass", Str),
        keep(22, "internalTrafficPolicy", Str),
        keep(23, "trafficDistribution", Str),
    ],
);

static SERVICE_PORT: Msg = Msg::new(
    "core/v1 ServicePort",
    &[f(1, "name", Str), f(2, "protocol", Str), keep(6, "appProtocol", Str), keep(3, "port", I32), f(4, "targetPort", IntOrString), f(5, "nodePort", I32)],
);

static SESSION_AFFINITY_CONFIG: Msg = Msg::new("core/v1 SessionAffinityConfig", &[f(1, "clientIP", m(&CLIENT_IP_CONFIG))]);

static CLIENT_IP_CONFIG: Msg = Msg::new("core/v1 ClientIPConfig", &[keep(1, "timeoutSeconds", I32)]);

static SERVICE_STATUS: Msg = Msg::new("core/v1 ServiceStatus", &[f(1, "loadBalancer", m(&LOAD_BALANCER_STATUS)), rep(2, "conditions", m(&CONDITION))]);

static LOAD_BALANCER_STATUS: Msg = Msg::new("core/v1 LoadBalancerStatus", &[rep(1, "ingress", m(&LOAD_BALANCER_INGRESS))]);

static LOAD_BALANCER_INGRESS: Msg =
    Msg::new("core/v1 LoadBalancerIngress", &[f(1, "ip", Str), f(2, "hostname", Str), keep(3, "ipMode", Str), rep(4, "ports", m(&PORT_STATUS))]);

static PORT_STATUS: Msg = Msg::new("core/v1 PortStatus", &[keep(1, "port", I32), keep(2, "protocol", Str), keep(3, "error", Str)]);

// ---------------------------------------------------------------------------
// core/v1: Event
// ---------------------------------------------------------------------------

static EVENT: Msg = Msg::new(
    "core/v1 Event",
    &[
        f(1, "metadata", m(&OBJECT_META)),
        f(2, "involvedObject", m(&OBJECT_REFERENCE)),
        f(3, "reason", Str),
        f(4, "message", Str),
        f(5, "source", m(&EVENT_SOURCE)),
        f(6, "firstTimestamp", Time),
        f(7, "lastTimestamp", Time),
        f(8, "count", I32),
        f(9, "type", Str),
        f(10, "eventTime", MicroTime),
        f(11, "series", m(&EVENT_SERIES)),
        f(12, "action", Str),
        f(13, "related", m(&OBJECT_REFERENCE)),
        // No omitempty on these two in Go.
        keep(14, "reportingComponent", Str),
        keep(15, "reportingInstance", Str),
    ],
);

static EVENT_SERIES: Msg = Msg::new("core/v1 EventSeries", &[f(1, "count", I32), f(2, "lastObservedTime", MicroTime)]);

static EVENT_SOURCE: Msg = Msg::new("core/v1 EventSource", &[f(1, "component", Str), f(2, "host", Str)]);

// ---------------------------------------------------------------------------
// core/v1: Pod, PodSpec and containers
// ---------------------------------------------------------------------------

static POD: Msg = Msg::new("core/v1 Pod", &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&POD_SPEC)), f(3, "status", m(&POD_STATUS))]);

/// Only the status fields a client may plausibly send; container statuses
/// and resource status are written by the kubelet and are refused.
static POD_STATUS: Msg = Msg::new(
    "core/v1 PodStatus",
    &[
        f(17, "observedGeneration", I64),
        f(1, "phase", Str),
        rep(2, "conditions", m(&POD_CONDITION)),
        f(3, "message", Str),
        f(4, "reason", Str),
        f(11, "nominatedNodeName", Str),
        f(5, "hostIP", Str),
        rep(16, "hostIPs", m(&HOST_IP)),
        f(6, "podIP", Str),
        rep(12, "podIPs", m(&POD_IP)),
        f(7, "startTime", Time),
        f(9, "qosClass", Str),
        f(14, "resize", Str),
        f(19, "allocatedResources", MAP_QUANTITY),
        f(20, "resources", m(&RESOURCE_REQUIREMENTS)),
    ],
);

static POD_CONDITION: Msg = Msg::new(
    "core/v1 PodCondition",
    &[
        keep(1, "type", Str),
        f(7, "observedGeneration", I64),
        keep(2, "status", Str),
        f(3, "lastProbeTime", Time),
        f(4, "lastTransitionTime", Time),
        f(5, "reason", Str),
        f(6, "message", Str),
    ],
);

static HOST_IP: Msg = Msg::new("core/v1 HostIP", &[keep(1, "ip", Str)]);

static POD_IP: Msg = Msg::new("core/v1 PodIP", &[keep(1, "ip", Str)]);

static POD_TEMPLATE_SPEC: Msg = Msg::new("core/v1 PodTemplateSpec", &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&POD_SPEC))]);

static POD_SPEC: Msg = Msg::new(
    "core/v1 PodSpec",
    &[
        rep(1, "volumes", m(&VOLUME)),
        rep(20, "initContainers", m(&CONTAINER)),
        rep(2, "containers", m(&CONTAINER)),
        rep(34, "ephemeralContainers", m(&EPHEMERAL_CONTAINER)),
        f(3, "restartPolicy", Str),
        keep(4, "terminationGracePeriodSeconds", I64),
        keep(5, "activeDeadlineSeconds", I64),
        f(6, "dnsPolicy", Str),
        f(7, "nodeSelector", MAP_STR),
        f(8, "serviceAccountName", Str),
        f(9, "serviceAccount", Str),
        keep(21, "automountServiceAccountToken", Bool),
        f(10, "nodeName", Str),
        f(11, "hostNetwork", Bool),
        f(12, "hostPID", Bool),
        f(13, "hostIPC", Bool),
        keep(27, "shareProcessNamespace", Bool),
        f(14, "securityContext", m(&POD_SECURITY_CONTEXT)),
        rep(15, "imagePullSecrets", m(&LOCAL_OBJECT_REFERENCE)),
        f(16, "hostname", Str),
        f(17, "subdomain", Str),
        f(18, "affinity", m(&AFFINITY)),
        f(19, "schedulerName", Str),
        rep(22, "tolerations", m(&TOLERATION)),
        rep(23, "hostAliases", m(&HOST_ALIAS)),
        f(24, "priorityClassName", Str),
        keep(25, "priority", I32),
        f(26, "dnsConfig", m(&POD_DNS_CONFIG)),
        rep(28, "readinessGates", m(&POD_READINESS_GATE)),
        keep(29, "runtimeClassName", Str),
        keep(30, "enableServiceLinks", Bool),
        keep(31, "preemptionPolicy", Str),
        f(32, "overhead", MAP_QUANTITY),
        rep(33, "topologySpreadConstraints", m(&TOPOLOGY_SPREAD_CONSTRAINT)),
        keep(35, "setHostnameAsFQDN", Bool),
        f(36, "os", m(&POD_OS)),
        keep(37, "hostUsers", Bool),
        rep(38, "schedulingGates", m(&POD_SCHEDULING_GATE)),
        rep(39, "resourceClaims", m(&POD_RESOURCE_CLAIM)),
        f(40, "resources", m(&RESOURCE_REQUIREMENTS)),
        keep(41, "hostnameOverride", Str),
    ],
);

static CONTAINER: Msg = Msg::new(
    "core/v1 Container",
    &[
        keep(1, "name", Str),
        f(2, "image", Str),
        rep(3, "command", Str),
        rep(4, "args", Str),
        f(5, "workingDir", Str),
        rep(6, "ports", m(&CONTAINER_PORT)),
        rep(19, "envFrom", m(&ENV_FROM_SOURCE)),
        rep(7, "env", m(&ENV_VAR)),
        f(8, "resources", m(&RESOURCE_REQUIREMENTS)),
        rep(23, "resizePolicy", m(&CONTAINER_RESIZE_POLICY)),
        keep(24, "restartPolicy", Str),
        rep(25, "restartPolicyRules", m(&CONTAINER_RESTART_RULE)),
        rep(9, "volumeMounts", m(&VOLUME_MOUNT)),
        rep(21, "volumeDevices", m(&VOLUME_DEVICE)),
        f(10, "livenessProbe", m(&PROBE)),
        f(11, "readinessProbe", m(&PROBE)),
        f(22, "startupProbe", m(&PROBE)),
        f(12, "lifecycle", m(&LIFECYCLE)),
        f(13, "terminationMessagePath", Str),
        f(20, "terminationMessagePolicy", Str),
        f(14, "imagePullPolicy", Str),
        f(15, "securityContext", m(&SECURITY_CONTEXT)),
        f(16, "stdin", Bool),
        f(17, "stdinOnce", Bool),
        f(18, "tty", Bool),
    ],
);

/// EphemeralContainerCommon has exactly Container's field numbers and is
/// inlined in Go, so the Container table is reused for it.
static EPHEMERAL_CONTAINER: Msg =
    Msg::new("core/v1 EphemeralContainer", &[f(1, "ephemeralContainerCommon", Ty::Inline(&CONTAINER)), f(2, "targetContainerName", Str)]);

static CONTAINER_PORT: Msg =
    Msg::new("core/v1 ContainerPort", &[f(1, "name", Str), f(2, "hostPort", I32), keep(3, "containerPort", I32), f(4, "protocol", Str), f(5, "hostIP", Str)]);

static CONTAINER_RESIZE_POLICY: Msg = Msg::new("core/v1 ContainerResizePolicy", &[keep(1, "resourceName", Str), keep(2, "restartPolicy", Str)]);

static CONTAINER_RESTART_RULE: Msg =
    Msg::new("core/v1 ContainerRestartRule", &[f(1, "action", Str), f(2, "exitCodes", m(&CONTAINER_RESTART_RULE_ON_EXIT_CODES))]);

static CONTAINER_RESTART_RULE_ON_EXIT_CODES: Msg = Msg::new("core/v1 ContainerRestartRuleOnExitCodes", &[f(1, "operator", Str), rep(2, "values", I32)]);

static ENV_FROM_SOURCE: Msg =
    Msg::new("core/v1 EnvFromSource", &[f(1, "prefix", Str), f(2, "configMapRef", m(&CONFIG_MAP_ENV_SOURCE)), f(3, "secretRef", m(&SECRET_ENV_SOURCE))]);

static CONFIG_MAP_ENV_SOURCE: Msg =
    Msg::new("core/v1 ConfigMapEnvSource", &[f(1, "localObjectReference", Ty::Inline(&LOCAL_OBJECT_REFERENCE)), keep(2, "optional", Bool)]);

static SECRET_ENV_SOURCE: Msg =
    Msg::new("core/v1 SecretEnvSource", &[f(1, "localObjectReference", Ty::Inline(&LOCAL_OBJECT_REFERENCE)), keep(2, "optional", Bool)]);

static ENV_VAR: Msg = Msg::new("core/v1 EnvVar", &[keep(1, "name", Str), f(2, "value", Str), f(3, "valueFrom", m(&ENV_VAR_SOURCE))]);

static ENV_VAR_SOURCE: Msg = Msg::new(
    "core/v1 EnvVarSource",
    &[
        f(1, "fieldRef", m(&OBJECT_FIELD_SELECTOR)),
        f(2, "resourceFieldRef", m(&RESOURCE_FIELD_SELECTOR)),
        f(3, "configMapKeyRef", m(&CONFIG_MAP_KEY_SELECTOR)),
        f(4, "secretKeyRef", m(&SECRET_KEY_SELECTOR)),
        f(5, "fileKeyRef", m(&FILE_KEY_SELECTOR)),
    ],
);

static OBJECT_FIELD_SELECTOR: Msg = Msg::new("core/v1 ObjectFieldSelector", &[f(1, "apiVersion", Str), keep(2, "fieldPath", Str)]);

static RESOURCE_FIELD_SELECTOR: Msg =
    Msg::new("core/v1 ResourceFieldSelector", &[f(1, "containerName", Str), keep(2, "resource", Str), f(3, "divisor", Quantity)]);

static CONFIG_MAP_KEY_SELECTOR: Msg = Msg::new(
    "core/v1 ConfigMapKeySelector",
    &[f(1, "localObjectReference", Ty::Inline(&LOCAL_OBJECT_REFERENCE)), keep(2, "key", Str), keep(3, "optional", Bool)],
);

static SECRET_KEY_SELECTOR: Msg =
    Msg::new("core/v1 SecretKeySelector", &[f(1, "localObjectReference", Ty::Inline(&LOCAL_OBJECT_REFERENCE)), keep(2, "key", Str), keep(3, "optional", Bool)]);

static FILE_KEY_SELECTOR: Msg =
    Msg::new("core/v1 FileKeySelector", &[keep(1, "volumeName", Str), keep(2, "path", Str), keep(3, "key", Str), keep(4, "optional", Bool)]);

static RESOURCE_REQUIREMENTS: Msg =
    Msg::new("core/v1 ResourceRequirements", &[f(1, "limits", MAP_QUANTITY), f(2, "requests", MAP_QUANTITY), rep(3, "claims", m(&RESOURCE_CLAIM))]);

static RESOURCE_CLAIM: Msg = Msg::new("core/v1 ResourceClaim", &[keep(1, "name", Str), f(2, "request", Str)]);

static VOLUME_MOUNT: Msg = Msg::new(
    "core/v1 VolumeMount",
    &[
        keep(1, "name", Str),
        f(2, "readOnly", Bool),
        keep(7, "recursiveReadOnly", Str),
        keep(3, "mountPath", Str),
        f(4, "subPath", Str),
        keep(5, "mountPropagation", Str),
        f(6, "subPathExpr", Str),
    ],
);

static VOLUME_DEVICE: Msg = Msg::new("core/v1 VolumeDevice", &[keep(1, "name", Str), keep(2, "devicePath", Str)]);

static PROBE: Msg = Msg::new(
    "core/v1 Probe",
    &[
        f(1, "handler", Ty::Inline(&PROBE_HANDLER)),
        f(2, "initialDelaySeconds", I32),
        f(3, "timeoutSeconds", I32),
        f(4, "periodSeconds", I32),
        f(5, "successThreshold", I32),
        f(6, "failureThreshold", I32),
        keep(7, "terminationGracePeriodSeconds", I64),
    ],
);

static PROBE_HANDLER: Msg = Msg::new(
    "core/v1 ProbeHandler",
    &[f(1, "exec", m(&EXEC_ACTION)), f(2, "httpGet", m(&HTTP_GET_ACTION)), f(3, "tcpSocket", m(&TCP_SOCKET_ACTION)), f(4, "grpc", m(&GRPC_ACTION))],
);

static EXEC_ACTION: Msg = Msg::new("core/v1 ExecAction", &[rep(1, "command", Str)]);

static HTTP_GET_ACTION: Msg = Msg::new(
    "core/v1 HTTPGetAction",
    &[f(1, "path", Str), f(2, "port", IntOrString), f(3, "host", Str), f(4, "scheme", Str), rep(5, "httpHeaders", m(&HTTP_HEADER))],
);

static HTTP_HEADER: Msg = Msg::new("core/v1 HTTPHeader", &[keep(1, "name", Str), keep(2, "value", Str)]);

static TCP_SOCKET_ACTION: Msg = Msg::new("core/v1 TCPSocketAction", &[f(1, "port", IntOrString), f(2, "host", Str)]);

static GRPC_ACTION: Msg = Msg::new("core/v1 GRPCAction", &[keep(1, "port", I32), keep(2, "service", Str)]);

static LIFECYCLE: Msg =
    Msg::new("core/v1 Lifecycle", &[f(1, "postStart", m(&LIFECYCLE_HANDLER)), f(2, "preStop", m(&LIFECYCLE_HANDLER)), keep(3, "stopSignal", Str)]);

static LIFECYCLE_HANDLER: Msg = Msg::new(
    "core/v1 LifecycleHandler",
    &[f(1, "exec", m(&EXEC_ACTION)), f(2, "httpGet", m(&HTTP_GET_ACTION)), f(3, "tcpSocket", m(&TCP_SOCKET_ACTION)), f(4, "sleep", m(&SLEEP_ACTION))],
);

static SLEEP_ACTION: Msg = Msg::new("core/v1 SleepAction", &[keep(1, "seconds", I64)]);

static SECURITY_CONTEXT: Msg = Msg::new(
    "core/v1 SecurityContext",
    &[
        f(1, "capabilities", m(&CAPABILITIES)),
        keep(2, "privileged", Bool),
        f(3, "seLinuxOptions", m(&SE_LINUX_OPTIONS)),
        f(10, "windowsOptions", m(&WINDOWS_SECURITY_CONTEXT_OPTIONS)),
        keep(4, "runAsUser", I64),
        keep(8, "runAsGroup", I64),
        keep(5, "runAsNonRoot", Bool),
        keep(6, "readOnlyRootFilesystem", Bool),
        keep(7, "allowPrivilegeEscalation", Bool),
        keep(9, "procMount", Str),
        f(11, "seccompProfile", m(&SECCOMP_PROFILE)),
        f(12, "appArmorProfile", m(&APP_ARMOR_PROFILE)),
    ],
);

static CAPABILITIES: Msg = Msg::new("core/v1 Capabilities", &[rep(1, "add", Str), rep(2, "drop", Str)]);

static SE_LINUX_OPTIONS: Msg = Msg::new("core/v1 SELinuxOptions", &[f(1, "user", Str), f(2, "role", Str), f(3, "type", Str), f(4, "level", Str)]);

static WINDOWS_SECURITY_CONTEXT_OPTIONS: Msg = Msg::new(
    "core/v1 WindowsSecurityContextOptions",
    &[keep(1, "gmsaCredentialSpecName", Str), keep(2, "gmsaCredentialSpec", Str), keep(3, "runAsUserName", Str), keep(4, "hostProcess", Bool)],
);

static SECCOMP_PROFILE: Msg = Msg::new("core/v1 SeccompProfile", &[keep(1, "type", Str), keep(2, "localhostProfile", Str)]);

static APP_ARMOR_PROFILE: Msg = Msg::new("core/v1 AppArmorProfile", &[keep(1, "type", Str), keep(2, "localhostProfile", Str)]);

static POD_SECURITY_CONTEXT: Msg = Msg::new(
    "core/v1 PodSecurityContext",
    &[
        f(1, "seLinuxOptions", m(&SE_LINUX_OPTIONS)),
        f(8, "windowsOptions", m(&WINDOWS_SECURITY_CONTEXT_OPTIONS)),
        keep(2, "runAsUser", I64),
        keep(6, "runAsGroup", I64),
        keep(3, "runAsNonRoot", Bool),
        rep(4, "supplementalGroups", I64),
        keep(12, "supplementalGroupsPolicy", Str),
        keep(5, "fsGroup", I64),
        rep(7, "sysctls", m(&SYSCTL)),
        keep(9, "fsGroupChangePolicy", Str),
        f(10, "seccompProfile", m(&SECCOMP_PROFILE)),
        f(11, "appArmorProfile", m(&APP_ARMOR_PROFILE)),
        keep(13, "seLinuxChangePolicy", Str),
    ],
);

static SYSCTL: Msg = Msg::new("core/v1 Sysctl", &[keep(1, "name", Str), keep(2, "value", Str)]);

static AFFINITY: Msg = Msg::new(
    "core/v1 Affinity",
    &[f(1, "nodeAffinity", m(&NODE_AFFINITY)), f(2, "podAffinity", m(&POD_AFFINITY)), f(3, "podAntiAffinity", m(&POD_ANTI_AFFINITY))],
);

static NODE_AFFINITY: Msg = Msg::new(
    "core/v1 NodeAffinity",
    &[
        f(1, "requiredDuringSchedulingIgnoredDuringExecution", m(&NODE_SELECTOR)),
        rep(2, "preferredDuringSchedulingIgnoredDuringExecution", m(&PREFERRED_SCHEDULING_TERM)),
    ],
);

static NODE_SELECTOR: Msg = Msg::new("core/v1 NodeSelector", &[rep(1, "nodeSelectorTerms", m(&NODE_SELECTOR_TERM))]);

static NODE_SELECTOR_TERM: Msg =
    Msg::new("core/v1 NodeSelectorTerm", &[rep(1, "matchExpressions", m(&NODE_SELECTOR_REQUIREMENT)), rep(2, "matchFields", m(&NODE_SELECTOR_REQUIREMENT))]);

static NODE_SELECTOR_REQUIREMENT: Msg = Msg::new("core/v1 NodeSelectorRequirement", &[keep(1, "key", Str), keep(2, "operator", Str), rep(3, "values", Str)]);

static PREFERRED_SCHEDULING_TERM: Msg = Msg::new("core/v1 PreferredSchedulingTerm", &[keep(1, "weight", I32), f(2, "preference", m(&NODE_SELECTOR_TERM))]);

static POD_AFFINITY: Msg = Msg::new(
    "core/v1 PodAffinity",
    &[
        rep(1, "requiredDuringSchedulingIgnoredDuringExecution", m(&POD_AFFINITY_TERM)),
        rep(2, "preferredDuringSchedulingIgnoredDuringExecution", m(&WEIGHTED_POD_AFFINITY_TERM)),
    ],
);

static POD_ANTI_AFFINITY: Msg = Msg::new(
    "core/v1 PodAntiAffinity",
    &[
        rep(1, "requiredDuringSchedulingIgnoredDuringExecution", m(&POD_AFFINITY_TERM)),
        rep(2, "preferredDuringSchedulingIgnoredDuringExecution", m(&WEIGHTED_POD_AFFINITY_TERM)),
    ],
);

static POD_AFFINITY_TERM: Msg = Msg::new(
    "core/v1 PodAffinityTerm",
    &[
        f(1, "labelSelector", m(&LABEL_SELECTOR)),
        rep(2, "namespaces", Str),
        keep(3, "topologyKey", Str),
        f(4, "namespaceSelector", m(&LABEL_SELECTOR)),
        rep(5, "matchLabelKeys", Str),
        rep(6, "mismatchLabelKeys", Str),
    ],
);

static WEIGHTED_POD_AFFINITY_TERM: Msg = Msg::new("core/v1 WeightedPodAffinityTerm", &[keep(1, "weight", I32), f(2, "podAffinityTerm", m(&POD_AFFINITY_TERM))]);

static TOLERATION: Msg =
    Msg::new("core/v1 Toleration", &[f(1, "key", Str), f(2, "operator", Str), f(3, "value", Str), f(4, "effect", Str), keep(5, "tolerationSeconds", I64)]);

static HOST_ALIAS: Msg = Msg::new("core/v1 HostAlias", &[keep(1, "ip", Str), rep(2, "hostnames", Str)]);

static POD_DNS_CONFIG: Msg =
    Msg::new("core/v1 PodDNSConfig", &[rep(1, "nameservers", Str), rep(2, "searches", Str), rep(3, "options", m(&POD_DNS_CONFIG_OPTION))]);

static POD_DNS_CONFIG_OPTION: Msg = Msg::new("core/v1 PodDNSConfigOption", &[f(1, "name", Str), keep(2, "value", Str)]);

static POD_READINESS_GATE: Msg = Msg::new("core/v1 PodReadinessGate", &[keep(1, "conditionType", Str)]);

static TOPOLOGY_SPREAD_CONSTRAINT: Msg = Msg::new(
    "core/v1 TopologySpreadConstraint",
    &[
        keep(1, "maxSkew", I32),
        keep(2, "topologyKey", Str),
        keep(3, "whenUnsatisfiable", Str),
        f(4, "labelSelector", m(&LABEL_SELECTOR)),
        keep(5, "minDomains", I32),
        keep(6, "nodeAffinityPolicy", Str),
        keep(7, "nodeTaintsPolicy", Str),
        rep(8, "matchLabelKeys", Str),
    ],
);

static POD_OS: Msg = Msg::new("core/v1 PodOS", &[keep(1, "name", Str)]);

static POD_SCHEDULING_GATE: Msg = Msg::new("core/v1 PodSchedulingGate", &[keep(1, "name", Str)]);

static POD_RESOURCE_CLAIM: Msg =
    Msg::new("core/v1 PodResourceClaim", &[keep(1, "name", Str), keep(3, "resourceClaimName", Str), keep(4, "resourceClaimTemplateName", Str)]);

// ---------------------------------------------------------------------------
// core/v1: volumes (the in-tree cloud volume types are not supported and are
// refused as unknown fields)
// ---------------------------------------------------------------------------

static VOLUME: Msg = Msg::new("core/v1 Volume", &[keep(1, "name", Str), f(2, "volumeSource", Ty::Inline(&VOLUME_SOURCE))]);

static VOLUME_SOURCE: Msg = Msg::new(
    "core/v1 VolumeSource",
    &[
        f(1, "hostPath", m(&HOST_PATH_VOLUME_SOURCE)),
        f(2, "emptyDir", m(&EMPTY_DIR_VOLUME_SOURCE)),
        f(6, "secret", m(&SECRET_VOLUME_SOURCE)),
        f(7, "nfs", m(&NFS_VOLUME_SOURCE)),
        f(10, "persistentVolumeClaim", m(&PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE)),
        f(16, "downwardAPI", m(&DOWNWARD_API_VOLUME_SOURCE)),
        f(19, "configMap", m(&CONFIG_MAP_VOLUME_SOURCE)),
        f(26, "projected", m(&PROJECTED_VOLUME_SOURCE)),
        f(28, "csi", m(&CSI_VOLUME_SOURCE)),
        f(29, "ephemeral", m(&EPHEMERAL_VOLUME_SOURCE)),
        f(30, "image", m(&IMAGE_VOLUME_SOURCE)),
    ],
);

static HOST_PATH_VOLUME_SOURCE: Msg = Msg::new("core/v1 HostPathVolumeSource", &[keep(1, "path", Str), keep(2, "type", Str)]);

static EMPTY_DIR_VOLUME_SOURCE: Msg = Msg::new("core/v1 EmptyDirVolumeSource", &[f(1, "medium", Str), f(2, "sizeLimit", Quantity)]);

static SECRET_VOLUME_SOURCE: Msg = Msg::new(
    "core/v1 SecretVolumeSource",
    &[f(1, "secretName", Str), rep(2, "items", m(&KEY_TO_PATH)), keep(3, "defaultMode", I32), keep(4, "optional", Bool)],
);

static KEY_TO_PATH: Msg = Msg::new("core/v1 KeyToPath", &[keep(1, "key", Str), keep(2, "path", Str), keep(3, "mode", I32)]);

static NFS_VOLUME_SOURCE: Msg = Msg::new("core/v1 NFSVolumeSource", &[keep(1, "server", Str), keep(2, "path", Str), f(3, "readOnly", Bool)]);

static PERSISTENT_VOLUME_CLAIM_VOLUME_SOURCE: Msg = Msg::new("core/v1 PersistentVolumeClaimVolumeSource", &[keep(1, "claimName", Str), f(2, "readOnly", Bool)]);

static DOWNWARD_API_VOLUME_SOURCE: Msg =
    Msg::new("core/v1 DownwardAPIVolumeSource", &[rep(1, "items", m(&DOWNWARD_API_VOLUME_FILE)), keep(2, "defaultMode", I32)]);

static DOWNWARD_API_VOLUME_FILE: Msg = Msg::new(
    "core/v1 DownwardAPIVolumeFile",
    &[keep(1, "path", Str), f(2, "fieldRef", m(&OBJECT_FIELD_SELECTOR)), f(3, "resourceFieldRef", m(&RESOURCE_FIELD_SELECTOR)), keep(4, "mode", I32)],
);

static CONFIG_MAP_VOLUME_SOURCE: Msg = Msg::new(
    "core/v1 ConfigMapVolumeSource",
    &[
        f(1, "localObjectReference", Ty::Inline(&LOCAL_OBJECT_REFERENCE)),
        rep(2, "items", m(&KEY_TO_PATH)),
        keep(3, "defaultMode", I32),
        keep(4, "optional", Bool),
    ],
);

static PROJECTED_VOLUME_SOURCE: Msg = Msg::new("core/v1 ProjectedVolumeSource", &[rep(1, "sources", m(&VOLUME_PROJECTION)), keep(2, "defaultMode", I32)]);

static VOLUME_PROJECTION: Msg = Msg::new(
    "core/v1 VolumeProjection",
    &[
        f(1, "secret", m(&SECRET_PROJECTION)),
        f(2, "downwardAPI", m(&DOWNWARD_API_PROJECTION)),
        f(3, "configMap", m(&CONFIG_MAP_PROJECTION)),
        f(4, "serviceAccountToken", m(&SERVICE_ACCOUNT_TOKEN_PROJECTION)),
        f(5, "clusterTrustBundle", m(&CLUSTER_TRUST_BUNDLE_PROJECTION)),
    ],
);

static SECRET_PROJECTION: Msg = Msg::new(
    "core/v1 SecretProjection",
    &[f(1, "localObjectReference", Ty::Inline(&LOCAL_OBJECT_REFERENCE)), rep(2, "items", m(&KEY_TO_PATH)), keep(4, "optional", Bool)],
);

static CONFIG_MAP_PROJECTION: Msg = Msg::new(
    "core/v1 ConfigMapProjection",
    &[f(1, "localObjectReference", Ty::Inline(&LOCAL_OBJECT_REFERENCE)), rep(2, "items", m(&KEY_TO_PATH)), keep(4, "optional", Bool)],
);

static DOWNWARD_API_PROJECTION: Msg = Msg::new("core/v1 DownwardAPIProjection", &[rep(1, "items", m(&DOWNWARD_API_VOLUME_FILE))]);

static SERVICE_ACCOUNT_TOKEN_PROJECTION: Msg =
    Msg::new("core/v1 ServiceAccountTokenProjection", &[f(1, "audience", Str), keep(2, "expirationSeconds", I64), keep(3, "path", Str)]);

static CLUSTER_TRUST_BUNDLE_PROJECTION: Msg = Msg::new(
    "core/v1 ClusterTrustBundleProjection",
    &[keep(1, "name", Str), keep(2, "signerName", Str), f(3, "labelSelector", m(&LABEL_SELECTOR)), keep(5, "optional", Bool), keep(4, "path", Str)],
);

static CSI_VOLUME_SOURCE: Msg = Msg::new(
    "core/v1 CSIVolumeSource",
    &[
        keep(1, "driver", Str),
        keep(2, "readOnly", Bool),
        keep(3, "fsType", Str),
        f(4, "volumeAttributes", MAP_STR),
        f(5, "nodePublishSecretRef", m(&LOCAL_OBJECT_REFERENCE)),
    ],
);

static EPHEMERAL_VOLUME_SOURCE: Msg = Msg::new("core/v1 EphemeralVolumeSource", &[f(1, "volumeClaimTemplate", m(&PERSISTENT_VOLUME_CLAIM_TEMPLATE))]);

static PERSISTENT_VOLUME_CLAIM_TEMPLATE: Msg =
    Msg::new("core/v1 PersistentVolumeClaimTemplate", &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&PERSISTENT_VOLUME_CLAIM_SPEC))]);

static IMAGE_VOLUME_SOURCE: Msg = Msg::new("core/v1 ImageVolumeSource", &[f(1, "reference", Str), f(2, "pullPolicy", Str)]);

// ---------------------------------------------------------------------------
// core/v1: PersistentVolumeClaim
// ---------------------------------------------------------------------------

static PERSISTENT_VOLUME_CLAIM: Msg = Msg::new(
    "core/v1 PersistentVolumeClaim",
    &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&PERSISTENT_VOLUME_CLAIM_SPEC)), f(3, "status", m(&PERSISTENT_VOLUME_CLAIM_STATUS))],
);

static PERSISTENT_VOLUME_CLAIM_SPEC: Msg = Msg::new(
    "core/v1 PersistentVolumeClaimSpec",
    &[
        rep(1, "accessModes", Str),
        f(4, "selector", m(&LABEL_SELECTOR)),
        f(2, "resources", m(&VOLUME_RESOURCE_REQUIREMENTS)),
        f(3, "volumeName", Str),
        keep(5, "storageClassName", Str),
        keep(6, "volumeMode", Str),
        f(7, "dataSource", m(&TYPED_LOCAL_OBJECT_REFERENCE)),
        f(8, "dataSourceRef", m(&TYPED_OBJECT_REFERENCE)),
        keep(9, "volumeAttributesClassName", Str),
    ],
);

static VOLUME_RESOURCE_REQUIREMENTS: Msg = Msg::new("core/v1 VolumeResourceRequirements", &[f(1, "limits", MAP_QUANTITY), f(2, "requests", MAP_QUANTITY)]);

static TYPED_LOCAL_OBJECT_REFERENCE: Msg =
    Msg::new("core/v1 TypedLocalObjectReference", &[keep(1, "apiGroup", Str), keep(2, "kind", Str), keep(3, "name", Str)]);

static TYPED_OBJECT_REFERENCE: Msg =
    Msg::new("core/v1 TypedObjectReference", &[keep(1, "apiGroup", Str), keep(2, "kind", Str), keep(3, "name", Str), keep(4, "namespace", Str)]);

static PERSISTENT_VOLUME_CLAIM_STATUS: Msg = Msg::new(
    "core/v1 PersistentVolumeClaimStatus",
    &[
        f(1, "phase", Str),
        rep(2, "accessModes", Str),
        f(3, "capacity", MAP_QUANTITY),
        rep(4, "conditions", m(&PERSISTENT_VOLUME_CLAIM_CONDITION)),
        f(5, "allocatedResources", MAP_QUANTITY),
        f(7, "allocatedResourceStatuses", MAP_STR),
        keep(8, "currentVolumeAttributesClassName", Str),
        f(9, "modifyVolumeStatus", m(&MODIFY_VOLUME_STATUS)),
    ],
);

static PERSISTENT_VOLUME_CLAIM_CONDITION: Msg = Msg::new(
    "core/v1 PersistentVolumeClaimCondition",
    &[keep(1, "type", Str), keep(2, "status", Str), f(3, "lastProbeTime", Time), f(4, "lastTransitionTime", Time), f(5, "reason", Str), f(6, "message", Str)],
);

static MODIFY_VOLUME_STATUS: Msg = Msg::new("core/v1 ModifyVolumeStatus", &[f(1, "targetVolumeAttributesClassName", Str), keep(2, "status", Str)]);

// ---------------------------------------------------------------------------
// apps/v1 (k8s.io/api/apps/v1/generated.proto)
// ---------------------------------------------------------------------------

static DEPLOYMENT: Msg =
    Msg::new("apps/v1 Deployment", &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&DEPLOYMENT_SPEC)), f(3, "status", m(&DEPLOYMENT_STATUS))]);

static DEPLOYMENT_SPEC: Msg = Msg::new(
    "apps/v1 DeploymentSpec",
    &[
        keep(1, "replicas", I32),
        f(2, "selector", m(&LABEL_SELECTOR)),
        f(3, "template", m(&POD_TEMPLATE_SPEC)),
        f(4, "strategy", m(&DEPLOYMENT_STRATEGY)),
        f(5, "minReadySeconds", I32),
        keep(6, "revisionHistoryLimit", I32),
        f(7, "paused", Bool),
        keep(9, "progressDeadlineSeconds", I32),
    ],
);

static DEPLOYMENT_STRATEGY: Msg = Msg::new("apps/v1 DeploymentStrategy", &[f(1, "type", Str), f(2, "rollingUpdate", m(&ROLLING_UPDATE_DEPLOYMENT))]);

static ROLLING_UPDATE_DEPLOYMENT: Msg = Msg::new("apps/v1 RollingUpdateDeployment", &[f(1, "maxUnavailable", IntOrString), f(2, "maxSurge", IntOrString)]);

static DEPLOYMENT_STATUS: Msg = Msg::new(
    "apps/v1 DeploymentStatus",
    &[
        f(1, "observedGeneration", I64),
        f(2, "replicas", I32),
        f(3, "updatedReplicas", I32),
        f(7, "readyReplicas", I32),
        f(4, "availableReplicas", I32),
        f(5, "unavailableReplicas", I32),
        keep(9, "terminatingReplicas", I32),
        rep(6, "conditions", m(&DEPLOYMENT_CONDITION)),
        keep(8, "collisionCount", I32),
    ],
);

static DEPLOYMENT_CONDITION: Msg = Msg::new(
    "apps/v1 DeploymentCondition",
    &[keep(1, "type", Str), keep(2, "status", Str), f(6, "lastUpdateTime", Time), f(7, "lastTransitionTime", Time), f(4, "reason", Str), f(5, "message", Str)],
);

static REPLICA_SET: Msg =
    Msg::new("apps/v1 ReplicaSet", &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&REPLICA_SET_SPEC)), f(3, "status", m(&REPLICA_SET_STATUS))]);

static REPLICA_SET_SPEC: Msg = Msg::new(
    "apps/v1 ReplicaSetSpec",
    &[keep(1, "replicas", I32), f(4, "minReadySeconds", I32), f(2, "selector", m(&LABEL_SELECTOR)), f(3, "template", m(&POD_TEMPLATE_SPEC))],
);

static REPLICA_SET_STATUS: Msg = Msg::new(
    "apps/v1 ReplicaSetStatus",
    &[
        keep(1, "replicas", I32),
        f(2, "fullyLabeledReplicas", I32),
        f(4, "readyReplicas", I32),
        f(5, "availableReplicas", I32),
        keep(7, "terminatingReplicas", I32),
        f(3, "observedGeneration", I64),
        rep(6, "conditions", m(&APPS_CONDITION)),
    ],
);

/// ReplicaSetCondition and DaemonSetCondition share this layout.
static APPS_CONDITION: Msg = Msg::new(
    "apps/v1 ReplicaSetCondition/DaemonSetCondition",
    &[keep(1, "type", Str), keep(2, "status", Str), f(3, "lastTransitionTime", Time), f(4, "reason", Str), f(5, "message", Str)],
);

static CONTROLLER_REVISION: Msg =
    Msg::new("apps/v1 ControllerRevision", &[f(1, "metadata", m(&OBJECT_META)), f(2, "data", Ty::RawExtension), keep(3, "revision", I64)]);

static DAEMON_SET: Msg =
    Msg::new("apps/v1 DaemonSet", &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&DAEMON_SET_SPEC)), f(3, "status", m(&DAEMON_SET_STATUS))]);

static DAEMON_SET_SPEC: Msg = Msg::new(
    "apps/v1 DaemonSetSpec",
    &[
        f(1, "selector", m(&LABEL_SELECTOR)),
        f(2, "template", m(&POD_TEMPLATE_SPEC)),
        f(3, "updateStrategy", m(&DAEMON_SET_UPDATE_STRATEGY)),
        f(4, "minReadySeconds", I32),
        keep(6, "revisionHistoryLimit", I32),
    ],
);

static DAEMON_SET_UPDATE_STRATEGY: Msg =
    Msg::new("apps/v1 DaemonSetUpdateStrategy", &[f(1, "type", Str), f(2, "rollingUpdate", m(&ROLLING_UPDATE_DAEMON_SET))]);

static ROLLING_UPDATE_DAEMON_SET: Msg = Msg::new("apps/v1 RollingUpdateDaemonSet", &[f(1, "maxUnavailable", IntOrString), f(2, "maxSurge", IntOrString)]);

static DAEMON_SET_STATUS: Msg = Msg::new(
    "apps/v1 DaemonSetStatus",
    &[
        keep(1, "currentNumberScheduled", I32),
        keep(2, "numberMisscheduled", I32),
        keep(3, "desiredNumberScheduled", I32),
        keep(4, "numberReady", I32),
        f(5, "observedGeneration", I64),
        f(6, "updatedNumberScheduled", I32),
        f(7, "numberAvailable", I32),
        f(8, "numberUnavailable", I32),
        keep(9, "collisionCount", I32),
        rep(10, "conditions", m(&APPS_CONDITION)),
    ],
);

// ---------------------------------------------------------------------------
// batch/v1 (k8s.io/api/batch/v1/generated.proto)
// ---------------------------------------------------------------------------

static JOB: Msg = Msg::new("batch/v1 Job", &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&JOB_SPEC)), f(3, "status", m(&JOB_STATUS))]);

static JOB_SPEC: Msg = Msg::new(
    "batch/v1 JobSpec",
    &[
        keep(1, "parallelism", I32),
        keep(2, "completions", I32),
        keep(3, "activeDeadlineSeconds", I64),
        f(11, "podFailurePolicy", m(&POD_FAILURE_POLICY)),
        f(16, "successPolicy", m(&SUCCESS_POLICY)),
        keep(7, "backoffLimit", I32),
        keep(12, "backoffLimitPerIndex", I32),
        keep(13, "maxFailedIndexes", I32),
        f(4, "selector", m(&LABEL_SELECTOR)),
        keep(5, "manualSelector", Bool),
        f(6, "template", m(&POD_TEMPLATE_SPEC)),
        keep(8, "ttlSecondsAfterFinished", I32),
        keep(9, "completionMode", Str),
        keep(10, "suspend", Bool),
        keep(14, "podReplacementPolicy", Str),
        keep(15, "managedBy", Str),
    ],
);

static POD_FAILURE_POLICY: Msg = Msg::new("batch/v1 PodFailurePolicy", &[rep(1, "rules", m(&POD_FAILURE_POLICY_RULE))]);

static POD_FAILURE_POLICY_RULE: Msg = Msg::new(
    "batch/v1 PodFailurePolicyRule",
    &[keep(1, "action", Str), f(2, "onExitCodes", m(&POD_FAILURE_POLICY_ON_EXIT_CODES)), rep(3, "onPodConditions", m(&POD_FAILURE_POLICY_ON_POD_CONDITIONS))],
);

static POD_FAILURE_POLICY_ON_EXIT_CODES: Msg =
    Msg::new("batch/v1 PodFailurePolicyOnExitCodesRequirement", &[keep(1, "containerName", Str), keep(2, "operator", Str), rep(3, "values", I32)]);

static POD_FAILURE_POLICY_ON_POD_CONDITIONS: Msg = Msg::new("batch/v1 PodFailurePolicyOnPodConditionsPattern", &[keep(1, "type", Str), keep(2, "status", Str)]);

static SUCCESS_POLICY: Msg = Msg::new("batch/v1 SuccessPolicy", &[rep(1, "rules", m(&SUCCESS_POLICY_RULE))]);

static SUCCESS_POLICY_RULE: Msg = Msg::new("batch/v1 SuccessPolicyRule", &[keep(1, "succeededIndexes", Str), keep(2, "succeededCount", I32)]);

static JOB_STATUS: Msg = Msg::new(
    "batch/v1 JobStatus",
    &[
        rep(1, "conditions", m(&JOB_CONDITION)),
        f(2, "startTime", Time),
        f(3, "completionTime", Time),
        f(4, "active", I32),
        f(5, "succeeded", I32),
        f(6, "failed", I32),
        keep(11, "terminating", I32),
        f(7, "completedIndexes", Str),
        keep(10, "failedIndexes", Str),
        f(8, "uncountedTerminatedPods", m(&UNCOUNTED_TERMINATED_PODS)),
        keep(9, "ready", I32),
    ],
);

static JOB_CONDITION: Msg = Msg::new(
    "batch/v1 JobCondition",
    &[keep(1, "type", Str), keep(2, "status", Str), f(3, "lastProbeTime", Time), f(4, "lastTransitionTime", Time), f(5, "reason", Str), f(6, "message", Str)],
);

static UNCOUNTED_TERMINATED_PODS: Msg = Msg::new("batch/v1 UncountedTerminatedPods", &[rep(1, "succeeded", Str), rep(2, "failed", Str)]);

static CRON_JOB: Msg = Msg::new("batch/v1 CronJob", &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&CRON_JOB_SPEC)), f(3, "status", m(&CRON_JOB_STATUS))]);

static CRON_JOB_SPEC: Msg = Msg::new(
    "batch/v1 CronJobSpec",
    &[
        keep(1, "schedule", Str),
        keep(8, "timeZone", Str),
        keep(2, "startingDeadlineSeconds", I64),
        f(3, "concurrencyPolicy", Str),
        keep(4, "suspend", Bool),
        f(5, "jobTemplate", m(&JOB_TEMPLATE_SPEC)),
        keep(6, "successfulJobsHistoryLimit", I32),
        keep(7, "failedJobsHistoryLimit", I32),
    ],
);

static JOB_TEMPLATE_SPEC: Msg = Msg::new("batch/v1 JobTemplateSpec", &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&JOB_SPEC))]);

static CRON_JOB_STATUS: Msg =
    Msg::new("batch/v1 CronJobStatus", &[rep(1, "active", m(&OBJECT_REFERENCE)), f(4, "lastScheduleTime", Time), f(5, "lastSuccessfulTime", Time)]);

// ---------------------------------------------------------------------------
// authorization.k8s.io/v1 (k8s.io/api/authorization/v1/generated.proto)
// ---------------------------------------------------------------------------

static SELF_SUBJECT_ACCESS_REVIEW: Msg = Msg::new(
    "authorization/v1 SelfSubjectAccessReview",
    &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&SELF_SUBJECT_ACCESS_REVIEW_SPEC)), f(3, "status", m(&SUBJECT_ACCESS_REVIEW_STATUS))],
);

static SELF_SUBJECT_ACCESS_REVIEW_SPEC: Msg = Msg::new(
    "authorization/v1 SelfSubjectAccessReviewSpec",
    &[f(1, "resourceAttributes", m(&RESOURCE_ATTRIBUTES)), f(2, "nonResourceAttributes", m(&NON_RESOURCE_ATTRIBUTES))],
);

/// SubjectAccessReview and LocalSubjectAccessReview share this layout.
static SUBJECT_ACCESS_REVIEW: Msg = Msg::new(
    "authorization/v1 SubjectAccessReview",
    &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&SUBJECT_ACCESS_REVIEW_SPEC)), f(3, "status", m(&SUBJECT_ACCESS_REVIEW_STATUS))],
);

static SUBJECT_ACCESS_REVIEW_SPEC: Msg = Msg::new(
    "authorization/v1 SubjectAccessReviewSpec",
    &[
        f(1, "resourceAttributes", m(&RESOURCE_ATTRIBUTES)),
        f(2, "nonResourceAttributes", m(&NON_RESOURCE_ATTRIBUTES)),
        f(3, "user", Str),
        rep(4, "groups", Str),
        f(5, "extra", MAP_EXTRA),
        f(6, "uid", Str),
    ],
);

static RESOURCE_ATTRIBUTES: Msg = Msg::new(
    "authorization/v1 ResourceAttributes",
    &[
        f(1, "namespace", Str),
        f(2, "verb", Str),
        f(3, "group", Str),
        f(4, "version", Str),
        f(5, "resource", Str),
        f(6, "subresource", Str),
        f(7, "name", Str),
        f(8, "fieldSelector", m(&FIELD_SELECTOR_ATTRIBUTES)),
        f(9, "labelSelector", m(&LABEL_SELECTOR_ATTRIBUTES)),
    ],
);

static FIELD_SELECTOR_ATTRIBUTES: Msg =
    Msg::new("authorization/v1 FieldSelectorAttributes", &[f(1, "rawSelector", Str), rep(2, "requirements", m(&FIELD_SELECTOR_REQUIREMENT))]);

static FIELD_SELECTOR_REQUIREMENT: Msg = Msg::new("meta/v1 FieldSelectorRequirement", &[keep(1, "key", Str), keep(2, "operator", Str), rep(3, "values", Str)]);

static LABEL_SELECTOR_ATTRIBUTES: Msg =
    Msg::new("authorization/v1 LabelSelectorAttributes", &[f(1, "rawSelector", Str), rep(2, "requirements", m(&LABEL_SELECTOR_REQUIREMENT))]);

static NON_RESOURCE_ATTRIBUTES: Msg = Msg::new("authorization/v1 NonResourceAttributes", &[f(1, "path", Str), f(2, "verb", Str)]);

static SUBJECT_ACCESS_REVIEW_STATUS: Msg = Msg::new(
    "authorization/v1 SubjectAccessReviewStatus",
    &[keep(1, "allowed", Bool), f(4, "denied", Bool), f(2, "reason", Str), f(3, "evaluationError", Str)],
);

static SELF_SUBJECT_RULES_REVIEW: Msg = Msg::new(
    "authorization/v1 SelfSubjectRulesReview",
    &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&SELF_SUBJECT_RULES_REVIEW_SPEC)), f(3, "status", m(&SUBJECT_RULES_REVIEW_STATUS))],
);

static SELF_SUBJECT_RULES_REVIEW_SPEC: Msg = Msg::new("authorization/v1 SelfSubjectRulesReviewSpec", &[f(1, "namespace", Str)]);

static SUBJECT_RULES_REVIEW_STATUS: Msg = Msg::new(
    "authorization/v1 SubjectRulesReviewStatus",
    &[rep(1, "resourceRules", m(&RESOURCE_RULE)), rep(2, "nonResourceRules", m(&NON_RESOURCE_RULE)), keep(3, "incomplete", Bool), f(4, "evaluationError", Str)],
);

static RESOURCE_RULE: Msg =
    Msg::new("authorization/v1 ResourceRule", &[rep(1, "verbs", Str), rep(2, "apiGroups", Str), rep(3, "resources", Str), rep(4, "resourceNames", Str)]);

static NON_RESOURCE_RULE: Msg = Msg::new("authorization/v1 NonResourceRule", &[rep(1, "verbs", Str), rep(2, "nonResourceURLs", Str)]);

// ---------------------------------------------------------------------------
// authentication.k8s.io/v1 (k8s.io/api/authentication/v1/generated.proto)
// ---------------------------------------------------------------------------

static TOKEN_REQUEST: Msg = Msg::new(
    "authentication/v1 TokenRequest",
    &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&TOKEN_REQUEST_SPEC)), f(3, "status", m(&TOKEN_REQUEST_STATUS))],
);

static TOKEN_REQUEST_SPEC: Msg = Msg::new(
    "authentication/v1 TokenRequestSpec",
    &[rep(1, "audiences", Str), keep(4, "expirationSeconds", I64), f(3, "boundObjectRef", m(&BOUND_OBJECT_REFERENCE))],
);

/// The proto names of fields 2 and 4 are `aPIVersion` and `uID`; the JSON
/// names are the usual ones.
static BOUND_OBJECT_REFERENCE: Msg =
    Msg::new("authentication/v1 BoundObjectReference", &[f(1, "kind", Str), f(2, "apiVersion", Str), f(3, "name", Str), f(4, "uid", Str)]);

static TOKEN_REQUEST_STATUS: Msg = Msg::new("authentication/v1 TokenRequestStatus", &[keep(1, "token", Str), f(2, "expirationTimestamp", Time)]);

// ---------------------------------------------------------------------------
// coordination.k8s.io/v1 (k8s.io/api/coordination/v1/generated.proto)
// ---------------------------------------------------------------------------

static LEASE: Msg = Msg::new("coordination/v1 Lease", &[f(1, "metadata", m(&OBJECT_META)), f(2, "spec", m(&LEASE_SPEC))]);

/// Every LeaseSpec field is a pointer in Go: an empty holderIdentity (how
/// leader election releases a lease) must survive.
static LEASE_SPEC: Msg = Msg::new(
    "coordination/v1 LeaseSpec",
    &[
        keep(1, "holderIdentity", Str),
        keep(2, "leaseDurationSeconds", I32),
        f(3, "acquireTime", MicroTime),
        f(4, "renewTime", MicroTime),
        keep(5, "leaseTransitions", I32),
        keep(6, "strategy", Str),
        keep(7, "preferredHolder", Str),
    ],
);

// ---------------------------------------------------------------------------
// policy/v1 (k8s.io/api/policy/v1/generated.proto)
// ---------------------------------------------------------------------------

static EVICTION: Msg = Msg::new("policy/v1 Eviction", &[f(1, "metadata", m(&OBJECT_META)), f(2, "deleteOptions", m(&DELETE_OPTIONS))]);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A minimal protobuf writer, enough to build request bodies the way Go's
    /// generated marshallers do.
    #[derive(Clone, Default)]
    struct Pb(Vec<u8>);

    impl Pb {
        fn new() -> Self {
            Pb::default()
        }

        fn raw_varint(&mut self, mut value: u64) {
            loop {
                let byte = (value & 0x7f) as u8;
                value >>= 7;
                if value == 0 {
                    self.0.push(byte);
                    return;
                }
                self.0.push(byte | 0x80);
            }
        }

        fn key(&mut self, number: u32, wire: u8) {
            self.raw_varint((u64::from(number) << 3) | u64::from(wire));
        }

        /// int32/int64/enum: negative values are sign-extended, like Go.
        fn int(mut self, number: u32, value: i64) -> Self {
            self.key(number, 0);
            self.raw_varint(value as u64);
            self
        }

        fn boolean(self, number: u32, value: bool) -> Self {
            self.int(number, i64::from(value))
        }

        fn bytes(mut self, number: u32, value: &[u8]) -> Self {
            self.key(number, 2);
            self.raw_varint(value.len() as u64);
            self.0.extend_from_slice(value);
            self
        }

        fn string(self, number: u32, value: &str) -> Self {
            self.bytes(number, value.as_bytes())
        }

        fn msg(self, number: u32, value: Pb) -> Self {
            self.bytes(number, &value.0)
        }

        fn entry(self, number: u32, key: &str, value: &[u8]) -> Self {
            self.msg(number, Pb::new().string(1, key).bytes(2, value))
        }

        fn quantity_entry(self, number: u32, key: &str, value: &str) -> Self {
            self.msg(number, Pb::new().string(1, key).msg(2, Pb::new().string(1, value)))
        }
    }

    fn body(api_version: &str, kind: &str, object: Pb) -> Vec<u8> {
        let envelope = Pb::new().msg(1, Pb::new().string(1, api_version).string(2, kind)).msg(2, object).string(3, "").string(4, "");
        let mut out = b"k8s\0".to_vec();
        out.extend_from_slice(&envelope.0);
        out
    }

    /// ObjectMeta as Go writes it: every non-pointer field present, empty
    /// ones included, and the zero creationTimestamp as an empty message.
    fn go_meta(name: &str, namespace: &str) -> Pb {
        Pb::new().string(1, name).string(2, "").string(3, namespace).string(4, "").string(5, "").string(6, "").int(7, 0).msg(8, Pb::new())
    }

    fn time(seconds: i64, nanos: i64) -> Pb {
        Pb::new().int(1, seconds).int(2, nanos)
    }

    fn decode_ok(bytes: &[u8]) -> Value {
        match decode(bytes) {
            Ok(value) => value,
            Err(e) => panic!("decode failed: {e}"),
        }
    }

    // -- kinds --------------------------------------------------------------

    #[test]
    fn secret_with_binary_data() {
        let secret = Pb::new()
            .msg(1, go_meta("creds", "default").entry(11, "app", b"web").entry(12, "note", b"hi"))
            .entry(2, "blob", &[0x00, 0xff, 0x10, 0x80])
            .entry(2, "password", b"hunter2")
            .string(3, "Opaque")
            .entry(4, "plain", b"text")
            .boolean(5, false);
        let value = decode_ok(&body("v1", "Secret", secret));
        assert_eq!(
            value,
            json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": "creds",
                    "namespace": "default",
                    "creationTimestamp": null,
                    "labels": {"app": "web"},
                    "annotations": {"note": "hi"},
                },
                "data": {"blob": "AP8QgA==", "password": "aHVudGVyMg=="},
                "stringData": {"plain": "text"},
                "type": "Opaque",
                // A pointer field: an explicit false must survive.
                "immutable": false,
            })
        );
    }

    #[test]
    fn config_map() {
        let config_map = Pb::new()
            .msg(1, go_meta("settings", "prod"))
            .entry(2, "app.properties", b"a=1\nb=2")
            .entry(2, "empty", b"")
            .entry(3, "logo.png", &[0x89, b'P', b'N', b'G'])
            .boolean(4, true);
        let value = decode_ok(&body("v1", "ConfigMap", config_map));
        assert_eq!(
            value,
            json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "settings", "namespace": "prod", "creationTimestamp": null},
                "data": {"app.properties": "a=1\nb=2", "empty": ""},
                "binaryData": {"logo.png": "iVBORw=="},
                "immutable": true,
            })
        );
    }

    #[test]
    fn namespace_with_spec_and_status() {
        let namespace = Pb::new().msg(1, go_meta("team-a", "")).msg(2, Pb::new().string(1, "kubernetes")).msg(3, Pb::new().string(1, "Active"));
        let value = decode_ok(&body("v1", "Namespace", namespace));
        assert_eq!(
            value,
            json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": "team-a", "creationTimestamp": null},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            })
        );
    }

    #[test]
    fn empty_status_struct_is_kept_like_go() {
        // kubectl create namespace sends empty spec and status messages; Go's
        // JSON for the same object has "spec": {} and "status": {}.
        let namespace = Pb::new().msg(1, go_meta("x", "")).msg(2, Pb::new()).msg(3, Pb::new().string(1, ""));
        let value = decode_ok(&body("v1", "Namespace", namespace));
        assert_eq!(value["spec"], json!({}));
        assert_eq!(value["status"], json!({}));
    }

    #[test]
    fn service_account_with_references() {
        let sa = Pb::new()
            .msg(1, go_meta("builder", "ci"))
            .msg(2, Pb::new().string(1, "Secret").string(3, "token"))
            .msg(3, Pb::new().string(1, "registry"))
            .boolean(4, false);
        let value = decode_ok(&body("v1", "ServiceAccount", sa));
        assert_eq!(value["secrets"], json!([{"kind": "Secret", "name": "token"}]));
        assert_eq!(value["imagePullSecrets"], json!([{"name": "registry"}]));
        assert_eq!(value["automountServiceAccountToken"], json!(false));
    }

    #[test]
    fn self_subject_access_review() {
        let review = Pb::new()
            .msg(1, go_meta("", ""))
            .msg(
                2,
                Pb::new()
                    .msg(
                        1,
                        Pb::new()
                            .string(1, "default")
                            .string(2, "create")
                            .string(3, "apps")
                            .string(4, "v1")
                            .string(5, "deployments")
                            .string(6, "scale")
                            .string(7, "web"),
                    )
                    .msg(2, Pb::new().string(1, "/healthz").string(2, "get")),
            )
            .msg(3, Pb::new().boolean(1, false).string(2, "").string(3, "").boolean(4, false));
        let value = decode_ok(&body("authorization.k8s.io/v1", "SelfSubjectAccessReview", review));
        assert_eq!(
            value,
            json!({
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "metadata": {"creationTimestamp": null},
                "spec": {
                    "resourceAttributes": {
                        "namespace": "default",
                        "verb": "create",
                        "group": "apps",
                        "version": "v1",
                        "resource": "deployments",
                        "subresource": "scale",
                        "name": "web",
                    },
                    "nonResourceAttributes": {"path": "/healthz", "verb": "get"},
                },
                // `allowed` has no omitempty in Go.
                "status": {"allowed": false},
            })
        );
    }

    #[test]
    fn subject_access_review_extra() {
        let review = Pb::new()
            .msg(2, Pb::new().string(3, "jane").string(4, "dev").msg(5, Pb::new().string(1, "scopes").msg(2, Pb::new().string(1, "a").string(1, "b"))));
        let value = decode_ok(&body("authorization.k8s.io/v1", "SubjectAccessReview", review));
        assert_eq!(value["spec"], json!({"user": "jane", "groups": ["dev"], "extra": {"scopes": ["a", "b"]}}));
    }

    #[test]
    fn delete_options_in_any_group() {
        let options = Pb::new().int(1, 0).msg(2, Pb::new().string(1, "uid-1").string(2, "42")).boolean(3, false).string(4, "Foreground").string(5, "All");
        for api_version in ["v1", "apps/v1", "meta.k8s.io/v1"] {
            let value = decode_ok(&body(api_version, "DeleteOptions", options.clone()));
            assert_eq!(
                value,
                json!({
                    "apiVersion": api_version,
                    "kind": "DeleteOptions",
                    // Zero grace period means "now"; it must not be dropped.
                    "gracePeriodSeconds": 0,
                    "preconditions": {"uid": "uid-1", "resourceVersion": "42"},
                    "orphanDependents": false,
                    "propagationPolicy": "Foreground",
                    "dryRun": ["All"],
                })
            );
        }
    }

    #[test]
    fn object_meta_complete() {
        let meta = Pb::new()
            .string(1, "web")
            .string(2, "web-")
            .string(3, "default")
            .string(4, "/api/v1/x")
            .string(5, "1f2e")
            .string(6, "77")
            .int(7, 3)
            .msg(8, time(1_704_164_645, 0))
            .msg(9, time(1_704_164_700, 500))
            .int(10, 0)
            .entry(11, "app", b"web")
            .entry(12, "a/b", b"c")
            .msg(13, Pb::new().string(1, "ReplicaSet").string(3, "web-abc").string(4, "uid-9").string(5, "apps/v1").boolean(6, true).boolean(7, false))
            .string(14, "example.com/cleanup")
            // Old client-go always sends the removed clusterName, empty.
            .string(15, "")
            .msg(
                17,
                Pb::new()
                    .string(1, "kubectl")
                    .string(2, "Update")
                    .string(3, "v1")
                    .msg(4, time(1_704_164_645, 0))
                    .string(6, "FieldsV1")
                    .msg(7, Pb::new().bytes(1, br#"{"f:data":{".":{}}}"#))
                    .string(8, ""),
            );
        let value = decode_ok(&body("v1", "ConfigMap", Pb::new().msg(1, meta)));
        assert_eq!(
            value["metadata"],
            json!({
                "name": "web",
                "generateName": "web-",
                "namespace": "default",
                "selfLink": "/api/v1/x",
                "uid": "1f2e",
                "resourceVersion": "77",
                "generation": 3,
                "creationTimestamp": "2024-01-02T03:04:05Z",
                "deletionTimestamp": "2024-01-02T03:05:00Z",
                "deletionGracePeriodSeconds": 0,
                "labels": {"app": "web"},
                "annotations": {"a/b": "c"},
                "ownerReferences": [{
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "web-abc",
                    "uid": "uid-9",
                    "controller": true,
                    "blockOwnerDeletion": false,
                }],
                "finalizers": ["example.com/cleanup"],
                "managedFields": [{
                    "manager": "kubectl",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": "2024-01-02T03:04:05Z",
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {"f:data": {".": {}}},
                }],
            })
        );
    }

    /// Container as `kubectl create deployment` builds it, with Go's
    /// always-written empty fields.
    fn go_container(name: &str, image: &str) -> Pb {
        Pb::new()
            .string(1, name)
            .string(2, image)
            .string(5, "")
            .msg(8, Pb::new())
            .string(13, "")
            .string(14, "")
            .boolean(16, false)
            .boolean(17, false)
            .boolean(18, false)
            .string(20, "")
    }

    fn go_pod_spec(containers: Vec<Pb>) -> Pb {
        let mut spec = Pb::new();
        for container in containers {
            spec = spec.msg(2, container);
        }
        spec.string(3, "")
            .string(6, "")
            .string(8, "")
            .string(9, "")
            .string(10, "")
            .boolean(11, false)
            .boolean(12, false)
            .boolean(13, false)
            .string(16, "")
            .string(17, "")
            .string(19, "")
            .string(24, "")
    }

    #[test]
    fn deployment_like_kubectl_create() {
        let labels = Pb::new().entry(1, "app", b"web");
        let template = Pb::new().msg(1, go_meta("", "").entry(11, "app", b"web")).msg(2, go_pod_spec(vec![go_container("nginx", "nginx:1.27")]));
        let deployment = Pb::new()
            .msg(1, go_meta("web", "default").entry(11, "app", b"web"))
            .msg(2, Pb::new().int(1, 0).msg(2, labels).msg(3, template).msg(4, Pb::new().string(1, "")).int(5, 0).boolean(7, false))
            .msg(3, Pb::new().int(1, 0).int(2, 0).int(3, 0).int(4, 0).int(5, 0).int(7, 0));
        let value = decode_ok(&body("apps/v1", "Deployment", deployment));
        assert_eq!(
            value,
            json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": "web",
                    "namespace": "default",
                    "creationTimestamp": null,
                    "labels": {"app": "web"},
                },
                "spec": {
                    // --replicas=0 is meaningful and must survive.
                    "replicas": 0,
                    "selector": {"matchLabels": {"app": "web"}},
                    "template": {
                        "metadata": {"creationTimestamp": null, "labels": {"app": "web"}},
                        "spec": {
                            "containers": [{
                                "name": "nginx",
                                "image": "nginx:1.27",
                                "resources": {},
                            }],
                        },
                    },
                    "strategy": {},
                },
                "status": {},
            })
        );
    }

    #[test]
    fn deployment_with_full_container() {
        let container = go_container("app", "registry/app:2")
            .string(3, "/bin/app")
            .string(4, "--port=8080")
            .msg(6, Pb::new().string(1, "http").int(2, 0).int(3, 8080).string(4, "TCP").string(5, ""))
            .msg(7, Pb::new().string(1, "MODE").string(2, "prod"))
            .msg(7, Pb::new().string(1, "POD_NAME").string(2, "").msg(3, Pb::new().msg(1, Pb::new().string(1, "v1").string(2, "metadata.name"))))
            .msg(7, Pb::new().string(1, "TOKEN").msg(3, Pb::new().msg(4, Pb::new().msg(1, Pb::new().string(1, "creds")).string(2, "token").boolean(3, true))))
            .msg(8, Pb::new().quantity_entry(1, "memory", "128Mi").quantity_entry(2, "cpu", "250m"))
            .msg(9, Pb::new().string(1, "data").boolean(2, true).string(3, "/data").string(4, "").string(6, ""))
            .msg(
                10,
                Pb::new()
                    .msg(1, Pb::new().msg(2, Pb::new().string(1, "/healthz").msg(2, Pb::new().int(1, 1).string(3, "http")).string(3, "").string(4, "HTTP")))
                    .int(2, 5)
                    .int(3, 1)
                    .int(4, 10)
                    .int(5, 1)
                    .int(6, 3),
            )
            .msg(11, Pb::new().msg(1, Pb::new().msg(3, Pb::new().msg(1, Pb::new().int(1, 0).int(2, 8080)))))
            .msg(15, Pb::new().int(4, 0).boolean(7, false));
        let pod_spec = go_pod_spec(vec![container])
            .msg(1, Pb::new().string(1, "data").msg(2, Pb::new().msg(2, Pb::new().string(1, "Memory"))))
            .msg(1, Pb::new().string(1, "cfg").msg(2, Pb::new().msg(19, Pb::new().msg(1, Pb::new().string(1, "settings")).int(3, 420))))
            .int(4, 30)
            .msg(14, Pb::new())
            .msg(22, Pb::new().string(1, "node.kubernetes.io/not-ready").string(2, "Exists").string(3, "").string(4, "NoExecute").int(5, 300))
            .boolean(30, false);
        let spec = Pb::new()
            .int(1, 2)
            .msg(2, Pb::new().msg(2, Pb::new().string(1, "tier").string(2, "In").string(3, "web").string(3, "api")))
            .msg(3, Pb::new().msg(1, go_meta("", "")).msg(2, pod_spec))
            .msg(4, Pb::new().string(1, "RollingUpdate").msg(2, Pb::new().msg(1, Pb::new().int(1, 1).string(3, "25%")).msg(2, Pb::new().int(1, 0).int(2, 1))))
            .int(6, 10)
            .int(9, 600);
        let value = decode_ok(&body("apps/v1", "Deployment", Pb::new().msg(1, go_meta("app", "default")).msg(2, spec)));
        assert_eq!(
            value["spec"],
            json!({
                "replicas": 2,
                "selector": {"matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["web", "api"]},
                ]},
                "template": {
                    "metadata": {"creationTimestamp": null},
                    "spec": {
                        "volumes": [
                            {"name": "data", "emptyDir": {"medium": "Memory"}},
                            {"name": "cfg", "configMap": {"name": "settings", "defaultMode": 420}},
                        ],
                        "containers": [{
                            "name": "app",
                            "image": "registry/app:2",
                            "command": ["/bin/app"],
                            "args": ["--port=8080"],
                            "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                            "env": [
                                {"name": "MODE", "value": "prod"},
                                {"name": "POD_NAME", "valueFrom": {
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"},
                                }},
                                {"name": "TOKEN", "valueFrom": {
                                    "secretKeyRef": {"name": "creds", "key": "token", "optional": true},
                                }},
                            ],
                            "resources": {"limits": {"memory": "128Mi"}, "requests": {"cpu": "250m"}},
                            "volumeMounts": [{"name": "data", "readOnly": true, "mountPath": "/data"}],
                            "livenessProbe": {
                                "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                                "initialDelaySeconds": 5,
                                "timeoutSeconds": 1,
                                "periodSeconds": 10,
                                "successThreshold": 1,
                                "failureThreshold": 3,
                            },
                            "readinessProbe": {"tcpSocket": {"port": 8080}},
                            "securityContext": {"runAsUser": 0, "allowPrivilegeEscalation": false},
                        }],
                        "terminationGracePeriodSeconds": 30,
                        "securityContext": {},
                        "tolerations": [{
                            "key": "node.kubernetes.io/not-ready",
                            "operator": "Exists",
                            "effect": "NoExecute",
                            "tolerationSeconds": 300,
                        }],
                        "enableServiceLinks": false,
                    },
                },
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1},
                },
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600,
            })
        );
    }

    #[test]
    fn job_and_cron_job() {
        let job_spec = Pb::new()
            .int(7, 0)
            .msg(6, Pb::new().msg(1, go_meta("", "")).msg(2, go_pod_spec(vec![go_container("pi", "perl").string(3, "perl")]).string(3, "Never")))
            .int(8, 100);
        let job = decode_ok(&body(
            "batch/v1",
            "Job",
            Pb::new().msg(1, go_meta("pi", "default")).msg(2, job_spec.clone()).msg(3, Pb::new().int(4, 0).int(5, 0).int(6, 0).string(7, "")),
        ));
        assert_eq!(job["spec"]["backoffLimit"], json!(0));
        assert_eq!(job["spec"]["ttlSecondsAfterFinished"], json!(100));
        assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], json!("Never"));
        assert_eq!(job["spec"]["template"]["spec"]["containers"][0]["command"], json!(["perl"]));
        assert_eq!(job["status"], json!({}));

        let cron = decode_ok(&body(
            "batch/v1",
            "CronJob",
            Pb::new().msg(1, go_meta("nightly", "default")).msg(
                2,
                Pb::new().string(1, "0 3 * * *").string(3, "").boolean(4, false).msg(5, Pb::new().msg(1, go_meta("nightly", "")).msg(2, job_spec)).int(6, 0),
            ),
        ));
        assert_eq!(cron["spec"]["schedule"], json!("0 3 * * *"));
        assert_eq!(cron["spec"]["suspend"], json!(false));
        assert_eq!(cron["spec"]["successfulJobsHistoryLimit"], json!(0));
        assert!(cron["spec"].get("concurrencyPolicy").is_none());
        assert_eq!(cron["spec"]["jobTemplate"]["metadata"], json!({"name": "nightly", "creationTimestamp": null}));
    }

    #[test]
    fn service_with_ports() {
        let spec = Pb::new()
            .msg(1, Pb::new().string(1, "http").string(2, "TCP").int(3, 80).msg(4, Pb::new().int(1, 0).int(2, 8080)).int(5, 0))
            .msg(1, Pb::new().string(1, "metrics").string(2, "TCP").int(3, 9090).msg(4, Pb::new().int(1, 1).string(3, "metrics")).int(5, 30090))
            .entry(2, "app", b"web")
            .string(3, "None")
            .string(18, "None")
            .string(4, "ClusterIP")
            .string(7, "None")
            .int(12, 0)
            .boolean(13, false)
            .string(17, "SingleStack")
            .msg(1, Pb::new().int(3, 53).msg(4, Pb::new().int(1, 0).int(2, 0)));
        let value = decode_ok(&body("v1", "Service", Pb::new().msg(1, go_meta("web", "default")).msg(2, spec).msg(3, Pb::new().msg(1, Pb::new()))));
        assert_eq!(
            value["spec"],
            json!({
                "ports": [
                    {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                    {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": "metrics", "nodePort": 30090},
                    // A zero IntOrString is a struct in Go: never omitted.
                    {"port": 53, "targetPort": 0},
                ],
                "selector": {"app": "web"},
                "clusterIP": "None",
                "clusterIPs": ["None"],
                "type": "ClusterIP",
                "sessionAffinity": "None",
                "ipFamilyPolicy": "SingleStack",
            })
        );
        assert_eq!(value["status"], json!({"loadBalancer": {}}));
    }

    #[test]
    fn lease_with_micro_times() {
        let lease = Pb::new()
            .msg(1, go_meta("leader", "kube-system"))
            .msg(2, Pb::new().string(1, "").int(2, 15).msg(3, time(1_704_164_645, 123_456_789)).msg(4, time(1_704_164_645, 0)).int(5, 0));
        let value = decode_ok(&body("coordination.k8s.io/v1", "Lease", lease));
        assert_eq!(
            value["spec"],
            json!({
                // Releasing a lease sets an empty holder; it must survive.
                "holderIdentity": "",
                "leaseDurationSeconds": 15,
                "acquireTime": "2024-01-02T03:04:05.123456Z",
                "renewTime": "2024-01-02T03:04:05.000000Z",
                "leaseTransitions": 0,
            })
        );
    }

    #[test]
    fn event_with_zero_times() {
        let event = Pb::new()
            .msg(1, go_meta("web.17a", "default"))
            .msg(2, Pb::new().string(1, "Pod").string(3, "web").string(5, "v1"))
            .string(3, "Started")
            .string(4, "Started container")
            .msg(5, Pb::new().string(1, "kubelet").string(2, ""))
            .msg(6, time(1_704_164_645, 0))
            .msg(7, Pb::new())
            .int(8, 1)
            .string(9, "Normal")
            .msg(10, Pb::new())
            .string(12, "")
            .string(14, "")
            .string(15, "");
        let value = decode_ok(&body("v1", "Event", event));
        assert_eq!(
            value,
            json!({
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": "web.17a", "namespace": "default", "creationTimestamp": null},
                "involvedObject": {"kind": "Pod", "name": "web", "apiVersion": "v1"},
                "reason": "Started",
                "message": "Started container",
                "source": {"component": "kubelet"},
                "firstTimestamp": "2024-01-02T03:04:05Z",
                "lastTimestamp": null,
                "count": 1,
                "type": "Normal",
                "eventTime": null,
                "reportingComponent": "",
                "reportingInstance": "",
            })
        );
    }

    #[test]
    fn token_request_and_eviction() {
        let token = decode_ok(&body(
            "authentication.k8s.io/v1",
            "TokenRequest",
            Pb::new()
                .msg(1, go_meta("", ""))
                .msg(2, Pb::new().string(1, "https://kubernetes.default.svc").int(4, 3600).msg(3, Pb::new().string(1, "Pod").string(2, "v1").string(3, "web"))),
        ));
        assert_eq!(
            token["spec"],
            json!({
                "audiences": ["https://kubernetes.default.svc"],
                "expirationSeconds": 3600,
                "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web"},
            })
        );

        let eviction = decode_ok(&body("policy/v1", "Eviction", Pb::new().msg(1, go_meta("web-0", "default")).msg(2, Pb::new().int(1, 10))));
        assert_eq!(eviction["deleteOptions"], json!({"gracePeriodSeconds": 10}));
    }

    #[test]
    fn controller_revision_raw_extension() {
        let value = decode_ok(&body(
            "apps/v1",
            "ControllerRevision",
            Pb::new().msg(1, go_meta("rev", "default")).msg(2, Pb::new().bytes(1, br#"{"spec":{"template":{}}}"#)).int(3, 0),
        ));
        assert_eq!(value["data"], json!({"spec": {"template": {}}}));
        assert_eq!(value["revision"], json!(0));
    }

    // -- wire-format details -------------------------------------------------

    #[test]
    fn packed_and_unpacked_repeated_ints_both_decode() {
        let mut packed = Pb::new();
        let mut payload = Pb::new();
        for v in [1000_i64, 2000, -1] {
            payload.raw_varint(v as u64);
        }
        packed = packed.bytes(4, &payload.0);
        let sc = packed.int(4, 3000);
        let value = decode_ok(&body("v1", "Pod", Pb::new().msg(2, Pb::new().msg(14, sc))));
        assert_eq!(value["spec"]["securityContext"]["supplementalGroups"], json!([1000, 2000, -1, 3000]));
    }

    #[test]
    fn negative_int32_is_sign_extended() {
        let value = decode_ok(&body("apps/v1", "Deployment", Pb::new().msg(2, Pb::new().int(1, -5))));
        assert_eq!(value["spec"]["replicas"], json!(-5));
    }

    #[test]
    fn repeated_message_field_occurrences_merge() {
        let value = decode_ok(&body(
            "v1",
            "Secret",
            Pb::new().msg(1, Pb::new().string(1, "a")).msg(1, Pb::new().string(3, "ns")).string(3, "first").string(3, "Opaque"),
        ));
        assert_eq!(value["metadata"], json!({"name": "a", "namespace": "ns"}));
        assert_eq!(value["type"], json!("Opaque"));
    }

    #[test]
    fn time_formatting() {
        let cases = [
            (0, 0, false, Some("1970-01-01T00:00:00Z")),
            (1_704_164_645, 999_999_999, false, Some("2024-01-02T03:04:05Z")),
            (1_704_164_645, 999_999_999, true, Some("2024-01-02T03:04:05.999999Z")),
            // Nanos outside [0, 1e9) carry into the seconds like time.Unix.
            (1_704_164_645, -1, true, Some("2024-01-02T03:04:04.999999Z")),
            (951_782_400, 0, false, Some("2000-02-29T00:00:00Z")),
            (-1, 0, false, Some("1969-12-31T23:59:59Z")),
            (MAX_SECONDS, 0, false, Some("9999-12-31T23:59:59Z")),
            (MIN_SECONDS, 0, false, Some("0000-01-01T00:00:00Z")),
            (GO_ZERO_TIME, 0, false, None),
        ];
        for (seconds, nanos, micro, want) in cases {
            assert_eq!(format_time(seconds, nanos, micro), Ok(want.map(str::to_owned)), "{seconds} {nanos}");
        }
        assert!(format_time(MAX_SECONDS + 1, 0, false).is_err());
        assert!(format_time(i64::MAX, 999_999_999, false).is_err());
        assert!(format_time(i64::MIN, -1, false).is_err());
    }

    #[test]
    fn go_zero_time_message_is_null() {
        let value = decode_ok(&body("v1", "Secret", Pb::new().msg(1, Pb::new().msg(8, time(GO_ZERO_TIME, 0)))));
        assert_eq!(value["metadata"]["creationTimestamp"], Value::Null);
    }

    #[test]
    fn minimal_body_has_only_type_meta() {
        let value = decode_ok(&body("v1", "ConfigMap", Pb::new()));
        assert_eq!(value, json!({"apiVersion": "v1", "kind": "ConfigMap"}));
    }

    // -- errors --------------------------------------------------------------

    fn decode_err(bytes: &[u8]) -> ProtobufError {
        match decode(bytes) {
            Ok(value) => panic!("expected an error, got {value}"),
            Err(e) => e,
        }
    }

    #[test]
    fn wrong_magic() {
        let mut bytes = body("v1", "Secret", Pb::new());
        bytes[0] = b'K';
        assert!(matches!(decode_err(&bytes), ProtobufError::MissingMagic));
        assert!(matches!(decode_err(b""), ProtobufError::MissingMagic));
        assert!(matches!(decode_err(b"{\"kind\":1}"), ProtobufError::MissingMagic));
    }

    #[test]
    fn unsupported_kind_says_so() {
        let err = decode_err(&body("apps/v1", "Foo", Pb::new()));
        assert_eq!(err.to_string(), "protobuf body for apps/v1 Foo is not supported; send JSON instead");
    }

    #[test]
    fn missing_type_meta() {
        let mut bytes = b"k8s\0".to_vec();
        bytes.extend(Pb::new().msg(2, Pb::new()).0);
        assert!(matches!(decode_err(&bytes), ProtobufError::MissingTypeMeta("apiVersion")));
    }

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
    fn unknown_field_names_message_and_number() {
        let container = go_container("app", "img").int(99, 1).bytes(26, b"future");
        let bytes = body("apps/v1", "Deployment", Pb::new().msg(2, Pb::new().msg(3, Pb::new().msg(2, go_pod_spec(vec![container])))));
        let err = decode_err(&bytes);
        let text = err.to_string();
        assert!(matches!(&err, ProtobufError::UnknownFields { message: "core/v1 Container", fields, .. } if fields == &[99, 26]), "{text}");
        assert!(text.contains("Deployment.spec.template.spec.containers[0]"), "{text}");
        assert!(text.contains("99, 26"), "{text}");
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

    #[test]
    fn invalid_int_or_string_type() {
        let spec = Pb::new().msg(1, Pb::new().int(3, 80).msg(4, Pb::new().int(1, 7)));
        let err = decode_err(&body("v1", "Service", Pb::new().msg(2, spec)));
        assert!(err.to_string().contains("Service.spec.ports[0].targetPort"), "{err}");
    }

    #[test]
    fn raw_extension_must_be_json() {
        let err = decode_err(&body("apps/v1", "ControllerRevision", Pb::new().msg(2, Pb::new().bytes(1, b"\x0a\x01x"))));
        assert!(matches!(err, ProtobufError::InvalidValue { .. }), "{err}");
    }

    #[test]
    fn content_encoding_and_type_are_checked() {
        let envelope = |encoding: &str, content_type: &str| {
            let mut out = b"k8s\0".to_vec();
            out.extend(Pb::new().msg(1, Pb::new().string(1, "v1").string(2, "Secret")).msg(2, Pb::new()).string(3, encoding).string(4, content_type).0);
            out
        };
        assert!(decode(&envelope("", PROTOBUF_CONTENT_TYPE)).is_ok());
        assert!(matches!(decode_err(&envelope("gzip", "")), ProtobufError::UnsupportedContentEncoding(_)));
        assert!(matches!(decode_err(&envelope("", "application/json")), ProtobufError::UnsupportedContentType(_)));
    }

    #[test]
    fn every_truncation_of_a_valid_body_is_handled() {
        let bytes = body(
            "apps/v1",
            "Deployment",
            Pb::new()
                .msg(1, go_meta("web", "default").entry(11, "app", b"web"))
                .msg(2, Pb::new().int(1, 3).msg(3, Pb::new().msg(2, go_pod_spec(vec![go_container("a", "b")])))),
        );
        assert!(decode(&bytes).is_ok());
        for len in 0..bytes.len() {
            // Must never panic; most prefixes are errors, a few happen to
            // end on a field boundary of the envelope.
            let _ = decode(&bytes[..len]);
        }
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        // xorshift so the test is deterministic without extra crates.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let valid = body("v1", "Secret", Pb::new().msg(1, go_meta("s", "d")).entry(2, "k", b"v").string(3, "Opaque"));
        for round in 0..20_000 {
            let mut bytes = if round % 2 == 0 {
                let len = (next() % 64) as usize;
                let mut b = b"k8s\0".to_vec();
                b.extend((0..len).map(|_| next() as u8));
                b
            } else {
                valid.clone()
            };
            if round % 2 == 1 {
                // Flip a few bytes after the magic.
                for _ in 0..(next() % 4 + 1) {
                    let at = 4 + (next() as usize) % (bytes.len() - 4);
                    bytes[at] = next() as u8;
                }
            }
            let _ = decode(&bytes);
        }
    }
}
