//! Custom resources: the CRD table convertor
//! (`apiextensions-apiserver/pkg/registry/customresource/tableconvertor`), which
//! evaluates each `additionalPrinterColumns` entry as JSONPath and formats its cell.

use serde_json::Value;

use super::duration::Ctx;
use super::jsonpath::{Step, eval_json_path, parse_json_path};
use super::obj::{Obj, nonzero};
use super::{AGE_DESC, NAME, PrinterColumn, Row, column_json};
use crate::time::parse_rfc3339_nanos;

/// Name, then each additionalPrinterColumn (or `Age` when the CRD declares none:
/// the apiextensions server serves that default column).
pub(super) fn custom_resource_table(columns: &[PrinterColumn], objects: &[&Value], ctx: &Ctx) -> (Vec<Value>, Vec<Row>) {
    let age = PrinterColumn {
        name: "Age".to_string(),
        type_: "date".to_string(),
        format: String::new(),
        description: AGE_DESC.to_string(),
        priority: 0,
        json_path: ".metadata.creationTimestamp".to_string(),
    };
    let columns: &[PrinterColumn] = if columns.is_empty() { std::slice::from_ref(&age) } else { columns };
    let paths: Vec<Option<Vec<Step>>> = columns.iter().map(|c| parse_json_path(&c.json_path)).collect();

    let mut definitions = vec![NAME.to_json()];
    definitions.extend(columns.iter().map(|c| {
        let description =
            if c.description.is_empty() { format!("Custom resource definition column (in JSONPath format): {}", c.json_path) } else { c.description.clone() };
        column_json(&c.name, &c.type_, &c.format, &description, c.priority)
    }));

    let rows = objects
        .iter()
        .map(|object| {
            let mut cells = vec![Value::from(Obj(object).name())];
            for (column, path) in columns.iter().zip(&paths) {
                let first = path.as_ref().and_then(|steps| eval_json_path(steps, object).ok()).and_then(|found| found.first().copied());
                cells.push(match first {
                    Some(value) => custom_cell(&column.type_, value, ctx),
                    None => Value::Null,
                });
            }
            Row::from(cells)
        })
        .collect();
    (definitions, rows)
}

/// A custom column's cell from the first value its JSONPath found (`cellForJSONValue`).
/// String columns print the value the way client-go's JSONPath printer does.
fn custom_cell(kind: &str, value: &Value, ctx: &Ctx) -> Value {
    match kind {
        "string" => Value::from(jsonpath_text(value)),
        "integer" => match value {
            Value::Number(n) => n
                .as_i64()
                // Go converts float64 to int64 by truncation.
                .or_else(|| n.as_f64().map(|f| f as i64))
                .map_or(Value::Null, Value::from),
            _ => Value::Null,
        },
        "number" => match value.as_f64() {
            Some(f) => float_cell(f),
            None => Value::Null,
        },
        "boolean" => value.as_bool().map_or(Value::Null, Value::from),
        "date" => match value.as_str() {
            // metav1.Time.UnmarshalQueryParameter: "" and "null" are the zero time.
            Some("" | "null") => Value::from("<unknown>"),
            Some(s) => match parse_rfc3339_nanos(s) {
                Some(t) => Value::from(ctx.since(nonzero(t))),
                None => Value::from("<invalid>"),
            },
            None => Value::Null,
        },
        _ => Value::Null,
    }
}

/// A float64 cell as Go's encoding/json writes it: integral values without `.0`.
fn float_cell(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 { Value::from(f as i64) } else { Value::from(f) }
}

/// How client-go's JSONPath prints one result: strings raw, maps and lists as compact
/// JSON, numbers like Go's `fmt.Print`, null as `<no value>`.
fn jsonpath_text(value: &Value) -> String {
    match value {
        Value::Null => "<no value>".to_string(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(u)) => u.to_string(),
            _ => go_float(n.as_f64().unwrap_or_default()),
        },
        Value::Array(_) | Value::Object(_) => go_json(value),
    }
}

/// `json.Marshal` output: like serde's compact form, but Go escapes HTML characters.
fn go_json(value: &Value) -> String {
    value.to_string().replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026").replace('\u{2028}', "\\u2028").replace('\u{2029}', "\\u2029")
}

/// A float64 as Go's `%v` prints it: shortest digits, exponent form below 1e-4 or
/// from 1e21 up … and, because `%v` is `%g` with the shortest precision, from 1e6 up.
fn go_float(f: f64) -> String {
    // Rust's `{:e}` gives the shortest round-trip digits: "1.2345e-5", "1e6".
    let sci = format!("{f:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        let fraction = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{fraction}e{exp_sign}{:02}", exp.abs());
    }
    if exp < 0 {
        let zeros = "0".repeat((-exp - 1) as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let point = (exp + 1) as usize;
    if digits.len() <= point {
        format!("{sign}{digits}{}", "0".repeat(point - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..point], &digits[point..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::table::testing::{ago, column, column_names, now};
    use crate::api::table::{RowObject, build};
    use serde_json::json;

    fn crd_row(columns: &[PrinterColumn], object: &Value) -> Vec<Value> {
        let t = build("example.com", "widgets", &[object], Some(columns), RowObject::Metadata, json!({}), now());
        t["rows"][0]["cells"].as_array().expect("cells").clone()
    }

    #[test]
    fn crd_printer_columns() {
        let columns = vec![
            PrinterColumn {
                description: "Is it ready".to_string(),
                priority: 1,
                format: "int32".to_string(),
                ..column("Ready", "string", r#".status.conditions[?(@.type=="Ready")].status"#)
            },
            column("Reason", "string", ".status.conditions[?(@.type == 'Ready')].reason"),
            column("Replicas", "integer", ".spec.replicas"),
            column("Ratio", "number", ".spec.ratio"),
            column("Paused", "boolean", ".spec.paused"),
            column("Host", "string", ".spec.endpoints[0].host"),
            column("Last", "string", ".spec.endpoints[-1].host"),
            column("App", "string", r".metadata.labels.app\.kubernetes\.io/name"),
            column("Missing", "string", ".spec.nothing.here"),
            column("Ports", "string", ".spec.ports"),
            column("Age", "date", ".metadata.creationTimestamp"),
        ];
        let widget = json!({
            "apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w1", "creationTimestamp": ago(7200), "labels": {"app.kubernetes.io/name": "shop"}},
            "spec": {"replicas": 3.9, "ratio": 2, "paused": true, "ports": [80, 443],
                     "endpoints": [{"host": "a"}, {"host": "b"}]},
            "status": {"conditions": [
                {"type": "Synced", "status": "True"},
                {"type": "Ready", "status": "False", "reason": "Degraded"},
            ]},
        });
        let t = build("example.com", "widgets", &[&widget], Some(&columns), RowObject::Object, json!({}), now());
        assert_eq!(t["columnDefinitions"][1], json!({"name": "Ready", "type": "string", "format": "int32", "description": "Is it ready", "priority": 1}));
        assert_eq!(
            t["columnDefinitions"][2]["description"],
            "Custom resource definition column (in JSONPath format): .status.conditions[?(@.type == 'Ready')].reason"
        );
        assert_eq!(t["rows"][0]["object"], widget);
        assert_eq!(t["rows"][0]["cells"], json!(["w1", "False", "Degraded", 3, 2, true, "a", "b", "shop", null, "[80,443]", "120m"]));
    }

    #[test]
    fn crd_without_columns_shows_name_and_age() {
        let t = build(
            "example.com",
            "widgets",
            &[&json!({"metadata": {"name": "w", "creationTimestamp": ago(50)}})],
            Some(&[]),
            RowObject::Metadata,
            json!({}),
            now(),
        );
        assert_eq!(column_names(&t), ["Name", "Age"]);
        assert_eq!(t["columnDefinitions"][1]["type"], "date");
        assert_eq!(t["rows"][0]["cells"], json!(["w", "50s"]));
    }

    #[test]
    fn crd_cells_by_type() {
        let object = json!({"spec": {"s": "x", "n": 7, "f": 1.5, "big": 1e21, "tiny": 0.00001, "b": false,
            "null": null, "obj": {"b": "<x>", "a": 1}, "when": "not a date", "empty": "", "future": ago(-3600)}});
        let cell = |type_: &str, path: &str| crd_row(&[column("C", type_, path)], &object)[1].clone();
        assert_eq!(cell("string", ".spec.n"), "7");
        assert_eq!(cell("string", ".spec.f"), "1.5");
        assert_eq!(cell("string", ".spec.big"), "1e+21");
        assert_eq!(cell("string", ".spec.tiny"), "1e-05");
        assert_eq!(cell("string", ".spec.b"), "false");
        assert_eq!(cell("string", ".spec.null"), "<no value>");
        assert_eq!(cell("string", ".spec.obj"), r#"{"a":1,"b":"\u003cx\u003e"}"#);
        assert_eq!(cell("integer", ".spec.s"), Value::Null);
        assert_eq!(cell("integer", ".spec.f"), 1);
        assert_eq!(cell("number", ".spec.f"), 1.5);
        assert_eq!(cell("number", ".spec.n"), 7);
        assert_eq!(cell("boolean", ".spec.b"), false);
        assert_eq!(cell("boolean", ".spec.s"), Value::Null);
        assert_eq!(cell("date", ".spec.when"), "<invalid>");
        assert_eq!(cell("date", ".spec.empty"), "<unknown>");
        assert_eq!(cell("date", ".spec.future"), "<invalid>");
        assert_eq!(cell("date", ".spec.n"), Value::Null);
        assert_eq!(cell("unknown-type", ".spec.s"), Value::Null);
        // Not a path this evaluator (or client-go) accepts.
        assert_eq!(cell("string", "spec.s"), Value::Null);
        assert_eq!(cell("string", ".spec[\"s\"]"), Value::Null);
    }

    #[test]
    fn go_float_formatting() {
        let cases = [
            (0.0, "0"),
            (1.0, "1"),
            (1.5, "1.5"),
            (-2.25, "-2.25"),
            (123_456.0, "123456"),
            (1_000_000.0, "1e+06"),
            (1_234_567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.000_012_5, "1.25e-05"),
            (1e21, "1e+21"),
        ];
        for (f, want) in cases {
            assert_eq!(go_float(f), want, "{f}");
        }
    }
}
