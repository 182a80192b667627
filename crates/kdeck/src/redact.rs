//! Redaction, one module for every command: what kdeck prints (and what it sends
//! to a model) is scrubbed of every Secret value in scope, credentials in URLs,
//! bearer tokens and API keys. Secret values are read once, into the
//! [`Redactor`], and never into anything shown. [`MIN_SECRET_LENGTH`] is also the
//! rule `verify`'s secretHygiene searches by.
//!
//! It also says what *looks like* a credential when kdeck has no Secret to compare
//! with ([`credential`]): names such as PASSWORD or API_KEY, known token shapes,
//! PEM private keys, URLs with a password, high-entropy strings — what `kdeck lint`
//! looks for in env values, ConfigMaps, Secrets in git and Dockerfiles.

use base64::Engine;
use serde_json::Value;

use crate::project::secret::MASK;

/// Secret values shorter than this are neither masked nor searched for where they
/// appear: a 3-letter password would match every word that contains it.
pub const MIN_SECRET_LENGTH: usize = 6;

#[derive(Default, Debug)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// Takes the values out of Secrets (decoded `data`, and `stringData`), leaving
    /// their keys with empty values: the analyzers see which keys exist, never a value.
    pub fn take_secret_values(&mut self, secret: &mut Value) {
        let engine = base64::engine::general_purpose::STANDARD;
        for field in ["data", "stringData"] {
            let Some(map) = secret[field].as_object_mut() else { continue };
            for value in map.values_mut() {
                let text = value.as_str().unwrap_or_default();
                let decoded = if field == "data" { engine.decode(text).ok().and_then(|b| String::from_utf8(b).ok()) } else { Some(text.to_string()) };
                if let Some(decoded) = decoded {
                    self.add(decoded.trim());
                }
                *value = Value::String(String::new());
            }
        }
    }

    fn add(&mut self, value: &str) {
        if value.chars().count() >= MIN_SECRET_LENGTH && !self.secrets.iter().any(|s| s == value) {
            self.secrets.push(value.to_string());
        }
    }

    /// The text with Secret values, URL credentials, bearer tokens and API keys masked.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        // Longest first: a value containing another is masked whole.
        let mut secrets: Vec<&String> = self.secrets.iter().collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for secret in secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        tokens(&url_credentials(&out))
    }
}

/// `text` with one secret the command itself holds (a password it sent) masked,
/// whatever its length.
pub fn mask_known(text: &str, secret: Option<&str>) -> String {
    match secret {
        Some(secret) if !secret.is_empty() => text.replace(secret, MASK),
        _ => text.to_string(),
    }
}

/// `scheme://user:password@host` → `scheme://user:******@host`.
pub fn url_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let authority_end = tail.find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'').unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match authority.rfind('@').and_then(|at| authority[..at].find(':').map(|colon| (colon, at))) {
            Some((colon, at)) => {
                out.push_str(&authority[..=colon]);
                out.push_str(MASK);
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

/// Bearer tokens and words shaped like API keys (`sk-…`, `ghp_…`, `AKIA…`, long
/// unbroken runs of letters and digits) become the mask.
fn tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut after_bearer = false;
    for (i, chunk) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if after_bearer && !chunk.is_empty() {
            out.push_str(MASK);
            after_bearer = false;
            continue;
        }
        after_bearer = chunk.eq_ignore_ascii_case("bearer");
        // Within a chunk, words are runs of letters, digits, '-' and '_'.
        let mut word = String::new();
        for c in chunk.chars().chain(std::iter::once('\0')) {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                word.push(c);
                continue;
            }
            out.push_str(if looks_like_key(&word) { MASK } else { &word });
            word.clear();
            if c != '\0' {
                out.push(c);
            }
        }
    }
    out
}

/// Prefixes of API keys and tokens (OpenAI/Stripe, GitHub, Slack, AWS, GitLab).
const KEY_PREFIXES: [&str; 9] = ["sk-", "sk_", "ghp_", "gho_", "github_pat_", "xoxb-", "xoxp-", "AKIA", "glpat-"];

fn prefixed_key(word: &str) -> bool {
    KEY_PREFIXES.iter().any(|p| word.starts_with(p) && word.len() >= p.len() + 12)
}

fn looks_like_key(word: &str) -> bool {
    let prefixed = prefixed_key(word);
    let long_random = word.len() >= 32
        && word.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        && word.chars().any(|c| c.is_ascii_digit())
        && word.chars().any(|c| c.is_ascii_uppercase())
        && word.chars().any(|c| c.is_ascii_lowercase());
    prefixed || long_random
}

/// Why the value of `name` looks like a credential ("a GitHub token", "a
/// credential-named value"), or None. Placeholders (`changeme`, `<password>`,
/// `${VAR}`, …), numbers, booleans and values shorter than [`MIN_SECRET_LENGTH`]
/// under a credential name are not credentials. Never returns the value.
pub fn credential(name: &str, value: &str) -> Option<&'static str> {
    let value = value.trim();
    if placeholder(value) {
        return None;
    }
    if let Some(shape) = credential_shape(value) {
        return Some(shape);
    }
    let plain = value.parse::<f64>().is_ok() || matches!(value.to_ascii_lowercase().as_str(), "true" | "false" | "yes" | "no");
    if credential_name(name) && !plain && value.chars().count() >= MIN_SECRET_LENGTH {
        return Some("a value under a credential name");
    }
    value.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '/' | '='))).any(high_entropy).then_some("a high-entropy string")
}

/// Names that say their value is a credential: PASSWORD, SECRET, TOKEN, API_KEY,
/// PRIVATE_KEY, … — not names of files, paths or other names holding one
/// (`PASSWORD_FILE`, `TOKEN_PATH`, `SECRET_NAME`), nor user names, hosts and ports.
pub fn credential_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase().replace(['-', '.'], "_");
    let words: Vec<&str> = upper.split('_').filter(|w| !w.is_empty()).collect();
    let last = words.last().copied().unwrap_or_default();
    if matches!(last, "FILE" | "PATH" | "DIR" | "NAME" | "REF" | "ID" | "URL" | "USER" | "USERNAME" | "HOST" | "PORT" | "LENGTH" | "TTL" | "EXPIRY" | "ENABLED")
    {
        return false;
    }
    let compact = upper.replace('_', "");
    words.iter().any(|w| matches!(*w, "PASSWORD" | "PASSWD" | "PASS" | "SECRET" | "TOKEN" | "APIKEY" | "CREDENTIAL" | "CREDENTIALS"))
        || ["APIKEY", "PRIVATEKEY", "ACCESSKEY", "SECRETKEY", "CLIENTSECRET", "AUTHTOKEN"].iter().any(|w| compact.contains(w))
}

/// The shape of a value that is a credential whatever its name: a known token
/// prefix, a PEM private key, a URL with a password ([`credential`] also takes
/// long high-entropy words).
pub fn credential_shape(value: &str) -> Option<&'static str> {
    if value.contains("-----BEGIN") && value.contains("PRIVATE KEY") {
        return Some("a PEM private key");
    }
    if value.contains("://") && url_credentials(value) != value {
        return Some("a URL with a password");
    }
    for word in value.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '/' | '='))) {
        if prefixed_key(word) {
            return Some(match word {
                w if w.starts_with("gh") || w.starts_with("github_pat_") => "a GitHub token",
                w if w.starts_with("AKIA") => "an AWS access key",
                w if w.starts_with("xox") => "a Slack token",
                w if w.starts_with("glpat-") => "a GitLab token",
                _ => "an API key (sk-…)",
            });
        }
    }
    None
}

/// At least 20 characters of upper- and lower-case letters and digits (base64,
/// random keys) with at least 3.5 bits of entropy per character. Lower-case hex
/// (digests, ids) and words are not.
pub fn high_entropy(word: &str) -> bool {
    let len = word.chars().count();
    if len < 20 || !(word.chars().any(|c| c.is_ascii_uppercase()) && word.chars().any(|c| c.is_ascii_lowercase()) && word.chars().any(|c| c.is_ascii_digit())) {
        return false;
    }
    let mut counts = std::collections::HashMap::new();
    for c in word.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
    }
    let entropy: f64 = counts
        .values()
        .map(|&n| {
            let p = n as f64 / len as f64;
            -p * p.log2()
        })
        .sum();
    entropy >= 3.5
}

/// Values that stand for a credential without being one: empty, `changeme`,
/// `<password>`, `${VAR}`, `$(VAR)`, `{{ … }}`, `xxxx`, `***`, `REPLACE_ME`,
/// `example…`, `dummy`, `placeholder`, `TODO`.
pub fn placeholder(value: &str) -> bool {
    let lower = value.trim().to_ascii_lowercase();
    if lower.is_empty() || lower.chars().all(|c| matches!(c, 'x' | '*' | '.' | '-' | '_' | '#')) {
        return true;
    }
    let wrapped = (lower.starts_with('<') && lower.ends_with('>'))
        || (lower.starts_with("${") && lower.ends_with('}'))
        || (lower.starts_with("$(") && lower.ends_with(')'))
        || lower.starts_with('$') && lower[1..].chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        || lower.contains("{{");
    wrapped
        || ["changeme", "change-me", "change_me", "replace", "example", "placeholder", "dummy", "todo", "fixme", "redacted", "your-", "your_", "insert"]
            .iter()
            .any(|w| lower.contains(w))
        || lower == MASK
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn secret_values_leave_the_objects_and_are_masked_wherever_they_appear() {
        let mut redactor = Redactor::default();
        let mut secret = json!({"data": {"password": "czNjcjN0LXB3", "pin": "MTIz"}, "stringData": {"token": "tok-abcdef"}});
        redactor.take_secret_values(&mut secret);
        assert_eq!(secret, json!({"data": {"password": "", "pin": ""}, "stringData": {"token": ""}}), "keys kept, values gone");
        assert_eq!(redactor.scrub("login with s3cr3t-pw failed (tok-abcdef)"), "login with ****** failed (******)");
        assert_eq!(redactor.scrub("pin 123 is short"), "pin 123 is short", "short values are left: they would mask ordinary words");
    }

    #[test]
    fn credentials_in_urls_tokens_and_keys_are_masked() {
        let r = Redactor::default();
        assert_eq!(r.scrub("postgres://app:hunter22@db:5432/app"), "postgres://app:******@db:5432/app");
        assert_eq!(r.scrub("redis://redis:6379 and http://host/x@y"), "redis://redis:6379 and http://host/x@y");
        assert_eq!(r.scrub("Authorization: Bearer abc.def.ghi"), "Authorization: Bearer ******");
        assert_eq!(r.scrub("OPENAI_API_KEY=sk-proj-1234567890abcdef"), "OPENAI_API_KEY=******");
        assert_eq!(r.scrub("could not connect to localhost:5432"), "could not connect to localhost:5432");
    }

    #[test]
    fn credentials_are_told_by_name_shape_and_entropy_but_not_placeholders() {
        assert_eq!(credential("DB_PASSWORD", "hunter2hunter2"), Some("a value under a credential name"));
        assert_eq!(credential("GITHUB", "ghp_abcdefghijklmnop1234"), Some("a GitHub token"));
        assert_eq!(credential("X", "AKIAABCDEFGHIJKLMNOP"), Some("an AWS access key"));
        assert_eq!(credential("DATABASE_URL", "postgres://app:pw123456@db/app"), Some("a URL with a password"));
        assert_eq!(credential("KEY", "-----BEGIN RSA PRIVATE KEY-----\nabc"), Some("a PEM private key"));
        assert_eq!(credential("SESSION", "Zk3q9LmXa2Pw7RtY5vBn8Hc"), Some("a high-entropy string"));
        for (name, value) in [
            ("DB_PASSWORD", "changeme"),
            ("API_KEY", "${API_KEY}"),
            ("TOKEN", "<your token>"),
            ("PASSWORD_FILE", "/run/secrets/db-password"),
            ("TOKEN_TTL", "3600"),
            ("SECRET", "abc"),
            ("LOG_LEVEL", "debug"),
            ("DATABASE_URL", "postgres://db:5432/app"),
            ("DIGEST", "3f786850e387550fdab836ed7e6dc881de23001b3f786850e387550f"),
        ] {
            assert_eq!(credential(name, value), None, "{name}");
        }
    }
}
