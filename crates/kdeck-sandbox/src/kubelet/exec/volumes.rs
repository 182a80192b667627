//! The container's volumes as host directories, ready to be mounted at their
//! mountPaths inside the exec's private mount namespace:
//! - `emptyDir` (and volume types the sandbox does not model): `<data>/volumes/pods/<pod-uid>/<volume>`,
//!   kept for the pod's lifetime so a second exec sees what the first wrote;
//! - `configMap`, `secret`, `downwardAPI`, `projected`: the same place, rewritten
//!   with the current files on every exec ([`files`]), always mounted read-only;
//! - `persistentVolumeClaim`: [`pvc_dir`].

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use super::files::{self, relative_inside};
use super::userns::Mapping;
use crate::rest::{ApiError, Rest};

/// One bind mount of the exec's view.
#[derive(Clone, Debug, PartialEq)]
pub struct Mount {
    /// Host directory (or file, with subPath).
    pub source: PathBuf,
    /// Absolute path inside the view.
    pub target: String,
    pub read_only: bool,
}

/// Where a claim's data lives. PVC binding to PVs comes later: this is the one
/// place that decides the path, so it can then follow the bound volume.
pub fn pvc_dir(data_dir: &Path, namespace: &str, claim: &str) -> PathBuf {
    data_dir.join("volumes").join("pvc").join(safe(namespace)).join(safe(claim))
}

/// A pod's own volume directory.
fn pod_volume_dir(data_dir: &Path, pod_uid: &str, volume: &str) -> PathBuf {
    data_dir.join("volumes").join("pods").join(safe(pod_uid)).join(safe(volume))
}

/// The container's `/tmp`, kept with the pod's volumes (and removed with them):
/// `<data>/volumes/pods/<pod-uid>/.containers/<container>/tmp` (a dot-name no
/// volume can have), mode 1777, owned by the pod's root.
pub fn container_tmp(data_dir: &Path, pod: &Value, container: &Value, owners: &Owners) -> Result<PathBuf, ApiError> {
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
    let name = container["name"].as_str().unwrap_or_default();
    let dir = data_dir.join("volumes").join("pods").join(safe(uid)).join(".containers").join(safe(name)).join("tmp");
    if !dir.exists() {
        fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        if owners.mapping.can_chown() {
            let (uid, gid) = owners.root();
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).map_err(|e| io_error(&dir, e))?;
        }
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o1777)).map_err(|e| io_error(&dir, e))?;
    }
    Ok(dir)
}

/// Removes a deleted pod's own volumes (emptyDir, ConfigMap and Secret copies,
/// its containers' `/tmp`);
/// claims' data stays. For the kubelet to call once a pod is gone.
pub fn remove_pod_volumes(data_dir: &Path, pod_uid: &str) -> io::Result<()> {
    let dir = data_dir.join("volumes").join("pods").join(safe(pod_uid));
    match fs::remove_dir_all(&dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Object names cannot hold `/`, but request data must never choose a path.
pub(crate) fn safe(name: &str) -> String {
    let cleaned: String = name.chars().map(|c| if c == '/' || c == '\0' { '_' } else { c }).collect();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." { format!("_{cleaned}") } else { cleaned }
}

/// `path` as an absolute path of plain names (`.` and repeated `/` dropped), or
/// `None` when it is relative or has a `..`.
pub fn clean_absolute(path: &str) -> Option<String> {
    let p = Path::new(path);
    let mut out = String::new();
    for (i, c) in p.components().enumerate() {
        match c {
            Component::RootDir if i == 0 => {}
            Component::CurDir => {}
            Component::Normal(name) => {
                out.push('/');
                out.push_str(name.to_str()?);
            }
            _ => return None,
        }
    }
    if !path.starts_with('/') {
        return None;
    }
    Some(if out.is_empty() { "/".to_string() } else { out })
}

fn io_error(what: &Path, e: io::Error) -> ApiError {
    ApiError::internal(format!("cannot prepare volume directory {}: {e}", what.display()))
}

/// Who owns what the sandbox writes for a pod, on the host.
#[derive(Clone, Copy, Debug)]
pub struct Owners {
    pub mapping: Mapping,
    /// The pod's `fsGroup`, a group id inside the pod.
    pub fs_group: Option<u32>,
}

impl Owners {
    /// Host ids of the pod's root: owner of volume directories and projected files.
    fn root(&self) -> (u32, u32) {
        (self.mapping.host_uid(0), self.mapping.host_gid(0))
    }

    fn host_fs_group(&self) -> Option<u32> {
        self.fs_group.map(|g| self.mapping.host_gid(g))
    }
}

/// The container's volume mounts as host paths. Volume directories are made and
/// owned as the kubelet leaves them: emptyDir and claim directories mode 0777,
/// owned by the pod's root; with `fsGroup` every file of a writable volume gets
/// that group, group read/write (read on read-only volumes) and directories the
/// setgid bit, so what the pod writes there belongs to its group. ConfigMap,
/// Secret, downwardAPI and projected files get their modes ([`files`]), the pod's
/// root as owner and `fsGroup` (with group read) as group.
pub fn materialize(rest: &Rest, pod: &Value, container: &Value, data_dir: &Path, owners: &Owners) -> Result<Vec<Mount>, ApiError> {
    let volumes = pod["spec"]["volumes"].as_array().cloned().unwrap_or_default();
    let mut mounts = Vec::new();
    let mut prepared: Vec<(String, PathBuf, bool)> = Vec::new();
    crate::fsutil::create_private_dir(&data_dir.join("volumes")).map_err(|e| io_error(data_dir, e))?;
    for vm in container["volumeMounts"].as_array().into_iter().flatten() {
        let (Some(name), Some(target)) = (vm["name"].as_str(), vm["mountPath"].as_str()) else { continue };
        // Mount points are built under the view's root: `..` must not lead out of it,
        // and a volume cannot replace the root itself.
        let Some(target) = clean_absolute(target).filter(|t| t != "/") else {
            return Err(ApiError::bad_request(format!("mountPath {target:?} must be an absolute path without '..'")));
        };
        let Some(volume) = volumes.iter().find(|v| v["name"] == name) else { continue };
        // A volume mounted twice is prepared once.
        let (mut source, forced_ro) = match prepared.iter().find(|(n, _, _)| n == name) {
            Some((_, source, ro)) => (source.clone(), *ro),
            None => {
                let (source, ro) = volume_source(rest, pod, volume, data_dir, owners)?;
                prepared.push((name.to_string(), source.clone(), ro));
                (source, ro)
            }
        };
        if let Some(sub) = vm["subPath"].as_str().filter(|s| !s.is_empty()) {
            let Some(rel) = relative_inside(sub) else {
                return Err(ApiError::bad_request(format!("subPath {sub:?} must be a relative path within the volume")));
            };
            let base = source.clone();
            source = source.join(rel);
            if !source.exists() {
                fs::create_dir_all(&source).map_err(|e| io_error(&source, e))?;
                like_parent(&base, &source);
            }
        }
        mounts.push(Mount { source, target, read_only: forced_ro || vm["readOnly"] == true });
    }
    Ok(mounts)
}

/// The host directory backing one volume, and whether it is always read-only.
fn volume_source(rest: &Rest, pod: &Value, volume: &Value, data_dir: &Path, owners: &Owners) -> Result<(PathBuf, bool), ApiError> {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
    let name = volume["name"].as_str().unwrap_or_default();
    if let Some(claim) = volume["persistentVolumeClaim"].as_object() {
        let path = pvc_dir(data_dir, ns, claim.get("claimName").and_then(Value::as_str).unwrap_or_default());
        let read_only = claim.get("readOnly") == Some(&Value::Bool(true));
        volume_dir(&path, owners)?;
        set_fs_group(&path, owners, read_only);
        return Ok((path, read_only));
    }
    let dir = pod_volume_dir(data_dir, uid, name);
    if files::is_projection(volume) {
        write_files(&dir, &files::of_volume(rest, pod, volume)?, owners)?;
        return Ok((dir, true));
    }
    volume_dir(&dir, owners)?;
    set_fs_group(&dir, owners, false);
    Ok((dir, false))
}

/// Makes a writable volume's directory: mode 0777, owned by the pod's root (a
/// directory an earlier sandbox left to the host's root is handed over).
fn volume_dir(dir: &Path, owners: &Owners) -> Result<(), ApiError> {
    let created = !dir.exists();
    fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    let (uid, gid) = owners.root();
    let meta = fs::metadata(dir).map_err(|e| io_error(dir, e))?;
    if created || (owners.mapping.can_chown() && meta.uid() != uid) {
        if owners.mapping.can_chown() {
            std::os::unix::fs::chown(dir, Some(uid), Some(gid)).map_err(|e| io_error(dir, e))?;
        }
        fs::set_permissions(dir, fs::Permissions::from_mode(0o777)).map_err(|e| io_error(dir, e))?;
    }
    Ok(())
}

/// A subPath directory made by the runtime: the mode and owner of its volume.
fn like_parent(base: &Path, dir: &Path) {
    let Ok(meta) = fs::metadata(base) else { return };
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(meta.mode() & 0o7777));
    let _ = std::os::unix::fs::chown(dir, Some(meta.uid()), Some(meta.gid()));
}

/// The kubelet's fsGroup ownership: the group on every file, group read/write
/// (read when read-only), setgid and search on directories. Best effort, as the
/// kubelet logs and goes on. The kubelet does this once, when it mounts the
/// volume — not on every exec: a volume whose root already has the group and the
/// setgid bit is left as it is (so a server's 0700 data directory inside it, or
/// files it made private, stay so), as `fsGroupChangePolicy: OnRootMismatch` does.
fn set_fs_group(dir: &Path, owners: &Owners, read_only: bool) {
    let Some(gid) = owners.host_fs_group() else { return };
    if fs::metadata(dir).is_ok_and(|m| m.gid() == gid && m.mode() & 0o2000 != 0) {
        return;
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let Ok(meta) = fs::symlink_metadata(&path) else { continue };
        if owners.mapping.can_chown() {
            let _ = std::os::unix::fs::lchown(&path, None, Some(gid));
        }
        if meta.file_type().is_symlink() {
            continue;
        }
        let mut mask = if read_only { 0o440 } else { 0o660 };
        if meta.is_dir() {
            mask |= 0o2110;
            if let Ok(entries) = fs::read_dir(&path) {
                stack.extend(entries.flatten().map(|e| e.path()));
            }
        }
        let _ = fs::set_permissions(&path, fs::Permissions::from_mode((meta.mode() & 0o7777) | mask));
    }
}

/// Replaces the directory's files with `files`, each with its mode, owned by the
/// pod's root and, with fsGroup, by that group with group read added.
fn write_files(dir: &Path, files: &[files::File], owners: &Owners) -> Result<(), ApiError> {
    fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    for entry in fs::read_dir(dir).map_err(|e| io_error(dir, e))?.flatten() {
        let path = entry.path();
        let _ = if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
    }
    let (uid, root_gid) = owners.root();
    let group = owners.host_fs_group();
    let gid = group.unwrap_or(root_gid);
    let (file_extra, dir_mode) = if group.is_some() { (0o440, 0o2755) } else { (0, 0o755) };
    let own_as = |path: &Path, mode: u32, uid: u32| -> Result<(), ApiError> {
        if owners.mapping.can_chown() {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|e| io_error(path, e))?;
        }
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| io_error(path, e))
    };
    let own = |path: &Path, mode: u32| own_as(path, mode, uid);
    own(dir, dir_mode)?;
    for file in files {
        let path = dir.join(&file.path);
        let mut parent = path.parent();
        while let Some(p) = parent.filter(|p| *p != dir && p.starts_with(dir)) {
            if !p.exists() {
                fs::create_dir_all(p).map_err(|e| io_error(p, e))?;
            }
            own(p, dir_mode)?;
            parent = p.parent();
        }
        fs::write(&path, &file.bytes).map_err(|e| io_error(&path, e))?;
        own_as(&path, file.mode | file_extra, file.owner.map_or(uid, |user| owners.mapping.host_uid(user)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_from_requests_stay_inside_their_base() {
        assert_eq!(pvc_dir(Path::new("/d"), "ns", "../x"), PathBuf::from("/d/volumes/pvc/ns/.._x"));
        assert_eq!(pvc_dir(Path::new("/d"), "ns", ".."), PathBuf::from("/d/volumes/pvc/ns/_.."));
        assert!(relative_inside("../etc").is_none());
        assert!(relative_inside("/etc").is_none());
        assert_eq!(relative_inside("a/b"), Some(PathBuf::from("a/b")));
        assert_eq!(clean_absolute("/data//x/./y/"), Some("/data/x/y".to_string()));
        assert_eq!(clean_absolute("/"), Some("/".to_string()));
        assert_eq!(clean_absolute("/a/../etc"), None);
        assert_eq!(clean_absolute("data"), None);
    }

    #[test]
    fn projected_files_get_their_modes_and_fs_group_adds_group_read() {
        let dir = tempfile::tempdir().unwrap();
        let owners = |fs_group| Owners { mapping: Mapping::Single { uid: 1, gid: 1 }, fs_group };
        let file = |path: &str, mode| files::File { path: PathBuf::from(path), bytes: b"x".to_vec(), mode, owner: None };
        let mode = |p: &str| fs::metadata(dir.path().join(p)).unwrap().mode() & 0o7777;
        write_files(dir.path(), &[file("key", 0o400), file("sub/other", 0o644)], &owners(None)).unwrap();
        assert_eq!((mode("key"), mode("sub/other"), mode("sub")), (0o400, 0o644, 0o755));
        write_files(dir.path(), &[file("key", 0o400)], &owners(Some(2000))).unwrap();
        assert_eq!(mode("key"), 0o440);
        assert!(!dir.path().join("sub").exists(), "files of an earlier write are gone");

        let volume = dir.path().join("claim");
        volume_dir(&volume, &owners(None)).unwrap();
        fs::write(volume.join("f"), b"x").unwrap();
        fs::set_permissions(volume.join("f"), fs::Permissions::from_mode(0o600)).unwrap();
        set_fs_group(&volume, &owners(Some(2000)), false);
        assert_eq!((mode("claim"), mode("claim/f")), (0o2777, 0o660));
    }
}
