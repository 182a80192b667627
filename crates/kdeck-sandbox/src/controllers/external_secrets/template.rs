//! The small part of Go templates that secret templates mostly use, for
//! `spec.target.template.data`.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Renders the small part of Go templates that secret templates mostly use:
/// `{{ .key }}` or `{{ index . "key" }}`, optionally piped through `toString`,
/// `b64enc`, `b64dec`, `upper`, `lower` or `trim`, with `{{-`/`-}}` trimming.
pub(super) fn render(text: &str, data: &BTreeMap<String, Vec<u8>>) -> Result<Vec<u8>, String> {
    let mut out: Vec<u8> = Vec::new();
    let mut rest = text;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let literal = if trim_next { rest[..start].trim_start() } else { &rest[..start] };
        out.extend_from_slice(literal.as_bytes());
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or("unclosed action")?;
        let mut action = &after[..end];
        if let Some(a) = action.strip_prefix('-') {
            while out.last().is_some_and(u8::is_ascii_whitespace) {
                out.pop();
            }
            action = a;
        }
        trim_next = false;
        if let Some(a) = action.strip_suffix('-') {
            trim_next = true;
            action = a;
        }
        out.extend(evaluate(action.trim(), data)?);
        rest = &after[end + 2..];
    }
    let tail = if trim_next { rest.trim_start() } else { rest };
    out.extend_from_slice(tail.as_bytes());
    Ok(out)
}

fn evaluate(action: &str, data: &BTreeMap<String, Vec<u8>>) -> Result<Vec<u8>, String> {
    let mut stages = action.split('|').map(str::trim);
    let first = stages.next().unwrap_or_default();
    let key = if let Some(field) = first.strip_prefix('.').filter(|f| !f.is_empty() && f.chars().all(|c| c.is_alphanumeric() || c == '_')) {
        field.to_string()
    } else if let Some(quoted) = first.strip_prefix("index .").map(str::trim).and_then(|q| q.strip_prefix('"')?.strip_suffix('"')) {
        quoted.to_string()
    } else {
        return Err(format!("{{{{ {first} }}}} is not simulated by the kdeck sandbox (use {{{{ .key }}}} or {{{{ index . \"key\" }}}})"));
    };
    let mut value = data.get(&key).cloned().ok_or_else(|| format!("map has no entry for key {key:?}"))?;
    for function in stages {
        value = match function {
            "toString" => value,
            "b64enc" => STANDARD.encode(&value).into_bytes(),
            "b64dec" => STANDARD.decode(&value).map_err(|e| format!("b64dec: {e}"))?,
            "upper" => String::from_utf8_lossy(&value).to_uppercase().into_bytes(),
            "lower" => String::from_utf8_lossy(&value).to_lowercase().into_bytes(),
            "trim" => String::from_utf8_lossy(&value).trim().as_bytes().to_vec(),
            other => return Err(format!("function {other:?} not defined")),
        };
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::bytes;
    use super::*;

    #[test]
    fn templates_render_keys_and_pipes() {
        let data = BTreeMap::from([("user".to_string(), bytes("admin")), ("pass-word".to_string(), bytes("s3cret"))]);
        assert_eq!(render("postgres://{{ .user }}:{{ index . \"pass-word\" }}@db", &data).unwrap(), bytes("postgres://admin:s3cret@db"));
        assert_eq!(render("{{ .user | upper }}\n  {{- .user | b64enc -}}  !", &data).unwrap(), bytes("ADMINYWRtaW4=!"));
        assert_eq!(render("{{ .missing }}", &data).unwrap_err(), r#"map has no entry for key "missing""#);
        assert!(render("{{ .user | sha256sum }}", &data).is_err());
    }
}
