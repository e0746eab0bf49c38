//! Password hashing off the async workers, bounded. Each argon2 hash or check
//! holds about 19 MiB for tens of milliseconds; unbounded, a burst of wrong
//! passwords takes the process to gigabytes. A few dedicated threads (one for
//! every two cores, at most four) do all of it, with a short queue; a request
//! that finds the queue full is told at once to come back (503), never parked.
//!
//! Dedicated threads rather than tokio's blocking pool: memory freed by a
//! hash stays with the thread's allocator arena, so the number of threads
//! that ever hash bounds the memory, not the number that ever ran.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::oneshot;

use crate::auth::AuthError;
use crate::error::ApiError;

type Job = Box<dyn FnOnce() + Send>;

/// Every hashing slot and queue place is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

impl From<Busy> for ApiError {
    fn from(_: Busy) -> Self {
        ApiError::Busy("Too many sign-ins at once. Please try again in a moment.".into())
    }
}

/// The hashing threads and their queue; cheap to clone.
#[derive(Clone)]
pub struct PasswordWork {
    jobs: SyncSender<Job>,
    /// Places taken (hashing or waiting); at most `threads + queue`.
    taken: Arc<AtomicUsize>,
    pub threads: usize,
    pub queue: usize,
}

/// A place among the hashing threads and their queue, taken before any
/// other work for the request (so a refused request costs next to nothing);
/// given back when its hash is done, or when dropped unused.
pub struct Slot {
    work: PasswordWork,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.work.taken.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PasswordWork {
    /// `threads` hashing at once, `queue` more waiting.
    pub fn new(threads: usize, queue: usize) -> PasswordWork {
        let threads = threads.max(1);
        // Room for every place, so a job sent with a slot is never refused.
        let (jobs, rx) = sync_channel::<Job>(threads + queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new().name(format!("password-{i}")).spawn(move || work(&rx));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        PasswordWork { jobs, taken: Arc::default(), threads, queue }
    }

    /// A place for one hash or check, or Busy at once when all are taken.
    pub fn slot(&self) -> Result<Slot, Busy> {
        let capacity = self.threads + self.queue;
        self.taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < capacity).then_some(n + 1))
            .map_err(|_| Busy)?;
        Ok(Slot { work: self.clone() })
    }

    /// One thread for every two cores (at least one, at most four), so
    /// hashing never takes every core from the requests; four waiting.
    pub fn for_this_machine() -> PasswordWork {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        PasswordWork::new((cores / 2).clamp(1, 4), 4)
    }

    /// Checks a password against a stored hash (see [`Slot::verify`]).
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool, Busy> {
        self.slot()?.verify(password, hash).await
    }

    /// Hashes a new password (see [`Slot::hash`]).
    pub async fn hash(&self, password: &str, context: &[&str]) -> Result<Result<String, AuthError>, Busy> {
        self.slot()?.hash(password, context).await
    }
}

impl Slot {
    async fn run<T: Send + 'static>(self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
        let (tx, rx) = oneshot::channel();
        let jobs = self.work.jobs.clone();
        let job: Job = Box::new(move || {
            let result = f();
            // The place is free once the work is done, not when the caller
            // stops waiting; and before the caller hears, so a caller that
            // asks again at once finds it free.
            drop(self);
            let _ = tx.send(result);
        });
        match jobs.try_send(job) {
            Ok(()) => rx.await.map_err(|_| Busy),
            Err(_) => {
                tracing::error!("password hashing threads are gone or their queue overflowed");
                Err(Busy)
            }
        }
    }

    /// Checks a password against a stored hash; None (an unknown account)
    /// checks against a stand-in, so both take about as long.
    pub async fn verify(self, password: &str, hash: Option<&str>) -> Result<bool, Busy> {
        let (password, hash) = (password.to_string(), hash.map(str::to_string));
        self.run(move || match hash {
            Some(hash) => crate::auth::verify_password(&password, &hash),
            None => {
                let _ = crate::auth::verify_password(&password, dummy_hash());
                false
            }
        })
        .await
    }

    /// Hashes a new password (after the strength rules).
    pub async fn hash(self, password: &str, context: &[&str]) -> Result<Result<String, AuthError>, Busy> {
        let password = password.to_string();
        let context: Vec<String> = context.iter().map(|s| s.to_string()).collect();
        self.run(move || {
            let context: Vec<&str> = context.iter().map(String::as_str).collect();
            crate::auth::hash_password_for(&password, &context)
        })
        .await
    }
}

/// A hash to verify against when the email is unknown (made on first use,
/// on a hashing thread).
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| crate::auth::hash_password("not a real password at all").unwrap_or_default())
}

fn work(rx: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held only while waiting for the next job, not while running it.
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    impl PasswordWork {
        async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
            self.slot()?.run(f).await
        }
    }

    #[tokio::test]
    async fn beyond_the_threads_and_the_queue_callers_are_refused_at_once() {
        let work = PasswordWork::new(1, 1);
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let hold = Arc::new(Mutex::new(hold));
        let blocker =
            |hold: Arc<Mutex<std::sync::mpsc::Receiver<()>>>| move || hold.lock().unwrap().recv().is_ok();
        // One running, one queued: the third is refused without waiting.
        let running = tokio::spawn({
            let work = work.clone();
            let f = blocker(hold.clone());
            async move { work.run(f).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let queued = tokio::spawn({
            let work = work.clone();
            let f = blocker(hold.clone());
            async move { work.run(f).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(work.run(|| 1).await, Err(Busy));
        assert!(work.slot().is_err(), "no place to take either");
        release.send(()).unwrap();
        release.send(()).unwrap();
        assert_eq!(running.await.unwrap(), Ok(true));
        assert_eq!(queued.await.unwrap(), Ok(true));
        assert_eq!(work.run(|| 2).await, Ok(2));
        // A place taken and not used is given back.
        let (a, b) = (work.slot().unwrap(), work.slot().unwrap());
        assert!(work.slot().is_err());
        drop(a);
        drop(b);
        assert_eq!(work.run(|| 3).await, Ok(3));
    }
}
