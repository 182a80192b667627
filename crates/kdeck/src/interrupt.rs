//! SIGINT, SIGTERM and SIGHUP, for commands that must clean up before they go
//! (a browse pod, a task's Job, a task's processes). Listening replaces the
//! default handlers for the rest of the process, so a command listens once and
//! shares the listener ([`Interrupt`]) with everything it runs.

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::watch;

use crate::error::{Error, ExitCode, Result};

/// The three signals that end a session.
pub struct Signals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl Signals {
    pub fn new() -> Result<Self> {
        let listen = |kind| signal(kind).map_err(|e| Error::failure(format!("cannot listen for signals: {e}")));
        Ok(Signals { interrupt: listen(SignalKind::interrupt())?, terminate: listen(SignalKind::terminate())?, hangup: listen(SignalKind::hangup())? })
    }

    /// Waits for the next signal; returns the exit code it stands for (128 + its number).
    pub async fn next(&mut self) -> u8 {
        tokio::select! {
            _ = self.interrupt.recv() => 130,
            _ = self.terminate.recv() => 143,
            _ = self.hangup.recv() => 129,
        }
    }
}

/// A cloneable view of [`Signals`]: every clone sees the first signal.
#[derive(Clone)]
pub struct Interrupt {
    received: watch::Receiver<Option<u8>>,
}

impl Interrupt {
    /// Starts listening (from now on the signals no longer end the process by themselves).
    pub fn listen() -> Result<Self> {
        let mut signals = Signals::new()?;
        let (tx, received) = watch::channel(None);
        tokio::spawn(async move {
            let code = signals.next().await;
            let _ = tx.send(Some(code));
            // Later signals change nothing: the first one is being handled.
            loop {
                signals.next().await;
            }
        });
        Ok(Interrupt { received })
    }

    /// The exit code of the signal received, if one was.
    pub fn received(&self) -> Option<u8> {
        *self.received.borrow()
    }

    /// Waits until a signal arrives; returns its exit code.
    pub async fn wait(&mut self) -> u8 {
        loop {
            if let Some(code) = *self.received.borrow_and_update() {
                return code;
            }
            if self.received.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }

    /// The error a command ends with when interrupted.
    pub fn error(code: u8) -> Error {
        Error::new(ExitCode::Remote(code), "interrupted")
    }
}
