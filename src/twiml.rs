//! TwiML, the XML that tells Twilio what a call does next: the one writer
//! for the phone agent's answers (`channels::voice`) and the emergency call
//! (`notify::call`, `web::call_connect`). A document is a list of verbs
//! written by an XML writer (quick-xml), so every text and attribute is
//! escaped, and the characters XML 1.0 cannot carry are dropped (`xml`).

use std::io;

use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;

/// A `<Say>` voice: Twilio voice name and language (empty: Twilio's default,
/// no attribute written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voice {
    pub name: String,
    pub language: String,
}

/// The TwiML verbs we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verb {
    Say {
        text: String,
        voice: Voice,
    },
    Pause {
        seconds: u32,
    },
    /// Speech input; Twilio posts `SpeechResult` to `action` (also when
    /// nothing was said, so silence is ours to handle).
    Gather {
        action: String,
        language: String,
        hints: String,
        prompt: Vec<Verb>,
    },
    /// One key press; Twilio posts `Digits` to `action`. When none comes
    /// within `timeout_secs`, the call goes on with the next verb.
    GatherKey {
        action: String,
        timeout_secs: u32,
        prompt: Vec<Verb>,
    },
    /// A bidirectional media stream; `action` is requested when it ends.
    ConnectStream {
        action: String,
        url: String,
        parameters: Vec<(String, String)>,
    },
    /// Puts the call through; `action` (if any) hears how it went.
    Dial {
        number: String,
        caller_id: Option<String>,
        timeout_secs: u32,
        action: Option<String>,
    },
    /// Voicemail.
    Record {
        action: String,
        max_length_secs: u32,
        status_callback: String,
    },
    Redirect {
        url: String,
    },
    Hangup,
}

impl Verb {
    pub fn say(text: impl Into<String>, voice: &Voice) -> Verb {
        Verb::Say { text: text.into(), voice: voice.clone() }
    }
}

/// A text node: characters XML 1.0 forbids dropped (callers' words can hold them).
fn text(s: &str) -> BytesText<'static> {
    BytesText::new(&crate::xml::clean(s)).into_owned()
}

/// An attribute value, cleaned the same way (quick-xml escapes it).
fn attr(s: &str) -> String {
    crate::xml::clean(s).into_owned()
}

/// The whole `<Response>` document.
pub fn render(verbs: &[Verb]) -> String {
    let mut writer = Writer::new(Vec::with_capacity(512));
    // Writing into a Vec cannot fail; the io::Result is only the writer's signature.
    let _ = write_document(&mut writer, verbs);
    String::from_utf8_lossy(&writer.into_inner()).into_owned()
}

fn write_document(w: &mut Writer<Vec<u8>>, verbs: &[Verb]) -> io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.create_element("Response").write_inner_content(|w| write_verbs(w, verbs))?;
    Ok(())
}

fn write_verbs(w: &mut Writer<Vec<u8>>, verbs: &[Verb]) -> io::Result<()> {
    for verb in verbs {
        write_verb(w, verb)?;
    }
    Ok(())
}

// One arm per TwiML verb, each writing its element and attributes.
fn write_verb(w: &mut Writer<Vec<u8>>, verb: &Verb) -> io::Result<()> {
    match verb {
        Verb::Say { text, voice } => {
            let mut element = w.create_element("Say").with_attribute(("voice", attr(&voice.name).as_str()));
            if !voice.language.is_empty() {
                element = element.with_attribute(("language", attr(&voice.language).as_str()));
            }
            element.write_text_content(self::text(text))?;
        }
        Verb::Pause { seconds } => {
            w.create_element("Pause")
                .with_attribute(("length", seconds.to_string().as_str()))
                .write_empty()?;
        }
        Verb::Gather { action, language, hints, prompt } => {
            let mut element = w
                .create_element("Gather")
                .with_attribute(("input", "speech"))
                .with_attribute(("action", attr(action).as_str()))
                .with_attribute(("method", "POST"))
                .with_attribute(("speechTimeout", "auto"))
                .with_attribute(("timeout", "6"))
                .with_attribute(("language", attr(language).as_str()))
                .with_attribute(("actionOnEmptyResult", "true"));
            if !hints.is_empty() {
                element = element.with_attribute(("hints", attr(hints).as_str()));
            }
            element.write_inner_content(|w| write_verbs(w, prompt))?;
        }
        Verb::GatherKey { action, timeout_secs, prompt } => {
            w.create_element("Gather")
                .with_attribute(("numDigits", "1"))
                .with_attribute(("action", attr(action).as_str()))
                .with_attribute(("method", "POST"))
                .with_attribute(("timeout", timeout_secs.to_string().as_str()))
                .write_inner_content(|w| write_verbs(w, prompt))?;
        }
        Verb::ConnectStream { action, url, parameters } => {
            w.create_element("Connect")
                .with_attribute(("action", attr(action).as_str()))
                .write_inner_content(|w| {
                    w.create_element("Stream")
                        .with_attribute(("url", attr(url).as_str()))
                        .write_inner_content(|w| {
                            for (name, value) in parameters {
                                w.create_element("Parameter")
                                    .with_attribute(("name", attr(name).as_str()))
                                    .with_attribute(("value", attr(value).as_str()))
                                    .write_empty()?;
                            }
                            Ok(())
                        })?;
                    Ok(())
                })?;
        }
        Verb::Dial { number, caller_id, timeout_secs, action } => {
            let mut element = w.create_element("Dial");
            if let Some(action) = action {
                element = element
                    .with_attribute(("action", attr(action).as_str()))
                    .with_attribute(("method", "POST"));
            }
            element = element.with_attribute(("timeout", timeout_secs.to_string().as_str()));
            if let Some(caller_id) = caller_id {
                element = element.with_attribute(("callerId", attr(caller_id).as_str()));
            }
            element.write_inner_content(|w| {
                w.create_element("Number").write_text_content(text(number))?;
                Ok(())
            })?;
        }
        Verb::Record { action, max_length_secs, status_callback } => {
            w.create_element("Record")
                .with_attribute(("action", attr(action).as_str()))
                .with_attribute(("method", "POST"))
                .with_attribute(("maxLength", max_length_secs.to_string().as_str()))
                .with_attribute(("timeout", "5"))
                .with_attribute(("finishOnKey", "#"))
                .with_attribute(("playBeep", "true"))
                .with_attribute(("recordingStatusCallback", attr(status_callback).as_str()))
                .with_attribute(("recordingStatusCallbackEvent", "completed"))
                .write_empty()?;
        }
        Verb::Redirect { url } => {
            w.create_element("Redirect").with_attribute(("method", "POST")).write_text_content(text(url))?;
        }
        Verb::Hangup => {
            w.create_element("Hangup").write_empty()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voice() -> Voice {
        Voice { name: "Polly.Joanna".into(), language: "en-US".into() }
    }

    const DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";

    /// Every element name of a document, read back by a real XML parser.
    fn element_names(doc: &str) -> Vec<String> {
        let mut reader = quick_xml::Reader::from_str(doc);
        let mut names = Vec::new();
        loop {
            match reader.read_event() {
                Ok(Event::Start(e) | Event::Empty(e)) => {
                    names.push(String::from_utf8_lossy(e.name().as_ref()).into_owned())
                }
                Ok(Event::Eof) => return names,
                Ok(_) => {}
                Err(e) => panic!("not well-formed: {e}: {doc}"),
            }
        }
    }

    #[test]
    fn text_and_attributes_are_escaped_and_forbidden_characters_dropped() {
        let doc = render(&[
            Verb::say("Tom & Jerry's <plumbing> \"best\"\u{1}", &voice()),
            Verb::ConnectStream {
                action: "https://fd.example/api/voice/stream-ended?a=1&b=2".into(),
                url: "wss://fd.example/api/voice/stream".into(),
                parameters: vec![("callSid".into(), "CA1".into()), ("from".into(), "\"><Hangup/>".into())],
            },
        ]);
        assert!(doc.starts_with(&format!("{DECL}<Response>")), "{doc}");
        assert!(doc.contains(">Tom &amp; Jerry&apos;s &lt;plumbing&gt; &quot;best&quot;</Say>"), "{doc}");
        assert!(doc.contains("stream-ended?a=1&amp;b=2"), "{doc}");
        assert!(doc.contains("value=\"&quot;&gt;&lt;Hangup/&gt;\""), "{doc}");
        assert!(!doc.contains("<Hangup/>"), "an attribute cannot inject a verb: {doc}");
        assert_eq!(element_names(&doc), ["Response", "Say", "Connect", "Stream", "Parameter", "Parameter"]);
    }

    #[test]
    fn say_and_pause() {
        let doc = render(&[Verb::say("Hello", &voice()), Verb::Pause { seconds: 2 }]);
        assert_eq!(
            doc,
            format!(
                "{DECL}<Response><Say voice=\"Polly.Joanna\" language=\"en-US\">Hello</Say>\
                 <Pause length=\"2\"/></Response>"
            )
        );
        // No language: Twilio's default for the voice, so no attribute.
        let plain = Voice { name: "alice".into(), language: String::new() };
        assert!(render(&[Verb::say("Hi", &plain)]).contains("<Say voice=\"alice\">Hi</Say>"));
    }

    #[test]
    fn speech_gather_and_key_gather() {
        let doc = render(&[
            Verb::Gather {
                action: "/api/voice/handle-speech".into(),
                language: "en-US".into(),
                hints: "plumbing, leak".into(),
                prompt: vec![Verb::say("How can I help?", &voice()), Verb::Pause { seconds: 1 }],
            },
            Verb::GatherKey {
                action: "https://fd.example/a?x=1&y=2".into(),
                timeout_secs: 8,
                prompt: vec![Verb::say("Press 1", &voice())],
            },
        ]);
        assert!(doc.contains(
            "<Gather input=\"speech\" action=\"/api/voice/handle-speech\" method=\"POST\" speechTimeout=\"auto\" \
             timeout=\"6\" language=\"en-US\" actionOnEmptyResult=\"true\" hints=\"plumbing, leak\">\
             <Say voice=\"Polly.Joanna\" language=\"en-US\">How can I help?</Say><Pause length=\"1\"/></Gather>"
        ), "{doc}");
        assert!(doc.contains(
            "<Gather numDigits=\"1\" action=\"https://fd.example/a?x=1&amp;y=2\" method=\"POST\" timeout=\"8\">\
             <Say voice=\"Polly.Joanna\" language=\"en-US\">Press 1</Say></Gather>"
        ), "{doc}");
        // No hints: no attribute.
        let bare = render(&[Verb::Gather {
            action: "/g".into(),
            language: "en-US".into(),
            hints: String::new(),
            prompt: vec![],
        }]);
        assert!(!bare.contains("hints"), "{bare}");
    }

    #[test]
    fn dial_with_and_without_action() {
        let doc = render(&[
            Verb::Dial {
                number: "+13125550199".into(),
                caller_id: Some("+13125550100".into()),
                timeout_secs: 20,
                action: Some("/api/voice/dial-status".into()),
            },
            Verb::Dial { number: "+13125550142".into(), caller_id: None, timeout_secs: 30, action: None },
        ]);
        assert!(doc.contains(
            "<Dial action=\"/api/voice/dial-status\" method=\"POST\" timeout=\"20\" callerId=\"+13125550100\">\
             <Number>+13125550199</Number></Dial>"
        ), "{doc}");
        assert!(doc.contains("<Dial timeout=\"30\"><Number>+13125550142</Number></Dial>"), "{doc}");
    }

    #[test]
    fn record_redirect_hangup() {
        let doc = render(&[
            Verb::Record {
                action: "/api/voice/recording".into(),
                max_length_secs: 120,
                status_callback: "/api/voice/recording-status".into(),
            },
            Verb::Redirect { url: "/api/voice/handle-speech?a=1&b=2".into() },
            Verb::Hangup,
        ]);
        assert!(
            doc.contains(
                "<Record action=\"/api/voice/recording\" method=\"POST\" maxLength=\"120\" timeout=\"5\" \
             finishOnKey=\"#\" playBeep=\"true\" recordingStatusCallback=\"/api/voice/recording-status\" \
             recordingStatusCallbackEvent=\"completed\"/>"
            ),
            "{doc}"
        );
        assert!(doc.ends_with(
            "<Redirect method=\"POST\">/api/voice/handle-speech?a=1&amp;b=2</Redirect><Hangup/></Response>"
        ), "{doc}");
        assert_eq!(element_names(&doc), ["Response", "Record", "Redirect", "Hangup"]);
    }
}
