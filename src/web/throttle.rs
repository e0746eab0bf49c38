//! Password guessing, slowed without locking anyone out. Failures are
//! counted per account *and* client address: after a few, that address must
//! wait before its next try for that account, twice as long each time. An
//! attacker elsewhere cannot make the owner wait (their address has no
//! failures), and no address gets more than a trickle of guesses. Each
//! address also has a plain budget of attempts across all accounts.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::http::ratelimit::RateLimiter;
use crate::sessions::Shared;

/// Failures an address may make on an account before it has to wait.
pub const FREE_FAILURES: u32 = 3;
/// The first wait; it doubles with each further failure.
pub const FIRST_DELAY: Duration = Duration::from_secs(1);
/// The longest wait.
pub const MAX_DELAY: Duration = Duration::from_secs(300);
/// A quiet account-and-address pair is forgotten after this long.
pub const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Attempts one address may make across all accounts in [`FORGET_AFTER`].
pub const ATTEMPTS_PER_ADDRESS: u32 = 30;

/// Sign-in (and password-change) throttle; cheap to clone. Failures live
/// in the shared store, so guessing on one instance slows guesses on all.
#[derive(Clone)]
pub struct Throttle {
    /// Keeps this throttle's keys apart from other throttles'.
    name: &'static str,
    per_address: RateLimiter,
    failures: Shared,
}

/// How long a pair with `count` failures waits after its last one.
pub fn delay_after(count: u32) -> Duration {
    if count < FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (count - FREE_FAILURES).min(16);
    FIRST_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY)
}

/// Wall-clock milliseconds: instances compare each other's failure times.
fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Throttle {
    pub fn new(name: &'static str, attempts_per_address: u32, store: &Shared) -> Throttle {
        Throttle {
            name,
            per_address: RateLimiter::new(name, attempts_per_address, FORGET_AFTER, store),
            failures: store.space(200_000),
        }
    }

    fn key(&self, what: &str, account: &str, address: &str) -> String {
        format!("throttle:{}:{what}:{address}\u{0}{account}", self.name)
    }

    /// Counts an attempt; Err(wait) when it must not be tried now.
    pub async fn attempt(&self, account: &str, address: &str) -> Result<(), Duration> {
        let count = self.failures.get(&self.key("count", account, address)).await;
        if let Some(count) = count {
            let count = count.parse::<u32>().unwrap_or(u32::MAX);
            let last = self.failures.get(&self.key("last", account, address)).await;
            let last = last.and_then(|t| t.parse::<u64>().ok()).unwrap_or_else(now_ms);
            let since = Duration::from_millis(now_ms().saturating_sub(last));
            let wait = delay_after(count).saturating_sub(since);
            if !wait.is_zero() {
                return Err(wait);
            }
        }
        if !self.per_address.allow(address).await {
            return Err(FORGET_AFTER);
        }
        Ok(())
    }

    /// A wrong password: the pair's next try waits longer.
    pub async fn failed(&self, account: &str, address: &str) {
        let last = now_ms().to_string();
        self.failures.set(&self.key("last", account, address), &last, FORGET_AFTER).await;
        self.failures.incr(&self.key("count", account, address), FORGET_AFTER, true).await;
    }

    /// The right password: the pair starts afresh.
    pub async fn succeeded(&self, account: &str, address: &str) {
        self.failures.del(&self.key("count", account, address)).await;
    }
}

/// "3 seconds", "5 minutes": a wait as people read it (rounded up).
pub fn describe(wait: Duration) -> String {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    match secs {
        0 | 1 => "a second".into(),
        s if s < 120 => format!("{s} seconds"),
        s => format!("{} minutes", s.div_ceil(60)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(attempts: u32) -> Throttle {
        Throttle::new("test", attempts, &Shared::memory(0))
    }

    #[tokio::test]
    async fn delays_grow_per_account_and_address_only() {
        assert_eq!(delay_after(2), Duration::ZERO);
        assert_eq!(delay_after(3), Duration::from_secs(1));
        assert_eq!(delay_after(5), Duration::from_secs(4));
        assert_eq!(delay_after(40), MAX_DELAY);
        let t = throttle(100);
        for _ in 0..FREE_FAILURES {
            assert!(t.attempt("bob", "6.6.6.6").await.is_ok());
            t.failed("bob", "6.6.6.6").await;
        }
        let wait = t.attempt("bob", "6.6.6.6").await.unwrap_err();
        assert!(wait > Duration::from_millis(500) && wait <= FIRST_DELAY, "{wait:?}");
        // The owner, elsewhere, is not held up by someone else's guesses.
        assert!(t.attempt("bob", "198.51.100.7").await.is_ok());
        // Nor is another account from the guessing address.
        assert!(t.attempt("alice", "6.6.6.6").await.is_ok());
        t.succeeded("bob", "6.6.6.6").await;
        assert!(t.attempt("bob", "6.6.6.6").await.is_ok());
    }

    #[tokio::test]
    async fn each_address_has_a_budget_across_accounts() {
        let t = throttle(3);
        for i in 0..3 {
            assert!(t.attempt(&format!("user{i}"), "6.6.6.6").await.is_ok());
        }
        assert!(t.attempt("user9", "6.6.6.6").await.is_err());
        assert!(t.attempt("user9", "198.51.100.7").await.is_ok());
    }
}
