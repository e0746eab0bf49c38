//! `frontdesk migrate-data`'s Postgres side: an appliance's SQLite database
//! (read through [`Export`]) copied into an empty schema, in one transaction.
//!
//! The schema is created and migrated as `serve` would. Tables are matched by
//! name and columns by name, read from the catalog, so a column added to both
//! schemas is copied without a change here, and one missing on this side
//! stops the copy rather than losing data. Rows go in with `COPY ... FROM
//! STDIN` (text format: Postgres parses each value by its column's type:
//! 0/1 into boolean, JSON text into jsonb, `{...}` into real[]), in the
//! order foreign keys need; identities are moved past the copied ids; every
//! table's count is compared before the commit.

use std::collections::{BTreeMap, BTreeSet};

use deadpool_postgres::{GenericClient, Transaction};
use futures_util::SinkExt;

use super::{describe, get, migrate, PgUrl};
use crate::store::sqlite::export::Export;
use crate::store::transfer::{Cell, Copied, TableCount};
use crate::store::{Result, StoreError};

/// A target column as the catalog describes it.
#[derive(Debug)]
struct Column {
    name: String,
    /// Filled in when left out: nullable, a default, or an identity.
    optional: bool,
    identity: bool,
    bytea: bool,
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A database error with its context (COPY names the line and column).
fn pg_err(what: &str, e: tokio_postgres::Error) -> StoreError {
    let context = e.as_db_error().and_then(|db| db.where_().map(|w| format!(" ({w})"))).unwrap_or_default();
    StoreError::Unavailable(format!("{what}: {}{context}", describe(&e)))
}

/// Copies every table of `source` into the empty schema `url` names.
pub async fn copy_from_sqlite(url: &PgUrl, source: &Export) -> Result<Copied> {
    let pool = url.pool()?;
    let mut client = pool.get().await.map_err(|e| {
        let why = match &e {
            deadpool_postgres::PoolError::Backend(pg) => describe(pg),
            other => other.to_string(),
        };
        StoreError::Unavailable(format!("cannot connect to Postgres: {why}"))
    })?;
    migrate::run(&mut client, &url.schema).await?;
    let target_version = migrate::current(&client).await?;

    let (tables, skipped) = source.tables()?;
    let columns = target_columns(&client, &url.schema).await?;
    let mut notes = Vec::new();
    for table in &tables {
        if !columns.contains_key(table) && source.count(table)? > 0 {
            return Err(StoreError::Invalid(format!(
                "SQLite table {table} has rows but Postgres has no such table: this frontdesk cannot copy it"
            )));
        }
    }
    let order = fk_order(&client, &url.schema, &tables, &columns).await?;

    let tx = client.transaction().await.map_err(|e| pg_err("begin", e))?;
    refuse_non_empty(&tx, &url.schema, &order).await?;
    let mut counts = Vec::new();
    for table in &order {
        let target = columns.get(table).map(Vec::as_slice).unwrap_or_default();
        copy_table(&tx, source, table, target).await?;
        let expected = source.count(table)?;
        let got: i64 = get(
            &tx.query_one(&format!("SELECT COUNT(*) FROM {}", ident(table)), &[])
                .await
                .map_err(|e| pg_err(table, e))?,
            0,
        )?;
        if got as u64 != expected {
            return Err(StoreError::Unavailable(format!(
                "{table}: {expected} rows in SQLite but {got} in Postgres after the copy; nothing was kept"
            )));
        }
        let lost = source.uncopyable(table)?;
        if lost > 0 {
            notes.push(format!(
                "{table}: {lost} rows without their vector were left out (re-embedded when serve starts)"
            ));
        }
        counts.push(TableCount { table: table.clone(), source: expected, target: got as u64 });
        reset_identities(&tx, &url.schema, table, target).await?;
    }
    tx.commit().await.map_err(|e| pg_err("commit", e))?;
    Ok(Copied { counts, skipped, notes, target_version })
}

/// Every table's columns, except generated ones (Postgres computes them).
async fn target_columns(c: &impl GenericClient, schema: &str) -> Result<BTreeMap<String, Vec<Column>>> {
    let rows = c
        .query(
            "SELECT table_name::text, column_name::text,
                    is_nullable = 'YES' OR column_default IS NOT NULL OR is_identity = 'YES',
                    is_identity = 'YES', data_type = 'bytea'
             FROM information_schema.columns
             WHERE table_schema = $1 AND is_generated = 'NEVER' AND table_name <> 'schema_migrations'
             ORDER BY table_name, ordinal_position",
            &[&schema],
        )
        .await
        .map_err(|e| pg_err("reading the target's columns", e))?;
    let mut out: BTreeMap<String, Vec<Column>> = BTreeMap::new();
    for r in &rows {
        out.entry(get(r, 0)?).or_default().push(Column {
            name: get(r, 1)?,
            optional: get(r, 2)?,
            identity: get(r, 3)?,
            bytea: get(r, 4)?,
        });
    }
    Ok(out)
}

/// The tables to copy, each after the tables its foreign keys point at.
async fn fk_order(
    c: &impl GenericClient,
    schema: &str,
    tables: &[String],
    columns: &BTreeMap<String, Vec<Column>>,
) -> Result<Vec<String>> {
    let rows = c
        .query(
            "SELECT child.relname::text, parent.relname::text
             FROM pg_constraint k
             JOIN pg_class child ON child.oid = k.conrelid
             JOIN pg_class parent ON parent.oid = k.confrelid
             JOIN pg_namespace n ON n.oid = child.relnamespace
             WHERE k.contype = 'f' AND n.nspname = $1",
            &[&schema],
        )
        .await
        .map_err(|e| pg_err("reading the target's foreign keys", e))?;
    let mut parents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in &rows {
        let (child, parent): (String, String) = (get(r, 0)?, get(r, 1)?);
        if child != parent {
            parents.entry(child).or_default().insert(parent);
        }
    }
    let mut todo: Vec<&String> = tables.iter().filter(|t| columns.contains_key(*t)).collect();
    let mut order: Vec<String> = Vec::new();
    while !todo.is_empty() {
        let before = todo.len();
        todo.retain(|t| {
            let ready =
                parents.get(*t).is_none_or(|ps| ps.iter().all(|p| order.contains(p) || !tables.contains(p)));
            if ready {
                order.push((*t).clone());
            }
            !ready
        });
        if todo.len() == before {
            return Err(StoreError::Invalid(format!("foreign keys form a cycle among {todo:?}")));
        }
    }
    Ok(order)
}

/// Locks the tables against writers and refuses unless all are empty.
async fn refuse_non_empty(tx: &Transaction<'_>, schema: &str, tables: &[String]) -> Result<()> {
    if tables.is_empty() {
        return Ok(());
    }
    let list = tables.iter().map(|t| ident(t)).collect::<Vec<_>>().join(", ");
    tx.batch_execute(&format!("SET LOCAL lock_timeout = '15s'; LOCK TABLE {list} IN EXCLUSIVE MODE"))
        .await
        .map_err(|e| pg_err("locking the target's tables (is a frontdesk running on it?)", e))?;
    let mut full = Vec::new();
    for t in tables {
        let any: bool = get(
            &tx.query_one(&format!("SELECT EXISTS (SELECT 1 FROM {})", ident(t)), &[])
                .await
                .map_err(|e| pg_err(t, e))?,
            0,
        )?;
        if any {
            full.push(t.as_str());
        }
    }
    if full.is_empty() {
        return Ok(());
    }
    Err(StoreError::Conflict(format!(
        "the Postgres schema \"{schema}\" is not empty (rows in {}); migrate-data only copies into an empty \
         database, so nothing was copied. Name another schema (?schema=NAME) or empty this one first",
        full.join(", ")
    )))
}

/// The columns to copy: the target's that the source has. Fails when the
/// source has a column the target lacks, or lacks one the target needs.
fn plan<'a>(table: &str, source: &[String], target: &'a [Column]) -> Result<Vec<&'a Column>> {
    if let Some(extra) = source.iter().find(|s| !target.iter().any(|t| &t.name == *s)) {
        return Err(StoreError::Invalid(format!(
            "SQLite column {table}.{extra} has no Postgres column: this frontdesk cannot copy it"
        )));
    }
    if let Some(needed) = target.iter().find(|t| !t.optional && !source.contains(&t.name)) {
        return Err(StoreError::Invalid(format!(
            "Postgres column {table}.{} needs a value SQLite does not have",
            needed.name
        )));
    }
    Ok(target.iter().filter(|t| source.contains(&t.name)).collect())
}

async fn copy_table(tx: &Transaction<'_>, source: &Export, table: &str, target: &[Column]) -> Result<()> {
    let columns = plan(table, &source.columns(table)?, target)?;
    let names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
    let list = names.iter().map(|n| ident(n)).collect::<Vec<_>>().join(", ");
    let sink = tx
        .copy_in::<_, bytes::Bytes>(&format!("COPY {} ({list}) FROM STDIN", ident(table)))
        .await
        .map_err(|e| pg_err(table, e))?;
    let mut sink = Box::pin(sink);
    let mut rows = source.read(table, &names);
    while let Some(batch) = rows.recv().await {
        let mut buf = Vec::with_capacity(64 * 1024);
        for row in batch? {
            for (i, (cell, column)) in row.iter().zip(&columns).enumerate() {
                if i > 0 {
                    buf.push(b'\t');
                }
                encode(cell, column.bytea, &mut buf);
            }
            buf.push(b'\n');
        }
        sink.as_mut().send(bytes::Bytes::from(buf)).await.map_err(|e| pg_err(table, e))?;
    }
    sink.as_mut().finish().await.map_err(|e| pg_err(table, e))?;
    Ok(())
}

/// One value in COPY's text format.
fn encode(cell: &Cell, bytea: bool, out: &mut Vec<u8>) {
    use std::io::Write;
    match cell {
        Cell::Null => out.extend_from_slice(b"\\N"),
        Cell::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Cell::Real(f) => {
            let _ = write!(out, "{f}");
        }
        Cell::Text(t) => escape(t, out),
        Cell::Blob(b) if bytea => {
            out.extend_from_slice(b"\\\\x");
            for byte in b {
                let _ = write!(out, "{byte:02x}");
            }
        }
        // Not bytea: the bytes as text; Postgres rejects what its type cannot take.
        Cell::Blob(b) => escape(&String::from_utf8_lossy(b), out),
        Cell::Floats(v) => {
            out.push(b'{');
            for (i, f) in v.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let _ = write!(out, "{f}");
            }
            out.push(b'}');
        }
    }
}

fn escape(text: &str, out: &mut Vec<u8>) {
    for b in text.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b => out.push(b),
        }
    }
}

/// Identities continue after the highest copied id.
async fn reset_identities(tx: &Transaction<'_>, schema: &str, table: &str, target: &[Column]) -> Result<()> {
    for column in target.iter().filter(|c| c.identity) {
        let qualified = format!("{}.{}", ident(schema), ident(table));
        tx.query_one(
            &format!(
                "SELECT setval(pg_get_serial_sequence($1, $2), COALESCE(MAX({col}), 0) + 1, false) FROM {t}",
                col = ident(&column.name),
                t = ident(table)
            ),
            &[&qualified, &column.name],
        )
        .await
        .map_err(|e| pg_err(&format!("{table}.{} identity", column.name), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn encoded(cell: Cell, bytea: bool) -> String {
        let mut out = Vec::new();
        encode(&cell, bytea, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn copy_text_escapes_what_copy_would_read_as_syntax() {
        assert_eq!(encoded(Cell::Text("a\tb\nc\\d\re".into()), false), "a\\tb\\nc\\\\d\\re");
        assert_eq!(encoded(Cell::Null, false), "\\N");
        assert_eq!(encoded(Cell::Text("\\N".into()), false), "\\\\N");
        assert_eq!(encoded(Cell::Int(-7), false), "-7");
        assert_eq!(encoded(Cell::Floats(vec![0.5, -1.25]), false), "{0.5,-1.25}");
        assert_eq!(encoded(Cell::Blob(vec![0, 255]), true), "\\\\x00ff");
    }

    #[test]
    fn a_column_without_a_place_stops_the_copy() {
        let target = vec![
            Column { name: "id".into(), optional: false, identity: false, bytea: false },
            Column { name: "seq".into(), optional: true, identity: true, bytea: false },
        ];
        let planned = plan("t", &["id".to_string()], &target).unwrap();
        assert_eq!(planned.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["id"]);
        let e = plan("t", &["id".to_string(), "lost".to_string()], &target).unwrap_err();
        assert!(e.to_string().contains("t.lost"), "{e}");
        let e = plan("t", &["seq".to_string()], &target).unwrap_err();
        assert!(e.to_string().contains("t.id"), "{e}");
    }
}
