//! A small Dockerfile parser, enough for lint: instructions with their line,
//! continuation lines (`\`, or the `# escape=` character), comments inside them,
//! heredocs (`RUN <<EOF … EOF`), and stages (`FROM image AS name`). Written here
//! rather than taken from a crate: the Rust Dockerfile parsers either pull a
//! grammar engine into the binary or drop line numbers, and lint needs both lean
//! and lines.

use std::path::PathBuf;

/// Instructions Docker knows.
const KEYWORDS: [&str; 18] = [
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "MAINTAINER",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
];

#[derive(Clone, Debug, PartialEq)]
pub struct Instruction {
    /// The line the instruction starts on (1-based).
    pub line: u32,
    /// Upper case: `RUN`.
    pub keyword: String,
    /// The arguments, continuation lines joined with a space.
    pub args: String,
}

impl Instruction {
    /// `--from=build`-style flags and the remaining words (JSON form `["a", "b"]` understood).
    pub fn flags_and_words(&self) -> (Vec<String>, Vec<String>) {
        let words: Vec<String> = match serde_json::from_str::<Vec<String>>(self.args.trim()) {
            Ok(list) if self.args.trim_start().starts_with('[') => list,
            _ => self.args.split_whitespace().map(str::to_string).collect(),
        };
        let (flags, words): (Vec<String>, Vec<String>) = words.into_iter().partition(|w| w.starts_with("--"));
        (flags, words)
    }
}

#[derive(Clone, Debug)]
pub struct Stage {
    /// The base image, as written (`node:20-alpine`, `build`, `${BASE}`).
    pub image: String,
    pub alias: Option<String>,
    pub line: u32,
    /// The stage's instructions, FROM first.
    pub instructions: Vec<Instruction>,
}

#[derive(Clone, Debug)]
pub struct Dockerfile {
    /// As shown in findings.
    pub file: String,
    /// The build context (for `.dockerignore`): the Dockerfile's directory unless a stack image says otherwise.
    pub context: PathBuf,
    /// ARG instructions before the first FROM.
    pub global_args: Vec<Instruction>,
    pub stages: Vec<Stage>,
    /// The image this Dockerfile builds, when a stack image names it.
    pub image: Option<String>,
}

impl Dockerfile {
    /// Parses `text`; a syntax error is `(line, message)`.
    pub fn parse(file: &str, context: PathBuf, text: &str) -> Result<Dockerfile, (u32, String)> {
        let mut dockerfile = Dockerfile { file: file.to_string(), context, global_args: Vec::new(), stages: Vec::new(), image: None };
        for instruction in instructions(text)? {
            if instruction.keyword == "FROM" {
                let words: Vec<&str> = instruction.args.split_whitespace().filter(|w| !w.starts_with("--")).collect();
                let (image, alias) = match words.as_slice() {
                    [image] => (image.to_string(), None),
                    [image, as_, alias] if as_.eq_ignore_ascii_case("as") => (image.to_string(), Some(alias.to_string())),
                    _ => return Err((instruction.line, format!("FROM takes an image and optionally `AS name`, not {:?}", instruction.args))),
                };
                dockerfile.stages.push(Stage { image, alias, line: instruction.line, instructions: vec![instruction] });
            } else if let Some(stage) = dockerfile.stages.last_mut() {
                stage.instructions.push(instruction);
            } else if instruction.keyword == "ARG" {
                dockerfile.global_args.push(instruction);
            } else {
                return Err((instruction.line, format!("{} before the first FROM (only ARG may come before it)", instruction.keyword)));
            }
        }
        if dockerfile.stages.is_empty() {
            return Err((1, "no FROM instruction".into()));
        }
        Ok(dockerfile)
    }

    /// The stage an image (or stage name) refers to, if it is an earlier stage of this file.
    pub fn stage_named(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.alias.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(name)))
    }

    /// The user the final stage runs as: the last USER of that stage, else of the
    /// stage it is built FROM (within this file). None: no USER (the base image's).
    pub fn final_user(&self) -> Option<(&Instruction, &str)> {
        let mut stage = self.stages.last()?;
        for _ in 0..self.stages.len() {
            if let Some(user) = stage.instructions.iter().rev().find(|i| i.keyword == "USER") {
                return Some((user, user.args.trim()));
            }
            stage = self.stage_named(&stage.image)?;
        }
        None
    }
}

/// Whether a USER value is root (`root`, `0`, `root:root`, `0:0`).
pub fn is_root(user: &str) -> bool {
    matches!(user.split(':').next().unwrap_or_default().trim(), "root" | "0" | "")
}

/// The instructions of `text`, each with its first line.
pub fn instructions(text: &str) -> Result<Vec<Instruction>, (u32, String)> {
    let mut escape = '\\';
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    let mut directives = true;
    while let Some((index, raw)) = lines.next() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let line = raw.trim();
        if line.starts_with('#') {
            // Parser directives come first: `# escape=``.
            if directives && let Some(value) = line.trim_start_matches('#').trim().strip_prefix("escape=") {
                escape = value.trim().chars().next().unwrap_or('\\');
            }
            continue;
        }
        directives = false;
        if line.is_empty() {
            continue;
        }
        let mut text = line.to_string();
        // Continuation lines: a trailing escape character; comment and empty lines inside are skipped.
        while text.ends_with(escape) {
            text.pop();
            let mut next = None;
            while let Some((_, raw)) = lines.peek() {
                let trimmed = raw.trim();
                if trimmed.starts_with('#') || trimmed.is_empty() {
                    lines.next();
                    continue;
                }
                next = Some(trimmed.to_string());
                lines.next();
                break;
            }
            match next {
                Some(next) => {
                    text.push(' ');
                    text.push_str(&next);
                }
                None => break,
            }
        }
        let (keyword, args) = text.split_once(char::is_whitespace).map_or((text.as_str(), ""), |(k, a)| (k, a.trim()));
        let keyword = keyword.to_ascii_uppercase();
        if !KEYWORDS.contains(&keyword.as_str()) {
            return Err((number, format!("unknown instruction {keyword:?}")));
        }
        if args.is_empty() && keyword != "RUN" {
            return Err((number, format!("{keyword} without arguments")));
        }
        let mut args = args.to_string();
        // Heredocs: `RUN <<EOF` (or `<<-EOF`, quoted) takes the lines up to EOF.
        if let Some(start) = args.find("<<") {
            let word: String =
                args[start + 2..].trim_start_matches('-').trim_matches(['"', '\'']).chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !word.is_empty() {
                let mut closed = false;
                for (_, raw) in lines.by_ref() {
                    if raw.trim() == word {
                        closed = true;
                        break;
                    }
                    args.push('\n');
                    args.push_str(raw);
                }
                if !closed {
                    return Err((number, format!("heredoc <<{word} is never closed")));
                }
            }
        }
        out.push(Instruction { line: number, keyword, args });
    }
    Ok(out)
}

/// `ENV A=1 B="two words"` or `ENV A 1` as (name, value) pairs; `ARG A=1` and `ARG A`.
pub fn assignments(instruction: &Instruction) -> Vec<(String, String)> {
    let args = instruction.args.trim();
    if !args.contains('=') || (instruction.keyword == "ENV" && args.split_whitespace().next().is_some_and(|w| !w.contains('='))) {
        // The legacy `ENV NAME value` form, or `ARG NAME`.
        let (name, value) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
        return vec![(name.to_string(), unquote(value.trim()))];
    }
    let mut out = Vec::new();
    let mut rest = args;
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else {
            out.push((rest.split_whitespace().next().unwrap_or_default().to_string(), String::new()));
            break;
        };
        let name = rest[..eq].trim().to_string();
        let after = &rest[eq + 1..];
        let (value, tail) = match after.chars().next() {
            Some(q @ ('"' | '\'')) => match after[1..].find(q) {
                Some(end) => (after[1..=end].to_string(), &after[end + 2..]),
                None => (after[1..].to_string(), ""),
            },
            _ => match after.find(char::is_whitespace) {
                Some(end) => (after[..end].to_string(), &after[end..]),
                None => (after.to_string(), ""),
            },
        };
        out.push((name, value));
        rest = tail.trim_start();
    }
    out
}

fn unquote(value: &str) -> String {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(value)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_continuations_and_the_final_user() {
        let text = "# escape=\\\nARG BASE=node:20\nFROM ${BASE} AS build\nRUN apt-get update && \\\n    # a comment\n    apt-get install -y curl\nUSER app\nFROM build AS final\nCOPY --from=build /a /b\n";
        let file = Dockerfile::parse("Dockerfile", PathBuf::from("."), text).unwrap();
        assert_eq!(file.global_args.len(), 1);
        assert_eq!(file.stages.len(), 2);
        assert_eq!(file.stages[0].instructions[1], Instruction { line: 4, keyword: "RUN".into(), args: "apt-get update &&  apt-get install -y curl".into() });
        assert_eq!(file.final_user().map(|(i, u)| (i.line, u)), Some((7, "app")), "inherited from the stage it is built from");
        let root = Dockerfile::parse("D", PathBuf::new(), "FROM a AS build\nUSER app\nFROM alpine:3\nCOPY --from=build /x /x\n").unwrap();
        assert!(root.final_user().is_none(), "only the final stage's USER counts");
    }

    #[test]
    fn syntax_errors_have_a_line() {
        assert_eq!(Dockerfile::parse("D", PathBuf::new(), "FROM a\nRUNN x\n").unwrap_err(), (2, "unknown instruction \"RUNN\"".to_string()));
        assert_eq!(Dockerfile::parse("D", PathBuf::new(), "COPY . .\n").unwrap_err().0, 1);
        assert_eq!(Dockerfile::parse("D", PathBuf::new(), "FROM a\nRUN <<EOF\necho\n").unwrap_err().0, 2);
    }

    #[test]
    fn env_and_arg_forms() {
        let env = |args: &str| assignments(&Instruction { line: 1, keyword: "ENV".into(), args: args.into() });
        assert_eq!(env("A=1 B=\"two words\""), [("A".to_string(), "1".to_string()), ("B".into(), "two words".into())]);
        assert_eq!(env("TOKEN abc def"), [("TOKEN".to_string(), "abc def".to_string())]);
        assert_eq!(assignments(&Instruction { line: 1, keyword: "ARG".into(), args: "NAME".into() }), [("NAME".to_string(), String::new())]);
    }
}
