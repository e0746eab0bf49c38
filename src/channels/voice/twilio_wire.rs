//! Twilio Media Streams messages (bidirectional `<Connect><Stream>`), as a
//! codec: parse what Twilio sends, write what we send. No socket here.
//!
//! Twilio sends numeric fields (`timestamp`, `sequenceNumber`) as strings in
//! its examples; both strings and numbers are accepted.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use super::fast_json::{self, Val};

/// A message from Twilio.
#[derive(Debug, PartialEq)]
pub enum Inbound<'a> {
    Connected,
    Start(Start),
    /// Caller audio: base64 μ-law, 8 kHz, and its time on the stream's clock.
    Media {
        timestamp_ms: u64,
        payload: Cow<'a, str>,
    },
    /// A mark we sent has been played (or cleared).
    Mark {
        name: String,
    },
    Dtmf {
        digit: String,
    },
    Stop,
    /// An event this code does not know; logged and skipped.
    Unknown(String),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Start {
    #[serde(rename = "streamSid")]
    pub stream_sid: String,
    #[serde(rename = "callSid")]
    pub call_sid: String,
    #[serde(rename = "accountSid", default)]
    pub account_sid: String,
    #[serde(rename = "customParameters", default)]
    pub custom_parameters: BTreeMap<String, String>,
    #[serde(rename = "mediaFormat", default)]
    pub media_format: Option<MediaFormat>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MediaFormat {
    #[serde(default)]
    pub encoding: String,
    #[serde(rename = "sampleRate", default)]
    pub sample_rate: u32,
    #[serde(default)]
    pub channels: u32,
}

#[derive(Deserialize)]
struct Raw<'a> {
    #[serde(borrow)]
    event: Cow<'a, str>,
    #[serde(default, borrow)]
    media: Option<RawMedia<'a>>,
    #[serde(default)]
    start: Option<Start>,
    #[serde(default)]
    mark: Option<RawMark>,
    #[serde(default)]
    dtmf: Option<RawDtmf>,
}

#[derive(Deserialize)]
struct RawMedia<'a> {
    #[serde(default, deserialize_with = "flexible_u64")]
    timestamp: u64,
    #[serde(borrow)]
    payload: Cow<'a, str>,
    #[serde(default)]
    track: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawMark {
    name: String,
}

#[derive(Deserialize)]
struct RawDtmf {
    digit: String,
}

/// A number sent as `"5"` or `5`.
fn flexible_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flex<'a> {
        N(u64),
        S(&'a str),
        Owned(String),
    }
    match Flex::deserialize(d)? {
        Flex::N(n) => Ok(n),
        Flex::S(s) => s.trim().parse().map_err(serde::de::Error::custom),
        Flex::Owned(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("'{0}' message without its body")]
    Missing(&'static str),
}

/// Parses one text frame from Twilio.
pub fn parse(text: &str) -> Result<Inbound<'_>, WireError> {
    let raw: Raw<'_> = serde_json::from_str(text).map_err(|e| WireError::Malformed(e.to_string()))?;
    Ok(match raw.event.as_ref() {
        "media" => {
            let media = raw.media.ok_or(WireError::Missing("media"))?;
            if media.track.as_deref().is_some_and(|t| t != "inbound" && t != "inbound_track") {
                return Ok(Inbound::Unknown(format!("media on track {:?}", media.track)));
            }
            if !is_base64(&media.payload) {
                return Err(WireError::Malformed("media payload is not base64".into()));
            }
            Inbound::Media { timestamp_ms: media.timestamp, payload: media.payload }
        }
        "connected" => Inbound::Connected,
        "start" => Inbound::Start(raw.start.ok_or(WireError::Missing("start"))?),
        "mark" => Inbound::Mark { name: raw.mark.ok_or(WireError::Missing("mark"))?.name },
        "dtmf" => Inbound::Dtmf { digit: raw.dtmf.ok_or(WireError::Missing("dtmf"))?.digit },
        "stop" => Inbound::Stop,
        other => Inbound::Unknown(other.to_string()),
    })
}

/// The two messages that arrive many times a second, read by the fast path.
#[derive(Debug, PartialEq, Eq)]
pub enum Frequent<'a> {
    Media { timestamp_ms: u64, payload: &'a str },
    Mark { name: &'a str },
}

/// The hot path: a caller `media` frame or a `mark` echo, found without a
/// JSON tree. It answers only when [`parse`] would answer the same
/// (`Inbound::Media` or `Inbound::Mark`); for anything else (another event,
/// an escape anywhere, `null`, a field twice, another track, a payload that
/// is not base64) it says `None` and the caller uses [`parse`].
pub fn parse_frequent(text: &str) -> Option<Frequent<'_>> {
    let (mut event, mut media, mut mark) = (None, None, None);
    let (mut timestamp, mut payload, mut track, mut name) = (None, None, None, None);
    // One pass: `media`'s and `mark`'s fields arrive with their parent
    // before the object itself.
    fast_json::fields(text, |parent, key, value| match (parent, key, value) {
        (None, "event", Val::Str(e)) => fast_json::once(&mut event, e),
        (None, "media", Val::Obj(_)) => fast_json::once(&mut media, ()),
        (None, "mark", Val::Obj(_)) => fast_json::once(&mut mark, ()),
        // Fields serde reads with another shape, or that we do not read here.
        (None, "event" | "media" | "mark" | "start" | "dtmf", _) => None,
        (Some("media"), "timestamp", v) => fast_json::once(&mut timestamp, fast_json::number(v)?),
        (Some("media"), "payload", Val::Str(p)) => fast_json::once(&mut payload, p),
        (Some("media"), "track", Val::Str(t)) => fast_json::once(&mut track, t),
        (Some("media"), "payload" | "track", _) => None,
        (Some("mark"), "name", Val::Str(n)) => fast_json::once(&mut name, n),
        (Some("mark"), "name", _) => None,
        _ => Some(()),
    })?;
    match (event?, media, mark) {
        ("media", Some(()), None) => {
            let payload = payload?;
            let inbound = track.is_none_or(|t| t == "inbound" || t == "inbound_track");
            (inbound && is_base64(payload))
                .then_some(Frequent::Media { timestamp_ms: timestamp.unwrap_or(0), payload })
        }
        ("mark", None, Some(())) => Some(Frequent::Mark { name: name? }),
        _ => None,
    }
}

/// Standard base64 characters only: such a payload can be put in JSON as is.
pub fn is_base64(s: &str) -> bool {
    // Branch-free over every byte (no early exit), so the compiler
    // vectorizes it: it runs on every frame, both ways.
    s.bytes().fold(true, |ok, b| {
        let letter = (b | 0x20).wrapping_sub(b'a') < 26;
        let digit = b.wrapping_sub(b'0') < 10;
        ok & (letter | digit | (b == b'+') | (b == b'/') | (b == b'='))
    })
}

/// Bytes of audio in a base64 payload, without decoding it. μ-law at 8 kHz
/// is 8 bytes a millisecond.
pub fn payload_bytes(base64: &str) -> u64 {
    let padding = base64.bytes().rev().take_while(|&b| b == b'=').count();
    (base64.len() / 4 * 3).saturating_sub(padding) as u64
}

#[derive(Serialize)]
struct Outbound<'a, T: Serialize> {
    event: &'a str,
    #[serde(rename = "streamSid")]
    stream_sid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    media: Option<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mark: Option<T>,
}

#[derive(Serialize)]
struct Payload<'a> {
    payload: &'a str,
}

#[derive(Serialize)]
struct Name<'a> {
    name: &'a str,
}

/// Audio to play to the caller (base64 μ-law, forwarded as received).
pub fn media(stream_sid: &str, payload: &str) -> String {
    let out = Outbound { event: "media", stream_sid, media: Some(Payload { payload }), mark: None };
    serde_json::to_string(&out).unwrap_or_default()
}

/// Asks Twilio to echo `name` once everything sent before it has played.
pub fn mark(stream_sid: &str, name: &str) -> String {
    let out = Outbound { event: "mark", stream_sid, media: None, mark: Some(Name { name }) };
    serde_json::to_string(&out).unwrap_or_default()
}

/// A stream id as it goes into every message we write (quoted, escaped),
/// made once per call so the per-frame templates only copy it.
pub fn quoted_sid(stream_sid: &str) -> String {
    serde_json::to_string(stream_sid).unwrap_or_else(|_| "\"\"".to_string())
}

/// [`media`] as the pieces of its template, to be written one after the
/// other (straight into the socket's frame buffer): `sid` from
/// [`quoted_sid`], `payload` already checked with [`is_base64`] (so nothing
/// needs escaping).
pub fn media_parts<'a>(sid: &'a str, payload: &'a str) -> [&'a str; 5] {
    [r#"{"event":"media","streamSid":"#, sid, r#","media":{"payload":""#, payload, r#""}}"#]
}

/// [`mark`] as the pieces of its template, like [`media_parts`]; `name`
/// needs no escaping (the bridge's are numbers).
pub fn mark_parts<'a>(sid: &'a str, name: &'a str) -> [&'a str; 5] {
    [r#"{"event":"mark","streamSid":"#, sid, r#","mark":{"name":""#, name, r#""}}"#]
}

/// Drops every queued, unplayed bit of audio at once (barge-in).
pub fn clear(stream_sid: &str) -> String {
    let out: Outbound<'_, Name<'_>> = Outbound { event: "clear", stream_sid, media: None, mark: None };
    serde_json::to_string(&out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn base64_is_exactly_the_standard_alphabet() {
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=';
            let text = String::from_utf8_lossy(&[b'A', b, b'z']).into_owned();
            assert_eq!(is_base64(&text), expected, "byte {b:#04x}");
        }
        assert!(is_base64(""));
        assert!(is_base64("//8+AZaz09=="));
        assert!(!is_base64("//8+AZ az09=="));
    }

    #[test]
    fn every_twilio_message_parses() {
        assert_eq!(
            parse(r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#).unwrap(),
            Inbound::Connected
        );
        let start = parse(
            r#"{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC1","streamSid":"MZ1","callSid":"CA1",
            "tracks":["inbound"],"customParameters":{"businessId":"b1","from":"+13125550142"},
            "mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}},"streamSid":"MZ1"}"#,
        )
        .unwrap();
        let Inbound::Start(start) = start else { panic!("{start:?}") };
        assert_eq!((start.stream_sid.as_str(), start.call_sid.as_str()), ("MZ1", "CA1"));
        assert_eq!(start.custom_parameters["businessId"], "b1");
        assert_eq!(start.media_format.unwrap().sample_rate, 8000);
        let media = parse(
            r#"{"event":"media","sequenceNumber":"4","media":{"track":"inbound","chunk":"2","timestamp":"5","payload":"/w=="},"streamSid":"MZ1"}"#,
        )
        .unwrap();
        assert_eq!(media, Inbound::Media { timestamp_ms: 5, payload: Cow::Borrowed("/w==") });
        // Numbers as numbers, and an escaped slash, are fine too.
        let media = parse(r#"{"event":"media","media":{"timestamp":40,"payload":"\/w=="}}"#).unwrap();
        assert_eq!(media, Inbound::Media { timestamp_ms: 40, payload: Cow::Borrowed("/w==") });
        assert_eq!(
            parse(r#"{"event":"mark","sequenceNumber":"4","streamSid":"MZ1","mark":{"name":"7"}}"#).unwrap(),
            Inbound::Mark { name: "7".into() }
        );
        assert_eq!(
            parse(r#"{"event":"dtmf","streamSid":"MZ1","dtmf":{"track":"inbound_track","digit":"1"}}"#)
                .unwrap(),
            Inbound::Dtmf { digit: "1".into() }
        );
        assert_eq!(
            parse(r#"{"event":"stop","stop":{"accountSid":"AC1","callSid":"CA1"},"streamSid":"MZ1"}"#)
                .unwrap(),
            Inbound::Stop
        );
        assert_eq!(parse(r#"{"event":"future_thing"}"#).unwrap(), Inbound::Unknown("future_thing".into()));
    }

    #[test]
    fn malformed_messages_are_errors_not_panics() {
        for bad in [
            "",
            "not json",
            "{}",
            r#"{"event":"media"}"#,
            r#"{"event":"media","media":{"timestamp":"soon","payload":"AA=="}}"#,
            r#"{"event":"media","media":{"timestamp":"1","payload":"\"><x"}}"#,
            r#"{"event":"start"}"#,
            r#"{"event":"mark","mark":{}}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    /// The fast path agrees with the full parse whenever it answers.
    fn agrees(text: &str) -> Option<Frequent<'_>> {
        let fast = parse_frequent(text)?;
        match (&fast, parse(text).unwrap()) {
            (Frequent::Media { timestamp_ms, payload }, Inbound::Media { timestamp_ms: t, payload: p }) => {
                assert_eq!((*timestamp_ms, *payload), (t, p.as_ref()), "{text}");
            }
            (Frequent::Mark { name }, Inbound::Mark { name: n }) => assert_eq!(*name, n, "{text}"),
            (fast, slow) => panic!("{text}: fast {fast:?}, full {slow:?}"),
        }
        Some(fast)
    }

    #[test]
    fn frequent_messages_take_the_fast_path() {
        let media = r#"{"event":"media","sequenceNumber":"4","media":{"track":"inbound","chunk":"2","timestamp":"5","payload":"/w=="},"streamSid":"MZ1"}"#;
        assert_eq!(agrees(media), Some(Frequent::Media { timestamp_ms: 5, payload: "/w==" }));
        // Numbers as numbers, any field order, whitespace, no track.
        let media = " {\"media\": {\"payload\":\"AAAA\", \"timestamp\": 40},\n\"event\":\"media\"} ";
        assert_eq!(agrees(media), Some(Frequent::Media { timestamp_ms: 40, payload: "AAAA" }));
        assert_eq!(
            agrees(r#"{"event":"media","media":{"track":"inbound_track","payload":"AAAA"}}"#),
            Some(Frequent::Media { timestamp_ms: 0, payload: "AAAA" })
        );
        // A real 20 ms frame: the payload is past the short strings' scan.
        let payload = format!("{}AA==", "/w".repeat(106));
        let media = format!(
            r#"{{"event":"media","sequenceNumber":"4","media":{{"track":"inbound","chunk":"2","timestamp":"5","payload":"{payload}"}},"streamSid":"MZ0123456789abcdef0123456789abcdef"}}"#
        );
        assert_eq!(agrees(&media), Some(Frequent::Media { timestamp_ms: 5, payload: &payload }));
        let mark = r#"{"event":"mark","sequenceNumber":"4","streamSid":"MZ1","mark":{"name":"7"}}"#;
        assert_eq!(agrees(mark), Some(Frequent::Mark { name: "7" }));
    }

    #[test]
    fn odd_but_valid_messages_fall_back_to_the_full_parse() {
        for text in [
            // An escaped slash in the payload: valid JSON, same audio.
            r#"{"event":"media","media":{"timestamp":40,"payload":"\/w=="}}"#,
            // An escape in a field the fast path does not even read.
            r#"{"event":"media","streamSid":"MZ\u0031","media":{"timestamp":"1","payload":"AAAA"}}"#,
            r#"{"event":"\u006dedia","media":{"timestamp":"1","payload":"AAAA"}}"#,
            r#"{"event":"media","media":{"timestamp":"1","payload":"AAAA","chunk":null}}"#,
            r#"{"event":"media","media":{"timestamp":" 1","payload":"AAAA"}}"#,
            r#"{"event":"media","media":{"timestamp":"1","payload":"AAAA"},"tracks":["inbound"]}"#,
            r#"{"event":"media","media":{"track":"outbound","payload":"AAAA"}}"#,
            r#"{"event":"mark","mark":{"name":"a\"b"}}"#,
            r#"{"event":"mark","mark":{"name":"7","x":{"y":1}}}"#,
            r#"{"event":"start","start":{"streamSid":"MZ1","callSid":"CA1"}}"#,
            r#"{"event":"stop","streamSid":"MZ1"}"#,
        ] {
            assert!(parse_frequent(text).is_none(), "{text}");
            assert!(parse(text).is_ok(), "{text}");
        }
        assert!(matches!(
            parse(r#"{"event":"media","media":{"timestamp":40,"payload":"\/w=="}}"#).unwrap(),
            Inbound::Media { timestamp_ms: 40, .. }
        ));
    }

    #[test]
    fn malformed_messages_are_refused_by_both_paths() {
        for text in [
            r#"{"event":"media","media":{"timestamp":"soon","payload":"AAAA"}}"#,
            r#"{"event":"media","media":{"timestamp":"1","payload":"AA A"}}"#,
            r#"{"event":"media","media":{"timestamp":"1"}}"#,
            r#"{"event":"media","event":"media","media":{"payload":"AAAA"}}"#,
            r#"{"event":"media","media":{"payload":"AAAA","payload":"AAAA"}}"#,
            r#"{"event":"media","media":{"payload":"AAAA"},"mark":{}}"#,
            r#"{"event":"mark","mark":{"name":7}}"#,
            r#"{"event":"mark","mark":{}}"#,
            r#"{"event":"media","media":{"payload":"AAAA"}"#,
        ] {
            assert!(parse_frequent(text).is_none(), "{text}");
            assert!(parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn outbound_messages_and_durations() {
        assert_eq!(media("MZ1", "AAAA"), r#"{"event":"media","streamSid":"MZ1","media":{"payload":"AAAA"}}"#);
        assert_eq!(mark("MZ1", "3"), r#"{"event":"mark","streamSid":"MZ1","mark":{"name":"3"}}"#);
        assert_eq!(clear("MZ1"), r#"{"event":"clear","streamSid":"MZ1"}"#);
        // The templates write exactly what the serializer writes, odd stream ids included.
        for sid in ["MZ1", "MZ\"odd\\", "MZé"] {
            assert_eq!(media_parts(&quoted_sid(sid), "AAAA").concat(), media(sid, "AAAA"));
            assert_eq!(mark_parts(&quoted_sid(sid), "31").concat(), mark(sid, "31"));
        }
        // 160 bytes (20 ms) is 216 base64 characters, two of them padding.
        assert_eq!(payload_bytes(&format!("{}AA==", "A".repeat(212))), 160);
        assert_eq!(payload_bytes("AAA="), 2);
        assert_eq!(payload_bytes(&format!("{}AAA=", "A".repeat(4 * 266))), 800);
    }
}
