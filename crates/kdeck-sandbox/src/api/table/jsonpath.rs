//! The client-go JSONPath evaluator (`k8s.io/client-go/util/jsonpath`), the parts CRD
//! `additionalPrinterColumns` use.

use serde_json::Value;

/// One step of a parsed path.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Step {
    /// `.name`: a key of an object.
    Field(String),
    /// `..`: the value and every container below it.
    Recursive,
    /// `.*`: every value of an object or element of a list.
    Wildcard,
    /// `[i]`, `[a:b]`, `[*]`: elements of a list; `single` marks an index (`[i]`).
    Slice { start: Option<i64>, end: Option<i64>, single: bool },
    /// `[?(@.a == "x")]`, `[?(@.a)]`: the list elements that pass.
    Filter(Box<Filter>),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Filter {
    left: Vec<Step>,
    /// None is the existence test.
    compare: Option<(Op, Operand)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Path(Vec<Step>),
    Literal(Value),
}

/// The values `path` selects in `root` (`{.status.phase}`, `.items[0].name`,
/// `$.checks[?(@.name=="db")].status`); None when the path does not parse,
/// `Some(vec![])` when it selects nothing.
pub fn select<'a>(path: &str, root: &'a Value) -> Option<Vec<&'a Value>> {
    let path = path.trim();
    let path = path.strip_prefix('{').and_then(|p| p.strip_suffix('}')).unwrap_or(path);
    let path = path.strip_prefix('$').unwrap_or(path);
    let steps = parse_json_path(path)?;
    Some(eval_json_path(&steps, root).unwrap_or_default())
}

/// Parses a CRD column's jsonPath (`.spec.replicas`, `.status.conditions[?(@.type=="Ready")].status`,
/// `.metadata.labels.app\.kubernetes\.io/name`, `.items[-1]`, `['key']`). None when it
/// is not a path this evaluator understands, which prints as an empty cell.
pub(super) fn parse_json_path(path: &str) -> Option<Vec<Step>> {
    let chars: Vec<char> = path.trim().chars().collect();
    let mut steps = Vec::new();
    let mut at = 0;
    while at < chars.len() {
        match chars[at] {
            c if c.is_whitespace() => at += 1,
            '@' | '$' if at == 0 => at += 1,
            '.' if chars.get(at + 1) == Some(&'.') => {
                if steps.last() == Some(&Step::Recursive) {
                    return None;
                }
                steps.push(Step::Recursive);
                at += 2;
                if chars.get(at).is_some_and(|c| !is_terminator(*c)) {
                    at = parse_field(&chars, at, &mut steps)?;
                }
            }
            '.' => at = parse_field(&chars, at + 1, &mut steps)?,
            '[' => at = parse_bracket(&chars, at, &mut steps)?,
            _ => return None,
        }
    }
    Some(steps)
}

/// Where a field name ends (client-go's isTerminator).
fn is_terminator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '.' | ',' | '[' | ']' | '$' | '@' | '{' | '}')
}

/// A field name starting at `at`, `\` escaping the next character; returns where it ends.
fn parse_field(chars: &[char], mut at: usize, steps: &mut Vec<Step>) -> Option<usize> {
    let mut name = String::new();
    while let Some(&c) = chars.get(at) {
        if c == '\\' {
            name.push(*chars.get(at + 1)?);
            at += 2;
        } else if is_terminator(c) {
            break;
        } else {
            name.push(c);
            at += 1;
        }
    }
    match name.as_str() {
        "" => {}
        "*" => steps.push(Step::Wildcard),
        _ => steps.push(Step::Field(name)),
    }
    Some(at)
}

/// `[...]` at `at`: a filter, a quoted key, `*`, an index or a slice.
fn parse_bracket(chars: &[char], at: usize, steps: &mut Vec<Step>) -> Option<usize> {
    if chars.get(at + 1) == Some(&'?') && chars.get(at + 2) == Some(&'(') {
        return parse_filter(chars, at + 3, steps);
    }
    let close = at + chars[at..].iter().position(|&c| c == ']')?;
    let text: String = chars[at + 1..close].iter().collect();
    let text = text.trim();
    if let Some(key) = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        // client-go re-parses a quoted key as ".key", so dots still need escaping.
        if key.contains('\'') {
            return None;
        }
        let inner: Vec<char> = key.chars().collect();
        parse_field(&inner, 0, steps)?;
        return Some(close + 1);
    }
    if text == "*" {
        steps.push(Step::Slice { start: None, end: None, single: false });
        return Some(close + 1);
    }
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() > 3 || parts.is_empty() {
        return None;
    }
    let number = |s: &str| -> Option<Option<i64>> {
        let s = s.trim();
        if s.is_empty() { Some(None) } else { s.parse().ok().map(Some) }
    };
    let start = number(parts[0])?;
    let end = match parts.get(1) {
        Some(end) => number(end)?,
        None => None,
    };
    if let Some(step) = parts.get(2) {
        number(step)?;
    }
    let single = parts.len() == 1;
    if single && start.is_none() {
        return None;
    }
    steps.push(Step::Slice { start, end, single });
    Some(close + 1)
}

/// `[?(` … `)]`: the text up to the `)` outside quotes, then an operator split.
fn parse_filter(chars: &[char], start: usize, steps: &mut Vec<Step>) -> Option<usize> {
    let mut at = start;
    let mut quote: Option<char> = None;
    loop {
        let c = *chars.get(at)?;
        match (quote, c) {
            (Some(q), c) if c == q && chars.get(at.wrapping_sub(1)) != Some(&'\\') => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, ')') => break,
            _ => {}
        }
        at += 1;
    }
    if chars.get(at + 1) != Some(&']') {
        return None;
    }
    let text: String = chars[start..at].iter().collect();
    steps.push(Step::Filter(Box::new(parse_filter_expression(&text)?)));
    Some(at + 2)
}

fn parse_filter_expression(text: &str) -> Option<Filter> {
    // The first comparison operator outside quotes splits the expression.
    let chars: Vec<char> = text.chars().collect();
    let mut quote: Option<char> = None;
    let mut split = None;
    for (i, &c) in chars.iter().enumerate() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '=' | '!' | '<' | '>') => {
                let two = chars.get(i + 1) == Some(&'=');
                let op = match (c, two) {
                    ('=', true) => Op::Eq,
                    ('!', true) => Op::Ne,
                    ('<', true) => Op::Le,
                    ('>', true) => Op::Ge,
                    ('<', false) => Op::Lt,
                    ('>', false) => Op::Gt,
                    _ => return None,
                };
                split = Some((i, if two { 2 } else { 1 }, op));
                break;
            }
            _ => {}
        }
    }
    let Some((at, len, op)) = split else {
        return Some(Filter { left: parse_json_path(text)?, compare: None });
    };
    let left: String = chars[..at].iter().collect();
    let right: String = chars[at + len..].iter().collect();
    Some(Filter { left: parse_json_path(&left)?, compare: Some((op, parse_operand(right.trim())?)) })
}

/// A filter's right side: a quoted string, a number, true/false, or a `@` path.
fn parse_operand(text: &str) -> Option<Operand> {
    for quote in ['"', '\''] {
        if let Some(inner) = text.strip_prefix(quote).and_then(|t| t.strip_suffix(quote))
            && text.len() >= 2
        {
            return Some(Operand::Literal(Value::from(inner.replace(&format!("\\{quote}"), &quote.to_string()))));
        }
    }
    match text {
        "true" => return Some(Operand::Literal(Value::Bool(true))),
        "false" => return Some(Operand::Literal(Value::Bool(false))),
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        return Some(Operand::Literal(Value::from(i)));
    }
    if let Ok(f) = text.parse::<f64>()
        && f.is_finite()
    {
        return Some(Operand::Literal(Value::from(f)));
    }
    if text.starts_with('@') || text.starts_with('.') {
        return Some(Operand::Path(parse_json_path(text)?));
    }
    None
}

/// Evaluates a parsed path the way client-go does with AllowMissingKeys: missing keys
/// give no results, while a type error (indexing a non-list, comparing a string with a
/// number, a filter field missing on an element) fails the whole path.
pub(super) fn eval_json_path<'a>(steps: &[Step], root: &'a Value) -> Result<Vec<&'a Value>, ()> {
    let mut current = vec![root];
    for step in steps {
        current = eval_step(step, current)?;
    }
    Ok(current)
}

fn eval_step<'a>(step: &Step, input: Vec<&'a Value>) -> Result<Vec<&'a Value>, ()> {
    let mut out = Vec::new();
    match step {
        Step::Field(name) => {
            for value in input {
                if let Some(found) = value.as_object().and_then(|m| m.get(name)) {
                    out.push(found);
                }
            }
        }
        Step::Wildcard => {
            for value in input {
                match value {
                    Value::Object(m) => out.extend(m.values()),
                    Value::Array(items) => out.extend(items),
                    _ => {}
                }
            }
        }
        Step::Recursive => {
            for value in input {
                collect_recursive(value, &mut out);
            }
        }
        Step::Slice { start, end, single } => {
            for value in input {
                if value.is_null() {
                    continue;
                }
                let items = value.as_array().ok_or(())?;
                out.extend(slice(items, *start, *end, *single)?);
            }
        }
        Step::Filter(filter) => {
            for value in input {
                let items = value.as_array().ok_or(())?;
                for item in items {
                    if filter_passes(filter, item)? {
                        out.push(item);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// evalRecursive: every non-empty container, followed by what lies below it.
fn collect_recursive<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    let children: Vec<&Value> = match value {
        Value::Object(m) => m.values().collect(),
        Value::Array(items) => items.iter().collect(),
        _ => Vec::new(),
    };
    if !children.is_empty() {
        out.push(value);
        for child in children {
            collect_recursive(child, out);
        }
    }
}

/// evalArray: negative bounds count from the end; out of range is an error.
fn slice(items: &[Value], start: Option<i64>, end: Option<i64>, single: bool) -> Result<&[Value], ()> {
    let len = i64::try_from(items.len()).map_err(|_| ())?;
    let mut from = start.unwrap_or(0);
    if from < 0 {
        from += len;
    }
    let mut to = if single { from + 1 } else { end.unwrap_or(len) };
    if !single && to < 0 {
        to += len;
    }
    if to != from && (from >= len || to > len) {
        return Err(());
    }
    let from = usize::try_from(from).map_err(|_| ())?;
    let to = usize::try_from(to).map_err(|_| ())?;
    items.get(from..to).ok_or(())
}

fn filter_passes(filter: &Filter, item: &Value) -> Result<bool, ()> {
    let lefts = eval_json_path(&filter.left, item);
    let Some((op, operand)) = &filter.compare else {
        return Ok(lefts.is_ok_and(|l| !l.is_empty()));
    };
    let lefts = lefts?;
    let [left] = lefts.as_slice() else {
        return Err(());
    };
    let right = match operand {
        Operand::Literal(v) => v,
        Operand::Path(path) => match eval_json_path(path, item)?.as_slice() {
            [right] => *right,
            _ => return Err(()),
        },
    };
    compare(*op, left, right)
}

/// text/template's comparisons: same basic kind only (integers, floats, strings, bools
/// for equality), anything else is an error.
fn compare(op: Op, left: &Value, right: &Value) -> Result<bool, ()> {
    use std::cmp::Ordering;
    let ordering = match (left, right) {
        (Value::String(a), Value::String(b)) => a.cmp(b),
        (Value::Bool(a), Value::Bool(b)) => match op {
            Op::Eq => return Ok(a == b),
            Op::Ne => return Ok(a != b),
            _ => return Err(()),
        },
        (Value::Number(a), Value::Number(b)) => match (a.is_f64(), b.is_f64()) {
            (false, false) => {
                let (a, b) = (a.as_i64().map(i128::from), b.as_i64().map(i128::from));
                let a = a.or_else(|| left.as_u64().map(i128::from)).ok_or(())?;
                let b = b.or_else(|| right.as_u64().map(i128::from)).ok_or(())?;
                a.cmp(&b)
            }
            (true, true) => {
                let (a, b) = (a.as_f64().ok_or(())?, b.as_f64().ok_or(())?);
                a.partial_cmp(&b).ok_or(())?
            }
            _ => return Err(()),
        },
        _ => return Err(()),
    };
    Ok(match op {
        Op::Eq => ordering == Ordering::Equal,
        Op::Ne => ordering != Ordering::Equal,
        Op::Lt => ordering == Ordering::Less,
        Op::Le => ordering != Ordering::Greater,
        Op::Gt => ordering == Ordering::Greater,
        Op::Ge => ordering != Ordering::Less,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jsonpath_evaluation() {
        let doc = json!({
            "a": {"b.c": 1, "list": [{"k": "x", "v": 1}, {"k": "y", "v": 2}, {"k": "z", "v": 3}]},
            "mixed": [{"k": "x"}, {"other": 1}],
        });
        let eval = |path: &str| -> Result<Vec<Value>, ()> {
            let steps = parse_json_path(path).ok_or(())?;
            Ok(eval_json_path(&steps, &doc)?.into_iter().cloned().collect())
        };
        assert_eq!(eval(r".a.b\.c"), Ok(vec![json!(1)]));
        assert_eq!(eval(r".a['b\.c']"), Ok(vec![json!(1)]));
        assert_eq!(eval(".a.list[*].k"), Ok(vec![json!("x"), json!("y"), json!("z")]));
        assert_eq!(eval(".a.list[1:].v"), Ok(vec![json!(2), json!(3)]));
        assert_eq!(eval(".a.list[-2].k"), Ok(vec![json!("y")]));
        assert_eq!(eval(".a.list[?(@.v > 1)].k"), Ok(vec![json!("y"), json!("z")]));
        assert_eq!(eval(".a.list[?(@.v != 2)].k"), Ok(vec![json!("x"), json!("z")]));
        assert_eq!(eval(".a.list[?(@.k)].v"), Ok(vec![json!(1), json!(2), json!(3)]));
        assert_eq!(eval("..k"), Ok(vec![json!("x"), json!("y"), json!("z"), json!("x")]));
        assert_eq!(eval(".nothing[0]"), Ok(vec![]));
        // Errors, as in client-go: out of range, indexing an object, comparing across
        // types, a filter field missing on one element.
        assert_eq!(eval(".a.list[3]"), Err(()));
        assert_eq!(eval(".a[0]"), Err(()));
        assert_eq!(eval(".a.list[?(@.v == 1.0)]"), Err(()));
        assert_eq!(eval(".a.list[?(@.k > 1)]"), Err(()));
        assert_eq!(eval(".mixed[?(@.k == 'x')]"), Err(()));
        assert_eq!(eval(".a.list[?(@.k == 'x')"), Err(()));
    }
}
