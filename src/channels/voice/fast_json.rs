//! A strict scanner for the few JSON shapes that arrive fifty times a second
//! per call (Twilio `media` and `mark`, Realtime audio deltas), so the hot
//! path finds its fields without building anything.
//!
//! It accepts only a subset of JSON: objects whose values are strings with
//! no escapes and no control characters, unsigned integers without sign,
//! fraction or exponent, and (one level deep) objects of the same. Anything
//! else (an escape, `null`, an array, `true`, a float, bad syntax) makes it
//! answer `None`, and the caller falls back to the full serde parse. So the
//! fast path never has to be right about JSON it does not understand: it
//! only ever answers for text whose meaning is unambiguous.

/// A value the scanner understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Val<'a> {
    /// A string's raw contents (nothing to unescape).
    Str(&'a str),
    /// An unsigned integer's digits.
    Num(&'a str),
    /// A nested object, braces included, already checked by the scanner.
    Obj(&'a str),
}

/// Calls `field` with each key and value of the object `text`; `None` if
/// `text` is not one object in the subset, or if `field` says `None`.
pub fn fields<'a>(text: &'a str, mut field: impl FnMut(&'a str, Val<'a>) -> Option<()>) -> Option<()> {
    let bytes = text.as_bytes();
    let mut at = skip_ws(bytes, 0);
    at = object(text, at, 1, &mut field)?;
    (skip_ws(bytes, at) == bytes.len()).then_some(())
}

fn skip_ws(bytes: &[u8], mut at: usize) -> usize {
    while matches!(bytes.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// Scans the object starting at `at` (its `{`); returns the index after its `}`.
fn object<'a>(
    text: &'a str,
    mut at: usize,
    depth: u8,
    field: &mut impl FnMut(&'a str, Val<'a>) -> Option<()>,
) -> Option<usize> {
    let bytes = text.as_bytes();
    if bytes.get(at) != Some(&b'{') {
        return None;
    }
    at = skip_ws(bytes, at + 1);
    if bytes.get(at) == Some(&b'}') {
        return Some(at + 1);
    }
    loop {
        let (key, after) = string(text, at)?;
        at = skip_ws(bytes, after);
        if bytes.get(at) != Some(&b':') {
            return None;
        }
        at = skip_ws(bytes, at + 1);
        let value = match bytes.get(at)? {
            b'"' => {
                let (s, after) = string(text, at)?;
                at = after;
                Val::Str(s)
            }
            b'0'..=b'9' => {
                let start = at;
                while bytes.get(at).is_some_and(u8::is_ascii_digit) {
                    at += 1;
                }
                // A leading zero, a fraction or an exponent: not ours.
                if (bytes[start] == b'0' && at - start > 1)
                    || matches!(bytes.get(at), Some(b'.' | b'e' | b'E'))
                {
                    return None;
                }
                Val::Num(&text[start..at])
            }
            b'{' if depth > 0 => {
                let start = at;
                at = object(text, at, depth - 1, &mut skip)?;
                Val::Obj(&text[start..at])
            }
            _ => return None,
        };
        field(key, value)?;
        at = skip_ws(bytes, at);
        match bytes.get(at)? {
            b',' => at = skip_ws(bytes, at + 1),
            b'}' => return Some(at + 1),
            _ => return None,
        }
    }
}

/// A nested object is checked, its fields not looked at (one function
/// type, so the recursion instantiates `object` once more and stops).
fn skip(_: &str, _: Val<'_>) -> Option<()> {
    Some(())
}

/// The string starting at `at` (its opening quote): its contents and the
/// index after its closing quote. `None` for escapes and control characters.
fn string(text: &str, at: usize) -> Option<(&str, usize)> {
    let bytes = text.as_bytes();
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let start = at + 1;
    // The closing quote by `memchr` (SIMD on payloads, a plain loop on short
    // keys, none of `str::find`'s pattern set-up, which cost more than the
    // search on keys), then the contents checked in one branch-free pass the
    // compiler vectorizes: a payload is hundreds of bytes, and a byte-by-byte
    // search for three things was the bridge's largest cost per frame. A
    // byte search is exact on UTF-8: `"` never occurs inside a multi-byte
    // character, so `start..end` are character boundaries.
    let end = start + memchr::memchr(b'"', bytes.get(start..)?)?;
    let plain = bytes[start..end].iter().fold(true, |ok, &b| ok & (b != b'\\') & (b >= 0x20));
    plain.then(|| (&text[start..end], end + 1))
}

/// An unsigned integer from a scanned value: a number, or a string of
/// digits (Twilio writes its counters as strings). `None` otherwise.
pub fn number(value: Val<'_>) -> Option<u64> {
    match value {
        Val::Num(digits) => digits.parse().ok(),
        Val::Str(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        _ => None,
    }
}

/// Records a field once; `None` (so: fall back) if it was seen before,
/// since serde refuses duplicate fields.
pub fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn all(text: &str) -> Option<Vec<(&str, Val<'_>)>> {
        let mut out = Vec::new();
        fields(text, |k, v| {
            out.push((k, v));
            Some(())
        })?;
        Some(out)
    }

    #[test]
    fn the_subset_is_scanned() {
        assert_eq!(
            all(r#" {"a":"x", "b" : 12 ,"c":{"d":"y","e":0}} "#).unwrap(),
            vec![("a", Val::Str("x")), ("b", Val::Num("12")), ("c", Val::Obj(r#"{"d":"y","e":0}"#))]
        );
        assert_eq!(all("{}").unwrap(), vec![]);
        assert_eq!(all(r#"{"é":"ü"}"#).unwrap(), vec![("é", Val::Str("ü"))]);
    }

    #[test]
    fn everything_else_is_refused() {
        for text in [
            r#"{"a":"x\"y"}"#,
            r#"{"a":"x\/y"}"#,
            r#"{"a\u0041":"x"}"#,
            "{\"a\":\"x\ny\"}",
            r#"{"a":null}"#,
            r#"{"a":true}"#,
            r#"{"a":[1]}"#,
            r#"{"a":-1}"#,
            r#"{"a":1.5}"#,
            r#"{"a":1e3}"#,
            r#"{"a":01}"#,
            r#"{"a":{"b":{"c":1}}}"#,
            r#"{"a":"x",}"#,
            r#"{"a":"x"} x"#,
            r#"{"a":"x"}{}"#,
            r#"{"a" "x"}"#,
            r#"{"a":"x""#,
            r#"["a"]"#,
            "",
        ] {
            assert!(all(text).is_none(), "{text}");
        }
    }

    #[test]
    fn strings_end_at_the_first_quote_and_refuse_escapes() {
        // A key that is a prefix of the next one, multi-byte UTF-8 right
        // before a closing quote, in a key and in a value past one SIMD block.
        let long = format!("{}é", "ü".repeat(40));
        let text = format!(r#"{{"a":"1","ab":"2","日本":"{long}"}}"#);
        assert_eq!(
            all(&text).unwrap(),
            vec![("a", Val::Str("1")), ("ab", Val::Str("2")), ("日本", Val::Str(&long))]
        );
        // The closing quote at every offset around the vector widths.
        for n in 0..=130 {
            let value = "x".repeat(n);
            let text = format!(r#"{{"k":"{value}","z":1}}"#);
            assert_eq!(all(&text).unwrap(), vec![("k", Val::Str(&value)), ("z", Val::Num("1"))], "{n}");
        }
        for text in [
            // An escaped quote, then a real one: the first quote ends the span
            // and the backslash in it refuses the string.
            r#"{"a":"x\"y"}"#.to_string(),
            format!(r#"{{"a":"{}\"{}"}}"#, "x".repeat(70), "y".repeat(70)),
            // A backslash right before the closing quote (valid JSON `x\\`).
            r#"{"a":"x\\"}"#.to_string(),
            format!(r#"{{"a":"{}\\"}}"#, "x".repeat(70)),
            // A backslash as the text's last byte, no closing quote after it.
            r#"{"a":"x\"#.to_string(),
            // A backslash or a control character in a key.
            r#"{"a\"":"x"}"#.to_string(),
            format!("{{\"{}\u{1f}\":\"x\"}}", "k".repeat(40)),
        ] {
            assert!(all(&text).is_none(), "{text}");
        }
    }

    #[test]
    fn numbers_and_duplicates() {
        assert_eq!(number(Val::Str("40")), Some(40));
        assert_eq!(number(Val::Num("40")), Some(40));
        assert_eq!(number(Val::Str(" 40")), None);
        assert_eq!(number(Val::Str("")), None);
        assert_eq!(number(Val::Str("99999999999999999999999")), None);
        let mut slot = None;
        assert!(once(&mut slot, 1).is_some());
        assert!(once(&mut slot, 2).is_none());
    }
}
