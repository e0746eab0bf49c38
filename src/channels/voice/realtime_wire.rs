//! OpenAI Realtime API messages, as a codec. We send the GA session shape
//! (the beta interface was switched off in 2026) and accept both GA and beta
//! event names on receipt, since other Realtime-compatible servers still use
//! them: [`ServerEvent`] is the one place that knows provider event names
//! (GA names, with the beta name of the same event as an alias).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::fast_json::{self, Val};

/// A server event the bridge acts on, parsed once with only the fields it
/// reads; every other event (rate limits, content parts, text deltas...,
/// or one this code has never heard of) is [`ServerEvent::Other`].
#[derive(Debug, PartialEq, Deserialize)]
#[serde(tag = "type")]
pub enum ServerEvent {
    #[serde(rename = "session.created")]
    SessionCreated,
    #[serde(rename = "session.updated")]
    SessionUpdated,
    /// A response began; without its `response` nothing is known to be in progress.
    #[serde(rename = "response.created")]
    ResponseCreated { response: Option<Response> },
    /// Base64 audio of an assistant item; a delta missing either is skipped.
    /// Usually read by [`parse_audio_delta`] instead.
    #[serde(rename = "response.output_audio.delta", alias = "response.audio.delta")]
    AudioDelta { item_id: Option<String>, delta: Option<String> },
    /// What the assistant said in an item, in full.
    #[serde(rename = "response.output_audio_transcript.done", alias = "response.audio_transcript.done")]
    AudioTranscriptDone {
        #[serde(default)]
        item_id: String,
        #[serde(default)]
        transcript: String,
    },
    /// Server VAD heard the caller: the barge-in trigger.
    #[serde(rename = "input_audio_buffer.speech_started")]
    SpeechStarted,
    #[serde(rename = "input_audio_buffer.speech_stopped")]
    SpeechStopped,
    /// What the caller said, transcribed.
    #[serde(rename = "conversation.item.input_audio_transcription.completed")]
    InputTranscriptDone {
        #[serde(default)]
        transcript: String,
    },
    #[serde(rename = "response.function_call_arguments.done")]
    FunctionArgumentsDone {
        #[serde(default)]
        call_id: String,
        #[serde(default)]
        name: String,
        #[serde(default)]
        arguments: String,
    },
    /// Always sent, whatever the outcome; a missing `response` has an unknown status.
    #[serde(rename = "response.done")]
    ResponseDone {
        #[serde(default)]
        response: Response,
    },
    #[serde(rename = "error")]
    Error {
        #[serde(default)]
        error: ErrorBody,
    },
    /// Known but not needed, or unknown: skipped.
    #[serde(other)]
    Other,
}

/// `response` of `response.created` / `response.done`.
#[derive(Debug, Default, PartialEq, Deserialize)]
pub struct Response {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub status: ResponseStatus,
}

/// How a response ended (`in_progress` while it runs).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseStatus {
    Completed,
    Cancelled,
    Failed,
    Incomplete,
    InProgress,
    /// Missing, or a status this code does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
pub struct ErrorBody {
    #[serde(default, rename = "type")]
    pub error_type: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

pub fn parse(text: &str) -> Result<ServerEvent, serde_json::Error> {
    serde_json::from_str(text)
}

/// The names of [`ServerEvent::AudioDelta`], GA then beta, for the fast path.
const AUDIO_DELTA: [&str; 2] = ["response.output_audio.delta", "response.audio.delta"];

/// A model audio chunk, as the fast path finds it.
#[derive(Debug, PartialEq, Eq)]
pub struct AudioDelta<'a> {
    pub item_id: &'a str,
    /// Base64 audio, as sent.
    pub delta: &'a str,
}

/// The hot path: `response.output_audio.delta` (or beta `response.audio.delta`)
/// with its item and audio, found without a JSON tree. It answers only when
/// [`parse`] would give the same event, item and delta; for any other event,
/// or anything unusual (an escape anywhere, `null`, a field it reads twice
/// or of another type), it says `None` and the caller uses [`parse`]. The
/// delta's other fields are not read by serde either, so they may hold
/// anything the scanner accepts.
pub fn parse_audio_delta(text: &str) -> Option<AudioDelta<'_>> {
    let (mut event_type, mut item_id, mut delta) = (None, None, None);
    fast_json::fields(text, |parent, key, value| match (parent, key, value) {
        (None, "type", Val::Str(t)) => fast_json::once(&mut event_type, t),
        (None, "item_id", Val::Str(i)) => fast_json::once(&mut item_id, i),
        (None, "delta", Val::Str(d)) => fast_json::once(&mut delta, d),
        (None, "type" | "item_id" | "delta", _) => None,
        _ => Some(()),
    })?;
    AUDIO_DELTA.contains(&event_type?).then_some(AudioDelta { item_id: item_id?, delta: delta? })
}

/// [`append`] as the pieces of its template, to be written one after the
/// other (straight into the socket's frame buffer); `audio` already checked
/// as base64 (so nothing needs escaping).
pub fn append_parts(audio: &str) -> [&str; 3] {
    [r#"{"type":"input_audio_buffer.append","audio":""#, audio, r#""}"#]
}

/// How the model session is set up for a phone call.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub model: String,
    pub instructions: String,
    pub voice: String,
    pub transcription_model: String,
    /// ISO 639-1, for transcription.
    pub language: String,
    pub vad_threshold: f64,
    pub vad_prefix_padding_ms: u32,
    pub vad_silence_ms: u32,
    /// Realtime-shaped tool definitions.
    pub tools: Vec<Value>,
}

/// `session.update`, GA shape: G.711 μ-law both ways, so Twilio audio is
/// forwarded as is.
pub fn session_update(c: &SessionConfig) -> String {
    let mut transcription = json!({ "model": c.transcription_model });
    if !c.language.is_empty() {
        transcription["language"] = json!(c.language);
    }
    json!({
        "type": "session.update",
        "session": {
            "type": "realtime",
            "model": c.model,
            "instructions": c.instructions,
            "output_modalities": ["audio"],
            "audio": {
                "input": {
                    "format": { "type": "audio/pcmu" },
                    "noise_reduction": { "type": "near_field" },
                    "transcription": transcription,
                    "turn_detection": {
                        "type": "server_vad",
                        "threshold": c.vad_threshold,
                        "prefix_padding_ms": c.vad_prefix_padding_ms,
                        "silence_duration_ms": c.vad_silence_ms,
                        "create_response": true,
                        "interrupt_response": true
                    }
                },
                "output": { "format": { "type": "audio/pcmu" }, "voice": c.voice }
            },
            "tools": c.tools,
            "tool_choice": "auto"
        }
    })
    .to_string()
}

/// Only the instructions change (say, the call became an emergency).
pub fn instructions_update(instructions: &str) -> String {
    json!({ "type": "session.update", "session": { "type": "realtime", "instructions": instructions } })
        .to_string()
}

#[derive(Serialize)]
struct Append<'a> {
    #[serde(rename = "type")]
    event_type: &'static str,
    audio: &'a str,
}

/// Caller audio, forwarded as Twilio sent it (base64 μ-law).
pub fn append(audio: &str) -> String {
    serde_json::to_string(&Append { event_type: "input_audio_buffer.append", audio }).unwrap_or_default()
}

/// A response, optionally with instructions for this response only.
pub fn response_create(instructions: Option<&str>) -> String {
    match instructions {
        Some(text) => json!({ "type": "response.create", "response": { "instructions": text } }).to_string(),
        None => json!({ "type": "response.create" }).to_string(),
    }
}

/// The output of a function call.
pub fn function_output(call_id: &str, output: &Value) -> String {
    json!({ "type": "conversation.item.create",
        "item": { "type": "function_call_output", "call_id": call_id, "output": output.to_string() } })
    .to_string()
}

/// A note to the model in the conversation (the caller does not hear it).
pub fn system_note(text: &str) -> String {
    json!({ "type": "conversation.item.create",
        "item": { "type": "message", "role": "system", "content": [{ "type": "input_text", "text": text }] } })
    .to_string()
}

/// Cuts an assistant item's audio at what the caller actually heard.
pub fn truncate(item_id: &str, audio_end_ms: u64) -> String {
    json!({ "type": "conversation.item.truncate", "item_id": item_id, "content_index": 0,
        "audio_end_ms": audio_end_ms })
    .to_string()
}

/// `wss://…/realtime?model=…` from the REST base URL (`https://api.openai.com/v1`).
pub fn realtime_url(base_url: &str, model: &str) -> String {
    let base = base_url.trim_end_matches('/');
    let ws = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base.to_string()
    };
    let model: String = url::form_urlencoded::byte_serialize(model.as_bytes()).collect();
    format!("{ws}/realtime?model={model}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The event's name with a body the variant accepts.
    fn named(event_type: &str) -> ServerEvent {
        parse(&json!({ "type": event_type, "item_id": "i", "delta": "AAAA" }).to_string()).unwrap()
    }

    #[test]
    fn ga_and_beta_names_mean_the_same() {
        for (ga, beta) in [
            ("response.output_audio.delta", "response.audio.delta"),
            ("response.output_audio_transcript.done", "response.audio_transcript.done"),
        ] {
            assert_eq!(named(ga), named(beta));
            assert_ne!(named(ga), ServerEvent::Other);
        }
        assert_eq!(named("rate_limits.updated"), ServerEvent::Other);
        assert_eq!(named("something.new"), ServerEvent::Other);
        // The text events kept no beta alias of ours: not acted on under either name.
        assert_eq!(named("response.output_audio_transcript.delta"), ServerEvent::Other);
    }

    #[test]
    fn server_events_parse() {
        let e = parse(
            r#"{"type":"response.output_audio.delta","event_id":"e1","response_id":"resp_1","item_id":"item_1",
            "output_index":0,"content_index":0,"delta":"//8="}"#,
        )
        .unwrap();
        assert_eq!(e, ServerEvent::AudioDelta { item_id: Some("item_1".into()), delta: Some("//8=".into()) });
        let e =
            parse(r#"{"type":"response.done","response":{"id":"resp_1","status":"cancelled","output":[]}}"#)
                .unwrap();
        let ServerEvent::ResponseDone { response } = e else { panic!("{e:?}") };
        assert_eq!(response.status, ResponseStatus::Cancelled);
        let e = parse(
            r#"{"type":"response.function_call_arguments.done","call_id":"call_1","name":"end_call","arguments":"{}"}"#,
        )
        .unwrap();
        let ServerEvent::FunctionArgumentsDone { call_id, name, .. } = e else { panic!("{e:?}") };
        assert_eq!((call_id.as_str(), name.as_str()), ("call_1", "end_call"));
        let e =
            parse(r#"{"type":"error","error":{"type":"invalid_request_error","code":"x","message":"bad"}}"#)
                .unwrap();
        let ServerEvent::Error { error } = e else { panic!("{e:?}") };
        assert_eq!(error.message.as_deref(), Some("bad"));
        // A large session object is skipped, not kept.
        assert_eq!(
            parse(r#"{"type":"session.created","session":{"a":[1,2,{"b":3}]}}"#).unwrap(),
            ServerEvent::SessionCreated
        );
    }

    #[test]
    fn missing_fields_read_as_before() {
        // No response: nothing known to be in progress; a done one has an unknown status.
        assert_eq!(
            parse(r#"{"type":"response.created"}"#).unwrap(),
            ServerEvent::ResponseCreated { response: None }
        );
        assert_eq!(
            parse(r#"{"type":"response.done"}"#).unwrap(),
            ServerEvent::ResponseDone { response: Response::default() }
        );
        let e = parse(r#"{"type":"response.done","response":{"id":"r","status":"paused"}}"#).unwrap();
        assert!(
            matches!(e, ServerEvent::ResponseDone { response } if response.status == ResponseStatus::Unknown)
        );
        assert_eq!(
            parse(r#"{"type":"conversation.item.input_audio_transcription.completed"}"#).unwrap(),
            ServerEvent::InputTranscriptDone { transcript: String::new() }
        );
        assert_eq!(parse(r#"{"type":"error"}"#).unwrap(), ServerEvent::Error { error: ErrorBody::default() });
        // Still refused: no type at all, or a type that is not a string.
        assert!(parse(r#"{"no type":true}"#).is_err());
        assert!(parse(r#"{"type":5}"#).is_err());
    }

    #[test]
    fn client_events_have_the_ga_shape() {
        let update: Value = serde_json::from_str(&session_update(&SessionConfig {
            model: "gpt-realtime".into(),
            instructions: "Be brief.".into(),
            voice: "marin".into(),
            transcription_model: "gpt-4o-mini-transcribe".into(),
            language: "en".into(),
            vad_threshold: 0.6,
            vad_prefix_padding_ms: 300,
            vad_silence_ms: 500,
            tools: vec![json!({ "type": "function", "name": "end_call" })],
        }))
        .unwrap();
        let s = &update["session"];
        assert_eq!(s["type"], "realtime");
        assert_eq!(s["audio"]["input"]["format"]["type"], "audio/pcmu");
        assert_eq!(s["audio"]["output"]["format"]["type"], "audio/pcmu");
        assert_eq!(s["audio"]["output"]["voice"], "marin");
        assert_eq!(s["audio"]["input"]["turn_detection"]["threshold"], 0.6);
        assert_eq!(s["audio"]["input"]["transcription"]["language"], "en");
        assert!(s.get("modalities").is_none() && s.get("input_audio_format").is_none(), "no beta fields");
        assert_eq!(append("AAAA"), r#"{"type":"input_audio_buffer.append","audio":"AAAA"}"#);
        // The template writes exactly what the serializer writes.
        assert_eq!(append_parts("AAAA").concat(), append("AAAA"));
        let t: Value = serde_json::from_str(&truncate("item_1", 1234)).unwrap();
        assert_eq!(
            t,
            json!({"type":"conversation.item.truncate","item_id":"item_1","content_index":0,"audio_end_ms":1234})
        );
        let o: Value = serde_json::from_str(&function_output("call_1", &json!({"ok": true}))).unwrap();
        assert_eq!(o["item"]["output"], "{\"ok\":true}");
    }

    /// The fast path agrees with the full parse whenever it answers.
    fn agrees(text: &str) -> Option<AudioDelta<'_>> {
        let fast = parse_audio_delta(text)?;
        let full = parse(text).unwrap();
        assert_eq!(
            full,
            ServerEvent::AudioDelta { item_id: Some(fast.item_id.into()), delta: Some(fast.delta.into()) },
            "{text}"
        );
        Some(fast)
    }

    #[test]
    fn audio_deltas_take_the_fast_path() {
        let ga = r#"{"type":"response.output_audio.delta","event_id":"e1","response_id":"resp_1","item_id":"item_1","output_index":0,"content_index":0,"delta":"//8="}"#;
        assert_eq!(agrees(ga), Some(AudioDelta { item_id: "item_1", delta: "//8=" }));
        let beta = "{ \"delta\" : \"AAAA\",\n \"item_id\":\"item_2\", \"type\":\"response.audio.delta\" }";
        assert_eq!(agrees(beta), Some(AudioDelta { item_id: "item_2", delta: "AAAA" }));
        // Fields it does not read may be anything in the subset, nested objects included.
        let extra = r#"{"type":"response.audio.delta","item_id":"i","delta":"AAAA","future":{"a":1}}"#;
        assert_eq!(agrees(extra), Some(AudioDelta { item_id: "i", delta: "AAAA" }));
    }

    #[test]
    fn other_or_odd_events_fall_back_to_the_full_parse() {
        for text in [
            // Escapes: valid JSON, the same meaning, not for the fast path.
            r#"{"type":"response.output_audio.delta","item_id":"item_1","delta":"\/\/8="}"#,
            r#"{"type":"response.output_audio.delta","item_id":"item\u005f1","delta":"AAAA"}"#,
            r#"{"type":"response.output_audio\u002edelta","item_id":"i","delta":"AAAA"}"#,
            r#"{"type":"response.output_audio.delta","event_id":"e\n","item_id":"i","delta":"AAAA"}"#,
            // null, arrays, floats, negative numbers.
            r#"{"type":"response.output_audio.delta","item_id":"i","delta":"AAAA","response_id":null}"#,
            r#"{"type":"response.output_audio.delta","item_id":"i","delta":"AAAA","logprobs":[]}"#,
            r#"{"type":"response.output_audio.delta","item_id":"i","delta":"AAAA","x":1.5}"#,
            r#"{"type":"response.output_audio.delta","item_id":"i","delta":"AAAA","output_index":-1}"#,
            // Missing what the bridge needs: the full parse decides.
            r#"{"type":"response.output_audio.delta","delta":"AAAA"}"#,
            // Other events.
            r#"{"type":"response.output_audio_transcript.delta","item_id":"i","delta":"Hello"}"#,
            r#"{"type":"response.done","response":{"id":"resp_1","status":"completed"}}"#,
            r#"{"type":"session.created","session":{"a":[1,2,{"b":3}]}}"#,
        ] {
            assert!(parse_audio_delta(text).is_none(), "{text}");
            assert!(parse(text).is_ok(), "{text}");
        }
        let e =
            parse(r#"{"type":"response.output_audio.delta","item_id":"item_1","delta":"\/\/8="}"#).unwrap();
        assert_eq!(e, ServerEvent::AudioDelta { item_id: Some("item_1".into()), delta: Some("//8=".into()) });
    }

    #[test]
    fn deltas_serde_refuses_are_refused_by_the_fast_path_too() {
        for text in [
            r#"{"type":"response.output_audio.delta","type":"response.output_audio.delta","item_id":"i","delta":"AAAA"}"#,
            r#"{"type":"response.output_audio.delta","item_id":"i","delta":"AAAA","delta":"AAAA"}"#,
            r#"{"type":"response.output_audio.delta","item_id":7,"delta":"AAAA"}"#,
            r#"{"type":"response.output_audio.delta","item_id":"i","delta":{"a":"b"}}"#,
            r#"{"type":"response.output_audio.delta","item_id":"i","delta":"AAAA""#,
        ] {
            assert!(parse_audio_delta(text).is_none(), "{text}");
            assert!(parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn fields_a_delta_does_not_read_do_not_matter_to_either_parse() {
        for text in [
            r#"{"type":"response.output_audio.delta","item_id":"i","delta":"AAAA","response_id":5}"#,
            r#"{"type":"response.output_audio.delta","item_id":"i","delta":"AAAA","audio_start_ms":"5"}"#,
            r#"{"type":"response.output_audio.delta","item_id":"i","delta":"AAAA","name":"a","name":"b"}"#,
            r#"{"type":"response.output_audio.delta","item_id":"i","delta":"AAAA","response":{"id":7}}"#,
        ] {
            assert_eq!(agrees(text), Some(AudioDelta { item_id: "i", delta: "AAAA" }), "{text}");
        }
    }

    #[test]
    fn realtime_urls() {
        assert_eq!(
            realtime_url("https://api.openai.com/v1", "gpt-realtime"),
            "wss://api.openai.com/v1/realtime?model=gpt-realtime"
        );
        assert_eq!(
            realtime_url("http://127.0.0.1:9000/v1/", "a b"),
            "ws://127.0.0.1:9000/v1/realtime?model=a+b"
        );
    }
}
