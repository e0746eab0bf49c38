//! Twilio's HTTP webhooks for calls. Every one is verified against
//! `X-Twilio-Signature` (`http::twilio`: over the public base Twilio was
//! given + path + query, so it works behind a proxy) before anything
//! happens; a bad or missing signature gets 403 and changes nothing.

use std::sync::atomic::Ordering;

use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::{
    call_session, listen, public_url, realtime_enabled, record_note, say_voice, stream_url, twiml_reply,
    NextStep,
};
use crate::agent::conversation::Context;
use crate::agent::voice;
use crate::channels::engine;
use crate::domain::{CallMode, EndedReason};
use crate::error::ApiError;
use crate::http::with_state;
use crate::ids::CallSid;
use crate::plans::Feature;
use crate::state::AppState;
use crate::store::{CallStatus, StoreError};
use crate::twiml::{Verb, Voice};

pub use crate::http::twilio::Form;

/// Extracts the form of a signed Twilio POST, or rejects with 403 (the one
/// check every Twilio request passes, in `http::twilio`).
pub fn signed(app: AppState) -> impl Filter<Extract = (Form,), Error = Rejection> + Clone {
    crate::http::twilio::signed(app.config.clone(), app.body_deadline())
}

pub fn routes(app: AppState) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let at = |name: &'static str| {
        warp::path("api").and(warp::path("voice")).and(warp::path(name)).and(warp::path::end())
    };
    let incoming = at("incoming").and(with_state(app.clone())).and(signed(app.clone())).and_then(incoming);
    let status = at("status").and(with_state(app.clone())).and(signed(app.clone())).and_then(status);
    let ended =
        at("stream-ended").and(with_state(app.clone())).and(signed(app.clone())).and_then(stream_ended);
    let dial = at("dial-status").and(with_state(app.clone())).and(signed(app.clone())).and_then(dial_status);
    let recording = at("recording").and(with_state(app.clone())).and(signed(app.clone())).and_then(recording);
    let recording_status =
        at("recording-status").and(with_state(app.clone())).and(signed(app)).and_then(recording_status);
    incoming.or(status).or(ended).or(dial).or(recording).or(recording_status)
}

/// A voice for calls to numbers we cannot place.
fn default_voice() -> Voice {
    Voice { name: "alice".into(), language: "en-US".into() }
}

/// `POST /api/voice/incoming`: a call comes in.
async fn incoming(app: AppState, form: Form) -> Result<Response, Rejection> {
    let call_sid = CallSid::from(form.call_sid()?);
    let to = form.business_number().unwrap_or_default().to_string();
    let business = match app.store.business_by_number(&to).await {
        Ok(b) => b,
        Err(StoreError::NotFound(_)) => {
            tracing::warn!(%call_sid, to, "a call to a number no business has");
            return Ok(twiml_reply(&[
                Verb::say("Sorry, this number is not set up to take calls yet. Goodbye.", &default_voice()),
                Verb::Hangup,
            ]));
        }
        Err(e) => return Err(reject(e)),
    };
    let ctx = engine::context(&app, &business.id).await.map_err(turn_reject)?;
    let voice = say_voice(&ctx.agent);
    let span = tracing::info_span!("call", call_sid = %call_sid, business_id = %business.id);
    let _entered = span.enter();

    if !app.plans.allows(business.plan_tier, Feature::VoiceAgent) {
        tracing::info!(plan = %business.plan_tier, "voice is not on this plan; the caller hears a message");
        return Ok(twiml_reply(&[Verb::say(not_on_plan_message(&ctx), &voice), Verb::Hangup]));
    }

    let realtime = realtime_enabled(&app, &ctx.agent);
    let max = app.config.websocket.max_connections as usize;
    if realtime && app.websockets.load(Ordering::Relaxed) >= max {
        tracing::warn!(max, "every media stream is busy; taking a message");
        return Ok(twiml_reply(&voicemail(&app, &ctx, busy_message(&ctx))));
    }
    if realtime && app.voice.cpu.saturated(app.config.voice.max_cpu_percent) {
        // Another call now would make every call's audio late.
        tracing::warn!(limit = app.config.voice.max_cpu_percent, "the CPUs are full; taking a message");
        return Ok(twiml_reply(&voicemail(&app, &ctx, busy_message(&ctx))));
    }

    let mode = if realtime { CallMode::Realtime } else { CallMode::Gather };
    let session = call_session(&app, &ctx, &call_sid, form.caller_number(), Some(&to), mode)
        .await
        .map_err(turn_reject)?;
    tracing::info!(mode = mode.as_str(), "answering a call");
    if realtime {
        // The stream is joined to this call only with this token (see `stream_token`).
        let now = chrono::Utc::now().timestamp();
        let token =
            super::stream_token::issue(app.jwt_secret.expose().as_bytes(), &call_sid, &business.id, now);
        let parameters = vec![
            ("callSid".to_string(), call_sid.to_string()),
            ("businessId".to_string(), business.id.to_string()),
            ("token".to_string(), token),
        ];
        return Ok(twiml_reply(&[Verb::ConnectStream {
            action: public_url(&app, "/api/voice/stream-ended"),
            url: stream_url(&app),
            parameters,
        }]));
    }
    // A retried webhook resumes the conversation rather than greeting again.
    let opening = if session.history.is_empty() {
        voice::greeting(&ctx)
    } else {
        super::next_question(&ctx, &session.state).unwrap_or_else(|| voice::greeting(&ctx))
    };
    Ok(twiml_reply(&listen(&app, &ctx, vec![Verb::say(opening, &voice)])))
}

fn not_on_plan_message(ctx: &Context) -> String {
    format!(
        "Thank you for calling {}. We can't take your call on this line right now. Please call back later, \
         or reach us through our website. Goodbye.",
        ctx.business.name
    )
}

fn busy_message(ctx: &Context) -> String {
    format!(
        "Thank you for calling {}. All of our lines are busy right now. Please leave your name, number and \
         what you need after the beep, and we'll call you back.",
        ctx.business.name
    )
}

/// A message, then a voicemail recording.
pub fn voicemail(app: &AppState, ctx: &Context, message: String) -> Vec<Verb> {
    let voice = say_voice(&ctx.agent);
    vec![
        Verb::say(message, &voice),
        Verb::Record {
            action: public_url(app, "/api/voice/recording"),
            max_length_secs: 120,
            status_callback: public_url(app, "/api/voice/recording-status"),
        },
        Verb::say("I didn't get a recording. Goodbye.", &voice),
        Verb::Hangup,
    ]
}

/// `POST /api/voice/status`: Twilio's call status callbacks.
async fn status(app: AppState, form: Form) -> Result<Response, Rejection> {
    let call_sid = CallSid::from(form.call_sid()?);
    let status = form.get("CallStatus").unwrap_or("unknown").to_string();
    app.store
        .record_call_status(CallStatus {
            call_sid: call_sid.clone(),
            status: status.clone(),
            to_number: form.business_number().map(str::to_string),
            from_number: form.caller_number().map(str::to_string),
            duration_seconds: form.get("CallDuration").and_then(|d| d.trim().parse().ok()),
            recording_url: form.get("RecordingUrl").map(str::to_string),
            sequence: form.get("SequenceNumber").and_then(|d| d.trim().parse().ok()),
            data: form.json(),
        })
        .await
        .map_err(reject)?;
    tracing::info!(%call_sid, status, "call status");
    Ok(warp::reply::with_status(warp::reply(), warp::http::StatusCode::NO_CONTENT).into_response())
}

/// `POST /api/voice/stream-ended`: the media stream closed without the call
/// being redirected; do what the bridge decided (or carry on turn by turn).
async fn stream_ended(app: AppState, form: Form) -> Result<Response, Rejection> {
    let call_sid = CallSid::from(form.call_sid()?);
    let ctx = call_context(&app, &form).await?;
    let step = app.voice.next(&call_sid).await.unwrap_or(NextStep::Gather);
    tracing::info!(%call_sid, ?step, "media stream ended");
    Ok(twiml_reply(&next_step_twiml(&app, &ctx, &call_sid, &step).await))
}

/// The TwiML for what comes after a media stream.
pub async fn next_step_twiml(app: &AppState, ctx: &Context, call_sid: &str, step: &NextStep) -> Vec<Verb> {
    let voice = say_voice(&ctx.agent);
    match step {
        NextStep::Hangup => vec![Verb::Hangup],
        NextStep::Transfer { number } => transfer(app, ctx, number),
        NextStep::Voicemail => voicemail(app, ctx, busy_message(ctx)),
        NextStep::Gather => {
            let next = super::ask_next(app, ctx, call_sid).await;
            let apology = "I'm sorry, I'm having trouble with this line.";
            let prompt = match next {
                Some(question) => format!("{apology} Let's carry on: {question}"),
                None => format!("{apology} How can I help you?"),
            };
            listen(app, ctx, vec![Verb::say(prompt, &voice)])
        }
    }
}

/// Puts the caller through to `number`; `/api/voice/dial-status` hears how it went.
pub fn transfer(app: &AppState, ctx: &Context, number: &str) -> Vec<Verb> {
    vec![Verb::Dial {
        number: number.to_string(),
        caller_id: ctx.business.twilio_phone_number.clone(),
        timeout_secs: 25,
        action: Some(public_url(app, "/api/voice/dial-status")),
    }]
}

/// `POST /api/voice/dial-status`: a transfer ended; nobody answered means voicemail.
async fn dial_status(app: AppState, form: Form) -> Result<Response, Rejection> {
    let ctx = call_context(&app, &form).await?;
    let outcome = form.get("DialCallStatus").unwrap_or("failed");
    tracing::info!(call_sid = form.get("CallSid"), outcome, "transfer ended");
    if matches!(outcome, "completed" | "answered") {
        return Ok(twiml_reply(&[Verb::Hangup]));
    }
    let message =
        "I'm sorry, nobody could take your call just now. Please leave your name, number and what you \
                   need after the beep, and we'll call you back as soon as we can.";
    Ok(twiml_reply(&voicemail(&app, &ctx, message.into())))
}

/// `POST /api/voice/recording`: the caller left a message.
async fn recording(app: AppState, form: Form) -> Result<Response, Rejection> {
    let call_sid = CallSid::from(form.call_sid()?);
    let ctx = call_context(&app, &form).await?;
    save_recording(&app, &ctx, &form).await?;
    super::finish_call(
        &app,
        &call_sid,
        &voicemail_summary(&app, &ctx, &call_sid).await,
        EndedReason::Voicemail,
    )
    .await;
    let voice = say_voice(&ctx.agent);
    Ok(twiml_reply(&[
        Verb::say("Thank you. We'll call you back as soon as we can. Goodbye.", &voice),
        Verb::Hangup,
    ]))
}

/// `POST /api/voice/recording-status`: the recording file is ready.
async fn recording_status(app: AppState, form: Form) -> Result<Response, Rejection> {
    let ctx = call_context(&app, &form).await?;
    save_recording(&app, &ctx, &form).await?;
    Ok(warp::reply::with_status(warp::reply(), warp::http::StatusCode::NO_CONTENT).into_response())
}

/// Keeps the recording with the call, and the call's lead with a note of it.
async fn save_recording(app: &AppState, ctx: &Context, form: &Form) -> Result<(), Rejection> {
    let call_sid = CallSid::from(form.call_sid()?);
    let Some(url) = form.get("RecordingUrl").filter(|u| !u.is_empty()) else { return Ok(()) };
    app.store
        .record_call_status(CallStatus {
            call_sid: call_sid.clone(),
            status: "voicemail".into(),
            to_number: form.business_number().map(str::to_string),
            from_number: form.caller_number().map(str::to_string),
            duration_seconds: None,
            recording_url: Some(url.to_string()),
            sequence: None,
            data: form.json(),
        })
        .await
        .map_err(reject)?;
    let session =
        call_session(app, ctx, &call_sid, form.caller_number(), form.business_number(), CallMode::Gather)
            .await
            .map_err(turn_reject)?;
    let seconds = form.get("RecordingDuration").unwrap_or("?");
    record_note(app, ctx, &call_sid, session, &format!("Voicemail ({seconds} s): {url}")).await;
    Ok(())
}

async fn voicemail_summary(app: &AppState, ctx: &Context, call_sid: &str) -> String {
    match engine::load_session(app, call_sid, &ctx.business.id).await {
        Some(session) => format!("Voicemail — {}", voice::summary(ctx, &session.state)),
        None => "Voicemail".into(),
    }
}

/// The business a call was placed to (by the `To` number; a test call's `From`).
pub async fn call_context(app: &AppState, form: &Form) -> Result<Context, Rejection> {
    let to = form.business_number().unwrap_or_default();
    let business = app.store.business_by_number(to).await.map_err(reject)?;
    engine::context(app, &business.id).await.map_err(turn_reject)
}

pub fn reject(e: StoreError) -> Rejection {
    warp::reject::custom(ApiError::from(e))
}

pub fn turn_reject(e: engine::TurnError) -> Rejection {
    warp::reject::custom(ApiError::from(e))
}
