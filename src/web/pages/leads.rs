//! The dashboard, the leads list with its filters and CSV export, and a
//! lead's page with every answer and the transcript.

use warp::http::{header, HeaderValue};
use warp::reply::Response;

use super::{form_error, local_time, redirect_with, render, status_for, Page, PageResult};
use crate::domain::{Lead, LeadStatus};
use crate::web::analytics;
use crate::web::forms::{self, zone};
use crate::web::input::{FieldErrors, Input};
use crate::web::templates::{DashboardPage, LeadPage, LeadRow, LeadsPage, Select};

pub fn row(lead: &Lead, tz: chrono_tz::Tz) -> LeadRow {
    LeadRow {
        id: lead.id.clone(),
        when: local_time(&lead.created_at, tz),
        name: display_name(lead),
        phone: lead.contact_phone.clone().unwrap_or_default(),
        channel: lead.channel.to_string(),
        priority: lead.priority.to_string(),
        status: lead.status.to_string(),
    }
}

fn display_name(lead: &Lead) -> String {
    lead.contact_name
        .clone()
        .or_else(|| lead.contact_phone.clone())
        .or_else(|| lead.contact_email.clone())
        .unwrap_or_else(|| "(no name yet)".to_string())
}

pub async fn dashboard(page: &Page<'_>) -> PageResult {
    let l = page.layout("Dashboard", "/dashboard").await;
    let Some(b) = page.caller.business.as_ref() else {
        return Ok(super::redirect("/operator"));
    };
    let tz = zone(b);
    let now = chrono::Utc::now();
    let data = page.app.store.activity(&b.id, &analytics::period_start(now, tz, 7)).await?;
    let report = analytics::report(&data, tz, now, 7);
    let (latest, _) = page
        .app
        .store
        .find_leads(&b.id, crate::store::admin::LeadFilter { limit: 8, ..Default::default() })
        .await?;
    render(&DashboardPage {
        l,
        stats: vec![("Today", "today", report.today), ("Last 7 days", "week", report.week)],
        leads: latest.iter().map(|lead| row(lead, tz)).collect(),
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
        leads: leads.iter().map(|lead| row(lead, tz)).collect(),
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
    let mut response = Response::new(body.into());
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    let name = format!("attachment; filename=\"leads-{}.csv\"", chrono::Utc::now().format("%Y-%m-%d"));
    if let Ok(v) = HeaderValue::from_str(&name) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

pub async fn detail(page: &Page<'_>, id: &str) -> PageResult {
    let b = page.business()?;
    let detail = page.app.store.lead_detail(&b.id, id).await?;
    let name = display_name(&detail.lead);
    let l = page.layout(&format!("Lead: {name}"), "/leads").await;
    let when = local_time(&detail.lead.created_at, zone(b));
    let triage_mark = page.app.store.triage_mark(&b.id, id).await?.map(|p| p.to_string());
    render(&LeadPage {
        l,
        name,
        when,
        statuses: LeadStatus::ALL.iter().map(|s| s.as_str()).collect(),
        transcript: detail.transcript,
        call: detail.call,
        lead: detail.lead,
        triage_mark,
    })
}

/// The owner's "this was (not) an emergency" from the lead page.
pub async fn mark_triage(page: &Page<'_>, id: &str) -> PageResult {
    let (level, _) = crate::web::actions::mark_triage(page.app, page.caller, id, &page.req.form()).await?;
    let said = if level == crate::domain::Priority::Urgent { "an emergency" } else { "not an emergency" };
    Ok(redirect_with(&format!("/leads/{id}"), &format!("Marked as {said}: triage learns from it.")))
}

pub async fn set_status(page: &Page<'_>, id: &str) -> PageResult {
    let lead = crate::web::actions::set_lead_status(page.app, page.caller, id, &page.req.form()).await?;
    Ok(redirect_with(&format!("/leads/{}", lead.id), &format!("Status changed to {}.", lead.status)))
}
