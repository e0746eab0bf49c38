//! Analytics from the stored events, leads and calls: counts by local day,
//! conversion by channel, emergencies by level, calls by hour, top
//! knowledge questions. Plain functions over data, in the business's zone.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use serde::Serialize;

use crate::domain::{Channel, Priority};
use crate::error::ApiError;
use crate::store::admin::{ActivityData, EventRow, LatencyStat, Outcomes, ResponseLatency, PERIOD};

/// Counts over some span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub chats: u32,
    pub calls: u32,
    pub leads: u32,
    pub emergencies: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Day {
    pub date: NaiveDate,
    #[serde(flatten)]
    pub counts: Counts,
}

/// Conversations and the leads they produced, per channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversion {
    pub channel: Channel,
    pub conversations: u32,
    pub leads: u32,
    /// Leads per conversation, 0..=1 (0 without conversations).
    pub rate: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopQuestion {
    pub question: String,
    pub asked: u32,
    pub answered: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub timezone: String,
    /// Oldest first, one per local day of the period, today last.
    pub days: Vec<Day>,
    pub today: Counts,
    pub week: Counts,
    pub period: Counts,
    pub conversion: Vec<Conversion>,
    /// HIGH and URGENT leads of the period.
    pub emergencies_by_level: Vec<(Priority, u32)>,
    /// Calls started in each local hour of the day, 0..24.
    pub calls_by_hour: Vec<u32>,
    pub average_call_seconds: Option<f64>,
    pub top_questions: Vec<TopQuestion>,
}

/// The first moment of the period: local midnight `days - 1` days before today.
pub fn period_start(now: DateTime<Utc>, tz: chrono_tz::Tz, days: u32) -> DateTime<Utc> {
    let today = now.with_timezone(&tz).date_naive();
    let first = today - Duration::days(i64::from(days.max(1)) - 1);
    super::forms::day_start(first, tz)
}

/// The first and last local dates (YYYY-MM-DD) of the `days` days ending today.
pub fn period_days(now: DateTime<Utc>, tz: chrono_tz::Tz, days: u32) -> (String, String) {
    let today = now.with_timezone(&tz).date_naive();
    let first = today - Duration::days(i64::from(days.max(1)) - 1);
    (first.to_string(), today.to_string())
}

/// The store's figures split into days and the whole period.
pub fn split_latency(stats: Vec<LatencyStat>) -> ResponseLatency {
    let (period, by_day) = stats.into_iter().partition(|s| s.span == PERIOD);
    ResponseLatency { by_day, period }
}

/// Builds the report for the `days` local days ending today.
pub fn report(data: &ActivityData, tz: chrono_tz::Tz, now: DateTime<Utc>, days: u32) -> Report {
    let today = now.with_timezone(&tz).date_naive();
    let first = today - Duration::days(i64::from(days.max(1)) - 1);
    let week_start = today - Duration::days(6);
    let mut by_day: BTreeMap<NaiveDate, Counts> =
        first.iter_days().take_while(|d| *d <= today).map(|d| (d, Counts::default())).collect();
    let mut bump = |t: DateTime<Utc>, f: &dyn Fn(&mut Counts)| {
        if let Some(c) = by_day.get_mut(&t.with_timezone(&tz).date_naive()) {
            f(c);
        }
    };

    let mut conversations: BTreeMap<Channel, u32> = BTreeMap::new();
    for e in &data.events {
        if let ("conversation_started", Some(channel)) = (e.kind.as_str(), e.channel) {
            let n = e.count;
            *conversations.entry(channel).or_default() += n;
            let at = e.created_at;
            match channel {
                Channel::Chat => bump(at, &|c| c.chats += n),
                Channel::Voice => bump(at, &|c| c.calls += n),
                Channel::Import => {}
            }
        }
    }
    let mut leads_by_channel: BTreeMap<Channel, u32> = BTreeMap::new();
    let mut levels: BTreeMap<Priority, u32> = BTreeMap::new();
    for (priority, channel, created_at) in &data.leads {
        *leads_by_channel.entry(*channel).or_default() += 1;
        let urgent = *priority == Priority::Urgent;
        bump(*created_at, &|c| {
            c.leads += 1;
            c.emergencies += u32::from(urgent);
        });
        if *priority >= Priority::High {
            *levels.entry(*priority).or_default() += 1;
        }
    }
    let mut calls_by_hour = vec![0u32; 24];
    let mut durations = Vec::new();
    for (started_at, duration) in &data.calls {
        calls_by_hour[started_at.with_timezone(&tz).hour() as usize] += 1;
        durations.extend(duration.filter(|d| *d >= 0).map(|d| d as f64));
    }

    let sum = |from: NaiveDate| {
        by_day.range(from..).fold(Counts::default(), |mut acc, (_, c)| {
            acc.chats += c.chats;
            acc.calls += c.calls;
            acc.leads += c.leads;
            acc.emergencies += c.emergencies;
            acc
        })
    };
    Report {
        timezone: tz.name().to_string(),
        today: sum(today),
        week: sum(week_start.max(first)),
        period: sum(first),
        days: by_day.into_iter().map(|(date, counts)| Day { date, counts }).collect(),
        conversion: conversion(&conversations, &leads_by_channel),
        emergencies_by_level: [Priority::High, Priority::Urgent]
            .into_iter()
            .map(|p| (p, levels.get(&p).copied().unwrap_or(0)))
            .collect(),
        calls_by_hour,
        average_call_seconds: (!durations.is_empty())
            .then(|| durations.iter().sum::<f64>() / durations.len() as f64),
        top_questions: top_questions(&data.events),
    }
}

/// The ten questions asked most (alike but for case and the closing
/// punctuation), worded as first asked, and how often each was answered.
fn top_questions(events: &[EventRow]) -> Vec<TopQuestion> {
    let mut questions: BTreeMap<String, (String, u32, u32)> = BTreeMap::new();
    for e in events {
        let kind = e.kind.as_str();
        if kind != "knowledge_answered" && kind != "knowledge_unanswered" {
            continue;
        }
        let Some(q) = e.data.get("question").and_then(|q| q.as_str()) else { continue };
        let key = q.trim().trim_end_matches(['?', '!', '.']).to_lowercase();
        let entry = questions.entry(key).or_insert_with(|| (q.trim().to_string(), 0, 0));
        entry.1 += e.count;
        entry.2 += if kind == "knowledge_answered" { e.count } else { 0 };
    }
    let mut top: Vec<TopQuestion> = questions
        .into_values()
        .map(|(question, asked, answered)| TopQuestion { question, asked, answered })
        .collect();
    top.sort_by(|a, b| b.asked.cmp(&a.asked).then_with(|| a.question.cmp(&b.question)));
    top.truncate(10);
    top
}

/// Leads per conversation, for chat and for calls.
fn conversion(conversations: &BTreeMap<Channel, u32>, leads: &BTreeMap<Channel, u32>) -> Vec<Conversion> {
    [Channel::Chat, Channel::Voice]
        .into_iter()
        .map(|channel| {
            let conversations = conversations.get(&channel).copied().unwrap_or(0);
            let leads = leads.get(&channel).copied().unwrap_or(0);
            let rate = if conversations == 0 { 0.0 } else { f64::from(leads) / f64::from(conversations) };
            Conversion { channel, conversations, leads, rate }
        })
        .collect()
}

/// Seconds as m:ss.
pub fn minutes(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

/// The report and the outcomes as CSV (`section,measure,value`), for a spreadsheet.
pub fn report_csv(report: &Report, outcomes: &Outcomes) -> Result<Vec<u8>, ApiError> {
    let mut rows: Vec<(String, String, String)> = Vec::new();
    let mut add = |section: &str, measure: String, value: String| rows.push((section.into(), measure, value));
    let c = &report.period;
    for (m, v) in [("chats", c.chats), ("calls", c.calls), ("leads", c.leads), ("emergencies", c.emergencies)]
    {
        add("period", m.into(), v.to_string());
    }
    for d in &report.days {
        let c = &d.counts;
        for (m, v) in
            [("chats", c.chats), ("calls", c.calls), ("leads", c.leads), ("emergencies", c.emergencies)]
        {
            add("day", format!("{} {m}", d.date), v.to_string());
        }
    }
    for conv in &report.conversion {
        add("conversion", format!("{} conversations", conv.channel), conv.conversations.to_string());
        add("conversion", format!("{} leads", conv.channel), conv.leads.to_string());
        add("conversion", format!("{} rate", conv.channel), format!("{:.4}", conv.rate));
    }
    let k = &outcomes.calls;
    for (m, v) in k.counts() {
        add("calls", m.into(), v.to_string());
    }
    add("calls", "average_seconds".into(), k.average_seconds.map_or_else(String::new, |s| format!("{s:.1}")));
    add("calls", "p90_seconds".into(), k.p90_seconds.map_or_else(String::new, |s| s.to_string()));
    let e = &outcomes.emergencies;
    add("emergencies", "URGENT".into(), e.urgent.to_string());
    add("emergencies", "HIGH".into(), e.high.to_string());
    add("emergencies", "marked_not_emergency".into(), e.marked_not_emergency.to_string());
    add(
        "emergencies",
        "false_positive_rate".into(),
        e.false_positive_rate.map_or_else(String::new, |r| format!("{r:.4}")),
    );
    for w in &outcomes.lead_status_by_week {
        for (status, n) in
            [("NEW", w.new), ("CONTACTED", w.contacted), ("QUALIFIED", w.qualified), ("CLOSED", w.closed)]
        {
            add("lead_status", format!("{} weeks ago {status}", w.weeks_ago), n.to_string());
        }
    }
    let latency = &outcomes.response_latency;
    for l in latency.period.iter().chain(&latency.by_day) {
        for (m, v) in [("turns", l.turns), ("median_ms", l.median_ms), ("p90_ms", l.p90_ms)] {
            add("response_latency", format!("{} {} {m}", l.span, l.channel), v.to_string());
        }
    }
    for q in &report.top_questions {
        add("question_asked", super::export::safe_cell(&q.question), q.asked.to_string());
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| ApiError::Internal(format!("cannot write the CSV: {e}"));
    w.write_record(["section", "measure", "value"]).map_err(fail)?;
    for (a, b, c) in rows {
        w.write_record([a, b, c]).map_err(fail)?;
    }
    w.into_inner().map_err(|e| ApiError::Internal(format!("cannot write the CSV: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::parse_rfc3339 as parse;
    use crate::store::admin::EventRow;

    fn event(kind: &str, channel: Option<Channel>, at: &str, question: Option<&str>) -> EventRow {
        EventRow {
            kind: kind.into(),
            channel,
            data: question.map_or(serde_json::json!({}), |q| serde_json::json!({ "question": q })),
            created_at: crate::store::row_time(at),
            count: 1,
        }
    }

    #[test]
    fn days_are_local_and_every_measure_counts() {
        let tz: chrono_tz::Tz = "America/Chicago".parse().unwrap();
        // 2025-03-10 15:00 UTC = 10:00 in Chicago (CDT, UTC-5).
        let now = parse("2025-03-10T15:00:00.000Z").unwrap();
        let data = ActivityData {
            events: vec![
                // 03:00 UTC on the 10th is still the 9th in Chicago.
                event("conversation_started", Some(Channel::Chat), "2025-03-10T03:00:00.000Z", None),
                event("conversation_started", Some(Channel::Chat), "2025-03-10T14:00:00.000Z", None),
                event("conversation_started", Some(Channel::Voice), "2025-03-10T14:30:00.000Z", None),
                event(
                    "knowledge_answered",
                    Some(Channel::Chat),
                    "2025-03-10T14:01:00.000Z",
                    Some("Open Saturday?"),
                ),
                event(
                    "knowledge_unanswered",
                    Some(Channel::Chat),
                    "2025-03-09T14:01:00.000Z",
                    Some("open saturday"),
                ),
                event("knowledge_answered", Some(Channel::Chat), "2025-03-09T14:01:00.000Z", Some("Price?")),
            ],
            leads: vec![
                (Priority::Urgent, Channel::Voice, parse("2025-03-10T14:31:00.000Z").unwrap()),
                (Priority::Normal, Channel::Chat, parse("2025-03-10T14:05:00.000Z").unwrap()),
                (Priority::High, Channel::Chat, parse("2025-03-01T14:05:00.000Z").unwrap()),
            ],
            calls: vec![
                (parse("2025-03-10T14:30:00.000Z").unwrap(), Some(120)),
                (parse("2025-03-09T23:10:00.000Z").unwrap(), Some(60)),
            ],
        };
        let r = report(&data, tz, now, 30);
        assert_eq!(r.days.len(), 30);
        assert_eq!(r.days.last().unwrap().date, NaiveDate::from_ymd_opt(2025, 3, 10).unwrap());
        assert_eq!(r.today, Counts { chats: 1, calls: 1, leads: 2, emergencies: 1 });
        assert_eq!(r.days[28].counts.chats, 1, "the 03:00 UTC chat is on the 9th locally");
        assert_eq!(r.week.leads, 2);
        assert_eq!(r.period.leads, 3);
        assert_eq!(r.conversion[0].conversations, 2);
        assert_eq!(r.conversion[0].leads, 2);
        assert_eq!(r.conversion[1].rate, 1.0);
        assert_eq!(r.emergencies_by_level, vec![(Priority::High, 1), (Priority::Urgent, 1)]);
        assert_eq!(r.calls_by_hour[9], 1);
        assert_eq!(r.calls_by_hour[18], 1);
        assert_eq!(r.average_call_seconds, Some(90.0));
        assert_eq!(
            r.top_questions[0],
            TopQuestion { question: "Open Saturday?".into(), asked: 2, answered: 1 }
        );
        assert_eq!(r.top_questions.len(), 2);
        assert_eq!(crate::domain::rfc3339(period_start(now, tz, 1)), "2025-03-10T05:00:00.000Z");
    }
}
