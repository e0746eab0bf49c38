//! The chat channel with an OpenAI-compatible model: streamed tool calls run
//! by the engine, and the local engine taking over when the model fails.

use serde_json::json;

use crate::support::chat::Chat;
use crate::support::fake_openai::{text, tool_calls, FakeOpenAi, Scripted};
use frontdesk::ids::{BusinessId, LeadId};

async fn chat_with(script: Vec<Scripted>) -> (Chat, FakeOpenAi) {
    let (fake, base) = FakeOpenAi::start(script).await;
    let chat = Chat::start_with(&[
        ("OPENAI_API_KEY", "sk-test-key"),
        ("OPENAI_BASE_URL", &base),
        ("OPENAI_CHAT_MODEL", "gpt-test"),
        ("OPENAI_CHAT_TIMEOUT_MS", "1500"),
    ]);
    (chat, fake)
}

#[tokio::test]
async fn the_model_converses_and_the_engine_saves_validated_fields() {
    let (chat, fake) = chat_with(vec![
        tool_calls(&[
            ("save_lead_field", json!({ "field": "name", "value": "Dana" })),
            ("save_lead_field", json!({ "field": "phone", "value": "312-555-0142" })),
            ("save_lead_field", json!({ "field": "email", "value": "dana@" })),
        ]),
        text("Thanks Dana! What's the address of the property?"),
        tool_calls(&[("search_knowledge", json!({ "query": "Saturday opening hours" }))]),
        text("Yes, on Saturdays we work from 8am to 2pm."),
    ])
    .await;
    let mut s = None;
    let a = chat.say(&mut s, "Hi, I'm Dana, 312-555-0142, email dana@").await;
    assert_eq!(a["reply"], "Thanks Dana! What's the address of the property?");
    let lead_id = a["leadId"].as_str().expect("the engine saved the lead").to_string();

    // What the model was sent: auth, model, streaming, the tools.
    let (auth, first) = fake.requests.lock().unwrap()[0].clone();
    assert_eq!(auth.as_deref(), Some("Bearer sk-test-key"));
    assert_eq!(first["model"], "gpt-test");
    assert_eq!(first["stream"], true);
    let tools: Vec<&str> =
        first["tools"].as_array().unwrap().iter().map(|t| t["function"]["name"].as_str().unwrap()).collect();
    assert_eq!(
        tools,
        ["save_lead_field", "set_emergency_level", "search_knowledge", "request_human", "end_conversation"]
    );
    assert!(first["messages"][0]["content"].as_str().unwrap().contains("May I have your name?"));

    // The tool results went back, validated by the engine.
    let second = fake.request(1);
    let msgs = second["messages"].as_array().unwrap();
    let results: Vec<serde_json::Value> = msgs
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| serde_json::from_str(m["content"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(results[0], json!({ "saved": true, "value": "Dana" }));
    assert_eq!(results[1], json!({ "saved": true, "value": "+13125550142" }));
    assert_eq!(results[2]["saved"], false, "the engine refused a bad email");
    assert_eq!(msgs.iter().find(|m| m["role"] == "assistant").unwrap()["tool_calls"][2]["id"], "call_2");

    let store = chat.store();
    let lead = store.lead(&BusinessId::from(&chat.business_id), &LeadId::from(&lead_id)).await.unwrap();
    assert_eq!(lead.contact_name.as_deref(), Some("Dana"));
    assert_eq!(lead.contact_phone.as_deref(), Some("+13125550142"));
    assert_eq!(lead.contact_email, None);

    // Knowledge search runs against the business's own documents.
    let a = chat.say(&mut s, "Are you open on Saturdays?").await;
    assert_eq!(a["reply"], "Yes, on Saturdays we work from 8am to 2pm.");
    let fourth = fake.request(3);
    let tool_result =
        fourth["messages"].as_array().unwrap().iter().rev().find(|m| m["role"] == "tool").unwrap().clone();
    assert!(
        tool_result["content"].as_str().unwrap().contains("On Saturdays we work from 8am to 2pm"),
        "{tool_result}"
    );
}

#[tokio::test]
async fn the_model_may_raise_the_level_and_the_escalation_is_recorded() {
    let (chat, _fake) = chat_with(vec![
        tool_calls(&[(
            "set_emergency_level",
            json!({ "level": "URGENT", "reason": "elderly resident, no heat, freezing" }),
        )]),
        text("I'm alerting the team now. May I have your name?"),
        tool_calls(&[("set_emergency_level", json!({ "level": "HIGH", "reason": "calmer now" }))]),
        text("Understood. What's the best number to reach you?"),
    ])
    .await;
    let mut s = None;
    let a = chat.say(&mut s, "my grandmother's house is freezing and she is 90").await;
    assert_eq!(a["emergency"]["level"], "URGENT", "{a}");
    let notes = chat.store().notifications(&BusinessId::from(&chat.business_id)).await.unwrap();
    assert_eq!(notes.len(), 3, "escalated on every channel");
    let a = chat.say(&mut s, "ok").await;
    assert_eq!(a["emergency"]["level"], "URGENT", "never lowered: {a}");
}

#[tokio::test]
async fn model_errors_and_timeouts_fall_back_to_the_local_engine() {
    let (chat, fake) =
        chat_with(vec![Scripted::Status(500), Scripted::Hang(std::time::Duration::from_secs(5))]).await;
    let mut s = None;
    let a = chat.say(&mut s, "I need a quote for a new toilet").await;
    assert!(a["reply"].as_str().unwrap().ends_with("May I have your name?"), "{a}");
    let started = std::time::Instant::now();
    let a = chat.say(&mut s, "Dana").await;
    assert!(a["reply"].as_str().unwrap().contains("Thanks, Dana!"), "{a}");
    assert!(started.elapsed() < std::time::Duration::from_secs(4), "the timeout bounds the wait");
    assert_eq!(fake.count(), 2);
}
