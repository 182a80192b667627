//! Which values are secret, so that printed configuration, plans, errors and task
//! logs never show them. This is the one place that decides:
//!
//! - by name: an `env` or `vars` entry, or a reference, whose name looks secret
//!   ([`looks_secret`]);
//! - by use: a value built from a secret one (the expander marks it);
//! - by value: a value equal to one of the above ([`Known`]) — so the variable in
//!   `DB_PASSWORD: ${vars:plain_conn}` is secret wherever it is shown, and so is a
//!   copy of a password under another name.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::config::Config;
use super::expand::{Scope, expand};

/// What a secret value is shown as.
pub const MASK: &str = "******";

/// Name fragments that mark a value as secret, upper case.
const SECRET_WORDS: &[&str] = &["PASSWORD", "PASSWD", "SECRET", "TOKEN", "APIKEY", "API_KEY", "PRIVATE", "CREDENTIAL", "AUTH", "CERT", "DSN"];

/// The values a project masks: those of its `env` and `vars` entries that are
/// secret by name or by use, and, in turn, of those equal to one of them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Known {
    values: BTreeSet<String>,
}

impl Known {
    /// Whether `value` is one the project masks (never the empty string).
    pub fn contains(&self, value: &str) -> bool {
        !value.is_empty() && self.values.contains(value)
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The masked values of `config`, with the environment `env`: every entry is
    /// expanded (one that cannot be, say for an unset variable, is left out), the
    /// values of the secret ones are kept, and again with those known, until no
    /// new value turns up.
    pub fn of(config: &Config, env: &dyn Fn(&str) -> Option<String>) -> Known {
        let mut known = Known::default();
        loop {
            let mut config = config.clone();
            attach(&mut config, Arc::new(known.clone()));
            let mut found = known.clone();
            for_each_entry(&config, env, &mut |name, raw, scope| {
                if let Ok(expanded) = expand(raw, scope, name)
                    && (expanded.secret || looks_secret(name))
                    && !expanded.text.is_empty()
                {
                    found.values.insert(expanded.text);
                }
            });
            if found == known {
                return known;
            }
            known = found;
        }
    }
}

impl std::fmt::Debug for Known {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Known({} values)", self.values.len())
    }
}

/// Gives every `vars` map of `config` the project's masked values.
pub fn attach(config: &mut Config, known: Arc<Known>) {
    config.vars.set_known(known.clone());
    let tasks = config.tasks.values_mut().chain(config.components.values_mut().flat_map(|c| c.tasks.values_mut()));
    for task in tasks {
        task.vars.set_known(known.clone());
    }
}

/// Calls `visit(name, raw value, scope)` for every `env` and `vars` entry: the
/// top-level vars, and each task's vars and env (its vars over the top-level ones).
fn for_each_entry(config: &Config, env: &dyn Fn(&str) -> Option<String>, visit: &mut dyn FnMut(&str, &str, &Scope)) {
    let top = Scope { vars: vec![&config.vars], env };
    for (name, raw) in config.vars.iter() {
        visit(name, raw, &top);
    }
    let tasks = config.tasks.values().chain(config.components.values().flat_map(|c| c.tasks.values()));
    for task in tasks {
        let scope = Scope { vars: vec![&task.vars, &config.vars], env };
        for (name, raw) in task.vars.iter().chain(task.env.iter()) {
            visit(name, raw, &scope);
        }
    }
}

/// Whether a variable with this name probably holds a secret. Errs on the side of
/// masking: `AUTHOR` looks secret too, which only costs a masked value.
pub fn looks_secret(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    name == "KEY" || name.ends_with("_KEY") || SECRET_WORDS.iter().any(|word| name.contains(word))
}

/// The value as it may be shown.
pub fn masked(value: &str, secret: bool) -> String {
    if secret { MASK.to_string() } else { value.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for name in [
            "DB_PASSWORD",
            "db_passwd",
            "ClientSecret",
            "GITHUB_TOKEN",
            "apikey",
            "STRIPE_API_KEY",
            "private_key",
            "AWS_CREDENTIALS",
            "BASIC_AUTH",
            "tls_cert",
            "SENTRY_DSN",
            "KEY",
            "SSH_KEY",
        ] {
            assert!(looks_secret(name), "{name} must look secret");
        }
        for name in ["NAMESPACE", "HOST", "PORT", "KEYBOARD", "MONKEY", "USER"] {
            assert!(!looks_secret(name), "{name} must not look secret");
        }
    }

    fn known(yaml: &str) -> Known {
        let config = crate::project::load::load_str(yaml, "kdeck.yaml", None).unwrap();
        Known::of(&config, &|name| (name == "PGPASS").then(|| "from-the-env".to_string()))
    }

    #[test]
    fn values_used_as_secrets_are_known_whatever_holds_them() {
        let k = known(
            r#"
vars:
  plain_conn: postgres://u:pw@db/app
  copy: postgres://u:pw@db/app
  stage: prod
  region: eu
tasks:
  migrate:
    env: {DB_PASSWORD: "${vars:plain_conn}", DSN_PART: "x-${vars:region}", GREETING: hello}
    script: x
  other:
    vars: {local: "${env:PGPASS}"}
    env: {ADMIN_TOKEN: "${vars:local}", UNSET: "${env:NOT_SET_ANYWHERE}"}
    script: x
"#,
        );
        assert!(k.contains("postgres://u:pw@db/app"), "the value of a secret env entry, which is a variable's");
        assert!(k.contains("x-eu"), "a secret built from a plain variable");
        assert!(!k.contains("eu"), "the plain part of it stays plain");
        assert!(k.contains("from-the-env"), "through a task's variable and the environment");
        assert!(!k.contains("prod") && !k.contains("hello"));
        assert!(!k.contains(""), "the empty string is never secret");
        assert_eq!(format!("{k:?}"), "Known(3 values)", "Debug never shows values");
    }

    #[test]
    fn a_value_equal_to_a_known_one_makes_what_uses_it_secret_in_turn() {
        // `url` is secret by value, `combined` uses `url`, and `LOG_HINT` equals `combined`.
        let k = known(
            r#"
vars:
  pw: hunter2-0815
  url: "${vars:pw}"
  combined: "db://${vars:url}"
tasks:
  t:
    env: {DB_PASSWORD: hunter2-0815, LOG_HINT: "db://hunter2-0815"}
    script: x
"#,
        );
        assert!(k.contains("hunter2-0815") && k.contains("db://hunter2-0815"));
    }

    #[test]
    fn masking() {
        assert_eq!(masked("hunter2", true), MASK);
        assert_eq!(masked("web", false), "web");
    }
}
