//! The coarse half of a nearest-neighbour search, in process memory: each
//! business's sign bits (read from its sqlite-vec bit table) kept as packed
//! words, scanned by hamming distance with a bounded selection of the
//! nearest. sqlite-vec's own k-nearest scan selects its top k by k passes
//! over every 1,024-row chunk, which for the 100 candidates the exact
//! re-scoring wants was most of a fused question's time over 10,000 chunks.
//! The copy is tagged with the business's generation
//! (`knowledge_vec_generations`), raised by every write to its vectors, so
//! it is reread after any change, by this process or another.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension};

use super::{db_err, query_all};
use crate::store::Result;

/// Memory the copies may take in all, bytes: about 3 million 256-dimension
/// chunks, far past what one appliance serves.
const BUDGET_BYTES: u64 = 128 << 20;

/// Every business's sign bits, per bit table.
pub(super) struct CoarseCache {
    copies: moka::sync::Cache<(String, String), Arc<Signs>>,
    enabled: bool,
}

/// One business's sign bits in one bit table.
struct Signs {
    generation: i64,
    ids: Vec<i64>,
    /// `words` u64 per vector, in the order of `ids`.
    bits: Vec<u64>,
    words: usize,
}

impl Default for CoarseCache {
    fn default() -> Self {
        let copies = moka::sync::Cache::builder()
            .max_capacity(BUDGET_BYTES)
            .weigher(|_, s: &Arc<Signs>| {
                let bytes = s.ids.len() * 8 + s.bits.len() * 8;
                u32::try_from(bytes).unwrap_or(u32::MAX)
            })
            .build();
        CoarseCache { copies, enabled: true }
    }
}

impl CoarseCache {
    /// A cache that keeps nothing and never answers: every search takes
    /// sqlite-vec's own scan (tests compare the two).
    #[cfg(test)]
    pub(super) fn disabled() -> CoarseCache {
        CoarseCache { copies: moka::sync::Cache::builder().max_capacity(0).build(), enabled: false }
    }
}

/// The business's generation: None when the table is missing (a file
/// never opened for writing since it came) or the business has none yet.
pub(super) fn generation(conn: &Connection, business: &str) -> Result<Option<i64>> {
    let exists: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'knowledge_vec_generations')",
        )
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(db_err)?;
    if !exists {
        return Ok(None);
    }
    conn.prepare_cached("SELECT generation FROM knowledge_vec_generations WHERE business_id = ?1")
        .and_then(|mut s| s.query_row([business], |r| r.get(0)).optional())
        .map_err(db_err)
}

/// Raises the business's generation: called in every transaction that
/// writes its vectors or bits.
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
    /// The `k` chunks of `business` whose bits in `table` are nearest the
    /// centred `query` (ties by chunk id), or None when this cannot answer:
    /// no generation to trust (the caller falls back to sqlite-vec's scan),
    /// or dimensions that are not whole words.
    pub(super) fn nearest(
        &self,
        conn: &Connection,
        table: &str,
        business: &str,
        query: &[f32],
        k: usize,
    ) -> Result<Option<Vec<i64>>> {
        if !self.enabled || query.is_empty() || !query.len().is_multiple_of(64) {
            return Ok(None);
        }
        let Some(generation) = generation(conn, business)? else { return Ok(None) };
        let key = (table.to_string(), business.to_string());
        let signs = match self.copies.get(&key).filter(|s| s.generation == generation) {
            Some(signs) => signs,
            None => {
                let signs = Arc::new(load(conn, table, business, generation, query.len() / 64)?);
                self.copies.insert(key, signs.clone());
                signs
            }
        };
        if signs.words != query.len() / 64 {
            return Ok(None);
        }
        Ok(Some(signs.nearest(&quantize(query), k)))
    }
}

fn load(conn: &Connection, table: &str, business: &str, generation: i64, words: usize) -> Result<Signs> {
    let rows: Vec<(i64, Vec<u8>)> = query_all(
        conn,
        &format!("SELECT rowid, embedding FROM {table} WHERE business_id = ?1"),
        [business],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mut signs = Signs { generation, ids: Vec::with_capacity(rows.len()), bits: Vec::new(), words };
    signs.bits.reserve(rows.len() * words);
    for (id, blob) in rows {
        if blob.len() != words * 8 {
            continue;
        }
        signs.ids.push(id);
        signs.bits.extend(words_of(&blob));
    }
    Ok(signs)
}

impl Signs {
    fn nearest(&self, query: &[u64], k: usize) -> Vec<i64> {
        let mut scored: Vec<(u32, i64)> = self
            .bits
            .chunks_exact(self.words)
            .zip(&self.ids)
            .map(|(v, &id)| (v.iter().zip(query).map(|(a, b)| (a ^ b).count_ones()).sum(), id))
            .collect();
        if scored.len() > k {
            scored.select_nth_unstable(k);
            scored.truncate(k);
        }
        scored.sort_unstable();
        scored.into_iter().map(|(_, id)| id).collect()
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn nearest_by_hamming_then_id() {
        let signs = Signs {
            generation: 1,
            ids: vec![10, 11, 12, 13],
            bits: vec![0b1111, 0b0001, 0b0011, 0b0000],
            words: 1,
        };
        assert_eq!(signs.nearest(&[0b0001], 2), vec![11, 12]);
        assert_eq!(signs.nearest(&[0b0000], 3), vec![13, 11, 12]);
        assert_eq!(signs.nearest(&[0b1111], 10), vec![10, 12, 11, 13]);
    }

    #[test]
    fn a_new_generation_rereads_the_bits() {
        let conn = db();
        conn.execute_batch(
            "CREATE TABLE knowledge_vec_generations (business_id TEXT PRIMARY KEY, generation INTEGER NOT NULL);
             CREATE VIRTUAL TABLE bits USING vec0(business_id text partition key, embedding bit[64]);",
        )
        .unwrap();
        let put = |id: i64, v: &[f32]| {
            let blob: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
            conn.execute(
                "INSERT INTO bits (rowid, business_id, embedding) VALUES (?1, 'b', vec_quantize_binary(?2))",
                rusqlite::params![id, blob],
            )
            .unwrap();
        };
        let up = vec![1.0f32; 64];
        let down = vec![-1.0f32; 64];
        put(1, &up);
        let cache = CoarseCache::default();
        assert_eq!(cache.nearest(&conn, "bits", "b", &up, 5).unwrap(), None, "no generation: not trusted");
        advance(&conn, "b").unwrap();
        assert_eq!(cache.nearest(&conn, "bits", "b", &down, 5).unwrap(), Some(vec![1]));
        put(2, &down);
        // Same generation: the copy stands (a writer always advances it).
        assert_eq!(cache.nearest(&conn, "bits", "b", &down, 5).unwrap(), Some(vec![1]));
        advance(&conn, "b").unwrap();
        assert_eq!(cache.nearest(&conn, "bits", "b", &down, 5).unwrap(), Some(vec![2, 1]));
        assert_eq!(cache.nearest(&conn, "bits", "other", &down, 5).unwrap(), None);
    }
}
