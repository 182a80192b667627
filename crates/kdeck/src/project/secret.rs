//! Which values are secret, judged by the names they are stored under, so that
//! printed configuration and plans never show them.

/// What a secret value is shown as.
pub const MASK: &str = "******";

/// Name fragments that mark a value as secret, upper case.
const SECRET_WORDS: &[&str] = &["PASSWORD", "PASSWD", "SECRET", "TOKEN", "APIKEY", "API_KEY", "PRIVATE", "CREDENTIAL", "AUTH", "CERT", "DSN"];

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

    #[test]
    fn masking() {
        assert_eq!(masked("hunter2", true), MASK);
        assert_eq!(masked("web", false), "web");
    }
}
