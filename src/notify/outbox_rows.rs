//! Which outbox rows an event calls for: the business's plan and addresses,
//! the owner's preferences, URGENT replacing new-lead rows, when each row is
//! due, and the daily caps in the owner's words. Pure functions over data, so
//! every store backend only inserts what they return.

use chrono::{DateTime, Utc};

use super::policy::{CapClass, NotifyPolicy};
use crate::domain::{rfc3339, NotificationPrefs, NotifyChannel, NotifyEvent, PlanTier};
use crate::store::outbox::Event;

/// Where a business can be reached, and on which plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    pub plan: PlanTier,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub webhook: Option<String>,
}

impl Targets {
    /// Blank addresses count as none.
    pub fn new(
        plan: PlanTier,
        email: Option<String>,
        phone: Option<String>,
        webhook: Option<String>,
    ) -> Self {
        let set = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        Targets { plan, email: set(email), phone: set(phone), webhook: set(webhook) }
    }

    pub fn recipient(&self, channel: NotifyChannel) -> Option<&str> {
        match channel {
            NotifyChannel::Email => self.email.as_deref(),
            NotifyChannel::Sms | NotifyChannel::VoiceCall => self.phone.as_deref(),
            NotifyChannel::Webhook => self.webhook.as_deref(),
        }
    }
}

/// One notification to insert (state pending, no attempts yet).
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub kind: NotifyEvent,
    pub channel: NotifyChannel,
    pub lead_id: Option<String>,
    pub recipient: String,
    pub payload: serde_json::Value,
    /// `<event key>:<channel>`: unique, so the same event is never queued twice.
    pub idempotency_key: String,
    /// RFC 3339 UTC with milliseconds.
    pub due_at: String,
}

/// What enqueueing an event writes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Selection {
    /// An URGENT lead: this lead's new-lead rows still pending go first.
    pub drop_pending_new_lead: Option<String>,
    /// Before the daily caps, which the store checks against its counts
    /// ([`over_cap`]) row by row.
    pub rows: Vec<OutboxRow>,
}

/// The rows `event` calls for at `now`.
///
/// Which channels: the business's plan ([`NotifyPolicy::channels`]), the
/// owner's preferences (except URGENT, which takes every channel the plan
/// allows), and whether the business has an address for the channel. New
/// leads are due after `policy.new_lead_delay`, an incomplete URGENT
/// follow-up after `policy.urgent_hold`, the rest at once.
pub fn select(
    policy: &NotifyPolicy,
    targets: &Targets,
    prefs: &NotificationPrefs,
    business_id: &str,
    event: &Event,
    now: DateTime<Utc>,
) -> Selection {
    let test_channel = match event {
        Event::Test { channel, .. } => Some(*channel),
        _ => None,
    };
    let later = |wait: std::time::Duration| {
        rfc3339(now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::zero()))
    };
    let due = match event {
        Event::NewLead { .. } if !policy.new_lead_delay.is_zero() => later(policy.new_lead_delay),
        Event::UrgentUpdate { complete: false, .. } => later(policy.urgent_hold),
        _ => rfc3339(now),
    };
    let key = event.key(business_id);
    let payload = event.payload();
    let rows = policy
        .channels(targets.plan, prefs, event.kind(), test_channel)
        .into_iter()
        .filter_map(|channel| {
            Some(OutboxRow {
                kind: event.kind(),
                channel,
                lead_id: event.lead_id().map(|id| id.to_string()),
                recipient: targets.recipient(channel)?.to_string(),
                payload: payload.clone(),
                idempotency_key: format!("{key}:{}", channel.as_str()),
                due_at: due.clone(),
            })
        })
        .collect();
    let drop_pending_new_lead = match event {
        Event::UrgentLead { lead_id, .. } => Some(lead_id.to_string()),
        _ => None,
    };
    Selection { drop_pending_new_lead, rows }
}

/// Why one more `kind` message on `channel` would pass a daily cap, in the
/// owner's words; None while it is within every cap. `sent` counts the
/// business's rows on the channel over the last 24 hours drawing on a class.
pub fn over_cap<E>(
    policy: &NotifyPolicy,
    channel: NotifyChannel,
    kind: NotifyEvent,
    mut sent: impl FnMut(CapClass) -> Result<u64, E>,
) -> Result<Option<String>, E> {
    for (class, limit) in policy.caps.limits(channel, CapClass::of(kind)) {
        if sent(class)? >= u64::from(limit) {
            let what = match class {
                CapClass::Urgent => "emergency alerts",
                CapClass::Test => "tests",
                CapClass::Everyday => "messages",
            };
            return Ok(Some(format!(
                "the daily limit of {limit} {what} by {} for this business is reached; it resets over the next 24 hours",
                channel_words(channel)
            )));
        }
    }
    Ok(None)
}

fn channel_words(channel: NotifyChannel) -> &'static str {
    match channel {
        NotifyChannel::Email => "email",
        NotifyChannel::Sms => "text message",
        NotifyChannel::VoiceCall => "phone call",
        NotifyChannel::Webhook => "webhook",
    }
}

/// Why a test on `channel` cannot be sent, before the daily caps (which the
/// caller checks with [`over_cap`]), in the owner's words.
pub fn test_refusal(policy: &NotifyPolicy, targets: &Targets, channel: NotifyChannel) -> Option<String> {
    if !policy.allows(targets.plan, channel, NotifyEvent::Test) {
        return Some(match channel {
            NotifyChannel::VoiceCall if !policy.voice_calls => {
                "emergency phone calls are switched off on this server (ENABLE_EMERGENCY_VOICE_CALLS)".into()
            }
            _ => format!("{}s are not included in the {} plan", channel_words(channel), targets.plan),
        });
    }
    if targets.recipient(channel).is_none() {
        let field = match channel {
            NotifyChannel::Email => "an alert email",
            NotifyChannel::Sms | NotifyChannel::VoiceCall => "a mobile number",
            NotifyChannel::Webhook => "a webhook URL",
        };
        return Some(format!("add {field} on the Notifications page first"));
    }
    if matches!(channel, NotifyChannel::Sms | NotifyChannel::VoiceCall) && !policy.twilio_live {
        return policy.missing_setup(channel).map(str::to_string);
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use NotifyChannel::*;

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-02T03:04:05.006Z").unwrap().with_timezone(&Utc)
    }

    fn pro() -> Targets {
        Targets::new(
            PlanTier::Pro,
            Some("o@example.com".into()),
            Some("+13125550100".into()),
            Some("https://hooks.example.com/x".into()),
        )
    }

    #[test]
    fn urgent_takes_every_channel_with_an_address_and_drops_new_lead_rows() {
        let policy = NotifyPolicy::default();
        let prefs = NotificationPrefs { new_lead: vec![Webhook], ..Default::default() };
        let event = Event::UrgentLead { lead_id: "L1".into(), known: vec!["name".into()] };
        let s = select(&policy, &pro(), &prefs, "B1", &event, at());
        assert_eq!(s.drop_pending_new_lead.as_deref(), Some("L1"));
        let channels: Vec<_> = s.rows.iter().map(|r| r.channel).collect();
        assert_eq!(channels, [Email, Sms, VoiceCall, Webhook]);
        let call = &s.rows[2];
        assert_eq!(call.recipient, "+13125550100");
        assert_eq!(call.idempotency_key, "lead:L1:urgent_lead:voice_call");
        assert_eq!(call.lead_id.as_deref(), Some("L1"));
        assert_eq!(call.due_at, "2026-01-02T03:04:05.006Z");
        assert_eq!(call.payload["known"], serde_json::json!(["name"]));
        // No phone number: no text and no call.
        let email_only = Targets { phone: None, ..pro() };
        let s = select(&policy, &email_only, &prefs, "B1", &event, at());
        assert_eq!(s.rows.iter().map(|r| r.channel).collect::<Vec<_>>(), [Email, Webhook]);
    }

    #[test]
    fn new_leads_follow_preferences_and_wait() {
        let policy =
            NotifyPolicy { new_lead_delay: std::time::Duration::from_secs(90), ..Default::default() };
        let prefs = NotificationPrefs { new_lead: vec![Webhook, Email], ..Default::default() };
        let s = select(&policy, &pro(), &prefs, "B1", &Event::NewLead { lead_id: "L1".into() }, at());
        assert_eq!(s.drop_pending_new_lead, None);
        assert_eq!(s.rows.iter().map(|r| r.channel).collect::<Vec<_>>(), [Email, Webhook]);
        assert!(s.rows.iter().all(|r| r.due_at == "2026-01-02T03:05:35.006Z"));
        // Blank addresses are none.
        let blank = Targets::new(PlanTier::Pro, Some("  ".into()), None, None);
        assert!(select(&policy, &blank, &prefs, "B1", &Event::NewLead { lead_id: "L".into() }, at())
            .rows
            .is_empty());
    }

    #[test]
    fn an_incomplete_follow_up_is_held() {
        let policy = NotifyPolicy::default();
        let prefs = NotificationPrefs::default();
        let held = Event::UrgentUpdate { lead_id: "L1".into(), complete: false };
        let s = select(&policy, &pro(), &prefs, "B1", &held, at());
        assert_eq!(s.rows.iter().map(|r| r.channel).collect::<Vec<_>>(), [Email, Sms, Webhook]);
        assert_eq!(s.rows[0].due_at, "2026-01-02T03:05:05.006Z");
        let now = Event::UrgentUpdate { lead_id: "L1".into(), complete: true };
        assert_eq!(
            select(&policy, &pro(), &prefs, "B1", &now, at()).rows[0].due_at,
            "2026-01-02T03:04:05.006Z"
        );
    }

    #[test]
    fn caps_and_test_refusals_in_the_owners_words() {
        let caps = super::super::policy::Caps { email: 5, sms: 5, call: 5, urgent: 5, tests: 5 };
        let policy = NotifyPolicy { caps, ..Default::default() };
        let full = over_cap::<()>(&policy, Sms, NotifyEvent::NewLead, |_| Ok(u64::MAX)).unwrap();
        assert!(full.unwrap().contains("by text message"));
        assert_eq!(over_cap::<()>(&policy, Sms, NotifyEvent::NewLead, |_| Ok(0)).unwrap(), None);
        let free = Targets { plan: PlanTier::Free, ..pro() };
        assert!(test_refusal(&policy, &free, Sms).unwrap().contains("not included in the FREE plan"));
        let no_hook = Targets { webhook: None, ..pro() };
        assert_eq!(
            test_refusal(&policy, &no_hook, Webhook).unwrap(),
            "add a webhook URL on the Notifications page first"
        );
        assert_eq!(test_refusal(&policy, &pro(), Email), None);
    }
}
