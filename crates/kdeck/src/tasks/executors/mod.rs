//! The four places a task runs. Each executor first *prepares* — finds everything
//! it needs (the shell, the pod, the container, the permissions) and fails there
//! if something is missing — then *runs*. A dry run prepares and prints the plan.

pub mod container;
pub mod job;
pub mod kubernetes;
pub mod local;

use crate::error::Result;
use crate::project::config::ExecutorKind;
use crate::project::secret;
use crate::tasks::output::Output;
use crate::tasks::resolve::Resolved;

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

pub async fn prepare(resolved: Resolved) -> Result<Prepared> {
    let mut plan = vec![("executor", format!("{} ({})", resolved.executor.name(), resolved.choice))];
    let runner = match resolved.executor {
        ExecutorKind::Local => Runner::Local(local::prepare(&resolved, &mut plan)?),
        ExecutorKind::Container => Runner::Container(container::prepare(&resolved, &mut plan)?),
        ExecutorKind::Kubernetes => Runner::Kubernetes(Box::new(kubernetes::prepare(&resolved, &mut plan).await?)),
        ExecutorKind::Job => Runner::Job(Box::new(job::prepare(&resolved, &mut plan).await?)),
    };
    plan.push(("env", env_summary(&resolved)));
    if let Some(timeout) = resolved.timeout {
        plan.push(("timeout", format!("{}s", timeout.as_secs())));
    }
    Ok(Prepared { task: resolved.name.clone(), plan, runner, resolved })
}

impl Prepared {
    /// Runs the task; Ok is its exit code.
    pub async fn run(&self, output: &Output) -> Result<i32> {
        let resolved = &self.resolved;
        match &self.runner {
            Runner::Local(local) => within_timeout(resolved, local.run(resolved, output)).await,
            Runner::Container(container) => within_timeout(resolved, container.run(resolved, output)).await,
            Runner::Kubernetes(kubernetes) => within_timeout(resolved, kubernetes.run(resolved, output)).await,
            // A Job must be deleted however it ends, so it keeps its own deadline.
            Runner::Job(job) => job.run(resolved, output).await,
        }
    }

    pub fn resolved(&self) -> &Resolved {
        &self.resolved
    }

    /// The plan as text: the task, then one indented row per setting.
    pub fn plan_text(&self) -> String {
        let width = self.plan.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
        let mut text = format!("{}\n", self.task);
        for (key, value) in &self.plan {
            let mut lines = value.lines();
            text.push_str(&format!("  {:<width$} {}\n", format!("{key}:"), lines.next().unwrap_or_default(), width = width));
            for more in lines {
                text.push_str(&format!("  {:<width$} {more}\n", "", width = width));
            }
        }
        text
    }

    pub fn plan_json(&self) -> serde_json::Value {
        let mut object = serde_json::Map::new();
        object.insert("task".into(), self.task.clone().into());
        for (key, value) in &self.plan {
            object.insert((*key).into(), value.clone().into());
        }
        object.insert("envNames".into(), self.resolved.env.iter().map(|v| serde_json::Value::from(v.name.clone())).collect::<Vec<_>>().into());
        serde_json::Value::Object(object)
    }
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

/// Runs `run`, failing with exit code 4 if the task's timeout passes first (the
/// run is dropped, which stops what it started).
async fn within_timeout(resolved: &Resolved, run: impl std::future::Future<Output = Result<i32>>) -> Result<i32> {
    match resolved.timeout {
        None => run.await,
        Some(limit) => tokio::time::timeout(limit, run).await.unwrap_or_else(|_| Err(timed_out(resolved, limit))),
    }
}

fn timed_out(resolved: &Resolved, limit: std::time::Duration) -> crate::error::Error {
    crate::error::Error::new(crate::error::ExitCode::Timeout, format!("task {} ran out of time after {}s", resolved.name, limit.as_secs()))
        .hint(format!("raise its timeout in kdeck.yaml ({}.timeout)", resolved.place))
}
