//! frontdesk: an AI receptionist for small businesses, in one binary.
//!
//! Where things live, from the top of the import tree down: a module
//! imports only modules on its own line or below it, save the few imports
//! the README's "Layout" names (each into a leaf file), and no two files
//! import each other, directly or around a loop.
//! - `cli` (one file per subcommand) starts `server`, which mounts every
//!   route group (`server::routes`) and serves them.
//! - `web` (the owner's UI and admin API, and the emergency call's press-1
//!   answer); `provision` (the business
//!   import/export file, which reads knowledge files through `import`).
//! - `import`: knowledge from files and websites, in background jobs.
//! - `channels` (chat, and the phone: realtime bridge and gather), `notify`
//!   (alerts through a durable outbox; no HTTP routes), `indexer`
//!   (knowledge embedded in the background).
//! - `state`: `AppState`, what every handler shares, built from the config.
//! - `tls` (certificates: ACME or files), over `http` (the accept loop:
//!   connections, limits, the peer address; and the warp plumbing every
//!   route group uses: bodies, the client's address, WebSocket upgrades,
//!   compression, rate limits, `with_state`, the JSON rejection, and the
//!   one check of a Twilio request).
//! - `error` (the HTTP face of errors), over `store` (persistence behind a
//!   trait: SQLite or Postgres), `openai` (the chat, embeddings and speech
//!   clients; the chat one is a reply provider for `agent`) and `validate`
//!   (one validator per field).
//! - `agent`: the conversation engine every channel shares (no sockets, no
//!   SQL).
//! - `sessions` (short-lived shared state: in memory or Redis), `plans`
//!   (what each tier may do), `twilio` (signatures and the REST API), `twiml` (the one TwiML writer), `auth`
//!   (password hashes, the JWT secret), `demo` (the demo's sample week),
//!   `telemetry` (logging).
//! - At the ground: `domain` (plain data types), `ids` (the typed ids the
//!   store's traits take and return), `retrieval` (chunking,
//!   query words, fusion, answer sentences), `config` (settings, and the
//!   database URL parsed), `xml`, `files` (private file modes), `assets`
//!   (files embedded in the binary).

pub mod agent;
pub mod assets;
pub mod auth;
pub mod channels;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod error;
pub mod files;
pub mod http;
pub mod ids;
pub mod import;
pub mod indexer;
pub mod notify;
pub mod openai;
pub mod plans;
pub mod provision;
pub mod retrieval;
pub mod server;
pub mod sessions;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod twilio;
pub mod twiml;
pub mod validate;
pub mod web;
pub mod xml;

#[cfg(test)]
mod properties;
