//! The state file (the snapshot): one header line, then one JSON line per object in
//! resourceVersion order, written to a temporary file (owner-only), fsynced and
//! renamed into place so a crash never leaves half a file.
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
/// object may appear twice. (Whether each object is valid for its resource is
/// checked once the journal is replayed: see `replay.rs`.)
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

/// Writes everything in `store` to `path` atomically; returns the file's size.
pub fn save(path: &Path, store: &Store) -> Result<u64, PersistError> {
    let (rv, objects) = store.snapshot();
    let tmp = path.with_extension("tmp");
    let write_err = |source| PersistError::Write { path: path.into(), source };
    let file = fsutil::create_private(&tmp).map_err(write_err)?;
    let mut out = BufWriter::new(file);
    let mut size = 0u64;
    let mut write_all = |out: &mut BufWriter<fs::File>| -> std::io::Result<()> {
        let header = serde_json::json!({"kdeckSandboxState": FORMAT, "resourceVersion": rv}).to_string();
        writeln!(out, "{header}")?;
        size += header.len() as u64 + 1;
        for (key, raw) in &objects {
            let head = format!("{{\"group\":{},\"plural\":{},\"object\":", Value::from(key.group.as_str()), Value::from(key.plural.as_str()));
            out.write_all(head.as_bytes())?;
            out.write_all(raw)?;
            out.write_all(b"}\n")?;
            size += (head.len() + raw.len() + 2) as u64;
        }
        out.flush()?;
        out.get_ref().sync_all()
    };
    write_all(&mut out).map_err(write_err)?;
    fs::rename(&tmp, path).map_err(write_err)?;
    fsutil::sync_parent(path).map_err(write_err)?;
    Ok(size)
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
        let size = save(&path, &store).unwrap();
        assert_eq!(size, fs::metadata(&path).unwrap().len());

        let snapshot = read(&path).unwrap().unwrap();
        assert_eq!(snapshot.rv, 2);
        let names: Vec<_> = snapshot.objects.iter().map(|o| (o.line, o.object["metadata"]["name"].as_str().unwrap())).collect();
        assert_eq!(names, [(2, "a"), (3, "b")]);
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
        let err = read(&path).err().unwrap();
        assert!(err.to_string().contains("line 2"), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
    }
}
