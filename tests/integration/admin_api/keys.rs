//! One key style in every admin API answer: camelCase. Each endpoint that
//! answers JSON is called with data behind it (a lead with a call, a
//! document, an import job, kept and dead notifications), and every object
//! key of its answer is checked, so a new field in snake_case fails here.

use frontdesk::ids::BusinessId;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{chat_lead, two_businesses};
use crate::support::ui::Ui;

/// Maps whose keys are data, not field names: a lead's answers (keyed by
/// lead field or question), a notification's queued event, the feature and
/// outbox-state codes (the names errors and `state` values use).
const DATA_MAPS: &[&str] = &["captured", "payload", "features", "counts"];

/// (what was called, its answer)
type Answers = Vec<(String, Value)>;

/// A request: method, path, JSON body.
type Call = (&'static str, String, Option<Value>);

/// Every key under `value` with an underscore, as `path.key`.
fn snake_keys(value: &Value, path: &str, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let at = format!("{path}.{key}");
                if key.contains('_') {
                    found.push(at.clone());
                }
                if !DATA_MAPS.contains(&key.as_str()) {
                    snake_keys(v, &at, found);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| snake_keys(v, &format!("{path}[]"), found)),
        _ => {}
    }
}

/// Each call must succeed; its answer is kept under `who` and the call.
async fn call_each(ui: &Ui, token: &str, who: &str, calls: Vec<Call>, answers: &mut Answers) {
    for (method, path, body) in calls {
        let (status, answer) = ui.api(token, method, &path, body).await;
        assert!((200..300).contains(&status), "{method} {path}: {status} {answer}");
        answers.push((format!("{who} {method} {path}"), answer));
    }
}

async fn raw_json(req: reqwest::RequestBuilder) -> Value {
    req.send().await.unwrap().json().await.unwrap()
}

/// The ids the calls act on.
struct Seeded {
    token: String,
    lead: String,
    question: String,
    doc: String,
    job: String,
    dead: String,
}

/// A lead with a call, a document imported from a file, another written,
/// the lead's email made dead, and a test email kept on this server. The
/// answers met on the way (login, the import, the test) are kept too.
async fn seed(ui: &Ui, a: &str, answers: &mut Answers) -> Seeded {
    let lead = chat_lead(ui, a, "I'm Ann Lee, 312-555-0101, water is pouring through the ceiling").await;
    let row =
        ui.store().leads(&BusinessId::from(a)).await.unwrap().into_iter().find(|l| l.id == lead).unwrap();
    ui.fd.sql(&[(
        "INSERT INTO calls (call_sid, business_id, conversation_id, from_number, status, duration_seconds, \
         started_at, updated_at) VALUES ('CAkeys', ?1, ?2, '+13125550101', 'completed', 60, ?3, ?3)",
        vec![
            a.into(),
            row.conversation_id.clone().unwrap().into_string().into(),
            frontdesk::domain::rfc3339(row.created_at).into(),
        ],
    )]);
    let login = json!({ "email": "a@alpha.example", "password": crate::support::instance::PASSWORD });
    let login = raw_json(ui.http.post(ui.url("/api/auth/login")).json(&login)).await;
    let token = login["token"].as_str().unwrap().to_string();
    answers.push(("owner POST /api/auth/login".into(), login));
    let upload = ui.http.post(ui.url("/api/admin/knowledge/files?name=prices.txt")).bearer_auth(&token);
    let job = raw_json(upload.body("A service call is $89.")).await;
    let job_id = job["id"].as_str().unwrap().to_string();
    answers.push(("owner POST /api/admin/knowledge/files".into(), job));
    let (_, questions) = ui.api(&token, "GET", "/api/admin/questions", None).await;
    let question = questions["questions"][0]["id"].as_str().unwrap().to_string();
    let doc = Some(json!({"title": "Hours", "content": "Open 7-6."}));
    let doc = ui.api(&token, "POST", "/api/admin/knowledge", doc).await.1["id"].as_str().unwrap().to_string();
    // The lead's email waits an hour (see `two_businesses`): made dead, for the retry.
    let dead = ui.store().notifications_page(&BusinessId::from(a), None, 10, 0).await.unwrap()[0].id.clone();
    ui.fd.sql(&[("UPDATE notifications SET state = 'dead' WHERE id = ?1", vec![dead.clone().into()])]);
    let test = Some(json!({"channel": "email"}));
    call_each(ui, &token, "owner", vec![("POST", "/api/admin/notifications/test".into(), test)], answers)
        .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, emails) = ui.api(&token, "GET", "/api/admin/notifications/local-emails", None).await;
        if !emails["emails"].as_array().unwrap().is_empty() {
            answers.push(("owner GET /api/admin/notifications/local-emails".into(), emails));
            break;
        }
        assert!(Instant::now() < deadline, "the test email was not kept: {emails}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Seeded { token, lead, question, doc, job: job_id, dead }
}

/// Every owner endpoint that answers JSON, reads and changes; the deletes last.
fn owner_calls(s: &Seeded) -> Vec<Call> {
    let (lead, question, doc, job, dead) = (&s.lead, &s.question, &s.doc, &s.job, &s.dead);
    let notifications = json!({"notificationEmail": "o@alpha.example"});
    let facts = json!({"serviceArea": "Lakemont", "holidays": ["2026-12-25 Christmas Day"]});
    vec![
        ("GET", "/api/admin/me".into(), None),
        ("GET", "/api/admin/dashboard".into(), None),
        ("GET", "/api/admin/analytics".into(), None),
        ("GET", "/api/admin/business".into(), None),
        ("POST", "/api/admin/business".into(), Some(json!({"timezone": "America/Chicago"}))),
        ("GET", "/api/admin/config/agent".into(), None),
        ("POST", "/api/admin/config/agent".into(), Some(json!({"agentName": "Pip"}))),
        ("GET", "/api/admin/config/voice".into(), None),
        ("POST", "/api/admin/config/voice".into(), Some(json!({"twilioVoice": "alice"}))),
        ("POST", "/api/admin/config/notifications".into(), Some(notifications)),
        ("POST", "/api/admin/config/widget".into(), Some(json!({"websiteOrigins": ["https://a.example"]}))),
        ("GET", "/api/admin/config/emergency-rules".into(), None),
        ("POST", "/api/admin/config/emergency-rules".into(), Some(json!({"urgent": ["gas smell"]}))),
        ("GET", "/api/admin/leads".into(), None),
        ("GET", format!("/api/admin/leads/{lead}"), None),
        ("POST", format!("/api/admin/leads/{lead}/status"), Some(json!({"status": "CONTACTED"}))),
        ("POST", format!("/api/admin/leads/{lead}/notes"), Some(json!({"ownerNotes": "Called back"}))),
        ("POST", format!("/api/admin/leads/{lead}/test"), Some(json!({"isTest": false}))),
        ("POST", format!("/api/admin/leads/{lead}/triage"), Some(json!({"emergency": true}))),
        ("GET", "/api/admin/facts".into(), None),
        ("PUT", "/api/admin/facts".into(), Some(facts)),
        ("GET", "/api/admin/questions".into(), None),
        ("POST", "/api/admin/questions".into(), Some(json!({"questionText": "Which town?"}))),
        ("PUT", format!("/api/admin/questions/{question}"), Some(json!({"isRequired": true}))),
        ("GET", "/api/admin/knowledge".into(), None),
        ("GET", format!("/api/admin/knowledge/{doc}"), None),
        ("PUT", format!("/api/admin/knowledge/{doc}"), Some(json!({"sourceUrl": "https://a.example"}))),
        ("GET", "/api/admin/knowledge/imports".into(), None),
        ("GET", format!("/api/admin/knowledge/imports/{job}"), None),
        ("GET", "/api/admin/notifications".into(), None),
        ("GET", "/api/admin/notifications/counts".into(), None),
        ("GET", "/api/admin/notifications/prefs".into(), None),
        ("PUT", "/api/admin/notifications/prefs".into(), Some(json!({"digestHour": 7}))),
        ("POST", format!("/api/admin/notifications/{dead}/retry"), None),
        ("DELETE", format!("/api/admin/questions/{question}"), None),
        ("DELETE", format!("/api/admin/knowledge/{doc}"), None),
        ("DELETE", format!("/api/admin/leads/{lead}"), None),
        ("POST", "/api/auth/logout".into(), None),
    ]
}

fn operator_calls(b: &str) -> Vec<Call> {
    let new = json!({"name": "Charlie HVAC", "businessType": "HVAC", "planTier": "BASIC", "timezone": "UTC"});
    vec![
        ("GET", "/api/admin/businesses".into(), None),
        ("POST", "/api/admin/businesses".into(), Some(new)),
        ("POST", format!("/api/admin/businesses/{b}/plan"), Some(json!({"planTier": "BASIC"}))),
        ("GET", "/api/admin/operator/analytics".into(), None),
        ("GET", "/api/admin/me".into(), None),
    ]
}

#[tokio::test]
async fn every_admin_answer_is_camel_case() {
    let (ui, a, b) = two_businesses().await;
    let mut answers = Answers::new();
    let seeded = seed(&ui, &a, &mut answers).await;
    // The lead's detail, before the delete takes it.
    let (_, detail) = ui.api(&seeded.token, "GET", &format!("/api/admin/leads/{}", seeded.lead), None).await;
    call_each(&ui, &seeded.token, "owner", owner_calls(&seeded), &mut answers).await;
    let op = ui.token("op@msp.example").await;
    call_each(&ui, &op, "operator", operator_calls(&b), &mut answers).await;

    let mut found = Vec::new();
    for (call, answer) in &answers {
        assert!(answer.is_object(), "{call} answers a JSON object: {answer}");
        // The counts endpoint's answer is itself the state-code map.
        let root = if call.ends_with("/notifications/counts") { json!({}) } else { answer.clone() };
        let mut keys = Vec::new();
        snake_keys(&root, "", &mut keys);
        found.extend(keys.into_iter().map(|k| format!("{call}: {k}")));
    }
    assert!(found.is_empty(), "snake_case keys in admin API answers:\n{}", found.join("\n"));
    // The walk reached the nested shapes it guards.
    assert!(detail["lead"]["businessId"].is_string() && detail["transcript"][0]["createdAt"].is_string());
    assert_eq!(detail["call"]["callSid"], "CAkeys", "{detail}");
}
