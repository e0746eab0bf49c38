//! The voice bench's load generator (issue 17): plays Twilio (one media
//! stream per call) and the OpenAI Realtime model (one session per call) for
//! every call, on `threads` generator threads.
//!
//! Why it is built this way: the first generator (the test fakes, two or
//! three tasks, a channel and a lock per call and a shared table of send
//! times) used a whole core at 600 calls, so it could not drive 1,000 on
//! one core, nor 2,500 on two. Here every call is one task per socket, each
//! owning its socket and its state (no split halves, no locks, no
//! channels); what is due at one tick (a frame, echoed marks) is written
//! with one flush; and every frame carries its own send time, so the side
//! that receives it needs no table and no lock to measure it. Each thread
//! runs its own single-threaded runtime and its own model listener on one
//! shared port (`SO_REUSEPORT`: the kernel spreads the server's model
//! sessions over the threads). Results go into per-process atomics and a
//! fixed histogram.

pub mod model;
pub mod twilio;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;

/// Bytes at the start of every frame's audio: call (4), sequence number
/// (4), send time in ns since the generator's epoch (8), and two marker
/// bytes. 18 bytes are 24 base64 characters exactly, so a tag and the
/// rest of the audio, encoded apart, join into one valid payload.
const TAG: usize = 18;
const TAG_B64: usize = 24;
const MARKER: [u8; 2] = [0xA5, 0x5A];
/// Longest wait, once every call has hung up, for the server to close its model sessions.
const MODEL_CLOSE_WAIT: Duration = Duration::from_secs(30);

/// The payload of a frame: the tag for (call, seq, now) and `tail`, the
/// base64 of the audio after its first `TAG` bytes.
pub fn tagged(call: u32, seq: u32, sent_ns: u64, tail: &str) -> String {
    let mut head = [0u8; TAG];
    head[..4].copy_from_slice(&call.to_le_bytes());
    head[4..8].copy_from_slice(&seq.to_le_bytes());
    head[8..16].copy_from_slice(&sent_ns.to_le_bytes());
    head[16..].copy_from_slice(&MARKER);
    let mut out = String::with_capacity(TAG_B64 + tail.len());
    base64::engine::general_purpose::STANDARD.encode_string(head, &mut out);
    out.push_str(tail);
    out
}

/// (call, seq, sent_ns) of a payload this generator tagged; None for any
/// other audio (a server that re-chunks would send untagged pieces).
pub fn tag_of(payload: &str) -> Option<(u32, u32, u64)> {
    let mut head = [0u8; TAG];
    let n =
        base64::engine::general_purpose::STANDARD.decode_slice(payload.get(..TAG_B64)?, &mut head).ok()?;
    if n != TAG || head[16..] != MARKER {
        return None;
    }
    let call = u32::from_le_bytes(head[..4].try_into().ok()?);
    let seq = u32::from_le_bytes(head[4..8].try_into().ok()?);
    let sent = u64::from_le_bytes(head[8..16].try_into().ok()?);
    Some((call, seq, sent))
}

/// Latencies in µs: 1 µs buckets to 1 ms, 10 µs to 10 ms, 100 µs to
/// 100 ms, 1 ms to 10 s. Fixed and lock-free, so every frame can be
/// counted from any thread.
pub struct Histogram {
    buckets: Vec<AtomicU64>,
}

const BUCKETS: usize = 1000 + 900 + 900 + 9900 + 1;

impl Histogram {
    fn new() -> Histogram {
        Histogram { buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect() }
    }

    fn index(us: u64) -> usize {
        let i = match us {
            0..1_000 => us,
            1_000..10_000 => 1_000 + (us - 1_000) / 10,
            10_000..100_000 => 1_900 + (us - 10_000) / 100,
            _ => 2_800 + (us.min(10_000_000) - 100_000) / 1_000,
        };
        (i as usize).min(BUCKETS - 1)
    }

    /// The upper end of bucket `i`, in ms.
    fn value_ms(i: usize) -> f64 {
        let i = i as f64;
        let us = match i {
            _ if i < 1_000.0 => i + 1.0,
            _ if i < 1_900.0 => 1_000.0 + (i - 1_000.0 + 1.0) * 10.0,
            _ if i < 2_800.0 => 10_000.0 + (i - 1_900.0 + 1.0) * 100.0,
            _ => 100_000.0 + (i - 2_800.0 + 1.0) * 1_000.0,
        };
        us / 1000.0
    }

    pub fn record(&self, us: u64) {
        self.buckets[Self::index(us)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// The `p` quantile in ms (NaN when empty).
    pub fn percentile(&self, p: f64) -> f64 {
        let total = self.count();
        if total == 0 {
            return f64::NAN;
        }
        let rank = ((total as f64 * p).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b.load(Ordering::Relaxed);
            if seen >= rank {
                return Self::value_ms(i);
            }
        }
        f64::NAN
    }
}

/// One direction of every call.
pub struct Direction {
    /// Frames skipped over (a later one arrived first); one arriving late takes one back.
    pub lost: AtomicI64,
    pub reordered: AtomicU64,
    /// Frames received while measuring.
    pub received: AtomicU64,
    pub latency: Histogram,
}

impl Direction {
    fn new() -> Direction {
        Direction {
            lost: AtomicI64::new(0),
            reordered: AtomicU64::new(0),
            received: AtomicU64::new(0),
            latency: Histogram::new(),
        }
    }
}

/// What one receiving socket keeps of its direction; added to the
/// shared counters once, when the socket ends.
#[derive(Default)]
pub struct Order {
    last: u32,
    lost: i64,
    reordered: u64,
    received: u64,
}

impl Order {
    /// A frame of this socket's call arrived: check its order and, while
    /// measuring, count it and its latency.
    pub fn arrived(&mut self, seq: u32, sent_ns: u64, shared: &Shared, d: &Direction) {
        if seq > self.last {
            self.lost += i64::from(seq - self.last - 1);
            self.last = seq;
        } else {
            self.reordered += 1;
            self.lost -= 1;
        }
        if shared.measuring.load(Ordering::Relaxed) {
            self.received += 1;
            d.latency.record(shared.now_ns().saturating_sub(sent_ns) / 1000);
        }
    }

    pub fn add_to(&self, d: &Direction) {
        d.lost.fetch_add(self.lost, Ordering::Relaxed);
        d.reordered.fetch_add(self.reordered, Ordering::Relaxed);
        d.received.fetch_add(self.received, Ordering::Relaxed);
    }
}

/// The model's traffic shape.
#[derive(Clone, Copy, PartialEq)]
pub enum Shape {
    /// A 20 ms delta every 20 ms, for the whole call (issue 17's shape).
    Continuous,
    /// `burst_ms` of audio every `every_ms`, as `delta_ms` chunks at once.
    Bursts { burst_ms: u64, every_ms: u64, delta_ms: u64 },
}

/// Where the calls go and how.
#[derive(Clone)]
pub struct Target {
    /// frontdesk: `http(s)://…` for the webhook; None for the floor (no webhook).
    pub webhook_base: Option<String>,
    /// The media stream's URL.
    pub ws_url: String,
    /// With TLS: the socket address to connect to, and whom to trust.
    pub tls: Option<(SocketAddr, Arc<rustls::ClientConfig>)>,
}

/// Everything the generator threads share.
pub struct Shared {
    epoch: Instant,
    pub up: Direction,
    pub down: Direction,
    pub measuring: AtomicBool,
    /// Every call hangs up at its next tick once this is set.
    pub hang_up: AtomicBool,
    pub connected: AtomicUsize,
    pub failed: AtomicUsize,
    /// Calls whose media stream ended before they hung up (closed or failed under them).
    pub dropped: AtomicUsize,
    /// Model sessions open: the server closes each when its call ends.
    pub models_open: AtomicUsize,
    pub shape: Shape,
}

impl Shared {
    pub fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }
}

/// A running generator: `calls` calls to `target`, ramped at `ramp` a
/// second, on `threads` threads; the model listens on `model_base`.
pub struct Generator {
    pub shared: Arc<Shared>,
    /// `OPENAI_BASE_URL` for the server under test.
    pub model_base: String,
    threads: Vec<std::thread::JoinHandle<()>>,
    starts: Vec<std::sync::mpsc::Sender<(Target, Instant)>>,
}

impl Generator {
    /// Starts the threads and their model listeners; calls begin with [`Generator::call`].
    pub fn new(calls: usize, ramp: usize, threads: usize, shape: Shape) -> Generator {
        let shared = Arc::new(Shared {
            epoch: Instant::now(),
            up: Direction::new(),
            down: Direction::new(),
            measuring: AtomicBool::new(false),
            hang_up: AtomicBool::new(false),
            connected: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
            models_open: AtomicUsize::new(0),
            shape,
        });
        let threads = threads.max(1);
        let port = model::reserve_port();
        let mut handles = Vec::new();
        let mut starts = Vec::new();
        for k in 0..threads {
            let (tx, rx) = std::sync::mpsc::channel::<(Target, Instant)>();
            starts.push(tx);
            let shared = shared.clone();
            handles.push(std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                runtime.block_on(thread_main(k, threads, calls, ramp, port, shared, rx));
            }));
        }
        Generator { shared, model_base: format!("http://127.0.0.1:{port}/v1"), threads: handles, starts }
    }

    /// Starts the calls, ramped from now.
    pub fn call(&self, target: &Target) {
        let at = Instant::now();
        for s in &self.starts {
            let _ = s.send((target.clone(), at));
        }
    }

    /// Waits for every thread: all calls hung up, and frames still on their way given a moment.
    pub fn join(self) {
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// One generator thread: its model listener, and calls `k`, `k + threads`, ….
async fn thread_main(
    k: usize,
    threads: usize,
    calls: usize,
    ramp: usize,
    port: u16,
    shared: Arc<Shared>,
    start: std::sync::mpsc::Receiver<(Target, Instant)>,
) {
    let listener = model::listen(port);
    let models = tokio::spawn(model::accept_all(listener, shared.clone()));
    // The controller sends the target once the server is up (std channel: wait off the runtime).
    let Ok((target, ramp_start)) = tokio::task::spawn_blocking(move || start.recv()).await.unwrap() else {
        return;
    };
    let http = twilio::http_client(&target);
    let step = Duration::from_secs_f64(1.0 / ramp.max(1) as f64);
    let mut tasks = Vec::new();
    for n in (k..calls).step_by(threads) {
        tokio::time::sleep_until((ramp_start + step * n as u32).into()).await;
        let (target, http, shared) = (target.clone(), http.clone(), shared.clone());
        tasks.push(tokio::spawn(async move {
            if !twilio::call(n as u32, &target, &http, &shared).await {
                shared.failed.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    // Model audio still on its way when the calls hung up is not lost; give it a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Then wait for the server to close its model sessions, as the real API
    // would: dropping them here resets the sockets of calls a saturated
    // server has not finished yet, which it rightly reports as model failures.
    let deadline = Instant::now() + MODEL_CLOSE_WAIT;
    while shared.models_open.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    models.abort();
}
