//! Issue 10, the HTTP surface: who the client is behind a proxy, bodies read
//! within limits and a deadline (chunked too), API fields, HEAD and
//! compression, a database that cannot be written, engine text that used to
//! panic, and URL passwords in `config check`.

use std::io::Read;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::chat::Chat;
use crate::support::instance::*;
use crate::support::ui::*;

/// Sends raw bytes; returns what came back within `wait` (the status line
/// first), or "" when nothing did.
async fn raw(base: &str, request: &[u8], wait: Duration) -> String {
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Err(_) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                out.extend_from_slice(&buf[..n]);
                if out.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    /// A chat message with this X-Forwarded-For; its status.
    async fn from(chat: &Chat, forwarded: &str) -> u16 {
        let body = json!({ "businessId": chat.business_id, "message": "Do you work on Saturdays?" });
        let res = reqwest::Client::new()
            .post(chat.server.url("/api/chat"))
            .header("x-forwarded-for", forwarded)
            .json(&body)
            .send()
            .await
            .unwrap();
        res.status().as_u16()
    }
    let chat = Chat::start_with(&[("CHAT_RATE_LIMIT_PER_IP", "3")]);
    let mut statuses = Vec::new();
    for i in 0..5 {
        statuses.push(from(&chat, &format!("203.0.113.{i}")).await);
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429], "a client cannot name itself");

    // Behind a trusted proxy: the right-most hop the proxy appended, not what the client wrote.
    let chat =
        Chat::start_with(&[("CHAT_RATE_LIMIT_PER_IP", "3"), ("FRONTDESK_TRUSTED_PROXIES", "127.0.0.1")]);
    let mut statuses = Vec::new();
    for i in 0..4 {
        statuses.push(from(&chat, &format!("6.6.6.{i}, 198.51.100.7")).await);
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    assert_eq!(from(&chat, "198.51.100.8").await, 200, "another real client has its own budget");
}

#[tokio::test]
async fn bodies_are_refused_by_their_length_and_given_up_when_they_stall() {
    let chat = Chat::start_with(&[("FRONTDESK_BODY_READ_TIMEOUT_SECS", "1")]);
    let base = chat.server.base.clone();
    // A sign-in form announcing 3 MB: refused before a byte of it is read.
    let head = b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 3000000\r\n\r\n";
    let answer = raw(&base, head, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:?}");
    let head = b"POST /api/admin/business HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1500000\r\n\r\n";
    let answer = raw(&base, head, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "no bearer token, no large body: {answer:?}");
    // A chat body that stops arriving: 408 after the deadline, not a connection held forever.
    let stalled = b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"businessId\":";
    let answer = raw(&base, stalled, Duration::from_secs(4)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    // So does a page form.
    let stalled = b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\nemail=";
    let answer = raw(&base, stalled, Duration::from_secs(4)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
}

#[tokio::test]
async fn chunked_bodies_are_accepted_within_the_same_limits() {
    let chat = Chat::start();
    let body = json!({ "businessId": chat.business_id, "message": "Do you work on Saturdays?" }).to_string();
    let chunked = |body: String| {
        let stream = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(body.into_bytes())]);
        reqwest::Body::wrap_stream(stream)
    };
    let http = reqwest::Client::new();
    let res = http
        .post(chat.server.url("/api/chat"))
        .header("content-type", "application/json")
        .body(chunked(body))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "Transfer-Encoding: chunked is a body like any other");
    let big = json!({ "businessId": chat.business_id, "message": "x".repeat(20_000) }).to_string();
    let res = http.post(chat.server.url("/api/chat")).body(chunked(big)).send().await.unwrap();
    assert_eq!(res.status(), 413);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "payload_too_large");
}

#[tokio::test]
async fn signed_twilio_webhooks_may_be_chunked() {
    let phone = crate::support::voice::Phone::start(false, &[]).await;
    let params = [
        ("CallSid", "CA00000000000000000000000000000001"),
        ("CallStatus", "completed"),
        ("To", "+13125550100"),
    ];
    let signature = crate::support::fake_media::twilio_signature(
        crate::support::fake_twilio::AUTH_TOKEN,
        &format!("{}/api/voice/status", crate::support::voice::PUBLIC),
        &params,
    );
    let form: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    let stream = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(form.into_bytes())]);
    let res = phone
        .http
        .post(phone.server.url("/api/voice/status"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", signature)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
}

#[tokio::test]
async fn api_bodies_name_unknown_fields_and_take_the_original_names() {
    let ui = Ui::empty(&[]);
    let id = ui.business("Alpha Plumbing", "PRO");
    ui.user("owner@alpha.example", "owner", Some(&id));
    let token = ui.token("owner@alpha.example").await;
    let (status, body) = ui
        .api(
            &token,
            "POST",
            "/api/admin/config/voice",
            Some(json!({ "voiceGreetingMessage": "Hello from the seed" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["voiceGreetingMessage"], "Hello from the seed");
    let (status, body) = ui
        .api(&token, "POST", "/api/admin/config/voice", Some(json!({ "voice_greting_message": "typo" })))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("'voice_greting_message'"), "{body}");
    let (status, body) = ui
        .api(
            &token,
            "POST",
            "/api/admin/questions",
            Some(json!({ "questionText": "Which town?", "isRequired": false })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        (body["questionText"].as_str(), body["isRequired"].as_bool()),
        (Some("Which town?"), Some(false))
    );
    let (status, body) = ui
        .api(
            &token,
            "POST",
            "/api/auth/login",
            Some(json!({ "email": "a@b.example", "password": "x", "remember": true })),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("'remember'"));
}

#[tokio::test]
async fn head_answers_wherever_get_does_and_responses_are_compressed_when_asked() {
    let chat = Chat::start();
    let http = reqwest::Client::builder().no_gzip().no_brotli().build().unwrap();
    for path in ["/widget.js", "/login", "/health", &format!("/demo/{}", chat.business_id)] {
        let res = http.head(chat.server.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "HEAD {path}");
        let bytes = res.bytes().await.unwrap();
        assert!(bytes.is_empty(), "HEAD {path} has no body");
    }
    let plain = http.get(chat.server.url("/widget.js")).send().await.unwrap().bytes().await.unwrap();
    let res = http.get(chat.server.url("/widget.js")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(res.headers()["content-encoding"], "gzip");
    assert!(res.headers()["vary"].to_str().unwrap().contains("Accept-Encoding"));
    let packed = res.bytes().await.unwrap();
    assert!(packed.len() * 2 < plain.len(), "{} of {} bytes", packed.len(), plain.len());
    let mut unpacked = Vec::new();
    flate2::read::GzDecoder::new(&packed[..]).read_to_end(&mut unpacked).unwrap();
    assert_eq!(unpacked, plain);
    let res = http
        .get(chat.server.url("/widget.js"))
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-encoding"], "br");
    let packed = res.bytes().await.unwrap();
    let mut unpacked = Vec::new();
    brotli::Decompressor::new(&packed[..], 4096).read_to_end(&mut unpacked).unwrap();
    assert_eq!(unpacked, plain);
    // The chat stream stays a stream: never compressed, each event as it comes.
    let res = http
        .post(chat.server.url("/api/chat/stream"))
        .header("accept-encoding", "gzip, br")
        .json(&json!({ "businessId": chat.business_id, "message": "Do you work on Saturdays?" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("content-encoding").is_none());
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let text = res.text().await.unwrap();
    assert!(text.contains("event:delta") && text.contains("event:done"), "{text}");
}

#[tokio::test]
async fn a_database_that_cannot_be_written_is_refused_at_start_and_never_acknowledged() {
    // A read-only database file (a read-only bind mount, so it holds for root too).
    let fd = Instance::new();
    fd.import_demo();
    let probe = std::process::Command::new("unshare").args(["--mount", "true"]).status();
    if sqlite_only("a_database_that_cannot_be_written (the read-only file part)", "a read-only database file")
    {
    } else if probe.is_ok_and(|s| s.success()) {
        let db = fd.db();
        let script = "mount --bind -o ro \"$1\" \"$1\" && shift && exec \"$@\"";
        let mut wrapped = fd.command_running("unshare");
        wrapped
            .args(["--mount", "sh", "-c", script, "sh", db.to_str().unwrap(), &bin()])
            .args(["serve", "--port", "0", "--bind", "127.0.0.1"])
            .stdin(std::process::Stdio::null());
        let mut child = wrapped
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let out = child.wait_with_output().unwrap();
        assert!(status.is_some_and(|s| !s.success()), "serve must refuse a read-only database");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("read-only"), "{err}");
    } else {
        eprintln!("skipping the read-only database case: cannot make a mount namespace here");
    }

    // The data directory removed (on Postgres: the schema dropped) under a
    // running server: nothing is acknowledged.
    let chat = Chat::start();
    if on_postgres() {
        chat.fd.lose_database();
    } else {
        std::fs::remove_dir_all(chat.fd.data_dir()).unwrap();
    }
    let (status, body) = chat
        .post(json!({ "businessId": chat.business_id, "message": "I'm Dana Smith, 312-555-0142, my pipe burst!" }))
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(body.get("leadId").is_none(), "{body}");
    assert!(!body["error"].as_str().unwrap().contains("sqlite"), "no database internals: {body}");
    let health = reqwest::get(chat.server.url("/health")).await.unwrap();
    assert_eq!(health.status(), 503);
}

#[tokio::test]
async fn text_whose_lower_case_has_another_length_gets_an_answer() {
    let chat = Chat::start();
    let mut session = None;
    let answer = chat.say(&mut session, "\u{212A}\u{212A}\u{212A} i'm \u{c9}lodie, my sink is blocked").await;
    assert!(!answer["reply"].as_str().unwrap().is_empty(), "{answer}");
}

#[test]
fn config_check_never_prints_a_password_in_a_url() {
    let fd = Instance::new();
    let out = fd
        .command()
        .args(["config", "check"])
        .env("OPENAI_BASE_URL", "https://proxyuser:sk-proxy-secret@llm.example/v1")
        .env("TWILIO_WEBHOOK_BASE_URL", "https://hookuser:hook-secret@fd.example")
        .output()
        .unwrap();
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!text.contains("sk-proxy-secret") && !text.contains("hook-secret"), "{text}");
    assert!(text.contains("https://[redacted]@llm.example/v1"), "{text}");
}
