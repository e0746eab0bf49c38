//! OpenAI's HTTP APIs (or any compatible server): the clients that leave
//! this process, kept out of `agent` so the engine itself does no I/O.
//! `chat.rs` is the `openai` reply provider (chat completions, streamed,
//! driving the engine's tools through `agent::provider::ReplyProvider`),
//! `embed.rs` the embeddings client (the indexer, knowledge search),
//! `speech.rs` text to speech (the voice samples). The Realtime API's
//! WebSocket lives with the call bridge (`channels::voice`).

pub mod chat;
pub mod embed;
pub mod speech;

use std::time::Duration;

/// The HTTP client every OpenAI call uses: a short connect timeout, so a
/// dead endpoint fails fast, and the whole request bounded by `timeout`
/// where the caller wants one (a streamed chat reply bounds its own reads).
pub(crate) fn http_client(timeout: Option<Duration>) -> reqwest::Client {
    let builder = reqwest::Client::builder().connect_timeout(Duration::from_secs(5));
    let builder = match timeout {
        Some(timeout) => builder.timeout(timeout),
        None => builder,
    };
    builder.build().unwrap_or_default()
}
