//! Answers to lead questions: validating what the visitor typed for the
//! expected format, and spotting details they volunteered unprompted.

use std::str::FromStr;

use crate::domain::ExpectedFormat;

/// Longest TEXT answer kept, in characters.
pub const MAX_TEXT_ANSWER: usize = 1000;

/// Why an answer was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    Empty,
    NotEmail,
    NotPhone,
    /// A phone number missing its area code (e.g. "555-0100").
    PhoneTooShort,
}

/// Checks `raw` against the expected format; returns the normalised value
/// (trimmed text, lower-cased email, E.164 phone).
pub fn validate(format: ExpectedFormat, raw: &str, country: &str) -> Result<String, Rejection> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(Rejection::Empty);
    }
    match format {
        ExpectedFormat::Text => Ok(trimmed.chars().take(MAX_TEXT_ANSWER).collect()),
        ExpectedFormat::Email => find_email(trimmed).ok_or(Rejection::NotEmail),
        ExpectedFormat::Phone => normalise_phone(trimmed, country),
    }
}

/// Parses a phone number with the business's country as the default region.
pub fn normalise_phone(raw: &str, country: &str) -> Result<String, Rejection> {
    let digits = raw.chars().filter(char::is_ascii_digit).count();
    if digits == 0 {
        return Err(Rejection::NotPhone);
    }
    let region = phonenumber::country::Id::from_str(&country.to_ascii_uppercase()).ok();
    match phonenumber::parse(region, raw) {
        Ok(number) if phonenumber::is_valid(&number) => {
            Ok(number.format().mode(phonenumber::Mode::E164).to_string())
        }
        _ if (5..=8).contains(&digits) => Err(Rejection::PhoneTooShort),
        _ => Err(Rejection::NotPhone),
    }
}

/// The first syntactically valid email address in `text`, lower-cased.
pub fn find_email(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '<' | '>' | '(' | ')' | '"'))
        .map(|w| w.trim_matches(|c: char| matches!(c, '.' | '!' | '?' | ':' | '\'')))
        .filter(|w| w.contains('@'))
        .find(|w| email_address::EmailAddress::from_str(w).is_ok_and(|e| e.domain().contains('.')))
        .map(str::to_lowercase)
}

/// The first valid phone number written in `text`, as E.164.
pub fn find_phone(text: &str, country: &str) -> Option<String> {
    phone_candidates(text).into_iter().find_map(|c| normalise_phone(&c, country).ok())
}

/// Runs of digits and phone punctuation long enough to be a number.
fn phone_candidates(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let flush = |current: &mut String, out: &mut Vec<String>| {
        let candidate = current.trim().trim_end_matches(['-', '.', ' ']).to_string();
        if candidate.chars().filter(char::is_ascii_digit).count() >= 7 {
            out.push(candidate);
        }
        current.clear();
    };
    for c in text.chars() {
        let starts = matches!(c, '+' | '(') && current.trim().is_empty();
        let continues = !current.is_empty() && matches!(c, ' ' | '-' | '.' | '(' | ')');
        if c.is_ascii_digit() || starts || continues {
            current.push(c);
        } else {
            flush(&mut current, &mut out);
        }
    }
    flush(&mut current, &mut out);
    out
}

/// A name the visitor gave in passing: "I'm Dana", "my name is Dana Smith",
/// "this is Dana", "me llamo Dana". Only capitalised words count, so
/// "I'm flooded" is not a name.
///
/// The cues are matched in the original text, character by character: a
/// lower-cased copy can differ in length (U+212A KELVIN SIGN lower-cases to a
/// one-byte `k`, `İ` to two characters), so offsets found in it do not point
/// into the original.
pub fn find_name(text: &str) -> Option<String> {
    const CUES: [&str; 7] = ["my name is ", "this is ", "i'm ", "i am ", "im ", "me llamo ", "soy "];
    for cue in CUES {
        let mut previous: Option<char> = None;
        for (start, c) in text.char_indices() {
            // The cue must start a word.
            let word_start = !previous.is_some_and(char::is_alphanumeric);
            previous = Some(c);
            let Some(len) = word_start.then(|| starts_with_folded(&text[start..], cue)).flatten() else {
                continue;
            };
            let words: Vec<&str> = text[start + len..]
                .split_whitespace()
                .take(3)
                .map(|w| w.trim_matches(|c: char| !c.is_alphabetic() && c != '\'' && c != '-'))
                .take_while(|w| w.chars().next().is_some_and(char::is_uppercase) && w.chars().count() > 1)
                .collect();
            if !words.is_empty() && !words.iter().any(|w| NOT_NAMES.contains(&w.to_lowercase().as_str())) {
                return Some(words.join(" "));
            }
        }
    }
    None
}

/// The length in bytes of the prefix of `text` that reads as `cue` (lower
/// case ASCII) when each of its characters is lower-cased on its own.
fn starts_with_folded(text: &str, cue: &str) -> Option<usize> {
    let mut chars = text.chars();
    let mut len = 0;
    for want in cue.chars() {
        let c = chars.next()?;
        let mut lower = c.to_lowercase();
        if lower.next() != Some(want) || lower.next().is_some() {
            return None;
        }
        len += c.len_utf8();
    }
    Some(len)
}

/// Capitalised words that follow "I'm" but are not names.
const NOT_NAMES: [&str; 12] = [
    "calling",
    "looking",
    "interested",
    "trying",
    "not",
    "sorry",
    "just",
    "having",
    "in",
    "at",
    "from",
    "the",
];

/// The visitor declines to answer an optional question.
pub fn is_decline(text: &str) -> bool {
    let t = text.trim().trim_end_matches(['.', '!']).to_lowercase();
    const DECLINES: [&str; 16] = [
        "skip",
        "no",
        "nope",
        "no thanks",
        "no thank you",
        "pass",
        "n/a",
        "na",
        "none",
        "prefer not",
        "i'd rather not",
        "rather not",
        "prefer not to say",
        "not now",
        "no gracias",
        "paso",
    ];
    DECLINES.contains(&t.as_str())
}

/// "Yes", "yeah that's right", "sí": agreeing with what was just asked.
pub fn is_affirmative(text: &str) -> bool {
    let t = text.trim().trim_end_matches(['.', '!']).to_lowercase();
    const YES: [&str; 17] = [
        "yes",
        "yeah",
        "yep",
        "yup",
        "sure",
        "correct",
        "right",
        "that's right",
        "that is right",
        "that's correct",
        "that's fine",
        "that works",
        "ok",
        "okay",
        "it is",
        "sí",
        "si",
    ];
    YES.iter().any(|y| t == *y || t.starts_with(&format!("{y},")) || t.starts_with(&format!("{y} ")))
        && !t.split(|c: char| !c.is_alphanumeric() && c != '\'').any(|w| w == "not" || w.ends_with("n't"))
}

/// A number as people say it: `(312) 555-0142` in its own country.
pub fn spoken_phone(e164: &str, country: &str) -> String {
    let region = phonenumber::country::Id::from_str(&country.to_ascii_uppercase()).ok();
    match phonenumber::parse(region, e164) {
        Ok(number) if number.country().id() == region => {
            number.format().mode(phonenumber::Mode::National).to_string()
        }
        Ok(number) => number.format().mode(phonenumber::Mode::International).to_string(),
        Err(_) => e164.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(
            validate(ExpectedFormat::Email, " Dana@Example.com ", "US"),
            Ok("dana@example.com".into())
        );
        assert_eq!(
            validate(ExpectedFormat::Email, "dana at example dot com", "US"),
            Err(Rejection::NotEmail)
        );
        assert_eq!(validate(ExpectedFormat::Email, "dana@localhost", "US"), Err(Rejection::NotEmail));
        assert_eq!(find_email("sure, it's dana.smith@mail.example."), Some("dana.smith@mail.example".into()));
    }

    #[test]
    fn phones_normalise_to_e164_with_the_business_country() {
        assert_eq!(validate(ExpectedFormat::Phone, "(312) 555-0142", "US"), Ok("+13125550142".into()));
        assert_eq!(validate(ExpectedFormat::Phone, "+44 20 7946 0958", "US"), Ok("+442079460958".into()));
        assert_eq!(validate(ExpectedFormat::Phone, "020 7946 0958", "GB"), Ok("+442079460958".into()));
        assert_eq!(validate(ExpectedFormat::Phone, "555-0100", "US"), Err(Rejection::PhoneTooShort));
        assert_eq!(validate(ExpectedFormat::Phone, "call me maybe", "US"), Err(Rejection::NotPhone));
        assert_eq!(find_phone("I'm Dana, 312-555-0142, water everywhere", "US"), Some("+13125550142".into()));
        assert_eq!(find_phone("it's been 3 days since 2024", "US"), None);
    }

    #[test]
    fn names_in_passing() {
        assert_eq!(find_name("Hi, I'm Dana, 555-0100"), Some("Dana".into()));
        assert_eq!(find_name("my name is Dana Smith and my pipe burst"), Some("Dana Smith".into()));
        assert_eq!(find_name("this is Bob from next door"), Some("Bob".into()));
        assert_eq!(find_name("me llamo María"), Some("María".into()));
        assert_eq!(find_name("I'm flooded"), None);
        assert_eq!(find_name("I'm Calling about a leak"), None);
        assert_eq!(find_name("Jim here"), None);
    }

    #[test]
    fn names_survive_text_whose_lower_case_has_another_length() {
        // U+212A KELVIN SIGN lower-cases to one byte: offsets from a lower-cased copy used to panic.
        assert_eq!(find_name("\u{212A}\u{212A}\u{212A} i'm Élodie"), Some("Élodie".into()));
        assert_eq!(find_name("İİİİ this is Dana"), Some("Dana".into()));
        assert_eq!(find_name("ẞ I'M Ödön Horváth"), Some("Ödön Horváth".into()));
        assert_eq!(find_name("\u{212A}m Dana"), None);
    }

    #[test]
    fn text_is_trimmed_and_capped() {
        assert_eq!(validate(ExpectedFormat::Text, "   ", "US"), Err(Rejection::Empty));
        let long = "x".repeat(5000);
        assert_eq!(validate(ExpectedFormat::Text, &long, "US").map(|s| s.len()), Ok(MAX_TEXT_ANSWER));
        assert!(is_decline("No thanks."));
        assert!(is_affirmative("Yes."));
        assert!(is_affirmative("yeah, that's fine"));
        assert!(!is_affirmative("yes it's not"));
        assert!(!is_affirmative("no"));
        assert!(!is_affirmative("yesterday"));
        assert_eq!(spoken_phone("+13125550142", "US"), "(312) 555-0142");
        assert_eq!(spoken_phone("+442079460958", "US"), "+44 20 7946 0958");
        assert!(!is_decline("no heat in the house"));
    }
}
