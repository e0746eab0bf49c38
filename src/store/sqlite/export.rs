//! A SQLite database read table by table for `frontdesk migrate-data`.
//!
//! The live file is never written: SQLite's online backup copies it (safe
//! while a server writes), the copy is brought to this binary's schema and
//! read, and it is deleted afterwards. Embeddings, which SQLite keeps in
//! sqlite-vec tables, come out as a column of their row in
//! `knowledge_chunk_embeddings` (with the chunk's business), the shape
//! Postgres stores.

use std::path::{Path, PathBuf};

use rusqlite::types::{Value, ValueRef};
use rusqlite::Connection;
use tokio::sync::mpsc;

use super::{db_err, migrate, open_connection, snapshot_read_only, vectors};
use crate::store::transfer::{Batch, Cell, Skipped, BATCH_ROWS};
use crate::store::{Result, StoreError};

const EMBEDDINGS: &str = "knowledge_chunk_embeddings";

/// Tables with data the target does not copy, and why.
const NOT_COPIED: &[(&str, &str)] = &[
    ("schema_migrations", "the target records its own migrations"),
    ("analytics_rollup", "derived: Postgres's triggers count the events as they are copied"),
    ("call_rollup", "derived: Postgres's triggers count the calls as they are copied"),
    ("lead_rollup", "derived: Postgres's triggers count the leads as they are copied"),
    ("response_latency_rollup", "derived: Postgres's triggers count the replies as they are copied"),
    ("knowledge_vec_centres", "derived from the vectors, for sqlite-vec's sign bits only"),
    (
        "knowledge_vec_generations",
        "a counter for in-memory copies (sqlite-vec's sign bits, the glossary) only",
    ),
    ("knowledge_chunk_counts", "derived: counted again from the chunks where needed"),
];

pub struct Export {
    path: PathBuf,
    conn: Connection,
    version: u32,
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Export {
    /// Takes a consistent copy of `db` next to it (on a read-only
    /// connection, SQLite's online backup) and brings the copy to this
    /// binary's schema.
    pub fn snapshot(db: &Path) -> Result<Export> {
        if !db.is_file() {
            return Err(StoreError::Invalid(format!(
                "no SQLite database at {} (nothing to copy)",
                db.display()
            )));
        }
        let mut name = db.file_name().unwrap_or_default().to_os_string();
        name.push(".migrate-data");
        let path = db.with_file_name(name);
        snapshot_read_only(db, &path)?;
        let prepared = (|| -> Result<(Connection, u32)> {
            let mut conn = open_connection(&path, false)
                .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
            migrate::run(&mut conn)?;
            let version = migrate::current(&conn)?;
            Ok((conn, version))
        })();
        match prepared {
            Ok((conn, version)) => Ok(Export { path, conn, version }),
            Err(e) => {
                remove_snapshot(&path);
                Err(e)
            }
        }
    }

    /// The schema version of the copy (this binary's latest).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Tables whose rows are copied (indexes kept by virtual tables and the
    /// tables in [`NOT_COPIED`] left out), and the ones left out with why.
    pub fn tables(&self) -> Result<(Vec<String>, Vec<Skipped>)> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, COALESCE(sql, '') FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .map_err(db_err)?;
        let all: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db_err)?
            .collect::<std::result::Result<_, _>>()
            .map_err(db_err)?;
        let virtual_tables: Vec<&str> = all
            .iter()
            .filter(|(_, sql)| sql.to_ascii_uppercase().starts_with("CREATE VIRTUAL TABLE"))
            .map(|(name, _)| name.as_str())
            .collect();
        let (mut tables, mut skipped) = (Vec::new(), Vec::new());
        for (name, _) in &all {
            if name.starts_with("sqlite_") {
                continue;
            }
            // A virtual table's own storage (fts5 and sqlite-vec shadow tables).
            if virtual_tables.iter().any(|v| name.as_str() != *v && name.starts_with(&format!("{v}_"))) {
                continue;
            }
            if virtual_tables.contains(&name.as_str()) {
                let why = if name.starts_with("knowledge_vec") {
                    "vectors, copied into knowledge_chunk_embeddings.embedding"
                } else {
                    "full-text index, rebuilt by Postgres from knowledge_chunks"
                };
                skipped.push(Skipped { table: name.clone(), why });
            } else if let Some((_, why)) = NOT_COPIED.iter().find(|(t, _)| *t == name.as_str()) {
                skipped.push(Skipped { table: name.clone(), why });
            } else {
                tables.push(name.clone());
            }
        }
        Ok((tables, skipped))
    }

    /// A table's columns; embeddings also carry `business_id` and `embedding`.
    pub fn columns(&self, table: &str) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare(&format!("PRAGMA table_info({})", quote(table))).map_err(db_err)?;
        let mut columns: Vec<String> = stmt
            .query_map([], |r| r.get(1))
            .map_err(db_err)?
            .collect::<std::result::Result<_, _>>()
            .map_err(db_err)?;
        if table == EMBEDDINGS {
            columns.extend(["business_id".to_string(), "embedding".to_string()]);
        }
        Ok(columns)
    }

    /// (model, dim, sqlite-vec table) of every group of embeddings.
    fn vector_tables(conn: &Connection) -> Result<Vec<(String, i64, String)>> {
        let mut stmt =
            conn.prepare(&format!("SELECT DISTINCT model, dim FROM {EMBEDDINGS}")).map_err(db_err)?;
        let groups: Vec<(String, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db_err)?
            .collect::<std::result::Result<_, _>>()
            .map_err(db_err)?;
        let mut out = Vec::new();
        for (model, dim) in groups {
            let table = vectors::vec_table(&model, usize::try_from(dim).unwrap_or(0));
            let exists: bool = conn
                .query_row("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = ?1)", [&table], |r| {
                    r.get(0)
                })
                .map_err(db_err)?;
            if exists {
                out.push((model, dim, table));
            }
        }
        Ok(out)
    }

    /// The SELECTs that read `columns` of `table`, each with its parameters.
    fn selects(conn: &Connection, table: &str, columns: &[String]) -> Result<Vec<(String, Vec<Value>)>> {
        if table != EMBEDDINGS {
            let list = columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
            let without_rowid: bool = conn
                .query_row(
                    "SELECT upper(sql) LIKE '%WITHOUT ROWID%' FROM sqlite_master WHERE name = ?1",
                    [table],
                    |r| r.get(0),
                )
                .map_err(db_err)?;
            // Insertion order, so identities the target generates follow it.
            let order = if without_rowid { "" } else { " ORDER BY rowid" };
            return Ok(vec![(format!("SELECT {list} FROM {}{order}", quote(table)), Vec::new())]);
        }
        let list = columns
            .iter()
            .map(|c| match c.as_str() {
                "business_id" => "c.business_id".to_string(),
                "embedding" => "v.embedding".to_string(),
                other => format!("e.{}", quote(other)),
            })
            .collect::<Vec<_>>()
            .join(", ");
        Ok(Self::vector_tables(conn)?
            .into_iter()
            .map(|(model, dim, vec_table)| {
                (
                    format!(
                        "SELECT {list} FROM {EMBEDDINGS} e JOIN knowledge_chunks c ON c.id = e.chunk_id
                         JOIN {vec_table} v ON v.rowid = e.chunk_id
                         WHERE e.model = ?1 AND e.dim = ?2 ORDER BY e.chunk_id"
                    ),
                    vec![Value::Text(model), Value::Integer(dim)],
                )
            })
            .collect())
    }

    /// Rows in `table`; for embeddings, those whose vector is there to copy.
    pub fn count(&self, table: &str) -> Result<u64> {
        if table != EMBEDDINGS {
            let n: i64 = self
                .conn
                .query_row(&format!("SELECT COUNT(*) FROM {}", quote(table)), [], |r| r.get(0))
                .map_err(db_err)?;
            return Ok(n as u64);
        }
        let mut total = 0;
        for (model, dim, vec_table) in Self::vector_tables(&self.conn)? {
            let n: i64 = self
                .conn
                .query_row(
                    &format!(
                        "SELECT COUNT(*) FROM {EMBEDDINGS} e JOIN knowledge_chunks c ON c.id = e.chunk_id
                         JOIN {vec_table} v ON v.rowid = e.chunk_id WHERE e.model = ?1 AND e.dim = ?2"
                    ),
                    rusqlite::params![model, dim],
                    |r| r.get(0),
                )
                .map_err(db_err)?;
            total += n as u64;
        }
        Ok(total)
    }

    /// Rows of `table` whose data cannot be copied (an embedding without its vector).
    pub fn uncopyable(&self, table: &str) -> Result<u64> {
        if table != EMBEDDINGS {
            return Ok(0);
        }
        let all: i64 = self
            .conn
            .query_row(&format!("SELECT COUNT(*) FROM {EMBEDDINGS}"), [], |r| r.get(0))
            .map_err(db_err)?;
        Ok((all as u64).saturating_sub(self.count(table)?))
    }

    /// Streams `columns` of `table` in batches, read on a thread of its own
    /// (with its own connection) while the caller writes the previous batch.
    pub fn read(&self, table: &str, columns: &[String]) -> mpsc::Receiver<Result<Batch>> {
        let (tx, rx) = mpsc::channel(4);
        let (path, table, columns) = (self.path.clone(), table.to_string(), columns.to_vec());
        std::thread::spawn(move || {
            if let Err(e) = stream(&path, &table, &columns, &tx) {
                let _ = tx.blocking_send(Err(e));
            }
        });
        rx
    }
}

fn stream(path: &Path, table: &str, columns: &[String], tx: &mpsc::Sender<Result<Batch>>) -> Result<()> {
    let conn = open_connection(path, true)
        .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
    let floats = columns.iter().map(|c| table == EMBEDDINGS && c == "embedding").collect::<Vec<_>>();
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    for (sql, params) in Export::selects(&conn, table, columns)? {
        let mut stmt = conn.prepare(&sql).map_err(db_err)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter())).map_err(db_err)?;
        while let Some(row) = rows.next().map_err(db_err)? {
            let mut cells = Vec::with_capacity(columns.len());
            for (i, float) in floats.iter().enumerate() {
                cells.push(cell(row.get_ref(i).map_err(db_err)?, *float));
            }
            batch.push(cells);
            if batch.len() == BATCH_ROWS {
                // The receiver went away: the copy failed and said why.
                if tx.blocking_send(Ok(std::mem::take(&mut batch))).is_err() {
                    return Ok(());
                }
            }
        }
    }
    if !batch.is_empty() {
        let _ = tx.blocking_send(Ok(batch));
    }
    Ok(())
}

fn cell(value: ValueRef<'_>, floats: bool) -> Cell {
    match value {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(i) => Cell::Int(i),
        ValueRef::Real(f) => Cell::Real(f),
        ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) if floats => {
            Cell::Floats(b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
        }
        ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
    }
}

fn remove_snapshot(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

impl Drop for Export {
    fn drop(&mut self) {
        remove_snapshot(&self.path);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use crate::store::Store;

    const DEMO: &str = include_str!("../../../assets/demo/acme-plumbing.toml");

    #[tokio::test]
    async fn a_snapshot_reads_every_table_and_embeddings_with_their_vectors() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("frontdesk.db");
        let store = SqliteStore::open(&db).unwrap();
        store.import_business(crate::provision::parse_bundle(DEMO).unwrap()).await.unwrap();
        drop(store);
        let before = std::fs::read(&db).unwrap();
        let export = Export::snapshot(&db).unwrap();
        assert_eq!(export.version(), migrate::latest());
        let (tables, skipped) = export.tables().unwrap();
        for t in ["businesses", "leads", "knowledge_chunks", EMBEDDINGS, "revoked_sessions"] {
            assert!(tables.iter().any(|x| x == t), "{t} in {tables:?}");
        }
        let skipped: Vec<&str> = skipped.iter().map(|s| s.table.as_str()).collect();
        assert!(
            skipped.contains(&"analytics_rollup") && skipped.contains(&"knowledge_chunks_fts"),
            "{skipped:?}"
        );
        assert!(skipped.iter().any(|s| s.starts_with("knowledge_vec_local_")), "{skipped:?}");
        assert!(!tables
            .iter()
            .any(|t| t.starts_with("knowledge_vec") || t.starts_with("knowledge_chunks_fts")));

        let chunks = export.count("knowledge_chunks").unwrap();
        assert!(chunks > 0);
        assert_eq!(export.count(EMBEDDINGS).unwrap(), chunks, "every chunk has the local model's vector");
        assert_eq!(export.uncopyable(EMBEDDINGS).unwrap(), 0);
        let columns = export.columns(EMBEDDINGS).unwrap();
        let mut rx = export.read(EMBEDDINGS, &columns);
        let mut rows = Vec::new();
        while let Some(batch) = rx.recv().await {
            rows.extend(batch.unwrap());
        }
        assert_eq!(rows.len() as u64, chunks);
        let at = columns.iter().position(|c| c == "embedding").unwrap();
        let dim = columns.iter().position(|c| c == "dim").unwrap();
        for row in &rows {
            let (Cell::Floats(v), Cell::Int(d)) = (&row[at], &row[dim]) else { panic!("{row:?}") };
            assert_eq!(v.len() as i64, *d);
            assert!(v.iter().any(|f| *f != 0.0));
        }
        let snapshot = export.path.clone();
        assert!(snapshot.exists());
        drop(export);
        assert!(!snapshot.exists(), "the snapshot is removed");
        assert!(std::fs::read(&db).unwrap() == before, "the database is only read");
    }

    /// Every table SQLite keeps data in has a Postgres table, or a reason not to.
    #[test]
    fn every_sqlite_table_has_a_place_in_postgres() {
        let postgres: String = crate::store::postgres::migrate::embedded().iter().map(|m| m.2).collect();
        let mut conn = Connection::open_in_memory().unwrap();
        migrate::run(&mut conn).unwrap();
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'")
            .unwrap();
        let names: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect();
        for name in
            names.iter().filter(|n| !n.starts_with("sqlite_") && !n.starts_with("knowledge_chunks_fts"))
        {
            let known = NOT_COPIED.iter().any(|(t, _)| *t == name.as_str());
            assert!(
                known || postgres.contains(&format!("CREATE TABLE {name} (")),
                "{name} has no Postgres table"
            );
        }
    }
}
