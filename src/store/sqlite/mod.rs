//! The SQLite backend: one writer connection, a small pool of readers, all
//! driven from tokio's blocking pool so async workers never wait on disk.
//! (About 600 lines with its tests: the pool, the trait's dispatch to the
//! submodules, and the connection setup.)

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Once};

use async_trait::async_trait;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row, Transaction};
use tokio::sync::Semaphore;

mod admin;
mod admin_store;
mod backup;
mod business;
mod calls;
mod coarse;
mod conversation;
mod demo;
pub mod export;
mod ids;
mod integrity;
mod knowledge;
#[cfg(test)]
pub(crate) use knowledge::fts_query;
mod knowledge_imports;
mod latency;
pub mod migrate;
/// `outbox::enqueue` writes notifications in a caller's transaction (the
/// voice channel's call-ended event uses it too).
pub(crate) mod outbox;
mod outbox_store;
mod reports;
mod triage_marks;
mod vectors;

pub use backup::{backup_file, copy_snapshot, snapshot_read_only, verify_file};

use super::{
    CallStatus, ImportOutcome, KnowledgeQuery, NewCall, NewUser, Result, Store, StoreError, StoreInspect,
    TurnRecord,
};
use crate::domain::{
    now, Business, BusinessBundle, BusinessSummary, Call, Channel, EndedReason, Lead, Message, Notification,
    PlanTier, Profile, User,
};
use crate::ids::{BusinessId, CallSid, ConversationId, LeadId};
use crate::retrieval::Passage;
use business::{business_row, load_business, read_bundle, user_row, write_bundle, BUSINESS_COLUMNS};

const READERS: usize = 4;

/// The database file is read through a memory map up to this size, shared
/// by every connection and the kernel's page cache: a knowledge search
/// reads scattered pages (vectors, the full-text index), and through
/// SQLite's small per-connection cache each was a read() call and a copy.
const MMAP_BYTES: i64 = 256 << 20;

pub struct SqliteStore {
    path: PathBuf,
    /// The file opened; a write to a file no longer at `path` would be lost.
    file: Option<integrity::FileId>,
    /// SQLite opened the file read-only (it does so silently when it may not write it).
    read_only: bool,
    writer: Arc<Mutex<Connection>>,
    /// Writers queue here (async) rather than each holding a blocking thread.
    writer_permit: Arc<Semaphore>,
    readers: Arc<Mutex<Vec<Connection>>>,
    /// One permit per idle reader: callers wait here, not on a blocking thread.
    reader_permits: Arc<Semaphore>,
    /// Businesses' knowledge sign bits, shared by the readers.
    coarse: Arc<coarse::CoarseCache>,
}

pub(crate) fn db_err(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, msg) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            crate::store::constraint_conflict(msg.as_deref().unwrap_or("constraint violated"))
        }
        rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound("row".into()),
        _ => StoreError::Unavailable(e.to_string()),
    }
}

/// Makes sqlite-vec's functions available on every connection opened after.
fn register_extensions() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_vec_init has the signature sqlite3_auto_extension
        // expects; registering it once, before any connection, is how the
        // sqlite-vec crate documents its use with rusqlite.
        #[allow(unsafe_code)]
        unsafe {
            type Init = unsafe extern "C" fn(
                *mut rusqlite::ffi::sqlite3,
                *mut *mut std::os::raw::c_char,
                *const rusqlite::ffi::sqlite3_api_routines,
            ) -> std::os::raw::c_int;
            let init: Init = std::mem::transmute(sqlite_vec::sqlite3_vec_init as *const ());
            rusqlite::ffi::sqlite3_auto_extension(Some(init));
        }
    });
}

/// Opens a connection with the pragmas every connection needs.
pub fn open_connection(path: &Path, read_only: bool) -> std::result::Result<Connection, rusqlite::Error> {
    register_extensions();
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI
    };
    if !read_only {
        make_private(path);
    }
    let conn = Connection::open_with_flags(path, flags)?;
    // busy_timeout first: the WAL switch itself may wait for another process.
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    if !read_only {
        conn.pragma_update(None, "journal_mode", "WAL")?;
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
    Ok(conn)
}

/// Creates the database file 0600 before SQLite opens it (SQLite gives its
/// WAL and SHM the database's mode) and tightens files an older version left
/// readable. A failure here is logged; opening reports the real problem.
fn make_private(path: &Path) {
    let sidecar = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    let result = crate::files::private_file(path)
        .and_then(|()| crate::files::restrict(&sidecar("-wal")))
        .and_then(|()| crate::files::restrict(&sidecar("-shm")));
    if let Err(e) = result {
        tracing::warn!(path = %path.display(), error = %e, "cannot make the database files private");
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database and applies pending migrations.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::files::create_dir(dir)
                .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut writer = open_connection(path, false)
            .map_err(|e| StoreError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
        migrate::run(&mut writer)?;
        let read_only = writer.is_readonly(rusqlite::MAIN_DB).unwrap_or(true);
        if !read_only {
            // Upkeep, not opening: another process (the server, when a CLI
            // command or a test opens the same file) may hold the write lock
            // longer than the busy timeout, and its own start did this work.
            match vectors::prepare_vector_tables(&mut writer) {
                Ok(0) => {}
                Ok(rewritten) => {
                    tracing::info!(
                        vectors = rewritten,
                        "knowledge vector tables brought to the current layout"
                    )
                }
                Err(e) => {
                    tracing::warn!(error = %e, "knowledge vector tables not checked at open; retried at the next")
                }
            }
            let embedded = vectors::embed_missing(&mut writer)?;
            if embedded > 0 {
                tracing::info!(chunks = embedded, "knowledge embedded with the built-in model");
            }
        }
        let readers = (0..READERS)
            .map(|_| open_connection(path, true))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(db_err)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            file: integrity::FileId::of(path),
            read_only,
            writer: Arc::new(Mutex::new(writer)),
            writer_permit: Arc::new(Semaphore::new(1)),
            readers: Arc::new(Mutex::new(readers)),
            reader_permits: Arc::new(Semaphore::new(READERS)),
            coarse: Arc::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in a write transaction on the writer connection.
    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        let permit = self
            .writer_permit
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("store closed".into()))?;
        let writer = self.writer.clone();
        let (path, file, read_only) = (self.path.clone(), self.file, self.read_only);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            // Never acknowledge a write that cannot reach the file on disk.
            integrity::check(&path, file, read_only)?;
            let mut conn =
                writer.lock().map_err(|_| StoreError::Unavailable("writer connection poisoned".into()))?;
            // IMMEDIATE: take the write lock up front (waiting up to busy_timeout)
            // rather than read first and fail to upgrade when another process
            // (a CLI command beside the server) wrote in between.
            let tx =
                conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_err)?;
            let out = f(&tx)?;
            tx.commit().map_err(db_err)?;
            Ok(out)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("database task failed: {e}")))?
    }

    /// Runs `f` on an idle reader connection.
    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let permit = self
            .reader_permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("store closed".into()))?;
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = readers
                .lock()
                .map_err(|_| StoreError::Unavailable("reader pool poisoned".into()))?
                .pop()
                .ok_or_else(|| StoreError::Unavailable("no idle reader".into()))?;
            let out = f(&conn);
            if let Ok(mut pool) = readers.lock() {
                pool.push(conn);
            }
            out
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("database task failed: {e}")))?
    }
}

/// Runs a query and collects every row.
pub(crate) fn query_all<T, P, F>(conn: &Connection, sql: &str, params: P, row: F) -> Result<Vec<T>>
where
    P: rusqlite::Params,
    F: FnMut(&Row<'_>) -> rusqlite::Result<T>,
{
    let mut stmt = conn.prepare_cached(sql).map_err(db_err)?;
    let rows = stmt.query_map(params, row).map_err(db_err)?.collect::<rusqlite::Result<Vec<T>>>();
    rows.map_err(db_err)
}

pub(crate) fn enum_col<T>(row: &Row<'_>, idx: usize, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    parse_col(idx, &text, parse)
}

/// A timestamp column read once into a moment (any stored form; see `row_time`).
pub(crate) fn time_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<chrono::DateTime<chrono::Utc>> {
    let text: String = row.get(idx)?;
    Ok(crate::store::row_time(&text))
}

/// A nullable timestamp column.
pub(crate) fn opt_time_col(
    row: &Row<'_>,
    idx: usize,
) -> rusqlite::Result<Option<chrono::DateTime<chrono::Utc>>> {
    let text: Option<String> = row.get(idx)?;
    Ok(text.as_deref().map(crate::store::row_time))
}

/// A nullable text column holding one of an enum's names.
pub(crate) fn opt_enum_col<T>(
    row: &Row<'_>,
    idx: usize,
    parse: fn(&str) -> Option<T>,
) -> rusqlite::Result<Option<T>> {
    let text: Option<String> = row.get(idx)?;
    text.map(|text| parse_col(idx, &text, parse)).transpose()
}

fn parse_col<T>(idx: usize, text: &str, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    parse(text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Text,
            format!("unexpected value '{text}'").into(),
        )
    })
}

pub(crate) fn json_col<T: serde::de::DeserializeOwned>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let text: String = row.get(idx)?;
    serde_json::from_str(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Text, e.into()))
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Invalid(e.to_string()))
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> Result<()> {
        // Open handles keep working on a deleted file: check the path too.
        if !self.path.exists() {
            return Err(StoreError::Unavailable(format!("database file {} is missing", self.path.display())));
        }
        self.read(|c| c.query_row("SELECT COUNT(*) FROM schema_migrations", [], |_| Ok(())).map_err(db_err))
            .await
    }

    async fn writable(&self) -> Result<()> {
        // A stat, not a write: /health must stay quick while writes queue.
        integrity::check(&self.path, self.file, self.read_only)
    }

    async fn revoke_session(&self, token_hash: &str, expires_at: i64) -> Result<()> {
        let hash = token_hash.to_string();
        self.write(move |tx| {
            let now = chrono::Utc::now().timestamp();
            tx.execute("DELETE FROM revoked_sessions WHERE expires_at < ?1", [now]).map_err(db_err)?;
            tx.execute(
                "INSERT OR IGNORE INTO revoked_sessions (token_hash, expires_at) VALUES (?1, ?2)",
                params![hash, expires_at],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn session_revoked(&self, token_hash: &str) -> Result<bool> {
        let hash = token_hash.to_string();
        self.read(move |c| {
            c.query_row("SELECT 1 FROM revoked_sessions WHERE token_hash = ?1", [&hash], |_| Ok(()))
                .optional()
                .map(|found| found.is_some())
                .map_err(db_err)
        })
        .await
    }

    async fn schema_version(&self) -> Result<u32> {
        self.read(migrate::current).await
    }

    async fn import_business(&self, bundle: BusinessBundle) -> Result<ImportOutcome> {
        self.write(move |tx| write_bundle(tx, &bundle)).await
    }

    async fn business(&self, id: &BusinessId) -> Result<Business> {
        let id = id.to_string();
        self.read(move |c| load_business(c, &id)).await
    }

    async fn business_bundle(&self, id: &BusinessId) -> Result<BusinessBundle> {
        let id = id.to_string();
        self.read(move |c| read_bundle(c, &id)).await
    }

    async fn list_businesses(&self) -> Result<Vec<BusinessSummary>> {
        self.read(|c| {
            let mut stmt = c
                .prepare(&format!(
                    "SELECT {BUSINESS_COLUMNS},
                        (SELECT COUNT(*) FROM lead_capture_questions q JOIN agent_configs a ON q.config_id = a.id
                            WHERE a.business_id = businesses.id),
                        (SELECT COUNT(*) FROM knowledge_documents k WHERE k.business_id = businesses.id),
                        (SELECT COUNT(*) FROM leads l WHERE l.business_id = businesses.id),
                        (SELECT COUNT(*) FROM users u WHERE u.business_id = businesses.id)
                     FROM businesses ORDER BY name COLLATE NOCASE, created_at"
                ))
                .map_err(db_err)?;
            // The counts follow the business's own columns.
            let counts = BUSINESS_COLUMNS.split(',').count();
            let rows = stmt
                .query_map([], |r| {
                    Ok(BusinessSummary {
                        business: business_row(r)?,
                        questions: r.get(counts)?,
                        knowledge_docs: r.get(counts + 1)?,
                        leads: r.get(counts + 2)?,
                        users: r.get(counts + 3)?,
                    })
                })
                .map_err(db_err)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(db_err)?;
            Ok(rows)
        })
        .await
    }

    async fn set_plan(&self, business_id: &BusinessId, plan: PlanTier) -> Result<()> {
        let id = business_id.to_string();
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE businesses SET plan_tier = ?1, updated_at = ?2 WHERE id = ?3",
                    params![plan.as_str(), now(), id],
                )
                .map_err(db_err)?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("business {id}")));
            }
            Ok(())
        })
        .await
    }

    async fn count_users(&self) -> Result<u64> {
        self.read(|c| c.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0)).map_err(db_err)).await
    }

    async fn create_user(&self, user: NewUser) -> Result<User> {
        self.write(move |tx| admin::insert_user(tx, &user)).await
    }

    async fn user_by_email(&self, email: &str) -> Result<User> {
        let email = email.trim().to_string();
        self.read(move |c| {
            c.query_row(
                "SELECT id, email, password_hash, role, business_id, created_at FROM users WHERE email = ?1",
                [&email],
                user_row,
            )
            .optional()
            .map_err(db_err)?
            .ok_or_else(|| StoreError::NotFound(format!("user {email}")))
        })
        .await
    }

    async fn set_password_hash(&self, email: &str, password_hash: &str) -> Result<()> {
        let (email, hash) = (email.trim().to_string(), password_hash.to_string());
        self.write(move |tx| {
            let n = tx
                .execute(
                    "UPDATE users SET password_hash = ?1, updated_at = ?2 WHERE email = ?3",
                    params![hash, now(), email],
                )
                .map_err(db_err)?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("user {email}")));
            }
            Ok(())
        })
        .await
    }

    async fn agent_profile(&self, business_id: &BusinessId) -> Result<Profile> {
        let id = business_id.to_string();
        self.read(move |c| conversation::agent_profile(c, &id)).await
    }

    async fn search_knowledge(
        &self,
        business_id: &BusinessId,
        query: &KnowledgeQuery,
    ) -> Result<Vec<Passage>> {
        let (id, query, coarse) = (business_id.to_string(), query.clone(), self.coarse.clone());
        self.read(move |c| knowledge::search(c, &coarse, &id, &query)).await
    }

    async fn knowledge_overview(
        &self,
        business_id: &BusinessId,
        limit: usize,
    ) -> Result<Vec<(String, String)>> {
        let id = business_id.to_string();
        self.read(move |c| {
            query_all(
                c,
                "SELECT title, substr(content, 1, 600) FROM knowledge_documents WHERE business_id = ?1
                     ORDER BY created_at, rowid LIMIT ?2",
                params![id, limit as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
        .await
    }

    async fn chunks_to_embed(&self, model: &str, limit: usize) -> Result<Vec<(i64, String)>> {
        let model = model.to_string();
        self.read(move |c| vectors::chunks_to_embed(c, &model, limit)).await
    }

    async fn save_embeddings(&self, model: &str, vectors: Vec<(i64, Vec<f32>)>) -> Result<()> {
        let model = model.to_string();
        self.write(move |tx| vectors::save_embeddings(tx, &model, &vectors)).await
    }

    async fn start_conversation(
        &self,
        business_id: &BusinessId,
        channel: Channel,
        external_id: Option<&str>,
        test: bool,
    ) -> Result<ConversationId> {
        let (id, external) = (business_id.to_string(), external_id.map(str::to_string));
        self.write(move |tx| conversation::start_conversation(tx, &id, channel, external.as_deref(), test))
            .await
    }

    async fn record_turn(&self, turn: TurnRecord) -> Result<crate::store::TurnSaved> {
        self.write(move |tx| conversation::record_turn(tx, &turn)).await
    }

    async fn lead(&self, business_id: &BusinessId, lead_id: &LeadId) -> Result<Lead> {
        let (b, l) = (business_id.to_string(), lead_id.to_string());
        self.read(move |c| conversation::lead(c, &b, &l)).await
    }

    async fn business_by_number(&self, number: &str) -> Result<Business> {
        let number = number.to_string();
        self.read(move |c| calls::business_by_number(c, &number)).await
    }

    async fn start_call(&self, call: NewCall) -> Result<ConversationId> {
        self.write(move |tx| calls::start_call(tx, &call)).await
    }

    async fn record_call_status(&self, status: CallStatus) -> Result<()> {
        self.write(move |tx| calls::record_status(tx, &status)).await
    }

    async fn finish_call(
        &self,
        call_sid: &CallSid,
        summary: &str,
        ended_reason: EndedReason,
        notify: crate::store::NotifyPolicy,
    ) -> Result<()> {
        let (sid, summary) = (call_sid.to_string(), summary.to_string());
        self.write(move |tx| calls::finish_call(tx, &sid, &summary, ended_reason, &notify)).await
    }

    async fn call(&self, call_sid: &CallSid) -> Result<Call> {
        let sid = call_sid.to_string();
        self.read(move |c| calls::call(c, &sid)).await
    }

    async fn record_latency(&self, sample: crate::store::LatencySample) -> Result<()> {
        self.write(move |tx| latency::record(tx, &sample)).await
    }

    async fn add_samples(&self, business_id: &BusinessId, samples: Vec<crate::demo::Sample>) -> Result<()> {
        let id = business_id.to_string();
        self.write(move |tx| demo::add_samples(tx, &id, &samples)).await
    }
}

/// Test read-backs (see [`StoreInspect`]).
#[async_trait]
impl StoreInspect for SqliteStore {
    async fn transcript(&self, conversation_id: &ConversationId) -> Result<Vec<Message>> {
        let id = conversation_id.to_string();
        self.read(move |c| conversation::transcript(c, &id)).await
    }

    async fn leads(&self, business_id: &BusinessId) -> Result<Vec<Lead>> {
        let id = business_id.to_string();
        self.read(move |c| conversation::leads(c, &id)).await
    }

    async fn notifications(&self, business_id: &BusinessId) -> Result<Vec<Notification>> {
        let id = business_id.to_string();
        self.read(move |c| outbox::notifications(c, &id)).await
    }

    async fn call_events(&self, call_sid: &CallSid) -> Result<Vec<(String, Option<i64>)>> {
        let sid = call_sid.to_string();
        self.read(move |c| calls::call_events(c, &sid)).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_constraint_refusal_names_no_table_or_column() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE users (email TEXT UNIQUE); INSERT INTO users VALUES ('a@b.example');",
        )
        .unwrap();
        let e = db_err(conn.execute("INSERT INTO users VALUES ('a@b.example')", []).unwrap_err());
        match e {
            StoreError::Conflict(m) => assert!(!m.contains("users") && !m.contains("email"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn sqlite_vec_and_fts5_are_available() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        let v: String = store
            .read(|c| c.query_row("SELECT vec_version()", [], |r| r.get(0)).map_err(db_err))
            .await
            .unwrap();
        assert!(v.starts_with('v'));
        let n: i64 = store
            .read(|c| {
                c.query_row(
                    "SELECT COUNT(*) FROM knowledge_chunks_fts WHERE knowledge_chunks_fts MATCH 'pipe'",
                    [],
                    |r| r.get(0),
                )
                .map_err(db_err)
            })
            .await
            .unwrap();
        assert_eq!(n, 0);
    }
}
