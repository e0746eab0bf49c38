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

pub fn demo_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo/acme-plumbing.toml")
}

/// True when the suite runs on Postgres (`FRONTDESK_TEST_STORE=postgres` with
/// `FRONTDESK_TEST_DATABASE_URL`).
pub fn on_postgres() -> bool {
    std::env::var("FRONTDESK_TEST_STORE").is_ok_and(|s| s == "postgres")
        && std::env::var("FRONTDESK_TEST_DATABASE_URL").is_ok()
}

/// For tests of the SQLite appliance itself (its file, its lock, its backup):
/// true, with a printed notice, when the suite runs on Postgres, where the
/// test does not apply.
pub fn sqlite_only(test: &str, why: &str) -> bool {
    if on_postgres() {
        eprintln!("{test}: skipped on Postgres (SQLite only: {why})");
        return true;
    }
    false
}

/// A value for [`Instance::sql`]: written into the statement as a literal, so
/// one statement text suits both backends (a quoted string takes the
/// column's type on Postgres: text, jsonb; booleans are TRUE/FALSE on both).
#[derive(Clone, Debug)]
pub enum Lit {
    Text(String),
    Int(i64),
    Bool(bool),
    Null,
}

impl Lit {
    fn render(&self) -> String {
        match self {
            Lit::Text(s) => format!("'{}'", s.replace('\'', "''")),
            Lit::Int(n) => n.to_string(),
            Lit::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
            Lit::Null => "NULL".to_string(),
        }
    }
}

impl From<&str> for Lit {
    fn from(s: &str) -> Lit {
        Lit::Text(s.to_string())
    }
}
impl From<String> for Lit {
    fn from(s: String) -> Lit {
        Lit::Text(s)
    }
}
impl From<&String> for Lit {
    fn from(s: &String) -> Lit {
        Lit::Text(s.clone())
    }
}
impl From<i64> for Lit {
    fn from(n: i64) -> Lit {
        Lit::Int(n)
    }
}
impl From<bool> for Lit {
    fn from(b: bool) -> Lit {
        Lit::Bool(b)
    }
}
impl<T: Into<Lit>> From<Option<T>> for Lit {
    fn from(v: Option<T>) -> Lit {
        v.map_or(Lit::Null, Into::into)
    }
}

/// `sql` with each `?N` outside quotes replaced by `params[N-1]` as a literal.
pub fn bind(sql: &str, params: &[Lit]) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c != '?' || quoted {
            out.push(c);
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.next_if(char::is_ascii_digit) {
            digits.push(d);
        }
        let n: usize = digits.parse().unwrap_or_else(|_| panic!("a bare ? in {sql}"));
        out.push_str(&params[n - 1].render());
    }
    out
}

/// One isolated frontdesk installation: a temporary data directory, and with
/// `FRONTDESK_TEST_STORE=postgres` (and `FRONTDESK_TEST_DATABASE_URL`) a
/// Postgres schema of its own that every command gets as `DATABASE_URL` (and,
/// with `FRONTDESK_TEST_REDIS_URL`, a Redis key prefix of its own with
/// `REDIS_URL`), so the whole suite can run on Postgres and Redis.
pub struct Instance {
    pub dir: tempfile::TempDir,
    /// (base URL, schema) on Postgres.
    postgres: Option<(String, String)>,
    /// (URL, key prefix) on Redis.
    redis: Option<(String, String)>,
}

impl Instance {
    pub fn new() -> Instance {
        let postgres = match (on_postgres(), std::env::var("FRONTDESK_TEST_DATABASE_URL")) {
            (true, Ok(base)) => Some((base, format!("fd_it_{}", &frontdesk::domain::new_id()[..16]))),
            _ => None,
        };
        let redis = match (&postgres, std::env::var("FRONTDESK_TEST_REDIS_URL")) {
            (Some((_, schema)), Ok(url)) => Some((url, format!("frontdesk-test:{schema}:"))),
            _ => None,
        };
        Instance { dir: tempfile::tempdir().unwrap(), postgres, redis }
    }

    /// Runs SQL statements (with `?N` placeholders for `params`, see [`bind`])
    /// on this instance's database, SQLite or Postgres, in one transaction.
    /// For tests that seed a history the API cannot write (old dates, rows
    /// in states only time reaches).
    pub fn sql(&self, statements: &[(&str, Vec<Lit>)]) {
        let batch: String =
            statements.iter().map(|(sql, params)| format!("{};\n", bind(sql, params))).collect();
        let batch = format!("BEGIN;\n{batch}COMMIT;");
        let Some((base, schema)) = self.postgres.clone() else {
            rusqlite::Connection::open(self.db()).unwrap().execute_batch(&batch).unwrap();
            return;
        };
        pg_blocking(&base, move |client| async move {
            client.batch_execute(&format!("SET search_path TO \"{schema}\";\n{batch}")).await.unwrap();
        });
    }

    /// Takes the database away under a running server: the SQLite file is
    /// deleted, the Postgres schema dropped.
    pub fn lose_database(&self) {
        let Some((base, schema)) = self.postgres.clone() else {
            std::fs::remove_file(self.db()).unwrap();
            return;
        };
        pg_blocking(&base, move |client| async move {
            client.batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE")).await.unwrap();
        });
    }

    /// The first column of `query`'s first row, as a number.
    pub fn sql_i64(&self, query: &str) -> i64 {
        let Some((base, schema)) = self.postgres.clone() else {
            return rusqlite::Connection::open(self.db())
                .unwrap()
                .query_row(query, [], |r| r.get(0))
                .unwrap();
        };
        let query = query.to_string();
        pg_blocking(&base, move |client| async move {
            client.batch_execute(&format!("SET search_path TO \"{schema}\"")).await.unwrap();
            client.query_one(&query, &[]).await.unwrap().get::<_, i64>(0)
        })
    }

    /// This instance's store, opened in the test process (to look at or
    /// change what the server saved): its SQLite file, or its Postgres schema.
    pub fn store(&self) -> std::sync::Arc<dyn frontdesk::store::InspectableStore> {
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

    fn backend_env(&self, cmd: &mut Command) {
        if let Some(url) = self.database_url() {
            cmd.env("DATABASE_URL", url);
        }
        if let Some((url, prefix)) = &self.redis {
            cmd.env("REDIS_URL", url).env("FRONTDESK_REDIS_KEY_PREFIX", prefix);
        }
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
        // From the crate's own list, so the clearing cannot drift from it.
        for name in frontdesk::config::env_names() {
            cmd.env_remove(name);
        }
        cmd.env("FRONTDESK_DATA_DIR", self.data_dir()).env("RUST_LOG", "warn");
        self.backend_env(&mut cmd);
        cmd
    }

    /// Like [`Instance::command`], run under `umask` (through `sh`).
    pub fn command_with_umask(&self, umask: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &format!("umask {umask} && exec \"$0\" \"$@\""), BIN]);
        // From the crate's own list, so the clearing cannot drift from it.
        for name in frontdesk::config::env_names() {
            cmd.env_remove(name);
        }
        cmd.env("FRONTDESK_DATA_DIR", self.data_dir()).env("RUST_LOG", "warn");
        self.backend_env(&mut cmd);
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
        let redis = self.redis.take();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async {
                if let Ok((client, conn)) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await {
                    tokio::spawn(conn);
                    // A server still running may hold locks the drop deadlocks
                    // with: try again rather than leave the schema behind.
                    let drop = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                    for attempt in 1..=5 {
                        match client.batch_execute(&drop).await {
                            Ok(()) => break,
                            Err(e) if attempt == 5 => eprintln!("schema {schema} left behind: {e}"),
                            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
                        }
                    }
                }
                if let Some((url, prefix)) = redis {
                    delete_redis_keys(&url, &prefix).await;
                }
            });
        })
        .join();
    }
}

/// Deletes every Redis key that starts with `prefix` (a test's own keys).
pub async fn delete_redis_keys(url: &str, prefix: &str) {
    let mut con = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(500)
            .query_async(&mut con)
            .await
            .unwrap();
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut con).await.unwrap();
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
}

/// Runs `f` with a fresh connection to `base`, on a thread and runtime of its
/// own (callers may be inside a runtime, or not).
fn pg_blocking<T, F, Fut>(base: &str, f: F) -> T
where
    T: Send + 'static,
    F: FnOnce(tokio_postgres::Client) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T>,
{
    let base = base.to_string();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(conn);
            f(client).await
        })
    })
    .join()
    .unwrap()
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

/// The name and phone questions every test business asks first
/// (`tests/data/contact_questions.toml`), for `concat!` into a business file.
macro_rules! contact_questions {
    () => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/contact_questions.toml"))
    };
}
pub(crate) use contact_questions;
