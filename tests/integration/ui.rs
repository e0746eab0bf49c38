//! The owner's pages over real HTTP: first-run setup, signing in and out,
//! throttling, CSRF, bad input shown on the page with nothing saved, roles
//! and plan hints.

use crate::support::instance::PASSWORD;
use crate::support::ui::*;
use frontdesk::ids::{BusinessId, LeadId};

/// Form fields, or headers: (name, value) pairs.
type Pairs<'a> = Vec<(&'a str, &'a str)>;

#[tokio::test]
async fn first_run_setup_login_logout_and_throttling() {
    let ui = Ui::empty(&[]);
    let mut web = Web { http: ui.http.clone(), base: ui.server.base.clone(), cookies: Vec::new() };
    let res = ui.http.get(ui.url("/")).send().await.unwrap();
    assert_eq!(res.headers()["location"], "/setup");
    let page = web.get("/setup").await.1;
    let token = hidden_csrf(&page);
    let code = ui.server.setup_token();

    // Bad input: every problem named next to its field, nothing created.
    let (status, _, body) = web
        .post(
            "/setup",
            &[
                ("_csrf", &token),
                ("setup_token", &code),
                ("name", "  "),
                ("business_type", "PLUMBING"),
                ("timezone", "Mars/Base"),
                ("email", "not-an-email"),
                ("password", "short"),
                ("confirm_password", "different"),
            ],
        )
        .await;
    assert_eq!(status, 400);
    for message in [
        "Business name: must not be empty",
        "Your email: not an email address",
        "Password: password must be at least 10",
        "Password again: does not match",
        "Time zone: expected UTC or a zone name",
    ] {
        assert!(body.contains(message), "missing {message:?} in the page");
    }
    assert!(!body.contains("short"), "passwords are not sent back");
    assert_eq!(ui.store().count_users().await.unwrap(), 0);

    // A form without the setup token is refused.
    let (status, _, _) = web.post("/setup", &[("name", "Bob's Plumbing")]).await;
    assert_eq!(status, 403);

    let (status, location, _) = web
        .post(
            "/setup",
            &[
                ("_csrf", &token),
                ("setup_token", &code),
                ("name", "Bob's Plumbing"),
                ("business_type", "PLUMBING"),
                ("timezone", "America/Chicago"),
                ("email", "Bob@Example.com"),
                ("password", PASSWORD),
                ("confirm_password", PASSWORD),
            ],
        )
        .await;
    assert_eq!((status, location.as_str()), (303, "/dashboard"));
    let (status, page) = web.get("/settings/agent").await;
    assert_eq!(status, 200);
    assert!(page.contains("Your business is ready"), "flash message");
    assert!(page.contains("May I have your name?"), "starter questions");
    // Setup happens once.
    let res = ui.http.get(ui.url("/setup")).send().await.unwrap();
    assert_eq!(res.headers()["location"], "/login");

    // Sign out, then pages send you to the login page.
    let (status, location, _) = web.submit("/logout", &[]).await;
    assert_eq!((status, location.as_str()), (303, "/login"));
    let res =
        ui.http.get(ui.url("/leads")).header("cookie", "fd_session=forged.token.here").send().await.unwrap();
    assert_eq!(res.headers()["location"], "/login?next=%2Fleads");

    // Wrong password and unknown email read the same.
    let mut anon = Web { http: ui.http.clone(), base: ui.server.base.clone(), cookies: Vec::new() };
    let token = hidden_csrf(&anon.get("/login").await.1);
    for (email, password) in [("bob@example.com", "wrong password!"), ("nobody@example.com", PASSWORD)] {
        let (status, _, body) =
            anon.post("/login", &[("_csrf", &token), ("email", email), ("password", password)]).await;
        assert_eq!(status, 401);
        assert!(body.contains("Wrong email or password."));
    }
    let _ = ui.sign_in("bob@example.com").await;
    // Ten attempts per email per window: the rest are refused, even the right password.
    for _ in 0..8 {
        anon.post(
            "/login",
            &[("_csrf", &token), ("email", "bob@example.com"), ("password", "nope nope nope")],
        )
        .await;
    }
    let (status, _, body) =
        anon.post("/login", &[("_csrf", &token), ("email", "bob@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(status, 429);
    assert!(body.contains("Too many sign-in attempts"));
    // The API shares the throttle.
    let res = ui
        .http
        .post(ui.url("/api/auth/login"))
        .json(&serde_json::json!({"email": "bob@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
}

/// A served instance with one FREE business (A) and its owner, signed in.
async fn one_business(plan: &str) -> (Ui, String, Web) {
    let ui = Ui::empty(&[]);
    let id = ui.business("Alpha Plumbing", plan);
    ui.user("owner@alpha.example", "owner", Some(&id));
    let web = ui.sign_in("owner@alpha.example").await;
    (ui, id, web)
}

#[tokio::test]
async fn every_form_needs_the_csrf_token_and_this_origin() {
    let (ui, id, mut web) = one_business("BASIC").await;
    let token = web.csrf().await;
    let name = || async { ui.store().business(&BusinessId::from(&id)).await.unwrap().name };
    let cases: [(&str, Pairs, Pairs); 4] = [
        ("no token", vec![], vec![]),
        ("wrong token", vec![("_csrf", "x".repeat(32).leak())], vec![]),
        ("other site", vec![("_csrf", token.as_str())], vec![("origin", "https://evil.example")]),
        ("other referer", vec![("_csrf", token.as_str())], vec![("referer", "https://evil.example/page")]),
    ];
    for (what, mut form, headers) in cases {
        form.push(("name", "Hijacked"));
        let (status, _, body) = web.post_with("/settings/business", &form, &headers).await;
        assert_eq!(status, 403, "{what}");
        assert!(body.contains("Reload the page"), "{what}");
        assert_eq!(name().await, "Alpha Plumbing", "{what}: nothing changed");
    }
    // Multipart forms too.
    let (status, _, _) =
        web.post_file("/knowledge", &[("title", "Sneaky")], ("file", "a.txt", b"text")).await;
    assert_eq!(status, 403);
    assert_eq!(ui.store().knowledge_entries(&BusinessId::from(&id)).await.unwrap().len(), 1);
    // The real thing, from this site, works.
    let origin = ui.server.base.clone();
    let (status, _, _) = web
        .post_with(
            "/settings/business",
            &[("_csrf", &token), ("name", "Alpha Plumbing & Heating")],
            &[("origin", &origin)],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(name().await, "Alpha Plumbing & Heating");
}

#[tokio::test]
async fn bad_input_is_named_on_the_page_and_nothing_is_saved() {
    let (ui, id, mut web) = one_business("PRO").await;
    let before = ui.store().business_bundle(&BusinessId::from(&id)).await.unwrap();
    let long = "x".repeat(81);
    let phrase = "y".repeat(101);
    let cases: Vec<(&str, Pairs, &str)> = vec![
        ("/settings/business", vec![("name", " ")], "Business name: must not be empty"),
        ("/settings/business", vec![("timezone", "Mars/Olympus")], "Time zone: expected UTC or a zone name"),
        ("/settings/business", vec![("country", "XX")], "Country: expected a two-letter country code"),
        (
            "/settings/notifications",
            vec![("notification_email", "owner at alpha")],
            "Alert email: not an email address",
        ),
        (
            "/settings/notifications",
            vec![("notification_phone_number", "12345")],
            "not a valid phone number for US",
        ),
        (
            "/settings/notifications",
            vec![("notification_webhook_url", "ftp://crm.example")],
            "expected an http(s) URL",
        ),
        (
            "/settings/widget",
            vec![("website_origins", "https://ok.example\nnot a website")],
            "does not look like a website address",
        ),
        ("/settings/agent", vec![("agent_name", "")], "Agent name: must not be empty"),
        ("/settings/agent", vec![("agent_name", &long)], "Agent name: is too long (at most 80"),
        ("/settings/agent", vec![("color_primary", "red")], "Main colour: expected a colour like #0ea5e9"),
        ("/settings/voice", vec![("twilio_language", "english!")], "Language: expected a language tag"),
        ("/settings/voice", vec![("twilio_voice", "robot")], "Voice: expected alice, man, woman"),
        ("/settings/questions", vec![("question_text", "")], "Question: must not be empty"),
        (
            "/settings/questions",
            vec![("question_text", "Budget?"), ("maps_to_lead_field", "???")],
            "use letters or numbers for the name it is saved as",
        ),
        ("/settings/emergency", vec![("urgent", &phrase)], "longer than 100 characters"),
        ("/knowledge", vec![("title", ""), ("content", "")], "Title: must not be empty"),
    ];
    for (path, form, message) in cases {
        let (status, _, body) = web.submit(path, &form).await;
        assert_eq!(status, 400, "{path} {form:?}: {}", &body[..body.len().min(300)]);
        assert!(body.contains(message), "{path}: {message:?} not on the page");
        assert!(
            body.contains("aria-invalid=\"true\"") || body.contains("role=\"alert\""),
            "{path}: the field is marked"
        );
    }
    // Uploads: wrong type, too large, not UTF-8.
    let token = web.csrf().await;
    let big = vec![b'a'; 1_200_000];
    let uploads: [(&str, &[u8], &str); 3] = [
        ("prices.exe", b"MZ", "is not a PDF, Word (.docx), HTML, Markdown or text file"),
        ("huge.txt", &big, "the file is too large"),
        ("latin1.txt", b"caf\xe9 au lait", "is not UTF-8 text"),
    ];
    for (name, bytes, message) in uploads {
        let (status, _, body) = web
            .post_file("/knowledge", &[("_csrf", &token), ("title", "Prices")], ("file", name, bytes))
            .await;
        assert_eq!(status, 400, "{name}");
        assert!(body.contains(message), "{name}: {message:?}");
    }
    assert_eq!(
        ui.store().business_bundle(&BusinessId::from(&id)).await.unwrap(),
        before,
        "nothing was saved"
    );
    // A good upload is indexed.
    let (status, _, _) = web
        .post_file(
            "/knowledge",
            &[("_csrf", &token), ("title", "")],
            ("file", "service-area.md", b"# Area\nWe cover Springfield and Shelbyville."),
        )
        .await;
    assert_eq!(status, 303);
    let docs = ui.store().knowledge_entries(&BusinessId::from(&id)).await.unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[1].title, "service-area");
    assert!(docs[1].chunks >= 1 && docs[1].indexed_at.is_some());
}

#[tokio::test]
async fn a_password_change_ends_older_sessions() {
    let (ui, _id, mut web) = one_business("FREE").await;
    let mut other = ui.sign_in("owner@alpha.example").await;
    let token = ui.token("owner@alpha.example").await;
    let (status, _, body) = web
        .submit(
            "/account",
            &[
                ("current_password", "wrong one!!"),
                ("new_password", "a brand new password"),
                ("confirm_password", "a brand new password"),
            ],
        )
        .await;
    assert_eq!(status, 400);
    assert!(body.contains("Current password: is not your current password"));
    let (status, _, _) = web
        .submit(
            "/account",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a brand new password"),
                ("confirm_password", "a brand new password"),
            ],
        )
        .await;
    assert_eq!(status, 303);
    assert_eq!(web.get("/dashboard").await.0, 200, "this session continues");
    let res = ui
        .http
        .get(ui.url("/dashboard"))
        .header("cookie", format!("fd_session={}", other.cookie("fd_session").unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "the other session ended");
    assert_eq!(other.get("/dashboard").await.0, 303);
    assert_eq!(ui.api(&token, "GET", "/api/admin/me", None).await.0, 401, "older API tokens too");
}

#[tokio::test]
async fn staff_see_leads_and_change_status_but_no_settings() {
    let (ui, id, _) = one_business("PRO").await;
    ui.user("staff@alpha.example", "staff", Some(&id));
    let (status, chat): (u16, serde_json::Value) = {
        let res = ui.http.post(ui.url("/api/chat")).json(&serde_json::json!({"businessId": id, "message": "I'm Dana Smith, 312-555-0142, my sink leaks"})).send().await.unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    };
    assert_eq!(status, 200, "{chat}");
    let lead = chat["leadId"].as_str().unwrap().to_string();
    let mut staff = ui.sign_in("staff@alpha.example").await;
    for path in ["/dashboard", "/leads", "/analytics", &format!("/leads/{lead}"), "/account"] {
        assert_eq!(staff.get(path).await.0, 200, "{path}");
    }
    let nav = staff.get("/dashboard").await.1;
    assert!(!nav.contains("href=\"/settings/agent\""), "settings are not offered to staff");
    for path in ["/settings/agent", "/knowledge", "/settings/plan", "/operator"] {
        let status = staff.get(path).await.0;
        assert!(status == 403 || (path == "/settings/plan" && status == 200), "{path}: {status}");
    }
    // The Notifications page shows staff the outbox, none of its settings.
    let (status, notifications) = staff.get("/settings/notifications").await;
    assert_eq!(status, 200);
    assert!(notifications.contains("id=\"outbox\"") && !notifications.contains("id=\"addresses\""));
    let (status, _, _) = staff.submit("/settings/business", &[("name", "Staff Co")]).await;
    assert_eq!(status, 403);
    let (status, _, _) =
        staff.submit("/settings/notifications", &[("notification_email", "staff@elsewhere.example")]).await;
    assert_eq!(status, 403);
    let (status, _, _) = staff.submit(&format!("/leads/{lead}/status"), &[("status", "CONTACTED")]).await;
    assert_eq!(status, 303);
    let detail = ui.store().lead(&BusinessId::from(&id), &LeadId::from(&lead)).await.unwrap();
    assert_eq!(detail.status.as_str(), "CONTACTED");
    // The list shows the lead's level and status by their names.
    let list = staff.get("/leads").await.1;
    let badge = format!("<span class=\"badge prio-{0}\">{0}</span>", detail.priority);
    assert!(list.contains(&badge) && list.contains("<td>CONTACTED</td>"), "{list}");
    assert_eq!(ui.store().business(&BusinessId::from(&id)).await.unwrap().name, "Alpha Plumbing");
}

#[tokio::test]
async fn pages_hide_what_the_plan_lacks_and_a_downgrade_keeps_data() {
    let (ui, id, mut web) = one_business("FREE").await;
    let knowledge = web.get("/knowledge").await.1;
    assert!(knowledge.contains("needs the BASIC plan"), "upgrade hint");
    assert!(knowledge.contains("<fieldset disabled>"), "the form is greyed out");
    assert!(knowledge.contains("Opening hours"), "existing documents still listed");
    let voice = web.get("/settings/voice").await.1;
    assert!(voice.contains("Voice configuration needs the PRO plan"), "voice hint");
    let analytics = web.get("/analytics").await.1;
    assert!(analytics.contains("Charts over time need the BASIC plan"));
    assert!(!analytics.contains("<svg"), "no charts on FREE");
    // Knowledge POST from the page is refused with the plan page.
    let (status, _, body) = web.submit("/knowledge", &[("title", "T"), ("content", "C")]).await;
    assert_eq!(status, 403);
    assert!(body.contains("/settings/plan"));

    // The drag-and-drop reorder posts every id in the new order.
    let ids: Vec<String> =
        ui.store().questions(&BusinessId::from(&id)).await.unwrap().into_iter().map(|q| q.id).collect();
    let reversed: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    let (status, _, _) = web.submit("/settings/questions/order", &[("ids", &reversed.join(","))]).await;
    assert_eq!(status, 303);
    let now: Vec<String> =
        ui.store().questions(&BusinessId::from(&id)).await.unwrap().into_iter().map(|q| q.id).collect();
    assert_eq!(now, ids.iter().rev().cloned().collect::<Vec<_>>());
    let (status, _, body) = web.submit("/settings/questions/order", &[("ids", &ids[0])]).await;
    assert_eq!(status, 400);
    assert!(
        body.contains("Order: the new order must list each of the business&#39;s questions once"),
        "{body}"
    );

    ui.set_plan(&id, "PRO");
    let analytics = web.get("/analytics").await.1;
    assert_eq!(
        analytics.matches("<svg class=\"chart\"").count(),
        7,
        "activity, reply latency, call endings, emergencies, lead statuses, conversion, hours"
    );
    let (status, _, _) = web
        .submit(
            "/settings/voice",
            &[("twilio_voice", "Polly.Joanna"), ("voice_greeting_message", "Thanks for calling Alpha!")],
        )
        .await;
    assert_eq!(status, 303);
    for _ in 0..3 {
        web.submit("/settings/questions", &[("question_text", "Anything else?")]).await;
    }
    assert_eq!(ui.store().questions(&BusinessId::from(&id)).await.unwrap().len(), 6);

    ui.set_plan(&id, "FREE");
    let bundle = ui.store().business_bundle(&BusinessId::from(&id)).await.unwrap();
    assert_eq!(bundle.questions.len(), 6, "a downgrade deletes nothing");
    assert_eq!(bundle.agent.twilio_voice, "Polly.Joanna");
    let agent = web.get("/settings/agent").await.1;
    assert!(agent.contains("The FREE plan includes 5 lead questions; more need the BASIC plan."));
    let (status, _, body) = web.submit("/settings/questions", &[("question_text", "One more?")]).await;
    assert_eq!(status, 400);
    assert!(
        body.contains("the FREE plan includes 5 lead questions; more need the BASIC plan"),
        "limit message on the page"
    );
    assert_eq!(ui.store().questions(&BusinessId::from(&id)).await.unwrap().len(), 6);
}

#[tokio::test]
async fn pages_carry_security_headers() {
    let (ui, _id, mut web) = one_business("FREE").await;
    let res = ui
        .http
        .get(ui.url("/dashboard"))
        .header("cookie", format!("fd_session={}", web.cookie("fd_session").unwrap()))
        .send()
        .await
        .unwrap();
    let h = res.headers();
    assert!(h["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
    assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["referrer-policy"], "same-origin");
    let page = web.get("/dashboard").await.1;
    assert!(!page.contains("<script>") && !page.contains("onclick="), "no inline script");
    let cookie = ui.http.get(ui.url("/login")).send().await.unwrap();
    assert_eq!(cookie.status(), 200);
    let res = ui.http.get(ui.url("/static/app.css")).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "text/css; charset=utf-8");
}

#[tokio::test]
async fn setup_after_serve_demo_makes_the_operator_of_the_demo() {
    let fd = crate::support::instance::Instance::new();
    let server = fd.serve(&["--demo"]);
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut web = Web { http, base: server.base.clone(), cookies: Vec::new() };
    let page = web.get("/setup").await.1;
    assert!(page.contains("You will manage 1 business: Acme Plumbing"), "explains the operator role");
    assert!(!page.contains("name=\"name\""), "no business fields");
    let token = hidden_csrf(&page);
    let code = server.setup_token();
    let (status, location, _) = web
        .post(
            "/setup",
            &[
                ("_csrf", &token),
                ("setup_token", &code),
                ("email", "msp@example.com"),
                ("password", PASSWORD),
                ("confirm_password", PASSWORD),
            ],
        )
        .await;
    assert_eq!((status, location.as_str()), (303, "/operator"));
    let operator = web.get("/operator").await.1;
    assert!(operator.contains("Acme Plumbing"), "the demo business is listed");
    // The certificates' state (here: built-in HTTPS is off) is on the operator's page.
    assert!(
        operator.contains("HTTPS certificates") && operator.contains("Built-in HTTPS is off"),
        "{operator}"
    );
    let dashboard = web.get("/dashboard").await.1;
    assert!(dashboard.contains("<span class=\"biz\">Acme Plumbing"));
    // The demo comes with a week of sample leads, calls and chats.
    assert!(dashboard.contains("Marcus Lee") && dashboard.contains("Priya Shah"), "sample leads");
    assert!(!dashboard.contains("data-stat=\"week-leads\">0<"), "a week of activity");
}

#[tokio::test]
async fn the_session_cookie_is_secure_behind_https() {
    let ui = Ui::empty(&[("APP_PRIMARY_URL", "https://fd.example.com")]);
    let id = ui.business("Alpha Plumbing", "FREE");
    ui.user("owner@alpha.example", "owner", Some(&id));
    let mut web = Web { http: ui.http.clone(), base: ui.server.base.clone(), cookies: Vec::new() };
    let token = hidden_csrf(&web.get("/login").await.1);
    let res = ui
        .http
        .post(ui.url("/login"))
        .header("cookie", format!("fd_csrf={}", web.cookie("fd_csrf").unwrap()))
        .header("origin", "https://fd.example.com")
        .form(&[("_csrf", token.as_str()), ("email", "owner@alpha.example"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.starts_with("fd_session=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax")
    );
    assert!(cookie.ends_with("; Secure"), "{cookie}");
    // The widget snippet names the public URL.
    web.cookies.push((
        "fd_session".into(),
        cookie.split(';').next().unwrap().trim_start_matches("fd_session=").into(),
    ));
    assert!(web.get("/settings/widget").await.1.contains("https://fd.example.com/widget.js"));
}
