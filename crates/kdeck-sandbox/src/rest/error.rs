//! API errors, rendered as `kind: Status` with the reasons and codes the real
//! kube-apiserver uses, so clients print the messages users already know.

use serde_json::{Value, json};

use crate::resources::ResourceInfo;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
    /// `metadata.continue` of the Status: the token a 410 for an expired continue
    /// token offers to go on with.
    pub continue_token: Option<String>,
}

/// One field-level problem of an Invalid error.
#[derive(Debug, Clone)]
pub struct Cause {
    pub field: String,
    /// `FieldValueRequired`, `FieldValueInvalid`, …
    pub reason: &'static str,
    pub message: String,
}

impl Cause {
    pub fn required(field: impl Into<String>) -> Self {
        Cause { field: field.into(), reason: "FieldValueRequired", message: "Required value".into() }
    }
    pub fn invalid(field: impl Into<String>, value: &str, detail: impl Into<String>) -> Self {
        Cause { field: field.into(), reason: "FieldValueInvalid", message: format!("Invalid value: \"{value}\": {}", detail.into()) }
    }
    pub fn immutable(field: impl Into<String>) -> Self {
        Cause { field: field.into(), reason: "FieldValueInvalid", message: "field is immutable".into() }
    }
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Cause { field: field.into(), reason: "FieldValueForbidden", message: format!("Forbidden: {}", detail.into()) }
    }
    pub fn unsupported(field: impl Into<String>, value: &str, supported: &[&str]) -> Self {
        let list = supported.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ");
        Cause { field: field.into(), reason: "FieldValueNotSupported", message: format!("Unsupported value: \"{value}\": supported values: {list}") }
    }
}

fn details(info: &ResourceInfo, name: &str) -> Value {
    json!({"name": name, "group": info.group, "kind": info.plural})
}

fn qualified(info: &ResourceInfo) -> String {
    info.qualified()
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError { code, reason, message: message.into(), details: None, continue_token: None }
    }

    pub fn not_found(info: &ResourceInfo, name: &str) -> Self {
        ApiError { details: Some(details(info, name)), ..Self::new(404, "NotFound", format!("{} \"{name}\" not found", qualified(info))) }
    }

    pub fn already_exists(info: &ResourceInfo, name: &str) -> Self {
        ApiError { details: Some(details(info, name)), ..Self::new(409, "AlreadyExists", format!("{} \"{name}\" already exists", qualified(info))) }
    }

    pub fn conflict(info: &ResourceInfo, name: &str) -> Self {
        let message = format!(
            "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
            qualified(info)
        );
        ApiError { details: Some(details(info, name)), ..Self::new(409, "Conflict", message) }
    }

    pub fn conflict_with(info: &ResourceInfo, name: &str, why: &str) -> Self {
        let message = format!("Operation cannot be fulfilled on {} \"{name}\": {why}", qualified(info));
        ApiError { details: Some(details(info, name)), ..Self::new(409, "Conflict", message) }
    }

    pub fn invalid(kind: &str, group: &str, name: &str, causes: Vec<Cause>) -> Self {
        let summary = causes.iter().map(|c| format!("{}: {}", c.field, c.message)).collect::<Vec<_>>();
        let summary = if summary.len() == 1 { summary[0].clone() } else { format!("[{}]", summary.join(", ")) };
        let kind_q = if group.is_empty() { kind.to_string() } else { format!("{kind}.{group}") };
        let message = format!("{kind_q} \"{name}\" is invalid: {summary}");
        let causes: Vec<Value> = causes.iter().map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field})).collect();
        ApiError { details: Some(json!({"name": name, "group": group, "kind": kind, "causes": causes})), ..Self::new(422, "Invalid", message) }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf (got \"{content_type}\")"
            ),
        )
    }

    pub fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    /// The fields of the Status this error is answered with.
    fn fields(&self) -> super::status::Fields<'_> {
        super::status::Fields {
            status: "Failure",
            message: &self.message,
            reason: self.reason,
            details: self.details.as_ref(),
            code: self.code,
            continue_token: self.continue_token.as_deref(),
        }
    }

    /// The response body: the Status exactly as kube-apiserver encodes it (see [`super::status`]).
    pub fn body(&self) -> bytes::Bytes {
        super::status::encode_body(&self.fields())
    }

    /// The Status as the object of a watch event.
    pub fn inline(&self) -> Vec<u8> {
        super::status::encode_inline(&self.fields())
    }
}
