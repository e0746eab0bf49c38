//! The floor the voice bridge is judged against (issue 17): a minimal
//! pass-through between a Twilio media stream and an OpenAI Realtime
//! session, with no features at all. It parses only what it must (the
//! stream id, each media payload, each audio delta, found by substring),
//! configures the session for μ-law both ways (PROTOCOLS.md 5.8), relays
//! caller frames as `input_audio_buffer.append` and model audio as Twilio
//! `media`, and sends no marks, keeps no transcript, saves nothing.
//!
//! It runs as its own process (the voice bench starts itself with
//! `--floor-server OPENAI_BASE_URL`), so its CPU and memory are read from
//! /proc exactly as frontdesk's are.

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

/// The same small buffers frontdesk gives a call's sockets.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20))
}

/// The value of `"key":"…"` in `text`, taken as is (no unescaping: Twilio's
/// ids and base64 payloads never need it).
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let at = text.find(key)? + key.len();
    let rest = &text[at..];
    Some(&rest[..rest.find('"')?])
}

/// Serves the floor on loopback; prints `floor listening on ws://ADDR` and runs until killed.
pub fn serve(openai_base: String) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    runtime.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("floor listening on ws://{}", listener.local_addr().unwrap());
        let model_url =
            format!("{}/realtime?model=gpt-realtime", openai_base.replacen("http://", "ws://", 1));
        loop {
            let Ok((tcp, _)) = listener.accept().await else { continue };
            let url = model_url.clone();
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                relay(tcp, url).await;
            });
        }
    });
}

async fn relay(tcp: TcpStream, model_url: String) {
    let Ok(twilio) = tokio_tungstenite::accept_async_with_config(tcp, Some(config())).await else { return };
    let Ok((model, _)) = tokio_tungstenite::connect_async_with_config(model_url, Some(config()), true).await
    else {
        return;
    };
    let (mut twilio_tx, mut twilio_rx) = twilio.split();
    let (mut model_tx, mut model_rx) = model.split();
    let update = r#"{"type":"session.update","session":{"type":"realtime","audio":{"input":{"format":{"type":"audio/pcmu"}},"output":{"format":{"type":"audio/pcmu"}}}}}"#;
    if model_tx.send(Message::text(update)).await.is_err() {
        return;
    }
    let mut stream_sid = String::new();
    loop {
        tokio::select! {
            message = twilio_rx.next() => {
                let Some(Ok(Message::Text(text))) = message else { break };
                if let Some(payload) = field(&text, r#""payload":""#) {
                    let append = format!(r#"{{"type":"input_audio_buffer.append","audio":"{payload}"}}"#);
                    if model_tx.send(Message::text(append)).await.is_err() {
                        break;
                    }
                } else if text.contains(r#""event":"start""#) {
                    stream_sid = field(&text, r#""streamSid":""#).unwrap_or_default().to_string();
                } else if text.contains(r#""event":"stop""#) {
                    break;
                }
            }
            message = model_rx.next() => {
                let Some(Ok(Message::Text(text))) = message else { break };
                if !text.contains(r#"audio.delta""#) {
                    continue;
                }
                let Some(delta) = field(&text, r#""delta":""#) else { continue };
                let media = format!(r#"{{"event":"media","streamSid":"{stream_sid}","media":{{"payload":"{delta}"}}}}"#);
                if twilio_tx.send(Message::text(media)).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = model_tx.close().await;
}
