//! Domain types shared by every module: plain data, no I/O.
//!
//! Over 600 lines: dozens of small types, each with its text form and
//! parse; they are the vocabulary every module shares, so they stay together.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{BusinessId, CallSid, ConversationId, LeadId};

/// Declares a closed set of upper-case names stored as text.
macro_rules! name_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Accepts the canonical name in any case.
            pub fn parse(s: &str) -> Option<$name> {
                let s = s.trim();
                $(if s.eq_ignore_ascii_case($text) { return Some($name::$variant); })+
                None
            }

            /// "A, B or C", for error messages.
            pub fn choices() -> String {
                let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                match names.split_last() {
                    Some((last, rest)) if !rest.is_empty() => format!("{} or {}", rest.join(", "), last),
                    _ => names.join(""),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

name_enum!(BusinessType {
    RealEstate = "REAL_ESTATE",
    Law = "LAW",
    Hvac = "HVAC",
    Plumbing = "PLUMBING",
    Other = "OTHER",
});

name_enum!(
    /// Ordered: FREE < BASIC < PRO.
    PlanTier { Free = "FREE", Basic = "BASIC", Pro = "PRO" }
);

name_enum!(ExpectedFormat { Text = "TEXT", Email = "EMAIL", Phone = "PHONE" });

name_enum!(LeadStatus { New = "NEW", Contacted = "CONTACTED", Qualified = "QUALIFIED", Closed = "CLOSED" });

name_enum!(
    /// Ordered: LOW < NORMAL < HIGH < URGENT.
    Priority { Low = "LOW", Normal = "NORMAL", High = "HIGH", Urgent = "URGENT" }
);

#[allow(clippy::derivable_impls)] // the enum comes from a macro
impl Default for Priority {
    fn default() -> Self {
        Priority::Normal
    }
}

name_enum!(Channel { Chat = "CHAT", Voice = "VOICE", Import = "IMPORT" });

name_enum!(
    /// Whether an URGENT lead's alert reached anyone: at least one delivered,
    /// some still on their way, or none (nobody to alert, every one failed, or
    /// only kept on this server).
    LeadAlert { Sent = "sent", Sending = "sending", NotSent = "not_sent" }
);

name_enum!(Role { Owner = "owner", Staff = "staff", Operator = "operator" });

name_enum!(
    /// Who said a transcript line (`messages.role`): the caller or visitor,
    /// the agent, or a note the agent wrote into the call's record.
    Speaker { User = "user", Assistant = "assistant", System = "system" }
);

name_enum!(
    /// How calls are answered: `realtime` (speech to speech with the OpenAI
    /// Realtime API), `gather` (turn by turn with Twilio's speech recognition
    /// and voices), or `auto` (realtime when a model is configured).
    VoiceMode { Auto = "auto", Realtime = "realtime", Gather = "gather" }
);

name_enum!(
    /// How one call was answered (`calls.mode`). Not a [`VoiceMode`]: `auto`
    /// is a setting, resolved to one of these before the call is answered.
    CallMode { Realtime = "realtime", Gather = "gather" }
);

name_enum!(
    /// How a call left the agent (`calls.ended_reason`, the `call_ended`
    /// event's `reason`): `fallback` is a realtime session that failed, the
    /// caller carrying on turn by turn.
    EndedReason {
        CallerHungUp = "caller_hung_up",
        AgentHungUp = "agent_hung_up",
        Transferred = "transferred",
        Voicemail = "voicemail",
        Fallback = "fallback",
    }
);

/// Voices the OpenAI Realtime API speaks with.
pub const REALTIME_VOICES: &[&str] =
    &["marin", "cedar", "alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse"];

/// A business served by this instance (one tenant).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Business {
    pub id: BusinessId,
    pub name: String,
    pub business_type: BusinessType,
    pub plan_tier: PlanTier,
    pub twilio_phone_number: Option<String>,
    pub notification_email: Option<String>,
    pub notification_phone_number: Option<String>,
    /// Where new leads are POSTed as signed JSON (CRM, automation).
    pub notification_webhook_url: Option<String>,
    /// ISO 3166 alpha-2: the default region for phone numbers.
    pub country: String,
    pub timezone: String,
    /// Sites allowed to embed the chat widget.
    pub website_origins: Vec<String>,
    #[serde(with = "rfc3339_serde")]
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[serde(with = "rfc3339_serde")]
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// How the agent presents itself; defaults are those of the original design.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentConfig {
    pub agent_name: String,
    pub persona_prompt: String,
    pub welcome_message: String,
    pub color_theme: BTreeMap<String, String>,
    pub lead_capture_completion_message: Option<String>,
    pub voice_greeting_message: Option<String>,
    pub voice_completion_message: Option<String>,
    pub voice_emergency_message: Option<String>,
    pub voice_end_call_message: Option<String>,
    /// `<Say>` voice for gather-mode calls (alice, Polly.Joanna, Google.…).
    pub twilio_voice: String,
    pub twilio_language: String,
    pub voice_mode: VoiceMode,
    /// OpenAI voice for realtime calls (one of [`REALTIME_VOICES`]).
    pub realtime_voice: String,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            agent_name: "AI Assistant".into(),
            persona_prompt: "You are a helpful and friendly assistant.".into(),
            welcome_message: "Hello! How can I help you today?".into(),
            color_theme: BTreeMap::from([
                ("primary".to_string(), "#0ea5e9".to_string()),
                ("secondary".to_string(), "#64748b".to_string()),
            ]),
            lead_capture_completion_message: None,
            voice_greeting_message: None,
            voice_completion_message: None,
            voice_emergency_message: None,
            voice_end_call_message: None,
            twilio_voice: "alice".into(),
            twilio_language: "en-US".into(),
            voice_mode: VoiceMode::Auto,
            realtime_voice: "marin".into(),
        }
    }
}

/// One question the agent asks to capture a lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Question {
    pub question_text: String,
    pub expected_format: ExpectedFormat,
    /// Position, unique per business, from 1.
    pub order: u32,
    pub is_required: bool,
    /// name, email, phone, address, notes, or a custom key kept with the lead.
    pub maps_to_lead_field: Option<String>,
    pub is_essential_for_emergency: bool,
}

/// A knowledge-base document, as the owner wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnowledgeDoc {
    pub title: String,
    pub content: String,
    pub source_url: Option<String>,
}

/// A business with everything that configures it: the unit of import/export.
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessBundle {
    pub business: NewBusiness,
    pub agent: AgentConfig,
    pub questions: Vec<Question>,
    pub knowledge: Vec<KnowledgeDoc>,
    pub emergency_rules: EmergencyRules,
    /// `[notifications]`: which events reach the owner where.
    pub notifications: NotificationPrefs,
    /// `[facts]`: hours, service area, prices, about.
    pub facts: BusinessFacts,
    /// `[glossary]`: the owner's words for their own documents.
    pub glossary: Vec<Gloss>,
}

impl BusinessBundle {
    /// A business with only a name, a type and knowledge: every other part
    /// as a business file that says nothing more would leave it (the
    /// default agent, no questions, the default rules, notices and facts).
    pub fn with_knowledge(name: &str, business_type: BusinessType, knowledge: Vec<KnowledgeDoc>) -> Self {
        BusinessBundle {
            business: NewBusiness::named(name, business_type),
            agent: AgentConfig::default(),
            questions: Vec::new(),
            knowledge,
            emergency_rules: EmergencyRules::default(),
            notifications: NotificationPrefs::default(),
            facts: BusinessFacts::default(),
            glossary: Vec::new(),
        }
    }
}

/// An entry of one business's own glossary: a phrase its customers say and
/// the words its documents use for it ("be home" -> "adult home"), searched
/// beside the customer's words for that business only. The glossary every
/// business shares (`retrieval`) holds language, not any one business's wording.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Gloss {
    pub phrase: String,
    pub words: String,
}

/// The owner's changes to the default triage rules of their business.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EmergencyRules {
    /// Extra phrases and their level.
    pub add: Vec<(Priority, String)>,
    /// Default phrases switched off.
    pub remove: Vec<String>,
}

/// What a conversation needs to know about a business.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub business: Business,
    pub agent: AgentConfig,
    /// In order.
    pub questions: Vec<Question>,
    pub emergency_rules: EmergencyRules,
    pub facts: BusinessFacts,
    /// The business's own glossary, for its knowledge searches.
    pub glossary: Vec<Gloss>,
    /// The owner's "this was (not) an emergency" marks: (level, message).
    pub triage_marks: Vec<(Priority, String)>,
}

/// Opening hours per weekday: `"07:00-18:00"`, `"closed"`, or unset (not said).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WeekHours {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monday: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tuesday: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wednesday: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thursday: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub friday: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saturday: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sunday: Option<String>,
}

/// The weekdays, Monday first, as `WeekHours` names them.
pub const WEEKDAYS: [&str; 7] =
    ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

impl WeekHours {
    fn slots(&self) -> [&Option<String>; 7] {
        [
            &self.monday,
            &self.tuesday,
            &self.wednesday,
            &self.thursday,
            &self.friday,
            &self.saturday,
            &self.sunday,
        ]
    }

    fn slots_mut(&mut self) -> [&mut Option<String>; 7] {
        [
            &mut self.monday,
            &mut self.tuesday,
            &mut self.wednesday,
            &mut self.thursday,
            &mut self.friday,
            &mut self.saturday,
            &mut self.sunday,
        ]
    }

    /// A day's hours, 0 = Monday.
    pub fn day(&self, index: usize) -> Option<&str> {
        self.slots().get(index).and_then(|s| s.as_deref())
    }

    pub fn set_day(&mut self, index: usize, value: Option<String>) {
        if let Some(slot) = self.slots_mut().into_iter().nth(index) {
            *slot = value;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.slots().iter().all(|s| s.is_none())
    }
}

/// What the receptionist tells anyone who asks, on every plan: opening hours
/// (with days closed), where the business works, what it charges, who it is,
/// and the number customers call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusinessFacts {
    pub hours: WeekHours,
    /// Days closed, `"2026-12-25 Christmas Day"`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub holidays: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_area: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prices: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub about: Option<String>,
    /// The number customers call, E.164 (told to a visitor when nobody could be alerted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl BusinessFacts {
    pub fn is_empty(&self) -> bool {
        *self == BusinessFacts::default()
    }

    /// Enough for the first-hour checklist: hours, and where or what it charges.
    pub fn is_filled(&self) -> bool {
        !self.hours.is_empty() && (self.service_area.is_some() || self.prices.is_some())
    }
}

/// The owner-editable fields of a business (no id or timestamps).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewBusiness {
    pub name: String,
    pub business_type: BusinessType,
    pub plan_tier: PlanTier,
    pub twilio_phone_number: Option<String>,
    pub notification_email: Option<String>,
    pub notification_phone_number: Option<String>,
    pub notification_webhook_url: Option<String>,
    pub country: String,
    pub timezone: String,
    pub website_origins: Vec<String>,
}

/// What a business file holds of a stored business (`business export`).
impl From<Business> for NewBusiness {
    fn from(b: Business) -> NewBusiness {
        NewBusiness {
            name: b.name,
            business_type: b.business_type,
            plan_tier: b.plan_tier,
            twilio_phone_number: b.twilio_phone_number,
            notification_email: b.notification_email,
            notification_phone_number: b.notification_phone_number,
            notification_webhook_url: b.notification_webhook_url,
            country: b.country,
            timezone: b.timezone,
            website_origins: b.website_origins,
        }
    }
}

impl NewBusiness {
    pub fn named(name: &str, business_type: BusinessType) -> Self {
        NewBusiness {
            name: name.to_string(),
            business_type,
            plan_tier: PlanTier::Free,
            twilio_phone_number: None,
            notification_email: None,
            notification_phone_number: None,
            notification_webhook_url: None,
            country: "US".into(),
            timezone: "UTC".into(),
            website_origins: Vec::new(),
        }
    }
}

/// A business with counts, for listings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BusinessSummary {
    #[serde(flatten)]
    pub business: Business,
    pub questions: u32,
    pub knowledge_docs: u32,
    pub leads: u32,
    pub users: u32,
}

/// A person who can sign in to the web UI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub role: Role,
    /// None for operators, who see every business.
    pub business_id: Option<BusinessId>,
    #[serde(skip)]
    pub password_hash: String,
    #[serde(with = "rfc3339_serde")]
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A captured lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lead {
    pub id: LeadId,
    pub business_id: BusinessId,
    pub conversation_id: Option<ConversationId>,
    pub channel: Channel,
    pub status: LeadStatus,
    pub priority: Priority,
    pub contact_name: Option<String>,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    pub address: Option<String>,
    pub notes: Option<String>,
    /// Every captured answer, keyed by the lead field or question.
    pub captured: BTreeMap<String, String>,
    #[serde(with = "rfc3339_serde")]
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[serde(with = "rfc3339_serde")]
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// URGENT leads: whether the alert reached anyone (None otherwise).
    #[serde(default)]
    pub alert: Option<LeadAlert>,
    /// A test conversation (the owner's preview, the demo page): never alerted.
    #[serde(default)]
    pub is_test: bool,
    /// What the owner wrote on the lead.
    #[serde(default)]
    pub owner_notes: Option<String>,
}

impl Lead {
    /// The problem in one line, in the caller's words where there are any.
    pub fn summary(&self) -> String {
        let text = self
            .captured
            .get("problem")
            .or(self.notes.as_ref())
            .or(self.captured.get("first_message"))
            .map(String::as_str)
            .unwrap_or("New enquiry");
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.chars().count() <= 120 {
            return text;
        }
        let cut: String = text.chars().take(119).collect();
        format!("{}…", cut.trim_end())
    }
}

/// Captured keys the owner never reads (the engine's own bookkeeping).
pub const INTERNAL_FIELDS: &[&str] = &["emergency_reasons"];

/// How the owner reads a captured key: `first_message` -> "First message",
/// `job_address` -> "Job address"; a question's text stays as it is.
pub fn field_label(key: &str) -> String {
    match key {
        "first_message" => "First message".into(),
        "caller_id" => "Called from".into(),
        "problem" => "Problem".into(),
        other if other.contains(' ') => other.to_string(),
        other => {
            let mut words = other.replace('_', " ");
            if let Some(first) = words.get(..1) {
                words.replace_range(..1, &first.to_uppercase());
            }
            words
        }
    }
}

/// The questions a new business starts with, so the agent captures a usable
/// lead before the owner has configured anything.
pub fn starter_questions() -> Vec<Question> {
    let q = |order, text: &str, format, field: &str, required, essential| Question {
        question_text: text.to_string(),
        expected_format: format,
        order,
        is_required: required,
        maps_to_lead_field: Some(field.to_string()),
        is_essential_for_emergency: essential,
    };
    vec![
        q(1, "May I have your name?", ExpectedFormat::Text, "name", true, true),
        q(2, "What is the best phone number to reach you?", ExpectedFormat::Phone, "phone", true, true),
        q(3, "What is your email address?", ExpectedFormat::Email, "email", false, false),
        q(4, "How can we help you?", ExpectedFormat::Text, "notes", true, true),
    ]
}

/// The questions a business created in the web UI starts with: for a trade
/// (anyone who goes to the customer) the address replaces the email, and is
/// asked in an emergency, so the owner's alert says where to go.
pub fn starter_questions_for(business_type: BusinessType) -> Vec<Question> {
    let mut questions = starter_questions();
    if business_type != BusinessType::Law {
        questions[2] = Question {
            question_text: "What's the address where you need us?".into(),
            expected_format: ExpectedFormat::Text,
            order: 3,
            is_required: true,
            maps_to_lead_field: Some("address".into()),
            is_essential_for_emergency: true,
        };
    }
    questions
}

/// The lead as captured so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LeadDraft {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub notes: Option<String>,
    pub priority: Priority,
    /// Every answer by field (or question text), plus the first message.
    pub captured: BTreeMap<String, String>,
}

impl LeadDraft {
    /// Which of the details the owner acts on the lead has.
    pub fn known_fields(&self) -> Vec<String> {
        [("name", &self.name), ("phone", &self.phone), ("address", &self.address)]
            .iter()
            .filter(|(_, v)| v.is_some())
            .map(|(k, _)| k.to_string())
            .collect()
    }

    pub fn has_contact(&self) -> bool {
        self.name.is_some() || self.email.is_some() || self.phone.is_some()
    }
}

/// One line of a conversation transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Speaker,
    pub content: String,
    #[serde(with = "rfc3339_serde")]
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A phone call, as Twilio reported it and the agent handled it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Call {
    pub call_sid: CallSid,
    pub business_id: Option<BusinessId>,
    pub conversation_id: Option<ConversationId>,
    pub from_number: Option<String>,
    pub to_number: Option<String>,
    /// Twilio's latest CallStatus: ringing, in-progress, completed, busy, ...
    pub status: String,
    pub duration_seconds: Option<u32>,
    pub recording_url: Option<String>,
    pub summary: Option<String>,
    /// None when the agent never answered.
    pub mode: Option<CallMode>,
    pub ended_reason: Option<EndedReason>,
    #[serde(with = "rfc3339_serde")]
    pub started_at: chrono::DateTime<chrono::Utc>,
    #[serde(with = "rfc3339_serde")]
    pub updated_at: chrono::DateTime<chrono::Utc>,
    #[serde(with = "rfc3339_serde::option")]
    pub ended_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A notification waiting in (or delivered from) the outbox.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    pub id: String,
    pub business_id: BusinessId,
    pub lead_id: Option<LeadId>,
    /// A [`NotifyEvent`] name: new_lead, urgent_lead, call_ended, digest, test.
    pub kind: String,
    /// A [`NotifyChannel`] name: email, sms, voice_call, webhook.
    pub channel: String,
    pub recipient: String,
    pub payload: serde_json::Value,
    /// A [`NotificationState`] name: pending, in_flight, sent, dead.
    pub state: String,
    pub attempts: u32,
    #[serde(with = "rfc3339_serde")]
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[serde(with = "rfc3339_serde")]
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// When the worker tries next (pending rows).
    #[serde(with = "rfc3339_serde")]
    pub next_attempt_at: chrono::DateTime<chrono::Utc>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    #[serde(with = "rfc3339_serde::option")]
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
    /// SMS or call SID, email Message-ID, or webhook HTTP status.
    pub provider_id: Option<String>,
}

name_enum!(
    /// Where a notification goes.
    NotifyChannel { Email = "email", Sms = "sms", VoiceCall = "voice_call", Webhook = "webhook" }
);

name_enum!(
    /// What caused a notification.
    NotifyEvent {
        NewLead = "new_lead",
        UrgentLead = "urgent_lead",
        UrgentUpdate = "urgent_update",
        CallEnded = "call_ended",
        Digest = "digest",
        Test = "test",
    }
);

name_enum!(
    /// Where a notification is in the outbox. `kept`: an email kept on this
    /// server because no mail server is configured (not sent).
    NotificationState { Pending = "pending", InFlight = "in_flight", Sent = "sent", Kept = "kept", Dead = "dead" }
);

/// The owner's notification choices. URGENT leads always use every channel
/// the business has (within its plan); these pick the rest. Serde defaults
/// let older stored JSON and short business files read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationPrefs {
    /// Channels told about a new (non-urgent) lead.
    #[serde(default = "NotificationPrefs::default_new_lead")]
    pub new_lead: Vec<NotifyChannel>,
    /// Channels told when a phone call ends.
    #[serde(default = "NotificationPrefs::default_call_ended")]
    pub call_ended: Vec<NotifyChannel>,
    /// A daily email summing up the day's leads.
    #[serde(default = "NotificationPrefs::yes")]
    pub digest: bool,
    /// Local hour (0-23, the business's timezone) of the digest; None: the instance default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest_hour: Option<u8>,
}

impl NotificationPrefs {
    fn default_new_lead() -> Vec<NotifyChannel> {
        vec![NotifyChannel::Email, NotifyChannel::Sms, NotifyChannel::Webhook]
    }
    fn default_call_ended() -> Vec<NotifyChannel> {
        vec![NotifyChannel::Webhook]
    }
    fn yes() -> bool {
        true
    }
}

impl Default for NotificationPrefs {
    fn default() -> Self {
        NotificationPrefs {
            new_lead: Self::default_new_lead(),
            call_ended: Self::default_call_ended(),
            digest: true,
            digest_hour: None,
        }
    }
}

/// An email kept in the local outbox (no SMTP server configured).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocalEmail {
    pub notification_id: String,
    pub business_id: BusinessId,
    pub message_id: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    #[serde(with = "rfc3339_serde")]
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Current UTC time as RFC 3339 with milliseconds: sortable as text.
pub fn now() -> String {
    rfc3339(chrono::Utc::now())
}

/// A moment as every timestamp is stored and shown: UTC RFC 3339 with
/// milliseconds and `Z`, so the stored text sorts as the moments do.
pub fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A stored timestamp read back (any RFC 3339 offset), None when it is not one.
pub fn parse_rfc3339(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&chrono::Utc))
}

/// Any timestamp text a database may hold: RFC 3339 (what frontdesk writes),
/// else the forms SQL and older tools write (`2026-01-02 03:04:05`, with or
/// without `T`, fraction or offset, or a bare date), taken as UTC when they
/// carry no offset. None when it is none of them.
pub fn parse_stored(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::{NaiveDate, NaiveDateTime, Utc};
    let text = text.trim();
    if let Some(t) = parse_rfc3339(text) {
        return Some(t);
    }
    for form in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(t) = chrono::DateTime::parse_from_str(text, form) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for form in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, form) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc())
}

/// Serde for a `DateTime<Utc>` field: written as [`rfc3339`] (the text every
/// JSON, CSV and stored form showed when these fields were strings), read
/// from any form [`parse_stored`] takes. `#[serde(with = "rfc3339_serde")]`,
/// or `rfc3339_serde::option` for an `Option`.
pub mod rfc3339_serde {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::rfc3339(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_stored(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not a timestamp: '{text}'")))
    }

    /// The same for an `Option<DateTime<Utc>>` (null when None).
    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_str(&super::super::rfc3339(*t)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|text| {
                    super::super::parse_stored(&text)
                        .ok_or_else(|| serde::de::Error::custom(format!("not a timestamp: '{text}'")))
                })
                .transpose()
        }
    }
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_order() {
        for t in BusinessType::ALL {
            assert_eq!(BusinessType::parse(t.as_str()), Some(*t));
        }
        assert_eq!(PlanTier::parse("pro"), Some(PlanTier::Pro));
        assert!(PlanTier::Free < PlanTier::Basic && PlanTier::Basic < PlanTier::Pro);
        assert!(Priority::High < Priority::Urgent);
        assert_eq!(PlanTier::choices(), "FREE, BASIC or PRO");
        assert_eq!(BusinessType::parse("PLUMBER"), None);
    }

    #[test]
    fn call_modes_keep_the_stored_names() {
        // `calls.mode` rows and the analytics events were written as these strings.
        let names: Vec<&str> = CallMode::ALL.iter().map(|m| m.as_str()).collect();
        assert_eq!(names, ["realtime", "gather"]);
        assert_eq!(serde_json::to_value(CallMode::Gather).unwrap(), serde_json::json!("gather"));
        // A business's setting names the same two modes, plus `auto`.
        for m in CallMode::ALL {
            assert_eq!(VoiceMode::parse(m.as_str()).map(|v| v.as_str()), Some(m.as_str()));
        }
        assert_eq!(CallMode::parse("auto"), None);
    }

    #[test]
    fn ended_reasons_keep_the_stored_names() {
        // The analytics rollups count `calls.ended_reason` by these strings.
        let names: Vec<&str> = EndedReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names, ["caller_hung_up", "agent_hung_up", "transferred", "voicemail", "fallback"]);
        assert_eq!(
            serde_json::to_value(EndedReason::CallerHungUp).unwrap(),
            serde_json::json!("caller_hung_up")
        );
    }

    #[test]
    fn speakers_keep_the_stored_names() {
        // `messages.role`, the JSON transcript and saved sessions use these strings.
        let names: Vec<&str> = Speaker::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["user", "assistant", "system"]);
        let line: (Speaker, String) = serde_json::from_str(r#"["assistant", "Hello"]"#).unwrap();
        assert_eq!(line, (Speaker::Assistant, "Hello".to_string()));
        assert_eq!(serde_json::to_string(&Speaker::User).unwrap(), r#""user""#);
    }

    #[test]
    fn stored_times_read_in_every_form_and_write_as_before() {
        let t = parse_rfc3339("2026-01-02T03:04:05.006Z").unwrap();
        for text in ["2026-01-02T03:04:05.006Z", "2026-01-02T05:04:05.006+02:00", "2026-01-02 03:04:05.006"] {
            assert_eq!(parse_stored(text), Some(t), "{text}");
        }
        let whole = parse_rfc3339("2026-01-02T03:04:05Z").unwrap();
        for text in
            ["2026-01-02 03:04:05", "2026-01-02T03:04:05", "2026-01-02 03:04:05+00", " 2026-01-02 03:04:05 "]
        {
            assert_eq!(parse_stored(text), Some(whole), "{text}");
        }
        assert_eq!(parse_stored("2026-01-02").map(rfc3339).as_deref(), Some("2026-01-02T00:00:00.000Z"));
        assert_eq!(parse_stored("x"), None);

        #[derive(Serialize, Deserialize)]
        struct Row {
            #[serde(with = "rfc3339_serde")]
            at: chrono::DateTime<chrono::Utc>,
            #[serde(with = "rfc3339_serde::option")]
            sent: Option<chrono::DateTime<chrono::Utc>>,
        }
        let text = r#"{"at":"2026-01-02T03:04:05.006Z","sent":null}"#;
        let row: Row = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&row).unwrap(), text);
        let row = Row { at: t, sent: Some(whole) };
        assert_eq!(
            serde_json::to_string(&row).unwrap(),
            r#"{"at":"2026-01-02T03:04:05.006Z","sent":"2026-01-02T03:04:05.000Z"}"#
        );
    }
}
