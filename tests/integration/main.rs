//! Integration tests: every one runs the real `frontdesk` binary against a
//! temporary data directory. One test binary keeps link time down. The
//! modules here are suites; what they share is in `support/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin_api;
mod analytics;
mod analytics_rollup;
mod backup;
mod browser;
mod caps;
mod chat;
mod chat_llm;
mod cli;
mod config;
mod connections;
mod conversations;
mod first_hour;
mod harden_auth;
mod harden_http;
mod harden_voice;
mod heldout;
mod heldout_sets;
mod instances;
mod knowledge;
mod knowledge_import;
mod latency;
mod measure;
mod migrate_data;
mod notify;
mod notify_recovery;
mod permissions;
mod plans;
mod scale_out;
mod server;
mod static_binary;
mod store_contract;
mod support;
mod tls;
mod twilio_rest;
mod ui;
mod ui_browser;
mod ui_journey;
mod ui_notify;
mod voice;
mod voice_live;
mod voice_page;
