//! `kind: Status` bodies, byte for byte as kube-apiserver writes them.
//!
//! The real server encodes `metav1.Status` (k8s.io/apimachinery
//! pkg/apis/meta/v1/types.go) with Go's `encoding/json` through a
//! `json.Encoder` (pkg/runtime/serializer/json/json.go), which means:
//!
//! - keys in the struct's field order: `kind`, `apiVersion`, `metadata`,
//!   `status`, `message`, `reason`, `details`, `code`; inside `details`:
//!   `name`, `group`, `kind`, `uid`, `causes`, `retryAfterSeconds`; inside a
//!   cause: `reason`, `message`, `field`;
//! - every one of those fields is `omitempty`: an empty string, a zero code or
//!   an empty list is left out (the core group is never written as
//!   `"group":""`), while `metadata` — a struct, which `omitempty` never omits
//!   — is always there, as `{}` unless it holds a `continue` token (the 410 of
//!   an expired continued list);
//! - strings escaped as Go escapes them: `<`, `>` and `&` as `\u003c`,
//!   `\u003e` and `\u0026`, U+2028 and U+2029 as `\u2028` and `\u2029`;
//! - the body ends with a newline (`Encoder.Encode` writes one).
//!
//! Clients compare these bodies, so they are written by hand here rather than
//! from a `serde_json::Value`, whose keys come out sorted.

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Status<'a> {
    kind: &'static str,
    api_version: &'static str,
    metadata: Metadata<'a>,
    #[serde(skip_serializing_if = "str::is_empty")]
    status: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    message: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<Details<'a>>,
    #[serde(skip_serializing_if = "is_zero")]
    code: i64,
}

/// `ListMeta`: in a Status, only `continue` is ever set.
#[derive(Serialize)]
struct Metadata<'a> {
    #[serde(rename = "continue", skip_serializing_if = "str::is_empty")]
    continue_token: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Details<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    group: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    kind: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    uid: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    causes: Vec<Cause<'a>>,
    #[serde(skip_serializing_if = "is_zero")]
    retry_after_seconds: i64,
}

#[derive(Serialize)]
struct Cause<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    reason: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    message: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    field: &'a str,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

/// `details` as the struct has them, from the loose JSON the errors carry.
fn details(v: &Value) -> Option<Details<'_>> {
    if !v.is_object() {
        return None;
    }
    let causes = v["causes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| Cause { reason: text(c, "reason"), message: text(c, "message"), field: text(c, "field") })
        .collect();
    Some(Details {
        name: text(v, "name"),
        group: text(v, "group"),
        kind: text(v, "kind"),
        uid: text(v, "uid"),
        causes,
        retry_after_seconds: v["retryAfterSeconds"].as_i64().unwrap_or(0),
    })
}

/// The fields of one Status; `details` in the loose form `ApiError` keeps.
pub struct Fields<'a> {
    pub status: &'a str,
    pub message: &'a str,
    pub reason: &'a str,
    pub details: Option<&'a Value>,
    pub code: u16,
    /// `metadata.continue`.
    pub continue_token: Option<&'a str>,
}

/// The Status as the real server encodes it inside another object (a watch
/// event): no trailing newline.
pub fn encode_inline(fields: &Fields) -> Vec<u8> {
    let status = Status {
        kind: "Status",
        api_version: "v1",
        metadata: Metadata { continue_token: fields.continue_token.unwrap_or_default() },
        status: fields.status,
        message: fields.message,
        reason: fields.reason,
        details: fields.details.and_then(details),
        code: i64::from(fields.code),
    };
    go_escape(serde_json::to_vec(&status).unwrap_or_default())
}

/// The Status as a response body: [`encode_inline`] and a newline.
pub fn encode_body(fields: &Fields) -> Bytes {
    let mut bytes = encode_inline(fields);
    bytes.push(b'\n');
    Bytes::from(bytes)
}

/// The answer to a delete that removed the object at once (the generic
/// registry's `finalizeDelete`): `status: Success` and the object's name, group,
/// resource (in `kind`, as the real server does) and uid; no code, no message.
pub fn deleted(name: &str, group: &str, plural: &str, uid: &str) -> Bytes {
    let details = serde_json::json!({"name": name, "group": group, "kind": plural, "uid": uid});
    encode_body(&Fields { status: "Success", message: "", reason: "", details: Some(&details), code: 0, continue_token: None })
}

/// Go's `encoding/json` escapes HTML-significant characters and the two
/// JavaScript line terminators that serde_json writes as they are. They can only
/// occur inside strings, so replacing them in the output is safe.
fn go_escape(bytes: Vec<u8>) -> Vec<u8> {
    let needs = bytes.iter().any(|b| matches!(b, b'<' | b'>' | b'&')) || bytes.windows(3).any(|w| w[0] == 0xe2 && w[1] == 0x80 && matches!(w[2], 0xa8 | 0xa9));
    if !needs {
        return bytes;
    }
    let mut out = Vec::with_capacity(bytes.len() + 16);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            b'&' => out.extend_from_slice(b"\\u0026"),
            0xe2 if bytes.get(i + 1) == Some(&0x80) && matches!(bytes.get(i + 2), Some(0xa8 | 0xa9)) => {
                out.extend_from_slice(if bytes[i + 2] == 0xa8 { b"\\u2028" } else { b"\\u2029" });
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(fields: &Fields) -> String {
        String::from_utf8(encode_body(fields).to_vec()).unwrap()
    }

    #[test]
    fn field_order_omitted_empties_and_newline() {
        let details = json!({"name": "cm1", "group": "", "kind": "configmaps"});
        let out = body(&Fields {
            status: "Failure",
            message: "configmaps \"cm1\" already exists",
            reason: "AlreadyExists",
            details: Some(&details),
            code: 409,
            continue_token: None,
        });
        assert_eq!(
            out,
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"configmaps \\\"cm1\\\" already exists\",\"reason\":\"AlreadyExists\",\"details\":{\"name\":\"cm1\",\"kind\":\"configmaps\"},\"code\":409}\n"
        );
    }

    #[test]
    fn causes_keep_their_order_and_drop_empty_fields() {
        let details = json!({"name": "x", "group": "apps", "kind": "Deployment", "causes": [{"reason": "FieldValueRequired", "message": "Required value", "field": "spec.selector"}, {"reason": "ExitCode", "message": "3"}]});
        let out = body(&Fields { status: "Failure", message: "m", reason: "Invalid", details: Some(&details), code: 422, continue_token: None });
        assert!(out.contains("\"details\":{\"name\":\"x\",\"group\":\"apps\",\"kind\":\"Deployment\",\"causes\":[{\"reason\":\"FieldValueRequired\",\"message\":\"Required value\",\"field\":\"spec.selector\"},{\"reason\":\"ExitCode\",\"message\":\"3\"}]},\"code\":422}\n"), "{out}");
    }

    #[test]
    fn success_has_no_code_and_no_message() {
        let out = String::from_utf8(deleted("cm1", "", "configmaps", "u-1").to_vec()).unwrap();
        assert_eq!(
            out,
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Success\",\"details\":{\"name\":\"cm1\",\"kind\":\"configmaps\",\"uid\":\"u-1\"}}\n"
        );
    }

    #[test]
    fn a_continue_token_is_the_metadata() {
        let out = body(&Fields { status: "Failure", message: "m", reason: "Expired", details: None, code: 410, continue_token: Some("abc") });
        assert_eq!(
            out,
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{\"continue\":\"abc\"},\"status\":\"Failure\",\"message\":\"m\",\"reason\":\"Expired\",\"code\":410}\n"
        );
    }

    #[test]
    fn strings_are_escaped_as_go_escapes_them() {
        let out = body(&Fields { status: "Failure", message: "a<b>&c\u{2028}d\u{2029}é", reason: "", details: None, code: 0, continue_token: None });
        assert!(out.contains("\"message\":\"a\\u003cb\\u003e\\u0026c\\u2028d\\u2029é\""), "{out}");
    }
}
