//! The configuration as kdeck sees it, for `kdeck config`: every string expanded,
//! secrets masked. Structure and keys stay the file's; `flavors` is left out, as
//! the flavor (if any) is already applied.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::config::{Config, Task, Vars};
use super::expand::{Scope, expand, expand_masked};
use super::secret::{self, Known, MASK, looks_secret};
use crate::error::{Error, Result};

/// `config` with every string expanded against its vars and `env`: top-level vars
/// everywhere, a task's own vars over them in the task. Values of `env` and `vars`
/// entries whose name looks secret, or that use a secret, are masked; in other
/// strings each secret reference is.
pub fn shown(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Result<Value> {
    // The values masked are those of this environment.
    let known = Arc::new(Known::of(config, env));
    let mut config = config.clone();
    secret::attach(&mut config, known);
    let config = &config;
    let mut doc = serde_json::to_value(config).map_err(|e| Error::failure(format!("cannot convert the configuration: {e}")))?;
    let Value::Object(root) = &mut doc else { return Ok(doc) };
    root.remove("flavors");
    let top = Scope { vars: vec![&config.vars], env };
    for (key, value) in root.iter_mut() {
        match key.as_str() {
            "tasks" => tasks(value, &config.tasks, "tasks", &config.vars, env)?,
            "components" => {
                for (name, component) in &config.components {
                    let Some(Value::Object(fields)) = value.get_mut(name) else { continue };
                    for (field, value) in fields.iter_mut() {
                        let place = format!("components.{name}.{field}");
                        match field.as_str() {
                            "tasks" => tasks(value, &component.tasks, &place, &config.vars, env)?,
                            _ => entry(field, value, &place, &top)?,
                        }
                    }
                }
            }
            _ => entry(key, value, key, &top)?,
        }
    }
    Ok(doc)
}

/// Tasks, each with its own vars over the top-level ones.
fn tasks(value: &mut Value, tasks: &BTreeMap<String, Task>, place: &str, vars: &Vars, env: &dyn Fn(&str) -> Option<String>) -> Result<()> {
    for (name, task) in tasks {
        if let Some(value) = value.get_mut(name) {
            walk(value, &format!("{place}.{name}"), &Scope { vars: vec![&task.vars, vars], env })?;
        }
    }
    Ok(())
}

/// The value under `key`: `env` and `vars` are maps of possibly secret values.
fn entry(key: &str, value: &mut Value, place: &str, scope: &Scope) -> Result<()> {
    match (key, value) {
        ("env" | "vars", Value::Object(map)) => {
            for (name, value) in map.iter_mut() {
                if let Value::String(text) = value {
                    let expanded = expand(text, scope, &format!("{place}.{name}"))?;
                    *text = if expanded.secret || looks_secret(name) { MASK.to_string() } else { expanded.text };
                }
            }
            Ok(())
        }
        (_, value) => walk(value, place, scope),
    }
}

fn walk(value: &mut Value, place: &str, scope: &Scope) -> Result<()> {
    match value {
        Value::String(text) => *text = expand_masked(text, scope, place)?.text,
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, &format!("{place}[{i}]"), scope)?;
            }
        }
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                entry(key, value, &format!("{place}.{key}"), scope)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::load::load_str;

    const FILE: &str = r"
defaults:
  kubernetes:
    namespace: ${env:NS:-shop}
vars:
  db_password: ${env:DB_PASSWORD:-dev}
  url: postgres://app:${vars:db_password}@${env:HOST}/app
  host: ${env:HOST}
components:
  api:
    kubernetes: {deployment: '${vars:app:-api}'}
    tasks:
      migrate:
        vars: {host: task-host}
        script: psql ${vars:url} -h ${vars:host}
        env: {API_TOKEN: plain, URL: '${vars:url}', HOST: '${vars:host}'}
tasks:
  build:
    command: [make, '${env:TARGET:-all}', '\${env:LITERAL}']
flavors:
  f: []
";

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("db.local".into()),
            "DB_PASSWORD" => Some("hunter2".into()),
            _ => None,
        }
    }

    #[test]
    fn every_string_is_expanded_and_secrets_are_masked() {
        let config = load_str(FILE, "kdeck.yaml", None).unwrap();
        let doc = shown(&config, &env).unwrap();
        let text = doc.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(doc["defaults"]["kubernetes"]["namespace"], "shop");
        assert_eq!(doc["vars"]["db_password"], MASK);
        assert_eq!(doc["vars"]["url"], MASK, "a variable using a secret is secret");
        assert_eq!(doc["vars"]["host"], "db.local");
        let migrate = &doc["components"]["api"]["tasks"]["migrate"];
        assert_eq!(migrate["script"], "psql ****** -h task-host", "a task's vars win; secret references are masked in place");
        assert_eq!(migrate["env"], serde_json::json!({"API_TOKEN": MASK, "URL": MASK, "HOST": "task-host"}));
        assert_eq!(doc["components"]["api"]["kubernetes"]["deployment"], "api");
        assert_eq!(doc["tasks"]["build"]["command"], serde_json::json!(["make", "all", "${env:LITERAL}"]));
        assert!(doc.get("flavors").is_none());
    }

    #[test]
    fn a_variable_used_as_a_secret_is_masked_wherever_it_is_shown() {
        let text = r#"
vars:
  plain_conn: "postgres://app:s3cret@${env:HOST}/app"
  copy: "postgres://app:s3cret@db.local/app"
  host: ${env:HOST}
tasks:
  migrate:
    env: {DB_PASSWORD: "${vars:plain_conn}", MODE: plain}
    script: psql ${vars:plain_conn} -h ${vars:host}
    command: ~
"#;
        let config = load_str(text, "kdeck.yaml", None).unwrap();
        let doc = shown(&config, &env).unwrap();
        assert!(!doc.to_string().contains("s3cret"), "{doc}");
        assert_eq!(doc["vars"]["plain_conn"], MASK);
        assert_eq!(doc["vars"]["copy"], MASK, "a copy of the value under another name");
        assert_eq!(doc["vars"]["host"], "db.local");
        assert_eq!(doc["tasks"]["migrate"]["script"], "psql ****** -h db.local");
        assert_eq!(doc["tasks"]["migrate"]["env"], serde_json::json!({"DB_PASSWORD": MASK, "MODE": "plain"}));
    }

    #[test]
    fn failures_name_the_place() {
        let config = load_str("tasks:\n  t:\n    script: x\n    env: {A: '${env:UNSET_FOR_TEST}'}\n", "kdeck.yaml", None).unwrap();
        let e = shown(&config, &env).unwrap_err();
        assert_eq!(e.message, "environment variable UNSET_FOR_TEST is not set (`${env:UNSET_FOR_TEST}` in tasks.t.env.A)");
        let config = load_str("components: {api: {compose: {service: '${vars:svc}'}}}\n", "kdeck.yaml", None).unwrap();
        assert!(shown(&config, &env).unwrap_err().message.contains("in components.api.compose.service"));
    }
}
