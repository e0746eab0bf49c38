//! [`ImportStore`] for Postgres: import jobs, and a website's pages brought
//! in (added, replaced, removed) in one transaction.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::business::load_business;
use super::{changed, db_err, get, get_enum, get_u32, in_tx, PgStore};
use crate::domain::{new_id, now, KnowledgeDoc};
use crate::ids::BusinessId;
use crate::store::imports::{
    ImportKind, ImportState, ImportStore, KnowledgeImport, PageStep, StoredPage, WebSync, WebSyncPlan,
};
use crate::store::{Result, StoreError};

const IMPORT_SQL: &str = "SELECT id, kind, source, state, detail, documents, created_at, updated_at
     FROM knowledge_imports WHERE business_id = $1";

fn import_row(r: &Row) -> Result<KnowledgeImport> {
    Ok(KnowledgeImport {
        id: get(r, 0)?,
        kind: get_enum(r, 1, ImportKind::parse)?,
        source: get(r, 2)?,
        state: get_enum(r, 3, ImportState::parse)?,
        detail: get(r, 4)?,
        documents: get_u32(r, 5)?,
        created_at: super::get_time(r, 6)?,
        updated_at: super::get_time(r, 7)?,
    })
}

async fn import(c: &impl GenericClient, business_id: &str, id: &str) -> Result<KnowledgeImport> {
    c.query_opt(&format!("{IMPORT_SQL} AND id = $2"), &[&business_id, &id])
        .await
        .map_err(db_err)?
        .map(|r| import_row(&r))
        .transpose()?
        .ok_or_else(|| StoreError::NotFound("knowledge import".into()))
}

/// Adds or replaces each page by its URL, then removes the vanished ones
/// (the decisions are [`WebSyncPlan`]'s; the SQL is this backend's).
async fn sync_web(
    tx: &impl GenericClient,
    business_id: &str,
    pages: &[KnowledgeDoc],
    prefix: Option<&str>,
) -> Result<WebSync> {
    load_business(tx, business_id).await?;
    let mut plan = WebSyncPlan::default();
    let ts = now();
    for page in pages {
        let url = page.source_url.as_deref().unwrap_or_default();
        let existing = tx
            .query_opt(
                "SELECT id, title, content FROM knowledge_documents
                 WHERE business_id = $1 AND source_url = $2 ORDER BY created_at, seq LIMIT 1",
                &[&business_id, &url],
            )
            .await
            .map_err(db_err)?
            .map(|r| {
                Ok::<_, StoreError>(StoredPage { id: get(&r, 0)?, title: get(&r, 1)?, content: get(&r, 2)? })
            })
            .transpose()?;
        let id = match plan.step(existing, page) {
            PageStep::Unchanged => continue,
            PageStep::Replace(id) => {
                tx.execute(
                    "UPDATE knowledge_documents SET title = $1, content = $2, updated_at = $3 WHERE id = $4",
                    &[&page.title, &page.content, &ts, &id],
                )
                .await
                .map_err(db_err)?;
                id
            }
            PageStep::Add => {
                let id = new_id();
                tx.execute(
                    "INSERT INTO knowledge_documents (id, business_id, title, content, source_url, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $6)",
                    &[&id, &business_id, &page.title, &page.content, &page.source_url, &ts],
                )
                .await
                .map_err(db_err)?;
                id
            }
        };
        super::knowledge::rechunk_document(tx, business_id, &id).await?;
        plan.written(id);
    }
    if let Some(prefix) = prefix {
        let under_prefix = tx
            .query(
                "SELECT id FROM knowledge_documents
                 WHERE business_id = $1 AND source_url IS NOT NULL AND left(source_url, length($2)) = $2",
                &[&business_id, &prefix],
            )
            .await
            .map_err(db_err)?
            .iter()
            .map(|r| get::<String>(r, 0))
            .collect::<Result<Vec<_>>>()?;
        for id in plan.vanished(under_prefix) {
            // A removed page's chunks go with it: ON DELETE CASCADE.
            tx.execute("DELETE FROM knowledge_documents WHERE id = $1", &[&id]).await.map_err(db_err)?;
        }
    }
    if plan.changed() {
        super::knowledge::refresh_terms(tx, business_id).await?;
    }
    Ok(plan.finish())
}

#[async_trait::async_trait]
impl ImportStore for PgStore {
    async fn create_import(
        &self,
        business_id: &BusinessId,
        kind: ImportKind,
        source: &str,
    ) -> Result<KnowledgeImport> {
        in_tx!(self, |tx| {
            load_business(&tx, business_id).await?;
            let id = new_id();
            tx.execute(
                "INSERT INTO knowledge_imports (id, business_id, kind, source, state, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, 'queued', $5, $5)",
                &[&id, &business_id, &kind.as_str(), &source, &now()],
            )
            .await
            .map_err(db_err)?;
            import(&tx, business_id, &id).await?
        })
    }

    async fn set_import_state(
        &self,
        business_id: &BusinessId,
        id: &str,
        state: ImportState,
        detail: Option<String>,
        documents: u32,
    ) -> Result<()> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE knowledge_imports SET state = $1, detail = $2, documents = $3, updated_at = $4
                 WHERE id = $5 AND business_id = $6",
                &[&state.as_str(), &detail, &i64::from(documents), &now(), &id, &business_id],
            )
            .await
            .map_err(db_err)?;
        changed(n, "knowledge import")
    }

    async fn knowledge_imports(
        &self,
        business_id: &BusinessId,
        limit: usize,
    ) -> Result<Vec<KnowledgeImport>> {
        self.client()
            .await?
            .query(
                &format!("{IMPORT_SQL} ORDER BY created_at DESC, id DESC LIMIT $2"),
                &[&business_id, &(limit as i64)],
            )
            .await
            .map_err(db_err)?
            .iter()
            .map(import_row)
            .collect()
    }

    async fn knowledge_import(&self, business_id: &BusinessId, id: &str) -> Result<KnowledgeImport> {
        import(&self.client().await?, business_id, id).await
    }

    async fn fail_interrupted_imports(&self) -> Result<u64> {
        // Several instances share this database: only jobs nobody has touched
        // for an hour are taken as interrupted.
        let stale = crate::domain::rfc3339(chrono::Utc::now() - chrono::Duration::hours(1));
        self.client()
            .await?
            .execute(
                "UPDATE knowledge_imports SET state = 'failed',
                     detail = 'interrupted: the server stopped before the import finished; start it again',
                     updated_at = $1
                 WHERE state IN ('queued', 'running') AND updated_at < $2",
                &[&now(), &stale],
            )
            .await
            .map_err(db_err)
    }

    async fn sync_web_documents(
        &self,
        business_id: &BusinessId,
        pages: Vec<KnowledgeDoc>,
        prefix: Option<String>,
    ) -> Result<WebSync> {
        in_tx!(self, |tx| sync_web(&tx, business_id, &pages, prefix.as_deref()).await?)
    }
}
