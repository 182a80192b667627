//! Snapshot tests of the JSON documents kdeck prints (`-o json`): every key is
//! lowerCamelCase, as Kubernetes writes its own, and each command's shape — its
//! key paths and value types, not its values — is the one committed under
//! `tests/json_shapes/`. A change of shape is a change for every script that
//! reads kdeck's output: it shows in review as a change of those files.
//! `KDECK_UPDATE_SHAPES=1 cargo test --test json_shapes` rewrites them.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use common::TestSandbox;
use common::project::stderr;
use serde_json::Value;

/// Inputs of the lint document: findings of every kind, and (with a missing file) an error.
const LINT_MANIFESTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/lint/manifests");
const LINT_DOCKERFILES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/lint/docker");

/// Fields whose keys are data (object names, label keys, reasons), not a shape.
const DATA_FIELDS: &[&str] = &["patch", "deleted", "healthy", "labels", "annotations"];

/// Every `path: type` line of a JSON value; arrays as `path[]`, their elements merged.
fn shape(value: &Value, path: &str, out: &mut BTreeSet<String>, bad_keys: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            out.insert(format!("{} object", display(path)));
            let last = path.rsplit('.').next().unwrap_or_default().trim_end_matches("[]");
            if DATA_FIELDS.contains(&last) {
                return;
            }
            for (key, child) in map {
                let camel = key.chars().next().is_some_and(|c| c.is_ascii_lowercase()) && key.chars().all(|c| c.is_ascii_alphanumeric());
                if !camel {
                    bad_keys.push(format!("{}.{key}", display(path)));
                }
                shape(child, &format!("{path}.{key}"), out, bad_keys);
            }
        }
        Value::Array(items) => {
            out.insert(format!("{} array", display(path)));
            for item in items {
                shape(item, &format!("{path}[]"), out, bad_keys);
            }
        }
        Value::String(_) => drop(out.insert(format!("{} string", display(path)))),
        Value::Number(_) => drop(out.insert(format!("{} number", display(path)))),
        Value::Bool(_) => drop(out.insert(format!("{} bool", display(path)))),
        Value::Null => drop(out.insert(format!("{} null", display(path)))),
    }
}

fn display(path: &str) -> &str {
    if path.is_empty() { "." } else { path }
}

/// Checks (or, with KDECK_UPDATE_SHAPES=1, writes) the shape of one command's output.
fn check(name: &str, documents: &[Value]) -> Option<String> {
    let mut lines = BTreeSet::new();
    let mut bad_keys = Vec::new();
    for document in documents {
        shape(document, "", &mut lines, &mut bad_keys);
    }
    if !bad_keys.is_empty() {
        return Some(format!("{name}: keys not in lowerCamelCase: {bad_keys:?}"));
    }
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/json_shapes").join(format!("{name}.txt"));
    if std::env::var_os("KDECK_UPDATE_SHAPES").is_some() {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, &text).unwrap();
        return None;
    }
    let committed = std::fs::read_to_string(&file).unwrap_or_default();
    (committed != text).then(|| format!("{name}: the shape changed (KDECK_UPDATE_SHAPES=1 rewrites it)\n--- committed\n{committed}--- now\n{text}"))
}

#[test]
fn every_json_document_keeps_its_shape_in_lower_camel_case() {
    let sandbox = TestSandbox::start_seeded("shapes", "home-ops");
    let context = ["--context", "shapes"];
    // (name, arguments, whether the command succeeds, one document per line)
    let commands: &[(&str, &[&str], bool, bool)] = &[
        ("sandbox-status", &["sandbox", "status", "--name", "shapes", "-o", "json"], true, false),
        ("sandbox-list", &["sandbox", "list", "-o", "json"], true, false),
        ("sync-secrets-dry-run", &["sync-secrets", "-A", "--dry-run", "-o", "json"], true, false),
        ("sync-secrets-wait", &["sync-secrets", "gatus", "-n", "observability", "--wait", "-o", "json"], true, false),
        ("sync-secrets-failed", &["sync-secrets", "volsync-restic", "-n", "storage", "--wait", "-o", "json"], false, false),
        ("hr-restart-dry-run", &["hr-restart", "gatus", "-n", "observability", "--dry-run", "-o", "json"], true, false),
        ("hr-restart", &["hr-restart", "gatus", "-n", "observability", "-o", "json"], true, false),
        ("hr-restart-failed", &["hr-restart", "loki", "-n", "observability", "--timeout", "5s", "-o", "json"], false, false),
        ("cleanse-pods-dry-run", &["cleanse-pods", "-n", "default", "--dry-run", "-o", "json"], true, false),
        ("cleanse-pods", &["cleanse-pods", "-n", "default", "-o", "json"], true, false),
        ("logs", &["logs", "-n", "observability", "deploy/gatus", "--no-follow", "--tail", "2", "-o", "json"], true, true),
        ("diagnose", &["diagnose", "-A", "-o", "json", "--fail-on", "never"], true, false),
        ("lint", &["lint", "-o", "json", "--fail-on", "never", LINT_MANIFESTS, LINT_DOCKERFILES, "no-such-file.yaml"], false, false),
        ("error-not-found", &["sync-secrets", "nope", "-n", "storage", "-o", "json"], false, false),
    ];
    let mut failures = Vec::new();
    for (name, args, succeeds, lines) in commands {
        let out = sandbox.run(&[&context[..], args].concat());
        assert_eq!(out.status.success(), *succeeds, "{name}: exit {:?}: {}", out.status.code(), stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        let documents: Vec<Value> = match lines {
            true => text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: a line is not JSON ({e}): {l}"))).collect(),
            false => vec![serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: not one JSON document ({e}): {text}"))],
        };
        assert!(!documents.is_empty(), "{name}: no JSON at all");
        failures.extend(check(name, &documents));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
