//! `frontdesk serve`: health, JSON errors, single instance, graceful stop.

use crate::support::instance::*;

#[tokio::test]
async fn health_reports_everything_and_503_when_the_database_is_gone() {
    let fd = Instance::new();
    fd.import_demo();
    let server = fd.serve(&[]);
    let client = reqwest::Client::new();

    let res = client.get(server.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let health: serde_json::Value = res.json().await.unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(health["database"]["ok"], true);
    assert_eq!(health["database"]["backend"], if on_postgres() { "postgres" } else { "sqlite" });
    assert!(health["database"]["schema_version"].as_u64().unwrap() >= 1);
    assert!(health["uptime_seconds"].is_u64());
    assert_eq!(health["sessions"]["active"], 0);
    assert_eq!(health["websockets"], serde_json::json!({"active": 0, "max": 100}));
    assert!(health["memory"]["rss_mb"].as_f64().unwrap() > 1.0);

    // Unknown endpoints answer JSON, not HTML.
    let res = client.get(server.url("/no/such/thing")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "no such endpoint");

    // The database vanishes (disk unmounted, schema dropped, operator error): 503.
    fd.lose_database();
    let res = client.get(server.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let health: serde_json::Value = res.json().await.unwrap();
    assert_eq!(health["status"], "unavailable");
    assert_eq!(health["database"]["ok"], false);
}

#[tokio::test]
async fn one_server_per_data_dir_and_sigterm_stops_cleanly() {
    let fd = Instance::new();
    let server = fd.serve(&[]);
    // The data-directory lock is SQLite's: on Postgres a second server is
    // the way to scale out (tests/integration/scale_out.rs).
    if !sqlite_only("one_server_per_data_dir (the lock part)", "the data-directory lock") {
        let second = fd.command().args(["serve", "--port", "0", "--bind", "127.0.0.1"]).output().unwrap();
        assert!(!second.status.success());
        assert!(stderr(&second).contains("already serving"), "{}", stderr(&second));
    }

    let res = reqwest::get(server.url("/health")).await.unwrap();
    assert_eq!(res.status(), 200);
    let started = std::time::Instant::now();
    let status = server.stop();
    assert!(status.success(), "exit status {status}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[test]
fn port_flag_beats_env_and_bad_port_is_refused() {
    let fd = Instance::new();
    let mut cmd = fd.command();
    cmd.env("PORT", "1").args(["serve", "--port", "0", "--bind", "127.0.0.1"]);
    let server = Server::start(cmd);
    assert!(server.base.starts_with("http://127.0.0.1:"));
    assert!(!server.base.ends_with(":1"));
    drop(server);

    let out = fd.command().env("PORT", "http").args(["serve"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("PORT (server.port)"), "{}", stderr(&out));
}
