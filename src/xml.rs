//! What XML 1.0 can carry. Escaping handles `<`, `&` and quotes, but most
//! control characters (U+0000-U+001F except tab, line feed and carriage
//! return) and U+FFFE/U+FFFF cannot appear in an XML document at all, even
//! escaped: one from a caller's words makes the whole TwiML ill-formed and
//! Twilio drops the call. Every value written into TwiML or SVG passes here.

use std::borrow::Cow;

/// Whether XML 1.0 allows `c` in a document (its `Char` production).
pub fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// `text` without the characters XML 1.0 forbids (borrowed when it has none).
pub fn clean(text: &str) -> Cow<'_, str> {
    if text.chars().all(allowed) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.chars().filter(|&c| allowed(c)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_characters_go_and_the_rest_stays() {
        assert_eq!(clean("Dana\u{1}X"), "DanaX");
        assert_eq!(clean("a\u{0}b\u{b}c\u{c}d\u{1f}e\u{fffe}f\u{ffff}"), "abcdef");
        assert!(matches!(clean("tab\tline\ncr\r é 😀"), Cow::Borrowed(_)));
    }
}
