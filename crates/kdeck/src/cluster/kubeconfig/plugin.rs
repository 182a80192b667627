//! Credential plugins (`users[].user.exec`: `aws eks get-token`, `kubelogin`, …).
//!
//! kube-rs runs a plugin while it builds a client (`Client::try_from`), blocking and
//! without a time limit, so a plugin that never answers — it waits for a login no
//! one will type, or for a network that does not answer — would hang kdeck. kdeck
//! therefore runs the plugin of the context it connects with itself, first, with a
//! time limit: one that hangs is stopped and named, one that fails is named with the
//! end of what it printed on stderr, tokens blanked. A token without expiry that it
//! returns is used as is (kube-rs would make the same static token of it); any
//! other credential is left to kube-rs, which runs the plugin again and again when
//! its credential expires.

use std::io::IsTerminal;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use kube::config::{AuthInfo, ExecAuthCluster, ExecConfig, ExecInteractiveMode, Kubeconfig};
use serde::Deserialize;
use serde_json::json;

use crate::error::{Error, Result};

/// How long a plugin may take.
#[derive(Clone, Copy)]
struct Limits {
    /// One that cannot talk with the user.
    plain: Duration,
    /// One that talks with the user on the terminal (a login in a browser).
    interactive: Duration,
}

const LIMITS: Limits = Limits { plain: Duration::from_secs(30), interactive: Duration::from_secs(300) };
/// How much of a failed plugin's stderr is shown.
const SHOWN_LINES: usize = 3;
const SHOWN_LINE_CHARS: usize = 200;

/// Runs the plugin `context`'s user needs, if it needs one; a token without
/// expiry it returns replaces the plugin in `kubeconfig`.
pub(super) async fn check(kubeconfig: &mut Kubeconfig, context: &str) -> Result<()> {
    let Some(named) = kubeconfig.contexts.iter().find(|c| c.name == context).and_then(|c| c.context.as_ref()) else { return Ok(()) };
    let Some(user) = named.user.clone() else { return Ok(()) };
    let cluster = kubeconfig.clusters.iter().find(|c| c.name == named.cluster).and_then(|c| c.cluster.as_ref());
    let Some(auth) = kubeconfig.auth_infos.iter().find(|a| a.name == user).and_then(|a| a.auth_info.as_ref()) else { return Ok(()) };
    let Some(exec) = plugin_to_run(auth) else { return Ok(()) };
    let cluster = if exec.provide_cluster_info { cluster.and_then(|c| ExecAuthCluster::try_from(c).ok()) } else { None };
    let interactive = std::io::stdin().is_terminal();
    let status = run(exec, &user, cluster, interactive, LIMITS).await?;
    if let (Some(token), None, None) = (status.token, &status.expiration_timestamp, &status.client_certificate_data)
        && let Some(auth) = kubeconfig.auth_infos.iter_mut().find(|a| a.name == user).and_then(|a| a.auth_info.as_mut())
    {
        auth.token = Some(token.into());
        auth.exec = None;
    }
    Ok(())
}

/// The plugin kube-rs would run for this user: it takes an auth provider, a user
/// name and password, a token and a token file before a plugin.
fn plugin_to_run(auth: &AuthInfo) -> Option<&ExecConfig> {
    let other_credentials =
        auth.auth_provider.is_some() || (auth.username.is_some() && auth.password.is_some()) || auth.token.is_some() || auth.token_file.is_some();
    if other_credentials { None } else { auth.exec.as_ref() }
}

/// What a plugin prints: an `ExecCredential`, of which kdeck needs the status.
#[derive(Deserialize)]
struct ExecCredential {
    kind: Option<String>,
    status: Option<Status>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    token: Option<String>,
    expiration_timestamp: Option<String>,
    client_certificate_data: Option<String>,
}

/// Runs the plugin as client-go does — its args and env, `KUBERNETES_EXEC_INFO`,
/// the terminal when it may interact (`interactiveMode` other than `Never`, and
/// stdin a terminal) — and reads its credential.
async fn run(exec: &ExecConfig, user: &str, cluster: Option<ExecAuthCluster>, stdin_is_terminal: bool, limits: Limits) -> Result<Status> {
    let Some(command) = exec.command.as_deref().filter(|c| !c.is_empty()) else {
        return Err(Error::usage(format!("user {user:?} in the kubeconfig has a credential plugin (exec) without a command")));
    };
    let named = format!("the credential plugin {} of user {user:?}", Path::new(command).display());
    let mode = exec.interactive_mode.clone().unwrap_or(ExecInteractiveMode::IfAvailable);
    if mode == ExecInteractiveMode::Always && !stdin_is_terminal {
        return Err(Error::usage(format!("{named} needs a terminal (interactiveMode: Always), and standard input is not one")));
    }
    let interactive = mode != ExecInteractiveMode::Never && stdin_is_terminal;
    let mut spec = json!({ "interactive": interactive });
    if let Some(cluster) = cluster {
        spec["cluster"] = serde_json::to_value(cluster).unwrap_or_default();
    }
    let info = json!({ "apiVersion": exec.api_version, "kind": "ExecCredential", "spec": spec });

    let mut cmd = tokio::process::Command::new(command);
    cmd.args(exec.args.iter().flatten()).env("KUBERNETES_EXEC_INFO", info.to_string()).stdout(Stdio::piped()).kill_on_drop(true);
    for var in exec.env.iter().flatten() {
        if let (Some(name), Some(value)) = (var.get("name"), var.get("value")) {
            cmd.env(name, value);
        }
    }
    if interactive {
        // Its prompts go to the user.
        cmd.stdin(Stdio::inherit()).stderr(Stdio::inherit());
    } else {
        cmd.stdin(Stdio::null()).stderr(Stdio::piped());
    }
    // Without a terminal, its own process group, so that what it started is
    // stopped with it; on a terminal it stays in kdeck's, which gets Ctrl-C.
    let own_group = !stdin_is_terminal;
    if own_group {
        cmd.process_group(0);
    }
    let child = cmd.spawn().map_err(|e| {
        let error = Error::failure(format!("{named} cannot be started: {e}"));
        match &exec.install_hint {
            Some(hint) if e.kind() == std::io::ErrorKind::NotFound => error.hint(hint.trim().to_string()),
            _ => error.hint("install it, or fix users[].user.exec.command in the kubeconfig"),
        }
    })?;
    let group = child.id().filter(|_| own_group);
    let limit = if interactive { limits.interactive } else { limits.plain };
    let output = match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(output) => output.map_err(|e| Error::failure(format!("{named} could not be read: {e}")))?,
        Err(_) => {
            // The plugin itself was killed as its handle dropped; now what it started.
            if let Some(pgid) = group.and_then(|id| i32::try_from(id).ok()) {
                // SAFETY: killpg only sends a signal; the group is the plugin's own.
                unsafe { libc::killpg(pgid, libc::SIGKILL) };
            }
            return Err(Error::failure(format!("{named} did not answer within {}; kdeck stopped it", seconds(limit)))
                .hint("run the plugin by hand to see what it waits for (a login, the network), or pick another --context"));
        }
    };
    if !output.status.success() {
        let how = match (output.status.code(), std::os::unix::process::ExitStatusExt::signal(&output.status)) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(signal)) => format!("killed by signal {signal}"),
            (None, None) => "failed".to_string(),
        };
        let said = summarize(&output.stderr);
        let said = if said.is_empty() { String::new() } else { format!(": {said}") };
        return Err(Error::failure(format!("{named} failed ({how}){said}")).hint("run the plugin by hand to see the whole message"));
    }
    // JSON, or YAML as client-go's decoder also takes. The parser's message is not
    // shown: it may quote the output, which holds the credential.
    let credential: ExecCredential = serde_saphyr::from_slice(&output.stdout)
        .ok()
        .filter(|c: &ExecCredential| c.kind.as_deref() == Some("ExecCredential"))
        .ok_or_else(|| Error::failure(format!("{named} printed no ExecCredential")).hint("a plugin prints a JSON ExecCredential on stdout"))?;
    credential.status.ok_or_else(|| Error::failure(format!("{named} printed an ExecCredential without a status")))
}

fn seconds(limit: Duration) -> String {
    format!("{}s", limit.as_secs_f64())
}

/// The last lines a failed plugin printed, short, and with anything that looks like
/// a credential blanked: what follows `token`, `password`, `secret`, `bearer` and
/// the like, JWTs, and long runs of token characters mixing letters and digits.
fn summarize(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let shown = &lines[lines.len().saturating_sub(SHOWN_LINES)..];
    shown
        .iter()
        .map(|line| {
            let line = redact(line);
            if line.chars().count() > SHOWN_LINE_CHARS { format!("{}…", line.chars().take(SHOWN_LINE_CHARS).collect::<String>()) } else { line }
        })
        .collect::<Vec<_>>()
        .join(" / ")
}

const REDACTED: &str = "[redacted]";
/// Words that name a credential: the next word, or what follows `=`/`:`, is one.
const SECRET_KEYS: &[&str] = &["token", "password", "passwd", "secret", "bearer", "authorization", "credential", "credentials", "apikey", "key"];
/// Words that may follow a key without being its value (`token has expired`).
const FILLERS: &[&str] = &[
    "a", "an", "and", "be", "can", "cannot", "could", "error", "expired", "failed", "file", "for", "found", "from", "has", "in", "invalid", "is", "missing",
    "must", "not", "of", "or", "refresh", "request", "required", "should", "the", "to", "was", "will", "with",
];

fn is_secret_key(word: &str) -> bool {
    let word = word.trim_matches(|c: char| !c.is_ascii_alphanumeric()).to_ascii_lowercase();
    word.split(['_', '-', '.']).any(|part| SECRET_KEYS.contains(&part))
}

fn looks_like_a_token(word: &str) -> bool {
    let word = word.trim_matches(|c: char| "\"'`,;()[]{}<>".contains(c));
    let token_chars = word.chars().all(|c| c.is_ascii_alphanumeric() || "-_.+/=~".contains(c));
    let mixed = word.chars().any(|c| c.is_ascii_digit()) && word.chars().any(|c| c.is_ascii_alphabetic());
    word.starts_with("eyJ") || (token_chars && mixed && word.len() >= 20)
}

fn redact(line: &str) -> String {
    let mut out = Vec::new();
    // The previous word was a key whose value comes next.
    let mut value_next = false;
    for word in line.split_whitespace() {
        let bare = word.trim_matches(|c: char| !c.is_ascii_alphanumeric()).to_ascii_lowercase();
        let keyed = word.find(['=', ':']).filter(|at| *at > 0 && is_secret_key(&word[..*at]));
        let shown = if let Some(at) = keyed {
            let value = &word[at + 1..];
            value_next = value.trim_matches(|c: char| "=:\"',".contains(c)).is_empty();
            if value_next { word.to_string() } else { format!("{}{REDACTED}", &word[..=at]) }
        } else if value_next && is_secret_key(word) {
            word.to_string()
        } else if (value_next && !FILLERS.contains(&bare.as_str())) || looks_like_a_token(word) {
            value_next = false;
            REDACTED.to_string()
        } else {
            value_next = is_secret_key(word);
            word.to_string()
        };
        out.push(shown);
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_plugins_stderr_are_blanked() {
        for (line, secret) in [
            ("error: token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln has expired", "eyJhbGciOiJSUzI1NiJ9"),
            ("refresh failed: token=abc123secretvalue", "abc123secretvalue"),
            ("refresh failed: \"access_token\":\"ya29.a0AfH6SMBx\"", "ya29.a0AfH6SMBx"),
            ("Authorization: Bearer sk-live-1234", "sk-live-1234"),
            ("using password hunter2 for user admin", "hunter2"),
            ("client_secret: s3cr3t", "s3cr3t"),
            ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
            ("invalid session ASIAXXXXXXXXXXXX1234EXAMPLE", "ASIAXXXXXXXXXXXX1234EXAMPLE"),
        ] {
            let shown = summarize(line.as_bytes());
            assert!(!shown.contains(secret), "{line:?} → {shown:?}");
            assert!(shown.contains(REDACTED), "{shown:?}");
        }
        assert_eq!(summarize(b"error: could not reach the identity provider (timeout)"), "error: could not reach the identity provider (timeout)");
    }

    #[test]
    fn only_the_last_lines_are_shown_and_long_ones_are_cut() {
        let stderr = format!("one\n\ntwo\nthree\nfour\n{}\n", "x".repeat(500));
        let shown = summarize(stderr.as_bytes());
        assert!(shown.starts_with("three / four / xxx"), "{shown}");
        assert!(shown.ends_with('…') && shown.chars().count() < 240, "{shown}");
        assert_eq!(summarize(b""), "");
        assert_eq!(summarize(&[0xff, 0xfe, b'\n']), "\u{fffd}\u{fffd}");
    }

    fn plugin(script: &str) -> (tempfile::TempDir, ExecConfig) {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plugin");
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let exec = ExecConfig {
            api_version: Some("client.authentication.k8s.io/v1".into()),
            command: Some(path.display().to_string()),
            args: Some(vec!["get-token".into()]),
            env: Some(vec![[("name".to_string(), "WHO".to_string()), ("value".to_string(), "kdeck".to_string())].into()]),
            drop_env: None,
            install_hint: None,
            interactive_mode: Some(ExecInteractiveMode::Never),
            provide_cluster_info: false,
            cluster: None,
            other: Default::default(),
        };
        (dir, exec)
    }

    #[tokio::test]
    async fn a_plugin_gets_its_args_env_and_exec_info_and_its_token_is_read() {
        let (_dir, exec) = plugin(
            r#"[ "$1" = get-token ] && [ "$WHO" = kdeck ] || exit 9
case "$KUBERNETES_EXEC_INFO" in *'"interactive":false'*) ;; *) exit 8 ;; esac
echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"tok-1"}}'"#,
        );
        let status = run(&exec, "dev", None, false, LIMITS).await.unwrap_or_else(|e| panic!("{}", e.message));
        assert_eq!(status.token.as_deref(), Some("tok-1"));
    }

    #[tokio::test]
    async fn a_failing_plugin_is_named_with_its_stderr_blanked() {
        let (_dir, exec) = plugin("echo 'starting' >&2; echo 'error: token=supersecret123 was refused' >&2; exit 3");
        let e = run(&exec, "dev", None, false, LIMITS).await.err().unwrap();
        assert!(e.message.contains("credential plugin") && e.message.contains("plugin of user \"dev\" failed (exit status 3)"), "{}", e.message);
        assert!(e.message.contains("was refused") && !e.message.contains("supersecret123"), "{}", e.message);
        let (_dir, exec) = plugin("echo 'not json at all: token abc'");
        let e = run(&exec, "dev", None, false, LIMITS).await.err().unwrap();
        assert!(e.message.ends_with("printed no ExecCredential") && !e.message.contains("abc"), "{}", e.message);
    }

    #[tokio::test]
    async fn a_plugin_that_never_answers_is_stopped_with_what_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let (_plugin_dir, exec) = plugin(&format!("sleep 1000 &\necho $! > {}\nwait", pid_file.display()));
        let limits = Limits { plain: Duration::from_millis(500), interactive: Duration::from_millis(500) };
        let started = std::time::Instant::now();
        let e = run(&exec, "dev", None, false, limits).await.err().unwrap();
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        assert!(e.message.contains("plugin of user \"dev\" did not answer within 0.5s"), "{}", e.message);
        let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        // SAFETY: signal 0 only checks that the process exists.
        while unsafe { libc::kill(pid, 0) } == 0 && std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z ")) {
            assert!(std::time::Instant::now() < deadline, "the plugin's child {pid} was not stopped");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[tokio::test]
    async fn a_missing_plugin_gets_its_install_hint() {
        let (_dir, mut exec) = plugin("");
        exec.command = Some("kdeck-no-such-plugin".into());
        exec.install_hint = Some("brew install kdeck-no-such-plugin\n".into());
        let e = run(&exec, "dev", None, false, LIMITS).await.err().unwrap();
        assert!(e.message.contains("kdeck-no-such-plugin of user \"dev\" cannot be started"), "{}", e.message);
        assert_eq!(e.hints, ["brew install kdeck-no-such-plugin"]);
        exec.interactive_mode = Some(ExecInteractiveMode::Always);
        assert!(run(&exec, "dev", None, false, LIMITS).await.err().unwrap().message.contains("needs a terminal"));
    }

    #[tokio::test]
    async fn a_token_without_expiry_replaces_the_plugin_and_one_with_expiry_does_not() {
        for (status, replaced) in [(r#"{"token":"tok-2"}"#, true), (r#"{"token":"tok-3","expirationTimestamp":"2099-01-01T00:00:00Z"}"#, false)] {
            let (_dir, exec) = plugin(&format!("echo '{{\"kind\":\"ExecCredential\",\"status\":{status}}}'"));
            let text = format!(
                "contexts: [{{name: c, context: {{cluster: k, user: u}}}}]\nclusters: [{{name: k, cluster: {{server: 'https://127.0.0.1:1'}}}}]\nusers: [{{name: u, user: {{exec: {{apiVersion: client.authentication.k8s.io/v1, command: '{}', interactiveMode: Never}}}}}}]\n",
                exec.command.as_deref().unwrap()
            );
            let mut kubeconfig = Kubeconfig::from_yaml(&text).unwrap();
            check(&mut kubeconfig, "c").await.unwrap_or_else(|e| panic!("{}", e.message));
            let auth = kubeconfig.auth_infos[0].auth_info.as_ref().unwrap();
            assert_eq!(auth.exec.is_none(), replaced, "{status}");
            assert_eq!(auth.token.is_some(), replaced, "{status}");
            check(&mut kubeconfig, "no-such-context").await.unwrap();
        }
    }

    #[test]
    fn only_a_user_without_other_credentials_runs_its_plugin() {
        let (_dir, exec) = plugin("");
        let mut auth = AuthInfo { exec: Some(exec), ..Default::default() };
        assert!(plugin_to_run(&auth).is_some());
        auth.token_file = Some("/var/run/token".into());
        assert!(plugin_to_run(&auth).is_none(), "kube-rs reads the token file first");
    }
}
