//! Each run's output is also written to `.kdeck/logs/<task>.log` in the project;
//! the previous runs' logs are kept as `<task>.1.log` … `<task>.N.log`.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

/// How many earlier logs of a task are kept besides the newest.
pub const KEEP: usize = 5;

pub fn dir(root: &Path) -> PathBuf {
    root.join(".kdeck").join("logs")
}

/// Rotates the task's logs and opens a fresh one. None when the directory cannot
/// be written (a read-only checkout must not stop the task).
pub fn open(root: &Path, task: &str) -> Option<File> {
    let dir = dir(root);
    fs::create_dir_all(&dir).ok()?;
    let stem = task.replace(['/', '\\'], "_");
    let path = |n: usize| if n == 0 { dir.join(format!("{stem}.log")) } else { dir.join(format!("{stem}.{n}.log")) };
    let _ = fs::remove_file(path(KEEP));
    for n in (0..KEEP).rev() {
        let _ = fs::rename(path(n), path(n + 1));
    }
    // Task output may hold what the task printed of its secrets: the owner's only.
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path(0)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_rotate_and_only_the_last_ones_are_kept() {
        let root = tempfile::tempdir().unwrap();
        for run in 0..(KEEP + 3) {
            use std::io::Write;
            writeln!(open(root.path(), "api:migrate").unwrap(), "run {run}").unwrap();
        }
        let newest = fs::read_to_string(dir(root.path()).join("api:migrate.log")).unwrap();
        assert_eq!(newest, format!("run {}\n", KEEP + 2));
        let oldest = fs::read_to_string(dir(root.path()).join(format!("api:migrate.{KEEP}.log"))).unwrap();
        assert_eq!(oldest, "run 2\n");
        assert_eq!(fs::read_dir(dir(root.path())).unwrap().count(), KEEP + 1);
    }
}
