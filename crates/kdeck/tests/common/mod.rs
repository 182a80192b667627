//! Test harness: each test starts its own sandbox with the real kdeck binary, in a
//! private KDECK_HOME and KUBECONFIG, and stops it when the test ends.

#![allow(dead_code)]

pub mod example;
pub mod ingress;
pub mod model;
pub mod project;
pub mod standins;

use std::path::{Path, PathBuf};
use std::process::Output;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::config::{KubeConfigOptions, Kubeconfig};
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_kdeck");

pub struct TestSandbox {
    pub dir: TempDir,
    pub name: String,
}

impl TestSandbox {
    /// Starts sandbox `name` in a fresh temporary home.
    pub fn start(name: &str) -> Self {
        let sandbox = Self::new(name);
        sandbox.start_again();
        sandbox
    }

    /// Starts sandbox `name` loaded with scenario `seed`.
    pub fn start_seeded(name: &str, seed: &str) -> Self {
        let sandbox = Self::new(name);
        let out = sandbox.run(&["sandbox", "start", "--detach", "--name", name, "--seed", seed]);
        assert!(out.status.success(), "sandbox start --seed {seed} failed: {}", String::from_utf8_lossy(&out.stderr));
        sandbox
    }

    /// A sandbox home without starting anything.
    pub fn new(name: &str) -> Self {
        TestSandbox { dir: tempfile::tempdir().expect("temp dir"), name: name.to_string() }
    }

    /// Another sandbox sharing this one's home and kubeconfig.
    pub fn sibling(&self, name: &str) -> Sibling<'_> {
        Sibling { home: self, name: name.to_string() }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// A kdeck command with this sandbox's environment.
    pub fn kdeck(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(BIN);
        cmd.env("KDECK_HOME", self.home()).env("KUBECONFIG", self.kubeconfig()).env("NO_COLOR", "1");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.kdeck().args(args).output().expect("run kdeck")
    }

    pub fn start_again(&self) {
        start_named(self, &self.name);
    }

    pub fn stop(&self) {
        let out = self.run(&["sandbox", "stop", "--name", &self.name]);
        assert!(out.status.success(), "stop failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    pub async fn client(&self) -> kube::Client {
        client_for(&self.kubeconfig(), &self.name).await
    }

    pub async fn readonly_client(&self) -> kube::Client {
        client_for(&self.kubeconfig(), &format!("{}-readonly", self.name)).await
    }
}

fn start_named(sandbox: &TestSandbox, name: &str) {
    let out = sandbox.run(&["sandbox", "start", "--detach", "--name", name]);
    assert!(out.status.success(), "sandbox start failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), name, "start --detach prints the context name");
}

pub struct Sibling<'a> {
    home: &'a TestSandbox,
    pub name: String,
}

impl Sibling<'_> {
    pub fn start(&self) {
        start_named(self.home, &self.name);
    }

    pub fn start_seeded(&self, seed: &str) {
        let out = self.home.run(&["sandbox", "start", "--detach", "--name", &self.name, "--seed", seed]);
        assert!(out.status.success(), "sandbox start --seed {seed} failed: {}", String::from_utf8_lossy(&out.stderr));
    }

    pub async fn client(&self) -> kube::Client {
        client_for(&self.home.kubeconfig(), &self.name).await
    }
}

impl Drop for Sibling<'_> {
    fn drop(&mut self) {
        let _ = self.home.run(&["sandbox", "stop", "--name", &self.name]);
    }
}

impl Drop for TestSandbox {
    fn drop(&mut self) {
        let _ = self.run(&["sandbox", "stop", "--name", &self.name]);
    }
}

pub async fn client_for(kubeconfig: &Path, context: &str) -> kube::Client {
    let raw = Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let options = KubeConfigOptions { context: Some(context.to_string()), ..Default::default() };
    let config = kube::Config::from_custom_kubeconfig(raw, &options).await.expect("config");
    kube::Client::try_from(config).expect("client")
}

/// The API error's HTTP code and reason, or a panic naming what happened instead.
pub fn api_error<T: std::fmt::Debug>(result: kube::Result<T>) -> (u16, String, String) {
    match result {
        Err(kube::Error::Api(status)) => (status.code, status.reason.clone(), status.message.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Polls the pod until `done` holds (10 s at most); a pod that does not exist yet
/// is waited for too. Panics naming `what` it never reached.
pub async fn wait_pod(pods: &Api<Pod>, name: &str, what: &str, done: impl Fn(&Pod) -> bool) -> Pod {
    wait_object(pods, name, what, done).await
}

/// Polls any object until `done` holds (10 s at most), as [`wait_pod`].
pub async fn wait_object<K>(api: &Api<K>, name: &str, what: &str, done: impl Fn(&K) -> bool) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    wait_object_for(api, name, what, std::time::Duration::from_secs(10), done).await
}

/// As [`wait_object`], for at most `limit`.
pub async fn wait_object_for<K>(api: &Api<K>, name: &str, what: &str, limit: std::time::Duration, done: impl Fn(&K) -> bool) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let tries = (limit.as_millis() / 100).max(1);
    for _ in 0..tries {
        if let Some(object) = api.get_opt(name).await.unwrap()
            && done(&object)
        {
            return object;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{name} never reached: {what}");
}

impl TestSandbox {
    /// Starts sandbox `name` with more `sandbox start` flags (e.g. `--run-commands`).
    pub fn start_with_args(name: &str, args: &[&str]) -> Self {
        let sandbox = Self::new(name);
        let mut all = vec!["sandbox", "start", "--detach", "--name", name];
        all.extend_from_slice(args);
        let out = sandbox.run(&all);
        assert!(out.status.success(), "sandbox start {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        sandbox
    }
}

/// What a command run in a pod printed, and its exit code.
pub struct ExecOutput {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

/// Runs `command` in `pod` through kube-rs (its first container), 30 s at most.
pub async fn exec(pods: &Api<Pod>, pod: &str, command: &[&str]) -> ExecOutput {
    use tokio::io::AsyncReadExt;
    let params = kube::api::AttachParams::default().stdout(true).stderr(true);
    let mut attached = pods.exec(pod, command.iter().copied(), &params).await.expect("exec upgraded");
    let read = |r: Option<tokio::io::ReadHalf<tokio::io::SimplexStream>>| async move {
        let mut text = String::new();
        if let Some(mut r) = r {
            r.read_to_string(&mut text).await.unwrap();
        }
        text
    };
    let (stdout, stderr) = (attached.stdout(), attached.stderr());
    let status = attached.take_status().expect("status future");
    let (stdout, stderr, status) = tokio::time::timeout(std::time::Duration::from_secs(30), async { tokio::join!(read(stdout), read(stderr), status) })
        .await
        .expect("exec finished in time");
    let status = status.expect("a status");
    let code = match status.status.as_deref() {
        Some("Success") => 0,
        _ => status.details.and_then(|d| d.causes).and_then(|c| c.into_iter().next()).and_then(|c| c.message).and_then(|m| m.parse().ok()).unwrap_or(-1),
    };
    ExecOutput { stdout, stderr, code }
}

/// The log of `pod` as the API has it, each line as `kdeck logs --timestamps`
/// prints it (the time as kdeck writes it, then the text).
pub async fn api_log(pods: &Api<Pod>, pod: &str) -> Vec<String> {
    let text = pods.logs(pod, &kube::api::LogParams { timestamps: true, ..Default::default() }).await.unwrap();
    text.lines()
        .map(|l| {
            let (stamp, rest) = l.split_once(' ').unwrap_or((l, ""));
            format!("{} {rest}", stamp.parse::<k8s_openapi::jiff::Timestamp>().unwrap())
        })
        .collect()
}

/// A port nothing listens on now, on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// The program's path on the host's PATH.
pub fn which(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(program)).find(|p| p.is_file())
}

/// Debian's PostgreSQL server binaries: `/usr/lib/postgresql/<version>/bin`, the newest.
pub fn postgres_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir("/usr/lib/postgresql").ok()?.flatten().map(|e| e.path().join("bin")).filter(|d| d.join("postgres").is_file()).collect();
    dirs.sort_by_key(|d| d.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok()));
    dirs.pop()
}

/// `found`, or (the server is not installed) None after saying the test is
/// skipped — a failure when `CI` is set, where it must be installed.
pub fn installed(what: &str, found: Option<PathBuf>) -> Option<PathBuf> {
    if found.is_some() {
        return found;
    }
    let message = format!("{what} is not installed on this machine");
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{message}; CI installs it (.ci/run)");
    }
    eprintln!("skipped: {message}");
    None
}
