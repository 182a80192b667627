//! Checks on what users type, made before any request: object names and
//! namespaces by the Kubernetes rules (DNS-1123), label selectors by the API
//! server's grammar, and durations as Go writes them (`30s`, `5m`, `1h30m`).

use std::time::Duration;

use crate::error::{Error, Result};

/// Five characters that make an object name unique (consonants and digits, so
/// they never spell a word), from the clock and the process id.
pub fn random_suffix() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let mut seed = (nanos as u64) ^ (u64::from(std::process::id()) << 32);
    (0..5)
        .map(|_| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            b"bcdfghjklmnpqrstvwxz2456789"[(seed >> 33) as usize % 27] as char
        })
        .collect()
}

/// A DNS-1123 subdomain: what most object names must be.
pub fn validate_name(kind: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|part| is_label(part, 253))
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    if ok {
        return Ok(());
    }
    Err(Error::usage(format!("invalid {kind} name {name:?}"))
        .hint("names are lower-case letters, digits, '-' and '.', starting and ending with a letter or digit (at most 253 characters)"))
}

/// A DNS-1123 label: namespaces.
pub fn validate_namespace(namespace: &str) -> Result<()> {
    if is_label(namespace, 63) {
        return Ok(());
    }
    Err(Error::usage(format!("invalid namespace {namespace:?}"))
        .hint("namespaces are lower-case letters, digits and '-', starting and ending with a letter or digit (at most 63 characters)"))
}

fn is_label(s: &str, max: usize) -> bool {
    let bytes = s.as_bytes();
    !s.is_empty()
        && s.len() <= max
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// A label selector as the API server parses it (`app=web,tier!=db,env in (a,b)`).
pub fn validate_selector(selector: &str) -> Result<()> {
    kdeck_sandbox::rest::selector::LabelSelector::parse(selector)
        .map(|_| ())
        .map_err(|e| Error::usage(format!("invalid label selector {selector:?}: {e}")).hint("as kubectl -l takes it: key=value,key!=value,key in (a,b),!key"))
}

/// A Go duration (`30s`, `5m`, `1h30m`), as kubectl's `--since` and `--timeout` take:
/// Go's rules, so one over Go's maximum (about 292 years) is refused as Go refuses it.
pub fn parse_duration(flag: &str, text: &str) -> Result<Duration> {
    kdeck_sandbox::time::parse_go_duration(text).map_err(|e| {
        Error::usage(format!("invalid {flag} {text:?}: {}", e.trim_start_matches("time: ")))
            .hint("durations look like 30s, 5m, 1h30m; at most 2562047h47m16s (about 292 years), none negative")
    })
}

/// The least a wait may be given: anything shorter cannot see a change through.
pub const MIN_TIMEOUT: Duration = Duration::from_secs(1);

/// A `--timeout`: a duration of at least [`MIN_TIMEOUT`], checked before anything
/// changes (a zero timeout would change things and then report nothing).
pub fn parse_timeout(flag: &str, text: &str) -> Result<Duration> {
    let duration = parse_duration(flag, text)?;
    if duration < MIN_TIMEOUT {
        return Err(Error::usage(format!("{flag} {text} is too short: a wait needs at least {}s", MIN_TIMEOUT.as_secs()))
            .hint("give it the time the change takes: 30s, 2m, 5m"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dns_1123() {
        assert!(validate_name("pod", "web-0").is_ok());
        assert!(validate_name("pod", "a.b-c").is_ok());
        for bad in ["", "Web", "-x", "x-", "a;rm -rf /", "a b", "$(id)", "a..b", &"x".repeat(254)] {
            assert!(validate_name("pod", bad).is_err(), "{bad:?} must be refused");
        }
        assert!(validate_namespace("kube-system").is_ok());
        assert!(validate_namespace("a.b").is_err());
        assert!(validate_namespace(&"x".repeat(64)).is_err());
    }

    #[test]
    fn selectors_and_durations_are_checked() {
        assert!(validate_selector("app=web,tier in (a,b),!legacy").is_ok());
        assert!(validate_selector("app==").is_err() || validate_selector("app in (").is_err());
        assert_eq!(parse_duration("--since", "1h30m").unwrap(), Duration::from_secs(5400));
        assert!(parse_timeout("--timeout", "0s").unwrap_err().message.contains("too short"));
        assert!(parse_timeout("--timeout", "500ms").is_err());
        assert_eq!(parse_timeout("--timeout", "1s").unwrap(), Duration::from_secs(1));
        let err = parse_duration("--timeout", "5 minutes").unwrap_err();
        assert!(err.message.contains("invalid --timeout"), "{}", err.message);
    }

    #[test]
    fn durations_past_gos_range_are_refused() {
        assert_eq!(parse_duration("--since", "2562047h47m16.854775807s").unwrap(), Duration::new(9_223_372_036, 854_775_807));
        for over in ["9223372036854775807s", "999999999999999999s", "2562048h"] {
            let err = parse_duration("--since", over).unwrap_err();
            assert_eq!(err.code, crate::error::ExitCode::Usage);
            assert_eq!(err.message, format!("invalid --since {over:?}: invalid duration {over:?}"));
            assert!(err.hints[0].contains("292 years"), "{:?}", err.hints);
        }
    }
}
