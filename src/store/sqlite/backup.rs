//! Online backup, snapshot copies and integrity checks of database files.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::migrate;
use super::{db_err, open_connection};
use crate::store::{Result, StoreError};

/// Copies the live database at `src` to `dest` with SQLite's online backup.
/// All pages are copied in one step on a read snapshot, so concurrent writers
/// (even in another process) neither block nor tear the copy.
pub fn backup_file(src: &Path, dest: &Path) -> Result<()> {
    let source = open_connection(src, false)
        .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", src.display())))?;
    copy_database(&source, dest)
}

/// Like [`backup_file`] on a read-only connection: `src` is not written at
/// all (a read-write connection that closes last checkpoints the WAL into
/// the file), for copies that must leave it byte for byte as it was.
pub fn snapshot_read_only(src: &Path, dest: &Path) -> Result<()> {
    let source = open_connection(src, true)
        .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", src.display())))?;
    copy_database(&source, dest)
}

/// Copies a backup file (opened immutable, so it is never modified) to `dest`.
pub fn copy_snapshot(src: &Path, dest: &Path) -> Result<()> {
    copy_database(&open_snapshot(src)?, dest)
}

/// Writes `source` to a temporary file, checks it, then gives it its name.
/// The copy is a single self-contained file (rollback journal, not WAL).
fn copy_database(source: &Connection, dest: &Path) -> Result<()> {
    let partial = dest.with_extension("partial");
    let _ = std::fs::remove_file(&partial);
    let copied = (|| {
        crate::files::private_file(&partial)
            .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", partial.display())))?;
        let mut target = Connection::open(&partial)
            .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", partial.display())))?;
        rusqlite::backup::Backup::new(source, &mut target)
            .and_then(|b| b.run_to_completion(std::os::raw::c_int::MAX, std::time::Duration::ZERO, None))
            .map_err(db_err)?;
        target.pragma_update(None, "journal_mode", "DELETE").map_err(db_err)?;
        drop(target);
        verify_file(&partial)
    })();
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    std::fs::rename(&partial, dest)
        .map_err(|e| StoreError::Unavailable(format!("cannot write {}: {e}", dest.display())))
}

/// Opens a database file read-only without locks or side files.
fn open_snapshot(path: &Path) -> Result<Connection> {
    let absolute = std::fs::canonicalize(path)
        .map_err(|e| StoreError::Invalid(format!("cannot open {}: {e}", path.display())))?;
    let uri = url::Url::from_file_path(&absolute)
        .map_err(|()| StoreError::Invalid(format!("cannot open {}", path.display())))?;
    Connection::open_with_flags(
        format!("{uri}?immutable=1"),
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(|e| StoreError::Invalid(format!("cannot open {}: {e}", path.display())))
}

/// Checks that `path` is an intact frontdesk database this binary can use.
/// Returns its schema version.
pub fn verify_file(path: &Path) -> Result<u32> {
    let conn = open_snapshot(path)?;
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| StoreError::Invalid(format!("{} is not a SQLite database: {e}", path.display())))?;
    if integrity != "ok" {
        return Err(StoreError::Invalid(format!(
            "{} failed the integrity check: {integrity}",
            path.display()
        )));
    }
    let version = migrate::current(&conn)
        .map_err(|e| StoreError::Invalid(format!("{} is not a frontdesk database: {e}", path.display())))?;
    if version == 0 {
        return Err(StoreError::Invalid(format!("{} is not a frontdesk database", path.display())));
    }
    if version > migrate::latest() {
        return Err(StoreError::TooNew { database: version, binary: migrate::latest() });
    }
    Ok(version)
}
