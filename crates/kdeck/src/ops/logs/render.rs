//! How a log line is shown: filtered by `--grep`/`--exclude`, prefixed with its
//! source (coloured on a terminal) and time, or as one JSON object.

use k8s_openapi::jiff::Timestamp;
use tokio::sync::mpsc;

use super::{Options, Source};

/// `2026-11-23T10:00:00.123456789Z text` → (time, text).
pub fn split_timestamp(line: &str) -> (Option<Timestamp>, &str) {
    match line.split_once(' ') {
        Some((stamp, text)) => match stamp.parse::<Timestamp>() {
            Ok(at) => (Some(at), text),
            Err(_) => (None, line),
        },
        None => (line.parse::<Timestamp>().ok(), ""),
    }
}

/// The line as printed, or None when --grep/--exclude filter it out.
pub fn render(source: &Source, at: Option<Timestamp>, text: &str, options: &Options) -> Option<String> {
    if options.grep.as_ref().is_some_and(|re| !re.is_match(text)) || options.exclude.as_ref().is_some_and(|re| re.is_match(text)) {
        return None;
    }
    if options.json {
        let line = serde_json::json!({
            "namespace": source.namespace, "pod": source.pod, "container": source.container,
            "time": at.map(|t| t.to_string()), "message": text,
        });
        return Some(line.to_string());
    }
    let mut out = String::new();
    if options.prefix {
        let label = if options.namespace.is_none() {
            format!("{}/{}/{}", source.namespace, source.pod, source.container)
        } else {
            format!("{}/{}", source.pod, source.container)
        };
        if options.color {
            out.push_str(&format!("\x1b[{}m{label}\x1b[0m ", colour_for(&label)));
        } else {
            out.push_str(&label);
            out.push(' ');
        }
    }
    if options.timestamps
        && let Some(at) = at
    {
        out.push_str(&at.to_string());
        out.push(' ');
    }
    out.push_str(text);
    Some(out)
}

/// One of six ANSI colours, stable for a label.
fn colour_for(label: &str) -> u8 {
    let hash = label.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    31 + (hash % 6) as u8
}

/// Prints lines as they come, until every sender is gone (or stdout closes).
pub async fn print_lines(mut lines: mpsc::Receiver<String>) {
    use std::io::Write;
    while let Some(line) = lines.recv().await {
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{line}").is_err() {
            return;
        }
        let _ = out.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    #[test]
    fn lines_split_and_filter() {
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        let (t, text) = split_timestamp("2026-11-23T10:00:00.5Z GET /health 200");
        assert_eq!((t, text), (Some(at("2026-11-23T10:00:00.5Z")), "GET /health 200"));
        assert_eq!(split_timestamp("no stamp here"), (None, "no stamp here"));
        let source = Source { namespace: "ns".into(), pod: "web-1".into(), container: "app".into() };
        let options = Options {
            namespace: Some("ns".into()),
            grep: Some(Regex::new("GET").unwrap()),
            exclude: Some(Regex::new("health").unwrap()),
            prefix: true,
            ..Options::default()
        };
        assert_eq!(render(&source, None, "GET /api", &options).as_deref(), Some("web-1/app GET /api"));
        assert_eq!(render(&source, None, "GET /health", &options), None);
        assert_eq!(render(&source, None, "POST /api", &options), None);
    }
}
