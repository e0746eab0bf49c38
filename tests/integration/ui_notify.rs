//! The Notifications page and its admin API twins on the real binary: the
//! outbox with a dead webhook, retry, tests per channel and the plan, the
//! local email outbox without SMTP, CSRF, staff, and the preferences.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::ui::*;

/// What askama writes for `s`.
fn escaped(s: &str) -> String {
    s.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    crate::support::net::free_port()
}

/// Listens on `port`, accepts and never answers; counts the connections.
fn tarpit(port: u16) -> Arc<AtomicUsize> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
            count.fetch_add(1, Ordering::SeqCst);
        }
    });
    accepted
}

/// `GET /api/admin/notifications{query}` → the rows.
async fn rows(ui: &Ui, token: &str, query: &str) -> Vec<Value> {
    let (status, body) = ui.api(token, "GET", &format!("/api/admin/notifications{query}"), None).await;
    assert_eq!(status, 200, "{body}");
    body["notifications"].as_array().unwrap().clone()
}

/// Waits until the outbox has a row matching `want`.
async fn wait_row(ui: &Ui, token: &str, what: &str, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let all = rows(ui, token, "?limit=200").await;
        if let Some(row) = all.iter().find(|r| want(r)) {
            return row.clone();
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {all:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn row_by_id(ui: &Ui, token: &str, id: &str) -> Value {
    rows(ui, token, "?limit=200").await.into_iter().find(|r| r["id"] == id).unwrap()
}

async fn total(ui: &Ui, token: &str) -> u64 {
    let (_, counts) = ui.api(token, "GET", "/api/admin/notifications/counts", None).await;
    counts["total"].as_u64().unwrap()
}

#[tokio::test]
async fn the_outbox_shows_dead_rows_retries_them_and_sends_tests() {
    let port = closed_port();
    let ui = Ui::empty(&[
        ("FRONTDESK_NOTIFY_MAX_ATTEMPTS", "2"),
        ("FRONTDESK_NOTIFY_BACKOFF_BASE_MS", "100"),
        ("FRONTDESK_NOTIFY_BACKOFF_MAX_MS", "200"),
        ("FRONTDESK_NOTIFY_POLL_MS", "100"),
        ("FRONTDESK_NOTIFY_NEW_LEAD_DELAY_SECS", "0"),
        ("FRONTDESK_NOTIFY_WEBHOOK_CONCURRENCY", "1"),
        // The webhook points at this machine on purpose (a closed port).
        ("FRONTDESK_ALLOW_PRIVATE_WEBHOOKS", "1"),
    ]);
    let id = ui.business("Alpha Plumbing", "BASIC");
    ui.user("owner@alpha.example", "owner", Some(&id));
    ui.user("staff@alpha.example", "staff", Some(&id));
    let mut web = ui.sign_in("owner@alpha.example").await;
    let token = ui.token("owner@alpha.example").await;
    let hook = format!("http://127.0.0.1:{port}/hook");
    let (status, _, _) = web.submit("/settings/notifications", &[("notification_webhook_url", &hook)]).await;
    assert_eq!(status, 303);

    // A lead: its email lands in the local outbox, its webhook goes dead.
    let (_, answer) = ui.chat(&id, "I'm Ann Lee, 312-555-0101, my tap drips").await;
    let lead = answer["leadId"].as_str().unwrap().to_string();
    let (status, test) =
        ui.api(&token, "POST", "/api/admin/notifications/test", Some(json!({"channel": "webhook"}))).await;
    assert_eq!((status, &test["state"]), (201, &json!("pending")), "{test}");
    let test_hook = test["id"].as_str().unwrap().to_string();
    let dead = |kind: &'static str| move |r: &Value| r["kind"] == kind && r["state"] == "dead";
    let lead_hook = wait_row(&ui, &token, "the lead's webhook dead", dead("new_lead")).await;
    let lead_hook_id = lead_hook["id"].as_str().unwrap().to_string();
    assert_eq!(
        (lead_hook["channel"].as_str(), lead_hook["leadId"].as_str()),
        (Some("webhook"), Some(&*lead))
    );
    assert_eq!(lead_hook["attempts"], 2);
    let error = lead_hook["lastError"].as_str().unwrap().to_string();
    assert!(error.contains("webhook: error sending request"), "{error}");
    wait_row(&ui, &token, "the test webhook dead", dead("test")).await;
    wait_row(&ui, &token, "the lead's email kept", |r| r["channel"] == "email" && r["state"] == "kept").await;

    // The page lists it as dead, with its error and a link to the lead.
    let (status, page) = web.get("/settings/notifications?state=dead").await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("id=\"n-{lead_hook_id}\" data-state=\"dead\"")), "the dead row");
    assert!(page.contains(&escaped(&error)), "its error");
    assert!(page.contains(&format!("href=\"/leads/{lead}\"")), "the lead link");
    assert!(page.contains("data-count=\"dead\">Failed <span class=\"count alert\">2</span>"), "the count");
    assert!(!page.contains("data-state=\"sent\""), "filtered to dead rows");
    let (_, counts) = ui.api(&token, "GET", "/api/admin/notifications/counts", None).await;
    assert_eq!(counts, json!({"pending": 0, "in_flight": 0, "sent": 0, "kept": 1, "dead": 2, "total": 3}));
    let (status, body) = ui.api(&token, "GET", "/api/admin/notifications?state=lost", None).await;
    assert_eq!(status, 400);
    assert!(body["fields"]["state"].as_str().unwrap().contains("pending, in_flight, sent, kept or dead"));
    let (_, one) = ui.api(&token, "GET", "/api/admin/notifications?state=dead&limit=1&offset=1", None).await;
    assert_eq!((one["total"].as_u64(), one["notifications"].as_array().unwrap().len()), (Some(2), 1));

    // Without the CSRF token, nothing is enqueued or retried.
    let before = total(&ui, &token).await;
    assert_eq!(web.post("/settings/notifications/test", &[("channel", "email")]).await.0, 403);
    assert_eq!(web.post(&format!("/settings/notifications/{lead_hook_id}/retry"), &[]).await.0, 403);
    assert_eq!(total(&ui, &token).await, before);
    // Staff see the outbox but cannot retry or send tests.
    let mut staff = ui.sign_in("staff@alpha.example").await;
    let (status, staff_page) = staff.get("/settings/notifications").await;
    assert_eq!(status, 200);
    assert!(staff_page.contains(&format!("id=\"n-{lead_hook_id}\"")));
    for hidden in ["/retry\"", "id=\"send-test\"", "id=\"prefs-form\"", "webhook-secret"] {
        assert!(!staff_page.contains(hidden), "staff are shown {hidden}");
    }
    let staff_token = ui.token("staff@alpha.example").await;
    assert_eq!(staff.submit(&format!("/settings/notifications/{lead_hook_id}/retry"), &[]).await.0, 403);
    assert_eq!(staff.submit("/settings/notifications/test", &[("channel", "email")]).await.0, 403);
    let retry_path = format!("/api/admin/notifications/{lead_hook_id}/retry");
    assert_eq!(ui.api(&staff_token, "POST", &retry_path, None).await.0, 403);
    let (status, body) = ui
        .api(&staff_token, "POST", "/api/admin/notifications/test", Some(json!({"channel": "email"})))
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    assert_eq!(ui.api(&staff_token, "GET", "/api/admin/notifications", None).await.0, 200);
    assert_eq!(total(&ui, &token).await, before);
    assert_eq!(row_by_id(&ui, &token, &lead_hook_id).await["state"], "dead");

    // A test by call on BASIC: refused with the plan (button greyed out, 403 on the API).
    assert!(page.contains("value=\"voice_call\" class=\"secondary\" disabled"));
    let (status, _, body) = web.submit("/settings/notifications/test", &[("channel", "voice_call")]).await;
    assert_eq!(status, 403);
    assert!(
        body.contains("Emergency voice calls needs the PRO plan (this business is on BASIC)"),
        "on the page"
    );
    let (status, body) =
        ui.api(&token, "POST", "/api/admin/notifications/test", Some(json!({"channel": "voice_call"}))).await;
    assert_eq!(
        (status, body["code"].as_str(), body["requiredPlan"].as_str()),
        (403, Some("plan_required"), Some("PRO"))
    );
    // No mobile number: the message names it.
    let (status, _, body) = web.submit("/settings/notifications/test", &[("channel", "sms")]).await;
    assert_eq!(status, 400);
    assert!(body.contains("Test not sent: add a mobile number on the Notifications page first."), "sms");
    assert_eq!(total(&ui, &token).await, before, "nothing was enqueued");

    // A test email lands in the local outbox, on the page and the API.
    let (status, location, _) = web.submit("/settings/notifications/test", &[("channel", "email")]).await;
    assert_eq!((status, location.as_str()), (303, "/settings/notifications"));
    assert!(
        web.get("/settings/notifications").await.1.contains("Test email kept on this server — not emailed"),
        "the flash"
    );
    wait_row(&ui, &token, "the test email kept", |r| r["kind"] == "test" && r["state"] == "kept").await;
    let (_, local) = ui.api(&token, "GET", "/api/admin/notifications/local-emails", None).await;
    assert_eq!(local["smtpConfigured"], false);
    let subjects: Vec<&str> =
        local["emails"].as_array().unwrap().iter().map(|e| e["subject"].as_str().unwrap()).collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert_eq!(subjects[0], "Test notification from frontdesk for Alpha Plumbing");
    let page = web.get("/settings/notifications").await.1;
    assert!(page.contains("<strong>Test notification from frontdesk for Alpha Plumbing</strong>"));
    assert!(page.contains("to owner@alpha-plumbing.example"));
    assert!(page.contains("<pre class=\"email\">"), "the text body");

    // Retry: the first retried row hangs in a receiver that never answers
    // (the only webhook slot), so the second stays pending where we can see it.
    let accepted = tarpit(port);
    let (status, location, _) =
        web.submit(&format!("/settings/notifications/{test_hook}/retry"), &[("state", "dead")]).await;
    assert_eq!((status, location.as_str()), (303, "/settings/notifications?state=dead"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while accepted.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the retried webhook was not posted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let in_flight = row_by_id(&ui, &token, &test_hook).await;
    assert_eq!((&in_flight["state"], &in_flight["attempts"]), (&json!("in_flight"), &json!(1)));
    let (status, body) = ui.api(&token, "POST", &retry_path, None).await;
    assert_eq!((status, &body["state"]), (200, &json!("pending")), "{body}");
    let pending = row_by_id(&ui, &token, &lead_hook_id).await;
    assert_eq!((&pending["state"], &pending["attempts"]), (&json!("pending"), &json!(0)));
    let page = web.get("/settings/notifications?state=pending").await.1;
    assert!(page.contains(&format!("id=\"n-{lead_hook_id}\" data-state=\"pending\"")));
    assert!(page.contains("data-count=\"in_flight\">Sending <span class=\"count\">1</span>"));
    // Only a dead row is retried; another id is not found.
    let (status, body) = ui.api(&token, "POST", &retry_path, None).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("conflict")));
    assert_eq!(ui.api(&token, "POST", "/api/admin/notifications/nope/retry", None).await.0, 404);
}

#[tokio::test]
async fn preferences_are_set_on_the_page_and_read_by_the_api() {
    let ui = Ui::empty(&[]);
    let id = ui.business("Alpha Plumbing", "BASIC");
    ui.user("owner@alpha.example", "owner", Some(&id));
    ui.user("staff@alpha.example", "staff", Some(&id));
    let mut web = ui.sign_in("owner@alpha.example").await;
    let token = ui.token("owner@alpha.example").await;
    let form = [
        ("new_lead", ""),
        ("new_lead", "email"),
        ("new_lead", "webhook"),
        ("call_ended", ""),
        ("call_ended", "sms"),
        ("digest", "false"),
        ("digest_hour", "7"),
    ];
    let (status, _, _) = web.submit("/settings/notifications/prefs", &form).await;
    assert_eq!(status, 303);
    let saved = json!({"newLead": ["email", "webhook"], "callEnded": ["sms"], "digest": false, "digestHour": 7, "defaultDigestHour": 18});
    let (status, prefs) = ui.api(&token, "GET", "/api/admin/notifications/prefs", None).await;
    assert_eq!((status, &prefs), (200, &saved));
    let page = web.get("/settings/notifications").await.1;
    assert!(page.contains("id=\"nl-webhook\" aria-label=\"Webhook for new leads\" checked"));
    assert!(page.contains("id=\"nl-sms\" aria-label=\"SMS for new leads\">"), "unchecked");

    // A bad hour is named on the page; nothing is saved.
    let bad = [("new_lead", ""), ("new_lead", "sms"), ("digest", "true"), ("digest_hour", "25")];
    let (status, _, body) = web.submit("/settings/notifications/prefs", &bad).await;
    assert_eq!(status, 400);
    assert!(body.contains("Digest hour: expected an hour from 0 to 23, got &#39;25&#39;"), "named");
    assert!(body.contains(
        "id=\"f-digest_hour\" name=\"digest_hour\" type=\"number\" min=\"0\" max=\"23\" value=\"25\""
    ));
    assert!(body.contains("id=\"nl-sms\" aria-label=\"SMS for new leads\" checked"), "the form as sent");
    assert_eq!(ui.api(&token, "GET", "/api/admin/notifications/prefs", None).await.1, saved);
    let (status, body) =
        ui.api(&token, "PUT", "/api/admin/notifications/prefs", Some(json!({"digest_hour": 30}))).await;
    assert_eq!(status, 400);
    assert!(body["fields"]["digest_hour"].as_str().unwrap().contains("from 0 to 23"));
    // The API changes one field at a time; an empty list is no channel.
    let (status, body) = ui
        .api(
            &token,
            "PUT",
            "/api/admin/notifications/prefs",
            Some(json!({"call_ended": [], "digest_hour": ""})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["callEnded"].clone(), body["digestHour"].clone()), (json!([]), Value::Null));
    assert_eq!(body["newLead"], json!(["email", "webhook"]));

    // On FREE, SMS and webhooks are greyed out and keep their choice; turning one on needs BASIC.
    ui.set_plan(&id, "FREE");
    let page = web.get("/settings/notifications").await.1;
    assert!(page.contains("aria-label=\"Webhook for new leads\" checked disabled"));
    assert!(page.contains("SMS notifications needs the BASIC plan (this business is on FREE)."));
    let (status, _, _) =
        web.submit("/settings/notifications/prefs", &[("new_lead", ""), ("digest", "true")]).await;
    assert_eq!(status, 303);
    let (_, prefs) = ui.api(&token, "GET", "/api/admin/notifications/prefs", None).await;
    assert_eq!((prefs["newLead"].clone(), prefs["digest"].clone()), (json!(["webhook"]), json!(true)));
    let (status, body) =
        ui.api(&token, "PUT", "/api/admin/notifications/prefs", Some(json!({"call_ended": ["sms"]}))).await;
    assert_eq!(
        (status, body["code"].as_str(), body["requiredPlan"].as_str()),
        (403, Some("plan_required"), Some("BASIC"))
    );

    // Staff change nothing and do not read the settings.
    let staff = ui.token("staff@alpha.example").await;
    assert_eq!(ui.api(&staff, "GET", "/api/admin/notifications/prefs", None).await.0, 403);
    let put = ui.api(&staff, "PUT", "/api/admin/notifications/prefs", Some(json!({"digest": false}))).await;
    assert_eq!(put.0, 403);
    assert_eq!(ui.api(&token, "GET", "/api/admin/notifications/prefs", None).await.1["digest"], true);
}

#[tokio::test]
async fn the_outbox_pages_fifty_rows_at_a_time() {
    let ui = Ui::empty(&[]);
    let id = ui.business("Alpha Plumbing", "BASIC");
    ui.user("owner@alpha.example", "owner", Some(&id));
    let seeded: Vec<(&str, Vec<crate::support::instance::Lit>)> = (0..55)
        .map(|i| {
            let at = format!("2025-06-10T12:{:02}:00.000Z", i);
            (
                "INSERT INTO notifications (id, business_id, kind, channel, recipient, payload, idempotency_key,
                     state, attempts, next_attempt_at, created_at, updated_at, sent_at)
                 VALUES (?1, ?2, 'test', 'email', 'owner@alpha.example', '{}', ?1, 'sent', 1, ?3, ?3, ?3, ?3)",
                vec![format!("row{i:02}").into(), id.clone().into(), at.into()],
            )
        })
        .collect();
    ui.fd.sql(&seeded);
    let mut web = ui.sign_in("owner@alpha.example").await;
    let first = web.get("/settings/notifications?state=sent").await.1;
    assert_eq!(first.matches("data-state=\"sent\"").count(), 50);
    assert!(first.contains("id=\"n-row54\"") && !first.contains("id=\"n-row04\""), "newest first");
    assert!(first.contains("href=\"/settings/notifications?state=sent&#38;page=2#outbox\" rel=\"next\""));
    let second = web.get("/settings/notifications?state=sent&page=2").await.1;
    assert_eq!(second.matches("data-state=\"sent\"").count(), 5);
    assert!(
        second.contains("id=\"n-row00\"")
            && second.contains("rel=\"prev\"")
            && !second.contains("rel=\"next\"")
    );
    let (status, body) = web.get("/settings/notifications?page=zero").await;
    assert_eq!(status, 400);
    assert!(body.contains("Page: expected a whole number"), "the field named as the page names it");
    let token = ui.token("owner@alpha.example").await;
    let page = rows(&ui, &token, "?limit=20&offset=50").await;
    let ids: Vec<&str> = page.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["row04", "row03", "row02", "row01", "row00"]);
}
