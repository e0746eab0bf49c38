//! Refusing new calls when this process has no CPU left for them (issue 17).
//!
//! A bridge's cost is per frame, so past the point where the CPUs are full
//! every call's audio is late, not just the newest call's. Better that the
//! next caller hears "all our lines are busy" and leaves a message. The
//! gauge is this process's own CPU time (`/proc/self/stat`) over the last
//! second, as a share of the CPUs it may run on (affinity and cgroup quota
//! included), read at most once a second when a call comes in: nothing
//! runs in the background and nothing is read per frame.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a reading stands.
const WINDOW: Duration = Duration::from_secs(1);
/// Clock ticks a second in `/proc/<pid>/stat` (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

pub struct CpuGuard {
    cpus: f64,
    reading: Mutex<Option<Reading>>,
}

#[derive(Debug, Clone, Copy)]
struct Reading {
    at: Instant,
    cpu_seconds: f64,
    busy: f64,
}

impl CpuGuard {
    pub fn new() -> CpuGuard {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        CpuGuard { cpus, reading: Mutex::new(None) }
    }

    /// True when the last second's CPU use is at or above `limit_percent`
    /// of the CPUs this process may use; never when the limit is 0 (off).
    pub fn saturated(&self, limit_percent: u32) -> bool {
        if limit_percent == 0 {
            return false;
        }
        let Some(cpu_seconds) = process_cpu_seconds() else { return false };
        let Ok(mut reading) = self.reading.lock() else { return false };
        let next = advance(*reading, Instant::now(), cpu_seconds, self.cpus);
        *reading = Some(next);
        next.busy >= f64::from(limit_percent.min(100)) / 100.0
    }
}

impl Default for CpuGuard {
    fn default() -> CpuGuard {
        CpuGuard::new()
    }
}

/// The reading after one taken at `now`: a new share once a window has
/// passed, else the last one (so one burst of calls reads `/proc` once).
fn advance(last: Option<Reading>, now: Instant, cpu_seconds: f64, cpus: f64) -> Reading {
    match last {
        None => Reading { at: now, cpu_seconds, busy: 0.0 },
        Some(last) if now.duration_since(last.at) < WINDOW => last,
        Some(last) => {
            let wall = now.duration_since(last.at).as_secs_f64() * cpus;
            let busy = ((cpu_seconds - last.cpu_seconds) / wall).max(0.0);
            Reading { at: now, cpu_seconds, busy }
        }
    }
}

/// User and system CPU time of this process so far, in seconds.
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    cpu_seconds_of(&stat)
}

/// Fields 14 and 15 (utime, stime) of a `/proc/<pid>/stat` line; the
/// command name (field 2) may hold spaces and parentheses, so count from
/// its closing parenthesis.
pub fn cpu_seconds_of(stat: &str) -> Option<f64> {
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_SECOND)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn stat_lines_are_read_past_odd_command_names() {
        let line = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 9 0 123 0 0";
        assert_eq!(cpu_seconds_of(line), Some(3.0));
        assert_eq!(cpu_seconds_of("4242 (x) S 1"), None);
        assert_eq!(cpu_seconds_of("garbage"), None);
        assert!(process_cpu_seconds().is_some(), "this process's own stat is readable");
    }

    #[test]
    fn the_share_is_cpu_time_over_wall_time_times_cpus() {
        let t0 = Instant::now();
        let first = advance(None, t0, 10.0, 2.0);
        assert_eq!(first.busy, 0.0, "no share before a whole window");
        // Within the window: the same reading, /proc not needed again.
        let same = advance(Some(first), t0 + Duration::from_millis(500), 10.9, 2.0);
        assert_eq!((same.cpu_seconds, same.busy), (10.0, 0.0));
        // 1.8 CPU seconds in 1 s on 2 CPUs: 90% busy.
        let next = advance(Some(first), t0 + Duration::from_secs(1), 11.8, 2.0);
        assert!((next.busy - 0.9).abs() < 1e-9, "{}", next.busy);
        let idle = advance(Some(next), t0 + Duration::from_secs(3), 11.8, 2.0);
        assert_eq!(idle.busy, 0.0);
    }

    #[test]
    fn off_never_refuses_and_a_busy_process_is_refused() {
        let guard = CpuGuard::new();
        assert!(!guard.saturated(0));
        assert!(!guard.saturated(1), "the first reading only starts the window");
        // Keep this thread busy for a window: well over 1% of the CPUs.
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < WINDOW + Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        assert!(guard.saturated(1));
        assert!(!guard.saturated(0), "off is off, however busy");
    }
}
