//! The in-process key-value store: moka, with an expiry per entry. It is the
//! whole store without Redis, and each instance's fallback with it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::ops::compute::Op;

/// A value and when it expires.
#[derive(Clone)]
struct Entry {
    value: Arc<str>,
    expires: Instant,
}

impl Entry {
    fn new(value: &str, ttl: Duration) -> Entry {
        Entry { value: value.into(), expires: Instant::now() + ttl }
    }

    fn live(&self) -> bool {
        self.expires > Instant::now()
    }
}

/// Each entry lives until its own `expires`.
struct ByEntry;

impl moka::Expiry<String, Entry> for ByEntry {
    fn expire_after_create(&self, _: &String, entry: &Entry, now: Instant) -> Option<Duration> {
        Some(entry.expires.saturating_duration_since(now))
    }

    fn expire_after_update(
        &self,
        _: &String,
        entry: &Entry,
        now: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.expires.saturating_duration_since(now))
    }
}

/// Keys with a time to live, bounded in number; cheap to clone.
#[derive(Clone)]
pub struct MemoryKv {
    cache: moka::sync::Cache<String, Entry>,
}

impl MemoryKv {
    /// At most `capacity` keys: the least used go first when full.
    pub fn new(capacity: u64) -> MemoryKv {
        MemoryKv { cache: moka::sync::Cache::builder().max_capacity(capacity).expire_after(ByEntry).build() }
    }

    pub fn get(&self, key: &str) -> Option<String> {
        self.cache.get(key).filter(Entry::live).map(|e| e.value.to_string())
    }

    /// Reads `key` and gives it `ttl` more from now (an idle lifetime).
    pub fn get_touch(&self, key: &str, ttl: Duration) -> Option<String> {
        let result = self.cache.entry(key.to_string()).and_compute_with(|found| match found {
            Some(e) if e.value().live() => Op::Put(Entry::new(&e.value().value, ttl)),
            _ => Op::Nop,
        });
        result.into_entry().map(|e| e.value().value.to_string())
    }

    pub fn set(&self, key: &str, value: &str, ttl: Duration) {
        self.cache.insert(key.to_string(), Entry::new(value, ttl));
    }

    pub fn del(&self, key: &str) {
        self.cache.invalidate(key);
    }

    /// Sets `key` unless it holds a live value; true when it was set.
    pub fn set_nx(&self, key: &str, value: &str, ttl: Duration) -> bool {
        let result = self.cache.entry(key.to_string()).and_compute_with(|found| match found {
            Some(e) if e.value().live() => Op::Nop,
            _ => Op::Put(Entry::new(value, ttl)),
        });
        !matches!(result, moka::ops::compute::CompResult::Unchanged(_))
    }

    /// Replaces `expected` by `new`; false (and nothing changed) when `key`
    /// holds something else.
    pub fn cas(&self, key: &str, expected: &str, new: &str, ttl: Duration) -> bool {
        let result = self.cache.entry(key.to_string()).and_compute_with(|found| match found {
            Some(e) if e.value().live() && &*e.value().value == expected => Op::Put(Entry::new(new, ttl)),
            _ => Op::Nop,
        });
        matches!(result, moka::ops::compute::CompResult::ReplacedWith(_))
    }

    /// Deletes `key` if it holds `expected`; true when it did.
    pub fn del_if(&self, key: &str, expected: &str) -> bool {
        let result = self.cache.entry(key.to_string()).and_compute_with(|found| match found {
            Some(e) if e.value().live() && &*e.value().value == expected => Op::Remove,
            _ => Op::Nop,
        });
        matches!(result, moka::ops::compute::CompResult::Removed(_))
    }

    /// Adds one to a counter and returns it. A new counter lives `ttl`;
    /// `sliding` restarts that at every hit (forgotten `ttl` after the last).
    pub fn incr(&self, key: &str, ttl: Duration, sliding: bool) -> u64 {
        let result = self.cache.entry(key.to_string()).and_compute_with(|found| {
            let (count, expires) = match found {
                Some(e) if e.value().live() => {
                    let count = e.value().value.parse::<u64>().unwrap_or(0);
                    let expires = if sliding { Instant::now() + ttl } else { e.value().expires };
                    (count, expires)
                }
                _ => (0, Instant::now() + ttl),
            };
            Op::Put(Entry { value: (count + 1).to_string().into(), expires })
        });
        result.into_entry().and_then(|e| e.value().value.parse().ok()).unwrap_or(1)
    }

    /// Live keys starting with `prefix` (a scan: for /health, not hot paths).
    pub fn count_prefix(&self, prefix: &str) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.iter().filter(|(k, e)| k.starts_with(prefix) && e.live()).count() as u64
    }
}
