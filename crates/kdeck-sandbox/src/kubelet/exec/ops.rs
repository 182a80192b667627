//! The steps that build a pod's root filesystem, planned in the parent
//! ([`super::view`]) and executed in the child ([`Op::apply`]) with system calls
//! only: after `fork` in a threaded process nothing that allocates or takes a
//! lock is safe.

use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// One step of building the view.
#[derive(Debug)]
pub enum Op {
    /// A directory with this mode (an existing one is fine).
    Mkdir {
        path: CString,
        mode: u32,
    },
    /// An empty file to bind a host file (or device) onto.
    Touch {
        path: CString,
    },
    Symlink {
        target: CString,
        at: CString,
    },
    /// A file the pod gets instead of the host's (`/etc/hosts`, `/etc/passwd`, …).
    Write {
        path: CString,
        contents: Vec<u8>,
        mode: u32,
    },
    /// Binds a host path; `remount` flags (read-only, nosuid, and the flags the
    /// kernel locks) are applied by a second, remounting call when not zero.
    Bind {
        source: CString,
        target: CString,
        remount: libc::c_ulong,
    },
    /// A fresh filesystem: tmpfs, proc or devpts.
    Mount {
        fstype: &'static CStr,
        target: CString,
        flags: libc::c_ulong,
        data: CString,
    },
    /// Makes an existing mount read-only (the root, once it is built).
    ReadOnly {
        target: CString,
    },
}

pub fn cstr(path: impl AsRef<OsStr>) -> io::Result<CString> {
    CString::new(path.as_ref().as_bytes()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a path contains a NUL byte"))
}

pub fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

/// Mount flags a remount of a bind must repeat, or the kernel refuses it in a user
/// namespace (nosuid, nodev, noexec and the atime flags of the source are locked).
pub fn locked_flags(path: &Path) -> libc::c_ulong {
    let Ok(c) = cstr(path) else { return 0 };
    // SAFETY: a zeroed statvfs is a valid out-parameter; `c` is NUL-terminated.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return 0;
    }
    let pairs = [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ];
    pairs.iter().filter(|(st_flag, _)| st.f_flag & st_flag != 0).fold(0, |acc, (_, ms)| acc | ms)
}

impl Op {
    /// What the step does, for an error message (computed in the parent).
    pub fn describe(&self) -> String {
        let s = |c: &CString| c.to_string_lossy().into_owned();
        match self {
            Op::Mkdir { path, .. } => format!("make directory {}", s(path)),
            Op::Touch { path } => format!("make file {}", s(path)),
            Op::Symlink { at, .. } => format!("make link {}", s(at)),
            Op::Write { path, .. } => format!("write {}", s(path)),
            Op::Bind { source, target, .. } => format!("bind {} on {}", s(source), s(target)),
            Op::Mount { fstype, target, .. } => format!("mount {} on {}", fstype.to_string_lossy(), s(target)),
            Op::ReadOnly { target } => format!("make {} read-only", s(target)),
        }
    }

    /// Runs the step; files and directories it creates get `owner` when given.
    ///
    /// # Safety
    /// Only in a forked child: system calls on data owned by `self`.
    pub unsafe fn apply(&self, owner: Option<(u32, u32)>) -> io::Result<()> {
        // SAFETY: every pointer is a NUL-terminated string or buffer owned by `self`.
        unsafe {
            let chown = |p: &CString| -> io::Result<()> {
                if let Some((uid, gid)) = owner {
                    check(libc::lchown(p.as_ptr(), uid, gid))?;
                }
                Ok(())
            };
            match self {
                Op::Mkdir { path, mode } => {
                    if libc::mkdir(path.as_ptr(), *mode) != 0 {
                        if *libc::__errno_location() == libc::EEXIST {
                            return Ok(());
                        }
                        return Err(io::Error::last_os_error());
                    }
                    // The mode as asked (sticky and setgid bits are not set by mkdir).
                    check(libc::chmod(path.as_ptr(), *mode))?;
                    chown(path)?;
                }
                Op::Touch { path } => {
                    let fd = check(libc::open(path.as_ptr(), libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW, 0o644))?;
                    libc::close(fd);
                }
                Op::Symlink { target, at } => {
                    check(libc::symlink(target.as_ptr(), at.as_ptr()))?;
                    chown(at)?;
                }
                Op::Write { path, contents, mode } => {
                    let flags = libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC | libc::O_CLOEXEC | libc::O_NOFOLLOW;
                    let fd = check(libc::open(path.as_ptr(), flags, *mode))?;
                    let mut done = 0usize;
                    while done < contents.len() {
                        let n = libc::write(fd, contents[done..].as_ptr().cast(), contents.len() - done);
                        if n <= 0 {
                            let e = io::Error::last_os_error();
                            libc::close(fd);
                            return Err(e);
                        }
                        done += n as usize;
                    }
                    libc::close(fd);
                    chown(path)?;
                }
                Op::Bind { source, target, remount } => {
                    check(libc::mount(source.as_ptr(), target.as_ptr(), std::ptr::null(), libc::MS_BIND | libc::MS_REC, std::ptr::null()))?;
                    if *remount != 0 {
                        let flags = libc::MS_BIND | libc::MS_REMOUNT | remount;
                        check(libc::mount(std::ptr::null(), target.as_ptr(), std::ptr::null(), flags, std::ptr::null()))?;
                    }
                }
                Op::Mount { fstype, target, flags, data } => {
                    check(libc::mount(fstype.as_ptr(), target.as_ptr(), fstype.as_ptr(), *flags, data.as_ptr().cast()))?;
                }
                Op::ReadOnly { target } => {
                    let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV;
                    check(libc::mount(std::ptr::null(), target.as_ptr(), std::ptr::null(), flags, std::ptr::null()))?;
                }
            }
        }
        Ok(())
    }
}
