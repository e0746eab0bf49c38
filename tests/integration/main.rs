//! Integration tests: every one runs the real `frontdesk` binary against a
//! temporary data directory. One test binary keeps link time down.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin_api;
mod backup;
mod browser;
mod chat;
mod chat_llm;
mod cli;
mod common;
mod config;
mod fake_openai;
mod fake_twilio;
mod knowledge;
mod server;
mod twilio_rest;
mod ui;
mod ui_browser;
mod ui_common;
mod webdriver;
