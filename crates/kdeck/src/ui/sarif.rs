//! SARIF 2.1.0, the one writer for every command that reports findings with
//! rules: `kdeck diagnose` (objects of a cluster, located logically by
//! namespace/kind/name) and `kdeck lint` (files and lines, located physically so
//! code-scanning services annotate the right line).

use serde_json::{Value, json};

/// A rule as SARIF's `tool.driver.rules[]` lists it.
pub struct Rule<'a> {
    pub id: &'a str,
    pub description: &'a str,
    /// The longer explanation and fix, if the tool has one.
    pub help: Option<String>,
}

/// Where a result is.
pub enum Location<'a> {
    /// An object of a cluster: `namespace/Kind/name` and its name.
    Logical { qualified: &'a str, name: &'a str },
    /// A file (relative to the directory the tool ran in) and a 1-based line.
    File { uri: &'a str, line: u32 },
}

/// One result.
pub struct Result<'a> {
    pub rule: &'a str,
    /// `error`, `warning` or `note`.
    pub level: &'a str,
    pub message: &'a str,
    pub locations: Vec<Location<'a>>,
    /// An id stable across runs, if the tool has one.
    pub fingerprint: Option<(&'a str, &'a str)>,
    pub properties: Value,
}

/// The SARIF log of one run of kdeck: the rules that have results, then the results.
pub fn log(rules: &[Rule<'_>], results: &[Result<'_>]) -> Value {
    let rules: Vec<Value> = rules
        .iter()
        .map(|r| {
            let mut rule = json!({"id": r.id, "shortDescription": {"text": r.description}});
            if let Some(help) = &r.help {
                rule["help"] = json!({"text": help});
            }
            rule
        })
        .collect();
    let results: Vec<Value> = results.iter().map(result).collect();
    json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": {"driver": {"name": "kdeck", "version": env!("CARGO_PKG_VERSION"), "rules": rules}},
            "originalUriBaseIds": {"SRCROOT": {"description": {"text": "the directory kdeck ran in"}}},
            "results": results,
        }],
    })
}

fn result(r: &Result<'_>) -> Value {
    let locations: Vec<Value> = r
        .locations
        .iter()
        .map(|l| match l {
            Location::Logical { qualified, name } => json!({"logicalLocations": [{"fullyQualifiedName": qualified, "name": name, "kind": "resource"}]}),
            Location::File { uri, line } => json!({"physicalLocation": {
                "artifactLocation": {"uri": uri, "uriBaseId": "SRCROOT"},
                "region": {"startLine": (*line).max(1)},
            }}),
        })
        .collect();
    let mut value = json!({"ruleId": r.rule, "level": r.level, "message": {"text": r.message}, "locations": locations, "properties": r.properties});
    if let Some((key, id)) = r.fingerprint {
        value["partialFingerprints"] = json!({key: id});
    }
    value
}

/// A path as a relative URI reference: `/` separators, spaces and other
/// characters outside RFC 3986's unreserved set percent-encoded.
pub fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.replace('\\', "/").bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
