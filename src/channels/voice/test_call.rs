//! "Call my receptionist": an outbound call from the business's Twilio
//! number to the owner's phone, answered by the business's own receptionist.
//! The call's TwiML comes from the business's incoming-call webhook, so the
//! owner hears exactly what callers hear (greeting, voice, questions,
//! alerts). Twilio posts that webhook with `Direction=outbound-api`, `From`
//! the business's number and `To` the owner (see `Form::business_number`).
//! A test call costs money, so a business may place a few per hour.

use super::calls::TEST_CALLS_PER_HOUR;
use super::public_url;
use crate::domain::Business;
use crate::error::ApiError;
use crate::plans::{Feature, PlanRequired};
use crate::state::AppState;
use crate::twilio::TwilioError;

#[derive(Debug, thiserror::Error)]
pub enum TestCallError {
    #[error(transparent)]
    Plan(#[from] PlanRequired),
    /// Something only the operator can set up; the sentence says what.
    #[error("{0}")]
    NotReady(String),
    #[error("{0}")]
    BadNumber(String),
    #[error("you have placed {TEST_CALLS_PER_HOUR} test calls in the last hour: try again later")]
    TooMany,
    /// Twilio refused the call or could not be reached.
    #[error("{}", twilio_message(.0))]
    Twilio(TwilioError),
}

impl From<TestCallError> for ApiError {
    fn from(e: TestCallError) -> Self {
        match e {
            TestCallError::Plan(p) => ApiError::PlanRequired(p),
            TestCallError::NotReady(m) => ApiError::Conflict(m),
            TestCallError::BadNumber(m) => ApiError::BadRequest(m),
            TestCallError::TooMany => ApiError::TooManyRequests(e.to_string()),
            TestCallError::Twilio(TwilioError::Status { status, .. }) if status < 500 => {
                ApiError::BadRequest(e.to_string())
            }
            TestCallError::Twilio(_) => ApiError::Unavailable(e.to_string()),
        }
    }
}

/// Twilio's own words, for the owner.
fn twilio_message(e: &TwilioError) -> String {
    match e {
        TwilioError::Status { message, code, .. } => {
            format!("Twilio did not place the call: {message} (Twilio error {code})")
        }
        TwilioError::Http(_) => "Twilio could not be reached: try again in a minute".into(),
        TwilioError::NotConfigured => "Twilio is not set up on this server".into(),
    }
}

/// A call Twilio accepted.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Placed {
    pub call_sid: String,
    /// Twilio's status, normally `queued`.
    pub status: String,
    pub to: String,
    pub from: String,
}

/// Why a business cannot place a test call now, as one plain sentence.
pub fn blocked(app: &AppState, business: &Business) -> Option<String> {
    if !app.plans.allows(business.plan_tier, Feature::VoiceAgent) {
        return Some("Test calls are part of the PRO plan, with the phone receptionist.".into());
    }
    if app.twilio.is_none() {
        return Some(
            "Test calls need a Twilio account on this server: the operator sets TWILIO_ACCOUNT_SID and \
             TWILIO_AUTH_TOKEN."
                .into(),
        );
    }
    if business.twilio_phone_number.as_deref().unwrap_or_default().is_empty() {
        return Some(
            "Test calls need your receptionist's phone number: the operator assigns it above.".into(),
        );
    }
    None
}

/// Calls `to` (the owner's phone, in any format the business's country
/// reads) from the business's number.
pub async fn place(app: &AppState, business: &Business, to: &str) -> Result<Placed, TestCallError> {
    app.plans.require(business.plan_tier, Feature::VoiceAgent)?;
    if let Some(why) = blocked(app, business) {
        return Err(TestCallError::NotReady(why));
    }
    let (Some(twilio), Some(from)) = (&app.twilio, business.twilio_phone_number.as_deref()) else {
        return Err(TestCallError::NotReady("Twilio is not set up on this server".into()));
    };
    if to.trim().is_empty() {
        return Err(TestCallError::BadNumber("enter the phone number to call".into()));
    }
    let to = crate::validate::phone(to, &business.country).map_err(TestCallError::BadNumber)?;
    if to == from {
        return Err(TestCallError::BadNumber(
            "that is your receptionist's own number: enter the phone you will answer".into(),
        ));
    }
    if !app.voice.test_calls.allow(&business.id).await {
        return Err(TestCallError::TooMany);
    }
    let url = public_url(app, "/api/voice/incoming");
    let status_url = public_url(app, "/api/voice/status");
    match twilio.create_call_to_url(from, &to, &url, &status_url).await {
        Ok(created) => {
            let status = created.status.unwrap_or_else(|| "queued".into());
            tracing::info!(business_id = %business.id, call_sid = %created.sid, status, "test call placed");
            Ok(Placed { call_sid: created.sid, status, to, from: from.to_string() })
        }
        Err(e) => {
            tracing::warn!(business_id = %business.id, error = %e, "test call refused");
            Err(TestCallError::Twilio(e))
        }
    }
}
