//! The analytics page: counts for every plan, charts by day from BASIC, and
//! conversion, emergencies, call hours and top questions on PRO.

use super::{render, Page, PageResult};
use crate::plans::Feature;
use crate::web::analytics::{self, Report};
use crate::web::charts::{bar_chart, line_chart, Series};
use crate::web::forms::zone;
use crate::web::templates::AnalyticsPage;

/// Days the analytics page covers.
pub const DAYS: u32 = 30;

fn hint(page: &Page<'_>, plan: crate::domain::PlanTier, feature: Feature, what: &str) -> Option<String> {
    page.app.plans.require(plan, feature).err().map(|e| format!("{what} need the {} plan.", e.required))
}

pub fn activity_chart(report: &Report) -> String {
    let labels: Vec<String> = report.days.iter().map(|d| d.date.format("%b %-d").to_string()).collect();
    let series = vec![
        Series {
            name: "Chats".into(),
            values: report.days.iter().map(|d| f64::from(d.counts.chats)).collect(),
        },
        Series {
            name: "Calls".into(),
            values: report.days.iter().map(|d| f64::from(d.counts.calls)).collect(),
        },
        Series {
            name: "Leads".into(),
            values: report.days.iter().map(|d| f64::from(d.counts.leads)).collect(),
        },
        Series {
            name: "Emergencies".into(),
            values: report.days.iter().map(|d| f64::from(d.counts.emergencies)).collect(),
        },
    ];
    line_chart("activity", "Chats, calls, leads and emergencies by day", &labels, &series)
}

pub async fn analytics(page: &Page<'_>) -> PageResult {
    let b = page.business()?;
    let l = page.layout("Analytics", "/analytics").await;
    let tz = zone(b);
    let now = chrono::Utc::now();
    let data = page.app.store.activity(&b.id, &analytics::period_start(now, tz, DAYS)).await?;
    let report = analytics::report(&data, tz, now, DAYS);
    let enhanced_hint = hint(page, b.plan_tier, Feature::EnhancedAnalytics, "Charts over time");
    let advanced_hint = hint(
        page,
        b.plan_tier,
        Feature::AdvancedAnalytics,
        "Conversion, emergencies by level, call hours and top questions",
    );
    let conversion: Vec<(String, f64)> =
        report.conversion.iter().map(|c| (c.channel.to_string(), (c.rate * 100.0).round())).collect();
    let levels: Vec<(String, f64)> =
        report.emergencies_by_level.iter().map(|(p, n)| (p.to_string(), f64::from(*n))).collect();
    let hours: Vec<(String, f64)> =
        report.calls_by_hour.iter().enumerate().map(|(h, n)| (format!("{h}"), f64::from(*n))).collect();
    let average_call = report.average_call_seconds.map_or_else(
        || "no calls yet".to_string(),
        |s| format!("{}:{:02}", (s / 60.0).floor() as u64, (s % 60.0).round() as u64),
    );
    render(&AnalyticsPage {
        l,
        days: DAYS,
        activity_chart: enhanced_hint.is_none().then(|| activity_chart(&report)),
        conversion_chart: bar_chart(
            "conversion",
            "Conversations that became leads, percent by channel",
            &conversion,
        ),
        emergency_chart: bar_chart("emergencies", "HIGH and URGENT leads", &levels),
        hours_chart: bar_chart("hours", "Calls by hour of the day", &hours),
        average_call,
        enhanced_hint,
        advanced_hint,
        report,
    })
}
