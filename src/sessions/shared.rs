//! One key-value store over Redis (when configured) and this instance's
//! memory. Writes go to both; reads come from Redis while it answers. When a
//! command fails the instance says so once and works from memory; one
//! command every [`RETRY`] tries Redis again, and the first that succeeds
//! brings it back. Keys written while Redis was away are copied to it then,
//! so a conversation carried on from memory continues on any instance.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::memory::MemoryKv;
use super::redis::{RedisError, RedisKv};
use crate::config::RedisConfig;

/// How often a down Redis is tried again.
const RETRY: Duration = Duration::from_secs(2);
/// A command not answered by then counts as failed (the driver's own
/// timeouts should fire first).
const DEADLINE: Duration = Duration::from_secs(3);
/// Keys written while Redis was away that are remembered for copying back.
const UNSYNCED_MAX: usize = 100_000;

/// The Redis side, shared by every [`Shared`] made from it.
struct Link {
    kv: RedisKv,
    up: AtomicBool,
    /// Milliseconds since `born` of the last try while down.
    last_try: AtomicU64,
    born: Instant,
    error: Mutex<Option<String>>,
}

impl Link {
    /// While down, true for one caller every [`RETRY`].
    fn should_try(&self) -> bool {
        if self.up.load(Ordering::Acquire) {
            return true;
        }
        let now = self.born.elapsed().as_millis() as u64;
        let last = self.last_try.load(Ordering::Acquire);
        now.saturating_sub(last) >= RETRY.as_millis() as u64
            && self.last_try.compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    fn succeeded(&self) {
        if !self.up.swap(true, Ordering::AcqRel) {
            tracing::info!("Redis answers again: sessions and limits are shared with the other instances");
            if let Ok(mut error) = self.error.lock() {
                *error = None;
            }
        }
    }

    fn failed(&self, error: &RedisError) {
        if let Ok(mut slot) = self.error.lock() {
            *slot = Some(error.to_string());
        }
        self.last_try.store(self.born.elapsed().as_millis() as u64, Ordering::Release);
        if self.up.swap(false, Ordering::AcqRel) {
            tracing::warn!(error = %error, "Redis is unreachable: this instance carries on from its own memory \
                (chats and calls that move to another instance start afresh until Redis is back)");
        }
    }
}

/// What `/health` shows of the session store.
#[derive(Debug, Clone, Serialize)]
pub struct SharedHealth {
    /// `memory` or `redis`.
    pub backend: &'static str,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A key-value store with expiring keys; cheap to clone.
#[derive(Clone)]
pub struct Shared {
    memory: MemoryKv,
    link: Option<Arc<Link>>,
    /// Keys (and their lifetimes) written or deleted in memory only, while
    /// Redis was away: copied to Redis (or deleted there) when it is back.
    unsynced: Arc<Mutex<HashMap<String, Duration>>>,
}

fn mark_key(set: &str, member: &str) -> String {
    format!("\u{1}{set}\u{0}{member}")
}

impl Shared {
    /// This instance's memory only, at most `capacity` keys.
    pub fn memory(capacity: u64) -> Shared {
        Shared { memory: MemoryKv::new(capacity), link: None, unsynced: Arc::default() }
    }

    /// Redis as `config` names it (without connecting yet), or memory only
    /// when `redis.url` is empty.
    pub fn open(config: &RedisConfig, capacity: u64) -> Result<Shared, RedisError> {
        if config.url.is_empty() {
            return Ok(Shared::memory(capacity));
        }
        let link = Link {
            kv: RedisKv::open(config)?,
            // Optimistic: the first command finds out, and says so if not.
            up: AtomicBool::new(true),
            last_try: AtomicU64::new(0),
            born: Instant::now(),
            error: Mutex::new(None),
        };
        Ok(Shared { memory: MemoryKv::new(capacity), link: Some(Arc::new(link)), unsynced: Arc::default() })
    }

    /// The same Redis, with a memory of its own: a flood of one kind of key
    /// (rate-limit windows) must not push out another (sessions).
    pub fn space(&self, capacity: u64) -> Shared {
        Shared { memory: MemoryKv::new(capacity), link: self.link.clone(), unsynced: Arc::default() }
    }

    pub fn backend(&self) -> &'static str {
        if self.link.is_some() {
            "redis"
        } else {
            "memory"
        }
    }

    /// Asks Redis now (a ping), so `/health` tells the truth without traffic.
    pub async fn health(&self) -> SharedHealth {
        let Some(link) = &self.link else {
            return SharedHealth { backend: "memory", ok: true, error: None };
        };
        if self.redis(|kv| async move { kv.ping().await }).await.is_some() {
            self.resync().await;
            return SharedHealth { backend: "redis", ok: true, error: None };
        }
        let error = link.error.lock().ok().and_then(|e| e.clone());
        SharedHealth {
            backend: "redis",
            ok: false,
            error: Some(format!(
                "Redis is unreachable ({}): this instance works from its own memory",
                error.unwrap_or_else(|| "no answer".into())
            )),
        }
    }

    /// Runs `op` on Redis if it is usable; None when it is not or the
    /// command failed. A connection Redis dropped (a restart) is noticed
    /// only by the next command, which the driver then reconnects for: a
    /// failure while Redis counted as up is tried once more.
    async fn redis<T, F, Fut>(&self, op: F) -> Option<T>
    where
        F: Fn(RedisKv) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let link = self.link.as_ref()?;
        if !link.should_try() {
            return None;
        }
        let was_up = link.up.load(Ordering::Acquire);
        let mut result = Self::within_deadline(op(link.kv.clone())).await;
        if was_up && result.is_err() {
            result = Self::within_deadline(op(link.kv.clone())).await;
        }
        match result {
            Ok(value) => {
                link.succeeded();
                Some(value)
            }
            Err(e) => {
                link.failed(&e);
                None
            }
        }
    }

    async fn within_deadline<T>(
        command: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, RedisError> {
        tokio::time::timeout(DEADLINE, command).await.unwrap_or_else(|_| Err(timeout_error()))
    }

    /// Written here while Redis was away and not copied yet: this
    /// instance's copy is the newest.
    fn unsynced(&self, key: &str) -> bool {
        self.link.is_some() && self.unsynced.lock().is_ok_and(|u| u.contains_key(key))
    }

    pub async fn get(&self, key: &str) -> Option<String> {
        if self.unsynced(key) {
            return self.memory.get(key);
        }
        match self.redis(|kv| async move { kv.get(key).await }).await {
            Some(found) => found,
            None => self.memory.get(key),
        }
    }

    /// A session: read, and kept alive `ttl` more. One saved only in this
    /// instance's memory while Redis was down is put back into Redis.
    pub async fn get_session(&self, key: &str, ttl: Duration) -> Option<String> {
        if self.unsynced(key) {
            return self.memory.get_touch(key, ttl);
        }
        match self.redis(|kv| async move { kv.get_touch(key, ttl).await }).await {
            Some(Some(value)) => {
                self.memory.set(key, &value, ttl);
                Some(value)
            }
            Some(None) => {
                // Saved here only (Redis was away, or lost it): share it again.
                let local = self.memory.get_touch(key, ttl)?;
                let copy = local.as_str();
                self.redis(|kv| async move { kv.set(key, copy, ttl).await }).await;
                Some(local)
            }
            None => self.memory.get_touch(key, ttl),
        }
    }

    pub async fn set(&self, key: &str, value: &str, ttl: Duration) {
        self.memory.set(key, value, ttl);
        let done = self.redis(|kv| async move { kv.set(key, value, ttl).await }).await;
        self.written(key, ttl, done.is_some()).await;
    }

    pub async fn del(&self, key: &str) {
        self.memory.del(key);
        let done = self.redis(|kv| async move { kv.del(key).await }).await;
        self.written(key, Duration::ZERO, done.is_some()).await;
    }

    /// After a write: remember it if Redis missed it; copy earlier missed
    /// ones if Redis took it (so it is back).
    async fn written(&self, key: &str, ttl: Duration, in_redis: bool) {
        if self.link.is_none() {
            return;
        }
        if in_redis {
            self.resync().await;
        } else if let Ok(mut unsynced) = self.unsynced.lock() {
            if unsynced.len() < UNSYNCED_MAX || unsynced.contains_key(key) {
                unsynced.insert(key.to_string(), ttl);
            }
        }
    }

    /// Copies keys written while Redis was away (their current value from
    /// memory; gone from memory: deleted in Redis too).
    async fn resync(&self) {
        let Some(link) = &self.link else { return };
        if !link.up.load(Ordering::Acquire) {
            return;
        }
        let keys: Vec<(String, Duration)> = match self.unsynced.lock() {
            Ok(mut unsynced) if !unsynced.is_empty() => unsynced.drain().collect(),
            _ => return,
        };
        let total = keys.len();
        let mut left = keys.into_iter();
        for (key, ttl) in left.by_ref() {
            let value = self.memory.get(&key);
            let copied = async {
                match &value {
                    Some(value) if !ttl.is_zero() => link.kv.set(&key, value, ttl).await,
                    _ => link.kv.del(&key).await,
                }
            };
            if !matches!(tokio::time::timeout(DEADLINE, copied).await, Ok(Ok(()))) {
                // Away again: keep this one and the rest for next time.
                if let Ok(mut unsynced) = self.unsynced.lock() {
                    unsynced.insert(key, ttl);
                    unsynced.extend(left);
                }
                return;
            }
        }
        tracing::info!(keys = total, "copied what was written while Redis was away");
    }

    /// Sets `key` unless it holds a value; true when this call set it.
    pub async fn set_nx(&self, key: &str, value: &str, ttl: Duration) -> bool {
        match self.redis(|kv| async move { kv.set_nx(key, value, ttl).await }).await {
            Some(true) => {
                self.memory.set(key, value, ttl);
                true
            }
            Some(false) => false,
            None => {
                let set = self.memory.set_nx(key, value, ttl);
                self.written(key, ttl, false).await;
                set
            }
        }
    }

    /// Replaces `expected` by `new`; false when `key` holds something else.
    pub async fn cas(&self, key: &str, expected: &str, new: &str, ttl: Duration) -> bool {
        match self.redis(|kv| async move { kv.cas(key, expected, new, ttl).await }).await {
            Some(true) => {
                self.memory.set(key, new, ttl);
                true
            }
            Some(false) => false,
            None => {
                let swapped = self.memory.cas(key, expected, new, ttl);
                self.written(key, ttl, false).await;
                swapped
            }
        }
    }

    /// Deletes `key` if it holds `expected`; true when this call deleted it.
    pub async fn del_if(&self, key: &str, expected: &str) -> bool {
        match self.redis(|kv| async move { kv.del_if(key, expected).await }).await {
            Some(deleted) => {
                self.memory.del_if(key, expected);
                deleted
            }
            None => {
                let deleted = self.memory.del_if(key, expected);
                self.written(key, Duration::ZERO, false).await;
                deleted
            }
        }
    }

    /// Adds one to a counter (see [`MemoryKv::incr`]) and returns it.
    pub async fn incr(&self, key: &str, ttl: Duration, sliding: bool) -> u64 {
        let local = self.memory.incr(key, ttl, sliding);
        self.redis(|kv| async move { kv.incr(key, ttl, sliding).await }).await.unwrap_or(local)
    }

    /// Records `member` of `set` as alive now, for [`Shared::live`].
    pub async fn mark(&self, set: &str, member: &str, ttl: Duration) {
        self.memory.set(&mark_key(set, member), "", ttl);
        self.redis(|kv| async move { kv.mark(set, member, ttl).await }).await;
    }

    pub async fn unmark(&self, set: &str, member: &str) {
        self.memory.del(&mark_key(set, member));
        self.redis(|kv| async move { kv.unmark(set, member).await }).await;
    }

    /// Members of `set` marked within `ttl` (on every instance, with Redis).
    pub async fn live(&self, set: &str, ttl: Duration) -> u64 {
        match self.redis(|kv| async move { kv.live(set, ttl).await }).await {
            Some(n) => n,
            None => self.memory.count_prefix(&mark_key(set, "")),
        }
    }
}

fn timeout_error() -> RedisError {
    RedisError::Command(redis::RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "no answer from Redis in time",
    )))
}
