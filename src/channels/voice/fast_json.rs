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
/// `text` is not one object in the subset, or if `field` says `None`. A
/// nested object's own fields come first, with its key as their parent
/// (`Some(key)`), then the object itself (`None`, [`Val::Obj`]): one pass
/// over the text, nested fields included (issue 17: a caller frame's
/// payload was scanned twice).
pub fn fields<'a>(
    text: &'a str,
    field: impl FnMut(Option<&'a str>, &'a str, Val<'a>) -> Option<()>,
) -> Option<()> {
    scan(text, plain(text.as_bytes()), field)
}

fn scan<'a>(
    text: &'a str,
    plain: bool,
    mut field: impl FnMut(Option<&'a str>, &'a str, Val<'a>) -> Option<()>,
) -> Option<()> {
    let scan = Scan { text, bytes: text.as_bytes(), plain };
    let at = scan.object(skip_ws(scan.bytes, 0), None, &mut field)?;
    (skip_ws(scan.bytes, at) == scan.bytes.len()).then_some(())
}

/// True when `bytes` hold no backslash and no control character (so no
/// whitespace either: Twilio and OpenAI write compact JSON). Then no string
/// in them has an escape or a character JSON forbids, every `"` is a
/// string's edge, and a string ends at the next one without its bytes being
/// checked one by one: one branch-free pass over the message (which the
/// compiler vectorizes) instead of a check per string (issue 17).
fn plain(bytes: &[u8]) -> bool {
    bytes.iter().fold(true, |ok, &b| ok & (b != b'\\') & (b >= 0x20))
}

fn skip_ws(bytes: &[u8], mut at: usize) -> usize {
    while matches!(bytes.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

struct Scan<'a> {
    text: &'a str,
    bytes: &'a [u8],
    /// See [`plain`].
    plain: bool,
}

impl<'a> Scan<'a> {
    /// Scans the object starting at `at` (its `{`), reporting its fields
    /// with `parent` (`None` at the top, the key of a nested object inside
    /// it; one level of nesting only); returns the index after its `}`.
    fn object(
        &self,
        mut at: usize,
        parent: Option<&'a str>,
        field: &mut impl FnMut(Option<&'a str>, &'a str, Val<'a>) -> Option<()>,
    ) -> Option<usize> {
        let (text, bytes) = (self.text, self.bytes);
        if bytes.get(at) != Some(&b'{') {
            return None;
        }
        at = skip_ws(bytes, at + 1);
        if bytes.get(at) == Some(&b'}') {
            return Some(at + 1);
        }
        loop {
            let (key, after) = self.string(at)?;
            at = skip_ws(bytes, after);
            if bytes.get(at) != Some(&b':') {
                return None;
            }
            at = skip_ws(bytes, at + 1);
            let value = match bytes.get(at)? {
                b'"' => {
                    let (s, after) = self.string(at)?;
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
                b'{' if parent.is_none() => {
                    let start = at;
                    at = self.object(at, Some(key), field)?;
                    Val::Obj(&text[start..at])
                }
                _ => return None,
            };
            field(parent, key, value)?;
            at = skip_ws(bytes, at);
            match bytes.get(at)? {
                b',' => at = skip_ws(bytes, at + 1),
                b'}' => return Some(at + 1),
                _ => return None,
            }
        }
    }

    /// The string starting at `at` (its opening quote): its contents and
    /// the index after its closing quote. `None` for escapes and control
    /// characters.
    fn string(&self, at: usize) -> Option<(&'a str, usize)> {
        let bytes = self.bytes;
        if bytes.get(at) != Some(&b'"') {
            return None;
        }
        let start = at + 1;
        let rest = bytes.get(start..)?;
        if self.plain {
            let end = start + find_quote(rest)?;
            return Some((self.text.get(start..end)?, end + 1));
        }
        let head = &rest[..rest.len().min(SHORT)];
        for (n, &b) in head.iter().enumerate() {
            if b == b'"' {
                return Some((self.text.get(start..start + n)?, start + n + 1));
            }
            if b == b'\\' || b < 0x20 {
                return None;
            }
        }
        // A longer one (a payload: hundreds of bytes): the closing quote by
        // `memchr` (SIMD), then the contents checked in one branch-free pass
        // the compiler vectorizes. A byte search is exact on UTF-8: `"` never
        // occurs inside a multi-byte character, so `start..end` are character
        // boundaries.
        let from = start + head.len();
        let end = from + memchr::memchr(b'"', bytes.get(from..)?)?;
        let plain = bytes[from..end].iter().fold(true, |ok, &b| ok & (b != b'\\') & (b >= 0x20));
        plain.then(|| (&self.text[start..end], end + 1))
    }
}

/// Strings up to this long (keys, ids, event names) are searched without
/// `memchr`, which costs more to set up than the search on them.
const SHORT: usize = 16;

/// The first `"` in `bytes`: in the first [`SHORT`] bytes eight at a time
/// (a word compared at once), past them by `memchr` (SIMD).
fn find_quote(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    const QUOTES: u64 = u64::from_le_bytes([b'"'; 8]);
    let words = bytes.len().min(SHORT) / 8;
    for (i, word) in bytes.chunks_exact(8).take(words).enumerate() {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(word);
        // Bytes equal to `"` are zero here; the lowest byte flagged is the
        // first zero byte (a borrow can only flag bytes above a real one).
        let x = u64::from_le_bytes(eight) ^ QUOTES;
        let zero = x.wrapping_sub(ONES) & !x & HIGHS;
        if zero != 0 {
            return Some(i * 8 + zero.trailing_zeros() as usize / 8);
        }
    }
    let from = words * 8;
    memchr::memchr(b'"', &bytes[from..]).map(|n| from + n)
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

    /// The top-level fields of `text`, as scanned.
    fn all(text: &str) -> Option<Vec<(&str, Val<'_>)>> {
        Some(
            with_parents(text)?.into_iter().filter(|(p, _, _)| p.is_none()).map(|(_, k, v)| (k, v)).collect(),
        )
    }

    /// Every field of `text`, nested ones with their parent, in the order reported.
    fn with_parents(text: &str) -> Option<Vec<(Option<&str>, &str, Val<'_>)>> {
        let mut out = Vec::new();
        fields(text, |p, k, v| {
            out.push((p, k, v));
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
        assert_eq!(
            with_parents(r#"{"a":"x","c":{"d":"y","e":0},"f":{}}"#).unwrap(),
            vec![
                (None, "a", Val::Str("x")),
                (Some("c"), "d", Val::Str("y")),
                (Some("c"), "e", Val::Num("0")),
                (None, "c", Val::Obj(r#"{"d":"y","e":0}"#)),
                (None, "f", Val::Obj("{}")),
            ],
            "a nested object's fields come first, with its key"
        );
        let mut seen = 0;
        assert!(
            fields(r#"{"a":{"b":"1","c":"2"}}"#, |_, _, _| {
                seen += 1;
                (seen < 2).then_some(())
            })
            .is_none(),
            "a nested field's None is the scan's"
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
        // An escape or a control character at every offset around the
        // short strings' end, in a key and in a value.
        for n in 0..40 {
            for bad in ['\\', '\u{1}', '\n'] {
                let s = format!("{}{bad}{}", "x".repeat(n), "y".repeat(3));
                assert!(all(&format!(r#"{{"k":"{s}"}}"#)).is_none(), "{n} {bad:?}");
                assert!(all(&format!(r#"{{"{s}":"v"}}"#)).is_none(), "{n} {bad:?}");
            }
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
    fn plain_text_scans_the_same_without_checking_each_string() {
        let scanned = |text: &str, plain: bool| {
            let mut out = Vec::new();
            scan(text, plain, |p, k, v| {
                out.push((p.map(str::to_string), k.to_string(), format!("{v:?}")));
                Some(())
            })
            .map(|()| out)
        };
        let mut texts: Vec<String> = vec![
            r#" {"a":"x", "b" : 12 ,"c":{"d":"y","e":0}} "#.into(),
            r#"{"日本":"ü","é":{"k":"日本語日本語日本語"}}"#.into(),
            r#"{"a":"x","#.into(),
            r#"{"a":"x"}{}"#.into(),
            r#"{"a":"x"#.into(),
        ];
        for n in 0..=40 {
            let s = "q".repeat(n);
            texts.push(format!(r#"{{"{s}":"{s}","m":{{"{s}":1,"p":"{s}é"}},"z":"é{s}"}}"#));
        }
        for text in &texts {
            assert!(plain(text.as_bytes()), "{text}");
            assert_eq!(scanned(text, true), scanned(text, false), "{text}");
        }
        assert!(!plain(br#"{"a":"\n"}"#) && !plain(b"{\"a\":\n1}") && !plain(b"{\"a\":\"\x01\"}"));
    }

    #[test]
    fn the_first_quote_at_every_offset() {
        for len in 0..70 {
            for at in 0..=len {
                let mut bytes = vec![b'x'; len];
                if at < len {
                    bytes[at] = b'"';
                    // A later quote must not be taken for it.
                    if at + 3 < len {
                        bytes[at + 3] = b'"';
                    }
                }
                let want = (at < len).then_some(at);
                assert_eq!(find_quote(&bytes), want, "{len} {at}");
            }
        }
        // Bytes just below and above `"`, and a borrow across bytes.
        assert_eq!(find_quote(b"!#\x01\x00\xff\"ab"), Some(5));
        assert_eq!(find_quote(b"\x23\x21\x21\x21\x21\x21\x21\x21\x21\""), Some(9));
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
