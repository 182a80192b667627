//! The command lines tasks run with. Scripts always run with `set -eu` (and
//! `pipefail` where the shell has it); values are single-quoted, never
//! interpolated, so nothing in a variable can change what runs.

use crate::project::config::Command;

/// `$0` of task scripts, so error messages from the shell name the task runner.
pub const ARGV0: &str = "kdeck-task";

/// What a task runs: a shell script, or an argument vector run as is.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    Script(String),
    Argv(Vec<String>),
}

impl Body {
    pub fn from_task(script: Option<&str>, command: Option<&Command>) -> Option<Body> {
        match (script, command) {
            (Some(script), _) => Some(Body::Script(script.to_string())),
            (None, Some(Command::Shell(script))) => Some(Body::Script(script.clone())),
            (None, Some(Command::Argv(argv))) => Some(Body::Argv(argv.clone())),
            (None, None) => None,
        }
    }

    /// How the body reads in a plan (no environment values in it).
    pub fn describe(&self, shell: &str, args: &[String]) -> String {
        let words: Vec<String> = match self {
            Body::Script(script) => [shell.to_string(), quote(script.trim_end()), ARGV0.to_string()].into_iter().chain(args.iter().map(|a| quote(a))).collect(),
            Body::Argv(argv) => argv.iter().chain(args).map(|a| quote(a)).collect(),
        };
        words.join(" ")
    }
}

/// An environment variable a task runs with.
#[derive(Clone, Debug, PartialEq)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
    /// Never shown: its name looks secret, or it was made from something secret.
    pub secret: bool,
}

/// A word for a POSIX shell: bare when it is plainly safe, else single-quoted.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain { word.to_string() } else { format!("'{}'", word.replace('\'', r"'\''")) }
}

/// `sh -euc …` for a container or pod: changes to `workdir` and exports `env` first
/// (neither can be given to an exec otherwise), then runs the body with `args` as
/// its positional parameters. An argv body is `exec`ed, so its exit code is the task's.
pub fn remote_shell(body: &Body, args: &[String], env: &[EnvVar], workdir: Option<&str>) -> Vec<String> {
    let mut script = String::from("if (set -o pipefail) 2>/dev/null; then set -o pipefail; fi\n");
    if let Some(dir) = workdir {
        script.push_str(&format!("cd {}\n", quote(dir)));
    }
    for var in env {
        script.push_str(&format!("export {}={}\n", var.name, quote(&var.value)));
    }
    let mut positional: Vec<String> = Vec::new();
    match body {
        Body::Script(text) => script.push_str(text),
        Body::Argv(argv) => {
            script.push_str(r#"exec "$@""#);
            positional.extend(argv.iter().cloned());
        }
    }
    positional.extend(args.iter().cloned());
    ["sh", "-euc", &script, ARGV0].iter().map(|s| s.to_string()).chain(positional).collect()
}

/// Whether `name` can be exported by a shell.
pub fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_') && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_sh(argv: &[String]) -> String {
        let out = std::process::Command::new(&argv[0]).args(&argv[1..]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn values_survive_quoting_whatever_they_hold() {
        let tricky = "it's \"quoted\" $HOME `id` \\ \n second line ${x}";
        let env = [EnvVar { name: "TRICKY".into(), value: tricky.into(), secret: false }];
        let argv = remote_shell(&Body::Script(r#"printf '%s|' "$TRICKY" "$@""#.into()), &["a b".into(), "$c".into()], &env, Some("/"));
        assert_eq!(run_sh(&argv), format!("{tricky}|a b|$c|"));
    }

    #[test]
    fn scripts_stop_at_the_first_failure_and_argv_bodies_are_execed() {
        let argv = remote_shell(&Body::Script("false\necho not reached".into()), &[], &[], None);
        assert_eq!(run_sh(&argv), "");
        let argv = remote_shell(&Body::Argv(vec!["echo".into(), "x y".into()]), &["z".into()], &[], None);
        assert_eq!(run_sh(&argv), "x y z\n");
    }

    #[test]
    fn quoting_and_names() {
        assert_eq!(quote("plain-word_1.txt"), "plain-word_1.txt");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
        assert!(is_env_name("DATABASE_URL") && is_env_name("_x1"));
        assert!(!is_env_name("1X") && !is_env_name("A-B") && !is_env_name(""));
    }
}
