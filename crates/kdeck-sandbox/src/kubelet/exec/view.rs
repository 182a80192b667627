//! The root filesystem a pod's process sees, planned in the parent as a list of
//! [`Op`]s. It is a fresh tmpfs holding:
//!
//! - the host's system directories (`/usr`, `/bin`, `/sbin`, `/lib*`, `/opt`),
//!   bound read-only and nosuid: enough for sh, coreutils, python3 to run;
//! - `/etc` made for the pod: `hostname`, `passwd`, `group` written for it,
//!   `hosts` and `resolv.conf` of its network view bound read-only (the sandbox
//!   keeps them current, see `network::hosts`), plus the host files tools need (certificates, the
//!   dynamic loader's cache, nsswitch.conf, localtime, alternatives, …) bound
//!   read-only — never `shadow`, `sudoers` or the like;
//! - `/dev` with null, zero, full, random, urandom and tty, a private devpts
//!   (`/dev/pts`, `/dev/ptmx`) and a 64 MiB `/dev/shm`;
//! - `/proc` of the pod's own PID namespace;
//! - the container's own `/tmp` (a directory of the pod's, so every exec into
//!   the container and its command see the same files, as in a container's
//!   writable layer) and an empty `/root`;
//! - the container's volumes at their mount paths.
//!
//! Nothing else of the host is there: no `/home`, `/root`, `/var`, `/srv`, `/mnt`,
//! host `/proc` or `/sys`, nor the sandbox's data directory. A directory that must
//! exist inside a bound tree (`/usr/share/app`) is made by "expanding" its
//! ancestors: each is recreated in the tmpfs with its host children bound one by
//! one, so nothing is ever created on the host. With `readOnlyRootFilesystem` the
//! tmpfs is made read-only once built, `/tmp` included (as a runtime does: only
//! volumes and `/dev/shm` stay writable).

use std::collections::BTreeSet;
use std::ffi::CString;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::ops::{Op, cstr, locked_flags};
use super::volumes::Mount;

/// Host directories at `/` the pod sees read-only (those that exist).
const SYSTEM: [&str; 8] = ["bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "opt"];

/// Host files and directories of `/etc` the pod sees read-only (those that exist),
/// besides any whose name starts with `python`.
const ETC: [&str; 30] = [
    "alternatives",
    "bash.bashrc",
    "ca-certificates",
    "ca-certificates.conf",
    "crypto-policies",
    "debian_version",
    "alpine-release",
    "redhat-release",
    "gai.conf",
    "host.conf",
    "inputrc",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "lsb-release",
    "magic",
    "mime.types",
    "nsswitch.conf",
    "os-release",
    "pki",
    "profile",
    "protocols",
    "services",
    "ssl",
    "terminfo",
    "timezone",
    "vim",
    "perl",
    "xdg",
];

/// Device nodes bound from the host's /dev.
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// What the view is made of.
pub struct View<'a> {
    /// The empty host directory the tmpfs is mounted on (privately, in the child).
    pub root: &'a Path,
    pub mounts: &'a [Mount],
    pub working_dir: Option<&'a str>,
    /// Files written into `/etc`: name, contents.
    pub etc: Vec<(String, Vec<u8>)>,
    /// Host files bound read-only onto `/etc/NAME` (the network view's hosts and
    /// resolv.conf, which the sandbox rewrites in place).
    pub etc_bound: &'a [(String, PathBuf)],
    pub read_only_root: bool,
    /// The host directory that is the container's `/tmp` (None: a tmpfs of its own).
    pub tmp: Option<&'a Path>,
    /// Host uid and gid of the pod's root, owner of the tmpfs roots (a root sandbox only).
    pub owner: Option<(u32, u32)>,
}

/// Ancestors of `path` (excluding `/` and the path itself), shallowest first.
fn ancestors(path: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = path.ancestors().skip(1).filter(|a| a.parent().is_some()).map(Path::to_path_buf).collect();
    out.reverse();
    out
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0o755)
}

/// The host trees and files the pod sees, by their path.
fn host_entries() -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = SYSTEM.iter().map(|n| Path::new("/").join(n)).collect();
    entries.extend(ETC.iter().map(|n| Path::new("/etc").join(n)));
    if let Ok(dir) = std::fs::read_dir("/etc") {
        let mut python: Vec<PathBuf> = dir.flatten().filter(|e| e.file_name().to_string_lossy().starts_with("python")).map(|e| e.path()).collect();
        python.sort();
        entries.extend(python);
    }
    entries.retain(|p| std::fs::symlink_metadata(p).is_ok());
    entries
}

impl View<'_> {
    fn at(&self, path: &Path) -> io::Result<CString> {
        match path.strip_prefix("/").unwrap_or(path) {
            rel if rel.as_os_str().is_empty() => cstr(self.root),
            rel => cstr(self.root.join(rel)),
        }
    }

    fn tmpfs(&self, target: &Path, options: &str, flags: libc::c_ulong) -> io::Result<Op> {
        let owner = self.owner.map(|(u, g)| format!(",uid={u},gid={g}")).unwrap_or_default();
        Ok(Op::Mount { fstype: c"tmpfs", target: self.at(target)?, flags, data: cstr(format!("{options}{owner}"))? })
    }

    /// The steps that build the view.
    pub fn ops(&self) -> io::Result<Vec<Op>> {
        let targets: BTreeSet<PathBuf> = self.mounts.iter().map(|m| PathBuf::from(&m.target)).collect();
        let mut needed: BTreeSet<PathBuf> = targets.iter().flat_map(|t| ancestors(t)).collect();
        let wd = self.working_dir.and_then(super::volumes::clean_absolute).filter(|w| w != "/");
        if let Some(wd) = &wd {
            match volume_path(self.mounts, wd) {
                // The runtime makes a missing working directory inside the volume.
                Some(dir) => drop(std::fs::create_dir_all(dir)),
                None => {
                    needed.extend(ancestors(Path::new(wd)));
                    needed.insert(PathBuf::from(wd));
                }
            }
        }
        let nosuid_nodev = libc::MS_NOSUID | libc::MS_NODEV;
        let mut ops = vec![self.tmpfs(Path::new("/"), "mode=0755,size=256m", nosuid_nodev)?];
        ops.push(Op::Mkdir { path: self.at(Path::new("/etc"))?, mode: 0o755 });
        let hosted = host_entries();
        for entry in &hosted {
            Tree { view: self, targets: &targets, needed: &needed, ops: &mut ops }.entry(entry)?;
        }
        for (name, contents) in &self.etc {
            ops.push(Op::Write { path: self.at(&Path::new("/etc").join(name))?, contents: contents.clone(), mode: 0o644 });
        }
        for (name, source) in self.etc_bound {
            let at = self.at(&Path::new("/etc").join(name))?;
            ops.push(Op::Touch { path: at.clone() });
            let remount = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | locked_flags(source);
            ops.push(Op::Bind { source: cstr(source)?, target: at, remount });
        }
        ops.push(Op::Symlink { target: c"/proc/self/mounts".into(), at: self.at(Path::new("/etc/mtab"))? });
        self.dev(&mut ops)?;
        ops.push(Op::Mkdir { path: self.at(Path::new("/proc"))?, mode: 0o555 });
        ops.push(Op::Mount { fstype: c"proc", target: self.at(Path::new("/proc"))?, flags: nosuid_nodev | libc::MS_NOEXEC, data: c"".into() });
        ops.push(Op::Mkdir { path: self.at(Path::new("/tmp"))?, mode: 0o1777 });
        if !self.read_only_root {
            ops.push(match self.tmp {
                Some(dir) => Op::Bind { source: cstr(dir)?, target: self.at(Path::new("/tmp"))?, remount: 0 },
                None => self.tmpfs(Path::new("/tmp"), "mode=1777,size=1g", nosuid_nodev)?,
            });
        }
        ops.push(Op::Mkdir { path: self.at(Path::new("/root"))?, mode: 0o700 });
        // Directories outside the bound trees are plain directories of the tmpfs.
        for dir in &needed {
            if !hosted.iter().any(|h| dir.starts_with(h)) {
                ops.push(Op::Mkdir { path: self.at(dir)?, mode: 0o755 });
            }
        }
        let mut by_depth: Vec<&Mount> = self.mounts.iter().collect();
        by_depth.sort_by_key(|m| m.target.matches('/').count());
        for m in by_depth {
            let target = self.at(Path::new(&m.target))?;
            ops.push(if m.source.is_dir() { Op::Mkdir { path: target.clone(), mode: 0o755 } } else { Op::Touch { path: target.clone() } });
            let remount = if m.read_only { libc::MS_RDONLY | locked_flags(&m.source) } else { 0 };
            ops.push(Op::Bind { source: cstr(&m.source)?, target, remount });
        }
        if self.read_only_root {
            ops.push(Op::ReadOnly { target: cstr(self.root)? });
        }
        Ok(ops)
    }

    /// A minimal /dev: a few host devices, a private devpts, and /dev/shm.
    fn dev(&self, ops: &mut Vec<Op>) -> io::Result<()> {
        let dev = Path::new("/dev");
        ops.push(Op::Mkdir { path: self.at(dev)?, mode: 0o755 });
        ops.push(self.tmpfs(dev, "mode=0755,size=64k", libc::MS_NOSUID | libc::MS_NOEXEC)?);
        for name in DEVICES {
            let host = dev.join(name);
            if host.exists() {
                ops.push(Op::Touch { path: self.at(&host)? });
                ops.push(Op::Bind { source: cstr(&host)?, target: self.at(&host)?, remount: 0 });
            }
        }
        for (name, target) in
            [("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx")]
        {
            ops.push(Op::Symlink { target: cstr(target)?, at: self.at(&dev.join(name))? });
        }
        ops.push(Op::Mkdir { path: self.at(&dev.join("pts"))?, mode: 0o755 });
        let pts = cstr("newinstance,ptmxmode=0666,mode=0620")?;
        ops.push(Op::Mount { fstype: c"devpts", target: self.at(&dev.join("pts"))?, flags: libc::MS_NOSUID | libc::MS_NOEXEC, data: pts });
        ops.push(Op::Mkdir { path: self.at(&dev.join("shm"))?, mode: 0o1777 });
        ops.push(self.tmpfs(&dev.join("shm"), "mode=1777,size=64m", libc::MS_NOSUID | libc::MS_NODEV)?);
        Ok(())
    }
}

/// The host path under a volume that corresponds to `path` in the view.
fn volume_path(mounts: &[Mount], path: &str) -> Option<PathBuf> {
    let m = mounts.iter().filter(|m| Path::new(path).starts_with(&m.target)).max_by_key(|m| m.target.len())?;
    let rel = Path::new(path).strip_prefix(&m.target).ok()?;
    Some(m.source.join(rel))
}

/// Binds a host tree, expanding the directories where the view differs from it.
struct Tree<'a, 'v> {
    view: &'a View<'v>,
    targets: &'a BTreeSet<PathBuf>,
    needed: &'a BTreeSet<PathBuf>,
    ops: &'a mut Vec<Op>,
}

impl Tree<'_, '_> {
    fn entry(&mut self, host: &Path) -> io::Result<()> {
        if self.targets.contains(host) {
            return Ok(());
        }
        let at = self.view.at(host)?;
        let Ok(meta) = std::fs::symlink_metadata(host) else { return Ok(()) };
        if meta.file_type().is_symlink() {
            self.ops.push(Op::Symlink { target: cstr(std::fs::read_link(host)?)?, at });
        } else if self.needed.contains(host) && meta.is_dir() {
            self.ops.push(Op::Mkdir { path: at, mode: mode_of(host) });
            self.expand(host)?;
        } else {
            self.ops.push(if meta.is_dir() { Op::Mkdir { path: at.clone(), mode: 0o755 } } else { Op::Touch { path: at.clone() } });
            let remount = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | locked_flags(host);
            self.ops.push(Op::Bind { source: cstr(host)?, target: at, remount });
        }
        Ok(())
    }

    /// Recreates `dir` (already made in the view): host children one by one.
    fn expand(&mut self, dir: &Path) -> io::Result<()> {
        let mut seen = BTreeSet::new();
        if let Ok(entries) = std::fs::read_dir(dir) {
            let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            paths.sort();
            for host in paths {
                seen.insert(host.clone());
                self.entry(&host)?;
            }
        }
        // Needed children missing on the host exist only in the view.
        let missing: Vec<PathBuf> = self.needed.iter().filter(|p| p.parent() == Some(dir) && !seen.contains(*p)).cloned().collect();
        for path in missing {
            self.ops.push(Op::Mkdir { path: self.view.at(&path)?, mode: 0o755 });
            self.expand(&path)?;
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

    fn view<'a>(mounts: &'a [Mount], wd: Option<&'a str>, read_only_root: bool) -> View<'a> {
        View {
            root: Path::new("/nonexistent-root"),
            mounts,
            working_dir: wd,
            etc: vec![("hostname".into(), b"x".to_vec())],
            etc_bound: &[],
            read_only_root,
            tmp: None,
            owner: None,
        }
    }

    fn described(ops: &[Op]) -> Vec<String> {
        ops.iter().map(Op::describe).collect()
    }

    #[test]
    fn the_view_has_the_system_trees_and_none_of_the_hosts_private_places() {
        let mounts = [mount("/usr/share/kdeck-test-missing/deeper"), mount("/data")];
        let ops = view(&mounts, Some("/srv/kdeck-test-wd"), false).ops().expect("plan");
        let steps = described(&ops);
        let has = |s: &str| steps.iter().any(|x| x == s);
        assert_eq!(steps[0], "mount tmpfs on /nonexistent-root");
        assert!(has("bind /usr/bin on /nonexistent-root/usr/bin"), "/usr is expanded for the mount point");
        assert!(has("make directory /nonexistent-root/usr/share/kdeck-test-missing"));
        assert!(has("make directory /nonexistent-root/srv/kdeck-test-wd"));
        assert!(has("bind /tmp on /nonexistent-root/data"));
        assert!(has("mount proc on /nonexistent-root/proc") && has("mount devpts on /nonexistent-root/dev/pts"));
        assert!(has("mount tmpfs on /nonexistent-root/tmp") && has("write /nonexistent-root/etc/hostname"));
        assert!(has("bind /dev/null on /nonexistent-root/dev/null"));
        for private in ["/etc/shadow", "/root", "/home", "/var", "/srv", "/mnt", "/sys"] {
            assert!(!steps.iter().any(|s| s.starts_with(&format!("bind {private}"))), "{private} is bound");
        }
        assert!(!ops.iter().any(|op| matches!(op, Op::ReadOnly { .. })));
    }

    #[test]
    fn a_read_only_root_has_no_writable_tmp() {
        let ops = view(&[], None, true).ops().expect("plan");
        let steps = described(&ops);
        assert!(!steps.iter().any(|s| s == "mount tmpfs on /nonexistent-root/tmp"), "{steps:?}");
        assert_eq!(steps.last().map(String::as_str), Some("make /nonexistent-root read-only"));
    }
}
