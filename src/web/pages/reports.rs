//! The analytics page: counts for every plan, charts by day from BASIC, and
//! conversion, emergencies, call hours and top questions on PRO.

use super::{render, Page, PageResult};
use crate::domain::Business;
use crate::domain::Channel;
use crate::error::ApiError;
use crate::plans::Feature;
use crate::state::AppState;
use crate::store::admin::{LatencyStat, Outcomes, ResponseLatency, StatusWeek};
use crate::web::analytics::{self, Report};
use crate::web::charts::{bar_chart, line_chart, line_chart_described, Series};
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

/// The period's report (counted in the business's zone) and its outcomes (SQL).
pub async fn load(app: &AppState, b: &Business, days: u32) -> Result<(Report, Outcomes), ApiError> {
    let tz = zone(b);
    let now = chrono::Utc::now();
    let since = analytics::period_start(now, tz, days);
    let data = app.store.activity(&b.id, since).await?;
    let mut outcomes = app.store.outcomes(&b.id, since).await?;
    let (first, last) = analytics::period_days(now, tz, days);
    let latency = app.store.response_latency(&b.id, &first, &last).await?;
    outcomes.response_latency = analytics::split_latency(latency);
    Ok((analytics::report(&data, tz, now, days), outcomes))
}

/// `GET /analytics.csv` (PRO): the page's figures for a spreadsheet.
pub async fn analytics_csv(page: &Page<'_>) -> PageResult {
    let b = page.business()?;
    page.app.plans.require(b.plan_tier, Feature::AdvancedAnalytics)?;
    let (report, outcomes) = load(page.app, b, DAYS).await?;
    Ok(super::leads::csv_file(analytics::report_csv(&report, &outcomes)?, "analytics"))
}

/// Leads by their status now, one line per status over the weeks they came in.
fn status_chart(outcomes: &Outcomes) -> String {
    let weeks = outcomes.lead_status_by_week.iter().map(|w| w.weeks_ago).max().unwrap_or(0);
    let labels: Vec<String> = (0..=weeks)
        .rev()
        .map(|w| if w == 0 { "this week".to_string() } else { format!("{w} wk ago") })
        .collect();
    let column = |f: &dyn Fn(&StatusWeek) -> u32| -> Vec<f64> {
        (0..=weeks)
            .rev()
            .map(|w| {
                outcomes
                    .lead_status_by_week
                    .iter()
                    .find(|s| s.weeks_ago == w)
                    .map_or(0.0, |s| f64::from(f(s)))
            })
            .collect()
    };
    let series = vec![
        Series { name: "New".into(), values: column(&|s| s.new) },
        Series { name: "Contacted".into(), values: column(&|s| s.contacted) },
        Series { name: "Qualified".into(), values: column(&|s| s.qualified) },
        Series { name: "Closed".into(), values: column(&|s| s.closed) },
    ];
    line_chart("statuses", "Leads by status now, by the week they came in", &labels, &series)
}

/// Median and p90 reply latency by day, a line each per channel, in
/// milliseconds; a day without replies is a gap.
pub fn latency_chart(labels: &[String], dates: &[String], latency: &ResponseLatency) -> String {
    let mut series = Vec::new();
    for channel in [Channel::Chat, Channel::Voice] {
        if !latency.by_day.iter().any(|l| l.channel == channel) {
            continue;
        }
        let name = if channel == Channel::Chat { "Chat" } else { "Phone" };
        let value = |f: &dyn Fn(&LatencyStat) -> u32| -> Vec<f64> {
            dates
                .iter()
                .map(|d| {
                    latency
                        .by_day
                        .iter()
                        .find(|l| l.channel == channel && &l.span == d)
                        .map_or(f64::NAN, |l| f64::from(f(l)))
                })
                .collect()
        };
        series.push(Series { name: format!("{name} median"), values: value(&|l| l.median_ms) });
        series.push(Series { name: format!("{name} p90"), values: value(&|l| l.p90_ms) });
    }
    line_chart_described(
        "latency",
        "Time to the first word of a reply, milliseconds, by day",
        &latency_summary(latency),
        labels,
        &series,
    )
}

/// The period's latency in words, per channel.
pub fn latency_summary(latency: &ResponseLatency) -> String {
    if latency.period.is_empty() {
        return "No replies measured yet.".into();
    }
    latency
        .period
        .iter()
        .map(|l| {
            let name = if l.channel == Channel::Chat { "Chat" } else { "Phone" };
            format!(
                "{name}: median {}, 9 in 10 within {} ({} replies).",
                seconds(l.median_ms),
                seconds(l.p90_ms),
                l.turns
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn seconds(ms: u32) -> String {
    format!("{:.1} s", f64::from(ms) / 1000.0)
}

pub async fn analytics(page: &Page<'_>) -> PageResult {
    let b = page.business()?;
    let l = page.layout("Analytics", "/analytics").await;
    let (report, outcomes) = load(page.app, b, DAYS).await?;
    let enhanced_hint = hint(page, b.plan_tier, Feature::EnhancedAnalytics, "Charts over time");
    let advanced_hint = hint(
        page,
        b.plan_tier,
        Feature::AdvancedAnalytics,
        "How calls ended, false alarms, lead statuses, conversion, call hours, top questions and the CSV",
    );
    let conversion: Vec<(String, f64)> =
        report.conversion.iter().map(|c| (c.channel.to_string(), (c.rate * 100.0).round())).collect();
    let levels: Vec<(String, f64)> =
        report.emergencies_by_level.iter().map(|(p, n)| (p.to_string(), f64::from(*n))).collect();
    let hours: Vec<(String, f64)> =
        report.calls_by_hour.iter().enumerate().map(|(h, n)| (format!("{h}"), f64::from(*n))).collect();
    let average_call =
        report.average_call_seconds.map_or_else(|| "no calls yet".to_string(), analytics::minutes);
    let k = &outcomes.calls;
    let endings: Vec<(String, f64)> = [
        ("Completed", k.completed),
        ("Transferred", k.transferred),
        ("Abandoned", k.abandoned),
        ("Voicemail", k.voicemail),
    ]
    .iter()
    .map(|(name, n)| (name.to_string(), f64::from(*n)))
    .collect();
    let p90_call = k.p90_seconds.map_or_else(|| "no calls yet".to_string(), |s| analytics::minutes(s as f64));
    let false_alarms = outcomes
        .emergencies
        .false_positive_rate
        .map_or_else(|| "no emergencies yet".to_string(), |r| format!("{:.0}%", r * 100.0));
    let labels: Vec<String> = report.days.iter().map(|d| d.date.format("%b %-d").to_string()).collect();
    let dates: Vec<String> = report.days.iter().map(|d| d.date.to_string()).collect();
    render(&AnalyticsPage {
        latency_chart: latency_chart(&labels, &dates, &outcomes.response_latency),
        latency_summary: latency_summary(&outcomes.response_latency),
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
        endings_chart: bar_chart("endings", "How calls ended", &endings),
        status_chart: status_chart(&outcomes),
        average_call,
        p90_call,
        false_alarms,
        outcomes,
        enhanced_hint,
        advanced_hint,
        report,
    })
}
