//! The conversation engine: one brain for chat and both voice modes.
//! No sockets and no SQL here; channels adapt transport and storage to it,
//! and the OpenAI clients that word replies live in `openai`.

pub mod alerts;
pub mod answers;
pub mod conversation;
pub mod corrections;
pub mod facts;
pub mod local_model;
pub mod phrases;
pub mod provider;
mod spoken;
pub mod state;
pub mod tools;
pub mod triage;
pub mod triage_model;
pub mod voice;
