//! The TwiML of the emergency call and of its "press 1" answer, written
//! with an XML writer so every value is escaped.

use std::io::Cursor;

use quick_xml::events::BytesText;
use quick_xml::Writer;

type Xml = Writer<Cursor<Vec<u8>>>;

fn document(build: impl FnOnce(&mut Xml) -> std::io::Result<()>) -> String {
    let mut writer = Writer::new(Cursor::new(Vec::new()));
    let built = writer.create_element("Response").write_inner_content(|w| build(w).map(|_| ()));
    match built {
        Ok(_) => String::from_utf8_lossy(&writer.into_inner().into_inner()).into_owned(),
        // Writing to memory does not fail; keep the call safe if it ever did.
        Err(_) => "<Response><Hangup/></Response>".into(),
    }
}

/// A text node without the characters XML 1.0 forbids (a caller's words can hold them).
fn text(s: &str) -> BytesText<'static> {
    BytesText::new(&crate::xml::clean(s)).into_owned()
}

fn say(w: &mut Xml, voice: &str, words: &str) -> std::io::Result<()> {
    let voice = crate::xml::clean(voice);
    w.create_element("Say").with_attribute(("voice", voice.as_ref())).write_text_content(text(words))?;
    Ok(())
}

/// Reads the emergency twice; with `connect_url`, offers to connect the
/// owner to the caller with one key.
pub fn emergency_call(voice: &str, script: &str, connect_url: Option<&str>) -> String {
    document(|w| {
        say(w, voice, script)?;
        match connect_url {
            Some(url) => {
                w.create_element("Gather")
                    .with_attributes([
                        ("numDigits", "1"),
                        ("action", crate::xml::clean(url).as_ref()),
                        ("method", "POST"),
                        ("timeout", "8"),
                    ])
                    .write_inner_content(|w| {
                        say(w, voice, "Press 1 to be connected to the caller now.")?;
                        Ok(())
                    })?;
                say(w, voice, script)?;
                say(w, voice, "No key was pressed. Goodbye.")
            }
            None => {
                w.create_element("Pause").with_attribute(("length", "1")).write_empty()?;
                say(w, voice, script)
            }
        }
    })
}

/// Connects the owner to the caller, showing `caller_id` (our number).
pub fn connect(voice: &str, caller: &str, caller_id: Option<&str>) -> String {
    document(|w| {
        say(w, voice, "Connecting you to the caller now.")?;
        let mut dial = w.create_element("Dial").with_attribute(("timeout", "30"));
        if let Some(id) = caller_id {
            dial = dial.with_attribute(("callerId", crate::xml::clean(id).as_ref()));
        }
        dial.write_inner_content(|w| {
            w.create_element("Number").write_text_content(text(caller))?;
            Ok(())
        })?;
        Ok(())
    })
}

/// Ends the call politely.
pub fn goodbye(voice: &str, text: &str) -> String {
    document(|w| {
        say(w, voice, text)?;
        w.create_element("Hangup").write_empty()?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn values_are_escaped_and_the_gather_posts_back() {
        let xml = emergency_call(
            "alice",
            "Dana <& Sons> reports: \"burst\" pipe",
            Some("https://fd.example/a?x=1&y=2"),
        );
        assert!(xml.starts_with("<Response><Say voice=\"alice\">Dana &lt;&amp; Sons&gt;"), "{xml}");
        assert!(
            xml.contains(
                "<Gather numDigits=\"1\" action=\"https://fd.example/a?x=1&amp;y=2\" method=\"POST\""
            ),
            "{xml}"
        );
        let plain = emergency_call("alice", "x", None);
        assert!(!plain.contains("Gather"), "{plain}");
        let dial = connect("alice", "+13125550142", Some("+13125550100"));
        assert!(
            dial.contains(
                "<Dial timeout=\"30\" callerId=\"+13125550100\"><Number>+13125550142</Number></Dial>"
            ),
            "{dial}"
        );
        assert!(goodbye("alice", "Bye").ends_with("<Hangup/></Response>"));
    }
}
