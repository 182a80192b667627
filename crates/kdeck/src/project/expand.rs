//! `${env:NAME}` and `${vars:NAME}` references in `kdeck.yaml` strings.
//!
//! - `${env:NAME}` is the environment variable, `${vars:NAME}` the variable (a
//!   task's own `vars` over the top-level ones); variable values are expanded in
//!   turn, environment values are not.
//! - `${env:NAME:-default}` uses the default when NAME is unset or empty, like the
//!   shell; the default may hold references itself, and is only expanded when used.
//! - `\${env:` and `\${vars:` are a literal `${env:` / `${vars:`.
//! - Every other `${…}` (`${HOME}`, `${1:-x}`, `${env:-x}`) is the shell's and is
//!   left as it is, backslash included, so scripts keep working.
//!
//! Errors name where the reference is and never show values: they may be secrets.
//! What is secret is decided in [`super::secret`]: by name, by use (a value built
//! from a secret one), and by value (one the project masks elsewhere).

use std::collections::HashMap;

use super::config::Vars;
use super::secret::{self, Known, looks_secret};
use super::suggest::did_you_mean;
use crate::error::{Error, Result};

/// How deep variables may refer to variables, and defaults hold defaults.
const MAX_DEPTH: usize = 32;
/// The longest text an expansion may produce: variables doubling each other would
/// otherwise build gigabytes.
const MAX_LEN: usize = 1 << 20;

/// What references resolve against.
pub struct Scope<'a> {
    /// Variables, highest priority first (a task's own, then the top-level ones).
    /// A loaded project's maps also carry the values it masks.
    pub vars: Vec<&'a Vars>,
    /// The environment: the process's, or a fixed one in tests.
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Scope<'a> {
    /// These variables, and the environment of this process.
    pub fn process_env(vars: Vec<&'a Vars>) -> Self {
        Scope { vars, env: &env_var }
    }

    /// The values the project masks (every map of a project carries the same).
    fn known(&self) -> Option<&'a Known> {
        self.vars.iter().copied().map(Vars::known).find(|k| !k.is_empty())
    }

    fn is_known(&self, value: &str) -> bool {
        self.known().is_some_and(|k| k.contains(value))
    }

    fn var_names(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.vars.iter().copied().flat_map(|vars| vars.keys().map(String::as_str))
    }
}

/// The process's environment variable; a value that is not UTF-8 is taken lossily.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

/// An expanded string, and whether it holds anything secret.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expanded {
    pub text: String,
    /// It used an environment variable or variable whose name looks secret, or a
    /// variable whose own value did, or a value the project masks; or it is one.
    pub secret: bool,
}

/// Expands the references in `text`; `place` (a dotted path like
/// `tasks.migrate.script`) is where the text comes from, for messages.
pub fn expand(text: &str, scope: &Scope, place: &str) -> Result<Expanded> {
    Expander::new(scope, place, false).expand(text)
}

/// Like [`expand`], for showing: each secret reference is replaced by
/// [`secret::MASK`] in the text.
pub fn expand_masked(text: &str, scope: &Scope, place: &str) -> Result<Expanded> {
    Expander::new(scope, place, true).expand(text)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Env,
    Vars,
}

impl Source {
    fn prefix(self) -> &'static str {
        match self {
            Source::Env => "${env:",
            Source::Vars => "${vars:",
        }
    }

    fn is_name_byte(self, b: u8) -> bool {
        b.is_ascii_alphanumeric() || b == b'_' || (self == Source::Vars && (b == b'.' || b == b'-'))
    }
}

#[derive(Debug)]
enum Part<'t> {
    Text(&'t str),
    Ref(Reference<'t>),
}

#[derive(Debug)]
struct Reference<'t> {
    source: Source,
    name: &'t str,
    default: Option<Vec<Part<'t>>>,
}

impl Reference<'_> {
    /// How the reference is written, without its default (which may be long).
    fn written(&self) -> String {
        format!("{}{}}}", self.source.prefix(), self.name)
    }
}

/// A syntax error, with the reference's start written as `${env:NAME`.
enum Syntax {
    Unterminated(String),
    Malformed(String),
    TooDeep,
}

/// The kind of reference starting here: `${env:` or `${vars:` followed by a
/// name's first character. `${env:-x}` is the shell's default for `$env`.
fn reference_at(rest: &[u8]) -> Option<Source> {
    [Source::Env, Source::Vars]
        .into_iter()
        .find(|source| rest.strip_prefix(source.prefix().as_bytes()).and_then(|name| name.first()).is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_'))
}

struct Parser<'t> {
    text: &'t str,
    pos: usize,
}

impl<'t> Parser<'t> {
    fn parse(text: &'t str) -> Result<Vec<Part<'t>>, Syntax> {
        Parser { text, pos: 0 }.parts(None, 0)
    }

    /// Parts up to the end of the text, or, in a default (`opened` is how its
    /// reference starts), up to the `}` that closes it. The scan is over bytes;
    /// the text is only cut next to syntax characters, which are ASCII, so always
    /// between characters.
    fn parts(&mut self, opened: Option<&str>, depth: usize) -> Result<Vec<Part<'t>>, Syntax> {
        let mut parts = Vec::new();
        let mut literal = self.pos;
        let mut braces = 0usize;
        while self.pos < self.text.len() {
            let rest = &self.text.as_bytes()[self.pos..];
            if rest[0] == b'\\' && reference_at(&rest[1..]).is_some() {
                // Drop the backslash; the `${` then reads as text (and, in a default,
                // its `{` counts like any other brace).
                push_text(&mut parts, &self.text[literal..self.pos]);
                literal = self.pos + 1;
                self.pos += 2;
            } else if let Some(source) = reference_at(rest) {
                push_text(&mut parts, &self.text[literal..self.pos]);
                parts.push(Part::Ref(self.reference(source, depth)?));
                literal = self.pos;
            } else {
                match (rest[0], opened) {
                    (b'{', Some(_)) => braces += 1,
                    (b'}', Some(_)) if braces == 0 => {
                        push_text(&mut parts, &self.text[literal..self.pos]);
                        self.pos += 1;
                        return Ok(parts);
                    }
                    (b'}', Some(_)) => braces -= 1,
                    _ => {}
                }
                self.pos += 1;
            }
        }
        if let Some(opened) = opened {
            return Err(Syntax::Unterminated(opened.to_string()));
        }
        push_text(&mut parts, &self.text[literal..]);
        Ok(parts)
    }

    /// A reference at `self.pos`, which starts with `source`'s prefix.
    fn reference(&mut self, source: Source, depth: usize) -> Result<Reference<'t>, Syntax> {
        if depth >= MAX_DEPTH {
            return Err(Syntax::TooDeep);
        }
        let start = self.pos;
        self.pos += source.prefix().len();
        let name_start = self.pos;
        while self.text.as_bytes().get(self.pos).is_some_and(|b| source.is_name_byte(*b)) {
            self.pos += 1;
        }
        let name = &self.text[name_start..self.pos];
        let opened = &self.text[start..self.pos];
        let rest = &self.text[self.pos..];
        if rest.starts_with('}') {
            self.pos += 1;
            Ok(Reference { source, name, default: None })
        } else if rest.starts_with(":-") {
            self.pos += 2;
            let default = self.parts(Some(opened), depth + 1)?;
            Ok(Reference { source, name, default: Some(default) })
        } else if rest.is_empty() {
            Err(Syntax::Unterminated(opened.to_string()))
        } else {
            Err(Syntax::Malformed(opened.to_string()))
        }
    }
}

fn push_text<'t>(parts: &mut Vec<Part<'t>>, text: &'t str) {
    if !text.is_empty() {
        parts.push(Part::Text(text));
    }
}

struct Expander<'s, 'a> {
    scope: &'s Scope<'a>,
    place: &'s str,
    /// Replace secret references by the mask.
    mask: bool,
    /// The variables being expanded, outermost first: for cycles and messages.
    stack: Vec<&'a str>,
    /// Variables already expanded: each is expanded once per call however often
    /// it is used, which keeps doubling variables from taking exponential time.
    done: HashMap<&'a str, Expanded>,
}

impl<'s, 'a> Expander<'s, 'a> {
    fn new(scope: &'s Scope<'a>, place: &'s str, mask: bool) -> Self {
        Expander { scope, place, mask, stack: Vec::new(), done: HashMap::new() }
    }

    fn expand(&mut self, text: &str) -> Result<Expanded> {
        let parts = Parser::parse(text).map_err(|e| self.syntax_error(e))?;
        let mut out = Expanded::default();
        self.parts(&parts, &mut out)?;
        // A text that is, as a whole, a value the project masks (a copy of a
        // password written out) is secret, and shown masked.
        if !out.secret && self.scope.is_known(&out.text) {
            out.secret = true;
            if self.mask {
                out.text = secret::MASK.to_string();
            }
        }
        Ok(out)
    }

    fn parts(&mut self, parts: &[Part], out: &mut Expanded) -> Result<()> {
        for part in parts {
            match part {
                Part::Text(text) => self.push(out, text)?,
                Part::Ref(reference) => {
                    let value = self.reference(reference)?;
                    out.secret |= value.secret;
                    self.push(out, if self.mask && value.secret { secret::MASK } else { &value.text })?;
                }
            }
        }
        Ok(())
    }

    fn reference(&mut self, reference: &Reference) -> Result<Expanded> {
        let secret = looks_secret(reference.name);
        let value = match reference.source {
            Source::Env => (self.scope.env)(reference.name).map(|text| Expanded { text, secret }),
            Source::Vars => self.variable(reference.name)?.map(|v| Expanded { text: v.text, secret: v.secret || secret }),
        };
        // Like the shell's `:-`, an empty value takes the default too.
        let value = value.filter(|v| reference.default.is_none() || !v.text.is_empty());
        let mut value = match (value, &reference.default) {
            (Some(value), _) => value,
            (None, Some(default)) => {
                // The name stays secret-looking even when unset: the default may be
                // a development password.
                let mut out = Expanded { text: String::new(), secret };
                self.parts(default, &mut out)?;
                out
            }
            (None, None) => return Err(self.undefined(reference)),
        };
        value.secret |= self.scope.is_known(&value.text);
        Ok(value)
    }

    /// A variable's expanded value; None when no scope defines it.
    fn variable(&mut self, name: &str) -> Result<Option<Expanded>> {
        let Some((name, raw)) = self.scope.vars.iter().copied().find_map(|vars| vars.get_key_value(name)) else { return Ok(None) };
        let name = name.as_str();
        if let Some(done) = self.done.get(name) {
            return Ok(Some(done.clone()));
        }
        if let Some(at) = self.stack.iter().position(|n| *n == name) {
            let cycle: Vec<&str> = self.stack[at..].iter().copied().chain([name]).collect();
            return Err(Error::usage(format!("variable cycle: {} (in {})", cycle.join(" -> "), self.place)));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(Error::usage(format!("variables refer to variables more than {MAX_DEPTH} levels deep (in {})", self.place)));
        }
        self.stack.push(name);
        let expanded = self.expand(raw);
        self.stack.pop();
        let expanded = expanded?;
        self.done.insert(name, expanded.clone());
        Ok(Some(expanded))
    }

    fn push(&self, out: &mut Expanded, text: &str) -> Result<()> {
        if out.text.len() + text.len() > MAX_LEN {
            return Err(Error::usage(format!("expanding {} gives more than {} KiB of text", self.place, MAX_LEN / 1024)));
        }
        out.text.push_str(text);
        Ok(())
    }

    /// Where the text being expanded is: the caller's place, or a variable used there.
    fn location(&self) -> String {
        match self.stack.last() {
            Some(var) => format!("variable `{var}` (used in {})", self.place),
            None => self.place.to_string(),
        }
    }

    fn undefined(&self, reference: &Reference) -> Error {
        let written = reference.written();
        let with_default = format!("{}{}:-value}}", reference.source.prefix(), reference.name);
        match reference.source {
            Source::Env => Error::usage(format!("environment variable {} is not set (`{written}` in {})", reference.name, self.location()))
                .hint(format!("set it, or give a default: {with_default}")),
            Source::Vars => {
                Error::usage(format!("undefined variable `{written}` in {}{}", self.location(), did_you_mean(reference.name, self.scope.var_names())))
                    .hint(format!("define it under `vars`, or give a default: {with_default}"))
            }
        }
    }

    fn syntax_error(&self, syntax: Syntax) -> Error {
        let escape = "for a literal `${`, write `\\${`";
        match syntax {
            Syntax::Unterminated(opened) => Error::usage(format!("unterminated `{opened}` in {}: no closing `}}`", self.location())).hint(escape),
            Syntax::Malformed(opened) => {
                Error::usage(format!("invalid reference in {}: `{opened}` must be followed by `}}` or `:-default}}`", self.location()))
                    .hint("names are letters, digits and `_` (variable names also `.` and `-`)")
                    .hint(escape)
            }
            Syntax::TooDeep => Error::usage(format!("references nest more than {MAX_DEPTH} levels deep in {}", self.location())),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<std::collections::BTreeMap<_, _>>().into()
    }

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("db.local".into()),
            "EMPTY" => Some(String::new()),
            "DB_PASSWORD" => Some("hunter2".into()),
            _ => None,
        }
    }

    fn run(text: &str, vars: &Vars) -> Result<Expanded> {
        expand(text, &Scope { vars: vec![vars], env: &env }, "tasks.migrate.script")
    }

    fn text(text: &str, pairs: &[(&str, &str)]) -> String {
        run(text, &vars(pairs)).map(|e| e.text).unwrap_or_else(|e| panic!("{text:?}: {}", e.message))
    }

    fn error(text: &str, pairs: &[(&str, &str)]) -> Error {
        run(text, &vars(pairs)).expect_err(text)
    }

    #[test]
    fn env_and_vars() {
        assert_eq!(text("host=${env:HOST} app=${vars:app}", &[("app", "web")]), "host=db.local app=web");
        assert_eq!(text("no references", &[]), "no references");
        assert_eq!(text("ünïcode ${vars:a}ü", &[("a", "é")]), "ünïcode éü");
    }

    #[test]
    fn defaults_apply_when_unset_or_empty() {
        assert_eq!(text("${env:NOPE:-fallback}", &[]), "fallback");
        assert_eq!(text("${env:EMPTY:-fallback}", &[]), "fallback");
        assert_eq!(text("[${env:EMPTY}]", &[]), "[]", "set but empty, without a default, is empty");
        assert_eq!(text("${env:HOST:-fallback}", &[]), "db.local");
        assert_eq!(text("${vars:x:-}", &[]), "");
        assert_eq!(text("${vars:x:-a b}", &[("x", "")]), "a b");
    }

    #[test]
    fn nested_defaults() {
        assert_eq!(text("${env:NOPE:-${vars:app:-${env:HOST}}}", &[]), "db.local");
        assert_eq!(text("${env:NOPE:-${vars:app}-x}", &[("app", "web")]), "web-x");
        assert_eq!(text("${env:NOPE:-{a}}", &[]), "{a}", "braces in a default are matched");
        assert_eq!(text("${env:NOPE:-${HOME}}", &[]), "${HOME}");
        // An unused default is not expanded, so what it refers to need not exist.
        assert_eq!(text("${env:HOST:-${vars:missing}}", &[]), "db.local");
    }

    #[test]
    fn escapes_and_shell_syntax() {
        assert_eq!(text(r"\${env:HOST}", &[]), "${env:HOST}");
        assert_eq!(text(r"\${vars:x:-y}", &[]), "${vars:x:-y}");
        assert_eq!(text(r"${env:NOPE:-\${env:HOST}}", &[]), "${env:HOST}");
        for shell in ["echo ${HOME}", "${1:-x}", "${env:-x}", "${env:2:3}", r"echo \${HOME}", "${", "}", "$", "a ${vars:} b", "${vars:-}"] {
            assert_eq!(text(shell, &[]), shell, "shell syntax is left alone");
        }
    }

    #[test]
    fn variables_expand_recursively() {
        assert_eq!(text("${vars:url}", &[("url", "postgres://${env:HOST}/${vars:db}"), ("db", "app")]), "postgres://db.local/app");
        let task = vars(&[("db", "task-db")]);
        let top = vars(&[("db", "top-db"), ("url", "${vars:db}")]);
        let scope = Scope { vars: vec![&task, &top], env: &env };
        assert_eq!(expand("${vars:url}", &scope, "x").unwrap().text, "task-db", "the task's vars win, also inside other variables");
    }

    #[test]
    fn cycles_and_depth() {
        let e = error("${vars:a}", &[("a", "x${vars:b}"), ("b", "${vars:a}")]);
        assert!(e.message.starts_with("variable cycle: a -> b -> a"), "{}", e.message);
        assert!(error("${vars:a}", &[("a", "${vars:a}")]).message.contains("a -> a"));
        let chain: Vec<(String, String)> = (0..100).map(|i| (format!("v{i}"), format!("${{vars:v{}}}", i + 1))).collect();
        let chain: Vec<(&str, &str)> = chain.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert!(error("${vars:v0}", &chain).message.contains("levels deep"));
        let deep = format!("{}x{}", "${env:NOPE:-".repeat(100), "}".repeat(100));
        assert!(error(&deep, &[]).message.contains("levels deep"));
    }

    #[test]
    fn doubling_variables_stop_at_the_size_limit() {
        let doubling: Vec<(String, String)> =
            (0..30).map(|i| (format!("v{i}"), format!("${{vars:v{0}}}${{vars:v{0}}}", i + 1))).chain([("v30".into(), "xxxxxxxx".into())]).collect();
        let doubling: Vec<(&str, &str)> = doubling.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert!(error("${vars:v0}", &doubling).message.contains("KiB"));
    }

    #[test]
    fn undefined_references_name_the_place() {
        let e = error("run ${vars:foo}", &[("food", "x")]);
        assert_eq!(e.message, "undefined variable `${vars:foo}` in tasks.migrate.script (did you mean `food`?)");
        assert_eq!(e.code, crate::error::ExitCode::Usage);
        let e = error("${env:FOO}", &[]);
        assert_eq!(e.message, "environment variable FOO is not set (`${env:FOO}` in tasks.migrate.script)");
        assert_eq!(e.hints, ["set it, or give a default: ${env:FOO:-value}"]);
        let e = error("${vars:url}", &[("url", "${env:NOPE}")]);
        assert!(e.message.contains("in variable `url` (used in tasks.migrate.script)"), "{}", e.message);
    }

    #[test]
    fn syntax_errors_name_the_place() {
        for bad in ["${env:FOO", "${vars:x:-abc", "${env:A:-${vars:b}", "${vars:a:-{}"] {
            let e = error(bad, &[]);
            assert!(e.message.starts_with("unterminated `$"), "{bad}: {}", e.message);
            assert!(e.message.contains("tasks.migrate.script"), "{}", e.message);
        }
        let e = error("${env:FOO BAR}", &[]);
        assert!(e.message.contains("`${env:FOO` must be followed by"), "{}", e.message);
    }

    #[test]
    fn secret_flag_and_masking() {
        let secret = |t: &str, pairs: &[(&str, &str)]| run(t, &vars(pairs)).unwrap().secret;
        assert!(secret("${env:DB_PASSWORD}", &[]));
        assert!(secret("${env:DB_PASSWORD:-dev}", &[]), "a default for a secret is secret too");
        assert!(!secret("${env:HOST}", &[]));
        assert!(secret("${vars:api_token}", &[("api_token", "t")]));
        assert!(secret("${vars:url}", &[("url", "postgres://u:${env:DB_PASSWORD}@h")]), "secret through a variable");
        assert!(!secret("${vars:url}", &[("url", "postgres://${env:HOST}")]));
        let top = vars(&[("url", "postgres://u:${env:DB_PASSWORD}@h"), ("db", "app")]);
        let shown = expand_masked("psql ${vars:url}/${vars:db} ${env:HOST}", &Scope { vars: vec![&top], env: &env }, "x").unwrap();
        assert_eq!(shown.text, "psql ******/app db.local");
        assert!(shown.secret);
    }

    #[test]
    fn values_the_project_masks_are_secret_whatever_they_are_called() {
        let mut top = vars(&[("plain_conn", "postgres://u:pw@h"), ("region", "eu")]);
        top.set_known(std::sync::Arc::new(known_of(&["postgres://u:pw@h"])));
        let scope = Scope { vars: vec![&top], env: &env };
        let shown = expand_masked("psql ${vars:plain_conn} --region ${vars:region}", &scope, "x").unwrap();
        assert_eq!(shown.text, "psql ****** --region eu");
        assert!(shown.secret);
        let literal = expand_masked("postgres://u:pw@h", &scope, "x").unwrap();
        assert_eq!((literal.text.as_str(), literal.secret), (secret::MASK, true), "a copy written out");
        let run = expand("postgres://u:pw@h", &scope, "x").unwrap();
        assert_eq!((run.text.as_str(), run.secret), ("postgres://u:pw@h", true), "what runs keeps the value");
        assert!(!expand("${vars:region}", &scope, "x").unwrap().secret);
    }

    /// A Known holding these values, through the one way values get in.
    fn known_of(values: &[&str]) -> Known {
        let env: String = values.iter().enumerate().map(|(i, v)| format!("      S{i}_TOKEN: '{v}'\n")).collect();
        let config = crate::project::load::load_str(&format!("tasks:\n  t:\n    script: x\n    env:\n{env}"), "kdeck.yaml", None).unwrap();
        Known::of(&config, &|_| None)
    }

    #[test]
    fn errors_never_show_values() {
        let top = vars(&[("token", "s3cr3t ${env:NOPE}")]);
        let e = expand("${vars:token}", &Scope { vars: vec![&top], env: &env }, "x").unwrap_err();
        assert!(!e.message.contains("s3cr3t"), "{}", e.message);
    }
}
