//! The store on disk: a data directory's state file (the snapshot) and journal.
//!
//! - [`Disk::open`] loads the snapshot, replays the journal after it, and — when a
//!   journal was found, i.e. the last run did not shut down cleanly — writes a new
//!   snapshot holding it all and starts an empty journal.
//! - While serving, every change is journaled (see [`super::journal`]); once the
//!   journal passes its compaction size (the larger of [`COMPACT_MIN`] and the last
//!   snapshot's size, so rewriting the snapshot costs at most as much as the
//!   journal did), it is rotated and a compactor thread writes a new snapshot and
//!   removes the rotated file.
//! - [`Disk::close`] makes the journal durable, writes the last snapshot and
//!   removes the journal: a cleanly stopped sandbox is one state file.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, Weak};

use super::journal::{JOURNAL_FILE, Journal, JournalError, ROTATED_FILE};
use super::persist::{self, PersistError};
use super::{Store, replay};
use crate::fsutil;

pub const STATE_FILE: &str = "state.jsonl";
/// The journal is compacted once it passes this size, or the snapshot's if larger.
pub const COMPACT_MIN: u64 = 16 * 1024 * 1024;
/// After an unclean stop, resourceVersions continue this far above the last durable
/// one. Changes that were not yet durable may have been seen by watchers (reads and
/// watches do not wait for the journal); their versions are never used again, so a
/// client resuming from one gets "410 Gone" and lists again instead of missing
/// changes.
pub const VERSIONS_SKIPPED_AFTER_CRASH: u64 = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    #[error(transparent)]
    State(#[from] PersistError),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

pub struct Disk {
    dir: PathBuf,
    store: Arc<Store>,
    journal: Arc<Journal>,
    compactor: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// One snapshot is written at a time.
    snapshots: Arc<Mutex<()>>,
}

impl Disk {
    /// Loads the data directory `dir` into `store` (which must be empty) and journals
    /// every change made to it from now on.
    pub fn open(dir: &Path, store: &Arc<Store>) -> Result<Disk, DiskError> {
        Self::open_with(dir, store, COMPACT_MIN)
    }

    fn open_with(dir: &Path, store: &Arc<Store>, compact_min: u64) -> Result<Disk, DiskError> {
        let state_path = dir.join(STATE_FILE);
        // A file that is refused is left exactly as it was; one that loads is made private
        // (an older sandbox wrote it world-readable).
        let state = replay::load(dir, STATE_FILE)?;
        for file in [STATE_FILE, JOURNAL_FILE, ROTATED_FILE] {
            let path = dir.join(file);
            fsutil::make_private(&path).map_err(|source| PersistError::Write { path, source })?;
        }
        let rv = if state.journaled { state.rv + VERSIONS_SKIPPED_AFTER_CRASH } else { state.rv };
        store.restore(rv, state.objects);
        if state.journaled {
            // Everything the journal held goes into one snapshot; the journal starts empty.
            persist::save(&state_path, store)?;
            for file in [ROTATED_FILE, JOURNAL_FILE] {
                let path = dir.join(file);
                fsutil::remove_if_present(&path).map_err(|source| PersistError::Write { path, source })?;
            }
        }
        let snapshot_size = std::fs::metadata(&state_path).map(|m| m.len()).unwrap_or(0);
        let (rotations, rotated) = mpsc::channel();
        let journal = Journal::start(dir, rv, compact_min.max(snapshot_size), rotations)?;
        store.attach_journal(journal.clone());
        let snapshots = Arc::new(Mutex::new(()));
        let compactor = Compactor { dir: dir.to_path_buf(), store: Arc::downgrade(store), journal: journal.clone(), snapshots: snapshots.clone(), compact_min };
        let handle = std::thread::Builder::new()
            .name("kdeck-compactor".into())
            .spawn(move || compactor.run(rotated))
            .map_err(|e| JournalError::Write { path: dir.join(JOURNAL_FILE), reason: e.to_string() })?;
        Ok(Disk { dir: dir.to_path_buf(), store: store.clone(), journal, compactor: Mutex::new(Some(handle)), snapshots })
    }

    /// Makes every change durable, writes the snapshot and removes the journal. Changes
    /// made after this are not kept.
    pub fn close(&self) -> Result<(), DiskError> {
        let journaled = self.journal.close();
        if let Some(handle) = lock(&self.compactor).take() {
            let _ = handle.join();
        }
        let _one = lock(&self.snapshots);
        // The snapshot holds everything in memory, so a journal that failed loses nothing
        // as long as this succeeds; if it fails, the journal stays for the next start.
        persist::save(&self.dir.join(STATE_FILE), &self.store)?;
        for file in [ROTATED_FILE, JOURNAL_FILE] {
            let path = self.dir.join(file);
            fsutil::remove_if_present(&path).map_err(|source| PersistError::Write { path, source })?;
        }
        if let Err(e) = journaled {
            eprintln!("kdeck sandbox: {e}; the state file was written with every change");
        }
        Ok(())
    }

    /// Bytes in the current journal file.
    pub fn journal_size(&self) -> u64 {
        self.journal.size()
    }

    /// What `kill -9` leaves: the journal as far as it was written, no snapshot.
    #[cfg(test)]
    fn crash(&self) {
        let _ = self.journal.close();
        if let Some(handle) = lock(&self.compactor).take() {
            let _ = handle.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

struct Compactor {
    dir: PathBuf,
    store: Weak<Store>,
    journal: Arc<Journal>,
    snapshots: Arc<Mutex<()>>,
    compact_min: u64,
}

impl Compactor {
    /// Each message is a rotation: the rotated file holds changes up to that version,
    /// and the store holds at least those. The channel closes with the journal.
    fn run(self, rotations: mpsc::Receiver<u64>) {
        while rotations.recv().is_ok() {
            let Some(store) = self.store.upgrade() else { return };
            let _one = lock(&self.snapshots);
            let rotated = self.dir.join(ROTATED_FILE);
            let compacted = persist::save(&self.dir.join(STATE_FILE), &store)
                .and_then(|size| fsutil::remove_if_present(&rotated).map(|()| size).map_err(|source| PersistError::Write { path: rotated, source }));
            match compacted {
                Ok(size) => {
                    self.journal.set_compact_at(self.compact_min.max(size));
                    self.journal.compacted();
                }
                // The rotated file stays (replay reads it), and no further rotation comes:
                // the journal grows until the snapshot at shutdown.
                Err(e) => eprintln!("kdeck sandbox: compacting the journal failed: {e}"),
            }
        }
    }
}

#[cfg(test)]
#[path = "disk_tests.rs"]
mod tests;
