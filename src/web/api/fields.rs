//! The fields each JSON endpoint reads. A body naming anything else is
//! refused (400, naming the field) rather than answered 200 with the field
//! silently ignored. Each field may be named in snake_case (the pages'
//! form names) or camelCase, the style of the API's answers and of the
//! original design (`voiceGreetingMessage`, `questionText`), so a client
//! can send back the keys it read; a few names of that design that differ
//! (`planTier`, `colorTheme.primary`) are aliases.

use serde_json::Value;

use crate::error::ApiError;
use crate::web::input::Input;

/// What one endpoint accepts: its field names, and alias -> name.
pub struct Fields {
    pub names: &'static [&'static str],
    pub aliases: &'static [(&'static str, &'static str)],
}

pub const LOGIN: Fields = Fields { names: &["email", "password"], aliases: &[] };

const AGENT_ALIASES: &[(&str, &str)] = &[
    ("colorTheme.primary", "color_primary"),
    ("colorTheme.secondary", "color_secondary"),
    ("color_theme.primary", "color_primary"),
    ("color_theme.secondary", "color_secondary"),
];

pub const AGENT: Fields = Fields {
    names: &[
        "agent_name",
        "persona_prompt",
        "welcome_message",
        "lead_capture_completion_message",
        "voice_emergency_message",
        "color_primary",
        "color_secondary",
    ],
    aliases: AGENT_ALIASES,
};

/// `POST /api/admin/voice/test-call`: the phone to ring.
pub const TEST_CALL: Fields = Fields { names: &["to"], aliases: &[] };

pub const VOICE: Fields = Fields {
    names: &[
        "voice_greeting_message",
        "voice_completion_message",
        "voice_emergency_message",
        "voice_end_call_message",
        "twilio_voice",
        "twilio_language",
        "voice_mode",
        "realtime_voice",
    ],
    aliases: &[],
};

pub const BUSINESS: Fields =
    Fields { names: &["name", "business_type", "country", "timezone"], aliases: &[] };

pub const NOTIFICATIONS: Fields = Fields {
    names: &["notification_email", "notification_phone_number", "notification_webhook_url"],
    aliases: &[],
};

pub const WIDGET: Fields = Fields { names: &["website_origins"], aliases: &[] };

pub const RULES: Fields = Fields { names: &["urgent", "high", "normal", "remove"], aliases: &[] };

pub const LEAD_STATUS: Fields = Fields { names: &["status"], aliases: &[] };

pub const QUESTION: Fields = Fields {
    names: &[
        "question_text",
        "expected_format",
        "is_required",
        "maps_to_lead_field",
        "is_essential_for_emergency",
    ],
    aliases: &[],
};

pub const LEAD_NOTES: Fields = Fields { names: &["owner_notes"], aliases: &[("notes", "owner_notes")] };

pub const LEAD_TEST: Fields = Fields { names: &["is_test"], aliases: &[] };

/// Hours come as an object of weekdays (`"hours": {"monday": "7am-6pm"}`).
pub const FACTS: Fields = Fields {
    names: &[
        "hours.monday",
        "hours.tuesday",
        "hours.wednesday",
        "hours.thursday",
        "hours.friday",
        "hours.saturday",
        "hours.sunday",
        "holidays",
        "service_area",
        "prices",
        "about",
        "phone",
    ],
    aliases: &[],
};

/// The owner's triage mark: `{"emergency": bool}` or `{"level": "URGENT"}`.
pub const TRIAGE_MARK: Fields = Fields { names: &["emergency", "level"], aliases: &[] };

pub const REORDER: Fields = Fields { names: &["ids"], aliases: &[] };

/// The business's own glossary: "customer's phrase = documents' words",
/// a list item (or a line) each.
pub const GLOSSARY: Fields = Fields { names: &["glossary"], aliases: &[] };

pub const KNOWLEDGE: Fields = Fields { names: &["title", "content", "source_url"], aliases: &[] };

/// A web page to import, or (`site`: true) the whole site it is on.
pub const KNOWLEDGE_WEB: Fields = Fields { names: &["url", "site"], aliases: &[] };

pub const NEW_BUSINESS: Fields = Fields {
    names: &["name", "business_type", "plan", "timezone", "email", "password", "confirm_password"],
    aliases: &[("planTier", "plan")],
};

pub const PLAN: Fields = Fields { names: &["plan"], aliases: &[("planTier", "plan")] };

pub const TEST_NOTIFICATION: Fields = Fields { names: &["channel"], aliases: &[] };

pub const PREFS: Fields =
    Fields { names: &["new_lead", "call_ended", "digest", "digest_hour"], aliases: &[] };

impl Fields {
    /// The field a key names: an alias's field, or the key in snake_case
    /// (`voiceGreetingMessage` -> `voice_greeting_message`).
    fn name_of(&self, key: &str) -> String {
        if let Some((_, name)) = self.aliases.iter().find(|(alias, _)| *alias == key) {
            return (*name).to_string();
        }
        let mut snake = String::with_capacity(key.len() + 4);
        for c in key.chars() {
            if c.is_ascii_uppercase() {
                snake.push('_');
                snake.push(c.to_ascii_lowercase());
            } else {
                snake.push(c);
            }
        }
        snake
    }

    /// A JSON object read into the endpoint's field names; an unknown field
    /// (or a field given twice, once by its alias) is a 400 naming it.
    pub fn read(&self, value: &Value) -> Result<Input, ApiError> {
        let Some(object) = value.as_object() else {
            return Err(ApiError::BadRequest("expected a JSON object".into()));
        };
        let mut renamed = serde_json::Map::new();
        let mut unknown = Vec::new();
        for (key, v) in object {
            // A nested object is its dotted keys ("colorTheme": {"primary"} is colorTheme.primary).
            let leaves: Vec<(String, Value)> = match v {
                Value::Object(inner) if !self.names.contains(&key.as_str()) => {
                    inner.iter().map(|(k, v)| (format!("{key}.{k}"), v.clone())).collect()
                }
                _ => vec![(key.clone(), v.clone())],
            };
            for (leaf, v) in leaves {
                let name = self.name_of(&leaf);
                if !self.names.contains(&name.as_str()) {
                    unknown.push(leaf.clone());
                } else if renamed.insert(name.to_string(), v).is_some() {
                    return Err(ApiError::BadRequest(format!(
                        "field '{name}' is given twice (by two names)"
                    )));
                }
            }
        }
        if !unknown.is_empty() {
            let quoted: Vec<String> = unknown.iter().map(|u| format!("'{u}'")).collect();
            return Err(ApiError::BadRequest(format!(
                "unknown field{} {}; this endpoint accepts: {}",
                if unknown.len() == 1 { "" } else { "s" },
                quoted.join(", "),
                self.names.join(", ")
            )));
        }
        Input::from_json(&Value::Object(renamed))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    #[test]
    fn aliases_are_read_and_unknown_fields_named() {
        let input =
            VOICE.read(&json!({ "voiceGreetingMessage": "Hello!", "twilio_voice": "alice" })).unwrap();
        assert_eq!(input.get("voice_greeting_message"), "Hello!");
        assert_eq!(input.get("twilio_voice"), "alice");
        let e = VOICE.read(&json!({ "voice_greting_message": "typo", "colour": 1 })).unwrap_err();
        let message = e.to_string();
        assert!(message.contains("'voice_greting_message'") && message.contains("'colour'"), "{message}");
        assert!(message.contains("accepts: voice_greeting_message"), "{message}");
        let agent =
            AGENT.read(&json!({ "colorTheme": { "primary": "#000000" }, "agentName": "Pip" })).unwrap();
        assert_eq!((agent.get("color_primary"), agent.get("agent_name")), ("#000000", "Pip"));
        assert!(AGENT.read(&json!({ "colorTheme": { "tertiary": "#000" } })).is_err());
        assert!(AGENT
            .read(&json!({ "agentName": "A", "agent_name": "B" }))
            .unwrap_err()
            .to_string()
            .contains("twice"));
        assert!(REORDER.read(&json!({ "ids": ["a", "b"] })).unwrap().lines("ids") == ["a", "b"]);
        // Any field by the camelCase key the answers use.
        let prefs = PREFS.read(&json!({ "digestHour": 7, "callEnded": [] })).unwrap();
        assert_eq!(prefs.get("digest_hour"), "7");
        assert!(NOTIFICATIONS.read(&json!({ "notificationWebhookUrl": "https://h.example" })).is_ok());
        assert!(PREFS.read(&json!({ "digestHour": 7, "digest_hour": 8 })).is_err());
        assert!(LOGIN.read(&json!([1])).is_err());
    }
}
