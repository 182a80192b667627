//! The journal: every change to the store, appended as one JSON line in
//! resourceVersion order, and made durable by one committer thread with group commit.
//!
//! The store appends a record while it holds its write lock, so records are in
//! resourceVersion order and none is missing. Appending only copies bytes into a
//! buffer. A commit takes everything buffered, writes it and fsyncs once, then
//! publishes the highest resourceVersion now durable; a writer answers once its
//! version is published ([`Journal::wait`]).
//!
//! Who commits: a writer alone waiting for its record commits it itself, on its
//! own thread (no hand-off between threads: measured with `kdeck-bench create`,
//! handing each commit to a thread and back cost about as much again as the
//! fsync). When several wait, the committer thread commits for all of them at
//! once, so the runtime's workers go on serving meanwhile. While one fsync runs,
//! the next writes gather in the buffer, so the next fsync covers every write that
//! arrived meanwhile: the batching window is the fsync itself. Records nobody
//! waits for (a controller's changes) are committed by the committer thread,
//! [`BACKSTOP_AFTER`] after they were buffered if no writer did it first.
//! Reads and watches never wait for the disk.
//!
//! Records:
//! `{"rv":N,"op":"put","group":G,"plural":P,"object":{…}}` (a create or an update) and
//! `{"rv":N,"op":"delete","group":G,"plural":P,"namespace":NS,"name":NAME}`.
//!
//! The file is extended ahead of the writes (by [`PREALLOCATE`], zeros), so an fsync
//! after a write flushes data only, not the file's size as well — a noticeably
//! cheaper fsync on ext4. The journal's content ends at its first NUL byte.
//!
//! When the journal passes its compaction size, the committer rotates it (the file
//! becomes [`ROTATED_FILE`], a new [`JOURNAL_FILE`] starts) and hands the rotation
//! to the compactor (see `disk.rs`), which writes a snapshot and removes the rotated
//! file. Replay skips records the snapshot already holds.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;

use super::ObjectName;
use crate::fsutil;
use crate::resources::ResourceKey;

/// The journal being appended to.
pub const JOURNAL_FILE: &str = "journal.jsonl";
/// A journal rotated out for compaction; gone once the snapshot holds it.
pub const ROTATED_FILE: &str = "journal.1.jsonl";

/// How far ahead of the writes the file is extended.
pub const PREALLOCATE: u64 = 4 * 1024 * 1024;
/// After a failed write, how long before the committer tries again.
const RETRY_AFTER: Duration = Duration::from_millis(200);
/// How long the committer thread leaves buffered records to the writers waiting for
/// them before it commits them itself.
pub const BACKSTOP_AFTER: Duration = Duration::from_millis(2);
/// At shutdown, how often a failing write is tried before giving up.
const CLOSING_ATTEMPTS: usize = 3;

#[derive(Clone, Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot write the journal {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("the sandbox is shutting down; the change was not journaled")]
    Closed,
}

/// What is durable.
#[derive(Clone, Debug, Default)]
struct Durable {
    rv: u64,
    /// The last write failed with this; cleared by the next commit that succeeds.
    error: Option<Arc<str>>,
    closed: bool,
}

#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    /// resourceVersion of the last record appended.
    last_rv: u64,
    /// When the oldest record in `buf` was appended (None while `buf` is empty).
    since: Option<Instant>,
    closing: bool,
}

/// What one commit did.
enum Outcome {
    Nothing,
    Committed(u64),
    Failed(Arc<str>),
}

/// The file: the committer's, and at the end `close`'s.
struct Writer {
    /// None once the journal is closed.
    file: Option<File>,
    /// The file's length: written bytes, then zeros up to here (`u64::MAX` where the
    /// filesystem cannot preallocate).
    allocated: u64,
    /// Where rotations go; dropped at close, which ends the compactor.
    rotations: Option<mpsc::Sender<u64>>,
}

pub struct Journal {
    dir: PathBuf,
    pending: Mutex<Pending>,
    /// Wakes the committer when the buffer stops being empty.
    wake: Condvar,
    writer: Mutex<Writer>,
    durable: watch::Sender<Durable>,
    /// Bytes in the current journal file.
    size: AtomicU64,
    /// fsyncs done (each covers a batch of records).
    commits: AtomicU64,
    /// The size past which the journal is rotated for compaction.
    compact_at: AtomicU64,
    /// A rotated file waits for its compaction; no second rotation until it is done.
    rotated: AtomicBool,
    committer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Writers waiting for their records ([`Journal::wait`]).
    waiting: AtomicUsize,
}

/// One writer counted in [`Journal::waiting`] while it waits.
struct Waiting<'j>(&'j Journal);

impl<'j> Waiting<'j> {
    fn enter(journal: &'j Journal) -> Self {
        journal.waiting.fetch_add(1, Ordering::AcqRel);
        Waiting(journal)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Journal {
    /// Starts an empty journal in `dir` after resourceVersion `rv` (the caller has put
    /// everything an older journal held into the snapshot). Rotations are sent to
    /// `rotations` with the last resourceVersion of the rotated file.
    pub fn start(dir: &Path, rv: u64, compact_at: u64, rotations: mpsc::Sender<u64>) -> Result<Arc<Journal>, JournalError> {
        let path = dir.join(JOURNAL_FILE);
        let file = fsutil::remove_if_present(&path)
            .and_then(|()| fsutil::create_private(&path))
            .and_then(|f| fsutil::sync_parent(&path).map(|()| f))
            .map_err(|e| write_error(&path, &e))?;
        let journal = Arc::new(Journal {
            dir: dir.to_path_buf(),
            pending: Mutex::new(Pending { last_rv: rv, ..Pending::default() }),
            wake: Condvar::new(),
            writer: Mutex::new(Writer { file: Some(file), allocated: 0, rotations: Some(rotations) }),
            durable: watch::Sender::new(Durable { rv, ..Durable::default() }),
            size: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            compact_at: AtomicU64::new(compact_at),
            rotated: AtomicBool::new(dir.join(ROTATED_FILE).exists()),
            committer: Mutex::new(None),
            waiting: AtomicUsize::new(0),
        });
        let committer = journal.clone();
        let handle = std::thread::Builder::new().name("kdeck-journal".into()).spawn(move || committer.run()).map_err(|e| write_error(&path, &e))?;
        *lock(&journal.committer) = Some(handle);
        Ok(journal)
    }

    /// Appends a put (create or update) of `raw`, the object at `rv`.
    pub fn put(&self, rv: u64, key: &ResourceKey, raw: &[u8]) {
        self.append(rv, |buf| {
            record_head(buf, rv, "put", key);
            buf.extend_from_slice(b",\"object\":");
            buf.extend_from_slice(raw);
        });
    }

    /// Appends the deletion, at `rv`, of the object `name`.
    pub fn delete(&self, rv: u64, key: &ResourceKey, name: &ObjectName) {
        self.append(rv, |buf| {
            record_head(buf, rv, "delete", key);
            buf.extend_from_slice(b",\"namespace\":");
            json_string(buf, &name.0);
            buf.extend_from_slice(b",\"name\":");
            json_string(buf, &name.1);
        });
    }

    fn append(&self, rv: u64, write: impl FnOnce(&mut Vec<u8>)) {
        let mut pending = lock(&self.pending);
        if pending.closing {
            return;
        }
        let was_empty = pending.buf.is_empty();
        if was_empty {
            pending.since = Some(Instant::now());
        }
        write(&mut pending.buf);
        pending.buf.extend_from_slice(b"}\n");
        pending.last_rv = rv;
        drop(pending);
        if was_empty {
            self.wake.notify_one();
        }
    }

    /// Waits until every change up to `rv` is durable.
    pub async fn wait(&self, rv: u64) -> Result<(), JournalError> {
        let mut rx = self.durable.subscribe();
        loop {
            {
                let state = rx.borrow_and_update();
                if state.rv >= rv {
                    return Ok(());
                } else if let Some(reason) = &state.error {
                    return Err(JournalError::Write { path: self.dir.join(JOURNAL_FILE), reason: reason.to_string() });
                } else if state.closed {
                    return Err(JournalError::Closed);
                }
            }
            // Not durable yet. Alone, commit it here; with others waiting too, the
            // committer thread commits for all while the runtime's workers go on
            // serving. Either way, wait for the commit under way to publish.
            let _waiting = Waiting::enter(self);
            if self.waiting.load(Ordering::Acquire) > 1 {
                self.nudge();
            } else if self.lead() {
                continue;
            }
            rx.changed().await.map_err(|_| JournalError::Closed)?;
        }
    }

    /// Wakes the committer thread to commit now, for the writers waiting.
    fn nudge(&self) {
        // Under the lock, so the committer is either before its check or waiting.
        drop(lock(&self.pending));
        self.wake.notify_one();
    }

    /// Commits what is buffered on the caller's thread, unless a commit is under way.
    /// True if it committed (and published). The fsync holds this runtime worker for
    /// its length; the other workers take its queued tasks meanwhile.
    fn lead(&self) -> bool {
        let Ok(mut writer) = self.writer.try_lock() else { return false };
        if writer.file.is_none() {
            return false;
        }
        let commit = move || {
            let outcome = self.write_batch(&mut writer);
            drop(writer);
            self.publish(outcome);
        };
        commit();
        true
    }

    /// The highest resourceVersion that is durable.
    pub fn durable_rv(&self) -> u64 {
        self.durable.borrow().rv
    }

    /// Bytes in the current journal file.
    pub fn size(&self) -> u64 {
        self.size.load(Ordering::Acquire)
    }

    /// How many fsyncs the journal did.
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Acquire)
    }

    /// Sets the size past which the journal is rotated for compaction.
    pub fn set_compact_at(&self, bytes: u64) {
        self.compact_at.store(bytes, Ordering::Release);
    }

    /// Called once a rotated file is in a snapshot and removed: the next rotation may come.
    pub fn compacted(&self) {
        self.rotated.store(false, Ordering::Release);
    }

    /// Commits what is buffered and refuses further records. Returns the last durable
    /// resourceVersion, or the error that kept the last writes out.
    pub fn close(&self) -> Result<u64, JournalError> {
        lock(&self.pending).closing = true;
        self.wake.notify_one();
        if let Some(handle) = lock(&self.committer).take() {
            let _ = handle.join();
        }
        let mut writer = lock(&self.writer);
        let mut outcome = Outcome::Nothing;
        for _ in 0..CLOSING_ATTEMPTS {
            outcome = self.write_batch(&mut writer);
            if !matches!(outcome, Outcome::Failed(_)) {
                break;
            }
            std::thread::sleep(RETRY_AFTER);
        }
        writer.file = None;
        writer.rotations = None;
        drop(writer);
        self.publish(outcome);
        self.durable.send_modify(|d| d.closed = true);
        let state = self.durable.borrow().clone();
        match state.error {
            Some(reason) => Err(JournalError::Write { path: self.dir.join(JOURNAL_FILE), reason: reason.to_string() }),
            None => Ok(state.rv),
        }
    }

    /// The committer thread: commits what stays buffered [`BACKSTOP_AFTER`] after it
    /// was appended (the writers waiting for their records commit them sooner).
    fn run(&self) {
        loop {
            {
                let mut pending = lock(&self.pending);
                loop {
                    if pending.closing {
                        // `close` commits the rest.
                        return;
                    }
                    let Some(since) = pending.since else {
                        pending = self.wake.wait(pending).unwrap_or_else(|p| p.into_inner());
                        continue;
                    };
                    if self.waiting.load(Ordering::Acquire) > 1 {
                        break;
                    }
                    let left = BACKSTOP_AFTER.saturating_sub(since.elapsed());
                    if left.is_zero() {
                        break;
                    }
                    pending = self.wake.wait_timeout(pending, left).unwrap_or_else(|p| p.into_inner()).0;
                }
            }
            let outcome = self.write_batch(&mut lock(&self.writer));
            if !self.publish(outcome) {
                std::thread::sleep(RETRY_AFTER);
            }
        }
    }

    /// Tells the waiters what a commit did. False if it failed.
    fn publish(&self, outcome: Outcome) -> bool {
        match outcome {
            Outcome::Nothing => true,
            Outcome::Committed(rv) => {
                self.durable.send_modify(|d| {
                    d.rv = d.rv.max(rv);
                    d.error = None;
                });
                true
            }
            Outcome::Failed(reason) => {
                self.durable.send_modify(|d| d.error = Some(reason));
                false
            }
        }
    }

    /// Writes and fsyncs everything buffered; a failed write leaves the records
    /// buffered for the next try.
    fn write_batch(&self, writer: &mut Writer) -> Outcome {
        let (buf, rv) = {
            let mut pending = lock(&self.pending);
            pending.since = None;
            (std::mem::take(&mut pending.buf), pending.last_rv)
        };
        if buf.is_empty() {
            return Outcome::Nothing;
        }
        let path = self.dir.join(JOURNAL_FILE);
        let offset = self.size();
        let end = offset + buf.len() as u64;
        let written = match writer.file.as_mut() {
            Some(file) => {
                if end > writer.allocated {
                    writer.allocated = if preallocate(file, end + PREALLOCATE).is_ok() { end + PREALLOCATE } else { u64::MAX };
                }
                write_and_sync(file, &buf, offset).inspect_err(|_| {
                    // Drop whatever part was written; the records are written again later.
                    let _ = file.set_len(offset);
                    writer.allocated = offset;
                })
            }
            None => Err(std::io::Error::other("the journal is closed")),
        };
        if let Err(e) = written {
            let reason: Arc<str> = e.to_string().into();
            eprintln!("kdeck sandbox: cannot write the journal {}: {reason}", path.display());
            let mut pending = lock(&self.pending);
            let mut again = buf;
            again.extend_from_slice(&pending.buf);
            pending.buf = again;
            pending.since = Some(Instant::now());
            return Outcome::Failed(reason);
        }
        self.size.fetch_add(buf.len() as u64, Ordering::AcqRel);
        self.commits.fetch_add(1, Ordering::AcqRel);
        if self.size() >= self.compact_at.load(Ordering::Acquire) && !self.rotated.load(Ordering::Acquire) {
            match self.rotate() {
                Ok(next) => {
                    writer.file = Some(next);
                    writer.allocated = 0;
                    self.size.store(0, Ordering::Release);
                    self.rotated.store(true, Ordering::Release);
                    if let Some(rotations) = &writer.rotations {
                        let _ = rotations.send(rv);
                    }
                }
                Err(e) => {
                    eprintln!("kdeck sandbox: cannot rotate the journal {} for compaction: {e}", path.display());
                    // Try again once it has grown by as much again.
                    self.compact_at.fetch_add(self.compact_at.load(Ordering::Acquire).max(1), Ordering::AcqRel);
                }
            }
        }
        Outcome::Committed(rv)
    }

    /// Renames the journal (everything in it is durable) to [`ROTATED_FILE`] and
    /// starts a new one. On failure the old name is restored and writing goes on there.
    fn rotate(&self) -> std::io::Result<File> {
        let (current, rotated) = (self.dir.join(JOURNAL_FILE), self.dir.join(ROTATED_FILE));
        std::fs::rename(&current, &rotated)?;
        let next = fsutil::create_private(&current).and_then(|f| fsutil::sync_parent(&current).map(|()| f));
        if next.is_err() {
            let _ = std::fs::rename(&rotated, &current);
        }
        next
    }
}

fn write_and_sync(file: &mut File, buf: &[u8], offset: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    file.write_all_at(buf, offset)?;
    file.sync_data()
}

/// Extends `file` to `len` bytes of allocated zeros. Where the filesystem cannot,
/// writes simply extend the file.
fn preallocate(file: &File, len: u64) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let len = libc::off_t::try_from(len).map_err(std::io::Error::other)?;
        // SAFETY: fallocate on a file descriptor this File owns; no memory is passed.
        if unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (file, len);
        Err(std::io::Error::other("not supported"))
    }
}

/// The journal's content: up to its first NUL byte (the preallocated rest is zeros).
pub fn content(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len())]
}

fn write_error(path: &Path, e: &std::io::Error) -> JournalError {
    JournalError::Write { path: path.to_path_buf(), reason: e.to_string() }
}

fn record_head(buf: &mut Vec<u8>, rv: u64, op: &str, key: &ResourceKey) {
    buf.extend_from_slice(b"{\"rv\":");
    buf.extend_from_slice(rv.to_string().as_bytes());
    buf.extend_from_slice(b",\"op\":\"");
    buf.extend_from_slice(op.as_bytes());
    buf.extend_from_slice(b"\",\"group\":");
    json_string(buf, &key.group);
    buf.extend_from_slice(b",\"plural\":");
    json_string(buf, &key.plural);
}

fn json_string(buf: &mut Vec<u8>, s: &str) {
    // Serializing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, s);
}

/// One record read back from a journal file.
#[derive(Debug)]
pub enum Record {
    Put { rv: u64, key: ResourceKey, object: Value },
    Delete { rv: u64, key: ResourceKey, name: ObjectName },
}

impl Record {
    pub fn rv(&self) -> u64 {
        match self {
            Record::Put { rv, .. } | Record::Delete { rv, .. } => *rv,
        }
    }

    /// Parses one line; the error says what is wrong with it.
    pub fn parse(line: &[u8]) -> Result<Record, String> {
        let mut v: Value = serde_json::from_slice(line).map_err(|e| format!("not a JSON record: {e}"))?;
        let rv = v["rv"].as_u64().filter(|&rv| rv > 0).ok_or("the record has no resourceVersion (rv)")?;
        let (Some(group), Some(plural)) = (v["group"].as_str(), v["plural"].as_str()) else {
            return Err("the record has no group and plural".into());
        };
        let key = ResourceKey::new(group, plural);
        match v["op"].as_str() {
            Some("put") => {
                let object = v["object"].take();
                if !object.is_object() {
                    return Err("the put record has no object".into());
                }
                Ok(Record::Put { rv, key, object })
            }
            Some("delete") => {
                let (Some(ns), Some(name)) = (v["namespace"].as_str(), v["name"].as_str()) else {
                    return Err("the delete record has no namespace and name".into());
                };
                Ok(Record::Delete { rv, key, name: (ns.to_string(), name.to_string()) })
            }
            _ => Err("the record's op is neither put nor delete".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal(dir: &Path, compact_at: u64) -> (Arc<Journal>, mpsc::Receiver<u64>) {
        let (tx, rx) = mpsc::channel();
        (Journal::start(dir, 0, compact_at, tx).unwrap(), rx)
    }

    fn lines(path: &Path) -> Vec<Record> {
        content(&std::fs::read(path).unwrap()).split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(|l| Record::parse(l).unwrap()).collect()
    }

    #[test]
    fn records_round_trip_with_awkward_names() {
        let dir = tempfile::tempdir().unwrap();
        let (j, _rx) = journal(dir.path(), u64::MAX);
        let key = ResourceKey::new("example.com", "widgets");
        j.put(1, &key, br#"{"metadata":{"name":"a\"b","namespace":"d"}}"#);
        j.delete(2, &key, &("d".into(), "a\"b\n".into()));
        assert_eq!(j.close().unwrap(), 2);
        let records = lines(&dir.path().join(JOURNAL_FILE));
        assert!(matches!(&records[0], Record::Put { rv: 1, key: k, object } if *k == key && object["metadata"]["name"] == "a\"b"));
        assert!(matches!(&records[1], Record::Delete { rv: 2, name, .. } if name.1 == "a\"b\n"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_fsyncs_and_are_durable_when_awaited() {
        let dir = tempfile::tempdir().unwrap();
        let (j, _rx) = journal(dir.path(), u64::MAX);
        let key = ResourceKey::new("", "configmaps");
        let appended = Arc::new(Mutex::new(0u64));
        let mut tasks = Vec::new();
        for _ in 0..32 {
            let (j, key, appended) = (j.clone(), key.clone(), appended.clone());
            tasks.push(tokio::spawn(async move {
                for _ in 0..20 {
                    // As the store does: the version is taken and appended under one lock.
                    let rv = {
                        let mut last = lock(&appended);
                        *last += 1;
                        j.put(*last, &key, b"{}");
                        *last
                    };
                    j.wait(rv).await.unwrap();
                    assert!(j.durable_rv() >= rv);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(j.close().unwrap(), 640);
        assert!(j.commits() < 640 / 2, "one fsync covers the writes that arrived meanwhile: {} fsyncs for 640 writes", j.commits());
        let rvs: Vec<u64> = lines(&dir.path().join(JOURNAL_FILE)).iter().map(Record::rv).collect();
        assert_eq!(rvs, (1..=640).collect::<Vec<_>>(), "every record, in resourceVersion order");
    }

    #[test]
    fn records_nobody_waits_for_are_committed_by_the_backstop() {
        let dir = tempfile::tempdir().unwrap();
        let (j, _rx) = journal(dir.path(), u64::MAX);
        let key = ResourceKey::new("", "configmaps");
        j.put(1, &key, b"{}");
        j.put(2, &key, b"{}");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while j.durable_rv() < 2 {
            assert!(std::time::Instant::now() < deadline, "records nobody waited for were never committed");
            std::thread::sleep(BACKSTOP_AFTER);
        }
        assert_eq!(j.commits(), 1, "one commit for both");
        assert_eq!(lines(&dir.path().join(JOURNAL_FILE)).len(), 2);
    }

    #[test]
    fn passing_the_compaction_size_rotates_the_journal_once_until_compacted() {
        let dir = tempfile::tempdir().unwrap();
        let (j, rx) = journal(dir.path(), 100);
        let key = ResourceKey::new("", "configmaps");
        let payload = format!("{{\"data\":\"{}\"}}", "x".repeat(200));
        j.put(1, &key, payload.as_bytes());
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 1);
        j.put(2, &key, payload.as_bytes());
        j.put(3, &key, payload.as_bytes());
        std::thread::sleep(Duration::from_millis(50));
        assert!(rx.try_recv().is_err(), "no second rotation while the first waits for its compaction");
        j.compacted();
        j.put(4, &key, payload.as_bytes());
        let rotated_at = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(rotated_at >= 4);
        j.close().unwrap();
        // The rotated file holds everything up to the rotation; the new journal is empty.
        let rvs: Vec<u64> = lines(&dir.path().join(ROTATED_FILE)).iter().map(Record::rv).collect();
        assert_eq!(rvs, [2, 3, 4], "the first rotated file was replaced by the second");
        assert!(lines(&dir.path().join(JOURNAL_FILE)).is_empty());
    }

    #[tokio::test]
    async fn records_appended_after_close_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (j, _rx) = journal(dir.path(), u64::MAX);
        let key = ResourceKey::new("", "configmaps");
        j.put(1, &key, b"{}");
        assert_eq!(j.close().unwrap(), 1);
        j.put(2, &key, b"{}");
        assert!(matches!(j.wait(2).await, Err(JournalError::Closed)));
        assert!(j.wait(1).await.is_ok());
    }
}
