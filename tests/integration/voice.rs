//! The phone channel on the real binary: Twilio webhooks signed as Twilio
//! signs them, media streams from a Twilio-faithful client, the OpenAI
//! Realtime API and Twilio's REST API as local fakes.

use std::collections::BTreeMap;
use std::time::Duration;

use frontdesk::domain::Channel;
use frontdesk::ids::{BusinessId, CallSid};
use serde_json::{json, Value};

use crate::support::fake_media::{b64, tone, twilio_signature, Connect, MediaCall};
use crate::support::fake_twilio::AUTH_TOKEN;
use crate::support::voice::*;

#[tokio::test]
async fn webhooks_need_twilios_signature_and_change_nothing_without_it() {
    let phone = Phone::start(true, &[]).await;
    let params = Phone::call_params(&call_sid(1));
    let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let url = format!("{PUBLIC}/api/voice/incoming");

    let forged = [
        ("unsigned", None),
        ("wrong token", Some(twilio_signature("not-the-token", &url, &params))),
        (
            "signed for http",
            Some(twilio_signature(AUTH_TOKEN, "http://voice.test/api/voice/incoming", &params)),
        ),
        (
            "signed for another path",
            Some(twilio_signature(AUTH_TOKEN, &format!("{PUBLIC}/api/voice/status"), &params)),
        ),
        ("garbage", Some("!!".to_string())),
    ];
    for (what, signature) in forged {
        let (status, body) = phone.post_with("/api/voice/incoming", &params, signature.as_deref()).await;
        assert_eq!(status, 403, "{what}: {body}");
        let error: Value = serde_json::from_str(&body).unwrap();
        assert!(error["error"].as_str().unwrap().contains("X-Twilio-Signature"), "{what}: {body}");
    }
    // A field changed after signing.
    let signature = twilio_signature(AUTH_TOKEN, &url, &params);
    let mut tampered = params.clone();
    tampered.retain(|(k, _)| *k != "From");
    tampered.push(("From", "+13125550000"));
    assert_eq!(phone.post_with("/api/voice/incoming", &tampered, Some(&signature)).await.0, 403);
    for path in
        ["/api/voice/status", "/api/voice/handle-speech", "/api/voice/stream-ended", "/api/voice/recording"]
    {
        assert_eq!(phone.post_with(path, &params, None).await.0, 403, "{path}");
    }
    // No side effect: no call, no conversation.
    assert!(phone.store().call(&CallSid::from(&call_sid(1))).await.is_err());

    // Signed as Twilio signs it (also with the explicit :443 some requests carry).
    let (status, body) = phone.post_with("/api/voice/incoming", &params, Some(&signature)).await;
    assert_eq!(status, 200, "{body}");
    let port_form = twilio_signature(AUTH_TOKEN, "https://voice.test:443/api/voice/incoming", &params);
    assert_eq!(phone.post_with("/api/voice/incoming", &params, Some(&port_form)).await.0, 200);
    let doc = twiml(&body);
    assert!(find(&doc, "Connect").unwrap().attrs["action"].ends_with("/api/voice/stream-ended"));
    let sent: BTreeMap<_, _> = doc
        .iter()
        .filter(|e| e.name == "Parameter")
        .map(|e| (e.attrs["name"].as_str(), e.attrs["value"].as_str()))
        .collect();
    assert_eq!(sent["callSid"], call_sid(1));
    assert_eq!(sent["businessId"], phone.business_id);
    assert!(!sent["token"].is_empty(), "the stream's one-time token");
    let call = phone.store().call(&CallSid::from(&call_sid(1))).await.unwrap();
    assert_eq!(
        (call.mode.map(|m| m.as_str()), call.from_number.as_deref()),
        (Some("realtime"), Some(CALLER))
    );

    // The media stream's upgrade is signed over the wss:// URL too.
    let ws_url = phone.server.url("/api/voice/stream").replace("http://", "ws://");
    for sign in [false] {
        let refused = MediaCall::connect(Connect {
            ws_url: &ws_url,
            public_url: STREAM,
            auth_token: AUTH_TOKEN,
            call_sid: &call_sid(1),
            parameters: vec![],
            auto_playback: false,
            sign,
            on_media: None,
            record: true,
            tls: None,
        })
        .await;
        assert!(refused.err().unwrap().contains("403"));
    }
    let wrong_url = MediaCall::connect(Connect {
        ws_url: &ws_url,
        public_url: "wss://elsewhere.test/api/voice/stream",
        auth_token: AUTH_TOKEN,
        call_sid: &call_sid(1),
        parameters: vec![],
        auto_playback: false,
        sign: true,
        on_media: None,
        record: true,
        tls: None,
    })
    .await;
    assert!(wrong_url.err().unwrap().contains("403"));
    assert_eq!(
        phone.rt().opened.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "no model session for forged streams"
    );
}

#[tokio::test]
async fn other_plans_and_unknown_numbers_hear_a_polite_message() {
    let phone = Phone::start(true, &[]).await;
    phone.fd.ok(&["business", "plan", &phone.business_id, "BASIC"]);
    let doc = phone.incoming(&call_sid(2)).await;
    assert!(find(&doc, "Connect").is_none() && find(&doc, "Gather").is_none(), "{doc:?}");
    assert!(said(&doc).contains("Thank you for calling Test Plumbing"), "{doc:?}");
    assert_eq!(find(&doc, "Say").unwrap().attrs["voice"], "Polly.Joanna");
    assert_eq!(doc.last().unwrap().name, "Hangup");

    let params = [("CallSid", "CA9"), ("From", CALLER), ("To", "+13125559999")];
    let (status, body) = phone.post("/api/voice/incoming", &params).await;
    assert_eq!(status, 200);
    let doc = twiml(&body);
    assert!(said(&doc).contains("not set up"), "{body}");
    assert_eq!(doc.last().unwrap().name, "Hangup");
}

#[tokio::test]
async fn status_callbacks_are_recorded_in_order_whatever_order_they_arrive() {
    let phone = Phone::start(false, &[]).await;
    let sid = call_sid(3);
    phone.incoming(&sid).await;
    for (status, sequence, duration) in
        [("completed", "2", Some("42")), ("ringing", "0", None), ("in-progress", "1", None)]
    {
        let mut params = vec![
            ("CallSid", sid.as_str()),
            ("CallStatus", status),
            ("SequenceNumber", sequence),
            ("To", NUMBER),
            ("From", CALLER),
        ];
        if let Some(d) = duration {
            params.push(("CallDuration", d));
        }
        let (code, _) = phone.post("/api/voice/status", &params).await;
        assert_eq!(code, 204);
    }
    let store = phone.store();
    let call = store.call(&CallSid::from(&sid)).await.unwrap();
    assert_eq!((call.status.as_str(), call.duration_seconds), ("completed", Some(42)));
    let events = store.call_events(&CallSid::from(&sid)).await.unwrap();
    assert_eq!(events.len(), 3);
    // A status for a call the agent never answered is kept too.
    let (code, _) = phone
        .post("/api/voice/status", &[("CallSid", "CAother"), ("CallStatus", "no-answer"), ("To", NUMBER)])
        .await;
    assert_eq!(code, 204);
    let other = store.call(&CallSid::from("CAother")).await.unwrap();
    assert_eq!(
        (other.status.as_str(), other.business_id.as_deref()),
        ("no-answer", Some(phone.business_id.as_str()))
    );
}

#[tokio::test]
async fn a_gather_call_with_the_local_engine_ends_in_a_saved_lead() {
    let phone = Phone::start(false, &[]).await;
    let sid = call_sid(4);
    let doc = phone.incoming(&sid).await;
    let gather = find(&doc, "Gather").unwrap_or_else(|| panic!("{doc:?}"));
    assert_eq!(gather.attrs["input"], "speech");
    assert_eq!(gather.attrs["action"], format!("{PUBLIC}/api/voice/handle-speech"));
    assert_eq!(gather.attrs["actionOnEmptyResult"], "true");
    assert!(said(&doc).contains("Thanks for calling Test Plumbing, this is Pip"), "{doc:?}");

    let doc = phone.say(&sid, "Hi, my kitchen sink is leaking under the cabinet").await;
    assert!(said(&doc).contains("May I have your name?"), "{doc:?}");
    let doc = phone.say(&sid, "Dana Smith").await;
    assert!(said(&doc).contains("Is (312) 555-0142 the best number to reach you on?"), "{doc:?}");
    // Silence once: asked again.
    let doc = phone.say(&sid, "").await;
    assert!(said(&doc).contains("didn't catch that"), "{doc:?}");
    assert!(said(&doc).contains("(312) 555-0142"), "{doc:?}");
    let doc = phone.say(&sid, "Yes").await;
    assert!(said(&doc).contains("address"), "{doc:?}");
    // What is going on was the first thing said: not asked again.
    let doc = phone.say(&sid, "12 Oak Street, Springfield").await;
    assert!(!said(&doc).contains("What's going on"), "{doc:?}");
    assert_eq!(doc.last().unwrap().name, "Hangup", "{doc:?}");
    assert!(said(&doc).contains("Thanks for calling Test Plumbing. Bye now!"), "{doc:?}");

    let call = phone.ended(&sid).await;
    assert_eq!(
        (call.mode.map(|m| m.as_str()), call.ended_reason.map(|r| r.as_str())),
        (Some("gather"), Some("agent_hung_up"))
    );
    // The owner's CRM hears that the call ended (the default preference), once.
    let notes = phone.store().notifications(&BusinessId::from(&phone.business_id)).await.unwrap();
    let ended: Vec<_> = notes.iter().filter(|n| n.kind == "call_ended").collect();
    assert_eq!(ended.len(), 1, "{notes:?}");
    assert_eq!(ended[0].channel, "webhook");
    assert!(call.summary.as_deref().unwrap().contains("Dana Smith"), "{call:?}");
    let lead = phone.lead().await;
    assert_eq!(lead.channel, Channel::Voice);
    assert_eq!(lead.contact_name.as_deref(), Some("Dana Smith"));
    assert_eq!(lead.contact_phone.as_deref(), Some(CALLER));
    assert_eq!(lead.address.as_deref(), Some("12 Oak Street, Springfield"));
    let transcript = phone.store().transcript(lead.conversation_id.as_ref().unwrap()).await.unwrap();
    assert_eq!(transcript.iter().filter(|m| m.role.as_str() == "user").count(), 4, "{transcript:?}");
    assert!(transcript[0].content.contains("kitchen sink"));
    assert_eq!(lead.notes.as_deref(), Some("Hi, my kitchen sink is leaking under the cabinet"));
}

#[tokio::test]
async fn silence_twice_takes_a_message_and_the_recording_is_kept() {
    let phone = Phone::start(false, &[]).await;
    let sid = call_sid(5);
    phone.incoming(&sid).await;
    phone.say(&sid, "").await;
    let doc = phone.say(&sid, "").await;
    let record = find(&doc, "Record").unwrap_or_else(|| panic!("{doc:?}"));
    assert_eq!(record.attrs["action"], format!("{PUBLIC}/api/voice/recording"));
    let url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1";
    let params = [
        ("CallSid", sid.as_str()),
        ("From", CALLER),
        ("To", NUMBER),
        ("RecordingUrl", url),
        ("RecordingDuration", "14"),
        ("Digits", "hangup"),
    ];
    let (status, body) = phone.post("/api/voice/recording", &params).await;
    assert_eq!(status, 200);
    assert_eq!(twiml(&body).last().unwrap().name, "Hangup");
    let call = phone.ended(&sid).await;
    assert_eq!(call.recording_url.as_deref(), Some(url));
    assert_eq!(call.ended_reason.map(|r| r.as_str()), Some("voicemail"));
    // The caller's number makes it a lead to call back.
    let lead = phone.lead().await;
    assert_eq!(lead.contact_phone.as_deref(), Some(CALLER));
    let transcript = phone.store().transcript(lead.conversation_id.as_ref().unwrap()).await.unwrap();
    assert!(transcript.iter().any(|m| m.content.contains(url)), "{transcript:?}");
}

#[tokio::test]
async fn a_realtime_call_configures_the_session_forwards_audio_runs_tools_and_hangs_up_after_goodbye() {
    let phone = Phone::start(true, &[]).await;
    let sid = call_sid(6);
    let doc = phone.incoming(&sid).await;
    let mut call = phone.media(&sid, parameters(&doc), false).await.unwrap();
    // The caller talks before the model session is ready: kept, then sent.
    let early: Vec<Vec<u8>> = (0..10).map(|i| tone(200.0 + i as f64 * 10.0, 20)).collect();
    for frame in &early {
        call.media(frame).await;
    }
    let mut conn = phone.rt().accept(Duration::from_secs(15)).await;
    assert_eq!(conn.authorization.as_deref(), Some("Bearer sk-test-key"));
    assert_eq!(conn.model.as_deref(), Some("gpt-realtime"));

    let update = conn.expect("session.update").await;
    let s = &update["session"];
    assert_eq!(s["type"], "realtime");
    assert_eq!(s["audio"]["input"]["format"]["type"], "audio/pcmu");
    assert_eq!(s["audio"]["output"]["format"]["type"], "audio/pcmu");
    assert_eq!(s["audio"]["output"]["voice"], "cedar");
    assert_eq!(s["audio"]["input"]["turn_detection"]["type"], "server_vad");
    assert_eq!(s["audio"]["input"]["transcription"]["model"], "gpt-4o-mini-transcribe");
    let instructions = s["instructions"].as_str().unwrap();
    for expected in [
        "You are Pip, the cheerful receptionist",
        "May I have your name?",
        "Opening hours",
        "burst",
        "(312) 555-0142",
    ] {
        assert!(instructions.contains(expected), "instructions lack {expected:?}: {instructions}");
    }
    let tools: Vec<&str> =
        s["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        tools,
        ["save_lead_field", "set_emergency_level", "search_knowledge", "transfer_to_human", "end_call"]
    );
    conn.expect("response.create").await;

    // Caller audio reaches the model byte for byte, in order, the early frames included.
    let later: Vec<Vec<u8>> = (0..15).map(|i| tone(500.0 + i as f64 * 7.0, 20)).collect();
    for frame in &later {
        call.media(frame).await;
    }
    conn.wait_appended(25).await;
    let sent: Vec<String> = early.iter().chain(&later).map(|f| b64(f)).collect();
    assert_eq!(*conn.appended.lock().unwrap(), sent);

    // Model audio reaches the caller byte for byte, each chunk followed by a mark.
    let greeting = model_audio(4);
    conn.speak("resp_1", "item_1", &greeting, GREETING);
    for _ in 0..4 {
        call.expect("mark").await;
    }
    {
        let r = call.received.lock().unwrap();
        assert_eq!(r.media, greeting);
        let order: Vec<&str> = r.all.iter().map(|m| m["event"].as_str().unwrap()).collect();
        assert_eq!(order, ["media", "mark", "media", "mark", "media", "mark", "media", "mark"]);
    }
    let marks = call.received.lock().unwrap().marks.clone();
    for mark in &marks {
        call.echo_mark(mark).await;
    }

    // Tools: fields are validated by the engine, knowledge comes from the business's documents.
    conn.caller_said("item_c1", "Hi, this is Dana Smith, are you open on Saturday?");
    conn.function_calls(
        "resp_2",
        &[
            ("call_name", "save_lead_field", json!({ "field": "name", "value": "Dana Smith" })),
            ("call_phone", "save_lead_field", json!({ "field": "phone", "value": "555" })),
            ("call_kb", "search_knowledge", json!({ "query": "open on Saturday" })),
        ],
    );
    let create = conn.expect("response.create").await;
    assert!(create.get("response").is_none(), "a plain response after tool outputs: {create}");
    assert_eq!(conn.function_output("call_name").unwrap()["saved"], true);
    let phone_out = conn.function_output("call_phone").unwrap();
    assert_eq!(phone_out["saved"], false);
    assert!(phone_out["hint"].as_str().unwrap().contains("area code"));
    let kb = conn.function_output("call_kb").unwrap().to_string();
    assert!(kb.contains("Saturdays we work from 8am to 2pm"), "{kb}");
    // Outputs come before the one response request.
    let log = conn.log.lock().unwrap().clone();
    let last_output = log.iter().rposition(|e| e["item"]["type"] == "function_call_output").unwrap();
    let request = log.iter().rposition(|e| e["type"] == "response.create").unwrap();
    assert!(last_output < request);
    conn.speak("resp_3", "item_3", &model_audio(1), "We're open Saturdays from 8 to 2. What's the address?");
    let mark = call.expect("mark").await;
    call.echo_mark(mark["mark"]["name"].as_str().unwrap()).await;

    // The end: goodbye first, hang-up only once it has played.
    conn.function_calls(
        "resp_4",
        &[("call_end", "end_call", json!({ "summary": "Dana, Saturday question" }))],
    );
    let goodbye_request = conn.expect("response.create").await;
    assert!(goodbye_request["response"]["instructions"]
        .as_str()
        .unwrap()
        .contains("Thanks for calling Test Plumbing. Bye now!"));
    let goodbye = model_audio(3);
    conn.speak("resp_5", "item_5", &goodbye, "Thanks for calling Test Plumbing. Bye now!");
    let mut goodbye_marks = Vec::new();
    for _ in 0..3 {
        goodbye_marks.push(call.expect("mark").await["mark"]["name"].as_str().unwrap().to_string());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let update_path = format!("Calls/{sid}");
    assert!(phone.twilio.accepted(&update_path).is_empty(), "hung up before the goodbye played");
    for mark in &goodbye_marks[..2] {
        call.echo_mark(mark).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(phone.twilio.accepted(&update_path).is_empty(), "hung up before the last mark");
    call.echo_mark(&goodbye_marks[2]).await;
    let hangup = phone.twilio.wait_for(&update_path, Duration::from_secs(10)).await;
    assert_eq!(hangup.get("Status"), Some("completed"));
    call.stop().await;

    let ended = phone.ended(&sid).await;
    assert_eq!(ended.ended_reason.map(|r| r.as_str()), Some("agent_hung_up"));
    assert!(ended.summary.as_deref().unwrap().contains("Dana Smith"), "{ended:?}");
    for _ in 0..100 {
        if conn.closed.load(std::sync::atomic::Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        conn.closed.load(std::sync::atomic::Ordering::SeqCst),
        "the model session is closed with the call"
    );
    let lead = phone.lead().await;
    assert_eq!(lead.contact_name.as_deref(), Some("Dana Smith"));
    assert_eq!(lead.contact_phone.as_deref(), Some(CALLER), "the caller ID stands in for the invalid number");
    let transcript = phone.store().transcript(lead.conversation_id.as_ref().unwrap()).await.unwrap();
    let lines: Vec<(&str, &str)> = transcript.iter().map(|m| (m.role.as_str(), m.content.as_str())).collect();
    assert!(lines.contains(&("user", "Hi, this is Dana Smith, are you open on Saturday?")), "{lines:?}");
    assert!(lines.contains(&("assistant", "Thanks for calling Test Plumbing. Bye now!")), "{lines:?}");
}

#[test]
fn the_fake_callers_audio_is_g711_mulaw() {
    use crate::support::fake_media::mulaw;
    // Reference values of the G.711 μ-law table.
    assert_eq!(mulaw(0), 0xFF);
    assert_eq!(mulaw(-1), 0x7F);
    assert_eq!(mulaw(32767), 0x80);
    assert_eq!(mulaw(-32768), 0x00);
    assert_eq!(mulaw(1000), 0xCE);
}
