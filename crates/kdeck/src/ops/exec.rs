//! Running a command in a container through the API (the `pods/exec` subresource),
//! with the user's streams attached: a pseudo-terminal in raw mode with resizes
//! when stdin is a terminal, plain streams otherwise. The remote exit code is the
//! result.

use futures::{FutureExt, SinkExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, TerminalSize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
pub async fn run_with_output(cluster: &Cluster, session: &Session<'_>, out: Sink, err: Sink) -> Result<i32> {
    let client = cluster.streaming_client()?;
    let pods: Api<Pod> = Api::namespaced(client, session.namespace);
    let params = AttachParams::default().container(session.container).stdin(session.stdin || session.tty).stdout(true).stderr(!session.tty).tty(session.tty);
    let what = format!("exec in {}/{} (container {})", session.namespace, session.pod, session.container);
    let mut attached = pods.exec(session.pod, session.command.iter().map(String::as_str), &params).await.map_err(|e| cluster.error(&what, e))?;
    let status = attached.take_status();
    // Raw mode from here until this function returns, whichever way it does.
    let _raw = if session.tty { RawMode::enable() } else { None };
    // Set once the connection's message loop is over. On its error paths kube-rs
    // never closes the output streams, so the copies take what is buffered then
    // stop, rather than wait for an end of stream that does not come.
    let (ended_tx, ended) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    if let Some(remote_out) = attached.stdout() {
        tasks.push(tokio::spawn(forward(remote_out, out, ended.clone())));
    }
    if let Some(remote_err) = attached.stderr() {
        tasks.push(tokio::spawn(forward(remote_err, err, ended.clone())));
    }
    let stdin_task = attached.stdin().map(|mut remote_in| {
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut tokio::io::stdin(), &mut remote_in).await;
            let _ = remote_in.shutdown().await;
        })
    });
    let resize_task = if session.tty { attached.terminal_size().map(|sizes| tokio::spawn(forward_resizes(sizes))) } else { None };
    // The status arrives, or its sender is dropped when the loop ends without one.
    let status = match status {
        Some(status) => status.await,
        None => None,
    };
    let _ = ended_tx.send(true);
    for task in tasks {
        let _ = task.await;
    }
    for task in [stdin_task, resize_task].into_iter().flatten() {
        task.abort();
    }
    let ended = attached.join().await;
    exit_code(status).ok_or_else(|| match ended {
        Err(e) => Error::failure(format!("{what}: the connection ended without an exit status: {e}")),
        Ok(()) => Error::failure(format!("{what}: the connection ended without an exit status")),
    })
}

/// Copies a remote stream to its sink until the stream ends, or until `ended` is
/// set and nothing more is buffered.
async fn forward(mut from: impl tokio::io::AsyncRead + Unpin, mut to: Sink, mut ended: tokio::sync::watch::Receiver<bool>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let read = tokio::select! {
            read = from.read(&mut buf) => read,
            _ = ended.wait_for(|ended| *ended) => from.read(&mut buf).now_or_never().unwrap_or(Ok(0)),
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
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
