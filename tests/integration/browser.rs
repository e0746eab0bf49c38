//! A real headless Chromium, driven over WebDriver, loads a page on another
//! origin that embeds the widget with its one script tag, and completes a
//! lead conversation by typing into it.

use std::net::SocketAddr;

use serde_json::json;
use warp::Filter;

use crate::support::chat::Chat;
use crate::support::webdriver::{driver, Session};
use frontdesk::ids::BusinessId;

/// Serves the host page from its own origin, with aggressive styles of its own.
async fn host_page(listener: tokio::net::TcpListener, widget_src: String, business_id: String) {
    let html = format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>Test Plumbing</title>
<style>* {{ font-family: Georgia, serif; }} button {{ background: lime !important; border: 5px dashed red; }}
div {{ color: purple; }} h1 {{ color: rgb(10, 20, 30); }}</style></head>
<body><h1 id="title">Test Plumbing — since 1984</h1><p>We fix pipes.</p>
<button id="own">The page's own button</button>
<script src="{widget_src}" data-business="{business_id}" async></script></body></html>"#
    );
    let route = warp::path::end().map(move || warp::reply::html(html.clone()));
    tokio::spawn(warp::serve(route).incoming(listener).run());
}

const LAST_AGENT: &str = "const m = document.querySelector('[data-frontdesk-widget]').shadowRoot.querySelectorAll('.msg.agent:not(.typing)'); \
     return m.length ? m[m.length - 1].textContent : null;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_completes_a_lead_in_a_real_browser() {
    let Some(driver) = driver() else { return };
    // The host site is another origin, allowed through WIDGET_TEST_URL.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let site = format!("http://localhost:{}", addr.port());
    let chat = Chat::start_with(&[("WIDGET_TEST_URL", &site)]);
    host_page(listener, chat.server.url("/widget.js"), chat.business_id.clone()).await;

    let browser = Session::start(&driver).await;
    browser.go(&site).await;
    browser
        .wait_for("const h = document.querySelector('[data-frontdesk-widget]'); return h && h.shadowRoot && h.shadowRoot.querySelector('.launcher');", "the launcher")
        .await;
    let label = browser.js("return document.querySelector('[data-frontdesk-widget]').shadowRoot.querySelector('.launcher').getAttribute('aria-label')").await;
    assert_eq!(label, "Open chat with Pip");
    browser
        .js("document.querySelector('[data-frontdesk-widget]').shadowRoot.querySelector('.launcher').click()")
        .await;
    let welcome = browser.wait_for(LAST_AGENT, "the welcome message").await;
    assert_eq!(welcome, "Hi, I'm Pip. How can I help?");

    let script = [
        ("My kitchen sink is dripping", "May I have your name?"),
        ("Dana Smith", "best number"),
        ("312-555-0142", "email"),
        ("dana@example.com", "address"),
        ("12 Elm Street", "Thank you"),
    ];
    for (i, (say, expect)) in script.iter().enumerate() {
        browser.type_message(say).await;
        let check = format!(
            "const r = document.querySelector('[data-frontdesk-widget]').shadowRoot; \
             const v = r.querySelectorAll('.msg.visitor').length; const a = r.querySelectorAll('.msg.agent:not(.typing)'); \
             return v === {n} && a.length === {n} + 1 && !a[a.length - 1].textContent.startsWith('\u{2026}') ? a[a.length - 1].textContent : null;",
            n = i + 1
        );
        let reply = browser.wait_for(&check, &format!("the reply to {say:?}")).await;
        assert!(reply.as_str().unwrap().contains(expect), "after {say:?}: {reply}");
    }
    browser
        .wait_for(
            "return document.querySelector('[data-frontdesk-widget]').shadowRoot.querySelector('.restart')",
            "the restart link",
        )
        .await;
    let shot = browser.screenshot("widget-lead-complete.png").await;
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);

    // The host page is untouched by the widget's styles.
    let title = browser.js("return getComputedStyle(document.getElementById('title')).color").await;
    assert_eq!(title, "rgb(10, 20, 30)");
    let launcher_bg = browser
        .js("return getComputedStyle(document.querySelector('[data-frontdesk-widget]').shadowRoot.querySelector('.launcher')).backgroundColor")
        .await;
    assert_ne!(launcher_bg, "rgb(0, 255, 0)", "the page's button styles do not leak in");

    // The conversation survives a reload on the same site.
    browser.go(&site).await;
    let restored = browser
        .wait_for("const h = document.querySelector('[data-frontdesk-widget]'); return h && h.shadowRoot.querySelectorAll('.msg.visitor').length", "the restored conversation")
        .await;
    assert_eq!(restored, 5);

    // On a phone-sized screen the open panel fills it.
    browser.cmd(reqwest::Method::POST, "/window/rect", json!({ "width": 390, "height": 844 })).await;
    browser.go(&site).await;
    let fills = browser
        .wait_for(
            "const h = document.querySelector('[data-frontdesk-widget]'); if (!h) return null; \
             const p = h.shadowRoot.querySelector('.panel'); if (p.hidden) { h.shadowRoot.querySelector('.launcher').click(); return null; } \
             const r = p.getBoundingClientRect(); return r.width >= window.innerWidth - 1 && r.height >= window.innerHeight - 1;",
            "the full-screen panel",
        )
        .await;
    assert_eq!(fills, true);
    browser.screenshot("widget-phone.png").await;
    browser.quit().await;

    // And the lead is in the database.
    let store = chat.store();
    let leads = store.leads(&BusinessId::from(&chat.business_id)).await.unwrap();
    assert_eq!(leads.len(), 1);
    let lead = &leads[0];
    assert_eq!(lead.contact_name.as_deref(), Some("Dana Smith"));
    assert_eq!(lead.contact_phone.as_deref(), Some("+13125550142"));
    assert_eq!(lead.address.as_deref(), Some("12 Elm Street"));
    let transcript = store.transcript(lead.conversation_id.as_ref().unwrap()).await.unwrap();
    assert_eq!(transcript.len(), 10);
}
