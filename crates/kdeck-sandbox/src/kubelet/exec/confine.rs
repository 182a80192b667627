//! Confining a process to its pod: new user, PID, mount, UTS and IPC namespaces,
//! the pod's root filesystem ([`super::view`]), the pod's user, capabilities and
//! privileges ([`super::security`]).
//!
//! Three processes, all forks of the sandbox that make system calls only
//! (everything is computed in the parent by [`Plan::build`]):
//!
//! 1. **relay** — the child the sandbox spawned, outside the pod. It creates the
//!    namespaces and forks the pod's init; then it passes the signals the sandbox
//!    sends it (SIGTERM on a stop) to the init, and ends with its exit code.
//!    SIGKILL ends it, and with it (parent-death signal) the init.
//! 2. **init**, PID 1 of the pod's PID namespace — it builds the root filesystem,
//!    `pivot_root`s into it, forks the command, passes signals on to it and reaps
//!    orphans. When the command exits, init exits with its code, and the kernel
//!    kills whatever else still runs in the namespace: nothing outlives a stop.
//!    `/proc/1/cmdline` reads `kdeck-init`; it is not dumpable, so nothing in the
//!    pod can read its memory.
//! 3. **command** — drops capabilities to the container's bounding set, becomes
//!    the pod's user, sets no_new_privs if asked, opens a terminal of the pod's
//!    devpts (passed back to the sandbox over a socket) and enters the working
//!    directory; then the standard library execs the argv.
//!
//! User namespace (see [`super::userns`]): a root sandbox builds the view as root
//! in namespaces it owns, then init enters a new user namespace whose id maps a
//! helper (still root outside) writes: the pod cannot change its mounts, hostname
//! or anything the namespaces hold. An unprivileged sandbox creates the user
//! namespace first (mapping its own id to the pod's user) and builds the view in it.
//!
//! The relay and init are forks of the sandbox that never exec: they share its
//! memory copy-on-write while the command runs (pages the sandbox changes
//! meanwhile are kept for them until it exits).
//!
//! Network: the relay first joins the pod's network view (`setns`; held for the
//! pod's life by the sandbox, see `network::netns`) — for an unprivileged
//! sandbox, after the user namespace its views live in —, so every exec and run
//! of the pod shares one network, and the namespaces it creates next are nested
//! in it.
//!
//! Any step that fails fails the whole start — reported with the step and errno
//! — so nothing ever runs unconfined. The other namespaces are per process: each
//! exec and each run of a container's command gets its own (the container's
//! `/tmp` and volumes are shared through the host).

use std::ffi::CString;
use std::io;
use std::os::fd::RawFd;
use std::path::Path;

use super::Prepared;
use super::child::{self, put};
use super::ops::{Op, check, cstr};
use super::userns::Mapping;
use super::view::View;

/// Which step failed, reported to the parent through the report pipe as
/// `[stage, op index (2 bytes)]`; `u8::MAX` alone means "about to exec".
pub const STAGES: [&str; 12] = [
    "create the namespaces",
    "map the user namespace",
    "make mounts private",
    "build the pod's filesystem",
    "set the hostname",
    "enter the pod's root",
    "start the pod's init",
    "drop capabilities",
    "switch to the pod's user",
    "open the terminal",
    "enter the working directory",
    "join the pod's network",
];

/// The user the command runs as, and what it may do.
#[derive(Debug)]
struct Creds {
    uid: libc::uid_t,
    gid: libc::gid_t,
    groups: Vec<libc::gid_t>,
    /// The kernel denies setgroups in a namespace an unprivileged sandbox made.
    set_groups: bool,
    keep_caps: u64,
    cap_last: u32,
    no_new_privs: bool,
}

/// Everything the children do, computed in the parent.
#[derive(Debug)]
pub struct Plan {
    /// The pod's network view, joined first: `(user namespace or -1, network
    /// namespace)`, descriptors the sandbox holds open (see `network::netns`).
    network: Option<(RawFd, RawFd)>,
    /// The user namespace comes first, with maps the relay writes itself.
    unprivileged: bool,
    /// `(path, contents)` of the id maps: `/proc/self/…` (unprivileged, by the
    /// relay) or `/proc/1/…` (root, by a helper of init).
    maps: Vec<(CString, Vec<u8>)>,
    root: CString,
    ops: Vec<Op>,
    owner: Option<(u32, u32)>,
    hostname: Vec<u8>,
    creds: Creds,
    working_dir: CString,
    tty: bool,
    title: Option<(usize, usize)>,
}

/// Descriptors the children use, open in the relay.
pub struct Fds {
    /// Failures (`[stage, index]`) and "about to exec" for the parent.
    pub report: RawFd,
    /// The socket the command's terminal is passed over (TTY only).
    pub pty: Option<RawFd>,
}

fn cap_last() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(40)
}

impl Plan {
    /// Plans the confinement of `prepared`; `root` is an empty host directory
    /// the view's tmpfs is mounted on (privately, in the child).
    pub fn build(prepared: &Prepared, root: &Path) -> io::Result<Plan> {
        let mapping = Mapping::current();
        let security = &prepared.security;
        mapping.check(security.uid, security.gid, &security.groups)?;
        let owner = mapping.can_chown().then(|| (mapping.host_uid(0), mapping.host_gid(0)));
        let view = View {
            root,
            mounts: &prepared.mounts,
            working_dir: prepared.working_dir.as_deref(),
            etc: prepared.etc.clone(),
            etc_bound: &prepared.etc_bound,
            read_only_root: security.read_only_root,
            tmp: prepared.tmp.as_deref(),
            owner,
        };
        let (uid_map, gid_map) = mapping.maps(security.uid, security.gid);
        let unprivileged = !mapping.can_chown();
        let maps = if unprivileged {
            vec![
                (cstr("/proc/self/setgroups")?, b"deny".to_vec()),
                (cstr("/proc/self/uid_map")?, uid_map.into_bytes()),
                (cstr("/proc/self/gid_map")?, gid_map.into_bytes()),
            ]
        } else {
            vec![(cstr("/proc/1/uid_map")?, uid_map.into_bytes()), (cstr("/proc/1/gid_map")?, gid_map.into_bytes())]
        };
        let working_dir = prepared.working_dir.as_deref().filter(|w| w.starts_with('/')).unwrap_or("/");
        let network = prepared.network.as_ref().map(|n| {
            let (user, net) = n.join_fds();
            (user.unwrap_or(-1), net)
        });
        Ok(Plan {
            network,
            unprivileged,
            maps,
            root: cstr(root)?,
            ops: view.ops()?,
            owner,
            hostname: prepared.hostname.as_bytes().to_vec(),
            creds: Creds {
                uid: security.uid,
                gid: security.gid,
                groups: security.groups.clone(),
                set_groups: !unprivileged,
                keep_caps: security.capabilities,
                cap_last: cap_last(),
                no_new_privs: security.no_new_privs,
            },
            working_dir: cstr(working_dir)?,
            tty: prepared.tty,
            title: child::argument_area(),
        })
    }

    /// What failed, from the report pipe's `[stage, index]`.
    pub fn describe(&self, stage: u8, index: u16) -> String {
        let step = STAGES.get(usize::from(stage)).copied().unwrap_or("set up");
        match self.ops.get(usize::from(index)).filter(|_| usize::from(stage) == 3) {
            Some(op) => format!("cannot {step} ({})", op.describe()),
            None => format!("cannot {step}"),
        }
    }

    /// Runs in the relay, the child the standard library forked, before it execs.
    /// Only the command returns `Ok` (and is exec'd); the relay and init never
    /// return once the command started.
    ///
    /// # Safety
    /// Only in a freshly forked child: system calls on data owned by `self`.
    pub unsafe fn run(&self, fds: &Fds) -> io::Result<()> {
        // SAFETY (whole body): system calls on buffers owned by `self` or this frame.
        unsafe {
            child::block_signals();
            let fail = |stage: u8, index: u16, e: io::Error| -> io::Error {
                let [hi, lo] = index.to_be_bytes();
                put(fds.report, &[stage, hi, lo]);
                e
            };
            // The pod's network first: an unprivileged sandbox's views live in its
            // user namespace, which must be joined before them; the namespaces
            // made next are then the pod's, inside it.
            if let Some((user, net)) = self.network {
                if user >= 0 {
                    check(libc::setns(user, libc::CLONE_NEWUSER)).map_err(|e| fail(11, 0, e))?;
                }
                check(libc::setns(net, libc::CLONE_NEWNET)).map_err(|e| fail(11, 0, e))?;
            }
            let mut flags = libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC;
            if self.unprivileged {
                flags |= libc::CLONE_NEWUSER;
            }
            check(libc::unshare(flags)).map_err(|e| fail(0, 0, e))?;
            if self.unprivileged {
                self.write_maps().map_err(|e| fail(1, 0, e))?;
            }
            // Not before the maps: a process that is not dumpable has /proc/self
            // owned by root, and an unprivileged relay could not write them.
            libc::prctl(libc::PR_SET_DUMPABLE, 0);
            let mut sync = [0 as RawFd; 2];
            check(libc::pipe2(sync.as_mut_ptr(), libc::O_CLOEXEC)).map_err(|e| fail(6, 0, e))?;
            let init = child::fork().map_err(|e| fail(6, 0, e))?;
            if init == 0 {
                libc::close(sync[0]);
                return self.init(fds, sync[1]);
            }
            libc::close(sync[1]);
            // The init or the command says how the start went: 0 and nothing else
            // when the command is about to exec, else an errno.
            let mut word = [0u8; 4];
            let n = libc::read(sync[0], word.as_mut_ptr().cast(), 4);
            libc::close(sync[0]);
            if n == 4 && word == [0; 4] {
                child::close_all();
                child::supervise(init, false);
            }
            let mut status = 0;
            libc::waitpid(init, &mut status, 0);
            let errno = if n == 4 { i32::from_ne_bytes(word) } else { libc::ECHILD };
            Err(io::Error::from_raw_os_error(errno))
        }
    }

    /// The unprivileged relay maps its own ids.
    unsafe fn write_maps(&self) -> io::Result<()> {
        for (path, contents) in &self.maps {
            // SAFETY: NUL-terminated path and a buffer owned by `self`.
            unsafe {
                let fd = check(libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC))?;
                let written = libc::write(fd, contents.as_ptr().cast(), contents.len());
                libc::close(fd);
                if written < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
        }
        Ok(())
    }

    /// The pod's PID 1: builds the view, forks the command, then supervises it.
    unsafe fn init(&self, fds: &Fds, sync: RawFd) -> io::Result<()> {
        // SAFETY (whole body): system calls on buffers owned by `self` or this frame.
        unsafe {
            let fail = |stage: u8, index: u16, e: io::Error| -> ! {
                let [hi, lo] = index.to_be_bytes();
                put(fds.report, &[stage, hi, lo]);
                put(sync, &e.raw_os_error().unwrap_or(libc::EIO).to_ne_bytes());
                libc::_exit(1)
            };
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            libc::prctl(libc::PR_SET_DUMPABLE, 0);
            libc::umask(0);
            if let Err(e) = check(libc::mount(c"none".as_ptr(), c"/".as_ptr(), std::ptr::null(), libc::MS_REC | libc::MS_PRIVATE, std::ptr::null())) {
                fail(2, 0, e);
            }
            for (i, op) in self.ops.iter().enumerate() {
                if let Err(e) = op.apply(self.owner) {
                    fail(3, u16::try_from(i).unwrap_or(u16::MAX), e);
                }
            }
            if let Err(e) = check(libc::sethostname(self.hostname.as_ptr().cast(), self.hostname.len())) {
                fail(4, 0, e);
            }
            if let Err(e) = self.pivot() {
                fail(5, 0, e);
            }
            if !self.unprivileged
                && let Err(e) = self.enter_user_namespace()
            {
                fail(1, 0, e);
            }
            if let Some((start, end)) = self.title {
                child::set_title(start, end, b"kdeck-init");
            }
            let command = match child::fork() {
                Ok(pid) => pid,
                Err(e) => fail(6, 0, e),
            };
            if command == 0 {
                return match self.command(fds) {
                    Ok(()) => {
                        put(fds.report, &[u8::MAX]);
                        put(sync, &[0; 4]);
                        Ok(())
                    }
                    Err((stage, e)) => {
                        put(fds.report, &[stage, 0, 0]);
                        put(sync, &e.raw_os_error().unwrap_or(libc::EIO).to_ne_bytes());
                        libc::_exit(1)
                    }
                };
            }
            child::close_all();
            child::supervise(command, true)
        }
    }

    /// Makes the built tmpfs the root and detaches the host's tree.
    unsafe fn pivot(&self) -> io::Result<()> {
        // SAFETY: NUL-terminated paths.
        unsafe {
            check(libc::chdir(self.root.as_ptr()))?;
            if libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) != 0 {
                return Err(io::Error::last_os_error());
            }
            check(libc::umount2(c".".as_ptr(), libc::MNT_DETACH))?;
            check(libc::chdir(c"/".as_ptr()))?;
        }
        Ok(())
    }

    /// A root sandbox's init enters a new user namespace; a helper forked before,
    /// still root outside it, writes its id maps (`/proc/1/…`: init is PID 1).
    unsafe fn enter_user_namespace(&self) -> io::Result<()> {
        // SAFETY: system calls on local descriptors and buffers owned by `self`.
        unsafe {
            let mut go = [0 as RawFd; 2];
            check(libc::pipe2(go.as_mut_ptr(), libc::O_CLOEXEC))?;
            let helper = child::fork()?;
            if helper == 0 {
                libc::close(go[1]);
                let mut byte = [0u8; 1];
                if libc::read(go[0], byte.as_mut_ptr().cast(), 1) != 1 {
                    libc::_exit(255);
                }
                let code = match self.write_maps() {
                    Ok(()) => 0,
                    Err(e) => e.raw_os_error().unwrap_or(libc::EIO) & 0xff,
                };
                libc::_exit(code);
            }
            libc::close(go[0]);
            let unshared = check(libc::unshare(libc::CLONE_NEWUSER));
            if unshared.is_ok() {
                put(go[1], &[1]);
            }
            libc::close(go[1]);
            let mut status = 0;
            libc::waitpid(helper, &mut status, 0);
            unshared?;
            match child::exit_code(status) {
                0 => Ok(()),
                code => Err(io::Error::from_raw_os_error(if code < 128 { code } else { libc::EPERM })),
            }
        }
    }

    /// The command's last steps before exec; `Err` names the stage.
    unsafe fn command(&self, fds: &Fds) -> Result<(), (u8, io::Error)> {
        // SAFETY (whole body): system calls on buffers owned by `self` or this frame.
        unsafe {
            child::unblock_signals();
            // Init built the view with no umask; the command gets a runtime's.
            libc::umask(0o022);
            let c = &self.creds;
            for cap in 0..=c.cap_last {
                if cap >= 64 || c.keep_caps & (1u64 << cap) == 0 {
                    let r = libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0);
                    if r != 0 && *libc::__errno_location() != libc::EINVAL {
                        return Err((7, io::Error::last_os_error()));
                    }
                }
            }
            libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong, 0, 0, 0);
            // Raw system calls: glibc's wrappers would try to reach the threads of
            // the sandbox this process was forked from.
            let creds = || -> io::Result<()> {
                if c.set_groups && libc::syscall(libc::SYS_setgroups, c.groups.len(), c.groups.as_ptr()) != 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::syscall(libc::SYS_setresgid, c.gid, c.gid, c.gid) != 0 || libc::syscall(libc::SYS_setresuid, c.uid, c.uid, c.uid) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            };
            creds().map_err(|e| (8, e))?;
            if c.no_new_privs && libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return Err((7, io::Error::last_os_error()));
            }
            if self.tty
                && let Some(socket) = fds.pty
            {
                self.terminal(socket).map_err(|e| (9, e))?;
            }
            check(libc::chdir(self.working_dir.as_ptr())).map_err(|e| (10, e))?;
        }
        Ok(())
    }

    /// A terminal of the pod's devpts: the command's controlling terminal and its
    /// stdio; the other side goes to the sandbox.
    unsafe fn terminal(&self, socket: RawFd) -> io::Result<()> {
        // SAFETY: system calls on descriptors this function opens.
        unsafe {
            let master = check(libc::open(c"/dev/ptmx".as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC))?;
            let unlock: libc::c_int = 0;
            check(libc::ioctl(master, libc::TIOCSPTLCK, &unlock))?;
            check(libc::setsid())?;
            let slave = check(libc::ioctl(master, libc::TIOCGPTPEER, libc::O_RDWR))?;
            check(libc::ioctl(slave, libc::TIOCSCTTY, 0))?;
            child::send_fd(socket, master)?;
            for fd in 0..3 {
                check(libc::dup2(slave, fd))?;
            }
            if slave > 2 {
                libc::close(slave);
            }
            libc::close(master);
        }
        Ok(())
    }
}
