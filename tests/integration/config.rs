//! `frontdesk config check` on good and broken configurations.

use crate::support::instance::*;

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
        .env("DATABASE_URL", "postgresql://user:pw@db.example/app?schema=public")
        .output()
        .unwrap();
    let (text, err) = (stdout(&out), stderr(&out));
    assert!(text.contains("port = \"8080\"  # env PORT"), "{text}");
    assert!(text.contains("ping_interval_ms = \"15000\""), "{text}");
    assert!(text.contains("emergency_voice_calls = \"false\""), "{text}");
    // The original design's Postgres URL (Prisma's form) is valid.
    assert!(out.status.success(), "{err}");
    assert!(!text.contains("user:pw"), "{text}");
}

/// `config check` and `serve` agree on the public address: what check calls
/// valid, serve serves (and keeps serving); what check refuses, serve refuses
/// naming the same key. A derived address is never fatal.
#[tokio::test]
async fn config_check_and_serve_agree_on_the_public_address() {
    /// Environment, whether it is valid, and what both commands say about it.
    type Case<'a> = (&'a [(&'a str, &'a str)], bool, &'a str);
    #[rustfmt::skip]
    let cases: &[Case] = &[
        // A port in HOSTNAME is kept (the stream URL needs it); the sender drops it.
        (&[("HOSTNAME", "fd.example.com:8443")], true, "hostname = \"fd.example.com:8443\"  # env HOSTNAME"),
        // Docker's container id and a bare machine name are not public names.
        (&[("HOSTNAME", "3f4e2a1b9c8d"), ("TWILIO_WEBHOOK_BASE_URL", "https://calls.example.com")], true,
            "looks like a container id"),
        (&[("HOSTNAME", "build-box")], true, "is a machine name"),
        (&[("HOSTNAME", "fd.example.com/voice")], true, "ignored; set FRONTDESK_HOSTNAME"),
        (&[("HOSTNAME", "3f4e2a1b9c8d"), ("TWILIO_WEBHOOK_BASE_URL", "https://calls.example.com:8443")], true,
            "hostname = \"calls.example.com:8443\"  # derived from twilio.webhook_base_url"),
        // FRONTDESK_HOSTNAME is preferred, and checked: set explicitly, a bad value is an error.
        (&[("FRONTDESK_HOSTNAME", "fd.example.com:8443"), ("HOSTNAME", "other.example.com")], true,
            "hostname = \"fd.example.com:8443\"  # env FRONTDESK_HOSTNAME"),
        (&[("FRONTDESK_HOSTNAME", "https://fd.example.com/")], false, "FRONTDESK_HOSTNAME (server.hostname)"),
        (&[("FRONTDESK_HOSTNAME", "fd.example.com:99999")], false, "FRONTDESK_HOSTNAME (server.hostname)"),
        (&[("SMTP_FROM", "not an address")], false, "SMTP_FROM (smtp.from)"),
    ];
    for (env, valid, expected) in cases {
        let fd = Instance::new();
        let check = fd.command().envs(env.iter().copied()).args(["config", "check"]).output().unwrap();
        let said = format!("{}{}", stdout(&check), stderr(&check));
        assert_eq!(check.status.success(), *valid, "config check on {env:?}:\n{said}");
        assert!(said.contains(expected), "config check on {env:?} lacks {expected:?}:\n{said}");
        if *valid {
            let mut cmd = fd.command();
            cmd.envs(env.iter().copied()).args(["serve", "--port", "0", "--bind", "127.0.0.1"]);
            let mut server = Server::start(cmd);
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            let health = reqwest::get(server.url("/health")).await;
            assert!(health.is_ok_and(|r| r.status() == 200), "serve on {env:?} does not answer");
            assert!(server.child.try_wait().unwrap().is_none(), "serve on {env:?} exited");
        } else {
            let out = fd.command().envs(env.iter().copied()).args(["serve", "--port", "0"]).output().unwrap();
            assert_eq!(out.status.code(), Some(2), "serve on {env:?}");
            assert!(stderr(&out).contains(expected), "serve on {env:?}: {}", stderr(&out));
        }
    }
}

#[test]
fn config_check_reports_tls_and_what_will_fail() {
    let fd = Instance::new();
    // Nothing listens on the directory's port.
    let port = crate::support::net::free_port();
    let out = fd
        .command()
        .args(["config", "check"])
        .env("FRONTDESK_TLS_MODE", "acme")
        .env("FRONTDESK_TLS_DOMAINS", "desk.example.com")
        .env("FRONTDESK_TLS_ACME_EMAIL", "ops@example.com")
        .env("FRONTDESK_TLS_ACME_DIRECTORY", format!("https://127.0.0.1:{port}/dir"))
        .env("FRONTDESK_TLS_HTTPS_PORT", "0")
        .env("FRONTDESK_TLS_HTTP_PORT", "0")
        .output()
        .unwrap();
    assert_success(&out, &["config", "check"]);
    let text = stdout(&out);
    for expected in [
        "TLS acme: desk.example.com",
        "does not answer",
        "desk.example.com: no certificate yet; one is ordered when serve starts",
        "# derived from tls.domains",
    ] {
        assert!(text.contains(expected), "missing {expected:?}:\n{text}");
    }
    // Without an email it is refused, by config check and serve alike.
    for args in [&["config", "check"][..], &["serve"][..]] {
        let out = fd
            .command()
            .args(args)
            .env("FRONTDESK_TLS_MODE", "acme")
            .env("FRONTDESK_TLS_DOMAINS", "desk.example.com")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert!(
            stderr(&out).contains("tls.acme_email: tls.mode is acme: an email address"),
            "{}",
            stderr(&out)
        );
    }
}
