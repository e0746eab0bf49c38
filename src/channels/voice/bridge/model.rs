//! The model side of a call: opening a Realtime session, reading it, pinging it, replacing it
//! before its time limit, and what happens when it fails.

use super::*;

/// Bytes written to the model's socket are held until a flush (or this many).
const MODEL_WRITE_BATCH: usize = 16 * 1024;

/// The model side: opening, open and ready, or gone.
pub(super) enum Model {
    Connecting(std::pin::Pin<Box<dyn std::future::Future<Output = Result<Box<ModelSocket>, String>> + Send>>),
    Open { socket: Box<ModelSocket>, ready: bool, opened: Instant },
    Closed,
}

pub(super) enum ModelEvent {
    Connected(Result<Box<ModelSocket>, String>),
    Text(Utf8Bytes),
    Pong,
    Gone(String),
}

impl Model {
    pub(super) async fn next(&mut self) -> ModelEvent {
        match self {
            Model::Connecting(fut) => ModelEvent::Connected(fut.await),
            Model::Open { socket, .. } => loop {
                match socket.next().await {
                    Some(Ok(Message::Text(text))) => return ModelEvent::Text(text),
                    Some(Ok(Message::Pong(_))) => return ModelEvent::Pong,
                    Some(Ok(Message::Close(frame))) => {
                        return ModelEvent::Gone(format!("closed by the model server: {frame:?}"))
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return ModelEvent::Gone(e.to_string()),
                    None => return ModelEvent::Gone("connection ended".into()),
                }
            },
            Model::Closed => std::future::pending().await,
        }
    }

    /// An event of an open session that is already here, without waiting.
    pub(super) async fn next_ready(&mut self) -> Option<ModelEvent> {
        match self {
            Model::Open { .. } => ready(self.next()).await,
            _ => None,
        }
    }

    pub(super) fn is_ready(&self) -> bool {
        matches!(self, Model::Open { ready: true, .. })
    }
}

/// Opens a Realtime session socket (`OPENAI_BASE_URL`, so tests use a fake).
pub(super) fn connect(app: &AppState) -> Model {
    let url = rt::realtime_url(&app.config.openai.base_url, &app.config.openai.realtime_model);
    let key = app.config.openai.api_key.expose().to_string();
    Model::Connecting(Box::pin(async move {
        let auth = format!("Bearer {key}");
        // Small buffers: a call's frames are a few hundred bytes, and there may be a thousand calls.
        // Writes are buffered until the bridge flushes (one write per wakeup).
        let limits = websocket::Limits { max_message: MAX_FRAME * 4, write_batch: MODEL_WRITE_BATCH };
        let headers = [("Authorization", auth.as_str())];
        match tokio::time::timeout(HANDSHAKE, websocket::client::connect(&url, &headers, limits)).await {
            Ok(Ok(socket)) => Ok(Box::new(socket)),
            Ok(Err(e)) => Err(format!("could not open the realtime session: {e}")),
            Err(_) => Err("the realtime session did not open in time".into()),
        }
    }))
}

impl Bridge {
    pub(super) async fn on_model_event(&mut self, event: ModelEvent) {
        match event {
            ModelEvent::Connected(Ok(socket)) => {
                tracing::info!("realtime session opened");
                self.model = Model::Open { socket, ready: false, opened: Instant::now() };
                self.last_model_pong = Instant::now();
            }
            ModelEvent::Connected(Err(e)) => self.model_failed(&e).await,
            ModelEvent::Text(text) => self.on_model_text(text.as_str()).await,
            ModelEvent::Pong => self.last_model_pong = Instant::now(),
            ModelEvent::Gone(reason) => self.model_failed(&reason).await,
        }
    }

    pub(super) async fn send_model(&mut self, text: String) {
        self.send_model_message(Message::text(text)).await;
    }

    async fn send_model_message(&mut self, message: Message) {
        if let Model::Open { socket, .. } = &mut self.model {
            // Sent at once, after any caller audio buffered before it.
            self.model_unflushed = false;
            if let Err(e) = socket.send(message).await {
                tracing::debug!(error = %e, "could not write to the realtime session");
            }
        }
    }

    /// Caller audio, a text message as the pieces of its template, framed
    /// straight into the socket's write buffer: buffered, and flushed once
    /// the bridge has handled everything that woke it (`flush_writes`).
    pub(super) async fn feed_model(&mut self, parts: &[&str]) {
        if let Model::Open { socket, .. } = &mut self.model {
            self.model_unflushed = true;
            if let Err(e) = socket.feed_text(parts).await {
                tracing::debug!(error = %e, "could not write to the realtime session");
            }
        }
    }

    pub(super) async fn model_failed(&mut self, reason: &str) {
        self.model = Model::Closed;
        if !self.ending.fall_back() {
            return;
        }
        tracing::error!(reason, "realtime session failed; the caller carries on turn by turn");
        self.playback = Playback::default();
        self.hand_over(NextStep::Gather).await;
    }

    pub(super) async fn close_model(&mut self) {
        self.drain_transcripts().await;
        if let Model::Open { socket, .. } = &mut self.model {
            let _ = tokio::time::timeout(Duration::from_millis(500), SinkExt::close(socket)).await;
        }
        self.model = Model::Closed;
    }

    /// A caller who hangs up as the last words play: the model's transcript
    /// of them may still be on its way. Lines that arrive within a moment
    /// are kept; nothing else the model sends is acted on any more.
    async fn drain_transcripts(&mut self) {
        // With no response in progress nothing of the model's is on its way:
        // an ordinary hang-up does not wait.
        if !self.gate.busy() {
            return;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
        loop {
            let Model::Open { socket, .. } = &mut self.model else { return };
            let text = match tokio::time::timeout_at(deadline, socket.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => text,
                Ok(Some(Ok(_))) => continue,
                _ => return,
            };
            let (role, transcript) = match rt::parse(&text) {
                Ok(ServerEvent::AudioTranscriptDone { transcript, .. }) => (Speaker::Assistant, transcript),
                Ok(ServerEvent::InputTranscriptDone { transcript }) => (Speaker::User, transcript),
                _ => continue,
            };
            let line = transcript.trim().to_string();
            if !line.is_empty() {
                // Any held line was said before this one.
                self.release_line();
                self.save_lines(vec![(role, line)], false, Vec::new());
            }
        }
    }

    pub(super) async fn ping_model(&mut self, grace: Duration) {
        let dead = match &mut self.model {
            Model::Open { socket, .. } => {
                let late = self.last_model_pong.elapsed() > grace;
                late || socket.send(Message::Ping(Vec::new().into())).await.is_err()
            }
            _ => false,
        };
        if dead {
            self.model_failed("the realtime session stopped answering pings").await;
        }
    }

    /// Sessions are capped in length: before the cap, between turns, a fresh
    /// session takes over with the conversation carried in its instructions.
    pub(super) async fn maybe_roll_over(&mut self) {
        let idle =
            !self.gate.busy() && !self.tools.running() && !self.playback.playing() && self.ending.on_call();
        let forced = matches!(&self.model, Model::Open { opened, .. }
            if opened.elapsed() > Duration::from_secs(self.app.config.voice.realtime_session_max_secs + 60));
        if idle || forced {
            self.roll_over().await;
        }
    }

    pub(super) async fn roll_over(&mut self) {
        if self.ending.has_left() {
            return;
        }
        tracing::info!("replacing the realtime session before its time limit");
        self.close_model().await;
        self.gate.reset();
        self.tools.forget_calls();
        self.playback = Playback::default();
        self.model = connect(&self.app);
        self.rollover_at =
            Instant::now() + Duration::from_secs(self.app.config.voice.realtime_session_max_secs);
    }
}
