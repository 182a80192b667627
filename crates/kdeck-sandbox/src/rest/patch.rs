//! The four patch types: JSON patch (RFC 6902), JSON merge patch (RFC 7386),
//! strategic merge patch (built-in kinds only, as on a real server) and server-side
//! apply.

use serde_json::Value;

use super::{ApiError, WriteOptions, apply};
use crate::api::strategic_merge;
use crate::resources::ResourceInfo;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchKind {
    Json,
    Merge,
    Strategic,
    Apply,
}

impl PatchKind {
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        match content_type.split(';').next().unwrap_or_default().trim() {
            "application/json-patch+json" => Some(PatchKind::Json),
            "application/merge-patch+json" => Some(PatchKind::Merge),
            "application/strategic-merge-patch+json" => Some(PatchKind::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+json" | "application/apply-patch+cbor" => Some(PatchKind::Apply),
            _ => None,
        }
    }
}

/// A patch as it arrived: its type (from the Content-Type) and its body.
pub struct PatchRequest<'a> {
    pub kind: PatchKind,
    pub body: &'a [u8],
}

const PATCH_TYPES: &str = "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml";

pub fn parse(kind: PatchKind, body: &[u8]) -> Result<Value, ApiError> {
    let value: Value = if kind == PatchKind::Apply {
        crate::api::body::parse_yaml_or_json(body)?
    } else {
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?
    };
    match (kind, &value) {
        (PatchKind::Json, Value::Array(_)) => Ok(value),
        (PatchKind::Json, _) => Err(ApiError::bad_request("json patch must be an array of operations")),
        (_, Value::Object(_)) => Ok(value),
        _ => Err(ApiError::bad_request("the patch must be a JSON object")),
    }
}

pub fn apply(info: &ResourceInfo, kind: PatchKind, target: &mut Value, patch: &Value, opts: &WriteOptions) -> Result<(), ApiError> {
    let invalid = |e: String| ApiError::new(422, "Invalid", e);
    match kind {
        PatchKind::Json => {
            let ops: json_patch::Patch =
                serde_json::from_value(patch.clone()).map_err(|e| ApiError::bad_request(format!("the json patch is malformed: {e}")))?;
            json_patch::patch(target, &ops).map_err(|e| invalid(format!("the json patch could not be applied: {e}")))
        }
        PatchKind::Merge => {
            json_patch::merge(target, patch);
            Ok(())
        }
        PatchKind::Strategic if info.is_custom() => Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format - accepted media types include: {PATCH_TYPES}"),
        )),
        PatchKind::Strategic => {
            strategic_merge::apply(target, patch, &info.kind).map_err(|e| invalid(format!("the strategic merge patch could not be applied: {e}")))
        }
        PatchKind::Apply => apply::merge(info, target, patch, opts.field_manager.as_deref().unwrap_or_default()),
    }
}
