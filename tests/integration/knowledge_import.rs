//! Knowledge imported from files and websites (issue 14), on the real
//! binary: a PDF, a DOCX and an HTML page made here, each imported through
//! the admin API as a background job and answered from through /api/chat by
//! the built-in engine; and a crawl of a small site served by this test.

use std::time::{Duration, Instant};

use frontdesk::ids::BusinessId;
use frontdesk::store::KnowledgeQuery;
use serde_json::{json, Value};

use crate::support::fake_documents::{docx, pdf, Block};
use crate::support::fake_site::{page, Reply, Site};
use crate::support::ui::*;

/// A BASIC business with an owner, served with the crawler allowed onto
/// loopback (the test site) and no pause between fetches.
async fn basic_business() -> (Ui, String, String) {
    let ui = Ui::empty(&[("FRONTDESK_ALLOW_LOOPBACK_CRAWL", "true"), ("FRONTDESK_CRAWL_DELAY_MS", "0")]);
    let b = ui.business("Acme Plumbing", "BASIC");
    ui.user("owner@acme.example", "owner", Some(&b));
    let token = ui.token("owner@acme.example").await;
    (ui, b, token)
}

async fn upload(ui: &Ui, token: &str, name: &str, bytes: Vec<u8>) -> (u16, Value) {
    let res = ui
        .http
        .post(ui.url(&format!("/api/admin/knowledge/files?name={name}")))
        .bearer_auth(token)
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Waits for a job to finish; returns it.
async fn finished(ui: &Ui, token: &str, job: &Value) -> Value {
    let id = job["id"].as_str().unwrap_or_else(|| panic!("no job id: {job}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, job) = ui.api(token, "GET", &format!("/api/admin/knowledge/imports/{id}"), None).await;
        assert_eq!(status, 200, "{job}");
        if matches!(job["state"].as_str(), Some("done" | "failed")) {
            return job;
        }
        assert!(Instant::now() < deadline, "import still {job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn import_ok(ui: &Ui, token: &str, name: &str, bytes: Vec<u8>) -> Value {
    let (status, job) = upload(ui, token, name, bytes).await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["state"], "queued", "{job}");
    let job = finished(ui, token, &job).await;
    assert_eq!(job["state"], "done", "{name}: {job}");
    job
}

/// The built-in engine's reply to one question in a fresh conversation.
async fn ask(ui: &Ui, business: &str, question: &str) -> String {
    let (status, body) = ui.chat(business, question).await;
    assert_eq!(status, 200);
    body["reply"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn pdf_docx_and_html_files_are_imported_and_answered_from() {
    let (ui, b, token) = basic_business().await;

    // A PDF of three pages, the middle one without a text layer (a scan).
    let brochure = pdf(&[
        vec!["Acme Plumbing brochure".into(), "We have served the county since 1987.".into()],
        vec![],
        vec!["Backflow testing".into(), "Annual backflow preventer testing costs $145 per device.".into()],
    ]);
    let job = import_ok(&ui, &token, "brochure.pdf", brochure).await;
    assert!(job["detail"].as_str().unwrap().contains("page(s) 2 have no text layer"), "{job}");
    let reply = ask(&ui, &b, "How much does backflow preventer testing cost?").await;
    assert!(reply.contains("$145"), "PDF answer: {reply}");

    // A Word file: a heading over a paragraph, and a price table.
    let faq = docx(&[
        Block::Para("Title", "Acme FAQ"),
        Block::Para("Heading1", "Warranty"),
        Block::Para("", "Every water heater we install carries a six-year parts warranty."),
        Block::Table(vec![vec!["Service", "Price"], vec!["Sewer camera inspection", "$275"]]),
    ]);
    import_ok(&ui, &token, "faq.docx", faq).await;
    let reply = ask(&ui, &b, "Is there a warranty on a water heater you install?").await;
    assert!(reply.contains("six-year"), "DOCX answer: {reply}");
    let reply = ask(&ui, &b, "What is the price of a sewer camera inspection?").await;
    assert!(reply.contains("$275"), "DOCX table answer: {reply}");
    // The heading is the chunk's title.
    let store = ui.store();
    let found = store
        .search_knowledge(
            &BusinessId::from(&b),
            &KnowledgeQuery { text: "water heater warranty".into(), embedding: None, limit: 1 },
        )
        .await
        .unwrap();
    assert_eq!(found[0].title, "Acme FAQ — Warranty", "{found:?}");

    // An HTML file: the boilerplate around the text is left out.
    let html = page("Gift certificates", "<p>Gift certificates are sold in amounts of $50 and $100.</p>");
    import_ok(&ui, &token, "gifts.html", html.into_bytes()).await;
    let reply = ask(&ui, &b, "Do you sell gift certificates?").await;
    assert!(reply.contains("$50"), "HTML answer: {reply}");
    let docs = store.knowledge_entries(&BusinessId::from(&b)).await.unwrap();
    let gifts = docs.iter().find(|d| d.title == "Gift certificates").expect("the HTML document");
    for boilerplate in ["cookies", "nav-secret", "All rights reserved", "About us"] {
        assert!(!gifts.content.contains(boilerplate), "{boilerplate} kept: {}", gifts.content);
    }

    // Refusals are 4xx JSON, and a failed import leaves nothing behind.
    let before = store.knowledge_entries(&BusinessId::from(&b)).await.unwrap().len();
    let (status, e) = upload(&ui, &token, "big.txt", vec![b'a'; 10 * 1024 * 1024 + 1]).await;
    assert_eq!(status, 413, "{e}");
    assert!(e["error"].as_str().unwrap().contains("10 MB"), "{e}");
    let (status, e) = upload(&ui, &token, "setup.exe", b"MZ".to_vec()).await;
    assert_eq!(status, 400, "{e}");
    let (status, job) = upload(&ui, &token, "scan.pdf", pdf(&[vec![], vec![]])).await;
    assert_eq!(status, 202);
    let job = finished(&ui, &token, &job).await;
    assert_eq!(job["state"], "failed", "{job}");
    assert!(job["detail"].as_str().unwrap().contains("no text layer"), "{job}");
    let (_, job) = upload(&ui, &token, "broken.docx", b"PK not really a zip".to_vec()).await;
    let job = finished(&ui, &token, &job).await;
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(
        store.knowledge_entries(&BusinessId::from(&b)).await.unwrap().len(),
        before,
        "a failed import added a document"
    );
    let (status, list) = ui.api(&token, "GET", "/api/admin/knowledge/imports", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["imports"].as_array().unwrap().len(), 5, "{list}");

    // Same plan gating as knowledge today: FREE may not import.
    ui.set_plan(&b, "FREE");
    let (status, e) = upload(&ui, &token, "more.html", b"<p>x</p>".to_vec()).await;
    assert_eq!(status, 403, "{e}");
    let (status, e) = ui
        .api(&token, "POST", "/api/admin/knowledge/web", Some(json!({"url": "https://example.com/"})))
        .await;
    assert_eq!(status, 403, "{e}");
}

/// The knowledge page's upload form takes a Word file as a background
/// import, and refuses one over 10 MB with a message on the page.
#[tokio::test]
async fn the_knowledge_page_imports_an_uploaded_word_file() {
    let (ui, b, token) = basic_business().await;
    let mut web = ui.sign_in("owner@acme.example").await;
    let csrf = web.csrf().await;
    let file = docx(&[
        Block::Para("Heading1", "Hours"),
        Block::Para("", "Our plumbers answer emergencies on Christmas Day."),
    ]);
    let (status, location, _) = web
        .post_file("/knowledge", &[("_csrf", &csrf), ("title", "")], ("file", "holidays.docx", &file))
        .await;
    assert_eq!(status, 303, "{location}");
    let (_, list) = ui.api(&token, "GET", "/api/admin/knowledge/imports", None).await;
    let job = finished(&ui, &token, &list["imports"][0]).await;
    assert_eq!(job["state"], "done", "{job}");
    let docs = ui.store().knowledge_entries(&BusinessId::from(&b)).await.unwrap();
    assert!(docs.iter().any(|d| d.title == "Hours" && d.content.contains("Christmas Day")), "{docs:?}");
    let page = web.get("/knowledge").await.1;
    assert!(page.contains("holidays.docx") && page.contains("data-state=\"done\""), "{page}");

    let big = vec![0u8; 10 * 1024 * 1024 + 10];
    let (status, _, page) =
        web.post_file("/knowledge", &[("_csrf", &csrf), ("title", "")], ("file", "huge.pdf", &big)).await;
    assert_eq!(status, 413, "{page}");
    assert!(page.contains("files of up to 10 MB can be imported"), "{page}");
}

/// The test site: a sitemap, robots.txt disallowing one page, a redirect
/// loop, a 404, a 20 MB page, a redirect to the metadata address and a link
/// to a private address.
fn build_site(site: &Site, prices: &str, with_about: bool) {
    site.set(
        "/robots.txt",
        Reply::Page(
            "text/plain",
            format!("User-agent: *\nDisallow: /private\nSitemap: {}\n", site.url("/sitemap.xml"))
                .into_bytes(),
        ),
    );
    let mut urls: Vec<String> = ["/", "/prices", "/private", "/loop", "/missing", "/huge", "/metadata"]
        .iter()
        .map(|p| site.url(p))
        .collect();
    urls.push("http://10.0.0.1/admin".into());
    if with_about {
        urls.push(site.url("/about"));
        site.html("/about", &page("About", "<p>Acme is family-run; three generations of plumbers.</p>"));
    } else {
        site.remove("/about");
    }
    site.sitemap(&urls);
    site.html(
        "/",
        &page(
            "Acme Plumbing",
            "<p>Plumbing for the whole county. <a href=\"http://10.0.0.1/\">Staff</a></p>",
        ),
    );
    site.html("/prices", &page("Prices", &format!("<p>A blocked drain is cleared for {prices}.</p>")));
    site.html("/private", &page("Staff rota", "<p>The staff rota is secret.</p>"));
    site.set("/loop", Reply::Redirect(site.url("/loop2")));
    site.set("/loop2", Reply::Redirect(site.url("/loop")));
    site.set("/huge", Reply::Page("text/html", vec![b'x'; 20 * 1024 * 1024]));
    site.set("/metadata", Reply::Redirect("http://169.254.169.254/latest/meta-data/".into()));
}

async fn crawl(ui: &Ui, token: &str, site: &Site) -> Value {
    let (status, job) = ui
        .api(token, "POST", "/api/admin/knowledge/web", Some(json!({ "url": site.url("/"), "site": true })))
        .await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["kind"], "site");
    finished(ui, token, &job).await
}

fn web_docs(docs: &[frontdesk::store::admin::KnowledgeEntry]) -> Vec<String> {
    let mut urls: Vec<String> = docs.iter().filter_map(|d| d.source_url.clone()).collect();
    urls.sort();
    urls
}

#[tokio::test]
async fn a_website_crawl_imports_exactly_the_allowed_pages_and_a_recrawl_follows_changes() {
    let (ui, b, token) = basic_business().await;
    let site = Site::start().await;
    build_site(&site, "$120", true);

    let job = crawl(&ui, &token, &site).await;
    assert_eq!(job["state"], "done", "{job}");
    let store = ui.store();
    let docs = store.knowledge_entries(&BusinessId::from(&b)).await.unwrap();
    let mut want = vec![site.url("/"), site.url("/about"), site.url("/prices")];
    want.sort();
    assert_eq!(web_docs(&docs), want, "{job}");
    let detail = job["detail"].as_str().unwrap();
    for why in [
        "disallowed by robots.txt",
        "HTTP 404",
        "too many redirects",
        "larger than",
        "169.254.169.254",
        "another site",
    ] {
        assert!(detail.contains(why), "{why} not in: {detail}");
    }
    let asked = site.requests();
    assert!(!asked.iter().any(|p| p.starts_with("/private")), "robots.txt not obeyed: {asked:?}");
    assert!(asked.first().is_some_and(|p| p == "/robots.txt"), "{asked:?}");
    let reply = ask(&ui, &b, "How much to clear a blocked drain?").await;
    assert!(reply.contains("$120"), "{reply}");
    let prices_chunks =
        docs.iter().find(|d| d.source_url.as_deref() == Some(&site.url("/prices"))).unwrap().chunks;
    assert!(prices_chunks >= 1);

    // The site changes: a new price, the About page gone.
    build_site(&site, "$135", false);
    let job = crawl(&ui, &token, &site).await;
    assert_eq!(job["state"], "done", "{job}");
    let detail = job["detail"].as_str().unwrap();
    assert!(detail.contains("0 added, 1 updated, 1 unchanged, 1 removed"), "{detail}");
    let docs = store.knowledge_entries(&BusinessId::from(&b)).await.unwrap();
    let mut want = vec![site.url("/"), site.url("/prices")];
    want.sort();
    assert_eq!(web_docs(&docs), want);
    let prices = docs.iter().find(|d| d.source_url.as_deref() == Some(&site.url("/prices"))).unwrap();
    assert!(prices.content.contains("$135") && !prices.content.contains("$120"), "{}", prices.content);
    let reply = ask(&ui, &b, "How much to clear a blocked drain?").await;
    assert!(reply.contains("$135"), "{reply}");
    let found = store
        .search_knowledge(
            &BusinessId::from(&b),
            &KnowledgeQuery { text: "family-run generations".into(), embedding: None, limit: 3 },
        )
        .await
        .unwrap();
    assert!(
        found.iter().all(|p| !p.text.contains("generations")),
        "a removed page is still searched: {found:?}"
    );

    // One page alone; an address inside the operator's network is refused before any fetch.
    let (status, job) =
        ui.api(&token, "POST", "/api/admin/knowledge/web", Some(json!({ "url": site.url("/prices") }))).await;
    assert_eq!(status, 202, "{job}");
    let job = finished(&ui, &token, &job).await;
    assert_eq!(job["state"], "done", "{job}");
    assert!(job["detail"].as_str().unwrap().contains("1 unchanged"), "{job}");
    for private in ["http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/", "http://[fd00::1]/"] {
        let (status, e) = ui
            .api(&token, "POST", "/api/admin/knowledge/web", Some(json!({ "url": private, "site": true })))
            .await;
        assert_eq!(status, 400, "{private}: {e}");
        assert!(e["error"].as_str().unwrap().contains("private or internal"), "{e}");
    }
}

/// In a real headless Chromium: the owner adds their website from the
/// knowledge page and sees its pages indexed, by source, with the import done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_imports_their_website_from_the_knowledge_page() {
    let Some(driver) = crate::support::webdriver::driver() else { return };
    let (ui, _b, _token) = basic_business().await;
    let site = Site::start().await;
    build_site(&site, "$120", true);
    let s = crate::support::webdriver::Session::start(&driver).await;
    s.go(&ui.url("/login")).await;
    s.fill("#f-email", "owner@acme.example").await;
    s.fill("#f-password", crate::support::instance::PASSWORD).await;
    s.click("form[action='/login'] button[type=submit]").await;
    s.wait_path("/dashboard").await;

    s.go(&ui.url("/knowledge")).await;
    s.fill("#f-url", &site.url("/")).await;
    s.click("#f-site").await;
    s.click("#add-web button[type=submit]").await;
    s.wait_path("/knowledge").await;
    s.wait_for(
        "const f = document.querySelector('.flash'); return f && f.textContent.includes('Importing');",
        "the import's flash",
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        s.go(&ui.url("/knowledge")).await;
        let state = s
            .js("const r = document.querySelector('#imports tbody tr'); return r ? r.dataset.state : null;")
            .await;
        if state == "done" {
            break;
        }
        assert_ne!(state, "failed", "{}", s.body_text().await);
        assert!(Instant::now() < deadline, "the import is still {state}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let prices = "#docs tr[data-source$='/prices']";
    let chunks =
        s.js(&format!("return Number(document.querySelector(\"{prices} [data-chunks]\").textContent)")).await;
    assert!(chunks.as_u64().unwrap_or(0) >= 1, "{chunks}");
    let preview =
        s.js(&format!("return document.querySelector(\"{prices} [data-preview]\").textContent")).await;
    assert!(preview.as_str().unwrap().contains("$120"), "{preview}");
    let text = s.body_text().await;
    assert!(text.contains("3 added"), "{text}");
    assert!(!text.contains("Staff rota"), "a page robots.txt disallows was imported");
    s.screenshot("ui-knowledge-website.png").await;
    s.quit().await;
}

/// A business file whose `[[knowledge]]` entries name a DOCX and a PDF beside
/// it: `business import` on the real binary reads them, and the chat answers
/// from each.
#[tokio::test]
async fn business_file_knowledge_entries_read_docx_and_pdf_files() {
    let fd = crate::support::instance::Instance::new();
    let dir = fd.dir.path().join("acme");
    std::fs::create_dir_all(dir.join("docs")).unwrap();
    let faq = docx(&[
        Block::Para("Title", "Acme FAQ"),
        Block::Para("Heading1", "Warranty"),
        Block::Para("", "Every water heater we install carries a six-year parts warranty."),
    ]);
    std::fs::write(dir.join("docs/faq.docx"), faq).unwrap();
    let brochure = pdf(&[vec![
        "Backflow testing".into(),
        "Annual backflow preventer testing costs $145 per device.".into(),
    ]]);
    std::fs::write(dir.join("brochure.pdf"), brochure).unwrap();
    let file = dir.join("business.toml");
    std::fs::write(
        &file,
        "[business]\nname = \"Acme Plumbing\"\nbusiness_type = \"PLUMBING\"\nplan_tier = \"BASIC\"\n\n\
         [[knowledge]]\nfile = \"docs/faq.docx\"\n\n\
         [[knowledge]]\ntitle = \"Brochure\"\nfile = \"brochure.pdf\"\n",
    )
    .unwrap();
    // Run from elsewhere: the paths are relative to the file, not the directory we are in.
    let mut cmd = fd.command();
    cmd.current_dir(fd.dir.path()).args(["business", "import", file.to_str().unwrap()]);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", crate::support::instance::stderr(&out));
    let b = crate::support::instance::stdout(&out).trim().to_string();

    // Titles: the DOCX's own, and the entry's.
    let docs = fd.store().knowledge_entries(&BusinessId::from(&b)).await.unwrap();
    let titles: Vec<&str> = docs.iter().map(|d| d.title.as_str()).collect();
    assert_eq!(titles.len(), 2, "{titles:?}");
    assert!(titles.contains(&"Acme FAQ") && titles.contains(&"Brochure"), "{titles:?}");

    let server = fd.serve(&[]);
    let http = reqwest::Client::new();
    for (question, answer) in [
        ("Is there a warranty on a water heater you install?", "six-year"),
        ("How much does backflow preventer testing cost?", "$145"),
    ] {
        let res = http
            .post(server.url("/api/chat"))
            .json(&json!({ "businessId": b, "message": question }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        let reply = body["reply"].as_str().unwrap_or_default();
        assert!(reply.contains(answer), "{question} -> {reply}");
    }
    drop(server);

    // The export holds the text; it imports back unchanged without the files.
    let exported = fd.ok(&["business", "export", &b]);
    let copy = fd.dir.path().join("exported.toml");
    std::fs::write(&copy, &exported).unwrap();
    assert_eq!(fd.ok(&["business", "import", copy.to_str().unwrap()]), b);
    assert_eq!(fd.ok(&["business", "export", &b]), exported);
}

/// Bad `file` entries stop the import, naming the entry, the field and the
/// file; nothing is written.
#[test]
fn bad_business_file_knowledge_entries_fail_naming_the_entry() {
    let fd = crate::support::instance::Instance::new();
    let id = fd.import_demo();
    let before = fd.ok(&["business", "export", &id]);
    std::fs::write(fd.dir.path().join("notes.txt"), "Open weekdays.").unwrap();
    let file = fd.dir.path().join("bad.toml");
    let head = "[business]\nname = \"Acme Plumbing & Drain\"\nbusiness_type = \"PLUMBING\"\n\
                twilio_phone_number = \"+13125550100\"\n\n[[knowledge]]\ntitle = \"Notes\"\ncontent = \"Hi.\"\n\n";
    for (entry, expected) in [
        ("[[knowledge]]\nfile = \"missing.pdf\"\n", ["line 11", "knowledge[2].file", "missing.pdf"]),
        (
            "[[knowledge]]\nfile = \"notes.txt\"\ncontent = \"Also this.\"\n",
            ["line 11", "knowledge[2].file", "not both"],
        ),
        ("[[knowledge]]\nfile = \"price-list.xlsx\"\n", ["line 11", "knowledge[2].file", "price-list.xlsx"]),
    ] {
        std::fs::write(&file, format!("{head}{entry}")).unwrap();
        let out = fd.run(&["business", "import", file.to_str().unwrap()]);
        assert!(!out.status.success(), "{entry}");
        let err = crate::support::instance::stderr(&out);
        for e in expected {
            assert!(err.contains(e), "missing {e:?} for {entry:?} in:\n{err}");
        }
        assert!(err.contains("nothing was imported"), "{err}");
    }
    assert_eq!(fd.ok(&["business", "export", &id]), before, "stored data unchanged");
}
