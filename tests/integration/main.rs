//! Integration tests: every one runs the real `frontdesk` binary against a
//! temporary data directory. One test binary keeps link time down.

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
mod common;
mod config;
mod connections;
mod conversations;
#[path = "../fakes/ca.rs"]
mod fake_ca;
#[path = "../fakes/documents.rs"]
mod fake_documents;
#[path = "../fakes/media.rs"]
mod fake_media;
#[path = "../fakes/openai.rs"]
mod fake_openai;
#[path = "../fakes/realtime.rs"]
mod fake_realtime;
#[path = "../fakes/site.rs"]
mod fake_site;
#[path = "../fakes/twilio.rs"]
mod fake_twilio;
mod first_hour;
mod harden_auth;
mod harden_http;
mod harden_voice;
mod heldout;
mod instances;
mod knowledge;
mod knowledge_import;
mod latency;
mod measure;
mod migrate_data;
mod notify;
mod notify_recovery;
mod notify_support;
mod pebble;
mod permissions;
mod plans;
mod scale_out;
mod server;
mod smtp;
mod static_binary;
mod store_contract;
mod tls;
mod twilio_rest;
mod ui;
mod ui_browser;
mod ui_common;
mod ui_journey;
mod ui_notify;
mod voice;
mod voice_live;
mod voice_page;
mod webdriver;
