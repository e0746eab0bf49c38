//! Voice load generator: N concurrent simulated phone calls against a real
//! frontdesk server, with the OpenAI Realtime API played by a local fake.
//!
//!   cargo bench --bench voice -- --calls 1000 --seconds 20 [--tls]
//!
//! By default it starts the release binary itself (temporary data dir, the
//! demo business). Each call is what Twilio does: a signed `incoming`
//! webhook, then a media stream sending a 20 ms μ-law frame every 20 ms and
//! playing back what it receives (marks echoed in real time). Each model
//! session "speaks" in bursts: every `--every-ms`, `--burst-ms` of audio as
//! `--delta-ms` chunks sent at once, faster than real time, as OpenAI does.
//!
//! Every frame carries its call and sequence number, so the generator
//! measures the time the server adds in each direction: caller frame sent →
//! `input_audio_buffer.append` received, and model delta sent → Twilio
//! `media` received (both ends are in this process, on one clock). It also
//! reads the server's CPU time and resident memory from /proc, idle and
//! under load, and reports them per call. Client and server share the
//! machine's cores, so the latencies include this process's own scheduling.
//!
//! `--tls`: the server serves HTTPS itself (files mode, a certificate from a
//! throwaway CA for `load.test`), so webhooks go over https:// and every
//! media stream is a `wss://` connection, TLS handled by the server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/fakes/ca.rs"]
mod fake_ca;
#[path = "../tests/fakes/media.rs"]
mod fake_media;
#[path = "../tests/fakes/realtime.rs"]
mod fake_realtime;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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

struct Args {
    calls: usize,
    seconds: u64,
    ramp_per_second: usize,
    burst_ms: u64,
    every_ms: u64,
    delta_ms: u64,
    /// Server on CPU 0, generator on CPU 1, so the latencies are the server's
    /// and not this process's queueing (needs 2 CPUs and taskset).
    pin: bool,
    /// HTTPS and wss:// served by frontdesk itself.
    tls: bool,
}

fn args() -> Args {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut a = Args {
        calls: 200,
        seconds: 15,
        ramp_per_second: 100,
        burst_ms: 2000,
        every_ms: 5000,
        delta_ms: 200,
        pin: cpus >= 2 && std::path::Path::new("/usr/bin/taskset").exists(),
        tls: false,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        let value = || argv.get(i + 1).and_then(|v| v.parse::<u64>().ok());
        match argv[i].as_str() {
            "--calls" => a.calls = value().expect("--calls N") as usize,
            "--seconds" => a.seconds = value().expect("--seconds S"),
            "--ramp" => a.ramp_per_second = value().expect("--ramp CALLS_PER_SECOND") as usize,
            "--burst-ms" => a.burst_ms = value().expect("--burst-ms MS"),
            "--every-ms" => a.every_ms = value().expect("--every-ms MS"),
            "--delta-ms" => a.delta_ms = value().expect("--delta-ms MS"),
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

/// Send times (ns since start) per call and direction, and the latencies measured.
struct Clock {
    start: Instant,
    inbound_sent: Vec<Vec<AtomicU64>>,
    outbound_sent: Vec<Vec<AtomicU64>>,
    measuring: AtomicBool,
    inbound: Mutex<Vec<u32>>,
    outbound: Mutex<Vec<u32>>,
}

impl Clock {
    fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    fn ring(calls: usize) -> Vec<Vec<AtomicU64>> {
        (0..calls).map(|_| (0..RING).map(|_| AtomicU64::new(0)).collect()).collect()
    }

    /// A payload received: look up when it was sent, record the difference (µs).
    fn received(&self, payload: &str, sent: &[Vec<AtomicU64>], into: &Mutex<Vec<u32>>) {
        if !self.measuring.load(Ordering::Relaxed) {
            return;
        }
        let Some((call, seq)) = tag_of(payload) else { return };
        let Some(at) = sent.get(call).map(|ring| ring[seq % RING].load(Ordering::Relaxed)) else { return };
        if at > 0 {
            let micros = (self.now().saturating_sub(at) / 1000) as u32;
            into.lock().unwrap().push(micros);
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
    let bin = env!("CARGO_BIN_EXE_frontdesk");
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
    let mut child = command
        .args(["serve", "--port", "0", "--bind", "127.0.0.1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let base = loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "server exited");
        if let Some(addr) = line.trim().strip_prefix("frontdesk listening on ") {
            break addr.to_string();
        }
    };
    std::thread::spawn(move || for _ in reader.lines() {});
    if !tls {
        return ServerProcess { child, base, _dir: dir, tls: None };
    }
    let addr: std::net::SocketAddr = base.trim_start_matches("https://").parse().unwrap();
    let base = format!("https://load.test:{}", addr.port());
    ServerProcess { child, base, _dir: dir, tls: Some(TlsConnect { addr, config: ca.client() }) }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

fn main() {
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
    // On one CPU, one worker thread: more would only take turns.
    let workers = if a.pin { 1 } else { 2 };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build().unwrap();
    runtime.block_on(run(a));
}

async fn run(a: Args) {
    let clock = Arc::new(Clock {
        start: Instant::now(),
        inbound_sent: Clock::ring(a.calls),
        outbound_sent: Clock::ring(a.calls),
        measuring: AtomicBool::new(false),
        inbound: Mutex::new(Vec::new()),
        outbound: Mutex::new(Vec::new()),
    });
    let on_append: fake_realtime::OnAppend = {
        let clock = clock.clone();
        Arc::new(move |payload: &str| clock.received(payload, &clock.inbound_sent, &clock.inbound))
    };
    let options = Options { on_append: Some(on_append), keep_appends: Some(1), ..Options::default() };
    let fake = Arc::new(FakeRealtime::start(options).await);
    let server = start_server(&fake.base_url, a.calls, a.pin, a.tls);
    let pid = server.child.id();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, idle_rss) = usage(pid);
    eprintln!("server pid {pid} idle: {idle_rss} KiB; starting {} calls at {}/s", a.calls, a.ramp_per_second);

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

    // The model side: each session speaks in bursts, every chunk tagged.
    {
        let (fake, clock, stop) = (fake.clone(), clock.clone(), stop.clone());
        let (every, burst, delta) = (a.every_ms, a.burst_ms, a.delta_ms);
        tokio::spawn(async move {
            loop {
                let mut conn = fake.accept(Duration::from_secs(3600)).await;
                let (clock, stop) = (clock.clone(), stop.clone());
                tokio::spawn(async move {
                    conn.expect("session.update").await;
                    // Which call this is: the tag of the first caller frame.
                    while conn.appended.lock().unwrap().is_empty() {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    let first = conn.appended.lock().unwrap()[0].clone();
                    let Some((call, _)) = tag_of(&first) else { return };
                    let chunk = b64(&tone(330.0, delta as usize)[9..]);
                    let mut seq = 0usize;
                    let phase = Duration::from_millis((call as u64 * 7919) % every.max(1));
                    let start = tokio::time::Instant::now() + phase;
                    let mut tick = tokio::time::interval_at(start, Duration::from_millis(every));
                    while !stop.load(Ordering::Relaxed) {
                        tick.tick().await;
                        for _ in 0..burst / delta {
                            seq += 1;
                            clock.outbound_sent[call][seq % RING].store(clock.now(), Ordering::Relaxed);
                            conn.audio_delta("resp", &format!("item_{seq}"), &tagged(call, seq, &chunk));
                        }
                    }
                });
            }
        });
    }

    // The Twilio side: one task per call.
    let ramp = Duration::from_secs_f64(1.0 / a.ramp_per_second.max(1) as f64);
    for call in 0..a.calls {
        let (clock, stop, connected, failed, http, base, tls) = (
            clock.clone(),
            stop.clone(),
            connected.clone(),
            failed.clone(),
            http.clone(),
            server.base.clone(),
            server.tls.clone(),
        );
        tokio::spawn(async move {
            let sid = format!("CA{call:032x}");
            let params = [
                ("CallSid", sid.as_str()),
                ("From", "+13125550142"),
                ("To", NUMBER),
                ("CallStatus", "ringing"),
            ];
            let signature = twilio_signature(TOKEN, &format!("{PUBLIC}/api/voice/incoming"), &params);
            let response = http
                .post(format!("{base}/api/voice/incoming"))
                .header("X-Twilio-Signature", signature)
                .form(&params)
                .send()
                .await;
            let doc = match response {
                Ok(r) if r.status().is_success() => r.text().await.unwrap_or_default(),
                _ => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            };
            // As Twilio does: the stream's parameters (its token among them) come from the TwiML.
            let parameters = fake_media::stream_parameters(&doc);
            let on_media: Arc<dyn Fn(&str) + Send + Sync> = {
                let clock = clock.clone();
                Arc::new(move |payload: &str| clock.received(payload, &clock.outbound_sent, &clock.outbound))
            };
            let ws_url = format!(
                "{}/api/voice/stream",
                base.replace("http://", "ws://").replace("https://", "wss://")
            );
            let media = MediaCall::connect(Connect {
                ws_url: &ws_url,
                public_url: STREAM,
                auth_token: TOKEN,
                call_sid: &sid,
                parameters,
                auto_playback: true,
                sign: true,
                on_media: Some(on_media),
                record: false,
                tls,
            })
            .await;
            let Ok(mut media) = media else {
                failed.fetch_add(1, Ordering::Relaxed);
                return;
            };
            connected.fetch_add(1, Ordering::Relaxed);
            let audio = b64(&tone(440.0, 20)[9..]);
            // Calls are not in step with each other: spread each call's frames over the 20 ms.
            let phase = Duration::from_micros((call as u64 * 7919) % 20_000);
            let mut tick =
                tokio::time::interval_at(tokio::time::Instant::now() + phase, Duration::from_millis(20));
            let mut seq = 0usize;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                seq += 1;
                let payload = tagged(call, seq, &audio);
                clock.inbound_sent[call][seq % RING].store(clock.now(), Ordering::Relaxed);
                media.media_b64(&payload, 20).await;
            }
            media.stop().await;
        });
        tokio::time::sleep(ramp).await;
    }

    // Wait for every call to be up, then measure a steady window.
    let deadline = Instant::now() + Duration::from_secs(60);
    while connected.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < a.calls
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (cpu_before, _) = usage(pid);
    let (own_before, _) = usage(std::process::id());
    let window = Instant::now();
    clock.measuring.store(true, Ordering::Relaxed);
    let mut peak_rss = 0;
    while window.elapsed() < Duration::from_secs(a.seconds) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        peak_rss = peak_rss.max(usage(pid).1);
    }
    clock.measuring.store(false, Ordering::Relaxed);
    let elapsed = window.elapsed().as_secs_f64();
    let (cpu_after, _) = usage(pid);
    let (own_after, _) = usage(std::process::id());
    stop.store(true, Ordering::Relaxed);

    let calls = connected.load(Ordering::Relaxed);
    let mut inbound = std::mem::take(&mut *clock.inbound.lock().unwrap());
    let mut outbound = std::mem::take(&mut *clock.outbound.lock().unwrap());
    inbound.sort_unstable();
    outbound.sort_unstable();
    let cpu = cpu_after - cpu_before;
    println!(
        "{}{}; the generator itself used {:.0}% of a core",
        if a.tls { "TLS (https, wss) served by frontdesk; " } else { "" },
        if a.pin { "server on CPU 0, generator on CPU 1" } else { "server and generator share the CPUs" },
        100.0 * (own_after - own_before) / elapsed
    );
    println!("| calls | frames in (per s) | in p50 | in p99 | deltas out (per s) | out p50 | out p99 | server CPU | CPU per call | RSS idle → loaded | memory per call |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    println!(
        "| {calls} (failed {}) | {:.0} | {:.2} ms | {:.2} ms | {:.0} | {:.2} ms | {:.2} ms | {:.0}% of a core | {:.3}% | {:.1} → {:.1} MiB | {:.0} KiB |",
        failed.load(Ordering::Relaxed),
        inbound.len() as f64 / elapsed,
        percentile(&inbound, 0.50),
        percentile(&inbound, 0.99),
        outbound.len() as f64 / elapsed,
        percentile(&outbound, 0.50),
        percentile(&outbound, 0.99),
        100.0 * cpu / elapsed,
        100.0 * cpu / elapsed / calls.max(1) as f64,
        idle_rss as f64 / 1024.0,
        peak_rss as f64 / 1024.0,
        (peak_rss.saturating_sub(idle_rss)) as f64 / calls.max(1) as f64,
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(server);
}
