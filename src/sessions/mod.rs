//! Short-lived state several instances must agree on: conversation sessions
//! (a chat's, a call's), and the small keys behind rate limits, login
//! throttles, gather-mode replies, a call's next step, used stream tokens and
//! the setup code.
//!
//! In-process (moka) by default. With `REDIS_URL` every key lives in Redis,
//! so a chat or a call can move between instances mid-conversation, and is
//! written through to this instance's memory: while Redis is unreachable the
//! instance carries on from its own memory (a warning in the log, `/health`
//! degraded), and goes back to Redis when it answers again.

pub mod memory;
pub mod redis;
mod shared;
#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

use async_trait::async_trait;

pub use shared::{Shared, SharedHealth};

#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    async fn get(&self, id: &str) -> Option<String>;
    async fn put(&self, id: &str, state: String);
    async fn remove(&self, id: &str);
    /// Sessions alive now (approximate for caches that expire lazily).
    async fn active(&self) -> u64;
}

/// Sessions kept for `ttl` after their last use, in a [`Shared`] store.
pub struct Sessions {
    kv: Shared,
    ttl: Duration,
}

/// The sorted set (Redis) or key prefix (memory) that counts live sessions.
const INDEX: &str = "sessions";

impl Sessions {
    pub fn new(kv: Shared, ttl: Duration) -> Sessions {
        Sessions { kv, ttl }
    }

    fn key(id: &str) -> String {
        format!("session:{id}")
    }
}

#[async_trait]
impl SessionStore for Sessions {
    async fn get(&self, id: &str) -> Option<String> {
        self.kv.get_session(&Self::key(id), self.ttl).await
    }

    async fn put(&self, id: &str, state: String) {
        self.kv.set(&Self::key(id), &state, self.ttl).await;
        self.kv.mark(INDEX, id, self.ttl).await;
    }

    async fn remove(&self, id: &str) {
        self.kv.del(&Self::key(id)).await;
        self.kv.unmark(INDEX, id).await;
    }

    async fn active(&self) -> u64 {
        self.kv.live(INDEX, self.ttl).await
    }
}

/// Held while one turn of a conversation runs, on whichever instance: two
/// quick messages of one chat must not both start from the same state and
/// lose each other's answers. It expires by itself, so an instance that dies
/// mid-turn holds nobody up for long.
pub struct TurnLease {
    kv: Shared,
    key: String,
    token: String,
}

impl TurnLease {
    /// The lease if nobody holds it, kept at most `hold`.
    pub async fn try_acquire(kv: &Shared, session_id: &str, hold: Duration) -> Option<TurnLease> {
        let key = format!("turn:{session_id}");
        let token = crate::domain::new_id();
        kv.set_nx(&key, &token, hold).await.then(|| TurnLease { kv: kv.clone(), key, token })
    }

    /// Waits up to `wait` for the lease; None if it is still held then.
    pub async fn acquire(kv: &Shared, session_id: &str, hold: Duration, wait: Duration) -> Option<TurnLease> {
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_millis(10);
        loop {
            if let Some(lease) = TurnLease::try_acquire(kv, session_id, hold).await {
                return Some(lease);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }

    /// Lets the next turn go (unless the lease expired and another took it).
    pub async fn release(self) {
        self.kv.del_if(&self.key, &self.token).await;
    }
}

/// Which instance this is, for `/health` and the logs: `server.instance_name`,
/// else the host name and process id.
pub fn instance_id(configured: &str) -> String {
    if !configured.trim().is_empty() {
        return configured.trim().to_string();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var(crate::config::HOSTNAME_ENV).ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "frontdesk".into());
    format!("{host}-{}", std::process::id())
}
