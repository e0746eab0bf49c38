//! Answers to lead questions: validating what the visitor typed for the
//! expected format, and spotting details they volunteered unprompted.
//!
//! Long because of its word lists (words that are not names, lead-ins,
//! fillers, correction openers); the tests are in `answers_tests.rs`.
//! Numbers and emails said aloud are read in `spoken.rs`, corrections of
//! answers already given in `corrections.rs`.

use std::str::FromStr;

use super::spoken::{digit_word, spoken_digits, spoken_email, spoken_runs, teen_word, tens_word};
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
    /// The digits of a whole number that no phone has ("555-201-3344": 555
    /// is no area code): mistyped, or made up.
    PhoneInvalid,
    /// Not something a person is called ("ok thanks, bye", a sentence).
    NotName,
    /// Not a place (an email address, a phone number, a refusal).
    NotAddress,
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
        _ if (9..=15).contains(&digits) => Err(Rejection::PhoneInvalid),
        _ => Err(Rejection::NotPhone),
    }
}

/// Loads the phone-number library's metadata (~3 MB, tens of ms, once per
/// process) now. Otherwise the first caller's number pays for it: a
/// blocking load on the async thread that every live call shares, and a
/// one-time jump in memory that looks like the first calls' cost.
pub fn warm_phone_metadata() -> bool {
    normalise_phone("+13125550100", "US").is_ok()
}

/// The first syntactically valid email address in `text`, lower-cased; on
/// a call, also one spelled out ("dana dot smith at mail dot example").
pub fn find_email(text: &str) -> Option<String> {
    written_email(text).or_else(|| spoken_email(text).and_then(|spelled| written_email(&spelled)))
}

fn written_email(text: &str) -> Option<String> {
    // "dana(at)mail.example", "dana [at] mail.example": written so to hide it from robots.
    let text = text.replace("(at)", "@").replace("[at]", "@").replace(" @ ", "@");
    text.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '<' | '>' | '(' | ')' | '"'))
        .map(|w| w.trim_matches(|c: char| matches!(c, '.' | '!' | '?' | ':' | '\'')))
        .filter(|w| w.contains('@'))
        .find(|w| email_address::EmailAddress::from_str(w).is_ok_and(|e| e.domain().contains('.')))
        .map(str::to_lowercase)
}

/// The first valid phone number written in `text`, as E.164; on a call,
/// also one said digit by digit ("eight one five, five five five, ...").
pub fn find_phone(text: &str, country: &str) -> Option<String> {
    let written = valid_numbers(text, country);
    let numbers = if written.is_empty() {
        spoken_digits(text).map(|digits| valid_numbers(&digits, country)).unwrap_or_default()
    } else {
        written
    };
    // "work is ... but my cell ... is better": the one they prefer, else the first.
    let preferred = numbers.iter().find(|(_, clause)| {
        let words = words(clause);
        words.iter().any(|w| PREFERENCE.iter().any(|p| w.starts_with(p)))
    });
    preferred.or(numbers.first()).map(|(number, _)| number.clone())
}

/// Words that mark the number to use among several ("... is better").
const PREFERENCE: [&str; 7] = ["better", "best", "prefer", "instead", "rather", "mejor", "prefiero"];

/// Each valid number in `text` as E.164, with the clause it stands in (the
/// text between the commas, semicolons and "but" around it).
fn valid_numbers(text: &str, country: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut from = 0;
    for candidate in phone_candidates(text) {
        let Ok(number) = normalise_phone(&candidate, country) else { continue };
        let Some(at) = text[from..].find(candidate.as_str()).map(|i| i + from) else { continue };
        from = at + candidate.len();
        let start = [text[..at].rfind([',', ';']).map(|i| i + 1), text[..at].rfind(" but ").map(|i| i + 5)]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(0);
        let end = [text[from..].find([',', ';']), text[from..].find(" but ")]
            .into_iter()
            .flatten()
            .min()
            .map_or(text.len(), |i| from + i);
        if !out.iter().any(|(n, _)| *n == number) {
            out.push((number, text[start..end].to_string()));
        }
    }
    out
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
    const CUES: [&str; 9] =
        ["my name is", "my name's", "my name’s", "this is", "i'm", "i am", "im", "me llamo", "soy"];
    for cue in CUES {
        let mut previous: Option<char> = None;
        for (start, c) in text.char_indices() {
            // The cue must start a word.
            let word_start = !previous.is_some_and(char::is_alphanumeric);
            previous = Some(c);
            let Some(len) = word_start.then(|| starts_with_folded(&text[start..], cue)).flatten() else {
                continue;
            };
            // ... and end one: "my name's, um, Dana" as well as "I'm Dana".
            let rest = &text[start + len..];
            if !rest.starts_with(|c: char| c.is_whitespace() || c == ',') {
                continue;
            }
            let words = capitalised_name(without_fillers(rest.trim_start_matches([',', ' '])));
            if !words.is_empty() && !words.iter().any(|w| NOT_NAMES.contains(&w.to_lowercase().as_str())) {
                return Some(words.join(" "));
            }
        }
    }
    None
}

/// The capitalised words that open `text`, at most three: the name ends at
/// the first lower-case word, at a clause's punctuation ("This is Dana Lee.
/// Water is ...") and before "I'd", "I'm" ("this is Dana, I'd like ...").
fn capitalised_name(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    // A title first ("Mrs. Helen Park") is one more word, and its period ends nothing.
    let titled = text
        .split_whitespace()
        .next()
        .is_some_and(|w| HONORIFICS.contains(&w.trim_end_matches('.').to_lowercase().as_str()));
    for (i, raw) in text.split_whitespace().take(if titled { 4 } else { 3 }).enumerate() {
        let w = raw.trim_matches(|c: char| !c.is_alphabetic() && c != '\'' && c != '-');
        let lower = w.to_lowercase();
        let pronoun = lower.starts_with("i'") || lower.starts_with("i’");
        if pronoun || w.chars().count() < 2 || !w.chars().next().is_some_and(char::is_uppercase) {
            break;
        }
        out.push(w);
        if raw.ends_with([',', '.', ';', ':', '!', '?']) && !(titled && i == 0 && raw.ends_with('.')) {
            break;
        }
    }
    // "Mrs. Helen Park" is Helen Park; "Mr. Okoro" keeps the title.
    if titled && out.len() >= 3 {
        out.remove(0);
    }
    out
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

/// A refusal said in a sentence ("I'd rather not give my email", "no
/// tengo correo", "whenever works"): declines an optional question whose
/// answer it cannot be. Only asked of optional questions, or when the
/// answer did not validate, since "no leaks, just a quote" answers a
/// description.
pub fn is_soft_decline(text: &str) -> bool {
    if is_decline(text) {
        return true;
    }
    let t = format!(" {} ", words(text).join(" "));
    const CUES: [&str; 46] = [
        " rather not ",
        " prefer not ",
        " don't have ",
        " dont have ",
        " don't do ",
        " don't use ",
        " don't want ",
        " no email ",
        " no need ",
        " not needed ",
        " whenever works ",
        " any time works ",
        " anytime works ",
        " no preference ",
        " doesn't matter ",
        " does not matter ",
        " just call me ",
        " call me instead ",
        " skip ",
        " i'll pass ",
        " pass on ",
        " can't right now ",
        " not right now ",
        " no tengo ",
        " prefiero no ",
        " prefiero que ",
        " no uso ",
        " sin correo ",
        " cuando sea ",
        " me da igual ",
        " no hace falta ",
        " lo que sea ",
        " don't need ",
        " dont need ",
        " do not need ",
        " not necessary ",
        " not required ",
        " i'm good ",
        " im good ",
        " all good ",
        " no es necesario ",
        " no se necesita ",
        " así está bien ",
        " asi esta bien ",
        " mejor no ",
        " no necesito ",
    ];
    let starts_no = [" no ", " nope ", " nah ", " not "].iter().any(|n| t.starts_with(n));
    // Typed or transcribed without apostrophes: "i dont do email", "im good".
    let bare = t.replace('\'', "");
    CUES.iter().any(|c| t.contains(c) || bare.contains(&c.replace('\'', "")))
        || (starts_no && t.split_whitespace().count() <= 8)
}

/// Does the message try to give an email address at all (an "@", a dotted
/// word, "at", "dot", "arroba", a mail provider)? "Unit 2 is on the ground
/// floor" does not: it is a remark, not a mistyped address.
pub fn attempts_email(text: &str) -> bool {
    const SIGNS: [&str; 12] =
        ["at", "dot", "arroba", "punto", "com", "net", "org", "mail", "email", "gmail", "correo", "e-mail"];
    text.contains('@')
        || text.split_whitespace().any(|w| {
            let w = w.trim_matches(|c: char| !c.is_alphanumeric());
            w.contains('.') || SIGNS.contains(&w.to_lowercase().as_str())
        })
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

/// Lower-case words of `text` (letters, digits and apostrophes).
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’')
        .filter(|w| !w.is_empty())
        .map(|w| w.replace('’', "'"))
        .collect()
}

/// `text` without a greeting at its start ("Hi, I need a quote" -> "I
/// need a quote"): the problem said back at the close begins with the problem.
pub fn without_greeting(text: &str) -> &str {
    const GREETINGS: [&str; 16] = [
        "good morning",
        "good afternoon",
        "good evening",
        "buenos días",
        "buenos dias",
        "buenas tardes",
        "buenas noches",
        "hello there",
        "hi there",
        "hey there",
        "hello",
        "hiya",
        "hola",
        "buenas",
        "hey",
        "hi",
    ];
    let trimmed = text.trim_start();
    let lower = trimmed.to_lowercase();
    for g in GREETINGS {
        // Offsets from the lower-cased copy hold only when it kept every length.
        let Some(rest) = lower.strip_prefix(g).filter(|_| lower.len() == trimmed.len()) else { continue };
        if let Some(after) = rest.strip_prefix([',', '!', '.']) {
            let cut = trimmed.len() - after.len();
            let rest = trimmed[cut..].trim_start();
            if !rest.is_empty() {
                return rest;
            }
        }
    }
    trimmed
}

/// "ok thanks, bye", "that's all, thank you", "adiós": the visitor is
/// leaving, and nothing in the message answers anything.
pub fn is_farewell(text: &str) -> bool {
    if text.contains('@') || text.chars().filter(char::is_ascii_digit).count() >= 3 {
        return false;
    }
    let words = words(text);
    if words.is_empty() || words.len() > 9 {
        return false;
    }
    let joined = format!(" {} ", words.join(" "));
    const LEAVING: [&str; 16] = [
        " bye ",
        " goodbye ",
        " good bye ",
        " bye bye ",
        " see you ",
        " that's all ",
        " that is all ",
        " nothing else ",
        " have a good ",
        " have a nice ",
        " adios ",
        " adiós ",
        " chao ",
        " hasta luego ",
        " eso es todo ",
        " nada más ",
    ];
    LEAVING.iter().any(|l| joined.contains(l))
}

/// Words that show an answer to "your name?" is a sentence, not a name.
const NOT_IN_NAMES: [&str; 96] = [
    "i",
    "i'm",
    "im",
    "my",
    "me",
    "we",
    "you",
    "it",
    "it's",
    "is",
    "are",
    "was",
    "the",
    "a",
    "an",
    "and",
    "or",
    "for",
    "to",
    "of",
    "in",
    "on",
    "at",
    "with",
    "need",
    "want",
    "have",
    "has",
    "can",
    "could",
    "would",
    "do",
    "does",
    "please",
    "thanks",
    "thank",
    "bye",
    "ok",
    "okay",
    "yes",
    "no",
    "not",
    "hi",
    "hello",
    "hey",
    "quote",
    "help",
    "water",
    "leak",
    "pipe",
    "sorry",
    "what",
    "why",
    "how",
    "number",
    "address",
    "email",
    "necesito",
    "there",
    "today",
    "tomorrow",
    "tonight",
    "morning",
    "afternoon",
    "evening",
    "week",
    "hoy",
    "mañana",
    "mi",
    "mis",
    "su",
    "sus",
    "es",
    "para",
    "mom",
    "mum",
    "dad",
    "mother",
    "father",
    "grandma",
    "grandpa",
    "mamá",
    "mama",
    "papá",
    "papa",
    "abuela",
    "abuelo",
    // "soy" and "llamo" make a Spanish sentence, never a name ("claro soy ...").
    "soy",
    "llamo",
    "back",
    "later",
    "now",
    "soon",
    "asap",
    "anytime",
    "whenever",
];

/// A lead-in before a name ([`NAME_LEAD_INS`]) and how it marks one.
#[derive(Clone, Copy)]
struct LeadIn {
    /// Lower case, with the space after it: "my name is ".
    cue: &'static str,
    /// It also opens sentences that give no name ("it's leaking", "call me
    /// back later", "for sure"): after it, the answer must read as a name
    /// as a whole.
    weak: bool,
    /// It still marks a name after other words ("si mire, me llamo Rosa
    /// Díaz", "OK so the appointment is for Tom Reyes"): the name is read
    /// from the first of them when the answer as a whole is none.
    inside: bool,
}

impl LeadIn {
    /// A lead-in that surely comes before a name.
    const fn sure(cue: &'static str) -> Self {
        Self { cue, weak: false, inside: false }
    }

    /// A lead-in that also opens sentences that give no name.
    const fn weak(cue: &'static str) -> Self {
        Self { cue, weak: true, inside: false }
    }

    /// The same lead-in, marking a name after other words too.
    const fn inside(self) -> Self {
        Self { inside: true, ..self }
    }
}

/// Lead-ins people put before a name: "it's Dana", "name's Dana", and
/// those that give the name of the person the visit is for ("it's for
/// Walter Brandt", "es para Ofelia Ruiz", "put it under Dana Lee"). The
/// longest that opens the answer is removed, then any other after it.
/// Each says whether it also opens sentences that give no name
/// ([`LeadIn::weak`]) and whether it still marks a name after other words
/// ([`LeadIn::inside`]), so a lead-in is added in one place.
const NAME_LEAD_INS: [LeadIn; 69] = [
    LeadIn::sure("my name is ").inside(),
    // Said without the verb by some learners of the language: "my name Dana Lee".
    LeadIn::sure("my name ").inside(),
    LeadIn::sure("mi nombre "),
    // A call's transcript drops the apostrophe: "my names lorraine pike".
    LeadIn::weak("my names ").inside(),
    LeadIn::weak("names "),
    LeadIn::sure("the name is ").inside(),
    LeadIn::sure("mi nombre es ").inside(),
    LeadIn::sure("name: "),
    LeadIn::sure("nombre: "),
    LeadIn::sure("my name's ").inside(),
    LeadIn::sure("name is "),
    LeadIn::weak("name's "),
    LeadIn::weak("this is "),
    LeadIn::weak("it's "),
    LeadIn::weak("its "),
    LeadIn::weak("i'm "),
    LeadIn::weak("i am "),
    LeadIn::sure("me llamo ").inside(),
    LeadIn::weak("soy "),
    LeadIn::weak("just call me "),
    LeadIn::weak("you can call me "),
    LeadIn::weak("call me "),
    LeadIn::weak("everyone calls me "),
    // "My good name is ..." (Indian English), "myself Dana".
    LeadIn::sure("my good name is ").inside(),
    LeadIn::sure("good name is "),
    LeadIn::weak("myself "),
    LeadIn::sure("you're speaking with "),
    LeadIn::sure("you're talking to "),
    LeadIn::sure("you are speaking with "),
    LeadIn::sure("the name should be "),
    LeadIn::sure("name should be ").inside(),
    LeadIn::sure("the name will be "),
    LeadIn::sure("the name would be "),
    LeadIn::sure("put the name "),
    LeadIn::sure("put it under "),
    LeadIn::sure("put it down as "),
    LeadIn::sure("put down "),
    LeadIn::sure("under the name ").inside(),
    LeadIn::sure("under the name of "),
    LeadIn::sure("it's under "),
    LeadIn::sure("its under "),
    LeadIn::sure("it's for ").inside(),
    LeadIn::sure("its for ").inside(),
    LeadIn::sure("it is for ").inside(),
    LeadIn::sure("this is for "),
    LeadIn::sure("the appointment is for "),
    LeadIn::sure("the booking is for "),
    LeadIn::sure("the visit is for "),
    LeadIn::sure("the appointment is under "),
    LeadIn::sure("the account is under "),
    LeadIn::sure("el nombre es ").inside(),
    LeadIn::sure("es para ").inside(),
    LeadIn::sure("está a nombre de "),
    LeadIn::sure("a nombre de ").inside(),
    LeadIn::sure("le habla "),
    LeadIn::weak("habla "),
    LeadIn::weak("for "),
    LeadIn::sure("her name is ").inside(),
    LeadIn::sure("his name is ").inside(),
    LeadIn::sure("her name's ").inside(),
    LeadIn::sure("his name's ").inside(),
    LeadIn::sure("she's called "),
    LeadIn::sure("he's called "),
    LeadIn::sure("su nombre es ").inside(),
    LeadIn::sure("se llama ").inside(),
    LeadIn::sure("full name is ").inside(),
    LeadIn::sure("full name ").inside(),
    LeadIn::sure("my full name is "),
    LeadIn::sure("mi nombre completo es "),
];

/// Cues [`name_after_cue`] reads a name from besides the lead-ins marked
/// [`LeadIn::inside`]: no lead-ins themselves ([`NAME_LEAD_INS`] has them
/// only after "the"), so the answer read from them keeps them.
const OTHER_NAME_CUES_INSIDE: [&str; 2] = ["appointment is for ", "booking is for "];

/// Titles before a name, left out when a name follows them ("Doña Ofelia
/// Ruiz" is "Ofelia Ruiz"; "Mrs Adler" keeps its title, having no other name).
const HONORIFICS: [&str; 17] = [
    "mr",
    "mrs",
    "ms",
    "miss",
    "mister",
    "dr",
    "doctor",
    "don",
    "doña",
    "dona",
    "sr",
    "sra",
    "srta",
    "señor",
    "señora",
    "señorita",
    "missus",
];

/// Words that end a name given after a lead-in: "beatrice okafor, that's my
/// mum", "Tom Reyes who lives there". Beside [`NOT_IN_NAMES`].
const AFTER_NAME: [&str; 35] = [
    "that's", "thats", "that", "he's", "hes", "she's", "shes", "he", "she", "his", "her", "who", "but", "so",
    "they", "their", "mi", "es", "que", "su", "porque", "pero", "quien", "él", "ella", "from", "and",
    "please", "thanks", "thank", "gracias", "por", "i", "i'm", "im",
];
/// The answer to "May I have your name?": a name given in passing, or the
/// message itself (its lead-in removed) when it reads as a name: one to five
/// words of letters, none of them words a sentence is made of.
pub fn name_answer(text: &str) -> Result<String, Rejection> {
    if let Some(name) = find_name(text) {
        return Ok(name);
    }
    // Control characters (a speech result can carry them) are no part of a name.
    let cleaned: String = text.chars().filter(|c| !c.is_control()).collect();
    // "Bob. Bob Fitch.": a sentence's end parts the answer as a comma does
    // (not an initial's period: "K. Mensah", nor a title's: "Mr. Okoro").
    let cleaned = sentences_as_clauses(&cleaned);
    let spoken = without_fillers(without_spelling(&cleaned));
    let whole = match name_like(spoken) {
        Err(Rejection::NotName) if spoken.contains(',') => {
            // "it's Gary, Gary Novak", "Novak, Gary Novak": the fullest part that reads as a name.
            let mut parts: Vec<String> = spoken.split(',').filter_map(|p| name_like(p).ok()).collect();
            parts.sort_by_key(|p| std::cmp::Reverse(p.split_whitespace().count()));
            parts.into_iter().next().ok_or(Rejection::NotName)
        }
        other => other,
    };
    whole.or_else(|_| name_after_cue(spoken).ok_or(Rejection::NotName))
}

/// `text` with ". " after a word of two letters or more, not a title, written ", ".
fn sentences_as_clauses(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_inclusive(' ') {
        let stem = word.trim_end().trim_end_matches('.');
        if word.ends_with(". ")
            && stem.chars().count() >= 2
            && !HONORIFICS.contains(&stem.to_lowercase().as_str())
        {
            out.push_str(stem);
            out.push_str(", ");
        } else {
            out.push_str(word);
        }
    }
    out
}

/// The name after a lead-in that comes after other words: "si mire me
/// llamo rosa díaz", "ok so the booking is for Tom Reyes".
fn name_after_cue(text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    // Offsets from the lower-cased copy are only good when lower-casing kept every length.
    if lower.len() != text.len() {
        return None;
    }
    let starts = lower
        .char_indices()
        .filter(|(i, _)| lower[..*i].chars().next_back().is_some_and(|c| !c.is_alphanumeric()))
        .map(|(i, _)| i);
    for at in starts {
        let mut inside =
            NAME_LEAD_INS.iter().filter(|l| l.inside).map(|l| l.cue).chain(OTHER_NAME_CUES_INSIDE);
        if inside.any(|cue| lower[at..].starts_with(cue)) {
            if let Ok(name) = name_like(&text[at..]) {
                return Some(name);
            }
        }
    }
    None
}

/// `text` without the lead-ins that open it ("yes, it's for ..."), each
/// the longest that matches, and the fillers after them. True when one
/// that surely comes before a name was removed.
fn without_name_lead_ins(text: &str) -> (&str, bool) {
    let mut rest = text.trim();
    let mut led = false;
    loop {
        let lower = rest.to_lowercase();
        let lead_in = NAME_LEAD_INS
            .iter()
            .filter(|l| lower.starts_with(l.cue) && rest.is_char_boundary(l.cue.len()))
            .max_by_key(|l| l.cue.len());
        // The cues' lengths hold in the original only when lower-casing kept every length.
        let Some(lead_in) = lead_in.filter(|_| lower.len() == rest.len()) else { return (rest, led) };
        let after = without_fillers(rest[lead_in.cue.len()..].trim_start_matches([',', ' ']));
        if after.is_empty() {
            return (rest, led);
        }
        rest = after;
        led |= !lead_in.weak;
    }
}

/// `text` without the thanks after it: "Kwame Mensah thank you" -> "Kwame Mensah".
fn without_courtesy_words(text: &str) -> &str {
    let mut rest = text.trim();
    loop {
        let lower = rest.to_lowercase();
        let Some(tail) =
            ["thank you", "thanks", "please", "gracias", "por favor", "cheers", "ta"].iter().find(|t| {
                lower.ends_with(*t)
                    && lower.len() > t.len()
                    && lower[..lower.len() - t.len()].ends_with([' ', ','])
            })
        else {
            return rest;
        };
        // The tails are ASCII: their length is the same in the original.
        rest = rest[..rest.len() - tail.len()].trim_end().trim_end_matches(',').trim_end();
    }
}

/// A name without the title before it, when a name follows the title.
fn without_honorific(name: &str) -> &str {
    // "la señora Pilar Gómez": the article goes with the title.
    let name = match name.split_once(' ') {
        Some((article, tail)) if ["la", "el"].contains(&article.to_lowercase().as_str()) => {
            let title = tail.split_whitespace().next().unwrap_or("").trim_end_matches('.').to_lowercase();
            if HONORIFICS.contains(&title.as_str()) {
                tail.trim_start()
            } else {
                name
            }
        }
        _ => name,
    };
    let Some((first, tail)) = name.split_once(' ') else { return name };
    let title = first.trim_end_matches('.').to_lowercase();
    if HONORIFICS.contains(&title.as_str()) && tail.split_whitespace().count() >= 2 {
        tail.trim_start()
    } else {
        name
    }
}

/// Words that introduce a name's spelling: "Dana Lee, that's D A N A".
const SPELLING_LEAD_INS: [&str; 9] =
    ["that's", "thats", "that", "is", "spelled", "spelt", "it's", "se", "escribe"];

/// The text before a name is spelled out letter by letter ("it's Dana Lee,
/// spelled D A N A"): a run of three or more single letters and the words
/// that introduce it are no part of the name.
fn without_spelling(text: &str) -> &str {
    let mut run_start = None;
    let mut run = 0;
    let mut cut = None;
    let mut offset = 0;
    for word in text.split_inclusive(char::is_whitespace) {
        let letters: Vec<char> = word.chars().filter(|c| c.is_alphanumeric()).collect();
        // "D-A-N-A", "D.A.N.A": a whole word spelled.
        let pieces: Vec<&str> =
            word.trim().trim_end_matches([',', '.']).split(['-', '.']).filter(|p| !p.is_empty()).collect();
        let spelled_word = pieces.len() >= 3 && pieces.iter().all(|p| p.chars().count() == 1);
        if spelled_word && offset > 0 {
            cut = Some(offset);
            break;
        }
        if letters.len() == 1 && letters[0].is_alphabetic() {
            run_start.get_or_insert(offset);
            run += 1;
            if run >= 3 {
                cut = run_start;
                break;
            }
        } else {
            (run_start, run) = (None, 0);
        }
        offset += word.len();
    }
    let Some(cut) = cut.filter(|&c| c > 0) else { return text };
    let mut head = text[..cut].trim_end();
    loop {
        let trimmed = head.trim_end_matches([',', ':', '-', ' ']);
        let last_start = trimmed.rfind(char::is_whitespace).map_or(0, |i| i + 1);
        let last = trimmed[last_start..].to_lowercase();
        if last_start == 0 || !SPELLING_LEAD_INS.contains(&last.as_str()) {
            return trimmed;
        }
        head = &trimmed[..last_start];
    }
}

/// Words a speaker puts before an answer ("uh", "um", "pues", "well").
/// "si" is "sí" as a call's transcript writes it.
/// "ja" is yes in South African and Dutch-speaking English, "aye" in
/// Scotland and the north of England; "claro" says
/// "sure" in Spanish ("sí claro, soy ..."). Not "dale" or "vale": Dale is a name.
const FILLERS: [&str; 30] = [
    "uh", "um", "er", "erm", "eh", "ah", "oh", "well", "so", "yeah", "yes", "yep", "sure", "ok", "okay",
    "hi", "hello", "hey", "pues", "este", "bueno", "hola", "sí", "si", "ja", "aye", "yah", "right",
    "alright", "claro",
];

/// The text without its leading fillers and their commas.
fn without_fillers(text: &str) -> &str {
    let mut rest = text.trim();
    loop {
        let word_end = rest.find(|c: char| !c.is_alphabetic()).unwrap_or(rest.len());
        let word = rest[..word_end].to_lowercase();
        if word_end == 0 || word_end == rest.len() || !FILLERS.contains(&word.as_str()) {
            return rest;
        }
        rest = rest[word_end..].trim_start_matches([',', ' ', '.']).trim_start();
    }
}

/// One part of a name answer, read as a name.
fn name_like(part: &str) -> Result<String, Rejection> {
    let trimmed = part.trim().trim_end_matches(['.', '!']).trim();
    let lower = trimmed.to_lowercase();
    // "my name is uh brian fenn": a filler after the lead-in is no part of the name.
    let (rest, led) = without_name_lead_ins(without_fillers(trimmed));
    // "Kwame Mensah thank you", "Rosa Díaz, gracias".
    let rest = without_courtesy_words(rest);
    if is_decline(rest)
        || is_farewell(rest)
        || is_affirmative(rest)
        || FILLERS.contains(&rest.to_lowercase().as_str())
        || NAME_TAILS.contains(&lower.as_str())
    {
        return Err(Rejection::NotName);
    }
    let parts: Vec<&str> = rest.split_whitespace().collect();
    // "Dana Lee here", "Dana Lee speaking": the name without the word after it.
    let rest = match parts.split_last() {
        Some((last, head)) if !head.is_empty() && NAME_TAILS.contains(&last.to_lowercase().as_str()) => {
            rest[..rest.len() - last.len()].trim_end().trim_end_matches(',')
        }
        _ => rest,
    };
    let reads_as_name = |rest: &str| {
        let parts: Vec<&str> = rest.split_whitespace().collect();
        (1..=5).contains(&parts.len())
            && parts
                .iter()
                .all(|w| w.chars().all(|c| c.is_alphabetic() || matches!(c, '\'' | '’' | '-' | '.')))
            && !words(rest)
                .iter()
                .any(|w| NOT_IN_NAMES.contains(&w.as_str()) || NOT_NAMES.contains(&w.as_str()))
    };
    let rest = without_honorific(rest);
    let name = if reads_as_name(rest) {
        Some(rest)
    } else if led {
        // After a lead-in the name is there: it ends at a clause's end or at
        // a word that goes on about someone ("the name should be Bea Okafor
        // that's my mum"), never at any other word ("I'm calling about ...").
        let plain = |w: &str| w.trim().trim_end_matches([',', '.', ';', ':', '!']).to_lowercase();
        let said: Vec<&str> = rest.split_inclusive(char::is_whitespace).collect();
        let n = said
            .iter()
            .position(|w| {
                let w = plain(w);
                NOT_IN_NAMES.contains(&w.as_str()) || AFTER_NAME.contains(&w.as_str())
            })
            .unwrap_or(said.len());
        let head = &rest[..said[..n].iter().map(|w| w.len()).sum::<usize>()];
        let ends = head.trim_end().ends_with([',', '.', ';', ':', '!'])
            || said.get(n).is_some_and(|w| AFTER_NAME.contains(&plain(w).as_str()));
        let head = without_honorific(head.trim().trim_end_matches([',', '.', ';', ':', '!']).trim());
        let verb = head.split_whitespace().any(|w| NOT_NAMES.contains(&plain(w).as_str()));
        Some(head).filter(|h| ends && !verb && !h.is_empty() && reads_as_name(h))
    } else {
        None
    };
    // "kwame mensah calling from unit 4", "It's Kwame Mensah and I'm the
    // tenant": a name, then a word that goes on from a name, then anything.
    let name = name.or_else(|| {
        let said: Vec<&str> = rest.split_whitespace().collect();
        let plain = |w: &str| w.trim_end_matches([',', '.', ';', ':', '!']).to_lowercase();
        let at = said.iter().position(|w| {
            let w = plain(w);
            NAME_TAILS.contains(&w.as_str()) || AFTER_NAME.contains(&w.as_str())
        })?;
        let head_words = &said[..at];
        let capitalised = head_words.iter().all(|w| w.chars().next().is_some_and(char::is_uppercase));
        let tail = NAME_TAILS.contains(&plain(said[at]).as_str());
        if at == 0
            || !(tail
                || (capitalised
                    && !said[at..].iter().all(|w| w.chars().next().is_some_and(char::is_uppercase))))
        {
            return None;
        }
        let end = rest.find(said[at]).unwrap_or(rest.len());
        let head = without_honorific(rest[..end].trim().trim_end_matches([',', '.', ';', ':', '!']).trim());
        let verb = head.split_whitespace().any(|w| NOT_NAMES.contains(&plain(w).as_str()));
        Some(head).filter(|h| !verb && !h.is_empty() && reads_as_name(h))
    });
    match name {
        Some(name) => Ok(title_case_if_lower(&name.chars().take(100).collect::<String>())),
        None => Err(Rejection::NotName),
    }
}

/// A name a call's transcript wrote all in lower case ("lorraine pike") as
/// it is written ("Lorraine Pike"), particles left low ("de la"); a name
/// with any capital is kept as typed ("McKay", "van Dijk").
fn title_case_if_lower(name: &str) -> String {
    if name.chars().any(char::is_uppercase) {
        return name.to_string();
    }
    const PARTICLES: [&str; 12] =
        ["de", "del", "la", "las", "los", "y", "van", "von", "da", "der", "den", "ter"];
    name.split(' ')
        .enumerate()
        .map(|(i, w)| {
            if i > 0 && PARTICLES.contains(&w) {
                return w.to_string();
            }
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
        })
        .collect::<Vec<String>>()
        .join(" ")
}

/// The sentence that names a day or time for a visit ("Could someone come
/// today?", "¿Mañana podrían pasar?"), never one that says when the
/// problem began ("since last night", "desde anoche", "fixed last week").
pub fn visit_time(text: &str) -> Option<String> {
    const WHEN: [&str; 30] = [
        "today",
        "tonight",
        "tomorrow",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "weekday",
        "weekend",
        "morning",
        "afternoon",
        "evening",
        "hoy",
        "mañana",
        "manana",
        "lunes",
        "martes",
        "miércoles",
        "miercoles",
        "jueves",
        "viernes",
        "sábado",
        "sabado",
        "domingo",
        "next week",
        "this week",
        "semana que viene",
    ];
    const PAST: [&str; 17] = [
        "since",
        "last",
        "ago",
        "yesterday",
        "was",
        "were",
        "fixed",
        "installed",
        "started",
        "began",
        "desde",
        "anoche",
        "ayer",
        "pasado",
        "pasada",
        "hace",
        "every",
    ];
    text.split_inclusive(['.', '!', '?', '\n', ';', ','])
        .map(str::trim)
        .find(|sentence| {
            let w = words(sentence);
            let joined = format!(" {} ", w.join(" "));
            let names = WHEN.iter().any(|t| {
                if t.contains(' ') {
                    joined.contains(&format!(" {t} "))
                } else {
                    w.iter().any(|x| x == t || x.strip_suffix('s') == Some(t))
                }
            });
            // "Good evening." greets; it names no time for a visit.
            let greeting =
                [" good morning ", " good afternoon ", " good evening ", " buenos dias ", " buenos días "]
                    .iter()
                    .chain(&[" buenas tardes ", " buenas noches ", " buen dia ", " buen día "])
                    .any(|g| joined.contains(g));
            // "do you guys work Sundays?", "¿abren los sábados?" ask about the
            // business's hours; "can you come Saturday?" asks for a visit.
            let has = |list: &[&str]| w.iter().any(|x| list.contains(&x.as_str()));
            let hours = (has(&["you", "y'all", "ya'll"]) && has(&["work", "working", "open", "opened"])
                || has(&["trabajan", "abren", "abierto", "abiertos", "atienden", "horario", "hours"]))
                && !has(&["come", "send", "visit", "stop", "venir", "vengan", "pasar", "mandar", "manden"]);
            names && !greeting && !hours && !w.iter().any(|x| PAST.contains(&x.as_str()))
        })
        .map(|sentence| sentence.trim_start_matches(['¿', '¡']).chars().take(200).collect())
}

/// Words said after a name: "Dana Lee here".
const NAME_TAILS: [&str; 6] = ["here", "speaking", "calling", "aquí", "aqui", "hablando"];

/// Lead-ins people put before an address ("the house is at ...").
const ADDRESS_LEAD_INS: [&str; 16] = [
    "the address is ",
    "my address is ",
    "address is ",
    "the house is at ",
    "the property is at ",
    "it's at ",
    "its at ",
    "we're at ",
    "we are at ",
    "i'm at ",
    "i live at ",
    "we live at ",
    "located at ",
    "la dirección es ",
    "mi dirección es ",
    "vivo en ",
];

/// Openers of a correction: "sorry, ...", "actually ...".
const CORRECTION_OPENERS: [&str; 23] = [
    "sorry",
    "scratch that",
    "let me correct",
    "mejor dicho",
    "corrijo",
    "actually",
    "oops",
    "correction",
    "i mean",
    "wait",
    "hold on",
    "hang on",
    "typo",
    "my bad",
    "no wait",
    "perdón",
    "perdon",
    "disculpa",
    "espera",
    "espere",
    "esperá",
    "pará",
    "para,",
];

/// Words said before a correction's opener ("no wait", "oh sorry", "nah hold on").
const BEFORE_OPENER: [&str; 10] = ["no", "naw", "nah", "oh", "ah", "uh", "um", "hmm", "ay", "ok"];

/// Phrases that say an earlier detail was wrong wherever they stand in the
/// message ("that's my old mobile, the right one is ...", "me equivoqué de número").
const CORRECTION_PHRASES: [&str; 14] = [
    "the right one is",
    "the right number is",
    "the correct one is",
    "the correct number is",
    "gave you the wrong",
    "gave the wrong",
    "that's my old",
    "thats my old",
    "me equivoqué",
    "me equivoque",
    "el correcto es",
    "el número correcto",
    "el numero correcto",
    "le di mal",
];

/// The message with a correction's opener ("sorry, actually") removed.
pub fn without_correction_opener(text: &str) -> &str {
    let mut rest = text.trim();
    // `get` is None off a character boundary, so no slice below can panic.
    // A cue is a whole word: "I mean" does not open "I meant Oak Hollow".
    while let Some(cue) = CORRECTION_OPENERS.iter().find(|cue| {
        rest.get(..cue.len()).is_some_and(|head| head.to_lowercase() == **cue)
            && rest[cue.len()..].chars().next().is_none_or(|c| !c.is_alphanumeric())
    }) {
        rest = rest[cue.len()..].trim_start_matches([',', ' ', '-', '—', ':', '.']).trim_start();
    }
    rest
}

/// Does the message open as a correction ("sorry, my number is ...")?
pub fn is_correction(text: &str) -> bool {
    let lower = text.trim().to_lowercase();
    // The opener may follow an interjection: "naw wait, ...", "oh sorry, ...".
    let after_interjection = lower
        .split_once(|c: char| !c.is_alphabetic())
        .filter(|(first, _)| BEFORE_OPENER.contains(first))
        .map_or("", |(_, rest)| rest.trim_start_matches([',', ' ', '-', '.', '!']));
    CORRECTION_OPENERS.iter().any(|c| lower.starts_with(c) || after_interjection.starts_with(c))
        || CORRECTION_PHRASES.iter().any(|p| lower.contains(p))
        || ([" actually ", " i meant ", " not ", " wrong "].iter().any(|c| format!(" {lower} ").contains(c))
            && (lower.contains("number is") || lower.contains("address is") || lower.contains("email is")))
}

/// An address given with a lead-in ("the address is 71 Canal St"), anywhere
/// in the message: the part after the lead-in.
pub fn find_address(text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    ADDRESS_LEAD_INS.iter().find_map(|cue| {
        let at = lower.find(cue)?;
        // Offsets from the lower-cased copy are only good when lower-casing kept every length.
        if lower.len() != text.len() {
            return None;
        }
        let value = text.get(at + cue.len()..)?.trim().trim_end_matches(['.', '!']).trim();
        address_answer(value).ok()
    })
}

/// The text without the thanks or goodbye after it: "12 Elm St, Lakemont,
/// thanks" -> "12 Elm St, Lakemont".
fn without_courtesy(text: &str) -> &str {
    let mut rest = text.trim();
    while let Some((head, tail)) = rest.rsplit_once([',', '.', '!']) {
        let tail = tail.trim();
        let courtesy = is_farewell(tail)
            || ["thanks", "thank you", "thx", "please", "gracias", "por favor", "cheers"]
                .contains(&tail.to_lowercase().trim_end_matches(['.', '!']));
        if !(tail.is_empty() || courtesy) || head.trim().is_empty() {
            return rest;
        }
        rest = head.trim_end();
    }
    rest
}

/// The answer to "What's the address?": the place, its lead-in removed;
/// refused when it is an email address, a phone number, a refusal or a goodbye.
pub fn address_answer(text: &str) -> Result<String, Rejection> {
    let trimmed = without_courtesy(without_correction_opener(text).trim_end_matches(['.', '!']).trim());
    let lower = trimmed.to_lowercase();
    let rest = ADDRESS_LEAD_INS
        .iter()
        .find(|cue| lower.starts_with(*cue))
        .and_then(|cue| (lower.len() == trimmed.len()).then(|| trimmed.get(cue.len()..)).flatten())
        .unwrap_or(trimmed)
        .trim();
    let rest = without_clause_after(&from_house_number(&with_house_number_in_digits(rest)));
    let letters = rest.chars().filter(|c| c.is_alphabetic()).count();
    let digits = rest.chars().filter(char::is_ascii_digit).count();
    let word_count = rest.split_whitespace().count();
    // A sentence with no number in it is not a street address ("that's my
    // cell, call me"), unless it reads as place names ("Main Street, Lakemont").
    let sentence = digits == 0 && {
        let w: Vec<&str> = rest.split_whitespace().collect();
        let capitals = w.iter().filter(|x| starts_upper(x)).count();
        capitals * 2 < w.len() || NOT_IN_NAMES.iter().any(|n| words(&rest).iter().any(|x| x == n))
    };
    if rest.contains('?') || rest.contains('¿') || sentence || is_soft_decline(&rest) {
        return Err(Rejection::NotAddress);
    }
    let rest = rest.as_str();
    if rest.is_empty()
        || rest.contains('@')
        || is_decline(rest)
        || is_farewell(rest)
        || is_affirmative(rest)
        || letters < 3
        || (digits >= 7 && letters < 4)
        || (digits == 0 && word_count < 2 && letters < 4)
    {
        return Err(Rejection::NotAddress);
    }
    Ok(rest.chars().take(MAX_TEXT_ANSWER).collect())
}

/// Words that open a clause after an address, not a part of it: "12 Elm
/// St, Lakemont, and Tuesday works", "..., y el sábado me queda bien".
const CLAUSE_OPENERS: [&str; 52] = [
    "and", "but", "so", "then", "also", "which", "that", "we", "i", "i'm", "im", "it", "it's", "its", "my",
    "our", "if", "when", "because", "please", "y", "pero", "entonces", "que", "mi", "me", "si", "cuando",
    "porque", "el", "la", "the", "there's", "theres", "near", "next", "across", "behind", "opposite", "just",
    "right", "cerca", "junto", "frente", "enfrente", "hay", "by", "btw", "oh", "gate", "call", "ring",
];

/// The address without a clause after it: the comma-separated parts from
/// the first that opens with [`CLAUSE_OPENERS`] are left out.
fn without_clause_after(text: &str) -> String {
    // "12 Elm St, Lakemont (blue house)": the remark in brackets goes too.
    let text = match text.trim_end().strip_suffix(')').and_then(|t| t.rfind('(').map(|i| &t[..i])) {
        Some(head) if head.chars().any(|c| c.is_ascii_digit()) => head.trim_end().trim_end_matches(','),
        _ => text,
    };
    // Parts after a comma, or after a sentence's end (". The gate code is ...").
    let mut cuts: Vec<(usize, bool)> = text.match_indices(',').map(|(i, _)| (i, false)).collect();
    cuts.extend(text.match_indices(". ").map(|(i, _)| (i, true)));
    cuts.sort_unstable();
    let end = cuts
        .iter()
        .find(|(at, sentence)| {
            let said = text[at + 1..].split_whitespace().next().unwrap_or("");
            let first = said.to_lowercase().replace('’', "'");
            // "El Paso" is a town: after a comma a capital opens a clause only as "I".
            let lower_case = *sentence || said == said.to_lowercase() || first.starts_with('i');
            lower_case && CLAUSE_OPENERS.contains(&first.trim_end_matches(',').to_string().as_str())
        })
        .map_or(text.len(), |(at, _)| *at);
    text[..end].trim().to_string()
}

/// Words that name a kind of street.
const STREET_TYPES: [&str; 30] = [
    "street",
    "st",
    "avenue",
    "ave",
    "road",
    "rd",
    "lane",
    "ln",
    "drive",
    "dr",
    "court",
    "ct",
    "way",
    "place",
    "pl",
    "boulevard",
    "blvd",
    "circle",
    "cir",
    "terrace",
    "trail",
    "parkway",
    "pkwy",
    "highway",
    "hwy",
    "row",
    "square",
    "calle",
    "avenida",
    "camino",
];

/// `text` without the street addresses written in it ("I'm at 73 Heron
/// Lane, Cedar Bend, ...", "vivo en Calle Luna 22"): a house number, one to
/// three capitalised words and a street type (or a street type, capitalised
/// words and a number), with a unit and the town after a comma. Lower-case
/// words between never count ("2 weeks before court" is no address).
pub fn without_street_address(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let spans = street_address_spans(&words);
    let inside = |i: usize| spans.iter().any(|&(a, b)| (a..=b).contains(&i));
    words.iter().enumerate().filter(|&(i, _)| !inside(i)).map(|(_, w)| *w).collect::<Vec<_>>().join(" ")
}

/// The first street address written in `text` (as [`without_street_address`]
/// finds them), without the punctuation after it: "12 Elm Street,
/// Springfield" given where the number was asked is kept as the address.
pub fn find_street_address(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let &(a, mut b) = street_address_spans(&words).first()?;
    // "411 Birchwood Avenue in Lakemont.": the town after "in" goes with it
    // (as [`address_answer`] writes it: "411 Birchwood Avenue, Lakemont").
    // Here the town's words must start with a capital as written.
    if !ends_clause(words[b]) && words.get(b + 1).is_some_and(|w| is_town_in(w)) {
        if let Some(k) = town_end(&words, b + 2, starts_upper) {
            b = k;
        }
    }
    let found = words[a..=b].join(" ");
    address_answer(found.trim_end_matches(CLAUSE_END)).ok()
}

/// Punctuation after a word that ends a clause: "Lane,", "Lakemont.".
const CLAUSE_END: [char; 5] = [',', '.', ';', '!', '?'];

/// Does the word end a clause ([`CLAUSE_END`])?
fn ends_clause(word: &str) -> bool {
    word.ends_with(CLAUSE_END)
}

/// The word without the punctuation around it: "(Lakemont)," -> "Lakemont".
fn bare(word: &str) -> &str {
    word.trim_matches(|c: char| !c.is_alphanumeric())
}

/// Does the word start with a capital as written ("Lakemont", not "(Lakemont)")?
fn starts_upper(word: &str) -> bool {
    word.chars().next().is_some_and(char::is_uppercase)
}

/// Is the word capitalised, the punctuation around it aside ("(Lakemont),")?
fn capitalised(word: &str) -> bool {
    starts_upper(bare(word))
}

/// Does the word (punctuation already trimmed as the caller needs) name a
/// kind of street ([`STREET_TYPES`]), in any case?
fn is_street_type(word: &str) -> bool {
    STREET_TYPES.contains(&word.to_lowercase().as_str())
}

/// "in" or "en" before a town: "12 Elm St in Lakemont", "Calle Luna 22 en Toluca".
fn is_town_in(word: &str) -> bool {
    matches!(word, "in" | "en")
}

/// The last word of the town named from `words[first]` on: at most three
/// words that pass `capitalised`, to the first that ends a clause ("Cedar
/// Bend," in "..., Cedar Bend, please hurry") or to the message's end.
/// None when the town ends neither way.
fn town_end(words: &[&str], first: usize, capitalised: fn(&str) -> bool) -> Option<usize> {
    let town = words.get(first..).unwrap_or_default().iter().take(3).take_while(|w| capitalised(w)).count();
    (first..first + town)
        .find(|&k| ends_clause(words[k]))
        .or((town > 0 && first + town == words.len()).then(|| first + town - 1))
}

/// Word ranges (first, last, inclusive) of the street addresses in `words`.
fn street_address_spans(words: &[&str]) -> Vec<(usize, usize)> {
    let street = |w: &str| is_street_type(bare(w));
    let number = |w: &str| bare(w).chars().next().is_some_and(|c| c.is_ascii_digit());
    let mut spans = Vec::new();
    let mut i = 0;
    while i < words.len() {
        // "73 Heron Lane": a number, capitalised names, the street type.
        let english = number(words[i])
            .then(|| (i + 2..(i + 5).min(words.len())).find(|&j| street(words[j]) && capitalised(words[j])))
            .flatten()
            .filter(|&j| words[i + 1..j].iter().all(|w| capitalised(w) && !ends_clause(w)));
        // "Calle Luna 22": the street type, capitalised names, the number.
        let spanish = (street(words[i]) && capitalised(words[i]) && !ends_clause(words[i]))
            .then(|| (i + 2..(i + 5).min(words.len())).find(|&j| number(words[j])))
            .flatten()
            .filter(|&j| words[i + 1..j].iter().all(|w| capitalised(w) && !ends_clause(w)));
        let Some(mut end) = english.or(spanish) else {
            i += 1;
            continue;
        };
        // "Unit 4B", "Apt 2", "#5" right after.
        if words.get(end + 1).is_some_and(|w| {
            matches!(
                bare(w).to_lowercase().as_str(),
                "unit" | "apt" | "apartment" | "suite" | "depto" | "piso"
            )
        }) && words.get(end + 2).is_some()
        {
            end += 2;
        }
        // ", Cedar Bend,": the town's capitalised words after a comma.
        if words[end].ends_with(',') {
            if let Some(k) = town_end(words, end + 1, capitalised) {
                end = k;
            }
        }
        spans.push((i, end));
        i = end + 1;
    }
    spans
}

/// "four twenty two Lincoln Ave" (as a call transcribes it) is "422 Lincoln Ave".
fn with_house_number_in_digits(text: &str) -> String {
    let number_word = |w: &str| {
        let w = w.to_lowercase();
        digit_word(&w).is_some() || teen_word(&w).is_some() || tens_word(&w).is_some() || w == "hundred"
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    let said = words.iter().take_while(|w| w.chars().all(char::is_alphabetic) && number_word(w)).count();
    // The number must be followed by a street's name: "one more thing" stays.
    // In a call's lower-case transcript, a street type says it: "twelve elm street".
    let street_type =
        words.iter().skip(said + 1).take(3).any(|w| is_street_type(w.trim_end_matches([',', '.'])));
    let street_follows = words.get(said).is_some_and(|w| starts_upper(w) || (street_type && w.len() > 1));
    if said == 0 || !street_follows {
        return text.to_string();
    }
    let (digits, _) = spoken_runs(&words[..said].join(" "));
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return text.to_string();
    }
    std::iter::once(digits.as_str()).chain(words[said..].iter().copied()).collect::<Vec<_>>().join(" ")
}

/// A house number as written: digits first, at most six characters of
/// letters, digits and dashes ("12", "12B", "4-10").
pub(super) fn is_house_number(word: &str) -> bool {
    word.chars().next().is_some_and(|c| c.is_ascii_digit())
        && word.chars().count() <= 6
        && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The address itself when a sentence leads up to it ("it's my dad's
/// place, 61 Quarry Rd, Lakemont" -> "61 Quarry Rd, Lakemont"), with "in"
/// before the town written as a comma ("422 Lincoln Avenue in Riverton
/// Falls" -> "422 Lincoln Avenue, Riverton Falls").
fn from_house_number(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    // The house number: a word of digits (or "12B") followed by a word of letters.
    let start = words.iter().enumerate().position(|(i, w)| {
        is_house_number(w)
            && words.get(i + 1).is_some_and(|n| n.chars().next().is_some_and(char::is_alphabetic))
    });
    let words = match start {
        // Only a lead-in without digits is cut: "Apt 4, 12 Main St" keeps its unit.
        Some(i) if i > 0 && !words[..i].iter().any(|w| w.chars().any(|c| c.is_ascii_digit())) => &words[i..],
        _ => &words[..],
    };
    let mut out: Vec<String> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        // "12 elm street in lakemont" (a call's transcript): after a street type, the town.
        let after_street_type = i >= 1 && is_street_type(words[i - 1].trim_end_matches('.'));
        let town_follows = words.get(i + 1).is_some_and(|n| {
            n.chars().next().is_some_and(|c| c.is_uppercase() || (after_street_type && c.is_alphabetic()))
        });
        if is_town_in(w) && i >= 2 && town_follows && !out.last().is_some_and(|l| l.ends_with(',')) {
            // "12 Elm St over in Lakemont": the "over" goes with the "in".
            if out.last().is_some_and(|l| ["over", "out", "up", "down", "allá", "alla"].contains(&l.as_str()))
            {
                out.pop();
            }
            if let Some(last) = out.last_mut() {
                last.push(',');
            }
            continue;
        }
        out.push((*w).to_string());
    }
    out.join(" ")
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
#[path = "answers_tests.rs"]
mod tests;
