//! Reply latency: medians and p90s of a seeded history the test knows, on
//! SQLite and on Postgres (a fresh schema) when FRONTDESK_TEST_DATABASE_URL
//! is set; and real chat turns through `/api/chat` and `/api/chat/stream`
//! (a model that takes its time) recording theirs.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use frontdesk::domain::Channel;
use frontdesk::ids::BusinessId;
use frontdesk::store::admin::LatencyStat;
use frontdesk::store::postgres::PgStore;
use frontdesk::store::sqlite::SqliteStore;
use frontdesk::store::{InspectableStore, LatencySample};

use crate::support::chat::Chat;
use crate::support::fake_openai::{text, FakeOpenAi, Scripted};
use crate::support::postgres::FreshSchema;

const DEMO: &str = include_str!("../../assets/demo/acme-plumbing.toml");

fn ts(day: u32, hour: u32) -> String {
    Utc.with_ymd_and_hms(2025, 3, day, hour, 0, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn stat(span: &str, channel: Channel, turns: u32, median_ms: u32, p90_ms: u32) -> LatencyStat {
    LatencyStat { span: span.into(), channel, turns, median_ms, p90_ms }
}

#[tokio::test]
async fn latency_of_a_known_history_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn InspectableStore> =
        Arc::new(SqliteStore::open(&dir.path().join("latency.db")).unwrap());
    known_history(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_of_a_known_history_on_postgres() {
    let Some(pg) = FreshSchema::new("latency").await else { return };
    let store: Arc<dyn InspectableStore> = Arc::new(PgStore::open(&pg.url).await.unwrap());
    known_history(store).await;
    pg.drop().await;
}

/// Two days of March 2025 (UTC): the 10th and the 11th.
async fn known_history(store: Arc<dyn InspectableStore>) {
    let bundle = frontdesk::provision::parse_bundle(DEMO).unwrap();
    let a = store.import_business(bundle.clone()).await.unwrap().business_id;
    let mut other = bundle;
    other.business.name = "Other Co".into();
    other.business.twilio_phone_number = None;
    let b = store.import_business(other).await.unwrap().business_id;
    let chat = store.start_conversation(&a, Channel::Chat, None, false).await.unwrap();
    let call = store.start_conversation(&a, Channel::Voice, Some("CAlatency"), false).await.unwrap();
    let test = store.start_conversation(&a, Channel::Chat, None, true).await.unwrap();
    let elsewhere = store.start_conversation(&b, Channel::Chat, None, false).await.unwrap();
    let record = |business: &str, conversation: &str, channel: Channel, ms: u32, day: u32| {
        let store = store.clone();
        let sample = LatencySample {
            business_id: business.into(),
            conversation_id: conversation.into(),
            channel,
            mode: if channel == Channel::Chat { "chat" } else { "realtime" },
            ms,
            at: frontdesk::domain::parse_rfc3339(&ts(day, 12)).unwrap(),
            day: format!("2025-03-{day:02}"),
        };
        async move { store.record_latency(sample).await.unwrap() }
    };
    // The 10th: ten chat replies, 100..1000 ms, in shuffled order; three on the phone.
    for ms in [700, 100, 1000, 300, 500, 900, 200, 800, 400, 600] {
        record(&a, &chat, Channel::Chat, ms, 10).await;
    }
    for ms in [1200, 800, 1000] {
        record(&a, &call, Channel::Voice, ms, 10).await;
    }
    // The 11th: one quick chat reply; a test conversation's is never recorded;
    // another business's counts only across businesses.
    record(&a, &chat, Channel::Chat, 50, 11).await;
    record(&a, &test, Channel::Chat, 99_999, 11).await;
    record(&b, &elsewhere, Channel::Chat, 7_777, 11).await;
    // Before the period, and a conversation of another business named with `a`.
    record(&a, &chat, Channel::Chat, 88_888, 1).await;
    record(&a, &elsewhere, Channel::Chat, 66_666, 11).await;

    let got = store.response_latency(&a, "2025-03-10", "2025-03-11").await.unwrap();
    assert_eq!(
        got,
        vec![
            // Nearest rank: the 5th and 9th of ten; the 2nd and 3rd of three.
            stat("2025-03-10", Channel::Chat, 10, 500, 900),
            stat("2025-03-10", Channel::Voice, 3, 1000, 1200),
            stat("2025-03-11", Channel::Chat, 1, 50, 50),
            // Eleven: the 6th and the 10th (50, 100, ..., 1000).
            stat("period", Channel::Chat, 11, 500, 900),
            stat("period", Channel::Voice, 3, 1000, 1200),
        ]
    );
    // Across businesses: twelve chat replies, the 6th and the 11th.
    let all = store.all_response_latency("2025-03-10", "2025-03-11").await.unwrap();
    assert!(all.contains(&stat("period", Channel::Chat, 12, 500, 1000)), "{all:?}");
    assert!(all.contains(&stat("2025-03-11", Channel::Chat, 2, 50, 7_777)), "{all:?}");
    // Another business sees none of `a`'s.
    let theirs = store.response_latency(&b, "2025-03-10", "2025-03-11").await.unwrap();
    assert_eq!(
        theirs,
        vec![
            stat("2025-03-11", Channel::Chat, 1, 7_777, 7_777),
            stat("period", Channel::Chat, 1, 7_777, 7_777)
        ]
    );
    assert!(store.response_latency(&a, "2025-03-12", "2025-03-31").await.unwrap().is_empty());
}

/// The business's replies of the last few days, once `turns` are recorded.
async fn wait_for_turns(store: &Arc<dyn InspectableStore>, business: &str, turns: u32) -> LatencyStat {
    let day = |d: i64| (Utc::now() + chrono::Duration::days(d)).date_naive().to_string();
    for _ in 0..100 {
        let got = store.response_latency(&BusinessId::from(business), &day(-2), &day(2)).await.unwrap();
        if let Some(s) = got.into_iter().find(|s| s.span == "period" && s.turns >= turns) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {turns} replies recorded");
}

#[tokio::test]
async fn real_chat_turns_record_the_time_to_their_first_word() {
    let (fake, base) = FakeOpenAi::start(vec![
        Scripted::Delayed(Duration::from_millis(400), Box::new(text("Sure, what's the address?"))),
        Scripted::Delayed(Duration::from_millis(300), Box::new(text("Thanks! Anything else?"))),
    ])
    .await;
    let chat = Chat::start_with(&[
        ("OPENAI_API_KEY", "sk-test-key"),
        ("OPENAI_BASE_URL", &base),
        ("OPENAI_CHAT_MODEL", "gpt-test"),
        ("OPENAI_CHAT_TIMEOUT_MS", "5000"),
    ]);
    // In one piece: the whole reply is its first word.
    let mut s = None;
    chat.say(&mut s, "My kitchen sink is leaking").await;
    // Streamed: to the first delta sent.
    let res = reqwest::Client::new()
        .post(chat.server.url("/api/chat/stream"))
        .json(&serde_json::json!({ "businessId": chat.business_id, "message": "12 Elm Street", "sessionId": s }))
        .send()
        .await
        .unwrap();
    let body = res.text().await.unwrap();
    assert!(body.contains("event:delta") && body.contains("event:done"), "{body}");
    assert_eq!(fake.count(), 2);

    let store = chat.store();
    let got = wait_for_turns(&store, &chat.business_id, 2).await;
    assert_eq!(got.channel, Channel::Chat);
    // The model took 400 ms, then 300 ms, before its first byte.
    assert!(got.median_ms >= 300 && got.p90_ms >= 400, "{got:?}");
    assert!(got.p90_ms < 5_000, "{got:?}");
    if chat.fd.db().exists() {
        let db = rusqlite::Connection::open(chat.fd.db()).unwrap();
        let mut modes: Vec<String> = db
            .prepare("SELECT mode FROM response_latency ORDER BY mode")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        modes.dedup();
        assert_eq!(modes, ["chat", "chat_stream"]);
    }
}

/// 20 ms frames of caller audio.
async fn talk(call: &mut crate::support::fake_media::MediaCall, ms: usize) {
    for _ in 0..ms / 20 {
        call.media(&crate::support::fake_media::tone(440.0, 20)).await;
    }
}

#[tokio::test]
async fn a_realtime_call_records_the_end_of_speech_to_the_first_audio() {
    use crate::support::voice::{call_sid, model_audio, Phone};
    let phone = Phone::start(true, &[]).await;
    let sid = call_sid(60);
    let (mut call, conn) = phone.answer(&sid, true).await;
    // The greeting: nobody was waiting for it, so nothing is recorded.
    conn.speak("resp_0", "item_0", &model_audio(2), "Thanks for calling Test Plumbing. How can I help?");
    call.expect("mark").await;
    call.expect("mark").await;
    talk(&mut call, 200).await;
    conn.wait_appended(10).await;
    // The caller stops; the model takes 300 ms to answer.
    conn.speech_stopped(1200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    conn.speak("resp_1", "item_1", &model_audio(2), "Sure, what's the address?");
    // Its audio went out before its mark.
    call.expect("mark").await;
    call.stop().await;
    phone.ended(&sid).await;

    let store = phone.store();
    let got = wait_for_turns(&store, &phone.business_id, 1).await;
    assert_eq!((got.channel, got.turns), (Channel::Voice, 1), "one reply waited for: {got:?}");
    // From the bridge's clock: a little under the fake's 300 ms if the bridge
    // read the end of speech late on a busy machine.
    assert!(got.median_ms >= 200 && got.median_ms < 5_000, "{got:?}");
    if phone.fd.db().exists() {
        let db = rusqlite::Connection::open(phone.fd.db()).unwrap();
        let mode: String = db.query_row("SELECT mode FROM response_latency", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "realtime");
    }
}

#[tokio::test]
async fn a_gather_turn_records_the_webhook_to_its_twiml_answer() {
    use crate::support::voice::{call_sid, said, Phone};
    let phone = Phone::start(false, &[]).await;
    let sid = call_sid(61);
    phone.incoming(&sid).await;
    let doc = phone.say(&sid, "My kitchen sink is leaking").await;
    assert!(!said(&doc).is_empty(), "{doc:?}");
    let store = phone.store();
    let got = wait_for_turns(&store, &phone.business_id, 1).await;
    assert_eq!((got.channel, got.turns), (Channel::Voice, 1), "{got:?}");
    assert!(got.median_ms < 5_000, "{got:?}");
    if phone.fd.db().exists() {
        let db = rusqlite::Connection::open(phone.fd.db()).unwrap();
        let mode: String = db.query_row("SELECT mode FROM response_latency", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "gather");
    }
}
