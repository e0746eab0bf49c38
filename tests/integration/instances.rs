//! Several instances acting as one: two frontdesk servers on one Redis, each
//! request free to land on either. Skipped (with a notice) unless
//! `FRONTDESK_TEST_REDIS_URL` names a Redis; every test uses a key prefix of
//! its own.
//!
//! Until the Postgres backend lands, the two instances run in this process
//! and share one SQLite store (two processes cannot share SQLite: the data
//! directory is locked). Once `DATABASE_URL=postgres://` works, `Node::start`
//! can become two `frontdesk serve` processes given the same `DATABASE_URL`,
//! `REDIS_URL`, `FRONTDESK_REDIS_KEY_PREFIX` and `JWT_SECRET`: the requests
//! below are plain HTTP and do not change.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use frontdesk::config::{Config, RedisConfig, Secret};
use frontdesk::ids::{BusinessId, CallSid, LeadId};
use frontdesk::server::{self, AppState};
use frontdesk::store::sqlite::SqliteStore;
use frontdesk::store::{InspectableStore, Store};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};

use crate::support::fake_media::twilio_signature;
use crate::support::fake_twilio::{FakeTwilio, AUTH_TOKEN};
use crate::support::instance::Instance;
use crate::support::voice::{said, twiml, Phone, BUSINESS, PUBLIC};

/// The test Redis under a fresh key prefix; None (and a notice) without one.
fn test_redis(test: &str) -> Option<RedisConfig> {
    let Ok(url) = std::env::var("FRONTDESK_TEST_REDIS_URL") else {
        eprintln!("{test}: skipped (FRONTDESK_TEST_REDIS_URL is not set)");
        return None;
    };
    Some(RedisConfig {
        url: Secret::new(url),
        password: Secret::default(),
        db: 0,
        ttl_secs: 3600,
        key_prefix: format!("frontdesk-test:{}:", uuid::Uuid::new_v4()),
    })
}

/// One frontdesk instance serving on a loopback port.
struct Node {
    base: String,
    state: AppState,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

impl Node {
    async fn start(
        name: &str,
        store: Arc<dyn InspectableStore>,
        redis: &RedisConfig,
        twilio: &FakeTwilio,
    ) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let mut config =
            Config { data_dir: dir.path().to_path_buf(), redis: redis.clone(), ..Config::default() };
        config.server.instance_name = name.into();
        // Every instance signs with the same secret: sessions and stream tokens work on all.
        config.auth.jwt_secret = Secret::new("instances-test-secret-0123456789abcdef0123456789");
        for (key, value) in twilio.env() {
            match key {
                "TWILIO_ACCOUNT_SID" => config.twilio.account_sid = value,
                "TWILIO_AUTH_TOKEN" => config.twilio.auth_token = Secret::new(value),
                "TWILIO_API_BASE_URL" => config.twilio.api_base_url = value,
                _ => {}
            }
        }
        config.twilio.webhook_base_url = PUBLIC.into();
        config.server.hostname = "voice.test".into();
        let state = AppState::new(config, store).unwrap();
        let listener = server::bind_to("127.0.0.1:0".parse().unwrap()).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server::serve(state.clone(), listener, async {
            let _ = stopped.await;
        }));
        Node { base, state, _stop: stop, _dir: dir }
    }

    async fn health(&self) -> Value {
        reqwest::get(format!("{}/health", self.base)).await.unwrap().json().await.unwrap()
    }

    /// A chat message in `session`; returns the answer.
    async fn chat(&self, business_id: &str, session: &mut Option<String>, message: &str) -> Value {
        let mut body = json!({ "businessId": business_id, "message": message });
        if let Some(id) = session {
            body["sessionId"] = json!(id);
        }
        let res =
            reqwest::Client::new().post(format!("{}/api/chat", self.base)).json(&body).send().await.unwrap();
        let status = res.status().as_u16();
        let answer: Value = res.json().await.unwrap();
        assert_eq!(status, 200, "{answer}");
        *session = answer["sessionId"].as_str().map(str::to_string);
        answer
    }

    /// A Twilio webhook, signed as Twilio signs it; returns what the caller hears.
    async fn webhook(&self, path: &str, call_sid: &str, speech: Option<&str>) -> String {
        let mut params = Phone::call_params(call_sid);
        if let Some(speech) = speech {
            params.retain(|(k, _)| *k != "CallStatus");
            params.push(("CallStatus", "in-progress".into()));
            params.push(("SpeechResult", speech.into()));
            params.push(("Confidence", "0.9".into()));
        }
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let signature = twilio_signature(AUTH_TOKEN, &format!("{PUBLIC}{path}"), &params);
        let res = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .header("X-Twilio-Signature", signature)
            .form(&params)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        said(&twiml(&res.text().await.unwrap()))
    }
}

/// One database for both instances, with the test business in it.
async fn shared_store() -> (Arc<dyn InspectableStore>, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("frontdesk.db")).unwrap();
    let bundle = frontdesk::provision::parse_bundle(BUSINESS).unwrap();
    let business_id = store.import_business(bundle).await.unwrap().business_id;
    (Arc::new(store), String::from(business_id), dir)
}

#[tokio::test]
async fn a_chat_and_a_gather_call_move_between_instances() {
    let Some(redis) = test_redis("a_chat_and_a_gather_call_move_between_instances") else { return };
    let twilio = FakeTwilio::start().await;
    let (store, business, _db) = shared_store().await;
    let a = Node::start("a", store.clone(), &redis, &twilio).await;
    let b = Node::start("b", store.clone(), &redis, &twilio).await;

    // Each says who it is, and that it shares its sessions through Redis.
    for (node, name) in [(&a, "a"), (&b, "b")] {
        let health = node.health().await;
        assert_eq!(health["instance"], name, "{health}");
        assert_eq!(health["status"], "ok", "{health}");
        assert_eq!(
            (health["sessions"]["backend"].as_str(), health["sessions"]["ok"].as_bool()),
            (Some("redis"), Some(true))
        );
    }

    // A chat whose messages alternate between the instances is one conversation.
    let mut session = None;
    let reply = a.chat(&business, &mut session, "Hi, I need a quote to replace my water heater").await;
    assert!(reply["reply"].as_str().unwrap().ends_with("May I have your name?"), "{reply}");
    let first = session.clone();
    let reply = b.chat(&business, &mut session, "Dana Smith").await;
    assert_eq!(session, first, "b continued a's session");
    assert!(reply["reply"].as_str().unwrap().contains("number"), "{reply}");
    let lead_id = reply["leadId"].as_str().unwrap().to_string();
    let reply = a.chat(&business, &mut session, "312-555-0142").await;
    assert!(reply["reply"].as_str().unwrap().contains("address"), "{reply}");
    let reply = b.chat(&business, &mut session, "12 Elm Street, Springfield").await;
    assert_eq!((&session, reply["leadId"].as_str()), (&first, Some(lead_id.as_str())), "{reply}");
    let lead = store.lead(&BusinessId::from(&business), &LeadId::from(&lead_id)).await.unwrap();
    assert_eq!(lead.contact_name.as_deref(), Some("Dana Smith"));
    assert_eq!(lead.address.as_deref(), Some("12 Elm Street, Springfield"));
    let transcript = store.transcript(lead.conversation_id.as_ref().unwrap()).await.unwrap();
    assert_eq!(transcript.iter().filter(|m| m.role.as_str() == "user").count(), 4, "{transcript:?}");

    // Two messages at once, one to each: one turn after the other, neither lost.
    let (mut s1, mut s2) = (session.clone(), session.clone());
    tokio::join!(
        a.chat(&business, &mut s1, "The old one is leaking from the bottom"),
        b.chat(&business, &mut s2, "It is a 40 gallon gas heater"),
    );
    let id = session.as_deref().unwrap();
    let saved: Value = serde_json::from_str(&a.state.sessions.get(id).await.unwrap()).unwrap();
    let said_by_user: Vec<&str> = saved["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l[0] == "user")
        .map(|l| l[1].as_str().unwrap())
        .collect();
    assert_eq!(said_by_user.len(), 6, "{said_by_user:?}");
    assert!(said_by_user.contains(&"The old one is leaking from the bottom"), "{said_by_user:?}");
    assert!(said_by_user.contains(&"It is a 40 gallon gas heater"), "{said_by_user:?}");

    // A gather-mode call whose webhooks alternate: the questions go on in order.
    let sid = "CA00000000000000000000000000000a11";
    let heard = a.webhook("/api/voice/incoming", sid, None).await;
    assert!(heard.contains("Thanks for calling Test Plumbing"), "{heard}");
    let heard = b.webhook("/api/voice/handle-speech", sid, Some("Hi, my kitchen sink is leaking")).await;
    assert!(heard.contains("May I have your name?"), "{heard}");
    let heard = a.webhook("/api/voice/handle-speech", sid, Some("Dana Smith")).await;
    assert!(heard.contains("best number"), "{heard}");
    // Silence on b, then on a: two in a row (counted across instances) takes a message.
    let heard = b.webhook("/api/voice/handle-speech", sid, Some("")).await;
    assert!(heard.contains("didn't catch that"), "{heard}");
    let heard = a.webhook("/api/voice/handle-speech", sid, Some("")).await;
    assert!(heard.contains("take a message"), "{heard}");
    let call = store.call(&CallSid::from(sid)).await.unwrap();
    let transcript = store.transcript(&call.conversation_id.unwrap()).await.unwrap();
    assert_eq!(transcript.iter().filter(|m| m.role.as_str() == "user").count(), 2, "{transcript:?}");
}

#[tokio::test]
async fn limits_throttles_and_one_time_codes_count_across_instances() {
    let Some(redis) = test_redis("limits_throttles_and_one_time_codes_count_across_instances") else {
        return;
    };
    let twilio = FakeTwilio::start().await;
    let (store, _, _db) = shared_store().await;
    let a = Node::start("a", store.clone(), &redis, &twilio).await;
    let b = Node::start("b", store.clone(), &redis, &twilio).await;
    let (a, b) = (&a.state, &b.state);

    // Chat messages per address: the default budget, spent half on each instance.
    let limit = a.config.chat.per_ip_per_minute;
    assert!(limit >= 2);
    for i in 0..limit {
        let node = if i % 2 == 0 { a } else { b };
        assert!(node.chat_limits.per_ip.allow("198.51.100.7").await, "hit {i}");
    }
    assert!(!a.chat_limits.per_ip.allow("198.51.100.7").await);
    assert!(!b.chat_limits.per_ip.allow("198.51.100.7").await);
    assert!(b.chat_limits.per_ip.allow("198.51.100.8").await, "another address has its own budget");

    // Wrong passwords on one instance slow the next try on the other.
    for _ in 0..3 {
        a.web.logins.failed("owner@example.com", "203.0.113.9").await;
    }
    assert!(b.web.logins.attempt("owner@example.com", "203.0.113.9").await.is_err());
    b.web.logins.succeeded("owner@example.com", "203.0.113.9").await;
    assert!(a.web.logins.attempt("owner@example.com", "203.0.113.9").await.is_ok());

    // A media-stream token opens one stream, whichever instance it reaches.
    assert!(a.voice.first_use("1700000000.token").await);
    assert!(!b.voice.first_use("1700000000.token").await);

    // The setup code printed by one instance works on the other, once.
    let code = a.web.setup_token.issue().await;
    assert!(b.web.setup_token.matches(&code).await);
    b.web.setup_token.clear().await;
    assert!(!a.web.setup_token.matches(&code).await);
}

/// A TCP relay to Redis that can be cut and restored: Redis going away
/// without stopping the Redis other tests use.
struct Relay {
    url: String,
    open: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Relay {
    async fn start(upstream: &str) -> Relay {
        let target = url::Url::parse(upstream).unwrap();
        let target = format!("{}:{}", target.host_str().unwrap(), target.port().unwrap_or(6379));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("redis://{}", listener.local_addr().unwrap());
        let open = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (open2, links2) = (open.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !open2.load(Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                let target = target.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                links2.lock().unwrap().push(link);
            }
        });
        Relay { url, open, links }
    }

    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within 30 seconds");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn redis_going_away_and_coming_back() {
    let Some(mut redis) = test_redis("redis_going_away_and_coming_back") else { return };
    let relay = Relay::start(redis.url.expose()).await;
    redis.url = Secret::new(relay.url.clone());
    let twilio = FakeTwilio::start().await;
    let (store, business, _db) = shared_store().await;
    let a = Node::start("a", store.clone(), &redis, &twilio).await;
    let b = Node::start("b", store.clone(), &redis, &twilio).await;

    let mut session = None;
    a.chat(&business, &mut session, "Hi, I need a quote to replace my water heater").await;
    let first = session.clone();

    // Redis goes away: a carries on from its own memory and says so.
    relay.cut();
    let reply = a.chat(&business, &mut session, "Dana Smith").await;
    assert_eq!(session, first, "the conversation went on");
    assert!(reply["reply"].as_str().unwrap().contains("number"), "{reply}");
    until("a reports Redis down", async || {
        let health = a.health().await;
        health["status"] == "degraded" && health["sessions"]["ok"] == false
    })
    .await;
    let health = a.health().await;
    assert!(health["sessions"]["error"].as_str().unwrap().contains("Redis"), "{health}");
    assert_eq!(health["database"]["ok"], true, "the database is fine: {health}");
    let reply = a.chat(&business, &mut session, "312-555-0142").await;
    assert!(reply["reply"].as_str().unwrap().contains("address"), "{reply}");

    // It comes back: a reports ok again and has copied what it wrote
    // meanwhile, so b continues the conversation where a left it.
    relay.restore();
    until("a reports Redis back", async || a.health().await["status"] == "ok").await;
    let reply = b.chat(&business, &mut session, "12 Elm Street, Springfield").await;
    assert_eq!(session, first);
    let lead_id = reply["leadId"].as_str().unwrap();
    let lead = store.lead(&BusinessId::from(&business), &LeadId::from(lead_id)).await.unwrap();
    assert_eq!(lead.contact_name.as_deref(), Some("Dana Smith"));
    assert_eq!(lead.contact_phone.as_deref(), Some("+13125550142"));
    assert_eq!(lead.address.as_deref(), Some("12 Elm Street, Springfield"));
    // Nothing the database was given while Redis was away is lost.
    let transcript = store.transcript(lead.conversation_id.as_ref().unwrap()).await.unwrap();
    assert_eq!(transcript.len(), 8, "{transcript:?}");
}

/// `frontdesk serve` with the original design's `REDIS_URL` starts, says
/// which instance it is, and shares its sessions through Redis.
#[tokio::test]
async fn serve_starts_with_redis_and_names_its_instance() {
    let Some(redis) = test_redis("serve_starts_with_redis_and_names_its_instance") else { return };
    let fd = Instance::new();
    let server = fd.serve_with_env(&[
        ("REDIS_URL", redis.url.expose()),
        ("REDIS_TTL", "600"),
        ("FRONTDESK_REDIS_KEY_PREFIX", &redis.key_prefix),
        ("FRONTDESK_INSTANCE_NAME", "desk-1"),
    ]);
    let health: Value = reqwest::get(server.url("/health")).await.unwrap().json().await.unwrap();
    assert_eq!(
        (health["status"].as_str(), health["instance"].as_str()),
        (Some("ok"), Some("desk-1")),
        "{health}"
    );
    assert_eq!(health["sessions"]["backend"], "redis", "{health}");
}

/// Redis unreachable from the start: the server still starts and serves,
/// and `/health` says what is down.
#[tokio::test]
async fn serve_starts_degraded_without_its_redis() {
    let fd = Instance::new();
    // Nothing listens on port 1.
    let server = fd.serve_with_env(&[("REDIS_URL", "redis://127.0.0.1:1")]);
    let res = reqwest::get(server.url("/health")).await.unwrap();
    assert_eq!(res.status().as_u16(), 200, "a degraded instance still takes traffic");
    let health: Value = res.json().await.unwrap();
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(
        (health["sessions"]["backend"].as_str(), health["sessions"]["ok"].as_bool()),
        (Some("redis"), Some(false))
    );
    assert!(health["sessions"]["error"].as_str().unwrap().contains("Redis is unreachable"), "{health}");
    let instance = health["instance"].as_str().unwrap();
    assert!(instance.ends_with(&format!("-{}", server.child.id())), "host name and pid: {instance}");
}
