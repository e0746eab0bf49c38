//! Scripted lead-capture conversations played through `/api/chat` on the
//! real binary with the demo business and no API key (the local engine), as
//! a visitor would: the opening, then whatever each reply asks for, with the
//! script's interjections after the fields they follow. The saved lead is
//! then checked field by field.
//!
//! Development set (`tests/data/dev/conversations.json`, tuned on):
//!   cargo test --test integration conversations_dev -- --nocapture
//! Sets A, C and D (`tests/data/heldout/`, `tests/data/heldout_c/`,
//! `tests/data/heldout_d/`): each was measured as held out, and all three
//! are development data since round four (issue 12); totals, and the failing
//! conversations with FRONTDESK_SHOW_FAILURES=1:
//!   cargo test --test integration conversations_heldout_report -- --ignored --nocapture
//! Held-out set E (`tests/data/heldout_e/`, totals only, never its failures):
//!   cargo test --test integration conversations_heldout_e_report -- --ignored --nocapture
//!
//! Scripts written for voice are played as chat: both go through the same
//! engine turn; the call-only parts (caller ID) are covered by the voice tests.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::json;

use crate::support::instance::*;
use frontdesk::ids::{BusinessId, LeadId};

#[derive(Debug, Deserialize)]
pub struct Script {
    pub id: String,
    pub opening: String,
    pub answers: BTreeMap<String, String>,
    #[serde(default)]
    pub decline: Option<String>,
    #[serde(default)]
    pub interjections: Vec<Interjection>,
    pub expected: Expected,
}

#[derive(Debug, Deserialize)]
pub struct Interjection {
    pub after: String,
    pub text: String,
}

#[derive(Debug, Deserialize)]
pub struct Expected {
    pub name: Option<String>,
    pub phone_e164: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
    #[serde(default)]
    pub notes_keywords: Vec<String>,
    #[serde(default)]
    pub preferred_time_keywords: Vec<String>,
    pub priority: String,
}

/// One conversation's result: each checked field, right or wrong, with what was saved.
pub struct Outcome {
    pub id: String,
    pub fields: Vec<(&'static str, bool, String)>,
    pub transcript: Vec<(String, String)>,
}

impl Outcome {
    pub fn all_right(&self) -> bool {
        self.fields.iter().all(|f| f.1)
    }
}

/// The demo's questions: (field, question text).
fn demo_questions() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(demo_file()).unwrap();
    let doc: toml::Value = toml::from_str(&text).unwrap();
    doc["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            (
                q["maps_to_lead_field"].as_str().unwrap_or_default().to_string(),
                q["question_text"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Which field a reply asks for: the question text it ends with, else the
/// words a re-ask uses. None when it asks nothing.
fn asked_field(reply: &str, questions: &[(String, String)]) -> Option<String> {
    let found =
        questions.iter().filter_map(|(field, text)| reply.rfind(text.as_str()).map(|at| (at, field))).max();
    if let Some((_, field)) = found {
        return Some(field.clone());
    }
    let tail = reply.rsplit(['.', '!']).find(|s| !s.trim().is_empty()).unwrap_or(reply).to_lowercase();
    let by_words = [
        ("email", "email"),
        ("phone", "phone"),
        ("number", "phone"),
        ("area code", "phone"),
        ("address", "address"),
        ("name", "name"),
        ("describe", "notes"),
        ("problem", "notes"),
        ("day or time", "preferred_time"),
    ];
    if !tail.contains('?') {
        return None;
    }
    by_words.iter().find(|(w, _)| tail.contains(w)).map(|(_, f)| f.to_string())
}

fn normal(text: &str) -> String {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn same(want: &Option<String>, got: &Option<String>) -> bool {
    match (want, got) {
        (None, None) => true,
        (Some(w), Some(g)) => normal(w) == normal(g),
        _ => false,
    }
}

fn has_all(keywords: &[String], got: Option<&String>) -> bool {
    match got {
        None => keywords.is_empty(),
        Some(g) => {
            !keywords.is_empty() && keywords.iter().all(|k| g.to_lowercase().contains(&k.to_lowercase()))
        }
    }
}

/// Plays every script against one server on the demo business.
pub async fn play(scripts: &[Script]) -> Vec<Outcome> {
    let fd = Instance::new();
    let business_id = fd.ok(&["business", "import", demo_file().to_str().unwrap()]);
    let mut cmd = fd.command();
    cmd.env("CHAT_RATE_LIMIT_PER_IP", "0").env("CHAT_RATE_LIMIT_PER_SESSION", "0").args([
        "serve",
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
    ]);
    let server = Server::start(cmd);
    let client = reqwest::Client::new();
    let store = fd.store();
    let questions = demo_questions();
    let mut outcomes = Vec::new();
    for script in scripts {
        let mut session: Option<String> = None;
        let mut lead_id: Option<String> = None;
        let mut transcript = Vec::new();
        let mut pending: Vec<String> = vec![script.opening.clone()];
        for _ in 0..16 {
            let Some(message) = pending.pop() else { break };
            let mut body = json!({ "businessId": business_id, "message": message });
            if let Some(id) = &session {
                body["sessionId"] = json!(id);
            }
            let res = client.post(server.url("/api/chat")).json(&body).send().await.unwrap();
            assert_eq!(res.status().as_u16(), 200, "{}", script.id);
            let answer: serde_json::Value = res.json().await.unwrap();
            session = answer["sessionId"].as_str().map(str::to_string);
            if let Some(id) = answer["leadId"].as_str() {
                lead_id = Some(id.to_string());
            }
            let reply = answer["reply"].as_str().unwrap_or_default().to_string();
            transcript.push((message.clone(), reply.clone()));
            if !pending.is_empty() {
                continue;
            }
            let Some(field) = asked_field(&reply, &questions) else { break };
            let said = script.answers.get(&field).cloned().or_else(|| script.decline.clone());
            let Some(said) = said else { break };
            // Sent in reverse order: the answer first, then what follows it.
            for i in script.interjections.iter().rev().filter(|i| i.after == field) {
                pending.push(i.text.clone());
            }
            pending.push(said);
        }
        let lead = match &lead_id {
            Some(id) => Some(store.lead(&BusinessId::from(&business_id), &LeadId::from(id)).await.unwrap()),
            None => None,
        };
        let e = &script.expected;
        let get = |f: fn(&frontdesk::domain::Lead) -> Option<String>| lead.as_ref().and_then(f);
        let name = get(|l| l.contact_name.clone());
        let phone = get(|l| l.contact_phone.clone());
        let email = get(|l| l.contact_email.clone());
        let address = get(|l| l.address.clone());
        let notes = get(|l| l.notes.clone());
        let time = get(|l| l.captured.get("preferred_time").cloned());
        let priority = lead.as_ref().map(|l| l.priority.to_string()).unwrap_or_default();
        let fields = vec![
            ("name", same(&e.name, &name), format!("{name:?}")),
            ("phone", e.phone_e164 == phone, format!("{phone:?}")),
            ("email", same(&e.email, &email), format!("{email:?}")),
            ("address", same(&e.address, &address), format!("{address:?}")),
            ("notes", has_all(&e.notes_keywords, notes.as_ref()), format!("{notes:?}")),
            ("preferred_time", has_all(&e.preferred_time_keywords, time.as_ref()), format!("{time:?}")),
            ("priority", priority.eq_ignore_ascii_case(&e.priority), priority),
        ];
        outcomes.push(Outcome { id: script.id.clone(), fields, transcript });
    }
    server.stop();
    outcomes
}

/// "fields right/total, conversations all right/total".
pub fn summary(outcomes: &[Outcome]) -> (usize, usize, usize, usize) {
    let fields: Vec<bool> = outcomes.iter().flat_map(|o| o.fields.iter().map(|f| f.1)).collect();
    let right = fields.iter().filter(|r| **r).count();
    let whole = outcomes.iter().filter(|o| o.all_right()).count();
    (right, fields.len(), whole, outcomes.len())
}

fn load(json: &str) -> Vec<Script> {
    serde_json::from_str(json).unwrap()
}

#[tokio::test]
async fn conversations_dev() {
    let scripts = load(include_str!("../data/dev/conversations.json"));
    let outcomes = play(&scripts).await;
    show_failures(&outcomes);
    let (right, total, whole, n) = summary(&outcomes);
    println!(
        "development conversations: lead fields right {right}/{total}, conversations all right {whole}/{n}"
    );
    // A floor under what was measured when this set was built (76/84): a
    // regression fails. Not the target (95%), which is not met yet.
    assert!(right * 100 >= total * 85, "lead fields right {right}/{total}");
}

#[tokio::test]
#[ignore]
async fn conversations_heldout_report() {
    for (name, json) in [
        ("A", include_str!("../data/heldout/conversations.json")),
        ("C", include_str!("../data/heldout_c/conversations.json")),
        ("D", include_str!("../data/heldout_d/conversations.json")),
    ] {
        let outcomes = play(&load(json)).await;
        report(name, &outcomes);
        // Sets A, C and D have all been measured and are development data
        // now (round four, issue 12): their failures may be read.
        if std::env::var("FRONTDESK_SHOW_FAILURES").is_ok() {
            show_failures(&outcomes);
        }
    }
}

fn show_failures(outcomes: &[Outcome]) {
    for o in outcomes.iter().filter(|o| !o.all_right()) {
        println!("{}:", o.id);
        for (field, ok, got) in &o.fields {
            if !ok {
                println!("  wrong {field}: {got}");
            }
        }
        for (said, reply) in &o.transcript {
            println!("  > {said}\n  < {reply}");
        }
    }
}

/// Held-out set E (`tests/data/heldout_e/`, written before round four's
/// tuning, issue 12): totals only, like the others.
///
///   cargo test --test integration conversations_heldout_e_report -- --ignored --nocapture
#[tokio::test]
#[ignore]
async fn conversations_heldout_e_report() {
    report("E", &play(&load(include_str!("../data/heldout_e/conversations.json"))).await);
}

/// Totals only, per field: the held-out failures are not printed, so nobody tunes on them.
fn report(name: &str, outcomes: &[Outcome]) {
    let (right, total, whole, n) = summary(outcomes);
    println!("held-out {name} conversations: lead fields right {right}/{total}, conversations all right {whole}/{n}");
    let mut per_field: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for o in outcomes {
        for (field, ok, _) in &o.fields {
            let e = per_field.entry(field).or_default();
            e.0 += usize::from(*ok);
            e.1 += 1;
        }
    }
    for (field, (r, t)) in per_field {
        println!("  {field}: {r}/{t}");
    }
}
