//! A project directory (`kdeck.yaml` and its files) whose kdeck commands run in a
//! test sandbox's environment: the stack tests' common ground.

use std::path::PathBuf;
use std::process::{Command, Output};

use super::TestSandbox;

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// A project directory with `kdeck.yaml` and files, run in `home`'s environment.
pub struct Project<'a> {
    pub home: &'a TestSandbox,
    pub dir: PathBuf,
}

impl<'a> Project<'a> {
    /// The project in `home`'s directory, with `files` (path, text) written.
    pub fn new(home: &'a TestSandbox, files: &[(&str, &str)]) -> Self {
        let dir = home.dir.path().join("project");
        std::fs::create_dir_all(&dir).unwrap();
        // Canonical: kdeck hands tools absolute, symlink-free paths.
        let dir = std::fs::canonicalize(dir).unwrap();
        let project = Project { home, dir };
        for (path, text) in files {
            project.write(path, text);
        }
        project
    }

    pub fn write(&self, path: &str, text: &str) {
        let file = self.dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }

    pub fn remove(&self, path: &str) {
        std::fs::remove_file(self.dir.join(path)).unwrap();
    }

    /// `kdeck ARGS` in the project directory, stdin closed, not yet run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.home.kdeck();
        cmd.current_dir(&self.dir).args(args).stdin(std::process::Stdio::null());
        cmd
    }

    pub fn kdeck(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }
}
