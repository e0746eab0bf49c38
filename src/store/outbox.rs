//! The notifications outbox behind the store: what the owner's UI reads and
//! changes, and what the delivery worker claims and reports. Every method an
//! owner reaches takes the business id and only ever touches its rows.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::Result;
use crate::domain::{
    Business, Lead, LocalEmail, Message, Notification, NotificationPrefs, NotificationState, NotifyChannel,
    NotifyEvent,
};
use crate::ids::{BusinessId, CallSid, LeadId};
use crate::notify::policy::NotifyPolicy;

/// Something that happened that the owner may hear about. Each event has a
/// key; with the channel it makes the notification's idempotency key, so the
/// same event is never enqueued twice on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A lead saved for the first time.
    NewLead { lead_id: LeadId },
    /// A conversation became URGENT (every channel the business has);
    /// `known`: which of name, phone and address the lead had then.
    UrgentLead { lead_id: LeadId, known: Vec<String> },
    /// The caller's details captured after the URGENT alert went out:
    /// `complete` when nothing more is to be asked (due at once; else held).
    UrgentUpdate { lead_id: LeadId, complete: bool },
    /// A phone call ended (written by the voice channel with the call's row).
    CallEnded { call_sid: CallSid, lead_id: Option<LeadId> },
    /// The daily summary of leads created in `[since, until)` (UTC, RFC 3339),
    /// for the business's local `date`.
    Digest { date: String, since: DateTime<Utc>, until: DateTime<Utc> },
    /// The owner asked for a test on one channel.
    Test { channel: NotifyChannel, nonce: String },
}

impl Event {
    pub fn kind(&self) -> NotifyEvent {
        match self {
            Event::NewLead { .. } => NotifyEvent::NewLead,
            Event::UrgentLead { .. } => NotifyEvent::UrgentLead,
            Event::UrgentUpdate { .. } => NotifyEvent::UrgentUpdate,
            Event::CallEnded { .. } => NotifyEvent::CallEnded,
            Event::Digest { .. } => NotifyEvent::Digest,
            Event::Test { .. } => NotifyEvent::Test,
        }
    }

    pub fn lead_id(&self) -> Option<&LeadId> {
        match self {
            Event::NewLead { lead_id }
            | Event::UrgentLead { lead_id, .. }
            | Event::UrgentUpdate { lead_id, .. } => Some(lead_id),
            Event::CallEnded { lead_id, .. } => lead_id.as_ref(),
            Event::Digest { .. } | Event::Test { .. } => None,
        }
    }

    /// Unique per event (and business, for digests).
    pub fn key(&self, business_id: &str) -> String {
        match self {
            Event::NewLead { lead_id } => format!("lead:{lead_id}:new_lead"),
            Event::UrgentLead { lead_id, .. } => format!("lead:{lead_id}:urgent_lead"),
            Event::UrgentUpdate { lead_id, .. } => format!("lead:{lead_id}:urgent_update"),
            Event::CallEnded { call_sid, .. } => format!("call:{call_sid}:call_ended"),
            Event::Digest { date, .. } => format!("digest:{business_id}:{date}"),
            Event::Test { nonce, .. } => format!("test:{nonce}"),
        }
    }

    /// What the worker needs besides the row to word the message.
    pub fn payload(&self) -> serde_json::Value {
        let mut payload = json!({ "event": self.kind(), "lead_id": self.lead_id() });
        match self {
            Event::CallEnded { call_sid, .. } => payload["call_sid"] = json!(call_sid),
            Event::UrgentLead { known, .. } => payload["known"] = json!(known),
            Event::Digest { date, since, until } => {
                payload["date"] = json!(date);
                payload["since"] = json!(crate::domain::rfc3339(*since));
                payload["until"] = json!(crate::domain::rfc3339(*until));
            }
            _ => {}
        }
        payload
    }
}

/// A row the worker claimed. Report its fate with the lease token: a row
/// whose lease was lost is not overwritten.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    pub id: String,
    pub business_id: BusinessId,
    pub lead_id: Option<LeadId>,
    pub kind: NotifyEvent,
    pub channel: NotifyChannel,
    pub recipient: String,
    pub payload: serde_json::Value,
    pub idempotency_key: String,
    /// Including this one.
    pub attempts: u32,
    pub lease_token: String,
}

/// Everything a message is worded from, read when it is delivered (so a
/// delayed notification carries what was captured since).
#[derive(Debug, Clone)]
pub struct DeliveryContext {
    pub business: Business,
    pub lead: Option<Lead>,
    /// The lead's conversation, oldest first (the last lines when very long).
    pub transcript: Vec<Message>,
    /// Signs webhooks.
    pub webhook_secret: String,
    /// For a digest: the period's leads, most urgent first.
    pub digest_leads: Vec<Lead>,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent {
        provider_id: Option<String>,
    },
    /// An email kept on this server (no mail server configured): not sent.
    Kept {
        provider_id: Option<String>,
    },
    /// Try again at `at`.
    Retry {
        error: String,
        at: DateTime<Utc>,
    },
    Dead {
        error: String,
    },
}

/// How many messages a business sent on a channel from one allowance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub channel: NotifyChannel,
    pub class: crate::notify::policy::CapClass,
    pub count: u64,
}

/// A business that may be due a digest.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestCandidate {
    pub business_id: BusinessId,
    pub timezone: String,
    pub prefs: NotificationPrefs,
}

/// What the "press 1" webhook of an emergency call needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallConnect {
    pub business_id: BusinessId,
    /// The caller to connect the owner to, when known.
    pub caller_phone: Option<String>,
    /// The business's own Twilio number (shown to the caller).
    pub business_number: Option<String>,
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    // The owner's UI.

    /// A business's notifications, newest first, optionally in one state.
    async fn notifications_page(
        &self,
        business_id: &BusinessId,
        state: Option<NotificationState>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<Notification>>;
    /// Rows per state (every state present, zero included).
    async fn notification_counts(&self, business_id: &BusinessId) -> Result<Vec<(NotificationState, u64)>>;
    /// Puts a dead notification back in the queue with fresh attempts.
    /// NotFound for another business's row; Conflict unless it is dead.
    async fn retry_notification(&self, business_id: &BusinessId, notification_id: &str) -> Result<()>;
    /// Enqueues a test on one channel; Invalid naming why when the plan or
    /// the business's settings leave that channel out.
    async fn enqueue_test_notification(
        &self,
        business_id: &BusinessId,
        channel: NotifyChannel,
        policy: NotifyPolicy,
    ) -> Result<String>;
    async fn notification_prefs(&self, business_id: &BusinessId) -> Result<NotificationPrefs>;
    async fn set_notification_prefs(&self, business_id: &BusinessId, prefs: NotificationPrefs) -> Result<()>;
    /// The key lead webhooks are signed with, for the owner to give their receiver.
    async fn webhook_secret(&self, business_id: &BusinessId) -> Result<String>;
    /// Emails kept locally (no SMTP server configured), newest first.
    async fn local_emails(&self, business_id: &BusinessId, limit: u32) -> Result<Vec<LocalEmail>>;
    /// Messages of a business since `since` (UTC RFC 3339) per (channel,
    /// allowance), for the daily caps shown on the Notifications page.
    async fn notification_usage(&self, business_id: &BusinessId, since: DateTime<Utc>) -> Result<Vec<Usage>>;

    // The delivery worker.

    /// At start: rows a stopped or crashed process left in flight are due again.
    async fn resume_in_flight(&self) -> Result<u64>;
    /// Leases up to `limit` due rows of one channel (pending and due, or in
    /// flight with an expired lease), counting the attempt.
    async fn claim_due(&self, channel: NotifyChannel, limit: u32, lease_ms: u64) -> Result<Vec<Claimed>>;
    async fn delivery_context(&self, claimed: &Claimed) -> Result<DeliveryContext>;
    /// Records an attempt's end; false when the lease was lost meanwhile.
    async fn finish_delivery(&self, id: &str, lease_token: &str, outcome: Outcome) -> Result<bool>;
    /// Keeps an email in the local outbox (idempotent per notification).
    async fn save_local_email(&self, email: LocalEmail) -> Result<()>;
    /// When the next pending row is due, if any.
    async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>>;
    async fn digest_candidates(&self) -> Result<Vec<DigestCandidate>>;
    /// Enqueues the business's digest for `event` (a [`Event::Digest`]) when
    /// the period had leads and it was not enqueued before; true if it was now.
    async fn enqueue_digest(
        &self,
        business_id: &BusinessId,
        event: Event,
        policy: NotifyPolicy,
    ) -> Result<bool>;
    async fn call_connect(&self, notification_id: &str) -> Result<CallConnect>;
}

/// The notification kinds that draw on `class`'s cap, as a condition on
/// `kind` (the same SQL on both backends).
pub(crate) fn cap_kinds(class: crate::notify::policy::CapClass) -> &'static str {
    use crate::notify::policy::CapClass;
    match class {
        CapClass::Urgent => "kind IN ('urgent_lead', 'urgent_update')",
        CapClass::Test => "kind = 'test'",
        CapClass::Everyday => "kind NOT IN ('urgent_lead', 'urgent_update')",
    }
}
