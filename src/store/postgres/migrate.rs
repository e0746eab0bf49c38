//! Schema migrations for Postgres: numbered SQL files under
//! `schema/postgres/`, embedded, applied in order in one transaction under
//! an advisory lock (several instances may start at once), recorded in
//! `schema_migrations` like the SQLite ones.

use deadpool_postgres::GenericClient;
use include_dir::{include_dir, Dir};

use super::db_err;
use crate::store::{Result, StoreError};

static POSTGRES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/schema/postgres");

/// (version, name, sql), sorted by version.
pub fn embedded() -> Vec<(u32, &'static str, &'static str)> {
    let mut out: Vec<_> = POSTGRES
        .files()
        .filter_map(|f| {
            let file = f.path().file_name()?.to_str()?;
            let (num, name) = file.strip_suffix(".sql")?.split_once('_')?;
            Some((num.parse().ok()?, name, f.contents_utf8()?))
        })
        .collect();
    out.sort_by_key(|m| m.0);
    out
}

pub fn latest() -> u32 {
    embedded().last().map_or(0, |m| m.0)
}

/// The highest applied version, 0 for an empty schema.
pub async fn current(c: &impl GenericClient) -> Result<u32> {
    let exists: bool =
        c.query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[]).await.map_err(db_err)?.get(0);
    if !exists {
        return Ok(0);
    }
    let v: i64 = c
        .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", &[])
        .await
        .map_err(db_err)?
        .get(0);
    u32::try_from(v).map_err(|_| StoreError::Invalid(format!("schema version {v}")))
}

/// Creates the schema if needed and applies every pending migration; returns
/// the versions applied. Refuses a schema written by a newer frontdesk.
pub async fn run(client: &mut deadpool_postgres::Object, schema: &str) -> Result<Vec<u32>> {
    client.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")).await.map_err(|e| {
        StoreError::Unavailable(format!("cannot create schema {schema}: {}", super::describe(&e)))
    })?;
    let tx = client.transaction().await.map_err(db_err)?;
    tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&format!("frontdesk-migrate:{schema}")])
        .await
        .map_err(db_err)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )
    .await
    .map_err(db_err)?;
    let current = current(&tx).await?;
    let latest = latest();
    if current > latest {
        return Err(StoreError::TooNew { database: current, binary: latest });
    }
    let mut applied = Vec::new();
    for (version, name, sql) in embedded().into_iter().filter(|m| m.0 > current) {
        tx.batch_execute(sql).await.map_err(|e| {
            StoreError::Unavailable(format!("migration {version}_{name}: {}", super::describe(&e)))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            &[&i64::from(version), &name, &crate::domain::now()],
        )
        .await
        .map_err(db_err)?;
        applied.push(version);
    }
    tx.commit().await.map_err(db_err)?;
    Ok(applied)
}
