//! A local server speaking the OpenAI Realtime API over WebSocket
//! (`/v1/realtime?model=…`), for tests and the voice load generator.
//!
//! Each connection answers `session.created` at once and `session.updated`
//! to every `session.update`, as OpenAI does; everything else is scripted by
//! the test through [`Conn`]: wait for client events, send server events
//! (GA names), or drop the connection.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use warp::ws::Message;
use warp::Filter;

/// Called with each caller-audio payload (`input_audio_buffer.append`) as it arrives.
pub type OnAppend = Arc<dyn Fn(&str) + Send + Sync>;

#[derive(Clone, Default)]
pub struct Options {
    /// Send the beta event names (`response.audio.delta`, ...) instead of GA ones.
    pub beta_names: bool,
    pub on_append: Option<OnAppend>,
    /// Keep at most this many caller-audio payloads per connection (None: all).
    pub keep_appends: Option<usize>,
}

/// What the server was asked to do on a connection.
pub enum Command {
    Send(String),
    /// Drop the TCP connection without a close frame.
    Abort,
}

pub struct FakeRealtime {
    /// `OPENAI_BASE_URL` for the server under test.
    pub base_url: String,
    conns: tokio::sync::Mutex<mpsc::UnboundedReceiver<Conn>>,
    pub opened: Arc<AtomicUsize>,
    /// Refuse new connections (HTTP 503 on the upgrade).
    pub refuse: Arc<AtomicBool>,
}

/// One model session, seen from the server.
pub struct Conn {
    pub authorization: Option<String>,
    pub model: Option<String>,
    pub opened_at: Instant,
    events: mpsc::UnboundedReceiver<Value>,
    commands: mpsc::UnboundedSender<Command>,
    /// Caller audio received, in order (base64 as sent).
    pub appended: Arc<Mutex<Vec<String>>>,
    /// Every other client event, in order.
    pub log: Arc<Mutex<Vec<Value>>>,
    pub closed: Arc<AtomicBool>,
    beta: bool,
}

impl FakeRealtime {
    pub async fn start(options: Options) -> FakeRealtime {
        let (conn_tx, conn_rx) = mpsc::unbounded_channel();
        let opened = Arc::new(AtomicUsize::new(0));
        let refuse = Arc::new(AtomicBool::new(false));
        let (o, r) = (opened.clone(), refuse.clone());
        let route = warp::path!("v1" / "realtime")
            .and(warp::query::<std::collections::HashMap<String, String>>())
            .and(warp::header::optional::<String>("authorization"))
            .and(warp::ws())
            .map(
                move |query: std::collections::HashMap<String, String>,
                      auth: Option<String>,
                      ws: warp::ws::Ws| {
                    if r.load(Ordering::SeqCst) {
                        return warp::reply::with_status(
                            warp::reply(),
                            warp::http::StatusCode::SERVICE_UNAVAILABLE,
                        )
                        .into_response_any();
                    }
                    o.fetch_add(1, Ordering::SeqCst);
                    let (conn_tx, options) = (conn_tx.clone(), options.clone());
                    ws.on_upgrade(move |socket| {
                        serve(socket, auth, query.get("model").cloned(), conn_tx, options)
                    })
                    .into_response_any()
                },
            );
        // No Nagle: a burst of small events must not wait on acknowledgements.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_nodelay(true).unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(1024).unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(warp::serve(route).incoming(listener).run());
        FakeRealtime {
            base_url: format!("http://{addr}/v1"),
            conns: tokio::sync::Mutex::new(conn_rx),
            opened,
            refuse,
        }
    }

    /// The next model session the server under test opens.
    pub async fn accept(&self, timeout: Duration) -> Conn {
        let mut conns = self.conns.lock().await;
        tokio::time::timeout(timeout, conns.recv()).await.expect("no realtime connection in time").unwrap()
    }
}

trait IntoResponseAny {
    fn into_response_any(self) -> warp::reply::Response;
}

impl<T: warp::Reply> IntoResponseAny for T {
    fn into_response_any(self) -> warp::reply::Response {
        self.into_response()
    }
}

async fn serve(
    socket: warp::ws::WebSocket,
    authorization: Option<String>,
    model: Option<String>,
    conns: mpsc::UnboundedSender<Conn>,
    options: Options,
) {
    let (mut tx, mut rx) = socket.split();
    let (event_tx, events) = mpsc::unbounded_channel();
    let (commands, mut command_rx) = mpsc::unbounded_channel::<Command>();
    let appended = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::new(Mutex::new(Vec::new()));
    let closed = Arc::new(AtomicBool::new(false));
    let conn = Conn {
        authorization,
        model,
        opened_at: Instant::now(),
        events,
        commands: commands.clone(),
        appended: appended.clone(),
        log: log.clone(),
        closed: closed.clone(),
        beta: options.beta_names,
    };
    let _ = tx
        .send(Message::text(
            json!({ "type": "session.created", "event_id": "event_0",
            "session": { "type": "realtime", "object": "realtime.session", "id": "sess_fake" } })
            .to_string(),
        ))
        .await;
    if conns.send(conn).is_err() {
        return;
    }
    loop {
        tokio::select! {
            message = rx.next() => {
                let Some(Ok(message)) = message else { break };
                if message.is_close() { break; }
                let Ok(text) = message.to_str() else { continue };
                // Caller audio is the hot path: pick it out without a full parse.
                if let Some(audio) = append_audio(text) {
                    if let Some(f) = &options.on_append { f(audio); }
                    let mut kept = appended.lock().unwrap();
                    if options.keep_appends.is_none_or(|max| kept.len() < max) {
                        kept.push(audio.to_string());
                    }
                    continue;
                }
                let Ok(event) = serde_json::from_str::<Value>(text) else { continue };
                if event["type"] == "session.update" {
                    let reply = json!({ "type": "session.updated", "event_id": "event_u", "session": event["session"] });
                    let _ = tx.send(Message::text(reply.to_string())).await;
                }
                log.lock().unwrap().push(event.clone());
                let _ = event_tx.send(event);
            }
            command = command_rx.recv() => match command {
                Some(Command::Send(text)) => { let _ = tx.send(Message::text(text)).await; }
                Some(Command::Abort) | None => break,
            }
        }
    }
    closed.store(true, Ordering::SeqCst);
}

/// The audio of `{"type":"input_audio_buffer.append","audio":"…"}`.
pub fn append_audio(text: &str) -> Option<&str> {
    let rest = text.strip_prefix(r#"{"type":"input_audio_buffer.append","audio":""#)?;
    rest.strip_suffix(r#""}"#)
}

impl Conn {
    /// The next client event of this type (others are skipped and stay in `log`).
    pub async fn expect(&mut self, event_type: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!("no {event_type} from the server; got {:#?}", self.log.lock().unwrap())
                })
                .unwrap_or_else(|| panic!("connection closed while waiting for {event_type}"));
            if event["type"] == event_type {
                return event;
            }
        }
    }

    /// Client events received so far of this type.
    pub fn received(&self, event_type: &str) -> Vec<Value> {
        self.log.lock().unwrap().iter().filter(|e| e["type"] == event_type).cloned().collect()
    }

    pub fn send(&self, event: Value) {
        let _ = self.commands.send(Command::Send(event.to_string()));
    }

    /// A server event already written as JSON (the load generator's audio deltas).
    pub fn send_text(&self, text: String) {
        let _ = self.commands.send(Command::Send(text));
    }

    /// `response.output_audio.delta` (or its beta name), written by hand: the
    /// load generator sends tens of thousands a second.
    pub fn audio_delta_text(&self, response_id: &str, item_id: &str, audio_b64: &str) -> String {
        format!(
            r#"{{"type":"{}","event_id":"e","response_id":"{response_id}","item_id":"{item_id}","output_index":0,"content_index":0,"delta":"{audio_b64}"}}"#,
            self.name("response.output_audio.delta")
        )
    }

    /// Drops the connection abruptly (no close frame), as a failing server would.
    pub fn abort(&self) {
        let _ = self.commands.send(Command::Abort);
    }

    /// Waits until `n` audio appends have arrived.
    pub async fn wait_appended(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.appended.lock().unwrap().len() < n {
            assert!(
                Instant::now() < deadline,
                "only {} of {n} appends arrived",
                self.appended.lock().unwrap().len()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn name(&self, ga: &'static str) -> &'static str {
        if !self.beta {
            return ga;
        }
        match ga {
            "response.output_audio.delta" => "response.audio.delta",
            "response.output_audio.done" => "response.audio.done",
            "response.output_audio_transcript.done" => "response.audio_transcript.done",
            other => other,
        }
    }

    pub fn response_created(&self, response_id: &str) {
        self.send(json!({ "type": "response.created", "event_id": "e", "response": {
            "id": response_id, "object": "realtime.response", "status": "in_progress", "output": [] } }));
    }

    pub fn audio_delta(&self, response_id: &str, item_id: &str, audio_b64: &str) {
        self.send(json!({ "type": self.name("response.output_audio.delta"), "event_id": "e",
            "response_id": response_id, "item_id": item_id, "output_index": 0, "content_index": 0, "delta": audio_b64 }));
    }

    pub fn transcript_done(&self, response_id: &str, item_id: &str, transcript: &str) {
        self.send(json!({ "type": self.name("response.output_audio_transcript.done"), "event_id": "e",
            "response_id": response_id, "item_id": item_id, "output_index": 0, "content_index": 0,
            "transcript": transcript }));
    }

    pub fn response_done(&self, response_id: &str, status: &str) {
        self.send(json!({ "type": "response.done", "event_id": "e", "response": {
            "id": response_id, "object": "realtime.response", "status": status, "output": [] } }));
    }

    /// A whole spoken answer: created, audio chunks, transcript, done.
    pub fn speak(&self, response_id: &str, item_id: &str, chunks: &[String], transcript: &str) {
        self.response_created(response_id);
        for chunk in chunks {
            self.audio_delta(response_id, item_id, chunk);
        }
        self.send(json!({ "type": self.name("response.output_audio.done"), "response_id": response_id,
            "item_id": item_id, "output_index": 0, "content_index": 0 }));
        self.transcript_done(response_id, item_id, transcript);
        self.response_done(response_id, "completed");
    }

    pub fn speech_started(&self, audio_start_ms: u64) {
        self.send(json!({ "type": "input_audio_buffer.speech_started", "event_id": "e",
            "audio_start_ms": audio_start_ms, "item_id": "item_caller" }));
    }

    /// Server VAD heard the caller stop speaking.
    pub fn speech_stopped(&self, audio_end_ms: u64) {
        self.send(json!({ "type": "input_audio_buffer.speech_stopped", "event_id": "e",
            "audio_end_ms": audio_end_ms, "item_id": "item_caller" }));
    }

    /// The caller's words, as transcription reports them.
    pub fn caller_said(&self, item_id: &str, transcript: &str) {
        self.send(json!({ "type": "conversation.item.input_audio_transcription.completed", "event_id": "e",
            "item_id": item_id, "content_index": 0, "transcript": transcript }));
    }

    /// A response that only calls functions: (call id, name, JSON arguments).
    pub fn function_calls(&self, response_id: &str, calls: &[(&str, &str, Value)]) {
        self.response_created(response_id);
        for (call_id, name, args) in calls {
            self.send(json!({ "type": "response.function_call_arguments.done", "event_id": "e",
                "response_id": response_id, "item_id": format!("item_{call_id}"), "output_index": 0,
                "call_id": call_id, "name": name, "arguments": args.to_string() }));
        }
        self.response_done(response_id, "completed");
    }

    /// The outputs sent back for function calls, by call id.
    pub fn function_output(&self, call_id: &str) -> Option<Value> {
        self.received("conversation.item.create").into_iter().find_map(|e| {
            (e["item"]["type"] == "function_call_output" && e["item"]["call_id"] == call_id)
                .then(|| serde_json::from_str(e["item"]["output"].as_str().unwrap_or("null")).unwrap())
        })
    }
}
