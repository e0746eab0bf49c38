//! Fixed-window rate limits (per IP, per session), counted in the shared
//! store: with Redis, every instance counts against the same windows.

use std::time::Duration;

use crate::sessions::Shared;

/// Counts hits per key in windows of `window`; a key over `limit` is refused
/// until its window ends.
#[derive(Clone)]
pub struct RateLimiter {
    /// Keeps this limiter's keys apart from other limiters'.
    name: &'static str,
    limit: u32,
    window: Duration,
    counts: Shared,
}

impl RateLimiter {
    /// `store`: where the counts live (its Redis, with a memory of our own).
    pub fn new(name: &'static str, limit: u32, window: Duration, store: &Shared) -> Self {
        RateLimiter { name, limit, window, counts: store.space(200_000) }
    }

    /// In this process only (for tests and tools).
    pub fn local(limit: u32, window: Duration) -> Self {
        RateLimiter::new("local", limit, window, &Shared::memory(0))
    }

    /// Records a hit; false when the key is over its limit. A limit of 0 is no limit.
    pub async fn allow(&self, key: &str) -> bool {
        if self.limit == 0 {
            return true;
        }
        let hits = self.counts.incr(&format!("rate:{}:{key}", self.name), self.window, false).await;
        hits <= u64::from(self.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn limits_per_key_and_window() {
        let rl = RateLimiter::local(3, Duration::from_millis(100));
        for _ in 0..3 {
            assert!(rl.allow("a").await);
        }
        assert!(!rl.allow("a").await);
        assert!(rl.allow("b").await);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(rl.allow("a").await);
    }
}
