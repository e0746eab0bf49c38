//! Reading each settings form (or its JSON twin) into domain values, field by
//! field, with the shared validators. A field that is absent keeps its
//! current value, so the API can change one field at a time.

use chrono::{NaiveDate, TimeZone};

use super::input::{finish, ActionError, FieldErrors, Input};
use crate::domain::{
    AgentConfig, Business, BusinessFacts, BusinessType, Channel, EmergencyRules, ExpectedFormat, Gloss,
    KnowledgeDoc, LeadStatus, PlanTier, Priority, Question, VoiceMode, REALTIME_VOICES, WEEKDAYS,
};
use crate::store::admin::{BusinessSettings, LeadFilter, NotificationSettings};
use crate::validate;

/// Longest message or prompt, in characters.
pub const MAX_MESSAGE: usize = 4000;
/// Largest knowledge document, in bytes (as the importer).
pub const MAX_DOCUMENT_BYTES: usize = crate::plans::MAX_DOCUMENT_BYTES;

/// Sets `slot` from `key` when the input has it.
fn text(input: &Input, errors: &mut FieldErrors, key: &str, max: usize, slot: &mut String) {
    if let Some(raw) = input.opt(key) {
        if let Some(v) = errors.check(key, validate::required_text(raw, max)) {
            *slot = v;
        }
    }
}

fn optional(input: &Input, errors: &mut FieldErrors, key: &str, max: usize, slot: &mut Option<String>) {
    if let Some(raw) = input.opt(key) {
        if let Some(v) = errors.check(key, validate::optional_text(raw, max)) {
            *slot = v;
        }
    }
}

fn choice<T>(
    input: &Input,
    errors: &mut FieldErrors,
    key: &str,
    parse: fn(&str) -> Option<T>,
    choices: String,
    slot: &mut T,
) {
    if let Some(raw) = input.opt(key) {
        match parse(raw) {
            Some(v) => *slot = v,
            None => errors.add(key, format!("expected {choices}, got '{}'", raw.trim())),
        }
    }
}

/// The chat side of the agent: name, persona, messages, colours.
pub fn agent(input: &Input, current: &AgentConfig) -> Result<AgentConfig, ActionError> {
    let mut a = current.clone();
    let mut e = FieldErrors::default();
    text(input, &mut e, "agent_name", 80, &mut a.agent_name);
    text(input, &mut e, "persona_prompt", MAX_MESSAGE, &mut a.persona_prompt);
    text(input, &mut e, "welcome_message", MAX_MESSAGE, &mut a.welcome_message);
    optional(
        input,
        &mut e,
        "lead_capture_completion_message",
        MAX_MESSAGE,
        &mut a.lead_capture_completion_message,
    );
    optional(input, &mut e, "voice_emergency_message", MAX_MESSAGE, &mut a.voice_emergency_message);
    for name in ["primary", "secondary"] {
        let key = format!("color_{name}");
        if let Some(raw) = input.opt(&key) {
            if let Some(c) = e.check(&key, validate::hex_colour(raw)) {
                a.color_theme.insert(name.to_string(), c);
            }
        }
    }
    finish(e, Some(a))
}

/// The voice side of the agent (PRO): messages, voices, language, mode.
pub fn voice(input: &Input, current: &AgentConfig) -> Result<AgentConfig, ActionError> {
    let mut a = current.clone();
    let mut e = FieldErrors::default();
    optional(input, &mut e, "voice_greeting_message", MAX_MESSAGE, &mut a.voice_greeting_message);
    optional(input, &mut e, "voice_completion_message", MAX_MESSAGE, &mut a.voice_completion_message);
    optional(input, &mut e, "voice_emergency_message", MAX_MESSAGE, &mut a.voice_emergency_message);
    optional(input, &mut e, "voice_end_call_message", MAX_MESSAGE, &mut a.voice_end_call_message);
    if let Some(raw) = input.opt("twilio_voice") {
        a.twilio_voice = e.check("twilio_voice", validate::twilio_voice(raw)).unwrap_or(a.twilio_voice);
    }
    if let Some(raw) = input.opt("twilio_language") {
        a.twilio_language =
            e.check("twilio_language", validate::language_tag(raw)).unwrap_or(a.twilio_language);
    }
    choice(input, &mut e, "voice_mode", VoiceMode::parse, VoiceMode::choices(), &mut a.voice_mode);
    if let Some(raw) = input.opt("realtime_voice") {
        match REALTIME_VOICES.iter().find(|v| v.eq_ignore_ascii_case(raw.trim())) {
            Some(v) => a.realtime_voice = v.to_string(),
            None => e.add("realtime_voice", format!("expected one of {}", REALTIME_VOICES.join(", "))),
        }
    }
    finish(e, Some(a))
}

/// A lead question; `current` is the question being edited, if any.
pub fn question(input: &Input, current: Option<&Question>) -> Result<Question, ActionError> {
    let mut q = current.cloned().unwrap_or(Question {
        question_text: String::new(),
        expected_format: ExpectedFormat::Text,
        order: 0,
        is_required: true,
        maps_to_lead_field: None,
        is_essential_for_emergency: false,
    });
    let mut e = FieldErrors::default();
    if current.is_none() || input.has("question_text") {
        if let Some(t) = e.check("question_text", validate::required_text(input.get("question_text"), 500)) {
            q.question_text = t;
        }
    }
    choice(
        input,
        &mut e,
        "expected_format",
        ExpectedFormat::parse,
        ExpectedFormat::choices(),
        &mut q.expected_format,
    );
    if let Some(raw) = input.opt("maps_to_lead_field") {
        // "Job Address" is saved as job_address: the owner never writes snake_case.
        q.maps_to_lead_field = match raw.trim() {
            "" => None,
            field => e.check("maps_to_lead_field", validate::field_key(field)),
        };
    }
    if input.has("is_required") {
        q.is_required = input.flag("is_required");
    }
    if input.has("is_essential_for_emergency") {
        q.is_essential_for_emergency = input.flag("is_essential_for_emergency");
    }
    finish(e, Some(q))
}

/// A knowledge document; `upload` is a file's name and bytes, used instead
/// of the pasted content when given.
pub fn document(
    input: &Input,
    upload: Option<(&str, &[u8])>,
    current: Option<&KnowledgeDoc>,
) -> Result<KnowledgeDoc, ActionError> {
    let mut e = FieldErrors::default();
    let mut doc = current.cloned().unwrap_or(KnowledgeDoc {
        title: String::new(),
        content: String::new(),
        source_url: None,
    });
    let content = match upload {
        Some((name, bytes)) => e.check("file", uploaded_text(name, bytes)),
        None if current.is_none() || input.has("content") => {
            let raw = input.get("content");
            if raw.len() > MAX_DOCUMENT_BYTES {
                e.add("content", format!("is too long (at most {MAX_DOCUMENT_BYTES} bytes)"));
                None
            } else {
                e.check("content", validate::required_text(raw, MAX_DOCUMENT_BYTES))
            }
        }
        None => Some(doc.content.clone()),
    };
    if current.is_none() || input.has("title") {
        let fallback = upload.map(|(name, _)| name.rsplit_once('.').map_or(name, |(stem, _)| stem));
        let raw = Some(input.get("title")).filter(|t| !t.trim().is_empty()).or(fallback).unwrap_or("");
        if let Some(t) = e.check("title", validate::required_text(raw, 200)) {
            doc.title = t;
        }
    }
    if let Some(raw) = input.opt("source_url") {
        doc.source_url = match raw.trim() {
            "" => None,
            url => e.check("source_url", validate::http_url(url)),
        };
    }
    if let Some(c) = content {
        doc.content = c;
    }
    finish(e, Some(doc))
}

/// An uploaded .txt or .md file as text.
pub fn uploaded_text(name: &str, bytes: &[u8]) -> Result<String, String> {
    let lower = name.to_ascii_lowercase();
    if !(lower.ends_with(".txt") || lower.ends_with(".md") || lower.ends_with(".markdown")) {
        return Err(format!("only .txt and .md files can be uploaded, not '{name}'"));
    }
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(format!(
            "the file is too large ({} KB; at most {} KB)",
            bytes.len() / 1000,
            MAX_DOCUMENT_BYTES / 1000
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| format!("'{name}' is not UTF-8 text"))?;
    validate::required_text(text.trim_start_matches('\u{feff}'), MAX_DOCUMENT_BYTES)
        .map_err(|_| format!("'{name}' is empty"))
}

/// Where the owner is told: email, SMS number (in the business's country), webhook.
pub fn notifications(input: &Input, b: &Business) -> Result<NotificationSettings, ActionError> {
    let mut e = FieldErrors::default();
    let mut s = NotificationSettings {
        email: b.notification_email.clone(),
        phone: b.notification_phone_number.clone(),
        webhook_url: b.notification_webhook_url.clone(),
    };
    type Check<'a> = &'a dyn Fn(&str) -> Result<String, String>;
    let fields: [(&str, &mut Option<String>, Check<'_>); 3] = [
        ("notification_email", &mut s.email, &validate::email),
        ("notification_phone_number", &mut s.phone, &|raw| validate::phone(raw, &b.country)),
        ("notification_webhook_url", &mut s.webhook_url, &validate::http_url),
    ];
    for (key, slot, check) in fields {
        if let Some(raw) = input.opt(key) {
            *slot = if raw.trim().is_empty() { None } else { e.check(key, check(raw)) };
        }
    }
    finish(e, Some(s))
}

/// Name, type, country and time zone.
pub fn business(input: &Input, b: &Business) -> Result<BusinessSettings, ActionError> {
    let mut e = FieldErrors::default();
    let mut s = BusinessSettings {
        name: b.name.clone(),
        business_type: b.business_type,
        country: b.country.clone(),
        timezone: b.timezone.clone(),
    };
    text(input, &mut e, "name", 200, &mut s.name);
    choice(
        input,
        &mut e,
        "business_type",
        BusinessType::parse,
        BusinessType::choices(),
        &mut s.business_type,
    );
    if let Some(raw) = input.opt("country") {
        s.country = e.check("country", validate::country(raw)).unwrap_or(s.country);
    }
    if let Some(raw) = input.opt("timezone") {
        s.timezone = e.check("timezone", validate::timezone(raw)).unwrap_or(s.timezone);
    }
    finish(e, Some(s))
}

/// Sites allowed to embed the widget, one per line, as the owner types them
/// (`www.bobsplumbing.com` gets `https://`).
pub fn origins(input: &Input) -> Result<Vec<String>, ActionError> {
    let mut e = FieldErrors::default();
    let mut out = Vec::new();
    for line in input.lines("website_origins") {
        if let Some(o) = e.check("website_origins", validate::site(&line)) {
            if !out.contains(&o) {
                out.push(o);
            }
        }
    }
    finish(e, Some(out))
}

/// The owner's triage phrases: `urgent`, `high`, `normal` to add, `remove` to drop.
pub fn rules(input: &Input) -> Result<EmergencyRules, ActionError> {
    let mut e = FieldErrors::default();
    let mut rules = EmergencyRules::default();
    for (key, level) in [
        ("urgent", Some(Priority::Urgent)),
        ("high", Some(Priority::High)),
        ("normal", Some(Priority::Normal)),
        ("remove", None),
    ] {
        for phrase in input.lines(key) {
            if phrase.chars().count() > 100 {
                e.add(
                    key,
                    format!(
                        "'{}…' is longer than 100 characters",
                        phrase.chars().take(30).collect::<String>()
                    ),
                );
                continue;
            }
            match level {
                Some(level) if !rules.add.iter().any(|(_, p)| p.eq_ignore_ascii_case(&phrase)) => {
                    rules.add.push((level, phrase))
                }
                Some(_) => e.add(key, format!("'{phrase}' is listed at more than one level")),
                None => rules.remove.push(phrase),
            }
        }
    }
    finish(e, Some(rules))
}

/// The business's own glossary: `glossary`, a line (or a JSON list item)
/// per entry, "customer's phrase = documents' words" ("be home = adult
/// home"). The whole list replaces the old one; kept in order of phrase, as
/// a business file keeps it. Every problem is reported against `glossary`,
/// with the line it is on.
pub fn glossary(input: &Input) -> Result<Vec<Gloss>, ActionError> {
    let mut e = FieldErrors::default();
    let lines = input.lines("glossary");
    if lines.len() > validate::MAX_GLOSSES {
        e.add("glossary", format!("too many entries: {} (at most {})", lines.len(), validate::MAX_GLOSSES));
        return finish(e, None);
    }
    let mut out: Vec<Gloss> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let at = format!("line {} ('{}')", i + 1, line.chars().take(40).collect::<String>());
        let Some((phrase, words)) = line.split_once('=') else {
            e.add("glossary", format!("{at}: write the customer's phrase, '=', then the documents' words"));
            continue;
        };
        match validate::gloss(phrase, words) {
            Ok(g) if out.iter().any(|o| o.phrase.eq_ignore_ascii_case(&g.phrase)) => {
                e.add("glossary", format!("{at}: the phrase '{}' is listed twice", g.phrase))
            }
            Ok(g) => out.push(g),
            Err((_, message)) => e.add("glossary", format!("{at}: {message}")),
        }
    }
    out.sort_by(|a, b| a.phrase.cmp(&b.phrase));
    finish(e, Some(out))
}

/// The business's facts: `hours.monday` … `hours.sunday` ("7am-6pm",
/// "closed", empty: not said), `holidays` (lines), `service_area`, `prices`,
/// `about`, `phone`. A field left out keeps its value.
pub fn facts(input: &Input, current: &BusinessFacts, country: &str) -> Result<BusinessFacts, ActionError> {
    let mut e = FieldErrors::default();
    let mut f = current.clone();
    for (i, day) in WEEKDAYS.iter().enumerate() {
        let key = format!("hours.{day}");
        if let Some(raw) = input.opt(&key) {
            let value = if raw.trim().is_empty() { None } else { e.check(&key, validate::day_hours(raw)) };
            f.hours.set_day(i, value);
        }
    }
    if input.has("holidays") {
        f.holidays = input
            .lines("holidays")
            .iter()
            .filter_map(|l| e.check("holidays", validate::holiday(l)))
            .collect();
    }
    optional(input, &mut e, "service_area", MAX_MESSAGE, &mut f.service_area);
    optional(input, &mut e, "prices", MAX_MESSAGE, &mut f.prices);
    optional(input, &mut e, "about", MAX_MESSAGE, &mut f.about);
    if let Some(raw) = input.opt("phone") {
        f.phone = if raw.trim().is_empty() { None } else { e.check("phone", validate::phone(raw, country)) };
    }
    finish(e, Some(f))
}

pub fn lead_status(input: &Input) -> Result<LeadStatus, ActionError> {
    LeadStatus::parse(input.get("status"))
        .ok_or_else(|| ActionError::field("status", format!("expected {}", LeadStatus::choices())))
}

/// The owner's triage mark on a lead: `emergency` yes/no (URGENT or NORMAL),
/// or an explicit `level`.
pub fn triage_mark(input: &Input) -> Result<Priority, ActionError> {
    if input.has("level") {
        return match Priority::parse(input.get("level")) {
            Some(p) if p != Priority::Low => Ok(p),
            _ => Err(ActionError::field("level", "expected URGENT, HIGH or NORMAL")),
        };
    }
    match input.get("emergency").trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(Priority::Urgent),
        "false" | "no" | "off" | "0" => Ok(Priority::Normal),
        _ => Err(ActionError::field("emergency", "expected yes or no")),
    }
}

pub fn plan(input: &Input) -> Result<PlanTier, ActionError> {
    PlanTier::parse(input.get("plan"))
        .ok_or_else(|| ActionError::field("plan", format!("expected {}", PlanTier::choices())))
}

/// A lead filter from query parameters; dates are the owner's local days.
pub fn lead_filter(input: &Input, tz: chrono_tz::Tz) -> Result<LeadFilter, ActionError> {
    let mut e = FieldErrors::default();
    let mut f = LeadFilter { limit: 100, ..LeadFilter::default() };
    let pick = |key: &str| Some(input.get(key).trim()).filter(|v| !v.is_empty());
    if let Some(v) = pick("status") {
        f.status =
            e.check("status", LeadStatus::parse(v).ok_or(format!("expected {}", LeadStatus::choices())));
    }
    if let Some(v) = pick("priority") {
        f.priority =
            e.check("priority", Priority::parse(v).ok_or(format!("expected {}", Priority::choices())));
    }
    if let Some(v) = pick("channel") {
        f.channel = e.check("channel", Channel::parse(v).ok_or(format!("expected {}", Channel::choices())));
    }
    for (key, next_day) in [("from", false), ("to", true)] {
        if let Some(v) = pick(key) {
            let day = e.check(
                key,
                NaiveDate::parse_from_str(v, "%Y-%m-%d")
                    .map_err(|_| format!("expected a date like 2025-03-31, got '{v}'")),
            );
            let bound =
                day.and_then(|d| if next_day { d.succ_opt() } else { Some(d) }).map(|d| day_start_utc(d, tz));
            if key == "from" {
                f.from = bound
            } else {
                f.to = bound
            }
        }
    }
    f.search = pick("q").map(|q| q.chars().take(200).collect());
    if let Some(v) = pick("page") {
        let page: u32 =
            e.check("page", v.parse::<u32>().map_err(|_| "expected a page number".to_string())).unwrap_or(1);
        f.offset = page.saturating_sub(1).saturating_mul(f.limit);
    }
    finish(e, Some(f))
}

/// Midnight of a local day, as a UTC RFC 3339 bound.
pub fn day_start_utc(day: NaiveDate, tz: chrono_tz::Tz) -> String {
    crate::domain::rfc3339(day_start(day, tz))
}

/// Midnight of a local day.
pub fn day_start(day: NaiveDate, tz: chrono_tz::Tz) -> chrono::DateTime<chrono::Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    let local = tz.from_local_datetime(&midnight).earliest().map(|t| t.with_timezone(&chrono::Utc));
    local.unwrap_or_else(|| chrono::Utc.from_utc_datetime(&midnight))
}

/// The business's zone, UTC when unknown.
pub fn zone(b: &Business) -> chrono_tz::Tz {
    b.timezone.parse().unwrap_or(chrono_tz::UTC)
}

/// White or near-black, whichever reads better on `hex` (the WCAG contrast
/// ratio, as the widget computes it).
pub fn ink_for(hex: &str) -> &'static str {
    let h = hex.trim_start_matches('#');
    let h: String = if h.len() == 3 { h.chars().flat_map(|c| [c, c]).collect() } else { h.to_string() };
    let channel = |i: usize| {
        let v = u8::from_str_radix(h.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0) as f64 / 255.0;
        if v <= 0.03928 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    let lum = 0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4);
    if 1.05 / (lum + 0.05) >= (lum + 0.05) / 0.0612 {
        "#ffffff"
    } else {
        "#111827"
    }
}

/// Colours for the template, with defaults.
pub fn colours(agent: &AgentConfig) -> (String, String) {
    let get = |k: &str, d: &str| agent.color_theme.get(k).cloned().unwrap_or_else(|| d.to_string());
    (get("primary", "#0ea5e9"), get("secondary", "#64748b"))
}
