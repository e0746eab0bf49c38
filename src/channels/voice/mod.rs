//! The phone: Twilio calls answered by the conversation engine, live through
//! the OpenAI Realtime API (`bridge`) or turn by turn with Twilio's own
//! speech recognition and voices (`gather`).
//!
//! A call's audio goes Twilio → `bridge` → OpenAI and back; the lead it
//! captures is saved through `channels::engine` like a chat's. Webhooks
//! (`webhooks`) are verified against `X-Twilio-Signature` before anything
//! else happens.

pub mod bridge;
pub mod calls;
pub mod cpu_guard;
pub mod fast_json;
pub mod gather;
pub mod playback;
pub mod realtime_wire;
pub mod samples;
pub mod stream_token;
pub mod test_call;
pub mod twilio_wire;
pub mod webhooks;

/// The TwiML writer, where the bridge (`bridge/leaving.rs`) looks for it.
pub use crate::twiml;

use warp::http::{header, HeaderValue};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::engine::{self, Session};
use crate::agent::answers;
use crate::agent::conversation::{self, Context, State};
use crate::domain::{AgentConfig, CallMode, Channel, EndedReason, Speaker, VoiceMode};
use crate::ids::CallSid;
use crate::state::AppState;
use crate::store::{NewCall, TurnRecord};
use crate::twiml::{Verb, Voice};
pub use calls::{Calls, NextStep};

pub fn routes(app: AppState) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    webhooks::routes(app.clone()).or(gather::routes(app.clone())).or(bridge::route(app))
}

/// Is this call answered by the realtime model? Needs an API key and model,
/// the realtime and WebSocket features on, and the business not set to gather.
pub fn realtime_enabled(app: &AppState, agent: &AgentConfig) -> bool {
    let c = &app.config;
    let configured = !c.openai.api_key.is_empty()
        && !c.openai.realtime_model.is_empty()
        && c.features.realtime_api
        && c.features.websocket_features;
    configured && agent.voice_mode != VoiceMode::Gather
}

/// The URL Twilio requests for `path` (what its signatures are computed over).
pub fn public_url(app: &AppState, path: &str) -> String {
    crate::twilio::request_url(&app.config.twilio_base_url(), path, "")
}

/// `wss://host/api/voice/stream`: Twilio only streams over TLS.
pub fn stream_url(app: &AppState) -> String {
    let host = if app.config.server.hostname.is_empty() {
        url::Url::parse(&public_url(app, "/")).ok().and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(port) => format!("{h}:{port}"),
                None => h.to_string(),
            })
        })
    } else {
        Some(app.config.server.hostname.clone())
    };
    format!("wss://{}/api/voice/stream", host.unwrap_or_else(|| "localhost".into()))
}

/// The `<Say>` voice of a business.
pub fn say_voice(agent: &AgentConfig) -> Voice {
    Voice { name: agent.twilio_voice.clone(), language: agent.twilio_language.clone() }
}

/// A TwiML response.
pub fn twiml_reply(verbs: &[Verb]) -> Response {
    let mut response = Response::new(twiml::render(verbs).into());
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml; charset=utf-8"));
    response
}

/// The caller's number as E.164, unless withheld.
pub fn caller_id(from: Option<&str>, country: &str) -> Option<String> {
    from.filter(|f| f.starts_with('+')).and_then(|f| answers::normalise_phone(f, country).ok())
}

/// The call's conversation session (keyed by CallSid), restored or started.
/// Starting is idempotent per CallSid, so a retried webhook or a call that
/// moves from realtime to gather keeps one conversation and one lead.
pub async fn call_session(
    app: &AppState,
    ctx: &Context,
    call_sid: &CallSid,
    from: Option<&str>,
    to: Option<&str>,
    mode: CallMode,
) -> Result<Session, engine::TurnError> {
    let business_id = &ctx.business.id;
    if let Some(session) = engine::load_session(app, call_sid, business_id).await {
        return Ok(session);
    }
    let conversation_id = app
        .store
        .start_call(NewCall {
            call_sid: call_sid.clone(),
            business_id: business_id.clone(),
            from_number: from.map(str::to_string),
            to_number: to.map(str::to_string),
            mode,
        })
        .await?;
    let state = State { caller_id: caller_id(from, &ctx.business.country), ..State::default() };
    let session = Session::new(business_id, conversation_id, crate::domain::Channel::Voice, state);
    engine::save_session(app, call_sid, &session).await;
    Ok(session)
}

/// Saves how a call ended (once; later calls keep the first reason) and
/// wakes the notifications worker for its call-ended messages.
pub async fn finish_call(app: &AppState, call_sid: &CallSid, summary: &str, reason: EndedReason) {
    match app.store.finish_call(call_sid, summary, reason, app.notify_policy()).await {
        Ok(()) => app.notify_wake.notify_one(),
        Err(e) => tracing::error!(%call_sid, error = %e, "could not save the end of the call"),
    }
}

/// The next question to put to the caller, if any.
pub fn next_question(ctx: &Context, state: &State) -> Option<String> {
    conversation::pending_questions(ctx, state).first().map(|q| conversation::ask(ctx, state, q))
}

/// Puts the next question to the caller outside a turn (after a realtime
/// session failed): it is remembered as the question awaiting an answer, so
/// what the caller says next is taken as its answer.
pub async fn ask_next(app: &AppState, ctx: &Context, call_sid: &str) -> Option<String> {
    let mut session = engine::load_session(app, call_sid, &ctx.business.id).await?;
    let q = conversation::pending_questions(ctx, &session.state).first().copied()?;
    let text = conversation::ask(ctx, &session.state, q);
    session.state.current = Some(q.order);
    session.state.reasks = 0;
    engine::save_session(app, call_sid, &session).await;
    Some(text)
}

/// Says `prompt` and listens; Twilio posts what the caller said (or nothing).
pub fn listen(app: &AppState, ctx: &Context, prompt: Vec<Verb>) -> Vec<Verb> {
    let action = public_url(app, "/api/voice/handle-speech");
    vec![
        Verb::Gather {
            action: action.clone(),
            language: ctx.agent.twilio_language.clone(),
            hints: String::new(),
            prompt,
        },
        // Only reached if Twilio skips the action: ask again through the same handler.
        Verb::Redirect { url: action },
    ]
}

/// Adds a note to the call's transcript and keeps its lead (caller ID at least).
pub async fn record_note(app: &AppState, ctx: &Context, call_sid: &str, mut session: Session, note: &str) {
    let lead = Some(conversation::lead_draft(ctx, &session.state)).filter(|l| l.has_contact());
    let record = TurnRecord {
        business_id: ctx.business.id.clone(),
        conversation_id: session.conversation_id.clone(),
        channel: Channel::Voice,
        messages: vec![(Speaker::System, note.to_string())],
        lead,
        level: session.state.level(),
        escalate: false,
        events: Vec::new(),
        notify: app.notify_policy(),
        unalerted_reply: None,
        details_complete: conversation::remaining_questions(ctx, &session.state) == 0,
    };
    match app.store.record_turn(record).await {
        Ok(saved) => {
            app.notify_wake.notify_one();
            session.lead_id = saved.lead_id.or(session.lead_id);
            engine::save_session(app, call_sid, &session).await;
        }
        Err(e) => tracing::error!(call_sid, error = %e, "could not save a call note"),
    }
}
