//! The owner's main journeys in a real headless Chromium against the real
//! binary: first-run setup, signing in, questions (and the FREE limit),
//! a knowledge document answered in the live widget preview, the lead and
//! its transcript, its status, the CSV export, the analytics charts and a
//! test notification kept in the local email outbox.
//! Screenshots of each main page go to `target/test-artifacts/ui-*.png`.

use serde_json::json;

use crate::support::instance::PASSWORD;
use crate::support::ui::Ui;
use crate::support::webdriver::{driver, flash, reply, Session, WIDGET};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_runs_the_business_from_a_real_browser() {
    let Some(driver) = driver() else { return };
    let ui = Ui::empty(&[]);
    let b = Session::start(&driver).await;

    // First run: the setup page.
    b.go(&ui.url("/")).await;
    b.wait_path("/setup").await;
    b.screenshot("ui-setup.png").await;
    // The operator types the code `serve` printed on its console.
    b.fill("#f-setup_token", &ui.server.setup_token()).await;
    b.fill("#f-name", "Bob's Plumbing").await;
    b.js("document.getElementById('f-business_type').value = 'PLUMBING'").await;
    b.js("document.getElementById('f-timezone').value = 'America/Chicago'").await;
    b.fill("#f-email", "bob@example.com").await;
    b.fill("#f-password", PASSWORD).await;
    b.fill("#f-confirm_password", PASSWORD).await;
    b.click("form[action='/setup'] button[type=submit]").await;
    b.wait_path("/dashboard").await;
    flash(&b, "Your business is ready").await;
    let business = ui.store().list_businesses().await.unwrap()[0].business.id.clone();

    // Sign out and in again.
    b.click("form[action='/logout'] button").await;
    b.wait_path("/login").await;
    b.fill("#f-email", "bob@example.com").await;
    b.fill("#f-password", PASSWORD).await;
    b.click("form[action='/login'] button[type=submit]").await;
    b.wait_path("/dashboard").await;
    b.screenshot("ui-dashboard-empty.png").await;

    // Questions: a fifth one reaches the FREE limit; then move the first down.
    b.go(&ui.url("/settings/agent")).await;
    b.fill("#qt-new", "Which service do you need?").await;
    b.click("#add-question button[type=submit]").await;
    flash(&b, "Question added.").await;
    assert_eq!(b.js("return document.querySelectorAll('ol.questions > li').length").await, 5);
    assert_eq!(b.js("return document.querySelector('#add-question fieldset').disabled").await, true);
    assert!(b.body_text().await.contains("The FREE plan includes 5 lead questions"), "upgrade hint");
    b.screenshot("ui-agent-free-limit.png").await;
    b.js("document.querySelectorAll('ol.questions > li')[0].querySelectorAll('.q-actions form')[1].querySelector('button').click()").await;
    flash(&b, "Order saved.").await;
    let first = b.js("return document.querySelector('ol.questions > li .q-text').textContent").await;
    assert_eq!(first, "What is the best phone number to reach you?");

    // The operator moves the business to BASIC; the owner adds a document.
    ui.set_plan(&business, "BASIC");
    b.go(&ui.url("/knowledge")).await;
    b.fill("#f-title", "Opening hours").await;
    b.fill("#f-content", "We are open on Saturdays from 8am to 2pm. On Sundays we are closed.").await;
    b.click("#add-doc button[type=submit]").await;
    flash(&b, "Added “Opening hours”").await;
    assert_eq!(b.js("return document.querySelector('[data-chunks]').textContent").await, "1");
    b.screenshot("ui-knowledge.png").await;

    // The live preview: colours follow the form; the widget answers from the document.
    b.go(&ui.url("/settings/agent")).await;
    b.wait_for(&format!("const h = document.querySelector('[data-frontdesk-widget]'); return h && {WIDGET}.querySelector('.launcher')"), "the widget").await;
    b.js("const c = document.getElementById('f-color_primary'); c.value = '#16a34a'; c.dispatchEvent(new Event('input', { bubbles: true }));").await;
    let colour =
        b.js("return document.querySelector('[data-frontdesk-widget]').style.getPropertyValue('--p')").await;
    assert_eq!(colour, "#16a34a", "the preview follows the colour as it is typed");
    b.click("[data-widget-open]").await;
    b.wait_for(&format!("return !{WIDGET}.querySelector('.panel').hidden"), "the chat panel").await;
    b.type_message("Are you open on Saturdays?").await;
    let answer = reply(&b, 1).await;
    assert!(answer.contains("8am"), "answered from the new document: {answer}");
    b.type_message("I'm Dana Smith, 312-555-0142, my kitchen sink is leaking").await;
    reply(&b, 2).await;
    b.screenshot("ui-agent-preview.png").await;

    // The lead arrives with its transcript; its status changes.
    b.go(&ui.url("/leads")).await;
    b.wait_for("return document.body.innerText.includes('Dana Smith')", "the lead in the list").await;
    b.screenshot("ui-leads.png").await;
    b.click("table.leads tbody tr td a").await;
    b.wait_for(
        "return location.pathname.startsWith('/leads/') && document.querySelector('.transcript')",
        "the lead page",
    )
    .await;
    let page = b.body_text().await;
    assert!(page.contains("Are you open on Saturdays?") && page.contains("8am"), "the transcript");
    assert!(page.contains("+13125550142"), "the phone number");
    b.js("document.getElementById('f-status').value = 'CONTACTED'").await;
    b.click("form[action$='/status'] button[type=submit]").await;
    flash(&b, "Status changed to CONTACTED").await;
    b.screenshot("ui-lead.png").await;

    // CSV export with the session cookie.
    let csv = b
        .js_async("fetch('/leads/export.csv', { credentials: 'same-origin' }).then(r => r.text()).then(done)")
        .await;
    let csv = csv.as_str().unwrap();
    assert!(csv.starts_with("id,created,channel,status,priority,name"), "{csv}");
    assert!(csv.contains("CONTACTED") && csv.contains("Dana Smith"), "{csv}");

    // Analytics: a chart on BASIC, all seven on PRO.
    b.go(&ui.url("/analytics")).await;
    assert_eq!(b.js("return document.querySelectorAll('svg.chart').length").await, 1);
    ui.set_plan(&business, "PRO");
    b.go(&ui.url("/analytics")).await;
    assert_eq!(b.js("return document.querySelectorAll('svg.chart').length").await, 7);
    assert_eq!(b.js("return document.querySelector('[data-stat=period-leads]').textContent").await, "1");
    b.screenshot("ui-analytics.png").await;
    for (path, name) in [
        ("/settings/voice", "ui-voice.png"),
        ("/settings/widget", "ui-widget.png"),
        ("/settings/emergency?message=my+basement+is+flooding", "ui-emergency.png"),
        ("/dashboard", "ui-dashboard.png"),
    ] {
        b.go(&ui.url(path)).await;
        b.wait_for("return document.readyState === 'complete'", path).await;
        b.screenshot(name).await;
    }
    assert!(b.body_text().await.contains("Dana Smith"), "the dashboard lists the lead");
    b.go(&ui.url("/settings/emergency?message=my+basement+is+flooding")).await;
    let triage = b.js("return document.getElementById('triage-result').textContent").await;
    assert!(triage.as_str().unwrap().contains("URGENT"), "{triage}");

    // Notifications: an address, a test email, kept on this server (no SMTP).
    b.go(&ui.url("/settings/notifications")).await;
    b.fill("#f-notification_email", "bob@example.com").await;
    b.click("#addresses button[type=submit]").await;
    flash(&b, "Notification settings saved.").await;
    b.click("#send-test button[value=email]").await;
    flash(&b, "Test email kept on this server — not emailed").await;
    b.wait_for(
        "const d = document.querySelector('#local-emails details'); \
         const sent = document.querySelector('tr[data-kind=test][data-state=kept]'); \
         if (!(d && sent) && document.readyState === 'complete') location.reload(); \
         return d && sent && d.textContent.includes('Test notification from frontdesk');",
        "the test email sent to the local outbox",
    )
    .await;
    b.click("#local-emails summary").await;
    assert_eq!(b.js("return document.querySelector('#local-emails pre.email').offsetHeight > 0").await, true);
    b.js("document.getElementById('outbox').scrollIntoView()").await;
    b.screenshot("ui-notifications.png").await;

    // On a phone the pages fit the screen.
    b.cmd(reqwest::Method::POST, "/window/rect", json!({ "width": 390, "height": 844 })).await;
    for path in ["/settings/agent", "/leads", "/settings/notifications", "/dashboard"] {
        b.go(&ui.url(path)).await;
        let fits = b.js("return document.documentElement.scrollWidth <= window.innerWidth + 1").await;
        assert_eq!(fits, true, "{path} scrolls sideways on a phone");
    }
    b.screenshot("ui-dashboard-phone.png").await;
    b.quit().await;
}
