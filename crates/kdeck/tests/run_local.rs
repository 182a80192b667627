//! `kdeck run`, `kdeck tasks` and `kdeck config` end to end, with no cluster: the
//! real binary against temporary projects, with the `local` executor and the
//! `container` executor (a `docker` stand-in that records its calls and runs the
//! `compose exec` command on this machine). Every test checks what the tasks did
//! (files they wrote, what docker was called with), not only exit codes.
//!
//! Layout of each test's temporary directory:
//! `proj/` the project (kdeck.yaml), `out/` where tasks write their markers (`$OUT`),
//! `home/` HOME and KDECK_HOME, `bin/` stand-in programs, `docker-calls/` the
//! stand-in's records, `fakefs/` the stand-in container's file system.

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_kdeck");

/// How long one kdeck command may take before the test gives up on it.
const COMMAND_LIMIT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A temporary project: `kdeck.yaml` in `proj/`, plus the directories around it.
struct Project {
    dir: TempDir,
}

impl Project {
    fn new(yaml: &str) -> Project {
        let project = Project::empty();
        project.write("kdeck.yaml", yaml);
        project
    }

    /// The directories, but no kdeck.yaml.
    fn empty() -> Project {
        let dir = tempfile::tempdir().expect("temp dir");
        for sub in ["proj", "out", "home", "bin", "docker-calls", "fakefs"] {
            fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        Project { dir }
    }

    /// The temporary directory (canonical, so it compares with `pwd -P`).
    fn base(&self) -> PathBuf {
        self.dir.path().canonicalize().unwrap()
    }

    /// The project root.
    fn root(&self) -> PathBuf {
        self.base().join("proj")
    }

    /// Where tasks write their markers (`$OUT` in every task).
    fn out(&self) -> PathBuf {
        self.base().join("out")
    }

    fn bin(&self) -> PathBuf {
        self.base().join("bin")
    }

    /// Writes a file under the project root, creating its directories.
    fn write(&self, rel: &str, contents: &str) {
        let path = self.root().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, contents).unwrap();
    }

    fn mkdir(&self, rel: &str) {
        fs::create_dir_all(self.root().join(rel)).unwrap();
    }

    /// A file under the project root.
    fn read(&self, rel: &str) -> String {
        let path = self.root().join(rel);
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    }

    /// A marker file a task wrote to `$OUT`.
    fn marker(&self, name: &str) -> String {
        String::from_utf8(self.marker_bytes(name)).unwrap()
    }

    fn marker_bytes(&self, name: &str) -> Vec<u8> {
        let path = self.out().join(name);
        fs::read(&path).unwrap_or_else(|e| panic!("the task should have written {}: {e}", path.display()))
    }

    fn has_marker(&self, name: &str) -> bool {
        self.out().join(name).exists()
    }

    /// The markers tasks wrote.
    fn markers(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.out()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    /// Every path under the project root, relative.
    fn tree(&self) -> BTreeSet<String> {
        fn walk(dir: &Path, root: &Path, into: &mut BTreeSet<String>) {
            for entry in fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                into.insert(path.strip_prefix(root).unwrap().display().to_string());
                if path.is_dir() {
                    walk(&path, root, into);
                }
            }
        }
        let mut tree = BTreeSet::new();
        walk(&self.root(), &self.root(), &mut tree);
        tree
    }

    /// `kdeck ARGS` in the project root.
    fn kdeck(&self, args: &[&str]) -> Kdeck {
        Kdeck::new(self, args)
    }

    /// Puts the docker stand-in first on PATH for `kdeck`.
    fn install_docker(&self) {
        let path = self.bin().join("docker");
        fs::write(&path, DOCKER_STAND_IN).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// A bin directory with only a shell in it (no docker), for PATH.
    fn shell_only_bin(&self) -> PathBuf {
        let dir = self.base().join("shell-only-bin");
        fs::create_dir_all(&dir).unwrap();
        for program in ["bash", "sh"] {
            let target = which(program).unwrap_or_else(|| panic!("{program} is needed by these tests"));
            std::os::unix::fs::symlink(target, dir.join(program)).unwrap();
        }
        dir
    }

    /// The docker stand-in's calls, in order: each its argv, its environment, its directory.
    fn docker_calls(&self) -> Vec<DockerCall> {
        let dir = self.base().join("docker-calls");
        let mut calls = Vec::new();
        for n in 1.. {
            let argv = dir.join(format!("{n}.argv"));
            if !argv.exists() {
                break;
            }
            let split = |bytes: Vec<u8>| -> Vec<String> {
                bytes.split(|b| *b == 0).filter(|part| !part.is_empty()).map(|part| String::from_utf8_lossy(part).into_owned()).collect()
            };
            let env = split(fs::read(dir.join(format!("{n}.env"))).unwrap())
                .into_iter()
                .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
                .collect();
            let cwd = fs::read_to_string(dir.join(format!("{n}.cwd"))).unwrap().trim_end().to_string();
            calls.push(DockerCall { argv: split(fs::read(argv).unwrap()), env, cwd });
        }
        calls
    }
}

struct DockerCall {
    argv: Vec<String>,
    env: Vec<(String, String)>,
    cwd: String,
}

impl DockerCall {
    fn env(&self, name: &str) -> Option<&str> {
        self.env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| p.is_file())
}

/// A stand-in for `docker`. Each call records its argv (NUL-separated, so newlines
/// survive), its whole environment (`env -0`) and its directory as
/// `$DOCKER_RECORD/N.{argv,env,cwd}`. `info` answers, or fails like a stopped engine
/// when `DOCKER_INFO_FAIL` is set. `compose … exec [opts] SERVICE CMD…` runs CMD
/// here, in `$DOCKER_FAKE_ROOT$WORKDIR` when `-w WORKDIR` is given.
const DOCKER_STAND_IN: &str = r#"#!/bin/sh
set -eu
rec="${DOCKER_RECORD:?}"
n=1
while [ -e "$rec/$n.argv" ]; do n=$((n + 1)); done
env -0 > "$rec/$n.env"
pwd -P > "$rec/$n.cwd"
for arg in "$@"; do printf '%s\000' "$arg"; done > "$rec/$n.tmp"
mv "$rec/$n.tmp" "$rec/$n.argv"
case "${1:-}" in
info)
    if [ -n "${DOCKER_INFO_FAIL:-}" ]; then
        echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
        echo "a second line that is not the reason" >&2
        exit 1
    fi
    echo 27.3.1
    exit 0
    ;;
compose)
    shift
    while [ $# -gt 0 ]; do
        case "$1" in
            exec) shift; break ;;
            -f|--file|-p|--project-name|--project-directory|--env-file) shift 2 ;;
            *) shift ;;
        esac
    done
    workdir=""
    while [ $# -gt 0 ]; do
        case "$1" in
            -e|--env|-u|--user|--index) shift 2 ;;
            -w|--workdir) workdir="$2"; shift 2 ;;
            -*) shift ;;
            *) break ;;
        esac
    done
    shift # the service
    if [ -n "$workdir" ]; then cd "${DOCKER_FAKE_ROOT:?}$workdir"; fi
    exec "$@"
    ;;
*)
    echo "docker stand-in: unexpected call: $*" >&2
    exit 125
    ;;
esac
"#;

/// One kdeck command being set up: a clean environment (PATH, HOME, `OUT`), the
/// project root as its directory, stdin empty unless given.
struct Kdeck {
    command: Command,
    shown: String,
    stdin: Vec<u8>,
}

impl Kdeck {
    fn new(project: &Project, args: &[&str]) -> Kdeck {
        let base = project.base();
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into()))
            .env("HOME", base.join("home"))
            .env("KDECK_HOME", base.join("home").join(".kdeck"))
            .env("KUBECONFIG", base.join("home").join("no-kubeconfig"))
            .env("NO_COLOR", "1")
            .env("OUT", project.out())
            .env("DOCKER_RECORD", base.join("docker-calls"))
            .env("DOCKER_FAKE_ROOT", base.join("fakefs"))
            .current_dir(project.root());
        Kdeck { command, shown: format!("kdeck {}", args.join(" ")), stdin: Vec::new() }
    }

    fn env(mut self, name: &str, value: impl AsRef<std::ffi::OsStr>) -> Kdeck {
        self.command.env(name, value);
        self
    }

    /// PATH is exactly this.
    fn path(mut self, path: impl AsRef<std::ffi::OsStr>) -> Kdeck {
        self.command.env("PATH", path);
        self
    }

    /// `dir` first on the usual PATH.
    fn path_first(self, dir: &Path) -> Kdeck {
        let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default());
        self.path(path)
    }

    fn current_dir(mut self, dir: &Path) -> Kdeck {
        self.command.current_dir(dir);
        self.shown = format!("(in {}) {}", dir.display(), self.shown);
        self
    }

    fn stdin(mut self, bytes: &[u8]) -> Kdeck {
        self.stdin = bytes.to_vec();
        self
    }

    /// Runs it (at most [`COMMAND_LIMIT`]). Never a panic of kdeck's: exit code 101
    /// or a panic message fails the test whatever else it expects.
    fn run(mut self) -> Out {
        let started = Instant::now();
        let mut child = self.command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start kdeck");
        let mut stdin = child.stdin.take().unwrap();
        let input = std::mem::take(&mut self.stdin);
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let read = |mut pipe: Box<dyn Read + Send>| {
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = pipe.read_to_end(&mut bytes);
                let _ = tx.send(bytes);
            });
            rx
        };
        let stdout = read(Box::new(child.stdout.take().unwrap()));
        let stderr = read(Box::new(child.stderr.take().unwrap()));
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > COMMAND_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`{}` did not finish within {COMMAND_LIMIT:?}", self.shown);
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let collect = |rx: mpsc::Receiver<Vec<u8>>| rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
        let (stdout, stderr) = (collect(stdout), collect(stderr));
        let out = Out {
            command: self.shown,
            code: status.code().unwrap_or_else(|| panic!("kdeck was killed by a signal: {status:?}")),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            elapsed: started.elapsed(),
        };
        assert!(out.code != 101 && !out.stderr.contains("panicked at"), "kdeck panicked: {out}");
        out
    }
}

/// What a kdeck command did.
struct Out {
    command: String,
    code: i32,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` exited {}\n--- stdout ---\n{}--- stderr ---\n{}", self.command, self.code, self.stdout, self.stderr)
    }
}

impl Out {
    /// Asserts exit code 0.
    fn ok(self) -> Out {
        assert_eq!(self.code, 0, "expected success: {self}");
        self
    }

    /// Asserts the exit code.
    fn code(self, code: i32) -> Out {
        assert_eq!(self.code, code, "expected exit code {code}: {self}");
        self
    }

    /// Asserts stderr holds each fragment.
    fn stderr_has(self, fragments: &[&str]) -> Out {
        for fragment in fragments {
            assert!(self.stderr.contains(fragment), "stderr should contain {fragment:?}: {self}");
        }
        self
    }

    fn stdout_has(self, fragments: &[&str]) -> Out {
        for fragment in fragments {
            assert!(self.stdout.contains(fragment), "stdout should contain {fragment:?}: {self}");
        }
        self
    }

    /// Neither stdout nor stderr holds `text`.
    fn nowhere(self, text: &str) -> Out {
        assert!(!self.stdout.contains(text) && !self.stderr.contains(text), "{text:?} must not be printed: {self}");
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self}"))
    }
}

/// `value` as a YAML double-quoted scalar, whatever it holds.
fn yaml_quoted(value: &str) -> String {
    let mut quoted = String::from("\"");
    for c in value.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// Bad input: exit code 2, the message holds each fragment, and nothing ran (no
/// task marker, no task log).
fn assert_refused(project: &Project, out: Out, fragments: &[&str]) -> Out {
    let out = out.code(2).stderr_has(fragments);
    assert!(project.markers().is_empty(), "nothing may run, yet tasks wrote {:?}: {out}", project.markers());
    assert!(!project.root().join(".kdeck").join("logs").exists(), "nothing may run, yet there are task logs: {out}");
    out
}

// ---------------------------------------------------------------------------
// local
// ---------------------------------------------------------------------------

#[test]
fn local_env_values_with_quotes_spaces_dollars_backslashes_and_newlines_arrive_intact() {
    let tricky = "it's \"quoted\"  two  spaces $HOME `id` $(id) back\\slash ${HOME} trailing\\\nsecond line\n";
    let yaml = format!(
        r#"
tasks:
  envs:
    env:
      TRICKY: {}
      EMPTY: ""
    script: |
      printf '%s' "$TRICKY" > "$OUT/tricky"
      printf '%s' "$EMPTY" > "$OUT/empty"
"#,
        yaml_quoted(tricky)
    );
    let project = Project::new(&yaml);
    project.kdeck(&["run", "envs"]).run().ok();
    assert_eq!(project.marker_bytes("tricky"), tricky.as_bytes(), "TRICKY must arrive byte for byte");
    assert_eq!(project.marker("empty"), "");
}

#[test]
fn local_args_after_double_dash_become_positional_parameters() {
    let project = Project::new(
        r#"
tasks:
  args:
    script: |
      printf '%s' "$#" > "$OUT/count"
      printf '%s' "$1" > "$OUT/one"
      printf '%s' "$2" > "$OUT/two"
      printf '%s|' "$@" > "$OUT/all"
      printf '%s' "$0" > "$OUT/zero"
"#,
    );
    project.kdeck(&["run", "args", "--", "two words", "$HOME and ${x}", "--flag"]).run().ok();
    assert_eq!(project.marker("count"), "3");
    assert_eq!(project.marker("one"), "two words");
    assert_eq!(project.marker("two"), "$HOME and ${x}");
    assert_eq!(project.marker("all"), "two words|$HOME and ${x}|--flag|");
    assert_eq!(project.marker("zero"), "kdeck-task");
}

#[test]
fn local_expands_env_and_vars_references_and_leaves_shell_syntax_alone() {
    let project = Project::new(
        r#"
vars:
  region: eu-west
  tier: top
tasks:
  expand:
    vars:
      tier: task-level
    env:
      FROM_ENV: "${env:KDECK_TEST_INPUT}"
      WITH_DEFAULT: "${env:KDECK_TEST_UNSET_ABC:-fallback value}"
      SET_WITH_DEFAULT: "${env:KDECK_TEST_INPUT:-unused}"
      FROM_VARS: "${vars:region}/${vars:tier}"
    script: |
      printf '%s' "$FROM_ENV" > "$OUT/from_env"
      printf '%s' "$WITH_DEFAULT" > "$OUT/with_default"
      printf '%s' "$SET_WITH_DEFAULT" > "$OUT/set_with_default"
      printf '%s' "$FROM_VARS" > "$OUT/from_vars"
      printf '%s' "${vars:region}" > "$OUT/in_script"
      printf '%s' '\${vars:region}' > "$OUT/escaped"
      printf '%s' "${SHELL_ONLY:-shell default}" > "$OUT/shell"
"#,
    );
    project.kdeck(&["run", "expand"]).env("KDECK_TEST_INPUT", "input value").run().ok();
    assert_eq!(project.marker("from_env"), "input value");
    assert_eq!(project.marker("with_default"), "fallback value");
    assert_eq!(project.marker("set_with_default"), "input value");
    assert_eq!(project.marker("from_vars"), "eu-west/task-level", "task vars override top-level vars");
    assert_eq!(project.marker("in_script"), "eu-west");
    assert_eq!(project.marker("escaped"), "${vars:region}", r"\${{ is a literal ${{");
    assert_eq!(project.marker("shell"), "shell default", "the shell's own ${{…}} is left alone");
}

#[test]
fn local_tasks_run_in_the_component_directory_plus_workdir() {
    let project = Project::new(
        r#"
components:
  api:
    path: services/api
tasks:
  root-pwd:
    script: pwd -P > "$OUT/root-pwd"
  component-pwd:
    component: api
    script: pwd -P > "$OUT/component-pwd"
  workdir-pwd:
    component: api
    workdir: sub/dir
    script: pwd -P > "$OUT/workdir-pwd"
"#,
    );
    project.mkdir("services/api/sub/dir");
    project.kdeck(&["run", "root-pwd", "component-pwd", "workdir-pwd"]).run().ok();
    let root = project.root();
    assert_eq!(project.marker("root-pwd").trim_end(), root.display().to_string(), "a task without a component runs in the project root");
    assert_eq!(project.marker("component-pwd").trim_end(), root.join("services/api").display().to_string());
    assert_eq!(project.marker("workdir-pwd").trim_end(), root.join("services/api/sub/dir").display().to_string());
}

#[test]
fn local_component_tasks_run_as_component_colon_task_in_its_directory() {
    let project = Project::new(
        r#"
components:
  api:
    path: api
    tasks:
      migrate:
        description: Run the migrations
        script: |
          pwd -P > "$OUT/migrate-pwd"
          echo migrated
"#,
    );
    project.mkdir("api");
    let out = project.kdeck(&["run", "api:migrate"]).run().ok();
    assert_eq!(out.stdout, "migrated\n");
    assert_eq!(project.marker("migrate-pwd").trim_end(), project.root().join("api").display().to_string());
    assert!(project.read(".kdeck/logs/api:migrate.log").contains("migrated"), "the component task's log");
}

#[test]
fn local_stdin_is_piped_into_the_task() {
    let project = Project::new(
        r#"
tasks:
  slurp:
    script: cat > "$OUT/stdin"
"#,
    );
    let input = b"line one\nline 'two' $x\n\xff raw byte\n";
    project.kdeck(&["run", "slurp"]).stdin(input).run().ok();
    assert_eq!(project.marker_bytes("stdin"), input);
}

#[test]
fn local_exit_code_passes_through() {
    let project = Project::new(
        r#"
tasks:
  seven:
    script: |
      echo before
      : > "$OUT/before-exit"
      exit 7
"#,
    );
    let out = project.kdeck(&["run", "seven"]).run().code(7);
    assert!(out.stdout.contains("before"), "{out}");
    assert!(project.has_marker("before-exit"));
}

#[test]
fn local_single_task_output_keeps_stdout_and_stderr_apart_and_in_order() {
    let project = Project::new(
        r#"
tasks:
  streams:
    script: |
      echo a
      echo b >&2
      echo c
"#,
    );
    let out = project.kdeck(&["run", "streams"]).run().ok();
    assert_eq!(out.stdout, "a\nc\n", "stdout has a then c, unprefixed: {out}");
    assert!(out.stderr.lines().any(|l| l == "b"), "stderr has b as its own line: {out}");
    assert!(!out.stdout.contains('b'), "{out}");
}

#[test]
fn local_scripts_stop_at_the_first_failing_command() {
    let project = Project::new(
        r#"
tasks:
  errexit:
    script: |
      false
      : > "$OUT/after-false"
  pipefail:
    script: |
      false | true
      : > "$OUT/after-pipe"
  nounset:
    script: |
      echo "$KDECK_TEST_SURELY_UNSET_VARIABLE"
      : > "$OUT/after-unset"
"#,
    );
    project.kdeck(&["run", "errexit"]).run().code(1);
    assert!(!project.has_marker("after-false"), "set -e: the script stops at `false`");
    let out = project.kdeck(&["run", "pipefail"]).run();
    assert_ne!(out.code, 0, "pipefail: {out}");
    assert!(!project.has_marker("after-pipe"), "pipefail: the script stops at the failing pipeline");
    let out = project.kdeck(&["run", "nounset"]).run();
    assert_ne!(out.code, 0, "set -u: {out}");
    assert!(!project.has_marker("after-unset"), "set -u: the script stops at the unset variable");
}

#[test]
fn local_command_argv_runs_without_a_shell_and_gets_the_args_appended() {
    let project = Project::new(
        r#"
tasks:
  argv:
    command: ["printf", "%s|", "x y", "$HOME", "; echo injected"]
  line:
    command: "printf '%s' \"$1\" > \"$OUT/line\""
"#,
    );
    let out = project.kdeck(&["run", "argv", "--", "a b", "$c"]).run().ok();
    assert_eq!(out.stdout, "x y|$HOME|; echo injected|a b|$c|", "argv runs as is, no shell: {out}");
    project.kdeck(&["run", "line", "--", "from line"]).run().ok();
    assert_eq!(project.marker("line"), "from line", "a command string runs under the shell");
}

#[test]
fn task_output_is_logged_and_older_logs_rotate() {
    let project = Project::new(
        r#"
tasks:
  greet:
    script: |
      echo "hello $1"
      echo "to stderr $1" >&2
"#,
    );
    project.kdeck(&["run", "greet", "--", "first"]).run().ok();
    let log = project.read(".kdeck/logs/greet.log");
    assert!(log.contains("hello first") && log.contains("to stderr first"), "the log has stdout and stderr:\n{log}");
    project.kdeck(&["run", "greet", "--", "second"]).run().ok();
    let newest = project.read(".kdeck/logs/greet.log");
    let older = project.read(".kdeck/logs/greet.1.log");
    assert!(newest.contains("hello second") && !newest.contains("hello first"), "newest log:\n{newest}");
    assert!(older.contains("hello first") && !older.contains("hello second"), "rotated log:\n{older}");
}

#[test]
fn task_timeout_stops_a_long_task() {
    let project = Project::new(
        r#"
tasks:
  slow:
    timeout: 1s
    script: |
      : > "$OUT/started"
      exec sleep 20
"#,
    );
    let out = project.kdeck(&["run", "slow"]).run();
    assert_ne!(out.code, 0, "a task past its timeout fails: {out}");
    assert!(out.elapsed < Duration::from_secs(10), "the timeout stops it early (took {:?}): {out}", out.elapsed);
    assert!(project.has_marker("started"));
}

// ---------------------------------------------------------------------------
// container (docker stand-in)
// ---------------------------------------------------------------------------

const CONTAINER_PROJECT: &str = r#"
vars:
  suffix: xyz
components:
  api:
    path: api
    compose:
      service: api
      file: compose.yaml
tasks:
  migrate:
    component: api
    executors: [container]
    workdir: /app
    env:
      DB_PASSWORD: "pw-${vars:suffix}-secret-value"
      MODE: "fast mode 'quoted' $x"
    script: |
      printf '%s' "$DB_PASSWORD" > "$OUT/password"
      printf '%s' "$MODE" > "$OUT/mode"
      printf '%s|' "$@" > "$OUT/args"
      pwd -P > "$OUT/pwd"
      echo "migrated in container"
  implied:
    component: api
    script: |
      : > "$OUT/implied-ran"
      exit 5
  shell:
    component: api
    executors: [container]
    interactive: true
    script: echo interactive-ok
  either:
    component: api
    executors: [local, container]
    script: |
      : > "$OUT/either-ran"
  fallback:
    component: api
    script: |
      pwd -P > "$OUT/fallback-ran"
"#;

fn container_project() -> Project {
    let project = Project::new(CONTAINER_PROJECT);
    project.write("compose.yaml", "services:\n  api:\n    image: example/api\n");
    project.mkdir("api");
    fs::create_dir_all(project.base().join("fakefs/app")).unwrap();
    project.install_docker();
    project
}

#[test]
fn container_runs_docker_compose_exec_with_env_names_only_and_the_workdir() {
    let project = container_project();
    let out = project.kdeck(&["run", "migrate", "--", "arg1", "two words"]).path_first(&project.bin()).run().ok();
    assert!(out.stdout.contains("migrated in container"), "the task's output is streamed: {out}");

    let calls = project.docker_calls();
    assert_eq!(calls.len(), 2, "docker info, then docker compose exec: {:?}", calls.iter().map(|c| &c.argv).collect::<Vec<_>>());
    assert_eq!(calls[0].argv, ["info", "--format", "{{.ServerVersion}}"]);

    let exec = &calls[1];
    let argv = &exec.argv;
    assert_eq!(&argv[..2], ["compose", "-f"], "{argv:?}");
    let compose_file = project.root().join(&argv[2]);
    assert_eq!(compose_file.canonicalize().unwrap(), project.root().join("compose.yaml"), "{argv:?}");
    assert_eq!(&argv[3..5], ["exec", "-T"], "{argv:?}");
    let mut names = BTreeSet::new();
    let mut at = 5;
    while argv[at] == "-e" {
        names.insert(argv[at + 1].clone());
        at += 2;
    }
    assert_eq!(names, BTreeSet::from(["DB_PASSWORD".to_string(), "MODE".to_string()]), "`-e NAME` for each env var: {argv:?}");
    assert_eq!(&argv[at..at + 6], ["-w", "/app", "api", "sh", "-euc", argv[at + 5].as_str()], "{argv:?}");
    assert!(argv[at + 5].contains("migrated in container"), "the wrapper holds the script: {argv:?}");
    assert_eq!(&argv[at + 6..], ["kdeck-task", "arg1", "two words"], "{argv:?}");

    for value in ["pw-xyz-secret-value", "fast mode 'quoted' $x"] {
        assert!(argv.iter().all(|a| !a.contains(value)), "env value {value:?} must not be on docker's command line: {argv:?}");
    }
    assert!(!out.stdout.contains("pw-xyz-secret-value") && !out.stderr.contains("pw-xyz-secret-value"), "{out}");
    assert_eq!(exec.env("DB_PASSWORD"), Some("pw-xyz-secret-value"), "values reach docker through its environment");
    assert_eq!(exec.env("MODE"), Some("fast mode 'quoted' $x"));
    assert_eq!(exec.cwd, project.root().display().to_string(), "docker compose runs from the project root");

    assert_eq!(project.marker("password"), "pw-xyz-secret-value");
    assert_eq!(project.marker("mode"), "fast mode 'quoted' $x");
    assert_eq!(project.marker("args"), "arg1|two words|");
    assert_eq!(project.marker("pwd").trim_end(), project.base().join("fakefs/app").display().to_string());
    assert!(project.read(".kdeck/logs/migrate.log").contains("migrated in container"));
}

#[test]
fn container_is_the_implied_first_executor_for_compose_components_and_exit_codes_pass_through() {
    let project = container_project();
    project.kdeck(&["run", "implied"]).path_first(&project.bin()).run().code(5);
    assert!(project.has_marker("implied-ran"));
    let calls = project.docker_calls();
    assert_eq!(calls.len(), 2, "{:?}", calls.iter().map(|c| &c.argv).collect::<Vec<_>>());
    assert_eq!(calls[1].argv[0], "compose");
    assert!(calls[1].argv.contains(&"exec".to_string()));
}

#[test]
fn container_picked_with_dash_x_over_a_listed_local() {
    let project = container_project();
    project.kdeck(&["run", "either"]).path_first(&project.bin()).run().ok();
    assert!(project.has_marker("either-ran"));
    let calls = project.docker_calls();
    assert!(calls.iter().all(|c| c.argv.first().map(String::as_str) != Some("compose")), "local is listed first, so no docker compose");
    fs::remove_file(project.out().join("either-ran")).unwrap();
    project.kdeck(&["run", "either", "-x", "container"]).path_first(&project.bin()).run().ok();
    assert!(project.has_marker("either-ran"));
    let calls = project.docker_calls();
    assert!(calls.iter().any(|c| c.argv.first().map(String::as_str) == Some("compose")), "-x container goes through docker compose");
}

#[test]
fn dash_x_applies_to_every_task_of_the_run_and_refuses_a_pre_task_that_cannot_use_it() {
    let project = container_project();
    let yaml = format!(
        "{CONTAINER_PROJECT}  prep:\n    executors: [local]\n    script: pwd -P > \"$OUT/prep\"\n  ship:\n    component: api\n    executors: [local, container]\n    pre: [prep]\n    script: ': > \"$OUT/ship\"'\n"
    );
    project.write("kdeck.yaml", &yaml);
    let out = project.kdeck(&["run", "-x", "container", "ship"]).path_first(&project.bin()).run().code(2);
    out.stderr_has(&["task prep does not run with the container executor", "it runs with: local"]);
    assert!(project.markers().is_empty(), "nothing ran");
    assert!(project.docker_calls().iter().all(|c| c.argv.first().map(String::as_str) != Some("compose")));
    // Both can run locally: -x local runs the pre task and the named one there.
    project.kdeck(&["run", "-x", "local", "ship"]).path_first(&project.bin()).run().ok();
    assert!(project.has_marker("prep") && project.has_marker("ship"));
}

#[test]
fn container_interactive_tasks_omit_dash_t() {
    let project = container_project();
    let out = project.kdeck(&["run", "shell"]).path_first(&project.bin()).run().ok();
    assert!(out.stdout.contains("interactive-ok"), "{out}");
    let calls = project.docker_calls();
    let exec = calls.iter().find(|c| c.argv.first().map(String::as_str) == Some("compose")).expect("a compose call");
    let service = exec.argv.iter().position(|a| a == "api").unwrap();
    assert!(exec.argv.contains(&"exec".to_string()));
    assert!(!exec.argv[..service].contains(&"-T".to_string()), "no -T for an interactive task: {:?}", exec.argv);
}

#[test]
fn container_engine_not_running_fails_before_compose() {
    let project = container_project();
    // An engine that does not answer makes the executor unavailable: exit 2, saying why.
    let out = project.kdeck(&["run", "migrate"]).path_first(&project.bin()).env("DOCKER_INFO_FAIL", "1").run().code(2);
    let out = out.stderr_has(&["the docker engine is not running: Cannot connect to the Docker daemon"]);
    assert!(!out.stderr.contains("a second line that is not the reason"), "only the first stderr line: {out}");
    let calls = project.docker_calls();
    assert_eq!(calls.len(), 1, "only docker info: {:?}", calls.iter().map(|c| &c.argv).collect::<Vec<_>>());
    assert_eq!(calls[0].argv[0], "info");
    assert!(project.markers().is_empty(), "the task did not run");
}

#[test]
fn container_without_docker_on_path_is_unavailable_and_tasks_says_why() {
    let project = container_project();
    let path = project.shell_only_bin();
    let out = project.kdeck(&["run", "-x", "container", "migrate"]).path(&path).run();
    assert_refused(&project, out, &["docker is not on PATH"]);

    let out = project.kdeck(&["tasks"]).path(&path).run().ok();
    let (_, unavailable) = out.stdout.split_once("Not available here:").unwrap_or_else(|| panic!("a 'Not available here:' section: {out}"));
    assert!(unavailable.lines().any(|l| l.contains("migrate") && l.contains("docker is not on PATH")), "{out}");

    // Without -x, a compose component's task falls back to the next executor: local.
    project.kdeck(&["run", "fallback"]).path(&path).run().ok();
    assert_eq!(project.marker("fallback-ran").trim_end(), project.root().join("api").display().to_string(), "ran locally, in the component's directory");
    assert!(project.docker_calls().is_empty());
}

#[test]
fn container_dry_run_calls_no_compose() {
    let project = container_project();
    let out = project.kdeck(&["run", "migrate", "--dry-run"]).path_first(&project.bin()).run().ok();
    let out = out.stdout_has(&["container", "api", "DB_PASSWORD=******"]).nowhere("pw-xyz-secret-value");
    let calls = project.docker_calls();
    assert!(calls.iter().all(|c| c.argv.first().map(String::as_str) != Some("compose")), "a dry run runs no compose: {out}");
    assert!(project.markers().is_empty());
}

// ---------------------------------------------------------------------------
// the task graph
// ---------------------------------------------------------------------------

const GRAPH_PROJECT: &str = r#"
tasks:
  build:
    script: echo build >> "$OUT/order"
  test:
    pre: [build]
    script: echo test >> "$OUT/order"
  lint:
    pre: [build]
    script: echo lint >> "$OUT/order"
  deploy:
    pre: [build, test]
    script: echo deploy >> "$OUT/order"
  all:
    pre: [test, lint]
  a:
    script: |
      i=0
      while [ ! -e "$OUT/b-was-here" ] && [ "$i" -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
      [ -e "$OUT/b-was-here" ]
      echo a-saw-b
      echo a >> "$OUT/order"
  b:
    script: |
      echo b-started
      echo b-err >&2
      : > "$OUT/b-was-here"
      echo b >> "$OUT/order"
  first:
    script: echo first >> "$OUT/order"
  second:
    script: echo second >> "$OUT/order"
  fail:
    script: |
      echo fail >> "$OUT/order"
      exit 3
  later:
    script: ': > "$OUT/later"'
  dependent:
    pre: [fail]
    script: ': > "$OUT/dependent"'
"#;

#[test]
fn graph_pre_tasks_run_first_and_once() {
    let project = Project::new(GRAPH_PROJECT);
    project.kdeck(&["run", "deploy"]).run().ok();
    assert_eq!(project.marker("order"), "build\ntest\ndeploy\n");

    fs::remove_file(project.out().join("order")).unwrap();
    project.kdeck(&["run", "all"]).run().ok();
    let order = project.marker("order");
    let lines: Vec<&str> = order.lines().collect();
    assert_eq!(lines.iter().filter(|l| **l == "build").count(), 1, "the shared pre task runs once: {order}");
    assert_eq!(lines[0], "build", "{order}");
    assert_eq!(lines.iter().copied().collect::<BTreeSet<_>>(), BTreeSet::from(["build", "test", "lint"]), "{order}");
}

#[test]
fn graph_parallel_tasks_with_j2_overlap_and_prefix_lines() {
    let project = Project::new(GRAPH_PROJECT);
    let out = project.kdeck(&["run", "-j", "2", "a", "b"]).run().ok();
    assert!(out.elapsed < Duration::from_secs(10));
    for line in out.stdout.lines().filter(|l| !l.is_empty()) {
        assert!(line.starts_with("[a] ") || line.starts_with("[b] "), "every line is prefixed: {line:?}\n{out}");
    }
    assert!(out.stdout.lines().any(|l| l == "[a] a-saw-b"), "{out}");
    assert!(out.stdout.lines().any(|l| l == "[b] b-started"), "{out}");
    assert!(out.stderr.lines().any(|l| l == "[b] b-err"), "stderr lines are prefixed too: {out}");
    let order: BTreeSet<String> = project.marker("order").lines().map(String::from).collect();
    assert_eq!(order, BTreeSet::from(["a".to_string(), "b".to_string()]), "both ran (a waited for b, so they ran at once)");
}

#[test]
fn graph_j1_runs_named_tasks_in_order_without_prefix() {
    let project = Project::new(GRAPH_PROJECT);
    let out = project.kdeck(&["run", "-j", "1", "first", "second"]).run().ok();
    assert_eq!(project.marker("order"), "first\nsecond\n");
    assert!(!out.stdout.contains("[first]") && !out.stderr.contains("[first]"), "{out}");
    fs::remove_file(project.out().join("order")).unwrap();
    project.kdeck(&["run", "second", "first"]).run().ok();
    assert_eq!(project.marker("order"), "second\nfirst\n", "the default is one at a time, in the order named");
}

#[test]
fn graph_first_failure_stops_the_rest_with_its_exit_code() {
    let project = Project::new(GRAPH_PROJECT);
    project.kdeck(&["run", "fail", "later"]).run().code(3);
    assert_eq!(project.marker("order"), "fail\n");
    assert!(!project.has_marker("later"), "a task after the failure does not start");

    project.kdeck(&["run", "dependent"]).run().code(3);
    assert!(!project.has_marker("dependent"), "a task whose pre task failed does not run");
}

#[test]
fn graph_keep_going_runs_independent_tasks_but_not_dependents() {
    let project = Project::new(GRAPH_PROJECT);
    let out = project.kdeck(&["run", "--keep-going", "fail", "later", "dependent"]).run();
    assert_ne!(out.code, 0, "{out}");
    assert_eq!(out.code, 3, "the failing task's exit code: {out}");
    assert!(project.has_marker("later"), "--keep-going runs the independent task: {out}");
    assert!(!project.has_marker("dependent"), "but not one depending on the failure: {out}");
}

#[test]
fn graph_cycle_is_refused_and_spelled_out() {
    let project = Project::new(
        r#"
tasks:
  a:
    pre: [b]
    script: ': > "$OUT/a"'
  b:
    pre: [a]
    script: ': > "$OUT/b"'
  ok:
    script: ': > "$OUT/ok"'
"#,
    );
    let out = project.kdeck(&["run", "a"]).run();
    assert_refused(&project, out, &["a -> b -> a"]);
    let out = project.kdeck(&["run", "ok", "a"]).run();
    assert_refused(&project, out, &["a -> b -> a"]);
}

// ---------------------------------------------------------------------------
// confirmations
// ---------------------------------------------------------------------------

const CONFIRM_PROJECT: &str = r#"
tasks:
  prepare:
    script: ': > "$OUT/prepare"'
  migrate:
    pre: [prepare]
    confirm:
      message: Migrate the production database?
      expect: migrate
    script: ': > "$OUT/migrate"'
"#;

#[test]
fn confirm_without_terminal_or_yes_refuses_and_runs_nothing() {
    let project = Project::new(CONFIRM_PROJECT);
    let out = project.kdeck(&["run", "migrate"]).run();
    assert_refused(&project, out, &["--yes"]);
    assert!(!project.has_marker("prepare") && !project.has_marker("migrate"));
    // An answer on a pipe is not a terminal: still refused.
    let out = project.kdeck(&["run", "migrate"]).stdin(b"migrate\n").run();
    assert_refused(&project, out, &["--yes"]);
}

#[test]
fn confirm_with_yes_runs_the_task_and_its_pre() {
    let project = Project::new(CONFIRM_PROJECT);
    project.kdeck(&["run", "migrate", "--yes"]).run().ok();
    assert!(project.has_marker("prepare") && project.has_marker("migrate"));
}

// ---------------------------------------------------------------------------
// dry run
// ---------------------------------------------------------------------------

const DRY_RUN_PROJECT: &str = r#"
vars:
  token: vars-token-secret-4711
components:
  api:
    path: api
tasks:
  setup:
    script: ': > "$OUT/setup"'
  deploy:
    component: api
    workdir: sub
    pre: [setup]
    env:
      API_TOKEN: "${vars:token}"
      DB_PASSWORD: "hunter2-password-0815"
      SIGNING_KEY: "signing-key-value-42"
      MODE: "plain-mode-value"
    script: |
      : > "$OUT/deploy"
      echo deployed-for-real
"#;

#[test]
fn dry_run_prints_the_plan_masks_secrets_and_runs_nothing() {
    let project = Project::new(DRY_RUN_PROJECT);
    project.mkdir("api/sub");
    let before = project.tree();
    let out = project.kdeck(&["run", "deploy", "--dry-run", "-x", "local", "--", "arg-one"]).run().ok();
    let out = out
        .stdout_has(&["deploy", "setup", "local", &project.root().join("api/sub").display().to_string(), "deployed-for-real", "arg-one"])
        .stdout_has(&["API_TOKEN=******", "DB_PASSWORD=******", "SIGNING_KEY=******", "MODE=plain-mode-value"])
        .nowhere("vars-token-secret-4711")
        .nowhere("hunter2-password-0815")
        .nowhere("signing-key-value-42");
    let executor_lines: Vec<&str> = out.stdout.lines().filter(|l| l.contains("executor")).collect();
    assert_eq!(executor_lines.len(), 2, "an executor line for setup and for deploy: {out}");
    let deploy_plan = &out.stdout[out.stdout.rfind("deploy\n").unwrap()..];
    let deploy_executor = deploy_plan.lines().find(|l| l.contains("executor")).unwrap_or_else(|| panic!("deploy's executor line: {out}"));
    assert!(deploy_executor.contains("local") && deploy_executor.contains("-x"), "the executor and why (picked with -x): {out}");
    assert!(out.stdout.lines().all(|l| l.trim() != "deployed-for-real"), "the script did not run: {out}");
    assert!(project.markers().is_empty(), "a dry run runs nothing: {:?}", project.markers());
    assert_eq!(project.tree(), before, "a dry run writes nothing in the project (no logs)");
}

#[test]
fn dry_run_json_has_the_plan_keys() {
    let project = Project::new(DRY_RUN_PROJECT);
    project.mkdir("api/sub");
    let before = project.tree();
    let out = project.kdeck(&["run", "deploy", "--dry-run", "-o", "json"]).run().ok().nowhere("hunter2-password-0815").nowhere("vars-token-secret-4711");
    let plans = out.json();
    let plans = plans.as_array().unwrap_or_else(|| panic!("a JSON array: {out}"));
    let deploy = plans.iter().find(|p| p["task"] == "deploy").unwrap_or_else(|| panic!("deploy's plan: {out}"));
    for key in ["task", "executor", "directory", "command", "env", "envNames"] {
        assert!(deploy.get(key).is_some(), "key {key} in {deploy}");
    }
    assert!(deploy["executor"].as_str().unwrap().contains("local"), "{deploy}");
    assert_eq!(deploy["directory"], project.root().join("api/sub").display().to_string());
    let names: BTreeSet<&str> = deploy["envNames"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(names, BTreeSet::from(["API_TOKEN", "DB_PASSWORD", "MODE", "SIGNING_KEY"]));
    assert!(plans.iter().any(|p| p["task"] == "setup"), "the pre task is planned too: {out}");
    assert!(project.markers().is_empty());
    assert_eq!(project.tree(), before);
}

// ---------------------------------------------------------------------------
// kdeck tasks, kdeck config
// ---------------------------------------------------------------------------

const LISTED_PROJECT: &str = r#"
defaults:
  kubernetes:
    namespace: shop
vars:
  region: eu-west
  API_TOKEN: tok-abc-secret-999
  from_env: "${env:KDECK_TEST_INPUT:-unset}"
components:
  api:
    path: api
    compose:
      service: api
      file: compose.yaml
    kubernetes:
      deployment: api
      container: api
    tasks:
      migrate:
        description: Run the database migrations
        script: echo migrate
tasks:
  build:
    description: Build everything
    env:
      DB_PASSWORD: "pw-${vars:region}-zz-secret"
      GREETING: "hello-${vars:region}"
    script: echo build
  cluster-only:
    description: Needs a cluster
    executors: [kubernetes]
    script: echo cluster
  where:
    vars:
      where: task-place
    script: printf '%s' "${vars:where}" > "$OUT/where"
flavors:
  staging:
    - { op: replace, path: /defaults/kubernetes/namespace, value: shop-staging }
    - { op: add, path: /vars/where, value: staging-place }
"#;

fn listed_project() -> Project {
    let project = Project::new(LISTED_PROJECT);
    project.mkdir("api");
    project
}

#[test]
fn tasks_lists_component_tasks_descriptions_and_unavailable_executors() {
    let project = listed_project();
    let path = project.shell_only_bin();
    let out = project.kdeck(&["tasks"]).path(&path).run().ok();
    let (table, unavailable) = out.stdout.split_once("Not available here:").unwrap_or_else(|| panic!("a 'Not available here:' section: {out}"));
    let header = table.lines().next().unwrap_or_default();
    for column in ["TASK", "COMPONENT", "EXECUTORS", "DESCRIPTION"] {
        assert!(header.contains(column), "column {column}: {out}");
    }
    let migrate = table.lines().find(|l| l.contains("api:migrate")).unwrap_or_else(|| panic!("api:migrate listed: {out}"));
    assert!(migrate.contains("Run the database migrations") && migrate.contains("local"), "{migrate}");
    assert!(table.lines().any(|l| l.contains("build") && l.contains("Build everything")), "{out}");
    assert!(unavailable.lines().any(|l| l.contains("api:migrate") && l.contains("container") && l.contains("docker is not on PATH")), "{out}");
    assert!(unavailable.lines().any(|l| l.contains("cluster-only") && l.contains("kubernetes") && l.contains("no component")), "{out}");
    assert!(project.markers().is_empty());
}

#[test]
fn tasks_json_lists_executors_with_availability_and_reasons() {
    let project = listed_project();
    let path = project.shell_only_bin();
    let out = project.kdeck(&["tasks", "-o", "json"]).path(&path).run().ok();
    let list = out.json();
    let list = list.as_array().unwrap_or_else(|| panic!("a JSON list: {out}"));
    let migrate = list.iter().find(|t| t["name"] == "api:migrate").unwrap_or_else(|| panic!("api:migrate: {out}"));
    assert_eq!(migrate["component"], "api");
    assert_eq!(migrate["description"], "Run the database migrations");
    assert!(migrate["pre"].as_array().is_some_and(Vec::is_empty), "{migrate}");
    let executors = migrate["executors"].as_array().unwrap();
    let names: Vec<&str> = executors.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names.iter().copied().collect::<BTreeSet<_>>(), BTreeSet::from(["container", "local", "kubernetes"]), "{migrate}");
    for executor in executors {
        for key in ["name", "available", "reason"] {
            assert!(executor.get(key).is_some(), "key {key} in {executor}");
        }
    }
    let container = executors.iter().find(|e| e["name"] == "container").unwrap();
    assert_eq!(container["available"], false);
    assert!(container["reason"].as_str().unwrap_or_default().contains("docker is not on PATH"), "{container}");
    let local = executors.iter().find(|e| e["name"] == "local").unwrap();
    assert_eq!(local["available"], true, "{local}");
    let build = list.iter().find(|t| t["name"] == "build").unwrap();
    assert_eq!(build["description"], "Build everything");
}

#[test]
fn config_shows_expanded_values_and_masks_secrets() {
    let project = listed_project();
    let out = project
        .kdeck(&["config", "-o", "json"])
        .env("KDECK_TEST_INPUT", "given-by-env")
        .run()
        .ok()
        .nowhere("pw-eu-west-zz-secret")
        .nowhere("tok-abc-secret-999");
    let config = out.json();
    assert_eq!(config["defaults"]["kubernetes"]["namespace"], "shop");
    assert_eq!(config["tasks"]["build"]["env"]["GREETING"], "hello-eu-west", "strings are expanded");
    assert_eq!(config["tasks"]["build"]["env"]["DB_PASSWORD"], "******");
    assert_eq!(config["vars"]["API_TOKEN"], "******");
    assert_eq!(config["vars"]["region"], "eu-west");
    assert_eq!(config["vars"]["from_env"], "given-by-env", "${{env:…}} is expanded");
    assert_eq!(config["components"]["api"]["tasks"]["migrate"]["description"], "Run the database migrations");

    let out =
        project.kdeck(&["config"]).run().ok().stdout_has(&["hello-eu-west", "******", "shop"]).nowhere("pw-eu-west-zz-secret").nowhere("tok-abc-secret-999");
    assert!(!out.stdout.contains("shop-staging"), "no flavor without --flavor: {out}");
}

#[test]
fn flavor_from_flag_or_env_changes_the_resolved_config_and_the_run() {
    let project = listed_project();
    let config = project.kdeck(&["config", "-o", "json", "--flavor", "staging"]).run().ok().json();
    assert_eq!(config["defaults"]["kubernetes"]["namespace"], "shop-staging");
    let config = project.kdeck(&["config", "-o", "json"]).env("KDECK_FLAVOR", "staging").run().ok().json();
    assert_eq!(config["defaults"]["kubernetes"]["namespace"], "shop-staging", "KDECK_FLAVOR picks the flavor");

    project.kdeck(&["run", "where"]).run().ok();
    assert_eq!(project.marker("where"), "task-place", "the task's own var without a flavor");
    project.kdeck(&["run", "--flavor", "staging", "where"]).run().ok();
    assert_eq!(project.marker("where"), "task-place", "task vars still win over the flavored top-level vars");
}

#[test]
fn flavor_patches_reach_the_tasks_that_run() {
    let project = Project::new(
        r#"
vars:
  where: base-place
tasks:
  where:
    script: printf '%s' "${vars:where}" > "$OUT/where"
flavors:
  staging:
    - { op: replace, path: /vars/where, value: staging-place }
"#,
    );
    project.kdeck(&["run", "where"]).run().ok();
    assert_eq!(project.marker("where"), "base-place");
    project.kdeck(&["run", "--flavor", "staging", "where"]).run().ok();
    assert_eq!(project.marker("where"), "staging-place");
    fs::remove_file(project.out().join("where")).unwrap();
    project.kdeck(&["run", "where"]).env("KDECK_FLAVOR", "staging").run().ok();
    assert_eq!(project.marker("where"), "staging-place");
}

#[test]
fn config_schema_matches_the_schema_file() {
    let project = Project::empty();
    let out = project.kdeck(&["config", "schema"]).current_dir(&project.base()).run().ok();
    let printed = out.json();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/kdeck.schema.json");
    let text = fs::read_to_string(&file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
    let stored: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", file.display()));
    assert_eq!(printed, stored, "`kdeck config schema` and schema/kdeck.schema.json differ");
    assert!(printed["properties"]["tasks"].is_object(), "the schema describes tasks: {printed}");
}

// ---------------------------------------------------------------------------
// bad input
// ---------------------------------------------------------------------------

#[test]
fn bad_yaml_is_refused_with_its_line() {
    let project = Project::new("tasks:\n  a:\n    script: ': > \"$OUT/a\"'\n  b: x: y\n");
    let out = project.kdeck(&["run", "a"]).run();
    let out = assert_refused(&project, out, &[]);
    assert!(out.stderr.contains("line 4") || out.stderr.contains(":4:"), "the message has the line (4): {out}");
}

#[test]
fn unknown_key_is_named_with_a_suggestion() {
    let project = Project::new("tasks:\n  a:\n    scirpt: ': > \"$OUT/a\"'\n  b:\n    script: ': > \"$OUT/b\"'\n");
    let out = project.kdeck(&["run", "b"]).run();
    assert_refused(&project, out, &["scirpt", "did you mean", "`script`"]);
}

#[test]
fn wrong_type_is_refused() {
    let project = Project::new("tasks:\n  a:\n    interactive: sometimes\n    script: ': > \"$OUT/a\"'\n");
    let out = project.kdeck(&["run", "a"]).run();
    assert_refused(&project, out, &["interactive"]);
    let project = Project::new("tasks:\n  a:\n    pre: { not: a-list }\n    script: ': > \"$OUT/a\"'\n");
    let out = project.kdeck(&["run", "a"]).run();
    assert_refused(&project, out, &["pre"]);
}

#[test]
fn unknown_task_suggests_near_names() {
    let project = Project::new(GRAPH_PROJECT);
    let out = project.kdeck(&["run", "biuld"]).run();
    assert_refused(&project, out, &["biuld", "build"]);
    let out = project.kdeck(&["run", "build", "deplyo"]).run();
    assert_refused(&project, out, &["deplyo", "deploy"]);
}

#[test]
fn unknown_component_is_refused() {
    let project = Project::new("tasks:\n  a:\n    component: nope\n    script: ': > \"$OUT/a\"'\n");
    let out = project.kdeck(&["run", "a"]).run();
    assert_refused(&project, out, &["nope"]);
}

#[test]
fn undefined_vars_reference_names_the_place() {
    let project = Project::new("vars:\n  known: one\ntasks:\n  x:\n    script: |\n      : > \"$OUT/x\"\n      echo ${vars:missing}\n");
    let out = project.kdeck(&["run", "x"]).run();
    assert_refused(&project, out, &["missing", "tasks.x.script"]);
}

#[test]
fn undefined_env_reference_names_the_place() {
    let project = Project::new("tasks:\n  y:\n    env:\n      FOO: \"${env:KDECK_TEST_SURELY_UNSET}\"\n    script: ': > \"$OUT/y\"'\n");
    let out = project.kdeck(&["run", "y"]).run();
    assert_refused(&project, out, &["KDECK_TEST_SURELY_UNSET", "tasks.y.env"]);
}

#[test]
fn an_undefined_reference_in_a_pre_task_stops_the_whole_run() {
    let project = Project::new("tasks:\n  first:\n    script: ': > \"$OUT/first\"'\n  second:\n    pre: [first]\n    script: 'echo ${vars:nope}'\n");
    let out = project.kdeck(&["run", "second"]).run();
    assert_refused(&project, out, &["nope", "tasks.second.script"]);
}

#[test]
fn bad_flavor_patch_names_the_flavor_and_operation() {
    let project = Project::new(
        "tasks:\n  a:\n    script: ': > \"$OUT/a\"'\nflavors:\n  broken:\n    - { op: replace, path: /defaults/kubernetes/nosuch/deep, value: x }\n",
    );
    let out = project.kdeck(&["run", "--flavor", "broken", "a"]).run();
    let out = assert_refused(&project, out, &["broken"]);
    assert!(out.stderr.contains("replace") || out.stderr.contains("/defaults/kubernetes/nosuch/deep"), "names the operation: {out}");
}

#[test]
fn unknown_flavor_lists_the_known_ones() {
    let project = Project::new(
        "tasks:\n  a:\n    script: ': > \"$OUT/a\"'\nflavors:\n  staging:\n    - { op: add, path: /vars/x, value: y }\n  production:\n    - { op: add, path: /vars/x, value: z }\n",
    );
    let out = project.kdeck(&["run", "--flavor", "prod", "a"]).run();
    assert_refused(&project, out, &["prod", "staging", "production"]);
    let out = project.kdeck(&["run", "a"]).env("KDECK_FLAVOR", "stagign").run();
    assert_refused(&project, out, &["stagign", "staging"]);
}

#[test]
fn executor_kubernetes_without_a_component_is_refused() {
    let project = Project::new("tasks:\n  a:\n    script: ': > \"$OUT/a\"'\n  b:\n    executors: [kubernetes, local]\n    script: ': > \"$OUT/b\"'\n");
    let out = project.kdeck(&["run", "-x", "kubernetes", "a"]).run();
    assert_refused(&project, out, &["kubernetes"]);
    let out = project.kdeck(&["run", "-x", "kubernetes", "b"]).run();
    assert_refused(&project, out, &["kubernetes", "no component"]);
}

#[test]
fn executor_not_listed_is_refused() {
    let project = container_project();
    let project_yaml = format!("{CONTAINER_PROJECT}  local-only:\n    component: api\n    executors: [local]\n    script: ': > \"$OUT/local-only\"'\n");
    project.write("kdeck.yaml", &project_yaml);
    let out = project.kdeck(&["run", "-x", "container", "local-only"]).path_first(&project.bin()).run();
    assert_refused(&project, out, &["container", "local"]);
    assert!(project.docker_calls().is_empty());
}

#[test]
fn missing_kdeck_yaml_is_reported() {
    let project = Project::empty();
    let empty = project.base().join("empty");
    fs::create_dir_all(&empty).unwrap();
    let out = project.kdeck(&["run", "build"]).current_dir(&empty).run().code(2);
    assert!(out.stderr.contains("kdeck.yaml"), "{out}");
    let lower = out.stderr.to_lowercase();
    assert!(lower.contains("no kdeck.yaml") || lower.contains("not found"), "says no kdeck.yaml was found: {out}");
    assert!(fs::read_dir(&empty).unwrap().next().is_none(), "nothing written");
}

// ---------------------------------------------------------------------------
// finding kdeck.yaml
// ---------------------------------------------------------------------------

#[test]
fn dash_f_file_works_from_another_directory() {
    let project = Project::new("tasks:\n  where:\n    script: |\n      pwd -P > \"$OUT/where\"\n      echo from-proj\n");
    let elsewhere = project.base().join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    fs::write(elsewhere.join("kdeck.yaml"), "tasks:\n  where:\n    script: echo wrong > \"$OUT/wrong\"\n").unwrap();
    let out = project.kdeck(&["run", "-f", "../proj/kdeck.yaml", "where"]).current_dir(&elsewhere).run().ok();
    assert!(out.stdout.contains("from-proj"), "{out}");
    assert!(!project.has_marker("wrong"), "-f wins over the kdeck.yaml in the current directory");
    assert_eq!(project.marker("where").trim_end(), project.root().display().to_string(), "tasks run relative to the file given");
    assert!(project.root().join(".kdeck/logs/where.log").exists(), "logs go to that project's root");
    assert!(!elsewhere.join(".kdeck").exists());
}

#[test]
fn run_in_a_subdirectory_finds_the_parent_kdeck_yaml() {
    let project = Project::new("tasks:\n  where:\n    script: pwd -P > \"$OUT/where\"\n");
    project.mkdir("deep/er");
    let sub = project.root().join("deep/er");
    project.kdeck(&["run", "where"]).current_dir(&sub).run().ok();
    assert_eq!(project.marker("where").trim_end(), project.root().display().to_string());
    assert!(project.root().join(".kdeck/logs/where.log").exists());
    assert!(!sub.join(".kdeck").exists());
}

#[test]
fn secrets_written_into_scripts_commands_and_paths_are_masked_in_plans_logs_and_errors() {
    let project = Project::new(
        r#"
vars:
  api_token: tok-123-secret
tasks:
  call:
    script: printf '%s' "${env:DB_PASSWORD}" > "$OUT/used"
  argv:
    command: [echo, "${vars:api_token}"]
  nowhere:
    workdir: "missing-${env:DB_PASSWORD}"
    script: "true"
  ask:
    confirm: { message: "Use ${env:DB_PASSWORD}?" }
    script: "true"
"#,
    );
    let secret = "pw-hunter2";
    // The real value is what runs…
    project.kdeck(&["run", "call"]).env("DB_PASSWORD", secret).run().ok();
    assert_eq!(project.marker("used"), secret);
    // …and never what is shown: plans, task logs, errors, prompts.
    let plan = project.kdeck(&["run", "call", "argv", "--dry-run"]).env("DB_PASSWORD", secret).run().ok();
    plan.stdout_has(&["******"]).nowhere(secret).nowhere("tok-123-secret");
    let log = project.read(".kdeck/logs/call.log");
    assert!(!log.contains(secret) && log.contains("******"), "{log}");
    project.kdeck(&["run", "nowhere"]).env("DB_PASSWORD", secret).run().code(2).stderr_has(&["missing-******"]).nowhere(secret);
    project.kdeck(&["run", "ask"]).env("DB_PASSWORD", secret).run().code(2).stderr_has(&["Use ******: refusing without --yes"]).nowhere(secret);
}

#[test]
fn what_a_task_leaves_running_in_the_background_ends_with_it() {
    let project = Project::new(
        r#"
tasks:
  leaves:
    script: |
      (sleep 2; echo late > "$OUT/late") &
      echo done
  stuck:
    timeout: 1s
    script: |
      (sleep 2; echo late > "$OUT/late-too") &
      sleep 30
"#,
    );
    let started = std::time::Instant::now();
    project.kdeck(&["run", "leaves"]).run().ok().stdout_has(&["done"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(2), "kdeck does not wait for background leftovers");
    let started = std::time::Instant::now();
    project.kdeck(&["run", "stuck"]).run().code(4).stderr_has(&["ran out of time after 1s"]);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(!project.has_marker("late") && !project.has_marker("late-too"), "the task's process group was stopped");
}
