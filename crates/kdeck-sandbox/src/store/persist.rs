//! The state file: one header line, then one JSON line per object, written to a
//! temporary file (owner-only: the state holds Secrets), fsynced and renamed into
//! place so a crash never leaves half a file.
//!
//! A file that does not parse is reported with its line number and left untouched:
//! the user's objects are worth more than a fresh start.

use std::fs;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Store;
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

/// Loads `path` into `store`. A missing file is an empty sandbox.
pub fn load(path: &Path, store: &Store) -> Result<(), PersistError> {
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
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
    for (i, line) in lines.enumerate() {
        let n = i + 2;
        let line = line.map_err(|e| corrupt(n, e.to_string()))?;
        let mut record: Value = serde_json::from_str(&line).map_err(|e| corrupt(n, e.to_string()))?;
        let (Some(group), Some(plural)) = (record["group"].as_str(), record["plural"].as_str()) else {
            return Err(corrupt(n, "the record has no group and plural".into()));
        };
        let key = ResourceKey::new(group, plural);
        let object = record["object"].take();
        if !object["metadata"]["name"].is_string() {
            return Err(corrupt(n, "the object has no metadata.name".into()));
        }
        objects.push((key, object));
    }
    store.restore(rv, objects);
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
}
