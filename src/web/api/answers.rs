//! What the admin API answers, one struct per shape, every key camelCase
//! (the original design's API style). The domain and store types keep
//! their own snake_case serde form (business files, webhooks, the CLI's
//! JSON and saved sessions read it), so the API borrows them into these
//! views instead of serializing them directly. A map whose keys are data
//! keeps them as they are: a lead's `captured` answers, a notification's
//! `payload`, the plan's `features` and the outbox `counts` (keyed by the
//! feature and state codes the API's values and errors use). The outbox's
//! answers are beside their handlers, in `notifications`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{
    AgentConfig, Business, BusinessFacts, BusinessSummary, BusinessType, Channel, ExpectedFormat, Lead,
    LeadAlert, LeadStatus, Message, PlanTier, Priority, Role, Speaker, User, VoiceMode, WeekHours,
};
use crate::store::admin::{CallRecord, KnowledgeEntry, LeadDetail, QuestionRow};
use crate::store::imports::{ImportKind, ImportState, KnowledgeImport};

/// `POST /api/auth/login`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginAnswer<'a> {
    pub token: &'a str,
    /// Unix seconds.
    pub expires_at: i64,
    pub user: UserView<'a>,
}

/// `POST /api/auth/logout`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedOut {
    pub signed_out: bool,
}

/// `GET /api/admin/me`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeAnswer<'a> {
    pub user: UserView<'a>,
    pub business: Option<BusinessView<'a>>,
    pub plan: Option<PlanTier>,
    /// Feature code (`voice_agent`, as a `plan_required` error names it) -> included.
    pub features: BTreeMap<String, bool>,
    pub limits: Option<PlanLimits>,
}

/// The plan's limits; None is no limit.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanLimits {
    pub questions: Option<usize>,
    pub documents: Option<usize>,
    pub document_bytes: usize,
    pub conversations_per_month: Option<u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView<'a> {
    pub id: &'a str,
    pub email: &'a str,
    pub role: Role,
    pub business_id: Option<&'a str>,
    #[serde(with = "crate::domain::rfc3339_serde")]
    pub created_at: DateTime<Utc>,
}

impl<'a> From<&'a User> for UserView<'a> {
    fn from(u: &'a User) -> Self {
        UserView {
            id: &u.id,
            email: &u.email,
            role: u.role,
            business_id: u.business_id.as_deref(),
            created_at: u.created_at,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BusinessView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub business_type: BusinessType,
    pub plan_tier: PlanTier,
    pub twilio_phone_number: Option<&'a str>,
    pub notification_email: Option<&'a str>,
    pub notification_phone_number: Option<&'a str>,
    pub notification_webhook_url: Option<&'a str>,
    pub country: &'a str,
    pub timezone: &'a str,
    pub website_origins: &'a [String],
    #[serde(with = "crate::domain::rfc3339_serde")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::domain::rfc3339_serde")]
    pub updated_at: DateTime<Utc>,
}

impl<'a> From<&'a Business> for BusinessView<'a> {
    fn from(b: &'a Business) -> Self {
        BusinessView {
            id: &b.id,
            name: &b.name,
            business_type: b.business_type,
            plan_tier: b.plan_tier,
            twilio_phone_number: b.twilio_phone_number.as_deref(),
            notification_email: b.notification_email.as_deref(),
            notification_phone_number: b.notification_phone_number.as_deref(),
            notification_webhook_url: b.notification_webhook_url.as_deref(),
            country: &b.country,
            timezone: &b.timezone,
            website_origins: &b.website_origins,
            created_at: b.created_at,
            updated_at: b.updated_at,
        }
    }
}

/// `GET /api/admin/businesses`: each business with its counts.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BusinessSummaryView<'a> {
    #[serde(flatten)]
    pub business: BusinessView<'a>,
    pub questions: u32,
    pub knowledge_docs: u32,
    pub leads: u32,
    pub users: u32,
}

impl<'a> From<&'a BusinessSummary> for BusinessSummaryView<'a> {
    fn from(s: &'a BusinessSummary) -> Self {
        BusinessSummaryView {
            business: (&s.business).into(),
            questions: s.questions,
            knowledge_docs: s.knowledge_docs,
            leads: s.leads,
            users: s.users,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BusinessesAnswer<'a> {
    pub businesses: Vec<BusinessSummaryView<'a>>,
}

/// `POST /api/admin/businesses/{id}/plan`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanChanged<'a> {
    pub business_id: &'a str,
    pub plan: PlanTier,
}

/// `GET /api/admin/config/agent`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentView<'a> {
    pub agent_name: &'a str,
    pub persona_prompt: &'a str,
    pub welcome_message: &'a str,
    /// `primary` and `secondary`, as `#rrggbb`.
    pub color_theme: &'a BTreeMap<String, String>,
    pub lead_capture_completion_message: Option<&'a str>,
    pub voice_greeting_message: Option<&'a str>,
    pub voice_completion_message: Option<&'a str>,
    pub voice_emergency_message: Option<&'a str>,
    pub voice_end_call_message: Option<&'a str>,
    pub twilio_voice: &'a str,
    pub twilio_language: &'a str,
    pub voice_mode: VoiceMode,
    pub realtime_voice: &'a str,
}

impl<'a> From<&'a AgentConfig> for AgentView<'a> {
    fn from(a: &'a AgentConfig) -> Self {
        AgentView {
            agent_name: &a.agent_name,
            persona_prompt: &a.persona_prompt,
            welcome_message: &a.welcome_message,
            color_theme: &a.color_theme,
            lead_capture_completion_message: a.lead_capture_completion_message.as_deref(),
            voice_greeting_message: a.voice_greeting_message.as_deref(),
            voice_completion_message: a.voice_completion_message.as_deref(),
            voice_emergency_message: a.voice_emergency_message.as_deref(),
            voice_end_call_message: a.voice_end_call_message.as_deref(),
            twilio_voice: &a.twilio_voice,
            twilio_language: &a.twilio_language,
            voice_mode: a.voice_mode,
            realtime_voice: &a.realtime_voice,
        }
    }
}

/// `GET /api/admin/config/voice`: the phone settings, the number and the
/// URLs to give Twilio.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VoiceAnswer<'a> {
    pub voice_greeting_message: Option<&'a str>,
    pub voice_completion_message: Option<&'a str>,
    pub voice_emergency_message: Option<&'a str>,
    pub voice_end_call_message: Option<&'a str>,
    pub twilio_voice: &'a str,
    pub twilio_language: &'a str,
    pub voice_mode: VoiceMode,
    pub realtime_voice: &'a str,
    pub twilio_phone_number: Option<&'a str>,
    pub webhooks: VoiceWebhooks,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VoiceWebhooks {
    pub incoming: String,
    pub status: String,
    pub handle_speech: String,
    pub stream: String,
}

impl<'a> VoiceAnswer<'a> {
    pub fn new(a: &'a AgentConfig, b: &'a Business, urls: (String, String, String, String)) -> Self {
        let (incoming, status, handle_speech, stream) = urls;
        VoiceAnswer {
            voice_greeting_message: a.voice_greeting_message.as_deref(),
            voice_completion_message: a.voice_completion_message.as_deref(),
            voice_emergency_message: a.voice_emergency_message.as_deref(),
            voice_end_call_message: a.voice_end_call_message.as_deref(),
            twilio_voice: &a.twilio_voice,
            twilio_language: &a.twilio_language,
            voice_mode: a.voice_mode,
            realtime_voice: &a.realtime_voice,
            twilio_phone_number: b.twilio_phone_number.as_deref(),
            webhooks: VoiceWebhooks { incoming, status, handle_speech, stream },
        }
    }
}

/// `POST /api/admin/voice/test-call`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TestCallAnswer<'a> {
    pub call_sid: &'a str,
    pub status: &'a str,
    pub to: &'a str,
    pub from: &'a str,
}

impl<'a> From<&'a crate::channels::voice::test_call::Placed> for TestCallAnswer<'a> {
    fn from(p: &'a crate::channels::voice::test_call::Placed) -> Self {
        TestCallAnswer { call_sid: &p.call_sid, status: &p.status, to: &p.to, from: &p.from }
    }
}

/// `GET /api/admin/questions`: in order, with the plan's limit (None: no limit).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuestionsAnswer<'a> {
    pub questions: Vec<QuestionView<'a>>,
    pub limit: Option<usize>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuestionView<'a> {
    pub id: &'a str,
    pub question_text: &'a str,
    pub expected_format: ExpectedFormat,
    pub order: u32,
    pub is_required: bool,
    pub maps_to_lead_field: Option<&'a str>,
    pub is_essential_for_emergency: bool,
}

impl<'a> From<&'a QuestionRow> for QuestionView<'a> {
    fn from(r: &'a QuestionRow) -> Self {
        let q = &r.question;
        QuestionView {
            id: &r.id,
            question_text: &q.question_text,
            expected_format: q.expected_format,
            order: q.order,
            is_required: q.is_required,
            maps_to_lead_field: q.maps_to_lead_field.as_deref(),
            is_essential_for_emergency: q.is_essential_for_emergency,
        }
    }
}

/// `GET /api/admin/leads`: one page, and how many leads match.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeadsAnswer<'a> {
    pub leads: Vec<LeadView<'a>>,
    pub total: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeadView<'a> {
    pub id: &'a str,
    pub business_id: &'a str,
    pub conversation_id: Option<&'a str>,
    pub channel: Channel,
    pub status: LeadStatus,
    pub priority: Priority,
    pub contact_name: Option<&'a str>,
    pub contact_email: Option<&'a str>,
    pub contact_phone: Option<&'a str>,
    pub address: Option<&'a str>,
    pub notes: Option<&'a str>,
    /// Every captured answer, keyed by the lead field or the question's text.
    pub captured: &'a BTreeMap<String, String>,
    #[serde(with = "crate::domain::rfc3339_serde")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::domain::rfc3339_serde")]
    pub updated_at: DateTime<Utc>,
    pub alert: Option<LeadAlert>,
    pub is_test: bool,
    pub owner_notes: Option<&'a str>,
}

impl<'a> From<&'a Lead> for LeadView<'a> {
    fn from(l: &'a Lead) -> Self {
        LeadView {
            id: &l.id,
            business_id: &l.business_id,
            conversation_id: l.conversation_id.as_deref(),
            channel: l.channel,
            status: l.status,
            priority: l.priority,
            contact_name: l.contact_name.as_deref(),
            contact_email: l.contact_email.as_deref(),
            contact_phone: l.contact_phone.as_deref(),
            address: l.address.as_deref(),
            notes: l.notes.as_deref(),
            captured: &l.captured,
            created_at: l.created_at,
            updated_at: l.updated_at,
            alert: l.alert,
            is_test: l.is_test,
            owner_notes: l.owner_notes.as_deref(),
        }
    }
}

/// `GET /api/admin/leads/{id}`: the lead, its transcript and its call.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeadDetailView<'a> {
    pub lead: LeadView<'a>,
    pub transcript: Vec<MessageView<'a>>,
    pub call: Option<CallView<'a>>,
}

impl<'a> From<&'a LeadDetail> for LeadDetailView<'a> {
    fn from(d: &'a LeadDetail) -> Self {
        LeadDetailView {
            lead: (&d.lead).into(),
            transcript: d.transcript.iter().map(MessageView::from).collect(),
            call: d.call.as_ref().map(CallView::from),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView<'a> {
    pub role: Speaker,
    pub content: &'a str,
    #[serde(with = "crate::domain::rfc3339_serde")]
    pub created_at: DateTime<Utc>,
}

impl<'a> From<&'a Message> for MessageView<'a> {
    fn from(m: &'a Message) -> Self {
        MessageView { role: m.role, content: &m.content, created_at: m.created_at }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallView<'a> {
    pub call_sid: &'a str,
    pub from_number: Option<&'a str>,
    pub status: &'a str,
    pub duration_seconds: Option<i64>,
    pub recording_url: Option<&'a str>,
    pub summary: Option<&'a str>,
    #[serde(with = "crate::domain::rfc3339_serde")]
    pub started_at: DateTime<Utc>,
}

impl<'a> From<&'a CallRecord> for CallView<'a> {
    fn from(c: &'a CallRecord) -> Self {
        CallView {
            call_sid: &c.call_sid,
            from_number: c.from_number.as_deref(),
            status: &c.status,
            duration_seconds: c.duration_seconds,
            recording_url: c.recording_url.as_deref(),
            summary: c.summary.as_deref(),
            started_at: c.started_at,
        }
    }
}

/// `POST /api/admin/leads/{id}/triage`: the owner's mark, as a triage example.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TriageMarked<'a> {
    pub lead_id: &'a str,
    pub level: Priority,
    pub text: &'a str,
}

/// `DELETE` of a lead or a document: the id deleted.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deleted<'a> {
    pub deleted: &'a str,
}

/// `GET /api/admin/knowledge/glossary`: the business's own glossary, as it
/// is sent back (`glossary`: "phrase = words" each) and entry by entry.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GlossaryView<'a> {
    pub glossary: Vec<String>,
    pub entries: &'a [crate::domain::Gloss],
}

impl<'a> From<&'a [crate::domain::Gloss]> for GlossaryView<'a> {
    fn from(entries: &'a [crate::domain::Gloss]) -> Self {
        GlossaryView {
            glossary: entries.iter().map(|g| format!("{} = {}", g.phrase, g.words)).collect(),
            entries,
        }
    }
}

/// `GET /api/admin/facts`: unset facts are left out, as in the business file.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FactsView<'a> {
    /// Weekday (`monday`) -> hours; days not said are left out.
    pub hours: &'a WeekHours,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub holidays: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_area: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prices: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub about: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<&'a str>,
}

impl<'a> From<&'a BusinessFacts> for FactsView<'a> {
    fn from(f: &'a BusinessFacts) -> Self {
        FactsView {
            hours: &f.hours,
            holidays: &f.holidays,
            service_area: f.service_area.as_deref(),
            prices: f.prices.as_deref(),
            about: f.about.as_deref(),
            phone: f.phone.as_deref(),
        }
    }
}

/// `GET /api/admin/knowledge`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentsAnswer<'a> {
    pub documents: Vec<DocumentView<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentView<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub content: &'a str,
    pub source_url: Option<&'a str>,
    pub chunks: u32,
    #[serde(with = "crate::domain::rfc3339_serde::option")]
    pub indexed_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::domain::rfc3339_serde")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::domain::rfc3339_serde")]
    pub updated_at: DateTime<Utc>,
}

impl<'a> From<&'a KnowledgeEntry> for DocumentView<'a> {
    fn from(k: &'a KnowledgeEntry) -> Self {
        DocumentView {
            id: &k.id,
            title: &k.title,
            content: &k.content,
            source_url: k.source_url.as_deref(),
            chunks: k.chunks,
            indexed_at: k.indexed_at,
            created_at: k.created_at,
            updated_at: k.updated_at,
        }
    }
}

/// `GET /api/admin/knowledge/imports`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportsAnswer<'a> {
    pub imports: Vec<ImportView<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportView<'a> {
    pub id: &'a str,
    pub kind: ImportKind,
    pub source: &'a str,
    pub state: ImportState,
    pub detail: Option<&'a str>,
    pub documents: u32,
    #[serde(with = "crate::domain::rfc3339_serde")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::domain::rfc3339_serde")]
    pub updated_at: DateTime<Utc>,
}

impl<'a> From<&'a KnowledgeImport> for ImportView<'a> {
    fn from(j: &'a KnowledgeImport) -> Self {
        ImportView {
            id: &j.id,
            kind: j.kind,
            source: &j.source,
            state: j.state,
            detail: j.detail.as_deref(),
            documents: j.documents,
            created_at: j.created_at,
            updated_at: j.updated_at,
        }
    }
}

/// `GET /api/admin/dashboard`: today's and the last 7 days' counts.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DashboardAnswer<'a> {
    pub today: crate::web::analytics::Counts,
    pub week: crate::web::analytics::Counts,
    pub timezone: &'a str,
}

/// `GET /api/admin/analytics`: the report's figures and the outcomes beside them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsAnswer<'a> {
    #[serde(flatten)]
    pub report: &'a crate::web::analytics::Report,
    pub outcomes: &'a crate::store::admin::Outcomes,
}
