//! The analytics rollups (migration 0015) never go stale: a known history,
//! then rows arriving late for days long closed, the owner changing a
//! lead's status and marking a false alarm days later, a lead deleted, a
//! whole business deleted, and rows written before the migration. After
//! each, the store's figures are the ones the test knows. On SQLite always,
//! on Postgres when FRONTDESK_TEST_DATABASE_URL names one.

use std::sync::Arc;

use frontdesk::domain::{Channel, LeadStatus, Priority};
use frontdesk::ids::{BusinessId, LeadId};
use frontdesk::store::admin::{LatencyStat, Outcomes, StatusWeek, PERIOD};
use frontdesk::store::postgres::PgStore;
use frontdesk::store::sqlite::SqliteStore;
use frontdesk::store::{LatencySample, Store};

use crate::support::postgres::FreshSchema;

const DEMO: &str = include_str!("../../assets/demo/acme-plumbing.toml");

fn tz() -> chrono_tz::Tz {
    chrono_tz::America::Chicago
}

fn ago(seconds: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::seconds(seconds))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

const DAY: i64 = 86_400;

/// The local date `days` ago, as replies are recorded with.
fn local_day(days: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(days)).with_timezone(&tz()).date_naive().to_string()
}

/// Raw rows, as the server (or a late webhook) writes them, on either backend.
enum Raw {
    Sqlite(std::path::PathBuf),
    Postgres(tokio_postgres::Client),
}

impl Raw {
    async fn exec(&self, sql: &str) {
        match self {
            Raw::Sqlite(path) => {
                let c = rusqlite::Connection::open(path).unwrap();
                c.execute_batch(&format!("PRAGMA foreign_keys = ON; {sql}")).unwrap();
            }
            Raw::Postgres(c) => c.batch_execute(sql).await.unwrap(),
        }
    }

    async fn count(&self, sql: &str) -> i64 {
        match self {
            Raw::Sqlite(path) => {
                rusqlite::Connection::open(path).unwrap().query_row(sql, [], |r| r.get(0)).unwrap()
            }
            Raw::Postgres(c) => c.query_one(sql, &[]).await.unwrap().get(0),
        }
    }

    async fn call(
        &self,
        business: &str,
        sid: &str,
        reason: &str,
        seconds: i64,
        conversation: Option<&str>,
        at: &str,
    ) {
        let conversation = conversation.map_or("NULL".to_string(), |c| format!("'{c}'"));
        self.exec(&format!(
            "INSERT INTO calls (call_sid, business_id, conversation_id, status, duration_seconds, mode, ended_reason,
                 started_at, updated_at) VALUES ('{sid}', '{business}', {conversation}, 'completed', {seconds},
                 'realtime', '{reason}', '{at}', '{at}')"
        ))
        .await;
    }

    async fn lead(
        &self,
        business: &str,
        id: &str,
        priority: &str,
        status: &str,
        conversation: Option<&str>,
        at: &str,
    ) {
        let conversation = conversation.map_or("NULL".to_string(), |c| format!("'{c}'"));
        self.exec(&format!(
            "INSERT INTO leads (id, business_id, conversation_id, channel, status, priority, captured_data,
                 created_at, updated_at) VALUES ('{id}', '{business}', {conversation}, 'VOICE', '{status}',
                 '{priority}', '{{}}', '{at}', '{at}')"
        ))
        .await;
    }

    async fn conversation(&self, business: &str, id: &str, at: &str) {
        self.exec(&format!(
            "INSERT INTO conversations (id, business_id, channel, started_at) VALUES ('{id}', '{business}', 'VOICE', '{at}')"
        ))
        .await;
    }
}

async fn business(store: &Arc<dyn Store>, name: &str) -> String {
    let mut bundle = frontdesk::provision::parse_bundle(DEMO).unwrap();
    bundle.business.name = name.into();
    bundle.business.twilio_phone_number = None;
    String::from(store.import_business(bundle).await.unwrap().business_id)
}

async fn reply(store: &Arc<dyn Store>, business: &str, conversation: &str, ms: u32, days_ago: i64) {
    store
        .record_latency(LatencySample {
            business_id: business.into(),
            conversation_id: conversation.into(),
            channel: Channel::Chat,
            mode: "chat_stream",
            ms,
            at: frontdesk::domain::parse_rfc3339(&ago(days_ago * DAY)).unwrap(),
            day: local_day(days_ago),
        })
        .await
        .unwrap();
}

/// (span, turns, median, p90) of the chat replies over the last 30 days.
async fn latency(store: &Arc<dyn Store>, business: &str) -> Vec<(String, u32, u32, u32)> {
    let (first, last) = frontdesk::web::analytics::period_days(chrono::Utc::now(), tz(), 30);
    let stats: Vec<LatencyStat> =
        store.response_latency(&BusinessId::from(business), &first, &last).await.unwrap();
    stats
        .into_iter()
        .filter(|s| s.channel == Channel::Chat)
        .map(|s| (s.span, s.turns, s.median_ms, s.p90_ms))
        .collect()
}

async fn outcomes(store: &Arc<dyn Store>, business: &str) -> Outcomes {
    let since = frontdesk::web::analytics::period_start(chrono::Utc::now(), tz(), 30);
    store.outcomes(&BusinessId::from(business), since).await.unwrap()
}

fn week(weeks_ago: u32, [new, contacted, qualified, closed]: [u32; 4]) -> StatusWeek {
    StatusWeek { weeks_ago, new, contacted, qualified, closed }
}

fn span(days_ago: i64, turns: u32, median: u32, p90: u32) -> (String, u32, u32, u32) {
    (local_day(days_ago), turns, median, p90)
}

fn period(turns: u32, median: u32, p90: u32) -> (String, u32, u32, u32) {
    (PERIOD.to_string(), turns, median, p90)
}

async fn story(store: Arc<dyn Store>, raw: Raw) {
    let a = business(&store, "Rollup A").await;
    let b = business(&store, "Rollup B").await;
    for (business, id) in [(&a, "c1"), (&a, "c2"), (&a, "c3"), (&b, "cb")] {
        raw.conversation(business, id, &ago(10 * DAY)).await;
    }
    // The known history: two calls, two leads, five replies on two days.
    raw.call(&a, "CA1", "agent_hung_up", 100, None, &ago(2 * DAY)).await;
    raw.call(&a, "CA2", "caller_hung_up", 50, Some("c2"), &ago(3 * DAY)).await;
    raw.lead(&a, "L1", "URGENT", "NEW", Some("c2"), &ago(2 * DAY)).await;
    raw.lead(&a, "L2", "HIGH", "CONTACTED", None, &ago(9 * DAY)).await;
    for (ms, days) in [(100, 5), (200, 5), (300, 5), (400, 4), (500, 4)] {
        reply(&store, &a, "c1", ms, days).await;
    }
    // Business B's rows, which must never count for A.
    raw.call(&b, "CB1", "caller_hung_up", 999, Some("cb"), &ago(DAY)).await;
    raw.lead(&b, "LB1", "URGENT", "NEW", Some("cb"), &ago(DAY)).await;
    reply(&store, &b, "cb", 9_999, 5).await;

    let o = outcomes(&store, &a).await;
    let c = &o.calls;
    assert_eq!((c.total, c.completed, c.abandoned, c.voicemail), (2, 2, 0, 0), "{o:?}");
    assert_eq!((c.average_seconds, c.p90_seconds), (Some(75.0), Some(100)));
    assert_eq!((o.emergencies.urgent, o.emergencies.high, o.emergencies.marked_not_emergency), (1, 1, 0));
    assert_eq!(o.lead_status_by_week, vec![week(0, [1, 0, 0, 0]), week(1, [0, 1, 0, 0])]);
    assert_eq!(
        latency(&store, &a).await,
        vec![span(5, 3, 200, 300), span(4, 2, 400, 500), period(5, 300, 500)]
    );

    // Late rows for days long closed: a voicemail six days ago, a lead eight
    // days ago, two replies on the day five days ago, and leads either side
    // of a week's edge (read live, not from a rollup quarter hour).
    raw.call(&a, "CA3", "voicemail", 300, None, &ago(6 * DAY)).await;
    raw.lead(&a, "L3", "URGENT", "NEW", None, &ago(8 * DAY)).await;
    raw.lead(&a, "L4", "NORMAL", "QUALIFIED", None, &ago(7 * DAY - 120)).await;
    raw.lead(&a, "L5", "NORMAL", "QUALIFIED", None, &ago(7 * DAY + 120)).await;
    reply(&store, &a, "c1", 5_000, 5).await;
    reply(&store, &a, "c1", 50, 5).await;
    let o = outcomes(&store, &a).await;
    let c = &o.calls;
    assert_eq!((c.total, c.completed, c.abandoned, c.voicemail), (3, 2, 0, 1), "{o:?}");
    assert_eq!((c.average_seconds, c.p90_seconds), (Some(150.0), Some(300)));
    assert_eq!((o.emergencies.urgent, o.emergencies.high), (2, 1));
    assert_eq!(o.lead_status_by_week, vec![week(0, [1, 0, 1, 0]), week(1, [1, 1, 1, 0])]);
    assert_eq!(
        latency(&store, &a).await,
        vec![span(5, 5, 200, 5_000), span(4, 2, 400, 500), period(7, 300, 5_000)]
    );

    // The owner, days later: L2 won (closed), L1 was not an emergency.
    store.set_lead_status(&BusinessId::from(&a), &LeadId::from("L2"), LeadStatus::Closed).await.unwrap();
    store
        .mark_triage(&BusinessId::from(&a), &LeadId::from("L1"), Priority::Normal, "just a drip")
        .await
        .unwrap();
    let o = outcomes(&store, &a).await;
    assert_eq!(o.emergencies.marked_not_emergency, 1, "{o:?}");
    assert_eq!(o.emergencies.false_positive_rate, Some(1.0 / 3.0));
    assert_eq!(o.lead_status_by_week, vec![week(0, [1, 0, 1, 0]), week(1, [1, 0, 1, 1])]);

    // L1 deleted: no longer an emergency, and its hung-up call left no lead.
    store.delete_lead(&BusinessId::from(&a), &LeadId::from("L1")).await.unwrap();
    let o = outcomes(&store, &a).await;
    let c = &o.calls;
    assert_eq!((c.total, c.completed, c.abandoned), (3, 1, 1), "{o:?}");
    assert_eq!((o.emergencies.urgent, o.emergencies.high, o.emergencies.marked_not_emergency), (1, 1, 0));
    assert_eq!(o.lead_status_by_week, vec![week(0, [0, 0, 1, 0]), week(1, [1, 0, 1, 1])]);

    // Business B deleted: its rollup rows go with it; A's figures stay.
    let rollups = |id: &str| {
        format!(
            "SELECT (SELECT COUNT(*) FROM call_rollup WHERE business_id = '{id}')
                  + (SELECT COUNT(*) FROM lead_rollup WHERE business_id = '{id}')
                  + (SELECT COUNT(*) FROM response_latency_rollup WHERE business_id = '{id}')"
        )
    };
    assert_eq!(raw.count(&rollups(&b)).await, 3);
    raw.exec(&format!("DELETE FROM businesses WHERE id = '{b}'")).await;
    assert_eq!(raw.count(&rollups(&b)).await, 0);
    assert_eq!(outcomes(&store, &a).await.calls.total, 3);
    let (first, last) = frontdesk::web::analytics::period_days(chrono::Utc::now(), tz(), 30);
    let everyone = store.all_response_latency(&first, &last).await.unwrap();
    let everyone: Vec<_> =
        everyone.iter().filter(|s| s.span == PERIOD).map(|s| (s.turns, s.p90_ms)).collect();
    assert_eq!(everyone, vec![(7, 5_000)], "only A's replies are left");
}

#[tokio::test]
async fn rollups_follow_late_rows_owner_changes_and_deletions_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rollup.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).unwrap());
    story(store, Raw::Sqlite(db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollups_follow_late_rows_owner_changes_and_deletions_on_postgres() {
    let Some(pg) = FreshSchema::new("rollup").await else { return };
    let store: Arc<dyn Store> = Arc::new(PgStore::open(&pg.url).await.unwrap());
    let base = std::env::var("FRONTDESK_TEST_DATABASE_URL").unwrap();
    let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client.batch_execute(&format!("SET search_path TO \"{}\"", pg.schema)).await.unwrap();
    story(store, Raw::Postgres(client)).await;
    pg.drop().await;
}

/// A database written before migration 0015: its calls, leads and replies
/// are in the rollups once the migration has run.
#[tokio::test]
async fn the_migration_rolls_up_the_rows_already_there() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    {
        let mut conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )
        .unwrap();
        for m in frontdesk::store::sqlite::migrate::embedded().into_iter().filter(|m| m.version < 15) {
            let tx = conn.transaction().unwrap();
            tx.execute_batch(m.sql).unwrap();
            tx.execute(
                "INSERT INTO schema_migrations VALUES (?1, ?2, 'x')",
                rusqlite::params![m.version, m.name],
            )
            .unwrap();
            tx.commit().unwrap();
        }
        conn.execute_batch(&format!(
            "INSERT INTO businesses (id, name, created_at, updated_at) VALUES ('old', 'Old', 'x', 'x');
             INSERT INTO conversations (id, business_id, channel, started_at) VALUES ('c', 'old', 'VOICE', '{c}');
             INSERT INTO calls (call_sid, business_id, conversation_id, status, duration_seconds, mode, ended_reason,
                 started_at, updated_at) VALUES ('CA', 'old', 'c', 'completed', 60, 'realtime', 'caller_hung_up', '{c}', '{c}'),
                 ('CB', 'old', NULL, 'completed', 20, NULL, 'voicemail', '{c}', '{c}');
             INSERT INTO leads (id, business_id, conversation_id, channel, status, priority, captured_data, created_at,
                 updated_at) VALUES ('L', 'old', 'c', 'VOICE', 'CONTACTED', 'URGENT', '{{}}', '{c}', '{c}');
             INSERT INTO response_latency (business_id, conversation_id, channel, mode, ms, day, created_at)
                 VALUES ('old', 'c', 'CHAT', 'chat', 700, '{d}', '{c}'), ('old', 'c', 'CHAT', 'chat', 90, '{d}', '{c}');",
            c = ago(3 * DAY),
            d = local_day(3),
        ))
        .unwrap();
    }
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).unwrap());
    let o = outcomes(&store, "old").await;
    let c = &o.calls;
    assert_eq!(
        (c.total, c.answered, c.completed, c.voicemail, c.p90_seconds),
        (2, 1, 1, 1, Some(60)),
        "{o:?}"
    );
    assert_eq!(o.emergencies.urgent, 1);
    assert_eq!(o.lead_status_by_week, vec![week(0, [0, 1, 0, 0])]);
    assert_eq!(latency(&store, "old").await, vec![span(3, 2, 90, 700), period(2, 90, 700)]);
}
