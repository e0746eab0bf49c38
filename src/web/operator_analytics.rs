//! The operator's analytics: the owner's figures for every business, their
//! totals, reply latency across all of them, and how many are on each plan.
//! Each business's figures are its own SQL aggregates; latency across
//! businesses is one SQL statement of its own (percentiles do not add up).

use chrono::Utc;
use serde::Serialize;

use super::analytics;
use crate::domain::{Channel, PlanTier};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::admin::{CallOutcomes, EmergencyOutcomes, LatencyStat, ResponseLatency, PERIOD};

/// One business's figures for the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BusinessFigures {
    pub business_id: String,
    pub name: String,
    pub plan: PlanTier,
    pub conversations: u32,
    pub leads: u32,
    /// Leads per conversation (0 without conversations).
    pub conversion: f64,
    pub calls: CallOutcomes,
    pub emergencies: EmergencyOutcomes,
    /// Median and p90 per channel over the period.
    pub response_latency: Vec<LatencyStat>,
}

/// Counts summed over every business.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub businesses: u32,
    pub conversations: u32,
    pub leads: u32,
    pub conversion: f64,
    pub calls: CallOutcomes,
    pub emergencies: EmergencyOutcomes,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperatorReport {
    pub days: u32,
    /// The period's UTC dates (YYYY-MM-DD), oldest first.
    pub dates: Vec<String>,
    /// Every plan with how many businesses are on it.
    pub plans: Vec<(PlanTier, u32)>,
    pub totals: Totals,
    /// Across every business, by day (each reply on its business's local
    /// date; the period's dates are UTC's, the operator having no zone).
    pub response_latency: ResponseLatency,
    pub businesses: Vec<BusinessFigures>,
}

fn rate(leads: u32, conversations: u32) -> f64 {
    if conversations == 0 {
        0.0
    } else {
        f64::from(leads) / f64::from(conversations)
    }
}

/// The report for the `days` UTC days ending today.
pub async fn load(app: &AppState, days: u32) -> Result<OperatorReport, ApiError> {
    let now = Utc::now();
    let since = analytics::period_start(now, chrono_tz::UTC, days);
    let (first, last) = analytics::period_days(now, chrono_tz::UTC, days);
    let activity = app.store.businesses_activity(since).await?;
    let mut businesses = Vec::new();
    for s in app.store.list_businesses().await? {
        let b = s.business;
        let outcomes = app.store.outcomes(&b.id, since).await?;
        let mut latency = app.store.response_latency(&b.id, &first, &last).await?;
        latency.retain(|l| l.span == PERIOD);
        let a = activity.iter().find(|a| a.business_id == b.id);
        let (conversations, leads) = a.map_or((0, 0), |a| (a.conversations, a.leads));
        businesses.push(BusinessFigures {
            business_id: b.id.into(),
            name: b.name,
            plan: b.plan_tier,
            conversations,
            leads,
            conversion: rate(leads, conversations),
            calls: outcomes.calls,
            emergencies: outcomes.emergencies,
            response_latency: latency,
        });
    }
    businesses.sort_by_key(|b| b.name.to_lowercase());
    let response_latency = analytics::split_latency(app.store.all_response_latency(&first, &last).await?);
    let first_day =
        chrono::NaiveDate::parse_from_str(&first, "%Y-%m-%d").unwrap_or_else(|_| now.date_naive());
    Ok(OperatorReport {
        days,
        dates: first_day.iter_days().take(days.max(1) as usize).map(|d| d.to_string()).collect(),
        plans: PlanTier::ALL
            .iter()
            .map(|p| (*p, businesses.iter().filter(|b| b.plan == *p).count() as u32))
            .collect(),
        totals: totals(&businesses),
        response_latency,
        businesses,
    })
}

fn totals(businesses: &[BusinessFigures]) -> Totals {
    let mut t = Totals { businesses: businesses.len() as u32, ..Totals::default() };
    let mut call_seconds = 0.0;
    for b in businesses {
        t.conversations += b.conversations;
        t.leads += b.leads;
        let (c, k) = (&mut t.calls, &b.calls);
        c.total += k.total;
        c.answered += k.answered;
        c.completed += k.completed;
        c.transferred += k.transferred;
        c.abandoned += k.abandoned;
        c.voicemail += k.voicemail;
        call_seconds += k.average_seconds.unwrap_or(0.0) * f64::from(k.total);
        let (e, m) = (&mut t.emergencies, &b.emergencies);
        e.urgent += m.urgent;
        e.high += m.high;
        e.marked_not_emergency += m.marked_not_emergency;
    }
    t.conversion = rate(t.leads, t.conversations);
    // A weighted mean is exact; a p90 across businesses is not a sum, so none.
    t.calls.average_seconds = (t.calls.total > 0).then(|| call_seconds / f64::from(t.calls.total));
    let e = &t.emergencies;
    t.emergencies = EmergencyOutcomes::new(e.urgent, e.high, e.marked_not_emergency);
    t
}

/// The report as CSV (`section,business,measure,value`); `business` is
/// empty for figures across every business.
pub fn csv(report: &OperatorReport) -> Result<Vec<u8>, ApiError> {
    let mut rows: Vec<[String; 4]> = Vec::new();
    let mut add = |section: &str, business: &str, measure: String, value: String| {
        rows.push([section.into(), super::export::safe_cell(business), measure, value]);
    };
    for (plan, n) in &report.plans {
        add("plans", "", plan.to_string(), n.to_string());
    }
    let t = &report.totals;
    let latency = &report.response_latency;
    for l in latency.period.iter().chain(&latency.by_day) {
        for (m, v) in [("turns", l.turns), ("median_ms", l.median_ms), ("p90_ms", l.p90_ms)] {
            add("response_latency", "", format!("{} {} {m}", l.span, l.channel), v.to_string());
        }
    }
    let mut figures =
        vec![("", t.conversations, t.leads, t.conversion, &t.calls, &t.emergencies, &[] as &[LatencyStat])];
    for b in &report.businesses {
        figures.push((
            &b.name,
            b.conversations,
            b.leads,
            b.conversion,
            &b.calls,
            &b.emergencies,
            &b.response_latency,
        ));
    }
    for (name, conversations, leads, conversion, k, e, latency) in figures {
        add("conversations", name, "conversations".into(), conversations.to_string());
        add("conversations", name, "leads".into(), leads.to_string());
        add("conversations", name, "conversion".into(), format!("{conversion:.4}"));
        for (m, v) in k.counts() {
            add("calls", name, m.into(), v.to_string());
        }
        let average = k.average_seconds.map_or_else(String::new, |s| format!("{s:.1}"));
        add("calls", name, "average_seconds".into(), average);
        if !name.is_empty() {
            add(
                "calls",
                name,
                "p90_seconds".into(),
                k.p90_seconds.map_or_else(String::new, |s| s.to_string()),
            );
        }
        add("emergencies", name, "URGENT".into(), e.urgent.to_string());
        add("emergencies", name, "HIGH".into(), e.high.to_string());
        add("emergencies", name, "marked_not_emergency".into(), e.marked_not_emergency.to_string());
        let fp = e.false_positive_rate.map_or_else(String::new, |r| format!("{r:.4}"));
        add("emergencies", name, "false_positive_rate".into(), fp);
        for l in latency {
            for (m, v) in [("turns", l.turns), ("median_ms", l.median_ms), ("p90_ms", l.p90_ms)] {
                add("response_latency", name, format!("{} {} {m}", l.span, l.channel), v.to_string());
            }
        }
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| ApiError::Internal(format!("cannot write the CSV: {e}"));
    w.write_record(["section", "business", "measure", "value"]).map_err(fail)?;
    for row in rows {
        w.write_record(row).map_err(fail)?;
    }
    w.into_inner().map_err(|e| ApiError::Internal(format!("cannot write the CSV: {e}")))
}

/// A channel's period figures, in words for a table cell.
pub fn latency_cell(latency: &[LatencyStat], channel: Channel) -> String {
    latency.iter().find(|l| l.channel == channel).map_or_else(
        || "—".to_string(),
        |l| format!("{:.1} s / {:.1} s", f64::from(l.median_ms) / 1000.0, f64::from(l.p90_ms) / 1000.0),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn figures(name: &str, plan: PlanTier, calls: (u32, f64), urgent: u32, marked: u32) -> BusinessFigures {
        BusinessFigures {
            business_id: name.into(),
            name: name.into(),
            plan,
            conversations: 10,
            leads: 4,
            conversion: 0.4,
            calls: CallOutcomes { total: calls.0, average_seconds: Some(calls.1), ..CallOutcomes::default() },
            emergencies: EmergencyOutcomes {
                urgent,
                marked_not_emergency: marked,
                ..EmergencyOutcomes::default()
            },
            response_latency: Vec::new(),
        }
    }

    #[test]
    fn totals_add_counts_and_weigh_the_average_call() {
        let t = totals(&[
            figures("a", PlanTier::Pro, (1, 60.0), 3, 1),
            figures("b", PlanTier::Free, (3, 20.0), 1, 0),
        ]);
        assert_eq!((t.businesses, t.conversations, t.leads, t.calls.total), (2, 20, 8, 4));
        assert_eq!(t.calls.average_seconds, Some(30.0));
        assert_eq!(t.emergencies.false_positive_rate, Some(0.25));
        assert_eq!(t.conversion, 0.4);
    }
}
