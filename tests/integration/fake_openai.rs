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
}

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
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(warp::serve(route.or(embeddings)).incoming(listener).run());
        (fake, format!("http://{addr}/v1"))
    }

    pub fn request(&self, i: usize) -> Value {
        self.requests.lock().unwrap()[i].1.clone()
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
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
