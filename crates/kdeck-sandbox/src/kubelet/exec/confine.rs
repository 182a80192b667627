//! Confining an exec to its pod's view of the machine.
//!
//! The child, between fork and exec, enters new mount and UTS namespaces (and a
//! user namespace when not root), mounts a tmpfs as the new root, rebuilds the
//! host's tree in it from bind mounts, mounts the volumes at their paths, sets the
//! hostname to the pod's name and chroots into it. A directory that must exist
//! only in the view (`/data`, or `/etc/app` under a host `/etc`) is made in the
//! tmpfs: its host parent is "expanded" — recreated in the tmpfs with each host
//! child bound separately — so nothing is ever created on the host.
//!
//! All paths, flags and file contents are computed in the parent ([`Plan::build`]);
//! the child ([`Plan::apply`]) only makes system calls, because after `fork` in a
//! threaded process nothing that allocates or takes a lock is safe.

use std::collections::BTreeSet;
use std::ffi::{CString, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::volumes::Mount;

/// One step of building the view, executed in the child.
#[derive(Debug)]
enum Op {
    Mkdir(CString),
    /// An empty file to bind a host file (or device, socket) onto.
    Touch(CString),
    Symlink {
        target: CString,
        at: CString,
    },
    Bind {
        source: CString,
        target: CString,
    },
    /// Makes the bind at `target` read-only, keeping the flags the kernel locks.
    ReadOnly {
        target: CString,
        flags: libc::c_ulong,
    },
}

/// The steps the child takes; `stage` names the step that failed.
#[derive(Debug)]
pub struct Plan {
    unshare_flags: libc::c_int,
    /// `/proc/self/{setgroups,uid_map,gid_map}` and what to write there, when not root.
    id_maps: Vec<(CString, Vec<u8>)>,
    root: CString,
    ops: Vec<Op>,
    hostname: Vec<u8>,
    working_dir: CString,
}

/// Which step of [`Plan::apply`] failed, reported to the parent through a pipe.
pub const STAGES: [&str; 8] = [
    "create the namespaces",
    "map the user namespace",
    "make mounts private",
    "mount the root tmpfs",
    "build the filesystem view",
    "set the hostname",
    "enter the view",
    "enter the working directory",
];

fn cstr(path: impl AsRef<OsStr>) -> io::Result<CString> {
    CString::new(path.as_ref().as_bytes()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a path contains a NUL byte"))
}

/// Ancestors of `path` (excluding `/` and the path itself), shallowest first.
fn ancestors(path: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = path.ancestors().skip(1).filter(|a| a.parent().is_some()).map(Path::to_path_buf).collect();
    out.reverse();
    out
}

impl Plan {
    /// Plans the view: `root` is an empty host directory used as the mount point
    /// of the tmpfs (the mount is private to the child, so it can be shared).
    pub fn build(root: &Path, mounts: &[Mount], working_dir: Option<&str>, hostname: &str) -> io::Result<Plan> {
        let targets: BTreeSet<PathBuf> = mounts.iter().map(|m| PathBuf::from(&m.target)).collect();
        let mut expanded: BTreeSet<PathBuf> = targets.iter().flat_map(|t| ancestors(t)).collect();
        // A `..` would lead out of the view while it is built: such a directory is only entered.
        let clean = working_dir.and_then(super::volumes::clean_absolute);
        let working_dir = working_dir.filter(|w| w.starts_with('/')).unwrap_or("/");
        let wd = clean.as_deref().unwrap_or("/");
        let under_volume = clean.is_some() && targets.iter().any(|t| Path::new(wd).starts_with(t));
        // A working directory missing on the host is made in the view, as runtimes make it.
        let make_working_dir = clean.is_some() && !under_volume && !Path::new(wd).exists();
        if make_working_dir {
            expanded.extend(ancestors(Path::new(wd)));
            expanded.insert(PathBuf::from(wd));
        }
        let mut ops = Vec::new();
        Builder { root, targets: &targets, expanded: &expanded, ops: &mut ops }.dir(Path::new("/"))?;
        let mut by_depth: Vec<&Mount> = mounts.iter().collect();
        by_depth.sort_by_key(|m| m.target.matches('/').count());
        for m in by_depth {
            let target = cstr(root.join(m.target.trim_start_matches('/')))?;
            ops.push(if m.source.is_dir() { Op::Mkdir(target.clone()) } else { Op::Touch(target.clone()) });
            ops.push(Op::Bind { source: cstr(&m.source)?, target: target.clone() });
            if m.read_only {
                ops.push(Op::ReadOnly { target, flags: locked_flags(&m.source) });
            }
        }
        if under_volume && let Some(dir) = volume_path(mounts, wd) {
            // The runtime makes a missing working directory inside the volume.
            let _ = std::fs::create_dir_all(dir);
        }
        Ok(Plan {
            unshare_flags: libc::CLONE_NEWNS | libc::CLONE_NEWUTS | if is_root() { 0 } else { libc::CLONE_NEWUSER },
            id_maps: id_maps()?,
            root: cstr(root)?,
            ops,
            hostname: hostname.as_bytes().to_vec(),
            working_dir: cstr(working_dir)?,
        })
    }

    /// Runs in the child between fork and exec: system calls only. On failure,
    /// `stage` holds the index into [`STAGES`] of the step that failed.
    ///
    /// # Safety
    /// Must only be called in a freshly forked child that is about to exec.
    pub unsafe fn apply(&self, stage: &mut usize) -> io::Result<()> {
        // SAFETY (whole body): every pointer passed is a NUL-terminated CString or a
        // buffer owned by `self`, alive for the duration of each call.
        unsafe {
            *stage = 0;
            check(libc::unshare(self.unshare_flags))?;
            *stage = 1;
            for (path, contents) in &self.id_maps {
                let fd = check(libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC))?;
                let written = libc::write(fd, contents.as_ptr().cast(), contents.len());
                libc::close(fd);
                if written < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            *stage = 2;
            check(libc::mount(c"none".as_ptr(), c"/".as_ptr(), std::ptr::null(), libc::MS_REC | libc::MS_PRIVATE, std::ptr::null()))?;
            *stage = 3;
            check(libc::mount(c"tmpfs".as_ptr(), self.root.as_ptr(), c"tmpfs".as_ptr(), libc::MS_NOSUID, c"mode=0755".as_ptr().cast()))?;
            *stage = 4;
            for op in &self.ops {
                op.apply()?;
            }
            *stage = 5;
            check(libc::sethostname(self.hostname.as_ptr().cast(), self.hostname.len()))?;
            *stage = 6;
            check(libc::chdir(self.root.as_ptr()))?;
            check(libc::chroot(c".".as_ptr()))?;
            *stage = 7;
            check(libc::chdir(self.working_dir.as_ptr()))?;
        }
        Ok(())
    }
}

impl Op {
    /// # Safety
    /// As [`Plan::apply`].
    unsafe fn apply(&self) -> io::Result<()> {
        // SAFETY: NUL-terminated strings owned by `self`.
        unsafe {
            match self {
                Op::Mkdir(p) => {
                    if libc::mkdir(p.as_ptr(), 0o755) != 0 && *libc::__errno_location() != libc::EEXIST {
                        return Err(io::Error::last_os_error());
                    }
                }
                Op::Touch(p) => {
                    let fd = libc::open(p.as_ptr(), libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW, 0o644);
                    if fd < 0 {
                        return Err(io::Error::last_os_error());
                    }
                    libc::close(fd);
                }
                Op::Symlink { target, at } => {
                    check(libc::symlink(target.as_ptr(), at.as_ptr()))?;
                }
                Op::Bind { source, target } => {
                    let flags = libc::MS_BIND | libc::MS_REC;
                    check(libc::mount(source.as_ptr(), target.as_ptr(), std::ptr::null(), flags, std::ptr::null()))?;
                }
                Op::ReadOnly { target, flags } => {
                    let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | flags;
                    check(libc::mount(std::ptr::null(), target.as_ptr(), std::ptr::null(), flags, std::ptr::null()))?;
                }
            }
        }
        Ok(())
    }
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Maps the caller to root in its new user namespace (unprivileged runs only).
fn id_maps() -> io::Result<Vec<(CString, Vec<u8>)>> {
    if is_root() {
        return Ok(Vec::new());
    }
    // SAFETY: no preconditions.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    Ok(vec![
        (cstr("/proc/self/setgroups")?, b"deny".to_vec()),
        (cstr("/proc/self/uid_map")?, format!("0 {uid} 1").into_bytes()),
        (cstr("/proc/self/gid_map")?, format!("0 {gid} 1").into_bytes()),
    ])
}

/// Mount flags a read-only remount must repeat, or the kernel refuses it in a
/// user namespace (nosuid, nodev, noexec and the atime flags are locked).
fn locked_flags(path: &Path) -> libc::c_ulong {
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

/// The host path under a volume that corresponds to `path` in the view.
fn volume_path(mounts: &[Mount], path: &str) -> Option<PathBuf> {
    let m = mounts.iter().filter(|m| Path::new(path).starts_with(&m.target)).max_by_key(|m| m.target.len())?;
    let rel = Path::new(path).strip_prefix(&m.target).ok()?;
    Some(m.source.join(rel))
}

/// Walks the host tree where the view differs from it.
struct Builder<'a> {
    root: &'a Path,
    targets: &'a BTreeSet<PathBuf>,
    expanded: &'a BTreeSet<PathBuf>,
    ops: &'a mut Vec<Op>,
}

impl Builder<'_> {
    fn view(&self, host: &Path) -> io::Result<CString> {
        cstr(self.root.join(host.strip_prefix("/").unwrap_or(host)))
    }

    /// Recreates the expanded directory `dir` (already made in the view): host
    /// children are bound one by one, expanded ones recursed into.
    fn dir(&mut self, dir: &Path) -> io::Result<()> {
        let mut seen = BTreeSet::new();
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let host = entry.path();
                seen.insert(host.clone());
                self.entry(&host)?;
            }
        }
        // Expanded children missing on the host exist only in the view.
        let missing: Vec<PathBuf> = self.expanded.iter().filter(|p| p.parent() == Some(dir) && !seen.contains(*p)).cloned().collect();
        for path in missing {
            self.ops.push(Op::Mkdir(self.view(&path)?));
            self.dir(&path)?;
        }
        Ok(())
    }

    fn entry(&mut self, host: &Path) -> io::Result<()> {
        if self.targets.contains(host) || host == self.root {
            return Ok(());
        }
        let at = self.view(host)?;
        if self.expanded.contains(host) {
            self.ops.push(Op::Mkdir(at));
            return self.dir(host);
        }
        let Ok(meta) = std::fs::symlink_metadata(host) else { return Ok(()) };
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(host)?;
            self.ops.push(Op::Symlink { target: cstr(&target)?, at });
        } else {
            self.ops.push(if meta.is_dir() { Op::Mkdir(at.clone()) } else { Op::Touch(at.clone()) });
            self.ops.push(Op::Bind { source: cstr(host)?, target: at });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(target: &str) -> Mount {
        Mount { source: PathBuf::from("/tmp"), target: target.into(), read_only: true }
    }

    #[test]
    fn paths_missing_on_the_host_are_made_only_in_the_view() {
        let root = Path::new("/nonexistent-root");
        let plan = Plan::build(root, &[mount("/kdeck-test-missing/deeper")], Some("/kdeck-test-wd"), "pod").expect("plan");
        let mkdirs: Vec<String> = plan.ops.iter().filter_map(|op| if let Op::Mkdir(p) = op { Some(p.to_string_lossy().into_owned()) } else { None }).collect();
        assert!(mkdirs.contains(&"/nonexistent-root/kdeck-test-missing".to_string()), "{mkdirs:?}");
        assert!(mkdirs.contains(&"/nonexistent-root/kdeck-test-missing/deeper".to_string()));
        assert!(mkdirs.contains(&"/nonexistent-root/kdeck-test-wd".to_string()));
        // Everything else of the host is bound, not copied.
        assert!(plan.ops.iter().any(|op| matches!(op, Op::Bind { source, .. } if source.as_bytes() == b"/usr")));
        assert!(plan.ops.iter().any(|op| matches!(op, Op::ReadOnly { .. })));
    }
}
