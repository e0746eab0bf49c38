//! The agent page: persona, messages, colours with a live widget preview,
//! and the lead questions (add, edit, delete, reorder).

use warp::http::StatusCode;

use super::{form_error, redirect_with, render_status, Page, PageError, PageResult};
use crate::domain::{AgentConfig, ExpectedFormat};
use crate::plans::Limit;
use crate::web::actions;
use crate::web::forms::colours;
use crate::web::input::{ActionError, FieldErrors, Input};
use crate::web::templates::AgentPage;

/// What the page shows besides the stored values: a form sent back with errors.
#[derive(Default)]
pub struct Shown {
    pub agent: Option<(Input, FieldErrors)>,
    pub new_question: Option<(Input, FieldErrors)>,
    pub question_errors: FieldErrors,
}

pub fn agent_values(a: &AgentConfig) -> Input {
    let (primary, secondary) = colours(a);
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    Input::from_pairs(
        [
            ("agent_name", a.agent_name.clone()),
            ("persona_prompt", a.persona_prompt.clone()),
            ("welcome_message", a.welcome_message.clone()),
            ("lead_capture_completion_message", opt(&a.lead_capture_completion_message)),
            ("voice_emergency_message", opt(&a.voice_emergency_message)),
            ("color_primary", primary),
            ("color_secondary", secondary),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    )
}

pub async fn show(page: &Page<'_>, shown: Shown) -> PageResult {
    page.caller.require_manager()?;
    let b = page.business()?;
    let l = page.layout("Agent", "/settings/agent").await;
    let profile = page.app.store.agent_profile(&b.id).await?;
    let questions = page.app.store.questions(&b.id).await?;
    let limit = page.app.plans.question_limit(b.plan_tier);
    let add_blocked = page
        .app
        .plans
        .within(b.plan_tier, Limit::Questions, questions.len())
        .err()
        .map(|e| format!("{}.", capitalise(&e.to_string())));
    let failed = shown.agent.is_some() || shown.new_question.is_some() || !shown.question_errors.is_empty();
    let (v, errors) = shown.agent.unwrap_or_else(|| (agent_values(&profile.agent), FieldErrors::default()));
    let (primary, secondary) = colours(&profile.agent);
    let (new_q, new_errors) = shown.new_question.unwrap_or_default();
    let page_data = AgentPage {
        l,
        v,
        errors,
        ink: crate::web::forms::ink_for(&primary),
        primary,
        secondary,
        questions,
        question_errors: shown.question_errors,
        question_limit: limit,
        add_blocked,
        formats: ExpectedFormat::ALL.iter().map(|f| f.as_str()).collect(),
        new_q,
        new_errors,
    };
    render_status(&page_data, if failed { StatusCode::BAD_REQUEST } else { StatusCode::OK })
}

pub(super) fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

pub async fn save(page: &Page<'_>) -> PageResult {
    let form = page.req.form();
    match actions::save_agent(page.app, page.caller, &form).await {
        Ok(()) => Ok(redirect_with(
            "/settings/agent",
            "Agent saved. The widget and calls use it from the next message.",
        )),
        Err(e) => {
            let errors = form_error(e)?;
            show(page, Shown { agent: Some((form, errors)), ..Shown::default() }).await
        }
    }
}

/// Plan limits show on the page (with the upgrade hint) rather than as an error page.
fn question_error(e: ActionError) -> Result<FieldErrors, PageError> {
    match e {
        ActionError::Api(crate::error::ApiError::PlanRequired(p)) => {
            let mut f = FieldErrors::default();
            f.add("question", format!("{p}. See /settings/plan to upgrade."));
            Ok(f)
        }
        other => form_error(other),
    }
}

pub async fn add_question(page: &Page<'_>) -> PageResult {
    let form = page.req.form();
    match actions::add_question(page.app, page.caller, &form).await {
        Ok(_) => Ok(redirect_with("/settings/agent#questions", "Question added.")),
        Err(ActionError::Fields(errors)) => {
            show(page, Shown { new_question: Some((form, errors)), ..Shown::default() }).await
        }
        Err(e) => show(page, Shown { question_errors: question_error(e)?, ..Shown::default() }).await,
    }
}

pub async fn edit_question(page: &Page<'_>, id: &str) -> PageResult {
    match actions::edit_question(page.app, page.caller, id, &page.req.form()).await {
        Ok(()) => Ok(redirect_with("/settings/agent#questions", "Question saved.")),
        Err(e) => show(page, Shown { question_errors: question_error(e)?, ..Shown::default() }).await,
    }
}

pub async fn delete_question(page: &Page<'_>, id: &str) -> PageResult {
    actions::delete_question(page.app, page.caller, id).await?;
    Ok(redirect_with("/settings/agent#questions", "Question deleted."))
}

pub async fn move_question(page: &Page<'_>, id: &str) -> PageResult {
    let up = page.req.form().get("direction") == "up";
    actions::move_question(page.app, page.caller, id, up).await?;
    Ok(redirect_with("/settings/agent#questions", "Order saved."))
}

/// The drag-and-drop reorder (script) posts every id in the new order.
pub async fn reorder(page: &Page<'_>) -> PageResult {
    match actions::reorder_questions(page.app, page.caller, &page.req.form()).await {
        Ok(()) => Ok(redirect_with("/settings/agent#questions", "Order saved.")),
        Err(e) => show(page, Shown { question_errors: question_error(e)?, ..Shown::default() }).await,
    }
}
