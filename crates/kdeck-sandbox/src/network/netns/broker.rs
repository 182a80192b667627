//! The broker: one small process per sandbox, forked from it (system calls only,
//! like the exec relay), that makes network namespaces and sockets inside them.
//!
//! The sandbox is a threaded process: its threads can neither enter a user
//! namespace nor, unprivileged, a network namespace. The broker is single-threaded
//! and lives where the views live:
//!
//! - a sandbox running as root: the broker enters a new network namespace, the
//!   **node** namespace (see [`super::node`]), and stays in the host's user namespace;
//! - a sandbox running as an ordinary user: the broker first creates a user
//!   namespace owned by that user (its one id mapped to itself), then the node
//!   namespace inside it. Every view lives in that user namespace, which the
//!   exec relay joins before it joins a view (see `kubelet::exec::confine`).
//!
//! Asked over a Unix socket, it makes a new network namespace (`unshare`, then
//! back home with `setns`) or a socket inside one (`setns` there, `socket`, back),
//! and passes the descriptor back. The namespaces are held by the descriptors the
//! sandbox keeps, never by a process: closing them lets the kernel free them.
//! The broker exits when its socket closes — with the sandbox, even on SIGKILL —
//! and holds nothing else of the sandbox (every other descriptor is closed).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

use crate::kubelet::exec::child;
use crate::kubelet::exec::userns::Mapping;

const OP_SOCKET: i32 = 1;
const OP_NETNS: i32 = 2;

/// What the broker child does, computed before the fork.
struct Spawn {
    unprivileged: bool,
    maps: Vec<(CString, Vec<u8>)>,
    /// The argument area, to read `kdeck-netns` in `ps`.
    title: Option<(usize, usize)>,
}

/// The broker, from the sandbox's side.
pub struct Broker {
    socket: Mutex<OwnedFd>,
    pid: libc::pid_t,
    /// The user namespace the views live in (an unprivileged sandbox's own), which
    /// a process must join before it can join a view; None for a root sandbox.
    pub user: Option<OwnedFd>,
    /// The node namespace, where the broker lives.
    pub node: OwnedFd,
}

impl Broker {
    /// Forks the broker and waits until its namespaces exist.
    pub fn start() -> io::Result<Broker> {
        let unprivileged = !Mapping::current().can_chown();
        // SAFETY: no preconditions.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        let maps = if unprivileged {
            vec![
                (CString::from(c"/proc/self/setgroups"), b"deny".to_vec()),
                (CString::from(c"/proc/self/uid_map"), format!("{uid} {uid} 1\n").into_bytes()),
                (CString::from(c"/proc/self/gid_map"), format!("{gid} {gid} 1\n").into_bytes()),
            ]
        } else {
            Vec::new()
        };
        let spawn = Spawn { unprivileged, maps, title: child::argument_area() };
        let (parent, child_end) = seqpacket_pair()?;
        // SAFETY: the child only makes system calls on data prepared above.
        let pid = unsafe { child::fork()? };
        if pid == 0 {
            // SAFETY: in the freshly forked child.
            unsafe { serve(&spawn, child_end.as_raw_fd()) }
        }
        drop(child_end);
        set_timeout(&parent);
        let built = receive(&parent).and_then(|fds| {
            let mut fds = fds.into_iter();
            let node = fds.next().ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "the broker sent no namespace"))?;
            let user = if unprivileged { fds.next() } else { None };
            if unprivileged && user.is_none() {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the broker sent no user namespace"));
            }
            Ok((node, user))
        });
        match built {
            Ok((node, user)) => Ok(Broker { socket: Mutex::new(parent), pid, user, node }),
            Err(e) => {
                reap(pid);
                Err(e)
            }
        }
    }

    fn ask(&self, op: i32, args: [i32; 3], netns: Option<&OwnedFd>) -> io::Result<OwnedFd> {
        let socket = self.socket.lock().unwrap_or_else(|p| p.into_inner());
        let request = [op, args[0], args[1], args[2]];
        let mut bytes = [0u8; 16];
        for (chunk, word) in bytes.chunks_exact_mut(4).zip(request) {
            chunk.copy_from_slice(&word.to_ne_bytes());
        }
        // SAFETY: the socket and the descriptor (if any) are open.
        unsafe { send(socket.as_raw_fd(), &bytes, netns.map(AsRawFd::as_raw_fd).as_slice())? };
        receive(&socket)?.into_iter().next().ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "the broker sent nothing"))
    }

    /// A socket made inside the namespace `netns` (None: the node namespace).
    pub fn socket(&self, netns: Option<&OwnedFd>, domain: i32, kind: i32, protocol: i32) -> io::Result<OwnedFd> {
        self.ask(OP_SOCKET, [domain, kind | libc::SOCK_CLOEXEC, protocol], netns)
    }

    /// A new, empty network namespace (loopback down), in the views' user namespace.
    pub fn new_netns(&self) -> io::Result<OwnedFd> {
        self.ask(OP_NETNS, [0; 3], None)
    }
}

impl Broker {
    /// Whether the broker has exited (killed by someone): nothing more can be
    /// made in the views it made.
    pub fn exited(&self) -> bool {
        let mut status = 0;
        // SAFETY: polling our own child without blocking.
        unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) == self.pid }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        // SAFETY: kill has no memory-safety preconditions; the pid is our child.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
        reap(self.pid);
    }
}

fn reap(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
}

/// Requests wait at most this long for the broker (it answers in microseconds).
fn set_timeout(socket: &OwnedFd) {
    let timeout = libc::timeval { tv_sec: 5, tv_usec: 0 };
    // SAFETY: a valid timeval for SO_RCVTIMEO.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const timeout).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
}

fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: a valid out-array of two descriptors.
    if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: two fresh descriptors we now own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Room for the control message of up to two descriptors.
#[repr(C, align(8))]
struct Control([u8; 64]);

/// Sends `bytes` with up to two descriptors. No allocation: usable in the child.
///
/// # Safety
/// `socket` and every descriptor in `fds` must be open.
unsafe fn send(socket: RawFd, bytes: &[u8], fds: &[RawFd]) -> io::Result<()> {
    // SAFETY (whole body): the message, its iovec and control buffer live in this
    // frame; the CMSG helpers only compute offsets inside the control buffer.
    unsafe {
        let mut iov = libc::iovec { iov_base: bytes.as_ptr().cast_mut().cast(), iov_len: bytes.len() };
        let mut control = Control([0; 64]);
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        let count = fds.len().min(2);
        if count > 0 {
            let data = (count * std::mem::size_of::<RawFd>()) as u32;
            msg.msg_control = control.0.as_mut_ptr().cast();
            msg.msg_controllen = libc::CMSG_SPACE(data) as _;
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            if cmsg.is_null() {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            }
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(data) as _;
            let at = libc::CMSG_DATA(cmsg).cast::<RawFd>();
            for (i, fd) in fds.iter().take(count).enumerate() {
                std::ptr::write_unaligned(at.add(i), *fd);
            }
        }
        loop {
            if libc::sendmsg(socket, &msg, libc::MSG_NOSIGNAL) >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

/// Receives one message into `bytes` and the descriptors that came with it
/// (at most two; `out` gets them, -1 for none). Returns the message's length.
///
/// # Safety
/// `socket` must be open; in the child, descriptors are received close-on-exec.
unsafe fn recv(socket: RawFd, bytes: &mut [u8], out: &mut [RawFd; 2]) -> isize {
    // SAFETY (whole body): as in `send`.
    unsafe {
        *out = [-1, -1];
        let mut iov = libc::iovec { iov_base: bytes.as_mut_ptr().cast(), iov_len: bytes.len() };
        let mut control = Control([0; 64]);
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.0.as_mut_ptr().cast();
        msg.msg_controllen = control.0.len() as _;
        let n = libc::recvmsg(socket, &mut msg, libc::MSG_CMSG_CLOEXEC);
        if n < 0 {
            return n;
        }
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if !cmsg.is_null() && (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
            let data = ((*cmsg).cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
            let count = (data / std::mem::size_of::<RawFd>()).min(2);
            let at = libc::CMSG_DATA(cmsg).cast::<RawFd>();
            for (i, slot) in out.iter_mut().enumerate().take(count) {
                *slot = std::ptr::read_unaligned(at.add(i));
            }
        }
        n
    }
}

/// The broker's answer (parent side): its errno, or the descriptors it sent.
fn receive(socket: &OwnedFd) -> io::Result<Vec<OwnedFd>> {
    let mut bytes = [0u8; 4];
    let mut fds = [-1; 2];
    // SAFETY: the socket is open; local buffers.
    let n = unsafe { recv(socket.as_raw_fd(), &mut bytes, &mut fds) };
    // SAFETY: descriptors the kernel just gave us, each owned once.
    let owned: Vec<OwnedFd> = fds.iter().filter(|fd| **fd >= 0).map(|fd| unsafe { OwnedFd::from_raw_fd(*fd) }).collect();
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    if n != 4 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the network broker is gone"));
    }
    match i32::from_ne_bytes(bytes) {
        0 => Ok(owned),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

/// Writes `value` to the file at `path` (a sysctl of the current network
/// namespace); best effort.
///
/// # Safety
/// NUL-terminated path.
unsafe fn write_file(path: &std::ffi::CStr, value: &[u8]) -> io::Result<()> {
    // SAFETY: a NUL-terminated path and a buffer of the given length.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = libc::write(fd, value.as_ptr().cast(), value.len());
        libc::close(fd);
        if n < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }
}

/// Ports below 1024 need no privilege in the sandbox's namespaces, as container
/// runtimes set it for pods: the pod's user is never privileged in its view.
const PORT_START: &std::ffi::CStr = c"/proc/sys/net/ipv4/ip_unprivileged_port_start";
const FORWARD: &std::ffi::CStr = c"/proc/sys/net/ipv4/ip_forward";

/// The broker's life. Never returns.
///
/// # Safety
/// Only in a freshly forked child: system calls on data owned by `spawn`.
unsafe fn serve(spawn: &Spawn, socket: RawFd) -> ! {
    // SAFETY (whole body): system calls on local buffers and on data owned by `spawn`.
    unsafe {
        child::block_signals();
        let keep = socket as libc::c_uint;
        if keep > 0 {
            libc::syscall(libc::SYS_close_range, 0 as libc::c_uint, keep - 1, 0 as libc::c_uint);
        }
        libc::syscall(libc::SYS_close_range, keep + 1, libc::c_uint::MAX, 0 as libc::c_uint);
        libc::prctl(libc::PR_SET_NAME, c"kdeck-netns".as_ptr());
        if let Some((start, end)) = spawn.title {
            child::set_title(start, end, b"kdeck-netns");
        }
        let fail = |e: i32| -> ! {
            let _ = send(socket, &e.to_ne_bytes(), &[]);
            libc::_exit(1)
        };
        let mut flags = libc::CLONE_NEWNET;
        if spawn.unprivileged {
            flags |= libc::CLONE_NEWUSER;
        }
        if libc::unshare(flags) != 0 {
            fail(errno());
        }
        for (path, contents) in &spawn.maps {
            if let Err(e) = write_file(path, contents) {
                fail(e.raw_os_error().unwrap_or(libc::EIO));
            }
        }
        let _ = write_file(PORT_START, b"0");
        let _ = write_file(FORWARD, b"1");
        let home = libc::open(c"/proc/self/ns/net".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        let user = if spawn.unprivileged { libc::open(c"/proc/self/ns/user".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) } else { -1 };
        if home < 0 || (spawn.unprivileged && user < 0) {
            fail(errno());
        }
        let started = if user >= 0 { send(socket, &0i32.to_ne_bytes(), &[home, user]) } else { send(socket, &0i32.to_ne_bytes(), &[home]) };
        if started.is_err() {
            libc::_exit(1);
        }
        if user >= 0 {
            libc::close(user);
        }
        let mut request = [0u8; 16];
        let mut fds = [-1; 2];
        loop {
            let n = recv(socket, &mut request, &mut fds);
            if n < 0 && *libc::__errno_location() == libc::EINTR {
                continue;
            }
            if n != 16 {
                // The sandbox is gone (or spoke nonsense): so is the broker.
                libc::_exit(0);
            }
            let word = |i: usize| i32::from_ne_bytes([request[i * 4], request[i * 4 + 1], request[i * 4 + 2], request[i * 4 + 3]]);
            let (made, error) = match word(0) {
                OP_SOCKET => socket_in(fds[0], home, word(1), word(2), word(3)),
                OP_NETNS => new_netns(home),
                _ => (-1, libc::EINVAL),
            };
            for fd in fds {
                if fd >= 0 {
                    libc::close(fd);
                }
            }
            let sent = if made >= 0 { send(socket, &0i32.to_ne_bytes(), &[made]) } else { send(socket, &error.to_ne_bytes(), &[]) };
            if made >= 0 {
                libc::close(made);
            }
            if sent.is_err() {
                libc::_exit(0);
            }
        }
    }
}

/// A socket made in `target` (or at home when -1): `(descriptor, errno)`.
///
/// # Safety
/// In the broker child.
unsafe fn socket_in(target: RawFd, home: RawFd, domain: i32, kind: i32, protocol: i32) -> (RawFd, i32) {
    // SAFETY: system calls on descriptors this process holds.
    unsafe {
        if target >= 0 && libc::setns(target, libc::CLONE_NEWNET) != 0 {
            return (-1, errno());
        }
        let fd = libc::socket(domain, kind, protocol);
        let error = errno();
        if target >= 0 && libc::setns(home, libc::CLONE_NEWNET) != 0 {
            // Stuck outside its home, the broker would make sockets in the wrong place.
            libc::_exit(1);
        }
        (fd, error)
    }
}

/// A new network namespace: `(descriptor, errno)`.
///
/// # Safety
/// In the broker child.
unsafe fn new_netns(home: RawFd) -> (RawFd, i32) {
    // SAFETY: system calls on descriptors this process holds and constant paths.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNET) != 0 {
            return (-1, errno());
        }
        let fd = libc::open(c"/proc/self/ns/net".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        let error = errno();
        if fd >= 0 {
            let _ = write_file(PORT_START, b"0");
        }
        if libc::setns(home, libc::CLONE_NEWNET) != 0 {
            libc::_exit(1);
        }
        (fd, error)
    }
}
