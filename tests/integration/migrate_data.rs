//! `frontdesk migrate-data --to URL`: an appliance's SQLite database copied
//! into an empty Postgres by the real binary, then read back through the
//! Store trait and served. The Postgres tests skip (with a notice) when
//! FRONTDESK_TEST_DATABASE_URL is unset; each uses a schema of its own.

use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Instant;

use frontdesk::domain::{EmergencyRules, KnowledgeDoc, Priority, Role};
use frontdesk::ids::{BusinessId, CallSid, ConversationId};
use frontdesk::store::postgres::PgStore;
use frontdesk::store::sqlite::SqliteStore;
use frontdesk::store::{CallStatus, InspectableStore, KnowledgeQuery, NewUser, Store, StoreInspect};

use crate::support::instance::{assert_success, stderr, stdout, Instance, Server, PASSWORD};
use crate::support::postgres::FreshSchema;

/// A command on this instance's SQLite database, whatever the suite's store.
fn sqlite_command(fd: &Instance) -> Command {
    let mut cmd = fd.command();
    cmd.env_remove("DATABASE_URL");
    cmd
}

fn migrate(fd: &Instance, to: &str) -> Output {
    sqlite_command(fd).args(["migrate-data", "--to", to]).stdin(Stdio::null()).output().unwrap()
}

/// The (table, sqlite rows, postgres rows) lines migrate-data printed.
fn report(out: &Output) -> Vec<(String, u64, u64)> {
    stdout(out)
        .lines()
        .filter_map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            match parts.as_slice() {
                [table, a, b] => Some((table.to_string(), a.parse().ok()?, b.parse().ok()?)),
                _ => None,
            }
        })
        .collect()
}

fn count(report: &[(String, u64, u64)], table: &str) -> u64 {
    report.iter().find(|r| r.0 == table).map(|r| r.2).unwrap_or_else(|| panic!("no {table} in {report:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_moves_to_postgres_and_is_served_from_there() {
    let Some(pg) = FreshSchema::new("migdemo").await else { return };
    let fd = Instance::new();
    // What `serve --demo` makes: the demo business and its sample week.
    let mut serve = sqlite_command(&fd);
    serve.args(["serve", "--port", "0", "--bind", "127.0.0.1", "--demo"]);
    let server = Server::start(serve);
    assert_eq!(reqwest::get(server.url("/health")).await.unwrap().status(), 200);
    server.stop();
    let sqlite: Arc<dyn InspectableStore> = Arc::new(SqliteStore::open(&fd.db()).unwrap());
    let business = sqlite.list_businesses().await.unwrap()[0].business.id.clone();
    let hash = frontdesk::auth::hash_password(PASSWORD).unwrap();
    let owner = NewUser {
        email: "Owner@Acme.example".into(),
        password_hash: hash,
        role: Role::Owner,
        business_id: Some(business.clone()),
    };
    sqlite.create_user(owner).await.unwrap();
    let leads = sqlite.leads(&business).await.unwrap();
    assert!(leads.len() >= 3, "the demo has leads: {leads:?}");
    sqlite.mark_triage(&business, &leads[0].id, Priority::Urgent, "water everywhere").await.unwrap();
    sqlite.revoke_session("ab12", 4_000_000_000).await.unwrap();
    let rules = EmergencyRules {
        add: vec![(Priority::Urgent, "sewage in the basement".into())],
        remove: vec!["leak".into()],
    };
    sqlite.set_emergency_rules(&business, rules).await.unwrap();
    for (status, sequence) in [("ringing", 0), ("completed", 2)] {
        let callback = CallStatus {
            call_sid: "CAmigrate".into(),
            status: status.into(),
            to_number: Some("+13125550100".into()),
            from_number: Some("+13125550142".into()),
            duration_seconds: Some(42),
            sequence: Some(sequence),
            data: serde_json::json!({ "CallStatus": status }),
            ..Default::default()
        };
        sqlite.record_call_status(callback).await.unwrap();
    }
    drop(sqlite);
    let before = std::fs::read(fd.db()).unwrap();

    let out = migrate(&fd, &pg.url);
    assert_success(&out, &["migrate-data"]);
    let rows = report(&out);
    for (table, sqlite_rows, pg_rows) in &rows {
        assert_eq!(sqlite_rows, pg_rows, "{table}");
    }
    for table in ["businesses", "leads", "messages", "calls", "call_events", "analytics_events", "users"] {
        assert!(count(&rows, table) > 0, "{table} copied: {rows:?}");
    }
    assert_eq!(count(&rows, "triage_marks"), 1);
    assert_eq!(count(&rows, "emergency_rules"), 2);
    assert_eq!(count(&rows, "revoked_sessions"), 1);
    assert!(count(&rows, "knowledge_chunk_embeddings") >= count(&rows, "knowledge_chunks"));
    assert!(stdout(&out).contains("DATABASE_URL"), "{}", stdout(&out));
    assert!(std::fs::read(fd.db()).unwrap() == before, "the SQLite file is left as it was");

    // Read back through the Store trait: the same answers on both backends.
    let sqlite: Arc<dyn InspectableStore> = Arc::new(SqliteStore::open(&fd.db()).unwrap());
    let postgres: Arc<dyn InspectableStore> = Arc::new(PgStore::open(&pg.url).await.unwrap());
    assert_eq!(postgres.list_businesses().await.unwrap(), sqlite.list_businesses().await.unwrap());
    assert_eq!(
        postgres.business_bundle(&business).await.unwrap(),
        sqlite.business_bundle(&business).await.unwrap()
    );
    let pg_leads = postgres.leads(&business).await.unwrap();
    assert_eq!(pg_leads, leads);
    for lead in &leads {
        let conversation = lead.conversation_id.as_deref().unwrap();
        let transcript = sqlite.transcript(&ConversationId::from(conversation)).await.unwrap();
        assert!(!transcript.is_empty());
        assert_eq!(postgres.transcript(&ConversationId::from(conversation)).await.unwrap(), transcript);
    }
    assert_eq!(postgres.triage_mark(&business, &leads[0].id).await.unwrap(), Some(Priority::Urgent));
    assert!(postgres.session_revoked("ab12").await.unwrap());
    assert_eq!(
        postgres.call(&CallSid::from("CAmigrate")).await.unwrap(),
        sqlite.call(&CallSid::from("CAmigrate")).await.unwrap()
    );
    let events = sqlite.call_events(&CallSid::from("CAmigrate")).await.unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(postgres.call_events(&CallSid::from("CAmigrate")).await.unwrap(), events);
    assert_eq!(
        postgres.agent_profile(&business).await.unwrap(),
        sqlite.agent_profile(&business).await.unwrap()
    );
    let since = frontdesk::domain::parse_rfc3339("2000-01-01T00:00:00.000Z").unwrap();
    assert_eq!(
        postgres.outcomes(&business, since).await.unwrap(),
        sqlite.outcomes(&business, since).await.unwrap()
    );
    // The same vectors rank the same (an empty text: embeddings alone), and
    // words and vectors together put the same passage first on both, though
    // full-text ranking differs between FTS5 and ts_rank: a passage covers a
    // question only when it holds the question's subject, not merely its
    // price or time words.
    let model = frontdesk::agent::local_model::get().unwrap();
    for text in ["do you fix water heaters", "what areas do you cover", "how much is a call out"] {
        let embedding = Some((model.id().to_string(), model.embed(text)));
        let vectors = KnowledgeQuery { text: String::new(), embedding: embedding.clone(), limit: 5 };
        let want = sqlite.search_knowledge(&business, &vectors).await.unwrap();
        assert!(!want.is_empty(), "{text}");
        assert_eq!(postgres.search_knowledge(&business, &vectors).await.unwrap(), want, "{text}");
        let both = KnowledgeQuery { text: text.into(), embedding, limit: 3 };
        let want = sqlite.search_knowledge(&business, &both).await.unwrap();
        let got = postgres.search_knowledge(&business, &both).await.unwrap();
        assert_eq!(got[0].text, want[0].text, "{text}: {want:?} vs {got:?}");
    }
    let user = postgres.user_by_email("owner@acme.example").await.unwrap();
    assert!(frontdesk::auth::verify_password(PASSWORD, &user.password_hash));
    // Identities continue after the copied ids (new chunks, their events).
    let doc = KnowledgeDoc {
        title: "Gutters".into(),
        content: "We clean and repair gutters and downspouts in spring and fall.".into(),
        source_url: None,
    };
    let added = postgres.add_knowledge(&business, doc).await;
    assert!(added.is_ok(), "{added:?}");
    drop(postgres);

    // serve on the migrated Postgres answers the demo business's chat.
    let server = fd.serve_with_env(&[("DATABASE_URL", pg.url.as_str())]);
    let res = reqwest::Client::new()
        .post(server.url("/api/chat"))
        .json(&serde_json::json!({ "businessId": business, "message": "Do you fix water heaters?" }))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let answer: serde_json::Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{answer}");
    assert!(answer["reply"].as_str().is_some_and(|r| !r.is_empty()), "{answer}");
    drop(server);
    pg.drop().await;
}

/// A SQLite database with the demo business and `n` chat leads, each with
/// its conversation and two lines, written in one transaction.
fn seed_leads(fd: &Instance, n: usize) -> String {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let business = rt.block_on(async {
        let store = SqliteStore::open(&fd.db()).unwrap();
        let bundle = frontdesk::provision::parse_bundle(
            &std::fs::read_to_string(crate::support::instance::demo_file()).unwrap(),
        )
        .unwrap();
        store.import_business(bundle).await.unwrap().business_id
    });
    let mut conn = rusqlite::Connection::open(fd.db()).unwrap();
    let tx = conn.transaction().unwrap();
    for i in 0..n {
        let at = format!("2026-01-{:02}T{:02}:{:02}:00.000Z", 1 + i % 28, i % 24, i % 60);
        let conversation = format!("conv-{i:05}");
        tx.execute(
            "INSERT INTO conversations (id, business_id, channel, started_at) VALUES (?1, ?2, 'CHAT', ?3)",
            rusqlite::params![conversation, business, at],
        )
        .unwrap();
        for (role, text) in
            [("user", format!("My pipe {i} burst\tbadly\\ help")), ("assistant", "On it.".into())]
        {
            tx.execute(
                "INSERT INTO messages (conversation_id, role, content, created_at) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![conversation, role, text, at],
            )
            .unwrap();
        }
        tx.execute(
            "INSERT INTO leads (id, business_id, conversation_id, channel, contact_name, contact_phone, notes,
                 captured_data, is_test, created_at, updated_at)
             VALUES (?1, ?2, ?3, 'CHAT', ?4, '+13125550142', ?5, ?6, ?7, ?8, ?8)",
            rusqlite::params![
                format!("lead-{i:05}"),
                business,
                conversation,
                format!("Caller {i}"),
                format!("line one\nline two {i}"),
                serde_json::json!({ "problem": format!("pipe {i}") }).to_string(),
                i % 10 == 0,
                at
            ],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    String::from(business)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_leads_round_trip() {
    let Some(pg) = FreshSchema::new("mig10k").await else { return };
    let fd = Instance::new();
    let business = tokio::task::block_in_place(|| seed_leads(&fd, 10_000));
    let started = Instant::now();
    let out = migrate(&fd, &pg.url);
    let took = started.elapsed();
    assert_success(&out, &["migrate-data"]);
    eprintln!("migrate-data of 10,000 leads took {:.2} s", took.as_secs_f64());
    let rows = report(&out);
    assert_eq!(count(&rows, "leads"), 10_000);
    assert_eq!(count(&rows, "conversations"), 10_000);
    assert_eq!(count(&rows, "messages"), 20_000);
    let postgres = PgStore::open(&pg.url).await.unwrap();
    let sqlite = SqliteStore::open(&fd.db()).unwrap();
    let got = postgres.leads(&BusinessId::from(&business)).await.unwrap();
    assert_eq!(got.len(), 10_000);
    assert_eq!(got, sqlite.leads(&BusinessId::from(&business)).await.unwrap());
    assert_eq!(
        postgres.transcript(&ConversationId::from("conv-04321")).await.unwrap(),
        sqlite.transcript(&ConversationId::from("conv-04321")).await.unwrap()
    );
    pg.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_with_rows_is_refused_and_left_alone() {
    let Some(pg) = FreshSchema::new("migfull").await else { return };
    let fd = Instance::new();
    let import = sqlite_command(&fd)
        .args(["business", "import", crate::support::instance::demo_file().to_str().unwrap()])
        .output()
        .unwrap();
    assert_success(&import, &["business", "import"]);
    assert_success(&migrate(&fd, &pg.url), &["migrate-data"]);
    let postgres = PgStore::open(&pg.url).await.unwrap();
    let before = postgres.list_businesses().await.unwrap();
    assert_eq!(before.len(), 1);

    let again = migrate(&fd, &pg.url);
    assert!(!again.status.success());
    let err = stderr(&again);
    assert!(err.contains("not empty") && err.contains("businesses"), "{err}");
    assert!(err.contains(&pg.schema), "{err}");
    assert_eq!(postgres.list_businesses().await.unwrap(), before, "the target is unchanged");
    pg.drop().await;

    // A schema written by a newer frontdesk is refused before anything is copied.
    let Some(newer) = FreshSchema::new("mignew").await else { return };
    let store = PgStore::open(&newer.url).await.unwrap();
    let base = std::env::var("FRONTDESK_TEST_DATABASE_URL").unwrap();
    let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let insert = format!(
        "INSERT INTO \"{}\".schema_migrations (version, name, applied_at) VALUES (999, 'future', 'x')",
        newer.schema
    );
    client.batch_execute(&insert).await.unwrap();
    drop(store);
    let out = migrate(&fd, &newer.url);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("schema version 999"), "{}", stderr(&out));
    newer.drop().await;
}

#[test]
fn a_bad_or_unreachable_target_is_a_clear_error() {
    let fd = Instance::new();
    assert_success(&sqlite_command(&fd).args(["migrate"]).output().unwrap(), &["migrate"]);
    let out = migrate(&fd, "mysql://root@127.0.0.1/frontdesk");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--to") && stderr(&out).contains("postgres://"), "{}", stderr(&out));
    // Port 1 on the loopback address: nothing listens there.
    let out = migrate(&fd, "postgres://frontdesk:secret@127.0.0.1:1/frontdesk?connect_timeout=5");
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("cannot connect to Postgres"), "{err}");
    assert!(!err.contains("secret"), "the password stays out of messages: {err}");
    let empty = Instance::new();
    let out = migrate(&empty, "postgres://postgres@127.0.0.1:1/x");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no SQLite database"), "{}", stderr(&out));
}
