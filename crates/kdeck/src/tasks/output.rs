//! Where a task's output goes: the user's stdout/stderr — as it comes, or line by
//! line with a `[task]` prefix when several tasks run at once — and the task's log
//! file. Every executor writes through this, so all of them prefix and log alike.

use std::io::Write;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One task's output channel; cheap to clone.
#[derive(Clone)]
pub struct Output {
    prefix: Option<String>,
    log: Option<Arc<Mutex<std::fs::File>>>,
}

/// Lines of different tasks must not interleave mid-line.
static TERMINAL: Mutex<()> = Mutex::new(());

impl Output {
    pub fn new(prefix: Option<String>, log: Option<std::fs::File>) -> Self {
        Output { prefix, log: log.map(|f| Arc::new(Mutex::new(f))) }
    }

    /// Writes bytes to the stream (prefixing each complete line when prefixing) and the log.
    fn emit(&self, stream: Stream, bytes: &[u8]) {
        let _serial = TERMINAL.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Box<dyn Write> = match stream {
            Stream::Stdout => Box::new(std::io::stdout().lock()),
            Stream::Stderr => Box::new(std::io::stderr().lock()),
        };
        if let Some(prefix) = &self.prefix {
            let _ = write!(out, "[{prefix}] ");
        }
        let _ = out.write_all(bytes);
        let _ = out.flush();
        self.log_bytes(bytes);
    }

    /// Appends to the task's log only (headers, footers).
    pub fn log_bytes(&self, bytes: &[u8]) {
        if let Some(log) = &self.log {
            let _ = log.lock().unwrap_or_else(|e| e.into_inner()).write_all(bytes);
        }
    }

    /// A line of kdeck's own about the task (to stderr, prefixed like the task's output).
    pub fn note(&self, text: &str) {
        self.emit(Stream::Stderr, format!("{text}\n").as_bytes());
    }

    /// An async writer for one of the task's streams.
    pub fn writer(&self, stream: Stream) -> TaskWriter {
        TaskWriter { output: self.clone(), stream, pending: Vec::new() }
    }
}

/// Writes a task's stream through its [`Output`]: passed on as it comes without a
/// prefix; split into whole lines with one.
pub struct TaskWriter {
    output: Output,
    stream: Stream,
    pending: Vec<u8>,
}

impl TaskWriter {
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        if self.output.prefix.is_none() {
            self.output.emit(self.stream, bytes);
            return;
        }
        self.pending.extend_from_slice(bytes);
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            self.output.emit(self.stream, &line);
        }
    }

    /// Writes what is left of an unfinished last line.
    pub fn finish(&mut self) {
        if !self.pending.is_empty() {
            let mut rest = std::mem::take(&mut self.pending);
            rest.push(b'\n');
            self.output.emit(self.stream, &rest);
        }
    }
}

impl Drop for TaskWriter {
    fn drop(&mut self) {
        self.finish();
    }
}

impl AsyncWrite for TaskWriter {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.get_mut().write_bytes(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.get_mut().finish();
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixed_output_is_split_into_whole_lines_and_logged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.log");
        let output = Output::new(Some("t".into()), Some(std::fs::File::create(&path).unwrap()));
        let mut w = output.writer(Stream::Stdout);
        w.write_bytes(b"a\nb");
        w.write_bytes(b"c\nd");
        drop(w);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nbc\nd\n");
    }
}
