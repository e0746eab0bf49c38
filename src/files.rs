//! Files that hold secrets or customer data (the database and its WAL and
//! SHM, backups, the JWT secret, ACME keys and certificates): the data
//! directory is 0700 and these files 0600, whatever the process umask. The
//! umask can only take bits away, so every path here also sets the mode
//! explicitly after creating.

use std::io::Write;
use std::path::Path;

pub const PRIVATE_DIR: u32 = 0o700;
pub const PRIVATE_FILE: u32 = 0o600;

/// Creates `dir` (and missing parents) and makes the directory itself 0700,
/// tightening one an older version left at 0755.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    create_dir(dir)?;
    set_mode(dir, PRIVATE_DIR)
}

/// Creates `dir` if it is missing, as 0700; an existing directory is left
/// as it is (it may be the operator's, such as a database URL's folder).
pub fn create_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, PRIVATE_DIR);
    builder.create(dir)?;
    set_mode(dir, PRIVATE_DIR)
}

/// Makes sure `path` exists as a 0600 file before another library (SQLite)
/// opens it, and tightens an existing one. SQLite gives its `-wal`, `-shm`
/// and `-journal` files the database file's mode, so those follow.
pub fn private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, PRIVATE_FILE);
    options.open(path)?;
    set_mode(path, PRIVATE_FILE)
}

/// Tightens `path` to 0600 if it exists.
pub fn restrict(path: &Path) -> std::io::Result<()> {
    match std::fs::metadata(path) {
        Ok(_) => set_mode(path, PRIVATE_FILE),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Writes `contents` to `path` as a 0600 file, atomically: a reader sees the
/// old file or the new one, never half of it (certificates are read while
/// being renewed).
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, PRIVATE_FILE);
    let written = (|| {
        let mut file = options.open(&partial)?;
        set_mode(&partial, PRIVATE_FILE)?;
        file.write_all(contents)?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, path)
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn modes_are_exact_and_existing_ones_are_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("a/b");
        private_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700);

        let db = data.join("x.db");
        std::fs::write(&db, b"keep").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        private_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        assert_eq!(std::fs::read(&db).unwrap(), b"keep", "never truncated");

        let secret = data.join("secret");
        write_private(&secret, b"one").unwrap();
        write_private(&secret, b"two").unwrap();
        assert_eq!(mode(&secret), 0o600);
        assert_eq!(std::fs::read(&secret).unwrap(), b"two");
        assert!(!data.join("secret.partial").exists());
    }
}
