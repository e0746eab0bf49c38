//! Running the real binary: commands, and a server on a free port.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_frontdesk");

/// The binary under test: this build, or `FRONTDESK_TEST_BIN` (another build,
/// e.g. the code before a fix, to see a regression test fail on it).
pub fn bin() -> String {
    std::env::var("FRONTDESK_TEST_BIN").unwrap_or_else(|_| BIN.to_string())
}
pub const PASSWORD: &str = "correct horse battery staple";

/// Environment variables the binary reads; cleared so the host cannot leak in.
const CONFIG_ENV: &[&str] = &[
    "PORT",
    "NODE_ENV",
    "FRONTDESK_ENV",
    "DATABASE_URL",
    "DIRECT_URL",
    "REDIS_URL",
    "REDIS_PASSWORD",
    "REDIS_DB",
    "REDIS_TTL",
    "FRONTDESK_REDIS_KEY_PREFIX",
    "FRONTDESK_INSTANCE_NAME",
    "JWT_SECRET",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_REALTIME_MODEL",
    "OPENAI_CHAT_MODEL",
    "OPENAI_CHAT_TIMEOUT_MS",
    "OPENAI_EMBEDDING_MODEL",
    "OPENAI_EMBEDDING_POLL_MS",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_WEBHOOK_BASE_URL",
    "TWILIO_PHONE_NUMBER",
    "TWILIO_API_BASE_URL",
    "HOSTNAME",
    "FRONTDESK_HOSTNAME",
    "WEBSOCKET_PING_INTERVAL",
    "WEBSOCKET_PONG_TIMEOUT",
    "MAX_WEBSOCKET_CONNECTIONS",
    "MAX_MEMORY_USAGE_MB",
    "OPENAI_TRANSCRIPTION_MODEL",
    "OPENAI_TTS_MODEL",
    "VOICE_VAD_THRESHOLD",
    "VOICE_VAD_PREFIX_PADDING_MS",
    "VOICE_VAD_SILENCE_MS",
    "VOICE_AUDIO_BUFFER_MS",
    "OPENAI_REALTIME_SESSION_MAX_SECS",
    "VOICE_TOOL_FILLER_MS",
    "VOICE_GOODBYE_TIMEOUT_MS",
    "VOICE_GATHER_REPLY_WAIT_MS",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_USER",
    "SMTP_PASS",
    "SMTP_FROM",
    "SMTP_TLS",
    "CHAT_RATE_LIMIT_PER_IP",
    "CHAT_RATE_LIMIT_PER_SESSION",
    "FRONTDESK_NOTIFY_MAX_ATTEMPTS",
    "FRONTDESK_NOTIFY_BACKOFF_BASE_MS",
    "FRONTDESK_NOTIFY_BACKOFF_MAX_MS",
    "FRONTDESK_NOTIFY_POLL_MS",
    "FRONTDESK_NOTIFY_TIMEOUT_MS",
    "FRONTDESK_NOTIFY_LEASE_MS",
    "FRONTDESK_NOTIFY_EMAIL_CONCURRENCY",
    "FRONTDESK_NOTIFY_SMS_CONCURRENCY",
    "FRONTDESK_NOTIFY_CALL_CONCURRENCY",
    "FRONTDESK_NOTIFY_WEBHOOK_CONCURRENCY",
    "FRONTDESK_NOTIFY_DIGEST_HOUR",
    "FRONTDESK_NOTIFY_NEW_LEAD_DELAY_SECS",
    "FRONTDESK_NOTIFY_DAILY_EMAIL_CAP",
    "FRONTDESK_NOTIFY_DAILY_SMS_CAP",
    "FRONTDESK_NOTIFY_DAILY_CALL_CAP",
    "FRONTDESK_NOTIFY_DAILY_URGENT_CAP",
    "FRONTDESK_NOTIFY_DAILY_TEST_CAP",
    "FRONTDESK_NOTIFY_TESTS_PER_MINUTE",
    "FRONTDESK_NOTIFY_URGENT_FOLLOWUP_HOLD_SECS",
    "APP_PRIMARY_URL",
    "ADMIN_CUSTOM_DOMAIN_URL",
    "WIDGET_DEMO_URL",
    "WIDGET_TEST_URL",
    "FRONTDESK_DATA_DIR",
    "FRONTDESK_CONFIG",
    "FRONTDESK_BIND",
    "FRONTDESK_LOG_FORMAT",
    "FRONTDESK_TRUSTED_PROXIES",
    "FRONTDESK_BODY_READ_TIMEOUT_SECS",
    "FRONTDESK_ALLOW_PRIVATE_WEBHOOKS",
    "FRONTDESK_SHUTDOWN_GRACE_SECS",
    "ENABLE_REALTIME_API",
    "ENABLE_WEBSOCKET_FEATURES",
    "ENABLE_PLAN_TIERS",
    "ENABLE_EMERGENCY_VOICE_CALLS",
    "ENABLE_MEMORY_MONITORING",
    "ENABLE_VERBOSE_LOGGING",
    "FRONTDESK_HEADER_READ_TIMEOUT_SECS",
    "FRONTDESK_MAX_CONNECTIONS_PER_IP",
    "FRONTDESK_TLS_MODE",
    "FRONTDESK_TLS_DOMAINS",
    "FRONTDESK_TLS_ACME_EMAIL",
    "FRONTDESK_TLS_ACME_DIRECTORY",
    "FRONTDESK_TLS_ACME_CA_BUNDLE",
    "FRONTDESK_TLS_ACME_CHALLENGE",
    "FRONTDESK_TLS_ACME_RETRY_SECS",
    "FRONTDESK_TLS_HTTPS_PORT",
    "FRONTDESK_TLS_HTTP_PORT",
    "FRONTDESK_TLS_CERT_FILE",
    "FRONTDESK_TLS_KEY_FILE",
    "FRONTDESK_TLS_HSTS_MAX_AGE_SECS",
];

pub fn demo_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/acme-plumbing.toml")
}

/// One isolated frontdesk installation: a temporary data directory, and with
/// `FRONTDESK_TEST_STORE=postgres` (and `FRONTDESK_TEST_DATABASE_URL`) a
/// Postgres schema of its own that every command gets as `DATABASE_URL`, so
/// the whole suite can run on Postgres.
pub struct Instance {
    pub dir: tempfile::TempDir,
    /// (base URL, schema) on Postgres.
    postgres: Option<(String, String)>,
}

impl Instance {
    pub fn new() -> Instance {
        let postgres =
            match (std::env::var("FRONTDESK_TEST_STORE"), std::env::var("FRONTDESK_TEST_DATABASE_URL")) {
                (Ok(store), Ok(base)) if store == "postgres" => {
                    Some((base, format!("fd_it_{}", &frontdesk::domain::new_id()[..16])))
                }
                _ => None,
            };
        Instance { dir: tempfile::tempdir().unwrap(), postgres }
    }

    /// This instance's store, opened in the test process (to look at or
    /// change what the server saved): its SQLite file, or its Postgres schema.
    pub fn store(&self) -> std::sync::Arc<dyn frontdesk::store::Store> {
        let Some(url) = self.database_url() else {
            return std::sync::Arc::new(frontdesk::store::sqlite::SqliteStore::open(&self.db()).unwrap());
        };
        // Opened (and migrated) on a runtime of its own: callers may be inside
        // one already. Its pool opens later connections on the caller's.
        let store = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(frontdesk::store::postgres::PgStore::open(&url)).unwrap()
        })
        .join()
        .unwrap();
        std::sync::Arc::new(store)
    }

    /// The `DATABASE_URL` every command of this instance gets, if any.
    pub fn database_url(&self) -> Option<String> {
        let (base, schema) = self.postgres.as_ref()?;
        let sep = if base.contains('?') { '&' } else { '?' };
        Some(format!("{base}{sep}schema={schema}"))
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn db(&self) -> PathBuf {
        self.data_dir().join("frontdesk.db")
    }

    /// A command with a clean environment pointed at this data directory.
    pub fn command(&self) -> Command {
        self.command_running(&bin())
    }

    /// `program` (a wrapper such as `unshare`) with the same clean environment.
    pub fn command_running(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        for name in CONFIG_ENV {
            cmd.env_remove(name);
        }
        cmd.env("FRONTDESK_DATA_DIR", self.data_dir()).env("RUST_LOG", "warn");
        if let Some(url) = self.database_url() {
            cmd.env("DATABASE_URL", url);
        }
        cmd
    }

    /// Like [`Instance::command`], run under `umask` (through `sh`).
    pub fn command_with_umask(&self, umask: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &format!("umask {umask} && exec \"$0\" \"$@\""), BIN]);
        for name in CONFIG_ENV {
            cmd.env_remove(name);
        }
        cmd.env("FRONTDESK_DATA_DIR", self.data_dir()).env("RUST_LOG", "warn");
        if let Some(url) = self.database_url() {
            cmd.env("DATABASE_URL", url);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).stdin(Stdio::null()).output().unwrap()
    }

    /// Runs with `input` on standard input.
    pub fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A command that refuses its arguments exits before reading: that is its answer, not an error.
        match child.stdin.take().unwrap().write_all(input.as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.unwrap(),
        }
        child.wait_with_output().unwrap()
    }

    /// Runs and asserts success; returns trimmed stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_success(&out, args);
        stdout(&out).trim().to_string()
    }

    pub fn import_demo(&self) -> String {
        self.ok(&["business", "import", demo_file().to_str().unwrap()])
    }

    pub fn businesses(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["business", "list", "--json"])).unwrap()
    }

    pub fn serve(&self, extra: &[&str]) -> Server {
        let mut cmd = self.command();
        cmd.args(["serve", "--port", "0", "--bind", "127.0.0.1"]).args(extra);
        Server::start(cmd)
    }

    pub fn serve_with_env(&self, env: &[(&str, &str)]) -> Server {
        let mut cmd = self.command();
        cmd.envs(env.iter().copied()).args(["serve", "--port", "0", "--bind", "127.0.0.1"]);
        Server::start(cmd)
    }
}

impl Drop for Instance {
    /// Drops this instance's Postgres schema (on a thread of its own: tests
    /// drop instances inside and outside async runtimes).
    fn drop(&mut self) {
        let Some((base, schema)) = self.postgres.take() else { return };
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async {
                if let Ok((client, conn)) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await {
                    tokio::spawn(conn);
                    let _ =
                        client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await;
                }
            });
        })
        .join();
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn assert_success(out: &Output, args: &[&str]) {
    assert!(
        out.status.success(),
        "frontdesk {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        stdout(out),
        stderr(out)
    );
}

/// A running `frontdesk serve`, killed on drop.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub stdout_lines: Vec<String>,
}

impl Server {
    pub fn start(cmd: Command) -> Server {
        Server::start_logging(cmd, Stdio::inherit())
    }

    /// Like [`Server::start`], with the server's log (stderr) going to `log`.
    pub fn start_logging(mut cmd: Command, log: impl Into<Stdio>) -> Server {
        #[allow(clippy::zombie_processes)] // Drop kills and reaps it.
        let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(log).spawn().unwrap();
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut lines = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(Instant::now() < deadline, "server did not start: {lines:?}");
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 {
                panic!("server exited before listening: {:?} {lines:?}", child.wait());
            }
            if let Some(addr) = line.trim().strip_prefix("frontdesk listening on ") {
                let base = addr.to_string();
                lines.push(line.trim().to_string());
                // Keep draining stdout so the server never blocks on a full pipe.
                std::thread::spawn(move || for _ in reader.lines() {});
                return Server { child, base, stdout_lines: lines };
            }
            lines.push(line.trim().to_string());
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The one-time setup code `serve` printed (there is one while no account
    /// exists); empty when it printed none.
    pub fn setup_token(&self) -> String {
        let Some(line) = self.stdout_lines.iter().find(|l| l.starts_with("first-run setup: open ")) else {
            return String::new();
        };
        let url = line.trim_start_matches("first-run setup: open ").split_whitespace().next().unwrap_or("");
        url.split_once("/setup?token=").map(|(_, code)| code.to_string()).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
