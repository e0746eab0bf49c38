//! Notifications through a durable outbox.
//!
//! Rows are written with the events that cause them: `outbox_rows.rs` says
//! which, each store backend inserts them in the event's transaction;
//! the worker here delivers them: email (`email.rs`), SMS (`sms.rs`), the
//! emergency call (`call.rs`, its key press answered by `web/call_connect.rs`) and signed webhooks
//! (`webhook.rs`), worded by `render.rs`. `policy.rs` decides channels and
//! retries, `digest.rs` when the daily digest is due.

pub mod call;
pub mod destination;
pub mod digest;
pub mod email;
pub mod outbox_rows;
pub mod policy;
pub mod render;
pub mod sms;
mod smtp_pool;
pub mod webhook;
mod worker;

pub use worker::{spawn, Notifier};

/// A delivery attempt that did not fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// Handed to the provider (its id: SMS or call SID, Message-ID, HTTP status).
    Sent(Option<String>),
    /// Kept on this server (no mail server configured): nobody received it.
    Kept(Option<String>),
}

/// Why a delivery attempt failed, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Network trouble, timeouts, 4xx SMTP answers, Twilio 5xx/429: retried with backoff.
    #[error("{0}")]
    Transient(String),
    /// A bad address or number, an SMTP 5xx, a webhook's 4xx: dead at once.
    #[error("{0}")]
    Permanent(String),
}
