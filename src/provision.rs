//! The business file: TOML with `[business]`, `[agent]`, `[[questions]]`,
//! `[[knowledge]]`, `[emergency_rules]`, `[notifications]`, `[facts]` and
//! `[glossary]`, read by
//! `business import` and written by `business export`.
//!
//! The file is walked with its source spans so that every problem, not just
//! the first, is reported with the line it is on.
//!
//! Over 600 lines: one checker per section of the file, each naming its own
//! fields in its messages, then the writer (`render_bundle`) that must stay
//! beside them so a written file reads back the same.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;

use serde::Serialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::domain::{
    AgentConfig, BusinessBundle, BusinessFacts, BusinessType, EmergencyRules, ExpectedFormat, Gloss,
    KnowledgeDoc, NewBusiness, NotificationPrefs, NotifyChannel, PlanTier, Priority, Question, VoiceMode,
    WeekHours, REALTIME_VOICES, WEEKDAYS,
};
use crate::validate;
pub use crate::validate::{is_field_name, is_hex_colour, is_language_tag};

/// One problem in a business file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    /// 1-based line number.
    pub line: usize,
    /// Dotted path of the value: `business.notification_email`, `questions[2].expected_format`.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.field, self.message)
    }
}

const BUSINESS_KEYS: &[&str] = &[
    "name",
    "business_type",
    "plan_tier",
    "twilio_phone_number",
    "notification_email",
    "notification_phone_number",
    "notification_webhook_url",
    "country",
    "timezone",
    "website_origins",
];
const AGENT_KEYS: &[&str] = &[
    "agent_name",
    "persona_prompt",
    "welcome_message",
    "color_theme",
    "lead_capture_completion_message",
    "voice_greeting_message",
    "voice_completion_message",
    "voice_emergency_message",
    "voice_end_call_message",
    "twilio_voice",
    "twilio_language",
    "voice_mode",
    "realtime_voice",
];
const QUESTION_KEYS: &[&str] = &[
    "question_text",
    "expected_format",
    "order",
    "is_required",
    "maps_to_lead_field",
    "is_essential_for_emergency",
];
const KNOWLEDGE_KEYS: &[&str] = &["title", "content", "file", "source_url"];
const NOTIFICATION_KEYS: &[&str] = &["new_lead", "call_ended", "digest", "digest_hour"];
const FACT_KEYS: &[&str] = &["hours", "holidays", "service_area", "prices", "about", "phone"];
const MAX_MESSAGE: usize = 4000;
const MAX_CONTENT_BYTES: usize = 1_000_000;

type Fields<'a, 'i> = BTreeMap<&'a str, &'a Spanned<DeValue<'i>>>;

/// Collects problems with their lines.
struct Checker<'t> {
    text: &'t str,
    /// The business file's directory, which `[[knowledge]] file` paths are
    /// relative to; None when the text did not come from a file.
    base: Option<&'t Path>,
    errors: Vec<ImportError>,
}

impl Checker<'_> {
    fn line(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text.as_bytes()[..end].iter().filter(|b| **b == b'\n').count() + 1
    }

    fn error(&mut self, span: &Range<usize>, field: impl Into<String>, message: impl Into<String>) {
        let line = self.line(span);
        self.errors.push(ImportError { line, field: field.into(), message: message.into() });
    }

    /// The table's keys, reporting the ones not in `allowed`.
    fn fields<'a, 'i>(&mut self, table: &'a DeTable<'i>, path: &str, allowed: &[&str]) -> Fields<'a, 'i> {
        let mut out = BTreeMap::new();
        for (key, value) in table.iter() {
            let name: &str = key.get_ref();
            if allowed.contains(&name) {
                out.insert(name, value);
            } else {
                self.error(
                    &key.span(),
                    if path.is_empty() { name.to_string() } else { format!("{path}.{name}") },
                    format!("unknown key (expected one of: {})", allowed.join(", ")),
                );
            }
        }
        out
    }

    fn string(&mut self, f: &Fields<'_, '_>, key: &str, path: &str) -> Option<(String, Range<usize>)> {
        let value = f.get(key)?;
        match value.get_ref().as_str() {
            Some(s) => Some((s.to_string(), value.span())),
            None => {
                self.error(
                    &value.span(),
                    format!("{path}.{key}"),
                    format!("expected a string, got {}", value.get_ref().type_str()),
                );
                None
            }
        }
    }

    /// A required, trimmed, non-empty string of at most `max` characters.
    fn text(
        &mut self,
        f: &Fields<'_, '_>,
        key: &str,
        path: &str,
        max: usize,
        span: &Range<usize>,
    ) -> Option<String> {
        match self.string(f, key, path) {
            None if !f.contains_key(key) => {
                self.error(span, format!("{path}.{key}"), "is required");
                None
            }
            None => None,
            Some((s, at)) => self.check_text(s, &at, &format!("{path}.{key}"), max),
        }
    }

    fn check_text(&mut self, s: String, at: &Range<usize>, field: &str, max: usize) -> Option<String> {
        self.check(validate::required_text(&s, max), at, field)
    }

    /// The value, or the validator's message recorded against the field.
    fn check<T>(&mut self, result: Result<T, String>, at: &Range<usize>, field: &str) -> Option<T> {
        result.map_err(|message| self.error(at, field, message)).ok()
    }

    /// An optional string: empty means absent.
    fn optional_text(&mut self, f: &Fields<'_, '_>, key: &str, path: &str, max: usize) -> Option<String> {
        let (s, at) = self.string(f, key, path)?;
        if s.trim().is_empty() {
            return None;
        }
        self.check_text(s, &at, &format!("{path}.{key}"), max)
    }

    fn boolean(&mut self, f: &Fields<'_, '_>, key: &str, path: &str, default: bool) -> bool {
        let Some(value) = f.get(key) else { return default };
        value.get_ref().as_bool().unwrap_or_else(|| {
            self.error(
                &value.span(),
                format!("{path}.{key}"),
                format!("expected true or false, got {}", value.get_ref().type_str()),
            );
            default
        })
    }

    fn choice<T>(
        &mut self,
        f: &Fields<'_, '_>,
        key: &str,
        path: &str,
        parse: fn(&str) -> Option<T>,
        choices: String,
    ) -> Option<T> {
        let (s, at) = self.string(f, key, path)?;
        let parsed = parse(&s);
        if parsed.is_none() {
            self.error(&at, format!("{path}.{key}"), format!("expected {choices}, got '{s}'"));
        }
        parsed
    }

    fn phone(&mut self, f: &Fields<'_, '_>, key: &str, path: &str, country: &str) -> Option<String> {
        let (s, at) = self.string(f, key, path)?;
        if s.trim().is_empty() {
            return None;
        }
        self.check(validate::phone(&s, country), &at, &format!("{path}.{key}"))
    }

    fn email(&mut self, f: &Fields<'_, '_>, key: &str, path: &str) -> Option<String> {
        let (s, at) = self.string(f, key, path)?;
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        self.check(validate::email(s), &at, &format!("{path}.{key}"))
    }
}

/// Parses and validates a business text that is not a file on disk (the
/// embedded demo, tests): a `[[knowledge]] file` entry is an error here.
pub fn parse_bundle(text: &str) -> Result<BusinessBundle, Vec<ImportError>> {
    parse(text, None)
}

/// Parses and validates a business file read from `dir`, reading the
/// documents its `[[knowledge]] file` entries name (relative to `dir`).
pub fn parse_bundle_at(text: &str, dir: &Path) -> Result<BusinessBundle, Vec<ImportError>> {
    parse(text, Some(dir))
}

/// Nothing is partial: either the whole bundle, or every problem found.
// The sections in file order, each handed to its own checker.
fn parse(text: &str, base: Option<&Path>) -> Result<BusinessBundle, Vec<ImportError>> {
    let mut c = Checker { text, base, errors: Vec::new() };
    let (root, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        for e in syntax {
            c.error(&e.span().unwrap_or(0..0), "file", format!("invalid TOML: {}", e.message().trim()));
        }
        // The parser's follow-on errors on the same line only repeat the first.
        c.errors.sort_by_key(|e| e.line);
        c.errors.dedup_by_key(|e| e.line);
        return Err(c.errors);
    }
    let top = c.fields(
        root.get_ref(),
        "",
        &[
            "business",
            "agent",
            "questions",
            "knowledge",
            "emergency_rules",
            "notifications",
            "facts",
            "glossary",
        ],
    );
    let whole = root.span();

    let business = match top.get("business").map(|v| (v.get_ref().as_table(), v.span())) {
        Some((Some(table), span)) => parse_business(&mut c, table, &span),
        Some((None, span)) => {
            c.error(&span, "business", "expected a [business] table");
            None
        }
        None => {
            c.error(&(whole.start..whole.start), "business", "the [business] section is missing");
            None
        }
    };
    let agent = match top.get("agent").map(|v| (v.get_ref().as_table(), v.span())) {
        Some((Some(table), _)) => parse_agent(&mut c, table),
        Some((None, span)) => {
            c.error(&span, "agent", "expected an [agent] table");
            AgentConfig::default()
        }
        None => AgentConfig::default(),
    };
    let questions = parse_questions(&mut c, top.get("questions").copied());
    let knowledge = parse_knowledge(&mut c, top.get("knowledge").copied());
    let emergency_rules = match top.get("emergency_rules").map(|v| (v.get_ref().as_table(), v.span())) {
        Some((Some(table), _)) => parse_emergency_rules(&mut c, table),
        Some((None, span)) => {
            c.error(&span, "emergency_rules", "expected an [emergency_rules] table");
            EmergencyRules::default()
        }
        None => EmergencyRules::default(),
    };
    let notifications = match top.get("notifications").map(|v| (v.get_ref().as_table(), v.span())) {
        Some((Some(table), _)) => parse_notifications(&mut c, table),
        Some((None, span)) => {
            c.error(&span, "notifications", "expected a [notifications] table");
            NotificationPrefs::default()
        }
        None => NotificationPrefs::default(),
    };

    let country = business.as_ref().map_or("US", |b| b.country.as_str()).to_string();
    let facts = match top.get("facts").map(|v| (v.get_ref().as_table(), v.span())) {
        Some((Some(table), _)) => parse_facts(&mut c, table, &country),
        Some((None, span)) => {
            c.error(&span, "facts", "expected a [facts] table");
            BusinessFacts::default()
        }
        None => BusinessFacts::default(),
    };

    let glossary = match top.get("glossary").map(|v| (v.get_ref().as_table(), v.span())) {
        Some((Some(table), span)) => parse_glossary(&mut c, table, &span),
        Some((None, span)) => {
            c.error(&span, "glossary", "expected a [glossary] table");
            Vec::new()
        }
        None => Vec::new(),
    };

    match business {
        Some(business) if c.errors.is_empty() => Ok(BusinessBundle {
            business,
            agent,
            questions,
            knowledge,
            emergency_rules,
            notifications,
            facts,
            glossary,
        }),
        _ => {
            c.errors.sort_by_key(|e| e.line);
            Err(c.errors)
        }
    }
}

fn parse_business(c: &mut Checker<'_>, table: &DeTable<'_>, span: &Range<usize>) -> Option<NewBusiness> {
    let p = "business";
    let f = c.fields(table, p, BUSINESS_KEYS);
    let name = c.text(&f, "name", p, 200, span);
    let business_type = c
        .choice(&f, "business_type", p, BusinessType::parse, BusinessType::choices())
        .unwrap_or(BusinessType::Other);
    let plan_tier =
        c.choice(&f, "plan_tier", p, PlanTier::parse, PlanTier::choices()).unwrap_or(PlanTier::Free);
    let country = match c.string(&f, "country", p) {
        Some((s, at)) => {
            c.check(validate::country(&s), &at, "business.country").unwrap_or_else(|| "US".into())
        }
        None => "US".into(),
    };
    let twilio_phone_number = c.phone(&f, "twilio_phone_number", p, &country);
    let notification_phone_number = c.phone(&f, "notification_phone_number", p, &country);
    let notification_email = c.email(&f, "notification_email", p);
    let notification_webhook_url = match c.string(&f, "notification_webhook_url", p) {
        Some((s, _)) if s.trim().is_empty() => None,
        Some((s, at)) => c.check(validate::http_url(&s), &at, "business.notification_webhook_url"),
        None => None,
    };
    let timezone = match c.string(&f, "timezone", p) {
        Some((s, at)) => c.check(validate::timezone(&s), &at, "business.timezone").unwrap_or(s),
        None => "UTC".into(),
    };
    let mut website_origins = Vec::new();
    if let Some(value) = f.get("website_origins") {
        match value.get_ref().as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    let field = format!("business.website_origins[{i}]");
                    match item.get_ref().as_str().map(validate::origin) {
                        Some(Ok(o)) => website_origins.push(o),
                        Some(Err(message)) => c.error(&item.span(), field, message),
                        None => c.error(&item.span(), field, "expected a string"),
                    }
                }
            }
            None => c.error(&value.span(), "business.website_origins", "expected a list of origins"),
        }
    }
    Some(NewBusiness {
        name: name?,
        business_type,
        plan_tier,
        twilio_phone_number,
        notification_email,
        notification_phone_number,
        notification_webhook_url,
        country,
        timezone,
        website_origins,
    })
}

fn parse_agent(c: &mut Checker<'_>, table: &DeTable<'_>) -> AgentConfig {
    let p = "agent";
    let f = c.fields(table, p, AGENT_KEYS);
    let d = AgentConfig::default();
    let keep = |c: &mut Checker<'_>, key: &str, max: usize, default: String| match c.string(&f, key, p) {
        Some((s, at)) => c.check_text(s, &at, &format!("{p}.{key}"), max).unwrap_or(default),
        None => default,
    };
    let agent_name = keep(c, "agent_name", 80, d.agent_name);
    let persona_prompt = keep(c, "persona_prompt", MAX_MESSAGE, d.persona_prompt);
    let welcome_message = keep(c, "welcome_message", MAX_MESSAGE, d.welcome_message);
    let twilio_voice = keep(c, "twilio_voice", 80, d.twilio_voice);
    let twilio_language = keep(c, "twilio_language", 20, d.twilio_language);
    let voice_mode =
        c.choice(&f, "voice_mode", p, VoiceMode::parse, VoiceMode::choices()).unwrap_or(d.voice_mode);
    let realtime_voice = match c.string(&f, "realtime_voice", p) {
        Some((s, at)) => match REALTIME_VOICES.iter().find(|v| v.eq_ignore_ascii_case(s.trim())) {
            Some(v) => v.to_string(),
            None => {
                c.error(
                    &at,
                    "agent.realtime_voice",
                    format!("expected one of {}, got '{s}'", REALTIME_VOICES.join(", ")),
                );
                d.realtime_voice
            }
        },
        None => d.realtime_voice,
    };
    if !is_language_tag(&twilio_language) {
        if let Some(v) = f.get("twilio_language") {
            c.error(
                &v.span(),
                "agent.twilio_language",
                format!("expected a language tag such as en-US, got '{twilio_language}'"),
            );
        }
    }
    let color_theme = parse_color_theme(c, &f, d.color_theme);
    AgentConfig {
        agent_name,
        persona_prompt,
        welcome_message,
        color_theme,
        lead_capture_completion_message: c.optional_text(
            &f,
            "lead_capture_completion_message",
            p,
            MAX_MESSAGE,
        ),
        voice_greeting_message: c.optional_text(&f, "voice_greeting_message", p, MAX_MESSAGE),
        voice_completion_message: c.optional_text(&f, "voice_completion_message", p, MAX_MESSAGE),
        voice_emergency_message: c.optional_text(&f, "voice_emergency_message", p, MAX_MESSAGE),
        voice_end_call_message: c.optional_text(&f, "voice_end_call_message", p, MAX_MESSAGE),
        twilio_voice,
        twilio_language,
        voice_mode,
        realtime_voice,
    }
}

/// `agent.color_theme`: snake_case names to #rrggbb colours; the default
/// theme when the key is absent.
fn parse_color_theme(
    c: &mut Checker<'_>,
    f: &Fields<'_, '_>,
    default: BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut color_theme = default;
    if let Some(value) = f.get("color_theme") {
        match value.get_ref().as_table() {
            Some(table) => {
                color_theme.clear();
                for (key, v) in table.iter() {
                    let name: &str = key.get_ref();
                    let field = format!("agent.color_theme.{name}");
                    if !is_field_name(name) {
                        c.error(
                            &key.span(),
                            field,
                            format!("expected a snake_case colour name such as primary, got '{name}'"),
                        );
                        continue;
                    }
                    match v.get_ref().as_str() {
                        Some(colour) if is_hex_colour(colour) => {
                            color_theme.insert(name.to_string(), colour.to_ascii_lowercase());
                        }
                        Some(colour) => c.error(
                            &v.span(),
                            field,
                            format!("expected a colour like #0ea5e9, got '{colour}'"),
                        ),
                        None => c.error(&v.span(), field, "expected a colour string"),
                    }
                }
            }
            None => c.error(
                &value.span(),
                "agent.color_theme",
                "expected a table such as { primary = \"#0ea5e9\" }",
            ),
        }
    }
    color_theme
}

/// The tables of an array of tables (`[[questions]]`), with their spans.
fn tables<'a, 'i>(
    c: &mut Checker<'_>,
    value: Option<&'a Spanned<DeValue<'i>>>,
    path: &str,
) -> Vec<(&'a DeTable<'i>, Range<usize>)> {
    let Some(value) = value else { return Vec::new() };
    let Some(items) = value.get_ref().as_array() else {
        c.error(&value.span(), path, format!("expected [[{path}]] entries"));
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| match item.get_ref().as_table() {
            Some(t) => Some((t, item.span())),
            None => {
                c.error(&item.span(), format!("{path}[{}]", i + 1), "expected a table");
                None
            }
        })
        .collect()
}

fn parse_questions(c: &mut Checker<'_>, value: Option<&Spanned<DeValue<'_>>>) -> Vec<Question> {
    let mut out: Vec<Question> = Vec::new();
    let mut seen: BTreeMap<u32, usize> = BTreeMap::new();
    for (i, (table, span)) in tables(c, value, "questions").into_iter().enumerate() {
        let p = format!("questions[{}]", i + 1);
        let f = c.fields(table, &p, QUESTION_KEYS);
        let question_text = c.text(&f, "question_text", &p, 500, &span);
        let expected_format = c
            .choice(&f, "expected_format", &p, ExpectedFormat::parse, ExpectedFormat::choices())
            .unwrap_or(ExpectedFormat::Text);
        // Without `order` the position counts, and the clash is reported on the table.
        let (order, order_span) = match f.get("order") {
            Some(v) => {
                match v.get_ref().as_integer().and_then(|n| i64::from_str_radix(n.as_str(), n.radix()).ok()) {
                    Some(n) if (1..=10_000).contains(&n) => (Some(n as u32), v.span()),
                    _ => {
                        c.error(&v.span(), format!("{p}.order"), "expected a whole number from 1 to 10000");
                        (None, v.span())
                    }
                }
            }
            None => (Some((i + 1) as u32), span.clone()),
        };
        if let Some(order) = order {
            if let Some(first) = seen.insert(order, i + 1) {
                c.error(
                    &order_span,
                    format!("{p}.order"),
                    format!("order {order} is already used by questions[{first}]"),
                );
            }
        }
        let order = order.unwrap_or((i + 1) as u32);
        let maps_to_lead_field = match c.string(&f, "maps_to_lead_field", &p) {
            Some((s, at)) => {
                if !is_field_name(&s) {
                    c.error(
                        &at,
                        format!("{p}.maps_to_lead_field"),
                        format!("expected a snake_case field name such as phone, got '{s}'"),
                    );
                }
                Some(s)
            }
            None => None,
        };
        let is_required = c.boolean(&f, "is_required", &p, true);
        let is_essential_for_emergency = c.boolean(&f, "is_essential_for_emergency", &p, false);
        if let Some(question_text) = question_text {
            out.push(Question {
                question_text,
                expected_format,
                order,
                is_required,
                maps_to_lead_field,
                is_essential_for_emergency,
            });
        }
    }
    out.sort_by_key(|q| q.order);
    out
}

/// `urgent`, `high`, `normal`: phrases to add at that level; `remove`:
/// default phrases to switch off.
fn parse_emergency_rules(c: &mut Checker<'_>, table: &DeTable<'_>) -> EmergencyRules {
    let f = c.fields(table, "emergency_rules", &["urgent", "high", "normal", "remove"]);
    let mut rules = EmergencyRules::default();
    let lists = [
        ("urgent", Some(Priority::Urgent)),
        ("high", Some(Priority::High)),
        ("normal", Some(Priority::Normal)),
        ("remove", None),
    ];
    for (key, level) in lists {
        let Some(value) = f.get(key) else { continue };
        let Some(items) = value.get_ref().as_array() else {
            c.error(&value.span(), format!("emergency_rules.{key}"), "expected a list of phrases");
            continue;
        };
        for (i, item) in items.iter().enumerate() {
            let field = format!("emergency_rules.{key}[{i}]");
            match item.get_ref().as_str().map(str::trim) {
                Some(p) if !p.is_empty() && p.chars().count() <= 100 => match level {
                    Some(level) => rules.add.push((level, p.to_string())),
                    None => rules.remove.push(p.to_string()),
                },
                Some(_) => c.error(&item.span(), field, "a phrase of 1 to 100 characters"),
                None => c.error(&item.span(), field, "expected a string"),
            }
        }
    }
    rules
}

/// `[glossary]`: the business's own words, `"customer's phrase" = "document
/// words"`, kept in order of phrase (so a file exported and imported back is
/// the same), each phrase once.
fn parse_glossary(c: &mut Checker<'_>, table: &DeTable<'_>, span: &Range<usize>) -> Vec<Gloss> {
    let mut out: Vec<Gloss> = Vec::new();
    if table.len() > validate::MAX_GLOSSES {
        c.error(
            span,
            "glossary",
            format!("too many entries: {} (at most {})", table.len(), validate::MAX_GLOSSES),
        );
        return out;
    }
    for (key, value) in table.iter() {
        let phrase: &str = key.get_ref();
        let field = format!("glossary.{phrase:?}");
        let Some(words) = value.get_ref().as_str() else {
            c.error(&value.span(), field, "expected a string of the documents' words");
            continue;
        };
        match validate::gloss(phrase, words) {
            Ok(g) if out.iter().any(|o| o.phrase.eq_ignore_ascii_case(&g.phrase)) => {
                c.error(&key.span(), field, "this phrase is listed twice")
            }
            Ok(g) => out.push(g),
            Err((_, message)) => c.error(&key.span(), field, message),
        }
    }
    out.sort_by(|a, b| a.phrase.cmp(&b.phrase));
    out
}

/// `new_lead` and `call_ended`: lists of channels; `digest`: on or off;
/// `digest_hour`: the local hour of the digest.
fn parse_notifications(c: &mut Checker<'_>, table: &DeTable<'_>) -> NotificationPrefs {
    let p = "notifications";
    let f = c.fields(table, p, NOTIFICATION_KEYS);
    let mut prefs = NotificationPrefs::default();
    for (key, out) in [("new_lead", &mut prefs.new_lead), ("call_ended", &mut prefs.call_ended)] {
        let Some(value) = f.get(key) else { continue };
        let Some(items) = value.get_ref().as_array() else {
            c.error(
                &value.span(),
                format!("{p}.{key}"),
                "expected a list of channels such as [\"email\", \"sms\"]",
            );
            continue;
        };
        out.clear();
        for (i, item) in items.iter().enumerate() {
            let field = format!("{p}.{key}[{i}]");
            match item.get_ref().as_str().map(|s| (s, NotifyChannel::parse(s))) {
                Some((_, Some(channel))) if !out.contains(&channel) => out.push(channel),
                Some((_, Some(channel))) => {
                    c.error(&item.span(), field, format!("{channel} is listed twice"))
                }
                Some((s, None)) => {
                    c.error(&item.span(), field, format!("expected {}, got '{s}'", NotifyChannel::choices()))
                }
                None => c.error(&item.span(), field, "expected a channel name"),
            }
        }
    }
    prefs.digest = c.boolean(&f, "digest", p, prefs.digest);
    if let Some(v) = f.get("digest_hour") {
        match v.get_ref().as_integer().and_then(|n| i64::from_str_radix(n.as_str(), n.radix()).ok()) {
            Some(h) if (0..=23).contains(&h) => prefs.digest_hour = Some(h as u8),
            _ => c.error(&v.span(), format!("{p}.digest_hour"), "expected an hour from 0 to 23"),
        }
    }
    prefs
}

/// `[facts]`: `service_area`, `prices`, `about`, `phone`, `holidays` (a list
/// of "2026-12-25 Christmas Day") and `[facts.hours]` (a day each: "7am-6pm"
/// or "closed").
fn parse_facts(c: &mut Checker<'_>, table: &DeTable<'_>, country: &str) -> BusinessFacts {
    let p = "facts";
    let f = c.fields(table, p, FACT_KEYS);
    let mut facts = BusinessFacts {
        service_area: c.optional_text(&f, "service_area", p, MAX_MESSAGE),
        prices: c.optional_text(&f, "prices", p, MAX_MESSAGE),
        about: c.optional_text(&f, "about", p, MAX_MESSAGE),
        phone: c.phone(&f, "phone", p, country),
        ..BusinessFacts::default()
    };
    if let Some(value) = f.get("holidays") {
        match value.get_ref().as_array() {
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    let field = format!("facts.holidays[{i}]");
                    match item.get_ref().as_str().map(validate::holiday) {
                        Some(Ok(h)) => facts.holidays.push(h),
                        Some(Err(m)) => c.error(&item.span(), field, m),
                        None => c.error(&item.span(), field, "expected a string"),
                    }
                }
            }
            None => c.error(
                &value.span(),
                "facts.holidays",
                "expected a list such as [\"2026-12-25 Christmas Day\"]",
            ),
        }
    }
    if let Some(value) = f.get("hours") {
        match value.get_ref().as_table() {
            Some(hours) => {
                let days = c.fields(hours, "facts.hours", &WEEKDAYS);
                for (i, day) in WEEKDAYS.iter().enumerate() {
                    if let Some((raw, at)) = c.string(&days, day, "facts.hours") {
                        let v = c.check(validate::day_hours(&raw), &at, &format!("facts.hours.{day}"));
                        facts.hours.set_day(i, v);
                    }
                }
            }
            None => c.error(&value.span(), "facts.hours", "expected a [facts.hours] table"),
        }
    }
    facts
}

fn parse_knowledge(c: &mut Checker<'_>, value: Option<&Spanned<DeValue<'_>>>) -> Vec<KnowledgeDoc> {
    let mut out = Vec::new();
    for (i, (table, span)) in tables(c, value, "knowledge").into_iter().enumerate() {
        let p = format!("knowledge[{}]", i + 1);
        let f = c.fields(table, &p, KNOWLEDGE_KEYS);
        // Exactly one of `content` (the text itself) and `file` (a document to read).
        let body = match (f.get("content"), f.get("file")) {
            (Some(_), Some(file)) => {
                c.error(&file.span(), format!("{p}.file"), "give either content or file, not both");
                None
            }
            (None, Some(_)) => knowledge_file(c, &f, &p),
            (Some(_), None) => knowledge_content(c, &f, &p).map(|content| (content, None)),
            (None, None) => {
                c.error(
                    &span,
                    format!("{p}.content"),
                    "is required (or name a document with file = \"...\")",
                );
                None
            }
        };
        // A file's title may come from the document itself, else its name.
        let title = if f.contains_key("title") || !f.contains_key("file") {
            c.text(&f, "title", &p, 200, &span)
        } else {
            body.as_ref().and_then(|(_, own)| own.clone())
        };
        let source_url = match c.string(&f, "source_url", &p) {
            Some((s, at)) => match url::Url::parse(s.trim()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => Some(s.trim().to_string()),
                _ => {
                    c.error(&at, format!("{p}.source_url"), format!("expected an http(s) URL, got '{s}'"));
                    None
                }
            },
            None => None,
        };
        if let (Some(title), Some((content, _))) = (title, body) {
            out.push(KnowledgeDoc { title, content, source_url });
        }
    }
    out
}

fn knowledge_content(c: &mut Checker<'_>, f: &Fields<'_, '_>, p: &str) -> Option<String> {
    let (s, at) = c.string(f, "content", p)?;
    if s.len() > MAX_CONTENT_BYTES {
        c.error(&at, format!("{p}.content"), format!("is too long (at most {MAX_CONTENT_BYTES} bytes)"));
        return None;
    }
    c.check_text(s, &at, &format!("{p}.content"), MAX_CONTENT_BYTES)
}

/// Reads the document a `file` entry names, with the parsers and limits of
/// an upload: (its text, the title it gives itself or its file name's stem).
fn knowledge_file(c: &mut Checker<'_>, f: &Fields<'_, '_>, p: &str) -> Option<(String, Option<String>)> {
    let (name, at) = c.string(f, "file", p)?;
    let field = format!("{p}.file");
    let name = name.trim().to_string();
    let Some(base) = c.base else {
        c.error(&at, field, "only a business file on disk can name documents to read");
        return None;
    };
    match read_document(base, &name) {
        Ok(found) => Some(found),
        Err(message) => {
            c.error(&at, field, message);
            None
        }
    }
}

/// The document `name` (relative to `base`) as knowledge text, or why not in
/// words that name the file.
fn read_document(base: &Path, name: &str) -> Result<(String, Option<String>), String> {
    use crate::import::extract::{self, ExtractError, FileKind, MAX_FILE_BYTES};
    if name.is_empty() {
        return Err("expected the path of a PDF, DOCX, HTML, Markdown or text file".into());
    }
    if FileKind::of(name).is_none() {
        return Err(format!(
            "'{name}' is not a file the knowledge base reads (PDF, DOCX, HTML, Markdown or text)"
        ));
    }
    let path = base.join(name);
    let meta = std::fs::metadata(&path).map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
    // Checked before reading, so a huge file is never loaded.
    if meta.len() > MAX_FILE_BYTES as u64 {
        return Err(format!("'{name}' is larger than {} MB", MAX_FILE_BYTES / 1024 / 1024));
    }
    let bytes = std::fs::read(&path).map_err(|e| format!("cannot read '{}': {e}", path.display()))?;
    let extracted = extract::extract(name, &bytes).map_err(|e| match e {
        ExtractError::TooLarge => format!("'{name}' is larger than {} MB", MAX_FILE_BYTES / 1024 / 1024),
        ExtractError::Unreadable(m) => format!("'{name}': {m}"),
        other => other.to_string(),
    })?;
    if extracted.content.len() > MAX_CONTENT_BYTES {
        return Err(format!(
            "the text of '{name}' is {} KB; a document holds at most {} KB — split the file",
            extracted.content.len() / 1024,
            MAX_CONTENT_BYTES / 1024
        ));
    }
    let file_name =
        Path::new(name).file_name().map_or(name.to_string(), |n| n.to_string_lossy().into_owned());
    let stem = file_name.rsplit_once('.').map_or(file_name.as_str(), |(s, _)| s).to_string();
    let own = extracted.title.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
    let title: String = own.unwrap_or(stem).chars().take(200).collect();
    // Trimmed like `content`, so an export imports back unchanged.
    Ok((extracted.content.trim().to_string(), Some(title)))
}

#[derive(Serialize)]
struct FileOut<'a> {
    business: BusinessOut<'a>,
    agent: &'a AgentConfig,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    questions: &'a [Question],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    knowledge: Vec<KnowledgeOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    emergency_rules: Option<RulesOut<'a>>,
    notifications: &'a NotificationPrefs,
    #[serde(skip_serializing_if = "Option::is_none")]
    facts: Option<FactsOut<'a>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    glossary: BTreeMap<&'a str, &'a str>,
}

/// `[facts]` with its values before its `[facts.hours]` table.
#[derive(Serialize)]
struct FactsOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    service_area: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prices: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    about: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    holidays: &'a [String],
    #[serde(skip_serializing_if = "WeekHours::is_empty")]
    hours: &'a WeekHours,
}

#[derive(Serialize)]
struct RulesOut<'a> {
    urgent: Vec<&'a str>,
    high: Vec<&'a str>,
    normal: Vec<&'a str>,
    remove: &'a [String],
}

#[derive(Serialize)]
struct BusinessOut<'a> {
    name: &'a str,
    business_type: BusinessType,
    plan_tier: PlanTier,
    #[serde(skip_serializing_if = "Option::is_none")]
    twilio_phone_number: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notification_email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notification_phone_number: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notification_webhook_url: Option<&'a str>,
    country: &'a str,
    timezone: &'a str,
    website_origins: &'a [String],
}

#[derive(Serialize)]
struct KnowledgeOut<'a> {
    title: &'a str,
    content: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_url: Option<&'a str>,
}

/// Writes a bundle as a business file; `parse_bundle` reads it back unchanged.
pub fn render_bundle(bundle: &BusinessBundle) -> String {
    let b = &bundle.business;
    let out = FileOut {
        business: BusinessOut {
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
        },
        agent: &bundle.agent,
        questions: &bundle.questions,
        knowledge: bundle
            .knowledge
            .iter()
            .map(|k| KnowledgeOut {
                title: &k.title,
                content: &k.content,
                source_url: k.source_url.as_deref(),
            })
            .collect(),
        emergency_rules: (bundle.emergency_rules != EmergencyRules::default()).then(|| {
            let at = |level: Priority| {
                bundle
                    .emergency_rules
                    .add
                    .iter()
                    .filter(|(l, _)| *l == level)
                    .map(|(_, p)| p.as_str())
                    .collect()
            };
            RulesOut {
                urgent: at(Priority::Urgent),
                high: at(Priority::High),
                normal: at(Priority::Normal),
                remove: &bundle.emergency_rules.remove,
            }
        }),
        notifications: &bundle.notifications,
        facts: (!bundle.facts.is_empty()).then(|| {
            let f = &bundle.facts;
            FactsOut {
                service_area: f.service_area.as_deref(),
                prices: f.prices.as_deref(),
                about: f.about.as_deref(),
                phone: f.phone.as_deref(),
                holidays: &f.holidays,
                hours: &f.hours,
            }
        }),
        glossary: bundle.glossary.iter().map(|g| (g.phrase.as_str(), g.words.as_str())).collect(),
    };
    let body = toml::to_string_pretty(&out).unwrap_or_else(|e| format!("# export failed: {e}\n"));
    format!("# frontdesk business file — import with `frontdesk business import FILE`\n\n{body}")
}

#[cfg(test)]
#[path = "provision_tests.rs"]
mod tests;
