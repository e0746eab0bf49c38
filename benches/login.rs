//! Password-guessing load: N concurrent wrong-password sign-ins, kept in
//! flight for S seconds, each from its own client address (through a trusted
//! proxy, so no per-address limit helps), while `/health` is asked every
//! 20 ms. Reports what the sign-ins were answered, the server's resident
//! memory (idle and peak) and `/health`'s latency throughout.
//!
//!   cargo bench --bench login -- --concurrent 200 --seconds 10 [--pace-ms 100]
//!
//! `--pace-ms`: each client waits this long between its attempts (0: it
//! sends the next as soon as the last is answered, a flood of requests that
//! are answered 503 in microseconds).
//!
//! What it shows: password hashing is bounded (a few argon2 checks at once,
//! the rest told 503 at once), so memory stays flat and the server keeps
//! answering everything else. With two CPUs and `taskset`, the server runs
//! on CPU 0 and this generator on CPU 1 (`--no-pin` to share both), so the
//! latencies are the server's and not this process's queueing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(pin: bool) -> Server {
    let bin = env!("CARGO_BIN_EXE_frontdesk");
    let dir = tempfile::tempdir().unwrap();
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo/acme-plumbing.toml");
    let run = |args: &[&str], stdin: &str| {
        let mut child = Command::new(bin)
            .env("FRONTDESK_DATA_DIR", dir.path())
            .env("RUST_LOG", "error")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        assert!(child.wait().unwrap().success(), "frontdesk {args:?}");
    };
    run(&["business", "import", demo], "");
    let op = ["user", "add", "--email", "op@load.example", "--role", "operator", "--password-stdin"];
    run(&op, "correct horse battery staple\n");
    let mut command = if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "0", bin]);
        c
    } else {
        Command::new(bin)
    };
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("FRONTDESK_DATA_DIR", dir.path())
        .env("RUST_LOG", "error")
        .env("FRONTDESK_TRUSTED_PROXIES", "127.0.0.1")
        .args(["serve", "--port", "0", "--bind", "127.0.0.1"]);
    let (child, base) = common::spawn_listening(&mut command, "frontdesk listening on ");
    Server { child, base, _dir: dir }
}

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn arg(name: &str, default: u64) -> u64 {
    let argv: Vec<String> = std::env::args().collect();
    argv.iter()
        .position(|a| a == name)
        .and_then(|i| argv.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn main() {
    let concurrent = arg("--concurrent", 200) as usize;
    let seconds = arg("--seconds", 10);
    let pace = Duration::from_millis(arg("--pace-ms", 0));
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pin = cpus >= 2
        && std::path::Path::new("/usr/bin/taskset").exists()
        && !std::env::args().any(|a| a == "--no-pin");
    let server = start_server(pin);
    if pin {
        // Threads started from here on (the runtime's) inherit CPU 1.
        let pinned = Command::new("taskset")
            .args(["-cp", "1", &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(pinned, "taskset failed; run with --no-pin");
    }
    let pid = server.child.id();
    std::thread::sleep(Duration::from_millis(500));
    let idle = rss_mb(pid);
    let workers = if pin { 1 } else { 2 };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build().unwrap();
    runtime.block_on(async move {
        let http = reqwest::Client::builder().pool_max_idle_per_host(concurrent + 8).build().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let statuses: Arc<Mutex<std::collections::BTreeMap<u16, usize>>> = Arc::default();
        let errors = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(Mutex::new(idle));
        let sampler = {
            let (stop, peak) = (stop.clone(), peak.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let now = rss_mb(pid);
                    let mut p = peak.lock().unwrap();
                    *p = p.max(now);
                    drop(p);
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        let health = {
            let (http, base, stop) = (http.clone(), server.base.clone(), stop.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut slow = 0;
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let ok = http.get(format!("{base}/health")).send().await.is_ok_and(|r| r.status() == 200);
                    let ms = started.elapsed().as_secs_f64() * 1000.0;
                    if !ok {
                        slow += 1;
                    }
                    latencies.push(ms);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                (latencies, slow)
            })
        };
        let started = Instant::now();
        let deadline = started + Duration::from_secs(seconds);
        let workers: Vec<_> = (0..concurrent)
            .map(|w| {
                let (http, base, statuses, errors) =
                    (http.clone(), server.base.clone(), statuses.clone(), errors.clone());
                tokio::spawn(async move {
                    let mut n = 0u32;
                    while Instant::now() < deadline {
                        n += 1;
                        // A fresh address and account each time: nothing to throttle by.
                        let from = format!("10.{}.{}.{}", w % 250, n % 250, (n / 250) % 250);
                        let res = http
                            .post(format!("{base}/api/auth/login"))
                            .header("x-forwarded-for", from)
                            .json(&serde_json::json!({ "email": format!("guess{w}-{n}@load.example"), "password": "wrong password!" }))
                            .send()
                            .await;
                        match res {
                            Ok(r) => *statuses.lock().unwrap().entry(r.status().as_u16()).or_default() += 1,
                            Err(_) => {
                                errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        if !pace.is_zero() {
                            tokio::time::sleep(pace).await;
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.await.unwrap();
        }
        let elapsed = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        let (mut latencies, failed_health) = health.await.unwrap();
        sampler.join().unwrap();
        latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let statuses = statuses.lock().unwrap().clone();
        let total: usize = statuses.values().sum();
        println!(
            "{concurrent} concurrent wrong-password sign-ins for {:.1} s, {} ms apart per client: {total} answered",
            elapsed.as_secs_f64(),
            pace.as_millis()
        );
        for (status, n) in &statuses {
            println!("  HTTP {status}: {n}");
        }
        println!("  connection errors: {}", errors.load(Ordering::Relaxed));
        println!(
            "server memory: idle {idle:.1} MB, peak {:.1} MB, after {:.1} MB (server {})",
            *peak.lock().unwrap(),
            rss_mb(pid),
            if pin { "on CPU 0, generator on CPU 1" } else { "and generator sharing every CPU" }
        );
        println!(
            "/health ({} probes, {failed_health} not 200): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms — under 50 ms throughout: {}",
            latencies.len(),
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            latencies.last().copied().unwrap_or(f64::NAN),
            if latencies.last().is_some_and(|m| *m < 50.0) && failed_health == 0 { "yes" } else { "NO" }
        );
    });
}
