//! Output for people and for scripts: aligned tables, and JSON with a stable shape.

use std::io::Write;

pub mod pipe;
pub mod sarif;
pub mod terminal;

use clap::ValueEnum;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Tables and text for people.
    #[default]
    Text,
    /// JSON for scripts.
    Json,
}

/// Prints rows as columns separated by three spaces, the header first.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i < last {
                out.push_str(&" ".repeat(widths[i] - cell.chars().count() + 3));
            }
        }
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// Asks before a destructive action: `--yes` answers for the user; on a terminal the
/// user must type "y"; without a terminal kdeck refuses rather than guess.
pub fn confirm(question: &str, yes: bool) -> crate::error::Result<()> {
    ask(&format!("{question} [y/N] "), question, yes, |answer| matches!(answer, "y" | "Y" | "yes"))
}

/// Like [`confirm`], but the user must type `word` exactly.
pub fn confirm_word(question: &str, word: &str, yes: bool) -> crate::error::Result<()> {
    ask(&format!("{question} Type {word:?} to continue: "), question, yes, |answer| answer == word)
}

fn ask(prompt: &str, question: &str, yes: bool, accepts: impl Fn(&str) -> bool) -> crate::error::Result<()> {
    use std::io::IsTerminal;
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        // "Delete …? " or "This deletes every order." read as the start of a sentence.
        let question = question.trim_end().trim_end_matches(['.', '?', ':', '!']);
        return Err(crate::error::Error::usage(format!("{question}: refusing without --yes, since there is no terminal to confirm on"))
            .hint("check the plan with --dry-run, then pass --yes"));
    }
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    if accepts(answer.trim()) { Ok(()) } else { Err(crate::error::Error::failure("cancelled; nothing was changed")) }
}

/// Whether stdout is a terminal people read (progress and waits default on there).
pub fn is_interactive() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal()
}

pub fn print_json(value: &serde_json::Value) {
    JSON_PRINTED.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, value);
    let _ = writeln!(out);
}

/// Whether the command asked for JSON output, and whether it printed its document:
/// with `-o json`, every outcome prints one — a failure too, with the error in it.
static JSON_WANTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static JSON_PRINTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Records that the command's output is JSON (so a failure is printed as JSON too).
pub fn want_json(format: OutputFormat) {
    if format == OutputFormat::Json {
        JSON_WANTED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The error as the `error` member of a JSON document.
pub fn error_json(error: &crate::error::Error) -> serde_json::Value {
    serde_json::json!({"message": error.message, "hints": error.hints, "exitCode": error.code.code()})
}

/// For `main`: a JSON command that failed before printing its document prints
/// `{"error": …}`, so a script always has a document to read.
pub fn print_json_failure(error: &crate::error::Error) {
    if JSON_WANTED.load(std::sync::atomic::Ordering::Relaxed) && !JSON_PRINTED.load(std::sync::atomic::Ordering::Relaxed) {
        print_json(&serde_json::json!({"error": error_json(error)}));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_line_up() {
        let t = super::table(&["NAME", "STATUS"], &[vec!["a".into(), "running".into()], vec!["longer".into(), "stopped".into()]]);
        assert_eq!(t, "NAME     STATUS\na        running\nlonger   stopped\n");
    }
}
