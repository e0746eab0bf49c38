//! The knowledge base: documents by source with their chunk counts and a
//! preview; add (paste, upload .txt/.md at once, or PDF/DOCX/HTML as a
//! background import), import a web page or the whole website, watch the
//! imports; edit, delete; the business's own glossary (its customers'
//! words for what its documents say). Managing it needs the BASIC plan; a
//! FREE business still sees the documents it was given.

use super::{form_error, local_time, redirect_with, render_status, status_for, Page, PageResult};
use crate::plans::{Feature, Limit};
use crate::store::admin::KnowledgeEntry;
use crate::store::imports::{ImportState, KnowledgeImport};
use crate::web::actions;
use crate::web::forms::zone;
use crate::web::input::{FieldErrors, Input};
use crate::web::templates::{DocRow, ImportRow, KnowledgeEditPage, KnowledgePage};

fn indexed(entry: &KnowledgeEntry, tz: chrono_tz::Tz) -> String {
    entry.indexed_at.map_or_else(|| "not yet".to_string(), |t| local_time(t, tz))
}

pub async fn list(page: &Page<'_>, shown: Option<Input>, errors: FieldErrors) -> PageResult {
    page.caller.require_manager()?;
    let b = page.business()?;
    let l = page.layout("Knowledge", "/knowledge").await;
    let tz = zone(b);
    let mut docs = page.app.store.knowledge_entries(&b.id).await?;
    // Grouped by source: web pages by address, then what was added here.
    docs.sort_by(|a, b| {
        (a.source_url.is_none(), &a.source_url).cmp(&(b.source_url.is_none(), &b.source_url))
    });
    let imports = page.app.store.knowledge_imports(&b.id, 10).await?;
    let plans = page.app.plans;
    let blocked = plans.require(b.plan_tier, Feature::KnowledgeBaseManagement).err().map(|e| {
        format!(
            "Adding and editing documents needs the {} plan (this business is on {}).",
            e.required, e.current
        )
    });
    // At the plan's document limit: edit or delete, but not add.
    let full = blocked
        .is_none()
        .then(|| plans.within(b.plan_tier, Limit::Documents, docs.len()).err())
        .flatten()
        .map(|e| {
            format!("{}. Edit or delete a document to make room.", super::agent::capitalise(&e.to_string()))
        });
    let status = status_for(&errors);
    let mut v = shown.unwrap_or_default();
    if !v.has("glossary") {
        let lines: Vec<String> = page
            .app
            .store
            .business_glossary(&b.id)
            .await?
            .iter()
            .map(|g| format!("{} = {}", g.phrase, g.words))
            .collect();
        v = v.with("glossary", &lines.join("\n"));
    }
    let page_data = KnowledgePage {
        l,
        v,
        errors,
        blocked,
        full,
        docs: docs
            .iter()
            .map(|d| DocRow {
                id: d.id.clone(),
                title: d.title.clone(),
                chunks: d.chunks,
                indexed: indexed(d, tz),
                source: source_label(d.source_url.as_deref()),
                source_url: d.source_url.clone(),
                preview: preview(&d.content),
            })
            .collect(),
        busy: imports.iter().any(|i| matches!(i.state, ImportState::Queued | ImportState::Running)),
        imports: imports.iter().map(|i| import_row(i, tz)).collect(),
        max_pages: page.app.config.knowledge.crawl_max_pages,
    };
    render_status(&page_data, status)
}

fn source_label(url: Option<&str>) -> String {
    match url.and_then(|u| url::Url::parse(u).ok()) {
        Some(u) => match u.port() {
            Some(port) => format!("{}:{port}{}", u.host_str().unwrap_or_default(), u.path()),
            None => format!("{}{}", u.host_str().unwrap_or_default(), u.path()),
        },
        None => "added here".to_string(),
    }
}

/// The opening words of a document (about 140 characters, on a word
/// boundary), its heading lines left out.
fn preview(content: &str) -> String {
    let flat = content
        .lines()
        .filter(|l| crate::retrieval::heading_text(l).is_none())
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ");
    if flat.chars().count() <= 140 {
        return flat;
    }
    let cut: String = flat.chars().take(140).collect();
    format!("{}…", cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head))
}

fn import_row(i: &KnowledgeImport, tz: chrono_tz::Tz) -> ImportRow {
    ImportRow {
        kind: match i.kind.as_str() {
            "file" => "File",
            "page" => "Web page",
            _ => "Website",
        },
        source: i.source.clone(),
        state: i.state.as_str(),
        detail: i.detail.clone().unwrap_or_default(),
        updated: local_time(i.updated_at, tz),
    }
}

/// Text and Markdown files are read at once; the others (PDF, DOCX, HTML)
/// are imported in the background, and any other kind is refused there.
fn read_at_once(name: &str) -> bool {
    use crate::import::extract::FileKind;
    matches!(FileKind::of(name), Some(FileKind::Text | FileKind::Markdown))
}

pub async fn save_glossary(page: &Page<'_>) -> PageResult {
    let form = page.req.form();
    match actions::save_glossary(page.app, page.caller, &form).await {
        Ok(g) => Ok(redirect_with(
            "/knowledge",
            &format!("Glossary saved ({} entries): your agent searches with it now.", g.len()),
        )),
        Err(e) => list(page, Some(form), form_error(e)?).await,
    }
}

pub async fn add(page: &Page<'_>) -> PageResult {
    let form = page.req.form();
    if let Some((name, bytes)) = page.req.upload("file").filter(|(name, _)| !read_at_once(name)) {
        let title = form.opt("title").map(str::to_string);
        return match actions::import_file(page.app, page.caller, name, bytes.to_vec(), title).await {
            Ok(job) => Ok(redirect_with(
                "/knowledge",
                &format!("Importing “{}”: its progress is under Imports.", job.source),
            )),
            Err(e) => list(page, Some(form), form_error(e)?).await,
        };
    }
    match actions::add_knowledge(page.app, page.caller, &form, page.req.upload("file")).await {
        Ok(entry) => Ok(redirect_with(
            "/knowledge",
            &format!(
                "Added “{}” ({} chunk(s)). Your agent can answer from it now.",
                entry.title, entry.chunks
            ),
        )),
        Err(e) => list(page, Some(form), form_error(e)?).await,
    }
}

pub async fn edit_form(page: &Page<'_>, id: &str, shown: Option<Input>, errors: FieldErrors) -> PageResult {
    page.caller.require_manager()?;
    let b = page.business()?;
    page.app.plans.require(b.plan_tier, Feature::KnowledgeBaseManagement)?;
    let entry = page.app.store.knowledge_entry(&b.id, id).await?;
    let l = page.layout(&format!("Edit {}", entry.title), "/knowledge").await;
    let v = shown.unwrap_or_else(|| {
        Input::from_pairs([
            ("title".to_string(), entry.title.clone()),
            ("content".to_string(), entry.content.clone()),
            ("source_url".to_string(), entry.source_url.clone().unwrap_or_default()),
        ])
    });
    let status = status_for(&errors);
    let page_data = KnowledgeEditPage {
        l,
        v,
        errors,
        id: entry.id.clone(),
        title: entry.title.clone(),
        chunks: entry.chunks,
        indexed: indexed(&entry, zone(b)),
    };
    render_status(&page_data, status)
}

pub async fn edit(page: &Page<'_>, id: &str) -> PageResult {
    let form = page.req.form();
    match actions::edit_knowledge(page.app, page.caller, id, &form, page.req.upload("file")).await {
        Ok(entry) => {
            Ok(redirect_with("/knowledge", &format!("Saved “{}” ({} chunk(s)).", entry.title, entry.chunks)))
        }
        Err(e) => {
            let errors = form_error(e)?;
            edit_form(page, id, Some(form), errors).await
        }
    }
}

pub async fn delete(page: &Page<'_>, id: &str) -> PageResult {
    actions::delete_knowledge(page.app, page.caller, id).await?;
    Ok(redirect_with("/knowledge", "Document deleted."))
}

pub async fn import_web(page: &Page<'_>) -> PageResult {
    let form = page.req.form();
    match actions::import_web(page.app, page.caller, form.get("url"), form.flag("site")).await {
        Ok(job) => Ok(redirect_with(
            "/knowledge",
            &format!("Importing {}: its progress is under Imports.", job.source),
        )),
        Err(e) => list(page, Some(form), form_error(e)?).await,
    }
}
