//! Password guessing, slowed without locking anyone out. Failures are
//! counted per account *and* client address: after a few, that address must
//! wait before its next try for that account, twice as long each time. An
//! attacker elsewhere cannot make the owner wait (their address has no
//! failures), and no address gets more than a trickle of guesses. Each
//! address also has a plain budget of attempts across all accounts.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::ratelimit::RateLimiter;

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

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// Sign-in (and password-change) throttle; cheap to clone.
#[derive(Clone)]
pub struct Throttle {
    per_address: RateLimiter,
    failures: moka::sync::Cache<String, Arc<Mutex<Failures>>>,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::new(ATTEMPTS_PER_ADDRESS)
    }
}

/// How long a pair with `count` failures waits after its last one.
pub fn delay_after(count: u32) -> Duration {
    if count < FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (count - FREE_FAILURES).min(16);
    FIRST_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY)
}

impl Throttle {
    pub fn new(attempts_per_address: u32) -> Throttle {
        Throttle {
            per_address: RateLimiter::new(attempts_per_address, FORGET_AFTER),
            failures: moka::sync::Cache::builder().max_capacity(200_000).time_to_idle(FORGET_AFTER).build(),
        }
    }

    fn key(account: &str, address: &str) -> String {
        format!("{address}\u{0}{account}")
    }

    /// Counts an attempt; Err(wait) when it must not be tried now.
    pub fn attempt(&self, account: &str, address: &str) -> Result<(), Duration> {
        if let Some(f) = self.failures.get(&Self::key(account, address)) {
            let f = f.lock().map(|f| *f).unwrap_or(Failures { count: u32::MAX, last: Instant::now() });
            let wait = delay_after(f.count).saturating_sub(f.last.elapsed());
            if !wait.is_zero() {
                return Err(wait);
            }
        }
        if !self.per_address.allow(address) {
            return Err(FORGET_AFTER);
        }
        Ok(())
    }

    /// A wrong password: the pair's next try waits longer.
    pub fn failed(&self, account: &str, address: &str) {
        let entry = self.failures.get_with(Self::key(account, address), || {
            Arc::new(Mutex::new(Failures { count: 0, last: Instant::now() }))
        });
        let mut f = match entry.lock() {
            Ok(f) => f,
            Err(poisoned) => poisoned.into_inner(),
        };
        f.count = f.count.saturating_add(1);
        f.last = Instant::now();
    }

    /// The right password: the pair starts afresh.
    pub fn succeeded(&self, account: &str, address: &str) {
        self.failures.invalidate(&Self::key(account, address));
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

    #[test]
    fn delays_grow_per_account_and_address_only() {
        assert_eq!(delay_after(2), Duration::ZERO);
        assert_eq!(delay_after(3), Duration::from_secs(1));
        assert_eq!(delay_after(5), Duration::from_secs(4));
        assert_eq!(delay_after(40), MAX_DELAY);
        let t = Throttle::new(100);
        for _ in 0..FREE_FAILURES {
            assert!(t.attempt("bob", "6.6.6.6").is_ok());
            t.failed("bob", "6.6.6.6");
        }
        let wait = t.attempt("bob", "6.6.6.6").unwrap_err();
        assert!(wait > Duration::from_millis(500) && wait <= FIRST_DELAY, "{wait:?}");
        // The owner, elsewhere, is not held up by someone else's guesses.
        assert!(t.attempt("bob", "198.51.100.7").is_ok());
        // Nor is another account from the guessing address.
        assert!(t.attempt("alice", "6.6.6.6").is_ok());
        t.succeeded("bob", "6.6.6.6");
        assert!(t.attempt("bob", "6.6.6.6").is_ok());
    }

    #[test]
    fn each_address_has_a_budget_across_accounts() {
        let t = Throttle::new(3);
        assert!((0..3).all(|i| t.attempt(&format!("user{i}"), "6.6.6.6").is_ok()));
        assert!(t.attempt("user9", "6.6.6.6").is_err());
        assert!(t.attempt("user9", "198.51.100.7").is_ok());
    }
}
