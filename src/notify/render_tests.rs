//! Wording of emails, SMS and calls, from fixed data.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use super::*;
use crate::domain::{Business, BusinessType, Channel, LeadStatus, Message, NotifyChannel, PlanTier, Speaker};

fn business() -> Business {
    Business {
        id: "b1".into(),
        name: "Acme <Plumbing> & Drain".into(),
        business_type: BusinessType::Plumbing,
        plan_tier: PlanTier::Pro,
        twilio_phone_number: Some("+13125550100".into()),
        notification_email: Some("owner@acme.example".into()),
        notification_phone_number: Some("+13125550199".into()),
        notification_webhook_url: None,
        country: "US".into(),
        timezone: "America/Chicago".into(),
        website_origins: vec![],
        created_at: crate::domain::parse_rfc3339("2025-01-01T00:00:00.000Z").unwrap(),
        updated_at: crate::domain::parse_rfc3339("2025-01-01T00:00:00.000Z").unwrap(),
    }
}

fn lead() -> Lead {
    Lead {
        id: "lead1".into(),
        business_id: "b1".into(),
        conversation_id: Some("c1".into()),
        channel: Channel::Chat,
        status: LeadStatus::New,
        priority: Priority::Urgent,
        contact_name: Some("Dana <script>alert(1)</script> Smith".into()),
        contact_email: None,
        contact_phone: Some("+13125550142".into()),
        address: Some("12 Elm Street".into()),
        notes: None,
        captured: BTreeMap::from([
            ("emergency_reasons".to_string(), "water + pour + ceiling".to_string()),
            ("problem".to_string(), "water leak or flooding".to_string()),
            ("first_message".to_string(), "A pipe burst & water is everywhere".to_string()),
        ]),
        created_at: crate::domain::parse_rfc3339("2025-01-01T00:00:00.000Z").unwrap(),
        updated_at: crate::domain::parse_rfc3339("2025-01-01T00:00:00.000Z").unwrap(),
        alert: None,
        is_test: false,
        owner_notes: None,
    }
}

fn claimed(kind: NotifyEvent) -> Claimed {
    Claimed {
        id: "n1".into(),
        business_id: "b1".into(),
        lead_id: Some("lead1".into()),
        kind,
        channel: NotifyChannel::Email,
        recipient: "owner@acme.example".into(),
        payload: serde_json::json!({}),
        idempotency_key: "lead:lead1:urgent_lead:email".into(),
        attempts: 1,
        lease_token: "t".into(),
    }
}

fn context() -> DeliveryContext {
    DeliveryContext {
        business: business(),
        lead: Some(lead()),
        transcript: vec![Message {
            role: Speaker::User,
            content: "Help! <b>water</b>".into(),
            created_at: crate::domain::parse_rfc3339("2025-01-01T00:00:00.000Z").unwrap(),
        }],
        webhook_secret: "s".into(),
        digest_leads: vec![],
    }
}

#[test]
fn an_urgent_email_names_the_issue_and_caller_and_escapes_html() {
    let e = email(&claimed(NotifyEvent::UrgentLead), &context(), "https://fd.example/").unwrap();
    assert_eq!(
        e.subject,
        "URGENT: water leak or flooding — Dana <script>alert(1)</script> Smith — (312) 555-0142 — 12 Elm Street"
    );
    assert!(!e.text.contains("Emergency signs") && !e.text.contains("emergency_reasons"), "{}", e.text);
    assert!(e.urgent);
    assert!(e.text.contains("Open the lead: https://fd.example/leads/lead1"), "{}", e.text);
    assert!(e.text.contains("Caller: Help! <b>water</b>"), "text is not escaped: {}", e.text);
    assert!(e.text.contains("- First message: A pipe burst & water is everywhere"), "{}", e.text);
    assert!(e.html.contains("<a href=\"https://fd.example/leads/lead1\">"), "{}", e.html);
    assert!(e.html.contains("Dana &#60;script&#62;") || e.html.contains("Dana &lt;script&gt;"), "{}", e.html);
    assert!(!e.html.contains("<script>"), "{}", e.html);
    assert!(e.html.contains("href=\"tel:+13125550142\""), "{}", e.html);
    assert!(!e.html.contains("<b>water</b>"), "{}", e.html);
}

#[test]
fn sms_and_call_are_short_and_carry_the_callback_number() {
    let ctx = context();
    let s = Summary::new(&claimed(NotifyEvent::UrgentLead), &ctx, "https://fd.example");
    let sms = s.sms();
    assert!(sms.starts_with("URGENT (Acme <Plumbing> & Drain): Dana"), "{sms}");
    assert!(sms.contains("water leak or flooding") && sms.contains("At: 12 Elm Street"), "{sms}");
    assert!(sms.contains("Call back: (312) 555-0142"), "{sms}");
    assert!(sms.chars().count() <= 300);
    let script = s.call_script();
    assert!(script.contains("3 1 2 5 5 5 0 1 4 2"), "{script}");
    let mut long = ctx.clone();
    long.lead.as_mut().unwrap().captured.insert("problem".into(), "water ".repeat(500));
    let sms = Summary::new(&claimed(NotifyEvent::UrgentLead), &long, "x").sms();
    assert!(sms.chars().count() <= 300, "{}", sms.len());
}

#[test]
fn a_follow_up_carries_what_the_owner_acts_on_and_a_first_alert_says_more_follows() {
    let e = email(&claimed(NotifyEvent::UrgentUpdate), &context(), "https://fd.example").unwrap();
    assert!(e.subject.starts_with("URGENT update: water leak or flooding — Dana"), "{}", e.subject);
    assert!(e.urgent);
    let mut bare = context();
    let lead = bare.lead.as_mut().unwrap();
    (lead.contact_name, lead.contact_phone, lead.address) = (None, None, None);
    let e = email(&claimed(NotifyEvent::UrgentLead), &bare, "https://fd.example").unwrap();
    assert_eq!(e.subject, "URGENT: water leak or flooding — caller's details to follow");
}

#[test]
fn phones_read_nationally_at_home_and_internationally_abroad() {
    assert_eq!(display_phone("+13125550142", "US"), "(312) 555-0142");
    assert_eq!(display_phone("+442079460958", "US"), "+44 20 7946 0958");
    assert_eq!(display_phone("not a number", "US"), "not a number");
}
