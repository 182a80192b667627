//! kdeck under inputs and surroundings that used to break it, end to end with the
//! real binary: a reader that goes away (`kdeck … | head`), kubeconfigs as
//! people really have them (`KUBECONFIG` listing a missing file, a symlinked
//! config, a credential plugin that hangs or fails), a variable used as a secret,
//! and durations past Go's range.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, TestSandbox};
use tempfile::TempDir;

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A kdeck command in a directory of its own (no project file above it), with
/// its own home and a kubeconfig that does not exist unless a test writes it.
struct Place {
    dir: TempDir,
}

impl Place {
    fn new() -> Place {
        let place = Place { dir: tempfile::tempdir().expect("temp dir") };
        fs::create_dir_all(place.path("home")).unwrap();
        fs::create_dir_all(place.path("work")).unwrap();
        place
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text).unwrap();
        path
    }

    fn script(&self, rel: &str, body: &str) -> PathBuf {
        let path = self.write(rel, &format!("#!/bin/sh\n{body}\n"));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn kdeck(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .current_dir(self.path("work"))
            .env("HOME", self.path("home"))
            .env("KDECK_HOME", self.path("home"))
            .env("KUBECONFIG", self.path("kubeconfig"))
            .env("NO_COLOR", "1")
            .env_remove("KDECK_CONTEXT")
            .env_remove("KDECK_FLAVOR")
            .stdin(Stdio::null());
        cmd
    }
}

/// Runs `cmd` with its stdout a pipe whose reader is already gone, as after
/// `kdeck … | head -1` once head has exited.
fn with_closed_stdout(mut cmd: Command) -> Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    cmd.stdout(writer).stderr(Stdio::piped()).output().expect("run kdeck")
}

/// kdeck ended as `cat` does when its reader goes away: killed by SIGPIPE (the
/// shell's 141), without a panic or an error message.
fn assert_ended_quietly_by_sigpipe(what: &str, out: &Output) {
    let err = stderr(out);
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{what}: killed by SIGPIPE, not {:?}; stderr: {err}", out.status);
    assert!(!err.contains("panicked") && !err.contains("Broken pipe") && !err.contains("error"), "{what}: nothing said: {err}");
}

// ---------------------------------------------------------------------------
// Item 9: a closed stdout
// ---------------------------------------------------------------------------

#[test]
fn a_closed_stdout_ends_local_commands_quietly() {
    let place = Place::new();
    place.write("work/kdeck.yaml", "tasks:\n  build: {description: Build it, script: make}\n");
    for args in [&["completions", "bash"][..], &["completions", "zsh"], &["man"], &["config", "schema"], &["config"], &["tasks"], &["--help"]] {
        let out = with_closed_stdout(place.kdeck(args));
        assert_ended_quietly_by_sigpipe(&args.join(" "), &out);
    }
    // With a reader, the same commands succeed: the handler changes nothing else.
    let out = place.kdeck(&["completions", "bash"]).output().unwrap();
    assert!(out.status.success() && stdout(&out).contains("_clap_complete_kdeck()"), "{}", stderr(&out));
}

#[tokio::test]
async fn a_closed_stdout_ends_cluster_commands_quietly_and_the_sandbox_lives_on() {
    let sandbox = TestSandbox::start_seeded("pipes", "home-ops");
    let name = sandbox.name.clone();
    let client = sandbox.client().await;
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> = kube::Api::namespaced(client, "default");
    common::wait_object(&deployments, "echo-server", "available", |d| d.status.as_ref().and_then(|s| s.available_replicas) == Some(2)).await;
    // The last one streams an exec'd command's output: kdeck dies of SIGPIPE while
    // the sandbox (a kdeck process too) is still writing to its connection.
    let streaming = "i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); done; sleep 1";
    for args in [
        vec!["sandbox", "status", "--name", &name],
        vec!["sandbox", "list"],
        vec!["cleanse-pods", "-A", "--dry-run", "--context", &name],
        vec!["sync-secrets", "-A", "--dry-run", "--context", &name],
        vec!["sync-secrets", "-A", "--dry-run", "-o", "json", "--context", &name],
        vec!["exec", "deploy/echo-server", "--context", &name, "--", "sh", "-c", streaming],
    ] {
        let mut cmd = sandbox.kdeck();
        cmd.args(&args).stdin(Stdio::null());
        let out = with_closed_stdout(cmd);
        assert_ended_quietly_by_sigpipe(&args.join(" "), &out);
    }
    std::thread::sleep(Duration::from_secs(2));
    let out = sandbox.run(&["cleanse-pods", "-A", "--dry-run", "--context", &name]);
    assert!(out.status.success(), "the sandbox still answers: {}", stderr(&out));
    let out = sandbox.run(&["sandbox", "status", "--name", &name, "-o", "json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)));
    assert_eq!(status["running"], true, "{status}");
}

// ---------------------------------------------------------------------------
// Item 10: kubeconfig as kubectl reads and writes it
// ---------------------------------------------------------------------------

#[tokio::test]
async fn missing_kubeconfig_paths_are_skipped_and_a_symlinked_kubeconfig_is_written_through() {
    let sandbox = TestSandbox::new("linked");
    let base = sandbox.dir.path();
    // The user's real file lives elsewhere (a dotfiles checkout), linked to.
    fs::create_dir_all(base.join("dotfiles")).unwrap();
    let target = base.join("dotfiles/kubeconfig");
    let mine = "apiVersion: v1\nkind: Config\ncurrent-context: mine\nclusters:\n- name: mine\n  cluster: {server: 'https://127.0.0.1:9'}\nusers:\n- name: mine\n  user: {token: t}\ncontexts:\n- name: mine\n  context: {cluster: mine, user: mine}\n";
    fs::write(&target, mine).unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink("dotfiles/kubeconfig", sandbox.kubeconfig()).unwrap();
    let missing = base.join("missing/config");
    let list = std::env::join_paths([missing.clone(), sandbox.kubeconfig()]).unwrap();

    let out = sandbox.kdeck().env("KUBECONFIG", &list).args(["sandbox", "start", "--detach", "--name", "linked"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(fs::symlink_metadata(sandbox.kubeconfig()).unwrap().file_type().is_symlink(), "the link is still a link");
    assert!(!missing.exists() && !missing.parent().unwrap().exists(), "the missing file was not created: kubectl writes to the first that exists");
    let written = fs::read_to_string(&target).unwrap();
    assert!(written.contains("name: linked") && written.contains("name: linked-readonly") && written.contains("name: mine"), "{written}");
    assert!(written.contains("current-context: mine"), "the current context stays: {written}");
    assert_eq!(fs::metadata(&target).unwrap().permissions().mode() & 0o777, 0o600);

    // Reading skips the missing file, as kubectl does.
    let out = sandbox.kdeck().env("KUBECONFIG", &list).args(["cleanse-pods", "-A", "--dry-run", "--context", "linked"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    // Deleting edits the target through the link too.
    sandbox.stop();
    let out = sandbox.kdeck().env("KUBECONFIG", &list).args(["sandbox", "delete", "--name", "linked"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(fs::symlink_metadata(sandbox.kubeconfig()).unwrap().file_type().is_symlink());
    assert!(!fs::read_to_string(&target).unwrap().contains("linked"));
}

#[test]
fn no_kubeconfig_at_all_is_an_error_naming_the_paths() {
    let place = Place::new();
    let list = std::env::join_paths([place.path("a/config"), place.path("b/config")]).unwrap();
    let out = place.kdeck(&["cleanse-pods", "--dry-run"]).env("KUBECONFIG", &list).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&place.path("a/config").display().to_string()) && err.contains(&place.path("b/config").display().to_string()), "{err}");
    assert!(err.contains("do not exist"), "{err}");
}

/// A kubeconfig whose only context's user gets its token from `plugin`.
fn plugin_kubeconfig(place: &Place, plugin: &Path) -> PathBuf {
    place.write(
        "kubeconfig",
        &format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: plugged\nclusters:\n- name: c\n  cluster: {{server: 'https://127.0.0.1:9'}}\nusers:\n- name: sso\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      args: [get-token]\n      interactiveMode: IfAvailable\ncontexts:\n- name: plugged\n  context: {{cluster: c, user: sso}}\n",
            plugin.display()
        ),
    )
}

#[test]
fn a_credential_plugin_that_never_answers_is_stopped_and_named() {
    let place = Place::new();
    let plugin = place.script("bin/sso-login", "sleep 1000");
    plugin_kubeconfig(&place, &plugin);
    let started = Instant::now();
    let out = place.kdeck(&["cleanse-pods", "--dry-run"]).output().unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(45), "bounded: took {took:?}");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("the credential plugin {} of user \"sso\" did not answer within 30s", plugin.display())), "{err}");
}

#[test]
fn a_failing_credential_plugin_is_named_with_its_message_and_without_its_token() {
    let place = Place::new();
    let plugin = place.script(
        "bin/sso-login",
        "echo 'refreshing session' >&2\necho \"error: refresh token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJrZGVjayJ9.sig rejected: token=abcdef0123456789xyz\" >&2\nexit 4",
    );
    plugin_kubeconfig(&place, &plugin);
    let out = place.kdeck(&["cleanse-pods", "--dry-run"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("plugin") && err.contains("sso-login") && err.contains("failed (exit status 4)"), "{err}");
    assert!(err.contains("refreshing session") && err.contains("rejected"), "its message is summarised: {err}");
    assert!(!err.contains("eyJ") && !err.contains("abcdef0123456789xyz"), "no token: {err}");
}

// ---------------------------------------------------------------------------
// Item 11: a variable used as a secret
// ---------------------------------------------------------------------------

const SECRET_VIA_VARS: &str = r#"
vars:
  plain_conn: "postgres://app:Pl41n-s3cret-v4lue@db:5432/app"
  copied: "postgres://app:Pl41n-s3cret-v4lue@db:5432/app"
  region: eu-west
tasks:
  migrate:
    description: Migrate
    env:
      DB_PASSWORD: "${vars:plain_conn}"
      REGION: "${vars:region}"
    script: |
      echo "connecting to ${vars:plain_conn} in ${vars:region}"
"#;

#[test]
fn a_variable_used_as_a_secret_is_masked_in_config_and_plans() {
    let place = Place::new();
    place.write("work/kdeck.yaml", SECRET_VIA_VARS);
    const SECRET: &str = "Pl41n-s3cret-v4lue";

    let out = place.kdeck(&["config", "-o", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains(SECRET) && !stderr(&out).contains(SECRET), "{}", stdout(&out));
    let config: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(config["vars"]["plain_conn"], "******");
    assert_eq!(config["vars"]["copied"], "******", "a copy of the value is the value");
    assert_eq!(config["vars"]["region"], "eu-west");
    assert_eq!(config["tasks"]["migrate"]["env"]["DB_PASSWORD"], "******");
    assert_eq!(config["tasks"]["migrate"]["script"], "echo \"connecting to ****** in eu-west\"\n");

    let out = place.kdeck(&["config"]).output().unwrap();
    assert!(out.status.success() && !stdout(&out).contains(SECRET), "{}", stdout(&out));
    assert!(stdout(&out).contains("eu-west"), "{}", stdout(&out));

    for args in [&["run", "migrate", "--dry-run"][..], &["run", "migrate", "--dry-run", "-o", "json"]] {
        let out = place.kdeck(args).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(!all.contains(SECRET), "{}: {all}", args.join(" "));
        assert!(all.contains("connecting to ****** in eu-west"), "{}: {all}", args.join(" "));
    }

    // The task itself gets the real value.
    let out = place.kdeck(&["run", "migrate"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(SECRET), "the run uses the value: {}", stdout(&out));
}

// ---------------------------------------------------------------------------
// Item 12: durations past Go's range
// ---------------------------------------------------------------------------

#[test]
fn durations_past_gos_range_are_refused_before_any_request() {
    let place = Place::new();
    for over in ["9223372036854775807s", "999999999999999999s", "2562048h"] {
        let out = place.kdeck(&["logs", "x", "--since", over]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{over}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(&format!("error: invalid --since \"{over}\": invalid duration \"{over}\"")), "{err}");
        assert!(err.contains("292 years"), "{err}");
        assert!(stdout(&out).is_empty());
    }
    let out = place.kdeck(&["cleanse-pods", "--older-than", "9223372036854775807s", "--dry-run"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("invalid --older-than"), "{}", stderr(&out));
}

#[test]
fn the_global_kubeconfig_flag_reads_and_writes_that_file_alone() {
    let sandbox = common::TestSandbox::new("kcflag");
    let other = sandbox.dir.path().join("other-kubeconfig");
    // Written there by sandbox start (the flag before the command)…
    let out = sandbox.run(&["--kubeconfig", other.to_str().unwrap(), "sandbox", "start", "--detach", "--name", "kcflag"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&other).unwrap();
    assert!(text.contains("name: kcflag"), "{text}");
    assert!(!sandbox.kubeconfig().exists(), "KUBECONFIG's file is not touched");
    // …and read from there alone (the flag after the command).
    let out = sandbox.run(&["cleanse-pods", "--context", "kcflag", "--dry-run", "--kubeconfig", other.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = sandbox.run(&["cleanse-pods", "--context", "kcflag", "--dry-run"]);
    assert_ne!(out.status.code(), Some(0), "without the flag, KUBECONFIG's file has no such context");
    let out = sandbox.run(&["--kubeconfig", other.to_str().unwrap(), "sandbox", "stop", "--name", "kcflag"]);
    assert!(out.status.success());
}
