//! The voice page's two ways to hear the receptionist: a "listen" sample of
//! each realtime voice, and "call my receptionist" (a real test call).

use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;

use super::settings::voice_with_status;
use super::{redirect_with, Page, PageError, PageResult};
use crate::channels::voice::{samples, test_call};
use crate::error::ApiError;
use crate::web::input::FieldErrors;

/// `GET /settings/voice/samples/{voice}`: the MP3 sample, for the business's
/// managers only (the page's business, never another one).
pub async fn sample(page: &Page<'_>, voice: &str) -> PageResult {
    page.caller.require_manager()?;
    let b = page.business()?;
    let audio = samples::sample(page.app, &b.id, voice).await.map_err(ApiError::from)?;
    Ok(audio_response(audio))
}

/// An MP3 body; the private pages' `no-store` is added by the dispatcher.
pub fn audio_response(audio: Vec<u8>) -> Response {
    let mut response = Response::new(audio.into());
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/mpeg"));
    response
}

/// `POST /settings/voice/test-call`: rings the owner's phone; the page says
/// what Twilio answered (queued, or why it refused).
pub async fn test_call(page: &Page<'_>) -> PageResult {
    page.caller.require_manager()?;
    let b = page.business()?;
    let form = page.req.form();
    let to = form.get("test_call_to");
    match test_call::place(page.app, b, to).await {
        Ok(placed) => Ok(redirect_with(
            "/settings/voice",
            &format!(
                "Calling {} from {} now (Twilio: {}). Answer it to talk to your receptionist.",
                placed.to, placed.from, placed.status
            ),
        )),
        Err(test_call::TestCallError::Plan(p)) => Err(PageError::from(p)),
        Err(e) => {
            let status = match &e {
                test_call::TestCallError::TooMany => StatusCode::TOO_MANY_REQUESTS,
                test_call::TestCallError::Twilio(_) => StatusCode::BAD_GATEWAY,
                test_call::TestCallError::NotReady(_) => StatusCode::CONFLICT,
                _ => StatusCode::BAD_REQUEST,
            };
            let mut errors = FieldErrors::default();
            errors.add("test_call_to", e.to_string());
            let agent = page.app.store.agent_profile(&b.id).await?.agent;
            let shown = super::settings::voice_values(&agent, b).with("test_call_to", to);
            voice_with_status(page, Some(shown), errors, status).await
        }
    }
}
