//! The owner's web UI and the admin API: pages, forms, sign-in, analytics.
//! The routes are mounted by `server::routes`; the shared warp plumbing
//! (bodies, client address, WebSocket upgrades, rejections) is in `http`.

pub mod actions;
pub mod analytics;
pub mod api;
pub mod auth;
pub mod call_connect;
pub mod charts;
pub mod export;
pub mod forms;
pub mod hashing;
pub mod health;
pub mod input;
pub mod notify_forms;
pub mod operator_analytics;
pub mod pages;
pub mod setup_token;
pub mod templates;
pub mod throttle;
