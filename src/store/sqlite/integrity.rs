//! Is the database we write the one on disk? An open SQLite handle keeps
//! working on a file that was deleted (its data directory removed) or
//! replaced, and a read-only file opens without complaint: in both cases
//! writes would be acknowledged and then lost, or fail with SQLite's own
//! words. These checks run at start, in `/health` and before every write.

use std::path::Path;

use crate::store::{Result, StoreError};

/// Device and inode of a file: which file a path names right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    pub fn of(path: &Path) -> Option<FileId> {
        let meta = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Some(FileId { dev: meta.dev(), ino: meta.ino() })
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            Some(FileId { dev: 0, ino: 0 })
        }
    }
}

/// Err unless `path` is still the file `opened` names and the connection
/// that writes it was not opened read-only (`read_only`, fixed for its life).
pub fn check(path: &Path, opened: Option<FileId>, read_only: bool) -> Result<()> {
    match FileId::of(path) {
        None => {
            return Err(StoreError::Unavailable(format!(
                "the database file {} is gone (was the data directory removed?); nothing can be saved until \
                 frontdesk is restarted with its data",
                path.display()
            )))
        }
        Some(now) if opened.is_some_and(|o| o != now) => {
            return Err(StoreError::Unavailable(format!(
                "the database file {} was replaced while frontdesk had it open; restart frontdesk",
                path.display()
            )))
        }
        Some(_) => {}
    }
    if read_only {
        return Err(StoreError::Unavailable(format!(
            "the database file {} is read-only: frontdesk needs to write it (check its owner and mode, and \
             that of its directory)",
            path.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_removed_replaced_or_read_only_file_is_not_writable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        std::fs::write(&path, b"x").unwrap();
        let opened = FileId::of(&path);
        assert!(check(&path, opened, false).is_ok());
        assert!(check(&path, opened, true).unwrap_err().to_string().contains("read-only"));
        // Made while the first still exists, so it cannot get the freed inode.
        std::fs::write(dir.path().join("other"), b"y").unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(check(&path, opened, false).unwrap_err().to_string().contains("is gone"));
        std::fs::rename(dir.path().join("other"), &path).unwrap();
        assert!(check(&path, opened, false).unwrap_err().to_string().contains("was replaced"));
    }
}
