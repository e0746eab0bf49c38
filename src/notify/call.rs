//! The emergency call (PRO): Twilio places a call to the owner that reads
//! the emergency and, when the caller's number is known, offers "press 1 to
//! be connected to the caller" (answered by `web::call_connect`).

use super::render::Summary;
use super::sms::{classify, sender};
use super::{twiml, DeliveryError};
use crate::store::outbox::{Claimed, DeliveryContext};
use crate::twilio::{TwilioClient, TwilioError};

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
    let mut xml = twiml::emergency_call("alice", &script, connect_url.as_deref());
    while xml.len() > MAX_TWIML && script.len() > 80 {
        let keep = script.char_indices().nth(script.chars().count() * 3 / 4).map_or(script.len(), |(i, _)| i);
        script.truncate(keep);
        xml = twiml::emergency_call("alice", &script, connect_url.as_deref());
    }
    let sid = twilio.create_call(&from, &claimed.recipient, &xml, None).await.map_err(classify)?;
    Ok(Some(sid))
}
