//! Flavors: named RFC 6902 JSON patches (`flavors.NAME` in `kdeck.yaml`) applied
//! to the whole configuration. The patched document is checked again like the
//! file, so a flavor cannot produce a configuration the file could not hold.

use serde_json::{Map, Value};

use super::config::PatchOperation;
use super::suggest::did_you_mean;
use crate::error::{Error, Result};

/// Applies `doc["flavors"][flavor]` to `doc`.
pub fn apply(doc: &mut Value, flavor: &str) -> Result<()> {
    // A copy: the operations may edit `/flavors` itself as they go.
    let operations = operations(doc, flavor)?;
    for (i, raw) in operations.into_iter().enumerate() {
        let n = i + 1;
        let failed = |what: String| Error::usage(format!("flavor `{flavor}`, operation {n}{what}"));
        let described: PatchOperation = serde_json::from_value(raw.clone()).map_err(|e| failed(format!(": {e}")))?;
        let op = format!("{} {}", described.op.name(), described.path);
        let operation: json_patch::PatchOperation = serde_json::from_value(raw).map_err(|e| failed(format!(" ({op}): {e}")))?;
        json_patch::patch(doc, std::slice::from_ref(&operation)).map_err(|e| failed(format!(" ({op}) does not apply: {}", why(doc, &described, &e.kind))))?;
    }
    Ok(())
}

fn operations(doc: &Value, flavor: &str) -> Result<Vec<Value>> {
    let flavors = doc.get("flavors").and_then(Value::as_object);
    match flavors.and_then(|f| f.get(flavor)) {
        Some(Value::Array(operations)) => Ok(operations.clone()),
        Some(_) => Err(Error::usage(format!("flavors.{flavor} must be a list of JSON patch operations"))),
        None => Err(unknown(flavor, flavors)),
    }
}

fn unknown(flavor: &str, flavors: Option<&Map<String, Value>>) -> Error {
    let names: Vec<&str> = flavors.into_iter().flat_map(|f| f.keys().map(String::as_str)).collect();
    let defined = if names.is_empty() { "the file defines no flavors".to_string() } else { format!("the file defines: {}", names.join(", ")) };
    Error::usage(format!("unknown flavor `{flavor}`{}; {defined}", did_you_mean(flavor, names.iter().copied())))
        .hint("the flavor comes from --flavor or KDECK_FLAVOR")
}

/// Why an operation failed, in terms of the document: json-patch only says
/// "path is invalid".
fn why(doc: &Value, operation: &PatchOperation, kind: &json_patch::PatchErrorKind) -> String {
    use super::config::PatchOp;
    use json_patch::PatchErrorKind as K;
    match kind {
        K::TestFailed => format!("the value at {} is not the one the test expects", operation.path),
        K::CannotMoveInsideItself => "a value cannot move inside itself".to_string(),
        K::InvalidFromPointer => missing(doc, operation.from.as_deref().unwrap_or_default()),
        // `add` creates its last step; everything else needs the whole path.
        K::InvalidPointer if operation.op == PatchOp::Add => match operation.path.rsplit_once('/') {
            Some((parent, last)) if doc.pointer(parent).is_some() => format!("{parent} has no place `{last}` (a list takes an index up to its length, or `-`)"),
            Some((parent, _)) => missing(doc, parent),
            None => format!("{:?} is not a JSON pointer", operation.path),
        },
        _ => missing(doc, &operation.path),
    }
}

/// "path /a/b does not exist", naming the first step that is missing.
fn missing(doc: &Value, pointer: &str) -> String {
    let mut current = doc;
    let mut walked = String::new();
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        walked = format!("{walked}/{token}");
        match step(current, &token) {
            Some(next) => current = next,
            None => {
                let keys = current.as_object().into_iter().flat_map(|m| m.keys().map(String::as_str));
                return format!("path {walked} does not exist{}", did_you_mean(&token, keys));
            }
        }
    }
    format!("path {pointer} is not valid here")
}

fn step<'v>(value: &'v Value, token: &str) -> Option<&'v Value> {
    match value {
        Value::Object(map) => map.get(token),
        Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "defaults": {"kubernetes": {"namespace": "shop"}},
            "tasks": {"build": {"script": "make", "pre": ["a"]}},
            "flavors": {
                "prod": [
                    {"op": "replace", "path": "/defaults/kubernetes/namespace", "value": "shop-prod"},
                    {"op": "add", "path": "/tasks/build/pre/-", "value": "b"},
                    {"op": "remove", "path": "/flavors"}
                ],
                "typo": [
                    {"op": "test", "path": "/defaults/kubernetes/namespace", "value": "shop"},
                    {"op": "replace", "path": "/defaults/kubernetes/namespacee", "value": "x"}
                ],
                "deep": [{"op": "add", "path": "/defaults/nope/namespace", "value": "x"}],
                "index": [{"op": "add", "path": "/tasks/build/pre/7", "value": "x"}],
                "test": [{"op": "test", "path": "/tasks/build/script", "value": "other"}],
                "from": [{"op": "copy", "from": "/tasks/biuld", "path": "/tasks/copy"}],
                "novalue": [{"op": "add", "path": "/vars"}],
                "notalist": {"op": "add"}
            }
        })
    }

    fn error(flavor: &str) -> String {
        apply(&mut doc(), flavor).unwrap_err().message
    }

    #[test]
    fn applies_in_order() {
        let mut doc = doc();
        apply(&mut doc, "prod").unwrap();
        assert_eq!(doc["defaults"]["kubernetes"]["namespace"], "shop-prod");
        assert_eq!(doc["tasks"]["build"]["pre"], json!(["a", "b"]));
        assert!(doc.get("flavors").is_none(), "a flavor may even remove the flavors");
    }

    #[test]
    fn failed_operations_say_which_and_why() {
        assert_eq!(
            error("typo"),
            "flavor `typo`, operation 2 (replace /defaults/kubernetes/namespacee) does not apply: \
             path /defaults/kubernetes/namespacee does not exist (did you mean `namespace`?)"
        );
        assert!(error("deep").ends_with("path /defaults/nope does not exist"), "{}", error("deep"));
        assert!(error("index").contains("/tasks/build/pre has no place `7`"), "{}", error("index"));
        assert!(error("test").contains("is not the one the test expects"), "{}", error("test"));
        assert!(error("from").contains("path /tasks/biuld does not exist (did you mean `build`?)"), "{}", error("from"));
        assert!(error("novalue").contains("operation 1 (add /vars): missing field `value`"), "{}", error("novalue"));
        assert!(error("notalist").contains("must be a list"), "{}", error("notalist"));
    }

    #[test]
    fn unknown_flavors_list_the_defined_ones() {
        let e = apply(&mut doc(), "prdo").unwrap_err();
        assert!(e.message.starts_with("unknown flavor `prdo` (did you mean `prod`?); the file defines: deep, from, index"), "{}", e.message);
        let e = apply(&mut json!({"tasks": {}}), "prod").unwrap_err();
        assert_eq!(e.message, "unknown flavor `prod`; the file defines no flavors");
        assert!(apply(&mut Value::Null, "prod").is_err());
    }
}
