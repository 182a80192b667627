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
        PatchKind::Json => json_patch_ops(target, patch).map_err(|e| match e {
            JsonPatchError::Malformed(e) => ApiError::bad_request(format!("the json patch is malformed: {e}")),
            JsonPatchError::Failed(e) => invalid(format!("the json patch could not be applied: {e}")),
        }),
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

enum JsonPatchError {
    Malformed(String),
    Failed(String),
}

/// Applies an RFC 6902 patch as the real server's json-patch library
/// (evanphx/json-patch) does, all or nothing. It differs from the RFC in one place
/// clients rely on: a `test` of `null` passes when the member does not exist in an
/// object that does (kube-runtime's finalizer helper tests
/// `/metadata/finalizers` for `null` before adding the first one).
fn json_patch_ops(target: &mut Value, patch: &Value) -> Result<(), JsonPatchError> {
    let raw = patch.as_array().cloned().unwrap_or_default();
    let ops: json_patch::Patch = serde_json::from_value(patch.clone()).map_err(|e| JsonPatchError::Malformed(e.to_string()))?;
    let mut doc = target.clone();
    for (op, raw) in ops.0.iter().zip(&raw) {
        if matches!(op, json_patch::PatchOperation::Test(t) if t.value.is_null()) && absent_from_its_object(&doc, raw["path"].as_str().unwrap_or_default()) {
            continue;
        }
        json_patch::patch(&mut doc, std::slice::from_ref(op)).map_err(|e| JsonPatchError::Failed(e.to_string()))?;
    }
    *target = doc;
    Ok(())
}

/// Whether `pointer` names a member, missing or null, of an object that exists.
fn absent_from_its_object(doc: &Value, pointer: &str) -> bool {
    let Some(rest) = pointer.strip_prefix('/') else { return false };
    let parts: Vec<String> = rest.split('/').map(|p| p.replace("~1", "/").replace("~0", "~")).collect();
    let Some((last, parents)) = parts.split_last() else { return false };
    let mut node = doc;
    for part in parents {
        let next = match node {
            Value::Object(map) => map.get(part),
            Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        match next {
            Some(v) if !v.is_null() => node = v,
            _ => return false,
        }
    }
    node.as_object().is_some_and(|map| map.get(last).is_none_or(Value::is_null))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(doc: Value, patch: Value) -> Result<Value, String> {
        let mut doc = doc;
        json_patch_ops(&mut doc, &patch).map(|_| doc).map_err(|e| match e {
            JsonPatchError::Malformed(e) | JsonPatchError::Failed(e) => e,
        })
    }

    #[test]
    fn a_test_of_null_passes_on_a_missing_member() {
        let doc = json!({"metadata": {"name": "a"}});
        let patch = json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": ["x"]},
        ]);
        assert_eq!(run(doc.clone(), patch).unwrap(), json!({"metadata": {"name": "a", "finalizers": ["x"]}}));
        // Still refused: a missing parent, a present value, a missing array index.
        assert!(run(doc.clone(), json!([{"op": "test", "path": "/spec/x", "value": null}])).is_err());
        assert!(run(doc.clone(), json!([{"op": "test", "path": "/metadata/name", "value": null}])).is_err());
        assert!(run(json!({"a": []}), json!([{"op": "test", "path": "/a/0", "value": null}])).is_err());
    }

    #[test]
    fn a_failed_operation_changes_nothing() {
        let doc = json!({"a": 1});
        let mut target = doc.clone();
        let patch = json!([{"op": "replace", "path": "/a", "value": 2}, {"op": "test", "path": "/a", "value": 3}]);
        assert!(json_patch_ops(&mut target, &patch).is_err());
        assert_eq!(target, doc);
    }
}
