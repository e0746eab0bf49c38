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
//! With FRONTDESK_TEST_DATABASE_URL set, every figure is timed on Postgres
//! too: the same history for two businesses, seeded by SQL in a schema of
//! its own (dropped after).
//!
//! Prints a markdown table; the README quotes it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use frontdesk::ids::BusinessId;
use frontdesk::store::sqlite::SqliteStore;
use frontdesk::store::Store;
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
        let tz: chrono_tz::Tz = "America/Chicago".parse().unwrap();
        println!(
            "One business of two, each with {EVENTS} events, {LEADS} leads and {CALLS} calls over 30 days:\n"
        );
        println!("| analytics, 30 days | samples | p50 | p99 | max |");
        println!("| --- | --- | --- | --- | --- |");
        for line in measure(&store, &ids[0], tz, "").await {
            println!("{line}");
        }
        if let Ok(url) = std::env::var("FRONTDESK_TEST_DATABASE_URL") {
            for line in postgres(&url, tz).await {
                println!("{line}");
            }
        }
    });
}

/// Times what the page computes, 50 times, and checks it covers the seeded
/// history: one table row per figure, their names after `prefix`.
async fn measure<S: Store + ?Sized>(store: &S, id: &str, tz: chrono_tz::Tz, prefix: &str) -> Vec<String> {
    let (mut report, mut outcomes, mut latency, mut both) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut check = None;
    for _ in 0..50 {
        let now = chrono::Utc::now();
        let since = analytics::period_start(now, tz, 30);
        let t = Instant::now();
        let data = store.activity(&BusinessId::from(id), since).await.unwrap();
        let r = analytics::report(&data, tz, now, 30);
        let a = t.elapsed();
        let t = Instant::now();
        let o = store.outcomes(&BusinessId::from(id), since).await.unwrap();
        let b = t.elapsed();
        let t = Instant::now();
        let (first, last) = analytics::period_days(now, tz, 30);
        let l = analytics::split_latency(
            store.response_latency(&BusinessId::from(id), &first, &last).await.unwrap(),
        );
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
    assert!(o.lead_status_by_week.len() >= 4, "{o:?}");
    vec![
        row(&format!("{prefix}events, leads, calls grouped by SQL + report"), report),
        row(&format!("{prefix}outcomes (SQL): call endings, p90, marks, statuses"), outcomes),
        row(&format!("{prefix}reply latency (SQL): median, p90 per day and channel"), latency),
        row(&format!("{prefix}everything the analytics page computes"), both),
    ]
}

/// The same on Postgres: two businesses of the same size, in a schema of
/// their own (dropped after), seeded by SQL.
async fn postgres(base: &str, tz: chrono_tz::Tz) -> Vec<String> {
    use frontdesk::store::postgres::PgStore;
    let schema = format!("fd_bench_{}", &frontdesk::domain::new_id()[..12]);
    let sep = if base.contains('?') { '&' } else { '?' };
    let store = PgStore::open(&format!("{base}{sep}schema={schema}")).await.unwrap();
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo/acme-plumbing.toml"))
            .unwrap();
    let (client, conn) = tokio_postgres::connect(base, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client.batch_execute(&format!("SET search_path TO \"{schema}\"")).await.unwrap();
    let mut ids = Vec::new();
    for n in 0..2 {
        let mut bundle = frontdesk::provision::parse_bundle(&text).unwrap();
        bundle.business.plan_tier = frontdesk::domain::PlanTier::Pro;
        bundle.business.name = format!("Business {n}");
        bundle.business.twilio_phone_number = None;
        let id = store.import_business(bundle).await.unwrap().business_id;
        // The same history as `seed`, i-th of n rows at now - i * 30 days / n.
        let at = |n: usize| {
            format!(
                "to_char((now() - make_interval(secs => i * {})) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
                30.0 * 86_400.0 / n as f64
            )
        };
        let p = format!("p{n}");
        client
            .batch_execute(&format!(
                "INSERT INTO conversations (id, business_id, channel, started_at)
                 SELECT '{p}c' || i, '{id}', 'VOICE', {calls} FROM generate_series(0, {CALLS} - 1) AS i;
                 INSERT INTO calls (call_sid, business_id, conversation_id, status, duration_seconds, mode,
                     ended_reason, started_at, updated_at)
                 SELECT '{p}CA' || i, '{id}', '{p}c' || i, 'completed', 30 + i % 300, 'realtime',
                     (ARRAY['agent_hung_up', 'caller_hung_up', 'transferred', 'voicemail', 'caller_hung_up'])[i % 5 + 1],
                     {calls}, {calls}
                 FROM generate_series(0, {CALLS} - 1) AS i;
                 INSERT INTO leads (id, business_id, conversation_id, channel, status, priority, created_at, updated_at)
                 SELECT '{p}l' || i, '{id}', CASE WHEN i < {CALLS} AND i % 2 = 0 THEN '{p}c' || i END,
                     CASE WHEN i % 3 = 0 THEN 'VOICE' ELSE 'CHAT' END,
                     (ARRAY['NEW', 'CONTACTED', 'QUALIFIED', 'CLOSED'])[i % 4 + 1],
                     (ARRAY['NORMAL', 'NORMAL', 'NORMAL', 'HIGH', 'URGENT'])[i % 5 + 1], {leads}, {leads}
                 FROM generate_series(0, {LEADS} - 1) AS i;
                 INSERT INTO triage_marks (lead_id, business_id, level, text, created_at)
                 SELECT '{p}l' || i, '{id}', CASE WHEN i % 2 = 0 THEN 'NORMAL' ELSE 'URGENT' END, 'x', {leads}
                 FROM generate_series(0, {LEADS} - 1, 7) AS i;
                 INSERT INTO analytics_events (business_id, kind, channel, data, created_at)
                 SELECT '{id}',
                     (ARRAY['conversation_started', 'conversation_started', 'knowledge_answered',
                            'knowledge_unanswered'])[i % 4 + 1],
                     CASE WHEN i % 3 = 0 THEN 'VOICE' ELSE 'CHAT' END,
                     CASE i % 4 WHEN 2 THEN jsonb_build_object('question', 'Are you open on day ' || i % 40 || '?')
                                WHEN 3 THEN '{{\"question\":\"Do you fix boilers?\"}}'::jsonb ELSE '{{}}'::jsonb END,
                     {events}
                 FROM generate_series(0, {EVENTS} - 1) AS i;
                 INSERT INTO response_latency (business_id, conversation_id, channel, mode, ms, day, created_at)
                 SELECT '{id}', '{p}c' || i % {CALLS}, CASE WHEN i % 3 = 0 THEN 'VOICE' ELSE 'CHAT' END, 'chat',
                     200 + (i * 7919) % 3000,
                     to_char((now() - make_interval(secs => i * {step})) AT TIME ZONE 'America/Chicago', 'YYYY-MM-DD'),
                     {latencies}
                 FROM generate_series(0, {LATENCIES} - 1) AS i;",
                calls = at(CALLS),
                leads = at(LEADS),
                events = at(EVENTS),
                latencies = at(LATENCIES),
                step = 30.0 * 86_400.0 / LATENCIES as f64,
            ))
            .await
            .unwrap();
        ids.push(id);
    }
    // As autovacuum leaves tables: statistics, and a visibility map for
    // index-only scans. Each rollup took its table's inserts as upserts in
    // one transaction, leaving as many dead row versions, which rows
    // recorded one at a time never pile up (each update is pruned on its
    // page): compact those.
    for table in ["response_latency", "calls", "leads", "triage_marks", "analytics_events"] {
        client.batch_execute(&format!("VACUUM ANALYZE {table}")).await.unwrap();
    }
    for table in ["response_latency_rollup", "call_rollup", "lead_rollup", "analytics_rollup"] {
        client.batch_execute(&format!("VACUUM (FULL, ANALYZE) {table}")).await.unwrap();
    }
    let rows = measure(&store, &ids[0], tz, "Postgres: ").await;
    client.batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE")).await.unwrap();
    rows
}
