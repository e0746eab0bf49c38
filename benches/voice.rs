//! Voice load generator: N concurrent simulated phone calls against a real
//! frontdesk server, with the OpenAI Realtime API played by a local fake,
//! and the same load against the in-repo floor, a minimal pass-through
//! bridge (`benches/passthrough`), in the same run (issue 17).
//!
//!   cargo bench --bench voice -- --calls 100,300,600,1000 [--seconds 15]
//!       [--shape continuous|bursts] [--only frontdesk|floor] [--no-pin] [--tls]
//!       [--nice -10 | --fifo 10]
//!
//! It starts the release binary itself (temporary data dir, the demo
//! business) and the floor (this bench, re-run as `--floor-server`). Each
//! call is what Twilio does: a signed `incoming` webhook (frontdesk only;
//! the floor has no webhook), then a media stream sending a 20 ms μ-law
//! frame every 20 ms and playing back what it receives in real time, marks
//! echoed as they play. Each call lasts `--seconds` (15 by default), then
//! hangs up. The model side, with `--shape continuous` (the default),
//! answers with a 20 ms delta every 20 ms for the whole call; with
//! `--shape bursts`, every `--every-ms` it sends `--burst-ms` of audio as
//! `--delta-ms` chunks at once, faster than real time, as OpenAI does.
//!
//! Every frame carries its call and sequence number, so the generator
//! measures the time the server adds in each direction: caller frame sent →
//! `input_audio_buffer.append` received (up), and model delta sent → Twilio
//! `media` received (down), both ends in this process on one clock; and
//! frames lost (a sequence number skipped) or reordered (one arriving after
//! a later one). CPU time comes from /proc/<pid>/stat of the server process,
//! over the window in which every call is up, per call-second and per 100
//! frames relayed (a call-second at full rate: when a starved server falls
//! behind, it relays fewer frames and per call-second flatters it); memory per
//! call is the growth of its resident set over idle, divided by the calls.
//! By default (2 CPUs and taskset) the server runs on CPU 0 and the
//! generator on CPU 1.
//!
//! `--tls`: frontdesk serves HTTPS itself (files mode, a certificate from a
//! throwaway CA for `load.test`), so webhooks go over https:// and every
//! media stream is a `wss://` connection, TLS handled by the server. The
//! floor is plain ws:// in every case.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../tests/fakes/ca.rs"]
mod fake_ca;
#[path = "../tests/fakes/media.rs"]
mod fake_media;
#[path = "../tests/fakes/realtime.rs"]
mod fake_realtime;
mod passthrough;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use fake_media::{b64, tone, twilio_signature, Connect, MediaCall, TlsConnect};
use fake_realtime::{FakeRealtime, Options};

const TOKEN: &str = "load-test-auth-token";
const PUBLIC: &str = "https://load.test";
const STREAM: &str = "wss://load.test/api/voice/stream";
const NUMBER: &str = "+13125550100"; // the demo business
/// Send times kept per call, by sequence number modulo this.
const RING: usize = 1024;

#[derive(Clone, Copy, PartialEq)]
enum Shape {
    /// A 20 ms delta every 20 ms, for the whole call (issue 17's shape).
    Continuous,
    /// `burst_ms` of audio every `every_ms`, as `delta_ms` chunks at once.
    Bursts,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Target {
    Floor,
    Frontdesk,
}

#[derive(Clone)]
struct Args {
    calls: Vec<usize>,
    /// Length of every call.
    seconds: u64,
    ramp_per_second: usize,
    shape: Shape,
    burst_ms: u64,
    every_ms: u64,
    delta_ms: u64,
    targets: Vec<Target>,
    /// Server on CPU 0, generator on CPU 1, so the latencies are the server's
    /// and not this process's queueing (needs 2 CPUs and taskset).
    pin: bool,
    /// HTTPS and wss:// served by frontdesk itself.
    tls: bool,
    /// Niceness for the generator and both servers (inherited): on a machine
    /// shared with builds, a negative value (as root) keeps them from being
    /// starved, so the figures are the bridge's and not the queue's.
    nice: Option<i32>,
    /// SCHED_FIFO priority for the generator and both servers (inherited;
    /// root): they run whenever they are ready, ahead of everything else on
    /// a busy machine (the kernel still keeps 5% of each CPU for the rest).
    fifo: Option<u32>,
}

fn args() -> Args {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut a = Args {
        calls: vec![200],
        seconds: 15,
        ramp_per_second: 200,
        shape: Shape::Continuous,
        burst_ms: 2000,
        every_ms: 5000,
        delta_ms: 200,
        targets: vec![Target::Floor, Target::Frontdesk],
        pin: cpus >= 2 && std::path::Path::new("/usr/bin/taskset").exists(),
        tls: false,
        nice: None,
        fifo: None,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let text = argv.get(i + 1).cloned().unwrap_or_default();
        let value = || text.parse::<u64>().ok();
        match argv[i].as_str() {
            "--calls" => {
                a.calls = text
                    .split(',')
                    .map(|n| n.trim().replace('_', "").parse().expect("--calls N[,N...]"))
                    .collect()
            }
            "--seconds" => a.seconds = value().expect("--seconds S"),
            "--nice" => a.nice = Some(text.parse().expect("--nice N")),
            "--fifo" => a.fifo = Some(text.parse().expect("--fifo PRIORITY")),
            "--ramp" => a.ramp_per_second = value().expect("--ramp CALLS_PER_SECOND") as usize,
            "--burst-ms" => a.burst_ms = value().expect("--burst-ms MS"),
            "--every-ms" => a.every_ms = value().expect("--every-ms MS"),
            "--delta-ms" => a.delta_ms = value().expect("--delta-ms MS"),
            "--shape" => {
                a.shape = match text.as_str() {
                    "continuous" => Shape::Continuous,
                    "bursts" => Shape::Bursts,
                    other => panic!("--shape continuous|bursts, not {other}"),
                }
            }
            "--only" => {
                a.targets = match text.as_str() {
                    "floor" => vec![Target::Floor],
                    "frontdesk" => vec![Target::Frontdesk],
                    other => panic!("--only floor|frontdesk, not {other}"),
                }
            }
            "--pin" => {
                a.pin = true;
                i += 1;
                continue;
            }
            "--no-pin" => {
                a.pin = false;
                i += 1;
                continue;
            }
            "--tls" => {
                a.tls = true;
                i += 1;
                continue;
            }
            _ => {
                i += 1; // cargo bench passes --bench
                continue;
            }
        }
        i += 2;
    }
    a
}

/// One direction of every call: send times (ns since start) by sequence
/// number, the last sequence number received, and what was measured.
struct Direction {
    sent: Vec<Vec<AtomicU64>>,
    last: Vec<AtomicU64>,
    /// Frames skipped over (a later one arrived first); one arriving late takes one back.
    lost: AtomicI64,
    reordered: AtomicU64,
    received: AtomicU64,
    latencies: Mutex<Vec<u32>>,
}

impl Direction {
    fn new(calls: usize) -> Direction {
        Direction {
            sent: (0..calls).map(|_| (0..RING).map(|_| AtomicU64::new(0)).collect()).collect(),
            last: (0..calls).map(|_| AtomicU64::new(0)).collect(),
            lost: AtomicI64::new(0),
            reordered: AtomicU64::new(0),
            received: AtomicU64::new(0),
            latencies: Mutex::new(Vec::new()),
        }
    }
}

struct Clock {
    start: Instant,
    up: Direction,
    down: Direction,
    measuring: AtomicBool,
}

impl Clock {
    fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    fn sent(&self, direction: &Direction, call: usize, seq: usize) {
        direction.sent[call][seq % RING].store(self.now(), Ordering::Relaxed);
    }

    /// A payload received: check its order, look up when it was sent, record the difference (µs).
    fn received(&self, payload: &str, d: &Direction) {
        let Some((call, seq)) = tag_of(payload) else { return };
        let Some(last) = d.last.get(call) else { return };
        // One task reads each call's direction: load and store do not race.
        let before = last.load(Ordering::Relaxed);
        let seq64 = seq as u64;
        if seq64 > before {
            d.lost.fetch_add((seq64 - before - 1) as i64, Ordering::Relaxed);
            last.store(seq64, Ordering::Relaxed);
        } else {
            d.reordered.fetch_add(1, Ordering::Relaxed);
            d.lost.fetch_sub(1, Ordering::Relaxed);
        }
        if !self.measuring.load(Ordering::Relaxed) {
            return;
        }
        d.received.fetch_add(1, Ordering::Relaxed);
        let at = d.sent[call][seq % RING].load(Ordering::Relaxed);
        if at > 0 {
            let micros = (self.now().saturating_sub(at) / 1000) as u32;
            d.latencies.lock().unwrap().push(micros);
        }
    }
}

/// Audio whose first 8 bytes say which call and which frame it is.
/// `tail` is the base64 of the audio after its first 9 bytes (9 bytes make
/// 12 base64 characters exactly, so the two parts join).
fn tagged(call: usize, seq: usize, tail: &str) -> String {
    let mut head = [0xFFu8; 9];
    head[..4].copy_from_slice(&(call as u32).to_le_bytes());
    head[4..8].copy_from_slice(&(seq as u32).to_le_bytes());
    let mut out = String::with_capacity(12 + tail.len());
    base64::engine::general_purpose::STANDARD.encode_string(head, &mut out);
    out.push_str(tail);
    out
}

fn tag_of(payload: &str) -> Option<(usize, usize)> {
    let head = base64::engine::general_purpose::STANDARD.decode(payload.get(..12)?).ok()?;
    let call = u32::from_le_bytes(head[..4].try_into().ok()?) as usize;
    let seq = u32::from_le_bytes(head[4..8].try_into().ok()?) as usize;
    Some((call, seq))
}

/// The server's CPU seconds (user + system) and resident memory (KiB).
fn usage(pid: u32) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (ticks as f64 / 100.0, rss)
}

struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:port`, or `https://load.test:port` with TLS.
    base: String,
    _dir: tempfile::TempDir,
    /// With TLS: whom the clients trust, and where load.test is.
    tls: Option<TlsConnect>,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(openai_base: &str, calls: usize, pin: bool, tls: bool) -> ServerProcess {
    // VOICE_BENCH_BIN: another build of frontdesk (say, before a change) under the same load.
    let bin =
        std::env::var("VOICE_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_frontdesk").to_string());
    let bin = bin.as_str();
    let dir = tempfile::tempdir().unwrap();
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo/acme-plumbing.toml");
    let status = Command::new(bin)
        .env("FRONTDESK_DATA_DIR", dir.path())
        .env("RUST_LOG", "error")
        .args(["business", "import", demo])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
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
        .env("TWILIO_AUTH_TOKEN", TOKEN)
        .env("TWILIO_WEBHOOK_BASE_URL", PUBLIC)
        .env("HOSTNAME", "load.test")
        .env("OPENAI_API_KEY", "sk-load")
        .env("OPENAI_BASE_URL", openai_base)
        .env("OPENAI_CHAT_MODEL", "")
        .env("MAX_WEBSOCKET_CONNECTIONS", (calls + 10).to_string())
        // One loopback address stands for all of Twilio's.
        .env("FRONTDESK_MAX_CONNECTIONS_PER_IP", "0");
    let ca = fake_ca::TestCa::new();
    if tls {
        let leaf = ca.leaf(&["load.test"]);
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, &leaf.cert_pem).unwrap();
        std::fs::write(&key, &leaf.key_pem).unwrap();
        command
            .env("FRONTDESK_TLS_MODE", "files")
            .env("FRONTDESK_TLS_CERT_FILE", &cert)
            .env("FRONTDESK_TLS_KEY_FILE", &key)
            .env("FRONTDESK_TLS_HTTPS_PORT", "0")
            .env("FRONTDESK_TLS_HTTP_PORT", "0");
    }
    let (child, base) = common::spawn_listening(
        command.args(["serve", "--port", "0", "--bind", "127.0.0.1"]),
        "frontdesk listening on ",
    );
    if !tls {
        return ServerProcess { child, base, _dir: dir, tls: None };
    }
    let addr: std::net::SocketAddr = base.trim_start_matches("https://").parse().unwrap();
    let base = format!("https://load.test:{}", addr.port());
    ServerProcess { child, base, _dir: dir, tls: Some(TlsConnect { addr, config: ca.client() }) }
}

/// The floor: this bench run again as `--floor-server`, pinned like frontdesk.
fn start_floor(openai_base: &str, pin: bool) -> ServerProcess {
    let me = std::env::current_exe().unwrap();
    let mut command = if pin {
        let mut c = Command::new("taskset");
        c.args(["-c", "0"]).arg(&me);
        c
    } else {
        Command::new(&me)
    };
    let (child, base) =
        common::spawn_listening(command.args(["--floor-server", openai_base]), "floor listening on ");
    ServerProcess { child, base, _dir: tempfile::tempdir().unwrap(), tls: None }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if let Some(at) = argv.iter().position(|a| a == "--floor-server") {
        passthrough::serve(argv.get(at + 1).cloned().expect("--floor-server OPENAI_BASE_URL"));
        return;
    }
    let a = args();
    if a.pin {
        // Threads started from here on (the runtime's) inherit CPU 1.
        let pinned = Command::new("taskset")
            .args(["-cp", "1", &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(pinned, "taskset failed; run with --no-pin");
    }
    if let Some(n) = a.nice {
        // Before any thread starts: every thread and child inherits it.
        let set = Command::new("renice")
            .args(["-n", &n.to_string(), "-p", &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(set, "renice failed (a negative niceness needs root)");
    }
    if let Some(priority) = a.fifo {
        let set = Command::new("chrt")
            .args(["-f", "-p", &priority.to_string(), &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(set, "chrt failed (SCHED_FIFO needs root)");
    }
    // On one CPU, one worker thread: more would only take turns.
    let workers = if a.pin { 1 } else { 2 };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build().unwrap();
    let mut rows = Vec::new();
    let load_before = load_average();
    for &calls in &a.calls {
        for &target in &a.targets {
            let row = runtime.block_on(run(&a, calls, target));
            eprintln!("{}", row.line());
            rows.push(row);
            std::thread::sleep(Duration::from_secs(2));
        }
    }
    println!(
        "{}{}{}; {} s calls, model audio {}; load average {} before, {} after",
        if a.tls { "TLS (https, wss) served by frontdesk; " } else { "" },
        a.nice.map(|n| format!("niceness {n}; ")).unwrap_or_default()
            + &a.fifo.map(|p| format!("SCHED_FIFO {p}; ")).unwrap_or_default(),
        if a.pin { "server on CPU 0, generator on CPU 1" } else { "server and generator share the CPUs" },
        a.seconds,
        match a.shape {
            Shape::Continuous => "a 20 ms delta every 20 ms".to_string(),
            Shape::Bursts => format!("{} ms every {} ms in {} ms deltas", a.burst_ms, a.every_ms, a.delta_ms),
        },
        load_before,
        load_average()
    );
    println!("{}", Row::HEADER);
    println!("{}", Row::RULE);
    for row in &rows {
        println!("{}", row.line());
    }
    // Flush what the runtime still holds (sockets of the last run) before the servers go.
    runtime.shutdown_timeout(Duration::from_secs(1));
}

/// One target under one load.
struct Row {
    target: Target,
    calls: usize,
    failed: usize,
    up: Vec<u32>,
    down: Vec<u32>,
    up_lost: i64,
    up_reordered: u64,
    down_lost: i64,
    down_reordered: u64,
    /// Server CPU seconds over the window.
    cpu: f64,
    window: f64,
    /// Frames that reached the other side within the window, both ways.
    relayed: u64,
    generator_cpu: f64,
    idle_rss: u64,
    peak_rss: u64,
}

impl Row {
    const HEADER: &'static str = "| calls | server | up p50 / p99 | down p50 / p99 | frames relayed | CPU per call-second | CPU per 100 frames | server CPU | generator CPU | lost / reordered (up, down) | RSS idle → loaded | memory per call |";
    const RULE: &'static str = "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |";

    fn line(&self) -> String {
        let calls = self.calls.saturating_sub(self.failed).max(1) as f64;
        format!(
            "| {}{} | {} | {:.2} / {:.2} ms | {:.2} / {:.2} ms | {:.0}% | {:.3} ms | {:.3} ms | {:.0}% | {:.0}% | {} / {}, {} / {} | {:.1} → {:.1} MiB | {:.0} KiB |",
            self.calls,
            if self.failed > 0 { format!(" ({} failed)", self.failed) } else { String::new() },
            match self.target {
                Target::Floor => "floor (pass-through)",
                Target::Frontdesk => "frontdesk",
            },
            percentile(&self.up, 0.50),
            percentile(&self.up, 0.99),
            percentile(&self.down, 0.50),
            percentile(&self.down, 0.99),
            100.0 * self.relayed as f64 / (100.0 * calls * self.window),
            1000.0 * self.cpu / (calls * self.window),
            // A call-second at full rate is 100 frames (50 each way).
            1000.0 * self.cpu / (self.relayed.max(1) as f64 / 100.0),
            100.0 * self.cpu / self.window,
            100.0 * self.generator_cpu / self.window,
            self.up_lost,
            self.up_reordered,
            self.down_lost,
            self.down_reordered,
            self.idle_rss as f64 / 1024.0,
            self.peak_rss as f64 / 1024.0,
            self.peak_rss.saturating_sub(self.idle_rss) as f64 / calls,
        )
    }
}

/// The model side of one session: which call it is (the tag of the first
/// caller frame), then audio for as long as the session is open.
async fn speak(mut conn: fake_realtime::Conn, clock: Arc<Clock>, stop: Arc<AtomicBool>, a: Args) {
    conn.expect("session.update").await;
    while conn.appended.lock().unwrap().is_empty() {
        if conn.closed.load(Ordering::Relaxed) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let first = conn.appended.lock().unwrap()[0].clone();
    let Some((call, _)) = tag_of(&first) else { return };
    let (every, chunk_ms, per_tick) = match a.shape {
        Shape::Continuous => (20, 20, 1),
        Shape::Bursts => (a.every_ms.max(1), a.delta_ms, (a.burst_ms / a.delta_ms.max(1)).max(1)),
    };
    let chunk = b64(&tone(330.0, chunk_ms as usize)[9..]);
    let item = format!("item_{call}");
    let mut seq = 0usize;
    let phase = Duration::from_micros((call as u64 * 7919) % (every * 1000));
    let mut tick =
        tokio::time::interval_at(tokio::time::Instant::now() + phase, Duration::from_millis(every));
    while !stop.load(Ordering::Relaxed) && !conn.closed.load(Ordering::Relaxed) {
        tick.tick().await;
        for _ in 0..per_tick {
            seq += 1;
            clock.sent(&clock.down, call, seq);
            conn.send_text(conn.audio_delta_text("resp_1", &item, &tagged(call, seq, &chunk)));
        }
    }
}

/// One call as Twilio makes it; false if it could not be made.
async fn call(
    call: usize,
    target: Target,
    server: (String, Option<TlsConnect>),
    http: reqwest::Client,
    clock: Arc<Clock>,
    seconds: u64,
    connected: Arc<AtomicUsize>,
) -> bool {
    let (base, tls) = server;
    let sid = format!("CA{call:032x}");
    let parameters = if target == Target::Frontdesk {
        let params =
            [("CallSid", sid.as_str()), ("From", "+13125550142"), ("To", NUMBER), ("CallStatus", "ringing")];
        let signature = twilio_signature(TOKEN, &format!("{PUBLIC}/api/voice/incoming"), &params);
        let response = http
            .post(format!("{base}/api/voice/incoming"))
            .header("X-Twilio-Signature", signature)
            .form(&params)
            .send()
            .await;
        let doc = match response {
            Ok(r) if r.status().is_success() => r.text().await.unwrap_or_default(),
            _ => return false,
        };
        // As Twilio does: the stream's parameters (its token among them) come from the TwiML.
        fake_media::stream_parameters(&doc)
    } else {
        Vec::new()
    };
    let on_media: Arc<dyn Fn(&str) + Send + Sync> = {
        let clock = clock.clone();
        Arc::new(move |payload: &str| clock.received(payload, &clock.down))
    };
    let ws_url = match target {
        Target::Frontdesk => {
            format!("{}/api/voice/stream", base.replace("http://", "ws://").replace("https://", "wss://"))
        }
        Target::Floor => base.clone(),
    };
    let media = MediaCall::connect(Connect {
        ws_url: &ws_url,
        public_url: STREAM,
        auth_token: TOKEN,
        call_sid: &sid,
        parameters,
        auto_playback: true,
        sign: target == Target::Frontdesk,
        on_media: Some(on_media),
        record: false,
        tls,
    })
    .await;
    let Ok(mut media) = media else { return false };
    connected.fetch_add(1, Ordering::Relaxed);
    let audio = b64(&tone(440.0, 20)[9..]);
    // Calls are not in step with each other: spread each call's frames over the 20 ms.
    let phase = Duration::from_micros((call as u64 * 7919) % 20_000);
    let begun = tokio::time::Instant::now();
    let mut tick = tokio::time::interval_at(begun + phase, Duration::from_millis(20));
    let mut seq = 0usize;
    while begun.elapsed() < Duration::from_secs(seconds) {
        tick.tick().await;
        seq += 1;
        let payload = tagged(call, seq, &audio);
        clock.sent(&clock.up, call, seq);
        media.media_b64(&payload, 20).await;
    }
    media.stop().await;
    true
}

async fn run(a: &Args, calls: usize, target: Target) -> Row {
    let clock = Arc::new(Clock {
        start: Instant::now(),
        up: Direction::new(calls),
        down: Direction::new(calls),
        measuring: AtomicBool::new(false),
    });
    let on_append: fake_realtime::OnAppend = {
        let clock = clock.clone();
        Arc::new(move |payload: &str| clock.received(payload, &clock.up))
    };
    let options = Options { on_append: Some(on_append), keep_appends: Some(1), ..Options::default() };
    let fake = Arc::new(FakeRealtime::start(options).await);
    let server = match target {
        Target::Frontdesk => start_server(&fake.base_url, calls, a.pin, a.tls),
        Target::Floor => start_floor(&fake.base_url, a.pin),
    };
    let pid = server.child.id();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, idle_rss) = usage(pid);
    eprintln!("{target:?} pid {pid} idle: {idle_rss} KiB; starting {calls} calls at {}/s", a.ramp_per_second);

    let stop = Arc::new(AtomicBool::new(false));
    let connected = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let http = match &server.tls {
        None => reqwest::Client::new(),
        Some(tls) => {
            let config = (*tls.config).clone();
            reqwest::Client::builder()
                .use_preconfigured_tls(config)
                .resolve("load.test", tls.addr)
                .build()
                .unwrap()
        }
    };

    // The model side: each session it is asked to open.
    let model = {
        let (fake, clock, stop, a) = (fake.clone(), clock.clone(), stop.clone(), a.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let conn = fake.accept(Duration::from_secs(3600)).await;
                tokio::spawn(speak(conn, clock.clone(), stop.clone(), a.clone()));
            }
        })
    };

    // The Twilio side: one task per call.
    let ramp = Duration::from_secs_f64(1.0 / a.ramp_per_second.max(1) as f64);
    let ramp_start = Instant::now();
    let mut tasks = Vec::with_capacity(calls);
    for n in 0..calls {
        let server = (server.base.clone(), server.tls.clone());
        let (http, clock, connected, failed) =
            (http.clone(), clock.clone(), connected.clone(), failed.clone());
        let seconds = a.seconds;
        tasks.push(tokio::spawn(async move {
            if !call(n, target, server, http, clock, seconds, connected).await {
                failed.fetch_add(1, Ordering::Relaxed);
            }
        }));
        tokio::time::sleep_until((ramp_start + ramp * (n as u32 + 1)).into()).await;
    }

    // Every call up, a second to settle, then measure until the first call hangs up.
    let deadline = Instant::now() + Duration::from_secs(60);
    while connected.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < calls
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first_hangs_up = ramp_start + Duration::from_secs(a.seconds);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let window_end = first_hangs_up.checked_sub(Duration::from_millis(500)).unwrap_or(first_hangs_up);
    assert!(
        window_end > Instant::now() + Duration::from_secs(2),
        "calls of {} s are too short to measure {calls} calls ramped at {}/s: raise --seconds or --ramp",
        a.seconds,
        a.ramp_per_second
    );
    let (cpu_before, _) = usage(pid);
    let (own_before, _) = usage(std::process::id());
    let window = Instant::now();
    clock.measuring.store(true, Ordering::Relaxed);
    let mut peak_rss = 0;
    while Instant::now() < window_end {
        tokio::time::sleep(
            Duration::from_millis(250).min(window_end.saturating_duration_since(Instant::now())),
        )
        .await;
        peak_rss = peak_rss.max(usage(pid).1);
    }
    clock.measuring.store(false, Ordering::Relaxed);
    let elapsed = window.elapsed().as_secs_f64();
    let (cpu_after, _) = usage(pid);
    let (own_after, _) = usage(std::process::id());
    for task in tasks {
        let _ = task.await;
    }
    stop.store(true, Ordering::Relaxed);
    // Frames still on their way when the calls hung up are not lost; give them a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    model.abort();

    let mut up = std::mem::take(&mut *clock.up.latencies.lock().unwrap());
    let mut down = std::mem::take(&mut *clock.down.latencies.lock().unwrap());
    up.sort_unstable();
    down.sort_unstable();
    drop(server);
    Row {
        target,
        calls,
        failed: failed.load(Ordering::Relaxed),
        up,
        down,
        up_lost: clock.up.lost.load(Ordering::Relaxed),
        up_reordered: clock.up.reordered.load(Ordering::Relaxed),
        down_lost: clock.down.lost.load(Ordering::Relaxed),
        down_reordered: clock.down.reordered.load(Ordering::Relaxed),
        cpu: cpu_after - cpu_before,
        window: elapsed,
        relayed: clock.up.received.load(Ordering::Relaxed) + clock.down.received.load(Ordering::Relaxed),
        generator_cpu: own_after - own_before,
        idle_rss,
        peak_rss,
    }
}
