//! The examples of `examples/` as the stack tests run them: a copy in a test
//! sandbox's directory (to break as a user would), kdeck run there with a chosen
//! PATH, a stand-in `docker`, and the result lines of `kdeck up`/`verify`.

use std::path::{Path, PathBuf};

use super::TestSandbox;

/// The repository's `examples/` directory.
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

pub fn copy_dir(from: &Path, to: &Path) {
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

pub fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}

/// helm, and kubectl or kustomize, are on PATH (in CI they must be).
pub fn tools_for_stacks() -> bool {
    if on_path("helm") && (on_path("kubectl") || on_path("kustomize")) {
        return true;
    }
    assert!(std::env::var_os("CI").is_none_or(|v| v.is_empty()), "helm and kubectl must be on PATH in CI (scripts/install-clients)");
    eprintln!("skipped: helm, and kubectl or kustomize, must be on PATH (scripts/install-clients installs them)");
    false
}

/// Example `name` copied into `home`'s directory, and kdeck commands run there
/// with `home`'s environment and a PATH of `extra_path` then this machine's
/// directories, less those holding `hidden` tools.
pub struct Example<'a> {
    pub home: &'a TestSandbox,
    pub dir: PathBuf,
    pub path: std::ffi::OsString,
}

impl<'a> Example<'a> {
    pub fn new(home: &'a TestSandbox, name: &str, extra_path: Option<&Path>, hidden: &[&str]) -> Self {
        let dir = home.dir.path().join(name);
        copy_dir(&examples_dir().join(name), &dir);
        let dir = std::fs::canonicalize(dir).unwrap();
        let system = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .filter(|d| !hidden.iter().any(|tool| d.join(tool).exists()))
            .collect::<Vec<_>>();
        let path = std::env::join_paths(extra_path.map(Path::to_path_buf).into_iter().chain(system)).unwrap();
        Example { home, dir, path }
    }

    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = self.home.kdeck();
        cmd.current_dir(&self.dir)
            .args(args)
            .env("PATH", &self.path)
            .env_remove("KDECK_FLAVOR")
            .env_remove("KDECK_CONTEXT")
            .env_remove("OPENAI_API_KEY")
            .stdin(std::process::Stdio::null());
        cmd
    }

    /// `kdeck ARGS` with `env` added: (exit code, stdout, stderr).
    pub fn exec(&self, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
        let mut cmd = self.command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string())
    }

    /// `kdeck ARGS` with `env` added: (success, stdout, stderr).
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
        let (code, out, err) = self.exec(args, env);
        (code == Some(0), out, err)
    }

    /// Replaces `from` (which must be there) with `to` in the example's file `path`:
    /// a user's edit.
    pub fn edit(&self, path: &str, from: &str, to: &str) {
        let file = self.dir.join(path);
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains(from), "{path} has no {from:?}");
        std::fs::write(&file, text.replacen(from, to, 1)).unwrap();
    }
}

/// The line of check `name` in a `kdeck up`/`verify` output (`ok`, `FAIL` or
/// `skip`, the name, its time in parentheses, the detail).
pub fn check_line<'t>(text: &'t str, name: &str) -> Option<&'t str> {
    text.lines().find(|l| {
        l.split_once(' ').is_some_and(|(result, rest)| {
            let after = rest.trim_start().strip_prefix(name).and_then(|r| r.strip_prefix(" ("));
            matches!(result, "ok" | "FAIL" | "skip") && after.is_some_and(|a| a.starts_with(|c: char| c.is_ascii_digit()))
        })
    })
}

/// The result (`ok`, `FAIL`, `skip`) of check `name` in a `kdeck up`/`verify` output.
pub fn check_result<'t>(text: &'t str, name: &str) -> Option<&'t str> {
    check_line(text, name).and_then(|l| l.split(' ').next())
}

/// A stand-in `docker` in `dir/standin-bin`: an engine that answers, builds
/// that succeed (each call logged to `$STANDIN_LOG`), and images whose config
/// is what the build's Dockerfile puts in `ENV` in its last stage (kept in
/// `$STANDIN_IMAGES/<tag>.env`), as `docker image inspect` shows it.
pub fn standin_docker(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("standin-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = r#"#!/bin/sh
echo "docker $*" >> "$STANDIN_LOG"
case "$1" in
info) echo 27.0.0 ;;
build)
  shift; tag=; file=
  while [ $# -gt 1 ]; do
    case "$1" in -t) tag=$2; shift 2 ;; -f) file=$2; shift 2 ;; *) shift ;; esac
  done
  dockerfile=${file:-$1/Dockerfile}
  # A new stage starts with FROM: only the last stage's ENV is the image's.
  awk '/^FROM /{env=""} /^ENV /{for(i=2;i<=NF;i++) env=env (env==""?"":",") "\"" $i "\""} END{print env}' "$dockerfile" > "$STANDIN_IMAGES/$tag.env" ;;
image)
  for image; do :; done
  printf '{"User":"1001","Env":[%s],"Labels":{}}\n' "$(cat "$STANDIN_IMAGES/$image.env" 2>/dev/null)" ;;
*) echo "stand-in docker: unexpected: $*" >&2; exit 1 ;;
esac
"#;
    std::fs::write(bin.join("docker"), script).unwrap();
    std::fs::set_permissions(bin.join("docker"), std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}
