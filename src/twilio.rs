//! Twilio, outside the call audio: webhook signatures (`X-Twilio-Signature`)
//! and the REST API (update a live call, send an SMS, place a call).
//! Voice webhooks and notifications both go through here.

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;

use crate::config::TwilioConfig;

type HmacSha1 = Hmac<sha1::Sha1>;

/// The signature Twilio sends for a request to `url` with form `params`:
/// base64(HMAC-SHA1(auth token, url + each name and value, names sorted)).
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let digest = signed(auth_token, url, params).finalize().into_bytes();
    base64::engine::general_purpose::STANDARD.encode(digest)
}

/// Checks a received signature in constant time. Twilio is inconsistent about
/// default ports, so the URL is tried as given, without its port and with the
/// scheme's default port (the official helper's tolerance).
pub fn validate(auth_token: &str, header: &str, url: &str, params: &[(String, String)]) -> bool {
    if auth_token.is_empty() || header.is_empty() {
        return false;
    }
    let Ok(received) = base64::engine::general_purpose::STANDARD.decode(header.trim()) else {
        return false;
    };
    url_variants(url)
        .iter()
        .any(|candidate| signed(auth_token, candidate, params).verify_slice(&received).is_ok())
}

/// The HMAC over the URL and the parameters: names in byte order, a repeated
/// name's values sorted and de-duplicated (as twilio-node does).
fn signed(auth_token: &str, url: &str, params: &[(String, String)]) -> HmacSha1 {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sorted.dedup();
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <HmacSha1 as Mac>::new_from_slice(auth_token.as_bytes())
        .unwrap_or_else(|_| <HmacSha1 as Mac>::new(&Default::default()));
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    mac
}

/// The URL as given, without its port, and (when it names none) with the
/// scheme's default port.
fn url_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_string()];
    let Some((scheme, rest)) = url.split_once("://") else { return out };
    let default = match scheme {
        "https" | "wss" => 443,
        "http" | "ws" => 80,
        _ => return out,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    // A port is the digits after the last colon of the host (not inside an IPv6 literal).
    let host_start = authority.rfind('@').map(|i| i + 1).unwrap_or(0);
    let port_colon = authority[host_start..]
        .rfind(':')
        .map(|i| host_start + i)
        .filter(|&i| !authority[i..].contains(']') && authority[i + 1..].bytes().all(|b| b.is_ascii_digit()));
    let candidates = match port_colon {
        Some(i) => vec![format!("{scheme}://{}{tail}", &authority[..i])],
        None => vec![format!("{scheme}://{authority}:{default}{tail}")],
    };
    for candidate in candidates {
        if !out.contains(&candidate) {
            out.push(candidate);
        }
    }
    out
}

/// Why a Twilio request was refused. The texts name nothing secret, so
/// they are sent back with the 403.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("TWILIO_AUTH_TOKEN is not configured, so no Twilio request can be verified")]
    NoToken,
    #[error("missing X-Twilio-Signature")]
    Missing,
    #[error("invalid X-Twilio-Signature")]
    Invalid,
}

/// The URL a Twilio request was signed over, the one rule for every Twilio
/// request we answer: the public base Twilio was given (`public_base`: its
/// scheme, host and port, as Twilio requested them, not what a proxy in
/// front of us shows), the request's path and its raw query string.
pub fn request_url(public_base: &str, path: &str, query: &str) -> String {
    let mut url = format!("{}{path}", public_base.trim_end_matches('/'));
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// Checks one form-encoded Twilio request (PROTOCOLS.md 1.4): `signature`
/// over `url` (from [`request_url`]) and the fields of `body`, sorted.
/// Returns the fields when it holds.
pub fn check_request(
    auth_token: &str,
    signature: Option<&str>,
    url: &str,
    body: &[u8],
) -> Result<Vec<(String, String)>, Refused> {
    let params: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    if auth_token.is_empty() {
        return Err(Refused::NoToken);
    }
    let signature = signature.filter(|s| !s.trim().is_empty()).ok_or(Refused::Missing)?;
    if validate(auth_token, signature, url, &params) {
        Ok(params)
    } else {
        Err(Refused::Invalid)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TwilioError {
    #[error("Twilio is not configured: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")]
    NotConfigured,
    #[error("Twilio request failed: {0}")]
    Http(String),
    /// Twilio answered with an error (`code` is Twilio's own error number).
    #[error("Twilio answered {status}: {message} (code {code})")]
    Status { status: u16, code: u32, message: String },
}

impl TwilioError {
    /// Worth trying again later (network trouble, rate limits, Twilio's own errors).
    pub fn is_transient(&self) -> bool {
        match self {
            TwilioError::NotConfigured => false,
            TwilioError::Http(_) => true,
            TwilioError::Status { status, .. } => *status == 429 || *status >= 500,
        }
    }
}

/// How to change a live call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallUpdate {
    /// Run this TwiML now (ends a media stream).
    Twiml(String),
    /// Fetch new TwiML from this absolute URL (POST).
    Url(String),
    /// Hang up.
    Complete,
}

/// A REST client for one Twilio account.
#[derive(Clone)]
pub struct TwilioClient {
    http: reqwest::Client,
    base_url: String,
    account_sid: String,
    auth_token: String,
}

/// What Twilio answers for a created or updated resource (the parts we read).
#[derive(Debug, Clone, Deserialize)]
pub struct Created {
    pub sid: String,
    /// `queued`, `ringing`, … for calls; `queued`, `accepted` for messages.
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: Option<u32>,
    #[serde(default)]
    message: Option<String>,
}

impl TwilioClient {
    /// None unless both the account SID and the auth token are set.
    pub fn from_config(config: &TwilioConfig) -> Option<TwilioClient> {
        if config.account_sid.is_empty() || config.auth_token.is_empty() {
            return None;
        }
        Some(TwilioClient {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .timeout(Duration::from_secs(15))
                .build()
                .unwrap_or_default(),
            base_url: config.api_base_url.trim_end_matches('/').to_string(),
            account_sid: config.account_sid.clone(),
            auth_token: config.auth_token.expose().to_string(),
        })
    }

    pub fn account_sid(&self) -> &str {
        &self.account_sid
    }

    fn url(&self, resource: &str) -> String {
        format!("{}/2010-04-01/Accounts/{}/{resource}", self.base_url, self.account_sid)
    }

    /// POSTs a form; returns the created or updated resource's SID.
    async fn post(&self, resource: &str, form: &[(&str, &str)]) -> Result<String, TwilioError> {
        self.post_for(resource, form).await.map(|created| created.sid)
    }

    /// POSTs a form; returns Twilio's answer.
    async fn post_for(&self, resource: &str, form: &[(&str, &str)]) -> Result<Created, TwilioError> {
        let response = self
            .http
            .post(self.url(resource))
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .form(form)
            .send()
            .await
            .map_err(|e| TwilioError::Http(e.without_url().to_string()))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| TwilioError::Http(e.without_url().to_string()))?;
        if !status.is_success() {
            let parsed: Option<ErrorBody> = serde_json::from_slice(&body).ok();
            return Err(TwilioError::Status {
                status: status.as_u16(),
                code: parsed.as_ref().and_then(|b| b.code).unwrap_or(0),
                message: parsed
                    .and_then(|b| b.message)
                    .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect()),
            });
        }
        serde_json::from_slice(&body)
            .map_err(|e| TwilioError::Http(format!("unexpected answer from Twilio: {e}")))
    }

    /// Redirects or ends a live call ("Update a Call").
    pub async fn update_call(&self, call_sid: &str, update: &CallUpdate) -> Result<(), TwilioError> {
        let form: Vec<(&str, &str)> = match update {
            CallUpdate::Twiml(twiml) => vec![("Twiml", twiml.as_str())],
            CallUpdate::Url(url) => vec![("Url", url.as_str()), ("Method", "POST")],
            CallUpdate::Complete => vec![("Status", "completed")],
        };
        self.post(&format!("Calls/{call_sid}.json"), &form).await.map(|_| ())
    }

    /// Sends an SMS; returns the message SID.
    pub async fn send_sms(&self, from: &str, to: &str, body: &str) -> Result<String, TwilioError> {
        self.post("Messages.json", &[("To", to), ("From", from), ("Body", body)]).await
    }

    /// Places a call that runs `twiml` when answered; returns the call SID.
    pub async fn create_call(
        &self,
        from: &str,
        to: &str,
        twiml: &str,
        status_callback: Option<&str>,
    ) -> Result<String, TwilioError> {
        let mut form = vec![("To", to), ("From", from), ("Twiml", twiml)];
        if let Some(url) = status_callback {
            form.push(("StatusCallback", url));
        }
        self.post("Calls.json", &form).await
    }

    /// Places a call that, once answered, fetches its TwiML from `url` (POST)
    /// as an incoming call's webhook would; returns Twilio's answer (SID and
    /// status, normally `queued`).
    pub async fn create_call_to_url(
        &self,
        from: &str,
        to: &str,
        url: &str,
        status_callback: &str,
    ) -> Result<Created, TwilioError> {
        let form = [
            ("To", to),
            ("From", from),
            ("Url", url),
            ("Method", "POST"),
            ("StatusCallback", status_callback),
            ("StatusCallbackMethod", "POST"),
        ];
        self.post_for("Calls.json", &form).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    /// The vectors from twilio-node's test suite (PROTOCOLS.md 1.4).
    #[test]
    fn signatures_match_twilios_documented_vectors() {
        let p = params(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]);
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(signature("12345", url, &p), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        assert_eq!(
            signature("12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", &p),
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        );
        // Order of the received fields does not matter.
        let mut reversed = p.clone();
        reversed.reverse();
        assert!(validate("12345", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", url, &reversed));
        // Either port form is accepted for the other.
        assert!(validate("12345", "kvajT1Ptam85bY51eRf/AJRuM3w=", url, &p));
        assert!(validate(
            "12345",
            "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            &p
        ));
        let json_url = "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256=\
                        0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
        assert_eq!(signature("12345", json_url, &[]), "a9nBmqA0ju/hNViExpshrM61xv4=");
    }

    #[test]
    fn wrong_or_missing_signatures_fail() {
        let p = params(&[("CallSid", "CA1"), ("To", "+18005551212")]);
        let url = "https://fd.example/api/voice/incoming";
        let good = signature("secret", url, &p);
        assert!(validate("secret", &good, url, &p));
        assert!(!validate("other", &good, url, &p));
        assert!(!validate("secret", "", url, &p));
        assert!(!validate("", &good, url, &p));
        assert!(!validate("secret", "not base64!", url, &p));
        assert!(!validate("secret", &good, "http://fd.example/api/voice/incoming", &p));
        let tampered = params(&[("CallSid", "CA1"), ("To", "+18005551213")]);
        assert!(!validate("secret", &good, url, &tampered));
        // A field Twilio added that we do not know is still part of the signature.
        let extra = params(&[("CallSid", "CA1"), ("To", "+18005551212"), ("StirStatus", "A")]);
        assert!(!validate("secret", &good, url, &extra));
    }

    /// Both kinds of Twilio request we answer, each in the URL form its
    /// caller builds: a voice webhook (with a query string) and the
    /// emergency call's "press 1" (an id in the path).
    #[test]
    fn the_request_check_takes_real_signatures_and_refuses_tampered_ones() {
        // PROTOCOLS.md 1.4's form POST vector, split the way a request arrives.
        let url = request_url("https://mycompany.com/", "/myapp.php", "foo=1&bar=2");
        assert_eq!(url, "https://mycompany.com/myapp.php?foo=1&bar=2");
        let body = b"To=%2B18005551212&From=%2B14158675309&Digits=1234&Caller=%2B14158675309&CallSid=CA1234567890ABCDE";
        let fields = check_request("12345", Some("RSOYDt4T1cUTdK1PDd93/VVr8B8="), &url, body).unwrap();
        assert_eq!(fields.len(), 5);
        assert!(fields.contains(&("To".into(), "+18005551212".into())));
        let tampered = b"To=%2B18005551213&From=%2B14158675309&Digits=1234&Caller=%2B14158675309&CallSid=CA1234567890ABCDE";
        assert_eq!(
            check_request("12345", Some("RSOYDt4T1cUTdK1PDd93/VVr8B8="), &url, tampered),
            Err(Refused::Invalid)
        );
        let other_query = request_url("https://mycompany.com", "/myapp.php", "foo=1&bar=3");
        assert_eq!(
            check_request("12345", Some("RSOYDt4T1cUTdK1PDd93/VVr8B8="), &other_query, body),
            Err(Refused::Invalid)
        );

        // The voice webhooks and the press-1 answer, signed by Twilio's own algorithm.
        for (path, query) in [
            ("/api/voice/incoming", ""),
            ("/api/voice/handle-speech", "hold=ab12"),
            ("/api/notify/calls/n-42/connect", ""),
        ] {
            let url = request_url("https://fd.example", path, query);
            let form = params(&[("CallSid", "CA1"), ("Digits", "1"), ("To", "+13125550100")]);
            let body = b"CallSid=CA1&Digits=1&To=%2B13125550100";
            let good = signature("secret", &url, &form);
            assert_eq!(check_request("secret", Some(&good), &url, body), Ok(form), "{url}");
            assert_eq!(
                check_request("secret", Some(&good), &url, b"CallSid=CA1&Digits=2&To=%2B13125550100"),
                Err(Refused::Invalid)
            );
            // Behind a proxy we see http and our own host: the public base is what counts.
            let inside = request_url("http://10.0.0.5:8080", path, query);
            assert_eq!(check_request("secret", Some(&good), &inside, body), Err(Refused::Invalid));
            assert_eq!(check_request("secret", None, &url, body), Err(Refused::Missing));
            assert_eq!(check_request("", Some(&good), &url, body), Err(Refused::NoToken));
        }
    }

    #[test]
    fn port_variants() {
        assert_eq!(
            url_variants("wss://fd.example/api/voice/stream"),
            ["wss://fd.example/api/voice/stream", "wss://fd.example:443/api/voice/stream"]
        );
        assert_eq!(
            url_variants("https://fd.example:443/x?a=1"),
            ["https://fd.example:443/x?a=1", "https://fd.example/x?a=1"]
        );
        assert_eq!(
            url_variants("http://127.0.0.1:3000/x"),
            ["http://127.0.0.1:3000/x", "http://127.0.0.1/x"]
        );
        assert_eq!(url_variants("https://[::1]/x"), ["https://[::1]/x", "https://[::1]:443/x"]);
    }
}
