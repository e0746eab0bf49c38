//! Persistence behind one trait.
//!
//! Callers see domain types and [`StoreError`] only; driver types never leave
//! a backend module. SQLite ([`sqlite::SqliteStore`]) is the default;
//! Postgres ([`postgres::PgStore`]) serves several instances from one database.

pub mod admin;
pub mod imports;
pub mod outbox;
pub mod postgres;
pub mod rollup;
pub mod sqlite;
pub mod transfer;

pub use outbox::OutboxStore;

use async_trait::async_trait;

pub use admin::AdminStore;
pub use imports::ImportStore;

use crate::domain::{
    Business, BusinessBundle, BusinessSummary, Call, CallMode, Channel, EndedReason, Lead, LeadDraft,
    Message, Notification, PlanTier, Priority, Profile, Role, Speaker, User,
};
use crate::ids::{BusinessId, CallSid, ConversationId, LeadId};
use crate::notify::policy::NotifyPolicy;
use crate::retrieval::Passage;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    /// The database is newer than this binary understands.
    #[error(
        "the database is at schema version {database} but this frontdesk only knows up to {binary}; \
         upgrade frontdesk (or restore a backup made by this version)"
    )]
    TooNew { database: u32, binary: u32 },
    #[error("database unavailable: {0}")]
    Unavailable(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// What a client is told when the database refuses a write for a constraint:
/// the database's own message names tables and columns, so it goes to the
/// log, not to the client.
pub(crate) const CONSTRAINT_CONFLICT: &str =
    "that conflicts with something already saved (a duplicate, or something it refers to is gone)";

/// A constraint refusal as a conflict the client may read; the database's
/// words are logged.
pub(crate) fn constraint_conflict(detail: &str) -> StoreError {
    tracing::warn!(detail, "a write was refused by a database constraint");
    StoreError::Conflict(CONSTRAINT_CONFLICT.into())
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOutcome {
    pub business_id: BusinessId,
    /// False when an existing business (same number or name) was updated.
    pub created: bool,
}

/// A user to create; the password is already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub business_id: Option<BusinessId>,
}

/// A knowledge search.
#[derive(Debug, Clone)]
pub struct KnowledgeQuery {
    pub text: String,
    /// (model, vector) of the query, when an embedding model is configured.
    pub embedding: Option<(String, Vec<f32>)>,
    pub limit: usize,
}

/// A call the agent is answering.
#[derive(Debug, Clone)]
pub struct NewCall {
    pub call_sid: CallSid,
    pub business_id: BusinessId,
    pub from_number: Option<String>,
    pub to_number: Option<String>,
    pub mode: CallMode,
}

/// One Twilio status callback (or voicemail recording) for a call.
#[derive(Debug, Clone, Default)]
pub struct CallStatus {
    pub call_sid: CallSid,
    pub status: String,
    /// The number called, to find the business of a call we never answered.
    pub to_number: Option<String>,
    pub from_number: Option<String>,
    pub duration_seconds: Option<u32>,
    pub recording_url: Option<String>,
    /// Twilio's SequenceNumber: callbacks may arrive out of order.
    pub sequence: Option<i64>,
    /// Every parameter received, kept with the event.
    pub data: serde_json::Value,
}

/// What one conversation turn changes; saved in one transaction so a crash
/// never leaves a transcript without its lead or an escalation unrecorded.
#[derive(Debug, Clone)]
pub struct TurnRecord {
    pub business_id: BusinessId,
    pub conversation_id: ConversationId,
    pub channel: Channel,
    /// (role, content) lines to append to the transcript.
    pub messages: Vec<(Speaker, String)>,
    /// The lead so far: created on first save, updated after.
    pub lead: Option<LeadDraft>,
    pub level: Priority,
    /// Record the URGENT escalation (outbox rows for every channel the business has).
    pub escalate: bool,
    /// The rules the outbox rows this turn writes follow (new lead, URGENT).
    pub notify: crate::notify::policy::NotifyPolicy,
    /// Analytics events (kind, data).
    pub events: Vec<(String, serde_json::Value)>,
    /// When `escalate` queues no alert that leaves this server: the agent's
    /// line saved (and said) instead of the last message.
    pub unalerted_reply: Option<String>,
    /// Nothing more is to be asked: a held URGENT follow-up goes now.
    pub details_complete: bool,
}

impl TurnRecord {
    /// The lines to save: what the agent said, as worded for whether an
    /// alert was queued (an escalation without one keeps the other wording).
    pub fn lines(&self, alerted: bool) -> Vec<(Speaker, String)> {
        let mut lines = self.messages.clone();
        if self.escalate && !alerted {
            if let (Some(instead), Some(last)) = (&self.unalerted_reply, lines.last_mut()) {
                last.1 = instead.clone();
            }
        }
        lines
    }

    /// The agent's last line of those saved: the reply the visitor gets.
    pub fn reply(lines: &[(Speaker, String)]) -> Option<String> {
        lines.iter().rev().find(|(role, _)| *role == Speaker::Assistant).map(|(_, text)| text.clone())
    }
}

/// How long one reply took to start, as the caller or visitor felt it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatencySample {
    pub business_id: BusinessId,
    pub conversation_id: ConversationId,
    /// CHAT or VOICE.
    pub channel: Channel,
    /// `chat`, `chat_stream`, `realtime` or `gather`.
    pub mode: &'static str,
    pub ms: u32,
    /// When it was measured.
    pub at: chrono::DateTime<chrono::Utc>,
    /// The business's local date then (YYYY-MM-DD): the day it counts on.
    pub day: String,
}

/// What saving a turn did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TurnSaved {
    /// The lead, once there is one.
    pub lead_id: Option<LeadId>,
    /// For an escalating turn: whether an alert that leaves this server was
    /// queued in the same transaction.
    pub alerted: Option<bool>,
    /// The agent's line as saved (the unalerted wording when no alert was queued).
    pub reply: Option<String>,
}

/// Notification methods live in [`OutboxStore`]; the owner's UI and admin
/// API need [`AdminStore`] too: tenant-scoped settings, questions, knowledge,
/// leads and analytics.
#[async_trait]
pub trait Store: OutboxStore + AdminStore + ImportStore + Send + Sync + 'static {
    /// "sqlite", "postgres", ...: for health and logs.
    fn backend(&self) -> &'static str;
    /// A cheap round trip, for health checks.
    async fn ping(&self) -> Result<()>;
    /// Err (Unavailable, saying why) when writes cannot reach the database:
    /// read-only, or its file deleted or replaced under us. Checked at start,
    /// by `/health`, and before every write.
    async fn writable(&self) -> Result<()>;
    /// Ends a signed session before it expires (`token_hash`: hex SHA-256 of
    /// the token; `expires_at`: Unix seconds, after which the row may go).
    async fn revoke_session(&self, token_hash: &str, expires_at: i64) -> Result<()>;
    async fn session_revoked(&self, token_hash: &str) -> Result<bool>;
    async fn schema_version(&self) -> Result<u32>;

    /// Creates the business, or replaces the configuration of the one with the
    /// same Twilio number (else the same name), in one transaction.
    async fn import_business(&self, bundle: BusinessBundle) -> Result<ImportOutcome>;
    async fn business(&self, id: &BusinessId) -> Result<Business>;
    async fn business_bundle(&self, id: &BusinessId) -> Result<BusinessBundle>;
    async fn list_businesses(&self) -> Result<Vec<BusinessSummary>>;
    /// Changes the plan; a downgrade keeps every row.
    async fn set_plan(&self, business_id: &BusinessId, plan: PlanTier) -> Result<()>;

    async fn count_users(&self) -> Result<u64>;
    async fn create_user(&self, user: NewUser) -> Result<User>;
    async fn user_by_email(&self, email: &str) -> Result<User>;
    async fn set_password_hash(&self, email: &str, password_hash: &str) -> Result<()>;

    /// Business, agent configuration, questions and triage changes: what a conversation needs.
    async fn agent_profile(&self, business_id: &BusinessId) -> Result<Profile>;
    /// Knowledge chunks for one business, best first: full-text (BM25) ranking,
    /// fused (reciprocal rank) with nearest embeddings when a query vector is given.
    async fn search_knowledge(
        &self,
        business_id: &BusinessId,
        query: &KnowledgeQuery,
    ) -> Result<Vec<Passage>>;
    /// The knowledge documents in brief (title, opening words), oldest first:
    /// what a phone model is told the knowledge base covers.
    async fn knowledge_overview(
        &self,
        business_id: &BusinessId,
        limit: usize,
    ) -> Result<Vec<(String, String)>>;
    /// Chunks with no embedding from `model` yet: (chunk id, text to embed).
    async fn chunks_to_embed(&self, model: &str, limit: usize) -> Result<Vec<(i64, String)>>;
    /// Stores vectors for chunks (skipping chunks deleted in the meantime).
    async fn save_embeddings(&self, model: &str, vectors: Vec<(i64, Vec<f32>)>) -> Result<()>;

    /// A new conversation; a `test` one (the owner's preview, the demo page)
    /// never alerts anyone and stays out of the analytics.
    async fn start_conversation(
        &self,
        business_id: &BusinessId,
        channel: Channel,
        external_id: Option<&str>,
        test: bool,
    ) -> Result<ConversationId>;
    /// Saves a turn in one transaction: its lead, its notifications, and its
    /// lines (worded by whether an alert was queued).
    async fn record_turn(&self, turn: TurnRecord) -> Result<TurnSaved>;
    async fn lead(&self, business_id: &BusinessId, lead_id: &LeadId) -> Result<Lead>;

    /// The business whose Twilio number this is (E.164).
    async fn business_by_number(&self, number: &str) -> Result<Business>;
    /// Records that the agent answers a call: its conversation (VOICE, the
    /// CallSid as external id) and call row. Idempotent, since Twilio retries
    /// webhooks: returns the conversation already started for this CallSid.
    async fn start_call(&self, call: NewCall) -> Result<ConversationId>;
    /// Records a status callback: the event, and the call's latest status,
    /// duration and recording. A status older (by sequence) than the one
    /// recorded does not overwrite it.
    async fn record_call_status(&self, status: CallStatus) -> Result<()>;
    /// The agent is done with a call: its summary and how it ended. Closes the
    /// conversation and, once, records a `call_ended` analytics event and the
    /// call-ended notifications (as the owner's preferences and plan say).
    async fn finish_call(
        &self,
        call_sid: &CallSid,
        summary: &str,
        ended_reason: EndedReason,
        notify: NotifyPolicy,
    ) -> Result<()>;
    async fn call(&self, call_sid: &CallSid) -> Result<Call>;
    /// Records one reply's latency; nothing for a test conversation.
    async fn record_latency(&self, sample: LatencySample) -> Result<()>;

    /// The demo's past week (`serve --demo`): conversations, leads and calls
    /// with past timestamps, and no notifications.
    async fn add_samples(&self, business_id: &BusinessId, samples: Vec<crate::demo::Sample>) -> Result<()>;
}

/// Read-backs that only tests use (a conversation's lines, every lead and
/// outbox row of a business, a call's status callbacks), kept off [`Store`]
/// so the server cannot come to depend on unpaged, unscoped reads. Both
/// backends implement it; the store contract runs it on each.
#[async_trait]
pub trait StoreInspect: Send + Sync {
    async fn transcript(&self, conversation_id: &ConversationId) -> Result<Vec<Message>>;
    /// Every lead of a business, newest first.
    async fn leads(&self, business_id: &BusinessId) -> Result<Vec<Lead>>;
    /// Every outbox row of a business.
    async fn notifications(&self, business_id: &BusinessId) -> Result<Vec<Notification>>;
    /// Status callbacks received for a call, oldest first: (status, sequence).
    async fn call_events(&self, call_sid: &CallSid) -> Result<Vec<(String, Option<i64>)>>;
}

/// A store a test can look into: [`Store`] and [`StoreInspect`] as one trait
/// object (it coerces to `dyn Store` where the server's code wants one).
pub trait InspectableStore: Store + StoreInspect {}

impl<T: Store + StoreInspect> InspectableStore for T {}

/// A timestamp column's text as a moment; Invalid when it is not one.
pub(crate) fn stored_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>> {
    crate::domain::parse_rfc3339(text)
        .ok_or_else(|| StoreError::Invalid(format!("not a timestamp: '{text}'")))
}

/// A row's timestamp column as a moment, whatever form an older writer left
/// in it ([`crate::domain::parse_stored`]). Text that is no moment at all is
/// logged and read as the Unix epoch: one odd row must not fail a page.
pub(crate) fn row_time(text: &str) -> chrono::DateTime<chrono::Utc> {
    crate::domain::parse_stored(text).unwrap_or_else(|| {
        tracing::warn!(text, "stored timestamp is not a time; read as 1970-01-01");
        chrono::DateTime::UNIX_EPOCH
    })
}

/// A lead search that looks like a phone number, as a `LIKE` pattern on its
/// digits: "(312) 555-0142" finds +13125550142.
pub(crate) fn phone_pattern(q: &str) -> Option<String> {
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    (digits.len() >= 4 && q.chars().all(|c| c.is_ascii_digit() || " ()+-.".contains(c)))
        .then(|| format!("%{digits}%"))
}

/// A `LIKE` pattern matching `text` anywhere, with the wildcards in it taken
/// literally (both backends escape with a backslash).
pub(crate) fn contains_pattern(text: &str) -> String {
    let escaped: String = text
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    format!("%{escaped}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_like_a_phone_number_matches_by_its_digits() {
        assert_eq!(phone_pattern("(312) 555-0142").as_deref(), Some("%3125550142%"));
        assert_eq!(phone_pattern("+1 312"), Some("%1312%".to_string()));
        assert_eq!(phone_pattern("555"), None);
        assert_eq!(phone_pattern("Dana 5550142"), None);
    }
}
