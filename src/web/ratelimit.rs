//! Fixed-window rate limits kept in memory (per IP, per session).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Counts hits per key in windows of `window`; a key over `limit` is refused
/// until its window ends.
#[derive(Clone)]
pub struct RateLimiter {
    limit: u32,
    windows: moka::sync::Cache<String, Arc<AtomicU32>>,
}

impl RateLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        RateLimiter {
            limit,
            windows: moka::sync::Cache::builder().max_capacity(200_000).time_to_live(window).build(),
        }
    }

    /// Records a hit; false when the key is over its limit. A limit of 0 is no limit.
    pub fn allow(&self, key: &str) -> bool {
        if self.limit == 0 {
            return true;
        }
        let counter = self.windows.get_with(key.to_string(), || Arc::new(AtomicU32::new(0)));
        counter.fetch_add(1, Ordering::Relaxed) < self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key_and_window() {
        let rl = RateLimiter::new(3, Duration::from_millis(100));
        assert!((0..3).all(|_| rl.allow("a")));
        assert!(!rl.allow("a"));
        assert!(rl.allow("b"));
        std::thread::sleep(Duration::from_millis(150));
        assert!(rl.allow("a"));
    }
}
