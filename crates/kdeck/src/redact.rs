//! Redaction, one module for every command: what kdeck prints (and what it sends
//! to a model) is scrubbed of every Secret value in scope, credentials in URLs,
//! bearer tokens and API keys. Secret values are read once, into the
//! [`Redactor`], and never into anything shown. [`MIN_SECRET_LENGTH`] is also the
//! rule `verify`'s secretHygiene searches by.

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

fn looks_like_key(word: &str) -> bool {
    let prefixed =
        ["sk-", "sk_", "ghp_", "gho_", "github_pat_", "xoxb-", "xoxp-", "AKIA", "glpat-"].iter().any(|p| word.starts_with(p) && word.len() >= p.len() + 12);
    let long_random = word.len() >= 32
        && word.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        && word.chars().any(|c| c.is_ascii_digit())
        && word.chars().any(|c| c.is_ascii_uppercase())
        && word.chars().any(|c| c.is_ascii_lowercase());
    prefixed || long_random
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
}
