//! SMS through Twilio's REST API to the owner's notification number.

use super::render::Summary;
use super::DeliveryError;
use crate::store::outbox::{Claimed, DeliveryContext};
use crate::twilio::{TwilioClient, TwilioError};

/// Twilio errors that no retry fixes (bad numbers, unverified senders,
/// opted-out recipients) go dead at once; the rest follow `is_transient`.
pub(super) fn classify(e: TwilioError) -> DeliveryError {
    if e.is_transient() {
        DeliveryError::Transient(e.to_string())
    } else {
        DeliveryError::Permanent(e.to_string())
    }
}

/// The number notifications come from: `TWILIO_PHONE_NUMBER`, else the business's own.
pub(super) fn sender(default_from: &str, ctx: &DeliveryContext) -> Result<String, DeliveryError> {
    if !default_from.is_empty() {
        return Ok(default_from.to_string());
    }
    ctx.business.twilio_phone_number.clone().ok_or_else(|| {
        DeliveryError::Permanent(
            "no number to send from: set TWILIO_PHONE_NUMBER or the business's twilio_phone_number".into(),
        )
    })
}

pub async fn deliver(
    twilio: Option<&TwilioClient>,
    default_from: &str,
    claimed: &Claimed,
    ctx: &DeliveryContext,
    summary: &Summary,
) -> Result<Option<String>, DeliveryError> {
    let twilio = twilio.ok_or_else(|| classify(TwilioError::NotConfigured))?;
    let from = sender(default_from, ctx)?;
    let sid = twilio.send_sms(&from, &claimed.recipient, &summary.sms()).await.map_err(classify)?;
    Ok(Some(sid))
}
