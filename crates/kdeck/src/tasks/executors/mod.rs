//! The four places a task runs. Each executor first *prepares* — finds everything
//! it needs (the shell, the pod, the container, the permissions) and fails there
//! if something is missing — then *runs*. A dry run prepares and prints the plan.

pub mod container;
pub mod job;
pub mod kubernetes;
pub mod local;

use std::future::Future;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::cluster::Cluster;
use crate::cluster::access;
use crate::error::{Error, ExitCode, Result};
use crate::interrupt::Interrupt;
use crate::project::config::ExecutorKind;
use crate::project::secret;
use crate::tasks::output::Output;
use crate::tasks::resolve::{KubeTarget, Resolved};

/// A task ready to run, and the plan that says how.
pub struct Prepared {
    pub task: String,
    /// Rows of the plan, in the order shown: (what, value).
    pub plan: Vec<(&'static str, String)>,
    runner: Runner,
    resolved: Resolved,
}

enum Runner {
    Local(local::Local),
    Container(container::Container),
    // Boxed: their clients make them large.
    Kubernetes(Box<kubernetes::Kubernetes>),
    Job(Box<job::Job>),
}

/// A task that could not be prepared: the plan as far as it got, and why not.
pub struct Unprepared {
    pub plan: Vec<(&'static str, String)>,
    pub error: Error,
}

pub async fn prepare(resolved: Resolved) -> Result<Prepared, Box<Unprepared>> {
    let mut plan = vec![("executor", format!("{} ({})", resolved.executor.name(), resolved.choice))];
    let runner = match resolved.executor {
        ExecutorKind::Local => local::prepare(&resolved, &mut plan).map(Runner::Local),
        ExecutorKind::Container => container::prepare(&resolved, &mut plan).map(Runner::Container),
        ExecutorKind::Kubernetes => kubernetes::prepare(&resolved, &mut plan).await.map(|k| Runner::Kubernetes(Box::new(k))),
        ExecutorKind::Job => job::prepare(&resolved, &mut plan).await.map(|j| Runner::Job(Box::new(j))),
    };
    let runner = runner.map_err(|error| Box::new(Unprepared { plan: plan.clone(), error }))?;
    plan.push(("env", env_summary(&resolved)));
    if let Some(timeout) = resolved.timeout {
        plan.push(("timeout", format!("{}s", timeout.as_secs())));
    }
    Ok(Prepared { task: resolved.name.clone(), plan, runner, resolved })
}

impl Prepared {
    /// Runs the task; Ok is its exit code. A timeout or a signal stops it (an
    /// interactive local or container task gets the terminal's signals itself).
    pub async fn run(&self, output: &Output, interrupt: &Interrupt) -> Result<i32> {
        let resolved = &self.resolved;
        let interruptible = resolved.executor == ExecutorKind::Kubernetes || !resolved.interactive;
        match &self.runner {
            Runner::Local(local) => bounded(resolved, interrupt, interruptible, local.run(resolved, output)).await,
            Runner::Container(container) => bounded(resolved, interrupt, interruptible, container.run(resolved, output)).await,
            Runner::Kubernetes(kubernetes) => bounded(resolved, interrupt, interruptible, kubernetes.run(resolved, output)).await,
            // A Job must be deleted however it ends, so it watches both itself.
            Runner::Job(job) => job.run(resolved, output, interrupt.clone()).await,
        }
    }

    /// The plan as text: the task, then one indented row per setting.
    pub fn plan_text(&self) -> String {
        plan_text(&self.task, &self.plan)
    }

    pub fn plan_json(&self) -> serde_json::Value {
        let mut object = plan_json(&self.task, &self.plan);
        object["envNames"] = self.resolved.env.iter().map(|v| serde_json::Value::from(v.name.clone())).collect::<Vec<_>>().into();
        object
    }
}

impl Unprepared {
    /// The plan as far as it got, then the problem that stops the task.
    pub fn plan_text(&self, task: &str) -> String {
        let mut plan = self.plan.clone();
        plan.push(("problem", problem(&self.error)));
        plan_text(task, &plan)
    }

    pub fn plan_json(&self, task: &str) -> serde_json::Value {
        let mut object = plan_json(task, &self.plan);
        object["problem"] = problem(&self.error).into();
        object
    }
}

/// An error as one plan row: its message, then its hints.
fn problem(error: &Error) -> String {
    std::iter::once(error.message.clone()).chain(error.hints.iter().map(|h| format!("hint: {h}"))).collect::<Vec<_>>().join("\n")
}

/// The task, then one indented row per setting.
fn plan_text(task: &str, plan: &[(&'static str, String)]) -> String {
    let width = plan.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    let mut text = format!("{task}\n");
    for (key, value) in plan {
        let mut lines = value.lines();
        text.push_str(&format!("  {:<width$} {}\n", format!("{key}:"), lines.next().unwrap_or_default(), width = width));
        for more in lines {
            text.push_str(&format!("  {:<width$} {more}\n", "", width = width));
        }
    }
    text
}

fn plan_json(task: &str, plan: &[(&'static str, String)]) -> serde_json::Value {
    let mut object = serde_json::Map::new();
    object.insert("task".into(), task.into());
    for (key, value) in plan {
        object.insert((*key).into(), value.clone().into());
    }
    serde_json::Value::Object(object)
}

/// `NAME=value, SECRET=******`: names always, values only when not secret.
fn env_summary(resolved: &Resolved) -> String {
    if resolved.env.is_empty() {
        return "(none)".into();
    }
    resolved.env.iter().map(|v| format!("{}={}", v.name, secret::masked(&v.value, v.secret))).collect::<Vec<_>>().join(", ")
}

/// Copies a child process's piped stdout and stderr into the task's output;
/// resolves when both have ended.
fn copy_output(
    stdout: Option<tokio::process::ChildStdout>,
    stderr: Option<tokio::process::ChildStderr>,
    output: &Output,
) -> impl std::future::Future<Output = ()> + use<> {
    use crate::tasks::output::Stream;
    let out = stdout.map(|mut pipe| {
        let mut writer = output.writer(Stream::Stdout);
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut pipe, &mut writer).await;
        })
    });
    let err = stderr.map(|mut pipe| {
        let mut writer = output.writer(Stream::Stderr);
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut pipe, &mut writer).await;
        })
    });
    async move {
        for task in [out, err].into_iter().flatten() {
            let _ = task.await;
        }
    }
}

/// Runs `run` until it ends, the task's timeout passes (exit code 4), or a signal
/// arrives (128 + its number); the latter two drop the run, which stops what it started.
async fn bounded(resolved: &Resolved, interrupt: &Interrupt, interruptible: bool, run: impl Future<Output = Result<i32>>) -> Result<i32> {
    let mut interrupt = interrupt.clone();
    let deadline = deadline(resolved.timeout);
    tokio::select! {
        result = run => result,
        _ = deadline => Err(timed_out(resolved, resolved.timeout.unwrap_or_default())),
        code = interrupt.wait(), if interruptible => Err(Interrupt::error(code)),
    }
}

/// Sleeps until the timeout, or forever without one.
async fn deadline(timeout: Option<Duration>) {
    match timeout {
        Some(limit) => tokio::time::sleep(limit).await,
        None => std::future::pending().await,
    }
}

fn timed_out(resolved: &Resolved, limit: Duration) -> Error {
    Error::new(ExitCode::Timeout, format!("task {} ran out of time after {}s", resolved.name, limit.as_secs()))
        .hint(format!("raise its timeout in kdeck.yaml ({}.timeout)", resolved.place))
}

/// Runs a program with the task's env in `dir`: its output goes through the task's
/// output, or straight to the terminal for interactive tasks. Ok is its exit code.
/// A non-interactive task runs in its own process group, which is killed when the
/// task ends or is stopped, so nothing it started in the background outlives it.
async fn run_process(argv: &[String], dir: &Path, resolved: &Resolved, output: &Output) -> Result<i32> {
    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]).current_dir(dir).envs(resolved.env.iter().map(|v| (&v.name, &v.value))).kill_on_drop(true);
    if !resolved.interactive {
        command.process_group(0).stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let mut child = command.spawn().map_err(|e| Error::failure(format!("task {}: cannot start {}: {e}", resolved.name, argv[0])))?;
    let group = (!resolved.interactive).then(|| child.id().map(ProcessGroup)).flatten();
    let copies = copy_output(child.stdout.take(), child.stderr.take(), output);
    let status = child.wait().await.map_err(|e| Error::failure(format!("task {}: {e}", resolved.name)))?;
    // Background leftovers would hold the output pipes open.
    drop(group);
    copies.await;
    Ok(exit_code(status))
}

/// A process group killed when dropped.
struct ProcessGroup(u32);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if let Ok(pgid) = i32::try_from(self.0) {
            // SAFETY: killpg only sends a signal; a group that is gone yields ESRCH.
            unsafe { libc::killpg(pgid, libc::SIGKILL) };
        }
    }
}

/// The code a shell would report: the exit code, or 128 + the signal that ended it.
fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// The cluster and namespace a kubernetes or job task runs in (added to the plan),
/// checked to exist before anything else is asked of them.
async fn connect<'a>(resolved: &'a Resolved, plan: &mut Vec<(&'static str, String)>) -> Result<(Cluster, String, &'a KubeTarget)> {
    let Some(kube) = &resolved.kube else {
        return Err(Error::usage(format!("task {}: its component has no Kubernetes workload", resolved.name)));
    };
    let cluster = Cluster::connect(kube.context.as_ref().map(|c| c.value.as_str())).await?;
    let context_source = kube.context.as_ref().map_or("the kubeconfig's current context".to_string(), |c| format!("from {}", c.source));
    plan.push(("context", format!("{} ({context_source})", cluster.context)));
    let (namespace, source) = match &kube.namespace {
        Some(ns) => (ns.value.clone(), format!("from {}", ns.source)),
        None => (cluster.default_namespace.clone(), format!("the namespace of context {}", cluster.context)),
    };
    plan.push(("namespace", format!("{namespace} ({source})")));
    access::require_namespace(&cluster, &namespace).await?;
    Ok((cluster, namespace, kube))
}
