//! The page templates (askama, compiled in, HTML auto-escaped) and the data
//! each one shows. Templates live in `assets/templates/`.
//!
//! Over 600 lines: one struct per page template (askama needs each as a
//! type), with no logic beyond small display helpers.

use askama::Template;

use super::analytics::{Counts, Report};
use super::input::{FieldErrors, Input};
use crate::domain::{Channel, Lead, LeadStatus, Message, PlanTier, Priority, Speaker};
use crate::store::admin::{CallRecord, QuestionRow};

/// One link of the main navigation.
#[derive(Debug, Clone)]
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub active: bool,
}

/// What the base layout needs on every page.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub title: String,
    pub signed_in: bool,
    pub user_email: String,
    pub role: String,
    pub can_manage: bool,
    pub is_operator: bool,
    pub business_id: String,
    pub business_name: String,
    pub plan: String,
    pub csrf: String,
    pub flash: Option<String>,
    pub nav: Vec<NavItem>,
    /// (id, name) for the operator's switcher.
    pub businesses: Vec<(String, String)>,
    /// Why an emergency would reach nobody, shown on every page until fixed.
    pub alert_banner: Option<String>,
}

#[derive(Template)]
#[template(path = "setup.html")]
pub struct SetupPage {
    pub l: Layout,
    /// Businesses already there (the first user becomes their operator).
    pub existing: usize,
    /// Their names, for "you will manage …".
    pub existing_names: String,
    pub v: Input,
    pub errors: FieldErrors,
    pub business_types: Vec<(&'static str, &'static str)>,
    pub countries: Vec<(&'static str, &'static str)>,
    pub timezones: Vec<&'static str>,
    /// (form name, day label, element id) of the opening-hours fields.
    pub days: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub l: Layout,
    pub email: String,
    pub next: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub l: Layout,
    pub heading: String,
    pub message: String,
    pub upgrade: Option<String>,
}

/// A lead as a table row (or a card on a phone), times in the business's zone.
#[derive(Debug, Clone)]
pub struct LeadRow {
    pub id: String,
    pub when: String,
    pub name: String,
    /// As people read it in the business's country.
    pub phone: String,
    /// E.164, for a tap-to-call link.
    pub tel: String,
    pub channel: Channel,
    pub priority: Priority,
    pub status: LeadStatus,
    pub summary: String,
    /// An URGENT lead nobody was alerted about.
    pub alert_not_sent: bool,
    pub is_test: bool,
}

/// One step of the first-hour checklist.
pub struct ChecklistItem {
    pub done: bool,
    pub label: &'static str,
    pub detail: String,
    pub href: &'static str,
    pub action: &'static str,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub l: Layout,
    /// (heading, key, counts)
    pub stats: Vec<(&'static str, &'static str, Counts)>,
    pub leads: Vec<LeadRow>,
    /// Shown until every step is done.
    pub checklist: Vec<ChecklistItem>,
    /// URGENT leads of the last week that reached nobody.
    pub unalerted: usize,
}

pub struct Select {
    pub name: &'static str,
    pub label: &'static str,
    pub options: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "leads.html")]
pub struct LeadsPage {
    pub l: Layout,
    pub v: Input,
    pub errors: FieldErrors,
    pub selects: Vec<Select>,
    pub leads: Vec<LeadRow>,
    pub total: u64,
    /// The filter as a query string ("?status=NEW…" or "").
    pub query: String,
    pub prev_page: Option<String>,
    pub next_page: Option<String>,
}

#[derive(Template)]
#[template(path = "lead.html")]
pub struct LeadPage {
    pub l: Layout,
    pub lead: Lead,
    pub name: String,
    pub when: String,
    pub statuses: Vec<&'static str>,
    pub transcript: Vec<Message>,
    pub call: Option<CallRecord>,
    pub summary: String,
    /// (as read, E.164)
    pub phone: Option<(String, String)>,
    /// (label, value), the engine's own keys left out.
    pub answers: Vec<(String, String)>,
    /// Why nobody was alerted, for an URGENT lead that reached nobody.
    pub alert_problem: Option<String>,
    /// The owner's triage mark (URGENT, HIGH or NORMAL), for triage_mark.html.
    pub triage_mark: Option<String>,
    pub errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "facts.html")]
pub struct FactsPage {
    pub l: Layout,
    pub v: Input,
    pub errors: FieldErrors,
    /// (form name, day label, element id)
    pub days: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "forgot.html")]
pub struct ForgotPage {
    pub l: Layout,
}

#[derive(Template)]
#[template(path = "agent.html")]
pub struct AgentPage {
    pub l: Layout,
    pub v: Input,
    pub errors: FieldErrors,
    pub primary: String,
    pub secondary: String,
    /// Text colour that reads on `primary`.
    pub ink: &'static str,
    pub questions: Vec<QuestionRow>,
    pub question_errors: FieldErrors,
    pub question_limit: Option<usize>,
    pub add_blocked: Option<String>,
    pub formats: Vec<&'static str>,
    pub new_q: Input,
    pub new_errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "voice.html")]
pub struct VoicePage {
    pub l: Layout,
    pub v: Input,
    pub errors: FieldErrors,
    pub blocked: Option<String>,
    pub premium: bool,
    pub number: String,
    /// incoming, status, handle-speech, stream
    pub urls: (String, String, String, String),
    /// Why Twilio could not use these addresses yet (no public https base, no token).
    pub setup_warning: Option<String>,
    pub twilio_voices: Vec<(String, String)>,
    pub realtime_voices: Vec<(String, String)>,
    pub modes: Vec<(String, String)>,
    /// Realtime voices with a "listen" sample (empty when none can be made).
    pub samples: Vec<(String, String)>,
    /// Why there are no samples (no OpenAI key), in plain words.
    pub samples_note: Option<String>,
    /// Why "call my receptionist" is greyed out (plan, Twilio, number).
    pub test_call_blocked: Option<String>,
    pub test_calls_per_hour: u32,
}

pub struct DocRow {
    pub id: String,
    pub title: String,
    pub chunks: u32,
    pub indexed: String,
    /// Where it came from: a web address's host and path, or "added here".
    pub source: String,
    pub source_url: Option<String>,
    /// The opening words.
    pub preview: String,
}

/// An import job on the knowledge page.
pub struct ImportRow {
    pub kind: &'static str,
    pub source: String,
    pub state: &'static str,
    pub detail: String,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "knowledge.html")]
pub struct KnowledgePage {
    pub l: Layout,
    pub v: Input,
    pub errors: FieldErrors,
    pub blocked: Option<String>,
    /// At the plan's document limit: adding is off, editing is not.
    pub full: Option<String>,
    pub docs: Vec<DocRow>,
    pub imports: Vec<ImportRow>,
    /// Some import is queued or running.
    pub busy: bool,
    /// `knowledge.crawl_max_pages`.
    pub max_pages: u32,
}

#[derive(Template)]
#[template(path = "knowledge_edit.html")]
pub struct KnowledgeEditPage {
    pub l: Layout,
    pub v: Input,
    pub errors: FieldErrors,
    pub id: String,
    pub title: String,
    pub chunks: u32,
    pub indexed: String,
}

/// A field of a simple settings form.
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    /// text, email, tel, url, password, textarea or select
    pub kind: &'static str,
    pub options: Vec<&'static str>,
}

impl Field {
    pub fn new(name: &'static str, label: &'static str, kind: &'static str, hint: &'static str) -> Field {
        Field { name, label, hint, kind, options: Vec::new() }
    }

    pub fn select(name: &'static str, label: &'static str, options: Vec<&'static str>) -> Field {
        Field { name, label, hint: "", kind: "select", options }
    }
}

/// The parts every simple settings form has.
pub struct FormParts {
    pub heading: &'static str,
    pub intro: &'static str,
    pub action: &'static str,
    pub submit: &'static str,
    pub fields: Vec<Field>,
}

#[derive(Template)]
#[template(path = "simple_form.html")]
pub struct SimpleFormPage {
    pub l: Layout,
    pub v: Input,
    pub errors: FieldErrors,
    pub heading: &'static str,
    pub intro: &'static str,
    pub action: &'static str,
    pub submit: &'static str,
    pub fields: Vec<Field>,
}

impl SimpleFormPage {
    pub fn new(l: Layout, v: Input, errors: FieldErrors, parts: FormParts) -> Self {
        let FormParts { heading, intro, action, submit, fields } = parts;
        SimpleFormPage { l, v, errors, heading, intro, action, submit, fields }
    }
}

#[derive(Template)]
#[template(path = "widget.html")]
pub struct WidgetPage {
    pub l: Layout,
    pub v: Input,
    pub errors: FieldErrors,
    pub heading: &'static str,
    pub intro: &'static str,
    pub action: &'static str,
    pub submit: &'static str,
    pub fields: Vec<Field>,
    pub snippet: String,
}

#[derive(Template)]
#[template(path = "emergency.html")]
pub struct EmergencyPage {
    pub l: Layout,
    pub v: Input,
    pub errors: FieldErrors,
    pub heading: &'static str,
    pub intro: &'static str,
    pub action: &'static str,
    pub submit: &'static str,
    pub fields: Vec<Field>,
    pub message: String,
    /// (level, "reason, reason")
    pub decision: Option<(String, String)>,
    /// (level, phrases)
    pub phrases: Vec<(String, Vec<String>)>,
}

#[derive(Template)]
#[template(path = "plan.html")]
pub struct PlanPage {
    pub l: Layout,
    pub enforced: bool,
    /// The command a self-hosting operator runs to change this business's plan.
    pub command: String,
    pub plans: Vec<PlanTier>,
    /// (feature label, what it does, included per plan)
    pub rows: Vec<(String, &'static str, Vec<bool>)>,
    /// (limit, value per plan): `plans::limit_rows`.
    pub limits: Vec<(&'static str, Vec<String>)>,
}

pub struct BusinessRow {
    pub id: String,
    pub name: String,
    pub plan: PlanTier,
    pub conversations: u32,
    pub leads: u32,
    pub last: String,
    pub users: u32,
}

#[derive(Template)]
#[template(path = "operator.html")]
pub struct OperatorPage {
    pub l: Layout,
    pub v: Input,
    pub errors: FieldErrors,
    pub rows: Vec<BusinessRow>,
    /// (plan, businesses on it), every plan.
    pub plan_counts: Vec<(PlanTier, usize)>,
    /// (conversations, leads) of the last 7 days across every business.
    pub totals: (u32, u32),
    pub plans: Vec<PlanTier>,
    pub business_types: Vec<(&'static str, &'static str)>,
    /// HTTPS certificates (built-in TLS), as /health reports them.
    pub tls: crate::tls::TlsHealth,
}

#[derive(Template)]
#[template(path = "operator_analytics.html")]
pub struct OperatorAnalyticsPage {
    pub l: Layout,
    pub report: crate::web::operator_analytics::OperatorReport,
    pub rows: Vec<OperatorAnalyticsRow>,
    pub plan_chart: String,
    pub latency_chart: String,
    pub latency_summary: String,
    pub false_alarms: String,
    pub conversion: String,
}

/// One business on the operator's analytics page.
pub struct OperatorAnalyticsRow {
    pub name: String,
    pub plan: PlanTier,
    pub conversations: u32,
    pub leads: u32,
    pub conversion: String,
    pub calls: u32,
    pub completed: u32,
    pub abandoned: u32,
    pub emergencies: u32,
    pub false_alarms: u32,
    /// "median / p90" of the period, or a dash.
    pub chat_latency: String,
    pub voice_latency: String,
}

#[derive(Template)]
#[template(path = "analytics.html")]
pub struct AnalyticsPage {
    pub l: Layout,
    pub days: u32,
    pub report: Report,
    pub enhanced_hint: Option<String>,
    pub advanced_hint: Option<String>,
    pub activity_chart: Option<String>,
    pub conversion_chart: String,
    pub emergency_chart: String,
    pub hours_chart: String,
    pub endings_chart: String,
    pub status_chart: String,
    /// Median and p90 reply latency by day.
    pub latency_chart: String,
    pub latency_summary: String,
    pub average_call: String,
    pub p90_call: String,
    /// The share of emergencies the owner marked as not one.
    pub false_alarms: String,
    pub outcomes: crate::store::admin::Outcomes,
}

/// One outbox row as the owner reads it (times in the business's zone).
pub struct OutboxRow {
    pub id: String,
    pub when: String,
    /// new_lead, urgent_lead, call_ended, digest, test
    pub kind: String,
    pub kind_label: &'static str,
    pub channel_label: &'static str,
    pub recipient: String,
    pub attempts: u32,
    /// pending, in_flight, sent, dead
    pub state: String,
    pub state_label: &'static str,
    /// The next try of a pending row that failed before.
    pub next_try: Option<String>,
    pub last_error: String,
    pub sent: String,
    pub lead_id: Option<String>,
}

/// A state tab with its count; `query` is "" for every state.
pub struct StateTab {
    /// all, or a state's name
    pub key: &'static str,
    pub query: String,
    pub label: &'static str,
    pub count: u64,
    pub current: bool,
}

/// A channel the owner can send a test on (or why not).
pub struct TestChannel {
    pub value: &'static str,
    pub label: &'static str,
    pub to: String,
    /// The plan lacks it: the upgrade hint.
    pub upgrade: Option<String>,
    /// Switched off, or impossible, on this server: the sentence says what to set.
    pub off: Option<&'static str>,
    /// Works, with a caveat (email kept on this server).
    pub note: Option<&'static str>,
}

/// One channel's daily caps and what was used of them.
pub struct LimitRow {
    pub label: &'static str,
    pub everyday: String,
    pub urgent: String,
    pub tests: String,
}

/// A row of the preferences grid: one channel, for new leads and ended calls.
pub struct PrefRow {
    pub value: &'static str,
    pub label: &'static str,
    pub new_lead: bool,
    pub call_ended: bool,
    pub upgrade: Option<String>,
}

pub struct LocalEmailRow {
    pub when: String,
    pub to: String,
    pub subject: String,
    pub text: String,
}

/// The outbox part of the Notifications page.
pub struct OutboxView {
    pub tabs: Vec<StateTab>,
    /// The state shown, "" for all.
    pub state: String,
    pub rows: Vec<OutboxRow>,
    pub errors: FieldErrors,
    pub prev_page: Option<String>,
    pub next_page: Option<String>,
}

/// The preferences form.
#[derive(Default)]
pub struct PrefsView {
    pub rows: Vec<PrefRow>,
    pub digest: bool,
    pub digest_hour: String,
    pub default_hour: u32,
    pub errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "notifications.html")]
pub struct NotificationsPage {
    pub l: Layout,
    pub outbox: OutboxView,
    pub tests: Vec<TestChannel>,
    pub test_error: Option<String>,
    /// The addresses form.
    pub v: Input,
    pub errors: FieldErrors,
    pub fields: Vec<Field>,
    pub webhook_secret: String,
    pub prefs: PrefsView,
    pub smtp: bool,
    pub local_emails: Vec<LocalEmailRow>,
    pub limits: Vec<LimitRow>,
    pub tests_per_minute: u32,
}

/// Countries offered at setup (code, name); any other code can be typed on
/// the Business page.
pub fn countries() -> Vec<(&'static str, &'static str)> {
    vec![
        ("US", "United States"),
        ("CA", "Canada"),
        ("GB", "United Kingdom"),
        ("IE", "Ireland"),
        ("AU", "Australia"),
        ("NZ", "New Zealand"),
        ("ZA", "South Africa"),
        ("IN", "India"),
        ("DE", "Germany"),
        ("FR", "France"),
        ("ES", "Spain"),
        ("IT", "Italy"),
        ("NL", "Netherlands"),
        ("BE", "Belgium"),
        ("CH", "Switzerland"),
        ("AT", "Austria"),
        ("SE", "Sweden"),
        ("NO", "Norway"),
        ("DK", "Denmark"),
        ("FI", "Finland"),
        ("PT", "Portugal"),
        ("PL", "Poland"),
        ("MX", "Mexico"),
        ("BR", "Brazil"),
        ("AR", "Argentina"),
        ("CL", "Chile"),
        ("CO", "Colombia"),
        ("PR", "Puerto Rico"),
        ("SG", "Singapore"),
        ("PH", "Philippines"),
        ("AE", "United Arab Emirates"),
        ("IL", "Israel"),
    ]
}

/// Every time zone name, for the setup list.
pub fn timezones() -> Vec<&'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).filter(|n| n.contains('/') || *n == "UTC").collect()
}

/// The opening-hours fields: (form name, label, element id).
pub fn hour_fields() -> Vec<(String, String, String)> {
    crate::domain::WEEKDAYS
        .iter()
        .map(|d| {
            let mut label = d.to_string();
            label.replace_range(..1, &d[..1].to_uppercase());
            (format!("hours.{d}"), label, format!("f-hours-{d}"))
        })
        .collect()
}

/// Business types as (value, label) for select boxes.
pub fn business_types() -> Vec<(&'static str, &'static str)> {
    vec![
        ("PLUMBING", "Plumbing"),
        ("HVAC", "Heating and cooling"),
        ("REAL_ESTATE", "Real estate"),
        ("LAW", "Law firm"),
        ("OTHER", "Other"),
    ]
}
