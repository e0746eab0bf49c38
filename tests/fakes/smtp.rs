//! A real SMTP server for tests: `smtp_server.py` (Python's aiosmtpd) on a
//! local port, writing each message to a directory. Tests that need it are
//! skipped with a notice when aiosmtpd is missing, unless
//! `FRONTDESK_REQUIRE_SMTP` is set (as CI does).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fakes/smtp_server.py");

pub struct SmtpServer {
    child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    /// (Message-ID, when it was accepted), in order.
    accepted: Arc<Mutex<Vec<(String, Instant)>>>,
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Whether the SMTP server can run here; prints why not (or fails, when required).
pub fn available(test: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("FRONTDESK_REQUIRE_SMTP").is_none(),
            "{test}: FRONTDESK_REQUIRE_SMTP is set but python3 -c 'import aiosmtpd' fails (pip install aiosmtpd)"
        );
        eprintln!("SKIPPED {test}: Python's aiosmtpd is not installed (pip install aiosmtpd)");
    }
    ok
}

impl SmtpServer {
    /// Starts the server on `port` (a fresh one when None), writing to `dir`.
    pub fn start(dir: &Path, port: Option<u16>) -> SmtpServer {
        let port = port.unwrap_or_else(free_port);
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let mut server = SmtpServer { child: None, port, dir: dir.to_path_buf(), accepted };
        server.restart();
        server
    }

    /// (Re)starts the process on the same port and directory.
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut child = Command::new("python3")
                .arg(SCRIPT)
                .arg(self.port.to_string())
                .arg(&self.dir)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("python3");
            let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
            if lines.next().and_then(|l| l.ok()).as_deref() == Some("ready") {
                let accepted = self.accepted.clone();
                std::thread::spawn(move || {
                    for line in lines.map_while(Result::ok) {
                        if let Some(id) = line.strip_prefix("accepted ") {
                            accepted.lock().unwrap().push((id.to_string(), Instant::now()));
                        }
                    }
                });
                self.child = Some(child);
                return;
            }
            // The port may still be held by the previous process: try again.
            let _ = child.kill();
            let _ = child.wait();
            assert!(Instant::now() < deadline, "the SMTP server did not start on port {}", self.port);
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Kills the server: the port refuses connections until `restart`.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The environment a frontdesk server needs to send here (plain SMTP).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SMTP_HOST", "127.0.0.1".to_string()),
            ("SMTP_PORT", self.port.to_string()),
            ("SMTP_TLS", "none".to_string()),
            ("SMTP_FROM", "frontdesk@fd.example".to_string()),
        ]
    }

    /// ok, stall, reject or tempfail (see smtp_server.py).
    pub fn set_mode(&self, mode: &str) {
        std::fs::write(self.dir.join("mode.tmp"), mode).unwrap();
        std::fs::rename(self.dir.join("mode.tmp"), self.dir.join("mode")).unwrap();
    }

    pub fn accepted(&self) -> Vec<(String, Instant)> {
        self.accepted.lock().unwrap().clone()
    }

    /// Message-IDs accepted so far.
    pub fn message_ids(&self) -> Vec<String> {
        self.accepted().into_iter().map(|(id, _)| id).collect()
    }

    /// Waits until `n` messages were accepted (across restarts).
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let ids = self.message_ids();
            if ids.len() >= n {
                return ids;
            }
            assert!(Instant::now() < deadline, "only {} of {n} emails arrived within {timeout:?}", ids.len());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every message received, raw, in order.
    pub fn raw_messages(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort();
        files.into_iter().map(|p| std::fs::read(p).unwrap()).collect()
    }

    /// The most connections ever open at once.
    pub fn max_connections(&self) -> u32 {
        std::fs::read_to_string(self.dir.join("max_connections"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}
