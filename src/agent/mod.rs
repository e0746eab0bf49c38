//! The conversation engine: one brain for chat and both voice modes.
//! No sockets and no SQL here; channels adapt transport and storage to it.

pub mod alerts;
pub mod answers;
pub mod conversation;
pub mod embed;
pub mod facts;
pub mod llm;
pub mod local_model;
pub mod provider;
pub mod speech;
pub mod state;
pub mod tools;
pub mod triage;
pub mod triage_model;
pub mod voice;
