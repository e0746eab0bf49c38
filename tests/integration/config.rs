//! `frontdesk config check` on good and broken configurations.

use crate::common::*;

#[test]
fn config_check_redacts_secrets_and_shows_sources() {
    let fd = Instance::new();
    let file = fd.dir.path().join("config.toml");
    std::fs::write(&file, "[server]\nport = 4100\n[smtp]\nhost = \"mail.example.com\"\n").unwrap();
    let out = fd
        .command()
        .args(["--config", file.to_str().unwrap(), "config", "check"])
        .env("OPENAI_API_KEY", "sk-live-very-secret")
        .env("SMTP_PASS", "hunter2hunter2")
        .env("REDIS_TTL", "120")
        .output()
        .unwrap();
    assert_success(&out, &["config", "check"]);
    let text = stdout(&out);
    assert!(!text.contains("very-secret") && !text.contains("hunter2"), "{text}");
    assert!(text.contains("api_key = \"[redacted]\""), "{text}");
    assert!(text.contains("port = \"4100\"  # file"), "{text}");
    assert!(text.contains("ttl_secs = \"120\"  # env REDIS_TTL"), "{text}");
    assert!(text.contains("configuration is valid"));
}

#[test]
fn config_check_names_every_invalid_key() {
    let fd = Instance::new();
    let file = fd.dir.path().join("config.toml");
    std::fs::write(
        &file,
        "[server]\nport = 99999\nhostname = \"https://bad.example/\"\n[openai]\nbase_url = \"not a url\"\n\
         [smtp]\nfrom = \"nobody\"\n[surprise]\nkey = 1\n",
    )
    .unwrap();
    let out = fd
        .command()
        .args(["--config", file.to_str().unwrap(), "config", "check"])
        .env("NODE_ENV", "production")
        .env("JWT_SECRET", "too-short")
        .env("MAX_WEBSOCKET_CONNECTIONS", "lots")
        .env("TWILIO_WEBHOOK_BASE_URL", "http://insecure.example")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    for key in [
        "server.port",
        "server.hostname",
        "openai.base_url",
        "smtp.from",
        "surprise.key: unknown key",
        "JWT_SECRET (auth.jwt_secret): must be at least 32 bytes",
        "MAX_WEBSOCKET_CONNECTIONS (websocket.max_connections)",
        "TWILIO_WEBHOOK_BASE_URL (twilio.webhook_base_url): must be https://",
    ] {
        assert!(err.contains(key), "missing {key:?} in:\n{err}");
    }
    assert!(!err.contains("too-short"), "secret value leaked: {err}");

    // Other commands refuse to run on an invalid configuration (exit 2).
    let out = fd.command().args(["--config", file.to_str().unwrap(), "migrate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!fd.db().exists(), "nothing was created");
}

#[test]
fn node_environment_names_keep_working() {
    let fd = Instance::new();
    let out = fd
        .command()
        .args(["config", "check"])
        .env("PORT", "8080")
        .env("WEBSOCKET_PING_INTERVAL", "15000")
        .env("ENABLE_EMERGENCY_VOICE_CALLS", "false")
        .env("DATABASE_URL", "postgresql://user:pw@db.example/app")
        .output()
        .unwrap();
    let (text, err) = (stdout(&out), stderr(&out));
    assert!(text.contains("port = \"8080\"  # env PORT"), "{text}");
    assert!(text.contains("ping_interval_ms = \"15000\""), "{text}");
    assert!(text.contains("emergency_voice_calls = \"false\""), "{text}");
    // The classic Postgres URL is understood but not compiled in: say so.
    assert!(err.contains("DATABASE_URL (database.url)") && err.contains("PostgreSQL"), "{err}");
    assert!(!text.contains("user:pw"), "{text}");
}
