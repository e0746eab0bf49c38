//! Configuration layering, validation and redaction.
use super::*;
use std::collections::HashMap;

fn load(vars: &[(&str, &str)], flags: Flags) -> Loaded {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Loaded::load(&flags, &|name| map.get(name).cloned())
}

#[test]
fn defaults_are_valid_and_need_nothing() {
    let l = load(&[], Flags::default());
    assert!(l.is_valid(), "{:?}", l.problems);
    assert_eq!(l.config.server.port, 3000);
    assert_eq!(l.config.websocket.max_connections, 100);
}

#[test]
fn file_then_env_then_flag() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "[server]\nport = 4000\nbind = \"127.0.0.1\"\n[redis]\nttl_secs = 60\n").unwrap();
    let flags = Flags { config_file: Some(path.clone()), ..Flags::default() };
    let l = load(&[("REDIS_TTL", "90")], flags.clone());
    assert_eq!(l.config.server.port, 4000);
    assert_eq!(l.sources["server.port"], Source::File);
    assert_eq!(l.config.redis.ttl_secs, 90);
    assert_eq!(l.sources["redis.ttl_secs"], Source::Env("REDIS_TTL"));
    let l = load(&[("PORT", "5000")], Flags { port: Some(6000), ..flags });
    assert_eq!(l.config.server.port, 6000);
    assert_eq!(l.sources["server.port"], Source::Flag);
}

#[test]
fn every_bad_key_is_named() {
    let l = load(
        &[
            ("PORT", "70000"),
            ("OPENAI_BASE_URL", "not a url"),
            ("NODE_ENV", "production"),
            ("JWT_SECRET", "short"),
            ("TWILIO_PHONE_NUMBER", "555-0100"),
        ],
        Flags::default(),
    );
    let keys: Vec<&str> = l.problems.iter().map(|p| p.key.as_str()).collect();
    assert!(keys.contains(&"PORT (server.port)"), "{keys:?}");
    assert!(keys.contains(&"OPENAI_BASE_URL (openai.base_url)"), "{keys:?}");
    assert!(keys.contains(&"JWT_SECRET (auth.jwt_secret)"), "{keys:?}");
    assert!(keys.contains(&"TWILIO_PHONE_NUMBER (twilio.phone_number)"), "{keys:?}");
    // A short secret is fine outside production.
    let l = load(&[("JWT_SECRET", "short")], Flags::default());
    assert!(l.is_valid());
}

#[test]
fn unknown_file_keys_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, "[server]\nprot = 1\n").unwrap();
    let l = load(&[], Flags { config_file: Some(path), ..Flags::default() });
    assert_eq!(l.problems[0].key, "server.prot");
}

#[test]
fn secrets_never_render() {
    let l = load(&[("OPENAI_API_KEY", "sk-supersecret"), ("SMTP_PASS", "hunter2")], Flags::default());
    let text = l.render();
    assert!(!text.contains("supersecret") && !text.contains("hunter2"));
    assert!(text.contains("[redacted]"));
    assert!(!format!("{:?}", l.config).contains("supersecret"));
}

#[test]
fn postgres_urls_select_postgres_and_bad_ones_are_named() {
    let prisma = "postgresql://u:p@localhost:5433/db?schema=public&pgbouncer=true";
    let l = load(&[("DATABASE_URL", prisma)], Flags::default());
    assert!(l.problems.is_empty(), "{:?}", l.problems);
    assert_eq!(l.config.postgres_url().as_deref(), Some(prisma));
    assert!(!l.render().contains("u:p@"));
    let l = load(&[("DATABASE_URL", "postgres://u:p@localhost/db?sslmode=sometimes")], Flags::default());
    assert!(l.problems[0].message.contains("sslmode"), "{:?}", l.problems);
    assert!(!l.render().contains("u:p@"));
}

#[test]
fn example_file_documents_every_key() {
    let example = include_str!("../config.example.toml");
    for key in KEYS {
        let name = key.key.rsplit('.').next().unwrap_or(key.key);
        assert!(
            example.lines().any(|l| l.trim_start_matches("# ").starts_with(&format!("{name} ="))),
            "config.example.toml does not document {}",
            key.key
        );
    }
    // And the example, uncommented, is a valid config.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, example).unwrap();
    let l = load(&[], Flags { config_file: Some(path), ..Flags::default() });
    assert!(l.is_valid(), "{:?}", l.problems);
}

#[test]
fn passwords_in_urls_are_never_printed() {
    let l = load(
        &[
            ("OPENAI_BASE_URL", "https://user:sk-proxy-secret@llm.example/v1"),
            ("TWILIO_WEBHOOK_BASE_URL", "https://token-only@fd.example"),
            ("APP_PRIMARY_URL", "ftp://admin:hunter2@fd.example"),
        ],
        Flags::default(),
    );
    let shown = l.render();
    let problems = l.problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
    for secret in ["sk-proxy-secret", "token-only", "hunter2", "admin:"] {
        assert!(
            !shown.contains(secret) && !problems.contains(secret),
            "{secret} leaked:\n{shown}\n{problems}"
        );
    }
    assert!(shown.contains("https://[redacted]@llm.example/v1"), "{shown}");
    assert!(problems.contains("ftp://[redacted]@fd.example"), "{problems}");
    assert_eq!(redact_url("https://fd.example/a@b"), "https://fd.example/a@b");
    assert_eq!(redact_url("not a url"), "not a url");
}

#[test]
fn trusted_proxies_and_hardening_keys_load_and_validate() {
    let l = load(
        &[("FRONTDESK_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8"), ("FRONTDESK_ALLOW_PRIVATE_WEBHOOKS", "1")],
        Flags::default(),
    );
    assert!(l.is_valid(), "{:?}", l.problems);
    assert!(l.config.server.trusted_proxies.contains(&"10.2.3.4".parse().unwrap()));
    assert!(l.config.notify.allow_private_webhooks);
    let l = load(
        &[("FRONTDESK_TRUSTED_PROXIES", "10.0.0.0/99"), ("FRONTDESK_BODY_READ_TIMEOUT_SECS", "0")],
        Flags::default(),
    );
    let keys: Vec<&str> = l.problems.iter().map(|p| p.key.as_str()).collect();
    assert!(keys.contains(&"FRONTDESK_TRUSTED_PROXIES (server.trusted_proxies)"), "{keys:?}");
    assert!(keys.contains(&"FRONTDESK_BODY_READ_TIMEOUT_SECS (server.body_read_timeout_secs)"), "{keys:?}");
}

#[test]
fn tls_settings_are_checked_where_they_are_set() {
    // A TOML list of domains; the first names the public address.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(
        &path,
        "[tls]\nmode = \"acme\"\ndomains = [\"Desk.Example.com\", \"www.desk.example.com\"]\nacme_email = \"ops@example.com\"\n",
    )
    .unwrap();
    let l = load(&[], Flags { config_file: Some(path), ..Flags::default() });
    assert!(l.is_valid(), "{:?}", l.problems);
    assert_eq!(l.config.tls.domains.0, ["desk.example.com", "www.desk.example.com"]);
    assert_eq!(l.config.tls.directory_url(), LETSENCRYPT);
    assert_eq!(l.config.server.hostname, "desk.example.com");
    assert_eq!(l.sources["server.hostname"], Source::Derived("tls.domains"));
    assert_eq!(l.config.public_url(), "https://desk.example.com");

    let l = load(
        &[
            ("FRONTDESK_TLS_MODE", "acme"),
            ("FRONTDESK_TLS_DOMAINS", "desk.example.com,*.example.com"),
            ("FRONTDESK_TLS_ACME_DIRECTORY", "http://acme.example/dir"),
            ("FRONTDESK_TLS_HTTP_PORT", "443"),
        ],
        Flags::default(),
    );
    let keys: Vec<&str> = l.problems.iter().map(|p| p.key.as_str()).collect();
    for key in [
        "FRONTDESK_TLS_DOMAINS (tls.domains)",
        "tls.acme_email",
        "FRONTDESK_TLS_ACME_DIRECTORY (tls.acme_directory)",
        "FRONTDESK_TLS_HTTP_PORT (tls.http_port)",
    ] {
        assert!(keys.contains(&key), "{key} not in {keys:?}");
    }
    assert!(l.problems.iter().any(|p| p.message.contains("wildcard")), "{:?}", l.problems);

    let l = load(
        &[("FRONTDESK_TLS_MODE", "files"), ("FRONTDESK_TLS_CERT_FILE", "/no/such.pem")],
        Flags::default(),
    );
    assert_eq!(l.problems[0].key, "tls.key_file", "{:?}", l.problems);
    let l = load(
        &[
            ("FRONTDESK_TLS_MODE", "files"),
            ("FRONTDESK_TLS_CERT_FILE", "/no/such.pem"),
            ("FRONTDESK_TLS_KEY_FILE", "/no/such.key"),
        ],
        Flags::default(),
    );
    assert!(l.problems[0].message.contains("cannot read /no/such.pem"), "{:?}", l.problems);
    // Domains without a mode: fine, but said.
    let l = load(&[("FRONTDESK_TLS_DOMAINS", "desk.example.com")], Flags::default());
    assert!(l.is_valid());
    assert!(l.warnings[0].message.contains("tls.mode is off"), "{:?}", l.warnings);
}

#[test]
fn redis_urls_of_the_original_design_are_accepted() {
    let env = [
        ("REDIS_URL", "redis://localhost:6379"),
        ("REDIS_PASSWORD", "pw"),
        ("REDIS_DB", "2"),
        ("REDIS_TTL", "600"),
    ];
    let l = load(&env, Flags::default());
    assert!(l.is_valid(), "{:?}", l.problems);
    assert_eq!((l.config.redis.db, l.config.redis.ttl_secs), (2, 600));
    assert!(!l.render().contains("pw@"));
    let l = load(&[("REDIS_URL", "http://localhost:6379")], Flags::default());
    assert!(l.problems[0].message.contains("redis://"), "{:?}", l.problems);
}

#[test]
fn a_notification_lease_must_outlast_one_delivery_attempt() {
    let l = load(
        &[("FRONTDESK_NOTIFY_LEASE_MS", "2000"), ("FRONTDESK_NOTIFY_TIMEOUT_MS", "1000")],
        Flags::default(),
    );
    assert!(l.is_valid(), "{:?}", l.problems);
    assert_eq!(l.config.notify.lease_ms, 2000);
    let l = load(
        &[("FRONTDESK_NOTIFY_LEASE_MS", "2000"), ("FRONTDESK_NOTIFY_TIMEOUT_MS", "2000")],
        Flags::default(),
    );
    assert_eq!(l.problems.len(), 1, "{:?}", l.problems);
    assert!(l.problems[0].key.contains("notify.lease_ms"), "{:?}", l.problems);
    assert!(l.problems[0].message.contains("delivery_timeout_ms"), "{:?}", l.problems);
}
