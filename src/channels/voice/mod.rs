//! The phone: Twilio calls answered by the conversation engine, live through
//! the OpenAI Realtime API (`bridge`) or turn by turn with Twilio's own
//! speech recognition and voices (`gather`).
//!
//! A call's audio goes Twilio → `bridge` → OpenAI and back; the lead it
//! captures is saved through `channels::engine` like a chat's. Webhooks
//! (`webhooks`) are verified against `X-Twilio-Signature` before anything
//! else happens.

pub mod bridge;
pub mod cpu_guard;
pub mod fast_json;
pub mod gather;
pub mod playback;
pub mod realtime_wire;
pub mod samples;
pub mod stream_token;
pub mod test_call;
pub mod twilio_wire;
pub mod twiml;
pub mod webhooks;

use std::time::Duration;

use warp::http::{header, HeaderValue};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::engine::{self, Session};
use crate::agent::answers;
use crate::agent::conversation::{self, Context, State};
use crate::domain::{AgentConfig, VoiceMode};
use crate::server::AppState;
use crate::sessions::Shared;
use crate::store::NewCall;
use twiml::{Verb, Voice};

/// What a call does when its media stream ends, decided by the bridge and
/// read by the stream's `<Connect action>` when Twilio could not be told
/// directly (no REST credentials, or the REST call failed).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum NextStep {
    /// Carry on turn by turn (the realtime model failed).
    Gather,
    Transfer {
        number: String,
    },
    Hangup,
    /// Every line is busy: take a message.
    Voicemail,
}

/// How long a call's passed-on decisions are kept.
const CALL_STATE: Duration = Duration::from_secs(1800);

/// Voice state passed from one request of a call to the next, which may
/// land on another instance: it lives in the shared store. What lives for
/// the whole call stays in the call's own task (a media stream's bridge, on
/// the instance that accepted the stream).
pub struct Calls {
    kv: Shared,
    /// The voice page's "listen" samples being made.
    pub samples: samples::Samples,
    /// Test calls placed per business ("call my receptionist"), counted across instances.
    pub test_calls: crate::web::ratelimit::RateLimiter,
    /// This instance's CPU, checked before a realtime call is taken.
    pub cpu: cpu_guard::CpuGuard,
}

impl Calls {
    pub fn new(store: &Shared) -> Calls {
        Calls {
            kv: store.space(100_000),
            samples: samples::Samples::new(store),
            test_calls: test_call::limiter(store),
            cpu: cpu_guard::CpuGuard::new(),
        }
    }

    pub async fn set_next(&self, call_sid: &str, step: NextStep) {
        match serde_json::to_string(&step) {
            Ok(json) => self.kv.set(&format!("call:next:{call_sid}"), &json, CALL_STATE).await,
            Err(e) => tracing::error!(call_sid, error = %e, "next step could not be serialised"),
        }
    }

    pub async fn next(&self, call_sid: &str) -> Option<NextStep> {
        let json = self.kv.get(&format!("call:next:{call_sid}")).await?;
        serde_json::from_str(&json).ok()
    }

    /// Marks a stream token used; false when it already was (a replay).
    pub async fn first_use(&self, token: &str) -> bool {
        let ttl = Duration::from_secs(stream_token::LIFETIME_SECS.unsigned_abs() * 2);
        self.kv.set_nx(&format!("stream:used:{token}"), "1", ttl).await
    }

    /// Gather mode: the caller holds while a reply is worked out. Returns
    /// the turn's id, which [`Calls::reply_ready`] names.
    pub(crate) async fn hold_reply(&self, call_sid: &str) -> String {
        let turn = crate::domain::new_id();
        self.kv.set(&reply_key(call_sid), &format!("waiting {turn}"), CALL_STATE).await;
        turn
    }

    /// The held turn's reply is ready (unless a newer turn replaced it, or
    /// `again`: a reply taken but not delivered is offered once more).
    pub(crate) async fn reply_ready(&self, call_sid: &str, turn: &str, twiml: &str, again: bool) -> bool {
        let from = if again { format!("delivered {turn}") } else { format!("waiting {turn}") };
        self.kv.cas(&reply_key(call_sid), &from, &format!("ready {turn} {twiml}"), CALL_STATE).await
    }

    /// The ready reply's TwiML, once, to whoever asks first (the hold loop's
    /// redirect, on any instance, or the REST update).
    pub(crate) async fn take_reply(&self, call_sid: &str) -> Option<String> {
        let key = reply_key(call_sid);
        let current = self.kv.get(&key).await?;
        let mut parts = current.splitn(3, ' ');
        let (Some("ready"), Some(turn), Some(twiml)) = (parts.next(), parts.next(), parts.next()) else {
            return None;
        };
        let taken = self.kv.cas(&key, &current, &format!("delivered {turn}"), CALL_STATE).await;
        taken.then(|| twiml.to_string())
    }

    /// Whether a held reply is still coming (not yet taken).
    pub(crate) async fn reply_pending(&self, call_sid: &str) -> bool {
        let current = self.kv.get(&reply_key(call_sid)).await;
        current.is_some_and(|v| v.starts_with("waiting ") || v.starts_with("ready "))
    }
}

fn reply_key(call_sid: &str) -> String {
    format!("call:reply:{call_sid}")
}

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
    let base = &app.config.twilio.webhook_base_url;
    let base = if base.is_empty() { app.config.public_url() } else { base.trim_end_matches('/').to_string() };
    format!("{base}{path}")
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
    call_sid: &str,
    from: Option<&str>,
    to: Option<&str>,
    mode: &str,
) -> Result<Session, engine::TurnError> {
    let business_id = &ctx.business.id;
    if let Some(session) = engine::load_session(app, call_sid, business_id).await {
        return Ok(session);
    }
    let conversation_id = app
        .store
        .start_call(NewCall {
            call_sid: call_sid.to_string(),
            business_id: business_id.clone(),
            from_number: from.map(str::to_string),
            to_number: to.map(str::to_string),
            mode: mode.to_string(),
        })
        .await?;
    let state = State { caller_id: caller_id(from, &ctx.business.country), ..State::default() };
    let session = Session::new(business_id, conversation_id, crate::domain::Channel::Voice, state);
    engine::save_session(app, call_sid, &session).await;
    Ok(session)
}

/// Saves how a call ended (once; later calls keep the first reason) and
/// wakes the notifications worker for its call-ended messages.
pub async fn finish_call(app: &AppState, call_sid: &str, summary: &str, reason: &str) {
    match app.store.finish_call(call_sid, summary, reason, app.notify_policy()).await {
        Ok(()) => app.notify_wake.notify_one(),
        Err(e) => tracing::error!(call_sid, error = %e, "could not save the end of the call"),
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
