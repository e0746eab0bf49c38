//! Built-in HTTPS against a real ACME server (Debian's Pebble, validating
//! for real on the server's own ports): certificates through HTTP-01 and
//! TLS-ALPN-01, everything served over HTTPS to a client that trusts only
//! Pebble's root, the redirect from HTTP, a restart that reuses the stored
//! certificate, a directory that is down at start, and a renewal in the
//! middle of a realtime call over `wss://`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::fake_media::TlsConnect;
use crate::support::fake_realtime::Options as RealtimeOptions;
use crate::support::instance::*;
use crate::support::net::free_port;
use crate::support::pebble::{self, Files, Options, Pebble};
use crate::support::voice::{call_sid, model_audio, Phone, Web, CALLER, GREETING};
use frontdesk::ids::ConversationId;

pub const EMAIL: &str = "ops@frontdesk.test";

/// The environment of an instance getting its certificate from `directory`.
pub fn acme_env(
    domain: &str,
    https: u16,
    http: u16,
    directory: &str,
    bundle: &std::path::Path,
) -> Vec<(String, String)> {
    [
        ("FRONTDESK_TLS_MODE", "acme".to_string()),
        ("FRONTDESK_TLS_DOMAINS", domain.to_string()),
        ("FRONTDESK_TLS_ACME_EMAIL", EMAIL.to_string()),
        ("FRONTDESK_TLS_ACME_DIRECTORY", directory.to_string()),
        ("FRONTDESK_TLS_ACME_CA_BUNDLE", bundle.display().to_string()),
        ("FRONTDESK_TLS_HTTPS_PORT", https.to_string()),
        ("FRONTDESK_TLS_HTTP_PORT", http.to_string()),
        ("FRONTDESK_TLS_ACME_RETRY_SECS", "1".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn serve(fd: &Instance, env: &[(String, String)]) -> Server {
    let mut cmd = fd.command();
    cmd.envs(env.iter().map(|(k, v)| (k, v))).args(["serve", "--bind", "127.0.0.1"]);
    Server::start(cmd)
}

/// A client that trusts only `root_pem` and reaches `domain` on loopback.
pub fn https_client(root_pem: &str, domain: &str, port: u16) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(root_pem.as_bytes()).unwrap())
        .resolve(domain, SocketAddr::from(([127, 0, 0, 1], port)))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn rustls_client(root_pem: &str) -> Arc<rustls::ClientConfig> {
    crate::support::fake_ca::trusting(root_pem)
}

/// The certificate a new TLS connection to `domain` gets (leaf, DER).
pub async fn served_leaf(domain: &str, port: u16, root_pem: &str) -> Vec<u8> {
    let connector = tokio_rustls::TlsConnector::from(rustls_client(root_pem));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from(domain.to_string()).unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

/// The DNS names a certificate (DER) is for.
pub fn dns_names(der: &[u8]) -> Vec<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).unwrap();
    let san = cert.subject_alternative_name().unwrap().unwrap();
    san.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            x509_parser::extensions::GeneralName::DNSName(name) => Some(name.to_string()),
            _ => None,
        })
        .collect()
}

/// Waits until `domain` answers /health over HTTPS with a trusted certificate.
pub async fn wait_for_https(client: &reqwest::Client, domain: &str, port: u16, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    let url = format!("https://{domain}:{port}/health");
    loop {
        match client.get(&url).send().await {
            Ok(response) if response.status() == 200 => return response.json().await.unwrap(),
            other => assert!(Instant::now() < deadline, "no certificate in time: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn http_01_gets_a_certificate_everything_is_served_over_https_and_a_restart_orders_nothing() {
    if !pebble::available() {
        return;
    }
    let (https, http) = (free_port(), free_port());
    // TLS-ALPN-01 would be checked on a port nobody listens on: only HTTP-01 can pass.
    let pebble =
        Pebble::start(Options { http_port: http, tls_port: free_port(), validity_secs: None, port: None });
    let (domain, other) = ("desk.frontdesk.test", "www.desk.frontdesk.test");
    let fd = Instance::new();
    let env =
        acme_env(&format!("{domain},{other}"), https, http, &pebble.directory, &pebble.files().ca_bundle());
    let server = serve(&fd, &env);
    assert_eq!(server.base, format!("https://127.0.0.1:{https}"));
    let root = pebble.root_pem().await;
    let client = https_client(&root, domain, https);

    let mut health = wait_for_https(&client, domain, https, Duration::from_secs(120)).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while health["tls"]["certificates"][1]["notAfter"].is_null() {
        assert!(Instant::now() < deadline, "no certificate for {other}: {}", health["tls"]);
        tokio::time::sleep(Duration::from_millis(200)).await;
        health = client
            .get(format!("https://{domain}:{https}/health"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    }
    let tls = &health["tls"];
    assert_eq!(tls["mode"], "acme");
    assert_eq!(tls["domains"], json!([domain, other]));
    assert!(tls["notAfter"].is_string(), "{tls}");
    assert_eq!(tls["lastError"], Value::Null, "{tls}");
    // One certificate per domain, chosen by the name the client asks for (SNI).
    assert_eq!(dns_names(&served_leaf(domain, https, &root).await), [domain]);
    assert_eq!(dns_names(&served_leaf(other, https, &root).await), [other]);

    // A page, over HTTPS: HSTS, and cookies that never travel over plain HTTP.
    let page = client.get(format!("https://{domain}:{https}/setup")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["strict-transport-security"], "max-age=31536000");
    let cookies: Vec<String> =
        page.headers().get_all("set-cookie").iter().map(|c| c.to_str().unwrap().to_string()).collect();
    assert!(!cookies.is_empty() && cookies.iter().all(|c| c.ends_with("; Secure")), "{cookies:?}");
    assert!(page.text().await.unwrap().contains("<form"));
    // A client with only the public roots does not trust Pebble's certificate.
    let stranger = reqwest::Client::builder()
        .resolve(domain, SocketAddr::from(([127, 0, 0, 1], https)))
        .build()
        .unwrap();
    assert!(stranger.get(format!("https://{domain}:{https}/health")).send().await.is_err());

    // Plain HTTP: a 308 to the same place on https, except ACME challenges.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve(domain, SocketAddr::from(([127, 0, 0, 1], http)))
        .build()
        .unwrap();
    let moved = plain.get(format!("http://{domain}:{http}/dashboard?from=test")).send().await.unwrap();
    assert_eq!(moved.status(), 308);
    assert_eq!(moved.headers()["location"], format!("https://{domain}:{https}/dashboard?from=test"));
    let posted = plain.post(format!("http://{domain}:{http}/api/chat")).body("{}").send().await.unwrap();
    assert_eq!(posted.status(), 308, "a POST keeps its method through a 308");
    let challenge =
        plain.get(format!("http://{domain}:{http}/.well-known/acme-challenge/nope")).send().await.unwrap();
    assert_eq!(challenge.status(), 404);

    // The account key and the certificate are private.
    let tls_dir = fd.data_dir().join("tls");
    let store = std::fs::read_dir(&tls_dir).unwrap().next().unwrap().unwrap().path();
    #[cfg(unix)]
    {
        assert_eq!(mode(&fd.data_dir()), 0o700);
        assert_eq!(mode(&tls_dir), 0o700);
        assert_eq!(mode(&store), 0o700);
        assert_eq!(mode(&store.join("account.json")), 0o600);
        assert_eq!(mode(&store.join(format!("{domain}.pem"))), 0o600);
    }

    // Restart with the CA gone: the stored certificate is served and no
    // order is attempted (one would fail and show in lastError).
    let before = served_leaf(domain, https, &root).await;
    drop(server);
    let _files = pebble.stop();
    let server = serve(&fd, &env);
    let health = wait_for_https(&client, domain, https, Duration::from_secs(10)).await;
    assert_eq!(served_leaf(domain, https, &root).await, before, "the same certificate");
    assert_eq!(health["tls"]["notAfter"], tls["notAfter"]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let health: Value =
        client.get(format!("https://{domain}:{https}/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["tls"]["lastError"], Value::Null, "{}", health["tls"]);
    drop(server);
}

#[tokio::test]
async fn when_http_01_cannot_pass_tls_alpn_01_on_the_https_port_gets_the_certificate() {
    if !pebble::available() {
        return;
    }
    let (https, http) = (free_port(), free_port());
    // HTTP-01 is checked on a port nobody listens on; TLS-ALPN-01 on ours.
    let pebble =
        Pebble::start(Options { http_port: free_port(), tls_port: https, validity_secs: None, port: None });
    let domain = "alpn.frontdesk.test";
    let fd = Instance::new();
    let server = serve(&fd, &acme_env(domain, https, http, &pebble.directory, &pebble.files().ca_bundle()));
    let root = pebble.root_pem().await;
    let client = https_client(&root, domain, https);
    let health = wait_for_https(&client, domain, https, Duration::from_secs(120)).await;
    assert_eq!(health["tls"]["lastError"], Value::Null, "{}", health["tls"]);
    assert_eq!(dns_names(&served_leaf(domain, https, &root).await), [domain]);
    drop(server);
}

#[tokio::test]
async fn a_directory_down_at_start_leaves_the_server_up_on_http_and_is_retried() {
    if !pebble::available() {
        return;
    }
    let (https, http, directory_port) = (free_port(), free_port(), free_port());
    let files = Files::new();
    let directory = format!("https://127.0.0.1:{directory_port}/dir");
    let domain = "late.frontdesk.test";
    let fd = Instance::new();
    let server = serve(&fd, &acme_env(domain, https, http, &directory, &files.ca_bundle()));

    // Up on HTTP, saying what is wrong and when it tries again.
    let plain = reqwest::Client::new();
    let health_url = format!("http://127.0.0.1:{http}/health");
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.len() < 2 {
        assert!(Instant::now() < deadline, "no retries seen: {seen:?}");
        let health: Value = plain.get(&health_url).send().await.unwrap().json().await.unwrap();
        assert_eq!(health["status"], "ok");
        let cert = &health["tls"]["certificates"][0];
        if let Some(error) = health["tls"]["lastError"].as_str() {
            assert!(error.starts_with(&format!("{domain}: ")), "{error}");
            assert!(error.contains("refused") || error.contains("connect"), "{error}");
            assert!(cert["retryAt"].is_string(), "{cert}");
            if !seen.contains(&cert["retryAt"]) {
                seen.push(cert["retryAt"].clone());
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The chat and pages work meanwhile, over HTTP.
    assert_eq!(plain.get(format!("http://127.0.0.1:{http}/login")).send().await.unwrap().status(), 200);

    // The CA comes up: the next retry gets the certificate.
    let pebble = Pebble::start_with(
        files,
        Options { http_port: http, tls_port: free_port(), validity_secs: None, port: Some(directory_port) },
    );
    let root = pebble.root_pem().await;
    let client = https_client(&root, domain, https);
    let health = wait_for_https(&client, domain, https, Duration::from_secs(120)).await;
    assert_eq!(health["tls"]["lastError"], Value::Null, "{}", health["tls"]);
    drop(server);
}

#[tokio::test]
async fn a_realtime_call_over_wss_carries_on_through_a_certificate_renewal() {
    if !pebble::available() {
        return;
    }
    let (https, http) = (free_port(), free_port());
    // 30-second certificates: renewed 20 seconds in, in the middle of the call.
    let pebble = Pebble::start(Options {
        http_port: http,
        tls_port: free_port(),
        validity_secs: Some(30),
        port: None,
    });
    let domain = "calls.frontdesk.test";
    let root = pebble.root_pem().await;
    let public = format!("https://{domain}:{https}");
    let web = Web {
        base: Some(public.clone()),
        public: public.clone(),
        stream: format!("wss://{domain}:{https}/api/voice/stream"),
        // No TWILIO_WEBHOOK_BASE_URL, no HOSTNAME: the public address comes from the TLS domain.
        env: acme_env(domain, https, http, &pebble.directory, &pebble.files().ca_bundle()),
        http: https_client(&root, domain, https),
        media_tls: Some(TlsConnect {
            addr: SocketAddr::from(([127, 0, 0, 1], https)),
            config: rustls_client(&root),
        }),
    };
    let phone = Phone::launch(true, RealtimeOptions::default(), &[], web).await;
    wait_for_https(&phone.http, domain, https, Duration::from_secs(120)).await;
    let first = served_leaf(domain, https, &root).await;

    // The call starts on the first certificate, signed over the https and wss URLs.
    let sid = call_sid(40);
    let (mut call, mut conn) = phone.answer(&sid, true).await;
    conn.speak("resp_0", "item_0", &model_audio(2), GREETING);
    call.expect("mark").await;

    // It goes on (the caller talking) until new connections get a new certificate.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut appended = 0;
    loop {
        for frame in 0..10 {
            call.media(&crate::support::fake_media::tone(300.0 + frame as f64, 20)).await;
        }
        appended += 10;
        if served_leaf(domain, https, &root).await != first {
            break;
        }
        assert!(Instant::now() < deadline, "no renewal within a minute: {}", pebble.log());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let health: Value =
        phone.http.get(format!("{public}/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["tls"]["lastError"], Value::Null, "{}", health["tls"]);

    // The call, on its original TLS session, is unharmed: audio both ways, a tool, a goodbye.
    conn.wait_appended(appended).await;
    conn.caller_said("item_c1", "Hi, this is Dana Smith, my kitchen sink is blocked");
    conn.function_calls(
        "resp_1",
        &[("call_name", "save_lead_field", json!({ "field": "name", "value": "Dana Smith" }))],
    );
    conn.expect("response.create").await;
    assert_eq!(conn.function_output("call_name").unwrap()["saved"], true);
    conn.speak("resp_2", "item_2", &model_audio(3), "Thanks Dana, someone will call you back today.");
    for _ in 0..3 {
        call.expect("mark").await;
    }
    call.stop().await;
    let ended = phone.ended(&sid).await;
    assert_eq!(ended.ended_reason.map(|r| r.as_str()), Some("caller_hung_up"));
    let lead = phone.lead().await;
    assert_eq!(lead.contact_name.as_deref(), Some("Dana Smith"));
    assert_eq!(lead.contact_phone.as_deref(), Some(CALLER));
    // The last line is written as the bridge winds down, which on a loaded
    // machine can be just after the call is marked ended.
    let conversation = lead.conversation_id.as_deref().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let transcript = phone.store().transcript(&ConversationId::from(conversation)).await.unwrap();
        if transcript.iter().any(|m| m.content == "Thanks Dana, someone will call you back today.") {
            break;
        }
        assert!(Instant::now() < deadline, "{transcript:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Writes `text` padded with newlines to `len` bytes: two certificates of one
/// shape then have files of one size, so only the modification time differs.
fn write_padded(path: &std::path::Path, text: &str, len: usize) {
    assert!(text.len() <= len);
    std::fs::write(path, format!("{text}{}", "\n".repeat(len - text.len()))).unwrap();
}

#[tokio::test]
async fn files_mode_reloads_when_the_files_change_and_on_sighup() {
    let ca = crate::support::fake_ca::TestCa::new();
    let domain = "files.frontdesk.test";
    let (a, b, c) = (ca.leaf(&[domain]), ca.leaf(&[domain]), ca.leaf(&[domain]));
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    write_padded(&cert, &a.cert_pem, 4096);
    write_padded(&key, &a.key_pem, 4096);
    let fd = Instance::new();
    let env: Vec<(String, String)> = [
        ("FRONTDESK_TLS_MODE", "files".to_string()),
        ("FRONTDESK_TLS_CERT_FILE", cert.display().to_string()),
        ("FRONTDESK_TLS_KEY_FILE", key.display().to_string()),
        ("FRONTDESK_TLS_HTTPS_PORT", "0".to_string()),
        ("FRONTDESK_TLS_HTTP_PORT", "0".to_string()),
        ("FRONTDESK_HEADER_READ_TIMEOUT_SECS", "1".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let server = serve(&fd, &env);
    let port: u16 = server.base.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(served_leaf(domain, port, &ca.pem).await, a.der);

    // Replaced on disk: new connections get the new certificate.
    write_padded(&cert, &b.cert_pem, 4096);
    write_padded(&key, &b.key_pem, 4096);
    let deadline = Instant::now() + Duration::from_secs(10);
    while served_leaf(domain, port, &ca.pem).await != b.der {
        assert!(Instant::now() < deadline, "the changed files were not picked up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Replaced with the old size and time, so no watcher can see it: SIGHUP reloads.
    // Each is written beside, given the old time, then renamed over, so at no
    // moment does the path show a new size or time (a watcher polling while a
    // loaded machine is between the write and the touch would otherwise see it).
    // Each file keeps its own time: the key was written after the certificate
    // and, when a clock tick fell between the two writes, has a later one.
    for (path, text) in [(&cert, &c.cert_pem), (&key, &c.key_pem)] {
        let stamp = std::fs::metadata(path).unwrap().modified().unwrap();
        let beside = path.with_extension("new");
        write_padded(&beside, text, 4096);
        std::fs::File::options().write(true).open(&beside).unwrap().set_modified(stamp).unwrap();
        std::fs::rename(&beside, path).unwrap();
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(served_leaf(domain, port, &ca.pem).await, b.der, "unchanged to the watcher");
    let pid = server.child.id().to_string();
    std::process::Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while served_leaf(domain, port, &ca.pem).await != c.der {
        assert!(Instant::now() < deadline, "SIGHUP did not reload");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A broken file keeps the certificate in use and says why.
    std::fs::write(&cert, "not a certificate").unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(served_leaf(domain, port, &ca.pem).await, c.der);
    let client = https_client(&ca.pem, domain, port);
    let health: Value =
        client.get(format!("https://{domain}:{port}/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["tls"]["mode"], "files");
    assert!(health["tls"]["lastError"].as_str().is_some_and(|e| e.contains("cert.pem")), "{}", health["tls"]);

    // A TLS handshake that never starts is cut off like a slow request head.
    let mut silent = crate::support::net::connect_from([127, 0, 0, 1], &format!("127.0.0.1:{port}"));
    let started = Instant::now();
    silent.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let read = std::io::Read::read(&mut silent, &mut [0u8; 16]);
    assert!(matches!(read, Ok(0) | Err(_)) && started.elapsed() < Duration::from_secs(5), "{read:?}");
}
