//! frontdesk: an AI receptionist for small businesses, in one binary.
//!
//! Where things live: `config` (settings), `store` (persistence behind a
//! trait), `sessions` (conversation state), `web` (HTTP routes), `server`
//! (process wiring), `http` (the accept loop: connections, limits, the peer
//! address), `tls` (certificates: ACME or files), `files` (private file
//! modes), `cli` (one file per subcommand), `provision` (the business
//! import/export file).

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
pub mod server;
pub mod sessions;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod twilio;
pub mod validate;
pub mod web;
pub mod xml;

#[cfg(test)]
mod properties;
