//! Knowledge imports (files, web pages, a whole website) as background jobs
//! the owner can watch, and the one transaction that brings a website's pages
//! into the knowledge base.

use async_trait::async_trait;
use serde::Serialize;

use super::Result;
use crate::domain::KnowledgeDoc;
use crate::ids::BusinessId;

/// Where an import's knowledge comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportKind {
    /// An uploaded file (PDF, DOCX, HTML, Markdown, text).
    File,
    /// One web page.
    Page,
    /// A website, crawled from its sitemap or home page.
    Site,
}

impl ImportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportKind::File => "file",
            ImportKind::Page => "page",
            ImportKind::Site => "site",
        }
    }

    pub fn parse(s: &str) -> Option<ImportKind> {
        [ImportKind::File, ImportKind::Page, ImportKind::Site].into_iter().find(|k| k.as_str() == s)
    }
}

/// Where an import job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportState {
    Queued,
    Running,
    Done,
    Failed,
}

impl ImportState {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportState::Queued => "queued",
            ImportState::Running => "running",
            ImportState::Done => "done",
            ImportState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<ImportState> {
        [ImportState::Queued, ImportState::Running, ImportState::Done, ImportState::Failed]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One import job as the owner sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KnowledgeImport {
    pub id: String,
    pub kind: ImportKind,
    /// The file name or the URL.
    pub source: String,
    pub state: ImportState,
    /// Progress while running, the outcome when done, the reason when failed.
    pub detail: Option<String>,
    /// Documents added or replaced.
    pub documents: u32,
    #[serde(with = "crate::domain::rfc3339_serde")]
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[serde(with = "crate::domain::rfc3339_serde")]
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// What bringing in a set of web pages changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WebSync {
    pub added: u32,
    pub updated: u32,
    pub unchanged: u32,
    pub removed: u32,
}

impl WebSync {
    /// Documents written (added or updated).
    pub fn written(&self) -> u32 {
        self.added + self.updated
    }
}

/// The document already stored under a page's URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPage {
    pub id: String,
    pub title: String,
    pub content: String,
}

/// What one page of a web sync calls for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageStep {
    /// Same title and text: nothing to write.
    Unchanged,
    /// Rewrite (and re-index) the stored document with this id.
    Replace(String),
    /// A new document.
    Add,
}

/// The decisions of [`ImportStore::sync_web_documents`] and their tally, one
/// rule for both backends: each backend only reads and writes the rows.
#[derive(Debug, Default)]
pub struct WebSyncPlan {
    sync: WebSync,
    /// Documents this sync matched or wrote: never removed as vanished.
    kept: std::collections::HashSet<String>,
}

impl WebSyncPlan {
    /// A page matched by URL is rewritten only when its title or text changed.
    pub fn step(&mut self, existing: Option<StoredPage>, page: &KnowledgeDoc) -> PageStep {
        match existing {
            Some(s) if s.title == page.title && s.content == page.content => {
                self.sync.unchanged += 1;
                self.kept.insert(s.id);
                PageStep::Unchanged
            }
            Some(s) => {
                self.sync.updated += 1;
                PageStep::Replace(s.id)
            }
            None => {
                self.sync.added += 1;
                PageStep::Add
            }
        }
    }

    /// A page written (added or replaced) as document `id`.
    pub fn written(&mut self, id: String) {
        self.kept.insert(id);
    }

    /// Of the documents under the site's prefix, those this sync did not
    /// bring (pages that vanished from the site): to remove, counted so.
    pub fn vanished(&mut self, under_prefix: Vec<String>) -> Vec<String> {
        let gone: Vec<String> = under_prefix.into_iter().filter(|id| !self.kept.contains(id)).collect();
        self.sync.removed += gone.len() as u32;
        gone
    }

    /// Whether any page was written or removed: the business's word counts
    /// are then refreshed, once for the whole sync.
    pub fn changed(&self) -> bool {
        self.sync.added + self.sync.updated + self.sync.removed > 0
    }

    pub fn finish(self) -> WebSync {
        self.sync
    }
}

#[async_trait]
pub trait ImportStore: Send + Sync {
    /// A queued job.
    async fn create_import(
        &self,
        business_id: &BusinessId,
        kind: ImportKind,
        source: &str,
    ) -> Result<KnowledgeImport>;
    async fn set_import_state(
        &self,
        business_id: &BusinessId,
        id: &str,
        state: ImportState,
        detail: Option<String>,
        documents: u32,
    ) -> Result<()>;
    /// The business's latest jobs, newest first.
    async fn knowledge_imports(&self, business_id: &BusinessId, limit: usize)
        -> Result<Vec<KnowledgeImport>>;
    async fn knowledge_import(&self, business_id: &BusinessId, id: &str) -> Result<KnowledgeImport>;
    /// Jobs left queued or running by a process that stopped: failed, so
    /// the owner sees they must be started again. Returns how many.
    async fn fail_interrupted_imports(&self) -> Result<u64>;
    /// In one transaction: each page (matched by `source_url`) added, or
    /// replaced and re-indexed if its title or text changed; then, when
    /// `prefix` is given, the business's other documents whose `source_url`
    /// starts with it (pages that vanished from the site) removed.
    async fn sync_web_documents(
        &self,
        business_id: &BusinessId,
        pages: Vec<KnowledgeDoc>,
        prefix: Option<String>,
    ) -> Result<WebSync>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(url: &str, title: &str, content: &str) -> KnowledgeDoc {
        KnowledgeDoc { title: title.into(), content: content.into(), source_url: Some(url.into()) }
    }

    fn stored(id: &str, title: &str, content: &str) -> Option<StoredPage> {
        Some(StoredPage { id: id.into(), title: title.into(), content: content.into() })
    }

    #[test]
    fn pages_are_kept_replaced_or_added_and_the_rest_removed() {
        let mut plan = WebSyncPlan::default();
        let same = plan.step(stored("d1", "Hours", "9-5"), &page("/hours", "Hours", "9-5"));
        assert_eq!(same, PageStep::Unchanged);
        let edited = plan.step(stored("d2", "Prices", "old"), &page("/prices", "Prices", "new"));
        assert_eq!(edited, PageStep::Replace("d2".into()));
        plan.written("d2".into());
        assert_eq!(plan.step(None, &page("/new", "New", "text")), PageStep::Add);
        plan.written("d3".into());
        let gone = plan.vanished(vec!["d1".into(), "d2".into(), "d3".into(), "d4".into()]);
        assert_eq!(gone, vec!["d4".to_string()]);
        assert!(plan.changed());
        assert_eq!(plan.finish(), WebSync { added: 1, updated: 1, unchanged: 1, removed: 1 });
    }

    #[test]
    fn an_unchanged_site_changes_nothing() {
        let mut plan = WebSyncPlan::default();
        plan.step(stored("d1", "Hours", "9-5"), &page("/hours", "Hours", "9-5"));
        assert!(plan.vanished(vec!["d1".into()]).is_empty());
        assert!(!plan.changed());
    }
}
