//! The knowledge base: documents with their chunk counts; add (paste or
//! upload .txt/.md), edit, delete. Managing it needs the BASIC plan; a FREE
//! business still sees the documents it was given.

use super::{form_error, local_time, redirect_with, render_status, status_for, Page, PageResult};
use crate::plans::{Feature, Limit};
use crate::store::admin::KnowledgeEntry;
use crate::web::actions;
use crate::web::forms::zone;
use crate::web::input::{FieldErrors, Input};
use crate::web::templates::{DocRow, KnowledgeEditPage, KnowledgePage};

fn indexed(entry: &KnowledgeEntry, tz: chrono_tz::Tz) -> String {
    entry.indexed_at.as_deref().map_or_else(|| "not yet".to_string(), |t| local_time(t, tz))
}

pub async fn list(page: &Page<'_>, shown: Option<Input>, errors: FieldErrors) -> PageResult {
    page.caller.require_manager()?;
    let b = page.business()?;
    let l = page.layout("Knowledge", "/knowledge").await;
    let tz = zone(b);
    let docs = page.app.store.knowledge_entries(&b.id).await?;
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
    let page_data = KnowledgePage {
        l,
        v: shown.unwrap_or_default(),
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
            })
            .collect(),
    };
    render_status(&page_data, status)
}

pub async fn add(page: &Page<'_>) -> PageResult {
    let form = page.req.form();
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
