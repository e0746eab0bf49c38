//! frontdesk: an AI receptionist for small businesses, in one binary.
//!
//! Where things live, from the edge inward:
//! - `cli` (one file per subcommand) starts `server` (process wiring,
//!   `AppState`), which mounts `web` (the owner's UI and admin API) and
//!   `channels` (chat, and the phone: realtime bridge and gather) on `http`
//!   (the accept loop: connections, limits, the peer address) and `tls`
//!   (certificates: ACME or files).
//! - `agent` is the conversation engine every channel shares (no sockets, no
//!   SQL); `retrieval` (chunking, query words, fusion, answer sentences) is
//!   shared by the engine and the store backends; `notify` delivers alerts through a durable outbox; `indexer`
//!   embeds knowledge in the background.
//! - `store` (persistence behind a trait: SQLite or Postgres) and `sessions`
//!   (short-lived shared state: in memory or Redis) hold what persists.
//! - Beneath them: `domain` (plain data types), `plans` (what each tier may
//!   do), `validate` (one validator per field), `config` (settings),
//!   `provision` (the business import/export file), `auth` (password hashes,
//!   the JWT secret), `twilio` (signatures and the REST API), `xml`, `files`
//!   (private file modes), `assets` (files embedded in the binary), `demo`
//!   (the demo's sample week), `error` (the HTTP face of errors),
//!   `telemetry` (logging).

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
pub mod import;
pub mod indexer;
pub mod notify;
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
pub mod validate;
pub mod web;
pub mod xml;

#[cfg(test)]
mod properties;
