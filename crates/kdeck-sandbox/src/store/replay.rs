//! Reading a data directory's objects back: the state file (snapshot), then the
//! journal records after it — the rotated file first, then the current journal —
//! then every object that will be loaded is checked for its resource.
//!
//! The journal's records are consecutive resourceVersions (the store journals every
//! change it numbers), so a missing or repeated record is noticed. The bytes after
//! the last newline of the newest journal are a record cut short by a crash: its
//! change was never acknowledged (a write is answered after its fsync), so it is
//! ignored. Anything else that does not parse is refused with its file and line,
//! and no file is changed.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::journal::{self, JOURNAL_FILE, ROTATED_FILE, Record};
use super::persist::{self, PersistError};
use super::validate::{self, Kinds};
use super::{ObjectName, object_name};
use crate::resources::ResourceKey;

/// What a data directory holds.
pub struct State {
    /// The last resourceVersion the files account for.
    pub rv: u64,
    pub objects: Vec<(ResourceKey, Value)>,
    /// A journal was found: the sandbox did not shut down cleanly.
    pub journaled: bool,
}

/// Where a loaded object was last written: index into the files read, and line.
struct Slot {
    object: Value,
    file: usize,
    line: usize,
}

pub fn load(dir: &Path, state_file: &str) -> Result<State, PersistError> {
    let state_path = dir.join(state_file);
    let mut files = vec![state_path.clone()];
    let mut objects: HashMap<(ResourceKey, ObjectName), Slot> = HashMap::new();
    let mut base = 0;
    if let Some(snapshot) = persist::read(&state_path)? {
        base = snapshot.rv;
        for loaded in snapshot.objects {
            let name = object_name(&loaded.object);
            objects.insert((loaded.key, name), Slot { object: loaded.object, file: 0, line: loaded.line });
        }
    }
    let mut rv = base;
    let mut journaled = false;
    let mut next: Option<u64> = None;
    let segments: Vec<PathBuf> = [ROTATED_FILE, JOURNAL_FILE].iter().map(|f| dir.join(f)).filter(|p| p.exists()).collect();
    for (i, path) in segments.iter().enumerate() {
        let all = fs::read(path).map_err(|source| PersistError::Read { path: path.clone(), source })?;
        journaled = true;
        let corrupt = |line: usize, reason: String| PersistError::Corrupt { path: path.clone(), line, reason };
        let bytes = journal::content(&all);
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let newest = i + 1 == segments.len();
        // Past the content the file holds zeros; in the newest journal, a crash may
        // also have left part of a batch that was never acknowledged.
        if !newest && all[bytes.len()..].iter().any(|&b| b != 0) {
            let line = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
            return Err(corrupt(line, "there is data after the journal's end, and a newer journal follows".into()));
        }
        if complete < bytes.len() && !newest {
            let line = bytes[..complete].iter().filter(|&&b| b == b'\n').count() + 1;
            return Err(corrupt(line, "the record is cut short, and a newer journal follows".into()));
        }
        files.push(path.clone());
        let file = files.len() - 1;
        for (n, line) in bytes[..complete].split_inclusive(|&b| b == b'\n').enumerate() {
            let (n, line) = (n + 1, &line[..line.len() - 1]);
            let record = Record::parse(line).map_err(|reason| corrupt(n, reason))?;
            let at = record.rv();
            match next {
                Some(expected) if at != expected => {
                    return Err(corrupt(n, format!("expected the record of resourceVersion {expected}, found {at}: records are missing or out of order")));
                }
                None if at > base + 1 => {
                    return Err(corrupt(n, format!("the journal starts at resourceVersion {at}, but the state file ends at {base}: records are missing")));
                }
                _ => {}
            }
            next = Some(at + 1);
            if at <= base {
                // Already in the state file.
                continue;
            }
            match record {
                Record::Put { key, object, .. } => {
                    let object_rv = validate::resource_version(&object).map_err(|reason| corrupt(n, reason))?;
                    if object_rv != at {
                        return Err(corrupt(n, format!("the object's resourceVersion {object_rv} differs from the record's {at}")));
                    }
                    let name = object_name(&object);
                    objects.insert((key, name), Slot { object, file, line: n });
                }
                Record::Delete { key, name, .. } => {
                    if objects.remove(&(key.clone(), name.clone())).is_none() {
                        return Err(corrupt(n, format!("the record deletes {} {:?}, which does not exist", key.qualified(), display_name(&name))));
                    }
                }
            }
            rv = at;
        }
    }
    check_objects(&objects, &files)?;
    let objects = objects.into_iter().map(|((key, _), slot)| (key, slot.object)).collect();
    Ok(State { rv, objects, journaled })
}

/// Every object to be loaded must be valid for its resource; the first offender in
/// file order is reported.
fn check_objects(objects: &HashMap<(ResourceKey, ObjectName), Slot>, files: &[PathBuf]) -> Result<(), PersistError> {
    let mut kinds = Kinds::new();
    for ((key, _), slot) in objects {
        kinds.learn(key, &slot.object);
    }
    let mut order: Vec<(&ResourceKey, &Slot)> = objects.iter().map(|((key, _), slot)| (key, slot)).collect();
    order.sort_unstable_by_key(|(_, slot)| (slot.file, slot.line));
    for (key, slot) in order {
        if let Err(reason) = kinds.check(key, &slot.object) {
            return Err(PersistError::Corrupt { path: files[slot.file].clone(), line: slot.line, reason });
        }
    }
    Ok(())
}

fn display_name(name: &ObjectName) -> String {
    if name.0.is_empty() { name.1.clone() } else { format!("{}/{}", name.0, name.1) }
}
