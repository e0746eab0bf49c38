//! Toll fraud (issue 10 item 9): per-business daily caps on outbound emails,
//! texts and calls, URGENT alerts with their own (bounded) allowance, and a
//! per-minute limit on tests.

use serde_json::{json, Value};

use crate::support::ui::Ui;

async fn test_email(ui: &Ui, token: &str) -> (u16, Value) {
    ui.api(token, "POST", "/api/admin/notifications/test", Some(json!({ "channel": "email" }))).await
}

async fn emergency(ui: &Ui, business: &str) -> Value {
    ui.chat(business, "A pipe burst and water is pouring through the ceiling").await.1
}

#[tokio::test]
async fn daily_caps_bound_tests_and_emergencies_have_their_own_allowance() {
    let ui = Ui::empty(&[
        ("FRONTDESK_NOTIFY_DAILY_TEST_CAP", "2"),
        ("FRONTDESK_NOTIFY_DAILY_EMAIL_CAP", "5"),
        ("FRONTDESK_NOTIFY_DAILY_URGENT_CAP", "1"),
        ("FRONTDESK_NOTIFY_TESTS_PER_MINUTE", "0"),
        ("CHAT_RATE_LIMIT_PER_IP", "0"),
    ]);
    let business = ui.business("Capped Plumbing", "FREE");
    ui.user("owner@capped.example", "owner", Some(&business));
    let token = ui.token("owner@capped.example").await;
    for _ in 0..2 {
        assert_eq!(test_email(&ui, &token).await.0, 201);
    }
    let (status, refused) = test_email(&ui, &token).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("daily limit of 2 tests by email"), "{refused}");

    // An emergency is not held back by the test cap, but its own allowance is bounded.
    emergency(&ui, &business).await;
    let second = emergency(&ui, &business).await;
    let (_, list) = ui.api(&token, "GET", "/api/admin/notifications", None).await;
    let urgent =
        list["notifications"].as_array().unwrap().iter().filter(|n| n["kind"] == "urgent_lead").count();
    assert_eq!(urgent, 1, "the second emergency is over the daily URGENT cap: {list}");
    let reply = second["reply"].as_str().unwrap();
    assert!(!reply.contains("alerted"), "nothing was queued, nothing is promised: {reply}");

    // The page shows the limits and what was used.
    let mut web = ui.sign_in("owner@capped.example").await;
    let page = web.get("/settings/notifications").await.1;
    assert!(page.contains("Daily limits"), "the limits card");
    assert!(page.contains("<td>2 of 5</td><td>1 of 1</td><td>2 of 2</td>"), "email usage");
}

#[tokio::test]
async fn tests_are_limited_per_minute() {
    let ui = Ui::empty(&[("FRONTDESK_NOTIFY_TESTS_PER_MINUTE", "2")]);
    let business = ui.business("Quick Plumbing", "FREE");
    ui.user("owner@quick.example", "owner", Some(&business));
    let token = ui.token("owner@quick.example").await;
    assert_eq!(test_email(&ui, &token).await.0, 201);
    assert_eq!(test_email(&ui, &token).await.0, 201);
    let (status, body) = test_email(&ui, &token).await;
    assert_eq!(status, 429, "{body}");
    assert!(body["error"].as_str().unwrap().contains("at most 2 tests a minute"), "{body}");
}
