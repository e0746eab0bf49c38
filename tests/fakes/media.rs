//! A Twilio Media Streams client: what Twilio does on a `<Connect><Stream>`
//! call, for tests and the voice load generator. It connects with a valid
//! `X-Twilio-Signature`, sends `connected` and `start`, then caller audio as
//! 20 ms μ-law frames with Twilio's string-typed counters, and plays back the
//! audio it receives: each `mark` is echoed once the audio before it has
//! "played" (8 bytes a millisecond), and `clear` drops queued audio and echoes
//! every pending mark at once. Or, in manual mode, the test echoes marks itself.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Called with each audio payload the server sends, as it arrives.
pub type OnMedia = Arc<dyn Fn(&str) + Send + Sync>;

/// Twilio's signature, computed here from the documented algorithm:
/// base64(HMAC-SHA1(token, url + sorted name/value pairs)).
pub fn twilio_signature(token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// G.711 μ-law encoding of one 16-bit sample.
/// The `<Parameter name value>` pairs of a `<Stream>` in TwiML: what Twilio
/// sends back in the `start` message's `customParameters` (the stream's
/// token among them).
pub fn stream_parameters(twiml: &str) -> Vec<(String, String)> {
    let mut reader = quick_xml::Reader::from_str(twiml);
    let mut out = Vec::new();
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Empty(e) | quick_xml::events::Event::Start(e))
                if e.name().as_ref() == b"Parameter" =>
            {
                let attr = |name: &[u8]| {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == name)
                        .map(|a| a.unescape_value().unwrap().into_owned())
                        .unwrap_or_default()
                };
                out.push((attr(b"name"), attr(b"value")));
            }
            Ok(quick_xml::events::Event::Eof) | Err(_) => return out,
            Ok(_) => {}
        }
    }
}

pub fn mulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let mut s = sample as i32;
    let sign = if s < 0 { 0x80 } else { 0 };
    s = s.abs().min(CLIP) + BIAS;
    let mut exponent = 7;
    let mut mask = 0x4000;
    while exponent > 0 && (s & mask) == 0 {
        exponent -= 1;
        mask >>= 1;
    }
    let mantissa = (s >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) | mantissa) as u8
}

/// A sine tone as 8 kHz μ-law.
pub fn tone(frequency: f64, ms: usize) -> Vec<u8> {
    (0..ms * 8)
        .map(|i| {
            let t = i as f64 / 8000.0;
            mulaw((f64::sin(2.0 * std::f64::consts::PI * frequency * t) * 8000.0) as i16)
        })
        .collect()
}

/// Real speech from espeak-ng as 8 kHz μ-law, when espeak-ng and sox are installed.
pub fn speech(text: &str) -> Option<Vec<u8>> {
    let espeak = std::process::Command::new("espeak-ng").args(["--stdout", text]).output().ok()?;
    if !espeak.status.success() {
        return None;
    }
    let mut sox = std::process::Command::new("sox")
        .args(["-t", "wav", "-", "-r", "8000", "-c", "1", "-t", "ul", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    use std::io::Write;
    sox.stdin.take()?.write_all(&espeak.stdout).ok()?;
    let out = sox.wait_with_output().ok()?;
    out.status.success().then_some(out.stdout)
}

/// The payload of a server `media` message in the shape frontdesk writes
/// (`{"event":"media","streamSid":…,"media":{"payload":"…"}}`), without
/// parsing it; None for anything else.
fn media_payload(text: &str) -> Option<&str> {
    let rest = text.strip_prefix(r#"{"event":"media","#)?;
    let at = rest.find(r#""payload":""#)? + r#""payload":""#.len();
    let payload = &rest[at..];
    let end = payload.find('"')?;
    (!payload[..end].contains('\\')).then_some(&payload[..end])
}

/// Decoded length of a base64 payload.
fn payload_len(payload: &str) -> usize {
    let padding = payload.bytes().rev().take_while(|&b| b == b'=').count();
    (payload.len() / 4 * 3).saturating_sub(padding)
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// What the client has received from the server.
#[derive(Default, Debug)]
pub struct Received {
    /// Audio payloads, in order, as sent.
    pub media: Vec<String>,
    /// Mark names, in the order they were sent to us.
    pub marks: Vec<String>,
    pub clears: usize,
    /// Every message, parsed, in order.
    pub all: Vec<Value>,
    /// Marks we have echoed back (played or cleared).
    pub echoed: Vec<String>,
    /// (instant, sequence number embedded in the payload) of each media message, for latency.
    pub arrivals: Vec<Instant>,
}

enum Queued {
    Audio(usize),
    Mark(String),
}

pub struct MediaCall {
    sink: Arc<tokio::sync::Mutex<SplitSink<Socket, Message>>>,
    pub received: Arc<Mutex<Received>>,
    messages: mpsc::UnboundedReceiver<Value>,
    pub stream_sid: String,
    pub call_sid: String,
    seq: u64,
    chunk: u64,
    /// The stream's clock: timestamp of the next caller frame, ms.
    pub clock_ms: u64,
    pub closed: Arc<std::sync::atomic::AtomicBool>,
}

/// Connecting over TLS: the socket address to reach (the URL names the
/// domain, which SNI and the certificate check use) and whom to trust.
#[derive(Clone)]
pub struct TlsConnect {
    pub addr: std::net::SocketAddr,
    pub config: Arc<rustls::ClientConfig>,
}

pub struct Connect<'a> {
    /// `ws://127.0.0.1:port/api/voice/stream` (or `wss://domain:port/...` with `tls`)
    pub ws_url: &'a str,
    /// The public `wss://HOST/api/voice/stream` the signature is computed over.
    pub public_url: &'a str,
    pub auth_token: &'a str,
    pub call_sid: &'a str,
    pub parameters: Vec<(String, String)>,
    /// Play received audio in real time and echo marks (else the test echoes them).
    pub auto_playback: bool,
    /// Sign the upgrade request.
    pub sign: bool,
    /// Called with each audio payload received, as it arrives.
    pub on_media: Option<OnMedia>,
    /// Keep what is received in `received` (off for load: only counts).
    pub record: bool,
    /// `wss://`: connect to this address and trust these roots.
    pub tls: Option<TlsConnect>,
}

impl MediaCall {
    /// Connects, and sends `connected` and `start`.
    pub async fn connect(c: Connect<'_>) -> Result<MediaCall, String> {
        let mut request = c.ws_url.into_client_request().map_err(|e| e.to_string())?;
        if c.sign {
            let signature = twilio_signature(c.auth_token, c.public_url, &[]);
            request.headers_mut().insert("x-twilio-signature", signature.parse().unwrap());
        }
        let (socket, _) = match &c.tls {
            None => tokio_tungstenite::connect_async_with_config(request, None, true).await,
            Some(tls) => {
                let tcp = TcpStream::connect(tls.addr).await.map_err(|e| e.to_string())?;
                let _ = tcp.set_nodelay(true);
                let connector = tokio_tungstenite::Connector::Rustls(tls.config.clone());
                tokio_tungstenite::client_async_tls_with_config(request, tcp, None, Some(connector)).await
            }
        }
        .map_err(|e| e.to_string())?;
        let (sink, mut stream) = socket.split();
        let sink = Arc::new(tokio::sync::Mutex::new(sink));
        let received = Arc::new(Mutex::new(Received::default()));
        let closed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stream_sid = format!("MZ{}", &c.call_sid.trim_start_matches("CA"));
        let (messages_tx, messages) = mpsc::unbounded_channel();
        let queue: Arc<Mutex<VecDeque<Queued>>> = Arc::default();
        // Wakes the speaker when something is queued (or the stream ends).
        let queued = Arc::new(tokio::sync::Notify::new());
        {
            let (received, queue, sink, stream_sid, closed, queued) = (
                received.clone(),
                queue.clone(),
                sink.clone(),
                stream_sid.clone(),
                closed.clone(),
                queued.clone(),
            );
            let auto = c.auto_playback;
            let on_media = c.on_media.clone();
            let record = c.record;
            tokio::spawn(async move {
                while let Some(Ok(message)) = stream.next().await {
                    let Message::Text(text) = message else { continue };
                    // Under load (nothing recorded) caller-bound audio skips the JSON tree.
                    if let Some(payload) = (!record).then(|| media_payload(&text)).flatten() {
                        if let Some(f) = &on_media {
                            f(payload);
                        }
                        let bytes = payload_len(payload);
                        queue.lock().unwrap().push_back(Queued::Audio(bytes));
                        queued.notify_one();
                        continue;
                    }
                    let value: Value = serde_json::from_str(&text).unwrap();
                    let mut pending_echoes = Vec::new();
                    {
                        let mut r = received.lock().unwrap();
                        match value["event"].as_str() {
                            Some("media") => {
                                let payload = value["media"]["payload"].as_str().unwrap().to_string();
                                if let Some(f) = &on_media {
                                    f(&payload);
                                }
                                let bytes =
                                    base64::engine::general_purpose::STANDARD.decode(&payload).unwrap().len();
                                if record {
                                    r.media.push(payload);
                                    r.arrivals.push(Instant::now());
                                }
                                queue.lock().unwrap().push_back(Queued::Audio(bytes));
                            }
                            Some("mark") => {
                                let name = value["mark"]["name"].as_str().unwrap().to_string();
                                r.marks.push(name.clone());
                                queue.lock().unwrap().push_back(Queued::Mark(name));
                            }
                            Some("clear") => {
                                r.clears += 1;
                                // Twilio drops queued audio and echoes every outstanding mark.
                                let mut q = queue.lock().unwrap();
                                for item in q.drain(..) {
                                    if let Queued::Mark(name) = item {
                                        pending_echoes.push(name);
                                    }
                                }
                            }
                            _ => {}
                        }
                        if record {
                            r.all.push(value.clone());
                        }
                    }
                    if auto {
                        for name in pending_echoes {
                            echo(&sink, &stream_sid, &received, &name).await;
                        }
                    }
                    queued.notify_one();
                    // Under load nobody reads them: kept, they would grow without bound.
                    if record {
                        let _ = messages_tx.send(value);
                    }
                }
                closed.store(true, std::sync::atomic::Ordering::SeqCst);
                queued.notify_one();
            });
        }
        if c.auto_playback {
            let (queue, sink, stream_sid, received, closed) =
                (queue, sink.clone(), stream_sid.clone(), received.clone(), closed.clone());
            tokio::spawn(async move {
                // The "speaker": plays queued audio in real time, echoing marks as reached;
                // asleep while there is nothing to play.
                let mut tick = tokio::time::interval(Duration::from_millis(10));
                let mut budget = 0usize;
                loop {
                    if queue.lock().unwrap().is_empty() {
                        if closed.load(std::sync::atomic::Ordering::SeqCst) {
                            break;
                        }
                        queued.notified().await;
                        tick.reset();
                        budget = 0;
                        continue;
                    }
                    tick.tick().await;
                    budget += 80;
                    loop {
                        let next = {
                            let mut q = queue.lock().unwrap();
                            match q.front_mut() {
                                Some(Queued::Audio(n)) if *n <= budget => {
                                    budget -= *n;
                                    q.pop_front();
                                    continue;
                                }
                                Some(Queued::Audio(n)) => {
                                    *n -= budget;
                                    budget = 0;
                                    None
                                }
                                Some(Queued::Mark(_)) => q.pop_front(),
                                None => {
                                    budget = 0;
                                    None
                                }
                            }
                        };
                        match next {
                            Some(Queued::Mark(name)) => echo(&sink, &stream_sid, &received, &name).await,
                            _ => break,
                        }
                    }
                }
            });
        }
        let mut call = MediaCall {
            sink,
            received,
            messages,
            stream_sid,
            call_sid: c.call_sid.to_string(),
            seq: 0,
            chunk: 0,
            clock_ms: 0,
            closed,
        };
        call.send(json!({ "event": "connected", "protocol": "Call", "version": "1.0.0" })).await;
        let custom: serde_json::Map<String, Value> =
            c.parameters.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        call.seq += 1;
        let start = json!({
            "event": "start", "sequenceNumber": call.seq.to_string(),
            "start": { "accountSid": "AC0123456789abcdef0123456789abcdef", "streamSid": call.stream_sid,
                "callSid": c.call_sid, "tracks": ["inbound"], "customParameters": custom,
                "mediaFormat": { "encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1 } },
            "streamSid": call.stream_sid
        });
        call.send(start).await;
        Ok(call)
    }

    pub async fn send(&mut self, message: Value) {
        let _ = self.sink.lock().await.send(Message::text(message.to_string())).await;
    }

    pub async fn send_raw(&mut self, text: &str) {
        let _ = self.sink.lock().await.send(Message::text(text.to_string())).await;
    }

    /// One caller frame (any length; 160 bytes is 20 ms), stamped with the stream clock.
    pub async fn media(&mut self, audio: &[u8]) {
        self.media_b64(&b64(audio), (audio.len() / 8) as u64).await;
    }

    /// One caller frame already in base64, `ms` long.
    pub async fn media_b64(&mut self, payload: &str, ms: u64) {
        self.seq += 1;
        self.chunk += 1;
        // Written by hand (all values are digits, base64 or our own ids): the
        // load generator sends tens of thousands of these a second.
        let message = format!(
            r#"{{"event":"media","sequenceNumber":"{}","media":{{"track":"inbound","chunk":"{}","timestamp":"{}","payload":"{}"}},"streamSid":"{}"}}"#,
            self.seq, self.chunk, self.clock_ms, payload, self.stream_sid
        );
        self.clock_ms += ms;
        let _ = self.sink.lock().await.send(Message::text(message)).await;
    }

    /// Caller audio as 20 ms frames, paced in real time when `paced`.
    pub async fn speak(&mut self, audio: &[u8], paced: bool) {
        for frame in audio.chunks(160) {
            self.media(frame).await;
            if paced {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    /// Echo a mark as Twilio does once it has played (manual mode).
    pub async fn echo_mark(&mut self, name: &str) {
        echo(&self.sink, &self.stream_sid, &self.received, name).await;
    }

    pub async fn dtmf(&mut self, digit: &str) {
        self.seq += 1;
        let message = json!({ "event": "dtmf", "streamSid": self.stream_sid, "sequenceNumber": self.seq.to_string(),
            "dtmf": { "track": "inbound_track", "digit": digit } });
        self.send(message).await;
    }

    /// The caller hangs up: `stop`, then the socket closes.
    pub async fn stop(&mut self) {
        self.seq += 1;
        let message = json!({ "event": "stop", "sequenceNumber": self.seq.to_string(), "streamSid": self.stream_sid,
            "stop": { "accountSid": "AC0123456789abcdef0123456789abcdef", "callSid": self.call_sid } });
        self.send(message).await;
        let _ = self.sink.lock().await.close().await;
    }

    /// The next message from the server of this event type.
    pub async fn expect(&mut self, event: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let message = tokio::time::timeout_at(deadline, self.messages.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!("no {event} from the server; got {:#?}", self.received.lock().unwrap().all)
                })
                .unwrap_or_else(|| panic!("media stream closed while waiting for {event}"));
            if message["event"] == event {
                return message;
            }
        }
    }

    /// Waits until the server closes the stream.
    pub async fn wait_closed(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }
}

async fn echo(
    sink: &Arc<tokio::sync::Mutex<SplitSink<Socket, Message>>>,
    stream_sid: &str,
    received: &Arc<Mutex<Received>>,
    name: &str,
) {
    received.lock().unwrap().echoed.push(name.to_string());
    let message =
        json!({ "event": "mark", "sequenceNumber": "0", "streamSid": stream_sid, "mark": { "name": name } });
    let _ = sink.lock().await.send(Message::text(message.to_string())).await;
}
