//! Knowledge vectors in sqlite-vec: one float table per model and size, a
//! sign-bit copy beside it taken after subtracting each business's mean
//! vector (its centre), and nearest neighbours found coarse (hamming over
//! the bits) then exact (cosine over the candidates' floats). Also the
//! layout upgrade of older databases at open and the embedding of chunks
//! that have no vector yet. The chunks and full text are in `knowledge.rs`.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::coarse::{self, centred, CoarseCache, Partition};
use super::{db_err, query_all};
use crate::agent::local_model;
use crate::domain::now;
use crate::retrieval;
use crate::store::Result;

/// Candidates taken from each ranking before fusion.
pub(super) const CANDIDATES: usize = 20;
/// Chunks the coarse (one bit a dimension) nearest-neighbour scan hands to
/// exact cosine re-scoring. A business with no more chunks than this is
/// therefore ranked exactly; on a dense set the exact nearest is kept (see
/// the test `coarse_candidates_keep_the_exact_nearest`).
const COARSE_CANDIDATES: usize = 100;

/// What a chunk's vector is computed from: its document's title and its text.
pub(super) fn embedding_text(title: &str, content: &str) -> String {
    format!("{title}\n{content}")
}

/// The sqlite-vec table holding `model`'s vectors: the embedded model's
/// apart, so an OpenAI model of the same size never shares a row id with it.
pub(super) fn vec_table(model: &str, dim: usize) -> String {
    match local_model::get() {
        Some(local) if local.id() == model => format!("knowledge_vec_local_{dim}"),
        _ => format!("knowledge_vec_{dim}"),
    }
}

/// The sqlite-vec table beside `table` holding the same vectors quantised
/// to one bit a dimension (sign), scanned by hamming distance to pick the
/// candidates that `table`'s exact cosine then orders: the exact scan of
/// every float vector was most of a question's time over 10,000 chunks.
/// None when `dim` is not a whole number of bytes.
fn coarse_table(table: &str, dim: usize) -> Option<String> {
    (dim > 0 && dim.is_multiple_of(8)).then(|| format!("{table}_bits"))
}

/// Deletes the vectors of the chunks about to be re-chunked (`filter` on
/// knowledge_chunks, one parameter), so stale vectors never crowd the
/// nearest-neighbour candidates.
pub(super) fn forget_vectors(tx: &Transaction<'_>, filter: &str, value: &str) -> Result<()> {
    let tables: Vec<String> = query_all(
        tx,
        "SELECT name FROM sqlite_master WHERE name LIKE 'knowledge_vec_%' AND sql LIKE 'CREATE VIRTUAL TABLE%'",
        [],
        |r| r.get(0),
    )?;
    let businesses: Vec<String> = query_all(
        tx,
        &format!("SELECT DISTINCT business_id FROM knowledge_chunks WHERE {filter}"),
        [value],
        |r| r.get(0),
    )?;
    for business in &businesses {
        coarse::advance(tx, business)?;
    }
    for table in tables {
        tx.execute(
            &format!("DELETE FROM {table} WHERE rowid IN (SELECT id FROM knowledge_chunks WHERE {filter})"),
            [value],
        )
        .map_err(db_err)?;
    }
    if filter.starts_with("business_id") && table_exists(tx, CENTRES)? {
        // Every vector of the business goes: its next centre is computed
        // once, from the new vectors, instead of carried over.
        tx.execute(&format!("DELETE FROM {CENTRES} WHERE business_id = ?1"), [value]).map_err(db_err)?;
    }
    Ok(())
}

fn table_exists(conn: &Connection, name: &str) -> Result<bool> {
    // Cached: a vector search asks this three times.
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = ?1)")
        .and_then(|mut s| s.query_row([name], |r| r.get(0)))
        .map_err(db_err)
}

fn as_blob(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|f| f.to_le_bytes()).collect()
}

fn from_blob(blob: &[u8]) -> Vec<f32> {
    blob.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// [`centred`], as a blob for vec_quantize_binary.
fn centred_blob(vector: &[f32], centre: Option<&[f32]>) -> Vec<u8> {
    as_blob(&centred(vector, centre))
}

/// Per (float vector table, business) mean vector. A table's vectors all
/// point roughly the same way (on a dense synthetic set their mean had
/// length 0.78), so plain sign bits say little about which of them is
/// nearest; the bits are the signs of each vector less its partition's
/// centre, and a question is quantised less the same centre. Kept per
/// business because the coarse scan never crosses partitions, so one
/// business's import never touches another's bits. Derived data: written
/// in the same transaction as the vectors and rebuilt from them at open.
/// Invariant: a partition's bits are quantised less its stored centre, or
/// less nothing when it has none (a database from before centres).
const CENTRES: &str = "knowledge_vec_centres";

/// A partition's centre is recomputed (and all its bits rewritten) when its
/// vector count has moved by more than 1/RECENTRE_DRIFT of the count it was
/// computed over; smaller edits quantise their new vectors less the stored
/// centre, which keeps the bits consistent and an edit cheap.
const RECENTRE_DRIFT: i64 = 8;

/// (vectors it was computed over, centre) of `business` in `table`.
fn centre_of(conn: &Connection, table: &str, business: &str) -> Result<Option<(i64, Vec<f32>)>> {
    if !table_exists(conn, CENTRES)? {
        return Ok(None);
    }
    conn.prepare_cached(&format!(
        "SELECT vectors, centre FROM {CENTRES} WHERE vec_table = ?1 AND business_id = ?2"
    ))
    .and_then(|mut s| {
        s.query_row([table, business], |r| Ok((r.get::<_, i64>(0)?, from_blob(&r.get::<_, Vec<u8>>(1)?))))
            .optional()
    })
    .map_err(db_err)
}

/// Recomputes `business`'s centre in `table` and rewrites all its bits when
/// it has none or its vector count drifted (see [`RECENTRE_DRIFT`]).
/// Returns the bit rows rewritten.
/// With `exact` (at open), any change of the count recomputes it.
fn settle(tx: &Transaction<'_>, table: &str, dim: usize, business: &str, exact: bool) -> Result<usize> {
    let Some(coarse) = coarse_table(table, dim) else { return Ok(0) };
    let count: i64 = tx
        .prepare_cached(&format!(
            "SELECT COUNT(*) FROM knowledge_chunks c JOIN {table} v ON v.rowid = c.id WHERE c.business_id = ?1"
        ))
        .and_then(|mut s| s.query_row([business], |r| r.get(0)))
        .map_err(db_err)?;
    let stored = centre_of(tx, table, business)?;
    if let Some((n, _)) = &stored {
        let drift = (count - n).abs();
        if drift == 0 || (!exact && drift * RECENTRE_DRIFT <= *n) {
            return Ok(0);
        }
    }
    coarse::advance(tx, business)?;
    let vectors: Vec<(i64, Vec<f32>)> = query_all(
        tx,
        &format!("SELECT v.rowid, v.embedding FROM knowledge_chunks c JOIN {table} v ON v.rowid = c.id WHERE c.business_id = ?1"),
        [business],
        |r| Ok((r.get(0)?, from_blob(&r.get::<_, Vec<u8>>(1)?))),
    )?;
    tx.prepare_cached(&format!(
        "DELETE FROM {coarse} WHERE rowid IN (SELECT id FROM knowledge_chunks WHERE business_id = ?1)"
    ))
    .and_then(|mut s| s.execute([business]))
    .map_err(db_err)?;
    if vectors.is_empty() {
        tx.execute(
            &format!("DELETE FROM {CENTRES} WHERE vec_table = ?1 AND business_id = ?2"),
            [table, business],
        )
        .map_err(db_err)?;
        return Ok(0);
    }
    let mut sum = vec![0f64; dim];
    for (_, v) in &vectors {
        for (s, x) in sum.iter_mut().zip(v) {
            *s += f64::from(*x);
        }
    }
    let centre: Vec<f32> = sum.iter().map(|s| (s / vectors.len() as f64) as f32).collect();
    tx.prepare_cached(&format!(
        "INSERT OR REPLACE INTO {CENTRES} (vec_table, business_id, vectors, centre) VALUES (?1, ?2, ?3, ?4)"
    ))
    .and_then(|mut s| s.execute(params![table, business, vectors.len() as i64, as_blob(&centre)]))
    .map_err(db_err)?;
    let mut insert = tx
        .prepare_cached(&format!(
            "INSERT INTO {coarse} (rowid, business_id, embedding) VALUES (?1, ?2, vec_quantize_binary(?3))"
        ))
        .map_err(db_err)?;
    for (id, v) in &vectors {
        insert.execute(params![id, business, centred_blob(v, Some(&centre))]).map_err(db_err)?;
    }
    Ok(vectors.len())
}

/// [`settle`]s every vector table's partition of `business`: at the end of
/// writing its documents.
pub(super) fn settle_business(tx: &Transaction<'_>, business: &str) -> Result<()> {
    for (table, dim) in float_tables(tx)? {
        settle(tx, &table, dim, business, false)?;
    }
    Ok(())
}

/// (name, dimension) of every float vector table.
fn float_tables(conn: &Connection) -> Result<Vec<(String, usize)>> {
    let tables: Vec<String> = query_all(
        conn,
        "SELECT name FROM sqlite_master WHERE name LIKE 'knowledge_vec_%'
         AND name NOT LIKE '%_bits' AND sql LIKE 'CREATE VIRTUAL TABLE%' AND sql LIKE '%float[%'",
        [],
        |r| r.get(0),
    )?;
    let mut out = Vec::new();
    for table in tables {
        let sql: String = conn
            .query_row("SELECT sql FROM sqlite_master WHERE name = ?1", [&table], |r| r.get(0))
            .map_err(db_err)?;
        out.extend(float_dim(&sql).map(|dim| (table, dim)));
    }
    Ok(out)
}

/// Nearest chunks by cosine distance, among those embedded by `model`:
/// the [`COARSE_CANDIDATES`] nearest by hamming distance of the sign bits,
/// re-scored by the exact cosine of their float vectors (from the copy in
/// memory, see `coarse.rs`, or from sqlite-vec when there is none). Without the bit
/// table (a read-only database never opened for writing since), every
/// float vector is scanned. `generation` is the business's as the question
/// read it (the copy is used only when it is of that one).
pub(super) fn vector_ranking(
    conn: &Connection,
    coarse_cache: &CoarseCache,
    business_id: &str,
    model: &str,
    vector: &[f32],
    generation: Option<i64>,
) -> Result<Vec<i64>> {
    let table = vec_table(model, vector.len());
    if vector.is_empty() || !table_exists(conn, &table)? {
        return Ok(Vec::new());
    }
    if let Some(coarse) =
        coarse_table(&table, vector.len()).filter(|t| table_exists(conn, t).unwrap_or(false))
    {
        // The business's vectors in memory when their generation says the
        // copy is current (its centre is read with it, once); sqlite-vec's
        // own scan otherwise.
        let partition = Partition { table: &table, bits: &coarse, business: business_id, model, generation };
        let read_centre = || Ok(centre_of(conn, &table, business_id)?.map(|(_, c)| c));
        if let Some(ids) =
            coarse_cache.nearest(conn, &partition, vector, read_centre, COARSE_CANDIDATES, CANDIDATES)?
        {
            return Ok(ids);
        }
        let centre = centre_of(conn, &table, business_id)?;
        let centred = centred(vector, centre.as_ref().map(|(_, c)| c.as_slice()));
        let sql = format!(
            "WITH coarse AS (SELECT rowid FROM {coarse}
                             WHERE embedding MATCH vec_quantize_binary(?6) AND k = ?2 AND business_id = ?3)
             SELECT v.rowid FROM coarse JOIN {table} v ON v.rowid = coarse.rowid
             JOIN knowledge_chunk_embeddings e ON e.chunk_id = v.rowid
             WHERE e.model = ?4 ORDER BY vec_distance_cosine(v.embedding, ?1), v.rowid LIMIT ?5"
        );
        return query_all(
            conn,
            &sql,
            params![
                as_blob(vector),
                COARSE_CANDIDATES as i64,
                business_id,
                model,
                CANDIDATES as i64,
                as_blob(&centred)
            ],
            |r| r.get(0),
        );
    }
    let sql = format!(
        "WITH knn AS (SELECT rowid, distance FROM {table}
                      WHERE embedding MATCH ?1 AND k = ?2 AND business_id = ?3)
         SELECT knn.rowid FROM knn JOIN knowledge_chunk_embeddings e ON e.chunk_id = knn.rowid
         WHERE e.model = ?4 ORDER BY knn.distance"
    );
    query_all(conn, &sql, params![as_blob(vector), CANDIDATES as i64, business_id, model], |r| r.get(0))
}

pub(super) fn chunks_to_embed(conn: &Connection, model: &str, limit: usize) -> Result<Vec<(i64, String)>> {
    query_all(
        conn,
        "SELECT c.id, d.title, c.content, c.heading FROM knowledge_chunks c
         JOIN knowledge_documents d ON d.id = c.document_id
         LEFT JOIN knowledge_chunk_embeddings e ON e.chunk_id = c.id AND e.model = ?1
         WHERE e.chunk_id IS NULL ORDER BY c.id LIMIT ?2",
        params![model, limit as i64],
        |r| {
            let title =
                retrieval::chunk_title(&r.get::<_, String>(1)?, r.get::<_, Option<String>>(3)?.as_deref());
            Ok((r.get(0)?, embedding_text(&title, &r.get::<_, String>(2)?)))
        },
    )
}

/// Embeds, with the embedded model, every chunk it has not embedded yet:
/// after an upgrade that changed the model (its id), or on a database
/// written before it existed. Runs when the store opens.
pub(super) fn embed_missing(conn: &mut Connection) -> Result<usize> {
    let Some(model) = local_model::get() else { return Ok(0) };
    let mut total = 0;
    loop {
        let batch = chunks_to_embed(conn, model.id(), 1000)?;
        if batch.is_empty() {
            return Ok(total);
        }
        let vectors: Vec<(i64, Vec<f32>)> = batch.iter().map(|(id, text)| (*id, model.embed(text))).collect();
        let tx = conn.transaction().map_err(db_err)?;
        save_embeddings(&tx, model.id(), &vectors)?;
        tx.commit().map_err(db_err)?;
        total += vectors.len();
    }
}

/// Stores vectors (from the indexer or the embedded model at open) and
/// settles the centres of the partitions they went into.
pub(super) fn save_embeddings(tx: &Transaction<'_>, model: &str, vectors: &[(i64, Vec<f32>)]) -> Result<()> {
    for (table, dim, business) in store_vectors(tx, model, vectors)? {
        settle(tx, &table, dim, &business, false)?;
    }
    Ok(())
}

/// Writes vectors and their bits (less their partition's centre; none yet
/// for a partition without one, whose [`settle`] writes them all). Returns
/// the (table, dimension, business) partitions written.
pub(super) fn store_vectors(
    tx: &Transaction<'_>,
    model: &str,
    vectors: &[(i64, Vec<f32>)],
) -> Result<std::collections::BTreeSet<(String, usize, String)>> {
    let ts = now();
    let mut touched = std::collections::BTreeSet::new();
    let mut centres = std::collections::HashMap::new();
    let mut created = std::collections::BTreeSet::new();
    let mut business_of =
        tx.prepare_cached("SELECT business_id FROM knowledge_chunks WHERE id = ?1").map_err(db_err)?;
    let mut record = tx
        .prepare_cached(
            "INSERT OR REPLACE INTO knowledge_chunk_embeddings (chunk_id, model, dim, embedded_at)
             VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(db_err)?;
    for (chunk_id, vector) in vectors {
        let business: Option<String> =
            business_of.query_row([chunk_id], |r| r.get(0)).optional().map_err(db_err)?;
        let Some(business) = business else { continue };
        let table = vec_table(model, vector.len());
        let coarse = coarse_table(&table, vector.len());
        if created.insert(table.clone()) {
            create_vec_tables(tx, &table, vector.len())?;
        }
        let blob = as_blob(vector);
        tx.prepare_cached(&format!("DELETE FROM {table} WHERE rowid = ?1"))
            .and_then(|mut s| s.execute([chunk_id]))
            .map_err(db_err)?;
        tx.prepare_cached(&format!(
            "INSERT INTO {table} (rowid, business_id, embedding) VALUES (?1, ?2, ?3)"
        ))
        .and_then(|mut s| s.execute(params![chunk_id, business, blob]))
        .map_err(db_err)?;
        if let Some(coarse) = coarse {
            tx.prepare_cached(&format!("DELETE FROM {coarse} WHERE rowid = ?1"))
                .and_then(|mut s| s.execute([chunk_id]))
                .map_err(db_err)?;
            let key = (table.clone(), business.clone());
            if !centres.contains_key(&key) {
                centres.insert(key.clone(), centre_of(tx, &table, &business)?.map(|(_, c)| c));
            }
            if let Some(Some(centre)) = centres.get(&key) {
                tx.prepare_cached(&format!(
                    "INSERT INTO {coarse} (rowid, business_id, embedding) VALUES (?1, ?2, vec_quantize_binary(?3))"
                ))
                .and_then(|mut s| s.execute(params![chunk_id, business, centred_blob(vector, Some(centre))]))
                .map_err(db_err)?;
            }
        }
        if !touched.iter().any(|(_, _, b)| *b == business) {
            coarse::advance(tx, &business)?;
        }
        touched.insert((table, vector.len(), business));
        record.execute(params![chunk_id, model, vector.len() as i64, ts]).map_err(db_err)?;
    }
    Ok(touched)
}

/// Rows in each storage chunk of a float vector table. sqlite-vec keeps a
/// chunk's vectors in one blob, and reading one vector walks that blob's
/// pages from its start: re-scoring a hundred candidates in the default
/// 1,024-row chunks (1 MB at 256 dimensions) cost more than the exact scan.
const FLOAT_CHUNK_ROWS: usize = 8;

/// Creates `table` (float vectors of `dim`, cosine) and its bit table.
fn create_vec_tables(tx: &Transaction<'_>, table: &str, dim: usize) -> Result<()> {
    tx.execute_batch(&format!(
        "CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING vec0(
             business_id text partition key, embedding float[{dim}] distance_metric=cosine,
             chunk_size={FLOAT_CHUNK_ROWS})"
    ))
    .map_err(db_err)?;
    tx.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {CENTRES} (
             vec_table TEXT NOT NULL, business_id TEXT NOT NULL, vectors INTEGER NOT NULL, centre BLOB NOT NULL,
             PRIMARY KEY (vec_table, business_id))"
    ))
    .map_err(db_err)?;
    if let Some(coarse) = coarse_table(table, dim) {
        tx.execute_batch(&format!(
            "CREATE VIRTUAL TABLE IF NOT EXISTS {coarse} USING vec0(
                 business_id text partition key, embedding bit[{dim}])"
        ))
        .map_err(db_err)?;
    }
    Ok(())
}

/// Brings every float vector table to the current layout and gives it its
/// bit table with exactly its rows, from the stored vectors (no
/// re-embedding): a table written in sqlite-vec's default chunks is copied
/// into small ones, a database written before bit tables existed (or by an
/// older frontdesk since) gets its bits. Runs when the store opens; returns
/// the vectors rewritten.
pub(super) fn prepare_vector_tables(conn: &mut Connection) -> Result<usize> {
    // Every open runs this (the server, each CLI command, each test): the
    // usual database needs nothing, and a read says so without the write
    // lock another process may hold.
    if vector_tables_current(conn)? {
        return Ok(0);
    }
    upgrade_vector_tables(conn)
}

/// The work of [`prepare_vector_tables`], under the write lock.
fn upgrade_vector_tables(conn: &mut Connection) -> Result<usize> {
    let tables = vector_table_sql(conn)?;
    // Immediate: take the write lock first, so a server already writing this
    // file makes us wait (busy timeout) instead of failing the upgrade of a
    // read transaction at once.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_err)?;
    let mut written = 0;
    for (table, sql) in tables {
        let Some(dim) = float_dim(&sql) else { continue };
        if !sql.contains("chunk_size") {
            // sqlite-vec tables cannot be renamed: copy out, recreate, copy back.
            tx.execute_batch(&format!(
                "CREATE TEMP TABLE knowledge_vec_move AS SELECT rowid AS id, business_id, embedding FROM {table};
                 DROP TABLE {table};"
            ))
            .map_err(db_err)?;
            create_vec_tables(&tx, &table, dim)?;
            written += tx
                .execute(
                    &format!(
                        "INSERT INTO {table} (rowid, business_id, embedding)
                         SELECT id, business_id, embedding FROM temp.knowledge_vec_move ORDER BY id"
                    ),
                    [],
                )
                .map_err(db_err)?;
            tx.execute_batch("DROP TABLE temp.knowledge_vec_move").map_err(db_err)?;
        }
        let Some(coarse) = coarse_table(&table, dim) else { continue };
        create_vec_tables(&tx, &table, dim)?;
        tx.execute(
            &format!(
                "DELETE FROM {coarse} WHERE rowid IN (SELECT rowid FROM {coarse} EXCEPT SELECT rowid FROM {table})"
            ),
            [],
        )
        .map_err(db_err)?;
        // A partition without a centre (a database from before them) or
        // whose vectors changed since (an older frontdesk writing the same
        // file) gets its centre and all its bits anew.
        let businesses: Vec<String> =
            query_all(&tx, &format!("SELECT DISTINCT business_id FROM {table}"), [], |r| r.get(0))?;
        for business in &businesses {
            written += settle(&tx, &table, dim, business, true)?;
        }
        tx.execute(
            &format!("DELETE FROM {CENTRES} WHERE vec_table = ?1 AND business_id NOT IN (SELECT DISTINCT business_id FROM {table})"),
            [&table],
        )
        .map_err(db_err)?;
        // Row by row: the bit subtype vec_quantize_binary gives its result
        // does not survive an INSERT ... SELECT.
        let missing: Vec<(i64, String, Vec<u8>)> = query_all(
            &tx,
            &format!(
                "SELECT rowid, business_id, embedding FROM {table}
                 WHERE rowid IN (SELECT rowid FROM {table} EXCEPT SELECT rowid FROM {coarse})"
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let mut insert = tx
            .prepare(&format!(
                "INSERT INTO {coarse} (rowid, business_id, embedding) VALUES (?1, ?2, vec_quantize_binary(?3))"
            ))
            .map_err(db_err)?;
        let mut centres = std::collections::HashMap::new();
        for (id, business, vector) in &missing {
            if !centres.contains_key(business) {
                centres.insert(business.clone(), centre_of(&tx, &table, business)?.map(|(_, c)| c));
            }
            let centre = centres.get(business).and_then(|c| c.as_deref());
            insert
                .execute(params![id, business, centred_blob(&from_blob(vector), centre)])
                .map_err(db_err)?;
        }
        written += missing.len();
    }
    coarse::advance_all(&tx)?;
    tx.commit().map_err(db_err)?;
    Ok(written)
}

/// (name, CREATE statement) of every vector table but the bit tables.
fn vector_table_sql(conn: &Connection) -> Result<Vec<(String, String)>> {
    query_all(
        conn,
        "SELECT name, sql FROM sqlite_master WHERE name LIKE 'knowledge_vec_%'
         AND name NOT LIKE '%_bits' AND sql LIKE 'CREATE VIRTUAL TABLE%'",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Whether [`prepare_vector_tables`] would find nothing to do, by reading
/// only: every float table in the current layout, its bit table holding
/// exactly its rows, and a centre for every partition computed over the
/// partition's current vector count (and none for a partition gone).
fn vector_tables_current(conn: &Connection) -> Result<bool> {
    for (table, sql) in vector_table_sql(conn)? {
        let Some(dim) = float_dim(&sql) else { continue };
        if !sql.contains("chunk_size") {
            return Ok(false);
        }
        let Some(coarse) = coarse_table(&table, dim) else { continue };
        if !table_exists(conn, &coarse)? || !table_exists(conn, CENTRES)? {
            return Ok(false);
        }
        // As many bit rows as vectors and none without its vector: the same rows.
        let (vectors, bits, stray): (i64, i64, bool) = conn
            .query_row(
                &format!(
                    "SELECT (SELECT COUNT(*) FROM {table}), (SELECT COUNT(*) FROM {coarse}),
                            EXISTS (SELECT rowid FROM {coarse} EXCEPT SELECT rowid FROM {table})"
                ),
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(db_err)?;
        if vectors != bits || stray {
            return Ok(false);
        }
        // A centre for each business, computed over its vectors' current
        // count, and none for a business without vectors. (Partitions are
        // read through the chunks: sqlite-vec's DISTINCT over the partition
        // key cost most of the check.)
        let counts: std::collections::BTreeMap<String, i64> = query_all(
            conn,
            &format!(
                "SELECT c.business_id, COUNT(*) FROM knowledge_chunks c JOIN {table} v ON v.rowid = c.id
                 GROUP BY c.business_id"
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
        .into_iter()
        .collect();
        let centres: std::collections::BTreeMap<String, i64> = query_all(
            conn,
            &format!("SELECT business_id, vectors FROM {CENTRES} WHERE vec_table = ?1"),
            [&table],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
        .into_iter()
        .collect();
        // A vector without its chunk is left to the upgrade as well.
        if counts.values().sum::<i64>() != vectors || counts != centres {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The dimension of a float vector table, from its CREATE statement.
fn float_dim(sql: &str) -> Option<usize> {
    let after = &sql[sql.find("float[")? + "float[".len()..];
    after[..after.find(']')?].trim().parse().ok()
}

#[cfg(test)]
mod coarse_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::{BusinessBundle, BusinessType, KnowledgeDoc};
    use crate::store::sqlite::SqliteStore;
    use crate::store::Store;

    const WORDS: &[&str] = &[
        "water",
        "heater",
        "pipe",
        "leak",
        "drain",
        "boiler",
        "furnace",
        "gas",
        "valve",
        "tank",
        "sink",
        "toilet",
        "shower",
        "faucet",
        "sewer",
        "camera",
        "quote",
        "price",
        "fee",
        "hour",
        "weekend",
        "saturday",
        "night",
        "emergency",
        "warranty",
        "permit",
        "licence",
        "insurance",
        "payment",
        "card",
        "cash",
        "invoice",
        "tenant",
        "landlord",
        "kitchen",
        "basement",
        "roof",
        "gutter",
        "frozen",
        "burst",
        "flood",
        "mould",
        "smell",
        "noise",
        "pressure",
        "filter",
        "softener",
        "pump",
        "sump",
        "backflow",
        "inspection",
        "install",
        "repair",
        "replace",
        "clean",
        "unclog",
        "estimate",
        "discount",
        "senior",
        "veteran",
        "area",
        "city",
        "county",
        "mile",
        "travel",
        "arrive",
        "schedule",
        "cancel",
        "reschedule",
        "technician",
        "apprentice",
        "van",
        "tool",
        "part",
        "copper",
        "plastic",
        "brass",
        "thermostat",
        "radiator",
        "vent",
        "chimney",
        "carbon",
        "detector",
        "alarm",
        "safety",
    ];

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % 1_000_003) as usize
        }
        fn sentence(&mut self, n: usize) -> String {
            (0..n).map(|_| WORDS[self.next() % WORDS.len()]).collect::<Vec<_>>().join(" ")
        }
    }

    /// A business of `docs` documents of one paragraph (one chunk) each.
    async fn business(store: &SqliteStore, rng: &mut Rng, docs: usize) -> String {
        let knowledge = (0..docs)
            .map(|d| KnowledgeDoc { title: format!("Note {d}"), content: rng.sentence(25), source_url: None })
            .collect();
        let bundle = BusinessBundle::with_knowledge(&format!("Co {docs}"), BusinessType::Plumbing, knowledge);
        store.import_business(bundle).await.unwrap().business_id.to_string()
    }

    /// (coarse then re-scored, exact scan of every float vector) top ids.
    async fn both(store: &SqliteStore, business: &str, query: &str) -> (Vec<i64>, Vec<i64>) {
        both_by(store, business, query, Coarse::InMemory).await
    }

    /// Which coarse scan [`both_by`] uses: the store's in-memory copy of the
    /// bits, or sqlite-vec's own scan (what a store falls back to).
    #[derive(Clone, Copy, Debug)]
    enum Coarse {
        InMemory,
        SqliteVec,
    }

    async fn both_by(store: &SqliteStore, business: &str, query: &str, how: Coarse) -> (Vec<i64>, Vec<i64>) {
        let model = local_model::get().unwrap();
        let (business, vector, id) = (business.to_string(), model.embed(query), model.id().to_string());
        let cache = match how {
            Coarse::InMemory => store.coarse.clone(),
            Coarse::SqliteVec => std::sync::Arc::new(CoarseCache::disabled()),
        };
        store
            .read(move |c| {
                let generation = cache.generation(c, &business)?;
                let coarse = vector_ranking(c, &cache, &business, &id, &vector, generation)?;
                let table = vec_table(&id, vector.len());
                let mut exact: Vec<(f64, i64)> = query_all(
                    c,
                    &format!(
                        "SELECT distance, rowid FROM {table} WHERE embedding MATCH ?1 AND k = ?2 AND business_id = ?3"
                    ),
                    params![as_blob(&vector), CANDIDATES as i64, business],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                exact.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                let exact = exact.into_iter().map(|(_, id)| id).collect();
                Ok((coarse, exact))
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_business_within_the_coarse_candidates_is_ranked_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("k.db")).unwrap();
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        // Another, larger business shares the tables: partitions keep it out.
        business(&store, &mut rng, COARSE_CANDIDATES * 2).await;
        let small = business(&store, &mut rng, COARSE_CANDIDATES - 20).await;
        for _ in 0..30 {
            let q = rng.sentence(4);
            let (coarse, exact) = both(&store, &small, &q).await;
            assert_eq!(coarse.len(), CANDIDATES);
            assert_eq!(coarse, exact, "{q}");
        }
    }

    #[tokio::test]
    async fn coarse_candidates_keep_the_exact_nearest() {
        for how in [Coarse::InMemory, Coarse::SqliteVec] {
            coarse_candidates_keep_the_exact_nearest_by(how).await;
        }
    }

    async fn coarse_candidates_keep_the_exact_nearest_by(how: Coarse) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("k.db")).unwrap();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let big = business(&store, &mut rng, 2_000).await;
        let (mut first, mut kept, mut total) = (0, 0, 0);
        let queries = 50;
        for _ in 0..queries {
            let (coarse, exact) = both_by(&store, &big, &rng.sentence(4), how).await;
            first += usize::from(coarse.first() == exact.first());
            kept += exact.iter().filter(|id| coarse.contains(id)).count();
            total += exact.len();
        }
        // Measured: 50/50 and 883/1000 with bits less the partition's
        // centre (49/50 and 820/1000 with plain sign bits). These 2,000
        // chunks share 85 words, so their vectors crowd together far more
        // than real passages do.
        eprintln!("coarse ({how:?}): nearest kept {first}/{queries}, top {CANDIDATES} kept {kept}/{total}");
        assert!(first >= 49, "the exact nearest chunk was lost {} times in {queries}", queries - first);
        assert!(kept * 100 >= total * 85, "{kept}/{total}");
    }

    #[tokio::test]
    async fn a_business_within_the_coarse_candidates_is_ranked_exactly_by_sqlite_vec_too() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("k.db")).unwrap();
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        business(&store, &mut rng, COARSE_CANDIDATES * 2).await;
        let small = business(&store, &mut rng, COARSE_CANDIDATES - 20).await;
        for _ in 0..10 {
            let q = rng.sentence(4);
            let (coarse, exact) = both_by(&store, &small, &q, Coarse::SqliteVec).await;
            assert_eq!(coarse, exact, "{q}");
        }
    }

    #[tokio::test]
    async fn an_edit_is_searched_at_once_though_the_bits_are_kept_in_memory() {
        use crate::store::AdminStore;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("k.db")).unwrap();
        let mut rng = Rng(0x5eed);
        let id = business(&store, &mut rng, COARSE_CANDIDATES * 3).await;
        let business_id = crate::ids::BusinessId::from(id.clone());
        let question = "how do I bleed a radiator that gurgles";
        // The copy is taken by this search; the edits below must replace it.
        let (before, _) = both(&store, &id, question).await;
        let doc = KnowledgeDoc {
            title: "Radiators".into(),
            content: "To bleed a radiator that gurgles, turn the bleed valve a quarter turn.".into(),
            source_url: None,
        };
        let added = store.add_knowledge(&business_id, doc).await.unwrap();
        let (after, exact) = both(&store, &id, question).await;
        assert_eq!(after.first(), exact.first(), "the new chunk is found through the bits");
        assert_ne!(before.first(), after.first());
        store.delete_knowledge(&business_id, &added.id).await.unwrap();
        let (gone, _) = both(&store, &id, question).await;
        assert_eq!(gone, before, "a deleted chunk leaves the copy too");
    }

    #[tokio::test]
    async fn an_imported_site_in_an_empty_knowledge_base_gets_its_bits() {
        use crate::store::imports::ImportStore;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("k.db")).unwrap();
        let mut rng = Rng(0xfeed);
        let id = business(&store, &mut rng, 0).await;
        let pages = (0..5)
            .map(|p| KnowledgeDoc {
                title: format!("Page {p}"),
                content: rng.sentence(30),
                source_url: Some(format!("https://example.test/{p}")),
            })
            .collect();
        store.sync_web_documents(&crate::ids::BusinessId::from(id.clone()), pages, None).await.unwrap();
        let model = local_model::get().unwrap();
        let table = vec_table(model.id(), model.dims());
        let bits = coarse_table(&table, model.dims()).unwrap();
        let count = |t: &str| rows(&store, format!("SELECT COUNT(*) FROM {t} WHERE business_id = '{id}'"));
        assert_eq!(count(&table).await, 5);
        assert_eq!(count(&bits).await, 5, "every page's vector has its bits, without a restart");
        let (coarse, exact) = both(&store, &id, &rng.sentence(4)).await;
        assert_eq!(coarse, exact);
        assert_eq!(coarse.len(), 5);
    }

    #[tokio::test]
    async fn a_database_from_before_the_counters_gets_them_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        let id = {
            let store = SqliteStore::open(&path).unwrap();
            let id = business(&store, &mut Rng(11), 30).await;
            // As the previous version left it: neither table, not yet migrated.
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(
                "DROP TABLE knowledge_vec_generations; DROP TABLE knowledge_chunk_counts;
                 DELETE FROM schema_migrations WHERE version >= 17;",
            )
            .unwrap();
            id
        };
        let store = SqliteStore::open(&path).unwrap();
        let sql = |t: &str| format!("SELECT {t} WHERE business_id = '{id}'");
        assert_eq!(rows(&store, sql("generation FROM knowledge_vec_generations")).await, 1);
        assert_eq!(rows(&store, sql("chunks FROM knowledge_chunk_counts")).await, 30);
        // Its searches take the in-memory copy at once (it ranks exactly within 100 chunks).
        let (coarse, exact) = both(&store, &id, "radiator valve leak").await;
        assert_eq!(coarse, exact);
    }

    #[tokio::test]
    async fn deleting_a_document_removes_its_vectors_and_bits() {
        use crate::store::AdminStore;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("k.db")).unwrap();
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let id = business(&store, &mut rng, 10).await;
        let business_id = crate::ids::BusinessId::from(id.clone());
        let model = local_model::get().unwrap();
        let table = vec_table(model.id(), model.embed("x").len());
        let count = |t: String| {
            let id = id.clone();
            let store = &store;
            async move {
                store
                    .read(move |c| {
                        c.query_row(&format!("SELECT count(*) FROM {t} WHERE business_id = ?1"), [id], |r| {
                            r.get::<_, i64>(0)
                        })
                        .map_err(db_err)
                    })
                    .await
                    .unwrap()
            }
        };
        assert_eq!((count(table.clone()).await, count(format!("{table}_bits")).await), (10, 10));
        let written =
            || rows(&store, format!("SELECT chunks FROM knowledge_chunk_counts WHERE business_id = '{id}'"));
        assert_eq!(written().await, 10, "the chunk count full text weighs words against");
        let doc: String = {
            let id = id.clone();
            store
                .read(move |c| {
                    c.query_row(
                        "SELECT id FROM knowledge_documents WHERE business_id = ?1 LIMIT 1",
                        [id],
                        |r| r.get(0),
                    )
                    .map_err(db_err)
                })
                .await
                .unwrap()
        };
        store.delete_knowledge(&business_id, &doc).await.unwrap();
        assert_eq!((count(table.clone()).await, count(format!("{table}_bits")).await), (9, 9));
        assert_eq!(written().await, 9);
    }

    #[tokio::test]
    async fn an_older_database_gets_the_vector_layout_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        let store = SqliteStore::open(&path).unwrap();
        let mut rng = Rng(7);
        let id = business(&store, &mut rng, 300).await;
        let q = rng.sentence(4);
        let before = both(&store, &id, &q).await;
        let model = local_model::get().unwrap();
        let table = vec_table(model.id(), model.dims());
        let coarse = coarse_table(&table, model.dims()).unwrap();
        assert_eq!(rows(&store, format!("SELECT COUNT(*) FROM {coarse}")).await, 300);
        // As written before bit tables existed: vectors in sqlite-vec's
        // default chunks, no bits.
        let old = format!(
            "DROP TABLE {coarse};
             CREATE TEMP TABLE moved AS SELECT rowid AS id, business_id, embedding FROM {table};
             DROP TABLE {table};
             CREATE VIRTUAL TABLE {table} USING vec0(
                 business_id text partition key, embedding float[{dims}] distance_metric=cosine);
             INSERT INTO {table} (rowid, business_id, embedding) SELECT id, business_id, embedding FROM moved;
             DROP TABLE moved;",
            dims = model.dims()
        );
        store.write(move |tx| tx.execute_batch(&old).map_err(db_err)).await.unwrap();
        let layout =
            format!("SELECT COUNT(*) FROM sqlite_master WHERE name = '{table}' AND sql LIKE '%chunk_size%'");
        assert_eq!(rows(&store, layout.clone()).await, 0);
        assert!(!current(&store).await);
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(rows(&store, layout).await, 1);
        assert!(current(&store).await);
        assert_eq!(rows(&store, format!("SELECT COUNT(*) FROM {table}")).await, 300);
        assert_eq!(rows(&store, format!("SELECT COUNT(*) FROM {coarse}")).await, 300);
        assert_eq!(both(&store, &id, &q).await, before);
        // As written before centres existed: plain sign bits, no centre.
        let centreless = format!(
            "DELETE FROM {CENTRES}; DELETE FROM {coarse};
             INSERT INTO {coarse} (rowid, business_id, embedding)
                 SELECT rowid, business_id, vec_quantize_binary(embedding) FROM {table};"
        );
        store.write(move |tx| tx.execute_batch(&centreless).map_err(db_err)).await.unwrap();
        assert_eq!(rows(&store, format!("SELECT COUNT(*) FROM {CENTRES}")).await, 0);
        assert!(!current(&store).await);
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(rows(&store, format!("SELECT vectors FROM {CENTRES}")).await, 300);
        assert_eq!(rows(&store, format!("SELECT COUNT(*) FROM {coarse}")).await, 300);
        assert_eq!(both(&store, &id, &q).await, before);
        // A bit row without its vector and a vector without its bit row, as
        // an older frontdesk writing the same file would leave them.
        let (stale, lost) = (
            format!("INSERT INTO {coarse} (rowid, business_id, embedding) VALUES (999999, ?1, vec_quantize_binary(?2))"),
            format!("DELETE FROM {coarse} WHERE rowid = (SELECT MIN(rowid) FROM {table})"),
        );
        let (business, half) = (id.clone(), as_blob(&vec![0.5; model.dims()]));
        store
            .write(move |tx| {
                tx.execute(&stale, params![business, half]).map_err(db_err)?;
                tx.execute(&lost, []).map_err(db_err)
            })
            .await
            .unwrap();
        // As many bit rows as vectors, but not the same rows.
        assert_eq!(rows(&store, format!("SELECT COUNT(*) FROM {coarse}")).await, 300);
        assert!(!current(&store).await);
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        assert!(current(&store).await);
        let missing = format!("SELECT COUNT(*) FROM {table} WHERE rowid NOT IN (SELECT rowid FROM {coarse})");
        let extra = format!("SELECT COUNT(*) FROM {coarse} WHERE rowid NOT IN (SELECT rowid FROM {table})");
        let (m, e) = (rows(&store, missing).await, rows(&store, extra).await);
        assert_eq!((m, e), (0, 0));
        assert_eq!(both(&store, &id, &q).await, before);
    }

    #[tokio::test]
    async fn an_unchanged_database_opens_without_waiting_for_the_write_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        let store = SqliteStore::open(&path).unwrap();
        let id = business(&store, &mut Rng(11), 40).await;
        assert!(current(&store).await);
        // One more document: its bits are quantised less the stored centre,
        // computed over 40 vectors, which the next open recomputes over 41.
        let doc = KnowledgeDoc {
            title: "Late".into(),
            content: "A late note on boilers.".into(),
            source_url: None,
        };
        crate::store::AdminStore::add_knowledge(&store, &crate::ids::BusinessId::from(id), doc)
            .await
            .unwrap();
        assert!(!current(&store).await);
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(rows(&store, format!("SELECT vectors FROM {CENTRES}")).await, 41);
        assert!(current(&store).await);
        drop(store);
        // Another process (the server) in the middle of a write.
        let holder = crate::store::sqlite::open_connection(&path, false).unwrap();
        holder.execute_batch("BEGIN IMMEDIATE").unwrap();
        let start = std::time::Instant::now();
        let store = SqliteStore::open(&path).unwrap();
        let waited = start.elapsed();
        holder.execute_batch("COMMIT").unwrap();
        // Taking the lock would have waited the whole busy timeout (5 s).
        assert!(waited < std::time::Duration::from_secs(2), "open waited {waited:?}");
        assert!(current(&store).await);
    }

    async fn current(store: &SqliteStore) -> bool {
        store.read(vector_tables_current).await.unwrap()
    }

    async fn rows(store: &SqliteStore, sql: String) -> i64 {
        store.read(move |c| c.query_row(&sql, [], |r| r.get(0)).map_err(db_err)).await.unwrap()
    }
}
