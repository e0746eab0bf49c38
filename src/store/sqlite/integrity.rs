//! Is the database we write the one on disk? An open SQLite handle keeps
//! working on a file that was deleted (its data directory removed) or
//! replaced, and a read-only file opens without complaint: in both cases
//! writes would be acknowledged and then lost, or fail with SQLite's own
//! words. These checks run at start, in `/health` and before every write.

use std::path::Path;

use rusqlite::{Connection, MAIN_DB};

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

/// Err unless `path` is still the file `opened` names and `conn` may write it.
pub fn check(path: &Path, opened: Option<FileId>, conn: &Connection) -> Result<()> {
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
    if conn.is_readonly(MAIN_DB).unwrap_or(true) {
        return Err(StoreError::Unavailable(format!(
            "the database file {} is read-only: frontdesk needs to write it (check its owner and mode, and \
             that of its directory)",
            path.display()
        )));
    }
    Ok(())
}
