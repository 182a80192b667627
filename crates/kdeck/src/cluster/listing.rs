//! Objects as JSON values, for code that reads fields rather than types (readiness
//! rules, diagnosis): a LIST parsed once, straight into values, each item given the
//! `apiVersion` and `kind` a list's items lack.

use kube::api::{ApiResource, DynamicObject, ListParams};
use serde_json::Value;

/// The URL path of a kind's collection, in one namespace or all of them.
pub fn collection_url(resource: &ApiResource, namespace: Option<&str>) -> String {
    let base = match resource.group.is_empty() {
        true => format!("/api/{}", resource.version),
        false => format!("/apis/{}/{}", resource.group, resource.version),
    };
    match namespace {
        Some(ns) => format!("{base}/namespaces/{ns}/{}", resource.plural),
        None => format!("{base}/{}", resource.plural),
    }
}

/// Every object of a kind (in a namespace, or all), as values with their kind.
pub async fn list_values(client: &kube::Client, resource: &ApiResource, namespace: Option<&str>) -> Result<Vec<Value>, kube::Error> {
    let request = kube::core::Request::new(collection_url(resource, namespace)).list(&ListParams::default()).map_err(kube::Error::BuildRequest)?;
    let text = client.request_text(request).await?;
    let mut list: Value = serde_json::from_str(&text).map_err(kube::Error::SerdeError)?;
    let items = match list["items"].take() {
        Value::Array(items) => items,
        _ => Vec::new(),
    };
    Ok(items.into_iter().map(|item| with_kind(item, resource)).collect())
}

/// A watched object as a value with its kind.
pub fn value_of(obj: DynamicObject, resource: &ApiResource) -> Value {
    with_kind(serde_json::to_value(obj).unwrap_or_default(), resource)
}

fn with_kind(mut value: Value, resource: &ApiResource) -> Value {
    value["apiVersion"] = Value::String(resource.api_version.clone());
    value["kind"] = Value::String(resource.kind.clone());
    value
}
