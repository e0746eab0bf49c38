//! What the owner's web UI and the admin API read and write.
//!
//! Every method takes the caller's business id and puts it in every query:
//! an id that belongs to another business is `NotFound`, never that
//! business's data. The operator's cross-business listings are separate
//! methods (`businesses_activity`), never a missing filter.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{NewUser, Result};
use crate::domain::{
    AgentConfig, BusinessBundle, BusinessFacts, BusinessType, Channel, EmergencyRules, Gloss, KnowledgeDoc,
    Lead, LeadStatus, Message, Priority, Question, User,
};
use crate::ids::{BusinessId, CallSid, LeadId};

/// A lead question with its id, for editing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuestionRow {
    pub id: String,
    #[serde(flatten)]
    pub question: Question,
}

/// A knowledge document with what indexing made of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KnowledgeEntry {
    pub id: String,
    pub title: String,
    pub content: String,
    pub source_url: Option<String>,
    pub chunks: u32,
    #[serde(with = "crate::domain::rfc3339_serde::option")]
    pub indexed_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(with = "crate::domain::rfc3339_serde")]
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[serde(with = "crate::domain::rfc3339_serde")]
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// Which leads to list. Dates are UTC RFC 3339 bounds (`from` inclusive,
/// `to` exclusive); the caller turns the owner's local dates into them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeadFilter {
    pub status: Option<LeadStatus>,
    pub priority: Option<Priority>,
    pub channel: Option<Channel>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Matched against name, email, phone, address, notes and answers.
    pub search: Option<String>,
    pub limit: u32,
    pub offset: u32,
}

/// A phone call as the voice channel recorded it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallRecord {
    pub call_sid: CallSid,
    pub from_number: Option<String>,
    pub status: String,
    pub duration_seconds: Option<i64>,
    pub recording_url: Option<String>,
    pub summary: Option<String>,
    #[serde(with = "crate::domain::rfc3339_serde")]
    pub started_at: chrono::DateTime<chrono::Utc>,
}

/// A lead with its conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeadDetail {
    pub lead: Lead,
    pub transcript: Vec<Message>,
    pub call: Option<CallRecord>,
}

/// Analytics events counted together by the store: conversations of one
/// channel in one UTC quarter hour (every time zone's offset is a whole
/// number of quarter hours, so they share a local day and hour), or one
/// question's askings in one UTC day.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub kind: String,
    pub channel: Option<Channel>,
    pub data: serde_json::Value,
    /// The earliest of them.
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub count: u32,
}

/// What analytics are computed from, for one business since a moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActivityData {
    pub events: Vec<EventRow>,
    /// (priority, channel, created_at) of leads created since.
    pub leads: Vec<(Priority, Channel, chrono::DateTime<chrono::Utc>)>,
    /// (started_at, duration in seconds) of calls started since.
    pub calls: Vec<(chrono::DateTime<chrono::Utc>, Option<i64>)>,
}

/// How the period's calls ended, how its emergencies were judged and where
/// its leads stand: counted by SQL over the recorded rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcomes {
    pub calls: CallOutcomes,
    pub emergencies: EmergencyOutcomes,
    /// The period's leads (tests left out) by their status now, by the week
    /// they came in: `weeks_ago` 0 is the latest 7 days.
    pub lead_status_by_week: Vec<StatusWeek>,
    /// Filled by the analytics loader from [`AdminStore::response_latency`].
    pub response_latency: ResponseLatency,
}

/// How fast replies started: median and p90 per local day and channel, and
/// for the whole period.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseLatency {
    /// `span` is the local date; days without replies are left out.
    pub by_day: Vec<LatencyStat>,
    /// `span` is "period".
    pub period: Vec<LatencyStat>,
}

/// Calls of the period by how they ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallOutcomes {
    pub total: u32,
    /// The receptionist spoke (realtime or gather).
    pub answered: u32,
    /// The receptionist said goodbye, or the caller hung up after leaving their details.
    pub completed: u32,
    pub transferred: u32,
    /// The caller hung up before leaving any details.
    pub abandoned: u32,
    pub voicemail: u32,
    pub average_seconds: Option<f64>,
    /// The length 90% of calls stay within (nearest rank).
    pub p90_seconds: Option<i64>,
}

impl CallOutcomes {
    /// The counts by name, in the order the CSV exports list them.
    pub fn counts(&self) -> [(&'static str, u32); 6] {
        [
            ("total", self.total),
            ("answered", self.answered),
            ("completed", self.completed),
            ("transferred", self.transferred),
            ("abandoned", self.abandoned),
            ("voicemail", self.voicemail),
        ]
    }
}

/// How a period's calls ended, as each backend counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallEndings {
    pub total: u32,
    pub answered: u32,
    pub agent_hung_up: u32,
    pub caller_hung_up: u32,
    pub transferred: u32,
    pub voicemail: u32,
    /// Caller hang-ups whose conversation left a lead.
    pub hung_up_with_lead: u32,
}

impl CallOutcomes {
    /// One rule for both backends: a caller who hung up after leaving their
    /// details completed the call; one who hung up before abandoned it.
    pub fn from_endings(
        e: CallEndings,
        average_seconds: Option<f64>,
        p90_seconds: Option<i64>,
    ) -> CallOutcomes {
        CallOutcomes {
            total: e.total,
            answered: e.answered,
            completed: e.agent_hung_up + e.hung_up_with_lead,
            transferred: e.transferred,
            abandoned: e.caller_hung_up.saturating_sub(e.hung_up_with_lead),
            voicemail: e.voicemail,
            average_seconds,
            p90_seconds,
        }
    }
}

/// HIGH and URGENT leads of the period and the owner's marks on them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmergencyOutcomes {
    pub urgent: u32,
    pub high: u32,
    /// Marked by the owner as not an emergency (`POST /api/admin/leads/{id}/triage`).
    pub marked_not_emergency: u32,
    /// marked_not_emergency / (urgent + high); None without emergencies.
    pub false_positive_rate: Option<f64>,
}

impl EmergencyOutcomes {
    /// The counts, with the false-positive rate derived from them (one rule
    /// for both backends and the operator's totals).
    pub fn new(urgent: u32, high: u32, marked_not_emergency: u32) -> EmergencyOutcomes {
        let total = urgent + high;
        EmergencyOutcomes {
            urgent,
            high,
            marked_not_emergency,
            false_positive_rate: (total > 0).then(|| f64::from(marked_not_emergency) / f64::from(total)),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusWeek {
    pub weeks_ago: u32,
    pub new: u32,
    pub contacted: u32,
    pub qualified: u32,
    pub closed: u32,
}

/// The `span` of a [`LatencyStat`] over the whole period.
pub const PERIOD: &str = "period";

/// Reply latency in one local day (or the period) and channel, by nearest
/// rank (the same on every backend): the median is the ceil(n/2)-th
/// fastest, the p90 the ceil(0.9 n)-th.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LatencyStat {
    /// The local date (YYYY-MM-DD), or [`PERIOD`].
    pub span: String,
    pub channel: Channel,
    pub turns: u32,
    pub median_ms: u32,
    pub p90_ms: u32,
}

/// The owner-editable identity of a business.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BusinessSettings {
    pub name: String,
    pub business_type: BusinessType,
    pub country: String,
    pub timezone: String,
}

/// Where the owner is told about leads.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NotificationSettings {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub webhook_url: Option<String>,
}

/// Recent activity of one business, for the operator's list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BusinessActivity {
    pub business_id: BusinessId,
    pub conversations: u32,
    pub leads: u32,
    #[serde(with = "crate::domain::rfc3339_serde::option")]
    pub last_activity_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Tenant-scoped reads and writes for the web UI and the admin API.
#[async_trait]
pub trait AdminStore: Send + Sync {
    /// A user by id (sessions name users by id).
    async fn user(&self, id: &str) -> Result<User>;
    /// First-run setup, only while no user exists (`Conflict` otherwise), in
    /// one transaction: a new business and its owner, or (no bundle) the
    /// operator of the businesses already there.
    async fn create_first_user(&self, bundle: Option<BusinessBundle>, user: NewUser) -> Result<User>;
    async fn set_user_password(&self, user_id: &str, password_hash: &str) -> Result<()>;

    async fn update_business_settings(
        &self,
        business_id: &BusinessId,
        settings: BusinessSettings,
    ) -> Result<()>;
    async fn update_notification_settings(
        &self,
        business_id: &BusinessId,
        settings: NotificationSettings,
    ) -> Result<()>;
    async fn set_website_origins(&self, business_id: &BusinessId, origins: Vec<String>) -> Result<()>;
    /// `Conflict` when another business has the number.
    async fn set_twilio_number(&self, business_id: &BusinessId, number: Option<String>) -> Result<()>;
    /// Replaces the agent configuration (chat and voice fields).
    async fn update_agent(&self, business_id: &BusinessId, agent: AgentConfig) -> Result<()>;
    async fn set_emergency_rules(&self, business_id: &BusinessId, rules: EmergencyRules) -> Result<()>;

    /// Questions in order.
    async fn questions(&self, business_id: &BusinessId) -> Result<Vec<QuestionRow>>;
    /// Appends a question (its `order` is ignored).
    async fn add_question(&self, business_id: &BusinessId, question: Question) -> Result<QuestionRow>;
    /// Changes a question's text and settings (its `order` is ignored).
    async fn update_question(&self, business_id: &BusinessId, id: &str, question: Question) -> Result<()>;
    async fn delete_question(&self, business_id: &BusinessId, id: &str) -> Result<()>;
    /// Puts the questions in this order; `ids` must be exactly the business's questions.
    async fn reorder_questions(&self, business_id: &BusinessId, ids: Vec<String>) -> Result<()>;

    async fn knowledge_entries(&self, business_id: &BusinessId) -> Result<Vec<KnowledgeEntry>>;
    async fn knowledge_entry(&self, business_id: &BusinessId, id: &str) -> Result<KnowledgeEntry>;
    /// Adds and indexes a document.
    async fn add_knowledge(&self, business_id: &BusinessId, doc: KnowledgeDoc) -> Result<KnowledgeEntry>;
    /// Replaces and re-indexes a document.
    async fn update_knowledge(
        &self,
        business_id: &BusinessId,
        id: &str,
        doc: KnowledgeDoc,
    ) -> Result<KnowledgeEntry>;
    async fn delete_knowledge(&self, business_id: &BusinessId, id: &str) -> Result<()>;

    /// Matching leads, newest first, and how many match in all.
    async fn find_leads(&self, business_id: &BusinessId, filter: LeadFilter) -> Result<(Vec<Lead>, u64)>;
    async fn lead_detail(&self, business_id: &BusinessId, lead_id: &LeadId) -> Result<LeadDetail>;
    async fn set_lead_status(
        &self,
        business_id: &BusinessId,
        lead_id: &LeadId,
        status: LeadStatus,
    ) -> Result<Lead>;
    /// The owner's triage mark on a lead: the level `text` (the message
    /// triaged) should have had. It becomes an example for the classifier.
    async fn mark_triage(
        &self,
        business_id: &BusinessId,
        lead_id: &LeadId,
        level: Priority,
        text: &str,
    ) -> Result<()>;
    async fn triage_mark(&self, business_id: &BusinessId, lead_id: &LeadId) -> Result<Option<Priority>>;

    /// Events, leads and calls since `since` (UTC RFC 3339).
    async fn activity(&self, business_id: &BusinessId, since: DateTime<Utc>) -> Result<ActivityData>;
    /// Call endings, emergency marks and lead statuses since `since` (SQL aggregates).
    async fn outcomes(&self, business_id: &BusinessId, since: DateTime<Utc>) -> Result<Outcomes>;
    /// Reply latency per local day and channel from `first_day` to `last_day`
    /// (YYYY-MM-DD, inclusive), days in order, then per channel for the period.
    async fn response_latency(
        &self,
        business_id: &BusinessId,
        first_day: &str,
        last_day: &str,
    ) -> Result<Vec<LatencyStat>>;
    /// Operator: the same across every business (each reply on its business's local day).
    async fn all_response_latency(&self, first_day: &str, last_day: &str) -> Result<Vec<LatencyStat>>;
    /// Operator: every business's conversations and leads since `since`.
    async fn businesses_activity(&self, since: DateTime<Utc>) -> Result<Vec<BusinessActivity>>;

    /// Hours, area, prices, about (defaults when none were saved).
    async fn business_facts(&self, business_id: &BusinessId) -> Result<BusinessFacts>;
    async fn set_business_facts(&self, business_id: &BusinessId, facts: BusinessFacts) -> Result<()>;
    /// The business's own glossary (empty when none was saved), and its
    /// replacement: searched from the next question on.
    async fn business_glossary(&self, business_id: &BusinessId) -> Result<Vec<Gloss>>;
    async fn set_business_glossary(&self, business_id: &BusinessId, glossary: Vec<Gloss>) -> Result<()>;
    /// Where and when the chat widget was first loaded by one of the
    /// business's own sites (the first-hour checklist).
    async fn widget_seen(
        &self,
        business_id: &BusinessId,
    ) -> Result<Option<(String, chrono::DateTime<chrono::Utc>)>>;
    /// Records the first load from the business's own site; later ones change nothing.
    async fn note_widget_seen(&self, business_id: &BusinessId, origin: &str) -> Result<()>;
    /// The owner's notes on a lead (None clears them).
    async fn set_lead_notes(
        &self,
        business_id: &BusinessId,
        lead_id: &LeadId,
        notes: Option<String>,
    ) -> Result<()>;
    /// Marks a lead (and its conversation) as a test, or not.
    async fn set_lead_test(&self, business_id: &BusinessId, lead_id: &LeadId, test: bool) -> Result<()>;
    /// Deletes a lead and its conversation.
    async fn delete_lead(&self, business_id: &BusinessId, lead_id: &LeadId) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hang_up_after_leaving_details_completes_the_call() {
        let endings = CallEndings {
            total: 10,
            answered: 9,
            agent_hung_up: 4,
            caller_hung_up: 3,
            transferred: 1,
            voicemail: 1,
            hung_up_with_lead: 2,
        };
        let calls = CallOutcomes::from_endings(endings, Some(42.5), Some(90));
        assert_eq!((calls.total, calls.answered, calls.transferred, calls.voicemail), (10, 9, 1, 1));
        assert_eq!((calls.completed, calls.abandoned), (6, 1));
        assert_eq!((calls.average_seconds, calls.p90_seconds), (Some(42.5), Some(90)));
    }
}
