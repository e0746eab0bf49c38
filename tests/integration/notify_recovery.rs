//! The outbox under stress: SIGKILL with deliveries pending and in flight,
//! a flood of 1,000 leads, and the daily digest across restarts.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::support::fake_smtp::{available, SmtpServer};
use crate::support::fake_twilio::FakeTwilio;
use crate::support::notify::*;
use frontdesk::ids::BusinessId;

const WAIT: Duration = Duration::from_secs(120);

fn proc_status(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn sigkill_with_notifications_pending_and_in_flight_loses_none() {
    if !available("sigkill_with_notifications_pending_and_in_flight_loses_none") {
        return;
    }
    let mut h = Harness::new(&business_file("PRO", ""));
    let smtp = SmtpServer::start(&h.fd.dir.path().join("mail"), None);
    let twilio = FakeTwilio::start().await;
    let mut env = smtp.env();
    env.extend(twilio.env());
    env.push(("TWILIO_PHONE_NUMBER", TWILIO_NUMBER.into()));
    // One delivery at a time per channel: the rest wait their turn (pending).
    for key in ["EMAIL", "SMS", "CALL"] {
        env.push((
            match key {
                "EMAIL" => "FRONTDESK_NOTIFY_EMAIL_CONCURRENCY",
                "SMS" => "FRONTDESK_NOTIFY_SMS_CONCURRENCY",
                _ => "FRONTDESK_NOTIFY_CALL_CONCURRENCY",
            },
            "1".into(),
        ));
    }
    // A lease just over the delivery timeout (10 s): on Postgres the killed
    // server's in-flight rows wait for their lease to run out, as they would
    // for another instance (SQLite takes them back at start).
    env.push(("FRONTDESK_NOTIFY_LEASE_MS", "15000".into()));
    // The SMTP server accepts and then stalls; Twilio answers after a minute.
    smtp.set_mode("stall");
    twilio.set_delay(Some(Duration::from_secs(60)));
    h.serve(&env);
    let business_id = h.business_id.clone();
    for _ in 0..3 {
        h.emergency(&business_id).await;
    }
    let rows = h
        .wait_rows(&business_id, WAIT, |rows| {
            let count = |channel: &str, state: &str| {
                rows.iter().filter(|n| n.channel == channel && n.state == state).count()
            };
            ["email", "sms", "voice_call"]
                .iter()
                .all(|c| count(c, "in_flight") == 1 && count(c, "pending") == 2)
        })
        .await;
    assert_eq!(rows.len(), 9);
    h.kill();

    // Everything recovers: the mail server and Twilio answer, the server restarts on the same data.
    smtp.set_mode("ok");
    twilio.set_delay(None);
    h.serve(&env);
    let rows = h.wait_rows(&business_id, WAIT, |rows| rows.iter().all(|n| n.state == "sent")).await;
    assert_eq!(rows.len(), 9, "none lost");
    let resumed: Vec<_> = rows.iter().filter(|n| n.attempts >= 2).collect();
    assert!(resumed.len() >= 3, "the in-flight rows were attempted again: {rows:#?}");

    // Every email arrived exactly once (the stalled attempt never completed).
    let expected: Vec<String> = rows
        .iter()
        .filter(|n| n.channel == "email")
        .map(|n| {
            message_id(&format!("lead:{}:urgent_lead:email", n.lead_id.as_deref().unwrap()), "fd.example")
        })
        .collect();
    smtp.wait_for(3, WAIT);
    let mut seen: HashMap<String, usize> = HashMap::new();
    for id in smtp.message_ids() {
        *seen.entry(id).or_default() += 1;
    }
    for id in &expected {
        assert_eq!(seen.get(id), Some(&1), "{id} in {seen:?}");
    }
    // Twilio has no idempotency keys: at least once each.
    assert!(twilio.accepted("Messages").len() >= 3, "{:#?}", twilio.requests());
    assert!(twilio.accepted("Calls").len() >= 3, "{:#?}", twilio.requests());
}

#[tokio::test]
async fn a_flood_of_1000_leads_is_delivered_with_bounded_connections() {
    if !available("a_flood_of_1000_leads_is_delivered_with_bounded_connections") {
        return;
    }
    const LEADS: usize = 1000;
    const CONNECTIONS: u32 = 4;
    let mut h = Harness::new(&business_file("FREE", ""));
    let smtp = SmtpServer::start(&h.fd.dir.path().join("mail"), None);
    let mut env = smtp.env();
    env.push(("FRONTDESK_NOTIFY_EMAIL_CONCURRENCY", CONNECTIONS.to_string()));
    // A throughput test, not a toll-fraud one: no daily cap.
    env.push(("FRONTDESK_NOTIFY_DAILY_URGENT_CAP", "0".to_string()));
    h.serve(&env);
    let pid = h.server().child.id();
    let started = Instant::now();
    let url = h.server().url("/api/chat");
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (url, business_id) = (url.clone(), h.business_id.clone());
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            for _ in 0..LEADS / 8 {
                let body = serde_json::json!({ "businessId": business_id,
                    "message": "Our basement is flooding and water is pouring through the ceiling" });
                let res = http.post(&url).json(&body).send().await.unwrap();
                assert_eq!(res.status(), 200);
            }
        }));
    }
    for c in clients {
        c.await.unwrap();
    }
    let created = started.elapsed();
    let ids = smtp.wait_for(LEADS, WAIT);
    let delivered = started.elapsed();
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), LEADS, "no email twice");
    let peak = smtp.max_connections();
    assert!((1..=CONNECTIONS).contains(&peak), "{peak} SMTP connections at once");
    let (hwm, rss) = (proc_status(pid, "VmHWM:"), proc_status(pid, "VmRSS:"));
    eprintln!(
        "flood: {LEADS} URGENT chats in {created:?}, all emails accepted after {delivered:?}; \
         at most {peak} SMTP connections; server RSS {} MiB (peak {} MiB)",
        rss / 1024,
        hwm / 1024
    );
    assert!(hwm < 300 * 1024, "peak RSS {hwm} kB");
    let counts = h.store().notification_counts(&BusinessId::from(&h.business_id)).await.unwrap();
    let sent = counts.iter().find(|(s, _)| s.as_str() == "sent").map(|(_, n)| *n);
    assert_eq!(sent, Some(LEADS as u64), "{counts:?}");
}

#[tokio::test]
async fn the_daily_digest_is_sent_once_per_local_day() {
    // No SMTP server: the digest lands in the local outbox.
    let mut h = Harness::new(&business_file("FREE", "timezone = \"America/Chicago\""));
    h.serve(&[]);
    let business_id = h.business_id.clone();
    let (_, lead_id) = h.new_lead(&business_id, "Dana Smith", "312-555-0142").await;
    h.wait_rows(&business_id, WAIT, |rows| rows.iter().all(|n| n.state == "kept")).await;
    h.server.take().unwrap().stop();
    // The lead came in yesterday (local time): today's digest covers it.
    let yesterday = (chrono::Utc::now() - chrono::Duration::hours(24))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    h.fd.sql(&[(
        "UPDATE leads SET created_at = ?1 WHERE id = ?2",
        vec![yesterday.into(), lead_id.clone().into()],
    )]);

    // Hour 0: due as soon as the server starts, whatever the time of day.
    let env = [("FRONTDESK_NOTIFY_DIGEST_HOUR", "0".to_string())];
    h.serve(&env);
    let rows = h
        .wait_rows(&business_id, WAIT, |rows| rows.iter().any(|n| n.kind == "digest" && n.state == "kept"))
        .await;
    let today = chrono::Utc::now().with_timezone(&chrono_tz::America::Chicago).date_naive().to_string();
    let digest = rows.iter().find(|n| n.kind == "digest").unwrap();
    assert_eq!(digest.payload["date"], today.as_str());
    let emails = h.store().local_emails(&BusinessId::from(&business_id), 10).await.unwrap();
    let email = emails.iter().find(|e| e.subject.contains("new lead(s)")).expect("the digest email");
    assert_eq!(email.subject, format!("Flow Plumbing: 1 new lead(s) — {today}"));
    assert!(email.text_body.contains("Dana Smith, (312) 555-0142"), "{}", email.text_body);
    assert!(email.html_body.contains(&format!("{PUBLIC_URL}/leads/{lead_id}")), "{}", email.html_body);

    // A restart the same day sends no second digest. Once a later emergency
    // has been delivered, the restarted worker has looked for digests.
    h.serve(&env);
    h.emergency(&business_id).await;
    let rows = h
        .wait_rows(&business_id, WAIT, |rows| {
            rows.iter().any(|n| n.kind == "urgent_lead" && n.state == "kept")
        })
        .await;
    assert_eq!(rows.iter().filter(|n| n.kind == "digest").count(), 1);
}
