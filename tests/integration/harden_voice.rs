//! Issue 10, calls and their side effects: TwiML that stays well-formed
//! whatever a caller says, media streams bound to the call they were issued
//! for, and lead webhooks that cannot be pointed into the operator's network.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::instance::*;
use crate::support::notify::WebhookReceiver;
use crate::support::ui::*;
use crate::support::voice::{call_sid, Phone};
use frontdesk::ids::{BusinessId, CallSid};

#[tokio::test]
async fn a_callers_control_characters_never_reach_twiml() {
    let phone = Phone::start(false, &[]).await;
    let sid = call_sid(41);
    phone.incoming(&sid).await;
    let speak = |speech: &'static str| {
        let mut params = Phone::call_params(&sid);
        params.retain(|(k, _)| *k != "CallStatus");
        params.push(("CallStatus", "in-progress".into()));
        params.push(("SpeechResult", speech.into()));
        params
    };
    let mut said = String::new();
    // The first answer is what they need; the name is asked next and repeated back.
    for speech in ["I need a plumber for a dripping tap", "Dana\u{1}X Smith\u{b}"] {
        let params = speak(speech);
        let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body) = phone.post("/api/voice/handle-speech", &borrowed).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.chars().all(frontdesk::xml::allowed), "TwiML with a character XML forbids: {body:?}");
        said = crate::support::voice::said(&crate::support::voice::twiml(&body));
    }
    assert!(said.contains("DanaX Smith"), "{said}");
}

/// The stream parameters `incoming` gave a call, read as Twilio reads them.
async fn stream_parameters(phone: &Phone, sid: &str) -> Vec<(String, String)> {
    let params = Phone::call_params(sid);
    let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, body) = phone.post("/api/voice/incoming", &borrowed).await;
    assert_eq!(status, 200, "{body}");
    crate::support::fake_media::stream_parameters(&body)
}

/// Whether another model session was opened within a few seconds (the
/// bridge opens one only for a stream it admitted).
async fn model_opened(phone: &Phone, before: usize) -> bool {
    let opened = || phone.rt().opened.load(std::sync::atomic::Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        if opened() > before {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn a_media_stream_joins_only_the_call_it_was_issued_for_and_only_once() {
    let phone = Phone::start(true, &[]).await;
    let victim = call_sid(51);
    let victim_params = stream_parameters(&phone, &victim).await;

    // A signed upgrade naming the call in the clear, as before: refused.
    let forged = vec![
        ("callSid".to_string(), victim.clone()),
        ("businessId".to_string(), phone.business_id.clone()),
        ("from".to_string(), "+15555550100".to_string()),
    ];
    let call = phone.media(&victim, forged, false).await.unwrap();
    assert!(call.wait_closed(Duration::from_secs(15)).await, "a stream without its token is closed");
    assert!(!model_opened(&phone, 0).await, "and nothing was joined to the call");
    assert!(victim_params.iter().any(|(k, v)| k == "token" && !v.is_empty()), "{victim_params:?}");

    // Another call's token does not open this call.
    let other = call_sid(52);
    let mut borrowed = stream_parameters(&phone, &other).await;
    borrowed.retain(|(k, _)| k != "callSid");
    let call = phone.media(&victim, borrowed, false).await.unwrap();
    assert!(call.wait_closed(Duration::from_secs(15)).await);
    assert!(!model_opened(&phone, 0).await);

    // Its own token opens it, once.
    let call = phone.media(&victim, victim_params.clone(), false).await.unwrap();
    assert!(model_opened(&phone, 0).await, "the real stream is answered");
    let replay = phone.media(&victim, victim_params, false).await.unwrap();
    assert!(replay.wait_closed(Duration::from_secs(15)).await, "a replayed start is refused");
    drop(call);
    let calls = phone.store().call(&CallSid::from(&victim)).await.unwrap();
    assert_eq!(
        calls.from_number.as_deref(),
        Some(crate::support::voice::CALLER),
        "the caller is who Twilio said"
    );
}

async fn outbox(ui: &Ui, token: &str) -> Vec<Value> {
    let (_, body) = ui.api(token, "GET", "/api/admin/notifications?limit=200", None).await;
    body["notifications"].as_array().cloned().unwrap_or_default()
}

async fn wait_for(ui: &Ui, token: &str, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows = outbox(ui, token).await;
        if let Some(row) = rows.iter().find(|r| want(r)) {
            return row.clone();
        }
        assert!(Instant::now() < deadline, "timed out: {rows:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn webhook_business(url: &str) -> String {
    format!(
        "[business]\nname = \"Hook Plumbing\"\nplan_tier = \"PRO\"\nnotification_webhook_url = \"{url}\"\n\
         [[questions]]\nquestion_text = \"May I have your name?\"\nmaps_to_lead_field = \"name\"\n"
    )
}

#[tokio::test]
async fn lead_webhooks_to_internal_addresses_are_refused_unless_the_operator_allows_them() {
    let receiver = WebhookReceiver::start().await;
    let env = [("FRONTDESK_NOTIFY_POLL_MS", "100"), ("FRONTDESK_NOTIFY_MAX_ATTEMPTS", "1")];
    let ui = Ui::empty(&env);
    let file = ui.fd.dir.path().join("hook.toml");
    std::fs::write(&file, webhook_business(&receiver.url)).unwrap();
    let id = ui.fd.ok(&["business", "import", file.to_str().unwrap()]);
    ui.user("owner@hook.example", "owner", Some(&id));
    let token = ui.token("owner@hook.example").await;

    // Saving such an address is refused with a reason.
    for url in ["http://169.254.169.254/latest/meta-data/", "http://[::1]:22/", "http://localhost:5432/"] {
        let (status, body) = ui
            .api(
                &token,
                "POST",
                "/api/admin/config/notifications",
                Some(json!({ "notification_webhook_url": url })),
            )
            .await;
        assert_eq!(status, 400, "{url}: {body}");
        let why = body["fields"]["notification_webhook_url"].as_str().unwrap_or_default();
        assert!(why.contains("private or internal"), "{url}: {body}");
    }
    // One that got in another way (an import) is checked when sending: nothing is sent,
    // and the outbox says why in plain words, not what answered.
    let (status, test) =
        ui.api(&token, "POST", "/api/admin/notifications/test", Some(json!({ "channel": "webhook" }))).await;
    assert_eq!(status, 201, "{test}");
    let row = wait_for(&ui, &token, |r| {
        r["id"] == test["id"] && r["state"] != "pending" && r["state"] != "in_flight"
    })
    .await;
    assert_eq!(row["state"], "dead", "{row}");
    let error = row["lastError"].as_str().unwrap_or_default();
    assert!(error.contains("private or internal address"), "{error}");
    assert!(receiver.hooks().is_empty() && *receiver.refused.lock().unwrap() == 0, "nothing reached it");

    // The operator may allow it (a webhook receiver on the same host or network).
    let Ui { fd, server, http } = ui;
    drop(server);
    let mut cmd = fd.command();
    cmd.envs(env).env("FRONTDESK_ALLOW_PRIVATE_WEBHOOKS", "true").args([
        "serve",
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
    ]);
    let ui = Ui { server: Server::start(cmd), fd, http };
    let token = ui.token("owner@hook.example").await;
    receiver.set_secret(&ui.store().webhook_secret(&BusinessId::from(&id)).await.unwrap());
    let (status, test) =
        ui.api(&token, "POST", "/api/admin/notifications/test", Some(json!({ "channel": "webhook" }))).await;
    assert_eq!(status, 201);
    let row = wait_for(&ui, &token, |r| r["id"] == test["id"] && r["state"] == "sent").await;
    assert_eq!(row["channel"], "webhook");
    assert_eq!(receiver.hooks().len(), 1);
}
