//! The owner's analytics on the real binary, checked against a seeded
//! history whose answers the test knows: how calls ended, call length,
//! emergencies and the owner's false-alarm marks, lead statuses by week,
//! reply latency; the page, the API and the CSV agree, for the owner and
//! across businesses for the operator.

use serde_json::{json, Value};

use crate::support::instance::{Instance, Lit};
use crate::support::ui::*;

/// (sid, mode, ended_reason, seconds, conversation, days ago)
type SeedCall = (&'static str, Option<&'static str>, &'static str, i64, Option<&'static str>, f64);
/// (id, channel, priority, status, conversation, test, days ago)
type SeedLead = (&'static str, &'static str, &'static str, &'static str, Option<&'static str>, bool, f64);

fn at(days: f64) -> String {
    let t = chrono::Utc::now() - chrono::Duration::milliseconds((days * 86_400_000.0) as i64);
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The businesses' local date (America/Chicago) `days` ago.
fn local_day(days: f64) -> String {
    let t = chrono::Utc::now() - chrono::Duration::milliseconds((days * 86_400_000.0) as i64);
    t.with_timezone(&chrono_tz::America::Chicago).date_naive().to_string()
}

/// A known history for `a` (and one call for `b`, which must not count).
fn seed(fd: &Instance, a: &str, b: &str) {
    let mut rows: Vec<(&str, Vec<Lit>)> = Vec::new();
    let calls: [SeedCall; 12] = [
        ("CA01", Some("realtime"), "agent_hung_up", 120, Some("c1"), 0.1),
        ("CA02", Some("realtime"), "caller_hung_up", 30, Some("c2"), 0.1),
        ("CA03", Some("gather"), "caller_hung_up", 10, Some("c3"), 0.2),
        ("CA04", Some("realtime"), "transferred", 200, Some("c4"), 2.0),
        ("CA05", None, "voicemail", 40, None, 3.0),
        ("CA06", Some("gather"), "agent_hung_up", 50, None, 4.0),
        ("CA07", Some("gather"), "agent_hung_up", 60, None, 4.0),
        ("CA08", Some("gather"), "agent_hung_up", 70, None, 4.0),
        ("CA09", Some("gather"), "agent_hung_up", 80, None, 4.0),
        ("CA10", Some("gather"), "agent_hung_up", 90, None, 4.0),
        // Before the period.
        ("CA11", Some("gather"), "caller_hung_up", 999, None, 40.0),
        // Another business.
        ("CB01", Some("gather"), "transferred", 999, None, 0.1),
    ];
    for (sid, mode, reason, secs, conv, days) in calls {
        let business = if sid.starts_with("CB") { b } else { a };
        if let Some(c) = conv {
            rows.push((
                "INSERT INTO conversations (id, business_id, channel, started_at) VALUES (?1, ?2, 'VOICE', ?3)",
                vec![c.into(), business.into(), at(days).into()],
            ));
        }
        rows.push((
            "INSERT INTO calls (call_sid, business_id, conversation_id, status, duration_seconds, mode, ended_reason,
                 started_at, updated_at) VALUES (?1, ?2, ?3, 'completed', ?4, ?5, ?6, ?7, ?7)",
            vec![sid.into(), business.into(), conv.into(), secs.into(), mode.into(), reason.into(), at(days).into()],
        ));
    }
    let leads: [SeedLead; 6] = [
        ("L1", "VOICE", "NORMAL", "CONTACTED", Some("c1"), false, 0.1),
        ("L2", "VOICE", "URGENT", "NEW", Some("c2"), false, 0.1),
        ("L3", "CHAT", "URGENT", "CLOSED", None, false, 8.0),
        ("L4", "CHAT", "HIGH", "QUALIFIED", None, false, 1.0),
        ("L5", "CHAT", "URGENT", "NEW", None, true, 0.5),
        ("L6", "CHAT", "URGENT", "NEW", None, false, 40.0),
    ];
    for (id, channel, priority, status, conv, test, days) in leads {
        rows.push((
            "INSERT INTO leads (id, business_id, conversation_id, channel, status, priority, is_test, captured_data,
                 created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, '{}', ?8, ?8)",
            vec![
                id.into(),
                a.into(),
                conv.into(),
                channel.into(),
                status.into(),
                priority.into(),
                test.into(),
                at(days).into(),
            ],
        ));
    }
    // Reply latency: ten chat replies of 100..1000 ms, three on the phone;
    // one before the period, and one of `b`.
    let mut replies: Vec<(&str, &str, i64, f64)> = (1..=10).map(|i| (a, "CHAT", i * 100, 0.1)).collect();
    replies.extend([(a, "VOICE", 1200, 2.0), (a, "VOICE", 800, 2.0), (a, "VOICE", 1000, 2.0)]);
    replies.extend([(a, "CHAT", 88_888, 40.0), (b, "CHAT", 7_777, 0.1)]);
    for (business, channel, ms, days) in replies {
        rows.push((
            "INSERT INTO response_latency (business_id, conversation_id, channel, mode, ms, day, created_at)
             VALUES (?1, 'c1', ?2, CASE ?2 WHEN 'CHAT' THEN 'chat' ELSE 'realtime' END, ?3, ?4, ?5)",
            vec![business.into(), channel.into(), ms.into(), local_day(days).into(), at(days).into()],
        ));
    }
    // The owner's marks: L3 was not an emergency, L4 was; L1 (NORMAL) stays out.
    for (lead, level) in [("L3", "NORMAL"), ("L4", "URGENT"), ("L1", "NORMAL")] {
        rows.push((
            "INSERT INTO triage_marks (lead_id, business_id, level, text, created_at) VALUES (?1, ?2, ?3, 'x', ?4)",
            vec![lead.into(), a.into(), level.into(), at(0.0).into()],
        ));
    }
    fd.sql(&rows);
}

#[tokio::test]
async fn outcomes_match_a_known_history_on_the_api_the_page_and_the_csv() {
    let ui = Ui::empty(&[("FRONTDESK_NOTIFY_NEW_LEAD_DELAY_SECS", "3600")]);
    let a = ui.business("Alpha Plumbing", "PRO");
    let b = ui.business("Bravo Plumbing", "PRO");
    let free = ui.business("Free Plumbing", "FREE");
    ui.user("a@alpha.example", "owner", Some(&a));
    ui.user("f@free.example", "owner", Some(&free));
    ui.user("op@msp.example", "operator", None);
    seed(&ui.fd, &a, &b);

    // The operator: every business's plan, and the week across businesses.
    let mut op = ui.sign_in("op@msp.example").await;
    let page = op.get("/operator").await.1;
    for (plan, n) in [("FREE", 1), ("BASIC", 0), ("PRO", 2)] {
        assert!(page.contains(&format!("data-plan-count=\"{plan}\">{n}<")), "{plan}: {page}");
    }
    assert!(page.contains("data-stat=\"all-conversations\">4<"), "{page}");

    // The operator's analytics: the same figures across businesses.
    let page = op.get("/operator/analytics").await.1;
    for (plan, n) in [("FREE", 1), ("BASIC", 0), ("PRO", 2)] {
        assert!(page.contains(&format!("data-plan-count=\"{plan}\">{n}<")), "{plan}: {page}");
    }
    assert!(
        page.contains("data-calls=\"total\">11<") && page.contains("data-calls=\"transferred\">2<"),
        "{page}"
    );
    // Eleven chat replies across businesses: the 6th and the 10th.
    assert!(page.contains("Chat: median 0.6 s, 9 in 10 within 1.0 s (11 replies)."), "{page}");
    assert!(page.contains("<title id=\"latency-t\">") && page.contains("<title id=\"plans-t\">"), "{page}");
    let op_token = ui.token("op@msp.example").await;
    let (status, all) = ui.api(&op_token, "GET", "/api/admin/operator/analytics", None).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["plans"], json!([["FREE", 1], ["BASIC", 0], ["PRO", 2]]));
    assert_eq!(all["totals"]["calls"]["total"], 11);
    assert_eq!(all["totals"]["emergencies"]["markedNotEmergency"], 1);
    assert_eq!(
        all["responseLatency"]["period"],
        json!([
            {"span": "period", "channel": "CHAT", "turns": 11, "medianMs": 600, "p90Ms": 1000},
            {"span": "period", "channel": "VOICE", "turns": 3, "medianMs": 1000, "p90Ms": 1200},
        ])
    );
    let alpha = all["businesses"].as_array().unwrap().iter().find(|b| b["name"] == "Alpha Plumbing").unwrap();
    assert_eq!(alpha["calls"]["completed"], 7);
    let (status, csv) = op.get("/operator/analytics.csv").await;
    assert_eq!(status, 200);
    for line in [
        "section,business,measure,value",
        "plans,,PRO,2",
        "calls,,total,11",
        "response_latency,,period CHAT median_ms,600",
        "calls,Alpha Plumbing,completed,7",
        "response_latency,Alpha Plumbing,period VOICE p90_ms,1200",
    ] {
        assert!(csv.lines().any(|l| l == line), "{line} in\n{csv}");
    }

    let token = ui.token("a@alpha.example").await;
    let (status, r) = ui.api(&token, "GET", "/api/admin/operator/analytics", None).await;
    assert_eq!(status, 403, "only the operator: {r}");
    let (status, r) = ui.api(&token, "GET", "/api/admin/analytics", None).await;
    assert_eq!(status, 200, "{r}");
    let o = &r["outcomes"];
    assert_eq!(
        o["responseLatency"]["period"],
        json!([
            {"span": "period", "channel": "CHAT", "turns": 10, "medianMs": 500, "p90Ms": 900},
            {"span": "period", "channel": "VOICE", "turns": 3, "medianMs": 1000, "p90Ms": 1200},
        ]),
        "{o}"
    );
    let by_day = o["responseLatency"]["byDay"].as_array().unwrap();
    let turns: u64 = by_day.iter().map(|d| d["turns"].as_u64().unwrap()).sum();
    assert_eq!(turns, 13, "every reply of the period on its local day: {by_day:?}");
    assert_eq!(
        o["calls"],
        json!({"total": 10, "answered": 9, "completed": 7, "transferred": 1, "abandoned": 1, "voicemail": 1,
               "averageSeconds": 75.0, "p90Seconds": 120}),
        "{o}"
    );
    assert_eq!(
        o["emergencies"],
        json!({"urgent": 2, "high": 1, "markedNotEmergency": 1, "falsePositiveRate": 1.0 / 3.0}),
        "a test lead and one before the period are left out: {o}"
    );
    assert_eq!(
        o["leadStatusByWeek"],
        json!([
            {"weeksAgo": 0, "new": 1, "contacted": 1, "qualified": 1, "closed": 0},
            {"weeksAgo": 1, "new": 0, "contacted": 0, "qualified": 0, "closed": 1},
        ])
    );

    // The page shows the same figures and draws them.
    let mut web = ui.sign_in("a@alpha.example").await;
    let page = web.get("/analytics").await.1;
    for (key, n) in [
        ("total", 10),
        ("answered", 9),
        ("completed", 7),
        ("transferred", 1),
        ("abandoned", 1),
        ("voicemail", 1),
    ] {
        assert!(page.contains(&format!("data-calls=\"{key}\">{n}<")), "{key}: {page}");
    }
    assert!(page.contains("id=\"avg-call\">1:15<") && page.contains("id=\"p90-call\">2:00<"), "{page}");
    assert!(page.contains("id=\"false-alarms\">33%<"), "{page}");
    assert!(page.contains("<title id=\"endings-t\">How calls ended</title>"), "{page}");
    assert!(page.contains("<title id=\"statuses-t\">"), "{page}");
    assert!(page.contains("<title id=\"latency-t\">"), "{page}");
    assert!(
        page.contains(
            "Chat: median 0.5 s, 9 in 10 within 0.9 s (10 replies). Phone: median 1.0 s, 9 in 10 within 1.2 s (3 replies)."
        ),
        "{page}"
    );

    // The CSV: the same numbers, from the page and the API.
    let (status, csv) = web.get("/analytics.csv").await;
    assert_eq!(status, 200);
    for line in [
        "section,measure,value",
        "calls,completed,7",
        "calls,p90_seconds,120",
        "calls,average_seconds,75.0",
        "emergencies,marked_not_emergency,1",
        "emergencies,false_positive_rate,0.3333",
        "lead_status,1 weeks ago CLOSED,1",
        "response_latency,period CHAT median_ms,500",
        "response_latency,period CHAT p90_ms,900",
        "response_latency,period VOICE turns,3",
    ] {
        assert!(csv.lines().any(|l| l == line), "{line} in\n{csv}");
    }
    let res = ui.http.get(ui.url("/api/admin/analytics.csv")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-disposition"].to_str().unwrap().contains("analytics-"));
    assert_eq!(res.text().await.unwrap(), csv);

    // FREE: the CSV is refused like every other plan limit.
    let free_token = ui.token("f@free.example").await;
    let res = ui.http.get(ui.url("/api/admin/analytics.csv")).bearer_auth(&free_token).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        (body["code"].as_str(), body["feature"].as_str()),
        (Some("plan_required"), Some("advanced_analytics"))
    );
}

/// The analytics page of a PRO business with the known history, in headless
/// Chromium at desktop and phone size: the figures, the charts, axe-core,
/// screenshots (`target/test-artifacts/analytics-*.png`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_analytics_page_in_a_real_browser() {
    let Some(driver) = crate::support::webdriver::driver() else { return };
    let ui = Ui::empty(&[("FRONTDESK_NOTIFY_NEW_LEAD_DELAY_SECS", "3600")]);
    let a = ui.business("Alpha Plumbing", "PRO");
    let b = ui.business("Bravo Plumbing", "PRO");
    ui.user("a@alpha.example", "owner", Some(&a));
    seed(&ui.fd, &a, &b);
    let axe = crate::support::webdriver::axe_source();

    let s = crate::support::webdriver::Session::start(&driver).await;
    s.go(&ui.url("/login")).await;
    s.fill("#f-email", "a@alpha.example").await;
    s.fill("#f-password", crate::support::instance::PASSWORD).await;
    s.click("form[action='/login'] button[type=submit]").await;
    s.wait_path("/dashboard").await;
    let mut violations = Vec::new();
    for (width, height, size) in [(1280, 900, "desktop"), (390, 844, "phone")] {
        s.size(width, height).await;
        s.go(&ui.url("/analytics")).await;
        s.wait_for("return document.readyState === 'complete'", "the analytics page").await;
        let completed = s.js("return document.querySelector('[data-calls=completed]').textContent").await;
        assert_eq!(completed, json!("7"));
        assert_eq!(s.js("return document.getElementById('false-alarms').textContent").await, json!("33%"));
        let charts = s.js("return document.querySelectorAll('svg.chart').length").await;
        assert!(charts.as_u64().unwrap() >= 6, "{charts}");
        let latency = s.js("return document.querySelectorAll('#latency svg.chart circle').length").await;
        assert_eq!(latency, json!(4), "a median and a p90 per channel, each on one day: {latency}");
        let fits = s.js("return document.documentElement.scrollWidth <= window.innerWidth + 1").await;
        assert_eq!(fits, json!(true), "the page scrolls sideways at {size}");
        s.screenshot(&format!("analytics-{size}.png")).await;
        s.js("document.querySelector('[data-calls]').closest('section').scrollIntoView()").await;
        s.screenshot(&format!("analytics-outcomes-{size}.png")).await;
        s.js("document.getElementById('latency').scrollIntoView()").await;
        s.screenshot(&format!("analytics-latency-{size}.png")).await;
        if let Some(axe) = &axe {
            violations.extend(s.axe(axe, &format!("/analytics ({size})")).await);
        }
    }
    s.quit().await;
    assert!(violations.is_empty(), "axe-core's WCAG 2 A/AA violations:\n{}", violations.join("\n"));
}
