//! Knowledge retrieval on Postgres: chunks with a stored `tsvector` ranked
//! by `ts_rank`, and the engine's embeddings (the embedded model's always,
//! an OpenAI model's when configured) kept as `real[]` and ranked by cosine
//! similarity in this process (`vectors`); the two rankings fused by
//! reciprocal rank, as on SQLite.

use std::sync::atomic::{AtomicBool, Ordering};

use deadpool_postgres::GenericClient;

use super::vectors::VectorCache;
use super::{db_err, get, get_json, to_json, PgStore};
use crate::agent::local_model;
use crate::domain::{now, Gloss};
use crate::retrieval::{self, Passage};
use crate::store::{KnowledgeQuery, Result, StoreError};

/// Candidates taken from each ranking before fusion.
const CANDIDATES: usize = 20;
/// The usual reciprocal-rank-fusion constant.
const RRF_K: f64 = 60.0;

/// Whether pgvector was looked for (and the outcome logged) in this process.
static PROBED: AtomicBool = AtomicBool::new(false);

/// Tries to enable pgvector; its absence is normal (logged once, never an error).
pub(super) async fn probe_pgvector(c: &impl GenericClient) {
    let result = c.batch_execute("CREATE EXTENSION IF NOT EXISTS vector").await;
    if PROBED.swap(true, Ordering::Relaxed) {
        return;
    }
    match result {
        Ok(()) => tracing::info!("pgvector is available; knowledge embeddings are ranked in this process"),
        Err(e) => tracing::info!(
            reason = %super::describe(&e),
            "pgvector is not available: knowledge search uses Postgres full-text with embeddings ranked in this process"
        ),
    }
}

/// What a chunk's vector is computed from: its document's title and its text.
fn embedding_text(title: &str, content: &str) -> String {
    format!("{title}\n{content}")
}

/// Re-chunks every document of a business.
pub(super) async fn index_documents(c: &impl GenericClient, business_id: &str) -> Result<()> {
    c.execute("DELETE FROM knowledge_chunks WHERE business_id = $1", &[&business_id])
        .await
        .map_err(db_err)?;
    let docs = c
        .query("SELECT id, title, content FROM knowledge_documents WHERE business_id = $1", &[&business_id])
        .await
        .map_err(db_err)?;
    for r in &docs {
        chunk_document(c, business_id, &get::<String>(r, 0)?, &get::<String>(r, 1)?, &get::<String>(r, 2)?)
            .await?;
    }
    refresh_terms(c, business_id).await
}

/// Re-chunks one document (after an edit or a delete), leaving the others alone.
pub(super) async fn index_document(c: &impl GenericClient, business_id: &str, doc_id: &str) -> Result<()> {
    rechunk_document(c, business_id, doc_id).await?;
    refresh_terms(c, business_id).await
}

/// Re-chunks one document without recounting the business's words: for
/// writing many documents, with one [`refresh_terms`] at the end.
pub(super) async fn rechunk_document(c: &impl GenericClient, business_id: &str, doc_id: &str) -> Result<()> {
    c.execute("DELETE FROM knowledge_chunks WHERE document_id = $1", &[&doc_id]).await.map_err(db_err)?;
    let doc = c
        .query_opt(
            "SELECT title, content FROM knowledge_documents WHERE id = $1 AND business_id = $2",
            &[&doc_id, &business_id],
        )
        .await
        .map_err(db_err)?;
    if let Some(r) = doc {
        chunk_document(c, business_id, doc_id, &get::<String>(&r, 0)?, &get::<String>(&r, 1)?).await?;
    }
    Ok(())
}

async fn chunk_document(
    c: &impl GenericClient,
    business_id: &str,
    doc_id: &str,
    title: &str,
    content: &str,
) -> Result<()> {
    let insert = c
        .prepare_cached(
            "INSERT INTO knowledge_chunks (document_id, business_id, position, content, heading)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .await
        .map_err(db_err)?;
    let mut vectors = Vec::new();
    for (position, chunk) in retrieval::chunk_sections(content).iter().enumerate() {
        let row = c
            .query_one(&insert, &[&doc_id, &business_id, &(position as i64), &chunk.text, &chunk.heading])
            .await
            .map_err(db_err)?;
        if let Some(model) = local_model::get() {
            let title = retrieval::chunk_title(title, chunk.heading.as_deref());
            vectors.push((get::<i64>(&row, 0)?, model.embed(&embedding_text(&title, &chunk.text))));
        }
    }
    if let Some(model) = local_model::get() {
        save_embeddings(c, model.id(), &vectors).await?;
    }
    c.execute("UPDATE knowledge_documents SET indexed_at = $1 WHERE id = $2", &[&now(), &doc_id])
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Recounts the business's document frequencies from its chunks.
pub(super) async fn refresh_terms(c: &impl GenericClient, business_id: &str) -> Result<()> {
    // One writer per business at a time, until its transaction ends: two
    // concurrent recounts would each delete, then insert the same terms, and
    // the second would fail on the primary key (an upload job beside an edit).
    c.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&format!("frontdesk-terms:{business_id}")])
        .await
        .map_err(db_err)?;
    let chunks: Vec<String> = c
        .query("SELECT content FROM knowledge_chunks WHERE business_id = $1", &[&business_id])
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| get(r, 0))
        .collect::<Result<_>>()?;
    c.execute("DELETE FROM knowledge_terms WHERE business_id = $1", &[&business_id]).await.map_err(db_err)?;
    let (terms, dfs): (Vec<String>, Vec<i64>) = retrieval::term_frequencies(&chunks).into_iter().unzip();
    c.execute(
        "INSERT INTO knowledge_terms (business_id, term, df) SELECT $1, t, d FROM unnest($2::text[], $3::bigint[]) AS x(t, d)",
        &[&business_id, &terms, &dfs],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(super) async fn search(
    c: &impl GenericClient,
    vectors: &VectorCache,
    business_id: &str,
    query: &KnowledgeQuery,
) -> Result<Vec<Passage>> {
    // The business's own glossary, beside the shared one: its words are
    // searched for this business only.
    let glossary = retrieval::Glossary::new(&read_glossary(c, business_id).await?);
    let full_text = text_ranking(c, business_id, &query.text, &glossary).await?;
    let ids: Vec<i64> = match &query.embedding {
        None => full_text,
        Some((model, vector)) => {
            let by_meaning =
                super::vectors::ranking(c, vectors, business_id, model, vector, CANDIDATES).await?;
            let covered = match full_text.first() {
                Some(&top) => covers(c, business_id, top, &query.text, &glossary).await?,
                None => false,
            };
            retrieval::fuse_hybrid(&full_text, &by_meaning, RRF_K, covered)
        }
    };
    let ids: Vec<i64> = ids.into_iter().take(query.limit).collect();
    let rows = c
        .query(
            "SELECT c.id, d.title, c.content, c.heading, d.source_url FROM knowledge_chunks c
             JOIN knowledge_documents d ON d.id = c.document_id WHERE c.id = ANY($1) AND c.business_id = $2",
            &[&ids, &business_id],
        )
        .await
        .map_err(db_err)?;
    let mut found = rows
        .iter()
        .map(|r| {
            let title =
                retrieval::chunk_title(&get::<String>(r, 1)?, get::<Option<String>>(r, 3)?.as_deref());
            Ok(Passage { chunk_id: get(r, 0)?, title, text: get(r, 2)?, source_url: get(r, 4)? })
        })
        .collect::<Result<Vec<_>>>()?;
    found.sort_by_key(|p| ids.iter().position(|id| *id == p.chunk_id));
    Ok(found)
}

/// Whether chunk `id` (with its title) covers the question (see
/// [`retrieval::covers`]).
async fn covers(
    c: &impl GenericClient,
    business_id: &str,
    id: i64,
    question: &str,
    glossary: &retrieval::Glossary,
) -> Result<bool> {
    let row = c
        .query_opt(
            "SELECT d.title, c.content, c.heading FROM knowledge_chunks c
             JOIN knowledge_documents d ON d.id = c.document_id WHERE c.id = $1 AND c.business_id = $2",
            &[&id, &business_id],
        )
        .await
        .map_err(db_err)?;
    let Some(row) = row else { return Ok(false) };
    let title = retrieval::chunk_title(&get::<String>(&row, 0)?, get::<Option<String>>(&row, 2)?.as_deref());
    Ok(glossary.covers(question, &format!("{title} {}", get::<String>(&row, 1)?)))
}

/// A tsquery of `words`: any of them, or with `all` every one. The words are
/// letters and digits only, so user text is never read as tsquery syntax.
fn tsquery(words: &[String], all: bool) -> Option<String> {
    let clean: Vec<&str> = words
        .iter()
        .map(String::as_str)
        .filter(|w| !w.is_empty() && w.chars().all(char::is_alphanumeric))
        .collect();
    (!clean.is_empty()).then(|| clean.join(if all { " & " } else { " | " }))
}

async fn text_ranking(
    c: &impl GenericClient,
    business_id: &str,
    text: &str,
    glossary: &retrieval::Glossary,
) -> Result<Vec<i64>> {
    let words = glossary.query_words(text);
    let total: i64 = get(
        &c.query_one("SELECT COUNT(*) FROM knowledge_chunks WHERE business_id = $1", &[&business_id])
            .await
            .map_err(db_err)?,
        0,
    )?;
    let stems: Vec<String> = words.iter().map(|w| retrieval::stem(w)).collect();
    let known = c
        .query(
            "SELECT term, df FROM knowledge_terms WHERE business_id = $1 AND term = ANY($2)",
            &[&business_id, &stems],
        )
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| Ok((get::<String>(r, 0)?, get::<i64>(r, 1)?)))
        .collect::<Result<Vec<_>>>()?;
    let df: Vec<i64> =
        stems.iter().map(|s| known.iter().find(|(t, _)| t == s).map_or(0, |(_, d)| *d)).collect();
    let (words, all_common) = retrieval::prune_common(words, &df, total);
    let ranked = |all: bool| {
        let expr = tsquery(&words, all);
        async move {
            let Some(expr) = expr else { return Ok(Vec::new()) };
            c.query(
                "SELECT id FROM knowledge_chunks, to_tsquery('english', $1) q
                 WHERE business_id = $2 AND tsv @@ q ORDER BY ts_rank(tsv, q) DESC, id LIMIT $3",
                &[&expr, &business_id, &(CANDIDATES as i64)],
            )
            .await
            .map_err(db_err)?
            .iter()
            .map(|r| get::<i64>(r, 0))
            .collect::<Result<Vec<_>>>()
        }
    };
    // Only common words: chunks with all of them first, any of them if none.
    if all_common {
        let found = ranked(true).await?;
        if !found.is_empty() {
            return Ok(found);
        }
    }
    ranked(false).await
}

pub(super) async fn chunks_to_embed(
    c: &impl GenericClient,
    model: &str,
    limit: usize,
) -> Result<Vec<(i64, String)>> {
    c.query(
        "SELECT c.id, d.title, c.content, c.heading FROM knowledge_chunks c
         JOIN knowledge_documents d ON d.id = c.document_id
         LEFT JOIN knowledge_chunk_embeddings e ON e.chunk_id = c.id AND e.model = $1
         WHERE e.chunk_id IS NULL ORDER BY c.id LIMIT $2",
        &[&model, &(limit as i64)],
    )
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| {
        let title = retrieval::chunk_title(&get::<String>(r, 1)?, get::<Option<String>>(r, 3)?.as_deref());
        Ok((get(r, 0)?, embedding_text(&title, &get::<String>(r, 2)?)))
    })
    .collect()
}

/// Stores vectors, skipping chunks deleted in the meantime.
pub(super) async fn save_embeddings(
    c: &impl GenericClient,
    model: &str,
    vectors: &[(i64, Vec<f32>)],
) -> Result<()> {
    let ts = now();
    let upsert = c
        .prepare_cached(
            "INSERT INTO knowledge_chunk_embeddings (chunk_id, model, business_id, dim, embedding, embedded_at)
             SELECT id, $2, business_id, $3, $4, $5 FROM knowledge_chunks WHERE id = $1
             ON CONFLICT (chunk_id, model) DO UPDATE SET dim = excluded.dim, embedding = excluded.embedding,
                 embedded_at = excluded.embedded_at",
        )
        .await
        .map_err(db_err)?;
    for (chunk_id, vector) in vectors {
        c.execute(&upsert, &[chunk_id, &model, &(vector.len() as i64), vector, &ts]).await.map_err(db_err)?;
    }
    Ok(())
}

/// Embeds, with the embedded model, every chunk it has not embedded yet (a
/// new model after an upgrade). Runs when the store opens.
pub(super) async fn embed_missing(store: &PgStore) -> Result<usize> {
    let Some(model) = local_model::get() else { return Ok(0) };
    let mut total = 0;
    loop {
        let c = store.client().await?;
        let batch = chunks_to_embed(&c, model.id(), 500).await?;
        if batch.is_empty() {
            return Ok(total);
        }
        let vectors: Vec<(i64, Vec<f32>)> = batch.iter().map(|(id, text)| (*id, model.embed(text))).collect();
        save_embeddings(&c, model.id(), &vectors).await?;
        total += vectors.len();
    }
}

/// The business's own glossary; empty when none was saved.
pub(super) async fn read_glossary(c: &impl GenericClient, business_id: &str) -> Result<Vec<Gloss>> {
    let row = c
        .query_opt("SELECT glossary FROM business_glossary WHERE business_id = $1", &[&business_id])
        .await
        .map_err(db_err)?;
    match row {
        Some(r) => get_json(&r, 0)
            .map_err(|e| StoreError::Invalid(format!("stored business glossary is unreadable: {e}"))),
        None => Ok(Vec::new()),
    }
}

/// Replaces the business's own glossary.
pub(super) async fn write_glossary(
    c: &impl GenericClient,
    business_id: &str,
    glossary: &[Gloss],
) -> Result<()> {
    c.execute(
        "INSERT INTO business_glossary (business_id, glossary, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (business_id) DO UPDATE SET glossary = excluded.glossary, updated_at = excluded.updated_at",
        &[&business_id, &to_json(&glossary)?, &now()],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsquery_never_carries_syntax() {
        let words = vec!["pipe".to_string(), "burst".to_string(), "a|b".to_string()];
        assert_eq!(tsquery(&words, false).as_deref(), Some("pipe | burst"));
        assert_eq!(tsquery(&words, true).as_deref(), Some("pipe & burst"));
        assert_eq!(tsquery(&[], true), None);
    }
}
