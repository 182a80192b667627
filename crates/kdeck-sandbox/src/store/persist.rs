//! The state file: one header line, then one JSON line per object in
//! resourceVersion order, written to a temporary file (owner-only: the state holds
//! Secrets), fsynced and renamed into place so a crash never leaves half a file.
//!
//! A file that does not parse, or holds an object the API would never have stored,
//! is reported with its line number and left untouched: the user's objects are worth
//! more than a fresh start.

use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{ObjectName, Store, object_name, validate};
use crate::fsutil;
use crate::resources::ResourceKey;

const FORMAT: u64 = 1;

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("cannot read the state file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the state file {path} is corrupt at line {line}: {reason}. It was left untouched; move it aside to start with an empty sandbox")]
    Corrupt { path: PathBuf, line: usize, reason: String },
    #[error("cannot write the state file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// One object read back, with the line it came from.
pub struct Loaded {
    pub line: usize,
    pub key: ResourceKey,
    pub object: Value,
}

/// The state file's content: its resourceVersion and its objects.
pub struct Snapshot {
    pub rv: u64,
    pub objects: Vec<Loaded>,
}

/// Reads the state file at `path`; a missing file is `None`. Each line must be a
/// record with an object whose resourceVersion is not above the header's, and no
/// object may appear twice.
pub fn read(path: &Path) -> Result<Option<Snapshot>, PersistError> {
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(PersistError::Read { path: path.into(), source }),
    };
    let corrupt = |line: usize, reason: String| PersistError::Corrupt { path: path.into(), line, reason };
    let mut lines = BufReader::new(file).lines();
    let header: Value = match lines.next() {
        Some(Ok(l)) => serde_json::from_str(&l).map_err(|e| corrupt(1, e.to_string()))?,
        Some(Err(e)) => return Err(corrupt(1, e.to_string())),
        None => return Err(corrupt(1, "the file is empty".into())),
    };
    if header["kdeckSandboxState"].as_u64() != Some(FORMAT) {
        return Err(corrupt(1, format!("expected a kdeck sandbox state header of format {FORMAT}")));
    }
    let rv = header["resourceVersion"].as_u64().ok_or_else(|| corrupt(1, "the header has no resourceVersion".into()))?;
    let mut objects = Vec::new();
    let mut seen: HashMap<(ResourceKey, ObjectName), usize> = HashMap::new();
    for (i, line) in lines.enumerate() {
        let n = i + 2;
        let line = line.map_err(|e| corrupt(n, e.to_string()))?;
        let (key, object) = parse_record(&line).map_err(|reason| corrupt(n, reason))?;
        let object_rv = validate::resource_version(&object).map_err(|reason| corrupt(n, reason))?;
        if object_rv > rv {
            return Err(corrupt(n, format!("the object's resourceVersion {object_rv} is above the file's {rv}")));
        }
        if let Some(first) = seen.insert((key.clone(), object_name(&object)), n) {
            return Err(corrupt(n, format!("the object is already on line {first}")));
        }
        objects.push(Loaded { line: n, key, object });
    }
    Ok(Some(Snapshot { rv, objects }))
}

fn parse_record(line: &str) -> Result<(ResourceKey, Value), String> {
    let mut record: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let (Some(group), Some(plural)) = (record["group"].as_str(), record["plural"].as_str()) else {
        return Err("the record has no group and plural".into());
    };
    let key = ResourceKey::new(group, plural);
    let object = record["object"].take();
    if !object["metadata"]["name"].is_string() {
        return Err("the object has no metadata.name".into());
    }
    Ok((key, object))
}

/// Loads `path` into `store`; a missing file is an empty sandbox. Every object must be
/// valid for its resource (see [`validate`]), or nothing is loaded.
pub fn load(path: &Path, store: &Store) -> Result<(), PersistError> {
    let Some(snapshot) = read(path)? else { return Ok(()) };
    let mut kinds = validate::Kinds::new();
    for loaded in &snapshot.objects {
        kinds.learn(&loaded.key, &loaded.object);
    }
    for loaded in &snapshot.objects {
        kinds.check(&loaded.key, &loaded.object).map_err(|reason| PersistError::Corrupt { path: path.into(), line: loaded.line, reason })?;
    }
    store.restore(snapshot.rv, snapshot.objects.into_iter().map(|loaded| (loaded.key, loaded.object)).collect());
    Ok(())
}

/// Writes everything in `store` to `path` atomically.
pub fn save(path: &Path, store: &Store) -> Result<(), PersistError> {
    let (rv, objects) = store.snapshot();
    let tmp = path.with_extension("tmp");
    let write_err = |source| PersistError::Write { path: path.into(), source };
    let file = fsutil::create_private(&tmp).map_err(write_err)?;
    let mut out = BufWriter::new(file);
    let write_all = |out: &mut BufWriter<fs::File>| -> std::io::Result<()> {
        writeln!(out, "{}", serde_json::json!({"kdeckSandboxState": FORMAT, "resourceVersion": rv}))?;
        for (key, raw) in &objects {
            write!(out, "{{\"group\":{},\"plural\":{},\"object\":", Value::from(key.group.as_str()), Value::from(key.plural.as_str()))?;
            out.write_all(raw)?;
            out.write_all(b"}\n")?;
        }
        out.flush()?;
        out.get_ref().sync_all()
    };
    write_all(&mut out).map_err(write_err)?;
    fs::rename(&tmp, path).map_err(write_err)?;
    fsutil::sync_parent(path).map_err(write_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_keeps_objects_and_resource_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.jsonl");
        let store = Store::new();
        let key = ResourceKey::new("", "configmaps");
        store.create(&key, json!({"metadata": {"name": "a", "namespace": "default", "uid": "u1"}})).unwrap();
        store.create(&key, json!({"metadata": {"name": "b", "namespace": "default", "uid": "u2"}})).unwrap();
        save(&path, &store).unwrap();

        let loaded = Store::new();
        load(&path, &loaded).unwrap();
        assert_eq!(loaded.resource_version(), 2);
        let b = loaded.get(&key, &("default".into(), "b".into())).unwrap();
        assert_eq!(b.index.rv, 2);
        assert_eq!(b.index.uid, "u2");
    }

    #[cfg(unix)]
    #[test]
    fn the_state_file_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.jsonl");
        // An older sandbox wrote it world-readable; the next save is private.
        fs::write(&path, "").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        save(&path, &Store::new()).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn corrupt_file_is_reported_with_its_line_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.jsonl");
        let text = "{\"kdeckSandboxState\":1,\"resourceVersion\":3}\n{not json\n";
        fs::write(&path, text).unwrap();
        let err = load(&path, &Store::new()).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
    }

    /// A state file with a header at resourceVersion 10, a valid ConfigMap on line 2 and
    /// `bad` on line 3.
    fn state_with(bad: &str) -> String {
        let good =
            json!({"group": "", "plural": "configmaps", "object": {"metadata": {"name": "good", "namespace": "default", "uid": "u1", "resourceVersion": "4"}}});
        format!("{{\"kdeckSandboxState\":1,\"resourceVersion\":10}}\n{good}\n{bad}\n")
    }

    fn record(group: &str, plural: &str, metadata: Value) -> String {
        json!({"group": group, "plural": plural, "object": {"metadata": metadata}}).to_string()
    }

    #[test]
    fn every_kind_of_corrupt_state_file_is_refused_with_its_line() {
        let meta = |v: Value| -> Value {
            let mut m = json!({"name": "x", "namespace": "default", "uid": "u2", "resourceVersion": "5"});
            for (k, v) in v.as_object().unwrap() {
                if v.is_null() {
                    m.as_object_mut().unwrap().remove(k);
                } else {
                    m[k] = v.clone();
                }
            }
            m
        };
        let cases: Vec<(&str, String, usize, &str)> = vec![
            ("a name with a space", record("", "configmaps", meta(json!({"name": "my config"}))), 3, "metadata.name \"my config\" is invalid"),
            ("an upper-case name", record("", "configmaps", meta(json!({"name": "Config"}))), 3, "metadata.name \"Config\" is invalid"),
            ("a namespaced kind without a namespace", record("", "configmaps", meta(json!({"namespace": null}))), 3, "has no metadata.namespace"),
            ("an invalid namespace", record("", "configmaps", meta(json!({"namespace": "my ns"}))), 3, "metadata.namespace \"my ns\" is invalid"),
            ("a cluster-scoped kind with a namespace", record("", "namespaces", meta(json!({}))), 3, "cluster-scoped"),
            ("an unknown resource", record("", "configmapz", meta(json!({}))), 3, "unknown resource \"configmapz\""),
            ("a custom resource without its definition", record("example.com", "widgets", meta(json!({}))), 3, "unknown resource \"widgets.example.com\""),
            ("a request kind", record("authorization.k8s.io", "selfsubjectaccessreviews", meta(json!({"namespace": null}))), 3, "never stored"),
            ("no uid", record("", "configmaps", meta(json!({"uid": null}))), 3, "no metadata.uid"),
            ("no resourceVersion", record("", "configmaps", meta(json!({"resourceVersion": null}))), 3, "no metadata.resourceVersion"),
            ("a resourceVersion above the header's", record("", "configmaps", meta(json!({"resourceVersion": "11"}))), 3, "above the file's 10"),
            ("a duplicate object", record("", "configmaps", meta(json!({"name": "good"}))), 3, "already on line 2"),
            ("no metadata.name", record("", "configmaps", meta(json!({"name": null}))), 3, "no metadata.name"),
            ("no group and plural", json!({"object": {"metadata": meta(json!({}))}}).to_string(), 3, "no group and plural"),
            ("a line that is not JSON", "{\"group\":\"\",\"plural\":\"configmaps\",\"obj".into(), 3, "EOF"),
        ];
        for (what, bad, line, expected) in &cases {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("state.jsonl");
            fs::write(&path, state_with(bad)).unwrap();
            let store = Store::new();
            let err = load(&path, &store).err().unwrap_or_else(|| panic!("{what}: loaded")).to_string();
            assert!(err.contains(&format!("state.jsonl is corrupt at line {line}:")) && err.contains(expected), "{what}: {err}");
            assert_eq!(fs::read_to_string(&path).unwrap(), state_with(bad), "{what}: the file is left untouched");
            assert_eq!(store.resource_version(), 0, "{what}: nothing half-loaded");
        }
        // The header itself.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.jsonl");
        fs::write(&path, "{\"kdeckSandboxState\":1}\n").unwrap();
        let err = load(&path, &Store::new()).err().unwrap().to_string();
        assert!(err.contains("line 1: the header has no resourceVersion"), "{err}");
        // And a valid file loads.
        fs::write(&path, state_with(&record("", "configmaps", meta(json!({}))))).unwrap();
        let store = Store::new();
        load(&path, &store).unwrap();
        let cms = ResourceKey::new("", "configmaps");
        let names: Vec<String> = store.list(&cms, None, None, |_| true).0.iter().map(|e| e.index.name.clone()).collect();
        assert_eq!(names, ["good", "x"]);
    }
}
