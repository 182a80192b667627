//! `kdeck init taskfile`: the Taskfile (go-task) whose `k8s:*` tasks call kdeck,
//! for teams that keep their chores in Taskfiles, and its include in the root
//! Taskfile — added by a careful text edit that keeps the file's comments and
//! layout, or printed for the user when the file's shape makes that unsafe.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The generated Taskfile.
pub const KUBERNETES: &str = include_str!("kubernetes.yaml");
/// Where it goes, relative to the project root.
pub const PATH: &str = ".taskfiles/kubernetes/Taskfile.yaml";
/// The include line's key (the task namespace) and value.
pub const ALIAS: &str = "k8s";
pub const INCLUDE: &str = "./.taskfiles/kubernetes";
/// The names go-task looks for, in its order.
const ROOT_NAMES: &[&str] = &["Taskfile.yml", "taskfile.yml", "Taskfile.yaml", "taskfile.yaml"];

/// What `write` did, one line per file.
#[derive(Debug, Default)]
pub struct Report {
    pub lines: Vec<String>,
    /// Set when the include could not be added safely: what to add by hand.
    pub manual_include: Option<String>,
}

/// Writes the Taskfile under `dir` and includes it from the root Taskfile.
pub fn write(dir: &Path, force: bool) -> Result<Report> {
    let mut report = Report::default();
    let target = dir.join(PATH);
    match std::fs::read_to_string(&target) {
        Ok(existing) if existing == KUBERNETES => report.lines.push(format!("{} is up to date", target.display())),
        Ok(_) if !force => {
            return Err(
                Error::usage(format!("{} exists and differs from what kdeck writes", target.display())).hint("keep your edits, or overwrite it with --force")
            );
        }
        _ => {
            write_file(&target, KUBERNETES)?;
            report.lines.push(format!("wrote {}", target.display()));
        }
    }
    let root = ROOT_NAMES.iter().map(|n| dir.join(n)).find(|p| p.exists());
    let Some(root) = root else {
        let path = dir.join("Taskfile.yaml");
        write_file(&path, &format!("# yaml-language-server: $schema=https://taskfile.dev/schema.json\nversion: \"3\"\n\nincludes:\n  {ALIAS}: {INCLUDE}\n"))?;
        report.lines.push(format!("wrote {} including {INCLUDE} as {ALIAS}", path.display()));
        return Ok(report);
    };
    let text = std::fs::read_to_string(&root).map_err(|e| Error::failure(format!("cannot read {}: {e}", root.display())))?;
    match add_include(&text) {
        Ok(None) => report.lines.push(format!("{} already includes {ALIAS}", root.display())),
        Ok(Some(edited)) => {
            write_file(&root, &edited)?;
            report.lines.push(format!("added the include {ALIAS}: {INCLUDE} to {}", root.display()));
        }
        Err(why) => report.manual_include = Some(format!("{why}; add this to {} yourself:\n\nincludes:\n  {ALIAS}: {INCLUDE}\n", root.display())),
    }
    Ok(report)
}

fn write_file(path: &PathBuf, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::failure(format!("cannot create {}: {e}", parent.display())))?;
    }
    std::fs::write(path, text).map_err(|e| Error::failure(format!("cannot write {}: {e}", path.display())))
}

/// The root Taskfile with the include added: `Ok(None)` when it is there already,
/// `Err(why)` when the file's shape makes a text edit unsafe.
pub fn add_include(text: &str) -> std::result::Result<Option<String>, String> {
    let parsed: serde_json::Value = serde_saphyr::from_str(text).map_err(|e| format!("the root Taskfile is not valid YAML ({e})"))?;
    match &parsed["includes"][ALIAS] {
        serde_json::Value::Null => {}
        serde_json::Value::String(s) if s.trim_end_matches('/') == INCLUDE || s.trim_start_matches("./") == INCLUDE.trim_start_matches("./") => {
            return Ok(None);
        }
        other => return Err(format!("its include {ALIAS} already points elsewhere ({other})")),
    }
    let lines: Vec<&str> = text.lines().collect();
    let includes_at = lines.iter().position(|l| l.starts_with("includes:"));
    let edited = match includes_at {
        Some(at) => {
            let rest = lines[at]["includes:".len()..].trim();
            if !(rest.is_empty() || rest.starts_with('#')) {
                return Err("its includes are written inline".into());
            }
            let indent = lines[at + 1..]
                .iter()
                .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                .map(|l| l.len() - l.trim_start().len())
                .filter(|n| *n > 0)
                .unwrap_or(2);
            let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            out.insert(at + 1, format!("{}{ALIAS}: {INCLUDE}", " ".repeat(indent)));
            out.join("\n") + "\n"
        }
        None => format!("{}{}\nincludes:\n  {ALIAS}: {INCLUDE}\n", text, if text.ends_with('\n') { "" } else { "\n" }),
    };
    let check: serde_json::Value = serde_saphyr::from_str(&edited).map_err(|e| format!("the edit would not parse ({e})"))?;
    if check["includes"][ALIAS] != INCLUDE {
        return Err("the edit would not add the include where go-task reads it".into());
    }
    Ok(Some(edited))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_include_is_added_keeping_the_file_as_it_was() {
        let root = "# my tasks\nversion: \"3\"\n\nincludes:\n    bootstrap: ./.taskfiles/bootstrap # talos\n\ntasks:\n  default: task --list\n";
        let edited = add_include(root).unwrap().unwrap();
        assert_eq!(
            edited,
            "# my tasks\nversion: \"3\"\n\nincludes:\n    k8s: ./.taskfiles/kubernetes\n    bootstrap: ./.taskfiles/bootstrap # talos\n\ntasks:\n  default: task --list\n"
        );
        assert_eq!(add_include(&edited).unwrap(), None, "a second run changes nothing");

        let without = "version: '3'\ntasks:\n  a: echo a";
        assert_eq!(add_include(without).unwrap().unwrap(), "version: '3'\ntasks:\n  a: echo a\n\nincludes:\n  k8s: ./.taskfiles/kubernetes\n");
    }

    #[test]
    fn shapes_that_cannot_be_edited_safely_are_left_alone() {
        assert!(add_include("version: '3'\nincludes: {x: ./x}\n").unwrap_err().contains("inline"));
        assert!(add_include("version: '3'\nincludes:\n  k8s: ./elsewhere\n").unwrap_err().contains("points elsewhere"));
        assert!(add_include("version: [\n").unwrap_err().contains("not valid YAML"));
    }

    #[test]
    fn the_example_ships_what_kdeck_writes() {
        let shipped = include_str!("../../../../examples/home-ops/.taskfiles/kubernetes/Taskfile.yaml");
        assert_eq!(shipped, KUBERNETES, "regenerate with: kdeck init taskfile --dir examples/home-ops --force");
    }
}
