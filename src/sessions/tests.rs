//! The session-store contract: the same tests against memory always and
//! against Redis when `FRONTDESK_TEST_REDIS_URL` names one (each run under a
//! key prefix of its own, so parallel runs do not collide).

#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::time::{Duration, Instant};

use super::*;
use crate::config::{RedisConfig, Secret};

/// A Redis for tests under a fresh key prefix; None (with a notice) when
/// `FRONTDESK_TEST_REDIS_URL` is unset.
pub fn test_redis(test: &str) -> Option<RedisConfig> {
    let Ok(url) = std::env::var("FRONTDESK_TEST_REDIS_URL") else {
        eprintln!("{test}: skipped against Redis (FRONTDESK_TEST_REDIS_URL is not set)");
        return None;
    };
    Some(RedisConfig {
        url: Secret::new(url),
        password: Secret::default(),
        db: 0,
        ttl_secs: 60,
        key_prefix: format!("frontdesk-test:{}:", uuid::Uuid::new_v4()),
    })
}

/// Polls `check` until it holds (a generous deadline: the machine may be busy).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within 20 seconds");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const LONG: Duration = Duration::from_secs(60);

/// What every backend must do.
// One story run against each backend, step by step: long, and read in order.
async fn contract(kv: Shared) {
    // Plain keys.
    assert_eq!(kv.get("k").await, None);
    kv.set("k", "1", LONG).await;
    assert_eq!(kv.get("k").await.as_deref(), Some("1"));
    kv.set("k", "2", LONG).await;
    assert_eq!(kv.get("k").await.as_deref(), Some("2"));
    kv.del("k").await;
    assert_eq!(kv.get("k").await, None);

    // Set-if-absent: only the first wins.
    assert!(kv.set_nx("once", "a", LONG).await);
    assert!(!kv.set_nx("once", "b", LONG).await);
    assert_eq!(kv.get("once").await.as_deref(), Some("a"));

    // Compare-and-set.
    assert!(!kv.cas("c", "x", "y", LONG).await, "a missing key matches nothing");
    kv.set("c", "x", LONG).await;
    assert!(!kv.cas("c", "other", "y", LONG).await);
    assert!(kv.cas("c", "x", "y", LONG).await);
    assert!(!kv.cas("c", "x", "z", LONG).await, "the old value no longer matches");
    assert_eq!(kv.get("c").await.as_deref(), Some("y"));

    // Counters: per key; a fixed window restarts when it ends.
    assert_eq!(kv.incr("n", LONG, false).await, 1);
    assert_eq!(kv.incr("n", LONG, false).await, 2);
    assert_eq!(kv.incr("m", LONG, true).await, 1);
    assert_eq!(kv.incr("m", LONG, true).await, 2);
    let short = Duration::from_millis(300);
    assert_eq!(kv.incr("w", short, false).await, 1);
    eventually("a counter's window ends", || async { kv.get("w").await.is_none() }).await;
    assert_eq!(kv.incr("w", short, false).await, 1);

    // Keys expire.
    kv.set("brief", "x", Duration::from_millis(200)).await;
    eventually("a key expires", || async { kv.get("brief").await.is_none() }).await;
    assert!(kv.set_nx("brief", "again", LONG).await, "an expired key is absent");

    // A session read is kept alive for its idle lifetime again.
    let idle = Duration::from_secs(2);
    kv.set("s", "state", idle).await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(kv.get_session("s", idle).await.as_deref(), Some("state"));
    }

    // Live members of a set.
    assert_eq!(kv.live("idx", LONG).await, 0);
    kv.mark("idx", "a", LONG).await;
    kv.mark("idx", "b", LONG).await;
    kv.mark("idx", "a", LONG).await;
    assert_eq!(kv.live("idx", LONG).await, 2);
    kv.unmark("idx", "a").await;
    assert_eq!(kv.live("idx", LONG).await, 1);

    // Compare-and-delete.
    kv.set("d", "mine", LONG).await;
    assert!(!kv.del_if("d", "theirs").await);
    assert!(kv.del_if("d", "mine").await);
    assert_eq!(kv.get("d").await, None);

    // One turn at a time.
    let lease = TurnLease::try_acquire(&kv, "chat-9", LONG).await.unwrap();
    assert!(TurnLease::try_acquire(&kv, "chat-9", LONG).await.is_none());
    assert!(TurnLease::try_acquire(&kv, "chat-10", LONG).await.is_some());
    lease.release().await;
    assert!(TurnLease::acquire(&kv, "chat-9", LONG, Duration::from_secs(5)).await.is_some());
    let lapsed = TurnLease::try_acquire(&kv, "chat-11", Duration::from_millis(200)).await.unwrap();
    let next = TurnLease::acquire(&kv, "chat-11", LONG, Duration::from_secs(20)).await;
    assert!(next.is_some(), "a lease lapses by itself");
    lapsed.release().await;
    assert!(TurnLease::try_acquire(&kv, "chat-11", LONG).await.is_none(), "a lapsed lease frees nothing");

    // The session store on top.
    let sessions = Sessions::new(kv.space(100), Duration::from_secs(60));
    assert_eq!(sessions.get("chat-1").await, None);
    sessions.put("chat-1", "{\"turn\":1}".into()).await;
    sessions.put("chat-2", "{}".into()).await;
    assert_eq!(sessions.get("chat-1").await.as_deref(), Some("{\"turn\":1}"));
    assert_eq!(sessions.active().await, 2);
    sessions.remove("chat-1").await;
    assert_eq!(sessions.get("chat-1").await, None);
    assert_eq!(sessions.active().await, 1);
}

#[tokio::test]
async fn memory_keeps_the_contract() {
    let kv = Shared::memory(1_000);
    assert_eq!(kv.backend(), "memory");
    assert!(kv.health().await.ok);
    contract(kv).await;
}

#[tokio::test]
async fn redis_keeps_the_contract() {
    let Some(config) = test_redis("redis_keeps_the_contract") else { return };
    let kv = Shared::open(&config, 1_000).unwrap();
    assert_eq!(kv.backend(), "redis");
    let health = kv.health().await;
    assert!(health.ok, "{health:?}");
    contract(kv).await;
}

#[tokio::test]
async fn sessions_expire_when_idle() {
    let sessions = Sessions::new(Shared::memory(100), Duration::from_millis(200));
    sessions.put("b", "x".into()).await;
    // No polling: every read would keep it alive.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(sessions.get("b").await, None);
}

#[tokio::test]
async fn instances_on_one_redis_see_each_others_keys() {
    let Some(config) = test_redis("instances_on_one_redis_see_each_others_keys") else { return };
    // Two instances: one Redis, a memory each.
    let a = Shared::open(&config, 1_000).unwrap();
    let b = Shared::open(&config, 1_000).unwrap();
    a.set("k", "from a", LONG).await;
    assert_eq!(b.get("k").await.as_deref(), Some("from a"));
    assert!(b.set_nx("once", "b", LONG).await);
    assert!(!a.set_nx("once", "a", LONG).await);
    assert_eq!(a.incr("n", LONG, false).await, 1);
    assert_eq!(b.incr("n", LONG, false).await, 2);
    let (sa, sb) = (Sessions::new(a.clone(), LONG), Sessions::new(b.clone(), LONG));
    sa.put("chat", "turn 1".into()).await;
    assert_eq!(sb.get("chat").await.as_deref(), Some("turn 1"));
    sb.put("chat", "turn 2".into()).await;
    assert_eq!(sa.get("chat").await.as_deref(), Some("turn 2"), "not a's own stale copy");
    assert_eq!(sa.active().await, 1);
    let lease = TurnLease::try_acquire(&a, "chat", LONG).await.unwrap();
    assert!(TurnLease::try_acquire(&b, "chat", LONG).await.is_none(), "b waits for a's turn");
    lease.release().await;
    assert!(TurnLease::try_acquire(&b, "chat", LONG).await.is_some());
}

#[tokio::test]
async fn an_unreachable_redis_falls_back_to_memory() {
    // Nothing listens on port 1: every command fails at once.
    let config = RedisConfig {
        url: Secret::new("redis://127.0.0.1:1"),
        password: Secret::default(),
        db: 0,
        ttl_secs: 60,
        key_prefix: "unreachable:".into(),
    };
    let kv = Shared::open(&config, 1_000).unwrap();
    let sessions = Sessions::new(kv.clone(), LONG);
    sessions.put("chat", "state".into()).await;
    assert_eq!(sessions.get("chat").await.as_deref(), Some("state"));
    assert_eq!(kv.incr("n", LONG, false).await, 1);
    assert_eq!(kv.incr("n", LONG, false).await, 2);
    let health = kv.health().await;
    assert!(!health.ok && health.backend == "redis");
    assert!(health.error.unwrap().contains("unreachable"));
}

#[tokio::test]
async fn a_tls_redis_url_is_taken() {
    // rediss:// builds a rustls client (ring, this build's one provider); nothing listens here.
    let config = RedisConfig {
        url: Secret::new("rediss://127.0.0.1:1"),
        password: Secret::new("pw"),
        db: 3,
        ttl_secs: 60,
        key_prefix: "tls:".into(),
    };
    let kv = Shared::open(&config, 10).unwrap();
    let health = kv.health().await;
    assert!(!health.ok && health.error.is_some(), "{health:?}");
    kv.set("k", "v", LONG).await;
    assert_eq!(kv.get("k").await.as_deref(), Some("v"));
}
