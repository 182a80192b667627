//! System-call helpers for the processes between `fork` and `exec` (see
//! [`super::confine`]): forking without glibc's fork handlers, the relay and init
//! loops, passing a terminal to the sandbox. Nothing here allocates or locks.

use std::io;
use std::os::fd::RawFd;

use super::ops::check;

/// `fork` as a bare system call: glibc's `fork` runs atfork handlers (malloc's
/// locks, copied from whatever state other threads left them in), which is not
/// safe in a child of a threaded process.
///
/// # Safety
/// Only in a forked child: the new process must only make system calls.
pub unsafe fn fork() -> io::Result<libc::pid_t> {
    // SAFETY: clone with only SIGCHLD and no new stack is fork.
    let pid =
        unsafe { libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_long, 0 as libc::c_long, 0 as libc::c_long, 0 as libc::c_long, 0 as libc::c_long) };
    if pid < 0 { Err(io::Error::last_os_error()) } else { Ok(pid as libc::pid_t) }
}

/// The exit code a shell reports for a wait status: a process killed by signal N is 128 + N.
pub fn exit_code(status: libc::c_int) -> libc::c_int {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        1
    }
}

/// Every signal blocked (they are then taken with `sigwaitinfo`, or unblocked
/// before exec) and every handler the sandbox installed reset, so no handler of
/// the sandbox ever runs in a child.
///
/// # Safety
/// Only in a forked child.
pub unsafe fn block_signals() {
    // SAFETY: local sigset and sigaction structures, valid for each call.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigprocmask(libc::SIG_SETMASK, &all, std::ptr::null_mut());
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        for sig in 1..=64 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::sigaction(sig, &default, std::ptr::null_mut());
            }
        }
    }
}

/// # Safety
/// Only in a forked child.
pub unsafe fn unblock_signals() {
    // SAFETY: a local empty set.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
    }
}

/// Closes every descriptor of this process.
///
/// # Safety
/// Only in a forked child that needs none of them.
pub unsafe fn close_all() {
    // SAFETY: closing descriptors; close_range is a system call since Linux 5.9.
    unsafe {
        if libc::syscall(libc::SYS_close_range, 0 as libc::c_uint, libc::c_uint::MAX, 0 as libc::c_uint) != 0 {
            for fd in 0..4096 {
                libc::close(fd);
            }
        }
    }
}

/// Waits for signals: SIGCHLD reaps children and ends this process with `main`'s
/// exit code once `main` exited; any other signal is passed on to `main`.
/// With `reap_all` (the pod's PID 1), orphans are reaped too.
///
/// # Safety
/// Only in a forked child whose signals are all blocked.
pub unsafe fn supervise(main: libc::pid_t, reap_all: bool) -> ! {
    // SAFETY: system calls on local data; the process ends with _exit.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        let mut info: libc::siginfo_t = std::mem::zeroed();
        loop {
            let sig = libc::sigwaitinfo(&all, &mut info);
            if sig == libc::SIGCHLD {
                loop {
                    let mut status = 0;
                    let pid = libc::waitpid(if reap_all { -1 } else { main }, &mut status, libc::WNOHANG);
                    if pid <= 0 {
                        break;
                    }
                    if pid == main {
                        libc::_exit(exit_code(status));
                    }
                }
            } else if sig > 0 {
                libc::kill(main, sig);
            }
        }
    }
}

/// Sets the process's command line (what `/proc/1/cmdline` and `ps` show) by
/// overwriting its argument area, `[start, end)` in its own memory.
///
/// # Safety
/// `start..end` must be this process's argument area (from /proc/self/stat), and
/// nothing may read the arguments afterwards.
pub unsafe fn set_title(start: usize, end: usize, title: &[u8]) {
    if end <= start || title.len() >= end - start {
        return;
    }
    for i in 0..(end - start) {
        let byte = title.get(i).copied().unwrap_or(0);
        // SAFETY: inside the argument area, which is writable process memory.
        unsafe { std::ptr::write_volatile((start + i) as *mut u8, byte) };
    }
}

/// The argument area of this process (fields 48 and 49 of /proc/self/stat).
pub fn argument_area() -> Option<(usize, usize)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some((fields.get(45)?.parse().ok()?, fields.get(46)?.parse().ok()?))
}

/// Sends `fd` over the Unix socket `socket` (SCM_RIGHTS).
///
/// # Safety
/// Only in a forked child; both descriptors must be open.
pub unsafe fn send_fd(socket: RawFd, fd: RawFd) -> io::Result<()> {
    #[repr(C, align(8))]
    struct Control([u8; 64]);
    // SAFETY: the message and its control buffer live on this stack frame; the CMSG
    // helpers only compute offsets within it.
    unsafe {
        let mut byte = [0u8; 1];
        let mut iov = libc::iovec { iov_base: byte.as_mut_ptr().cast(), iov_len: 1 };
        let mut control = Control([0; 64]);
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.0.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
        if libc::sendmsg(socket, &msg, libc::MSG_NOSIGNAL) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Receives a descriptor sent with [`send_fd`], if one is waiting (parent side).
pub fn recv_fd(socket: RawFd) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    #[repr(C, align(8))]
    struct Control([u8; 64]);
    // SAFETY: as in send_fd; a received descriptor is owned by the caller.
    unsafe {
        let mut byte = [0u8; 1];
        let mut iov = libc::iovec { iov_base: byte.as_mut_ptr().cast(), iov_len: 1 };
        let mut control = Control([0; 64]);
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.0.as_mut_ptr().cast();
        msg.msg_controllen = control.0.len() as _;
        check(libc::recvmsg(socket, &mut msg, libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC) as libc::c_int)?;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() || (*cmsg).cmsg_type != libc::SCM_RIGHTS {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the terminal was not passed"));
        }
        Ok(std::os::fd::OwnedFd::from_raw_fd(std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>())))
    }
}

/// Writes all of `bytes` (short pipes messages: one write).
///
/// # Safety
/// `fd` must be open.
pub unsafe fn put(fd: RawFd, bytes: &[u8]) {
    // SAFETY: a buffer of the given length.
    unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
}
