//! Starting the exec'd process: confined by [`super::confine`], with its streams on
//! pipes, or on a pseudo-terminal when the client asked for a TTY.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::process::Stdio;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::process::{Child, Command};

use super::Prepared;
use super::confine::{Plan, STAGES};

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

/// Starts the prepared command. `root` is the empty host directory the view's
/// tmpfs is mounted on (privately, in the child).
pub fn start(prepared: &Prepared, root: &Path) -> Result<Running, StartError> {
    let confine_err = |e: io::Error| StartError::Confine(format!("cannot confine the exec to the pod: {e}"));
    std::fs::create_dir_all(root).map_err(confine_err)?;
    let plan = Plan::build(root, &prepared.mounts, prepared.working_dir.as_deref(), &prepared.hostname).map_err(confine_err)?;
    let (report_read, report_write) = pipe().map_err(confine_err)?;
    let mut cmd = Command::new(&prepared.argv[0]);
    cmd.args(&prepared.argv[1..]).env_clear().envs(prepared.env.iter().map(|(k, v)| (k, v))).kill_on_drop(true);
    let terminal = if prepared.tty { Some(open_pty().map_err(confine_err)?) } else { None };
    let null_or = |wanted: bool| if wanted { Stdio::piped() } else { Stdio::null() };
    // With merged output, both streams write to one pipe (blocking on the child's
    // side, as output pipes are); the parent reads the other end.
    let mut merged: Option<io::PipeReader> = None;
    match &terminal {
        Some((_, slave)) => {
            let dup = |f: &OwnedFd| f.try_clone().map(Stdio::from).map_err(confine_err);
            cmd.stdin(dup(slave)?).stdout(dup(slave)?).stderr(dup(slave)?);
        }
        None if prepared.merge_stderr => {
            let (reader, writer) = io::pipe().map_err(confine_err)?;
            cmd.stdin(null_or(prepared.stdin)).stdout(writer.try_clone().map_err(confine_err)?).stderr(writer);
            merged = Some(reader);
        }
        None => {
            cmd.stdin(null_or(prepared.stdin)).stdout(null_or(prepared.stdout)).stderr(null_or(prepared.stderr));
        }
    }
    let report_fd = report_write.as_raw_fd();
    let tty = prepared.tty;
    let process_group = prepared.process_group && !tty;
    // SAFETY: the closure runs in the forked child before exec and only makes system
    // calls on data prepared in the parent (see `Plan::apply`).
    unsafe {
        cmd.pre_exec(move || {
            if process_group {
                // Leads its own group: signalling -pid reaches whatever it starts.
                libc::setpgid(0, 0);
            }
            let mut stage = 0usize;
            if let Err(e) = plan.apply(&mut stage) {
                let byte = stage as u8;
                libc::write(report_fd, (&raw const byte).cast(), 1);
                return Err(e);
            }
            if tty {
                // A session of its own with the terminal as its controlling one,
                // so Ctrl-C (0x03 on the terminal) reaches it as SIGINT.
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
            }
            let ok = u8::MAX;
            libc::write(report_fd, (&raw const ok).cast(), 1);
            Ok(())
        });
    }
    let spawned = cmd.spawn();
    drop(cmd);
    drop(report_write);
    let child = match spawned {
        Ok(child) => child,
        Err(e) => return Err(spawn_error(&prepared.argv[0], e, read_byte(&report_read))),
    };
    let mut running = streams(child, terminal.map(|(master, _)| master));
    if let Some(reader) = merged {
        let reader = tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(reader)).map_err(confine_err)?;
        running.outputs.push((1, Box::new(reader)));
    }
    Ok(running)
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

/// What a failed spawn means: the child reported how far it got.
fn spawn_error(program: &str, e: io::Error, stage: Option<u8>) -> StartError {
    match stage {
        Some(u8::MAX) => {
            let (message, code) = match e.kind() {
                io::ErrorKind::NotFound => (format!("exec: \"{program}\": executable file not found in $PATH"), 127),
                io::ErrorKind::PermissionDenied => (format!("exec: \"{program}\": permission denied"), 126),
                _ => (format!("exec: \"{program}\": {e}"), 126),
            };
            StartError::Exec { message, code }
        }
        Some(stage) => {
            let step = STAGES.get(usize::from(stage)).copied().unwrap_or("set up");
            StartError::Confine(format!("cannot confine the exec to the pod: cannot {step}: {e}"))
        }
        None => StartError::Confine(format!("cannot start the exec: {e}")),
    }
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

/// The last byte the child wrote before exec failed (the write end is closed).
fn read_byte(fd: &OwnedFd) -> Option<u8> {
    let mut buf = [0u8; 8];
    // SAFETY: reading into a local buffer of the given length.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    (n > 0).then(|| buf[n as usize - 1])
}

/// A new pseudo-terminal: (controlling side, terminal side), both close-on-exec.
fn open_pty() -> io::Result<(OwnedFd, OwnedFd)> {
    let (mut master, mut slave) = (0 as RawFd, 0 as RawFd);
    // SAFETY: out-parameters for two descriptors; name, termios and size may be null.
    if unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openpty returned two fresh descriptors we now own.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    for fd in [&master, &slave] {
        // SAFETY: setting a flag on a descriptor we own.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok((master, slave))
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
        let StartError::Exec { message, code } = spawn_error("nope", not_found(), Some(u8::MAX)) else { panic!("an exec failure") };
        assert_eq!((message.as_str(), code), ("exec: \"nope\": executable file not found in $PATH", 127));
        let denied = spawn_error("x", io::Error::from(io::ErrorKind::PermissionDenied), Some(u8::MAX));
        assert!(matches!(denied, StartError::Exec { code: 126, .. }));
        // The child reached stage 0 (unshare) and failed: no unconfined run.
        let StartError::Confine(message) = spawn_error("sh", io::Error::from_raw_os_error(libc::EPERM), Some(0)) else { panic!("a confinement failure") };
        assert!(message.starts_with("cannot confine the exec to the pod: cannot create the namespaces:"), "{message}");
    }
}
