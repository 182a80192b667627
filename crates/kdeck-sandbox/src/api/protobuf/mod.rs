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
//! - `authentication.k8s.io/v1`: TokenRequest, SelfSubjectReview
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
//!
//! # Layout
//!
//! - this file: the public API, the envelope and the kind → schema dispatch
//! - `wire.rs`: the wire-format reader and error paths
//! - `schema.rs`: the table model and the generic message → JSON decoder
//! - `meta.rs`, `core_v1.rs`, `pod.rs`, `apps.rs`, `batch.rs`,
//!   `authorization.rs`, `misc.rs` (authentication, coordination, policy):
//!   the schema tables, one file per API group
//! - `test_encoder.rs`: the protobuf writer the tests build bodies with

mod apps;
mod authorization;
mod batch;
mod core_v1;
mod meta;
mod misc;
mod pod;
mod schema;
mod wire;

#[cfg(test)]
mod test_encoder;

use serde_json::{Map, Value};

use schema::{Msg, decode_message};
use wire::{Path, walk};

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
// Kind registry
// ---------------------------------------------------------------------------

fn schema_for(api_version: &str, kind: &str) -> Option<&'static Msg> {
    let schema = match (api_version, kind) {
        // Every group registers the meta/v1 options types under its own
        // version, so client-go sends e.g. "apps/v1 DeleteOptions".
        (_, "DeleteOptions") => &meta::DELETE_OPTIONS,

        ("v1", "Secret") => &core_v1::SECRET,
        ("v1", "ConfigMap") => &core_v1::CONFIG_MAP,
        ("v1", "Namespace") => &core_v1::NAMESPACE,
        ("v1", "ServiceAccount") => &core_v1::SERVICE_ACCOUNT,
        ("v1", "Service") => &core_v1::SERVICE,
        ("v1", "Event") => &core_v1::EVENT,
        ("v1", "Pod") => &pod::POD,
        ("v1", "PersistentVolumeClaim") => &core_v1::PERSISTENT_VOLUME_CLAIM,
        ("v1", "Binding") => &core_v1::BINDING,

        ("apps/v1", "Deployment") => &apps::DEPLOYMENT,
        ("apps/v1", "ReplicaSet") => &apps::REPLICA_SET,
        ("apps/v1", "DaemonSet") => &apps::DAEMON_SET,
        ("apps/v1", "ControllerRevision") => &apps::CONTROLLER_REVISION,

        ("batch/v1", "Job") => &batch::JOB,
        ("batch/v1", "CronJob") => &batch::CRON_JOB,

        ("authorization.k8s.io/v1", "SelfSubjectAccessReview") => &authorization::SELF_SUBJECT_ACCESS_REVIEW,
        ("authorization.k8s.io/v1", "SubjectAccessReview") => &authorization::SUBJECT_ACCESS_REVIEW,
        ("authorization.k8s.io/v1", "LocalSubjectAccessReview") => &authorization::SUBJECT_ACCESS_REVIEW,
        ("authorization.k8s.io/v1", "SelfSubjectRulesReview") => &authorization::SELF_SUBJECT_RULES_REVIEW,

        ("authentication.k8s.io/v1", "TokenRequest") => &misc::TOKEN_REQUEST,
        ("authentication.k8s.io/v1", "SelfSubjectReview") => &misc::SELF_SUBJECT_REVIEW,

        ("coordination.k8s.io/v1", "Lease") => &misc::LEASE,

        ("policy/v1" | "policy/v1beta1", "Eviction") => &misc::EVICTION,

        _ => return None,
    };
    Some(schema)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::test_encoder::*;
    use super::*;

    #[test]
    fn minimal_body_has_only_type_meta() {
        let value = decode_ok(&body("v1", "ConfigMap", Pb::new()));
        assert_eq!(value, json!({"apiVersion": "v1", "kind": "ConfigMap"}));
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
