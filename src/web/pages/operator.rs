//! The operator's pages: every business with its plan and activity, adding
//! a business, changing a plan, and the business switcher.

use warp::http::{header, HeaderValue};

use super::{
    form_error, local_time, redirect, redirect_with, render, render_status, status_for, Page, PageResult,
};
use crate::domain::{Channel, PlanTier};
use crate::ids::BusinessId;
use crate::web::auth::BUSINESS_COOKIE;
use crate::web::charts::bar_chart;
use crate::web::input::{FieldErrors, Input};
use crate::web::templates::{
    business_types, BusinessRow, OperatorAnalyticsPage, OperatorAnalyticsRow, OperatorPage,
};
use crate::web::{actions, operator_analytics};

pub async fn list(page: &Page<'_>, shown: Option<Input>, errors: FieldErrors) -> PageResult {
    page.caller.require_operator()?;
    let l = page.layout("All businesses", "/operator").await;
    let since = chrono::Utc::now() - chrono::Duration::days(7);
    let activity = page.app.store.businesses_activity(since).await?;
    let rows = page
        .app
        .store
        .list_businesses()
        .await?
        .into_iter()
        .map(|s| {
            let a = activity.iter().find(|a| a.business_id == s.business.id);
            let tz = s.business.timezone.parse().unwrap_or(chrono_tz::UTC);
            BusinessRow {
                id: s.business.id.to_string(),
                name: s.business.name.clone(),
                plan: s.business.plan_tier,
                conversations: a.map_or(0, |a| a.conversations),
                leads: a.map_or(0, |a| a.leads),
                last: a
                    .and_then(|a| a.last_activity_at)
                    .map_or_else(|| "never".into(), |t| local_time(t, tz)),
                users: s.users,
            }
        })
        .collect::<Vec<BusinessRow>>();
    // Across businesses: how many on each plan, and the week's totals.
    let plan_counts =
        PlanTier::ALL.iter().map(|p| (*p, rows.iter().filter(|r| r.plan == *p).count())).collect();
    let totals = (rows.iter().map(|r| r.conversations).sum(), rows.iter().map(|r| r.leads).sum());
    let status = status_for(&errors);
    let v = shown.unwrap_or_else(|| Input::from_pairs([("timezone".to_string(), "UTC".to_string())]));
    let tls = page.app.tls.health();
    let page_data = OperatorPage {
        l,
        v,
        errors,
        rows,
        plan_counts,
        totals,
        plans: PlanTier::ALL.to_vec(),
        business_types: business_types(),
        tls,
    };
    render_status(&page_data, status)
}

/// `GET /operator/analytics`: the owner's figures across every business.
pub async fn analytics(page: &Page<'_>) -> PageResult {
    page.caller.require_operator()?;
    let l = page.layout("Analytics, all businesses", "/operator/analytics").await;
    let report = operator_analytics::load(page.app, super::reports::DAYS).await?;
    let labels: Vec<String> = report
        .dates
        .iter()
        .map(|d| {
            chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_or_else(|_| d.clone(), |d| d.format("%b %-d").to_string())
        })
        .collect();
    let plans: Vec<(String, f64)> =
        report.plans.iter().map(|(p, n)| (p.to_string(), f64::from(*n))).collect();
    let rows = report
        .businesses
        .iter()
        .map(|b| OperatorAnalyticsRow {
            name: b.name.clone(),
            plan: b.plan,
            conversations: b.conversations,
            leads: b.leads,
            conversion: format!("{:.0}%", b.conversion * 100.0),
            calls: b.calls.total,
            completed: b.calls.completed,
            abandoned: b.calls.abandoned,
            emergencies: b.emergencies.urgent + b.emergencies.high,
            false_alarms: b.emergencies.marked_not_emergency,
            chat_latency: operator_analytics::latency_cell(&b.response_latency, Channel::Chat),
            voice_latency: operator_analytics::latency_cell(&b.response_latency, Channel::Voice),
        })
        .collect();
    render(&OperatorAnalyticsPage {
        l,
        plan_chart: bar_chart("plans", "Businesses on each plan", &plans),
        latency_chart: super::reports::latency_chart(&labels, &report.dates, &report.response_latency),
        latency_summary: super::reports::latency_summary(&report.response_latency),
        false_alarms: report
            .totals
            .emergencies
            .false_positive_rate
            .map_or_else(|| "no emergencies yet".to_string(), |r| format!("{:.0}%", r * 100.0)),
        conversion: format!("{:.0}%", report.totals.conversion * 100.0),
        rows,
        report,
    })
}

/// `GET /operator/analytics.csv`.
pub async fn analytics_csv(page: &Page<'_>) -> PageResult {
    page.caller.require_operator()?;
    let report = operator_analytics::load(page.app, super::reports::DAYS).await?;
    Ok(super::leads::csv_file(operator_analytics::csv(&report)?, "analytics-all"))
}

pub async fn create(page: &Page<'_>) -> PageResult {
    let form = page.req.form();
    match actions::create_business(page.app, page.caller, &form).await {
        Ok(id) => {
            let mut response =
                redirect_with("/operator", &format!("Business “{}” added.", form.get("name").trim()));
            set_business(&mut response, &id);
            Ok(response)
        }
        Err(e) => {
            let errors = form_error(e)?;
            let keep = ["name", "business_type", "plan", "timezone", "email"];
            let v = Input::from_pairs(keep.iter().map(|k| (k.to_string(), form.get(k).to_string())));
            list(page, Some(v), errors).await
        }
    }
}

pub async fn change_plan(page: &Page<'_>, id: &BusinessId) -> PageResult {
    let plan = actions::change_plan(page.app, page.caller, id, &page.req.form()).await?;
    let name = page.app.store.business(id).await?.name;
    let back = if page
        .req
        .headers
        .get("referer")
        .and_then(|r| r.to_str().ok())
        .is_some_and(|r| r.contains("/settings/plan"))
    {
        "/settings/plan"
    } else {
        "/operator"
    };
    Ok(redirect_with(back, &format!("{name} is now on the {plan} plan.")))
}

fn set_business(response: &mut warp::reply::Response, id: &str) {
    let cookie = format!("{BUSINESS_COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Chooses the business the operator's pages act on.
pub fn switch(page: &Page<'_>) -> PageResult {
    page.caller.require_operator()?;
    let id = page.req.form().get("business").trim().to_string();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Ok(redirect("/operator"));
    }
    let mut response = redirect("/dashboard");
    set_business(&mut response, &id);
    Ok(response)
}
