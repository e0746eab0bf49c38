//! Scaling out: two real `frontdesk serve` processes on one Postgres schema
//! and one Redis key prefix, as behind a load balancer. A gather-mode call
//! whose webhooks alternate between them, and a chat likewise; 1,000 emails
//! delivered exactly once to a real SMTP server by both workers; and one
//! process SIGKILLed while it delivers, the other finishing its rows once
//! their leases run out.
//!
//! Skipped (with a notice) unless FRONTDESK_TEST_DATABASE_URL and
//! FRONTDESK_TEST_REDIS_URL are set; each test gets a schema and a key prefix
//! of its own, removed at the end.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use frontdesk::domain::{Channel, NotifyChannel};
use frontdesk::ids::{BusinessId, CallSid, LeadId};
use frontdesk::notify::policy::NotifyPolicy;
use frontdesk::store::outbox::OutboxStore;
use frontdesk::store::postgres::PgStore;
use frontdesk::store::{Store, StoreInspect};

use crate::support::fake_media::twilio_signature;
use crate::support::fake_smtp::SmtpServer;
use crate::support::fake_twilio::{FakeTwilio, AUTH_TOKEN};
use crate::support::instance::{assert_success, stdout, Instance, Server};
use crate::support::postgres::FreshSchema;
use crate::support::voice::{call_sid, find, said, twiml, Phone, BUSINESS, CALLER, PUBLIC};

/// Both processes sign sessions with it (each instance has a data directory
/// of its own, as on separate hosts).
const JWT_SECRET: &str = "scale-out-test-secret-0123456789abcdef0123456789abcdef";

/// One Postgres schema and one Redis key prefix for a test, and what every
/// process of it is given.
struct Shared {
    pg: FreshSchema,
    redis: String,
    prefix: String,
}

impl Shared {
    /// None, with a notice, unless both a test Postgres and a test Redis are named.
    async fn new(what: &str) -> Option<Shared> {
        let Ok(redis) = std::env::var("FRONTDESK_TEST_REDIS_URL") else {
            eprintln!("skipped: FRONTDESK_TEST_REDIS_URL is not set (no Redis for the {what} test)");
            return None;
        };
        let pg = FreshSchema::new(what).await?;
        let prefix = format!("frontdesk-test:{}:", pg.schema);
        Some(Shared { pg, redis, prefix })
    }

    fn env(&self, instance: &str) -> Vec<(String, String)> {
        [
            ("DATABASE_URL", self.pg.url.as_str()),
            ("REDIS_URL", self.redis.as_str()),
            ("FRONTDESK_REDIS_KEY_PREFIX", self.prefix.as_str()),
            ("JWT_SECRET", JWT_SECRET),
            ("FRONTDESK_INSTANCE_NAME", instance),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// Imports the test plumber through the CLI; returns its id.
    fn import(&self, fd: &Instance) -> String {
        let file = fd.dir.path().join("business.toml");
        std::fs::write(&file, BUSINESS).unwrap();
        let mut import = fd.command();
        import.envs(self.env("import")).args(["business", "import", file.to_str().unwrap()]);
        let out = import.output().unwrap();
        assert_success(&out, &["business", "import"]);
        stdout(&out).trim().to_string()
    }

    /// `frontdesk serve` as instance `name`, with `extra` settings; its log
    /// goes to `log` when given.
    fn serve(&self, fd: &Instance, name: &str, extra: &[(&str, String)], log: Option<&Path>) -> Server {
        let mut cmd = fd.command();
        cmd.envs(self.env(name)).envs(extra.iter().map(|(k, v)| (*k, v.as_str()))).args([
            "serve",
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
        ]);
        match log {
            Some(path) => Server::start_logging(cmd, std::fs::File::create(path).unwrap()),
            None => Server::start(cmd),
        }
    }

    /// Counts rows of `table` in this test's schema.
    async fn count(&self, table: &str) -> i64 {
        // The bare test URL: tokio-postgres does not take Prisma's `schema` parameter.
        let base = std::env::var("FRONTDESK_TEST_DATABASE_URL").unwrap();
        let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(conn);
        let sql = format!("SELECT COUNT(*) FROM \"{}\".{table}", self.pg.schema);
        client.query_one(&sql, &[]).await.unwrap().get(0)
    }
}

impl Drop for Shared {
    /// Drops the schema and every Redis key under the prefix, on a thread of
    /// its own (a failed test unwinds inside its runtime), pass or fail.
    fn drop(&mut self) {
        let (schema, redis, prefix) = (self.pg.schema.clone(), self.redis.clone(), self.prefix.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let base = std::env::var("FRONTDESK_TEST_DATABASE_URL").unwrap();
                let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await.unwrap();
                tokio::spawn(conn);
                client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await.unwrap();
                crate::support::instance::delete_redis_keys(&redis, &prefix).await;
            });
        })
        .join();
    }
}

/// A Twilio webhook to `server`, signed over the public URL both share.
async fn webhook(server: &Server, path: &str, params: &[(&str, String)]) -> (u16, String) {
    let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let signature = twilio_signature(AUTH_TOKEN, &format!("{PUBLIC}{path}"), &params);
    let res = reqwest::Client::new()
        .post(server.url(path))
        .header("X-Twilio-Signature", signature)
        .form(&params)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// What the caller hears after saying `speech` to `server`.
async fn say(server: &Server, sid: &str, speech: &str) -> Vec<crate::support::voice::Element> {
    let mut params = Phone::call_params(sid);
    params.retain(|(k, _)| *k != "CallStatus");
    params.push(("CallStatus", "in-progress".into()));
    params.push(("SpeechResult", speech.into()));
    params.push(("Confidence", "0.92".into()));
    let (status, body) = webhook(server, "/api/voice/handle-speech", &params).await;
    assert_eq!(status, 200, "{body}");
    twiml(&body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gather_call_and_a_chat_alternate_between_two_processes() {
    let Some(shared) = Shared::new("gather2").await else { return };
    let twilio = FakeTwilio::start().await;
    let (one, two) = (Instance::new(), Instance::new());
    let business = shared.import(&one);
    // The signature covers the public URL: every instance names the same one.
    let mut extra: Vec<(&str, String)> =
        vec![("TWILIO_WEBHOOK_BASE_URL", PUBLIC.into()), ("HOSTNAME", "voice.test".into())];
    extra.extend(twilio.env());
    let servers = [shared.serve(&one, "desk-a", &extra, None), shared.serve(&two, "desk-b", &extra, None)];
    let [a, b] = &servers;

    let sid = call_sid(16);
    let params = Phone::call_params(&sid);
    let (status, body) = webhook(a, "/api/voice/incoming", &params).await;
    assert_eq!(status, 200, "{body}");
    let doc = twiml(&body);
    let gather = find(&doc, "Gather").unwrap_or_else(|| panic!("gather mode: {doc:?}"));
    assert_eq!(gather.attrs["action"], format!("{PUBLIC}/api/voice/handle-speech"));
    assert!(said(&doc).contains("Thanks for calling Test Plumbing"), "{doc:?}");

    let doc = say(b, &sid, "Hi, my kitchen sink is leaking under the cabinet").await;
    assert!(said(&doc).contains("May I have your name?"), "{doc:?}");
    let doc = say(a, &sid, "Dana Smith").await;
    assert!(said(&doc).contains("Is (312) 555-0142 the best number"), "{doc:?}");
    // Silence on b: asked again there, with what a had heard.
    let doc = say(b, &sid, "").await;
    assert!(said(&doc).contains("didn't catch that"), "{doc:?}");
    assert!(said(&doc).contains("(312) 555-0142"), "{doc:?}");
    let doc = say(a, &sid, "Yes").await;
    assert!(said(&doc).contains("address"), "{doc:?}");
    let doc = say(b, &sid, "12 Oak Street, Springfield").await;
    assert_eq!(doc.last().unwrap().name, "Hangup", "{doc:?}");
    assert!(said(&doc).contains("Bye now!"), "{doc:?}");
    let status = [
        ("CallSid", sid.clone()),
        ("CallStatus", "completed".into()),
        ("CallDuration", "61".into()),
        ("SequenceNumber", "3".into()),
        ("To", crate::support::voice::NUMBER.into()),
        ("From", CALLER.into()),
    ];
    assert_eq!(webhook(a, "/api/voice/status", &status).await.0, 204);

    let store = PgStore::open(&shared.pg.url).await.unwrap();
    let call = store.call(&CallSid::from(&sid)).await.unwrap();
    assert_eq!(
        (
            call.mode.map(|m| m.as_str()),
            call.ended_reason.map(|r| r.as_str()),
            call.status.as_str(),
            call.duration_seconds
        ),
        (Some("gather"), Some("agent_hung_up"), "completed", Some(61)),
        "{call:?}"
    );
    assert_eq!(shared.count("calls").await, 1, "one call row");
    assert_eq!(shared.count("conversations").await, 1, "one conversation");
    let leads = store.leads(&BusinessId::from(&business)).await.unwrap();
    assert_eq!(leads.len(), 1, "{leads:?}");
    let lead = &leads[0];
    assert_eq!(lead.channel, Channel::Voice);
    assert_eq!(lead.contact_name.as_deref(), Some("Dana Smith"));
    assert_eq!(lead.contact_phone.as_deref(), Some(CALLER));
    assert_eq!(lead.address.as_deref(), Some("12 Oak Street, Springfield"));
    assert_eq!(lead.conversation_id, call.conversation_id, "the call's conversation holds the lead");
    let transcript = store.transcript(lead.conversation_id.as_ref().unwrap()).await.unwrap();
    let heard: Vec<&str> =
        transcript.iter().filter(|m| m.role.as_str() == "user").map(|m| m.content.as_str()).collect();
    assert_eq!(heard.len(), 4, "what was said to either instance: {transcript:?}");
    assert!(heard[0].contains("kitchen sink") && heard[3].contains("Oak Street"), "{heard:?}");

    // A chat whose messages alternate (b first this time) is one conversation too.
    let said = ["my water heater is leaking", "Sam Lee", "312-555-0177", "4 Pine Road, Springfield"];
    let (mut session, mut chat_lead): (Option<String>, Option<String>) = (None, None);
    for (i, message) in said.iter().enumerate() {
        let server = &servers[(i + 1) % 2];
        let mut body = serde_json::json!({ "businessId": business, "message": message });
        if let Some(id) = &session {
            body["sessionId"] = serde_json::json!(id);
        }
        let res = reqwest::Client::new().post(server.url("/api/chat")).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let answer: serde_json::Value = res.json().await.unwrap();
        let id = answer["sessionId"].as_str().unwrap().to_string();
        assert!(session.as_ref().is_none_or(|s| *s == id), "one session across both: {answer}");
        session = Some(id);
        if let Some(l) = answer["leadId"].as_str() {
            assert!(chat_lead.as_ref().is_none_or(|x| x == l), "one lead across both: {answer}");
            chat_lead = Some(l.to_string());
        }
    }
    let lead =
        store.lead(&BusinessId::from(&business), &LeadId::from(chat_lead.as_deref().unwrap())).await.unwrap();
    assert_eq!(
        (lead.channel, lead.contact_name.as_deref(), lead.contact_phone.as_deref(), lead.address.as_deref()),
        (Channel::Chat, Some("Sam Lee"), Some("+13125550177"), Some("4 Pine Road, Springfield")),
        "{lead:?}"
    );
    let transcript = store.transcript(lead.conversation_id.as_ref().unwrap()).await.unwrap();
    assert_eq!(transcript.iter().filter(|m| m.role.as_str() == "user").count(), said.len(), "{transcript:?}");
    assert_eq!(shared.count("conversations").await, 2, "the call's and the chat's");
    assert_eq!(store.leads(&BusinessId::from(&business)).await.unwrap().len(), 2);

    drop(servers);
    drop(shared);
}

/// The ids of the notifications a process's JSON log says it sent.
fn sent_by(log: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["fields"]["message"] == "notification sent")
        .filter_map(|l| l["fields"]["notification_id"].as_str().map(str::to_string))
        .collect()
}

/// The ids of the notifications a process's JSON log (at debug) says it began
/// delivering and never finished: neither sent nor retried nor given up.
fn held_by(log: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut held = BTreeSet::new();
    for line in text.lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()) {
        let Some(id) = line["fields"]["notification_id"].as_str() else { continue };
        if line["fields"]["message"] == "delivering notification" {
            held.insert(id.to_string());
        } else {
            held.remove(id);
        }
    }
    held
}

/// Queues `n` test emails from this process (the way the admin page's
/// "send a test" does, without its caps), eight writers at once.
async fn enqueue_emails(store: &std::sync::Arc<PgStore>, business: &str, n: usize) -> Vec<String> {
    let mut writers = Vec::new();
    for w in 0..8 {
        let (store, business) = (store.clone(), business.to_string());
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for _ in (w..n).step_by(8) {
                let policy = NotifyPolicy::default();
                ids.push(
                    store
                        .enqueue_test_notification(&BusinessId::from(&business), NotifyChannel::Email, policy)
                        .await
                        .unwrap(),
                );
            }
            ids
        }));
    }
    let mut ids = Vec::new();
    for w in writers {
        ids.extend(w.await.unwrap());
    }
    ids
}

/// Waits until every email row is sent; panics naming the states otherwise.
async fn until_all_sent(store: &PgStore, business: &str, n: u64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let counts: BTreeMap<&str, u64> = store
            .notification_counts(&BusinessId::from(business))
            .await
            .unwrap()
            .into_iter()
            .map(|(s, k)| (s.as_str(), k))
            .collect();
        if counts.get("sent") == Some(&n) {
            return;
        }
        assert!(Instant::now() < deadline, "not all {n} emails sent within {within:?}: {counts:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Message-IDs the SMTP server accepted: (how many in all, how many distinct).
fn accepted(smtp: &SmtpServer) -> (usize, BTreeSet<String>) {
    let ids = smtp.message_ids();
    let distinct = ids.iter().cloned().collect();
    (ids.len(), distinct)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_deliver_a_thousand_emails_once_and_survive_a_sigkill() {
    if !crate::support::fake_smtp::available(
        "two_workers_deliver_a_thousand_emails_once_and_survive_a_sigkill",
    ) {
        return;
    }
    let Some(shared) = Shared::new("mail2").await else { return };
    let mail_dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(mail_dir.path(), None);
    let (one, two) = (Instance::new(), Instance::new());
    let business = shared.import(&one);
    let mut extra: Vec<(&str, String)> = smtp.env();
    extra.extend([
        ("FRONTDESK_LOG_FORMAT", "json".to_string()),
        ("RUST_LOG", "warn,frontdesk::notify::worker=debug".to_string()),
        ("FRONTDESK_NOTIFY_POLL_MS", "100".to_string()),
        // A crashed instance's rows go to the other after 6 s; an attempt
        // gets 5 s (generous: the test machine is shared and busy).
        ("FRONTDESK_NOTIFY_TIMEOUT_MS", "5000".to_string()),
        ("FRONTDESK_NOTIFY_LEASE_MS", "6000".to_string()),
        ("FRONTDESK_NOTIFY_BACKOFF_BASE_MS", "200".to_string()),
    ]);
    let logs: [PathBuf; 2] = [one.dir.path().join("a.log"), two.dir.path().join("b.log")];
    let mut a = shared.serve(&one, "desk-a", &extra, Some(&logs[0]));
    let b = shared.serve(&two, "desk-b", &extra, Some(&logs[1]));
    let store = std::sync::Arc::new(PgStore::open(&shared.pg.url).await.unwrap());

    // 1,000 emails queued while both workers run: each delivered once.
    let started = Instant::now();
    let first = enqueue_emails(&store, &business, 1000).await;
    let queued = started.elapsed();
    until_all_sent(&store, &business, 1000, Duration::from_secs(180)).await;
    let delivered = started.elapsed();
    // Anything sent twice would have been accepted before its row was marked sent.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (total, distinct) = accepted(&smtp);
    assert_eq!((total, distinct.len()), (1000, 1000), "each email accepted exactly once");
    let rows = store.notifications(&BusinessId::from(&business)).await.unwrap();
    let provided: BTreeSet<String> = rows.iter().filter_map(|r| r.provider_id.clone()).collect();
    assert_eq!(provided, distinct, "every row's Message-ID is one the SMTP server accepted");
    let (by_a, by_b) = (sent_by(&logs[0]), sent_by(&logs[1]));
    let ids: BTreeSet<String> = first.iter().cloned().collect();
    assert!(by_a.is_disjoint(&by_b), "no row sent by both instances");
    assert_eq!(by_a.union(&by_b).cloned().collect::<BTreeSet<_>>(), ids, "every row sent by one of them");
    assert!(
        !by_a.is_empty() && !by_b.is_empty(),
        "both workers delivered: a {}, b {}",
        by_a.len(),
        by_b.len()
    );
    eprintln!(
        "MEASURE scale_out: 1000 emails queued in {queued:?}, all delivered after {delivered:?} \
         (desk-a {}, desk-b {})",
        by_a.len(),
        by_b.len()
    );

    // Slow SMTP answers; once desk-a has delivered from the second batch, the
    // server stalls every new message, so the rows desk-a takes next hang in
    // flight: SIGKILL it then. (Killing at a chosen delivery count alone could
    // land between two claims, with nothing in flight.)
    smtp.set_mode("slow");
    let second = enqueue_emails(&store, &business, 300).await;
    let second_ids: BTreeSet<String> = second.iter().cloned().collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while sent_by(&logs[0]).intersection(&second_ids).count() < 5 {
        assert!(Instant::now() < deadline, "desk-a never delivered from the second batch");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    smtp.set_mode("stall");
    // A message begun before the stall is answered within 0.15 s: rows still
    // held 0.5 s after the first one is seen are stalled ones.
    let deadline = Instant::now() + Duration::from_secs(30);
    while held_by(&logs[0]).intersection(&second_ids).next().is_none() {
        assert!(Instant::now() < deadline, "desk-a took no row once the SMTP server stalled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.child.kill().unwrap(); // SIGKILL
    a.child.wait().unwrap();
    let killed_at = Instant::now();
    smtp.set_mode("slow");
    let sent_by_a: BTreeSet<String> = sent_by(&logs[0]).intersection(&second_ids).cloned().collect();
    let left_by_a: BTreeSet<String> = held_by(&logs[0]).intersection(&second_ids).cloned().collect();
    assert!(!left_by_a.is_empty(), "desk-a held rows in flight when it was killed");
    until_all_sent(&store, &business, 1300, Duration::from_secs(120)).await;
    let recovered = killed_at.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (total, distinct) = accepted(&smtp);
    assert_eq!(distinct.len(), 1300, "nothing lost: every email reached the SMTP server");
    let rows = store.notifications(&BusinessId::from(&business)).await.unwrap();
    assert!(rows.iter().all(|r| r.state == "sent"), "every row sent");
    // The rows desk-a held when it died were claimed again by desk-b once
    // their lease ran out (a second attempt) and delivered by it.
    let by_b = sent_by(&logs[1]);
    for r in rows.iter().filter(|r| left_by_a.contains(&r.id)) {
        assert!(
            r.attempts >= 2 && by_b.contains(&r.id),
            "row {} left by desk-a: attempts {}",
            r.id,
            r.attempts
        );
    }
    // At-least-once across a crash: a row accepted by SMTP just before the
    // kill, not yet recorded, is sent again; never more than were in flight.
    let duplicates = total - distinct.len();
    let in_flight_max = 4; // desk-a's email concurrency (the default)
    assert!(
        duplicates <= left_by_a.len() && duplicates <= in_flight_max,
        "{duplicates} duplicates, {} rows left in flight by desk-a",
        left_by_a.len()
    );
    let health: serde_json::Value = reqwest::get(b.url("/health")).await.unwrap().json().await.unwrap();
    assert_eq!(health["instance"], "desk-b", "{health}");
    eprintln!(
        "MEASURE scale_out: SIGKILL of desk-a after it sent {} of the second 300, with {} rows in \
         flight; desk-b finished {:?} later; {duplicates} duplicate email(s)",
        sent_by_a.len(),
        left_by_a.len(),
        recovered
    );

    drop((a, b, shared));
}
