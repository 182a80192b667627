//! The files of ConfigMap, Secret, downwardAPI and projected volumes, with the
//! modes the kubelet gives them: `items[].mode`, else the volume's `defaultMode`,
//! else 0644. (The kubelet's `..data` symlink layout is not reproduced: the files
//! are plain files at their paths.) A projected `serviceAccountToken` is a token
//! of the pod's ServiceAccount bound to the pod, issued as the files are written
//! (every exec and real run); as the kubelet writes it, it is private (0600, owned
//! by the pods' common `runAsUser`) when the pod has an fsGroup or such a user.
//! When the ServiceAccount is gone the pod runs on without a token, as a running
//! pod on a real node keeps its mount but gets no new token.

use std::path::{Component, Path, PathBuf};

use base64::Engine;
use serde_json::Value;

use crate::rest::{ApiError, Rest};

/// The kubelet's mode for files of these volumes when nothing says otherwise.
pub const DEFAULT_MODE: u32 = 0o644;

/// One file of a volume: where, what, and its mode.
#[derive(Clone, Debug, PartialEq)]
pub struct File {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    pub mode: u32,
    /// The pod's user that owns the file, when not the pod's root.
    pub owner: Option<u32>,
}

/// A relative path that stays inside its base (subPath, item paths).
pub fn relative_inside(path: &str) -> Option<PathBuf> {
    let p = Path::new(path);
    p.components().all(|c| matches!(c, Component::Normal(_))).then(|| p.to_path_buf()).filter(|p| !p.as_os_str().is_empty())
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

fn mode(v: &Value) -> Option<u32> {
    v.as_u64().and_then(|m| u32::try_from(m).ok()).map(|m| m & 0o777)
}

/// Whether `volume` is one whose files the kubelet writes.
pub fn is_projection(volume: &Value) -> bool {
    ["configMap", "secret", "downwardAPI", "projected"].iter().any(|k| volume[*k].is_object())
}

/// The files of a configMap, secret, downwardAPI or projected `volume` of `pod`.
pub fn of_volume(rest: &Rest, pod: &Value, volume: &Value) -> Result<Vec<File>, ApiError> {
    let mut files = Vec::new();
    if volume["projected"].is_object() {
        let default = mode(&volume["projected"]["defaultMode"]).unwrap_or(DEFAULT_MODE);
        for source in volume["projected"]["sources"].as_array().into_iter().flatten() {
            source_files(rest, pod, source, default, &mut files)?;
        }
    } else {
        let spec = ["configMap", "secret", "downwardAPI"].iter().map(|k| &volume[*k]).find(|v| v.is_object()).unwrap_or(&Value::Null);
        let default = mode(&spec["defaultMode"]).unwrap_or(DEFAULT_MODE);
        source_files(rest, pod, volume, default, &mut files)?;
    }
    Ok(files)
}

/// Files of one source: `{configMap: …}`, `{secret: …}` or `{downwardAPI: …}`.
fn source_files(rest: &Rest, pod: &Value, source: &Value, default: u32, files: &mut Vec<File>) -> Result<(), ApiError> {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    if let Some((field, plural, name_key)) =
        [("configMap", "configmaps", "name"), ("secret", "secrets", "secretName")].into_iter().find(|(f, _, _)| source[*f].is_object())
    {
        let spec = &source[field];
        // A projected secret names its source `name`, a secret volume `secretName`.
        let name = spec[name_key].as_str().or(spec["name"].as_str()).unwrap_or_default();
        let obj = rest.catalogue.find("", "v1", plural).and_then(|info| rest.get(&info, Some(ns), name).ok());
        let Some(obj) = obj else {
            if spec["optional"] == true {
                return Ok(());
            }
            let word = if plural == "secrets" { "secret" } else { "configmap" };
            return Err(ApiError::bad_request(format!("{word} \"{name}\" not found")));
        };
        let data = data_of(&obj, plural == "secrets");
        match spec["items"].as_array() {
            Some(items) => {
                for item in items {
                    let Some((_, bytes)) = data.iter().find(|(k, _)| Some(k.as_str()) == item["key"].as_str()) else { continue };
                    let Some(path) = item["path"].as_str().and_then(relative_inside) else { continue };
                    files.push(File { path, bytes: bytes.clone(), mode: mode(&item["mode"]).unwrap_or(default), owner: None });
                }
            }
            None => files.extend(data.into_iter().filter_map(|(k, bytes)| Some(File { path: relative_inside(&k)?, bytes, mode: default, owner: None }))),
        }
    }
    let projection = &source["serviceAccountToken"];
    if let Some(path) = projection["path"].as_str().and_then(relative_inside)
        && let Ok(token) = crate::serviceaccount::request::for_pod(rest, pod, projection)
    {
        let owner = super::security::fs_user(pod);
        let private = owner.is_some() || pod["spec"]["securityContext"]["fsGroup"].is_u64();
        files.push(File { path, bytes: token.into_bytes(), mode: if private { 0o600 } else { default }, owner });
    }
    for item in source["downwardAPI"]["items"].as_array().into_iter().flatten() {
        let Some(path) = item["path"].as_str().and_then(relative_inside) else { continue };
        let value = if item["fieldRef"].is_object() {
            field(pod, item["fieldRef"]["fieldPath"].as_str().unwrap_or_default())
        } else {
            resource(pod, &item["resourceFieldRef"])
        };
        if let Some(value) = value {
            files.push(File { path, bytes: value.into_bytes(), mode: mode(&item["mode"]).unwrap_or(default), owner: None });
        }
    }
    Ok(())
}

/// A pod field as the downward API writes it: maps as sorted `key="value"` lines.
fn field(pod: &Value, path: &str) -> Option<String> {
    if let Some(map) = ["labels", "annotations"].into_iter().find(|m| path == format!("metadata.{m}")) {
        let entries = pod["metadata"][map].as_object().cloned().unwrap_or_default();
        let mut keys: Vec<&String> = entries.keys().collect();
        keys.sort();
        let quoted = |v: &Value| serde_json::to_string(v.as_str().unwrap_or_default()).unwrap_or_default();
        return Some(keys.iter().map(|k| format!("{k}={}", quoted(&entries[*k]))).collect::<Vec<_>>().join("\n"));
    }
    crate::kubelet::env::field_ref(pod, path)
}

/// `limits.cpu`, `requests.memory`, … of a container, in units of the divisor
/// (rounded up, as the kubelet does); an unset limit is the node's allocatable.
fn resource(pod: &Value, r: &Value) -> Option<String> {
    let containers = pod["spec"]["containers"].as_array()?;
    let container = match r["containerName"].as_str() {
        Some(name) => containers.iter().find(|c| c["name"] == name)?,
        None => containers.first()?,
    };
    let (kind, what) = r["resource"].as_str()?.split_once('.')?;
    let quantity = container["resources"][kind][what].as_str().map(str::to_string).or_else(|| match (kind, what) {
        ("limits", "cpu") => Some("4".into()),
        ("limits", "memory") => Some("16Gi".into()),
        ("requests", _) => Some("0".into()),
        _ => None,
    })?;
    let value = crate::quantity::parse(&quantity)?;
    let divisor = r["divisor"].as_str().and_then(crate::quantity::parse).filter(|d| *d > 0.0).unwrap_or(1.0);
    Some(format!("{}", (value / divisor).ceil() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn downward_files_are_written_as_the_kubelet_writes_them() {
        let pod = json!({"metadata": {"name": "p", "namespace": "ns", "labels": {"b": "2", "a": "x\"y"}},
            "spec": {"containers": [{"name": "c", "resources": {"limits": {"memory": "128Mi"}, "requests": {"cpu": "250m"}}}]}});
        assert_eq!(field(&pod, "metadata.labels").unwrap(), "a=\"x\\\"y\"\nb=\"2\"");
        assert_eq!(field(&pod, "metadata.name").unwrap(), "p");
        let r = |v: Value| resource(&pod, &v);
        assert_eq!(r(json!({"resource": "limits.memory", "divisor": "1Mi"})).unwrap(), "128");
        assert_eq!(r(json!({"resource": "requests.cpu"})).unwrap(), "1");
        assert_eq!(r(json!({"resource": "requests.cpu", "divisor": "1m"})).unwrap(), "250");
        assert_eq!(r(json!({"containerName": "c", "resource": "limits.cpu"})).unwrap(), "4");
    }

    #[test]
    fn secret_data_is_decoded_and_paths_stay_inside() {
        let secret = json!({"data": {"k": "aGk="}, "stringData": {"s": "plain"}});
        assert_eq!(data_of(&secret, true), vec![("k".to_string(), b"hi".to_vec()), ("s".to_string(), b"plain".to_vec())]);
        assert!(relative_inside("../etc").is_none());
        assert!(relative_inside("/etc").is_none());
        assert_eq!(relative_inside("a/b"), Some(PathBuf::from("a/b")));
    }
}
