//! Conversation sessions: short-lived state keyed by session id.
//!
//! In-process (moka) by default, with an idle TTL (`REDIS_TTL`). The trait is
//! what a shared backend implements so several nodes can serve one business.

use std::time::Duration;

use async_trait::async_trait;

#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    async fn get(&self, id: &str) -> Option<String>;
    async fn put(&self, id: &str, state: String);
    async fn remove(&self, id: &str);
    /// Sessions alive now (approximate for caches that expire lazily).
    async fn active(&self) -> u64;
}

pub struct MemorySessions {
    cache: moka::future::Cache<String, String>,
}

impl MemorySessions {
    /// `ttl`: a session not touched for this long is forgotten.
    pub fn new(ttl: Duration, max_sessions: u64) -> Self {
        MemorySessions {
            cache: moka::future::Cache::builder().max_capacity(max_sessions).time_to_idle(ttl).build(),
        }
    }
}

#[async_trait]
impl SessionStore for MemorySessions {
    async fn get(&self, id: &str) -> Option<String> {
        self.cache.get(id).await
    }

    async fn put(&self, id: &str, state: String) {
        self.cache.insert(id.to_string(), state).await;
    }

    async fn remove(&self, id: &str) {
        self.cache.invalidate(id).await;
    }

    async fn active(&self) -> u64 {
        self.cache.run_pending_tasks().await;
        self.cache.entry_count()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn sessions_round_trip_and_expire() {
        let s = MemorySessions::new(Duration::from_millis(200), 100);
        s.put("a", "{}".into()).await;
        assert_eq!(s.get("a").await.as_deref(), Some("{}"));
        assert_eq!(s.active().await, 1);
        s.remove("a").await;
        assert_eq!(s.get("a").await, None);
        s.put("b", "x".into()).await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(s.get("b").await, None);
    }
}
