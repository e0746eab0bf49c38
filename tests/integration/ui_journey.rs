//! A fresh owner's first hour in a real headless Chromium, at desktop size
//! and on a phone (390x844): setup with time zone and country, the checklist,
//! the facts, a test chat that alerts nobody, a real chat from the business's
//! own site that does (a real SMTP server receives the owner's email), the
//! lead card and the CSV. axe-core checks every owner page and the open
//! widget for WCAG 2 A/AA violations. Screenshots: `target/test-artifacts/journey-*.png`.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use warp::Filter;

use crate::support::fake_smtp::{available, SmtpServer};
use crate::support::instance::PASSWORD;
use crate::support::ui::Ui;
use crate::support::webdriver::{axe_source, driver_with_env, flash, reply, Session, WIDGET};

/// The business's own website on another origin, with the widget's one tag,
/// and a page wider than the screen.
async fn website(listener: tokio::net::TcpListener, widget_src: String, business_id: String) {
    let html = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Bob's Plumbing</title></head><body><header><h1>Bob's Plumbing</h1></header><main><p>We fix pipes.</p>
<div style="width:2400px;height:20px" aria-hidden="true"></div></main>
<script src="{widget_src}" data-business="{business_id}" async></script></body></html>"#
    );
    let route = warp::path::end().map(move || warp::reply::html(html.clone()));
    tokio::spawn(warp::serve(route).incoming(listener).run());
}

async fn open_widget(b: &Session) {
    b.wait_for(&format!("const h = document.querySelector('[data-frontdesk-widget]'); return h && {WIDGET}.querySelector('.launcher')"), "the widget").await;
    b.js(&format!("const p = {WIDGET}.querySelector('.panel'); if (p.hidden) {WIDGET}.querySelector('.launcher').click();")).await;
    b.wait_for(&format!("return !{WIDGET}.querySelector('.panel').hidden"), "the chat panel").await;
}

/// Every owner page, by path and screenshot name.
const PAGES: &[(&str, &str)] = &[
    ("/dashboard", "dashboard"),
    ("/leads", "leads"),
    ("/analytics", "analytics"),
    ("/settings/facts", "facts"),
    ("/settings/agent", "agent"),
    ("/knowledge", "knowledge"),
    ("/settings/voice", "voice"),
    ("/settings/notifications", "notifications"),
    ("/settings/emergency?message=my+basement+is+flooding", "emergency"),
    ("/settings/widget", "widget"),
    ("/settings/business", "business"),
    ("/settings/plan", "plan"),
    ("/account", "account"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_owner_gets_live_in_the_first_hour() {
    if !available("a_new_owner_gets_live_in_the_first_hour") {
        return;
    }
    let Some(driver) = driver_with_env(&[("TZ", "America/Chicago")]) else { return };
    let axe = axe_source();
    let mut violations: Vec<String> = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpServer::start(dir.path(), None);
    let mut env: Vec<(&str, String)> = smtp.env();
    env.extend([
        ("FRONTDESK_NOTIFY_POLL_MS", "100".to_string()),
        ("FRONTDESK_NOTIFY_NEW_LEAD_DELAY_SECS", "0".to_string()),
        ("CHAT_RATE_LIMIT_PER_IP", "0".to_string()),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let ui = Ui::empty(&env);
    let b = Session::start(&driver).await;

    // Setup: the time zone comes from the browser; the country is asked.
    b.go(&ui.url("/")).await;
    b.wait_path("/setup").await;
    let zone = b.js("return document.getElementById('f-timezone').value").await;
    assert_eq!(zone, "America/Chicago", "the browser's zone is preselected");
    b.screenshot("journey-setup.png").await;
    if let Some(axe) = &axe {
        violations.extend(b.axe(axe, "/setup").await);
    }
    // The owner types the code `serve` printed on its console.
    b.fill("#f-setup_token", &ui.server.setup_token()).await;
    b.fill("#f-name", "Bob's Plumbing").await;
    b.js("document.getElementById('f-country').value = 'US'").await;
    b.fill("#f-email", "bob@bobs-plumbing.example").await;
    b.fill("#f-password", PASSWORD).await;
    b.fill("#f-confirm_password", PASSWORD).await;
    b.click("form[action='/setup'] button[type=submit]").await;
    b.wait_path("/dashboard").await;

    // The checklist: alerts already reach the owner (their email, a real mail server).
    let steps = b.js("return Array.from(document.querySelectorAll('#checklist li')).map(l => l.className + ':' + l.dataset.step)").await;
    assert_eq!(
        steps,
        json!(["done:/settings/notifications", "todo:/settings/facts", "todo:/settings/widget"]),
        "FREE: no phone step"
    );
    let business = ui.store().list_businesses().await.unwrap()[0].business.id.clone();

    // Facts.
    b.go(&ui.url("/settings/facts")).await;
    for (day, hours) in
        [("monday", "7am-6pm"), ("tuesday", "7am-6pm"), ("saturday", "8am-2pm"), ("sunday", "closed")]
    {
        b.fill(&format!("#f-hours-{day}"), hours).await;
    }
    b.fill("#f-service_area", "Lakemont and towns within 25 miles").await;
    b.fill("#f-prices", "The call-out fee is $89, then $120 an hour.").await;
    b.click("#facts-form button[type=submit]").await;
    flash(&b, "Facts saved").await;

    // A test chat in the preview: answered from the facts, never alerts.
    b.go(&ui.url("/settings/agent")).await;
    open_widget(&b).await;
    b.type_message("Are you open on Saturdays?").await;
    let answer = reply(&b, 1).await;
    assert!(answer.contains("8am to 2pm"), "{answer}");
    b.type_message("My basement is flooding!").await;
    let answer = reply(&b, 2).await;
    assert!(answer.contains("test conversation, so nobody is alerted"), "{answer}");
    b.screenshot("journey-test-chat.png").await;
    let token = ui.token("bob@bobs-plumbing.example").await;
    let (_, outbox) = ui.api(&token, "GET", "/api/admin/notifications", None).await;
    assert_eq!(outbox["total"], 0, "a test alerts nobody: {outbox}");

    // The owner's site, on another origin, gets the widget.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let site = format!("http://localhost:{}", addr.port());
    website(listener, ui.url("/widget.js"), String::from(business.clone())).await;
    b.go(&ui.url("/settings/widget")).await;
    // Typed as an owner copies it from the address bar (a page, a trailing slash).
    b.fill("#f-website_origins", &format!("{site}/contact")).await;
    b.click("form[action='/settings/widget'] button[type=submit]").await;
    flash(&b, "Sites saved").await;

    // A real visitor with a real emergency: the owner is alerted and gets their details.
    b.go(&site).await;
    open_widget(&b).await;
    let fits = b
        .js(&format!("const r = {WIDGET}.querySelector('.launcher').getBoundingClientRect(); return r.right <= window.innerWidth && r.bottom <= window.innerHeight"))
        .await;
    assert_eq!(fits, true, "the launcher stays on screen on a page that scrolls sideways");
    if let Some(axe) = &axe {
        violations.extend(b.axe(axe, "the open widget").await);
    }
    let script = [
        "A pipe burst and water is pouring through the ceiling",
        "Marcus Lee",
        "312-555-0177",
        "22 Elm Street, Lakemont",
    ];
    for (i, say) in script.iter().enumerate() {
        b.type_message(say).await;
        let answer = reply(&b, i + 1).await;
        if i == 0 {
            assert!(answer.contains("I've alerted"), "{answer}");
        }
    }
    b.screenshot("journey-real-chat.png").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let found = smtp.raw_messages().iter().any(|raw| {
            let text = String::from_utf8_lossy(raw);
            text.contains("Marcus Lee") && text.contains("(312) 555-0177") && text.contains("22 Elm Street")
        });
        if found {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the owner's email with the caller's details never came"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The lead card, read in ten seconds: the problem, the address, a call button.
    b.go(&ui.url("/dashboard")).await;
    assert_eq!(b.js("return document.getElementById('checklist') === null").await, true, "every step done");
    b.go(&ui.url("/leads")).await;
    b.click("table.leads tbody tr td a").await;
    b.wait_for(
        "return location.pathname.startsWith('/leads/') && document.getElementById('lead-summary')",
        "the lead",
    )
    .await;
    assert_eq!(
        b.js("return document.getElementById('lead-summary').textContent").await,
        "water leak or flooding"
    );
    assert_eq!(
        b.js("return document.getElementById('lead-phone').getAttribute('href')").await,
        "tel:+13125550177"
    );
    assert_eq!(b.js("return document.getElementById('lead-phone').textContent").await, "Call (312) 555-0177");
    assert_eq!(
        b.js("return document.getElementById('lead-address').textContent").await,
        "22 Elm Street, Lakemont"
    );
    let lead_path = b.js("return location.pathname").await.as_str().unwrap().to_string();
    b.screenshot("journey-lead.png").await;
    let csv = b
        .js_async("fetch('/leads/export.csv', { credentials: 'same-origin' }).then(r => r.text()).then(done)")
        .await;
    let csv = csv.as_str().unwrap();
    assert!(csv.contains(",+13125550177,"), "a phone number stays readable: {csv}");
    assert!(!csv.contains("emergency_reasons"), "{csv}");

    // Every owner page, at desktop size and on a phone, with axe-core.
    let mut pages: Vec<(String, String)> =
        PAGES.iter().map(|(p, n)| (p.to_string(), n.to_string())).collect();
    pages.push((lead_path, "lead".into()));
    for (width, height, size) in [(1280, 900, "desktop"), (390, 844, "phone")] {
        b.size(width, height).await;
        for (path, name) in &pages {
            b.go(&ui.url(path)).await;
            b.wait_for("return document.readyState === 'complete'", path).await;
            b.screenshot(&format!("journey-{name}-{size}.png")).await;
            let fits = b.js("return document.documentElement.scrollWidth <= window.innerWidth + 1").await;
            if fits != json!(true) {
                violations.push(format!("{path} ({size}): the page scrolls sideways"));
            }
            if let Some(axe) = &axe {
                violations.extend(b.axe(axe, &format!("{path} ({size})")).await);
            }
        }
    }
    // The phone menu folds and opens.
    b.go(&ui.url("/dashboard")).await;
    let hidden = b.js("return getComputedStyle(document.getElementById('main-nav')).display").await;
    assert_eq!(hidden, "none", "the menu is folded on a phone");
    b.click(".menu-toggle").await;
    let shown = b.js("return getComputedStyle(document.getElementById('main-nav')).display").await;
    assert_ne!(shown, "none");
    b.screenshot("journey-menu-phone.png").await;
    // The pages anyone may see before signing in.
    b.click("form[action='/logout'] button").await;
    b.wait_path("/login").await;
    for path in ["/login", "/forgot-password"] {
        b.go(&ui.url(path)).await;
        if let Some(axe) = &axe {
            violations.extend(b.axe(axe, path).await);
        }
    }
    b.quit().await;
    assert!(
        violations.is_empty(),
        "pages that scroll sideways, and axe-core's WCAG 2 A/AA violations:\n{}",
        violations.join("\n")
    );
}
