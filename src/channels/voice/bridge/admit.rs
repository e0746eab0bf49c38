//! A media stream's way in: the WebSocket upgrade (Twilio's signature, the
//! line limit), Twilio's `start`, the stream token issued by `incoming`,
//! then one [`Bridge`] for the call.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use std::future::Future;

use futures_util::future::Either;
use futures_util::{FutureExt, StreamExt};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tracing::Instrument;
use warp::{Filter, Rejection, Reply};

use super::{Bridge, HANDSHAKE, MAX_FRAME};
use crate::agent::voice::KnowledgeBrief;
use crate::channels::engine;
use crate::channels::voice::twilio_wire::{self as tw, Inbound};
use crate::channels::voice::{self, stream_url};
use crate::domain::CallMode;
use crate::error::ApiError;
use crate::http::websocket::{self, ServerSocket};
use crate::http::with_state;
use crate::state::AppState;

/// Knowledge documents described in the model's instructions.
const KNOWLEDGE_BRIEFS: usize = 12;
/// Bytes written to Twilio's socket are held until a flush (or this many):
/// an audio chunk and its mark go out in one write.
const TWILIO_WRITE_BATCH: usize = 16 * 1024;

/// `GET /api/voice/stream` (WebSocket): Twilio's bidirectional media stream.
pub fn route(app: AppState) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("api" / "voice" / "stream")
        .and(websocket::upgrade())
        .and(with_state(app))
        .and(warp::header::optional::<String>("x-twilio-signature"))
        .and_then(upgrade)
}

async fn upgrade(
    ws: websocket::Upgrade,
    app: AppState,
    signature: Option<String>,
) -> Result<impl Reply, Rejection> {
    // Twilio signs the upgrade over the wss:// URL with no parameters.
    let token = app.config.twilio.auth_token.expose();
    if !crate::twilio::validate(token, signature.as_deref().unwrap_or_default(), &stream_url(&app), &[]) {
        tracing::warn!("rejected a media stream without a valid Twilio signature");
        return Err(warp::reject::custom(ApiError::Forbidden("invalid X-Twilio-Signature".into())));
    }
    if !app.config.features.websocket_features {
        return Err(warp::reject::custom(ApiError::Forbidden("media streams are switched off".into())));
    }
    let max = app.config.websocket.max_connections as usize;
    let Some(slot) = Slot::take(&app.websockets, max) else {
        tracing::warn!(max, "media stream refused: every line is busy");
        return Err(warp::reject::custom(ApiError::Unavailable("every line is busy".into())));
    };
    let limits = websocket::Limits { max_message: MAX_FRAME, write_batch: TWILIO_WRITE_BATCH };
    // Combinators, not `async` blocks: an `async` block keeps what it
    // captured beside what it awaits for the call's whole life.
    Ok(ws.on_upgrade(limits, move |socket| run(app, socket).map(move |()| drop(slot))))
}

/// One of `MAX_WEBSOCKET_CONNECTIONS` media streams, given back on drop.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(counter: &Arc<AtomicUsize>, max: usize) -> Option<Slot> {
        counter.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1)).ok()?;
        Some(Slot(counter.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs one call from Twilio's `start` to its end.
fn run(app: AppState, socket: ServerSocket) -> impl Future<Output = ()> + Send {
    // The way in (start, token, the business, the session) is a boxed
    // future of its own, gone once the call is up; then the bridge runs in
    // its place. Kept inline or in one `async` block, the way in's largest
    // state and the bridge's would add up in every call's task for the
    // call's whole life (issue 17: memory per call).
    Box::pin(open(app, socket)).then(|opened| match opened {
        Some((bridge, span)) => Either::Left(bridge.run().instrument(span)),
        None => Either::Right(std::future::ready(())),
    })
}

/// Everything before the audio flows: the call's bridge, and its span.
async fn open(app: AppState, mut socket: ServerSocket) -> Option<(Box<Bridge>, tracing::Span)> {
    // One owner for the whole socket: no split halves, no lock between them.
    let Some(start) = wait_for_start(&mut socket).await else {
        tracing::warn!("media stream closed before it started");
        return None;
    };
    let call = match admit(&app, &start).await {
        Ok(call) => call,
        Err(why) => {
            tracing::warn!(call_sid = %start.call_sid, reason = %why, "media stream refused");
            return None;
        }
    };
    let span = tracing::info_span!("call", call_sid = %call.call_sid, business_id = %call.business_id.as_deref().unwrap_or_default());
    let bridge = bridge(app, call, start, socket).instrument(span.clone()).await?;
    Some((bridge, span))
}

/// The admitted call's bridge: its business, its conversation, what the
/// model is told of the knowledge base.
async fn bridge(
    app: AppState,
    call: crate::domain::Call,
    start: tw::Start,
    socket: ServerSocket,
) -> Option<Box<Bridge>> {
    let business_id = call.business_id.clone().unwrap_or_default();
    let ctx = match engine::context(&app, &business_id).await {
        Ok(ctx) => ctx,
        Err(e) => {
            tracing::error!(error = %e, "media stream for an unknown business");
            return None;
        }
    };
    // Who called is what Twilio told `incoming`, not what the stream claims.
    let from = call.from_number.as_deref();
    let to = ctx.business.twilio_phone_number.clone();
    let session = match voice::call_session(
        &app,
        &ctx,
        &call.call_sid,
        from,
        to.as_deref(),
        CallMode::Realtime,
    )
    .await
    {
        Ok(session) => session,
        Err(e) => {
            tracing::error!(error = %e, "could not start the call's conversation");
            return None;
        }
    };
    let knowledge = match app.store.knowledge_overview(&business_id, KNOWLEDGE_BRIEFS).await {
        Ok(docs) => docs.into_iter().map(|(title, text)| brief(title, &text)).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "knowledge overview unavailable");
            Vec::new()
        }
    };
    let call_sid = call.call_sid.into_string();
    Some(Box::new(Bridge::new(app, ctx, call_sid, start.stream_sid, session, knowledge, socket)))
}

/// The call a stream may join: the one its token was issued for by
/// `incoming`, recorded for that business, the token unused and in time.
async fn admit(app: &AppState, start: &tw::Start) -> Result<crate::domain::Call, String> {
    let param = |name: &str| start.custom_parameters.get(name).map(String::as_str).unwrap_or_default();
    let (call_sid, business_id, token) = (start.call_sid.as_str(), param("businessId"), param("token"));
    if !param("callSid").is_empty() && param("callSid") != call_sid {
        return Err("the stream's callSid parameter is not its call".into());
    }
    let now = chrono::Utc::now().timestamp();
    voice::stream_token::check(app.jwt_secret.expose().as_bytes(), token, call_sid, business_id, now)
        .map_err(|e| e.to_string())?;
    let call = app
        .store
        .call(&crate::ids::CallSid::from(call_sid))
        .await
        .map_err(|e| format!("no such call: {e}"))?;
    if call.business_id.as_deref() != Some(business_id) {
        return Err("the call belongs to another business".into());
    }
    if !app.voice.first_use(token).await {
        return Err("the stream's token was used already".into());
    }
    Ok(call)
}

async fn wait_for_start(rx: &mut ServerSocket) -> Option<tw::Start> {
    let deadline = Instant::now() + HANDSHAKE;
    loop {
        let message = tokio::time::timeout_at(deadline, rx.next()).await.ok()??.ok()?;
        let text = match message {
            Message::Text(text) => text,
            Message::Close(_) => return None,
            _ => continue,
        };
        match tw::parse(text.as_str()) {
            Ok(Inbound::Start(start)) => return Some(start),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "malformed message before start"),
        }
    }
}

/// A document's title and its opening words.
fn brief(title: String, text: &str) -> KnowledgeBrief {
    let mut excerpt = String::new();
    for sentence in crate::retrieval::sentences(text) {
        if !excerpt.is_empty() && excerpt.len() + sentence.len() > 200 {
            break;
        }
        if !excerpt.is_empty() {
            excerpt.push(' ');
        }
        excerpt.push_str(sentence);
    }
    KnowledgeBrief { title, excerpt: excerpt.chars().take(240).collect() }
}
