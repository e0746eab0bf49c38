//! The JSON admin API on the real binary: tenant isolation on every
//! endpoint, plan gating per tier, questions and knowledge, CSV export,
//! analytics over a known history, and the operator's endpoints.

use serde_json::{json, Value};

use crate::support::instance::{Lit, PASSWORD};
use crate::support::ui::*;
use frontdesk::ids::BusinessId;

mod keys;

/// Two PRO businesses with an owner each, and an operator. New-lead
/// notifications wait an hour, so the outbox holds still while a test looks.
async fn two_businesses() -> (Ui, String, String) {
    let ui = Ui::empty(&[("FRONTDESK_NOTIFY_NEW_LEAD_DELAY_SECS", "3600")]);
    let a = ui.business("Alpha Plumbing", "PRO");
    let b = ui.business("Bravo Plumbing", "PRO");
    ui.user("a@alpha.example", "owner", Some(&a));
    ui.user("b@bravo.example", "owner", Some(&b));
    ui.user("op@msp.example", "operator", None);
    (ui, a, b)
}

/// A chat that leaves a lead; returns its id.
async fn chat_lead(ui: &Ui, business: &str, message: &str) -> String {
    let (_, body) = ui.chat(business, message).await;
    body["leadId"].as_str().unwrap_or_else(|| panic!("no lead: {body}")).to_string()
}

#[tokio::test]
async fn no_admin_endpoint_lets_one_business_reach_another() {
    let (ui, a, b) = two_businesses().await;
    let a_lead = chat_lead(&ui, &a, "I'm Ann Lee, 312-555-0101, my tap drips").await;
    let b_lead = chat_lead(&ui, &b, "I'm Bo Chan, 312-555-0202, my drain is slow").await;
    let store = ui.store();
    let bq = store.questions(&BusinessId::from(&b)).await.unwrap()[0].id.clone();
    let bk = store.knowledge_entries(&BusinessId::from(&b)).await.unwrap()[0].id.clone();
    // B's new-lead email, made dead: a retry that reached it would change it.
    let bn = store.notifications_page(&BusinessId::from(&b), None, 10, 0).await.unwrap()[0].id.clone();
    ui.fd.sql(&[(
        "UPDATE notifications SET state = 'dead', last_error = 'test' WHERE id = ?1",
        vec![bn.clone().into()],
    )]);
    let snapshot = || async {
        let s = ui.store();
        let outbox = (
            s.notifications_page(&BusinessId::from(&b), None, 100, 0).await.unwrap(),
            s.local_emails(&BusinessId::from(&b), 100).await.unwrap(),
        );
        (
            s.business_bundle(&BusinessId::from(&b)).await.unwrap(),
            s.leads(&BusinessId::from(&b)).await.unwrap(),
            s.business(&BusinessId::from(&b)).await.unwrap(),
            outbox,
        )
    };
    let before = snapshot().await;
    let token = ui.token("a@alpha.example").await;

    // Addressed by one of B's ids: not found.
    let by_id: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", format!("/api/admin/leads/{b_lead}"), None),
        ("POST", format!("/api/admin/leads/{b_lead}/status"), Some(json!({"status": "CLOSED"}))),
        ("POST", format!("/api/admin/leads/{b_lead}/triage"), Some(json!({"emergency": true}))),
        ("PUT", format!("/api/admin/questions/{bq}"), Some(json!({"question_text": "Hacked?"}))),
        ("DELETE", format!("/api/admin/questions/{bq}"), None),
        ("GET", format!("/api/admin/knowledge/{bk}"), None),
        ("PUT", format!("/api/admin/knowledge/{bk}"), Some(json!({"title": "Hacked", "content": "x"}))),
        ("DELETE", format!("/api/admin/knowledge/{bk}"), None),
        ("POST", format!("/api/admin/notifications/{bn}/retry"), None),
    ];
    for (method, path, body) in &by_id {
        let (status, answer) = ui.api(&token, method, path, body.clone()).await;
        assert_eq!(status, 404, "{method} {path}: {answer}");
        assert!(!answer.to_string().contains("Bo Chan"), "{method} {path} leaked B's data");
    }
    // Naming B as the business to act on: not found, for every endpoint.
    let scoped: Vec<(&str, &str, Option<Value>)> = vec![
        ("GET", "/api/admin/me", None),
        ("GET", "/api/admin/dashboard", None),
        ("GET", "/api/admin/analytics", None),
        ("GET", "/api/admin/business", None),
        ("POST", "/api/admin/business", Some(json!({"name": "Hacked"}))),
        ("GET", "/api/admin/config/agent", None),
        ("POST", "/api/admin/config/agent", Some(json!({"agent_name": "Hacked"}))),
        ("GET", "/api/admin/config/voice", None),
        ("POST", "/api/admin/config/voice", Some(json!({"voice_greeting_message": "Hacked"}))),
        ("POST", "/api/admin/config/notifications", Some(json!({"notification_email": "evil@example.com"}))),
        ("POST", "/api/admin/config/widget", Some(json!({"website_origins": ["https://evil.example"]}))),
        ("GET", "/api/admin/config/emergency-rules", None),
        ("POST", "/api/admin/config/emergency-rules", Some(json!({"remove": ["flood"]}))),
        ("GET", "/api/admin/leads", None),
        ("GET", "/api/admin/leads/export.csv", None),
        ("GET", "/api/admin/questions", None),
        ("POST", "/api/admin/questions", Some(json!({"question_text": "Hacked?"}))),
        ("POST", "/api/admin/questions/reorder", Some(json!({"ids": [bq.clone()]}))),
        ("GET", "/api/admin/knowledge", None),
        ("POST", "/api/admin/knowledge", Some(json!({"title": "Hacked", "content": "x"}))),
        ("GET", "/api/admin/notifications", None),
        ("GET", "/api/admin/notifications/counts", None),
        ("POST", "/api/admin/notifications/test", Some(json!({"channel": "email"}))),
        ("GET", "/api/admin/notifications/prefs", None),
        ("PUT", "/api/admin/notifications/prefs", Some(json!({"digest": false, "new_lead": []}))),
        ("GET", "/api/admin/notifications/local-emails", None),
    ];
    for (method, path, body) in &scoped {
        let (status, answer) = ui.api_as(&token, method, path, body.clone(), Some(&b)).await;
        assert_eq!(status, 404, "{method} {path} with X-Business-Id of B: {answer}");
        let (status, _) = ui.api(&token, method, &format!("{path}?business={b}"), body.clone()).await;
        assert_eq!(status, 404, "{method} {path}?business=B");
    }
    // Operator-only endpoints.
    for (method, path, body) in [
        ("GET", "/api/admin/businesses".to_string(), None),
        ("POST", "/api/admin/businesses".to_string(), Some(json!({"name": "Mine"}))),
        ("POST", format!("/api/admin/businesses/{b}/plan"), Some(json!({"plan": "FREE"}))),
    ] {
        assert_eq!(ui.api(&token, method, &path, body).await.0, 403, "{method} {path}");
    }
    // A's own listings hold only A's rows.
    let (_, leads) = ui.api(&token, "GET", "/api/admin/leads", None).await;
    let ids: Vec<&str> =
        leads["leads"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [a_lead.as_str()]);
    let (_, csv) = ui.api(&token, "GET", "/api/admin/leads/export.csv", None).await;
    assert!(csv.as_str().unwrap().contains("Ann Lee") && !csv.as_str().unwrap().contains("Bo Chan"));
    for query in ["", "?state=dead", "?state=pending"] {
        let (_, list) = ui.api(&token, "GET", &format!("/api/admin/notifications{query}"), None).await;
        let rows = list["notifications"].as_array().unwrap();
        assert!(rows.iter().all(|n| n["businessId"] == a.as_str() && n["id"] != bn.as_str()), "{list}");
        assert_eq!(list["total"].as_u64().unwrap(), rows.len() as u64, "{query}: B's rows are not counted");
    }
    let (_, counts) = ui.api(&token, "GET", "/api/admin/notifications/counts", None).await;
    assert_eq!(
        (counts["pending"].as_u64(), counts["dead"].as_u64()),
        (Some(1), Some(0)),
        "A's own lead email"
    );

    // The pages, with a session cookie.
    let mut web = ui.sign_in("a@alpha.example").await;
    for path in [format!("/leads/{b_lead}"), format!("/knowledge/{bk}")] {
        assert_eq!(web.get(&path).await.0, 404, "GET {path}");
    }
    for path in [
        format!("/leads/{b_lead}/status"),
        format!("/leads/{b_lead}/triage"),
        format!("/knowledge/{bk}"),
        format!("/knowledge/{bk}/delete"),
        format!("/settings/questions/{bq}"),
        format!("/settings/questions/{bq}/delete"),
        format!("/settings/questions/{bq}/move"),
        format!("/settings/notifications/{bn}/retry"),
    ] {
        let (status, _, _) = web
            .submit(
                &path,
                &[
                    ("status", "CLOSED"),
                    ("title", "Hacked"),
                    ("content", "x"),
                    ("question_text", "Hacked?"),
                    ("direction", "down"),
                ],
            )
            .await;
        assert_eq!(status, 404, "POST {path}");
    }
    assert_eq!(web.submit("/operator/switch", &[("business", &b)]).await.0, 403);
    // A business cookie naming B is ignored for an owner.
    web.cookies.push(("fd_business".into(), b.clone()));
    let page = web.get("/dashboard").await.1;
    assert!(page.contains("Alpha Plumbing") && !page.contains("Bravo Plumbing"));
    let leads_page = web.get("/leads").await.1;
    assert!(leads_page.contains("Ann Lee") && !leads_page.contains("Bo Chan"));
    let outbox_page = web.get("/settings/notifications?state=dead").await.1;
    assert!(
        !outbox_page.contains(&bn)
            && outbox_page.contains("data-count=\"dead\">Failed <span class=\"count\">0<")
    );

    assert_eq!(snapshot().await, before, "B is unchanged");
    // B's owner still sees B's lead as it was.
    let b_token = ui.token("b@bravo.example").await;
    let (status, lead) = ui.api(&b_token, "GET", &format!("/api/admin/leads/{b_lead}"), None).await;
    assert_eq!((status, lead["lead"]["status"].as_str()), (200, Some("NEW")));
}

/// The owner's "this was (not) an emergency" on a lead teaches that
/// business's triage, through the API and the lead page's form.
#[tokio::test]
async fn triage_marks_on_leads_become_examples() {
    let (ui, a, b) = two_businesses().await;
    // A message the built-in triage calls routine (the round-four head
    // raises "septic tank alarm" by its "alarm", the round-seven head
    // "water softener light came on" to HIGH by its nearest example).
    let message = "the water softener display is blinking in the garage";
    let lead = chat_lead(&ui, &a, &format!("I'm Ann Lee, 312-555-0101. {message}")).await;
    let token = ui.token("a@alpha.example").await;
    let triage = |id: &str| {
        let out = ui.fd.ok(&["triage", "--business", id, "water softener display blinking"]);
        serde_json::from_str::<Value>(&out).unwrap()
    };
    assert_eq!(triage(&a)["level"], "NORMAL");

    let path = format!("/api/admin/leads/{lead}/triage");
    let (status, body) = ui.api(&token, "POST", &path, Some(json!({"emergency": "maybe"}))).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = ui.api(&token, "POST", &path, Some(json!({"emergency": true}))).await;
    assert_eq!((status, body["level"].as_str()), (200, Some("URGENT")), "{body}");
    assert!(body["text"].as_str().unwrap().contains("water softener display"), "{body}");
    let decided = triage(&a);
    assert_eq!(
        (decided["level"].as_str(), decided["decided_by"].as_str()),
        (Some("URGENT"), Some("classifier")),
        "{decided}"
    );
    assert_eq!(decided["nearest"]["source"], "owner", "{decided}");
    assert_eq!(triage(&b)["level"], "NORMAL", "another business is not taught");

    // The lead page's form takes it back.
    let mut web = ui.sign_in("a@alpha.example").await;
    let page = web.get(&format!("/leads/{lead}")).await.1;
    assert!(page.contains("id=\"triage-mark\"") && page.contains("You marked it an emergency"), "{page}");
    // The transcript names each speaker as the owner reads them.
    assert!(page.contains("<li class=\"msg user\"><span class=\"who\">Visitor</span>"), "{page}");
    assert!(page.contains("<li class=\"msg assistant\"><span class=\"who\">Agent</span>"), "{page}");
    let (status, _, _) = web.submit(&format!("/leads/{lead}/triage"), &[("emergency", "no")]).await;
    assert_eq!(status, 303);
    assert_eq!(triage(&a)["level"], "NORMAL");
    assert!(web.get(&format!("/leads/{lead}")).await.1.contains("You marked it not an emergency"));
}

fn assert_plan_required(status: u16, body: &Value, current: &str, required: &str) {
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "plan_required", "{body}");
    assert_eq!(body["currentPlan"], current);
    assert_eq!(body["requiredPlan"], required);
    assert_eq!(body["upgradeUrl"], "/settings/plan");
    assert!(body["error"].as_str().unwrap().contains(required));
}

#[tokio::test]
async fn each_tier_gets_exactly_its_features() {
    let ui = Ui::empty(&[]);
    let mut tokens = Vec::new();
    for (name, plan) in [("Free Co", "FREE"), ("Basic Co", "BASIC"), ("Pro Co", "PRO")] {
        let id = ui.business(name, plan);
        let email = format!("owner@{}.example", plan.to_lowercase());
        ui.user(&email, "owner", Some(&id));
        tokens.push((plan, id, ui.token(&email).await));
    }
    for (plan, id, token) in &tokens {
        // Questions: FREE stops at 5.
        for i in 0..2 {
            let (status, body) = ui
                .api(
                    token,
                    "POST",
                    "/api/admin/questions",
                    Some(json!({"question_text": format!("Extra {i}?")})),
                )
                .await;
            assert_eq!(status, 201, "{plan}: {body}");
        }
        let (status, body) =
            ui.api(token, "POST", "/api/admin/questions", Some(json!({"question_text": "Sixth?"}))).await;
        if *plan == "FREE" {
            assert_plan_required(status, &body, "FREE", "BASIC");
            assert_eq!(ui.store().questions(&BusinessId::from(id)).await.unwrap().len(), 5);
        } else {
            assert_eq!(status, 201, "{plan}");
        }
        // Knowledge management: BASIC and up.
        let (status, body) = ui
            .api(
                token,
                "POST",
                "/api/admin/knowledge",
                Some(json!({"title": "Prices", "content": "A service call is $89."})),
            )
            .await;
        if *plan == "FREE" {
            assert_plan_required(status, &body, "FREE", "BASIC");
        } else {
            assert_eq!(status, 201, "{plan}: {body}");
            assert!(body["chunks"].as_u64().unwrap() >= 1);
        }
        // Voice configuration, premium voices and advanced analytics: PRO.
        let (status, body) = ui.api(token, "POST", "/api/admin/config/voice", Some(json!({"voice_greeting_message": "Hi!", "twilio_voice": "Polly.Joanna", "realtime_voice": "cedar"}))).await;
        let (a_status, a_body) = ui.api(token, "GET", "/api/admin/analytics", None).await;
        if *plan == "PRO" {
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["twilioVoice"], "Polly.Joanna");
            // With no TWILIO_WEBHOOK_BASE_URL: this instance's own address, as the voice channel signs it
            // (the page also says Twilio needs a public https one).
            let port = ui.url("/").rsplit(':').next().unwrap().trim_end_matches('/').to_string();
            assert_eq!(body["webhooks"]["incoming"], format!("http://localhost:{port}/api/voice/incoming"));
            assert_eq!(body["webhooks"]["stream"], format!("wss://localhost:{port}/api/voice/stream"));
            assert_eq!(a_status, 200, "{a_body}");
        } else {
            assert_plan_required(status, &body, plan, "PRO");
            assert_plan_required(a_status, &a_body, plan, "PRO");
        }
        assert_eq!(ui.api(token, "GET", "/api/admin/dashboard", None).await.0, 200);
        let (_, me) = ui.api(token, "GET", "/api/admin/me", None).await;
        assert_eq!(me["features"]["knowledge_base_management"], *plan != "FREE");
        assert_eq!(me["features"]["voice_agent"], *plan == "PRO");
    }
}

#[tokio::test]
async fn questions_and_knowledge_through_the_api_change_the_agent() {
    let (ui, a, _b) = two_businesses().await;
    let token = ui.token("a@alpha.example").await;
    let (_, list) = ui.api(&token, "GET", "/api/admin/questions", None).await;
    let ids: Vec<String> =
        list["questions"].as_array().unwrap().iter().map(|q| q["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 3);
    // Bad input is a 400 naming the field; nothing is saved.
    let (status, body) = ui
        .api(
            &token,
            "POST",
            "/api/admin/questions",
            Some(json!({"question_text": " ", "expected_format": "DATE"})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["fields"]["question_text"], "must not be empty");
    assert!(body["fields"]["expected_format"].as_str().unwrap().contains("TEXT, EMAIL or PHONE"));
    // Reorder: notes first.
    let order = json!({"ids": [ids[2].clone(), ids[0].clone(), ids[1].clone()]});
    let (status, body) = ui.api(&token, "POST", "/api/admin/questions/reorder", Some(order)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["questions"][0]["questionText"], "What do you need help with?");
    assert_eq!(body["questions"][0]["order"], 1);
    let (status, _) =
        ui.api(&token, "POST", "/api/admin/questions/reorder", Some(json!({"ids": [ids[0].clone()]}))).await;
    assert_eq!(status, 400, "a partial order is refused");
    let (status, body) = ui
        .api(
            &token,
            "PUT",
            &format!("/api/admin/questions/{}", ids[1]),
            Some(json!({"expected_format": "TEXT", "is_required": false})),
        )
        .await;
    assert_eq!(status, 200);
    let q =
        body["questions"].as_array().unwrap().iter().find(|q| q["id"] == ids[1].as_str()).unwrap().clone();
    assert_eq!((q["expectedFormat"].as_str(), q["isRequired"].as_bool()), (Some("TEXT"), Some(false)));
    assert_eq!(
        q["questionText"], "What's the best number to reach you?",
        "fields not sent keep their values"
    );
    // The next chat asks in the new order.
    let (_, reply) = ui.chat(&a, "Hello there").await;
    assert!(reply["reply"].as_str().unwrap().contains("What do you need help with?"), "{reply}");

    // A new document is searchable at once, edits re-index, delete removes it.
    let (status, doc) = ui.api(&token, "POST", "/api/admin/knowledge", Some(json!({"title": "Boilers", "content": "We service and repair gas boilers of every brand, including Worcester and Vaillant."}))).await;
    assert_eq!(status, 201);
    let doc_id = doc["id"].as_str().unwrap().to_string();
    let ask = |q: &'static str| {
        let (ui, a) = (&ui, a.clone());
        async move { ui.chat(&a, q).await.1["reply"].as_str().unwrap().to_string() }
    };
    assert!(ask("Do you repair Vaillant boilers?").await.contains("Vaillant"));
    let (status, doc) = ui
        .api(
            &token,
            "PUT",
            &format!("/api/admin/knowledge/{doc_id}"),
            Some(json!({"content": "We install heat pumps from Daikin and Mitsubishi."})),
        )
        .await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["title"], "Boilers");
    assert!(ask("Do you install Daikin heat pumps?").await.contains("Daikin"));
    let (status, _) = ui.api(&token, "DELETE", &format!("/api/admin/knowledge/{doc_id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(ui.api(&token, "GET", &format!("/api/admin/knowledge/{doc_id}"), None).await.0, 404);
    let (status, body) = ui
        .api(
            &token,
            "POST",
            "/api/admin/knowledge",
            Some(json!({"title": "Huge", "content": "x".repeat(1_000_001)})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(body["fields"]["content"].as_str().unwrap().contains("at most 1000000 bytes"));
    // Unauthenticated and malformed calls.
    assert_eq!(ui.api("not-a-token", "GET", "/api/admin/leads", None).await.0, 401);
    let res = ui
        .http
        .post(ui.url("/api/admin/questions"))
        .bearer_auth(&token)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

/// The owner's glossary through the API and the knowledge page: bad
/// entries refused with the field named, nothing saved; a saved entry is
/// searched from the next message on, for this business alone.
#[tokio::test]
async fn an_owners_glossary_reaches_the_agent_at_once() {
    let (ui, a, b) = two_businesses().await;
    let token = ui.token("a@alpha.example").await;
    let boilers = json!({"title": "Boilers", "content": "We service and repair gas boilers of every brand."});
    for t in [&token, &ui.token("b@bravo.example").await] {
        assert_eq!(ui.api(t, "POST", "/api/admin/knowledge", Some(boilers.clone())).await.0, 201);
    }
    let ask = |business: String| {
        let ui = &ui;
        async move { ui.chat(&business, "Do you fix furnaces?").await.1["reply"].as_str().unwrap().to_string() }
    };
    assert!(!ask(a.clone()).await.contains("boilers"), "no word of the question is in the document");
    let (status, body) = ui.api(&token, "GET", "/api/admin/knowledge/glossary", None).await;
    assert_eq!((status, body["glossary"].as_array().map(Vec::len)), (200, Some(0)));

    // Refused, naming the field; nothing is saved.
    let too_long = format!("x = {}", "y ".repeat(150));
    let many: Vec<String> = (0..301).map(|i| format!("word{i} = x")).collect();
    for (bad, says) in [
        (json!({"glossary": ["= gas boilers"]}), "customer's phrase is empty"),
        (json!({"glossary": ["furnace boilers"]}), "'='"),
        (json!({"glossary": ["furnace ="]}), "document words is empty"),
        (json!({"glossary": [too_long]}), "too long"),
        (json!({"glossary": ["furnace = boilers", "Furnace = heat"]}), "listed twice"),
        (json!({"glossary": many}), "too many entries"),
    ] {
        let (status, body) = ui.api(&token, "PUT", "/api/admin/knowledge/glossary", Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["fields"]["glossary"].as_str().is_some_and(|m| m.contains(says)), "{bad}: {body}");
    }
    let (status, body) =
        ui.api(&token, "PUT", "/api/admin/knowledge/glossary", Some(json!({"glossry": []}))).await;
    assert_eq!(status, 400, "an unknown field: {body}");
    assert_eq!(ui.api(&token, "GET", "/api/admin/knowledge/glossary", None).await.1["glossary"], json!([]));

    // Saved: the next question is answered from the document.
    let (status, body) = ui
        .api(
            &token,
            "PUT",
            "/api/admin/knowledge/glossary",
            Some(json!({"glossary": ["furnace = boilers heating"]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["glossary"], json!(["furnace = boilers heating"]));
    assert_eq!(body["entries"][0]["phrase"], "furnace");
    assert!(ask(a.clone()).await.contains("boilers"), "the owner's word, at once");
    assert!(!ask(b.clone()).await.contains("boilers"), "another business's glossary is not this one's");

    // The knowledge page shows it, and edits it (a bad line stays on the page, named).
    let mut web = ui.sign_in("a@alpha.example").await;
    let (status, page) = web.get("/knowledge").await;
    assert_eq!(status, 200);
    assert!(page.contains("furnace = boilers heating"), "{page}");
    let (status, _, page) =
        web.submit("/knowledge/glossary", &[("glossary", "furnace = boilers\n= heating")]).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("line 2") && page.contains("customer&#39;s phrase is empty"), "{page}");
    let (status, location, _) = web
        .submit("/knowledge/glossary", &[("glossary", "furnace = boilers\nno heat = boilers repair")])
        .await;
    assert_eq!((status, location.as_str()), (303, "/knowledge"));
    let (_, body) = ui.api(&token, "GET", "/api/admin/knowledge/glossary", None).await;
    assert_eq!(body["glossary"], json!(["furnace = boilers", "no heat = boilers repair"]));
}

#[tokio::test]
async fn csv_export_follows_the_filters_and_defuses_formulas() {
    let (ui, a, _b) = two_businesses().await;
    let urgent = chat_lead(&ui, &a, "My basement is flooding! I'm Dana Smith, 312-555-0142").await;
    let normal = chat_lead(&ui, &a, "I'm Sam Jones, 312-555-0143, I need a quote for a new tap").await;
    ui.fd.sql(&[(
        "UPDATE leads SET contact_name = '=HYPERLINK(\"http://evil\")' WHERE id = ?1",
        vec![normal.clone().into()],
    )]);
    let token = ui.token("a@alpha.example").await;
    let (status, csv) = ui.api(&token, "GET", "/api/admin/leads/export.csv?priority=URGENT", None).await;
    assert_eq!(status, 200);
    let csv = csv.as_str().unwrap().to_string();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let head = reader.headers().unwrap().clone();
    assert_eq!(
        head.iter().take(6).collect::<Vec<_>>(),
        ["id", "created", "channel", "status", "priority", "name"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!((&rows[0][0], &rows[0][4], &rows[0][5]), (urgent.as_str(), "URGENT", "Dana Smith"));
    // Everything, through the page with the session cookie; the formula is text.
    let mut web = ui.sign_in("a@alpha.example").await;
    let (status, all) = web.get("/leads/export.csv").await;
    assert_eq!(status, 200);
    let rows: Vec<csv::StringRecord> =
        csv::Reader::from_reader(all.as_bytes()).records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().any(|r| &r[5] == "'=HYPERLINK(\"http://evil\")"), "{all}");
    let res = ui
        .http
        .get(ui.url("/leads/export.csv?status=NEW&q=Dana"))
        .header("cookie", format!("fd_session={}", web.cookie("fd_session").unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"leads-"));
    let body = res.text().await.unwrap();
    assert_eq!(body.lines().count(), 2, "{body}");
    // A bad filter is a clear 400.
    let (status, body) = ui.api(&token, "GET", "/api/admin/leads?from=last+tuesday", None).await;
    assert_eq!(status, 400);
    assert!(body["fields"]["from"].as_str().unwrap().contains("expected a date like"));
}

#[tokio::test]
async fn analytics_count_a_known_history() {
    let (ui, a, b) = two_businesses().await;
    let now = chrono::Utc::now();
    let at =
        |days: i64| (now - chrono::Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut rows: Vec<(&str, Vec<Lit>)> = Vec::new();
    let mut event = |business: &str, kind: &str, channel: Option<&str>, data: &str, when: String| {
        rows.push((
            "INSERT INTO analytics_events (business_id, kind, channel, data, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            vec![business.into(), kind.into(), channel.into(), data.into(), when.into()],
        ));
    };
    for (channel, days, n) in [("CHAT", 0, 3), ("VOICE", 0, 1), ("CHAT", 3, 2), ("CHAT", 40, 1)] {
        for _ in 0..n {
            event(&a, "conversation_started", Some(channel), "{}", at(days));
        }
    }
    event(&b, "conversation_started", Some("CHAT"), "{}", at(0));
    for q in ["Open on Saturday?", "open on saturday"] {
        event(&a, "knowledge_answered", Some("CHAT"), &json!({"question": q}).to_string(), at(0));
    }
    event(
        &a,
        "knowledge_unanswered",
        Some("CHAT"),
        &json!({"question": "Do you fix boilers?"}).to_string(),
        at(1),
    );
    for (i, (priority, channel, days)) in
        [("URGENT", "VOICE", 0), ("NORMAL", "CHAT", 0), ("HIGH", "CHAT", 3), ("NORMAL", "CHAT", 40)]
            .iter()
            .enumerate()
    {
        rows.push((
            "INSERT INTO leads (id, business_id, channel, status, priority, captured_data, created_at, updated_at)
             VALUES (?1, ?2, ?3, 'NEW', ?4, '{}', ?5, ?5)",
            vec![format!("seed{i}").into(), a.as_str().into(), (*channel).into(), (*priority).into(), at(*days).into()],
        ));
    }
    for (sid, secs) in [("CA1", 120), ("CA2", 60)] {
        rows.push((
            "INSERT INTO calls (call_sid, business_id, status, duration_seconds, started_at, updated_at) VALUES (?1, ?2, 'completed', ?3, ?4, ?4)",
            vec![sid.into(), a.as_str().into(), Lit::Int(secs), at(0).into()],
        ));
    }
    ui.fd.sql(&rows);
    let token = ui.token("a@alpha.example").await;
    let (status, r) = ui.api(&token, "GET", "/api/admin/analytics", None).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["timezone"], "America/Chicago");
    assert_eq!(r["days"].as_array().unwrap().len(), 30);
    assert_eq!(r["today"], json!({"chats": 3, "calls": 1, "leads": 2, "emergencies": 1}));
    assert_eq!(r["week"], json!({"chats": 5, "calls": 1, "leads": 3, "emergencies": 1}));
    assert_eq!(
        r["period"],
        json!({"chats": 5, "calls": 1, "leads": 3, "emergencies": 1}),
        "40 days ago and B are left out"
    );
    assert_eq!(r["conversion"][0], json!({"channel": "CHAT", "conversations": 5, "leads": 2, "rate": 0.4}));
    assert_eq!(r["conversion"][1], json!({"channel": "VOICE", "conversations": 1, "leads": 1, "rate": 1.0}));
    assert_eq!(r["emergenciesByLevel"], json!([["HIGH", 1], ["URGENT", 1]]));
    let hour =
        now.with_timezone(&chrono_tz::America::Chicago).format("%H").to_string().parse::<usize>().unwrap();
    assert_eq!(r["callsByHour"][hour], 2);
    assert_eq!(r["callsByHour"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).sum::<u64>(), 2);
    assert_eq!(r["averageCallSeconds"], 90.0);
    assert_eq!(r["topQuestions"][0], json!({"question": "Open on Saturday?", "asked": 2, "answered": 2}));
    assert_eq!(r["topQuestions"][1], json!({"question": "Do you fix boilers?", "asked": 1, "answered": 0}));
    let (_, d) = ui.api(&token, "GET", "/api/admin/dashboard", None).await;
    assert_eq!(d["today"]["chats"], 3);
    // The page shows the same numbers and draws them.
    let mut web = ui.sign_in("a@alpha.example").await;
    let page = web.get("/analytics").await.1;
    for (stat, n) in
        [("period-chats", 5), ("period-calls", 1), ("period-leads", 3), ("period-emergencies", 1)]
    {
        assert!(page.contains(&format!("data-stat=\"{stat}\">{n}<")), "{stat}");
    }
    assert!(page.contains("data-conversion=\"CHAT\">40%"));
    assert!(page.contains("id=\"avg-call\">1:30<"));
    assert!(page.contains("<title id=\"hours-t\">Calls by hour of the day</title>"));
    let dashboard = web.get("/dashboard").await.1;
    assert!(
        dashboard.contains("data-stat=\"today-chats\">3<")
            && dashboard.contains("data-stat=\"week-leads\">3<")
    );
}

#[tokio::test]
async fn the_operator_manages_every_business() {
    let (ui, a, b) = two_businesses().await;
    let token = ui.token("op@msp.example").await;
    let (status, list) = ui.api(&token, "GET", "/api/admin/businesses", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["businesses"].as_array().unwrap().len(), 2);
    let (status, body) = ui
        .api(&token, "POST", "/api/admin/businesses", Some(json!({"name": "", "plan": "GOLD", "email": "x"})))
        .await;
    assert_eq!(status, 400);
    for field in ["name", "plan", "email"] {
        assert!(body["fields"][field].is_string(), "{field}: {body}");
    }
    assert_eq!(ui.store().list_businesses().await.unwrap().len(), 2, "nothing created");
    let (status, created) = ui
        .api(&token, "POST", "/api/admin/businesses", Some(json!({"name": "Charlie HVAC", "business_type": "HVAC", "plan": "BASIC", "timezone": "Europe/London", "email": "c@charlie.example", "password": PASSWORD, "confirm_password": PASSWORD})))
        .await;
    assert_eq!(status, 201, "{created}");
    let c = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["planTier"], "BASIC");
    ui.token("c@charlie.example").await;
    let (status, _) = ui
        .api(&token, "POST", &format!("/api/admin/businesses/{c}/plan"), Some(json!({"plan": "PRO"})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(ui.store().business(&BusinessId::from(&c)).await.unwrap().plan_tier.as_str(), "PRO");
    // Acting on a chosen business.
    let (status, biz) = ui.api_as(&token, "GET", "/api/admin/business", None, Some(&b)).await;
    assert_eq!((status, biz["name"].as_str()), (200, Some("Bravo Plumbing")));
    let (status, _) = ui
        .api_as(&token, "POST", "/api/admin/config/agent", Some(json!({"agent_name": "Bea"})), Some(&b))
        .await;
    assert_eq!(status, 200);
    assert_eq!(ui.store().agent_profile(&BusinessId::from(&b)).await.unwrap().agent.agent_name, "Bea");
    assert_eq!(ui.store().agent_profile(&BusinessId::from(&a)).await.unwrap().agent.agent_name, "Pip");
    assert_eq!(ui.api_as(&token, "GET", "/api/admin/business", None, Some("nope")).await.0, 404);

    // The pages: the list, the switcher, a plan change, the Twilio number.
    let mut web = ui.sign_in("op@msp.example").await;
    let page = web.get("/operator").await.1;
    for name in ["Alpha Plumbing", "Bravo Plumbing", "Charlie HVAC"] {
        assert!(page.contains(name), "{name}");
    }
    let (status, location, _) = web.submit("/operator/switch", &[("business", &b)]).await;
    assert_eq!((status, location.as_str()), (303, "/dashboard"));
    assert!(web.get("/dashboard").await.1.contains("<span class=\"biz\">Bravo Plumbing"));
    let (status, _, _) =
        web.submit("/settings/voice/number", &[("twilio_phone_number", "(312) 555-0177")]).await;
    assert_eq!(status, 303);
    assert_eq!(
        ui.store().business(&BusinessId::from(&b)).await.unwrap().twilio_phone_number.as_deref(),
        Some("+13125550177")
    );
    web.submit("/operator/switch", &[("business", &a)]).await;
    let (status, _, body) =
        web.submit("/settings/voice/number", &[("twilio_phone_number", "312-555-0177")]).await;
    assert_eq!(status, 400, "the number is B's");
    assert!(body.contains("already belongs to business"));
    let (status, _, _) = web.submit(&format!("/operator/businesses/{a}/plan"), &[("plan", "FREE")]).await;
    assert_eq!(status, 303);
    assert_eq!(ui.store().business(&BusinessId::from(&a)).await.unwrap().plan_tier.as_str(), "FREE");
    let (status, _, body) = web.submit("/operator/businesses", &[("name", "Alpha Plumbing")]).await;
    assert_eq!(status, 400);
    assert!(body.contains("a business with this name already exists"));
}

#[tokio::test]
async fn webhook_urls_use_the_configured_twilio_base() {
    let ui = Ui::empty(&[("TWILIO_WEBHOOK_BASE_URL", "https://fd.example.com/")]);
    let id = ui.business("Pro Co", "PRO");
    ui.user("owner@pro.example", "owner", Some(&id));
    let token = ui.token("owner@pro.example").await;
    let (status, body) = ui.api(&token, "GET", "/api/admin/config/voice", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["webhooks"]["incoming"], "https://fd.example.com/api/voice/incoming");
    assert_eq!(body["webhooks"]["status"], "https://fd.example.com/api/voice/status");
    assert_eq!(body["webhooks"]["stream"], "wss://fd.example.com/api/voice/stream");
    let mut web = ui.sign_in("owner@pro.example").await;
    let page = web.get("/settings/voice").await.1;
    assert!(page.contains("https://fd.example.com/api/voice/incoming"));
    // Exactly what the voice channel uses: the stream on wss://, and what is still missing said.
    assert!(page.contains("wss://fd.example.com/api/voice/stream"), "{page}");
    assert!(page.contains("TWILIO_AUTH_TOKEN"), "{page}");
}
