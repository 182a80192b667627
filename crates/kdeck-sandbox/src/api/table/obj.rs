//! Reading objects without failing ([`Obj`]) and the cell formatting the printers share
//! (labels, selectors, `+ N more...` lists, quantities).

use serde_json::{Map, Value};

use super::duration::{Ctx, NANOS_PER_SECOND};
use crate::time::parse_rfc3339_nanos;

/// A read-only view of a JSON object that answers every question with Go's zero
/// value when the field is missing or has the wrong type.
#[derive(Clone, Copy)]
pub(super) struct Obj<'a>(pub(super) &'a Value);

impl<'a> Obj<'a> {
    /// The value at `path` (object keys), if present.
    pub(super) fn at(self, path: &[&str]) -> Option<&'a Value> {
        path.iter().try_fold(self.0, |v, key| v.get(key))
    }

    /// The value at `path` as a view; missing reads as null.
    pub(super) fn child(self, path: &[&str]) -> Obj<'a> {
        Obj(self.at(path).unwrap_or(&Value::Null))
    }

    /// The value at `path` when it is present and not null (a non-nil Go pointer).
    pub(super) fn obj(self, path: &[&str]) -> Option<Obj<'a>> {
        self.at(path).filter(|v| !v.is_null()).map(Obj)
    }

    pub(super) fn has(self, path: &[&str]) -> bool {
        self.obj(path).is_some()
    }

    pub(super) fn opt_str(self, path: &[&str]) -> Option<&'a str> {
        self.at(path).and_then(Value::as_str)
    }

    pub(super) fn str(self, path: &[&str]) -> &'a str {
        self.opt_str(path).unwrap_or("")
    }

    pub(super) fn opt_int(self, path: &[&str]) -> Option<i64> {
        match self.at(path)? {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            _ => None,
        }
    }

    pub(super) fn int(self, path: &[&str]) -> i64 {
        self.opt_int(path).unwrap_or(0)
    }

    pub(super) fn opt_bool(self, path: &[&str]) -> Option<bool> {
        self.at(path).and_then(Value::as_bool)
    }

    pub(super) fn bool(self, path: &[&str]) -> bool {
        self.opt_bool(path).unwrap_or(false)
    }

    pub(super) fn list(self, path: &[&str]) -> &'a [Value] {
        match self.at(path) {
            Some(Value::Array(items)) => items,
            _ => &[],
        }
    }

    pub(super) fn map(self, path: &[&str]) -> Option<&'a Map<String, Value>> {
        self.at(path).and_then(Value::as_object)
    }

    /// A resource.Quantity field; a missing one is the zero quantity, `0`.
    pub(super) fn quantity(self, path: &[&str]) -> String {
        self.opt_quantity(path).unwrap_or_else(|| "0".to_string())
    }

    /// A `*resource.Quantity` field; a missing one prints like Go's nil pointer: `<nil>`.
    pub(super) fn quantity_ptr(self, path: &[&str]) -> String {
        self.opt_quantity(path).unwrap_or_else(|| "<nil>".to_string())
    }

    pub(super) fn opt_quantity(self, path: &[&str]) -> Option<String> {
        self.obj(path).map(|q| quantity_text(q.0))
    }

    /// A metav1.Time, whole seconds (the resolution the server stores).
    pub(super) fn time(self, path: &[&str]) -> Option<i128> {
        self.at(path).and_then(metav1_time)
    }

    /// A metav1.MicroTime (events' eventTime, series.lastObservedTime).
    pub(super) fn micro_time(self, path: &[&str]) -> Option<i128> {
        self.opt_str(path).and_then(parse_rfc3339_nanos).and_then(nonzero)
    }

    pub(super) fn name(self) -> &'a str {
        self.str(&["metadata", "name"])
    }

    /// The Age cell: time since creation, `<unknown>` without a creation time.
    pub(super) fn age(self, ctx: &Ctx) -> String {
        ctx.since(self.time(&["metadata", "creationTimestamp"]))
    }
}

/// A metav1.Time value: RFC 3339, truncated to seconds; unparsable or zero is "unset".
pub(super) fn metav1_time(value: &Value) -> Option<i128> {
    let t = nonzero(parse_rfc3339_nanos(value.as_str()?)?)?;
    Some(t.div_euclid(NANOS_PER_SECOND) * NANOS_PER_SECOND)
}

/// Go's zero time.Time, 0001-01-01T00:00:00Z, in Unix seconds.
pub(super) const GO_ZERO_TIME_SECS: i64 = -62_135_596_800;

/// Go's `Time.IsZero()` is "never set"; such a time reads as None.
pub(super) fn nonzero(t: i128) -> Option<i128> {
    (t != i128::from(GO_ZERO_TIME_SECS) * NANOS_PER_SECOND).then_some(t)
}

/// layoutContainerCells: container names and images, comma-separated.
pub(super) fn containers_cells(containers: &[Value]) -> (String, String) {
    let names: Vec<&str> = containers.iter().map(|c| Obj(c).str(&["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| Obj(c).str(&["image"])).collect();
    (names.join(","), images.join(","))
}

/// labels.FormatLabels: `k=v` sorted by key, or `<none>`.
pub(super) fn format_labels(labels: Option<&Map<String, Value>>) -> String {
    let text = labels.into_iter().flatten().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(",");
    or_none(&text).to_string()
}

/// metav1.FormatLabelSelector: the selector string, `<none>` when it selects
/// everything or nothing, `<error>` when it is invalid.
pub(super) fn format_label_selector(selector: Option<&Value>) -> String {
    match label_selector(selector) {
        Ok(s) if s.is_empty() => "<none>".to_string(),
        Ok(s) => s,
        Err(()) => "<error>".to_string(),
    }
}

/// LabelSelectorAsSelector(…).String(): requirements sorted by key, `k=v`,
/// `k in (a,b)`, `k notin (a)`, `k`, `!k`. Label key/value syntax is not checked.
pub(super) fn label_selector(selector: Option<&Value>) -> Result<String, ()> {
    let Some(selector) = selector.filter(|s| !s.is_null()) else {
        return Ok(String::new());
    };
    let selector = Obj(selector);
    let mut requirements: Vec<(String, String)> =
        selector.map(&["matchLabels"]).into_iter().flatten().map(|(k, v)| (k.clone(), format!("{k}={}", v.as_str().unwrap_or("")))).collect();
    for expr in selector.list(&["matchExpressions"]).iter().map(Obj) {
        let key = expr.str(&["key"]);
        let mut values: Vec<&str> = expr.list(&["values"]).iter().map(|v| v.as_str().unwrap_or("")).collect();
        values.sort_unstable();
        let text = match expr.str(&["operator"]) {
            "In" | "NotIn" if values.is_empty() => return Err(()),
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" | "DoesNotExist" if !values.is_empty() => return Err(()),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => return Err(()),
        };
        requirements.push((key.to_string(), text));
    }
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(requirements.into_iter().map(|(_, text)| text).collect::<Vec<_>>().join(","))
}

/// The first `max` items joined, then ` + N more...` when `count` exceeds `max`.
pub(super) fn list_with_more(list: &[String], max: usize, separator: &str, count: usize) -> String {
    let shown = &list[..list.len().min(max)];
    let joined = shown.join(separator);
    if count > max { format!("{joined} + {} more...", count - max) } else { joined }
}

/// listWithMoreString, with what to print for an empty list.
pub(super) fn list_with_more_or(list: &[String], max: usize, separator: &str, count: usize, empty: &str) -> String {
    let text = list_with_more(list, max, separator, count);
    if text.is_empty() { empty.to_string() } else { text }
}

/// A resource.Quantity as text. The sandbox stores quantities as written, so they
/// print as written (the real server would print the canonical form, e.g. 1Gi for 1024Mi).
pub(super) fn quantity_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => "0".to_string(),
    }
}

pub(super) fn non_empty(s: &str) -> Option<&str> {
    if s.is_empty() { None } else { Some(s) }
}

pub(super) fn or_none(s: &str) -> &str {
    if s.is_empty() { "<none>" } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::rfc3339_unix;

    #[test]
    fn go_zero_time_reads_as_unset() {
        assert_eq!(rfc3339_unix(GO_ZERO_TIME_SECS), "0001-01-01T00:00:00Z");
        assert_eq!(nonzero(parse_rfc3339_nanos("0001-01-01T00:00:00Z").expect("valid")), None);
        assert_eq!(Obj(&serde_json::json!({"t": "0001-01-01T00:00:00Z"})).time(&["t"]), None);
    }
}
