//! A served phone business: Twilio webhooks signed as Twilio signs them, media
//! streams from a Twilio-faithful client, the Realtime model and Twilio's REST
//! API as local fakes; and TwiML read back with a real XML parser.

use std::collections::BTreeMap;
use std::time::Duration;

use frontdesk::ids::{BusinessId, CallSid};
use frontdesk::store::InspectableStore;

use crate::support::fake_media::{b64, tone, twilio_signature, Connect, MediaCall, TlsConnect};
use crate::support::fake_realtime::{Conn, FakeRealtime, Options};
use crate::support::fake_twilio::{FakeTwilio, AUTH_TOKEN};
use crate::support::instance::*;

/// Where Twilio reaches this instance (signatures are computed over it).
pub const PUBLIC: &str = "https://voice.test";
pub const STREAM: &str = "wss://voice.test/api/voice/stream";
pub const NUMBER: &str = "+13125550100";
pub const OWNER: &str = "+13125550199";
pub const CALLER: &str = "+13125550142";

/// What the model says first on the test business's calls (its
/// `voice_greeting_message`).
pub const GREETING: &str = "Thanks for calling Test Plumbing, this is Pip. How can I help?";

pub const BUSINESS: &str = concat!(
    r#"
[business]
name = "Test Plumbing"
business_type = "PLUMBING"
plan_tier = "PRO"
twilio_phone_number = "+13125550100"
notification_email = "owner@test-plumbing.example"
notification_phone_number = "+13125550199"
notification_webhook_url = "http://127.0.0.1:9/crm-hook"
country = "US"

[agent]
agent_name = "Pip"
persona_prompt = "You are Pip, the cheerful receptionist of Test Plumbing."
voice_greeting_message = "Thanks for calling Test Plumbing, this is Pip. How can I help?"
voice_emergency_message = "I'm paging our on-call plumber right now."
voice_end_call_message = "Thanks for calling Test Plumbing. Bye now!"
twilio_voice = "Polly.Joanna"
realtime_voice = "cedar"

"#,
    contact_questions!(),
    r#"
[[questions]]
question_text = "What's the address of the property?"
maps_to_lead_field = "address"
is_essential_for_emergency = true

[[questions]]
question_text = "What's going on with your plumbing?"
maps_to_lead_field = "notes"

[[knowledge]]
title = "Opening hours"
content = "We are open Monday to Friday from 7am to 6pm. On Saturdays we work from 8am to 2pm."
"#
);

pub struct Phone {
    // Fields drop in order: the server stops before its database goes.
    pub server: Server,
    pub fd: Instance,
    pub business_id: String,
    pub twilio: FakeTwilio,
    pub realtime: Option<FakeRealtime>,
    pub http: reqwest::Client,
    pub web: Web,
}

/// How Twilio reaches the instance: behind a TLS proxy at `PUBLIC` (the
/// tests talk to the plain port), or its own HTTPS on a domain.
pub struct Web {
    /// Where requests go (the plain port, or `https://domain:port`).
    pub base: Option<String>,
    /// What Twilio signs over: `https://host` of the webhooks.
    pub public: String,
    pub stream: String,
    /// Environment that names the public address.
    pub env: Vec<(String, String)>,
    pub http: reqwest::Client,
    pub media_tls: Option<TlsConnect>,
}

impl Web {
    fn behind_proxy() -> Web {
        Web {
            base: None,
            public: PUBLIC.into(),
            stream: STREAM.into(),
            env: vec![
                ("TWILIO_WEBHOOK_BASE_URL".into(), PUBLIC.into()),
                ("HOSTNAME".into(), "voice.test".into()),
            ],
            http: reqwest::Client::new(),
            media_tls: None,
        }
    }
}

impl Phone {
    /// A PRO plumber, answered by the realtime model (fake) unless `realtime` is false.
    pub async fn start(realtime: bool, env: &[(&str, &str)]) -> Phone {
        Phone::start_with(realtime, Options::default(), env).await
    }

    pub async fn start_with(realtime: bool, options: Options, env: &[(&str, &str)]) -> Phone {
        Phone::launch(realtime, options, env, Web::behind_proxy()).await
    }

    pub async fn launch(realtime: bool, options: Options, env: &[(&str, &str)], web: Web) -> Phone {
        let twilio = FakeTwilio::start().await;
        let realtime = if realtime { Some(FakeRealtime::start(options).await) } else { None };
        let fd = Instance::new();
        let file = fd.dir.path().join("business.toml");
        std::fs::write(&file, BUSINESS).unwrap();
        let business_id = fd.ok(&["business", "import", file.to_str().unwrap()]);
        let mut cmd = fd.command();
        cmd.envs(twilio.env()).envs(web.env.iter().map(|(k, v)| (k, v))).env("RUST_LOG", "error");
        if let Some(rt) = &realtime {
            cmd.env("OPENAI_API_KEY", "sk-test-key")
                .env("OPENAI_BASE_URL", &rt.base_url)
                .env("OPENAI_CHAT_MODEL", "")
                .env("OPENAI_REALTIME_MODEL", "gpt-realtime");
        }
        cmd.envs(env.iter().copied()).args(["serve", "--port", "0", "--bind", "127.0.0.1"]);
        let server = Server::start(cmd);
        let http = web.http.clone();
        Phone { fd, server, business_id, twilio, realtime, http, web }
    }

    /// Where a request for `path` goes.
    pub fn url(&self, path: &str) -> String {
        match &self.web.base {
            Some(base) => format!("{base}{path}"),
            None => self.server.url(path),
        }
    }

    pub fn store(&self) -> std::sync::Arc<dyn InspectableStore> {
        self.fd.store()
    }

    pub fn rt(&self) -> &FakeRealtime {
        self.realtime.as_ref().unwrap()
    }

    /// POSTs a webhook signed as Twilio signs it; returns (status, body).
    pub async fn post(&self, path: &str, params: &[(&str, &str)]) -> (u16, String) {
        let signature = twilio_signature(AUTH_TOKEN, &format!("{}{path}", self.web.public), params);
        self.post_with(path, params, Some(&signature)).await
    }

    pub async fn post_with(
        &self,
        path: &str,
        params: &[(&str, &str)],
        signature: Option<&str>,
    ) -> (u16, String) {
        let mut request = self.http.post(self.url(path)).form(params);
        if let Some(signature) = signature {
            request = request.header("X-Twilio-Signature", signature);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        if status == 200 {
            let kind = response.headers()["content-type"].to_str().unwrap().to_string();
            assert!(kind.starts_with("text/xml"), "{kind}");
        }
        (status, response.text().await.unwrap())
    }

    /// Twilio's parameters for a call from `CALLER` to the business.
    pub fn call_params(call_sid: &str) -> Vec<(&'static str, String)> {
        vec![
            ("AccountSid", crate::support::fake_twilio::ACCOUNT_SID.to_string()),
            ("ApiVersion", "2010-04-01".into()),
            ("CallSid", call_sid.to_string()),
            ("CallStatus", "ringing".into()),
            ("Called", NUMBER.into()),
            ("Caller", CALLER.into()),
            ("Direction", "inbound".into()),
            ("From", CALLER.into()),
            ("FromCountry", "US".into()),
            ("To", NUMBER.into()),
        ]
    }

    /// A call comes in; returns the TwiML.
    pub async fn incoming(&self, call_sid: &str) -> Vec<Element> {
        let params = Phone::call_params(call_sid);
        let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body) = self.post("/api/voice/incoming", &borrowed).await;
        assert_eq!(status, 200, "{body}");
        twiml(&body)
    }

    /// A gather-mode turn: what the caller said (empty for silence).
    pub async fn say(&self, call_sid: &str, speech: &str) -> Vec<Element> {
        let mut params = Phone::call_params(call_sid);
        params.retain(|(k, _)| *k != "CallStatus");
        params.push(("CallStatus", "in-progress".into()));
        params.push(("SpeechResult", speech.into()));
        params.push(("Confidence", "0.92".into()));
        let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, body) = self.post("/api/voice/handle-speech", &borrowed).await;
        assert_eq!(status, 200, "{body}");
        twiml(&body)
    }

    /// Answers a call in realtime mode: webhook, media stream, model session
    /// configured and greeting asked for.
    pub async fn answer(&self, call_sid: &str, auto_playback: bool) -> (MediaCall, Conn) {
        let doc = self.incoming(call_sid).await;
        let stream = find(&doc, "Stream").unwrap_or_else(|| panic!("no <Stream> in {doc:?}"));
        assert_eq!(stream.attrs["url"], self.web.stream);
        let parameters: Vec<(String, String)> = doc
            .iter()
            .filter(|e| e.name == "Parameter")
            .map(|e| (e.attrs["name"].clone(), e.attrs["value"].clone()))
            .collect();
        let call = self.media(call_sid, parameters, auto_playback).await.unwrap();
        let mut conn = self.rt().accept(Duration::from_secs(15)).await;
        conn.expect("session.update").await;
        let greeting = conn.expect("response.create").await;
        assert!(greeting["response"]["instructions"]
            .as_str()
            .unwrap()
            .contains("Thanks for calling Test Plumbing"));
        (call, conn)
    }

    pub async fn media(
        &self,
        call_sid: &str,
        parameters: Vec<(String, String)>,
        auto_playback: bool,
    ) -> Result<MediaCall, String> {
        let ws_url = self.url("/api/voice/stream").replace("http://", "ws://").replace("https://", "wss://");
        MediaCall::connect(Connect {
            ws_url: &ws_url,
            public_url: &self.web.stream,
            auth_token: AUTH_TOKEN,
            call_sid,
            parameters,
            auto_playback,
            sign: true,
            on_media: None,
            record: true,
            tls: self.web.media_tls.clone(),
        })
        .await
    }

    /// Waits for the call's row to say how it ended.
    pub async fn ended(&self, call_sid: &str) -> frontdesk::domain::Call {
        let store = self.store();
        for _ in 0..300 {
            if let Ok(call) = store.call(&CallSid::from(call_sid)).await {
                if call.ended_at.is_some() {
                    return call;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("call {call_sid} never ended: {:?}", store.call(&CallSid::from(call_sid)).await);
    }

    pub async fn lead(&self) -> frontdesk::domain::Lead {
        let store = self.store();
        for _ in 0..200 {
            if let Some(lead) =
                store.leads(&BusinessId::from(&self.business_id)).await.unwrap().into_iter().next()
            {
                return lead;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no lead saved");
    }
}

/// One element of a TwiML document: name, attributes, text.
#[derive(Debug, Clone)]
pub struct Element {
    pub name: String,
    pub attrs: BTreeMap<String, String>,
    pub text: String,
}

/// Parses TwiML with a real XML parser (it must be well-formed).
pub fn twiml(doc: &str) -> Vec<Element> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(doc);
    let mut out: Vec<Element> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    loop {
        match reader.read_event().unwrap_or_else(|e| panic!("TwiML is not well-formed ({e}): {doc}")) {
            Event::Start(e) | Event::Empty(e) => {
                let attrs = e
                    .attributes()
                    .map(|a| {
                        let a = a.unwrap();
                        (
                            String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                            a.unescape_value().unwrap().into_owned(),
                        )
                    })
                    .collect();
                out.push(Element {
                    name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                    attrs,
                    text: String::new(),
                });
                if doc[..reader.buffer_position() as usize].ends_with("/>") {
                    continue;
                }
                open.push(out.len() - 1);
            }
            Event::Text(t) => {
                if let Some(&i) = open.last() {
                    out[i].text.push_str(&t.decode().unwrap());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(&i) = open.last() {
                    let name = r.decode().unwrap();
                    let ch = match r.resolve_char_ref().unwrap() {
                        Some(c) => c.to_string(),
                        None => quick_xml::escape::resolve_xml_entity(&name)
                            .unwrap_or_else(|| panic!("entity {name}"))
                            .to_string(),
                    };
                    out[i].text.push_str(&ch);
                }
            }
            Event::End(_) => {
                open.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(out.first().map(|e| e.name.as_str()), Some("Response"), "{doc}");
    out
}

pub fn find<'a>(doc: &'a [Element], name: &str) -> Option<&'a Element> {
    doc.iter().find(|e| e.name == name)
}

/// The `<Parameter>`s of a `<Stream>`, as Twilio sends them back in `start`.
pub fn parameters(doc: &[Element]) -> Vec<(String, String)> {
    doc.iter()
        .filter(|e| e.name == "Parameter")
        .map(|e| (e.attrs["name"].clone(), e.attrs["value"].clone()))
        .collect()
}

/// Everything said, in order.
pub fn said(doc: &[Element]) -> String {
    doc.iter().filter(|e| e.name == "Say").map(|e| e.text.as_str()).collect::<Vec<_>>().join(" ")
}

pub fn call_sid(n: usize) -> String {
    format!("CA{n:032x}")
}

/// `n` 100 ms chunks of model audio (base64 μ-law), each different.
pub fn model_audio(n: usize) -> Vec<String> {
    (0..n).map(|i| b64(&tone(300.0 + 50.0 * i as f64, 100))).collect()
}
