//! Knowledge retrieval: chunks in an FTS5 index (BM25) and embedded into
//! sqlite-vec tables (always by the embedded model, at import and edit; also
//! by an OpenAI model when one is configured), the two rankings fused by
//! reciprocal rank. The vectors themselves (tables, sign bits, centres,
//! nearest neighbours) are in `vectors.rs`.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::coarse::CoarseCache;
use super::vectors::{
    embedding_text, forget_vectors, settle_business, store_vectors, vector_ranking, CANDIDATES,
};
use super::{db_err, query_all, to_json};
use crate::agent::local_model;
use crate::domain::{now, Gloss};
use crate::retrieval::{self, Passage};
use crate::store::{KnowledgeQuery, Result, StoreError};

/// The usual reciprocal-rank-fusion constant.
const RRF_K: f64 = 60.0;
/// Full-text matches scored, at most, for a question made only of words
/// common in a large knowledge base (see [`retrieval::prune_common`]).
const COMMON_SCORED: usize = 1000;

/// Re-chunks every document of a business into the full-text index.
pub(super) fn index_documents(tx: &Transaction<'_>, business_id: &str) -> Result<()> {
    forget_vectors(tx, "business_id = ?1", business_id)?;
    tx.execute("DELETE FROM knowledge_chunks WHERE business_id = ?1", [business_id]).map_err(db_err)?;
    let docs: Vec<(String, String)> = query_all(
        tx,
        "SELECT id, content FROM knowledge_documents WHERE business_id = ?1",
        [business_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    for (doc_id, content) in docs {
        chunk_document(tx, business_id, &doc_id, &content)?;
    }
    settle_business(tx, business_id)?;
    refresh_terms(tx, business_id)
}

/// Re-chunks one document (after an edit), leaving the others' chunks and
/// embeddings alone.
pub(super) fn index_document(tx: &Transaction<'_>, business_id: &str, doc_id: &str) -> Result<()> {
    rechunk_document(tx, business_id, doc_id)?;
    settle_business(tx, business_id)?;
    refresh_terms(tx, business_id)
}

/// Re-chunks one document without recounting the business's words: for
/// writing many documents, with one [`refresh_terms`] and one
/// [`settle_business`] at the end.
pub(super) fn rechunk_document(tx: &Transaction<'_>, business_id: &str, doc_id: &str) -> Result<()> {
    drop_chunks(tx, doc_id)?;
    let content: Option<String> = tx
        .query_row(
            "SELECT content FROM knowledge_documents WHERE id = ?1 AND business_id = ?2",
            [doc_id, business_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    if let Some(content) = content {
        chunk_document(tx, business_id, doc_id, &content)?;
    }
    Ok(())
}

/// Deletes a document's chunks and their vectors (its row stays).
pub(super) fn drop_chunks(tx: &Transaction<'_>, doc_id: &str) -> Result<()> {
    forget_vectors(tx, "document_id = ?1", doc_id)?;
    tx.execute("DELETE FROM knowledge_chunks WHERE document_id = ?1", [doc_id]).map_err(db_err)?;
    Ok(())
}

fn chunk_document(tx: &Transaction<'_>, business_id: &str, doc_id: &str, content: &str) -> Result<()> {
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO knowledge_chunks (document_id, business_id, position, content, heading)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(db_err)?;
    let title: String = tx
        .query_row("SELECT title FROM knowledge_documents WHERE id = ?1", [doc_id], |r| r.get(0))
        .map_err(db_err)?;
    let mut vectors = Vec::new();
    for (position, c) in retrieval::chunk_sections(content).iter().enumerate() {
        insert.execute(params![doc_id, business_id, position as i64, c.text, c.heading]).map_err(db_err)?;
        if let Some(model) = local_model::get() {
            let title = retrieval::chunk_title(&title, c.heading.as_deref());
            vectors.push((tx.last_insert_rowid(), model.embed(&embedding_text(&title, &c.text))));
        }
    }
    if let Some(model) = local_model::get() {
        store_vectors(tx, model.id(), &vectors)?;
    }
    tx.execute("UPDATE knowledge_documents SET indexed_at = ?1 WHERE id = ?2", params![now(), doc_id])
        .map_err(db_err)?;
    Ok(())
}

/// Recounts the business's document frequencies from its chunks.
pub(super) fn refresh_terms(tx: &Transaction<'_>, business_id: &str) -> Result<()> {
    let chunks: Vec<String> =
        query_all(tx, "SELECT content FROM knowledge_chunks WHERE business_id = ?1", [business_id], |r| {
            r.get(0)
        })?;
    tx.execute("DELETE FROM knowledge_terms WHERE business_id = ?1", [business_id]).map_err(db_err)?;
    let mut insert_term = tx
        .prepare("INSERT INTO knowledge_terms (business_id, term, df) VALUES (?1, ?2, ?3)")
        .map_err(db_err)?;
    for (term, df) in retrieval::term_frequencies(&chunks) {
        insert_term.execute(params![business_id, term, df]).map_err(db_err)?;
    }
    tx.execute(
        "INSERT INTO knowledge_chunk_counts (business_id, chunks) VALUES (?1, ?2)
         ON CONFLICT (business_id) DO UPDATE SET chunks = excluded.chunks",
        params![business_id, chunks.len() as i64],
    )
    .map_err(db_err)?;
    Ok(())
}

/// The business's chunk count: as written with its document frequencies,
/// or counted when it has none yet (a database from before the counts).
fn chunk_count(conn: &Connection, business_id: &str) -> Result<i64> {
    let written: Option<i64> = conn
        .prepare_cached("SELECT chunks FROM knowledge_chunk_counts WHERE business_id = ?1")
        .and_then(|mut s| s.query_row([business_id], |r| r.get(0)).optional())
        .map_err(db_err)?;
    match written {
        Some(n) => Ok(n),
        None => conn
            .prepare_cached("SELECT COUNT(*) FROM knowledge_chunks WHERE business_id = ?1")
            .and_then(|mut s| s.query_row([business_id], |r| r.get(0)))
            .map_err(db_err),
    }
}

pub(super) fn search(
    conn: &Connection,
    coarse: &CoarseCache,
    business_id: &str,
    query: &KnowledgeQuery,
) -> Result<Vec<Passage>> {
    // Read once: it tells whether the glossary and the vectors kept in
    // memory are still the database's.
    let generation = coarse.generation(conn, business_id)?;
    // The business's own glossary, beside the shared one: its words are
    // searched for this business only.
    let glossary = coarse.glossary(business_id, generation, || read_glossary(conn, business_id))?;
    let full_text = fts_ranking(conn, business_id, &query.text, &glossary)?;
    let ids: Vec<i64> = match &query.embedding {
        None => full_text,
        Some((model, vector)) => {
            let vectors = vector_ranking(conn, coarse, business_id, model, vector, generation)?;
            let covered = match full_text.first() {
                Some(&top) => load_passage(conn, top)?
                    .is_some_and(|p| glossary.covers(&query.text, &format!("{} {}", p.title, p.text))),
                None => false,
            };
            retrieval::fuse_hybrid(&full_text, &vectors, RRF_K, covered)
        }
    };
    let mut out = Vec::new();
    for id in ids.into_iter().take(query.limit) {
        out.extend(load_passage(conn, id)?);
    }
    Ok(out)
}

/// One chunk as a passage, titled by its document and section.
fn load_passage(conn: &Connection, id: i64) -> Result<Option<Passage>> {
    conn.prepare_cached(
        "SELECT c.id, d.title, c.content, c.heading, d.source_url FROM knowledge_chunks c
         JOIN knowledge_documents d ON d.id = c.document_id WHERE c.id = ?1",
    )
    .and_then(|mut stmt| {
        stmt.query_row([id], |r| {
            let title =
                retrieval::chunk_title(&r.get::<_, String>(1)?, r.get::<_, Option<String>>(3)?.as_deref());
            Ok(Passage { chunk_id: r.get(0)?, title, text: r.get(2)?, source_url: r.get(4)? })
        })
        .optional()
    })
    .map_err(db_err)
}

fn fts_ranking(
    conn: &Connection,
    business_id: &str,
    text: &str,
    glossary: &retrieval::Glossary,
) -> Result<Vec<i64>> {
    let words = glossary.query_words(text);
    let total = chunk_count(conn, business_id)?;
    let mut df_of = conn
        .prepare_cached("SELECT df FROM knowledge_terms WHERE business_id = ?1 AND term = ?2")
        .map_err(db_err)?;
    let mut df = Vec::with_capacity(words.len());
    for w in &words {
        let d: Option<i64> = df_of
            .query_row(params![business_id, retrieval::stem(w)], |r| r.get(0))
            .optional()
            .map_err(db_err)?;
        df.push(d.unwrap_or(0));
    }
    let (words, all_common) = retrieval::prune_common(words, &df, total);
    // `ORDER BY rank` (bm25) lets FTS5 sort the matches itself, so only the
    // rows it returns first are read back to check their business: ordering
    // by the bm25() function read every matching chunk's row for that.
    let ranked = |all: bool| -> Result<Vec<i64>> {
        let Some(expr) = fts_query(&words, all) else { return Ok(Vec::new()) };
        if all_common {
            // Common words match most chunks (thousands over 10,000): only a
            // bounded prefix of the matches is scored. Below PRUNE_FROM
            // chunks words are never all common, so small bases rank fully.
            return query_all(
                conn,
                "SELECT rowid FROM (SELECT rowid, rank FROM knowledge_chunks_fts
                                    WHERE knowledge_chunks_fts MATCH ?1 AND business_id = ?2 LIMIT ?4)
                 ORDER BY rank LIMIT ?3",
                params![expr, business_id, CANDIDATES as i64, COMMON_SCORED as i64],
                |r| r.get(0),
            );
        }
        query_all(
            conn,
            "SELECT rowid FROM knowledge_chunks_fts WHERE knowledge_chunks_fts MATCH ?1 AND business_id = ?2
             ORDER BY rank LIMIT ?3",
            params![expr, business_id, CANDIDATES as i64],
            |r| r.get(0),
        )
    };
    // Only common words: chunks with all of them first, any of them if none.
    if all_common {
        let found = ranked(true)?;
        if !found.is_empty() {
            return Ok(found);
        }
    }
    ranked(false)
}

/// An FTS5 MATCH expression: any of the words (or, with `all`, every one),
/// each quoted so user text can never be read as FTS syntax. None when
/// nothing is searchable.
pub(crate) fn fts_query(words: &[String], all: bool) -> Option<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
    (!quoted.is_empty()).then(|| quoted.join(if all { " AND " } else { " OR " }))
}

/// The business's own glossary; empty when none was saved.
pub(super) fn read_glossary(conn: &Connection, business_id: &str) -> Result<Vec<Gloss>> {
    let json: Option<String> = conn
        .prepare_cached("SELECT glossary FROM business_glossary WHERE business_id = ?1")
        .and_then(|mut s| s.query_row([business_id], |r| r.get(0)).optional())
        .map_err(db_err)?;
    match json {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| StoreError::Invalid(format!("stored business glossary is unreadable: {e}"))),
        None => Ok(Vec::new()),
    }
}

/// Replaces the business's own glossary, raising the business's generation
/// so every process's parsed copy is read again (see `coarse.rs`).
pub(super) fn write_glossary(tx: &Transaction<'_>, business_id: &str, glossary: &[Gloss]) -> Result<()> {
    super::coarse::advance(tx, business_id)?;
    tx.execute(
        "INSERT INTO business_glossary (business_id, glossary, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (business_id) DO UPDATE SET glossary = excluded.glossary, updated_at = excluded.updated_at",
        params![business_id, to_json(&glossary)?, now()],
    )
    .map_err(db_err)?;
    Ok(())
}

#[cfg(test)]
mod fts_tests {
    use super::fts_query;
    use crate::retrieval::query_words;

    #[test]
    fn fts_queries_are_quoted_words() {
        let q = |text: &str| fts_query(&query_words(text), false);
        assert_eq!(q("Do you work on Saturdays?").as_deref(), Some("\"saturdays\" OR \"work\""));
        assert_eq!(q("\"; DROP TABLE x; --"), Some("\"drop\" OR \"table\"".into()));
        assert_eq!(q("how are you?"), None);
    }

    #[test]
    fn every_word_when_all_are_common() {
        let words = vec!["backflow".to_string(), "valve".to_string()];
        assert_eq!(fts_query(&words, true).as_deref(), Some("\"backflow\" AND \"valve\""));
    }
}

#[cfg(test)]
mod glossary_tests {
    #![allow(clippy::unwrap_used)]
    use crate::domain::{BusinessBundle, BusinessType, Gloss, KnowledgeDoc};
    use crate::store::admin::AdminStore;
    use crate::store::sqlite::SqliteStore;
    use crate::store::{KnowledgeQuery, Store};

    #[tokio::test]
    async fn a_glossary_edit_is_searched_next_whichever_process_wrote_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let server = SqliteStore::open(&path).unwrap();
        let doc = |title: &str, content: &str| KnowledgeDoc {
            title: title.into(),
            content: content.into(),
            source_url: None,
        };
        let docs = vec![
            doc("Zorblat plans", "The zorblat plan is a yearly checkup of the boiler."),
            doc("Quixotic fees", "Quixotic work is billed by the hour."),
        ];
        let bundle = BusinessBundle::with_knowledge("Co", BusinessType::Plumbing, docs);
        let b = server.import_business(bundle).await.unwrap().business_id;
        let top = || async {
            let q = KnowledgeQuery { text: "wibble".into(), embedding: None, limit: 3 };
            server.search_knowledge(&b, &q).await.unwrap().first().map(|p| p.title.clone())
        };
        let gloss = |words: &str| vec![Gloss { phrase: "wibble".into(), words: words.into() }];
        assert_eq!(top().await, None, "no glossary: the word is in no document");
        server.set_business_glossary(&b, gloss("zorblat")).await.unwrap();
        assert_eq!(top().await.as_deref(), Some("Zorblat plans"));
        assert_eq!(top().await.as_deref(), Some("Zorblat plans"), "kept");
        server.set_business_glossary(&b, gloss("quixotic")).await.unwrap();
        assert_eq!(top().await.as_deref(), Some("Quixotic fees"), "this process's edit, at once");
        // Another process on the same file (a CLI command beside the server).
        let cli = SqliteStore::open(&path).unwrap();
        cli.set_business_glossary(&b, gloss("zorblat")).await.unwrap();
        assert_eq!(top().await.as_deref(), Some("Zorblat plans"), "another process's edit, at once");
        cli.set_business_glossary(&b, Vec::new()).await.unwrap();
        assert_eq!(top().await, None, "and its removal");
    }
}
