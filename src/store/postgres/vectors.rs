//! The nearest chunks by meaning, without pgvector: a business's embeddings
//! (`real[]`) ranked by cosine similarity in this process.
//!
//! Reading every vector for every question costs a 10,000-chunk business
//! about 10 MB from Postgres per search, so each process keeps the vectors
//! it read, and reads them again only when a cheap stamp query says they
//! changed (on any instance).
//!
//! Why the stamp (count, max and sum of chunk ids) is enough: a chunk's text
//! never changes (an edit re-chunks the document under new ids), its vector
//! for a model is a function of that text, and ids come from an identity, so
//! never return. Any insert adds an id; any delete removes one.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::GenericClient;
use moka::future::Cache;

use super::{db_err, get};
use crate::store::Result;

/// Memory the cached vectors may take in one process (a 10,000-chunk
/// business with 256-dimension vectors is about 10 MB).
const CACHE_BYTES: u64 = 64 << 20;
/// A bound on staleness, should the stamp ever miss a change.
const CACHE_TTL: Duration = Duration::from_secs(600);

/// (count, max, sum) of the chunk ids that have a vector.
type Stamp = (i64, i64, i64);

/// One business's vectors of one model and dimension.
pub(super) struct Vectors {
    stamp: Stamp,
    ids: Vec<i64>,
    /// Unit-length (or zero) vectors, one after another.
    data: Vec<f32>,
}

/// Keyed by (business, model, dimension).
pub(super) type VectorCache = Cache<(String, String, i64), Arc<Vectors>>;

pub(super) fn cache() -> VectorCache {
    Cache::builder()
        .weigher(|_, v: &Arc<Vectors>| u32::try_from(v.data.len() * 4 + v.ids.len() * 8).unwrap_or(u32::MAX))
        .max_capacity(CACHE_BYTES)
        .time_to_live(CACHE_TTL)
        .build()
}

/// `v` scaled to unit length (left as it is when zero).
fn normalised(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

const WHERE: &str = "WHERE business_id = $1 AND model = $2 AND dim = $3";

async fn stamp(c: &impl GenericClient, business_id: &str, model: &str, dim: i64) -> Result<Stamp> {
    let sql = format!(
        "SELECT COUNT(*), COALESCE(MAX(chunk_id), 0), COALESCE(SUM(chunk_id), 0)::bigint
         FROM knowledge_chunk_embeddings {WHERE}"
    );
    let row = c.query_one(&sql, &[&business_id, &model, &dim]).await.map_err(db_err)?;
    Ok((get(&row, 0)?, get(&row, 1)?, get(&row, 2)?))
}

async fn load(c: &impl GenericClient, business_id: &str, model: &str, dim: i64) -> Result<Vectors> {
    let sql = format!("SELECT chunk_id, embedding FROM knowledge_chunk_embeddings {WHERE} ORDER BY chunk_id");
    let rows = c.query(&sql, &[&business_id, &model, &dim]).await.map_err(db_err)?;
    let (mut ids, mut data) = (Vec::with_capacity(rows.len()), Vec::new());
    for r in &rows {
        let v: Vec<f32> = get(r, 1)?;
        if v.len() as i64 != dim {
            continue;
        }
        ids.push(get::<i64>(r, 0)?);
        data.extend(normalised(v));
    }
    // The stamp of exactly what was read, so a write in between shows next time.
    let stamp = (ids.len() as i64, ids.last().copied().unwrap_or(0), ids.iter().sum());
    Ok(Vectors { stamp, ids, data })
}

/// The `limit` chunks of `business_id` nearest to `vector` by cosine
/// similarity, among those `model` embedded; ties by chunk id.
pub(super) async fn ranking(
    c: &impl GenericClient,
    cache: &VectorCache,
    business_id: &str,
    model: &str,
    vector: &[f32],
    limit: usize,
) -> Result<Vec<i64>> {
    if vector.is_empty() {
        return Ok(Vec::new());
    }
    let dim = vector.len() as i64;
    let key = (business_id.to_string(), model.to_string(), dim);
    let current = stamp(c, business_id, model, dim).await?;
    let vectors = match cache.get(&key).await {
        Some(v) if v.stamp == current => v,
        _ => {
            let v = Arc::new(load(c, business_id, model, dim).await?);
            cache.insert(key, v.clone()).await;
            v
        }
    };
    let query = normalised(vector.to_vec());
    let mut scored: Vec<(i64, f32)> = vectors
        .ids
        .iter()
        .zip(vectors.data.chunks_exact(vector.len()))
        .map(|(id, v)| (*id, v.iter().zip(&query).map(|(a, b)| a * b).sum()))
        .collect();
    let by_score = |a: &(i64, f32), b: &(i64, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if scored.len() > limit {
        scored.select_nth_unstable_by(limit, by_score);
        scored.truncate(limit);
    }
    scored.sort_by(by_score);
    Ok(scored.into_iter().map(|(id, _)| id).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_keeps_direction_and_zero() {
        let v = normalised(vec![3.0, 4.0]);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6, "{v:?}");
        assert_eq!(normalised(vec![0.0, 0.0]), [0.0, 0.0]);
    }
}
