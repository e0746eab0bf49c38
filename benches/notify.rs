//! Time from an URGENT chat message to the owner's email being accepted by
//! a real local SMTP server (Python's aiosmtpd), on this machine:
//!   cargo bench --bench notify
//! The server runs in-process (release build) with its notifications worker;
//! each run is a new visitor's `POST /api/chat` over loopback, timed until
//! the SMTP server reports the email with that lead's Message-ID.
//!
//! Prints a markdown table; the README quotes it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use frontdesk::config::{Config, SmtpTls};
use frontdesk::server::{self, AppState};
use frontdesk::store::sqlite::SqliteStore;
use frontdesk::store::Store;
use sha2::{Digest, Sha256};

#[path = "../tests/fakes/smtp.rs"]
mod smtp;

const RUNS: usize = 300;

const BUSINESS: &str = r#"
[business]
name = "Bench Plumbing"
business_type = "PLUMBING"
plan_tier = "FREE"
notification_email = "owner@bench.example"
"#;

fn message_id(key: &str) -> String {
    let hex: String = Sha256::digest(key.as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("<{hex}.notify@bench.example>")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn row(name: &str, mut samples: Vec<Duration>) -> String {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    format!(
        "| {name} | {} | {:.2} ms | {:.2} ms | {:.2} ms |",
        samples.len(),
        ms(percentile(&samples, 0.50)),
        ms(percentile(&samples, 0.99)),
        ms(*samples.last().unwrap())
    )
}

fn main() {
    if !smtp::available("bench notify") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mail = smtp::SmtpServer::start(&dir.path().join("mail"), None);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let (chat, total) = rt.block_on(async {
        let mut config = Config { data_dir: dir.path().join("data"), ..Config::default() };
        config.chat.per_ip_per_minute = 0;
        config.chat.per_session_per_minute = 0;
        config.server.bind = [127, 0, 0, 1].into();
        config.server.port = 0;
        config.smtp.host = "127.0.0.1".into();
        config.smtp.port = mail.port;
        config.smtp.tls = SmtpTls::None;
        config.smtp.from = "frontdesk@bench.example".into();
        // A latency measurement: one business sends far more than a day's cap.
        config.notify.daily_urgent_cap = 0;
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&config.sqlite_path()).unwrap());
        let bundle = frontdesk::provision::parse_bundle(BUSINESS).unwrap();
        let id = store.import_business(bundle).await.unwrap().business_id;
        let listener = server::bind(&config).await.unwrap();
        let url = format!("http://{}/api/chat", listener.local_addr().unwrap());
        let state = AppState::new(config, store).unwrap();
        let notifier = frontdesk::notify::spawn(state.clone()).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(server::serve(state, listener, async move {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::new();
        let (mut chat, mut total) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            let body = serde_json::json!({ "businessId": id, "message": "Help, a pipe burst and the basement is flooding" });
            let start = Instant::now();
            let answer: serde_json::Value = http.post(&url).json(&body).send().await.unwrap().json().await.unwrap();
            chat.push(start.elapsed());
            let lead = answer["leadId"].as_str().unwrap();
            let want = message_id(&format!("lead:{lead}:urgent_lead:email"));
            let deadline = Instant::now() + Duration::from_secs(30);
            let accepted = loop {
                if let Some((_, at)) = mail.accepted().into_iter().find(|(m, _)| *m == want) {
                    break at;
                }
                assert!(Instant::now() < deadline, "email for {lead} never arrived");
                tokio::time::sleep(Duration::from_micros(200)).await;
            };
            total.push(accepted.duration_since(start));
        }
        let _ = stop.send(());
        let _ = served.await;
        notifier.shutdown(Duration::from_secs(5)).await;
        (chat, total)
    });
    println!("| measurement | samples | p50 | p99 | max |");
    println!("| --- | --- | --- | --- | --- |");
    println!("{}", row("URGENT `POST /api/chat` answered", chat));
    println!("{}", row("URGENT chat message → email accepted by SMTP", total));
}
