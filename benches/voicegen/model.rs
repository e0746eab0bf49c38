//! The model side: a minimal OpenAI Realtime endpoint. Each session says
//! `session.created`, answers `session.update` with `session.updated`,
//! learns its call from the first caller frame's tag, then sends audio
//! deltas in the chosen shape for as long as the server keeps it open, and
//! measures every caller frame (`input_audio_buffer.append`) it receives.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;

use super::{tag_of, tagged, Order, Shape, Shared};

const APPEND: &str = r#"{"type":"input_audio_buffer.append","audio":""#;

/// A loopback port for every thread's model listener: bound once here with
/// `SO_REUSEPORT` (so the threads' listeners can join it) and kept bound
/// for the life of the process, so no one else takes it.
pub fn reserve_port() -> u16 {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseport(true).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = socket.local_addr().unwrap().port();
    // Bound, never listening: it receives no connections. Leaked on purpose (see above).
    std::mem::forget(socket);
    port
}

/// This thread's listener on the shared port.
pub fn listen(port: u16) -> TcpListener {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseport(true).unwrap();
    socket.set_nodelay(true).unwrap();
    socket.bind(std::net::SocketAddr::from(([127, 0, 0, 1], port))).unwrap();
    socket.listen(4096).unwrap()
}

pub async fn accept_all(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else { continue };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(session(tcp, shared.clone()));
    }
}

/// The model's audio: how many deltas each tick, how often, and the base64
/// of one delta's audio after its tag.
struct Speech {
    every: Duration,
    per_tick: u32,
    tail: String,
}

fn speech(shape: Shape) -> Speech {
    let (every_ms, delta_ms, per_tick) = match shape {
        Shape::Continuous => (20, 20, 1),
        Shape::Bursts { burst_ms, every_ms, delta_ms } => {
            (every_ms.max(1), delta_ms.max(20), (burst_ms / delta_ms.max(20)).max(1) as u32)
        }
    };
    let audio = crate::fake_media::tone(330.0, delta_ms as usize);
    Speech {
        every: Duration::from_millis(every_ms),
        per_tick,
        tail: crate::fake_media::b64(&audio[super::TAG..]),
    }
}

async fn session(tcp: TcpStream, shared: Arc<Shared>) {
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(tcp, Some(super::twilio::ws_config())).await
    else {
        return;
    };
    let created = r#"{"type":"session.created","event_id":"event_0","session":{"type":"realtime","object":"realtime.session","id":"sess_fake"}}"#;
    if ws.send(Message::text(created)).await.is_err() {
        return;
    }
    shared.models_open.fetch_add(1, Ordering::Relaxed);
    let _open = Open(&shared);
    let speech = speech(shared.shape);
    let mut call: Option<u32> = None;
    let mut tick: Option<tokio::time::Interval> = None;
    let mut seq = 0u32;
    let mut order = Order::default();
    loop {
        tokio::select! {
            _ = async { tick.as_mut().unwrap().tick().await }, if tick.is_some() => {
                let Some(call) = call else { continue };
                for _ in 0..speech.per_tick {
                    seq += 1;
                    let payload = tagged(call, seq, shared.now_ns(), &speech.tail);
                    let delta = format!(
                        r#"{{"type":"response.output_audio.delta","event_id":"e","response_id":"resp_1","item_id":"item_{call}","output_index":0,"content_index":0,"delta":"{payload}"}}"#
                    );
                    if ws.feed(Message::text(delta)).await.is_err() {
                        break;
                    }
                }
                if ws.flush().await.is_err() {
                    break;
                }
            }
            message = ws.next() => {
                let message = match message {
                    Some(Ok(message)) => message,
                    Some(Err(e)) => {
                        eprintln!("model session failed: {e}");
                        break;
                    }
                    None => break,
                };
                let Message::Text(text) = message else {
                    if message.is_close() { break; }
                    continue;
                };
                if let Some(audio) = text.strip_prefix(APPEND) {
                    let Some((from, n, sent)) = tag_of(audio) else { continue };
                    if call.is_none() {
                        call = Some(from);
                        tick = Some(first_tick(from, speech.every));
                    }
                    if call == Some(from) {
                        order.arrived(n, sent, &shared, &shared.up);
                    }
                } else if text.contains(r#""type":"session.update""#) {
                    let updated = r#"{"type":"session.updated","event_id":"event_u","session":{"type":"realtime"}}"#;
                    if ws.send(Message::text(updated)).await.is_err() {
                        break;
                    }
                }
            }
        }
    }
    order.add_to(&shared.up);
}

/// Counts a model session as open until it ends, however it ends.
struct Open<'a>(&'a Shared);

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.models_open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Sessions are not in step with each other: spread their ticks over the period.
fn first_tick(call: u32, every: Duration) -> tokio::time::Interval {
    let every_us = every.as_micros().max(1) as u64;
    let phase = Duration::from_micros((u64::from(call) * 7919) % every_us);
    tokio::time::interval_at(tokio::time::Instant::now() + phase, every)
}
