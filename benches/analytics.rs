//! Analytics figures on a busy business, on this machine:
//!   cargo bench --bench analytics
//! One PRO business with 100,000 analytics events, 10,000 leads (with
//! owner marks) and 5,000 calls over 30 days, and a second business of the
//! same size beside it. Times what the analytics page and
//! `/api/admin/analytics` compute: the store's grouped event, lead and call
//! rows and the report built from them (`activity` + `report`), and the SQL
//! outcomes (`outcomes`: call endings, p90, emergency marks, lead statuses).
//!
//! Prints a markdown table; the README quotes it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use frontdesk::store::sqlite::SqliteStore;
use frontdesk::store::{AdminStore, Store};
use frontdesk::web::analytics;

const EVENTS: usize = 100_000;
const LEADS: usize = 10_000;
const CALLS: usize = 5_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn row(name: &str, mut samples: Vec<Duration>) -> String {
    samples.sort();
    format!(
        "| {name} | {} | {:.3} ms | {:.3} ms | {:.3} ms |",
        samples.len(),
        percentile(&samples, 0.50).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().unwrap().as_secs_f64() * 1e3,
    )
}

fn seed(db: &std::path::Path, business: &str, prefix: &str) {
    let mut conn = rusqlite::Connection::open(db).unwrap();
    let tx = conn.transaction().unwrap();
    let now = chrono::Utc::now();
    let at = |i: usize, n: usize| {
        (now - chrono::Duration::seconds((i * 30 * 86_400 / n) as i64))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let priorities = ["NORMAL", "NORMAL", "NORMAL", "HIGH", "URGENT"];
    let statuses = ["NEW", "CONTACTED", "QUALIFIED", "CLOSED"];
    let reasons = ["agent_hung_up", "caller_hung_up", "transferred", "voicemail", "caller_hung_up"];
    for i in 0..CALLS {
        let conversation = format!("{prefix}c{i:05}");
        tx.execute(
            "INSERT INTO conversations (id, business_id, channel, started_at) VALUES (?1, ?2, 'VOICE', ?3)",
            rusqlite::params![conversation, business, at(i, CALLS)],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO calls (call_sid, business_id, conversation_id, status, duration_seconds, mode, ended_reason,
                 started_at, updated_at) VALUES (?1, ?2, ?3, 'completed', ?4, 'realtime', ?5, ?6, ?6)",
            rusqlite::params![
                format!("{prefix}CA{i:05}"),
                business,
                conversation,
                30 + i % 300,
                reasons[i % 5],
                at(i, CALLS)
            ],
        )
        .unwrap();
    }
    for i in 0..LEADS {
        let id = format!("{prefix}lead{i:05}");
        // Every other call left a lead.
        let conversation = (i < CALLS && i % 2 == 0).then(|| format!("{prefix}c{i:05}"));
        tx.execute(
            "INSERT INTO leads (id, business_id, conversation_id, channel, status, priority, captured_data,
                 created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, '{}', ?7, ?7)",
            rusqlite::params![
                id,
                business,
                conversation,
                if i % 3 == 0 { "VOICE" } else { "CHAT" },
                statuses[i % 4],
                priorities[i % 5],
                at(i, LEADS)
            ],
        )
        .unwrap();
        if i % 7 == 0 {
            tx.execute(
                "INSERT INTO triage_marks (lead_id, business_id, level, text, created_at) VALUES (?1, ?2, ?3, 'x', ?4)",
                rusqlite::params![id, business, if i % 2 == 0 { "NORMAL" } else { "URGENT" }, at(i, LEADS)],
            )
            .unwrap();
        }
    }
    for i in 0..EVENTS {
        let (kind, data) = match i % 4 {
            0 | 1 => ("conversation_started", "{}".to_string()),
            2 => ("knowledge_answered", format!("{{\"question\":\"Are you open on day {}?\"}}", i % 40)),
            _ => ("knowledge_unanswered", "{\"question\":\"Do you fix boilers?\"}".to_string()),
        };
        tx.execute(
            "INSERT INTO analytics_events (business_id, kind, channel, data, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![business, kind, if i % 3 == 0 { "VOICE" } else { "CHAT" }, data, at(i, EVENTS)],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("frontdesk.db");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let store = SqliteStore::open(&db).unwrap();
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo/acme-plumbing.toml"))
                .unwrap();
        let mut ids = Vec::new();
        for (n, prefix) in ["a", "b"].iter().enumerate() {
            let mut bundle = frontdesk::provision::parse_bundle(&text).unwrap();
            bundle.business.plan_tier = frontdesk::domain::PlanTier::Pro;
            bundle.business.name = format!("Business {n}");
            let id = store.import_business(bundle).await.unwrap().business_id;
            seed(&db, &id, prefix);
            ids.push(id);
        }
        let id = &ids[0];
        let tz: chrono_tz::Tz = "America/Chicago".parse().unwrap();
        let (mut report, mut outcomes, mut both) = (Vec::new(), Vec::new(), Vec::new());
        let mut check = None;
        for _ in 0..50 {
            let now = chrono::Utc::now();
            let since = analytics::period_start(now, tz, 30);
            let t = Instant::now();
            let data = store.activity(id, &since).await.unwrap();
            let r = analytics::report(&data, tz, now, 30);
            let a = t.elapsed();
            let t = Instant::now();
            let o = store.outcomes(id, &since).await.unwrap();
            let b = t.elapsed();
            report.push(a);
            outcomes.push(b);
            both.push(a + b);
            check = Some((r, o));
        }
        let (r, o) = check.unwrap();
        // Sanity: the figures cover the seeded history, not an empty period.
        assert!(r.period.chats + r.period.calls > 40_000, "{:?}", r.period);
        assert!(o.calls.total > 4_000 && o.emergencies.marked_not_emergency > 0, "{o:?}");
        println!(
            "One business of two, each with {EVENTS} events, {LEADS} leads and {CALLS} calls over 30 days:\n"
        );
        println!("| analytics, 30 days | samples | p50 | p99 | max |");
        println!("| --- | --- | --- | --- | --- |");
        println!("{}", row("events, leads, calls grouped by SQL + report", report));
        println!("{}", row("outcomes (SQL): call endings, p90, marks, statuses", outcomes));
        println!("{}", row("everything the analytics page computes", both));
    });
}
