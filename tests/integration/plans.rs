//! Plans on the real binary: every limit in `plans::LIMITS` refused through
//! the API with one 403 shape and shown on the pages; priority email only on
//! BASIC and up; the original design's upgrade link answered.

use std::time::Duration;

use mail_parser::MessageParser;
use serde_json::{json, Value};

use crate::support::fake_smtp::{available, SmtpServer};
use crate::support::notify::{business_file, message_id, Harness};
use crate::support::ui::*;
use frontdesk::ids::BusinessId;

/// The keys of a plan refusal; every one has exactly these.
const REFUSAL_KEYS: [&str; 7] =
    ["code", "currentPlan", "error", "feature", "limit", "requiredPlan", "upgradeUrl"];

fn assert_refused(
    status: u16,
    body: &Value,
    current: &str,
    required: &str,
    feature: &str,
    limit: Option<u64>,
) {
    assert_eq!(status, 403, "{body}");
    let mut keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, REFUSAL_KEYS, "{body}");
    assert_eq!(body["code"], "plan_required");
    assert_eq!(
        (body["currentPlan"].as_str(), body["requiredPlan"].as_str()),
        (Some(current), Some(required))
    );
    assert_eq!(body["upgradeUrl"], "/settings/plan");
    assert_eq!(body["feature"], feature, "{body}");
    assert_eq!(body["limit"].as_u64(), limit, "{body}");
    assert!(body["error"].as_str().unwrap().contains(required), "{body}");
}

async fn add_doc(ui: &Ui, token: &str, i: usize) -> (u16, Value) {
    let doc = json!({"title": format!("Doc {i}"), "content": format!("Service note {i}: we clear drains.")});
    ui.api(token, "POST", "/api/admin/knowledge", Some(doc)).await
}

#[tokio::test]
async fn every_limit_is_refused_with_one_shape_and_shown_on_the_pages() {
    let ui = Ui::empty(&[]);
    let mut owners = Vec::new();
    for (name, plan) in [("Free Co", "FREE"), ("Basic Co", "BASIC"), ("Pro Co", "PRO")] {
        let id = ui.business(name, plan);
        let email = format!("owner@{}.example", plan.to_lowercase());
        ui.user(&email, "owner", Some(&id));
        owners.push((plan, id, email.clone(), ui.token(&email).await));
    }
    let [(_, _, free_email, free), (_, basic_id, basic_email, basic), (_, pro_id, _, pro)] = &owners[..]
    else {
        unreachable!()
    };

    // The table is in /api/admin/me.
    let (_, me) = ui.api(free, "GET", "/api/admin/me", None).await;
    assert_eq!(me["limits"]["questions"], 5);
    assert_eq!(me["limits"]["documents"], 0);
    let (_, me) = ui.api(basic, "GET", "/api/admin/me", None).await;
    assert_eq!((me["limits"]["questions"].is_null(), me["limits"]["documents"].as_u64()), (true, Some(25)));
    assert_eq!(me["features"]["priority_email"], true);
    assert!(
        me["features"].get("session_management").is_none()
            && me["features"].get("unlimited_questions").is_none()
    );

    // FREE: the sixth question and any document.
    let mut free_questions = ui.store().questions(&BusinessId::from(&owners[0].1)).await.unwrap().len();
    while free_questions < 5 {
        let body = json!({"question_text": format!("Extra {free_questions}?")});
        assert_eq!(ui.api(free, "POST", "/api/admin/questions", Some(body)).await.0, 201);
        free_questions += 1;
    }
    let (status, body) =
        ui.api(free, "POST", "/api/admin/questions", Some(json!({"question_text": "Sixth?"}))).await;
    assert_refused(status, &body, "FREE", "BASIC", "questions", Some(5));
    assert!(body["error"].as_str().unwrap().contains("5 lead questions"), "{body}");
    let (status, body) = add_doc(&ui, free, 0).await;
    assert_refused(status, &body, "FREE", "BASIC", "knowledge_base_management", None);
    // A feature refusal has the same shape as a limit.
    let (status, body) = ui.api(free, "GET", "/api/admin/analytics", None).await;
    assert_refused(status, &body, "FREE", "PRO", "advanced_analytics", None);

    // BASIC: 25 documents, the 26th needs PRO; PRO takes it.
    let have = ui.store().knowledge_entries(&BusinessId::from(basic_id)).await.unwrap().len();
    for i in have..25 {
        let (status, body) = add_doc(&ui, basic, i).await;
        assert_eq!(status, 201, "{i}: {body}");
    }
    let (status, body) = add_doc(&ui, basic, 25).await;
    assert_refused(status, &body, "BASIC", "PRO", "documents", Some(25));
    assert_eq!(
        ui.store().knowledge_entries(&BusinessId::from(basic_id)).await.unwrap().len(),
        25,
        "nothing saved"
    );
    let have = ui.store().knowledge_entries(&BusinessId::from(pro_id)).await.unwrap().len();
    for i in have..26 {
        assert_eq!(add_doc(&ui, pro, i).await.0, 201);
    }

    // The pages: the same sentences, the add form off, the table on the plan page.
    let mut web = ui.sign_in(basic_email).await;
    let page = web.get("/knowledge").await.1;
    assert!(
        page.contains("The BASIC plan includes 25 knowledge documents; more need the PRO plan."),
        "{page}"
    );
    assert!(page.contains("<fieldset disabled>"), "the add form is off");
    assert!(page.contains("/knowledge/"), "documents can still be edited");
    let (status, _, refused) =
        web.submit("/knowledge", &[("title", "More"), ("content", "More text.")]).await;
    assert_eq!(status, 403);
    assert!(
        refused.contains("BASIC plan includes 25 knowledge documents; more need the PRO plan"),
        "{refused}"
    );
    let plan = web.get("/settings/plan").await.1;
    for row in frontdesk::plans::limit_rows() {
        assert!(plan.contains(&format!("<th scope=\"row\">{}</th>", row.0)), "{}", row.0);
    }
    assert!(plan.contains("data-limit=\"Knowledge documents\">25<"), "{plan}");
    assert!(plan.contains("Emergency emails marked high priority"), "each feature says what it does");
    let mut web = ui.sign_in(free_email).await;
    let agent = web.get("/settings/agent").await.1;
    assert!(agent.contains("The FREE plan includes 5 lead questions; more need the BASIC plan."), "{agent}");

    // The original design's upgrade link leads to the plan page.
    let res = ui.http.get(ui.url("/admin/upgrade")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/settings/plan");
    assert_eq!(web.get("/admin/upgrade").await.0, 303);
}

#[tokio::test]
async fn priority_email_marks_urgent_emails_on_basic_and_up_only() {
    if !available("priority_email_marks_urgent_emails_on_basic_and_up_only") {
        return;
    }
    let mut h = Harness::new(&business_file("FREE", ""));
    let basic = h.import(&business_file("BASIC", "").replace("Flow Plumbing", "Basic Plumbing"));
    let smtp = SmtpServer::start(&h.fd.dir.path().join("mail"), None);
    h.serve(&smtp.env());
    let free = h.business_id.clone();
    let mut urgent_ids = Vec::new();
    for business in [&free, &basic] {
        let lead = h.emergency(business).await;
        urgent_ids.push(message_id(&format!("lead:{lead}:urgent_lead:email"), "fd.example"));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let arrived = |id: &String| smtp.message_ids().iter().any(|a| a == id || format!("<{a}>") == *id);
    while !urgent_ids.iter().all(arrived) {
        assert!(
            std::time::Instant::now() < deadline,
            "urgent emails never arrived: {:?}",
            smtp.message_ids()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let raw = smtp.raw_messages();
    let priority = |id: &str| {
        let m = raw
            .iter()
            .map(|r| MessageParser::default().parse(r).unwrap())
            .find(|m| format!("<{}>", m.message_id().unwrap()) == id)
            .expect("the urgent email");
        assert!(m.subject().unwrap().starts_with("URGENT: "));
        (
            m.header_raw("X-Priority").map(str::trim).map(str::to_string),
            m.header_raw("Importance").map(str::trim).map(str::to_string),
        )
    };
    // FREE: sent as fast, but unmarked. BASIC: marked for mail apps.
    assert_eq!(priority(&urgent_ids[0]), (None, None));
    assert_eq!(priority(&urgent_ids[1]), (Some("1 (Highest)".into()), Some("high".into())));
}
