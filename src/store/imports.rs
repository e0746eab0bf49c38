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
    pub created_at: String,
    pub updated_at: String,
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
