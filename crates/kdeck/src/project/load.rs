//! Finding `kdeck.yaml`, parsing it into [`Config`] with errors that say where
//! (file, line, column, key path) and what was probably meant, applying the
//! flavor, and checking what the types cannot: that names refer to things that
//! exist.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::config::{Command, Config};
use super::suggest::did_you_mean;
use super::{Declared, declared, flavor, suggest_task};
use crate::cluster::names;
use crate::error::{Error, Result};

/// The names a project file may have, preferred first.
pub const FILE_NAMES: [&str; 2] = ["kdeck.yaml", "kdeck.yml"];

/// The project file in `start` or its nearest parent.
pub fn find(start: &Path) -> Result<PathBuf> {
    start.ancestors().flat_map(|dir| FILE_NAMES.iter().map(move |name| dir.join(name))).find(|file| file.is_file()).ok_or_else(|| {
        Error::usage(format!("no kdeck.yaml in {} or any parent directory", start.display()))
            .hint("pass the project file with -f FILE; examples/production-ready shows a complete one")
    })
}

/// A parsed and checked configuration.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The configuration in effect.
    pub config: Config,
    /// The file's own, when a flavor changed it.
    pub base: Option<Config>,
}

/// Parses and checks a project file's text; `label` names it in messages.
pub fn load(text: &str, label: &str, flavor: Option<&str>) -> Result<Loaded> {
    // The file itself must be valid before any flavor: only it has line numbers.
    let base = from_yaml(text, label)?;
    let Some(flavor) = flavor else {
        validate(&base).map_err(|e| prefixed(e, label))?;
        return Ok(Loaded { config: base, base: None });
    };
    let mut doc = yaml_value(text, label)?;
    keep_strings(&mut doc, &serde_json::to_value(&base).unwrap_or_default());
    flavor::apply(&mut doc, flavor).map_err(|e| prefixed(e, label))?;
    let label = format!("{label} (after flavor `{flavor}`)");
    let config = from_json(doc, &label)?;
    validate(&config).map_err(|e| prefixed(e, &label))?;
    Ok(Loaded { config, base: Some(base) })
}

/// [`load`]'s configuration in effect.
pub fn load_str(text: &str, file_label: &str, flavor: Option<&str>) -> Result<Config> {
    load(text, file_label, flavor).map(|loaded| loaded.config)
}

fn prefixed(mut error: Error, prefix: &str) -> Error {
    error.message = format!("{prefix}: {}", error.message);
    error
}

/// The typed configuration, straight from YAML so that errors keep their line
/// and column. An empty file is an empty configuration.
fn from_yaml(text: &str, label: &str) -> Result<Config> {
    let mut path = String::new();
    let parsed = serde_saphyr::with_deserializer_from_str(text, |de| {
        serde_path_to_error::deserialize::<_, Option<Config>>(de).map_err(|e| {
            path = e.path().to_string();
            e.into_inner()
        })
    });
    parsed.map(Option::unwrap_or_default).map_err(|e| yaml_error(&e, &path, label))
}

/// The file as a JSON document, for the flavor's patch.
fn yaml_value(text: &str, label: &str) -> Result<Value> {
    serde_saphyr::from_str::<Option<Value>>(text).map(Option::unwrap_or_default).map_err(|e| yaml_error(&e, "", label))
}

/// Puts the strings of the typed configuration over the document's numbers and
/// booleans: YAML to JSON turns `version: 1.10` into the number 1.1, where
/// `Config` kept the text "1.10". The document, not the typed configuration, is
/// what flavors patch, so that their paths find every key the file has.
fn keep_strings(doc: &mut Value, typed: &Value) {
    match (doc, typed) {
        (Value::Object(doc), Value::Object(typed)) => {
            for (key, value) in doc.iter_mut() {
                if let Some(typed) = typed.get(key) {
                    keep_strings(value, typed);
                }
            }
        }
        (Value::Array(doc), Value::Array(typed)) => doc.iter_mut().zip(typed).for_each(|(value, typed)| keep_strings(value, typed)),
        (scalar @ (Value::Number(_) | Value::Bool(_)), Value::String(text)) => *scalar = Value::String(text.clone()),
        _ => {}
    }
}

/// The typed configuration from a (patched) JSON document.
fn from_json(doc: Value, label: &str) -> Result<Config> {
    serde_path_to_error::deserialize::<_, Option<Config>>(doc)
        .map(Option::unwrap_or_default)
        .map_err(|e| prefixed(Problem::from_json(e.inner()).describe(&e.path().to_string()), label))
}

fn yaml_error(error: &serde_saphyr::Error, path: &str, label: &str) -> Error {
    let problem = Problem::from_yaml(error).describe(path);
    match error.location().filter(|l| l.line() > 0) {
        Some(l) => prefixed(problem, &format!("{label}:{}:{}", l.line(), l.column())),
        None => prefixed(problem, label),
    }
}

/// What went wrong deserializing, from either parser: the cases people cause
/// most get suggestions, the rest keep the parser's words.
#[derive(Debug)]
enum Problem {
    UnknownKey { key: String, expected: Vec<String> },
    UnknownValue { value: String, expected: Vec<String> },
    MissingKey(String),
    Expected { expected: String, found: Option<String> },
    Other(String),
}

impl Problem {
    fn from_yaml(error: &serde_saphyr::Error) -> Problem {
        use serde_saphyr::Error as E;
        let strings = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
        match error.without_snippet() {
            E::SerdeUnknownField { field, expected, .. } => Problem::UnknownKey { key: field.clone(), expected: strings(expected) },
            E::SerdeUnknownVariant { variant, expected, .. } => Problem::UnknownValue { value: variant.clone(), expected: strings(expected) },
            E::SerdeMissingField { field, .. } => Problem::MissingKey(field.to_string()),
            E::SerdeInvalidType { unexpected, expected, .. } => Problem::Expected { expected: expected.clone(), found: Some(unexpected.clone()) },
            other => {
                use serde_saphyr::MessageFormatter;
                let message = serde_saphyr::UserMessageFormatter.format_message(other);
                // The parser's text may quote the input: keep control characters off the terminal.
                Problem::other(message.chars().map(|c| if c.is_control() { ' ' } else { c }).collect())
            }
        }
    }

    /// From serde's standard messages ("unknown field `x`, expected one of `a`, `b`").
    fn from_json(error: &serde_json::Error) -> Problem {
        let message = error.to_string();
        // The names serde lists are between backticks.
        let quoted = |text: &str| text.split('`').skip(1).step_by(2).map(str::to_string).collect();
        let unknown = |prefix: &str| message.strip_prefix(prefix).and_then(|rest| rest.split_once('`'));
        if let Some((key, rest)) = unknown("unknown field `") {
            return Problem::UnknownKey { key: key.to_string(), expected: quoted(rest) };
        }
        if let Some((value, rest)) = unknown("unknown variant `") {
            return Problem::UnknownValue { value: value.to_string(), expected: quoted(rest) };
        }
        if let Some((key, _)) = unknown("missing field `") {
            return Problem::MissingKey(key.to_string());
        }
        if let Some((found, expected)) = message.strip_prefix("invalid type: ").and_then(|rest| rest.split_once(", expected ")) {
            return Problem::Expected { expected: expected.to_string(), found: Some(found.to_string()) };
        }
        Problem::other(message)
    }

    fn other(message: String) -> Problem {
        // Serde's words for the untagged `command` say nothing useful.
        if message.contains("untagged enum Command") {
            return Problem::Expected { expected: "a string or a list of strings".into(), found: None };
        }
        Problem::Other(message)
    }

    /// The problem at `path` (serde_path_to_error's `a.b[0]`; `.` or empty for the top).
    fn describe(self, path: &str) -> Error {
        let top = path.is_empty() || path == ".";
        let at = if top { "top level" } else { path };
        match self {
            Problem::UnknownKey { key, expected } => {
                // The path ends with the unknown key itself: say what it is in.
                let parent = path.strip_suffix(key.as_str()).filter(|p| p.is_empty() || p.ends_with('.')).map_or(path, |p| p.trim_end_matches('.'));
                let place = if parent.is_empty() || parent == "." { "at the top level".to_string() } else { format!("in {parent}") };
                let error = Error::usage(format!("unknown key `{key}` {place}{}", did_you_mean(&key, expected.iter().map(String::as_str))));
                with_list(error, "valid keys here", &expected).hint("`kdeck config schema` prints the JSON schema, for editors to check the file as you type")
            }
            Problem::UnknownValue { value, expected } => {
                let error = Error::usage(format!("{at}: unknown value `{value}`{}", did_you_mean(&value, expected.iter().map(String::as_str))));
                with_list(error, "valid values", &expected)
            }
            Problem::MissingKey(key) => Error::usage(format!("{at}: missing key `{key}`")),
            // Flavor values are JSON: `value: 1.10` is a number there.
            Problem::Expected { expected, found: Some(found) } if expected == "a string" => {
                Error::usage(format!("{at}: expected {expected}, found {found}")).hint("quote values that must stay text, e.g. '1.10'")
            }
            Problem::Expected { expected, found: Some(found) } => Error::usage(format!("{at}: expected {expected}, found {found}")),
            Problem::Expected { expected, found: None } => Error::usage(format!("{at}: expected {expected}")),
            Problem::Other(message) if top => Error::usage(message),
            Problem::Other(message) => Error::usage(format!("{at}: {message}")),
        }
    }
}

fn with_list(error: Error, what: &str, items: &[String]) -> Error {
    if items.is_empty() { error } else { error.hint(format!("{what}: {}", items.join(", "))) }
}

/// What the types cannot check: names, references between tasks and components,
/// and task bodies.
fn validate(config: &Config) -> Result<()> {
    for name in config.components.keys() {
        check_name("component", name, &format!("components.{name}"), true)?;
    }
    let tasks: Vec<Declared> = declared(config).collect();
    let mut names = BTreeSet::new();
    for task in &tasks {
        check_name("task", task.key, &task.place, task.under.is_some())?;
        // Top-level tasks come first, so the second of two is a component's.
        if !names.insert(task.name.as_str()) {
            return Err(Error::usage(format!("{}: task `{}` is also declared under `tasks`; rename one of them", task.place, task.name)));
        }
    }
    for task in &tasks {
        check_task(task, config, &names)?;
    }
    Ok(())
}

/// Names are typed on command lines: no whitespace, and no `:` where it would
/// make `component:task` ambiguous.
fn check_name(what: &str, name: &str, place: &str, no_colon: bool) -> Result<()> {
    let problem = if name.is_empty() {
        "is empty"
    } else if name.chars().any(char::is_whitespace) {
        "contains whitespace"
    } else if no_colon && name.contains(':') {
        "contains `:`, which separates component and task in `component:task`"
    } else {
        return Ok(());
    };
    Err(Error::usage(format!("{place}: the {what} name {name:?} {problem}")))
}

fn check_task(declared: &Declared, config: &Config, names: &BTreeSet<&str>) -> Result<()> {
    let (place, task) = (&declared.place, declared.task);
    if let Some(component) = &task.component {
        match declared.under {
            Some(under) if under != component => {
                return Err(Error::usage(format!("{place}.component: the task is declared under component `{under}` but names `{component}`"))
                    .hint("leave `component` out of a component's tasks"));
            }
            None if !config.components.contains_key(component) => {
                let suggestion = did_you_mean(component, config.components.keys().map(String::as_str));
                return Err(
                    Error::usage(format!("{place}.component: no component `{component}`{suggestion}")).hint("components are declared under `components`")
                );
            }
            _ => {}
        }
    }
    for (i, pre) in task.pre.iter().enumerate() {
        if !names.contains(pre.as_str()) {
            let suggestion = suggest_task(pre, names.iter().copied());
            return Err(Error::usage(format!("{place}.pre[{i}]: no task `{pre}`{suggestion}")).hint("a component's tasks are named `component:task`"));
        }
    }
    check_body(place, task.script.as_deref(), task.command.as_ref(), !task.pre.is_empty())?;
    if task.confirm.as_ref().is_some_and(|c| c.message.trim().is_empty()) {
        return Err(Error::usage(format!("{place}.confirm.message is empty")).hint("say what the task is about to do"));
    }
    if task.confirm.as_ref().and_then(|c| c.expect.as_deref()).is_some_and(|w| w.trim().is_empty()) {
        return Err(Error::usage(format!("{place}.confirm.expect is empty")).hint("name the word to type, or leave it out for \"yes\""));
    }
    if task.confirm.is_some() && task.script.is_none() && task.command.is_none() {
        return Err(Error::usage(format!("{place}.confirm: a task that only runs its pre tasks asks nothing"))
            .hint("put the confirmation on the task that does the work"));
    }
    if let Some(timeout) = &task.timeout
        && names::parse_duration(&format!("{place}.timeout"), timeout)?.is_zero()
    {
        return Err(Error::usage(format!("{place}.timeout is zero: the task could never run")).hint("give it time (`90s`, `10m`), or leave timeout out"));
    }
    if let Some((i, kind)) = task.executors.iter().enumerate().find(|(i, kind)| task.executors[..*i].contains(kind)) {
        return Err(Error::usage(format!("{place}.executors[{i}]: `{}` is listed twice", kind.name())));
    }
    Ok(())
}

/// Exactly one of `script` and `command`, and not empty; neither only for a task
/// that just runs its `pre` tasks.
fn check_body(place: &str, script: Option<&str>, command: Option<&Command>, has_pre: bool) -> Result<()> {
    let empty = match (script, command) {
        (Some(_), Some(_)) => return Err(Error::usage(format!("{place}: has both `script` and `command`; keep one"))),
        (None, None) if has_pre => return Ok(()),
        (None, None) => {
            return Err(Error::usage(format!("{place}: has nothing to run")).hint("give it a `script` or a `command`, or `pre` tasks to run"));
        }
        (Some(script), None) => script.trim().is_empty().then_some("script"),
        (None, Some(Command::Shell(line))) => line.trim().is_empty().then_some("command"),
        (None, Some(Command::Argv(argv))) => argv.first().is_none_or(|program| program.is_empty()).then_some("command"),
    };
    match empty {
        Some(key) => Err(Error::usage(format!("{place}.{key} is empty"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::config::ExecutorKind;

    const EXAMPLE: &str = "\
defaults:
  kubernetes:
    namespace: ${env:NS:-shop}
vars:
  db: app
components:
  api:
    path: services/api
    compose: {service: api}
    kubernetes: {deployment: api, container: app}
    tasks:
      migrate:
        script: ./manage.py migrate
        executors: [container, kubernetes]
        timeout: 10m
        confirm: {message: Migrate the database?}
tasks:
  build:
    command: [make, build]
  test:
    script: make test
    pre: [build]
  ci:
    pre: [build, test, api:migrate]
flavors:
  prod:
    - {op: replace, path: /defaults/kubernetes/namespace, value: shop-prod}
    - {op: add, path: /tasks/test/env, value: {CI: 'true'}}
";

    fn load_err(text: &str) -> Error {
        load_str(text, "kdeck.yaml", None).expect_err(text)
    }

    #[test]
    fn loads_the_example() {
        let config = load_str(EXAMPLE, "kdeck.yaml", None).unwrap();
        assert_eq!(config.components["api"].tasks["migrate"].executors, [ExecutorKind::Container, ExecutorKind::Kubernetes]);
        assert_eq!(config.tasks["build"].command, Some(Command::Argv(vec!["make".into(), "build".into()])));
        assert_eq!(config.defaults.kubernetes.namespace.as_deref(), Some("${env:NS:-shop}"));
    }

    #[test]
    fn empty_files_are_empty_configurations() {
        for text in ["", "# nothing yet\n", "---\n"] {
            assert!(load_str(text, "kdeck.yaml", None).unwrap().tasks.is_empty(), "{text:?}");
        }
    }

    #[test]
    fn unknown_keys_suggest_the_nearest() {
        let e = load_err("tasks:\n  migrate:\n    scirpt: ./migrate\n");
        assert_eq!(e.message, "kdeck.yaml:3:5: unknown key `scirpt` in tasks.migrate (did you mean `script`?)");
        assert!(e.hints[0].starts_with("valid keys here: description, script, command"), "{:?}", e.hints);
        assert_eq!(e.code, crate::error::ExitCode::Usage);
        let e = load_err("task:\n  build: {script: make}\n");
        assert!(e.message.starts_with("kdeck.yaml:1:1: unknown key `task` at the top level (did you mean `tasks`?)"), "{}", e.message);
        let e = load_err("tasks:\n  b:\n    script: x\n    executors: [lokal]\n");
        assert!(e.message.contains("tasks.b.executors[0]: unknown value `lokal` (did you mean `local`?)"), "{}", e.message);
    }

    #[test]
    fn malformed_yaml_says_where() {
        let e = load_err("tasks:\n  build:\n    script: make\n   bad: [\n");
        assert!(e.message.starts_with("kdeck.yaml:4:"), "{}", e.message);
        let e = load_err("tasks:\n  build: {script: make\n");
        assert!(e.message.starts_with("kdeck.yaml:"), "{}", e.message);
        assert!(e.message.split(':').nth(1).is_some_and(|line| line.parse::<u32>().is_ok()), "{}", e.message);
    }

    #[test]
    fn wrong_types_say_what_was_expected() {
        let e = load_err("tasks:\n  b:\n    script: x\n    pre: build\n");
        assert!(e.message.starts_with("kdeck.yaml:4:10: tasks.b.pre: expected sequence"), "{}", e.message);
        let e = load_err("tasks:\n  b:\n    command: {a: b}\n");
        assert!(e.message.contains("tasks.b.command: expected a string or a list of strings"), "{}", e.message);
        let e = load_err("tasks:\n  b:\n    script: x\n    confirm: {expect: yes}\n");
        assert!(e.message.contains("tasks.b.confirm: missing key `message`"), "{}", e.message);
        let e = load_err("- a\n- b\n");
        assert!(e.message.starts_with("kdeck.yaml:1:1: expected mapping"), "{}", e.message);
    }

    #[test]
    fn references_must_exist() {
        let e = load_err("components: {api: {}}\ntasks:\n  t: {script: x, component: apj}\n");
        assert_eq!(e.message, "kdeck.yaml: tasks.t.component: no component `apj` (did you mean `api`?)");
        let e = load_err("tasks:\n  build: {script: make}\n  t: {script: x, pre: [biuld]}\n");
        assert_eq!(e.message, "kdeck.yaml: tasks.t.pre[0]: no task `biuld` (did you mean `build`?)");
        let e = load_err("components: {api: {tasks: {migrate: {script: m}}}}\ntasks:\n  t: {script: x, pre: [migrate]}\n");
        assert!(e.message.contains("did you mean `api:migrate`?"), "{}", e.message);
        let e = load_err("components:\n  api:\n    tasks:\n      m: {script: x, component: web}\n");
        assert!(e.message.contains("components.api.tasks.m.component"), "{}", e.message);
    }

    #[test]
    fn task_checks() {
        let cases = [
            ("tasks:\n  t: {script: x, timeout: 10 minutes}\n", "invalid tasks.t.timeout"),
            ("tasks:\n  t: {script: x, command: make}\n", "tasks.t: has both `script` and `command`"),
            ("tasks:\n  t: {description: nothing}\n", "tasks.t: has nothing to run"),
            ("tasks:\n  t: {script: '  '}\n", "tasks.t.script is empty"),
            ("tasks:\n  t: {command: []}\n", "tasks.t.command is empty"),
            ("tasks:\n  t: {script: x, confirm: {message: ''}}\n", "tasks.t.confirm.message is empty"),
            ("tasks:\n  t: {script: x, confirm: {message: sure?, expect: ''}}\n", "tasks.t.confirm.expect is empty"),
            ("tasks:\n  t: {script: x, timeout: 0s}\n", "tasks.t.timeout is zero"),
            ("tasks:\n  t: {pre: [u], confirm: {message: sure?}}\n  u: {script: x}\n", "tasks.t.confirm: a task that only runs its pre tasks"),
            ("tasks:\n  t: {script: x, executors: [local, job, local]}\n", "tasks.t.executors[2]: `local` is listed twice"),
            ("tasks:\n  'my task': {script: x}\n", "contains whitespace"),
            ("tasks:\n  '': {script: x}\n", "is empty"),
            ("components:\n  'a:b': {}\n", "contains `:`"),
            ("components: {api: {tasks: {m: {script: x}}}}\ntasks:\n  'api:m': {script: y}\n", "also declared"),
        ];
        for (text, expected) in cases {
            let e = load_err(text);
            assert!(e.message.contains(expected), "{text:?}: {}", e.message);
        }
        assert!(load_str("tasks:\n  all: {pre: [a]}\n  a: {script: x, timeout: 1h30m}\n", "kdeck.yaml", None).is_ok(), "a task of only `pre` tasks is fine");
    }

    #[test]
    fn flavors_apply_and_are_checked_again() {
        let loaded = load(EXAMPLE, "kdeck.yaml", Some("prod")).unwrap();
        assert_eq!(loaded.config.defaults.kubernetes.namespace.as_deref(), Some("shop-prod"));
        assert_eq!(loaded.config.tasks["test"].env["CI"], "true");
        assert_eq!(loaded.base.unwrap().defaults.kubernetes.namespace.as_deref(), Some("${env:NS:-shop}"));
        let text = format!("{EXAMPLE}  broken:\n    - {{op: add, path: /tasks/test/scirpt, value: x}}\n");
        let e = load(&text, "kdeck.yaml", Some("broken")).unwrap_err();
        assert_eq!(e.message, "kdeck.yaml (after flavor `broken`): unknown key `scirpt` in tasks.test (did you mean `script`?)");
        let text = format!("{EXAMPLE}  broken:\n    - {{op: add, path: /tasks/test/pre/-, value: nope}}\n");
        let e = load(&text, "kdeck.yaml", Some("broken")).unwrap_err();
        assert!(e.message.starts_with("kdeck.yaml (after flavor `broken`): tasks.test.pre[1]: no task `nope`"), "{}", e.message);
        let e = load(EXAMPLE, "kdeck.yaml", Some("prd")).unwrap_err();
        assert!(e.message.contains("unknown flavor `prd` (did you mean `prod`?)"), "{}", e.message);
    }

    #[test]
    fn flavors_keep_yaml_scalars() {
        // Scalars the YAML parser would take as strings for `Config` must survive the
        // JSON round trip of a flavor too.
        let text = "vars: {port: 5432, debug: true, version: 1.10, mode: 0755}\ntasks: {t: {script: x, interactive: false}}\n\
                    flavors: {f: [{op: replace, path: /tasks/t/interactive, value: true}]}\n";
        let plain = load_str(text, "kdeck.yaml", None).unwrap();
        let flavored = load_str(text, "kdeck.yaml", Some("f")).unwrap();
        assert_eq!(plain.vars, flavored.vars);
        assert_eq!(flavored.vars["version"], "1.10");
        assert!(flavored.tasks["t"].interactive, "keys the file spells out are there to patch, even with default values");
        let text = "vars: {version: '1'}\nflavors: {f: [{op: replace, path: /vars/version, value: 1.10}]}\n";
        let e = load_str(text, "kdeck.yaml", Some("f")).unwrap_err();
        assert!(e.message.ends_with("vars.version: expected a string, found floating point `1.1`"), "{}", e.message);
        assert!(e.hints[0].starts_with("quote values"), "{:?}", e.hints);
    }

    #[test]
    fn find_walks_up() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        let e = find(&nested).unwrap_err();
        assert!(e.message.starts_with("no kdeck.yaml in "), "{}", e.message);
        std::fs::write(dir.path().join("kdeck.yml"), "").unwrap();
        assert_eq!(find(&nested).unwrap(), dir.path().join("kdeck.yml"));
        std::fs::write(dir.path().join("a/kdeck.yaml"), "").unwrap();
        assert_eq!(find(&nested).unwrap(), dir.path().join("a/kdeck.yaml"));
    }

    /// xorshift64: deterministic, and good enough to shake inputs.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// What the parsers and the expander care about.
    const PIECES: &[&str] = &[
        "${", "}", ":-", "\\", "env:", "vars:", "HOST", "a", "b", " ", "\n", "  ", "- ", ": ", "{", "[", "]", ",", "'", "\"", "#", "&x", "*x", "<<: ",
        "!!str ", "|", ">", "tasks:", "script:", "pre:", "flavors:", "é", "\t", "---", "~", "null", "1", "?", "%",
    ];

    fn random_text(rng: &mut Rng) -> String {
        (0..rng.below(40))
            .map(|_| if rng.below(8) == 0 { char::from(rng.next() as u8).to_string() } else { PIECES[rng.below(PIECES.len())].to_string() })
            .collect()
    }

    /// The example with a few bytes replaced, deleted or inserted.
    fn mutated(rng: &mut Rng) -> String {
        let mut bytes = EXAMPLE.as_bytes().to_vec();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(bytes.len());
            let byte = if rng.below(2) == 0 { rng.next() as u8 } else { b"${}:-\\ \n[]{}'\"&*#|"[rng.below(17)] };
            match rng.below(3) {
                0 => bytes[at] = byte,
                1 => drop(bytes.remove(at)),
                _ => bytes.insert(at, byte),
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        for open in ["[", "{a: ", "- "] {
            let text = format!("flavors:\n  f:\n    - {{op: add, path: /vars, value: {}}}\n", open.repeat(100_000));
            assert!(load_str(&text, "kdeck.yaml", None).is_err());
            assert!(load_str(&text, "kdeck.yaml", Some("f")).is_err());
        }
    }

    #[test]
    fn fuzz_never_panics() {
        use crate::project::expand::{Scope, expand};
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let env = |name: &str| (name == "HOST").then(|| "h".to_string());
        for i in 0..3000 {
            let text = match i % 3 {
                0 => random_text(&mut rng),
                1 => mutated(&mut rng),
                _ => String::from_utf8_lossy(&(0..rng.below(64)).map(|_| rng.next() as u8).collect::<Vec<_>>()).into_owned(),
            };
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _ = load_str(&text, "fuzz.yaml", None);
                if i % 3 == 1 {
                    let _ = load_str(&text, "fuzz.yaml", Some("prod"));
                }
                let vars: crate::project::config::Vars = [("a".into(), "${vars:b}".into()), ("b".into(), "x".into()), ("t".into(), text.clone())].into();
                let scope = Scope { vars: vec![&vars], env: &env };
                let _ = expand(&text, &scope, "fuzz");
                let _ = expand("${vars:t}", &scope, "fuzz");
                if let Ok(config) = load_str(&text, "fuzz.yaml", None) {
                    let _ = crate::project::shown::shown(&config, &env);
                }
            }));
            assert!(outcome.is_ok(), "panicked on {text:?}");
        }
    }
}
