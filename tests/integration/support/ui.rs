//! Driving the owner's UI and admin API over real HTTP: businesses and users
//! made with the CLI, a browser-like session (cookies, CSRF token) and API
//! bearer tokens.

use frontdesk::store::InspectableStore;
use serde_json::{json, Value};

use crate::support::instance::*;

/// A served instance with a helper per kind of caller.
pub struct Ui {
    // Fields drop in order: the server stops before its database goes.
    pub server: Server,
    pub fd: Instance,
    pub http: reqwest::Client,
}

/// A business file with the given name and plan, two knowledge documents and
/// the starter questions.
pub fn business_file(name: &str, plan: &str) -> String {
    format!(
        r#"
[business]
name = "{name}"
business_type = "PLUMBING"
plan_tier = "{plan}"
country = "US"
timezone = "America/Chicago"
notification_email = "owner@{slug}.example"

[agent]
agent_name = "Pip"

[[questions]]
question_text = "May I have your name?"
maps_to_lead_field = "name"

[[questions]]
question_text = "What's the best number to reach you?"
expected_format = "PHONE"
maps_to_lead_field = "phone"

[[questions]]
question_text = "What do you need help with?"
maps_to_lead_field = "notes"

[[knowledge]]
title = "Opening hours"
content = "We are open Monday to Friday from 7am to 6pm. On Saturdays we work from 8am to 2pm."
"#,
        slug = name.to_lowercase().replace(' ', "-")
    )
}

impl Ui {
    /// An instance with nothing in it, served.
    pub fn empty(env: &[(&str, &str)]) -> Ui {
        let fd = Instance::new();
        let mut cmd = fd.command();
        cmd.envs(env.iter().copied()).args(["serve", "--port", "0", "--bind", "127.0.0.1"]);
        let server = Server::start(cmd);
        Ui {
            fd,
            server,
            http: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap(),
        }
    }

    /// Imports a business (the server may be running: SQLite takes both).
    pub fn business(&self, name: &str, plan: &str) -> String {
        let file = self.fd.dir.path().join(format!("{}.toml", name.replace(' ', "_")));
        std::fs::write(&file, business_file(name, plan)).unwrap();
        self.fd.ok(&["business", "import", file.to_str().unwrap()])
    }

    /// Adds a user with the shared test password.
    pub fn user(&self, email: &str, role: &str, business: Option<&str>) {
        let mut args = vec!["user", "add", "--email", email, "--role", role, "--password-stdin"];
        if let Some(b) = business {
            args.extend(["--business", b]);
        }
        let out = self.fd.run_with_stdin(&args, &format!("{PASSWORD}\n"));
        assert_success(&out, &args);
    }

    pub fn set_plan(&self, business: &str, plan: &str) {
        self.fd.ok(&["business", "plan", business, plan]);
    }

    pub fn store(&self) -> std::sync::Arc<dyn InspectableStore> {
        self.fd.store()
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// A bearer token for the user.
    pub async fn token(&self, email: &str) -> String {
        let res = self
            .http
            .post(self.url("/api/auth/login"))
            .json(&json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "login as {email}");
        let body: Value = res.json().await.unwrap();
        body["token"].as_str().unwrap().to_string()
    }

    /// One message opening a new chat conversation with `business`, from a
    /// visitor (no sign-in); the status and the JSON answer.
    pub async fn chat(&self, business: &str, message: &str) -> (u16, Value) {
        let body = json!({ "businessId": business, "message": message });
        let res = self.http.post(self.url("/api/chat")).json(&body).send().await.unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }

    /// An admin API call; the body of a non-JSON answer comes back as a string.
    pub async fn api(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.api_as(token, method, path, body, None).await
    }

    pub async fn api_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
        business: Option<&str>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(b) = business {
            req = req.header("x-business-id", b);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Signs in through the login form, as a browser would.
    pub async fn sign_in(&self, email: &str) -> Web {
        let mut web = Web { http: self.http.clone(), base: self.server.base.clone(), cookies: Vec::new() };
        let page = web.get("/login").await.1;
        let token = hidden_csrf(&page);
        let (status, _, _) =
            web.post("/login", &[("_csrf", &token), ("email", email), ("password", PASSWORD)]).await;
        assert_eq!(status, 303, "sign in as {email}");
        assert!(web.cookie("fd_session").is_some(), "a session cookie");
        web
    }
}

/// The CSRF token in a page's first form.
pub fn hidden_csrf(html: &str) -> String {
    let start = html.find(r#"name="_csrf" value=""#).expect("a CSRF field") + r#"name="_csrf" value=""#.len();
    html[start..].split('"').next().unwrap().to_string()
}

/// A browser-like client: keeps cookies, reads the CSRF token from pages.
#[derive(Clone)]
pub struct Web {
    pub http: reqwest::Client,
    pub base: String,
    pub cookies: Vec<(String, String)>,
}

impl Web {
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn keep(&mut self, res: &reqwest::Response) {
        for value in res.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let (pair, attrs) = text.split_once(';').unwrap_or((text, ""));
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != k);
            if !attrs.contains("Max-Age=0") {
                self.cookies.push((k.to_string(), v.to_string()));
            }
        }
    }

    /// (status, body)
    pub async fn get(&mut self, path: &str) -> (u16, String) {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.header())
            .send()
            .await
            .unwrap();
        self.keep(&res);
        (res.status().as_u16(), res.text().await.unwrap())
    }

    /// (status, location, body)
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
        self.post_with(path, form, &[]).await
    }

    pub async fn post_with(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> (u16, String, String) {
        let mut req =
            self.http.post(format!("{}{path}", self.base)).header("cookie", self.header()).form(form);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.unwrap();
        self.keep(&res);
        let location =
            res.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        (res.status().as_u16(), location, res.text().await.unwrap())
    }

    /// A multipart form with one file, as a browser sends an upload.
    pub async fn post_file(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        file: (&str, &str, &[u8]),
    ) -> (u16, String, String) {
        let boundary = "----frontdesk-test-boundary-7d1f";
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                    .as_bytes(),
            );
        }
        let (field, filename, bytes) = file;
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
        let res = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.header())
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
            .await
            .unwrap();
        self.keep(&res);
        let location =
            res.headers().get("location").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        (res.status().as_u16(), location, res.text().await.unwrap())
    }

    /// The session's CSRF token, read from a page.
    pub async fn csrf(&mut self) -> String {
        hidden_csrf(&self.get("/account").await.1)
    }

    /// Posts a form with the session's CSRF token added.
    pub async fn submit(&mut self, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
        let token = self.csrf().await;
        let mut with: Vec<(&str, &str)> = vec![("_csrf", token.as_str())];
        with.extend_from_slice(form);
        self.post(path, &with).await
    }
}
