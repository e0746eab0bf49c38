//! Which channels an event reaches, and when a failed delivery is tried
//! again: plain functions, no I/O.

use std::time::Duration;

use rand::Rng;

use crate::config::Config;
use crate::domain::{NotificationPrefs, NotifyChannel, NotifyEvent, PlanTier};
use crate::plans::{Feature, PlanRequired, Plans};

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
}

impl Default for NotifyPolicy {
    fn default() -> Self {
        NotifyPolicy { plans: Plans::default(), voice_calls: true, new_lead_delay: Duration::ZERO }
    }
}

impl NotifyPolicy {
    pub fn from_config(config: &Config, plans: Plans) -> NotifyPolicy {
        NotifyPolicy {
            plans,
            voice_calls: config.features.emergency_voice_calls,
            new_lead_delay: Duration::from_secs(config.notify.new_lead_delay_secs),
        }
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
        assert_eq!((p.feature, p.required), (Feature::EmergencyVoiceCalls, PlanTier::Pro));
        assert_eq!(policy.check(PlanTier::Pro, VoiceCall, NotifyEvent::NewLead), Err(Refusal::NotForEvent));
        let off = NotifyPolicy { voice_calls: false, ..policy };
        assert_eq!(off.check(PlanTier::Pro, VoiceCall, NotifyEvent::Test), Err(Refusal::SwitchedOff));
        assert_eq!(policy.check(PlanTier::Free, Email, NotifyEvent::Test), Ok(()));
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
