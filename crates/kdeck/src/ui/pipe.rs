//! When the reader of kdeck's output goes away (`kdeck completions bash | head -1`),
//! kdeck dies of SIGPIPE, quietly, as `cat` and the GNU and uutils tools do: no
//! message, and the shell sees status 141 (128 + SIGPIPE).
//!
//! Rust ignores SIGPIPE, so a write to a closed pipe fails with `EPIPE` instead, and
//! `println!` panics on it. Restoring the default disposition would make *every*
//! broken pipe fatal: a write to a child's stdin that exited early (an exec'd
//! process, in a sandbox served by this process) or to a Unix socket (std writes
//! those with `write(2)`, not `send(MSG_NOSIGNAL)` as it does TCP) would kill kdeck.
//! So SIGPIPE gets a handler instead: it ends the process only when kdeck's own
//! stdout or stderr is the pipe with no reader; any other broken pipe stays the
//! `EPIPE` error it is today, for the code that wrote to handle.

/// Installs the handler; call once, first thing in `main`.
pub fn die_quietly_when_output_closes() {
    // SAFETY: sigaction is plain data, zeroed is a valid empty value; the handler is
    // an `extern "C" fn(c_int)` that only makes async-signal-safe calls.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigpipe as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGPIPE, &action, std::ptr::null_mut());
    }
}

/// Runs in the thread whose write failed. SIGPIPE is blocked while it runs, so the
/// re-raised signal is delivered, with the default action, as the handler returns.
extern "C" fn on_sigpipe(_: libc::c_int) {
    if output_closed() {
        // SAFETY: signal and raise are async-signal-safe.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            libc::raise(libc::SIGPIPE);
        }
    }
}

/// Whether stdout or stderr is a pipe (or socket) whose reader is gone. Only
/// async-signal-safe calls: `poll` reports POLLERR for a pipe without readers.
fn output_closed() -> bool {
    let mut fds = [libc::STDOUT_FILENO, libc::STDERR_FILENO].map(|fd| libc::pollfd { fd, events: 0, revents: 0 });
    // SAFETY: fds is a valid array of two pollfd; a zero timeout never blocks.
    let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) };
    ready > 0 && fds.iter().any(|f| f.revents & (libc::POLLERR | libc::POLLHUP) != 0)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_pipe_without_reader_reads_as_closed_and_one_with_a_reader_does_not() {
        let (reader, writer) = std::io::pipe().unwrap();
        let poll = |fd| {
            let mut p = libc::pollfd { fd, events: 0, revents: 0 };
            // SAFETY: one valid pollfd, zero timeout.
            unsafe { libc::poll(&mut p, 1, 0) };
            p.revents & (libc::POLLERR | libc::POLLHUP) != 0
        };
        assert!(!poll(writer.as_raw_fd()), "a reader is there");
        drop(reader);
        assert!(poll(writer.as_raw_fd()), "the reader is gone");
    }

    /// With the handler installed in this (test) process, whose stdout and stderr
    /// have readers, a broken pipe anywhere else is an error for the writer, and
    /// the process lives on: a pipe, a child's stdin, a Unix socket.
    #[test]
    fn other_broken_pipes_stay_errors() {
        super::die_quietly_when_output_closes();
        let (reader, mut writer) = std::io::pipe().unwrap();
        drop(reader);
        assert_eq!(writer.write_all(b"x").unwrap_err().kind(), std::io::ErrorKind::BrokenPipe);

        let mut child = std::process::Command::new("true").stdin(std::process::Stdio::piped()).spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        child.wait().unwrap();
        let written = (0..64).try_for_each(|_| stdin.write_all(&[0; 64 * 1024]));
        assert_eq!(written.unwrap_err().kind(), std::io::ErrorKind::BrokenPipe, "a child that exited");

        let (mut mine, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        drop(theirs);
        assert_eq!(mine.write_all(b"x").unwrap_err().kind(), std::io::ErrorKind::BrokenPipe, "std writes Unix sockets with write(2)");
    }
}
