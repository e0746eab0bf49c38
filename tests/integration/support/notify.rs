//! What the notification tests share: a business served by the real binary
//! with fast retries, chat helpers, and a webhook receiver that checks
//! signatures the way README tells integrators to.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use frontdesk::domain::Notification;
use frontdesk::ids::BusinessId;
use frontdesk::store::InspectableStore;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use warp::hyper::body::Bytes;
use warp::Filter;

use crate::support::instance::*;

pub const PUBLIC_URL: &str = "https://fd.example";
pub const OWNER_PHONE: &str = "+13125550199";
pub const TWILIO_NUMBER: &str = "+13125550100";

/// A plumbing business on `plan`, reachable by email and phone, plus `extra` lines in `[business]`.
pub fn business_file(plan: &str, extra: &str) -> String {
    format!(
        "[business]\nname = \"Flow Plumbing\"\nbusiness_type = \"PLUMBING\"\nplan_tier = \"{plan}\"\n\
         notification_email = \"owner@flow.example\"\nnotification_phone_number = \"{OWNER_PHONE}\"\n{extra}\n\n{QUESTIONS}"
    )
}

const QUESTIONS: &str = concat!(
    contact_questions!(),
    r#"
[[questions]]
question_text = "What's the address of the property?"
maps_to_lead_field = "address"
"#
);

pub struct Harness {
    // Fields drop in order: the server stops before its database goes.
    pub server: Option<Server>,
    pub fd: Instance,
    pub business_id: String,
    client: reqwest::Client,
}

impl Harness {
    /// Imports `file`; the server is started with [`Harness::serve`].
    pub fn new(file: &str) -> Harness {
        let fd = Instance::new();
        let path = fd.dir.path().join("business.toml");
        std::fs::write(&path, file).unwrap();
        let business_id = fd.ok(&["business", "import", path.to_str().unwrap()]);
        Harness { fd, server: None, business_id, client: reqwest::Client::new() }
    }

    /// Imports another business into the same instance; returns its id.
    pub fn import(&self, file: &str) -> String {
        let path = self.fd.dir.path().join("other.toml");
        std::fs::write(&path, file).unwrap();
        self.fd.ok(&["business", "import", path.to_str().unwrap()])
    }

    /// Starts (or restarts) the server: no chat limits, new leads at once,
    /// retries within a second.
    pub fn serve(&mut self, env: &[(&str, String)]) -> &Server {
        self.server = None;
        let mut cmd = self.fd.command();
        cmd.args(["serve", "--port", "0", "--bind", "127.0.0.1"])
            .env("CHAT_RATE_LIMIT_PER_IP", "0")
            .env("CHAT_RATE_LIMIT_PER_SESSION", "0")
            .env("APP_PRIMARY_URL", PUBLIC_URL)
            .env("FRONTDESK_NOTIFY_NEW_LEAD_DELAY_SECS", "0")
            .env("FRONTDESK_NOTIFY_POLL_MS", "100")
            .env("FRONTDESK_NOTIFY_BACKOFF_BASE_MS", "200")
            .env("FRONTDESK_NOTIFY_BACKOFF_MAX_MS", "1000")
            .env("FRONTDESK_NOTIFY_TIMEOUT_MS", "10000")
            // The tests' webhook receivers listen on loopback.
            .env("FRONTDESK_ALLOW_PRIVATE_WEBHOOKS", "1");
        for (k, v) in env {
            cmd.env(k, v);
        }
        self.server = Some(Server::start(cmd));
        self.server.as_ref().unwrap()
    }

    pub fn server(&self) -> &Server {
        self.server.as_ref().expect("serve() first")
    }

    /// Kills the server with SIGKILL: no shutdown, no cleanup.
    pub fn kill(&mut self) {
        if let Some(mut server) = self.server.take() {
            std::process::Command::new("kill")
                .args(["-KILL", &server.child.id().to_string()])
                .status()
                .unwrap();
            server.child.wait().unwrap();
        }
    }

    /// Sends a chat message to `business_id`; returns the answer.
    pub async fn say_to(&self, business_id: &str, session: &mut Option<String>, message: &str) -> Value {
        let mut body = json!({ "businessId": business_id, "message": message });
        if let Some(id) = session {
            body["sessionId"] = json!(id);
        }
        let res = self.client.post(self.server().url("/api/chat")).json(&body).send().await.unwrap();
        let status = res.status().as_u16();
        let answer: Value = res.json().await.unwrap();
        assert_eq!(status, 200, "{answer}");
        *session = answer["sessionId"].as_str().map(str::to_string);
        answer
    }

    pub async fn say(&self, session: &mut Option<String>, message: &str) -> Value {
        self.say_to(&self.business_id.clone(), session, message).await
    }

    /// A new (normal) lead with a name and number; returns (session, lead id).
    pub async fn new_lead(&self, business_id: &str, name: &str, phone: &str) -> (Option<String>, String) {
        let mut s = None;
        let a = self.say_to(business_id, &mut s, &format!("Hi, this is {name}, my number is {phone}")).await;
        let lead_id = a["leadId"].as_str().unwrap_or_else(|| panic!("no lead: {a}")).to_string();
        (s, lead_id)
    }

    /// The conversation becomes URGENT; returns the lead id.
    pub async fn escalate(&self, business_id: &str, session: &mut Option<String>) -> String {
        let a =
            self.say_to(business_id, session, "A pipe burst and water is pouring through the ceiling").await;
        assert_eq!(a["emergency"]["level"], "URGENT", "{a}");
        a["leadId"].as_str().unwrap().to_string()
    }

    /// An emergency from a new visitor (no name or number yet).
    pub async fn emergency(&self, business_id: &str) -> String {
        self.escalate(business_id, &mut None).await
    }

    pub fn store(&self) -> std::sync::Arc<dyn InspectableStore> {
        self.fd.store()
    }

    pub async fn notifications(&self, business_id: &str) -> Vec<Notification> {
        self.store().notifications(&BusinessId::from(business_id)).await.unwrap()
    }

    /// Polls the business's notifications until `done` holds.
    pub async fn wait_rows(
        &self,
        business_id: &str,
        timeout: Duration,
        done: impl Fn(&[Notification]) -> bool,
    ) -> Vec<Notification> {
        let store = self.store();
        let deadline = Instant::now() + timeout;
        loop {
            let rows = store.notifications(&BusinessId::from(business_id)).await.unwrap();
            if done(&rows) {
                return rows;
            }
            assert!(Instant::now() < deadline, "notifications never got there: {rows:#?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The channels of `rows`, sorted, for comparisons.
pub fn channels(rows: &[Notification], kind: &str) -> Vec<String> {
    let mut out: Vec<String> = rows.iter().filter(|n| n.kind == kind).map(|n| n.channel.clone()).collect();
    out.sort();
    out
}

/// The Message-ID frontdesk gives a notification's email.
pub fn message_id(idempotency_key: &str, domain: &str) -> String {
    use sha2::Digest;
    let digest = Sha256::digest(idempotency_key.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("<{hex}.notify@{domain}>")
}

/// One webhook delivery the receiver accepted.
#[derive(Debug, Clone)]
pub struct Hook {
    pub event: String,
    pub idempotency_key: String,
    pub body: Value,
}

/// A lead webhook receiver: verifies `X-Frontdesk-Signature` as README says
/// (HMAC-SHA256 of `timestamp.body` with the business's secret, timestamp
/// within five minutes) and answers 401 when it does not verify.
#[derive(Clone)]
pub struct WebhookReceiver {
    pub url: String,
    secret: Arc<Mutex<String>>,
    pub accepted: Arc<Mutex<Vec<Hook>>>,
    pub refused: Arc<Mutex<u32>>,
}

impl WebhookReceiver {
    pub async fn start() -> WebhookReceiver {
        let receiver = WebhookReceiver {
            url: String::new(),
            secret: Arc::default(),
            accepted: Arc::default(),
            refused: Arc::default(),
        };
        let r = receiver.clone();
        let route = warp::path!("hooks" / "lead")
            .and(warp::post())
            .and(warp::header::headers_cloned())
            .and(warp::body::bytes())
            .map(move |headers: warp::http::HeaderMap, body: Bytes| {
                let get = |name: &str| {
                    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
                };
                let ok = verify(
                    &r.secret.lock().unwrap(),
                    &get("x-frontdesk-timestamp"),
                    &get("x-frontdesk-signature"),
                    &body,
                );
                if !ok {
                    *r.refused.lock().unwrap() += 1;
                    return warp::http::StatusCode::UNAUTHORIZED;
                }
                r.accepted.lock().unwrap().push(Hook {
                    event: get("x-frontdesk-event"),
                    idempotency_key: get("x-frontdesk-idempotency-key"),
                    body: serde_json::from_slice(&body).unwrap(),
                });
                warp::http::StatusCode::NO_CONTENT
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(warp::serve(route).incoming(listener).run());
        WebhookReceiver { url: format!("http://{addr}/hooks/lead"), ..receiver }
    }

    pub fn set_secret(&self, secret: &str) {
        *self.secret.lock().unwrap() = secret.to_string();
    }

    pub fn hooks(&self) -> Vec<Hook> {
        self.accepted.lock().unwrap().clone()
    }
}

/// The README's recipe.
pub fn verify(secret: &str, timestamp: &str, signature: &str, body: &[u8]) -> bool {
    let Ok(ts) = timestamp.parse::<i64>() else { return false };
    if (chrono::Utc::now().timestamp() - ts).abs() > 300 {
        return false;
    }
    let Some(hex) = signature.strip_prefix("sha256=") else { return false };
    let Some(received) = (0..hex.len())
        .step_by(2)
        .map(|i| hex.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok()))
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&received).is_ok()
}
