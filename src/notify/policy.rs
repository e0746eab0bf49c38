//! Which channels an event reaches, and when a failed delivery is tried
//! again: plain functions, no I/O.

use std::time::Duration;

use rand::Rng;

use crate::config::Config;
use crate::domain::{Business, NotificationPrefs, NotifyChannel, NotifyEvent, PlanTier};
use crate::plans::{Feature, PlanRequired, Plans};

/// Per business, per channel, over any 24 hours (0: no limit): what the
/// operator lets one business send through the instance's SMTP and Twilio
/// accounts. URGENT alerts have their own allowance, so a flood of ordinary
/// leads can never use up the one for emergencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Caps {
    pub email: u32,
    pub sms: u32,
    pub call: u32,
    /// URGENT alerts and their follow-ups, per channel (exempt from the others).
    pub urgent: u32,
    /// Tests the owner sends, per channel (they count as everyday messages too).
    pub tests: u32,
}

/// Which allowance a message draws on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapClass {
    Urgent,
    Test,
    Everyday,
}

impl CapClass {
    pub fn of(event: NotifyEvent) -> CapClass {
        match event {
            NotifyEvent::UrgentLead | NotifyEvent::UrgentUpdate => CapClass::Urgent,
            NotifyEvent::Test => CapClass::Test,
            _ => CapClass::Everyday,
        }
    }
}

impl Caps {
    /// The limits on `channel` for `class`, most specific first; webhooks cost
    /// nothing and have none.
    pub fn limits(&self, channel: NotifyChannel, class: CapClass) -> Vec<(CapClass, u32)> {
        let everyday = match channel {
            NotifyChannel::Email => self.email,
            NotifyChannel::Sms => self.sms,
            NotifyChannel::VoiceCall => self.call,
            NotifyChannel::Webhook => return Vec::new(),
        };
        let out = match class {
            CapClass::Urgent => vec![(CapClass::Urgent, self.urgent)],
            CapClass::Test => vec![(CapClass::Test, self.tests), (CapClass::Everyday, everyday)],
            CapClass::Everyday => vec![(CapClass::Everyday, everyday)],
        };
        out.into_iter().filter(|(_, n)| *n > 0).collect()
    }
}

/// The instance-wide rules applied, with the business's plan and
/// preferences, when notifications are enqueued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotifyPolicy {
    pub plans: Plans,
    /// `ENABLE_EMERGENCY_VOICE_CALLS`: off, no business is called.
    pub voice_calls: bool,
    /// New (non-urgent) leads wait this long so the message carries what the
    /// rest of the conversation captured; URGENT never waits.
    pub new_lead_delay: Duration,
    /// An SMTP server is configured: emails leave this server (else they are kept on it).
    pub email_live: bool,
    /// Twilio's REST API is configured: texts and calls can be placed.
    pub twilio_live: bool,
    pub caps: Caps,
    /// The follow-up URGENT alert waits at most this long for the rest of the
    /// caller's details (it goes at once when they are all in).
    pub urgent_hold: Duration,
}

impl Default for NotifyPolicy {
    fn default() -> Self {
        NotifyPolicy {
            plans: Plans::default(),
            voice_calls: true,
            new_lead_delay: Duration::ZERO,
            email_live: true,
            twilio_live: true,
            caps: Caps::default(),
            urgent_hold: Duration::from_secs(60),
        }
    }
}

impl NotifyPolicy {
    pub fn from_config(config: &Config, plans: Plans) -> NotifyPolicy {
        let n = &config.notify;
        NotifyPolicy {
            plans,
            voice_calls: config.features.emergency_voice_calls,
            new_lead_delay: Duration::from_secs(n.new_lead_delay_secs),
            email_live: !config.smtp.host.is_empty(),
            twilio_live: !config.twilio.account_sid.is_empty() && !config.twilio.auth_token.is_empty(),
            caps: Caps {
                email: n.daily_email_cap,
                sms: n.daily_sms_cap,
                call: n.daily_call_cap,
                urgent: n.daily_urgent_cap,
                tests: n.daily_test_cap,
            },
            urgent_hold: Duration::from_secs(n.urgent_followup_hold_secs),
        }
    }

    /// Whether a message on `channel` leaves this server at all.
    pub fn live(&self, channel: NotifyChannel) -> bool {
        match channel {
            NotifyChannel::Email => self.email_live,
            NotifyChannel::Sms | NotifyChannel::VoiceCall => self.twilio_live,
            NotifyChannel::Webhook => true,
        }
    }

    /// What the operator sets for a channel this server cannot use, in one sentence.
    pub fn missing_setup(&self, channel: NotifyChannel) -> Option<&'static str> {
        if self.live(channel) {
            return None;
        }
        Some(match channel {
            NotifyChannel::Email => {
                "No mail server is set up on this server, so emails are kept here instead of sent: the operator sets SMTP_HOST (and SMTP_USER, SMTP_PASS, SMTP_FROM)."
            }
            _ => {
                "This server has no Twilio account, so it cannot text or call: the operator sets TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_PHONE_NUMBER."
            }
        })
    }

    /// The channels an URGENT alert of this business would actually reach
    /// someone on: in the plan, with an address, and able to leave this server.
    pub fn working_alert_channels(&self, business: &Business) -> Vec<NotifyChannel> {
        let has = |c: NotifyChannel| {
            let address = match c {
                NotifyChannel::Email => &business.notification_email,
                NotifyChannel::Sms | NotifyChannel::VoiceCall => &business.notification_phone_number,
                NotifyChannel::Webhook => &business.notification_webhook_url,
            };
            address.as_deref().is_some_and(|a| !a.trim().is_empty())
        };
        self.channels(business.plan_tier, &NotificationPrefs::default(), NotifyEvent::UrgentLead, None)
            .into_iter()
            .filter(|&c| has(c) && self.live(c))
            .collect()
    }

    /// Why an emergency would reach nobody, in the owner's words; None when one would.
    pub fn alert_problem(&self, business: &Business) -> Option<String> {
        if !self.working_alert_channels(business).is_empty() {
            return None;
        }
        let email = business.notification_email.as_deref().is_some_and(|e| !e.trim().is_empty());
        Some(if email && !self.email_live {
            "Emergency alerts cannot reach you: this server has no mail server set up, so alert emails stay here. \
             Ask the operator to set SMTP_HOST, or add a mobile number or webhook your plan includes."
                .to_string()
        } else {
            "Emergency alerts cannot reach you: no alert email, mobile number or webhook is set. Add one on the \
             Notifications page."
                .to_string()
        })
    }

    /// The plan feature a channel needs.
    pub fn feature(channel: NotifyChannel) -> Feature {
        match channel {
            NotifyChannel::Email => Feature::EmailNotifications,
            NotifyChannel::Sms => Feature::SmsNotifications,
            NotifyChannel::Webhook => Feature::WebhookNotifications,
            NotifyChannel::VoiceCall => Feature::EmergencyVoiceCalls,
        }
    }

    /// Whether `channel` may carry `event` on `plan`, and if not, why.
    pub fn check(&self, plan: PlanTier, channel: NotifyChannel, event: NotifyEvent) -> Result<(), Refusal> {
        if channel == NotifyChannel::VoiceCall {
            // A phone call is for emergencies (and the owner's test) only.
            if !matches!(event, NotifyEvent::UrgentLead | NotifyEvent::Test) {
                return Err(Refusal::NotForEvent);
            }
            if !self.voice_calls {
                return Err(Refusal::SwitchedOff);
            }
        }
        self.plans.require(plan, Self::feature(channel)).map_err(Refusal::Plan)
    }

    /// Whether the plan (and the instance) lets `channel` carry `event`.
    pub fn allows(&self, plan: PlanTier, channel: NotifyChannel, event: NotifyEvent) -> bool {
        self.check(plan, channel, event).is_ok()
    }

    /// The channels `event` should reach, before looking at which ones the
    /// business has an address for. URGENT takes every channel the plan allows.
    pub fn channels(
        &self,
        plan: PlanTier,
        prefs: &NotificationPrefs,
        event: NotifyEvent,
        test_channel: Option<NotifyChannel>,
    ) -> Vec<NotifyChannel> {
        let wanted: Vec<NotifyChannel> = match event {
            NotifyEvent::UrgentLead => NotifyChannel::ALL.to_vec(),
            // A follow-up carries the caller's details: no second phone call.
            NotifyEvent::UrgentUpdate => {
                vec![NotifyChannel::Email, NotifyChannel::Sms, NotifyChannel::Webhook]
            }
            NotifyEvent::NewLead => prefs.new_lead.clone(),
            NotifyEvent::CallEnded => prefs.call_ended.clone(),
            NotifyEvent::Digest => vec![NotifyChannel::Email],
            NotifyEvent::Test => test_channel.into_iter().collect(),
        };
        let mut out: Vec<NotifyChannel> =
            wanted.into_iter().filter(|&c| self.allows(plan, c, event)).collect();
        out.sort();
        out.dedup();
        out
    }
}

/// Why a channel cannot carry an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The business's plan lacks the channel (the error names the plan that has it).
    Plan(PlanRequired),
    /// This instance switched emergency calls off (`ENABLE_EMERGENCY_VOICE_CALLS`).
    SwitchedOff,
    /// The channel never carries this event (a phone call for a new lead).
    NotForEvent,
}

/// How failed deliveries are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
    /// Attempts before a notification is dead.
    pub max_attempts: u32,
}

impl Backoff {
    /// The wait before the next try after `attempts` failed ones: exponential,
    /// capped, with "equal jitter" (half fixed, half random) so a crowd of
    /// rows that failed together does not come back together.
    pub fn delay(&self, attempts: u32) -> Duration {
        let exp = self.base.saturating_mul(1u32 << attempts.saturating_sub(1).min(20));
        let capped = exp.min(self.max);
        let half = capped / 2;
        half + rand::thread_rng().gen_range(Duration::ZERO..=half)
    }

    /// Whether a row that has failed `attempts` times is dead.
    pub fn exhausted(&self, attempts: u32) -> bool {
        attempts >= self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plans::Needed;
    use NotifyChannel::*;

    #[test]
    fn plans_decide_the_channels() {
        let policy = NotifyPolicy::default();
        let prefs = NotificationPrefs::default();
        let urgent = |plan| policy.channels(plan, &prefs, NotifyEvent::UrgentLead, None);
        assert_eq!(urgent(PlanTier::Free), [Email]);
        assert_eq!(urgent(PlanTier::Basic), [Email, Sms, Webhook]);
        assert_eq!(urgent(PlanTier::Pro), [Email, Sms, VoiceCall, Webhook]);
        // A new lead never places a call, even on PRO.
        assert_eq!(policy.channels(PlanTier::Pro, &prefs, NotifyEvent::NewLead, None), [Email, Sms, Webhook]);
        assert_eq!(policy.channels(PlanTier::Free, &prefs, NotifyEvent::NewLead, None), [Email]);
        let no_calls = NotifyPolicy { voice_calls: false, ..policy };
        assert_eq!(
            no_calls.channels(PlanTier::Pro, &prefs, NotifyEvent::UrgentLead, None),
            [Email, Sms, Webhook]
        );
        let everything = NotifyPolicy { plans: Plans { enforce: false }, ..policy };
        assert_eq!(everything.channels(PlanTier::Free, &prefs, NotifyEvent::UrgentLead, None).len(), 4);
    }

    #[test]
    fn preferences_pick_channels_but_not_for_urgent() {
        let policy = NotifyPolicy::default();
        let prefs = NotificationPrefs { new_lead: vec![Webhook], call_ended: vec![], ..Default::default() };
        assert_eq!(policy.channels(PlanTier::Pro, &prefs, NotifyEvent::NewLead, None), [Webhook]);
        assert!(policy.channels(PlanTier::Pro, &prefs, NotifyEvent::CallEnded, None).is_empty());
        assert_eq!(policy.channels(PlanTier::Pro, &prefs, NotifyEvent::UrgentLead, None).len(), 4);
        assert_eq!(policy.channels(PlanTier::Pro, &prefs, NotifyEvent::Test, Some(Sms)), [Sms]);
        assert!(policy.channels(PlanTier::Free, &prefs, NotifyEvent::Test, Some(Sms)).is_empty());
    }

    #[test]
    fn refusals_say_why() {
        let policy = NotifyPolicy::default();
        let Err(Refusal::Plan(p)) = policy.check(PlanTier::Basic, VoiceCall, NotifyEvent::Test) else {
            panic!("a call needs PRO")
        };
        assert_eq!((p.needed, p.required), (Needed::Feature(Feature::EmergencyVoiceCalls), PlanTier::Pro));
        assert_eq!(policy.check(PlanTier::Pro, VoiceCall, NotifyEvent::NewLead), Err(Refusal::NotForEvent));
        let off = NotifyPolicy { voice_calls: false, ..policy };
        assert_eq!(off.check(PlanTier::Pro, VoiceCall, NotifyEvent::Test), Err(Refusal::SwitchedOff));
        assert_eq!(policy.check(PlanTier::Free, Email, NotifyEvent::Test), Ok(()));
    }

    #[test]
    fn caps_keep_urgent_apart_and_tests_count_twice() {
        let caps = Caps { email: 100, sms: 30, call: 0, urgent: 20, tests: 5 };
        assert_eq!(caps.limits(Sms, CapClass::Urgent), [(CapClass::Urgent, 20)]);
        assert_eq!(caps.limits(Sms, CapClass::Test), [(CapClass::Test, 5), (CapClass::Everyday, 30)]);
        assert!(caps.limits(VoiceCall, CapClass::Everyday).is_empty(), "0 is no limit");
        assert!(caps.limits(Webhook, CapClass::Test).is_empty());
        assert_eq!(CapClass::of(NotifyEvent::UrgentUpdate), CapClass::Urgent);
    }

    #[test]
    fn a_channel_counts_only_when_it_leaves_the_server() {
        let policy = NotifyPolicy { email_live: false, twilio_live: false, ..NotifyPolicy::default() };
        let mut b = crate::domain::Business {
            id: "b".into(),
            name: "B".into(),
            business_type: crate::domain::BusinessType::Plumbing,
            plan_tier: PlanTier::Pro,
            twilio_phone_number: None,
            notification_email: Some("o@b.example".into()),
            notification_phone_number: Some("+13125550199".into()),
            notification_webhook_url: None,
            country: "US".into(),
            timezone: "UTC".into(),
            website_origins: vec![],
            created_at: crate::domain::parse_rfc3339("2025-01-01T00:00:00.000Z").unwrap(),
            updated_at: crate::domain::parse_rfc3339("2025-01-01T00:00:00.000Z").unwrap(),
        };
        assert!(policy.working_alert_channels(&b).is_empty());
        assert!(policy.alert_problem(&b).unwrap().contains("SMTP_HOST"));
        assert!(policy.missing_setup(Sms).unwrap().contains("TWILIO_ACCOUNT_SID"));
        b.notification_webhook_url = Some("https://crm.example/hook".into());
        assert_eq!(policy.working_alert_channels(&b), [Webhook]);
        let live = NotifyPolicy::default();
        b.notification_webhook_url = None;
        assert_eq!(live.working_alert_channels(&b), [Email, Sms, VoiceCall]);
        b.notification_email = None;
        b.notification_phone_number = None;
        assert!(live.alert_problem(&b).unwrap().contains("no alert email"));
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let b = Backoff { base: Duration::from_secs(30), max: Duration::from_secs(3600), max_attempts: 5 };
        for _ in 0..200 {
            let first = b.delay(1);
            assert!((Duration::from_secs(15)..=Duration::from_secs(30)).contains(&first), "{first:?}");
            let third = b.delay(3);
            assert!((Duration::from_secs(60)..=Duration::from_secs(120)).contains(&third), "{third:?}");
            assert!(b.delay(40) <= Duration::from_secs(3600));
            assert!(b.delay(40) >= Duration::from_secs(1800));
        }
        assert!(!b.exhausted(4));
        assert!(b.exhausted(5));
    }
}
