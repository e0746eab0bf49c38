//! The owner's pages and admin API on a busy business, on this machine:
//!   cargo bench --bench ui
//! One PRO business with 10,000 leads and 30 days of analytics (20,000
//! events, 2,000 calls); a real server on loopback; one client signed in,
//! requests one after another.
//!
//! Prints a markdown table; the README quotes it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use frontdesk::config::Config;
use frontdesk::domain::Role;
use frontdesk::server::{self, AppState};
use frontdesk::store::sqlite::SqliteStore;
use frontdesk::store::{NewUser, Store};

const PASSWORD: &str = "correct horse battery staple";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn row(name: &str, mut samples: Vec<Duration>, bytes: usize) -> String {
    samples.sort();
    format!(
        "| {name} | {} | {:.3} ms | {:.3} ms | {:.3} ms | {} KB |",
        samples.len(),
        percentile(&samples, 0.50).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().unwrap().as_secs_f64() * 1e3,
        bytes / 1000
    )
}

/// 10,000 leads over 30 days, 20,000 events, 2,000 calls.
fn seed(db: &std::path::Path, business: &str) {
    let mut conn = rusqlite::Connection::open(db).unwrap();
    let tx = conn.transaction().unwrap();
    let now = chrono::Utc::now();
    let at = |i: usize, n: usize| {
        (now - chrono::Duration::seconds((i * 30 * 86_400 / n) as i64))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let names = ["Dana Smith", "Sam Jones", "Ana García", "Lee Chan", "Kim Park"];
    let priorities = ["NORMAL", "NORMAL", "NORMAL", "HIGH", "URGENT"];
    let statuses = ["NEW", "CONTACTED", "QUALIFIED", "CLOSED"];
    for i in 0..10_000 {
        tx.execute(
            "INSERT INTO leads (id, business_id, channel, status, priority, contact_name, contact_phone, notes,
                 captured_data, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'kitchen sink leaking', '{\"notes\":\"kitchen sink leaking\"}', ?8, ?8)",
            rusqlite::params![
                format!("lead{i:05}"),
                business,
                if i % 3 == 0 { "VOICE" } else { "CHAT" },
                statuses[i % 4],
                priorities[i % 5],
                names[i % 5],
                format!("+1312555{:04}", i % 10_000),
                at(i, 10_000)
            ],
        )
        .unwrap();
    }
    for i in 0..20_000 {
        let (kind, data) = match i % 4 {
            0 | 1 => ("conversation_started", "{}".to_string()),
            2 => ("knowledge_answered", format!("{{\"question\":\"Are you open on day {}?\"}}", i % 40)),
            _ => ("knowledge_unanswered", "{\"question\":\"Do you fix boilers?\"}".to_string()),
        };
        tx.execute(
            "INSERT INTO analytics_events (business_id, kind, channel, data, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![business, kind, if i % 3 == 0 { "VOICE" } else { "CHAT" }, data, at(i, 20_000)],
        )
        .unwrap();
    }
    for i in 0..2_000 {
        tx.execute(
            "INSERT INTO calls (call_sid, business_id, status, duration_seconds, started_at, updated_at)
             VALUES (?1, ?2, 'completed', ?3, ?4, ?4)",
            rusqlite::params![format!("CA{i:05}"), business, 30 + i % 300, at(i, 2_000)],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

fn cookie_value(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers().get_all("set-cookie").iter().find_map(|v| {
        let text = v.to_str().ok()?;
        text.split(';').next()?.strip_prefix(&format!("{name}=")).map(str::to_string)
    })
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
        config.server.bind = [127, 0, 0, 1].into();
        config.server.port = 0;
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo/acme-plumbing.toml"))
                .unwrap();
        let mut bundle = frontdesk::provision::parse_bundle(&text).unwrap();
        bundle.business.plan_tier = frontdesk::domain::PlanTier::Pro;
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&config.sqlite_path()).unwrap());
        let id = store.import_business(bundle).await.unwrap().business_id;
        store
            .create_user(NewUser {
                email: "owner@acme.example".into(),
                password_hash: frontdesk::auth::hash_password(PASSWORD).unwrap(),
                role: Role::Owner,
                business_id: Some(id.clone()),
            })
            .await
            .unwrap();
        seed(&config.sqlite_path(), &id);
        let listener = server::bind(&config).await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = AppState::new(config, store).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server::serve(state, listener, async move {
            let _ = stopped.await;
        }));

        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        // Sign in through the login form, as a browser does.
        let login = http.get(format!("{base}/login")).send().await.unwrap();
        let pre = cookie_value(&login, "fd_csrf").unwrap();
        let res = http
            .post(format!("{base}/login"))
            .header("cookie", format!("fd_csrf={pre}"))
            .form(&[("_csrf", pre.as_str()), ("email", "owner@acme.example"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        let session = format!("fd_session={}", cookie_value(&res, "fd_session").unwrap());
        let token: serde_json::Value = http
            .post(format!("{base}/api/auth/login"))
            .json(&serde_json::json!({ "email": "owner@acme.example", "password": PASSWORD }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let bearer = format!("Bearer {}", token["token"].as_str().unwrap());

        let cases: [(&str, &str, bool, usize); 8] = [
            ("page: dashboard (today, 7 days, latest leads)", "/dashboard", false, 200),
            ("page: leads, first 100 of 10,000", "/leads", false, 200),
            ("page: leads, status + search filter", "/leads?status=NEW&q=smith", false, 200),
            ("page: lead detail", "/leads/lead00042", false, 200),
            ("page: analytics, 30 days, 4 SVG charts", "/analytics", false, 100),
            ("page: agent settings", "/settings/agent", false, 200),
            ("API: GET /api/admin/leads (100)", "/api/admin/leads", true, 200),
            ("CSV export, 10,000 leads", "/leads/export.csv", false, 10),
        ];
        println!("| request | samples | p50 | p99 | max | size |");
        println!("| --- | --- | --- | --- | --- | --- |");
        for (name, path, api, n) in cases {
            let mut samples = Vec::with_capacity(n);
            let mut size = 0;
            for _ in 0..n {
                let started = Instant::now();
                let req = http.get(format!("{base}{path}"));
                let req =
                    if api { req.header("authorization", &bearer) } else { req.header("cookie", &session) };
                let res = req.send().await.unwrap();
                assert_eq!(res.status(), 200, "{path}");
                size = res.bytes().await.unwrap().len();
                samples.push(started.elapsed());
            }
            println!("{}", row(name, samples, size));
        }
        let _ = stop.send(());
    });
}
