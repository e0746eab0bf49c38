//! A local stand-in for Twilio's REST API (2010-04-01): Messages, Calls and
//! call updates. It checks HTTP Basic auth and the form fields as Twilio does,
//! answers with Twilio's JSON shapes and error codes, records every request,
//! and can be scripted to fail.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};
use tokio::sync::broadcast;
use warp::http::StatusCode;
use warp::hyper::body::Bytes;
use warp::Filter;

pub const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
pub const AUTH_TOKEN: &str = "twilio-test-auth-token";

/// One accepted (or refused) request.
#[derive(Debug, Clone)]
pub struct Request {
    /// `Messages`, `Calls` or `Calls/CA…` (the resource, without `.json`).
    pub resource: String,
    pub form: Vec<(String, String)>,
    pub status: u16,
    /// The SID answered, when the request succeeded.
    pub sid: Option<String>,
}

impl Request {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    requests: Vec<Request>,
    /// Status codes to answer the next requests with, instead of succeeding.
    failures: VecDeque<u16>,
    /// Calls that have ended: updates to them fail as on Twilio.
    ended: HashMap<String, ()>,
    delay: Option<Duration>,
    counter: u64,
}

#[derive(Clone)]
pub struct FakeTwilio {
    state: Arc<Mutex<State>>,
    events: broadcast::Sender<Request>,
    /// `TWILIO_API_BASE_URL` to give the server.
    pub base_url: String,
}

impl FakeTwilio {
    pub async fn start() -> FakeTwilio {
        let (events, _) = broadcast::channel(4096);
        let state = Arc::new(Mutex::new(State::default()));
        let fake = FakeTwilio { state, events, base_url: String::new() };
        let handler = fake.clone();
        let route = warp::path!("2010-04-01" / "Accounts" / String / ..)
            .and(warp::path::tail())
            .and(warp::post())
            .and(warp::header::optional::<String>("authorization"))
            .and(warp::header::optional::<String>("content-type"))
            .and(warp::body::bytes())
            .then(move |account: String, tail: warp::path::Tail, auth, content_type, body: Bytes| {
                let fake = handler.clone();
                async move { fake.handle(&account, tail.as_str(), auth, content_type, &body).await }
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(warp::serve(route).incoming(listener).run());
        FakeTwilio { base_url: format!("http://{addr}"), ..fake }
    }

    /// The environment a frontdesk server needs to use this fake.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TWILIO_ACCOUNT_SID", ACCOUNT_SID.to_string()),
            ("TWILIO_AUTH_TOKEN", AUTH_TOKEN.to_string()),
            ("TWILIO_API_BASE_URL", self.base_url.clone()),
        ]
    }

    /// Answer the next `n` requests with `status` (e.g. 500, 503, 429).
    pub fn fail_next(&self, n: usize, status: u16) {
        let mut s = self.state.lock().unwrap();
        s.failures.extend(std::iter::repeat_n(status, n));
    }

    /// Answer every request this late.
    pub fn set_delay(&self, delay: Option<Duration>) {
        self.state.lock().unwrap().delay = delay;
    }

    /// Marks a call ended: later updates to it are refused (21220).
    pub fn end_call(&self, call_sid: &str) {
        self.state.lock().unwrap().ended.insert(call_sid.to_string(), ());
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Successful requests to `resource` (`Messages`, `Calls`, or `Calls/CA…`).
    pub fn accepted(&self, resource: &str) -> Vec<Request> {
        self.requests().into_iter().filter(|r| r.resource == resource && r.status < 300).collect()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Request> {
        self.events.subscribe()
    }

    /// Waits for a successful request to `resource`, up to `timeout`.
    pub async fn wait_for(&self, resource: &str, timeout: Duration) -> Request {
        let mut rx = self.subscribe();
        if let Some(r) = self.accepted(resource).into_iter().next() {
            return r;
        }
        tokio::time::timeout(timeout, async {
            loop {
                match rx.recv().await {
                    Ok(r) if r.resource == resource && r.status < 300 => return r,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(e) => panic!("fake Twilio stopped: {e}"),
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {resource} request within {timeout:?}: {:#?}", self.requests()))
    }

    async fn handle(
        &self,
        account: &str,
        tail: &str,
        auth: Option<String>,
        content_type: Option<String>,
        body: &[u8],
    ) -> warp::http::Response<String> {
        let delay = self.state.lock().unwrap().delay;
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        let form: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
        let resource = tail.trim_end_matches(".json").to_string();
        let (status, answer, sid) =
            self.answer(account, &resource, auth.as_deref(), content_type.as_deref(), &form);
        let request = Request { resource, form, status: status.as_u16(), sid };
        self.state.lock().unwrap().requests.push(request.clone());
        let _ = self.events.send(request);
        warp::http::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(answer.to_string())
            .unwrap()
    }

    fn answer(
        &self,
        account: &str,
        resource: &str,
        auth: Option<&str>,
        content_type: Option<&str>,
        form: &[(String, String)],
    ) -> (StatusCode, Value, Option<String>) {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT_SID}:{AUTH_TOKEN}"))
        );
        if auth != Some(expected.as_str()) || account != ACCOUNT_SID {
            return error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
        }
        if !content_type.unwrap_or_default().starts_with("application/x-www-form-urlencoded") {
            return error(StatusCode::BAD_REQUEST, 20001, "Expected a form-encoded body");
        }
        let mut state = self.state.lock().unwrap();
        if let Some(code) = state.failures.pop_front() {
            let status = StatusCode::from_u16(code).unwrap();
            let (code, message) = match code {
                429 => (20429, "Too Many Requests"),
                _ => (20500, "An internal server error has occurred"),
            };
            return error(status, code, message);
        }
        state.counter += 1;
        let counter = state.counter;
        let get = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let named = |prefix: &str| format!("{prefix}{counter:032x}");
        match resource {
            "Messages" => {
                let Some(to) = get("To") else {
                    return error(StatusCode::BAD_REQUEST, 21604, "A 'To' phone number is required.");
                };
                let Some(from) = get("From") else {
                    return error(StatusCode::BAD_REQUEST, 21603, "A 'From' phone number is required.");
                };
                let Some(body) = get("Body").filter(|b| !b.is_empty()) else {
                    return error(StatusCode::BAD_REQUEST, 21602, "Message body is required.");
                };
                if !is_e164(to) {
                    return error(
                        StatusCode::BAD_REQUEST,
                        21211,
                        &format!("Invalid 'To' Phone Number: {to}"),
                    );
                }
                if body.chars().count() > 1600 {
                    return error(
                        StatusCode::BAD_REQUEST,
                        21617,
                        "The concatenated message body exceeds the 1600 character limit.",
                    );
                }
                let sid = named("SM");
                let answer = json!({ "sid": sid, "account_sid": ACCOUNT_SID, "to": to, "from": from, "body": body,
                    "status": "queued", "num_segments": "1", "direction": "outbound-api", "api_version": "2010-04-01",
                    "uri": format!("/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json") });
                (StatusCode::CREATED, answer, Some(sid))
            }
            "Calls" => {
                let Some(to) = get("To") else {
                    return error(StatusCode::BAD_REQUEST, 21201, "No 'To' number is specified");
                };
                let Some(from) = get("From") else {
                    return error(StatusCode::BAD_REQUEST, 21213, "No 'From' number is specified");
                };
                if get("Url").is_none() && get("Twiml").is_none() && get("ApplicationSid").is_none() {
                    return error(StatusCode::BAD_REQUEST, 21205, "Url parameter is required.");
                }
                if let Some(e) = check_twiml(get("Twiml")) {
                    return e;
                }
                // Twilio fetches the TwiML from `Url`: it must be absolute http(s).
                if let Some(url) = get("Url") {
                    if !(url.starts_with("https://") || url.starts_with("http://")) {
                        return error(
                            StatusCode::BAD_REQUEST,
                            21205,
                            &format!("Url is not a valid URL: {url}"),
                        );
                    }
                }
                if !is_e164(to) {
                    return error(
                        StatusCode::BAD_REQUEST,
                        13223,
                        &format!("Invalid phone number format: {to}"),
                    );
                }
                let sid = named("CA");
                let answer = json!({ "sid": sid, "account_sid": ACCOUNT_SID, "to": to, "from": from,
                    "status": "queued", "direction": "outbound-api", "api_version": "2010-04-01" });
                (StatusCode::CREATED, answer, Some(sid))
            }
            update if update.starts_with("Calls/") => {
                let sid = update.trim_start_matches("Calls/").to_string();
                if !sid.starts_with("CA") {
                    return error(StatusCode::NOT_FOUND, 20404, "The requested resource was not found");
                }
                if state.ended.contains_key(&sid) {
                    return error(
                        StatusCode::BAD_REQUEST,
                        21220,
                        "Call is not in-progress. Cannot redirect.",
                    );
                }
                if get("Url").is_some() && get("Twiml").is_some() {
                    return error(StatusCode::BAD_REQUEST, 21205, "Url and Twiml are mutually exclusive.");
                }
                if let Some(e) = check_twiml(get("Twiml")) {
                    return e;
                }
                match get("Status") {
                    None | Some("completed") | Some("canceled") => {}
                    Some(other) => {
                        return error(StatusCode::BAD_REQUEST, 20001, &format!("Invalid Status: {other}"));
                    }
                }
                if get("Url").is_none() && get("Twiml").is_none() && get("Status").is_none() {
                    return error(StatusCode::BAD_REQUEST, 20001, "Nothing to update");
                }
                if get("Status") == Some("completed") {
                    state.ended.insert(sid.clone(), ());
                }
                let answer = json!({ "sid": sid, "account_sid": ACCOUNT_SID,
                    "status": if get("Status").is_some() { "completed" } else { "in-progress" } });
                (StatusCode::OK, answer, Some(sid))
            }
            _ => error(StatusCode::NOT_FOUND, 20404, "The requested resource was not found"),
        }
    }
}

/// Twilio refuses inline TwiML over 4000 characters or that is not XML with a `<Response>` root.
fn check_twiml(twiml: Option<&str>) -> Option<(StatusCode, Value, Option<String>)> {
    let twiml = twiml?;
    if twiml.len() > 4000 {
        return Some(error(StatusCode::BAD_REQUEST, 21236, "Twiml parameter exceeds 4000 characters"));
    }
    let mut reader = quick_xml::Reader::from_str(twiml);
    let mut root = None;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e)) if root.is_none() => {
                root = Some(String::from_utf8_lossy(e.name().as_ref()).into_owned());
            }
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(_) => return Some(error(StatusCode::BAD_REQUEST, 12100, "Document parse failure")),
        }
    }
    (root.as_deref() != Some("Response"))
        .then(|| error(StatusCode::BAD_REQUEST, 12100, "Document parse failure"))
}

fn is_e164(s: &str) -> bool {
    s.strip_prefix('+').is_some_and(|d| (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

fn error(status: StatusCode, code: u32, message: &str) -> (StatusCode, Value, Option<String>) {
    let body = json!({ "code": code, "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status.as_u16() });
    (status, body, None)
}
