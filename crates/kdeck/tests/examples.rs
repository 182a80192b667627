//! Every command of every example's README, run as written, in order, on a fresh
//! sandbox (the README starts it): the examples say what works.
//!
//! Lines marked `(needs Docker)` run only where a Docker engine answers; a line
//! whose comment says it `asks` is run without a terminal and must refuse
//! without `--yes` (exit 2), as the README says. Every other line must succeed.

mod common;

use std::path::{Path, PathBuf};

/// The shell commands of the ```sh blocks of `readme`, with their comments.
fn commands(readme: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut in_block = false;
    for line in readme.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block && line.trim() == "```sh";
            continue;
        }
        if !in_block || line.trim().is_empty() {
            continue;
        }
        let (command, comment) = match line.find(" #") {
            Some(i) => (line[..i].trim(), line[i + 2..].trim()),
            None => (line.trim(), ""),
        };
        out.push((command.to_string(), comment.to_string()));
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn docker_answers() -> bool {
    std::process::Command::new("docker").arg("info").output().is_ok_and(|o| o.status.success())
}

#[test]
fn every_example_readme_command_works_as_written() {
    // `kdeck up` renders kustomize: kustomize or kubectl must be there (CI installs them).
    let on_path = |name: &str| std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()));
    if !on_path("kubectl") && !on_path("kustomize") {
        assert!(std::env::var_os("CI").is_none_or(|v| v.is_empty()), "kubectl is not on PATH; CI installs it (scripts/install-clients)");
        eprintln!("skipped: neither kubectl nor kustomize is on PATH (scripts/install-clients installs them)");
        return;
    }
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut ran = 0;
    for example in std::fs::read_dir(&examples).unwrap().flatten() {
        let readme = example.path().join("README.md");
        let Ok(text) = std::fs::read_to_string(&readme) else { continue };
        let home = common::TestSandbox::new("sandbox");
        let dir = home.dir.path().join("example");
        copy_dir(&example.path(), &dir);
        // `kdeck` on PATH is the binary under test.
        let bin: PathBuf = home.dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(common::BIN, bin.join("kdeck")).unwrap();
        let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
        for (command, comment) in commands(&text) {
            if comment.contains("needs Docker") && !docker_answers() {
                eprintln!("skipped (no Docker engine): {command}");
                continue;
            }
            let mut shell = std::process::Command::new("sh");
            shell
                .arg("-c")
                .arg(&command)
                .current_dir(&dir)
                .env("PATH", &path)
                .env("KDECK_HOME", home.home())
                .env("KUBECONFIG", home.kubeconfig())
                .env("NO_COLOR", "1")
                .env_remove("KDECK_FLAVOR")
                .env_remove("KDECK_CONTEXT")
                .stdin(std::process::Stdio::null());
            let out = shell.output().unwrap();
            let said = format!(
                "{}: `{command}`\n--- stdout ---\n{}--- stderr ---\n{}",
                readme.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            if comment.contains("asks") {
                assert_eq!(out.status.code(), Some(2), "{said}");
                assert!(String::from_utf8_lossy(&out.stderr).contains("refusing without --yes"), "{said}");
            } else {
                assert!(out.status.success(), "{said}");
            }
            ran += 1;
        }
        let _ = home.run(&["sandbox", "delete", "--name", "sandbox"]);
    }
    assert!(ran >= 12, "the examples' commands ran ({ran})");
}

#[test]
fn commands_are_read_from_sh_blocks_with_their_comments() {
    let text = "intro\n```sh\nkdeck up   # starts it\n\nkdeck tasks\n```\n```yaml\nnot: this\n```\n";
    assert_eq!(commands(text), [("kdeck up".to_string(), "starts it".to_string()), ("kdeck tasks".to_string(), String::new())]);
}
