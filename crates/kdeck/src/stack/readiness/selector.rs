//! Label selectors as workloads and Services write them, matched against a pod's labels.

use serde_json::{Map, Value};

/// Whether `labels` satisfy a `metav1.LabelSelector` (matchLabels and matchExpressions).
/// An empty selector, or one with an operator Kubernetes does not know, selects nothing.
pub fn selects(selector: &Value, labels: &Value) -> bool {
    let match_labels = selector["matchLabels"].as_object();
    let expressions = selector["matchExpressions"].as_array();
    if match_labels.is_none_or(Map::is_empty) && expressions.is_none_or(Vec::is_empty) {
        return false;
    }
    let label = |key: &str| labels[key].as_str();
    match_labels.into_iter().flatten().all(|(key, value)| label(key).is_some_and(|l| Some(l) == value.as_str()))
        && expressions.into_iter().flatten().all(|e| {
            let value = e["key"].as_str().and_then(label);
            let listed = || e["values"].as_array().into_iter().flatten().any(|v| v.as_str().is_some_and(|v| Some(v) == value));
            match e["operator"].as_str() {
                Some("In") => value.is_some() && listed(),
                Some("NotIn") => value.is_none() || !listed(),
                Some("Exists") => value.is_some(),
                Some("DoesNotExist") => value.is_none(),
                _ => false,
            }
        })
}

/// Whether `labels` carry every pair of a Service's selector (a plain map); an empty
/// map selects nothing.
pub fn map_selects(selector: &Map<String, Value>, labels: &Value) -> bool {
    !selector.is_empty() && selector.iter().all(|(key, value)| labels[key].as_str().is_some_and(|l| Some(l) == value.as_str()))
}

/// A Service's selector as "app=backend,tier=web".
pub fn map_text(selector: &Map<String, Value>) -> String {
    let mut pairs: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
    pairs.sort();
    pairs.join(",")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn label_selectors_match_as_kubernetes_does() {
        let labels = json!({"app": "api", "tier": "web", "canary": "true"});
        let cases = [
            (json!({"matchLabels": {"app": "api"}}), true),
            (json!({"matchLabels": {"app": "api", "tier": "db"}}), false),
            (json!({"matchLabels": {"missing": "x"}}), false),
            (json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "edge"]}]}), true),
            (json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["db"]}]}), false),
            (json!({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}), false),
            (json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]}), true),
            (json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["web"]}]}), false),
            (json!({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}), true),
            (json!({"matchExpressions": [{"key": "canary", "operator": "Exists"}]}), true),
            (json!({"matchExpressions": [{"key": "zone", "operator": "Exists"}]}), false),
            (json!({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]}), true),
            (json!({"matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}]}), false),
            (json!({"matchLabels": {"app": "api"}, "matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}]}), false),
            (json!({"matchExpressions": [{"key": "app", "operator": "Gt", "values": ["1"]}]}), false),
            (json!({}), false),
            (json!({"matchLabels": {}}), false),
            (Value::Null, false),
        ];
        for (selector, expected) in cases {
            assert_eq!(selects(&selector, &labels), expected, "{selector}");
        }
    }

    #[test]
    fn service_selectors_match_every_pair() {
        let labels = json!({"app": "backend", "tier": "api"});
        let selector = |v: Value| v.as_object().unwrap().clone();
        assert!(map_selects(&selector(json!({"app": "backend"})), &labels));
        assert!(!map_selects(&selector(json!({"app": "backend", "tier": "db"})), &labels));
        assert!(!map_selects(&selector(json!({})), &labels));
        assert_eq!(map_text(&selector(json!({"tier": "api", "app": "backend"}))), "app=backend,tier=api");
    }
}
