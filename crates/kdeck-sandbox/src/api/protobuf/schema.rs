//! The schema model (a message is a static table of fields, each with a JSON
//! name, a type and a zero-value rule) and the generic decoder that turns a
//! message into JSON with such a table, including the well-known types
//! metav1.Time/MicroTime, resource.Quantity, intstr.IntOrString,
//! runtime.RawExtension and metav1.FieldsV1.

use base64::Engine as _;
use serde_json::{Map, Value};

use super::Result;
use super::wire::{Path, Reader, Wire, invalid, utf8, walk};

/// One protobuf message type.
pub(super) struct Msg {
    /// Shown in errors, e.g. "core/v1 Container".
    name: &'static str,
    fields: &'static [Field],
}

impl Msg {
    pub(super) const fn new(name: &'static str, fields: &'static [Field]) -> Self {
        Msg { name, fields }
    }

    fn field(&self, number: u32) -> Option<&Field> {
        self.fields.iter().find(|f| f.number == number)
    }
}

/// One field of a message.
pub(super) struct Field {
    number: u32,
    /// The Go json tag name.
    json: &'static str,
    ty: Ty,
    rule: Rule,
}

/// How a field maps onto JSON (see the `protobuf` module docs on zero values).
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
pub(super) enum Ty {
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

pub(super) const fn f(number: u32, json: &'static str, ty: Ty) -> Field {
    Field { number, json, ty, rule: Rule::Omit }
}

pub(super) const fn keep(number: u32, json: &'static str, ty: Ty) -> Field {
    Field { number, json, ty, rule: Rule::Keep }
}

pub(super) const fn rep(number: u32, json: &'static str, ty: Ty) -> Field {
    Field { number, json, ty, rule: Rule::Repeated }
}

pub(super) const MAP_STR: Ty = Ty::Map(&Ty::Str);
pub(super) const MAP_BYTES: Ty = Ty::Map(&Ty::Bytes);
pub(super) const MAP_QUANTITY: Ty = Ty::Map(&Ty::Quantity);
pub(super) const MAP_EXTRA: Ty = Ty::Map(&Ty::StringList);

pub(super) const fn m(msg: &'static Msg) -> Ty {
    Ty::Msg(msg)
}

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

pub(super) fn decode_message(msg: &'static Msg, data: &[u8], base: usize, path: &Path<'_>, out: &mut Map<String, Value>) -> Result<()> {
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
    // `2026-11-23T06:08:23Z` without its Z, so the fraction can go before it.
    let mut text = crate::time::rfc3339_unix(seconds).trim_end_matches('Z').to_string();
    if micro {
        // Go's layout truncates, it does not round.
        text.push_str(&format!(".{:06}", nanos / 1000));
    }
    text.push('Z');
    Ok(Some(text))
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::ProtobufError;
    use super::super::test_encoder::*;
    use super::*;

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
}
