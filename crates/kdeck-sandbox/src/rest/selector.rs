//! Label and field selectors, parsed from the query string exactly as the real
//! server accepts them, and matched against a stored object's index.

use std::collections::BTreeMap;

use serde_json::Value;

use super::validate;
use crate::store::{Index, ObjectName};

#[derive(Clone, Debug, PartialEq)]
enum Op {
    Equals(String),
    NotEquals(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    Gt(i64),
    Lt(i64),
}

#[derive(Clone, Debug, PartialEq)]
struct Requirement {
    key: String,
    op: Op,
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(text)? {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            requirements.push(parse_requirement(part)?);
        }
        Ok(LabelSelector { requirements })
    }

    /// A `metav1.LabelSelector` object (matchLabels and matchExpressions).
    pub fn from_object(selector: &Value) -> Result<Self, String> {
        let mut requirements = Vec::new();
        if let Some(labels) = selector["matchLabels"].as_object() {
            for (k, v) in labels {
                requirements.push(Requirement { key: k.clone(), op: Op::Equals(v.as_str().unwrap_or_default().to_string()) });
            }
        }
        for expr in selector["matchExpressions"].as_array().into_iter().flatten() {
            let key = expr["key"].as_str().ok_or("matchExpressions[].key is required")?.to_string();
            let values: Vec<String> = expr["values"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect();
            let op = match expr["operator"].as_str() {
                Some("In") => Op::In(values),
                Some("NotIn") => Op::NotIn(values),
                Some("Exists") => Op::Exists,
                Some("DoesNotExist") => Op::DoesNotExist,
                other => return Err(format!("{other:?} is not a valid label selector operator")),
            };
            requirements.push(Requirement { key, op });
        }
        Ok(LabelSelector { requirements })
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| {
            let value = labels.get(&r.key);
            match &r.op {
                Op::Equals(v) => value == Some(v),
                Op::NotEquals(v) => value != Some(v),
                Op::In(vs) => value.is_some_and(|x| vs.contains(x)),
                Op::NotIn(vs) => !value.is_some_and(|x| vs.contains(x)),
                Op::Exists => value.is_some(),
                Op::DoesNotExist => value.is_none(),
                Op::Gt(n) => value.and_then(|x| x.parse::<i64>().ok()).is_some_and(|x| x > *n),
                Op::Lt(n) => value.and_then(|x| x.parse::<i64>().ok()).is_some_and(|x| x < *n),
            }
        })
    }
}

/// Splits on commas that are not inside `( … )`.
fn split_top_level(text: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(format!("unable to parse requirement: unexpected ')' in {text:?}"));
                }
            }
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("unable to parse requirement: unclosed '(' in {text:?}"));
    }
    parts.push(&text[start..]);
    Ok(parts)
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    let bad = |why: &str| format!("unable to parse requirement: {why}: {part:?}");
    let check_key = |key: &str| -> Result<String, String> {
        validate::qualified_name(key).map_err(|e| format!("unable to parse requirement: key: Invalid value: {key:?}: {e}"))?;
        Ok(key.to_string())
    };
    let check_value = |value: &str| -> Result<String, String> {
        validate::label_value(value).map_err(|e| format!("unable to parse requirement: values[0]: Invalid value: {value:?}: {e}"))?;
        Ok(value.to_string())
    };
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement { key: check_key(key.trim())?, op: Op::DoesNotExist });
    }
    for (token, make) in [("!=", 0), ("==", 1), ("=", 1), (">", 2), ("<", 3)] {
        if let Some((key, value)) = part.split_once(token) {
            let key = check_key(key.trim())?;
            let value = value.trim();
            let op = match make {
                0 => Op::NotEquals(check_value(value)?),
                1 => Op::Equals(check_value(value)?),
                2 => Op::Gt(value.parse().map_err(|_| bad("for 'gt', 'lt' operators, exactly one integer value is required"))?),
                _ => Op::Lt(value.parse().map_err(|_| bad("for 'gt', 'lt' operators, exactly one integer value is required"))?),
            };
            return Ok(Requirement { key, op });
        }
    }
    let words: Vec<&str> = part.splitn(2, char::is_whitespace).collect();
    if words.len() == 2 {
        let rest = words[1].trim();
        let (is_in, list) = if let Some(l) = rest.strip_prefix("notin") {
            (false, l)
        } else if let Some(l) = rest.strip_prefix("in") {
            (true, l)
        } else {
            return Err(bad("found unexpected word, expected one of '=', '!=', '==', 'in', 'notin'"));
        };
        let list = list.trim();
        let inner = list.strip_prefix('(').and_then(|l| l.strip_suffix(')')).ok_or_else(|| bad("expected a parenthesised list of values"))?;
        let values = inner.split(',').map(|v| check_value(v.trim())).collect::<Result<Vec<_>, _>>()?;
        let key = check_key(words[0])?;
        return Ok(Requirement { key, op: if is_in { Op::In(values) } else { Op::NotIn(values) } });
    }
    Ok(Requirement { key: check_key(part)?, op: Op::Exists })
}

/// A parsed field selector: `field=value`, `field==value`, `field!=value`, comma-separated.
#[derive(Clone, Debug, Default)]
pub struct FieldSelector {
    terms: Vec<(String, bool, String)>,
}

impl FieldSelector {
    /// `allowed` are the resource's selectable fields beyond metadata.name/namespace.
    pub fn parse(text: &str, allowed: &[&str]) -> Result<Self, String> {
        let mut terms = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(format!("invalid selector: '{text}'; can't understand '{part}'"));
            };
            let field = field.trim();
            if !matches!(field, "metadata.name" | "metadata.namespace") && !allowed.contains(&field) {
                let mut known = vec!["metadata.name", "metadata.namespace"];
                known.extend_from_slice(allowed);
                return Err(format!("field label not supported: {field} (supported: {})", known.join(", ")));
            }
            terms.push((field.to_string(), equal, value.trim().to_string()));
        }
        Ok(FieldSelector { terms })
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn matches(&self, name: &ObjectName, index: &Index) -> bool {
        self.terms.iter().all(|(field, equal, want)| {
            let have = match field.as_str() {
                "metadata.name" => name.1.as_str(),
                "metadata.namespace" => name.0.as_str(),
                other => index.field(other).unwrap_or_default(),
            };
            (have == want) == *equal
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn parses_every_operator() {
        let s = LabelSelector::parse("app=web,tier==front,env!=prod,zone in (a, b),team notin (x),managed,!legacy").unwrap();
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "front"), ("zone", "a"), ("managed", "")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "front"), ("zone", "c"), ("managed", "")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "front"), ("zone", "a"), ("managed", ""), ("legacy", "1")])));
        assert!(LabelSelector::parse("").unwrap().is_empty());
    }

    #[test]
    fn rejects_what_the_server_rejects() {
        assert!(LabelSelector::parse("app in (a").is_err());
        assert!(LabelSelector::parse("bad key=x").is_err());
        assert!(LabelSelector::parse("app=bad value!").is_err());
        assert!(FieldSelector::parse("status.phase=Running", &[]).is_err());
        assert!(FieldSelector::parse("nonsense", &["status.phase"]).is_err());
    }

    #[test]
    fn field_selector_matches_name_and_indexed_fields() {
        let fs = FieldSelector::parse("metadata.name=a,status.phase!=Running", &["status.phase"]).unwrap();
        let index = Index { fields: vec![("status.phase", "Failed".into())], ..Default::default() };
        assert!(fs.matches(&("ns".into(), "a".into()), &index));
        assert!(!fs.matches(&("ns".into(), "b".into()), &index));
    }
}
