//! A WebDriver client for Debian's chromium and chromedriver, over HTTP with
//! reqwest: enough to load pages, type, click, run script and take
//! screenshots (kept in `target/test-artifacts/`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::net::free_port;

/// chromedriver on a free port, killed on drop.
pub struct Driver {
    child: Child,
    base: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// None (with a notice) when Chromium is not installed and not required.
pub fn driver() -> Option<Driver> {
    driver_with_env(&[])
}

/// The same, with environment variables for chromedriver and the browsers it
/// starts (`TZ` sets the browser's time zone).
pub fn driver_with_env(env: &[(&str, &str)]) -> Option<Driver> {
    let installed =
        ["/usr/bin/chromedriver", "/usr/bin/chromium"].iter().all(|p| std::path::Path::new(p).exists());
    if !installed {
        assert!(
            std::env::var_os("FRONTDESK_REQUIRE_BROWSER").is_none(),
            "FRONTDESK_REQUIRE_BROWSER is set but chromium/chromium-driver are not installed"
        );
        println!("notice: skipping the browser tests (apt-get install chromium chromium-driver)");
        return None;
    }
    let port = free_port();
    #[allow(clippy::zombie_processes)] // Drop kills and reaps it.
    let child = Command::new("/usr/bin/chromedriver")
        .envs(env.iter().copied())
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Some(Driver { child, base: format!("http://127.0.0.1:{port}") })
}

pub struct Session {
    http: reqwest::Client,
    url: String,
}

impl Session {
    pub async fn start(driver: &Driver) -> Session {
        let http = reqwest::Client::new();
        let profile = tempfile::tempdir().unwrap().keep();
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                         "--window-size=1280,900", format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(res) = http.post(format!("{}/session", driver.base)).json(&caps).send().await {
                let body: Value = res.json().await.unwrap();
                let id = body["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {body}"));
                return Session { url: format!("{}/session/{id}", driver.base), http };
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn cmd(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if !body.is_null() {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let body: Value = res.json().await.unwrap();
        assert!(body["value"].get("error").is_none(), "webdriver {path}: {body}");
        body["value"].clone()
    }

    pub async fn go(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", json!({ "url": url })).await;
    }

    pub async fn js(&self, script: &str) -> Value {
        self.cmd(reqwest::Method::POST, "/execute/sync", json!({ "script": script, "args": [] })).await
    }

    /// Waits until `script` returns something truthy.
    pub async fn wait_for(&self, script: &str, what: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = self.js(script).await;
            if !(v.is_null() || v == json!(false) || v == json!("") || v == json!(0)) {
                return v;
            }
            if Instant::now() > deadline {
                let page = self.js("return JSON.stringify({ widget: window.FrontdeskWidget, body: document.body.innerHTML.slice(0, 2000) })").await;
                panic!("timed out waiting for {what}; page: {page}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Types into the widget's textarea and presses Enter, as a person would.
    pub async fn type_message(&self, text: &str) {
        let textarea = self.js(&format!("return {WIDGET}.querySelector('textarea')")).await;
        let id = textarea.as_object().unwrap().values().next().unwrap().as_str().unwrap().to_string();
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            json!({ "text": format!("{text}\u{E007}") }),
        )
        .await;
    }

    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let b64 = self.cmd(reqwest::Method::GET, "/screenshot", Value::Null).await;
        let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64.as_str().unwrap())
            .unwrap();
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    pub async fn quit(&self) {
        let _ = self.http.delete(&self.url).send().await;
    }
}

impl Session {
    /// An element's WebDriver id, by CSS selector.
    pub async fn element(&self, css: &str) -> String {
        let found = self
            .cmd(reqwest::Method::POST, "/element", json!({ "using": "css selector", "value": css }))
            .await;
        found.as_object().unwrap().values().next().unwrap().as_str().unwrap().to_string()
    }

    /// Clears a field and types into it, as a person would.
    pub async fn fill(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{id}/clear"), json!({})).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{id}/value"), json!({ "text": text })).await;
    }

    pub async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{id}/click"), json!({})).await;
    }

    /// Waits until the page at `path` has loaded.
    pub async fn wait_path(&self, path: &str) {
        let check = format!("return document.readyState === 'complete' && location.pathname === '{path}'");
        self.wait_for(&check, &format!("the page {path}")).await;
    }

    pub async fn body_text(&self) -> String {
        self.js("return document.body.innerText").await.as_str().unwrap_or_default().to_string()
    }
}

/// axe-core's source (npm package `axe-core`; `.ci/run` installs it under
/// `.ci/axe`): None with a notice when absent and browsers are not required.
pub fn axe_source() -> Option<String> {
    let path = std::env::var("FRONTDESK_AXE_JS").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".ci/axe/node_modules/axe-core/axe.min.js")
    });
    match std::fs::read_to_string(&path) {
        Ok(source) => Some(source),
        Err(e) => {
            assert!(
                std::env::var_os("FRONTDESK_REQUIRE_BROWSER").is_none(),
                "FRONTDESK_REQUIRE_BROWSER is set but axe-core is missing at {} ({e}): \
                 npm install --prefix .ci/axe axe-core",
                path.display()
            );
            println!("notice: skipping the accessibility checks (no axe-core at {})", path.display());
            None
        }
    }
}

impl Session {
    /// Resizes the window (390x844 is a phone).
    pub async fn size(&self, width: u32, height: u32) {
        self.cmd(reqwest::Method::POST, "/window/rect", json!({ "width": width, "height": height })).await;
    }

    /// Runs axe-core on the page as it is (the open widget's shadow root
    /// included) and returns its WCAG 2 A/AA violations, one line each.
    /// The source is passed in the WebDriver script itself, which the page's
    /// Content-Security-Policy does not govern (an injected <script> it would block).
    pub async fn axe(&self, source: &str, page: &str) -> Vec<String> {
        self.cmd(reqwest::Method::POST, "/timeouts", json!({ "script": 120_000 })).await;
        let script = format!(
            "{source}\n;axe.run(document, {{ runOnly: {{ type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }}, \
             resultTypes: ['violations'] }}).then(function (r) {{ done(r.violations.map(function (v) {{ \
             return v.id + ' (' + v.impact + '): ' + v.help + ' at ' + v.nodes.slice(0, 3).map(function (n) \
             {{ return n.target.join(' ') + ' [' + (n.failureSummary || '').replace(/\\s+/g, ' ') + ']'; }}).join('; '); }})); }}) \
             .catch(function (e) {{ done(['axe failed: ' + e]); }});"
        );
        let found = self.js_async(&script).await;
        found
            .as_array()
            .map(|a| a.iter().map(|v| format!("{page}: {}", v.as_str().unwrap_or_default())).collect())
            .unwrap_or_default()
    }
}

impl Session {
    /// Runs asynchronous script; it calls `done(value)` (the last argument) when finished.
    pub async fn js_async(&self, script: &str) -> Value {
        let wrapped = format!("const done = arguments[arguments.length - 1]; {script}");
        self.cmd(reqwest::Method::POST, "/execute/async", json!({ "script": wrapped, "args": [] })).await
    }
}

/// The widget's shadow root, in a page's script.
pub const WIDGET: &str = "document.querySelector('[data-frontdesk-widget]').shadowRoot";

/// Waits for the agent's reply to the visitor's `n`th message.
pub async fn reply(b: &Session, n: usize) -> String {
    let check = format!(
        "const r = {WIDGET}; const v = r.querySelectorAll('.msg.visitor').length; \
         const a = r.querySelectorAll('.msg.agent:not(.typing)'); \
         return v === {n} && a.length === {n} + 1 && !a[a.length - 1].textContent.startsWith('\u{2026}') ? a[a.length - 1].textContent : null;"
    );
    b.wait_for(&check, &format!("the reply to message {n}")).await.as_str().unwrap().to_string()
}

/// Waits for the page's flash message to say `text`.
pub async fn flash(b: &Session, text: &str) {
    let check =
        format!("const f = document.querySelector('.flash'); return f && f.textContent.includes({text:?});");
    b.wait_for(&check, &format!("the message {text:?}")).await;
}
