//! The Twilio side of one call: the signed `incoming` webhook (frontdesk
//! only), then a media stream sending a tagged 20 ms μ-law frame every 20 ms
//! and playing back what it receives in real time: each `mark` is echoed
//! once the audio queued before it has played (8 bytes a millisecond,
//! checked at each 20 ms tick), `clear` echoes every pending mark at once.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{tag_of, tagged, Order, Shared, Target};
use crate::fake_media::{b64, stream_parameters, tone, twilio_signature};
use crate::{NUMBER, PUBLIC, STREAM, TOKEN};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Small read buffers: 2,500 calls are 5,000 sockets in this process.
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(8 * 1024)
}

pub fn http_client(target: &Target) -> reqwest::Client {
    match &target.tls {
        None => reqwest::Client::new(),
        Some((addr, config)) => reqwest::Client::builder()
            .use_preconfigured_tls((**config).clone())
            .resolve("load.test", *addr)
            .build()
            .unwrap(),
    }
}

/// The stream's `customParameters` from frontdesk's TwiML (its token among them); None if refused.
async fn webhook(base: &str, sid: &str, http: &reqwest::Client) -> Option<Vec<(String, String)>> {
    let params = [("CallSid", sid), ("From", "+13125550142"), ("To", NUMBER), ("CallStatus", "ringing")];
    let signature = twilio_signature(TOKEN, &format!("{PUBLIC}/api/voice/incoming"), &params);
    let response = http
        .post(format!("{base}/api/voice/incoming"))
        .header("X-Twilio-Signature", signature)
        .form(&params)
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    Some(stream_parameters(&response.text().await.ok()?))
}

async fn connect(target: &Target, sign: bool) -> Option<Socket> {
    let mut request = target.ws_url.as_str().into_client_request().ok()?;
    if sign {
        let signature = twilio_signature(TOKEN, STREAM, &[]);
        request.headers_mut().insert("x-twilio-signature", signature.parse().ok()?);
    }
    let (tcp, connector) = match &target.tls {
        None => {
            let host = request.uri().authority()?.as_str().to_string();
            (TcpStream::connect(host).await.ok()?, None)
        }
        Some((addr, config)) => {
            (TcpStream::connect(addr).await.ok()?, Some(tokio_tungstenite::Connector::Rustls(config.clone())))
        }
    };
    let _ = tcp.set_nodelay(true);
    let (socket, _) =
        tokio_tungstenite::client_async_tls_with_config(request, tcp, Some(ws_config()), connector)
            .await
            .ok()?;
    Some(socket)
}

/// One call as Twilio makes it; false if it could not be made.
pub async fn call(call: u32, target: &Target, http: &reqwest::Client, shared: &Shared) -> bool {
    let sid = format!("CA{call:032x}");
    let stream_sid = format!("MZ{call:032x}");
    let parameters = match &target.webhook_base {
        Some(base) => match webhook(base, &sid, http).await {
            Some(p) => p,
            None => return false,
        },
        None => Vec::new(),
    };
    let Some(mut ws) = connect(target, target.webhook_base.is_some()).await else { return false };
    let custom: serde_json::Map<String, serde_json::Value> =
        parameters.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
    let start = serde_json::json!({
        "event": "start", "sequenceNumber": "1",
        "start": { "accountSid": "AC0123456789abcdef0123456789abcdef", "streamSid": stream_sid,
            "callSid": sid, "tracks": ["inbound"], "customParameters": custom,
            "mediaFormat": { "encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1 } },
        "streamSid": stream_sid
    });
    let connected = r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#;
    if ws.feed(Message::text(connected)).await.is_err()
        || ws.send(Message::text(start.to_string())).await.is_err()
    {
        return false;
    }
    shared.connected.fetch_add(1, Ordering::Relaxed);
    let mut stream =
        Stream { ws, stream_sid, call, seq: 1, playing_until: Instant::now(), marks: VecDeque::new() };
    let order = stream.run(shared).await;
    order.add_to(&shared.down);
    true
}

struct Stream {
    ws: Socket,
    stream_sid: String,
    call: u32,
    /// Twilio's message counter.
    seq: u32,
    /// When the audio received so far will have finished playing.
    playing_until: Instant,
    /// Marks not yet echoed, with when their audio has played.
    marks: VecDeque<(Instant, String)>,
}

impl Stream {
    async fn run(&mut self, shared: &Shared) -> Order {
        let audio = b64(&tone(440.0, 20)[super::TAG..]);
        // Calls are not in step with each other: spread each call's frames over the 20 ms.
        let phase = Duration::from_micros((u64::from(self.call) * 7919) % 20_000);
        let mut tick = tokio::time::interval_at(Instant::now() + phase, Duration::from_millis(20));
        let mut order = Order::default();
        let mut frame = 0u32;
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    if shared.hang_up.load(Ordering::Relaxed) {
                        break;
                    }
                    frame += 1;
                    if self.frame(frame, &audio, shared).await.is_err() {
                        shared.dropped.fetch_add(1, Ordering::Relaxed);
                        return order;
                    }
                }
                message = self.ws.next() => {
                    let text = match message {
                        Some(Ok(Message::Text(text))) => text,
                        // Pings are answered by the socket itself on its next write.
                        Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Binary(_) | Message::Frame(_))) => continue,
                        _ => {
                            shared.dropped.fetch_add(1, Ordering::Relaxed);
                            return order;
                        }
                    };
                    if self.received(&text, &mut order, shared).await.is_err() {
                        shared.dropped.fetch_add(1, Ordering::Relaxed);
                        return order;
                    }
                }
            }
        }
        self.seq += 1;
        let stop = format!(
            r#"{{"event":"stop","sequenceNumber":"{}","streamSid":"{}","stop":{{"accountSid":"AC0123456789abcdef0123456789abcdef","callSid":"CA{:032x}"}}}}"#,
            self.seq, self.stream_sid, self.call
        );
        let _ = self.ws.send(Message::text(stop)).await;
        let _ = self.ws.close(None).await;
        order
    }

    /// This tick's caller frame and the marks whose audio has played, in one flush.
    async fn frame(&mut self, frame: u32, audio: &str, shared: &Shared) -> Result<(), ()> {
        self.seq += 1;
        let payload = tagged(self.call, frame, shared.now_ns(), audio);
        let media = format!(
            r#"{{"event":"media","sequenceNumber":"{}","media":{{"track":"inbound","chunk":"{frame}","timestamp":"{}","payload":"{payload}"}},"streamSid":"{}"}}"#,
            self.seq,
            u64::from(frame - 1) * 20,
            self.stream_sid
        );
        self.ws.feed(Message::text(media)).await.map_err(drop)?;
        let now = Instant::now();
        while self.marks.front().is_some_and(|(due, _)| *due <= now) {
            let Some((_, name)) = self.marks.pop_front() else { break };
            self.echo(&name).await?;
        }
        self.ws.flush().await.map_err(drop)
    }

    async fn echo(&mut self, name: &str) -> Result<(), ()> {
        let echo = format!(
            r#"{{"event":"mark","sequenceNumber":"0","streamSid":"{}","mark":{{"name":"{name}"}}}}"#,
            self.stream_sid
        );
        self.ws.feed(Message::text(echo)).await.map_err(drop)
    }

    async fn received(&mut self, text: &str, order: &mut Order, shared: &Shared) -> Result<(), ()> {
        if let Some(payload) = field(text, r#"{"event":"media","#, r#""payload":""#) {
            let now = Instant::now();
            let ms = (payload.len() / 4 * 3) as u64 / 8;
            self.playing_until = self.playing_until.max(now) + Duration::from_millis(ms);
            if let Some((call, seq, sent)) = tag_of(payload) {
                if call == self.call {
                    order.arrived(seq, sent, shared, &shared.down);
                }
            }
        } else if let Some(name) = field(text, r#"{"event":"mark","#, r#""name":""#) {
            self.marks.push_back((self.playing_until, name.to_string()));
        } else if text.starts_with(r#"{"event":"clear""#) {
            // Twilio drops the queued audio and echoes every outstanding mark.
            self.playing_until = Instant::now();
            while let Some((_, name)) = self.marks.pop_front() {
                self.echo(&name).await?;
            }
            self.ws.flush().await.map_err(drop)?;
        }
        Ok(())
    }
}

/// The string value after `key` in a message starting with `prefix`.
fn field<'a>(text: &'a str, prefix: &str, key: &str) -> Option<&'a str> {
    let rest = text.strip_prefix(prefix)?;
    let value = &rest[rest.find(key)? + key.len()..];
    Some(&value[..value.find('"')?])
}
