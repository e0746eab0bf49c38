//! The dashboard, the leads list with its filters and CSV export, and a
//! lead's page with every answer and the transcript.

use warp::http::{header, HeaderValue};
use warp::reply::Response;

use super::{form_error, local_time, redirect_with, render, status_for, Page, PageResult};
use crate::domain::{field_label, Lead, LeadAlert, LeadStatus, INTERNAL_FIELDS};
use crate::ids::LeadId;
use crate::notify::render::display_phone;
use crate::web::analytics;
use crate::web::forms::{self, zone};
use crate::web::input::{FieldErrors, Input};
use crate::web::templates::{ChecklistItem, DashboardPage, LeadPage, LeadRow, LeadsPage, Select};

pub fn row(lead: &Lead, tz: chrono_tz::Tz, country: &str) -> LeadRow {
    let tel = lead.contact_phone.clone().unwrap_or_default();
    LeadRow {
        id: lead.id.to_string(),
        when: local_time(lead.created_at, tz),
        name: display_name(lead),
        phone: if tel.is_empty() { tel.clone() } else { display_phone(&tel, country) },
        tel,
        channel: lead.channel,
        priority: lead.priority,
        status: lead.status,
        summary: lead.summary(),
        alert_not_sent: lead.alert == Some(LeadAlert::NotSent),
        is_test: lead.is_test,
    }
}

fn display_name(lead: &Lead) -> String {
    lead.contact_name
        .clone()
        .or_else(|| lead.contact_phone.clone())
        .or_else(|| lead.contact_email.clone())
        .unwrap_or_else(|| "(no name yet)".to_string())
}

/// The first-hour checklist: alerts reach the owner, facts filled in, the
/// widget seen on the business's own site, a phone number connected (on a
/// plan with the voice agent).
async fn checklist(
    page: &Page<'_>,
    b: &crate::domain::Business,
) -> Result<Vec<ChecklistItem>, super::PageError> {
    let app = page.app;
    let policy = app.notify_policy();
    let alerts = policy.working_alert_channels(b);
    let facts = app.store.business_facts(&b.id).await?;
    let seen = app.store.widget_seen(&b.id).await?;
    let mut items = vec![
        ChecklistItem {
            done: !alerts.is_empty(),
            label: "Emergency alerts reach you",
            detail: match policy.alert_problem(b) {
                Some(problem) => problem,
                None => format!("By {}.", alerts.iter().map(|c| c.as_str().replace('_', " ")).collect::<Vec<_>>().join(", ")),
            },
            href: "/settings/notifications",
            action: "Set up alerts",
        },
        ChecklistItem {
            done: facts.is_filled(),
            label: "Your hours, area and prices are filled in",
            detail: "Your receptionist answers \"are you open Saturday?\" and \"what's the call-out fee?\" from them.".into(),
            href: "/settings/facts",
            action: "Fill in your facts",
        },
        ChecklistItem {
            done: seen.is_some(),
            label: "The chat is on your website",
            detail: match &seen {
                Some((origin, _)) => format!("Seen on {origin}."),
                None => "Add your site and paste one line into its pages; this ticks itself once a visitor's browser loads it.".into(),
            },
            href: "/settings/widget",
            action: "Install the chat",
        },
    ];
    if app.plans.allows(b.plan_tier, crate::plans::Feature::VoiceAgent) {
        items.push(ChecklistItem {
            done: b.twilio_phone_number.is_some(),
            label: "A phone number is connected",
            detail: "Calls to it are answered by your receptionist.".into(),
            href: "/settings/voice",
            action: "Connect a number",
        });
    }
    Ok(items)
}

pub async fn dashboard(page: &Page<'_>) -> PageResult {
    let l = page.layout("Dashboard", "/dashboard").await;
    let Some(b) = page.caller.business.as_ref() else {
        return Ok(super::redirect("/operator"));
    };
    let tz = zone(b);
    let now = chrono::Utc::now();
    let data = page.app.store.activity(&b.id, analytics::period_start(now, tz, 7)).await?;
    let report = analytics::report(&data, tz, now, 7);
    let (latest, _) = page
        .app
        .store
        .find_leads(&b.id, crate::store::admin::LeadFilter { limit: 8, ..Default::default() })
        .await?;
    let week = crate::store::admin::LeadFilter {
        priority: Some(crate::domain::Priority::Urgent),
        from: Some(crate::domain::rfc3339(analytics::period_start(now, tz, 7))),
        limit: 200,
        ..Default::default()
    };
    let unalerted = page
        .app
        .store
        .find_leads(&b.id, week)
        .await?
        .0
        .iter()
        .filter(|l| l.alert == Some(LeadAlert::NotSent))
        .count();
    let mut checklist = if page.caller.can_manage() { checklist(page, b).await? } else { Vec::new() };
    if checklist.iter().all(|i| i.done) {
        checklist.clear();
    }
    render(&DashboardPage {
        l,
        stats: vec![("Today", "today", report.today), ("Last 7 days", "week", report.week)],
        leads: latest.iter().map(|lead| row(lead, tz, &b.country)).collect(),
        checklist,
        unalerted,
    })
}

fn selects() -> Vec<Select> {
    let names = |all: &'static [&'static str]| all.to_vec();
    vec![
        Select {
            name: "status",
            label: "Status",
            options: names(&["NEW", "CONTACTED", "QUALIFIED", "CLOSED"]),
        },
        Select { name: "priority", label: "Priority", options: names(&["URGENT", "HIGH", "NORMAL", "LOW"]) },
        Select { name: "channel", label: "Channel", options: names(&["CHAT", "VOICE", "IMPORT"]) },
    ]
}

/// The filter's own parameters, for export and paging links.
fn filter_query(q: &Input, page: Option<u32>) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for key in ["q", "status", "priority", "channel", "from", "to"] {
        let v = q.get(key).trim();
        if !v.is_empty() {
            out.append_pair(key, v);
        }
    }
    if let Some(p) = page {
        out.append_pair("page", &p.to_string());
    }
    let s = out.finish();
    if s.is_empty() {
        s
    } else {
        format!("?{s}")
    }
}

pub async fn list(page: &Page<'_>) -> PageResult {
    let l = page.layout("Leads", "/leads").await;
    let b = page.business()?;
    let tz = zone(b);
    let q = page.req.query_input();
    let (filter, errors) = match forms::lead_filter(&q, tz) {
        Ok(f) => (f, FieldErrors::default()),
        Err(e) => (Default::default(), form_error(e)?),
    };
    let (leads, total) = if errors.is_empty() {
        page.app.store.find_leads(&b.id, filter.clone()).await?
    } else {
        (Vec::new(), 0)
    };
    let current = filter.offset / filter.limit.max(1) + 1;
    let prev_page = (current > 1).then(|| format!("/leads{}", filter_query(&q, Some(current - 1))));
    let next_page = (u64::from(filter.offset) + (leads.len() as u64) < total)
        .then(|| format!("/leads{}", filter_query(&q, Some(current + 1))));
    let status = status_for(&errors);
    let page_data = LeadsPage {
        l,
        query: filter_query(&q, None),
        v: q,
        errors,
        selects: selects(),
        leads: leads.iter().map(|lead| row(lead, tz, &b.country)).collect(),
        total,
        prev_page,
        next_page,
    };
    super::render_status(&page_data, status)
}

pub async fn export(page: &Page<'_>) -> PageResult {
    let b = page.business()?;
    let tz = zone(b);
    let mut filter = forms::lead_filter(&page.req.query_input(), tz)?;
    filter.limit = crate::web::export::MAX_EXPORT;
    filter.offset = 0;
    let (leads, _) = page.app.store.find_leads(&b.id, filter).await?;
    Ok(csv_response(crate::web::export::leads_csv(&leads, tz)?))
}

pub fn csv_response(body: Vec<u8>) -> Response {
    csv_file(body, "leads")
}

/// A CSV download named `{stem}-YYYY-MM-DD.csv`.
pub fn csv_file(body: Vec<u8>, stem: &str) -> Response {
    let mut response = Response::new(body.into());
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    let name = format!("attachment; filename=\"{stem}-{}.csv\"", chrono::Utc::now().format("%Y-%m-%d"));
    if let Ok(v) = HeaderValue::from_str(&name) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

pub async fn detail(page: &Page<'_>, id: &LeadId) -> PageResult {
    detail_with(page, id, FieldErrors::default()).await
}

async fn detail_with(page: &Page<'_>, id: &LeadId, errors: FieldErrors) -> PageResult {
    let b = page.business()?;
    let detail = page.app.store.lead_detail(&b.id, id).await?;
    let lead = detail.lead;
    let name = display_name(&lead);
    let l = page.layout(&format!("Lead: {name}"), "/leads").await;
    let when = local_time(lead.created_at, zone(b));
    let answers = lead
        .captured
        .iter()
        .filter(|(k, _)| !INTERNAL_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (field_label(k), v.clone()))
        .collect();
    let alert_problem = (lead.alert == Some(LeadAlert::NotSent)).then(|| {
        page.app.notify_policy().alert_problem(b).unwrap_or_else(|| {
            "Every alert for it failed or was only kept on this server: see the Notifications page.".into()
        })
    });
    let triage_mark = page.app.store.triage_mark(&b.id, id).await?.map(|p| p.to_string());
    let status = status_for(&errors);
    super::render_status(
        &LeadPage {
            l,
            name,
            when,
            statuses: LeadStatus::ALL.iter().map(|s| s.as_str()).collect(),
            transcript: detail.transcript,
            call: detail.call,
            summary: lead.summary(),
            phone: lead.contact_phone.as_deref().map(|p| (display_phone(p, &b.country), p.to_string())),
            answers,
            alert_problem,
            triage_mark,
            errors,
            lead,
        },
        status,
    )
}

/// The owner's "this was (not) an emergency" from the lead page.
pub async fn mark_triage(page: &Page<'_>, id: &LeadId) -> PageResult {
    let (level, _) = crate::web::actions::mark_triage(page.app, page.caller, id, &page.req.form()).await?;
    let said = if level == crate::domain::Priority::Urgent { "an emergency" } else { "not an emergency" };
    Ok(redirect_with(&format!("/leads/{id}"), &format!("Marked as {said}: triage learns from it.")))
}

pub async fn set_status(page: &Page<'_>, id: &LeadId) -> PageResult {
    let lead = crate::web::actions::set_lead_status(page.app, page.caller, id, &page.req.form()).await?;
    Ok(redirect_with(&format!("/leads/{}", lead.id), &format!("Status changed to {}.", lead.status)))
}

pub async fn set_notes(page: &Page<'_>, id: &LeadId) -> PageResult {
    match crate::web::actions::set_lead_notes(page.app, page.caller, id, &page.req.form()).await {
        Ok(()) => Ok(redirect_with(&format!("/leads/{id}"), "Notes saved.")),
        Err(e) => detail_with(page, id, form_error(e)?).await,
    }
}

pub async fn set_test(page: &Page<'_>, id: &LeadId) -> PageResult {
    let test = crate::web::actions::set_lead_test(page.app, page.caller, id, &page.req.form()).await?;
    let message = if test { "Marked as a test: it no longer counts." } else { "Marked as a real lead." };
    Ok(redirect_with(&format!("/leads/{id}"), message))
}

pub async fn delete(page: &Page<'_>, id: &LeadId) -> PageResult {
    crate::web::actions::delete_lead(page.app, page.caller, id).await?;
    Ok(redirect_with("/leads", "Lead deleted."))
}
