//! Test-only protobuf encoder: builds request bodies the way Go's generated
//! marshallers and client-go do, for the tests of every module here.

use serde_json::Value;

use super::{ProtobufError, decode};

/// A minimal protobuf writer, enough to build request bodies the way Go's
/// generated marshallers do.
#[derive(Clone, Default)]
pub(super) struct Pb(pub(super) Vec<u8>);

impl Pb {
    pub(super) fn new() -> Self {
        Pb::default()
    }

    pub(super) fn raw_varint(&mut self, mut value: u64) {
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

    pub(super) fn key(&mut self, number: u32, wire: u8) {
        self.raw_varint((u64::from(number) << 3) | u64::from(wire));
    }

    /// int32/int64/enum: negative values are sign-extended, like Go.
    pub(super) fn int(mut self, number: u32, value: i64) -> Self {
        self.key(number, 0);
        self.raw_varint(value as u64);
        self
    }

    pub(super) fn boolean(self, number: u32, value: bool) -> Self {
        self.int(number, i64::from(value))
    }

    pub(super) fn bytes(mut self, number: u32, value: &[u8]) -> Self {
        self.key(number, 2);
        self.raw_varint(value.len() as u64);
        self.0.extend_from_slice(value);
        self
    }

    pub(super) fn string(self, number: u32, value: &str) -> Self {
        self.bytes(number, value.as_bytes())
    }

    pub(super) fn msg(self, number: u32, value: Pb) -> Self {
        self.bytes(number, &value.0)
    }

    pub(super) fn entry(self, number: u32, key: &str, value: &[u8]) -> Self {
        self.msg(number, Pb::new().string(1, key).bytes(2, value))
    }

    pub(super) fn quantity_entry(self, number: u32, key: &str, value: &str) -> Self {
        self.msg(number, Pb::new().string(1, key).msg(2, Pb::new().string(1, value)))
    }
}

pub(super) fn body(api_version: &str, kind: &str, object: Pb) -> Vec<u8> {
    let envelope = Pb::new().msg(1, Pb::new().string(1, api_version).string(2, kind)).msg(2, object).string(3, "").string(4, "");
    let mut out = b"k8s\0".to_vec();
    out.extend_from_slice(&envelope.0);
    out
}

/// ObjectMeta as Go writes it: every non-pointer field present, empty
/// ones included, and the zero creationTimestamp as an empty message.
pub(super) fn go_meta(name: &str, namespace: &str) -> Pb {
    Pb::new().string(1, name).string(2, "").string(3, namespace).string(4, "").string(5, "").string(6, "").int(7, 0).msg(8, Pb::new())
}

pub(super) fn time(seconds: i64, nanos: i64) -> Pb {
    Pb::new().int(1, seconds).int(2, nanos)
}

pub(super) fn decode_ok(bytes: &[u8]) -> Value {
    match decode(bytes) {
        Ok(value) => value,
        Err(e) => panic!("decode failed: {e}"),
    }
}

/// Container as `kubectl create deployment` builds it, with Go's
/// always-written empty fields.
pub(super) fn go_container(name: &str, image: &str) -> Pb {
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

pub(super) fn go_pod_spec(containers: Vec<Pb>) -> Pb {
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

pub(super) fn decode_err(bytes: &[u8]) -> ProtobufError {
    match decode(bytes) {
        Ok(value) => panic!("expected an error, got {value}"),
        Err(e) => e,
    }
}
