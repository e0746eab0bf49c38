//! Real conversations through `/api/chat` on the real binary, checking what
//! was saved.

use frontdesk::domain::{LeadStatus, Priority};
use frontdesk::ids::{BusinessId, LeadId};
use serde_json::{json, Value};

use crate::support::chat::Chat;

#[tokio::test]
async fn a_normal_lead_is_saved_with_its_transcript() {
    let chat = Chat::start();
    let mut s = None;
    let a = chat.say(&mut s, "Hi, I need a quote to replace my water heater").await;
    assert!(a["reply"].as_str().unwrap().ends_with("May I have your name?"), "{a}");
    assert_eq!(a["done"], false);
    assert!(a.get("emergency").is_none() && a.get("leadId").is_none(), "{a}");
    let a = chat.say(&mut s, "Dana Smith").await;
    let lead_id = a["leadId"].as_str().expect("saved as soon as there is a contact detail").to_string();
    chat.say(&mut s, "312-555-0142").await;
    chat.say(&mut s, "dana@example.com").await;
    let a = chat.say(&mut s, "12 Elm Street, Springfield").await;
    assert_eq!(a["done"], true, "{a}");
    assert_eq!(a["leadId"], lead_id.as_str());

    let store = chat.store();
    let lead = store.lead(&BusinessId::from(&chat.business_id), &LeadId::from(&lead_id)).await.unwrap();
    assert_eq!(lead.contact_name.as_deref(), Some("Dana Smith"));
    assert_eq!(lead.contact_phone.as_deref(), Some("+13125550142"));
    assert_eq!(lead.contact_email.as_deref(), Some("dana@example.com"));
    assert_eq!(lead.address.as_deref(), Some("12 Elm Street, Springfield"));
    assert_eq!(lead.priority, Priority::Normal);
    assert_eq!(lead.status, LeadStatus::New);
    let transcript = store.transcript(lead.conversation_id.as_ref().unwrap()).await.unwrap();
    assert_eq!(transcript.len(), 10);
    assert_eq!(transcript[0].content, "Hi, I need a quote to replace my water heater");
    assert_eq!(transcript[9].role.as_str(), "assistant");
    // A new lead is news (email and SMS on PRO), but not an escalation.
    let mut kinds: Vec<(String, String)> = store
        .notifications(&BusinessId::from(&chat.business_id))
        .await
        .unwrap()
        .into_iter()
        .map(|n| (n.kind, n.channel))
        .collect();
    kinds.sort();
    assert_eq!(kinds, [("new_lead".into(), "email".into()), ("new_lead".into(), "sms".into())]);
}

#[tokio::test]
async fn an_urgent_emergency_escalates_and_asks_only_essentials() {
    let chat = Chat::start();
    let mut s = None;
    let a = chat.say(&mut s, "Help, my basement is flooding and water is pouring through the ceiling").await;
    assert_eq!(a["emergency"]["level"], "URGENT", "{a}");
    // This server has no mail server and no Twilio: nobody can be alerted, and the visitor is told so.
    let reply = a["reply"].as_str().unwrap();
    assert!(reply.contains("can't reach the Test Plumbing team") && reply.contains("911"), "{reply}");
    let lead_id = a["leadId"].as_str().expect("an emergency is a lead at once").to_string();

    // The escalation is recorded durably, on every channel the business has.
    let store = chat.store();
    let mut channels: Vec<String> = store
        .notifications(&BusinessId::from(&chat.business_id))
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.channel)
        .collect();
    channels.sort();
    assert_eq!(channels, ["email", "sms", "voice_call"]);

    chat.say(&mut s, "Dana").await;
    let a = chat.say(&mut s, "(312) 555-0142").await;
    assert!(a["reply"].as_str().unwrap().contains("address"), "email is not essential: {a}");
    let a = chat.say(&mut s, "12 Elm Street").await;
    assert_eq!(a["done"], true);
    let lead = store.lead(&BusinessId::from(&chat.business_id), &LeadId::from(&lead_id)).await.unwrap();
    assert_eq!(lead.priority, Priority::Urgent);
    assert_eq!(lead.contact_phone.as_deref(), Some("+13125550142"));
    let rows = store.notifications(&BusinessId::from(&chat.business_id)).await.unwrap();
    let kinds = |kind: &str| rows.iter().filter(|n| n.kind == kind).count();
    assert_eq!(kinds("urgent_lead"), 3, "escalated once");
    // One follow-up (no second call) carries the name, number and address captured since.
    assert_eq!(kinds("urgent_update"), 2, "{rows:#?}");
}

#[tokio::test]
async fn knowledge_questions_are_answered_from_the_knowledge_base() {
    let chat = Chat::start();
    let mut s = None;
    let a = chat.say(&mut s, "Do you work on Saturdays?").await;
    let reply = a["reply"].as_str().unwrap();
    assert!(reply.contains("On Saturdays we work from 8am to 2pm"), "{reply}");
    let a = chat.say(&mut s, "How much is the service call fee?").await;
    assert!(a["reply"].as_str().unwrap().contains("$89"), "{a}");
    let a = chat.say(&mut s, "Do you sell garden gnomes?").await;
    assert!(a["reply"].as_str().unwrap().contains("follow up"), "{a}");
}

#[tokio::test]
async fn bad_email_and_phone_answers_are_reasked() {
    let chat = Chat::start();
    let mut s = None;
    chat.say(&mut s, "hello").await;
    chat.say(&mut s, "Sam").await;
    let a = chat.say(&mut s, "555-0100").await;
    assert!(a["reply"].as_str().unwrap().contains("area code"), "{a}");
    let a = chat.say(&mut s, "+1 312 555 0142").await;
    assert!(a["reply"].as_str().unwrap().contains("email"), "{a}");
    let a = chat.say(&mut s, "sam at example").await;
    assert!(a["reply"].as_str().unwrap().contains("doesn't look like an email"), "{a}");
    let a = chat.say(&mut s, "sam@example.com").await;
    assert!(a["reply"].as_str().unwrap().contains("address"), "{a}");
    let lead = chat
        .store()
        .lead(&BusinessId::from(&chat.business_id), &LeadId::from(a["leadId"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(lead.contact_email.as_deref(), Some("sam@example.com"));
    assert_eq!(lead.contact_phone.as_deref(), Some("+13125550142"));
}

#[tokio::test]
async fn an_abandoned_conversation_still_leaves_a_lead() {
    let chat = Chat::start();
    let mut s = None;
    chat.say(&mut s, "my toilet keeps running").await;
    let a = chat.say(&mut s, "Lee").await;
    let lead_id = a["leadId"].as_str().unwrap().to_string();
    // The visitor leaves here.
    let store = chat.store();
    let lead = store.lead(&BusinessId::from(&chat.business_id), &LeadId::from(&lead_id)).await.unwrap();
    assert_eq!(lead.contact_name.as_deref(), Some("Lee"));
    assert_eq!(lead.captured["first_message"], "my toilet keeps running");
    let transcript = store.transcript(lead.conversation_id.as_ref().unwrap()).await.unwrap();
    assert_eq!(transcript.len(), 4);
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let chat = Chat::start();
    let id = chat.business_id.clone();
    let (status, body) = chat.post(json!({ "businessId": "nope", "message": "hi" })).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (404, "business nope not found"));
    let (status, body) = chat.post(json!({ "businessId": id, "message": "   " })).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (400, "message must not be empty"));
    let (status, body) = chat.post(json!({ "businessId": id, "message": "x".repeat(5000) })).await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("too long"), "{body}");
    let res =
        reqwest::Client::new().post(chat.server.url("/api/chat")).body("not json").send().await.unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().starts_with("invalid JSON body"), "{body}");

    // One session may send 30 messages a minute (after the one that opened it).
    let mut s = None;
    for _ in 0..31 {
        chat.say(&mut s, "hello").await;
    }
    let (status, body) = chat.post(json!({ "businessId": id, "message": "hi", "sessionId": s })).await;
    assert_eq!(status, 429, "{body}");
}

#[tokio::test]
async fn cors_allows_only_the_business_sites_and_streams_replies() {
    let chat = Chat::start();
    let client = reqwest::Client::new();
    let body = json!({ "businessId": chat.business_id, "message": "Do you work on Saturdays?" });
    let res = client
        .post(chat.server.url("/api/chat"))
        .header("Origin", "https://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = client
        .post(chat.server.url("/api/chat/stream"))
        .header("Origin", "https://test-plumbing.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["access-control-allow-origin"], "https://test-plumbing.example");
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let text = res.text().await.unwrap();
    assert!(text.contains("event:delta"), "{text}");
    let done = text.split("event:done\ndata:").nth(1).expect("a done event");
    let done: Value = serde_json::from_str(done.lines().next().unwrap()).unwrap();
    assert!(done["reply"].as_str().unwrap().contains("Saturdays"), "{done}");
    assert!(done["sessionId"].is_string());

    let res =
        client.get(chat.server.url(&format!("/api/chat/config/{}", chat.business_id))).send().await.unwrap();
    let config: Value = res.json().await.unwrap();
    assert_eq!(config["agentName"], "Pip");
    assert_eq!(config["welcomeMessage"], "Hi, I'm Pip. How can I help?");
    assert_eq!(config["showBranding"], false, "PRO removes the branding");
    let res = client.get(chat.server.url("/widget.js")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/javascript"));

    // The instance's own pages (the demo page) may always use the chat.
    let own = chat.server.base.clone();
    let res =
        client.post(chat.server.url("/api/chat")).header("Origin", &own).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let page = client.get(chat.server.url(&format!("/demo/{}", chat.business_id))).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!(r#"data-business="{}""#, chat.business_id)), "{html}");
    let res = client.get(chat.server.url("/demo/%3Cscript%3E")).send().await.unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn concurrent_messages_in_one_session_are_taken_in_turn() {
    let chat = Chat::start();
    let mut s = None;
    chat.say(&mut s, "hello").await;
    let id = s.clone().unwrap();
    let sends = ["Dana", "312-555-0142", "dana@example.com", "12 Elm Street"].map(|m| {
        let body = json!({ "businessId": chat.business_id, "message": m, "sessionId": id });
        let client = reqwest::Client::new();
        let url = chat.server.url("/api/chat");
        tokio::spawn(async move { client.post(url).json(&body).send().await.unwrap().status().as_u16() })
    });
    for send in sends {
        assert_eq!(send.await.unwrap(), 200);
    }
    let store = chat.store();
    let leads = store.leads(&BusinessId::from(&chat.business_id)).await.unwrap();
    assert_eq!(leads.len(), 1, "one conversation, one lead");
    let transcript = store.transcript(leads[0].conversation_id.as_ref().unwrap()).await.unwrap();
    assert_eq!(transcript.len(), 10, "every message and reply kept");
}
