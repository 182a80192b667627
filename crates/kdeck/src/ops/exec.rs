//! Running a command in a container through the API (the `pods/exec` subresource),
//! with the user's streams attached: a pseudo-terminal in raw mode with resizes
//! when stdin is a terminal, plain streams otherwise. The remote exit code is the
//! result.

use futures::SinkExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, TerminalSize};
use tokio::io::AsyncWriteExt;

use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::ui::terminal::{self, RawMode};

pub struct Session<'a> {
    pub namespace: &'a str,
    pub pod: &'a str,
    pub container: &'a str,
    pub command: &'a [String],
    /// Attach stdin and a pseudo-terminal (the user's terminal goes raw).
    pub tty: bool,
    /// Attach stdin without a terminal (input piped in).
    pub stdin: bool,
}

/// Where the remote stdout and stderr go.
pub type Sink = Box<dyn tokio::io::AsyncWrite + Send + Unpin>;

/// Runs the session to its end with the user's stdout and stderr; returns the remote exit code.
pub async fn run(cluster: &Cluster, session: &Session<'_>) -> Result<i32> {
    run_with_output(cluster, session, Box::new(tokio::io::stdout()), Box::new(tokio::io::stderr())).await
}

/// Runs the session with its output sent to `out` and `err` (a task's prefixed,
/// logged output, say); returns the remote exit code.
pub async fn run_with_output(cluster: &Cluster, session: &Session<'_>, mut out: Sink, mut err: Sink) -> Result<i32> {
    let client = cluster.streaming_client()?;
    let pods: Api<Pod> = Api::namespaced(client, session.namespace);
    let params = AttachParams::default().container(session.container).stdin(session.stdin || session.tty).stdout(true).stderr(!session.tty).tty(session.tty);
    let what = format!("exec in {}/{} (container {})", session.namespace, session.pod, session.container);
    let mut attached = pods.exec(session.pod, session.command.iter().map(String::as_str), &params).await.map_err(|e| cluster.error(&what, e))?;
    let status = attached.take_status();
    // Raw mode from here until this function returns, whichever way it does.
    let _raw = if session.tty { RawMode::enable() } else { None };
    let mut tasks = Vec::new();
    if let Some(mut remote_out) = attached.stdout() {
        tasks.push(tokio::spawn(async move {
            let _ = tokio::io::copy(&mut remote_out, &mut out).await;
            let _ = out.shutdown().await;
        }));
    }
    if let Some(mut remote_err) = attached.stderr() {
        tasks.push(tokio::spawn(async move {
            let _ = tokio::io::copy(&mut remote_err, &mut err).await;
            let _ = err.shutdown().await;
        }));
    }
    let stdin_task = attached.stdin().map(|mut remote_in| {
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut tokio::io::stdin(), &mut remote_in).await;
            let _ = remote_in.shutdown().await;
        })
    });
    let resize_task = if session.tty { attached.terminal_size().map(|sizes| tokio::spawn(forward_resizes(sizes))) } else { None };
    let status = match status {
        Some(status) => status.await,
        None => None,
    };
    for task in tasks {
        let _ = task.await;
    }
    for task in [stdin_task, resize_task].into_iter().flatten() {
        task.abort();
    }
    let _ = attached.join().await;
    exit_code(status).ok_or_else(|| Error::failure(format!("{what}: the connection ended without an exit status")))
}

/// Sends the terminal's size now and on every SIGWINCH.
async fn forward_resizes(mut sizes: futures::channel::mpsc::Sender<TerminalSize>) {
    let Ok(mut winch) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change()) else { return };
    loop {
        if let Some((width, height)) = terminal::size()
            && sizes.send(TerminalSize { width, height }).await.is_err()
        {
            return;
        }
        if winch.recv().await.is_none() {
            return;
        }
    }
}

/// The exit code in the API's final Status: Success is 0; NonZeroExitCode carries
/// the code as an `ExitCode` cause.
pub fn exit_code(status: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>) -> Option<i32> {
    let status = status?;
    if status.status.as_deref() == Some("Success") {
        return Some(0);
    }
    let causes = status.details.and_then(|d| d.causes).unwrap_or_default();
    causes.iter().find(|c| c.reason.as_deref() == Some("ExitCode")).and_then(|c| c.message.as_deref()?.parse().ok()).or(Some(1))
}
