//! A live call: Twilio's media stream joined to an OpenAI Realtime session.
//!
//! One task per call owns everything about it (nothing is shared between
//! calls): it forwards caller audio to the model and the model's audio to the
//! caller without re-encoding, cuts the model off when the caller talks over
//! it (`playback`), runs the tools the model calls through the engine, keeps
//! both sides of the transcript, and saves the lead as it goes. If the model
//! fails, the caller hears an apology and carries on turn by turn (`gather`)
//! with everything captured so far.
//!
//! The call's state lives in small owned parts, each tested on its own, and
//! the loop here only routes events between them: `playback` (what the
//! caller heard), `gate` (one model response at a time, and the filler),
//! `held_line` (the assistant's line in the transcript), `ending` (the last
//! line, the hand-over and why the call ended), `tool_runner` (a
//! response's function calls, background searches) and `twilio_out` (what
//! is written to Twilio: audio with its marks, `clear`). Around them: `admit`
//! (a stream's way in), `model` (the Realtime socket), `tool_calls` and
//! `leaving` (what tools and hand-overs do), `persist` (saving, in order).

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{interval, sleep_until, Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tracing::Instrument;

mod admit;
mod ending;
mod gate;
mod held_line;
mod leaving;
mod model;
mod persist;
mod ready;
mod tool_calls;
mod tool_runner;
mod twilio_out;

pub use admit::route;
use ending::{Ending, Late};
use gate::{Ask, ResponseGate};
use held_line::HeldLine;
use model::{connect, Model};
use persist::{persister, Persist};
use ready::ready;
use tool_runner::{FunctionCall, ToolDone, ToolRunner};
use twilio_out::TwilioOut;

use crate::agent::alerts;
use crate::agent::conversation::{self, Context};
use crate::agent::tools::{self, Effect, Handoff, KnowledgeSource};
use crate::agent::voice::{self, KnowledgeBrief};
use crate::channels::engine::{self, Session};
use crate::channels::voice::playback::{Playback, MARK_EVERY_MS};
use crate::channels::voice::realtime_wire::{self as rt, ResponseStatus, ServerEvent, SessionConfig};
use crate::channels::voice::twilio_wire::{self as tw, Inbound};
use crate::channels::voice::webhooks::{next_step_twiml, transfer};
use crate::channels::voice::NextStep;
use crate::domain::{Channel, EndedReason, Priority, Speaker};
use crate::http::websocket::{self, ServerSocket};
use crate::retrieval::Passage;
use crate::state::AppState;
use crate::store::{TurnRecord, TurnSaved};
use crate::twilio::CallUpdate;

type ModelSocket = websocket::client::ClientSocket;

/// Longest wait for Twilio's `start` message, and for a model session to open.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// After the call left the AI (transfer, hang-up, fallback), how long to wait for Twilio's `stop`.
const LINGER: Duration = Duration::from_secs(10);
/// Malformed frames logged per call at warn level; the rest at debug.
const LOUD_ERRORS: u32 = 3;
/// Largest frame accepted from Twilio or the model.
const MAX_FRAME: usize = 256 * 1024;
/// Messages already received on a socket handled in one wakeup, before what
/// they caused is written out in one flush per socket.
const READ_BATCH: usize = 16;

struct Bridge {
    app: AppState,
    ctx: Context,
    call_sid: String,
    session: Session,
    knowledge: Vec<KnowledgeBrief>,
    twilio: TwilioOut<ServerSocket>,
    model: Model,
    /// Caller audio written to the model but not flushed yet.
    model_unflushed: bool,
    /// Latest inbound media timestamp: the stream's clock.
    now_ms: u64,
    /// Caller audio waiting for the model session to be ready.
    buffer: VecDeque<String>,
    buffer_max: usize,
    playback: Playback,
    /// The assistant's line, held for the transcript until it has been heard.
    line: HeldLine,
    /// One model response at a time, and the filler line.
    gate: ResponseGate,
    /// When the caller last stopped speaking, until the reply's first audio goes out.
    speech_ended: Option<Instant>,
    /// The response's function calls and the searches running.
    tools: ToolRunner,
    greeted: bool,
    /// Where the call is in leaving the AI, and why it ended.
    ending: Ending,
    rollover_at: Instant,
    persist: mpsc::UnboundedSender<Persist>,
    persister: tokio::task::JoinHandle<()>,
    last_twilio_pong: Instant,
    last_model_pong: Instant,
    errors: u32,
}

impl Bridge {
    fn new(
        app: AppState,
        ctx: Context,
        call_sid: String,
        stream_sid: String,
        session: Session,
        knowledge: Vec<KnowledgeBrief>,
        twilio: ServerSocket,
    ) -> Bridge {
        let (persist, rx) = mpsc::unbounded_channel();
        let persister = tokio::spawn(persister(app.clone(), call_sid.clone(), rx).in_current_span());
        let voice = &app.config.voice;
        let model = connect(&app);
        Bridge {
            buffer_max: (voice.audio_buffer_ms / 20).max(1) as usize,
            rollover_at: Instant::now() + Duration::from_secs(voice.realtime_session_max_secs),
            app,
            ctx,
            call_sid,
            session,
            knowledge,
            twilio: TwilioOut::new(twilio, stream_sid),
            model,
            model_unflushed: false,
            now_ms: 0,
            buffer: VecDeque::new(),
            playback: Playback::default(),
            line: HeldLine::default(),
            gate: ResponseGate::default(),
            speech_ended: None,
            tools: ToolRunner::default(),
            greeted: false,
            ending: Ending::default(),
            persist,
            persister,
            last_twilio_pong: Instant::now(),
            last_model_pong: Instant::now(),
            errors: 0,
        }
    }

    /// Boxed: a call's future then holds a pointer to its state, not two
    /// copies of it (an async fn keeps its argument and the moved-in local
    /// apart), which was half of a call's memory (issue 17).
    async fn run(mut self: Box<Self>) {
        let ws = &self.app.config.websocket;
        let ping_every = Duration::from_millis(ws.ping_interval_ms);
        let pong_grace = ping_every + Duration::from_millis(ws.pong_timeout_ms);
        let mut ping = interval(ping_every);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ping.tick().await;
        // One timer for every deadline (filler, last line, lingering), reset
        // only when the nearest one changes: nothing per audio frame.
        let mut timer = Box::pin(sleep_until(Instant::now()));
        let mut armed: Option<Instant> = None;
        loop {
            // What the last wakeup wrote goes out now: one write per socket.
            self.flush_writes().await;
            let next = self.next_deadline();
            if next != armed {
                if let Some(at) = next {
                    timer.as_mut().reset(at);
                }
                armed = next;
            }
            tokio::select! {
                message = self.twilio.socket().next() => {
                    if !self.on_twilio_batch(message).await {
                        break;
                    }
                }
                event = self.model.next() => {
                    self.on_model_event(event).await;
                    // Events that arrived with it are handled before anything is flushed.
                    for _ in 0..READ_BATCH {
                        let Some(event) = self.model.next_ready().await else { break };
                        self.on_model_event(event).await;
                    }
                }
                // Polled only while searches run: no channel poll per frame.
                Some(done) = self.tools.next_done(), if self.tools.running() => self.on_tool_done(done).await,
                _ = ping.tick() => {
                    let now = Instant::now();
                    if now.duration_since(self.last_twilio_pong) > pong_grace {
                        tracing::warn!("Twilio stopped answering pings; ending the call");
                        break;
                    }
                    self.close_marks().await;
                    if !self.twilio.ping().await {
                        break;
                    }
                    self.ping_model(pong_grace).await;
                    if now >= self.rollover_at {
                        self.maybe_roll_over().await;
                    }
                }
                () = &mut timer, if armed.is_some() => {
                    armed = None;
                    if !self.on_deadline().await {
                        break;
                    }
                }
            }
        }
        self.flush_writes().await;
        self.finish().await;
    }

    /// A message from Twilio and those that arrived with it (handled before
    /// anything is flushed); false when the call should end.
    async fn on_twilio_batch(&mut self, first: Option<Result<Message, websocket::Error>>) -> bool {
        if !self.on_twilio_message(first).await {
            return false;
        }
        for _ in 0..READ_BATCH {
            let Some(message) = ready(self.twilio.socket().next()).await else { break };
            if !self.on_twilio_message(message).await {
                return false;
            }
        }
        true
    }

    /// One message from Twilio's stream (or its end); false when the call should end.
    async fn on_twilio_message(&mut self, message: Option<Result<Message, websocket::Error>>) -> bool {
        match message {
            Some(Ok(Message::Text(text))) => self.on_twilio(text.as_str()).await,
            Some(Ok(Message::Pong(_))) => {
                self.last_twilio_pong = Instant::now();
                true
            }
            Some(Ok(Message::Close(_))) => false,
            Some(Ok(_)) => true,
            Some(Err(e)) => {
                tracing::info!(error = %e, "media stream failed");
                false
            }
            None => false,
        }
    }

    /// Writes out what this wakeup buffered for Twilio and for the model.
    async fn flush_writes(&mut self) {
        self.twilio.flush().await;
        if std::mem::take(&mut self.model_unflushed) {
            if let Model::Open { socket, .. } = &mut self.model {
                if let Err(e) = socket.flush().await {
                    tracing::debug!(error = %e, "could not write to the realtime session");
                }
            }
        }
    }

    /// The nearest pending deadline.
    fn next_deadline(&self) -> Option<Instant> {
        [self.gate.filler_deadline(), self.ending.deadline()].into_iter().flatten().min()
    }

    /// A deadline passed; false when the call should end.
    async fn on_deadline(&mut self) -> bool {
        let now = Instant::now();
        match self.ending.late(now) {
            Some(Late::Stop) => {
                tracing::warn!("Twilio did not end the stream; closing it");
                return false;
            }
            Some(Late::LastLine) => {
                tracing::warn!("the last line did not finish playing in time; going ahead");
                self.leave().await;
            }
            None => {}
        }
        if let Some(filler) = self.gate.filler_due(now, self.tools.running()) {
            self.request_response(filler).await;
        }
        true
    }

    // ---- Twilio side -------------------------------------------------------

    /// False when the call is over.
    async fn on_twilio(&mut self, text: &str) -> bool {
        // Audio and mark echoes, many a second: no JSON tree for them.
        match tw::parse_frequent(text) {
            Some(tw::Frequent::Media { timestamp_ms, payload }) => {
                self.on_caller_audio(timestamp_ms, payload).await;
                return true;
            }
            Some(tw::Frequent::Mark { name }) => {
                self.on_mark(name).await;
                return true;
            }
            None => {}
        }
        match tw::parse(text) {
            Ok(Inbound::Media { timestamp_ms, payload }) => {
                self.on_caller_audio(timestamp_ms, &payload).await
            }
            Ok(Inbound::Mark { name }) => self.on_mark(&name).await,
            Ok(Inbound::Stop) => {
                tracing::info!("Twilio stopped the stream");
                return false;
            }
            Ok(Inbound::Dtmf { digit }) => tracing::info!(digit, "caller pressed a key"),
            Ok(Inbound::Connected | Inbound::Start(_)) => {}
            Ok(Inbound::Unknown(event)) => tracing::debug!(event, "unknown Twilio event skipped"),
            Err(e) => self.malformed("Twilio", &e.to_string()),
        }
        true
    }

    /// A caller frame (base64, checked): to the model, or kept until it is ready.
    async fn on_caller_audio(&mut self, timestamp_ms: u64, payload: &str) {
        self.now_ms = timestamp_ms;
        if self.ending.has_left() {
            return;
        }
        if self.model.is_ready() {
            self.feed_model(&rt::append_parts(payload)).await;
        } else {
            if self.buffer.len() >= self.buffer_max {
                self.buffer.pop_front();
            }
            self.buffer.push_back(payload.to_string());
        }
    }

    async fn on_mark(&mut self, name: &str) {
        self.playback.echoed(name, self.now_ms);
        let heard = self.line.heard(&self.playback);
        self.save_said(heard);
        if self.ending.heard(self.playback.playing()) {
            self.leave().await;
        }
    }

    /// Model audio to the caller, forwarded as is, and its mark in the same write.
    async fn on_audio_delta(&mut self, item: &str, delta: &str) {
        if !self.line.plays(item) || self.ending.has_left() || !tw::is_base64(delta) {
            return; // the caller talked over it: never play the rest
        }
        if let Some(before) = self.playback.audio(item, tw::payload_bytes(delta), self.now_ms) {
            self.twilio.mark(before).await; // another item's audio ends here
        }
        let seq = self.playback.mark_due(MARK_EVERY_MS);
        self.twilio.play(delta, seq).await;
        self.first_audio_sent();
    }

    /// The audio sent since the last mark is marked now: the model sent
    /// something other than audio (an item's audio ends with one), or a
    /// ping tick found a group left open.
    async fn close_marks(&mut self) {
        if let Some(seq) = self.playback.close() {
            self.twilio.mark(seq).await;
            // What follows may wait (tools, saving): the group's end goes out now.
            self.twilio.flush().await;
        }
    }

    // ---- model side ----------------------------------------------------------

    async fn on_model_text(&mut self, text: &str) {
        // Audio chunks, many a second: no JSON tree for them.
        if let Some(audio) = rt::parse_audio_delta(text) {
            return self.on_audio_delta(audio.item_id, audio.delta).await;
        }
        let event = match rt::parse(text) {
            Ok(event) => event,
            Err(e) => return self.malformed("OpenAI", &e.to_string()),
        };
        // Any other event ends the audio group before it is acted on, so
        // transcripts, hand-overs and the rest see the audio marked; not
        // speech, which clears it, nor audio the fast path declined (it joins
        // the group like any other delta).
        if !matches!(event, ServerEvent::SpeechStarted | ServerEvent::AudioDelta { .. }) {
            self.close_marks().await;
        }
        match event {
            ServerEvent::AudioDelta { item_id: Some(item), delta: Some(delta) } => {
                self.on_audio_delta(&item, &delta).await;
            }
            ServerEvent::AudioDelta { .. } => {}
            ServerEvent::SpeechStarted => self.barge_in().await,
            ServerEvent::ResponseCreated { response } => self.gate.created(response.as_ref()),
            ServerEvent::ResponseDone { response } => self.on_response_done(response.status).await,
            ServerEvent::AudioTranscriptDone { item_id, transcript } => {
                for line in self.line.said(item_id, &transcript, &self.playback) {
                    self.save_said(line);
                }
            }
            ServerEvent::InputTranscriptDone { transcript } => {
                let line = transcript.trim().to_string();
                if !line.is_empty() {
                    self.on_caller_words(line).await;
                }
            }
            ServerEvent::FunctionArgumentsDone { call_id, name, arguments } => {
                self.tools.called(FunctionCall { call_id, name, arguments })
            }
            ServerEvent::SessionCreated => {
                let update = rt::session_update(&self.session_config());
                self.send_model(update).await;
            }
            ServerEvent::SessionUpdated => self.on_session_ready().await,
            ServerEvent::Error { error: e } => {
                tracing::warn!(code = ?e.code, message = ?e.message, "realtime error");
                self.gate.refused();
                if e.code.as_deref() == Some("session_expired") {
                    self.roll_over().await;
                }
            }
            ServerEvent::SpeechStopped => self.speech_ended = Some(Instant::now()),
            ServerEvent::Other => {}
        }
    }

    fn session_config(&self) -> SessionConfig {
        let c = &self.app.config;
        let language = self.ctx.agent.twilio_language.split('-').next().unwrap_or_default().to_lowercase();
        SessionConfig {
            model: c.openai.realtime_model.clone(),
            instructions: self.instructions(),
            voice: self.ctx.agent.realtime_voice.clone(),
            transcription_model: c.voice.transcription_model.clone(),
            language,
            vad_threshold: c.voice.vad_threshold,
            vad_prefix_padding_ms: c.voice.vad_prefix_padding_ms,
            vad_silence_ms: c.voice.vad_silence_ms,
            tools: tools::tools(&self.ctx, Handoff::Voice).iter().map(tools::Tool::realtime_json).collect(),
        }
    }

    fn instructions(&self) -> String {
        let can_transfer = self.ctx.business.notification_phone_number.is_some();
        voice::instructions(
            &self.ctx,
            &self.session.state,
            &self.knowledge,
            &self.session.history,
            can_transfer,
        )
    }

    async fn on_session_ready(&mut self) {
        if let Model::Open { ready, .. } = &mut self.model {
            if *ready {
                return;
            }
            *ready = true;
        }
        // The caller's first words, kept while the session opened.
        for payload in std::mem::take(&mut self.buffer) {
            self.send_model(rt::append(&payload)).await;
        }
        if !self.greeted {
            self.greeted = true;
            let greeting = voice::greeting(&self.ctx);
            self.request_response(Ask::Told(format!(
                "Greet the caller with exactly these words: \"{greeting}\""
            )))
            .await;
        }
    }

    /// The caller started talking: stop playing at once and tell the model
    /// how much of its answer was actually heard.
    async fn barge_in(&mut self) {
        let Some(cut) = self.playback.interrupt(self.now_ms) else { return };
        self.twilio.clear().await;
        self.send_model(rt::truncate(&cut.item_id, cut.audio_end_ms)).await;
        tracing::debug!(item = %cut.item_id, heard_ms = cut.audio_end_ms, "caller interrupted");
        let line = self.line.cut(cut.item_id);
        self.save_said(line);
        // "Wait, one more thing": the caller keeps the line.
        if self.ending.cancel() {
            tracing::info!("caller spoke over the last line; staying on the call");
        }
    }

    /// What the caller said (transcribed): the engine triages it and keeps
    /// contact details; an emergency is escalated at once.
    async fn on_caller_words(&mut self, line: String) {
        let escalate = conversation::observe(&self.ctx, &mut self.session.state, &line);
        if escalate {
            self.save_escalation(vec![(Speaker::User, line)]).await;
            self.on_emergency(false).await;
        } else {
            self.save_lines(vec![(Speaker::User, line)], false, Vec::new());
        }
    }

    /// The call just became URGENT: new instructions, and the emergency
    /// message spoken at the next opportunity.
    async fn on_emergency(&mut self, model_knows: bool) {
        tracing::warn!(
            reasons = ?crate::agent::triage::reasons_for_log(&self.session.state.reasons),
            "emergency escalated"
        );
        self.send_model(rt::instructions_update(&self.instructions())).await;
        if model_knows {
            return;
        }
        let state = &self.session.state;
        let message = alerts::emergency_message(&self.ctx, state, alerts::wording(state));
        let note = format!(
            "The caller has described an emergency. Tell them now, in these words: \"{message}\" Then ask \
             only the essential questions."
        );
        self.send_model(rt::system_note(&note)).await;
        if !self.gate.busy() {
            self.request_response(Ask::Free).await;
        }
    }

    async fn on_response_done(&mut self, status: ResponseStatus) {
        self.gate.done();
        // An ending begun by this response's own tools waits for the next one.
        let ending_before = self.ending.last_line_pending();
        // Check the response before acting: an interrupted one's tool calls are not run.
        let calls = self.tools.response_done(status);
        if !calls.is_empty() {
            self.run_tools(calls).await;
        }
        if ending_before && self.ending.last_line_pending() {
            self.ending.spoken();
            if self.ending.heard(self.playback.playing()) {
                self.leave().await;
                return;
            }
        }
        if let Some(ask) = self.gate.take_queued() {
            self.request_response(ask).await;
        }
    }

    /// Asks the model to speak, now or once the current response is done.
    async fn request_response(&mut self, ask: Ask) {
        if let Some(ask) = self.gate.request(ask, self.model.is_ready()) {
            self.send_model(rt::response_create(ask.instructions())).await;
        }
    }

    // ---- tools ---------------------------------------------------------------

    // ---- leaving the AI --------------------------------------------------------

    // ---- saving ----------------------------------------------------------------

    fn malformed(&mut self, from: &str, error: &str) {
        self.errors += 1;
        if self.errors <= LOUD_ERRORS {
            tracing::warn!(from, error, "malformed message skipped");
        } else {
            tracing::debug!(from, error, "malformed message skipped");
        }
    }
}
