//! Knowledge from what the business already has: files (PDF, DOCX, HTML,
//! Markdown, text), one web page, or a crawl of its website. Each import is
//! a background job whose state the owner sees (queued, running, done,
//! failed with the reason); what it brings in is written in one store
//! transaction, so a failure never leaves half a document indexed.

pub mod crawl;
pub mod docx;
pub mod extract;
pub mod fetch;
pub mod html;
pub mod pdf;
pub mod text;

use std::future::Future;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::Semaphore;
use url::Url;

use crate::domain::{KnowledgeDoc, PlanTier};
use crate::ids::BusinessId;
use crate::plans::{Limit, MAX_DOCUMENT_BYTES};
use crate::state::AppState;
use crate::store::imports::{ImportKind, ImportState, KnowledgeImport};
use crate::store::StoreError;

/// Imports running at once in this process; the rest wait, queued.
static SLOTS: Semaphore = Semaphore::const_new(2);

/// Why an import failed, in words for the owner.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Extract(#[from] extract::ExtractError),
    #[error("{0}")]
    Fetch(#[from] fetch::FetchError),
    #[error("{0}")]
    Limit(String),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// What a file import is given.
pub struct FileUpload {
    pub name: String,
    pub bytes: Vec<u8>,
    /// The owner's title; else the document's own, else the file name.
    pub title: Option<String>,
}

/// Queues the import of a file. The caller checked the plan and the name.
pub async fn start_file(
    app: &AppState,
    business_id: &BusinessId,
    plan: PlanTier,
    upload: FileUpload,
) -> Result<KnowledgeImport, StoreError> {
    let job = app.store.create_import(business_id, ImportKind::File, &upload.name).await?;
    let (app2, bid, id) = (app.clone(), business_id.clone(), job.id.clone());
    tokio::spawn(run(
        app2.clone(),
        bid.clone(),
        id,
        async move { import_file(&app2, &bid, plan, upload).await },
    ));
    Ok(job)
}

/// Queues the import of one web page, or of the whole site it is on.
pub async fn start_web(
    app: &AppState,
    business_id: &BusinessId,
    plan: PlanTier,
    url: Url,
    whole_site: bool,
) -> Result<KnowledgeImport, StoreError> {
    let kind = if whole_site { ImportKind::Site } else { ImportKind::Page };
    let job = app.store.create_import(business_id, kind, url.as_str()).await?;
    let (app2, bid, id) = (app.clone(), business_id.clone(), job.id.clone());
    let job_id = id.clone();
    tokio::spawn(run(app2.clone(), bid.clone(), id, async move {
        if whole_site {
            import_site(&app2, &bid, &job_id, plan, &url).await
        } else {
            import_page(&app2, &bid, plan, &url).await
        }
    }));
    Ok(job)
}

/// The outcome of a job that worked: what to show, documents written.
type Outcome = (String, u32);

/// Runs one job: waits for a slot (queued), runs, records done or failed.
async fn run<F>(app: AppState, business_id: BusinessId, id: String, work: F)
where
    F: Future<Output = Result<Outcome, ImportError>>,
{
    let Ok(_slot) = SLOTS.acquire().await else { return };
    let state = |s, detail: Option<String>, n| {
        let (app, b, id) = (app.clone(), business_id.clone(), id.clone());
        async move {
            if let Err(e) = app.store.set_import_state(&b, &id, s, detail, n).await {
                tracing::warn!(error = %e, import = %id, "cannot record the import's state");
            }
        }
    };
    state(ImportState::Running, None, 0).await;
    // A parser that panics on a hostile file fails its job, not "running" forever.
    match std::panic::AssertUnwindSafe(work).catch_unwind().await {
        Ok(Ok((detail, n))) => state(ImportState::Done, Some(detail), n).await,
        Ok(Err(e)) => {
            tracing::info!(business_id = %business_id, import = %id, reason = %e, "knowledge import failed");
            state(ImportState::Failed, Some(e.to_string()), 0).await
        }
        Err(_) => {
            tracing::error!(business_id = %business_id, import = %id, "knowledge import panicked");
            state(ImportState::Failed, Some("the import failed unexpectedly; nothing was added".into()), 0)
                .await
        }
    }
}

async fn import_file(
    app: &AppState,
    business_id: &BusinessId,
    plan: PlanTier,
    upload: FileUpload,
) -> Result<Outcome, ImportError> {
    let FileUpload { name, bytes, title } = upload;
    let name2 = name.clone();
    // Parsing a large PDF is CPU work: off the async workers.
    let extracted = tokio::task::spawn_blocking(move || extract::extract(&name2, &bytes))
        .await
        .map_err(|_| ImportError::Limit("the file could not be read".into()))??;
    if extracted.content.len() > MAX_DOCUMENT_BYTES {
        return Err(ImportError::Limit(format!(
            "the file's text is {} KB; a document holds at most {} KB — split the file and import the parts",
            extracted.content.len() / 1024,
            MAX_DOCUMENT_BYTES / 1024
        )));
    }
    let count = app.store.knowledge_entries(business_id).await?.len();
    if let Err(e) = app.plans.within(plan, Limit::Documents, count) {
        return Err(ImportError::Limit(e.to_string()));
    }
    let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s).to_string();
    let title: String = title.or(extracted.title).unwrap_or(stem).chars().take(200).collect();
    let doc = KnowledgeDoc { title, content: extracted.content, source_url: None };
    let entry = app.store.add_knowledge(business_id, doc).await?;
    let mut detail = format!("“{}”: {} chunk(s)", entry.title, entry.chunks);
    if let Some(note) = extracted.note {
        detail.push_str("; ");
        detail.push_str(&note);
    }
    Ok((detail, 1))
}

async fn import_page(
    app: &AppState,
    business_id: &BusinessId,
    plan: PlanTier,
    url: &Url,
) -> Result<Outcome, ImportError> {
    let fetcher = fetch::Fetcher::new(&app.config.knowledge)?;
    let fetched = fetcher.get(url).await?;
    if !fetched.content_type.is_empty() && !fetched.content_type.contains("html") {
        return Err(fetch::FetchError::NotHtml(fetched.content_type).into());
    }
    let html = String::from_utf8_lossy(&fetched.body);
    let doc = crawl::page_doc(&html, &fetched.url)
        .ok_or_else(|| ImportError::Limit("the page has no text to answer from".into()))?;
    let exists = app.store.knowledge_entries(business_id).await?;
    let replacing = exists.iter().any(|d| d.source_url == doc.source_url);
    if !replacing {
        if let Err(e) = app.plans.within(plan, Limit::Documents, exists.len()) {
            return Err(ImportError::Limit(e.to_string()));
        }
    }
    let sync = app.store.sync_web_documents(business_id, vec![doc], None).await?;
    Ok((
        format!("{} added, {} updated, {} unchanged", sync.added, sync.updated, sync.unchanged),
        sync.written(),
    ))
}

async fn import_site(
    app: &AppState,
    business_id: &BusinessId,
    job_id: &str,
    plan: PlanTier,
    home: &Url,
) -> Result<Outcome, ImportError> {
    let cfg = &app.config.knowledge;
    let fetcher = fetch::Fetcher::new(cfg)?;
    let prefix = format!("{}/", crawl::origin(home));
    // The plan's document limit, counting this site's pages as replaceable.
    let docs = app.store.knowledge_entries(business_id).await?;
    let ours =
        docs.iter().filter(|d| d.source_url.as_deref().is_some_and(|u| u.starts_with(&prefix))).count();
    let room = app
        .plans
        .limit(plan, Limit::Documents)
        .map_or(usize::MAX, |max| max.saturating_sub(docs.len() - ours));
    let max_pages = (cfg.crawl_max_pages as usize).min(room);
    if max_pages == 0 {
        return Err(ImportError::Limit(format!(
            "the knowledge base is full ({} documents on this plan); delete a document to make room",
            docs.len()
        )));
    }
    let limits = crawl::CrawlLimits { max_pages, delay: Duration::from_millis(cfg.crawl_delay_ms) };
    let progress = |n: usize, url: String| {
        let (app, b, id) = (app.clone(), business_id.clone(), job_id.to_string());
        async move {
            let detail = format!("{n} page(s) read so far (last: {url})");
            let _ = app.store.set_import_state(&b, &id, ImportState::Running, Some(detail), n as u32).await;
        }
    };
    let crawl = crawl::crawl_site(&fetcher, home, limits, progress).await?;
    let skipped = skipped_summary(&crawl);
    if crawl.pages.is_empty() {
        return Err(ImportError::Limit(format!("no page could be imported{skipped}")));
    }
    let pages = crawl.pages.len();
    // A page that timed out may still be there: keep what we had.
    let remove = (!crawl.incomplete).then_some(prefix);
    let sync = app.store.sync_web_documents(business_id, crawl.pages, remove).await?;
    Ok((
        format!(
            "{pages} page(s): {} added, {} updated, {} unchanged, {} removed{skipped}",
            sync.added, sync.updated, sync.unchanged, sync.removed
        ),
        sync.written(),
    ))
}

/// "; skipped: /a (HTTP 404), /b (disallowed by robots.txt)", at most ten named.
fn skipped_summary(crawl: &crawl::Crawl) -> String {
    if crawl.skipped.is_empty() {
        return String::new();
    }
    let mut named: Vec<String> =
        crawl.skipped.iter().take(10).map(|(url, why)| format!("{url} ({why})")).collect();
    if crawl.skipped.len() > 10 {
        named.push(format!("and {} more", crawl.skipped.len() - 10));
    }
    format!("; skipped: {}", named.join(", "))
}

/// Fails the jobs a stopped process left queued or running.
pub async fn recover(app: &AppState) {
    match app.store.fail_interrupted_imports().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(count = n, "knowledge imports interrupted by a restart marked failed"),
        Err(e) => tracing::warn!(error = %e, "cannot check for interrupted knowledge imports"),
    }
}
