//! A business's nearest neighbours from a copy of its vectors in process
//! memory: the sign bits (from its sqlite-vec bit table) as packed words,
//! scanned by hamming distance with a bounded selection of the nearest, and
//! those candidates re-scored by the exact cosine of their float vectors
//! (from the float table). sqlite-vec's own k-nearest scan selects its top
//! k by k passes over every 1,024-row chunk, and reading a hundred single
//! vectors back costs a lookup each: together most of a fused question's
//! time over 10,000 chunks. sqlite-vec stays where the vectors live; the
//! copy is tagged with the business's generation
//! (`knowledge_vec_generations`), raised by every write to its vectors, so
//! it is reread after any change, by this process or another.
//!
//! The business's glossary, parsed, is kept beside the copies under the same
//! generation (a glossary write raises it too): a question reads the
//! generation once, and neither the vectors nor the glossary when it stands.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension};

use super::{db_err, query_all};
use crate::domain::Gloss;
use crate::retrieval::Glossary;
use crate::store::Result;

/// Memory the copies may take in all, bytes: about 120,000 chunks at 256
/// dimensions (1,068 bytes each); past it the least used business is
/// dropped and read again when next asked.
const BUDGET_BYTES: u64 = 128 << 20;

/// Businesses kept in memory for their glossary, at most (one entry is a
/// few hundred bytes to a few KiB).
const GLOSSARIES: u64 = 10_000;

/// Every business's vectors, per float table and model, and its glossary,
/// parsed: each tagged with the business's generation it was read at.
pub(super) struct CoarseCache {
    copies: moka::sync::Cache<(String, String, String), Arc<Signs>>,
    glossaries: moka::sync::Cache<String, (i64, Arc<Glossary>)>,
    enabled: bool,
    /// `knowledge_vec_generations` was seen in this store's file. It is
    /// never dropped, so once seen it is not looked for again; until then
    /// (a file never opened for writing since it came) every question looks.
    generations_seen: AtomicBool,
}

/// Where one business's vectors by one model are: the float table and its
/// bit table; and the business's generation as this question read it
/// ([`CoarseCache::generation`]).
pub(super) struct Partition<'a> {
    pub table: &'a str,
    pub bits: &'a str,
    pub business: &'a str,
    pub model: &'a str,
    pub generation: Option<i64>,
}

/// One business's vectors by one model.
struct Signs {
    generation: i64,
    ids: Vec<i64>,
    /// `words` u64 per vector, in the order of `ids`.
    bits: Vec<u64>,
    words: usize,
    /// `dim` floats per vector, in the order of `ids`, and each one's length.
    floats: Vec<f32>,
    norms: Vec<f32>,
    /// The partition's centre the bits were taken less (see `vectors.rs`).
    centre: Option<Vec<f32>>,
}

/// `vector` less `centre` (no centre, or one of another size, leaves it
/// as it is).
pub(super) fn centred(vector: &[f32], centre: Option<&[f32]>) -> Vec<f32> {
    match centre.filter(|c| c.len() == vector.len()) {
        Some(centre) => vector.iter().zip(centre).map(|(v, c)| v - c).collect(),
        None => vector.to_vec(),
    }
}

impl Default for CoarseCache {
    fn default() -> Self {
        let copies = moka::sync::Cache::builder()
            .max_capacity(BUDGET_BYTES)
            .weigher(|_, s: &Arc<Signs>| {
                let bytes = s.ids.len() * 12 + s.bits.len() * 8 + s.floats.len() * 4;
                u32::try_from(bytes).unwrap_or(u32::MAX)
            })
            .build();
        CoarseCache {
            copies,
            glossaries: glossaries(),
            enabled: true,
            generations_seen: AtomicBool::new(false),
        }
    }
}

fn glossaries() -> moka::sync::Cache<String, (i64, Arc<Glossary>)> {
    moka::sync::Cache::new(GLOSSARIES)
}

impl CoarseCache {
    /// A cache that keeps nothing and never answers: every search takes
    /// sqlite-vec's own scan (tests compare the two).
    #[cfg(test)]
    pub(super) fn disabled() -> CoarseCache {
        CoarseCache {
            copies: moka::sync::Cache::builder().max_capacity(0).build(),
            glossaries: glossaries(),
            enabled: false,
            generations_seen: AtomicBool::new(false),
        }
    }
}

impl CoarseCache {
    /// The business's generation: None when the table is missing (a file
    /// never opened for writing since it came) or the business has none yet.
    pub(super) fn generation(&self, conn: &Connection, business: &str) -> Result<Option<i64>> {
        if !self.generations_seen.load(Ordering::Relaxed) {
            let exists: bool = conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'knowledge_vec_generations')",
                )
                .and_then(|mut s| s.query_row([], |r| r.get(0)))
                .map_err(db_err)?;
            if !exists {
                return Ok(None);
            }
            self.generations_seen.store(true, Ordering::Relaxed);
        }
        read_generation(conn, business)
    }
}

impl CoarseCache {
    /// The business's glossary, parsed: the one kept when it is of
    /// `generation` (as this question read it), else `read` and kept. The
    /// generation is read before the glossary, so a write landing between
    /// the two leaves a glossary newer than its tag, read again next time,
    /// never an older one kept. Without a generation (a business whose
    /// glossary was written before the table came, and nothing since) it
    /// is read every time.
    pub(super) fn glossary(
        &self,
        business: &str,
        generation: Option<i64>,
        read: impl FnOnce() -> Result<Vec<Gloss>>,
    ) -> Result<Arc<Glossary>> {
        let Some(generation) = generation else { return Ok(Arc::new(Glossary::new(&read()?))) };
        if let Some((tag, glossary)) = self.glossaries.get(business) {
            if tag == generation {
                return Ok(glossary);
            }
        }
        let glossary = Arc::new(Glossary::new(&read()?));
        self.glossaries.insert(business.to_string(), (generation, glossary.clone()));
        Ok(glossary)
    }
}

/// The business's generation, from a table known to exist.
fn read_generation(conn: &Connection, business: &str) -> Result<Option<i64>> {
    conn.prepare_cached("SELECT generation FROM knowledge_vec_generations WHERE business_id = ?1")
        .and_then(|mut s| s.query_row([business], |r| r.get(0)).optional())
        .map_err(db_err)
}

/// Raises the business's generation: called in every transaction that
/// writes its vectors or bits, or its glossary.
pub(super) fn advance(conn: &Connection, business: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO knowledge_vec_generations (business_id, generation) VALUES (?1, 1)
         ON CONFLICT (business_id) DO UPDATE SET generation = generation + 1",
    )
    .and_then(|mut s| s.execute([business]))
    .map_err(db_err)?;
    Ok(())
}

/// Raises every business's generation (a layout upgrade rewrote them all).
pub(super) fn advance_all(conn: &Connection) -> Result<()> {
    conn.execute("UPDATE knowledge_vec_generations SET generation = generation + 1", []).map_err(db_err)?;
    Ok(())
}

/// A vector's sign bits as sqlite-vec's `vec_quantize_binary` packs them
/// (dimension i is bit i % 8 of byte i / 8, set when positive), read as
/// little-endian words. `vector.len()` is a multiple of 64 here.
fn quantize(vector: &[f32]) -> Vec<u64> {
    vector
        .chunks(64)
        .map(|dims| dims.iter().enumerate().fold(0u64, |w, (i, x)| w | (u64::from(*x > 0.0) << i)))
        .collect()
}

/// Packed bytes (as stored) to words: byte j of a word is bits 8j..8j+7,
/// which is how [`quantize`] numbers them.
fn words_of(blob: &[u8]) -> impl Iterator<Item = u64> + '_ {
    blob.chunks_exact(8).map(|b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
}

impl CoarseCache {
    /// The `k` chunks of the partition nearest `query` by cosine, from the
    /// `coarse` nearest by the sign bits of the query less the partition's
    /// centre (as its bits were taken; `read_centre` reads it when the copy
    /// is taken, so the two always agree); ties by chunk id. None
    /// when this cannot answer: no generation to trust (the caller falls
    /// back to sqlite-vec), or dimensions that are not whole words.
    pub(super) fn nearest(
        &self,
        conn: &Connection,
        p: &Partition<'_>,
        query: &[f32],
        read_centre: impl FnOnce() -> Result<Option<Vec<f32>>>,
        coarse: usize,
        k: usize,
    ) -> Result<Option<Vec<i64>>> {
        if !self.enabled || query.is_empty() || !query.len().is_multiple_of(64) {
            return Ok(None);
        }
        let Some(generation) = p.generation else { return Ok(None) };
        let key = (p.table.to_string(), p.business.to_string(), p.model.to_string());
        let signs = match self.copies.get(&key).filter(|s| s.generation == generation) {
            Some(signs) => signs,
            None => {
                let Some(signs) = load(conn, p, query.len(), read_centre)? else { return Ok(None) };
                let signs = Arc::new(signs);
                self.copies.insert(key, signs.clone());
                signs
            }
        };
        if signs.words * 64 != query.len() {
            return Ok(None);
        }
        let candidates = signs.coarse(&quantize(&centred(query, signs.centre.as_deref())), coarse);
        Ok(Some(signs.rescore(query, candidates, k)))
    }
}

/// The partition's copy, tagged with the generation it is of: the
/// generation, the vectors and the centre are read in one read transaction
/// (one snapshot), so a write landing between the statements cannot give a
/// copy that mixes two generations. None when the business has no
/// generation.
fn load(
    conn: &Connection,
    p: &Partition<'_>,
    dim: usize,
    read_centre: impl FnOnce() -> Result<Option<Vec<f32>>>,
) -> Result<Option<Signs>> {
    // A reader is in autocommit between uses; a caller already inside a
    // transaction reads one snapshot as it is. Dropped unfinished, it rolls back.
    let snapshot =
        if conn.is_autocommit() { Some(conn.unchecked_transaction().map_err(db_err)?) } else { None };
    let Some(generation) = read_generation(conn, p.business)? else { return Ok(None) };
    let mut signs = read_vectors(conn, p, generation, dim)?;
    signs.centre = read_centre()?;
    if let Some(snapshot) = snapshot {
        snapshot.commit().map_err(db_err)?;
    }
    Ok(Some(signs))
}

/// The partition's vectors: its bits and its floats, only chunks that have
/// both and whose recorded embedding is by the partition's model (a float
/// table of one size is shared by every OpenAI model of that size).
fn read_vectors(conn: &Connection, p: &Partition<'_>, generation: i64, dim: usize) -> Result<Signs> {
    let by_model: std::collections::HashSet<i64> = query_all(
        conn,
        "SELECT e.chunk_id FROM knowledge_chunks c JOIN knowledge_chunk_embeddings e ON e.chunk_id = c.id
         WHERE c.business_id = ?1 AND e.model = ?2",
        [p.business, p.model],
        |r| r.get(0),
    )?
    .into_iter()
    .collect();
    let floats: std::collections::HashMap<i64, Vec<u8>> = query_all(
        conn,
        &format!("SELECT rowid, embedding FROM {} WHERE business_id = ?1", p.table),
        [p.business],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?
    .into_iter()
    .filter(|(id, blob): &(i64, Vec<u8>)| by_model.contains(id) && blob.len() == dim * 4)
    .collect();
    let mut bits: Vec<(i64, Vec<u8>)> = query_all(
        conn,
        &format!("SELECT rowid, embedding FROM {} WHERE business_id = ?1", p.bits),
        [p.business],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    bits.retain(|(id, blob)| floats.contains_key(id) && blob.len() * 8 == dim);
    bits.sort_unstable_by_key(|(id, _)| *id);
    let words = dim / 64;
    let mut signs = Signs {
        generation,
        ids: Vec::with_capacity(bits.len()),
        bits: Vec::with_capacity(bits.len() * words),
        words,
        floats: Vec::with_capacity(bits.len() * dim),
        norms: Vec::with_capacity(bits.len()),
        centre: None,
    };
    for (id, blob) in bits {
        let Some(vector) = floats.get(&id) else { continue };
        let start = signs.floats.len();
        signs.floats.extend(vector.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])));
        signs.norms.push(norm(&signs.floats[start..]));
        signs.ids.push(id);
        signs.bits.extend(words_of(&blob));
    }
    Ok(signs)
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

impl Signs {
    /// Indexes (into `ids`) of the `k` vectors nearest `query`'s bits.
    fn coarse(&self, query: &[u64], k: usize) -> Vec<usize> {
        let mut scored: Vec<(u32, i64, usize)> = self
            .bits
            .chunks_exact(self.words)
            .zip(&self.ids)
            .enumerate()
            .map(|(i, (v, &id))| (v.iter().zip(query).map(|(a, b)| (a ^ b).count_ones()).sum(), id, i))
            .collect();
        if scored.len() > k {
            scored.select_nth_unstable(k);
            scored.truncate(k);
        }
        scored.into_iter().map(|(_, _, i)| i).collect()
    }

    /// The `k` of `candidates` nearest `query` by cosine distance (as
    /// sqlite-vec's `vec_distance_cosine`), ties by chunk id.
    fn rescore(&self, query: &[f32], candidates: Vec<usize>, k: usize) -> Vec<i64> {
        let dim = query.len();
        let query_norm = norm(query);
        let mut scored: Vec<(f32, i64)> = candidates
            .into_iter()
            .map(|i| {
                let v = &self.floats[i * dim..(i + 1) * dim];
                let dot: f32 = v.iter().zip(query).map(|(a, b)| a * b).sum();
                let lengths = self.norms[i] * query_norm;
                let distance = if lengths > 0.0 { 1.0 - dot / lengths } else { f32::MAX };
                (distance, self.ids[i])
            })
            .collect();
        scored.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        scored.into_iter().take(k).map(|(_, id)| id).collect()
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::functions::FunctionFlags;

    use super::*;

    fn db() -> Connection {
        super::super::register_extensions();
        Connection::open_in_memory().unwrap()
    }

    #[test]
    fn bits_match_sqlite_vec_quantisation() {
        let conn = db();
        let v: Vec<f32> = (0..256).map(|i| ((i * 37 % 11) as f32 - 5.0) / 3.0).collect();
        let blob: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
        let stored: Vec<u8> = conn.query_row("SELECT vec_quantize_binary(?1)", [blob], |r| r.get(0)).unwrap();
        assert_eq!(words_of(&stored).collect::<Vec<_>>(), quantize(&v));
    }

    fn signs(ids: Vec<i64>, bits: Vec<u64>, floats: Vec<f32>) -> Signs {
        let dim = floats.len() / ids.len();
        let norms = floats.chunks(dim).map(norm).collect();
        Signs { generation: 1, ids, bits, words: 1, floats, norms, centre: None }
    }

    #[test]
    fn candidates_by_hamming_then_id_then_ranked_by_cosine() {
        let s = signs(
            vec![10, 11, 12, 13],
            vec![0b1111, 0b0001, 0b0011, 0b0000],
            vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0, -1.0, 0.0],
        );
        let ids = |ix: Vec<usize>| ix.into_iter().map(|i| s.ids[i]).collect::<Vec<_>>();
        let mut two = ids(s.coarse(&[0b0001], 2));
        two.sort_unstable();
        assert_eq!(two, vec![11, 12], "11 at distance 0, then 12 before 13 (both at 1) by id");
        assert_eq!(ids(s.coarse(&[0b1111], 10)).len(), 4);
        // Cosine to (1, 0): 10 is 0, 12 is 1 - 1/sqrt 2, 11 is 1, 13 is 2.
        assert_eq!(s.rescore(&[1.0, 0.0], vec![0, 1, 2, 3], 3), vec![10, 12, 11]);
        assert_eq!(s.rescore(&[1.0, 0.0], vec![3, 1], 5), vec![11, 13], "only the candidates");
    }

    #[test]
    fn without_the_generations_table_the_copy_is_not_trusted_until_it_comes() {
        let conn = db();
        conn.execute_batch(
            "CREATE TABLE knowledge_chunks (id INTEGER PRIMARY KEY, business_id TEXT);
             CREATE TABLE knowledge_chunk_embeddings (chunk_id INTEGER, model TEXT);
             CREATE VIRTUAL TABLE floats USING vec0(business_id text partition key, embedding float[64]);
             CREATE VIRTUAL TABLE bits USING vec0(business_id text partition key, embedding bit[64]);",
        )
        .unwrap();
        let cache = CoarseCache::default();
        let p =
            |generation| Partition { table: "floats", bits: "bits", business: "b", model: "m", generation };
        let up: Vec<f32> = (0..64).map(|i| 1.0 + i as f32 / 64.0).collect();
        // A file never opened for writing since it came: sqlite-vec's scan, every time.
        assert_eq!(cache.generation(&conn, "b").unwrap(), None);
        assert_eq!(cache.nearest(&conn, &p(None), &up, || Ok(None), 5, 5).unwrap(), None);
        assert_eq!(cache.generation(&conn, "b").unwrap(), None, "still looked for");
        // A writer migrates it: the next question sees the table and the copy is used.
        conn.execute_batch(
            "CREATE TABLE knowledge_vec_generations (business_id TEXT PRIMARY KEY, generation INTEGER NOT NULL);",
        )
        .unwrap();
        assert_eq!(cache.generation(&conn, "b").unwrap(), None, "no row yet");
        advance(&conn, "b").unwrap();
        assert_eq!(cache.generation(&conn, "b").unwrap(), Some(1));
        assert_eq!(cache.nearest(&conn, &p(Some(1)), &up, || Ok(None), 5, 5).unwrap(), Some(vec![]));
        assert!(cache.generations_seen.load(Ordering::Relaxed), "not looked for again");
    }

    #[test]
    fn the_copy_and_its_generation_are_one_snapshot() {
        super::super::register_extensions();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let writer = Connection::open(&path).unwrap();
        writer.pragma_update(None, "journal_mode", "WAL").unwrap();
        // `meanwhile()` does nothing here; on the reader it is another process's write.
        writer.create_scalar_function("meanwhile", 0, FunctionFlags::SQLITE_UTF8, |_| Ok(1)).unwrap();
        writer
            .execute_batch(
                "CREATE TABLE knowledge_vec_generations (business_id TEXT PRIMARY KEY, generation INTEGER NOT NULL);
                 CREATE TABLE knowledge_chunks (id INTEGER PRIMARY KEY, business_id TEXT);
                 CREATE TABLE knowledge_chunk_embeddings (chunk_id INTEGER, model TEXT);
                 CREATE VIRTUAL TABLE floats USING vec0(business_id text partition key, embedding float[64]);
                 CREATE VIRTUAL TABLE bits USING vec0(business_id text partition key, embedding bit[64]);
                 INSERT INTO knowledge_chunks VALUES (1, 'b'); INSERT INTO knowledge_chunk_embeddings VALUES (1, 'm');
                 CREATE VIEW floats_then_a_write AS
                     SELECT rowid AS rowid, business_id, embedding FROM floats WHERE meanwhile();",
            )
            .unwrap();
        let put = |conn: &Connection, v: &[f32]| {
            let blob: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
            conn.execute_batch("DELETE FROM floats WHERE rowid = 1; DELETE FROM bits WHERE rowid = 1;")
                .unwrap();
            conn.execute("INSERT INTO floats (rowid, business_id, embedding) VALUES (1, 'b', ?1)", [&blob])
                .unwrap();
            conn.execute(
                "INSERT INTO bits (rowid, business_id, embedding) VALUES (1, 'b', vec_quantize_binary(?1))",
                [&blob],
            )
            .unwrap();
            advance(conn, "b").unwrap();
        };
        let up: Vec<f32> = (0..64).map(|i| 1.0 + i as f32 / 64.0).collect();
        let down: Vec<f32> = up.iter().map(|x| -x).collect();
        put(&writer, &up);
        // While the floats are read, another connection rewrites chunk 1 and
        // raises the generation: the bits, read next, must not be the new ones.
        let reader = Connection::open(&path).unwrap();
        let other = std::sync::Mutex::new(Some(writer));
        reader
            .create_scalar_function("meanwhile", 0, FunctionFlags::SQLITE_UTF8, move |_| {
                if let Some(conn) = other.lock().unwrap().take() {
                    put(&conn, &down);
                }
                Ok(1)
            })
            .unwrap();
        let cache = CoarseCache::default();
        let generation = cache.generation(&reader, "b").unwrap();
        let p =
            Partition { table: "floats_then_a_write", bits: "bits", business: "b", model: "m", generation };
        assert_eq!(cache.nearest(&reader, &p, &up, || Ok(None), 5, 5).unwrap(), Some(vec![1]));
        let copy = cache.copies.get(&("floats_then_a_write".into(), "b".into(), "m".into())).unwrap();
        assert_eq!(read_generation(&reader, "b").unwrap(), Some(2), "the write landed");
        assert_eq!(copy.generation, 1, "the copy is of the generation before the write");
        assert_eq!(copy.bits, quantize(&copy.floats), "its bits and floats are of one generation");
        assert_eq!(copy.floats, up);
        assert!(reader.is_autocommit(), "the snapshot is closed");
    }

    #[test]
    fn a_glossary_is_read_again_only_at_another_generation() {
        let cache = CoarseCache::default();
        let reads = std::cell::Cell::new(0);
        let entry = |words: &str| vec![Gloss { phrase: "wibble".into(), words: words.into() }];
        let glossary = |generation, words: &str| {
            let g = cache
                .glossary("b", generation, || {
                    reads.set(reads.get() + 1);
                    Ok(entry(words))
                })
                .unwrap();
            (g.query_words("wibble").contains(&"zorblat".to_string()), reads.get())
        };
        assert_eq!(glossary(Some(1), "zorblat"), (true, 1));
        assert_eq!(glossary(Some(1), "other"), (true, 1), "kept: not read again");
        assert_eq!(glossary(Some(2), "other"), (false, 2), "a write raised the generation");
        assert_eq!(glossary(None, "zorblat"), (true, 3), "no generation: read every time");
        assert_eq!(glossary(None, "zorblat"), (true, 4));
        assert_eq!(glossary(Some(2), "zorblat"), (false, 4), "what was kept at 2 stands");
    }

    #[test]
    fn a_new_generation_rereads_the_vectors() {
        let conn = db();
        conn.execute_batch(
            "CREATE TABLE knowledge_vec_generations (business_id TEXT PRIMARY KEY, generation INTEGER NOT NULL);
             CREATE TABLE knowledge_chunks (id INTEGER PRIMARY KEY, business_id TEXT);
             CREATE TABLE knowledge_chunk_embeddings (chunk_id INTEGER, model TEXT);
             CREATE VIRTUAL TABLE floats USING vec0(business_id text partition key, embedding float[64]);
             CREATE VIRTUAL TABLE bits USING vec0(business_id text partition key, embedding bit[64]);",
        )
        .unwrap();
        let put = |id: i64, model: &str, v: &[f32]| {
            let blob: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
            conn.execute_batch(&format!(
                "INSERT INTO knowledge_chunks VALUES ({id}, 'b'); INSERT INTO knowledge_chunk_embeddings VALUES ({id}, '{model}');"
            ))
            .unwrap();
            conn.execute(
                "INSERT INTO floats (rowid, business_id, embedding) VALUES (?1, 'b', ?2)",
                rusqlite::params![id, blob],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO bits (rowid, business_id, embedding) VALUES (?1, 'b', vec_quantize_binary(?2))",
                rusqlite::params![id, blob],
            )
            .unwrap();
        };
        let up: Vec<f32> = (0..64).map(|i| 1.0 + i as f32 / 64.0).collect();
        let down: Vec<f32> = up.iter().map(|x| -x).collect();
        put(1, "m", &up);
        let cache = CoarseCache::default();
        let near = |v: &[f32], business| {
            let generation = cache.generation(&conn, business).unwrap();
            let p = Partition { table: "floats", bits: "bits", business, model: "m", generation };
            cache.nearest(&conn, &p, v, || Ok(None), 5, 5).unwrap()
        };
        assert_eq!(near(&up, "b"), None, "no generation: not trusted");
        advance(&conn, "b").unwrap();
        assert_eq!(near(&down, "b"), Some(vec![1]));
        put(2, "m", &down);
        // Same generation: the copy stands (a writer always advances it).
        assert_eq!(near(&down, "b"), Some(vec![1]));
        advance(&conn, "b").unwrap();
        assert_eq!(near(&down, "b"), Some(vec![2, 1]));
        // Another model's vector in the same table is not this model's neighbour.
        put(3, "other", &down);
        advance(&conn, "b").unwrap();
        assert_eq!(near(&down, "b"), Some(vec![2, 1]));
        assert_eq!(near(&down, "nobody"), None);
    }
}
