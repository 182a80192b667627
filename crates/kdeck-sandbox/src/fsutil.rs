//! Files and directories of the data directory are readable by their owner only:
//! the state holds Secrets, the tokens and the server key are credentials.
//!
//! Modes are set when a file or directory is created and tightened when an older
//! one is found (an existing file keeps its mode when it is opened for writing).

use std::fs;
use std::io::Write;
use std::path::Path;

/// Owner read/write: state, journal, tokens, certificates and keys.
pub const FILE_MODE: u32 = 0o600;
/// Owner only: the data directory.
pub const DIR_MODE: u32 = 0o700;

/// Writes `contents` to `path` atomically (temporary file, fsync, rename, fsync of the
/// directory), readable by the owner only.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp-write");
    let mut f = create_private(&tmp)?;
    f.write_all(contents)?;
    f.sync_all()?;
    fs::rename(&tmp, path)?;
    sync_parent(path)
}

/// Creates (or truncates) a file readable by the owner only, whatever mode an earlier
/// file of that name had.
pub fn create_private(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    let file = options.open(path)?;
    restrict(&file, FILE_MODE)?;
    Ok(file)
}

/// Creates `path` (and missing parents) owner-only, and tightens it if it existed.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        fs::DirBuilder::new().recursive(true).mode(DIR_MODE).create(path)?;
        let mode = fs::metadata(path)?.permissions().mode() & 0o777;
        if mode != DIR_MODE {
            fs::set_permissions(path, fs::Permissions::from_mode(DIR_MODE))?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(path)
    }
}

/// Tightens an existing file to owner read/write; a missing file is fine.
pub fn make_private(path: &Path) -> std::io::Result<()> {
    match fs::File::open(path) {
        Ok(file) => restrict(&file, FILE_MODE),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn restrict(file: &fs::File, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if file.metadata()?.permissions().mode() & 0o777 != mode {
            file.set_permissions(fs::Permissions::from_mode(mode))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (file, mode);
    Ok(())
}

/// Makes a rename or a removal in `path`'s directory durable.
pub fn sync_parent(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Removes a file if it is there, making the removal durable.
pub fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => sync_parent(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_and_directories_are_owner_only_even_when_they_existed() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("a/b");
        fs::create_dir_all(&data).unwrap();
        fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).unwrap();
        create_private_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700);

        let file = data.join("state.jsonl");
        fs::write(&file, "old").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&file, b"new").unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(fs::read_to_string(&file).unwrap(), "new");

        let stale = data.join("stale.tmp");
        fs::write(&stale, "x").unwrap();
        fs::set_permissions(&stale, fs::Permissions::from_mode(0o644)).unwrap();
        create_private(&stale).unwrap();
        assert_eq!(mode(&stale), 0o600);
    }
}
