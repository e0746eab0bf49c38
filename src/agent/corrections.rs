//! Corrections of details already given: "sorry, it's 14 Oak Ave not 41",
//! "I meant Cedar Bend, not Lakemont", "perdón, es 66 Birch Street", "the
//! last four are 0174 not 0147". Each function takes the stored value and
//! the visitor's message and returns the corrected value, or None when the
//! message does not correct that detail.

use super::answers;

/// Words between a correction's opener and the new value: "it's", "I
/// meant", "me equivoqué, es". Lower case; matched at the start.
const LEAD_INS: [&str; 20] = [
    "it's ",
    "its ",
    "it is ",
    "that's ",
    "thats ",
    "that is ",
    "i meant ",
    "i mean ",
    "it should be ",
    "should be ",
    "make that ",
    "autocorrect",
    "my mistake",
    "wrong one",
    "me equivoqué",
    "me equivoque",
    "quise decir ",
    "quería decir ",
    "es ",
    "era ",
];

/// Words said before a correction that are no part of it: "oh wait, ...".
const INTERJECTIONS: [&str; 10] = ["oh", "ah", "uh", "um", "hmm", "ok", "okay", "no", "yeah", "ay"];

/// What comes between "X" and "Y" in "X, not Y" (lower case, spaced).
const CONTRASTS: [&str; 7] =
    [", not ", " not ", ", no en ", " no en ", ", no ", " instead of ", " rather than "];

/// Words that join a corrected part to what it replaces ("but in", "pero en").
const CONNECTIVES: [&str; 6] = ["but", "pero", "in", "en", "and", "y"];

/// The message without its opener and lead-ins: "sorry, typo, it's 14 Oak
/// Ave" -> "14 Oak Ave".
fn restated(message: &str) -> &str {
    let mut rest = message.trim();
    loop {
        let before = rest.len();
        rest = answers::without_correction_opener(rest);
        let first_end = rest.find(|c: char| !c.is_alphabetic()).unwrap_or(rest.len());
        if first_end < rest.len() && INTERJECTIONS.contains(&rest[..first_end].to_lowercase().as_str()) {
            rest = rest[first_end..].trim_start_matches([',', ' ', '-', '—', ':', '.', '!']).trim_start();
        }
        if let Some(cue) = LEAD_INS.iter().find(|cue| {
            rest.get(..cue.len()).is_some_and(|head| head.to_lowercase() == **cue)
                && (cue.ends_with(' ')
                    || rest[cue.len()..].chars().next().is_none_or(|c| !c.is_alphanumeric()))
        }) {
            rest = rest[cue.len()..].trim_start_matches([',', ' ', '-', '—', ':', '.']).trim_start();
        }
        if rest.len() == before {
            return rest;
        }
    }
}

/// "X, not Y" in a correction: (X, Y), X being the new value's words and Y
/// what it replaces, each cut at the nearest clause's end ("that's
/// Riverton Falls, not Lakemont, we moved" -> ("Riverton Falls", "Lakemont")).
pub fn contrast(message: &str) -> Option<(String, String)> {
    let text = restated(message);
    let lower = text.to_lowercase();
    // Offsets from the lower-cased copy are only good when lower-casing kept every length.
    if lower.len() != text.len() {
        return None;
    }
    let (at, marker) =
        CONTRASTS.iter().filter_map(|m| lower.find(m).map(|at| (at, *m))).min_by_key(|f| f.0)?;
    let said = text[..at].trim_end_matches([',', ' ']);
    // The new value is the last clause before "not": "typo. 14 Oak Ave not 41".
    let said = said.rsplit(['.', ':', ';']).next().unwrap_or(said).trim();
    let said = without_edge_words(restated(said), &["but", "pero"]);
    let replaced = text[at + marker.len()..].split([',', '.', ';', '!', '?']).next().unwrap_or("").trim();
    let replaced = without_edge_words(replaced, &["in", "en", "the"]);
    (!said.is_empty() && !replaced.is_empty()).then(|| (said.to_string(), replaced.to_string()))
}

/// `text` without the given words at its start and end (any case).
fn without_edge_words<'a>(text: &'a str, edge: &[&str]) -> &'a str {
    let mut rest = text.trim();
    loop {
        let before = rest.len();
        if let Some((first, tail)) = rest.split_once(' ') {
            if edge.iter().any(|e| first.eq_ignore_ascii_case(e)) {
                rest = tail.trim_start();
            }
        }
        if let Some((head, last)) = rest.rsplit_once(' ') {
            if edge.iter().any(|e| last.eq_ignore_ascii_case(e)) {
                rest = head.trim_end();
            }
        }
        if rest.len() == before {
            return rest;
        }
    }
}

/// Does the message say "X, not Y" with Y a part of one of `stored`? Such a
/// message corrects a detail even without "sorry" or "actually" before it.
/// Y must hold a digit or a capital, so "the water is not hot" never does.
pub fn contrasts_with(message: &str, stored: &[&str]) -> bool {
    contrast(message).is_some_and(|(_, replaced)| {
        replaced.chars().any(|c| c.is_ascii_digit() || c.is_uppercase())
            && stored.iter().any(|s| {
                // Digits of a stored number: "+13125550142" holds "0142".
                let digits = replaced.len() >= 3 && replaced.chars().all(|c| c.is_ascii_digit());
                (digits && s.contains(&replaced)) || word_span(s, &replaced).is_some()
            })
    })
}

/// Where `part` stands in `text` as whole words (any case): its byte range.
fn word_span(text: &str, part: &str) -> Option<(usize, usize)> {
    let lower = text.to_lowercase();
    let want = part.to_lowercase();
    if lower.len() != text.len() || want.is_empty() {
        return None;
    }
    let boundary = |i: usize| {
        lower[..i].chars().next_back().is_none_or(|c| !c.is_alphanumeric())
            && lower[i + want.len()..].chars().next().is_none_or(|c| !c.is_alphanumeric())
    };
    let mut found = lower.match_indices(&want).map(|(i, _)| i).filter(|&i| boundary(i));
    let start = found.next()?;
    // Twice in the value: which one is meant is unclear.
    found.next().is_none().then_some((start, start + want.len()))
}

/// Words of `text` without their punctuation, lower-cased.
fn plain_words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// `old` with `replaced` swapped for the new words of `said`: the words
/// `said` shares with `old` on either side of `replaced` are context, not
/// new ("Maple Ridge Court, not Road" changes "Road" to "Court").
fn substitute(old: &str, said: &str, replaced: &str, places: bool) -> Option<String> {
    let (start, mut end) = word_span(old, replaced)?;
    let before = plain_words(&old[..start]);
    let after = plain_words(&old[end..]);
    let said_words: Vec<&str> = said.split_whitespace().collect();
    let plain = |w: &str| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase();
    let shared_before = (0..=said_words.len().min(before.len()))
        .rev()
        .find(|&k| said_words[..k].iter().map(|w| plain(w)).eq(before[before.len() - k..].iter().cloned()))
        .unwrap_or(0);
    let rest = &said_words[shared_before..];
    let shared_after = (0..=rest.len().min(after.len()))
        .rev()
        .find(|&k| rest[rest.len() - k..].iter().map(|w| plain(w)).eq(after[..k].iter().cloned()))
        .unwrap_or(0);
    let new = rest[..rest.len() - shared_after].join(" ");
    let new = without_edge_words(new.trim_matches([',', ' ']), &CONNECTIVES);
    if new.is_empty() || new.eq_ignore_ascii_case(replaced) {
        return None;
    }
    // In an address, "Oak Hollow, not Willow" for "Willow Creek Township":
    // a place name replaces the whole of the place name it starts.
    let place = |t: &str| {
        t.split_whitespace().all(|w| w.chars().next().is_some_and(char::is_uppercase))
            && !t.chars().any(|c| c.is_ascii_digit())
    };
    let segment_end = old[end..].find(',').map_or(old.len(), |i| end + i);
    if places && place(new) && place(&old[end..segment_end]) {
        end = segment_end;
    }
    Some(format!("{}{}{}", &old[..start], new, &old[end..]))
}

/// Does `text` open with a house number and a street name ("66 Birch
/// Street", "12B Mill Rd")?
fn opens_with_house_number(text: &str) -> bool {
    let mut words = text.split_whitespace();
    let number = words.next().unwrap_or("");
    let street = words.next().unwrap_or("");
    answers::is_house_number(number) && street.chars().next().is_some_and(char::is_uppercase)
}

/// The corrected address: "14 Oak Ave not 41" and "Cedar Bend, not
/// Lakemont" change the part they name; "perdón, es 66 Birch Street, Cedar
/// Bend" restates the whole address.
pub fn address(old: &str, message: &str) -> Option<String> {
    if let Some((said, replaced)) = contrast(message) {
        if let Some(new) = substitute(old, &said, &replaced, true) {
            return Some(new);
        }
        if opens_with_house_number(&said) {
            return answers::address_answer(&said).ok();
        }
    }
    let rest = restated(message);
    if !opens_with_house_number(rest) {
        return None;
    }
    answers::address_answer(rest).ok().filter(|new| new != old)
}

/// The corrected phone number: "the last four are 0174 not 0147" changes
/// those digits of the number given.
pub fn phone(old: &str, message: &str, country: &str) -> Option<String> {
    let (said, replaced) = contrast(message)?;
    let digits = |t: &str| -> String {
        let last = t.split(|c: char| !c.is_ascii_digit()).rfind(|d| !d.is_empty()).unwrap_or("");
        last.to_string()
    };
    let (new, was) = (digits(&said), digits(&replaced));
    if new.len() != was.len() || was.len() < 2 || old.matches(was.as_str()).count() != 1 {
        return None;
    }
    answers::normalise_phone(&old.replacen(was.as_str(), &new, 1), country).ok()
}

/// The corrected name: "Jon, not John", or the name restated with a word of
/// the one given ("it's Katarina, with an extra a: Katarina Sjoberg").
pub fn name(old: &str, message: &str) -> Option<String> {
    if let Some((said, replaced)) = contrast(message) {
        let new = substitute(old, &said, &replaced, false);
        if let Some(new) = new.filter(|n| answers::name_answer(n).is_ok()) {
            return Some(new);
        }
    }
    let old_words = plain_words(old);
    restated(message)
        .split([',', '.', ':', ';', '!'])
        .map(str::trim)
        .filter(|part| part.split_whitespace().all(|w| w.chars().next().is_some_and(char::is_uppercase)))
        .filter_map(|part| answers::name_answer(part).ok())
        .filter(|n| n != old && plain_words(n).iter().any(|w| old_words.contains(w)))
        .max_by_key(|n| n.split_whitespace().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_of_an_address_is_changed_in_place() {
        let old = "27 Quarry Lane, Lakemont";
        assert_eq!(
            address(old, "oh wait, it's 72 Quarry Lane not 27"),
            Some("72 Quarry Lane, Lakemont".into())
        );
        assert_eq!(
            address(old, "sorry I meant Oak Hollow, not Lakemont"),
            Some("27 Quarry Lane, Oak Hollow".into())
        );
        assert_eq!(address(old, "oops, Quarry Road, not Lane"), Some("27 Quarry Road, Lakemont".into()));
        // A shortened place name stands for the whole of it.
        assert_eq!(
            address(
                "9 Dune Rd, Willow Creek Township",
                "perdón, es 9 Dune Rd pero en East Harbor, no en Willow"
            ),
            Some("9 Dune Rd, East Harbor".into())
        );
    }

    #[test]
    fn a_restated_address_replaces_the_old_one() {
        let old = "40 Pier Street, East Harbor";
        assert_eq!(
            address(old, "perdón, me equivoqué, es 14 Pier Street, East Harbor"),
            Some("14 Pier Street, East Harbor".into())
        );
        assert_eq!(
            address(old, "sorry, it's 4 Mill Road, Cedar Bend"),
            Some("4 Mill Road, Cedar Bend".into())
        );
        // Not an address: a number of things, a phone number.
        assert_eq!(address(old, "sorry, 2 more things to mention"), None);
        assert_eq!(address(old, "sorry, 312 555 0199 is my number"), None);
        assert_eq!(address(old, "sorry, my number is wrong"), None);
    }

    #[test]
    fn digits_of_a_phone_number_are_corrected() {
        assert_eq!(phone("+17735550162", "sorry, it ends 0126 not 0162", "US"), Some("+17735550126".into()));
        // Digits the number does not hold, or a different count: nothing changes.
        assert_eq!(phone("+17735550162", "sorry, it ends 0126 not 0199", "US"), None);
        assert_eq!(phone("+17735550162", "sorry, it ends 016 not 0162", "US"), None);
    }

    #[test]
    fn names_are_corrected_by_contrast_or_restatement() {
        assert_eq!(name("Jon Pike", "sorry, it's John not Jon"), Some("John Pike".into()));
        assert_eq!(
            name("Marta Kowalsky", "oops, typo. it's Kowalski with an i: Marta Kowalski"),
            Some("Marta Kowalski".into())
        );
        // A restated name shares a word with the one given.
        assert_eq!(name("Marta Kowalsky", "sorry, Typo"), None);
    }

    #[test]
    fn a_contrast_needs_a_stored_part() {
        assert!(contrasts_with("it's 72 Quarry Lane not 27", &["27 Quarry Lane, Lakemont"]));
        assert!(!contrasts_with("the heater is not hot", &["27 Quarry Lane, Lakemont"]));
        assert!(!contrasts_with("it's upstairs, not in the Kitchen", &["27 Quarry Lane, Lakemont"]));
        assert!(contrasts_with("it ends 0124, not 0142", &["+13125550142"]));
        assert!(!contrasts_with("it's 3, not 2", &["+13125550142"]));
    }
}
