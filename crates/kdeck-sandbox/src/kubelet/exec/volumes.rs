//! The container's volumes as host directories, ready to be mounted at their
//! mountPaths inside the exec's private mount namespace:
//! - `emptyDir` (and volume types the sandbox does not model): `<data>/volumes/pods/<pod-uid>/<volume>`,
//!   kept for the pod's lifetime so a second exec sees what the first wrote;
//! - `configMap` / `secret`: the same place, rewritten with the current keys on
//!   every exec, always mounted read-only;
//! - `persistentVolumeClaim`: [`pvc_dir`].

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use base64::Engine;

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

/// Removes a deleted pod's own volumes (emptyDir, ConfigMap and Secret copies);
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

/// A relative path that stays inside its base (subPath, item paths).
fn relative_inside(path: &str) -> Option<PathBuf> {
    let p = Path::new(path);
    p.components().all(|c| matches!(c, Component::Normal(_))).then(|| p.to_path_buf()).filter(|p| !p.as_os_str().is_empty())
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

pub fn materialize(rest: &Rest, pod: &Value, container: &Value, data_dir: &Path) -> Result<Vec<Mount>, ApiError> {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
    let volumes = pod["spec"]["volumes"].as_array().cloned().unwrap_or_default();
    let mut mounts = Vec::new();
    crate::fsutil::create_private_dir(&data_dir.join("volumes")).map_err(|e| io_error(data_dir, e))?;
    for vm in container["volumeMounts"].as_array().into_iter().flatten() {
        let (Some(name), Some(target)) = (vm["name"].as_str(), vm["mountPath"].as_str()) else { continue };
        // Mount points are built under the view's root: `..` must not lead out of it,
        // and a volume cannot replace the root itself.
        let Some(target) = clean_absolute(target).filter(|t| t != "/") else {
            return Err(ApiError::bad_request(format!("mountPath {target:?} must be an absolute path without '..'")));
        };
        let Some(volume) = volumes.iter().find(|v| v["name"] == name) else { continue };
        let (mut source, forced_ro) = volume_source(rest, ns, uid, volume, data_dir)?;
        if let Some(sub) = vm["subPath"].as_str().filter(|s| !s.is_empty()) {
            let Some(rel) = relative_inside(sub) else {
                return Err(ApiError::bad_request(format!("subPath {sub:?} must be a relative path within the volume")));
            };
            source = source.join(rel);
            if !source.exists() {
                fs::create_dir_all(&source).map_err(|e| io_error(&source, e))?;
            }
        }
        mounts.push(Mount { source, target, read_only: forced_ro || vm["readOnly"] == true });
    }
    Ok(mounts)
}

/// The host directory backing one volume, and whether it is always read-only.
fn volume_source(rest: &Rest, ns: &str, uid: &str, volume: &Value, data_dir: &Path) -> Result<(PathBuf, bool), ApiError> {
    let name = volume["name"].as_str().unwrap_or_default();
    let dir = pod_volume_dir(data_dir, uid, name);
    if let Some(claim) = volume["persistentVolumeClaim"].as_object() {
        let path = pvc_dir(data_dir, ns, claim.get("claimName").and_then(Value::as_str).unwrap_or_default());
        fs::create_dir_all(&path).map_err(|e| io_error(&path, e))?;
        return Ok((path, claim.get("readOnly") == Some(&Value::Bool(true))));
    }
    let projected = [("configMap", "configmaps", "name"), ("secret", "secrets", "secretName")].into_iter().find(|(f, _, _)| volume.get(*f).is_some());
    fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
    if let Some((field, plural, name_key)) = projected {
        write_keys(rest, ns, &volume[field], plural, name_key, &dir)?;
        return Ok((dir, true));
    }
    Ok((dir, false))
}

/// Replaces the directory's files with the source's keys (or its `items`).
fn write_keys(rest: &Rest, ns: &str, spec: &Value, plural: &str, name_key: &str, dir: &Path) -> Result<(), ApiError> {
    let source_name = spec[name_key].as_str().unwrap_or_default();
    let obj = rest.catalogue.find("", "v1", plural).and_then(|info| rest.get(&info, Some(ns), source_name).ok());
    let Some(obj) = obj else {
        if spec["optional"] == true {
            return Ok(());
        }
        let word = if plural == "secrets" { "secret" } else { "configmap" };
        return Err(ApiError::bad_request(format!("{word} \"{source_name}\" not found")));
    };
    let data = data_of(&obj, plural == "secrets");
    for entry in fs::read_dir(dir).map_err(|e| io_error(dir, e))?.flatten() {
        let path = entry.path();
        let _ = if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
    }
    let files: Vec<(PathBuf, &[u8])> = match spec["items"].as_array() {
        Some(items) => items
            .iter()
            .filter_map(|item| {
                let value = data.iter().find(|(k, _)| Some(k.as_str()) == item["key"].as_str())?;
                Some((relative_inside(item["path"].as_str()?)?, value.1.as_slice()))
            })
            .collect(),
        None => data.iter().filter_map(|(k, v)| Some((relative_inside(k)?, v.as_slice()))).collect(),
    };
    for (rel, bytes) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
        }
        fs::write(&path, bytes).map_err(|e| io_error(&path, e))?;
    }
    Ok(())
}

/// The keys of a ConfigMap (data and binaryData) or Secret (base64 data, stringData).
pub fn data_of(obj: &Value, secret: bool) -> Vec<(String, Vec<u8>)> {
    let b64 = |v: &Value| v.as_str().and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok());
    let mut out = Vec::new();
    let (plain, encoded) = if secret { ("stringData", "data") } else { ("data", "binaryData") };
    for (k, v) in obj[encoded].as_object().into_iter().flatten() {
        if let Some(bytes) = b64(v) {
            out.push((k.clone(), bytes));
        }
    }
    for (k, v) in obj[plain].as_object().into_iter().flatten() {
        if let Some(s) = v.as_str() {
            out.push((k.clone(), s.as_bytes().to_vec()));
        }
    }
    out
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
    fn secret_data_is_decoded() {
        let secret = serde_json::json!({"data": {"k": "aGk="}, "stringData": {"s": "plain"}});
        assert_eq!(data_of(&secret, true), vec![("k".to_string(), b"hi".to_vec()), ("s".to_string(), b"plain".to_vec())]);
    }
}
