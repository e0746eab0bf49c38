//! The two wire protocols of a live call: whatever arrives on the Twilio
//! media stream or from the Realtime API is parsed without panicking, and
//! what we write parses back.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::{config, text};
use crate::channels::voice::realtime_wire as rt;
use crate::channels::voice::twilio_wire::{self as tw, Inbound};

/// A JSON value of any shape, with arbitrary strings in it.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(text(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const TWILIO_EVENTS: &[&str] = &["connected", "start", "media", "mark", "dtmf", "stop", "other"];
const REALTIME_EVENTS: &[&str] = &[
    "response.output_audio.delta",
    "response.audio.delta",
    "input_audio_buffer.speech_started",
    "response.created",
    "response.done",
    "conversation.item.input_audio_transcription.completed",
    "response.function_call_arguments.done",
    "error",
    "session.created",
];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_text_on_either_socket_is_parsed_or_refused(t in text(), bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = tw::parse(&t);
        let _ = rt::parse(&t);
        let lossy = String::from_utf8_lossy(&bytes);
        let _ = tw::parse(&lossy);
        let _ = rt::parse(&lossy);
    }

    /// Messages of the right event with fields of any shape.
    #[test]
    fn known_events_with_any_fields(
        twilio in prop::sample::select(TWILIO_EVENTS),
        realtime in prop::sample::select(REALTIME_EVENTS),
        fields in prop::collection::btree_map(
            prop::sample::select(vec!["media", "start", "mark", "dtmf", "delta", "item_id", "response", "error",
                "transcript", "arguments", "payload", "timestamp", "customParameters", "callSid", "streamSid"]),
            json_value(), 0..5),
    ) {
        let mut message: serde_json::Map<String, Value> =
            fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        message.insert("event".into(), json!(twilio));
        let _ = tw::parse(&Value::Object(message.clone()).to_string());
        message.insert("type".into(), json!(realtime));
        let _ = rt::parse(&Value::Object(message).to_string());
    }

    /// The fast paths answer only when the full parse says the same: for
    /// messages of the hot events with fields of any shape, any order,
    /// written compactly or spread out.
    #[test]
    fn fast_paths_agree_with_the_full_parse(
        twilio in prop::sample::select(TWILIO_EVENTS),
        realtime in prop::sample::select(REALTIME_EVENTS),
        inner in prop::collection::btree_map(
            prop::sample::select(vec!["payload", "timestamp", "track", "name", "chunk"]),
            prop_oneof![json_value(), "[A-Za-z0-9+/=]{0,40}".prop_map(Value::String),
                (0u64..100_000).prop_map(|n| json!(n)), (0u64..100_000).prop_map(|n| json!(n.to_string()))],
            0..4),
        outer in prop::collection::btree_map(
            prop::sample::select(vec!["streamSid", "sequenceNumber", "delta", "item_id", "response_id",
                "audio_start_ms", "name", "event_id", "output_index", "start"]),
            prop_oneof![json_value(), "[A-Za-z0-9+/=]{0,40}".prop_map(Value::String),
                (0u64..1000).prop_map(|n| json!(n))],
            0..5),
        pretty in any::<bool>(),
    ) {
        let mut message: serde_json::Map<String, Value> =
            outer.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let inner: serde_json::Map<String, Value> = inner.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        message.insert("event".into(), json!(twilio));
        message.insert(twilio.into(), Value::Object(inner));
        message.insert("type".into(), json!(realtime));
        let value = Value::Object(message);
        let text = if pretty { serde_json::to_string_pretty(&value) } else { serde_json::to_string(&value) }
            .unwrap_or_default();
        match tw::parse_frequent(&text) {
            Some(tw::Frequent::Media { timestamp_ms, payload }) => {
                let full = tw::parse(&text).ok();
                prop_assert_eq!(full, Some(Inbound::Media { timestamp_ms, payload: payload.into() }));
            }
            Some(tw::Frequent::Mark { name }) => {
                prop_assert_eq!(tw::parse(&text).ok(), Some(Inbound::Mark { name: name.to_string() }));
            }
            None => {}
        }
        if let Some(audio) = rt::parse_audio_delta(&text) {
            match rt::parse(&text) {
                Ok(full) => {
                    let fast = rt::ServerEvent::AudioDelta {
                        item_id: Some(audio.item_id.into()),
                        delta: Some(audio.delta.into()),
                    };
                    prop_assert_eq!(full, fast);
                }
                Err(e) => prop_assert!(false, "the fast path read {} but serde refused it: {}", text, e),
            }
        }
    }

    /// What we send Twilio is JSON it reads back as sent.
    #[test]
    fn what_we_write_parses_back(stream in text(), name in text(), payload in "[A-Za-z0-9+/]{0,64}") {
        let media: Value = serde_json::from_str(&tw::media(&stream, &payload)).unwrap_or_default();
        prop_assert_eq!(&media["streamSid"], &json!(stream));
        prop_assert_eq!(&media["media"]["payload"], &json!(payload));
        let mark: Value = serde_json::from_str(&tw::mark(&stream, &name)).unwrap_or_default();
        prop_assert_eq!(&mark["mark"]["name"], &json!(name));
        let echo = json!({ "event": "mark", "streamSid": stream, "mark": { "name": name } }).to_string();
        prop_assert_eq!(tw::parse(&echo).ok(), Some(Inbound::Mark { name: name.clone() }));
        let note: Value = serde_json::from_str(&rt::system_note(&name)).unwrap_or_default();
        prop_assert!(note.is_object());
    }
}
