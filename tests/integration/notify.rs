//! Notifications end to end on the real binary: a real SMTP server, the fake
//! Twilio REST API, a webhook receiver that checks signatures; plans and
//! preferences; retries, dead rows and the owner's retry.

use std::time::Duration;

use frontdesk::domain::{NotificationPrefs, NotificationState, NotifyChannel};
use frontdesk::ids::BusinessId;
use frontdesk::notify::policy::NotifyPolicy;
use frontdesk::store::StoreError;
use mail_parser::MessageParser;

use crate::support::fake_smtp::{available, SmtpServer};
use crate::support::fake_twilio::{FakeTwilio, AUTH_TOKEN};
use crate::support::notify::*;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn an_urgent_lead_reaches_every_channel_of_a_pro_business() {
    if !available("an_urgent_lead_reaches_every_channel_of_a_pro_business") {
        return;
    }
    let hooks = WebhookReceiver::start().await;
    let mut h = Harness::new(&business_file("PRO", &format!("notification_webhook_url = \"{}\"", hooks.url)));
    hooks.set_secret(&h.store().webhook_secret(&BusinessId::from(&h.business_id)).await.unwrap());
    let smtp = SmtpServer::start(&h.fd.dir.path().join("mail"), None);
    let twilio = FakeTwilio::start().await;
    let mut env = smtp.env();
    env.extend(twilio.env());
    env.push(("TWILIO_PHONE_NUMBER", TWILIO_NUMBER.into()));
    env.push(("TWILIO_WEBHOOK_BASE_URL", PUBLIC_URL.into()));
    h.serve(&env);

    let business_id = h.business_id.clone();
    let (mut session, lead_id) = h.new_lead(&business_id, "Dana Smith", "312-555-0142").await;
    h.wait_rows(&business_id, WAIT, |rows| rows.len() == 3 && rows.iter().all(|n| n.state == "sent")).await;
    assert_eq!(h.escalate(&business_id, &mut session).await, lead_id);
    let rows = h
        .wait_rows(&h.business_id, WAIT, |rows| rows.len() == 7 && rows.iter().all(|n| n.state == "sent"))
        .await;
    // The first message made a lead (email, SMS, webhook); the emergency used every channel.
    assert_eq!(channels(&rows, "new_lead"), ["email", "sms", "webhook"]);
    assert_eq!(channels(&rows, "urgent_lead"), ["email", "sms", "voice_call", "webhook"]);

    // Email: a real SMTP delivery with a stable Message-ID, both parts and the lead's link.
    let urgent_id = message_id(&format!("lead:{lead_id}:urgent_lead:email"), "fd.example");
    smtp.wait_for(2, WAIT);
    let raw = smtp.raw_messages();
    let parsed: Vec<_> = raw.iter().map(|r| MessageParser::default().parse(r).unwrap()).collect();
    let urgent =
        parsed.iter().find(|m| format!("<{}>", m.message_id().unwrap()) == urgent_id).expect("urgent email");
    let subject = urgent.subject().unwrap();
    assert!(subject.starts_with("URGENT: "), "{subject}");
    assert!(subject.contains("Dana Smith — (312) 555-0142"), "{subject}");
    let text = urgent.body_text(0).unwrap();
    let html = urgent.body_html(0).unwrap();
    let link = format!("{PUBLIC_URL}/leads/{lead_id}");
    assert!(text.contains(&link) && html.contains(&link), "{text}\n{html}");
    assert!(text.contains("Caller: A pipe burst"), "the transcript: {text}");
    assert!(html.contains("<h3>Transcript</h3>"), "{html}");
    assert_eq!(urgent.to().unwrap().first().unwrap().address().unwrap(), "owner@flow.example");
    let email_row = rows.iter().find(|n| n.kind == "urgent_lead" && n.channel == "email").unwrap();
    assert_eq!(email_row.provider_id.as_deref(), Some(urgent_id.as_str()));

    // SMS: to the owner, from our number, with the priority, caller, issue and callback number.
    let sms: Vec<_> = twilio.accepted("Messages");
    let urgent_sms = sms.iter().find(|r| r.get("Body").unwrap().starts_with("URGENT")).expect("urgent SMS");
    assert_eq!(urgent_sms.get("To"), Some(OWNER_PHONE));
    assert_eq!(urgent_sms.get("From"), Some(TWILIO_NUMBER));
    let body = urgent_sms.get("Body").unwrap();
    assert!(body.contains("Dana Smith") && body.contains("(312) 555-0142"), "{body}");
    let sms_row = rows.iter().find(|n| n.kind == "urgent_lead" && n.channel == "sms").unwrap();
    assert_eq!(sms_row.provider_id, urgent_sms.sid, "the SMS SID is kept");

    // The call reads the emergency and offers to connect the caller.
    let call = twilio.wait_for("Calls", WAIT).await;
    assert_eq!((call.get("To"), call.get("From")), (Some(OWNER_PHONE), Some(TWILIO_NUMBER)));
    let twiml = call.get("Twiml").unwrap();
    let call_row = rows.iter().find(|n| n.channel == "voice_call").unwrap();
    let path = format!("/api/notify/calls/{}/connect", call_row.id);
    assert!(twiml.contains(&format!("action=\"{PUBLIC_URL}{path}\"")), "{twiml}");
    assert!(twiml.contains("Press 1 to be connected to the caller"), "{twiml}");
    assert!(twiml.contains("3 1 2 5 5 5 0 1 4 2"), "the callback number is read out: {twiml}");

    // Pressing 1: Twilio's signed request gets <Dial> to the caller; unsigned or forged get 403.
    let form = vec![
        ("CallSid".to_string(), "CA0000000000000000000000000000000a".to_string()),
        ("Digits".to_string(), "1".to_string()),
        ("To".to_string(), OWNER_PHONE.to_string()),
    ];
    let signature = frontdesk::twilio::signature(AUTH_TOKEN, &format!("{PUBLIC_URL}{path}"), &form);
    let client = reqwest::Client::new();
    let post = |sig: Option<String>| {
        let mut req = client.post(h.server().url(&path)).form(&form);
        if let Some(sig) = sig {
            req = req.header("X-Twilio-Signature", sig);
        }
        req.send()
    };
    let res = post(Some(signature)).await.unwrap();
    assert_eq!(res.status(), 200);
    let dial = res.text().await.unwrap();
    assert!(
        dial.contains(&format!("callerId=\"{TWILIO_NUMBER}\"><Number>+13125550142</Number></Dial>")),
        "{dial}"
    );
    assert_eq!(post(None).await.unwrap().status(), 403);
    assert_eq!(post(Some("Zm9yZ2Vk".into())).await.unwrap().status(), 403);

    // Webhooks: signed, verified by the receiver, one per event.
    let received = hooks.hooks();
    assert_eq!(*hooks.refused.lock().unwrap(), 0);
    let urgent_hook = received.iter().find(|k| k.event == "urgent_lead").expect("urgent webhook");
    assert_eq!(urgent_hook.idempotency_key, format!("lead:{lead_id}:urgent_lead:webhook"));
    assert_eq!(urgent_hook.body["lead"]["contact_name"], "Dana Smith");
    assert_eq!(urgent_hook.body["lead"]["priority"], "URGENT");
    assert_eq!(urgent_hook.body["lead_url"], link.as_str());
    assert!(received.iter().any(|k| k.event == "new_lead"));
}

#[tokio::test]
async fn plans_and_preferences_choose_the_channels() {
    // No SMTP server: emails are kept in the local outbox (state kept, not sent).
    let mut h =
        Harness::new(&business_file("FREE", "notification_webhook_url = \"http://127.0.0.1:9/hook\""));
    let basic_file = business_file("BASIC", "notification_webhook_url = \"http://127.0.0.1:9/hook\"");
    let basic = h.import(&format!(
        "{}\n[notifications]\nnew_lead = [\"webhook\"]\ndigest = false\n",
        basic_file.replace("Flow Plumbing", "Basic Plumbing")
    ));
    let pro = h.import(&business_file("PRO", "").replace("Flow Plumbing", "Pro Plumbing"));
    h.serve(&[("ENABLE_EMERGENCY_VOICE_CALLS", "false".into())]);
    let free = h.business_id.clone();

    for business in [&free, &basic, &pro] {
        h.new_lead(business, "Ann", "312-555-0101").await;
        h.emergency(business).await;
    }
    // FREE: email only, whatever the business has.
    let rows = h.notifications(&free).await;
    assert_eq!(channels(&rows, "new_lead"), ["email"]);
    assert_eq!(channels(&rows, "urgent_lead"), ["email"]);
    // BASIC with new leads on the webhook only: URGENT still takes every channel the plan has.
    let rows = h.notifications(&basic).await;
    assert_eq!(channels(&rows, "new_lead"), ["webhook"]);
    assert_eq!(channels(&rows, "urgent_lead"), ["email", "sms", "webhook"]);
    // PRO, but emergency calls are switched off on this instance.
    let rows = h.notifications(&pro).await;
    assert_eq!(channels(&rows, "urgent_lead"), ["email", "sms"]);

    // The local outbox has the FREE business's emails.
    let rows = h.wait_rows(&free, WAIT, |r| r.iter().all(|n| n.state == "kept")).await;
    let store = h.store();
    let emails = store.local_emails(&BusinessId::from(&free), 10).await.unwrap();
    assert_eq!(emails.len(), 2);
    assert!(emails.iter().any(|e| e.subject.starts_with("URGENT: ")), "{emails:#?}");
    assert!(rows.iter().all(|n| n.sent_at.is_some()));

    // Tests and preferences through the store, as the UI will use them.
    let policy = NotifyPolicy { voice_calls: false, ..NotifyPolicy::default() };
    let refused = store
        .enqueue_test_notification(&BusinessId::from(&free), NotifyChannel::Sms, policy)
        .await
        .unwrap_err();
    assert!(matches!(&refused, StoreError::Invalid(m) if m.contains("FREE")), "{refused}");
    let refused = store
        .enqueue_test_notification(&BusinessId::from(&pro), NotifyChannel::Webhook, policy)
        .await
        .unwrap_err();
    assert!(matches!(&refused, StoreError::Invalid(m) if m.contains("webhook URL")), "{refused}");
    store.enqueue_test_notification(&BusinessId::from(&free), NotifyChannel::Email, policy).await.unwrap();
    let prefs = NotificationPrefs { new_lead: vec![], digest_hour: Some(7), ..NotificationPrefs::default() };
    store.set_notification_prefs(&BusinessId::from(&pro), prefs.clone()).await.unwrap();
    assert_eq!(store.notification_prefs(&BusinessId::from(&pro)).await.unwrap(), prefs);
    assert!(matches!(
        store.notification_prefs(&BusinessId::from("nope")).await,
        Err(StoreError::NotFound(_))
    ));
    let counts = store.notification_counts(&BusinessId::from(&free)).await.unwrap();
    assert_eq!(counts.len(), 5);
    let page = store
        .notifications_page(&BusinessId::from(&free), Some(NotificationState::Kept), 1, 0)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert!(page.iter().all(|n| n.business_id == free));
}

#[tokio::test]
async fn failures_retry_with_backoff_go_dead_and_can_be_retried() {
    if !available("failures_retry_with_backoff_go_dead_and_can_be_retried") {
        return;
    }
    let mut h = Harness::new(&business_file("BASIC", ""));
    let other = h.import(&business_file("FREE", "").replace("Flow Plumbing", "Other Plumbing"));
    let port = crate::support::net::free_port();
    let twilio = FakeTwilio::start().await;
    let mut env = vec![
        ("SMTP_HOST", "127.0.0.1".to_string()),
        ("SMTP_PORT", port.to_string()),
        ("SMTP_TLS", "none".to_string()),
        ("SMTP_FROM", "frontdesk@fd.example".to_string()),
        ("TWILIO_PHONE_NUMBER", TWILIO_NUMBER.to_string()),
        ("FRONTDESK_NOTIFY_MAX_ATTEMPTS", "30".to_string()),
    ];
    env.extend(twilio.env());
    h.serve(&env);
    // Twilio refuses the first SMS for good (a 400): dead at once, not retried.
    twilio.fail_next(1, 400);
    let mut s = None;
    h.say(&mut s, "A pipe burst, water is pouring through the ceiling").await;

    // The SMTP server is down: the email is retried, with the error kept.
    let rows = h
        .wait_rows(&h.business_id, WAIT, |rows| {
            rows.iter().any(|n| n.channel == "email" && n.attempts >= 3 && n.state == "pending")
        })
        .await;
    let email = rows.iter().find(|n| n.channel == "email").unwrap();
    assert!(email.last_error.as_deref().unwrap_or_default().contains("SMTP"), "{email:?}");
    assert!(email.next_attempt_at > email.updated_at || email.state != "pending", "{email:?}");
    let sms = rows.iter().find(|n| n.channel == "sms").unwrap();
    assert_eq!((sms.state.as_str(), sms.attempts), ("dead", 1), "{sms:?}");

    // The server comes back: delivered on a later attempt.
    let smtp = SmtpServer::start(&h.fd.dir.path().join("mail"), Some(port));
    let rows = h
        .wait_rows(&h.business_id, WAIT, |rows| {
            rows.iter().any(|n| n.channel == "email" && n.state == "sent")
        })
        .await;
    let email = rows.iter().find(|n| n.channel == "email").unwrap();
    assert!(email.attempts >= 4, "{email:?}");
    assert!(email.last_error.is_none(), "{email:?}");
    smtp.wait_for(1, WAIT);

    // A permanent SMTP refusal (5xx) is dead at once.
    smtp.set_mode("reject");
    let mut s = None;
    h.say_to(&other, &mut s, "A pipe burst, water is pouring through the ceiling").await;
    let rows = h.wait_rows(&other, WAIT, |rows| rows.iter().any(|n| n.state == "dead")).await;
    assert_eq!(
        (rows[0].attempts, rows[0].last_error.as_deref().unwrap_or_default().contains("550")),
        (1, true),
        "{rows:?}"
    );

    // The owner retries dead notifications; other businesses cannot touch them.
    let store = h.store();
    let dead_sms = sms.id.clone();
    assert!(matches!(
        store.retry_notification(&BusinessId::from(&other), &dead_sms).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.retry_notification(&BusinessId::from(&h.business_id), &email.id).await,
        Err(StoreError::Conflict(_))
    ));
    store.retry_notification(&BusinessId::from(&h.business_id), &dead_sms).await.unwrap();
    smtp.set_mode("ok");
    store.retry_notification(&BusinessId::from(&other), &rows[0].id).await.unwrap();
    h.wait_rows(&h.business_id, WAIT, |rows| rows.iter().all(|n| n.state == "sent")).await;
    h.wait_rows(&other, WAIT, |rows| rows.iter().all(|n| n.state == "sent")).await;
    assert_eq!(twilio.accepted("Messages").len(), 1);
    smtp.wait_for(2, WAIT);
}
