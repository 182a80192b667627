//! kdeck's error type: a message, hints that say what to do next, and the exit code
//! the process ends with. Library modules keep their own error types; the CLI turns
//! them into this.

use std::fmt;

/// Exit codes, documented in the README.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    /// The command failed.
    Failure,
    /// The command line or an input was invalid.
    Usage,
    /// What the command was asked to act on does not exist or matched nothing.
    NotFound,
    /// A wait ran out of time.
    Timeout,
    /// A command run in the cluster (exec, a task) ended with this code; kdeck ends
    /// with it too.
    Remote(u8),
}

impl ExitCode {
    pub fn code(self) -> u8 {
        match self {
            ExitCode::Failure => 1,
            ExitCode::Usage => 2,
            ExitCode::NotFound => 3,
            ExitCode::Timeout => 4,
            ExitCode::Remote(code) => code,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    pub message: String,
    pub hints: Vec<String>,
    pub code: ExitCode,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ExitCode, message: impl Into<String>) -> Self {
        Error { message: message.into(), hints: Vec::new(), code }
    }

    pub fn failure(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Failure, message)
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Usage, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ExitCode::NotFound, message)
    }

    /// Success for 0; otherwise the remote command's exit code, passed on without
    /// a message of kdeck's own.
    pub fn from_remote_exit(code: i32) -> Result<()> {
        match code {
            0 => Ok(()),
            code => Err(Self::new(ExitCode::Remote(u8::try_from(code).unwrap_or(1)), "")),
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for Error {}

impl From<kdeck_sandbox::SandboxError> for Error {
    fn from(e: kdeck_sandbox::SandboxError) -> Self {
        Error::failure(e.to_string())
    }
}
