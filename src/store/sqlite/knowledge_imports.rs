//! [`ImportStore`] for SQLite: import jobs, and a website's pages brought in
//! (added, replaced, removed) in one write transaction.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::{db_err, enum_col, query_all, SqliteStore};
use crate::domain::{new_id, now, KnowledgeDoc};
use crate::ids::BusinessId;
use crate::store::imports::{
    ImportKind, ImportState, ImportStore, KnowledgeImport, PageStep, StoredPage, WebSync, WebSyncPlan,
};
use crate::store::{Result, StoreError};

const IMPORT_SQL: &str = "SELECT id, kind, source, state, detail, documents, created_at, updated_at
     FROM knowledge_imports WHERE business_id = ?1";

fn import_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<KnowledgeImport> {
    Ok(KnowledgeImport {
        id: r.get(0)?,
        kind: enum_col(r, 1, ImportKind::parse)?,
        source: r.get(2)?,
        state: enum_col(r, 3, ImportState::parse)?,
        detail: r.get(4)?,
        documents: r.get(5)?,
        created_at: super::time_col(r, 6)?,
        updated_at: super::time_col(r, 7)?,
    })
}

fn import(conn: &Connection, business_id: &str, id: &str) -> Result<KnowledgeImport> {
    conn.query_row(&format!("{IMPORT_SQL} AND id = ?2"), [business_id, id], import_row)
        .optional()
        .map_err(db_err)?
        .ok_or_else(|| StoreError::NotFound("knowledge import".into()))
}

/// Adds or replaces each page by its URL, then removes the vanished ones
/// (the decisions are [`WebSyncPlan`]'s; the SQL is this backend's).
fn sync_web(
    tx: &Transaction<'_>,
    business_id: &str,
    pages: &[KnowledgeDoc],
    prefix: Option<&str>,
) -> Result<WebSync> {
    super::business::load_business(tx, business_id)?;
    let mut plan = WebSyncPlan::default();
    let ts = now();
    for page in pages {
        let url = page.source_url.as_deref().unwrap_or_default();
        let existing = tx
            .query_row(
                "SELECT id, title, content FROM knowledge_documents
                 WHERE business_id = ?1 AND source_url = ?2 ORDER BY created_at LIMIT 1",
                [business_id, url],
                |r| Ok(StoredPage { id: r.get(0)?, title: r.get(1)?, content: r.get(2)? }),
            )
            .optional()
            .map_err(db_err)?;
        let id = match plan.step(existing, page) {
            PageStep::Unchanged => continue,
            PageStep::Replace(id) => {
                tx.execute(
                    "UPDATE knowledge_documents SET title = ?1, content = ?2, updated_at = ?3 WHERE id = ?4",
                    params![page.title, page.content, ts, id],
                )
                .map_err(db_err)?;
                id
            }
            PageStep::Add => {
                let id = new_id();
                tx.execute(
                    "INSERT INTO knowledge_documents (id, business_id, title, content, source_url, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                    params![id, business_id, page.title, page.content, page.source_url, ts],
                )
                .map_err(db_err)?;
                id
            }
        };
        super::knowledge::rechunk_document(tx, business_id, &id)?;
        plan.written(id);
    }
    if let Some(prefix) = prefix {
        let under_prefix: Vec<String> = query_all(
            tx,
            "SELECT id FROM knowledge_documents
             WHERE business_id = ?1 AND source_url IS NOT NULL AND substr(source_url, 1, length(?2)) = ?2",
            params![business_id, prefix],
            |r| r.get(0),
        )?;
        for id in plan.vanished(under_prefix) {
            // Chunks first: their FTS trigger needs the rows.
            super::knowledge::drop_chunks(tx, &id)?;
            tx.execute("DELETE FROM knowledge_documents WHERE id = ?1", [&id]).map_err(db_err)?;
        }
    }
    if plan.changed() {
        // As after any batch of re-chunked documents: a business whose first
        // documents these are has no centre yet, and gets its sign bits only
        // here (without them its pages were missed by the vector search).
        super::vectors::settle_business(tx, business_id)?;
        super::knowledge::refresh_terms(tx, business_id)?;
    }
    Ok(plan.finish())
}

#[async_trait::async_trait]
impl ImportStore for SqliteStore {
    async fn create_import(
        &self,
        business_id: &BusinessId,
        kind: ImportKind,
        source: &str,
    ) -> Result<KnowledgeImport> {
        let source = source.to_string();
        self.write_for(business_id, move |tx, bid| {
            super::business::load_business(tx, bid)?;
            let id = new_id();
            tx.execute(
                "INSERT INTO knowledge_imports (id, business_id, kind, source, state, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?5)",
                params![id, bid, kind.as_str(), source, now()],
            )
            .map_err(db_err)?;
            import(tx, bid, &id)
        })
        .await
    }

    async fn set_import_state(
        &self,
        business_id: &BusinessId,
        id: &str,
        state: ImportState,
        detail: Option<String>,
        documents: u32,
    ) -> Result<()> {
        let id = id.to_string();
        self.write_for(business_id, move |tx, bid| {
            let n = tx
                .execute(
                    "UPDATE knowledge_imports SET state = ?1, detail = ?2, documents = ?3, updated_at = ?4
                     WHERE id = ?5 AND business_id = ?6",
                    params![state.as_str(), detail, documents, now(), id, bid],
                )
                .map_err(db_err)?;
            super::admin::changed(n, "knowledge import")
        })
        .await
    }

    async fn knowledge_imports(
        &self,
        business_id: &BusinessId,
        limit: usize,
    ) -> Result<Vec<KnowledgeImport>> {
        self.read_for(business_id, move |c, bid| {
            query_all(
                c,
                &format!("{IMPORT_SQL} ORDER BY created_at DESC, rowid DESC LIMIT ?2"),
                params![bid, limit as i64],
                import_row,
            )
        })
        .await
    }

    async fn knowledge_import(&self, business_id: &BusinessId, id: &str) -> Result<KnowledgeImport> {
        let id = id.to_string();
        self.read_for(business_id, move |c, bid| import(c, bid, &id)).await
    }

    async fn fail_interrupted_imports(&self) -> Result<u64> {
        self.write(|tx| {
            let n = tx
                .execute(
                    "UPDATE knowledge_imports SET state = 'failed',
                         detail = 'interrupted: the server stopped before the import finished; start it again',
                         updated_at = ?1
                     WHERE state IN ('queued', 'running')",
                    [now()],
                )
                .map_err(db_err)?;
            Ok(n as u64)
        })
        .await
    }

    async fn sync_web_documents(
        &self,
        business_id: &BusinessId,
        pages: Vec<KnowledgeDoc>,
        prefix: Option<String>,
    ) -> Result<WebSync> {
        self.write_for(business_id, move |tx, bid| sync_web(tx, bid, &pages, prefix.as_deref())).await
    }
}
