//! The emergency call (PRO): Twilio places a call to the owner that reads
//! the emergency and, when the caller's number is known, offers "press 1 to
//! be connected to the caller" (answered by `web::call_connect`).

use super::render::Summary;
use super::sms::{classify, sender};
use super::DeliveryError;
use crate::store::outbox::{Claimed, DeliveryContext};
use crate::twilio::{TwilioClient, TwilioError};
use crate::twiml::{self, Verb, Voice};

/// Twilio refuses inline TwiML longer than this.
const MAX_TWIML: usize = 4000;

/// Where Twilio posts the owner's key press for this notification.
pub fn connect_path(notification_id: &str) -> String {
    format!("/api/notify/calls/{notification_id}/connect")
}

pub async fn deliver(
    twilio: Option<&TwilioClient>,
    default_from: &str,
    webhook_base_url: &str,
    claimed: &Claimed,
    ctx: &DeliveryContext,
    summary: &Summary,
) -> Result<Option<String>, DeliveryError> {
    let twilio = twilio.ok_or_else(|| classify(TwilioError::NotConfigured))?;
    let from = sender(default_from, ctx)?;
    // Without a public URL Twilio cannot post the key press back: read the message only.
    let connect_url = (summary.phone.is_some() && !webhook_base_url.is_empty())
        .then(|| format!("{}{}", webhook_base_url.trim_end_matches('/'), connect_path(&claimed.id)));
    let mut script = summary.call_script();
    let mut xml = emergency_call("alice", &script, connect_url.as_deref());
    while xml.len() > MAX_TWIML && script.len() > 80 {
        let keep = script.char_indices().nth(script.chars().count() * 3 / 4).map_or(script.len(), |(i, _)| i);
        script.truncate(keep);
        xml = emergency_call("alice", &script, connect_url.as_deref());
    }
    let sid = twilio.create_call(&from, &claimed.recipient, &xml, None).await.map_err(classify)?;
    Ok(Some(sid))
}

/// A `<Say>` voice by name, in Twilio's default language.
pub fn say_voice(name: &str) -> Voice {
    Voice { name: name.to_string(), language: String::new() }
}

/// The emergency call's TwiML: reads the emergency twice; with
/// `connect_url`, offers to connect the owner to the caller with one key.
pub fn emergency_call(voice: &str, script: &str, connect_url: Option<&str>) -> String {
    let voice = say_voice(voice);
    let verbs = match connect_url {
        Some(url) => vec![
            Verb::say(script, &voice),
            Verb::GatherKey {
                action: url.to_string(),
                timeout_secs: 8,
                prompt: vec![Verb::say("Press 1 to be connected to the caller now.", &voice)],
            },
            Verb::say(script, &voice),
            Verb::say("No key was pressed. Goodbye.", &voice),
        ],
        None => vec![Verb::say(script, &voice), Verb::Pause { seconds: 1 }, Verb::say(script, &voice)],
    };
    twiml::render(&verbs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_call_reads_the_emergency_and_offers_one_key() {
        let xml = emergency_call(
            "alice",
            "Dana <& Sons> reports: \"burst\" pipe",
            Some("https://fd.example/a?x=1&y=2"),
        );
        assert!(xml.contains("<Response><Say voice=\"alice\">Dana &lt;&amp; Sons&gt;"), "{xml}");
        assert!(
            xml.contains(
                "<Gather numDigits=\"1\" action=\"https://fd.example/a?x=1&amp;y=2\" method=\"POST\" timeout=\"8\">\
                 <Say voice=\"alice\">Press 1 to be connected to the caller now.</Say></Gather>"
            ),
            "{xml}"
        );
        assert!(xml.ends_with("<Say voice=\"alice\">No key was pressed. Goodbye.</Say></Response>"), "{xml}");
        let plain = emergency_call("alice", "x", None);
        assert!(!plain.contains("Gather"), "{plain}");
        assert!(
            plain.ends_with(
                "<Say voice=\"alice\">x</Say><Pause length=\"1\"/><Say voice=\"alice\">x</Say></Response>"
            ),
            "{plain}"
        );
    }
}
