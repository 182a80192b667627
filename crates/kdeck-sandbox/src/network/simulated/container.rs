//! A simulated container's command line and environment as its server would
//! see them: env resolved as the kubelet resolves it, `$(VAR)` expanded in
//! `command` and `args`, and a shell script's words (`sh -c "redis-server
//! --requirepass $PASS"`), so the servers can read their options (Redis's
//! `--requirepass`) and variables (PostgreSQL's `POSTGRES_PASSWORD`).

use serde_json::Value;

use crate::rest::Rest;

/// The container's environment as the kubelet resolves it (empty if a reference
/// is missing: such a container never starts anyway).
pub(super) fn environment(rest: &Rest, pod: &Value, container: &Value) -> Vec<(String, String)> {
    crate::kubelet::env::resolve(rest, pod, container).unwrap_or_default()
}

/// The value of variable `name` in `env`.
pub(super) fn env_var<'a>(env: &'a [(String, String)], name: &str) -> Option<&'a str> {
    env.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

pub(crate) use crate::kubelet::env::expand;

/// The container's command line as it would run: `command` + `args`, expanded.
/// A shell script (`sh -c "…"`) is split into words too, with `$VAR` and `${VAR}`
/// expanded, so `redis-server --requirepass "$REDIS_PASSWORD"` is understood.
pub(super) fn argv(container: &Value, env: &[(String, String)]) -> Vec<String> {
    let words: Vec<String> = container["command"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(container["args"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .map(|w| expand(w, env))
        .collect();
    let mut out = Vec::new();
    for word in words {
        if word.contains(char::is_whitespace) {
            out.extend(shell_words(&word, env));
        } else {
            out.push(word);
        }
    }
    out
}

/// The words of a simple shell script, with quotes removed and `$VAR`/`${VAR}`
/// expanded (no globbing, no command substitution).
fn shell_words(script: &str, env: &[(String, String)]) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = script.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() || c == ';' || c == '&' || c == '|' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => word.push(c),
            (_, '\\') => {
                if let Some(next) = chars.next() {
                    word.push(next);
                }
                in_word = true;
            }
            (_, '$') => {
                let braced = chars.peek() == Some(&'{');
                if braced {
                    chars.next();
                }
                let mut name = String::new();
                while let Some(&n) = chars.peek() {
                    if n.is_ascii_alphanumeric() || n == '_' {
                        name.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                if braced {
                    // ${VAR:-default} and friends: the default is ignored.
                    for n in chars.by_ref() {
                        if n == '}' {
                            break;
                        }
                    }
                }
                if name.is_empty() {
                    word.push('$');
                } else {
                    word.push_str(env_var(env, &name).unwrap_or_default());
                }
                in_word = true;
            }
            (_, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// The value given to a `--flag value` or `--flag=value` option in `argv`.
pub(super) fn option_value(argv: &[String], flag: &str) -> Option<String> {
    let mut words = argv.iter();
    while let Some(word) = words.next() {
        if word == flag {
            return words.next().cloned();
        }
        if let Some(value) = word.strip_prefix(flag).and_then(|v| v.strip_prefix('=')) {
            return Some(value.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn commands_are_expanded_as_the_kubelet_and_a_shell_would() {
        let env = vec![("PASS".to_string(), "s3cret".to_string())];
        assert_eq!(expand("--requirepass=$(PASS)", &env), "--requirepass=s3cret");
        assert_eq!(expand("$(MISSING) $$(PASS) $", &env), "$(MISSING) $(PASS) $");
        assert_eq!(expand("$(unterminated", &env), "$(unterminated");
        let c = json!({"command": ["sh", "-c"], "args": ["exec redis-server --requirepass \"${PASS}\" --port 6379"]});
        let words = argv(&c, &env);
        assert_eq!(option_value(&words, "--requirepass").as_deref(), Some("s3cret"));
        assert_eq!(option_value(&["--requirepass=x".to_string()], "--requirepass").as_deref(), Some("x"));
        assert_eq!(shell_words("a 'b c' \"d $PASS\" e\\ f; g", &env), vec!["a", "b c", "d s3cret", "e f", "g"]);
        // Whatever the script, no panic.
        for script in ["$", "${", "'", "\"", "\\", "$(", "${A:-", "a\u{0}b"] {
            let _ = shell_words(script, &env);
            let _ = expand(script, &env);
        }
    }
}
