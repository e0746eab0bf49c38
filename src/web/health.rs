//! `GET /health`: what a monitor needs to know, 503 when the database is down.

use std::sync::atomic::Ordering;

use serde::Serialize;
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

use crate::state::AppState;

#[derive(Debug, Serialize)]
pub struct Health {
    pub status: &'static str,
    /// Which instance answered (several may sit behind one load balancer).
    pub instance: String,
    pub version: &'static str,
    pub uptime_seconds: u64,
    pub database: DatabaseHealth,
    pub sessions: SessionHealth,
    pub websockets: WebSocketHealth,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryHealth>,
    pub tls: crate::tls::TlsHealth,
}

#[derive(Debug, Serialize)]
pub struct DatabaseHealth {
    pub ok: bool,
    pub backend: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SessionHealth {
    pub active: u64,
    /// `memory`, or `redis` (with `ok` false while it is unreachable and
    /// this instance works from its own memory).
    #[serde(flatten)]
    pub store: crate::sessions::SharedHealth,
}

#[derive(Debug, Serialize)]
pub struct WebSocketHealth {
    pub active: usize,
    pub max: u32,
}

#[derive(Debug, Serialize)]
pub struct MemoryHealth {
    pub rss_mb: f64,
    pub max_mb: u64,
}

pub fn routes(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("health").and(crate::http::get_or_head()).and(crate::http::with_state(state)).then(handler)
}

async fn handler(state: AppState) -> impl Reply {
    let health = check(&state).await;
    let status = if health.database.ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    warp::reply::with_status(warp::reply::json(&health), status)
}

pub async fn check(state: &AppState) -> Health {
    let reachable = match state.store.ping().await {
        Ok(()) => state.store.writable().await,
        Err(e) => Err(e),
    };
    let database = match reachable {
        Ok(()) => DatabaseHealth {
            ok: true,
            backend: state.store.backend(),
            schema_version: state.store.schema_version().await.ok(),
            error: None,
        },
        Err(e) => DatabaseHealth {
            ok: false,
            backend: state.store.backend(),
            schema_version: None,
            error: Some(e.to_string()),
        },
    };
    let config = &state.config;
    let memory = config.features.memory_monitoring.then(|| MemoryHealth {
        rss_mb: resident_memory_mb().unwrap_or(0.0),
        max_mb: config.max_memory_usage_mb,
    });
    let over_memory = memory.as_ref().is_some_and(|m| m.rss_mb > m.max_mb as f64);
    let shared = state.shared.health().await;
    Health {
        status: match (database.ok, over_memory || !shared.ok) {
            (false, _) => "unavailable",
            (true, true) => "degraded",
            (true, false) => "ok",
        },
        instance: state.instance.to_string(),
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: state.started.elapsed().as_secs(),
        database,
        sessions: SessionHealth { active: state.sessions.active().await, store: shared },
        websockets: WebSocketHealth {
            active: state.websockets.load(Ordering::Relaxed),
            max: config.websocket.max_connections,
        },
        memory,
        tls: state.tls.health(),
    }
}

/// Resident set size from /proc (Linux); None elsewhere.
fn resident_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
