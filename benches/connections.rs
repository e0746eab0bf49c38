//! Slow-header load test: connections that never finish their request head
//! (one header byte a second, reconnecting whenever the server closes them),
//! from several loopback addresses at once, while `/health` is asked every
//! 100 ms on a fresh connection from another address.
//!
//!   cargo bench --bench connections -- --connections 500 --addresses 5 --seconds 30
//!
//! It starts the release binary with its defaults (a 10 s header deadline,
//! 256 connections per address) and reports how the attack fared (opened,
//! refused at once, cut off at the deadline), `/health` latency, and the
//! server's memory and open descriptors, idle and under attack. A second
//! phase opens all the connections from one address, to show the cap.
//! It exits non-zero if `/health` ever failed or its p99 reached 50 ms.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Args {
    connections: usize,
    addresses: usize,
    seconds: u64,
}

fn args() -> Args {
    let mut a = Args { connections: 500, addresses: 5, seconds: 30 };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let value = || argv.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match argv[i].as_str() {
            "--connections" => a.connections = value().expect("--connections N") as usize,
            "--addresses" => a.addresses = value().expect("--addresses N") as usize,
            "--seconds" => a.seconds = value().expect("--seconds S"),
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    a
}

struct Server {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_frontdesk"))
        .env_clear()
        .env("FRONTDESK_DATA_DIR", dir.path())
        .env("RUST_LOG", "error")
        .args(["serve", "--port", "0", "--bind", "127.0.0.1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let addr = loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "server exited");
        if let Some(addr) = line.trim().strip_prefix("frontdesk listening on http://") {
            break addr.parse().unwrap();
        }
    };
    std::thread::spawn(move || for _ in reader.lines() {});
    Server { child, addr, _dir: dir }
}

/// Resident memory (KiB) and open descriptors of a process.
fn usage(pid: u32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count()).unwrap_or(0);
    (rss, fds)
}

#[derive(Default)]
struct Tally {
    opened: AtomicUsize,
    /// Closed by the server within 200 ms of connecting (the per-address cap).
    refused: AtomicUsize,
    /// Closed by the server later (the header deadline), with how long they lasted.
    cut_off: Mutex<Vec<f64>>,
}

/// One attacker: connects from `from`, trickles a header a byte a second,
/// and connects again whenever the server hangs up.
async fn slow_client(from: [u8; 4], to: SocketAddr, tally: Arc<Tally>, stop: Arc<AtomicBool>) {
    let head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    while !stop.load(Ordering::Relaxed) {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from((from, 0))).unwrap();
        let Ok(mut stream) = socket.connect(to).await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        tally.opened.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let _ = stream.write_all(head).await;
        let mut byte = [0u8; 1];
        loop {
            // A closed connection reads as EOF (or a reset) at once.
            let closed = tokio::select! {
                read = stream.read(&mut byte) => !matches!(read, Ok(n) if n > 0),
                () = tokio::time::sleep(Duration::from_secs(1)) => false,
            };
            if closed || stream.write_all(b"a").await.is_err() {
                let lasted = started.elapsed().as_secs_f64();
                if lasted < 0.2 {
                    tally.refused.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                } else {
                    tally.cut_off.lock().unwrap().push(lasted);
                }
                break;
            }
            if stop.load(Ordering::Relaxed) {
                return;
            }
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// Asks /health every 100 ms on a new connection until `stop`; latencies in ms, and failures.
async fn probe(addr: SocketAddr, stop: Arc<AtomicBool>) -> (Vec<f64>, usize) {
    let client =
        reqwest::Client::builder().pool_max_idle_per_host(0).timeout(Duration::from_secs(5)).build().unwrap();
    let (mut times, mut failures) = (Vec::new(), 0);
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        match client.get(format!("http://{addr}/health")).send().await {
            Ok(r) if r.status() == 200 => times.push(started.elapsed().as_secs_f64() * 1000.0),
            _ => failures += 1,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    times.sort_by(f64::total_cmp);
    (times, failures)
}

async fn attack(server: &Server, a: &Args, addresses: usize, seconds: u64) -> bool {
    let pid = server.child.id();
    let (idle_rss, idle_fds) = usage(pid);
    let (tally, stop) = (Arc::new(Tally::default()), Arc::new(AtomicBool::new(false)));
    for n in 0..a.connections {
        let from = [127, 0, 1, 1 + (n % addresses) as u8];
        tokio::spawn(slow_client(from, server.addr, tally.clone(), stop.clone()));
    }
    let prober = tokio::spawn(probe(server.addr, stop.clone()));
    let (mut peak_rss, mut peak_fds) = (idle_rss, idle_fds);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let (rss, fds) = usage(pid);
        peak_rss = peak_rss.max(rss);
        peak_fds = peak_fds.max(fds);
    }
    stop.store(true, Ordering::Relaxed);
    let (times, failures) = prober.await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (after_rss, after_fds) = usage(pid);
    let mut cut = std::mem::take(&mut *tally.cut_off.lock().unwrap());
    cut.sort_by(f64::total_cmp);
    let p99 = percentile(&times, 0.99);
    println!(
        "| {} from {addresses} address(es), {seconds} s | {} | {} | {} (after {:.1}–{:.1} s) | {} ok, {failures} failed | {:.1} / {:.1} / {:.1} ms | {:.1} → {:.1} → {:.1} MiB | {idle_fds} → {peak_fds} → {after_fds} |",
        a.connections,
        tally.opened.load(Ordering::Relaxed),
        tally.refused.load(Ordering::Relaxed),
        cut.len(),
        percentile(&cut, 0.01),
        percentile(&cut, 0.99),
        times.len(),
        percentile(&times, 0.5),
        p99,
        times.last().copied().unwrap_or(f64::NAN),
        idle_rss as f64 / 1024.0,
        peak_rss as f64 / 1024.0,
        after_rss as f64 / 1024.0,
    );
    failures == 0 && p99 < 50.0
}

fn main() {
    let a = args();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let passed = runtime.block_on(async {
        let server = start_server();
        tokio::time::sleep(Duration::from_millis(500)).await;
        println!("| attack | connections opened | refused at once | cut off at the deadline | /health (every 100 ms) | /health p50 / p99 / max | server RSS idle → peak → after | descriptors idle → peak → after |");
        println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
        let spread = attack(&server, &a, a.addresses.max(1), a.seconds).await;
        // Everything from one address: the cap refuses what is beyond its share.
        let one = attack(&server, &a, 1, 15).await;
        spread && one
    });
    println!("{}", if passed { "PASS: /health always answered, p99 under 50 ms" } else { "FAIL" });
    if !passed {
        std::process::exit(1);
    }
}
