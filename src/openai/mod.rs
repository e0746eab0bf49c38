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
