//! Gather mode: the call turn by turn, with Twilio's speech recognition
//! (`<Gather input="speech">`) and voices (`<Say>`), and the same engine as
//! the chat. Works with the local engine and no OpenAI key at all.
//!
//! A reply slower than `VOICE_GATHER_REPLY_WAIT_MS` (a chat model thinking)
//! is not waited for: the caller hears a short hold line at once and the
//! reply is delivered by redirecting the live call when it is ready, so
//! Twilio's 15-second webhook timeout is never reached.

use std::time::Duration;

use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::webhooks::{call_context, signed, transfer, turn_reject, voicemail, Form};
use super::{call_session, listen, next_question, public_url, say_voice, twiml_reply};
use crate::agent::conversation::Context;
use crate::agent::voice;
use crate::channels::engine::{self, Reply as TurnReply, Session, TurnError};
use crate::domain::{CallMode, Channel, EndedReason};
use crate::http::with_state;
use crate::ids::CallSid;
use crate::state::AppState;
use crate::twilio::CallUpdate;
use crate::twiml::{self, Verb};

/// Hold-and-redirect rounds before giving up on a reply.
const MAX_HOLDS: u32 = 10;

pub fn routes(app: AppState) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let speech = warp::path!("api" / "voice" / "handle-speech")
        .and(with_state(app.clone()))
        .and(signed(app.clone()))
        .and_then(handle_speech);
    let reply = warp::path!("api" / "voice" / "gather-reply")
        .and(warp::query::<HoldQuery>())
        .and(with_state(app.clone()))
        .and(signed(app))
        .and_then(gather_reply);
    speech.or(reply)
}

#[derive(serde::Deserialize)]
struct HoldQuery {
    #[serde(default)]
    hold: u32,
}

/// `POST /api/voice/handle-speech`: what the caller said (`SpeechResult`).
async fn handle_speech(app: AppState, form: Form) -> Result<Response, Rejection> {
    // The caller's words are here: the reply's latency counts from now.
    let received = std::time::Instant::now();
    let call_sid = CallSid::from(form.call_sid()?);
    let ctx = call_context(&app, &form).await?;
    let mut session =
        call_session(&app, &ctx, &call_sid, form.caller_number(), form.business_number(), CallMode::Gather)
            .await
            .map_err(turn_reject)?;
    let speech = form.get("SpeechResult").unwrap_or_default().trim().to_string();
    if speech.is_empty() {
        return Ok(twiml_reply(&silence(&app, &ctx, &call_sid, session).await));
    }
    if session.silences > 0 {
        session.silences = 0;
        engine::save_session(&app, &call_sid, &session).await;
    }
    tracing::info!(%call_sid, confidence = form.get("Confidence"), "caller spoke");
    // Recorded when the TwiML answer is ready: the reply, or the hold line
    // ("One moment, please") when the reply is slow, is what the caller hears first.
    let answered = |app: &AppState| {
        let elapsed = received.elapsed();
        let sample = engine::latency_sample(
            &ctx.business,
            &session.conversation_id,
            Channel::Voice,
            "gather",
            elapsed,
        );
        engine::record_latency(app, sample);
    };

    let turn = {
        let (app, ctx, call_sid) = (app.clone(), ctx.clone(), call_sid.clone());
        tokio::spawn(async move {
            engine::run_turn(&app, &ctx, Channel::Voice, Some(call_sid.as_str()), &speech, None, false).await
        })
    };
    let wait = Duration::from_millis(app.config.voice.gather_reply_wait_ms);
    let mut turn = turn;
    match tokio::time::timeout(wait, &mut turn).await {
        Ok(joined) => {
            let result = joined.unwrap_or_else(|e| Err(TurnError::Provider(e.to_string())));
            let verbs = reply_verbs(&app, &ctx, &call_sid, result).await;
            answered(&app);
            Ok(twiml_reply(&verbs))
        }
        Err(_) => {
            tracing::info!(%call_sid, "reply is slow; the caller holds");
            let held = app.voice.hold_reply(&call_sid).await;
            let (app2, ctx2, sid) = (app.clone(), ctx.clone(), call_sid.clone());
            tokio::spawn(async move {
                let result = turn.await.unwrap_or_else(|e| Err(TurnError::Provider(e.to_string())));
                let doc = twiml::render(&reply_verbs(&app2, &ctx2, &sid, result).await);
                if app2.voice.reply_ready(&sid, &held, &doc, false).await {
                    deliver(&app2, &sid, &held).await;
                }
            });
            answered(&app);
            Ok(twiml_reply(&hold(&app, &ctx, 1)))
        }
    }
}

/// Sends a ready reply to the live call through Twilio's REST API, unless
/// the caller's redirect (to this instance or another) fetched it first.
async fn deliver(app: &AppState, call_sid: &str, turn: &str) {
    let Some(twilio) = &app.twilio else { return };
    let Some(doc) = app.voice.take_reply(call_sid).await else { return };
    match twilio.update_call(call_sid, &CallUpdate::Twiml(doc.clone())).await {
        Ok(()) => tracing::info!(%call_sid, "slow reply delivered by redirecting the call"),
        Err(e) => {
            // The hold loop's redirect picks it up instead.
            tracing::warn!(%call_sid, error = %e, "could not redirect the call; the hold loop will fetch the reply");
            app.voice.reply_ready(call_sid, turn, &doc, true).await;
        }
    }
}

/// A short hold line, then ask again for the reply.
fn hold(app: &AppState, ctx: &Context, round: u32) -> Vec<Verb> {
    let voice = say_voice(&ctx.agent);
    let mut verbs = Vec::new();
    if round == 1 {
        verbs.push(Verb::say("One moment, please.", &voice));
    }
    verbs.push(Verb::Pause { seconds: 2 });
    verbs.push(Verb::Redirect {
        url: public_url(app, &format!("/api/voice/gather-reply?hold={}", round + 1)),
    });
    verbs
}

/// `POST /api/voice/gather-reply`: the hold loop asks whether the reply is ready.
async fn gather_reply(query: HoldQuery, app: AppState, form: Form) -> Result<Response, Rejection> {
    let call_sid = CallSid::from(form.call_sid()?);
    let ctx = call_context(&app, &form).await?;
    if let Some(doc) = app.voice.take_reply(&call_sid).await {
        let mut response = Response::new(doc.into());
        response.headers_mut().insert(
            warp::http::header::CONTENT_TYPE,
            warp::http::HeaderValue::from_static("text/xml; charset=utf-8"),
        );
        return Ok(response);
    }
    let waiting = app.voice.reply_pending(&call_sid).await;
    if waiting && query.hold <= MAX_HOLDS {
        return Ok(twiml_reply(&hold(&app, &ctx, query.hold.max(2))));
    }
    // Nothing coming (lost, or far too slow): ask again rather than leave silence.
    let voice = say_voice(&ctx.agent);
    Ok(twiml_reply(&listen(
        &app,
        &ctx,
        vec![Verb::say("Sorry about the wait. Could you say that again?", &voice)],
    )))
}

/// What the caller hears after a turn.
async fn reply_verbs(
    app: &AppState,
    ctx: &Context,
    call_sid: &CallSid,
    result: Result<TurnReply, TurnError>,
) -> Vec<Verb> {
    let voice = say_voice(&ctx.agent);
    let reply = match result {
        Ok(reply) => reply,
        Err(e) => {
            tracing::error!(%call_sid, error = %e, "turn failed");
            return listen(
                app,
                ctx,
                vec![Verb::say("Sorry, I missed that. Could you say it again?", &voice)],
            );
        }
    };
    let owner = ctx.business.notification_phone_number.clone();
    if reply.human_requested {
        if let Some(number) = owner {
            let mut verbs = vec![Verb::say("Let me put you through to someone now.", &voice)];
            verbs.extend(transfer(app, ctx, &number));
            finish(app, ctx, call_sid, EndedReason::Transferred).await;
            return verbs;
        }
    }
    if reply.done {
        finish(app, ctx, call_sid, EndedReason::AgentHungUp).await;
        return vec![Verb::say(reply.text, &voice), Verb::say(voice::goodbye(ctx), &voice), Verb::Hangup];
    }
    listen(app, ctx, vec![Verb::say(reply.text, &voice)])
}

/// Nothing was said: ask once more, then take a message.
async fn silence(app: &AppState, ctx: &Context, call_sid: &CallSid, mut session: Session) -> Vec<Verb> {
    session.silences = session.silences.saturating_add(1);
    engine::save_session(app, call_sid, &session).await;
    if session.silences >= 2 {
        tracing::info!(%call_sid, "no answer twice; taking a message");
        finish(app, ctx, call_sid, EndedReason::Voicemail).await;
        return voicemail(
            app,
            ctx,
            "I'll take a message instead. Please leave your name, number and what you need after the beep."
                .into(),
        );
    }
    let voice = say_voice(&ctx.agent);
    let again = next_question(ctx, &session.state).unwrap_or_else(|| "How can I help you today?".into());
    listen(app, ctx, vec![Verb::say(format!("Sorry, I didn't catch that. {again}"), &voice)])
}

/// Saves the call's summary and how it ended.
async fn finish(app: &AppState, ctx: &Context, call_sid: &CallSid, reason: EndedReason) {
    let summary = match engine::load_session(app, call_sid, &ctx.business.id).await {
        Some(session) => voice::summary(ctx, &session.state),
        None => String::new(),
    };
    super::finish_call(app, call_sid, &summary, reason).await;
}
