//! Channels adapt a transport to the conversation engine: the website chat
//! now; the phone (realtime and gather) through the same `engine::run_turn`.

pub mod chat;
pub mod engine;
pub mod voice;
