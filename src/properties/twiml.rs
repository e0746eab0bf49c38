//! TwiML, whatever callers and owners put in it, is well-formed XML that
//! reads back to the same words (less the characters XML cannot carry).

use proptest::prelude::*;
use quick_xml::events::Event;

use super::{config, text};
use crate::twiml::{render, Verb, Voice};

/// Every element name, attribute value and text of a document, or the parse error.
fn read_back(doc: &str) -> Result<(Vec<String>, Vec<String>), String> {
    let mut reader = quick_xml::Reader::from_str(doc);
    let (mut names, mut values) = (Vec::new(), Vec::new());
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                names.push(String::from_utf8_lossy(e.name().as_ref()).into_owned());
                for a in e.attributes() {
                    let a = a.map_err(|e| e.to_string())?;
                    values.push(a.unescape_value().map_err(|e| e.to_string())?.into_owned());
                }
            }
            Ok(Event::Text(t)) => values.push(t.decode().map_err(|e| e.to_string())?.into_owned()),
            Ok(Event::GeneralRef(r)) => values.push(format!("&{};", String::from_utf8_lossy(&r))),
            Ok(Event::Eof) => return Ok((names, values)),
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Is this a character XML 1.0 allows? (Checked independently of `crate::xml`.)
fn xml_char(c: char) -> bool {
    let n = c as u32;
    n == 0x9
        || n == 0xA
        || n == 0xD
        || (0x20..=0xD7FF).contains(&n)
        || (0xE000..=0xFFFD).contains(&n)
        || n >= 0x10000
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn twiml_is_always_well_formed(
        say in text(),
        voice in text(),
        number in text(),
        action in text(),
        param in text(),
    ) {
        let v = Voice { name: voice.clone(), language: "en-US".into() };
        let doc = render(&[
            Verb::say(say.clone(), &v),
            Verb::Gather { action: action.clone(), language: "en-US".into(), hints: say.clone(), prompt: vec![Verb::say(say.clone(), &v)] },
            Verb::ConnectStream { action: action.clone(), url: "wss://fd.example/api/voice/stream".into(), parameters: vec![("from".into(), param.clone())] },
            Verb::Dial { number: number.clone(), caller_id: Some(param.clone()), timeout_secs: 20, action: Some(action.clone()) },
            Verb::Redirect { url: action.clone() },
            Verb::Hangup,
        ]);
        prop_assert!(doc.chars().all(xml_char), "a character XML forbids in {doc:?}");
        let (names, values) = read_back(&doc).map_err(|e| TestCaseError::fail(format!("{e}: {doc}")))?;
        prop_assert_eq!(names.first().map(String::as_str), Some("Response"));
        prop_assert_eq!(names.iter().filter(|n| *n == "Hangup").count(), 1, "no verb injected: {}", doc);
        let cleaned: String = say.chars().filter(|&c| xml_char(c)).collect();
        let joined = values.concat();
        // XML normalises line ends; compare without them.
        let strip = |s: &str| s.replace(['\r', '\n'], "");
        prop_assert!(strip(&joined).contains(&strip(&cleaned)), "{cleaned:?} not in {joined:?}");
    }

    #[test]
    fn emergency_call_twiml_is_always_well_formed(script in text(), caller in text(), url in text()) {
        for doc in [
            crate::notify::call::emergency_call("alice", &script, Some(&url)),
            crate::web::call_connect::connect_twiml("alice", &caller, Some(&caller)),
            crate::web::call_connect::goodbye("alice", &script),
        ] {
            prop_assert!(doc.chars().all(xml_char), "{doc:?}");
            read_back(&doc).map_err(|e| TestCaseError::fail(format!("{e}: {doc}")))?;
        }
    }
}
