//! A local server speaking OpenAI's chat-completions API (streamed), scripted
//! per test: each request takes the next scripted answer and is recorded.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use warp::Filter;

pub enum Scripted {
    /// SSE chunks (each a `chat.completion.chunk` JSON), then `[DONE]`.
    Stream(Vec<Value>),
    Status(u16),
    /// Answer nothing for this long.
    Hang(Duration),
    /// Wait this long, then answer with the scripted reply.
    Delayed(Duration, Box<Scripted>),
}

/// (Authorization header, JSON body) of each request received.
type Recorded = Arc<Mutex<Vec<(Option<String>, Value)>>>;

#[derive(Clone, Default)]
pub struct FakeOpenAi {
    script: Arc<Mutex<VecDeque<Scripted>>>,
    pub requests: Recorded,
    /// `/audio/speech` requests, apart from the chat ones.
    pub speech: Recorded,
}

/// The voices `/audio/speech` knows (OpenAI's built-in ones).
const SPEECH_VOICES: &[&str] = &[
    "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse", "marin",
    "cedar",
];

impl FakeOpenAi {
    /// Starts on a free port; returns the base URL to configure (`…/v1`).
    pub async fn start(script: Vec<Scripted>) -> (FakeOpenAi, String) {
        let fake = FakeOpenAi { script: Arc::new(Mutex::new(script.into())), ..FakeOpenAi::default() };
        let state = fake.clone();
        let route = warp::path!("v1" / "chat" / "completions")
            .and(warp::post())
            .and(warp::header::optional::<String>("authorization"))
            .and(warp::body::json())
            .then(move |auth: Option<String>, body: Value| {
                let state = state.clone();
                async move {
                    state.requests.lock().unwrap().push((auth, body));
                    let mut next = state.script.lock().unwrap().pop_front();
                    if let Some(Scripted::Delayed(delay, inner)) = next {
                        tokio::time::sleep(delay).await;
                        next = Some(*inner);
                    }
                    match next {
                        Some(Scripted::Stream(chunks)) => {
                            let mut text = String::new();
                            for c in chunks {
                                text.push_str(&format!("data: {c}\n\n"));
                            }
                            text.push_str("data: [DONE]\n\n");
                            warp::http::Response::builder()
                                .header("content-type", "text/event-stream")
                                .body(text)
                                .unwrap()
                        }
                        Some(Scripted::Status(code)) => warp::http::Response::builder()
                            .status(code)
                            .body(json!({"error": {"message": "scripted failure"}}).to_string())
                            .unwrap(),
                        Some(Scripted::Hang(d)) => {
                            tokio::time::sleep(d).await;
                            warp::http::Response::builder().status(504).body(String::new()).unwrap()
                        }
                        Some(Scripted::Delayed(..)) | None => warp::http::Response::builder()
                            .status(500)
                            .body("script exhausted".into())
                            .unwrap(),
                    }
                }
            });
        let embeddings = warp::path!("v1" / "embeddings").and(warp::post()).and(warp::body::json()).map(|body: Value| {
            let inputs: Vec<String> = match &body["input"] {
                Value::String(s) => vec![s.clone()],
                Value::Array(items) => items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
                _ => Vec::new(),
            };
            let data: Vec<Value> = inputs
                .iter()
                .enumerate()
                .map(|(i, text)| json!({ "object": "embedding", "index": i, "embedding": concept_vector(text) }))
                .collect();
            warp::reply::json(&json!({ "object": "list", "model": body["model"], "data": data,
                "usage": { "prompt_tokens": 1, "total_tokens": 1 } }))
        });
        let recorded = fake.speech.clone();
        let speech = warp::path!("v1" / "audio" / "speech")
            .and(warp::post())
            .and(warp::header::optional::<String>("authorization"))
            .and(warp::body::bytes())
            .map(move |auth: Option<String>, body: warp::hyper::body::Bytes| {
                let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                recorded.lock().unwrap().push((auth.clone(), parsed.clone()));
                speech_answer(auth.as_deref(), &parsed)
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(warp::serve(route.or(embeddings).or(speech)).incoming(listener).run());
        (fake, format!("http://{addr}/v1"))
    }

    pub fn request(&self, i: usize) -> Value {
        self.requests.lock().unwrap()[i].1.clone()
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    /// `/audio/speech` requests so far: (Authorization header, JSON body).
    pub fn speech_requests(&self) -> Vec<(Option<String>, Value)> {
        self.speech.lock().unwrap().clone()
    }
}

/// `POST /v1/audio/speech` as OpenAI answers it: the audio bytes
/// (`audio/mpeg` for mp3, the default), or an `invalid_request_error`.
fn speech_answer(auth: Option<&str>, body: &Value) -> warp::http::Response<Vec<u8>> {
    let refuse = |status: u16, kind: &str, message: &str, param: Value| {
        let error = json!({ "error": { "message": message, "type": kind, "param": param, "code": null } });
        warp::http::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(error.to_string().into_bytes())
            .unwrap()
    };
    if !auth.is_some_and(|a| a.starts_with("Bearer ") && a.len() > "Bearer ".len()) {
        return refuse(401, "invalid_request_error", "You didn't provide an API key.", Value::Null);
    }
    for field in ["model", "input", "voice"] {
        if !body[field].is_string() {
            return refuse(
                400,
                "invalid_request_error",
                &format!("Missing required parameter: '{field}'."),
                json!(field),
            );
        }
    }
    let input = body["input"].as_str().unwrap_or_default();
    if input.chars().count() > 4096 {
        return refuse(400, "invalid_request_error", "input is longer than 4096 characters", json!("input"));
    }
    let voice = body["voice"].as_str().unwrap_or_default();
    if !SPEECH_VOICES.contains(&voice) {
        return refuse(
            400,
            "invalid_request_error",
            &format!("Invalid value for 'voice': '{voice}'."),
            json!("voice"),
        );
    }
    let format = body["response_format"].as_str().unwrap_or("mp3");
    let content_type = match format {
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "opus" => "audio/ogg",
        "aac" => "audio/aac",
        "flac" => "audio/flac",
        "pcm" => "audio/pcm",
        _ => {
            return refuse(400, "invalid_request_error", "Invalid response_format", json!("response_format"))
        }
    };
    // Stands in for audio: an ID3 header, then what was asked, so a test can
    // tell one sample from another.
    let mut audio = b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec();
    audio.extend(format!("{}|{voice}|{input}", body["model"].as_str().unwrap_or_default()).as_bytes());
    warp::http::Response::builder().status(200).header("content-type", content_type).body(audio).unwrap()
}

fn chunk(delta: Value) -> Value {
    json!({
        "id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 1, "model": "gpt-test",
        "choices": [{ "index": 0, "delta": delta, "finish_reason": null }]
    })
}

/// A streamed text answer, split in pieces as a model would.
pub fn text(reply: &str) -> Scripted {
    let mut chunks = vec![chunk(json!({ "role": "assistant", "content": "" }))];
    for piece in reply.split_inclusive(' ') {
        chunks.push(chunk(json!({ "content": piece })));
    }
    Scripted::Stream(chunks)
}

/// Streamed tool calls, each call's arguments split across chunks.
pub fn tool_calls(calls: &[(&str, Value)]) -> Scripted {
    let mut chunks = vec![chunk(json!({ "role": "assistant", "content": null }))];
    for (i, (name, args)) in calls.iter().enumerate() {
        chunks.push(chunk(json!({ "tool_calls": [{
            "index": i, "id": format!("call_{i}"), "type": "function",
            "function": { "name": name, "arguments": "" } }] })));
        let args = args.to_string();
        let (a, b) = args.split_at(args.len() / 2);
        for part in [a, b] {
            chunks.push(chunk(json!({ "tool_calls": [{ "index": i, "function": { "arguments": part } }] })));
        }
    }
    Scripted::Stream(chunks)
}

/// A tiny stand-in for a real embedding model: words map to shared concepts,
/// so "sabbath" lands near "Saturdays" though they share no word.
pub fn concept_vector(text: &str) -> Vec<f32> {
    const CONCEPTS: [&[&str]; 4] = [
        &["saturday", "saturdays", "sunday", "sundays", "weekend", "weekends", "sabbath"],
        &["price", "prices", "cost", "costs", "fee", "fees", "charge", "much", "dollars"],
        &["open", "hours", "closed", "close"],
        &["water", "leak", "leaking", "pipe", "pipes", "flood"],
    ];
    let mut v = [0.0f32; 16];
    for word in text.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        match CONCEPTS.iter().position(|c| c.contains(&word)) {
            Some(i) => v[i] += 1.0,
            None => v[8 + word.bytes().map(usize::from).sum::<usize>() % 8] += 0.05,
        }
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
    v.iter().map(|x| x / norm).collect()
}
