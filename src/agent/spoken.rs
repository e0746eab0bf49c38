//! What is said aloud on a call and written down by speech recognition:
//! numbers as words ("three twelve five five five", "cuarenta y dos") and
//! email addresses spelled out ("p dot o n e i l l at mail dot example",
//! "arroba", "all one word"). `answers` validates what these produce;
//! nothing here knows what a valid number or address is.

/// A digit said as a word, in English or Spanish.
pub(super) fn digit_word(word: &str) -> Option<char> {
    Some(match word {
        "zero" | "oh" | "o" | "cero" => '0',
        "one" | "uno" | "una" => '1',
        "two" | "dos" => '2',
        "three" | "tres" => '3',
        "four" | "cuatro" => '4',
        "five" | "cinco" => '5',
        "six" | "seis" => '6',
        "seven" | "siete" => '7',
        "eight" | "ocho" => '8',
        "nine" | "nueve" => '9',
        _ => return None,
    })
}

/// A number from ten to nineteen said as a word.
pub(super) fn teen_word(word: &str) -> Option<u32> {
    Some(match word {
        "ten" | "diez" => 10,
        "eleven" | "once" => 11,
        "twelve" | "doce" => 12,
        "thirteen" | "trece" => 13,
        "fourteen" | "catorce" => 14,
        "fifteen" | "quince" => 15,
        "sixteen" | "dieciséis" | "dieciseis" => 16,
        "seventeen" | "diecisiete" => 17,
        "eighteen" | "dieciocho" => 18,
        "nineteen" | "diecinueve" => 19,
        _ => return None,
    })
}

/// The tens said as a word: "forty" is 4, "cuarenta" too.
pub(super) fn tens_word(word: &str) -> Option<u32> {
    Some(match word {
        "twenty" | "veinte" => 2,
        "thirty" | "treinta" => 3,
        "forty" | "cuarenta" => 4,
        "fifty" | "cincuenta" => 5,
        "sixty" | "sesenta" => 6,
        "seventy" | "setenta" => 7,
        "eighty" | "ochenta" => 8,
        "ninety" | "noventa" => 9,
        _ => return None,
    })
}

/// Words said between the groups of a number: fillers and "and then".
const NUMBER_GLUE: [&str; 12] =
    ["uh", "um", "er", "erm", "ah", "eh", "and", "then", "luego", "y", "e", "este"];

/// A digit, a number word or a run of digits ("double" and "triple" too:
/// "two one nine then triple five ...").
fn is_number_word(word: &str) -> bool {
    matches!(word, "double" | "doble" | "triple")
        || word.chars().all(|c| c.is_ascii_digit())
        || digit_word(word).is_some()
        || teen_word(word).is_some()
        || tens_word(word).is_some()
        || NUMBER_GLUE.contains(&word)
}

/// The message with runs of spoken digits written as digits ("double five"
/// is "55"), when a run of seven or more says a phone number; None otherwise,
/// so "one toilet, two sinks" is never read as a number.
pub(super) fn spoken_digits(text: &str) -> Option<String> {
    let (out, found) = spoken_runs(text);
    found.then_some(out)
}

/// The message, lower-cased, with runs of spoken digits written as digits;
/// true when one of them has seven digits or more.
pub(super) fn spoken_runs(text: &str) -> (String, bool) {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '.' | '-' | ';'))
        .filter(|w| !w.is_empty())
        .collect();
    let mut out: Vec<String> = Vec::new();
    let mut run = String::new();
    let mut found = false;
    let mut repeat = 1;
    let mut pending_tens: Option<u32> = None;
    for (i, w) in words.iter().enumerate() {
        let mut w = *w;
        // "six three oh um five five five ...", "eight one five and then five
        // five five ...": a filler or a joining word between digits does not
        // end the number.
        let digit_next = words.get(i + 1).is_some_and(|n| is_number_word(n));
        if (!run.is_empty() || pending_tens.is_some()) && digit_next && NUMBER_GLUE.contains(&w) {
            continue;
        }
        if let Some(n) = match w {
            "double" | "doble" => Some(2),
            "triple" => Some(3),
            _ => None,
        } {
            // "six thirty, triple five": the tens before it are a group of their own.
            if let Some(t) = pending_tens.take() {
                run.push_str(&(t * 10).to_string());
            }
            repeat = n;
            continue;
        }
        if w.chars().all(|c| c.is_ascii_digit()) && !w.is_empty() {
            run.push_str(w);
            repeat = 1;
            continue;
        }
        // "o" alone is a digit only inside a run ("five five five o one").
        if w == "o" && run.is_empty() {
            w = "";
        }
        // Pairs said as numbers: "three twelve", "fifty five", "cuarenta y dos".
        if let Some(tens) = tens_word(w) {
            if let Some(t) = pending_tens.replace(tens) {
                run.push_str(&(t * 10).to_string());
            }
            repeat = 1;
            continue;
        }
        if w == "y" && pending_tens.is_some() {
            continue;
        }
        let unit = digit_word(w);
        if let Some(t) = pending_tens.take() {
            match unit.filter(|d| *d != '0') {
                Some(d) => {
                    run.push_str(&t.to_string());
                    run.push(d);
                    repeat = 1;
                    continue;
                }
                None => run.push_str(&(t * 10).to_string()),
            }
        }
        if let Some(teen) = teen_word(w) {
            run.push_str(&teen.to_string());
            repeat = 1;
            continue;
        }
        if w == "hundred" && !run.is_empty() {
            run.push_str("00");
            continue;
        }
        // "five five five, two thousand": the last four said as a number.
        if matches!(w, "thousand" | "mil") && !run.is_empty() {
            run.push_str("000");
            continue;
        }
        match unit {
            Some(d) => {
                (0..repeat).for_each(|_| run.push(d));
                repeat = 1;
            }
            None => {
                if !run.is_empty() {
                    found |= run.len() >= 7;
                    out.push(std::mem::take(&mut run));
                }
                repeat = 1;
                out.push(w.to_string());
            }
        }
    }
    if let Some(t) = pending_tens {
        run.push_str(&(t * 10).to_string());
    }
    if !run.is_empty() {
        found |= run.len() >= 7;
        out.push(run);
    }
    (out.join(" "), found)
}

/// An email address spelled out on a call: "jorge dot silva at casa dot
/// example", "arroba" and "punto" in Spanish, "underscore" and "dash";
/// written as an address, for `answers` to validate.
pub(super) fn spoken_email(text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    let said: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .collect();
    // "d-a-n-a" is spelled letter by letter too.
    let unhyphenated: Vec<String> = said
        .iter()
        .map(|w| {
            let spelled = w.len() > 2 && w.split('-').all(|p| p.chars().count() == 1);
            if spelled {
                w.replace('-', "")
            } else {
                (*w).to_string()
            }
        })
        .collect();
    let said: Vec<&str> = unhyphenated.iter().map(String::as_str).collect();
    let said = without_letter_examples(&said);
    let (said, one_word) = without_spacing_instruction(&said);
    let letters = joined_letters(&said);
    let mut words: Vec<&str> = letters.iter().map(String::as_str).collect();
    if one_word {
        // "dana lee, all one word, at ...": the local part's words run together.
        let at = words.iter().position(|w| *w == "at" || *w == "arroba")?;
        let first = words[..at]
            .iter()
            .rposition(|w| EMAIL_LEAD_INS.contains(w) || !w.chars().all(|c| c.is_ascii_alphanumeric()))
            .map_or(0, |i| i + 1);
        if first + 1 < at {
            let local: String = words[first..at].iter().map(|w| email_joiner(w).unwrap_or(w)).collect();
            return spoken_email_words(&[&[local.as_str()], &words[at..]].concat());
        }
        words = words[first..].to_vec();
    }
    spoken_email_words(&words)
}

/// Words that come before a spelled-out address, not part of it.
const EMAIL_LEAD_INS: [&str; 12] =
    ["is", "my", "email", "e-mail", "mail", "address", "it's", "its", "the", "es", "mi", "correo"];

/// The words without the examples given for a letter: "b as in boy",
/// "v like victor", "b de burro" are "b".
fn without_letter_examples<'a>(words: &[&'a str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        out.push(words[i]);
        let letter = words[i].chars().count() == 1 && words[i].chars().all(|c| c.is_ascii_alphabetic());
        let example = match (words.get(i + 1), words.get(i + 2)) {
            (Some(&"as"), Some(&"in")) | (Some(&"like"), Some(&"in")) | (Some(&"como"), Some(&"en")) => 3,
            (Some(&"like" | &"de" | &"for"), Some(next))
                if next.chars().count() > 1 && next.starts_with(words[i]) =>
            {
                2
            }
            _ => 0,
        };
        // The example word must start with the letter: "b as in boy".
        let starts = words.get(i + example).is_some_and(|w| w.starts_with(words[i]));
        i += if letter && example > 0 && starts { example + 1 } else { 1 };
    }
    out
}

/// The words without "all one word", "no spaces", "todo junto": said when an
/// address's local part has several words. True when such words were found.
fn without_spacing_instruction<'a>(words: &[&'a str]) -> (Vec<&'a str>, bool) {
    const INSTRUCTIONS: [&[&str]; 7] = [
        &["all", "one", "word"],
        &["one", "word"],
        &["no", "spaces"],
        &["no", "space"],
        &["all", "together"],
        &["todo", "junto"],
        &["sin", "espacios"],
    ];
    let mut out = Vec::new();
    let mut found = false;
    let mut i = 0;
    while i < words.len() {
        if let Some(n) = INSTRUCTIONS.iter().find(|p| words[i..].starts_with(p)).map(|p| p.len()) {
            found = true;
            i += n;
            continue;
        }
        out.push(words[i]);
        i += 1;
    }
    (out, found)
}

/// Letters said one by one ("o n e i l l") written as one word; a lone
/// letter stays as it is ("p dot lee"). Letters spelled right after a
/// word go on from it ("priya s e n at ..." is "priyasen"), or spell it
/// again ("dana d a n a" is "dana").
fn joined_letters(words: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut run = String::new();
    let single = |w: &str| w.chars().count() == 1 && w.chars().all(|c| c.is_ascii_alphanumeric());
    let close = |run: &mut String, out: &mut Vec<String>| {
        let run = std::mem::take(run);
        match out.last_mut() {
            Some(last) if *last == run => {}
            Some(last) if continues_with_letters(last) => last.push_str(&run),
            _ => out.push(run),
        }
    };
    for (i, w) in words.iter().enumerate() {
        let in_run = single(w) && (!run.is_empty() || words.get(i + 1).is_some_and(|n| single(n)));
        if in_run {
            run.push_str(w);
            continue;
        }
        if !run.is_empty() {
            close(&mut run, &mut out);
        }
        out.push((*w).to_string());
    }
    if !run.is_empty() {
        close(&mut run, &mut out);
    }
    out
}

/// A word that letters spelled after it continue: part of an address, not
/// a lead-in ("my email is s e n ..."), a filler, "dot" or "at".
fn continues_with_letters(word: &str) -> bool {
    const NOT_PART: [&str; 16] = [
        "at", "arroba", "yes", "yeah", "uh", "um", "so", "ok", "okay", "sure", "that's", "thats", "spelled",
        "spelt", "letters", "como",
    ];
    word.chars().count() >= 2
        && word.chars().all(|c| c.is_ascii_alphanumeric())
        && !EMAIL_LEAD_INS.contains(&word)
        && !NOT_PART.contains(&word)
        && email_joiner(word).is_none()
}

/// A word said for a character of an address: "dot", "underscore", "punto".
fn email_joiner(word: &str) -> Option<&'static str> {
    match word {
        "dot" | "punto" => Some("."),
        "underscore" | "guion bajo" => Some("_"),
        "dash" | "hyphen" | "guion" | "guión" => Some("-"),
        _ => None,
    }
}

fn spoken_email_words(words: &[&str]) -> Option<String> {
    let joiner = email_joiner;
    // A part may be written as it is said: "dana at mail.example".
    let part = |w: &str| {
        !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    };
    let at = words.iter().position(|w| *w == "at" || *w == "arroba")?;
    // The local part: the word before "at", and words joined to it by "dot", "dash" ...
    let mut start = at.checked_sub(1).filter(|&i| part(words[i]))?;
    while start >= 2 && joiner(words[start - 1]).is_some() && part(words[start - 2]) {
        start -= 2;
    }
    // An initial said before the rest: "j okafor at ..." is "jokafor".
    let initial = |w: &str| w.chars().count() == 1 && w.chars().all(|c| c.is_ascii_alphabetic());
    if start >= 1 && initial(words[start - 1]) && !(start >= 2 && joiner(words[start - 2]).is_some()) {
        start -= 1;
    }
    let mut end = at + 1;
    if !words.get(end).is_some_and(|w| part(w)) {
        return None;
    }
    while end + 2 < words.len() + 1
        && words.get(end + 1).is_some_and(|w| joiner(w).is_some())
        && words.get(end + 2).is_some_and(|w| part(w))
    {
        end += 2;
    }
    let spelled: String = words[start..=end]
        .iter()
        .enumerate()
        .map(|(i, w)| if start + i == at { "@" } else { joiner(w).unwrap_or(w) })
        .collect();
    Some(spelled)
}
