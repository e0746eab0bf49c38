//! Issue 10, sign-in and accounts: bounded password hashing, throttles that
//! slow guessing without locking the owner out, sessions that end on the
//! server, the setup code, common passwords, and no open redirect.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::instance::*;
use crate::support::ui::*;

/// Resident memory of a process, MB.
fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

async fn api_login(ui: &Ui, email: &str, password: &str, from: &str) -> reqwest::Response {
    ui.http
        .post(ui.url("/api/auth/login"))
        .header("x-forwarded-for", from)
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_wrong_passwords_is_refused_at_once_and_memory_stays_bounded() {
    // Each from its own address (through a trusted proxy), so no per-address limit helps.
    let ui = Ui::empty(&[("FRONTDESK_TRUSTED_PROXIES", "127.0.0.1")]);
    let id = ui.business("Alpha Plumbing", "FREE");
    ui.user("owner@alpha.example", "owner", Some(&id));
    let pid = ui.server.child.id();
    let before = rss_mb(pid);
    let peak = std::sync::Arc::new(std::sync::Mutex::new(before));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let now = rss_mb(pid);
                let mut p = peak.lock().unwrap();
                *p = p.max(now);
                drop(p);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let attempts = (0..60).map(|i| {
        let ui = &ui;
        async move {
            let res = api_login(
                ui,
                &format!("nobody{i}@alpha.example"),
                "wrong password!",
                &format!("198.51.100.{i}"),
            )
            .await;
            let status = res.status().as_u16();
            let retry = res.headers().get("retry-after").is_some();
            let body: Value = res.json().await.unwrap();
            (status, retry, body)
        }
    });
    let started = Instant::now();
    let results = futures_util::future::join_all(attempts).await;
    let elapsed = started.elapsed();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    sampler.join().unwrap();
    let peak = *peak.lock().unwrap();
    let busy: Vec<_> = results.iter().filter(|(s, _, _)| *s == 503).collect();
    assert!(results.iter().all(|(s, _, _)| *s == 401 || *s == 503), "{results:?}");
    assert!(!busy.is_empty(), "beyond the hashing threads and their queue, callers are told to come back");
    assert!(busy.iter().all(|(_, retry, body)| *retry && body["code"] == "busy"), "{busy:?}");
    // About 19 MiB per hash in flight: a handful at once, not sixty.
    assert!(peak - before < 150.0, "memory grew from {before:.0} MB to {peak:.0} MB in {elapsed:?}");
    // The right password still works afterwards.
    assert_eq!(api_login(&ui, "owner@alpha.example", PASSWORD, "203.0.113.1").await.status(), 200);
}

#[tokio::test]
async fn guesses_from_one_address_slow_that_address_only() {
    let ui = Ui::empty(&[("FRONTDESK_TRUSTED_PROXIES", "127.0.0.1")]);
    let id = ui.business("Alpha Plumbing", "FREE");
    ui.user("owner@alpha.example", "owner", Some(&id));
    // Ten wrong passwords from an attacker's address.
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(
            api_login(&ui, "owner@alpha.example", "wrong password!", "6.6.6.6").await.status().as_u16(),
        );
    }
    assert_eq!(&statuses[..3], [401, 401, 401], "a few tries are free");
    assert!(statuses[3..].contains(&429), "then that address waits: {statuses:?}");
    let refused = api_login(&ui, "owner@alpha.example", PASSWORD, "6.6.6.6").await;
    assert_eq!(refused.status(), 429, "even the right password waits, from there");
    assert!(refused.headers().get("retry-after").is_some());
    // The owner, from their own address, is not locked out by it.
    let owner = api_login(&ui, "owner@alpha.example", PASSWORD, "198.51.100.7").await;
    assert_eq!(owner.status(), 200);
}

#[tokio::test]
async fn changing_the_password_is_throttled_and_the_current_one_checked_first() {
    let ui = Ui::empty(&[]);
    let id = ui.business("Alpha Plumbing", "FREE");
    ui.user("owner@alpha.example", "owner", Some(&id));
    let mut web = ui.sign_in("owner@alpha.example").await;
    let wrong = [
        ("current_password", "wrong one!!"),
        ("new_password", "a brand new password"),
        ("confirm_password", "a brand new password"),
    ];
    for _ in 0..3 {
        let (status, _, body) = web.submit("/account", &wrong).await;
        assert_eq!(status, 400);
        assert!(body.contains("is not your current password"));
    }
    let (status, _, body) = web.submit("/account", &wrong).await;
    assert_eq!(status, 429, "guessing the current password is throttled like signing in");
    assert!(body.contains("Too many wrong passwords"), "{body}");
    let stored = ui.store().user_by_email("owner@alpha.example").await.unwrap();
    assert!(frontdesk::auth::verify_password(PASSWORD, &stored.password_hash), "nothing changed");
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server_even_after_a_restart() {
    let ui = Ui::empty(&[]);
    let id = ui.business("Alpha Plumbing", "FREE");
    ui.user("owner@alpha.example", "owner", Some(&id));
    let mut web = ui.sign_in("owner@alpha.example").await;
    let copied = web.cookie("fd_session").unwrap().to_string();
    let token = ui.token("owner@alpha.example").await;
    assert_eq!(ui.api(&token, "GET", "/api/admin/me", None).await.0, 200);
    let (status, location, _) = web.submit("/logout", &[]).await;
    assert_eq!((status, location.as_str()), (303, "/login"));
    let (status, _) = ui.api(&token, "POST", "/api/auth/logout", None).await;
    assert_eq!(status, 200);

    let Ui { fd, server, http } = ui;
    drop(server);
    let ui = Ui { server: fd.serve(&[]), fd, http };
    let res = ui
        .http
        .get(ui.url("/dashboard"))
        .header("cookie", format!("fd_session={copied}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "a copied cookie is worthless after signing out");
    assert_eq!(res.headers()["location"], "/login?next=%2Fdashboard");
    assert_eq!(ui.api(&token, "GET", "/api/admin/me", None).await.0, 401, "so is a signed-out API token");
    // Signing in again works.
    let mut again = ui.sign_in("owner@alpha.example").await;
    assert_eq!(again.get("/dashboard").await.0, 200);
}

#[tokio::test]
async fn the_first_account_needs_the_code_printed_on_the_console() {
    let ui = Ui::empty(&[]);
    // Imported businesses and no user: the first account would be their operator.
    ui.business("Alpha Plumbing", "PRO");
    let mut web = Web { http: ui.http.clone(), base: ui.server.base.clone(), cookies: Vec::new() };
    let code = ui.server.setup_token();
    let page = web.get(&format!("/setup?token={code}")).await.1;
    let csrf = hidden_csrf(&page);
    let mut form = vec![
        ("_csrf", csrf.as_str()),
        ("email", "intruder@evil.example"),
        ("password", PASSWORD),
        ("confirm_password", PASSWORD),
    ];
    for wrong in ["", "guess"] {
        let mut attempt = form.clone();
        attempt.push(("setup_token", wrong));
        let (status, _, body) = web.post("/setup", &attempt).await;
        assert_eq!(status, 403, "code {wrong:?}");
        assert!(body.contains("is not the code frontdesk printed"), "{body}");
    }
    assert_eq!(ui.store().count_users().await.unwrap(), 0, "nobody became operator");
    let link =
        ui.server.stdout_lines.iter().find(|l| l.contains("/setup?token=")).cloned().unwrap_or_default();
    assert!(!code.is_empty() && link.contains(&format!("/setup?token={code}")), "{link}");
    assert!(page.contains(&format!("value=\"{code}\"")), "the printed link fills the code in");
    form.push(("setup_token", &code));
    let (status, location, _) = web.post("/setup", &form).await;
    assert_eq!((status, location.as_str()), (303, "/operator"));
    // Used once.
    assert_eq!(ui.http.get(ui.url("/setup")).send().await.unwrap().headers()["location"], "/login");
}

#[tokio::test]
async fn common_passwords_are_refused_everywhere_a_password_is_set() {
    let ui = Ui::empty(&[]);
    let code = ui.server.setup_token();
    let mut web = Web { http: ui.http.clone(), base: ui.server.base.clone(), cookies: Vec::new() };
    let csrf = hidden_csrf(&web.get("/setup").await.1);
    let (status, _, body) = web
        .post(
            "/setup",
            &[
                ("_csrf", &csrf),
                ("setup_token", &code),
                ("name", "Alpha Plumbing"),
                ("email", "owner@alpha.example"),
                ("password", "password1234"),
                ("confirm_password", "password1234"),
            ],
        )
        .await;
    assert_eq!(status, 400);
    assert!(body.contains("Password: password is too easy to guess"), "{body}");
    // The command line too.
    let args = ["user", "add", "--email", "op@alpha.example", "--role", "operator", "--password-stdin"];
    let out = ui.fd.run_with_stdin(&args, "qwertyuiop123\n");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("too easy to guess"), "{}", stderr(&out));
    // A business's name is no password for it.
    ui.user("op@alpha.example", "operator", None);
    let token = ui.token("op@alpha.example").await;
    let (status, body) = ui
        .api(
            &token,
            "POST",
            "/api/admin/businesses",
            Some(json!({ "name": "Brightwater Plumbing", "email": "o@bw.example",
                "password": "brightwater plumbing", "confirm_password": "brightwater plumbing" })),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["fields"]["password"].as_str().unwrap().contains("too easy to guess"), "{body}");
}

#[tokio::test]
async fn after_signing_in_only_plain_local_paths_are_followed() {
    let ui = Ui::empty(&[]);
    let id = ui.business("Alpha Plumbing", "FREE");
    ui.user("owner@alpha.example", "owner", Some(&id));
    let mut web = Web { http: ui.http.clone(), base: ui.server.base.clone(), cookies: Vec::new() };
    let page = web.get("/login?next=%2F%09%2Fevil.example%2Fpath").await.1;
    assert!(page.contains("name=\"next\" value=\"/dashboard\""), "the page keeps no tab-smuggled next");
    let csrf = hidden_csrf(&page);
    let form = |next: &'static str| {
        vec![
            ("_csrf", csrf.clone()),
            ("email", "owner@alpha.example".into()),
            ("password", PASSWORD.into()),
            ("next", next.into()),
        ]
    };
    for next in ["/\t/evil.example/path", "/\\evil.example", "//evil.example", "/\n/evil.example"] {
        let pairs = form(next);
        let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, location, _) = web.post("/login", &borrowed).await;
        assert_eq!((status, location.as_str()), (303, "/dashboard"), "next {next:?}");
    }
    let pairs = form("/leads?status=NEW");
    let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(web.post("/login", &borrowed).await.1, "/leads?status=NEW");
}
