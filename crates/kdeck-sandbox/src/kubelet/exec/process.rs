//! Starting the exec'd process: confined by [`super::confine`], with its streams on
//! pipes, or on a pseudo-terminal of the pod's devpts when the client asked for a TTY.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::process::Stdio;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::process::{Child, Command};

use super::Prepared;
use super::confine::{Fds, Plan, STAGES};

pub type Reader = Box<dyn AsyncRead + Send + Unpin>;
pub type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// A started process and its streams, by channel (1 stdout, 2 stderr).
pub struct Running {
    pub child: Child,
    pub stdin: Option<Writer>,
    pub outputs: Vec<(u8, Reader)>,
    /// The terminal's controlling side, for window size changes.
    pub pty: Option<OwnedFd>,
}

/// Why nothing runs.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The command could not be executed (not found: 127; not executable: 126).
    /// Reported to the client like the runtime does: a message and an exit code.
    #[error("{message}")]
    Exec { message: String, code: i32 },
    /// The confinement could not be set up: the exec must fail, not run unconfined.
    #[error("{0}")]
    Confine(String),
}

/// Starts the prepared command, confined to its pod ([`confine`](super::confine)).
/// `root` is the empty host directory the view's tmpfs is mounted on (privately,
/// in the child). The returned child is the relay: signals sent to it reach the
/// command, SIGKILL ends the pod's namespace, and its exit code is the command's.
pub fn start(prepared: &Prepared, root: &Path) -> Result<Running, StartError> {
    let confine_err = |e: io::Error| StartError::Confine(format!("cannot confine the exec to the pod: {e}"));
    crate::fsutil::create_private_dir(root).map_err(confine_err)?;
    let plan = Plan::build(prepared, root).map_err(confine_err)?;
    let (report_read, report_write) = pipe().map_err(confine_err)?;
    let mut cmd = Command::new(&prepared.argv[0]);
    cmd.args(&prepared.argv[1..]).env_clear().envs(prepared.env.iter().map(|(k, v)| (k, v))).kill_on_drop(true);
    // With a terminal, the command opens one of the pod's devpts and passes its
    // controlling side back over this socket.
    let terminal = if prepared.tty { Some(socket_pair().map_err(confine_err)?) } else { None };
    let null_or = |wanted: bool| if wanted { Stdio::piped() } else { Stdio::null() };
    // With merged output, both streams write to one pipe (blocking on the child's
    // side, as output pipes are); the parent reads the other end.
    let mut merged: Option<io::PipeReader> = None;
    if terminal.is_some() {
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    } else if prepared.merge_stderr {
        let (reader, writer) = io::pipe().map_err(confine_err)?;
        cmd.stdin(null_or(prepared.stdin)).stdout(writer.try_clone().map_err(confine_err)?).stderr(writer);
        merged = Some(reader);
    } else {
        cmd.stdin(null_or(prepared.stdin)).stdout(null_or(prepared.stdout)).stderr(null_or(prepared.stderr));
    }
    let fds = Fds { report: report_write.as_raw_fd(), pty: terminal.as_ref().map(|(_, child)| child.as_raw_fd()) };
    // SAFETY: the closure runs in the forked child before exec and only makes system
    // calls on data prepared in the parent (see `Plan::run`).
    unsafe {
        cmd.pre_exec(move || plan_run(&plan, &fds));
    }
    let spawned = cmd.spawn();
    drop(cmd);
    drop(report_write);
    let report = read_report(&report_read);
    let child = match spawned {
        Ok(child) => child,
        Err(e) => return Err(spawn_error(&prepared.argv[0], e, &report, |stage, index| describe(prepared, root, stage, index))),
    };
    let master = match &terminal {
        Some((parent, _)) => Some(super::child::recv_fd(parent.as_raw_fd()).map_err(confine_err)?),
        None => None,
    };
    let mut running = streams(child, master);
    if let Some(reader) = merged {
        let reader = tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(reader)).map_err(confine_err)?;
        running.outputs.push((1, Box::new(reader)));
    }
    Ok(running)
}

/// # Safety
/// As [`Plan::run`].
unsafe fn plan_run(plan: &Plan, fds: &Fds) -> io::Result<()> {
    // SAFETY: forwarded to the caller.
    unsafe { plan.run(fds) }
}

/// What a failed step was, for the message: the plan is built again (cheap), as
/// the one that ran moved into the child's closure.
fn describe(prepared: &Prepared, root: &Path, stage: u8, index: u16) -> String {
    match Plan::build(prepared, root) {
        Ok(plan) => plan.describe(stage, index),
        Err(_) => format!("cannot {}", STAGES.get(usize::from(stage)).copied().unwrap_or("set up")),
    }
}

/// The exit code a shell would report: a process killed by signal N exits 128 + N.
pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().or_else(|| status.signal().map(|s| 128 + s)).unwrap_or(1)
}

fn streams(mut child: Child, master: Option<OwnedFd>) -> Running {
    let Some(master) = master else {
        let stdin = child.stdin.take().map(|s| Box::new(s) as Writer);
        let mut outputs: Vec<(u8, Reader)> = Vec::new();
        if let Some(out) = child.stdout.take() {
            outputs.push((1, Box::new(out)));
        }
        if let Some(err) = child.stderr.take() {
            outputs.push((2, Box::new(err)));
        }
        return Running { child, stdin, outputs, pty: None };
    };
    let file = |fd: &OwnedFd| fd.try_clone().ok().map(|fd| tokio::fs::File::from_std(File::from(fd)));
    let stdin = file(&master).map(|f| Box::new(f) as Writer);
    let outputs = file(&master).map(|f| vec![(1u8, Box::new(PtyReader(f)) as Reader)]).unwrap_or_default();
    Running { child, stdin, outputs, pty: Some(master) }
}

/// What a failed spawn means: the children reported how far they got.
fn spawn_error(program: &str, e: io::Error, report: &[u8], describe: impl Fn(u8, u16) -> String) -> StartError {
    match report {
        [.., u8::MAX] => {
            let (message, code) = match e.kind() {
                io::ErrorKind::NotFound => (format!("exec: \"{program}\": executable file not found in $PATH"), 127),
                io::ErrorKind::PermissionDenied => (format!("exec: \"{program}\": permission denied"), 126),
                _ => (format!("exec: \"{program}\": {e}"), 126),
            };
            StartError::Exec { message, code }
        }
        [.., stage, hi, lo] => {
            let what = describe(*stage, u16::from_be_bytes([*hi, *lo]));
            StartError::Confine(format!("cannot confine the exec to the pod: {what}: {e}"))
        }
        _ => StartError::Confine(format!("cannot start the exec: {e}")),
    }
}

/// A connected pair of Unix stream sockets, close-on-exec.
fn socket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a valid out-array of two descriptors.
    if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: socketpair returned two fresh descriptors we now own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a valid out-array of two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 returned two fresh descriptors we now own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Everything the children wrote to the report pipe (its write ends are closed).
fn read_report(fd: &OwnedFd) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: reading into a local buffer of the given length.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
}

/// Sets the terminal's window size (channel 4).
pub fn resize(pty: &OwnedFd, width: u16, height: u16) {
    let size = libc::winsize { ws_row: height, ws_col: width, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCSWINSZ reads a winsize from the given pointer.
    unsafe { libc::ioctl(pty.as_raw_fd(), libc::TIOCSWINSZ, &size) };
}

/// Reads the controlling side of a terminal; EIO once the last process holding
/// the terminal exits is the end of output, not an error.
struct PtyReader(tokio::fs::File);

impl AsyncRead for PtyReader {
    fn poll_read(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>, buf: &mut tokio::io::ReadBuf<'_>) -> std::task::Poll<io::Result<()>> {
        match std::pin::Pin::new(&mut self.0).poll_read(cx, buf) {
            std::task::Poll::Ready(Err(e)) if e.raw_os_error() == Some(libc::EIO) => std::task::Poll::Ready(Ok(())),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_before_exec_refuse_the_exec_and_exec_failures_are_exit_codes() {
        let not_found = || io::Error::from(io::ErrorKind::NotFound);
        let describe = |stage: u8, index: u16| format!("stage {stage} step {index}");
        let StartError::Exec { message, code } = spawn_error("nope", not_found(), &[u8::MAX], describe) else { panic!("an exec failure") };
        assert_eq!((message.as_str(), code), ("exec: \"nope\": executable file not found in $PATH", 127));
        let denied = spawn_error("x", io::Error::from(io::ErrorKind::PermissionDenied), &[u8::MAX], describe);
        assert!(matches!(denied, StartError::Exec { code: 126, .. }));
        // A child failed at stage 3, step 258: no unconfined run.
        let StartError::Confine(message) = spawn_error("sh", io::Error::from_raw_os_error(libc::EPERM), &[3, 1, 2], describe) else {
            panic!("a confinement failure")
        };
        assert!(message.starts_with("cannot confine the exec to the pod: stage 3 step 258:"), "{message}");
        assert!(matches!(spawn_error("sh", not_found(), &[], describe), StartError::Confine(m) if m.starts_with("cannot start the exec")));
    }
}
