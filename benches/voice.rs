//! Voice load generator: N concurrent simulated phone calls against a real
//! frontdesk server, with the OpenAI Realtime API played by the generator
//! too, and the same load against the in-repo floor, a minimal pass-through
//! bridge (`benches/passthrough`), in the same run (issue 17).
//!
//!   cargo bench --bench voice -- --calls 100,300,600,1000 [--seconds 15]
//!       [--shape continuous|bursts] [--only frontdesk|floor] [--no-pin] [--tls]
//!       [--threads N] [--ramp CALLS_PER_S] [--nice -10 | --fifo 10] [--repeat N]
//!
//! `benches/voice_table.sh` runs the whole README table in one go.
//!
//! It starts the release binary itself (temporary data dir, the demo
//! business) and the floor (this bench, re-run as `--floor-server`). Each
//! call is what Twilio does: a signed `incoming` webhook (frontdesk only;
//! the floor has no webhook), then a media stream sending a 20 ms μ-law
//! frame every 20 ms and playing back what it receives in real time, marks
//! echoed as they play. Calls are ramped in at `--ramp` a second; once all
//! are up and a second has passed, `--seconds` (15 by default) are
//! measured, then every call hangs up. The model side, with `--shape
//! continuous` (the default), answers with a 20 ms delta every 20 ms for
//! the whole call; with `--shape bursts`, every `--every-ms` it sends
//! `--burst-ms` of audio as `--delta-ms` chunks at once, faster than real
//! time, as OpenAI does. The generator itself is `benches/voicegen/`, on
//! `--threads` threads (1 when pinned, else one per CPU up to 4).
//!
//! Every frame carries its call, sequence number and send time, so the
//! generator measures the time the server adds in each direction: caller
//! frame sent → `input_audio_buffer.append` received (up), and model delta
//! sent → Twilio `media` received (down), both ends in this process on one
//! clock; and frames lost (a sequence number skipped) or reordered (one
//! arriving after a later one). CPU time comes from /proc/<pid>/stat of the
//! server process only, over the measured window, per call-second and per
//! 100 frames relayed (a call-second at full rate: when a starved server
//! falls behind, it relays fewer frames and per call-second flatters it);
//! memory per call is the growth of its resident set over idle, divided by
//! the calls. By default (2 CPUs and taskset) the server runs on CPU 0 and
//! the generator on CPU 1. The open-file limit is raised to the hard limit
//! (2,500 calls are 5,000 sockets on each side).
//!
//! `--tls`: frontdesk serves HTTPS itself (files mode, a certificate from a
//! throwaway CA for `load.test`), so webhooks go over https:// and every
//! media stream is a `wss://` connection, TLS handled by the server. The
//! floor is plain ws:// in every case.
//!
//! `VOICE_BENCH_CALLGRIND=DIR`: both servers run under `valgrind
//! --tool=callgrind` (instrumentation off until the measured window, on for
//! it, the window dumped into DIR), and each row also says how many
//! instructions the server ran per frame relayed. Instruction counts do not
//! depend on what else the machine is doing, so two builds (or frontdesk and
//! the floor) can be compared on a busy machine; the server runs ~50x
//! slower under valgrind, so keep the calls few (10 to 50).
//!
//! `VOICE_BENCH_TOKIO_WORKERS=N`: frontdesk gets `TOKIO_WORKER_THREADS=N`
//! (a multi-threaded runtime even when pinned to one CPU, where it would
//! otherwise run a single-threaded one), to compare the two shapes.
//!
//! `VOICE_BENCH_SMAPS=DIR`: the server's /proc/PID/smaps is copied into DIR
//! when idle and at the end of the window (`{target}-{calls}-idle`,
//! `-loaded`), to see which mappings a call's memory lands in.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../tests/fakes/ca.rs"]
mod fake_ca;
#[path = "../tests/fakes/media.rs"]
mod fake_media;
mod passthrough;
mod voicegen;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use frontdesk::channels::voice::cpu_guard;
use voicegen::{Generator, Shape};

const TOKEN: &str = "load-test-auth-token";
const PUBLIC: &str = "https://load.test";
const STREAM: &str = "wss://load.test/api/voice/stream";
const NUMBER: &str = "+13125550100"; // the demo business

#[derive(Clone, Copy, PartialEq, Debug)]
enum Target {
    Floor,
    Frontdesk,
}

#[derive(Clone)]
struct Args {
    calls: Vec<usize>,
    /// The measured window; every call is up throughout it.
    seconds: u64,
    ramp_per_second: usize,
    shape: Shape,
    targets: Vec<Target>,
    /// Server on CPU 0, generator on CPU 1, so the latencies are the server's
    /// and not this process's queueing (needs 2 CPUs and taskset).
    pin: bool,
    /// Generator threads (each its own runtime and model listener).
    threads: usize,
    /// HTTPS and wss:// served by frontdesk itself.
    tls: bool,
    /// Runs of each target at each call count, alternated (floor, frontdesk,
    /// then frontdesk, floor, ...) so a drift in the machine's speed falls on
    /// both alike; the table shows each target's median run by CPU per
    /// call-second, and every run's figures are listed under it.
    repeat: usize,
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
        targets: vec![Target::Floor, Target::Frontdesk],
        pin: cpus >= 2 && std::path::Path::new("/usr/bin/taskset").exists(),
        threads: 0,
        tls: false,
        repeat: 1,
        nice: None,
        fifo: None,
    };
    let (mut burst_ms, mut every_ms, mut delta_ms, mut bursts) = (2000, 5000, 200, false);
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
            "--threads" => a.threads = value().expect("--threads N") as usize,
            "--repeat" => a.repeat = (value().expect("--repeat N") as usize).max(1),
            "--nice" => a.nice = Some(text.parse().expect("--nice N")),
            "--fifo" => a.fifo = Some(text.parse().expect("--fifo PRIORITY")),
            "--ramp" => a.ramp_per_second = value().expect("--ramp CALLS_PER_SECOND") as usize,
            "--burst-ms" => burst_ms = value().expect("--burst-ms MS"),
            "--every-ms" => every_ms = value().expect("--every-ms MS"),
            "--delta-ms" => delta_ms = value().expect("--delta-ms MS"),
            "--shape" => {
                bursts = match text.as_str() {
                    "continuous" => false,
                    "bursts" => true,
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
            flag => {
                match flag {
                    "--pin" => a.pin = true,
                    "--no-pin" => a.pin = false,
                    "--tls" => a.tls = true,
                    _ => {} // cargo bench passes --bench
                }
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    if bursts {
        a.shape = Shape::Bursts { burst_ms, every_ms, delta_ms };
    }
    if a.threads == 0 {
        // Pinned, the generator has one CPU: more threads would only take turns.
        a.threads = if a.pin { 1 } else { cpus.min(4) };
    }
    a
}

/// The server's CPU seconds (user + system, read as the admission guard
/// reads its own) and resident memory (KiB).
fn usage(pid: u32) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let cpu = cpu_guard::cpu_seconds_of(&stat).unwrap_or(0.0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (cpu, rss)
}

/// Copies the server's smaps into `VOICE_BENCH_SMAPS`, if set, as `name`.
fn save_smaps(pid: u32, name: &str) {
    let Some(dir) = std::env::var_os("VOICE_BENCH_SMAPS").map(std::path::PathBuf::from) else { return };
    std::fs::create_dir_all(&dir).unwrap();
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap_or_default();
    std::fs::write(dir.join(name), smaps).unwrap();
}

/// Raises this process's open-file limit to its hard limit (children, the
/// servers among them, inherit it): 2,500 calls are 5,000 sockets here
/// and as many in the server. Fails loudly if that is still too few.
fn raise_file_limit(calls: usize) {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let hard = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(4))
        .unwrap_or("unlimited")
        .to_string();
    let pid = std::process::id().to_string();
    let _ = Command::new("prlimit")
        .args(["--pid", &pid, &format!("--nofile={hard}:{hard}")])
        .stdout(Stdio::null())
        .status();
    let need = 3 * calls + 256;
    let enough = hard == "unlimited" || hard.parse::<usize>().is_ok_and(|h| h >= need);
    assert!(enough, "{calls} calls need about {need} open files; the hard limit is {hard} (ulimit -Hn)");
}

struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:port`, or `https://load.test:port` with TLS.
    base: String,
    _dir: tempfile::TempDir,
    /// With TLS: whom the clients trust, and where load.test is.
    tls: Option<(std::net::SocketAddr, std::sync::Arc<rustls::ClientConfig>)>,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The callgrind output directory, when the servers run under callgrind.
fn callgrind_dir() -> Option<std::path::PathBuf> {
    std::env::var_os("VOICE_BENCH_CALLGRIND").map(std::path::PathBuf::from)
}

/// `bin`, pinned to CPU 0 and/or under callgrind (its output named for `name`).
fn server_command(bin: &std::ffi::OsStr, pin: bool, name: &str) -> Command {
    let mut prefix: Vec<std::ffi::OsString> = Vec::new();
    if pin {
        prefix.extend(["taskset".into(), "-c".into(), "0".into()]);
    }
    if let Some(dir) = callgrind_dir() {
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join(format!("{name}.%p"));
        prefix.extend([
            "valgrind".into(),
            "--tool=callgrind".into(),
            "--instr-atstart=no".into(),
            "--vgdb=yes".into(),
            format!("--callgrind-out-file={}", out.display()).into(),
        ]);
    }
    prefix.push(bin.into());
    let mut c = Command::new(&prefix[0]);
    c.args(&prefix[1..]);
    c
}

/// Runs `callgrind_control` on `pid` (instrumentation on or off, a dump).
/// vgdb names its pipes after the server's `HOSTNAME`, so it is given the same.
fn callgrind_control(args: &[&str], pid: u32, target: Target) {
    let mut command = Command::new("callgrind_control");
    match target {
        Target::Frontdesk => command.env("HOSTNAME", "load.test"),
        Target::Floor => command.env_remove("HOSTNAME"),
    };
    let ok =
        command.args(args).arg(pid.to_string()).stdout(Stdio::null()).status().is_ok_and(|s| s.success());
    assert!(ok, "callgrind_control {args:?} failed");
}

/// Instructions in the newest callgrind dump of `pid` in `dir` (its `totals:` line).
fn callgrind_instructions(dir: &std::path::Path, pid: u32) -> u64 {
    let suffix = format!(".{pid}.1");
    let mut best = 0;
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.ends_with(&suffix) {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let totals = text
            .lines()
            .find_map(|l| l.strip_prefix("totals:").or_else(|| l.strip_prefix("summary:")))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        best = best.max(totals);
    }
    best
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
    let name = format!("frontdesk-{calls}{}", if tls { "-tls" } else { "" });
    let mut command = server_command(bin.as_ref(), pin, &name);
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
    // The runtime shape under test: with one CPU, frontdesk runs a
    // single-threaded runtime unless TOKIO_WORKER_THREADS asks otherwise.
    if let Some(workers) = std::env::var_os("VOICE_BENCH_TOKIO_WORKERS") {
        command.env("TOKIO_WORKER_THREADS", workers);
    }
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
    ServerProcess { child, base, _dir: dir, tls: Some((addr, ca.client())) }
}

/// The floor: this bench run again as `--floor-server`, pinned like frontdesk.
fn start_floor(openai_base: &str, calls: usize, pin: bool) -> ServerProcess {
    let me = std::env::current_exe().unwrap();
    let mut command = server_command(me.as_os_str(), pin, &format!("floor-{calls}"));
    let (child, base) =
        common::spawn_listening(command.args(["--floor-server", openai_base]), "floor listening on ");
    ServerProcess { child, base, _dir: tempfile::tempdir().unwrap(), tls: None }
}

fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// Runs `command` on this process (taskset, renice, chrt, ...), asserting it worked.
fn on_self(program: &str, args: &[&str], what: &str) {
    let pid = std::process::id().to_string();
    let ok =
        Command::new(program).args(args).arg(&pid).stdout(Stdio::null()).status().is_ok_and(|s| s.success());
    assert!(ok, "{what}");
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if let Some(at) = argv.iter().position(|a| a == "--floor-server") {
        passthrough::serve(argv.get(at + 1).cloned().expect("--floor-server OPENAI_BASE_URL"));
        return;
    }
    let a = args();
    raise_file_limit(a.calls.iter().copied().max().unwrap_or(0));
    // Before any thread starts: every thread and child inherits these.
    if a.pin {
        on_self("taskset", &["-cp", "1"], "taskset failed; run with --no-pin");
    }
    if let Some(n) = a.nice {
        let n = n.to_string();
        on_self("renice", &["-n", &n, "-p"], "renice failed (a negative niceness needs root)");
    }
    if let Some(priority) = a.fifo {
        let p = priority.to_string();
        on_self("chrt", &["-f", "-p", &p], "chrt failed (SCHED_FIFO needs root)");
    }
    let mut rows = Vec::new();
    let mut runs = Vec::new();
    let load_before = load_average();
    for &calls in &a.calls {
        let mut by_target: Vec<Vec<Row>> = a.targets.iter().map(|_| Vec::new()).collect();
        for rep in 0..a.repeat {
            // ABBA order: neither target always runs first.
            let mut order: Vec<usize> = (0..a.targets.len()).collect();
            if rep % 2 == 1 {
                order.reverse();
            }
            for i in order {
                let row = run(&a, calls, a.targets[i]);
                eprintln!("{}", row.line());
                by_target[i].push(row);
                std::thread::sleep(Duration::from_secs(2));
            }
        }
        for mut all in by_target {
            if a.repeat > 1 {
                runs.push(format!(
                    "{} calls, {}, {} runs: CPU per call-second {} ms; up p99 {} ms; memory per call {} KiB",
                    calls,
                    all[0].server,
                    all.len(),
                    all.iter()
                        .map(|r| format!("{:.3}", r.cpu_per_call_second()))
                        .collect::<Vec<_>>()
                        .join(" / "),
                    all.iter().map(|r| format!("{:.2}", r.up.1)).collect::<Vec<_>>().join(" / "),
                    all.iter().map(|r| format!("{:.0}", r.memory_per_call())).collect::<Vec<_>>().join(" / "),
                ));
            }
            all.sort_by(|x, y| x.cpu_per_call_second().total_cmp(&y.cpu_per_call_second()));
            rows.push(all.swap_remove(all.len() / 2));
        }
    }
    println!("{}; load average {} before, {} after", a.describe(), load_before, load_average());
    for line in &runs {
        println!("{line}");
    }
    println!("{}", Row::HEADER);
    println!("{}", Row::RULE);
    for row in &rows {
        println!("{}", row.line());
    }
}

impl Args {
    fn describe(&self) -> String {
        format!(
            "{}{}{}, {} generator thread(s); {} s measured with every call up{}; model audio {}",
            if self.tls { "TLS (https, wss) served by frontdesk; " } else { "" },
            self.nice.map(|n| format!("niceness {n}; ")).unwrap_or_default()
                + &self.fifo.map(|p| format!("SCHED_FIFO {p}; ")).unwrap_or_default(),
            if self.pin {
                "server on CPU 0, generator on CPU 1"
            } else {
                "server and generator share the CPUs"
            },
            self.threads,
            self.seconds,
            if self.repeat > 1 {
                format!(
                    ", {} runs of each server alternated, the median by CPU per call-second shown",
                    self.repeat
                )
            } else {
                String::new()
            },
            match self.shape {
                Shape::Continuous => "a 20 ms delta every 20 ms".to_string(),
                Shape::Bursts { burst_ms, every_ms, delta_ms } =>
                    format!("{burst_ms} ms every {every_ms} ms in {delta_ms} ms deltas"),
            },
        )
    }
}

/// One target under one load.
struct Row {
    /// Traffic shape and where the server runs.
    setup: String,
    server: String,
    calls: usize,
    failed: usize,
    /// Streams that ended before the calls hung up.
    dropped: usize,
    /// p50, p99 in ms.
    up: (f64, f64),
    down: (f64, f64),
    up_lost: i64,
    up_reordered: u64,
    down_lost: i64,
    down_reordered: u64,
    /// Server CPU seconds over the window.
    cpu: f64,
    window: f64,
    /// Frames that reached the other side within the window, both ways.
    relayed: u64,
    /// Frames a full-rate call-second carries, both ways (100 when continuous).
    full_rate: f64,
    generator_cpu: f64,
    idle_rss: u64,
    peak_rss: u64,
    /// Instructions the server ran in the window, under callgrind.
    instructions: Option<u64>,
}

impl Row {
    const HEADER: &'static str = "| calls | load | server | up p50 / p99 | down p50 / p99 | frames relayed | CPU per call-second | CPU per 100 frames | server CPU | generator CPU | lost / reordered (up, down) | RSS idle → loaded | memory per call |";
    const RULE: &'static str =
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |";

    fn line(&self) -> String {
        let mut line = self.table_line();
        if let Some(n) = self.instructions {
            let frames = self.relayed.max(1);
            line.push_str(&format!(
                " {n} instructions in the window, {} per frame relayed ({frames} frames) |",
                n / frames
            ));
        }
        line
    }

    fn calls_up(&self) -> f64 {
        self.calls.saturating_sub(self.failed).max(1) as f64
    }

    fn cpu_per_call_second(&self) -> f64 {
        1000.0 * self.cpu / (self.calls_up() * self.window)
    }

    /// KiB: the growth of the resident set over idle, per call.
    fn memory_per_call(&self) -> f64 {
        self.peak_rss.saturating_sub(self.idle_rss) as f64 / self.calls_up()
    }

    fn table_line(&self) -> String {
        let calls = self.calls_up();
        format!(
            "| {}{} | {} | {} | {:.2} / {:.2} ms | {:.2} / {:.2} ms | {:.0}% | {:.3} ms | {:.3} ms | {:.0}% | {:.0}% | {} / {}, {} / {} | {:.1} → {:.1} MiB | {:.0} KiB |",
            self.calls,
            match (self.failed, self.dropped) {
                (0, 0) => String::new(),
                (f, 0) => format!(" ({f} failed)"),
                (f, d) => format!(" ({f} failed, {d} ended early)"),
            },
            self.setup,
            self.server,
            self.up.0,
            self.up.1,
            self.down.0,
            self.down.1,
            100.0 * self.relayed as f64 / (self.full_rate * calls * self.window),
            self.cpu_per_call_second(),
            1000.0 * self.cpu / (self.relayed.max(1) as f64 / 100.0),
            100.0 * self.cpu / self.window,
            100.0 * self.generator_cpu / self.window,
            self.up_lost,
            self.up_reordered,
            self.down_lost,
            self.down_reordered,
            self.idle_rss as f64 / 1024.0,
            self.peak_rss as f64 / 1024.0,
            self.memory_per_call(),
        )
    }
}

/// One run: the server started, every call up, `seconds` measured, every call hung up.
fn run(a: &Args, calls: usize, target: Target) -> Row {
    let generator = Generator::new(calls, a.ramp_per_second, a.threads, a.shape);
    let server = match target {
        Target::Frontdesk => start_server(&generator.model_base, calls, a.pin, a.tls),
        Target::Floor => start_floor(&generator.model_base, calls, a.pin),
    };
    let pid = server.child.id();
    std::thread::sleep(Duration::from_millis(500));
    let (_, idle_rss) = usage(pid);
    save_smaps(pid, &format!("{target:?}-{calls}-idle"));
    eprintln!("{target:?} pid {pid} idle: {idle_rss} KiB; starting {calls} calls at {}/s", a.ramp_per_second);
    generator.call(&voicegen::Target {
        webhook_base: (target == Target::Frontdesk).then(|| server.base.clone()),
        ws_url: match target {
            Target::Frontdesk => format!(
                "{}/api/voice/stream",
                server.base.replace("http://", "ws://").replace("https://", "wss://")
            ),
            Target::Floor => server.base.clone(),
        },
        tls: server.tls.clone(),
    });
    let shared = generator.shared.clone();
    // Every call up (or refused), a second to settle, then measure.
    let deadline = Instant::now() + Duration::from_secs(60 + (calls / a.ramp_per_second.max(1)) as u64);
    while shared.connected.load(Ordering::Relaxed) + shared.failed.load(Ordering::Relaxed) < calls
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(1));
    let callgrind = callgrind_dir();
    if callgrind.is_some() {
        callgrind_control(&["--instr=on"], pid, target);
    }
    let (cpu_before, _) = usage(pid);
    let (own_before, _) = usage(std::process::id());
    let window = Instant::now();
    let window_end = window + Duration::from_secs(a.seconds);
    shared.measuring.store(true, Ordering::Relaxed);
    let mut peak_rss = 0;
    while Instant::now() < window_end {
        std::thread::sleep(
            Duration::from_millis(250).min(window_end.saturating_duration_since(Instant::now())),
        );
        peak_rss = peak_rss.max(usage(pid).1);
    }
    shared.measuring.store(false, Ordering::Relaxed);
    save_smaps(pid, &format!("{target:?}-{calls}-loaded"));
    let elapsed = window.elapsed().as_secs_f64();
    let (cpu_after, _) = usage(pid);
    let (own_after, _) = usage(std::process::id());
    let instructions = callgrind.map(|dir| {
        callgrind_control(&["--dump"], pid, target);
        callgrind_control(&["--instr=off"], pid, target);
        callgrind_instructions(&dir, pid)
    });
    shared.hang_up.store(true, Ordering::Relaxed);
    generator.join();
    drop(server);
    let full_rate = match a.shape {
        Shape::Continuous => 100.0,
        Shape::Bursts { burst_ms, every_ms, .. } => 50.0 + 50.0 * burst_ms as f64 / every_ms.max(1) as f64,
    };
    let (up, down) = (&shared.up, &shared.down);
    Row {
        setup: format!(
            "{}, {}",
            match a.shape {
                Shape::Continuous => "continuous",
                Shape::Bursts { .. } => "bursts",
            },
            if a.pin { "server on 1 CPU" } else { "2 CPUs shared" }
        ),
        server: match target {
            Target::Floor => "floor (pass-through)".to_string(),
            Target::Frontdesk if a.tls => "frontdesk, TLS".to_string(),
            Target::Frontdesk => "frontdesk".to_string(),
        },
        calls,
        failed: shared.failed.load(Ordering::Relaxed),
        dropped: shared.dropped.load(Ordering::Relaxed),
        up: (up.latency.percentile(0.50), up.latency.percentile(0.99)),
        down: (down.latency.percentile(0.50), down.latency.percentile(0.99)),
        up_lost: up.lost.load(Ordering::Relaxed),
        up_reordered: up.reordered.load(Ordering::Relaxed),
        down_lost: down.lost.load(Ordering::Relaxed),
        down_reordered: down.reordered.load(Ordering::Relaxed),
        cpu: cpu_after - cpu_before,
        window: elapsed,
        relayed: up.received.load(Ordering::Relaxed) + down.received.load(Ordering::Relaxed),
        full_rate,
        generator_cpu: own_after - own_before,
        idle_rss,
        peak_rss,
        instructions,
    }
}
