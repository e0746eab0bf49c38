//! Schema migrations: numbered SQL files under `schema/sqlite/`, embedded in
//! the binary, applied in order and recorded in `schema_migrations`.

use include_dir::{include_dir, Dir};
use rusqlite::{params, Connection, OptionalExtension};

use crate::store::StoreError;

static SQLITE: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/schema/sqlite");

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub version: u32,
    pub name: String,
    pub sql: &'static str,
}

/// The embedded migrations, sorted by version.
pub fn embedded() -> Vec<Migration> {
    let mut out: Vec<Migration> = SQLITE
        .files()
        .filter_map(|f| {
            let file = f.path().file_name()?.to_str()?;
            let stem = file.strip_suffix(".sql")?;
            let (num, name) = stem.split_once('_')?;
            Some(Migration { version: num.parse().ok()?, name: name.to_string(), sql: f.contents_utf8()? })
        })
        .collect();
    out.sort_by_key(|m| m.version);
    out
}

pub fn latest() -> u32 {
    embedded().last().map_or(0, |m| m.version)
}

fn sql_err(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// The highest applied version, 0 for an empty database.
pub fn current(conn: &Connection) -> Result<u32, StoreError> {
    let exists: Option<String> = conn
        .query_row(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(sql_err)?;
    if exists.is_none() {
        return Ok(0);
    }
    conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| r.get(0))
        .map_err(sql_err)
}

/// Applies every pending migration; returns the ones applied.
/// Refuses a database written by a newer frontdesk.
pub fn run(conn: &mut Connection) -> Result<Vec<Migration>, StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )
    .map_err(sql_err)?;
    let have = current(conn)?;
    let binary = latest();
    if have > binary {
        return Err(StoreError::TooNew { database: have, binary });
    }
    let mut applied = Vec::new();
    for m in embedded().into_iter().filter(|m| m.version > have) {
        let tx = conn.transaction().map_err(sql_err)?;
        tx.execute_batch(m.sql).map_err(|e| {
            StoreError::Unavailable(format!("migration {} ({}) failed: {e}", m.version, m.name))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            params![m.version, m.name, crate::domain::now()],
        )
        .map_err(sql_err)?;
        tx.commit().map_err(sql_err)?;
        tracing::info!(version = m.version, name = %m.name, "applied migration");
        applied.push(m);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn migrations_apply_once_and_newer_databases_are_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        let first = run(&mut conn).unwrap();
        assert_eq!(first.len(), embedded().len());
        assert!(run(&mut conn).unwrap().is_empty());
        assert_eq!(current(&conn).unwrap(), latest());
        conn.execute("INSERT INTO schema_migrations VALUES (?1, 'future', 'x')", [latest() + 1]).unwrap();
        match run(&mut conn) {
            Err(StoreError::TooNew { database, binary }) => {
                assert_eq!((database, binary), (latest() + 1, latest()))
            }
            other => panic!("expected TooNew, got {other:?}"),
        }
    }

    #[test]
    fn versions_are_unique_and_start_at_one() {
        let versions: Vec<u32> = embedded().iter().map(|m| m.version).collect();
        assert_eq!(versions.first(), Some(&1));
        let mut dedup = versions.clone();
        dedup.dedup();
        assert_eq!(versions, dedup);
    }
}
