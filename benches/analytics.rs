//! Analytics figures on a busy business, on this machine:
//!   cargo bench --bench analytics
//! One PRO business with 100,000 analytics events, 100,000 reply latencies,
//! 10,000 leads (with owner marks) and 5,000 calls over 30 days, and a
//! second business of the same size beside it. Times what the analytics
//! page and `/api/admin/analytics` compute: the store's grouped event, lead
//! and call rows and the report built from them (`activity` + `report`), the
//! SQL outcomes (`outcomes`: call endings, p90, emergency marks, lead
//! statuses), and reply latency (`response_latency`: median and p90 per
//! local day and channel, and for the period).
//!
//! With FRONTDESK_TEST_DATABASE_URL set, reply latency is timed on Postgres
//! too (100,000 rows for each of two businesses in a schema of its own,
//! dropped after).
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
const LATENCIES: usize = 100_000;

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
    for i in 0..LATENCIES {
        // Two replies in three are chat; a spread of 0.2-3.2 s.
        let (channel, mode) = if i % 3 == 0 { ("VOICE", "realtime") } else { ("CHAT", "chat_stream") };
        let when = now - chrono::Duration::seconds((i * 30 * 86_400 / LATENCIES) as i64);
        tx.execute(
            "INSERT INTO response_latency (business_id, conversation_id, channel, mode, ms, day, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            rusqlite::params![
                business,
                format!("{prefix}c{:05}", i % CALLS),
                channel,
                mode,
                200 + (i * 7_919) % 3_000,
                when.with_timezone(&chrono_tz::America::Chicago).date_naive().to_string(),
                at(i, LATENCIES)
            ],
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
        let (mut report, mut outcomes, mut latency, mut both) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
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
            let t = Instant::now();
            let (first, last) = analytics::period_days(now, tz, 30);
            let l = analytics::split_latency(store.response_latency(id, &first, &last).await.unwrap());
            let c = t.elapsed();
            report.push(a);
            outcomes.push(b);
            latency.push(c);
            both.push(a + b + c);
            check = Some((r, o, l));
        }
        let (r, o, l) = check.unwrap();
        let turns: u32 = l.period.iter().map(|s| s.turns).sum();
        assert!(turns > 90_000 && l.by_day.len() >= 60, "{:?}", l.period);
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
        println!("{}", row("reply latency (SQL): median, p90 per day and channel", latency));
        println!("{}", row("everything the analytics page computes", both));
        if let Ok(url) = std::env::var("FRONTDESK_TEST_DATABASE_URL") {
            println!("{}", postgres(&url, tz).await);
        }
    });
}

/// Reply latency on Postgres: two businesses with 100,000 replies each.
async fn postgres(base: &str, tz: chrono_tz::Tz) -> String {
    use frontdesk::store::postgres::PgStore;
    let schema = format!("fd_bench_{}", &frontdesk::domain::new_id()[..12]);
    let sep = if base.contains('?') { '&' } else { '?' };
    let store = PgStore::open(&format!("{base}{sep}schema={schema}")).await.unwrap();
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo/acme-plumbing.toml"))
            .unwrap();
    let (client, conn) = tokio_postgres::connect(base, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let mut ids = Vec::new();
    for n in 0..2 {
        let mut bundle = frontdesk::provision::parse_bundle(&text).unwrap();
        bundle.business.name = format!("Business {n}");
        bundle.business.twilio_phone_number = None;
        let id = store.import_business(bundle).await.unwrap().business_id;
        client
            .execute(
                &format!(
                    "INSERT INTO \"{schema}\".response_latency
                         (business_id, conversation_id, channel, mode, ms, day, created_at)
                     SELECT $1, 'c', CASE WHEN i % 3 = 0 THEN 'VOICE' ELSE 'CHAT' END, 'chat', 200 + (i * 7919) % 3000,
                         to_char(t AT TIME ZONE 'America/Chicago', 'YYYY-MM-DD'),
                         to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')
                     FROM generate_series(0, {}) AS i, LATERAL (SELECT now() - make_interval(secs => i * 25.92) AS t) AS w",
                    LATENCIES - 1
                ),
                &[&id],
            )
            .await
            .unwrap();
        ids.push(id);
    }
    // As autovacuum leaves a table: statistics, and a visibility map for index-only scans.
    client.batch_execute(&format!("VACUUM ANALYZE \"{schema}\".response_latency")).await.unwrap();
    let mut samples = Vec::new();
    let mut turns = 0;
    for _ in 0..50 {
        let (first, last) = analytics::period_days(chrono::Utc::now(), tz, 30);
        let t = Instant::now();
        let l = store.response_latency(&ids[0], &first, &last).await.unwrap();
        samples.push(t.elapsed());
        turns = l.iter().filter(|s| s.span == frontdesk::store::admin::PERIOD).map(|s| s.turns).sum::<u32>();
    }
    client.batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE")).await.unwrap();
    assert!(turns > 90_000, "{turns}");
    row("Postgres: reply latency (SQL), 100,000 replies", samples)
}
