//! The rules' phrase matcher and the phrase cues the triage head weighs:
//! one leaf both `triage` (the rules) and `triage_model` (the head) use, so
//! neither imports the other's internals. Pattern syntax: see `triage`.

use std::sync::OnceLock;

/// Words that negate what follows them in the same clause.
pub(super) const NEGATIONS: &[&str] = &[
    "no", "not", "never", "without", "nothing", "none", "isnt", "arent", "wasnt", "werent", "dont", "doesnt",
    "didnt", "havent", "hasnt", "cant", "wont", "nunca", "sin", "ningun", "ninguna", "tampoco", "nor",
    // Contractions lose their apostrophe ("nothing's" -> "nothings").
    "nothings", "nobody", "nobodys", "noone", "neither", "aint", "couldnt", "wouldnt", "shouldnt", "nadie",
    // Spanish "ni" negates each thing it lists ("no hay olor ni chispas").
    "ni",
];
/// Words that carry a negation on to the next thing listed: "no smell or
/// sparks" negates the sparks as well as the smell.
const LIST_JOINS: &[&str] = &["or", "nor", "o"];
/// Words that end a clause for negation and context.
pub(super) const CLAUSE_BREAKS: &[&str] =
    &["but", "pero", "though", "although", "however", "except", "just", "only", "solo"];

#[derive(Debug, Clone)]
pub(super) enum Elem {
    /// Alternatives; `true` marks a stem (prefix) match.
    Word(Vec<(String, bool)>),
    Gap,
    /// The next word must not be one of these (`fire !department`).
    NotNext(Vec<(String, bool)>),
}

pub(super) fn compile_words(pattern: &str) -> Vec<Elem> {
    // `!` is punctuation in messages; in patterns it marks a NotNext.
    normalise(&pattern.replace('!', "^"))
        .split_whitespace()
        .map(|word| {
            if word == "*" {
                return Elem::Gap;
            }
            let (negative, word) = match word.strip_prefix('^') {
                Some(rest) => (true, rest),
                None => (false, word),
            };
            let alts = word
                .split('|')
                .filter(|w| !w.is_empty())
                .map(|w| match w.strip_suffix('~') {
                    Some(stem) => (stem.to_string(), true),
                    None => (w.to_string(), false),
                })
                .collect();
            if negative {
                Elem::NotNext(alts)
            } else {
                Elem::Word(alts)
            }
        })
        .collect()
}

/// Lower case, accents folded, apostrophes dropped ("don't" -> "dont"),
/// punctuation kept as separate tokens so clauses can be found.
pub(super) fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        // A dropped g ("comin'", "overflowin'", "nothin'") is written back,
        // so the rules read regional and spoken English as they read "coming".
        if matches!(c, '\'' | '’') && dropped_g(&out) && !chars.peek().is_some_and(|n| n.is_alphanumeric())
        {
            out.push('g');
            continue;
        }
        let c = match c {
            'á' | 'à' | 'â' | 'ä' | 'Á' | 'À' => 'a',
            'é' | 'è' | 'ê' | 'ë' | 'É' => 'e',
            'í' | 'ì' | 'î' | 'ï' | 'Í' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' | 'Ó' => 'o',
            'ú' | 'ù' | 'û' | 'ü' | 'Ú' | 'Ü' => 'u',
            'ñ' | 'Ñ' => 'n',
            '\'' | '’' => continue,
            c => c,
        };
        if c.is_alphanumeric() || matches!(c, '|' | '~' | '*' | '^') {
            out.extend(c.to_lowercase());
        } else if matches!(c, '.' | ',' | ';' | '!' | '?' | ':' | '(' | ')') {
            out.push_str(" . ");
        } else {
            out.push(' ');
        }
    }
    out
}

/// Does the text so far end in a word of at least four letters ending "in"
/// (an apostrophe after it is a dropped g: "comin'", not "in'")?
pub(super) fn dropped_g(so_far: &str) -> bool {
    let word: Vec<char> = so_far.chars().rev().take_while(|c| c.is_alphabetic()).collect();
    word.len() >= 4 && word[0] == 'n' && word[1] == 'i'
}

pub(super) struct Token {
    word: String,
    pub(super) clause: usize,
}

/// The message's words, numbered by clause. Email addresses are left out:
/// they say nothing of urgency, yet their parts read as words ("sparkmail"
/// is not a spark).
pub(super) fn tokenize(text: &str) -> Vec<Token> {
    let text: std::borrow::Cow<str> = if text.contains('@') {
        text.split_whitespace().filter(|w| !w.contains('@')).collect::<Vec<_>>().join(" ").into()
    } else {
        text.into()
    };
    let mut clause = 0;
    let mut out = Vec::new();
    for word in normalise(&text).split_whitespace() {
        if word == "." || CLAUSE_BREAKS.contains(&word) {
            clause += 1;
            continue;
        }
        out.push(Token { word: word.to_string(), clause });
    }
    out
}

pub(super) fn word_matches(alts: &[(String, bool)], word: &str) -> bool {
    alts.iter().any(|(w, stem)| match (w.as_str(), stem) {
        // `yyyy` in a context list: any year, as in "arrested in 2015".
        ("yyyy", false) => word.len() == 4 && word.parse::<u16>().is_ok_and(|y| (1950..=2035).contains(&y)),
        // `nnn`: any number written in digits ("my 2 month old", "de 88 anos").
        ("nnn", false) => !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()),
        // `nnnth`: a day of the month as an ordinal ("on the 20th", "the 1st").
        ("nnnth", false) => {
            let digits = word.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit())
                && matches!(&word[digits.len()..], "st" | "nd" | "rd" | "th")
        }
        (w, true) => word.starts_with(w),
        (w, false) => word == w,
    })
}

/// Matches `elems` starting at `start` within one clause; returns the end.
pub(super) fn match_at(elems: &[Elem], tokens: &[Token], start: usize) -> Option<usize> {
    let clause = tokens.get(start)?.clause;
    let mut pos = start;
    let mut gap = false;
    for elem in elems {
        match elem {
            Elem::Gap => gap = true,
            Elem::NotNext(alts) => {
                if tokens.get(pos).is_some_and(|t| word_matches(alts, &t.word)) {
                    return None;
                }
            }
            Elem::Word(alts) => {
                let limit = if gap { 4 } else { 1 };
                let found = (pos..tokens.len().min(pos + limit))
                    .take_while(|&i| tokens[i].clause == clause)
                    .find(|&i| word_matches(alts, &tokens[i].word))?;
                pos = found + 1;
                gap = false;
            }
        }
    }
    Some(pos)
}

/// Context is read across the whole message: "arrested in 2015, can you
/// help me get it expunged?" is about a record, whatever the commas say.
pub(super) fn occurs_unnegated(elems: &[Elem], tokens: &[Token]) -> bool {
    (0..tokens.len()).any(|i| match_at(elems, tokens, i).is_some() && !negated_match(tokens, i))
}

/// [`negated`], except for a match that starts with a negation word of its
/// own ("no hot water", "sin calefaccion", "nobody hurt"): it carries its
/// negation, and an earlier one in the clause is another complaint ("no
/// heat and no hot water"), not a double negative.
pub(super) fn negated_match(tokens: &[Token], start: usize) -> bool {
    !NEGATIONS.contains(&tokens[start].word.as_str()) && negated(tokens, start)
}

/// The clauses that ask about a danger that may come one day ("if it ever
/// floods", "what if", "si algún día se rompe"): an "if" with "ever" or
/// "someday" ("algún día", "un día", "alguna vez") after it in its clause,
/// or "what if". Every labelled message
/// so worded is routine; a danger named in such a clause is not happening.
pub(super) fn hypothetical_clauses(tokens: &[Token]) -> Vec<usize> {
    let later = |i: usize, clause: usize| {
        let rest = || tokens[i + 1..].iter().take_while(|t| t.clause == clause);
        rest().any(|t| matches!(t.word.as_str(), "ever" | "someday"))
            || rest().zip(rest().skip(1)).any(|(a, b)| {
                matches!((a.word.as_str(), b.word.as_str()), ("algun" | "un", "dia") | ("alguna", "vez"))
            })
    };
    let mut out: Vec<usize> = tokens
        .iter()
        .enumerate()
        .filter(|(i, t)| {
            let next = tokens.get(i + 1).map(|n| n.word.as_str());
            let what_if = t.word == "what" && next == Some("if");
            let pasaria = t.word == "pasaria" && next == Some("si");
            what_if || pasaria || (matches!(t.word.as_str(), "if" | "si") && later(*i, t.clause))
        })
        .map(|(_, t)| t.clause)
        .collect();
    out.dedup();
    out
}

/// A negation in the three words before `start`, in the same clause, or
/// before the earlier item of a list joined by "or" ("no burning smell or
/// sparks": the sparks are negated too).
pub(super) fn negated(tokens: &[Token], start: usize) -> bool {
    let clause = tokens[start].clause;
    (start.saturating_sub(3)..start).rev().any(|i| {
        tokens[i].clause == clause
            && (NEGATIONS.contains(&tokens[i].word.as_str())
                || (LIST_JOINS.contains(&tokens[i].word.as_str()) && i > 0 && negated(tokens, i)))
    })
}

/// A danger named, then denied right after it in its clause: "olor a gas
/// no hay ninguno", "olor a gas, ninguno" (Spanish puts the denial last).
/// `end` is the index just after the match. Not "huele a gas y no hay
/// nadie": the denial must follow the match at once and end its clause.
pub(super) fn denied_after(tokens: &[Token], end: usize) -> bool {
    let Some(last) = end.checked_sub(1).and_then(|i| tokens.get(i)) else { return false };
    let word = |i: usize| tokens.get(i).map(|t| t.word.as_str());
    let in_match_clause = |i: usize| tokens.get(i).is_some_and(|t| t.clause == last.clause);
    // The word is the last of its clause ("..., ninguno.").
    let ends_own_clause =
        |i: usize| tokens.get(i + 1).is_none_or(|t| Some(t.clause) != tokens.get(i).map(|w| w.clause));
    match word(end) {
        Some("ninguno" | "ninguna" | "none") => in_match_clause(end) || ends_own_clause(end),
        Some("no") if in_match_clause(end) && word(end + 1) == Some("hay") => {
            !in_match_clause(end + 2) || matches!(word(end + 2), Some("ninguno" | "ninguna" | "nada"))
        }
        _ => false,
    }
}

// A job the business (or someone) already did ("you guys fixed a burst
// pipe for us", "nos arreglaron una fuga"): a long-past clause for
// [`past_clauses`] and a "past or hypothetical" cue in [`CUES`]. Macros,
// each one pattern's alternatives, so the cue is written with `concat!`.
/// Verbs of a job done.
macro_rules! job_done_verbs {
    () => {
        "fixed|repaired|replaced|sorted"
    };
}
/// Who did the job: "you guys fixed ...".
macro_rules! job_doers {
    () => {
        "you|guys|yall|lot"
    };
}
/// Verbs of a job done, in Spanish: "nos arreglaron una fuga".
macro_rules! job_done_verbs_es {
    () => {
        "arreglaron|repararon|destaparon"
    };
}

/// The clauses that tell of something long past: "two winters ago", "last
/// year", "in 2019", "hace años", "el año pasado". Every labelled message
/// with a danger so dated is routine (a disclosure, an inspection, a
/// record); a danger named in such a clause is not happening. Not when the
/// clause says it goes on ("since last year", "again", "now"), and not for
/// days or weeks ago: "the heat died two days ago" may still be out.
pub(super) fn past_clauses(tokens: &[Token]) -> Vec<usize> {
    const SPANS: &[&str] = &[
        "year", "years", "winter", "winters", "summer", "summers", "spring", "fall", "autumn", "month",
        "months", "decade", "decades",
    ];
    const SPANISH: &[&str] = &["ano", "anos", "mes", "invierno", "inviernos", "verano", "veranos"];
    // "hace" with years is long past; with months it is often a duration
    // that goes on ("no me paga hace dos meses").
    let hace_span = |w: &str| w != "mes" && SPANISH.contains(&w);
    const ONGOING: &[&str] = &[
        "since",
        "desde",
        "again",
        "now",
        "today",
        "tonight",
        "currently",
        "still",
        "ahora",
        "hoy",
        "todavia",
    ];
    // A danger told in the present goes on, whenever its cause was.
    const PRESENT: &[&str] =
        &["leaking", "dripping", "pouring", "spraying", "sparking", "smoking", "flooding"];
    let this_year = chrono::Datelike::year(&chrono::Utc::now());
    let word = |i: usize| tokens.get(i).map_or("", |t| t.word.as_str());
    let one_of = |alternatives: &str, w: &str| alternatives.split('|').any(|a| a == w);
    let mut out: Vec<usize> = tokens
        .iter()
        .enumerate()
        .filter(|&(i, t)| {
            let w = t.word.as_str();
            let prev = i.checked_sub(1).map_or("", word);
            let ago = w == "ago" && (SPANS.contains(&prev) || SPANS.contains(&word(i.wrapping_sub(2))));
            // "for the last year" goes on to now; "last year" is over.
            let last =
                w == "last" && SPANS.contains(&word(i + 1)) && !matches!(prev, "the" | "this" | "past");
            let hace = w == "hace" && (hace_span(word(i + 1)) || hace_span(word(i + 2)));
            let pasado = matches!(w, "pasado" | "pasada") && SPANISH.contains(&prev);
            let year = w.len() == 4
                && w.parse::<i32>().is_ok_and(|y| (1950..this_year).contains(&y))
                && matches!(prev, "in" | "en" | "from" | "de" | "del" | "back");
            // A job the business (or someone) already did, one word between
            // at most: "you guys fixed a burst pipe for us". Here also "u
            // fixed" and "cambiaron", which are no cue of the trained head.
            let done = (one_of(job_done_verbs!(), w)
                && [prev, word(i.wrapping_sub(2))].iter().any(|p| one_of(job_doers!(), p) || *p == "u"))
                || one_of(job_done_verbs_es!(), w)
                || w == "cambiaron";
            ago || last || hace || pasado || year || done
        })
        .map(|(_, t)| t.clause)
        .filter(|&clause| {
            let goes_on = |w: &str| ONGOING.contains(&w) || PRESENT.contains(&w);
            !tokens.iter().any(|t| t.clause == clause && goes_on(&t.word))
        })
        .collect();
    out.dedup();
    out
}

/// Cues the head weighs beside the message's words, in the rules' pattern
/// syntax, one group per kind of evidence: whether a danger is happening now
/// or is contained, past, hypothetical or a figure of speech. A bag of words
/// cannot read "not freezing" or "shut it off" as phrases; these pool the
/// many ways of saying each thing, so a way seen rarely in the training rows
/// still counts. Written from the trade, English and Spanish. A phrase
/// counts only when no negation precedes it in its clause ("it's not
/// spreading" is not happening now); phrases that start with a negation
/// ("not freezing", "nobody hurt") carry their own.
pub const CUES: [(&str, &[&str]); 9] = [
    (
        "contained",
        &[
            "not * emergency|urgent|disaster|rush",
            "no rush|hurry|emergency",
            "no big deal",
            "whenever",
            "nobody|noone|nobodys * hurt|danger|sick",
            "no one * hurt|danger|sick",
            "everyone|everybody|everyones * fine|ok|okay|safe|out",
            "im|were|shes|hes|theyre|everyones fine|ok|okay|safe|warm",
            "staying|keeping warm",
            "blanket|blankets|space heater|space heaters|coats|jackets|sweaters",
            "mantas|cobija|cobijas|chamarras|abrigados|abrigadas",
            "good health",
            // Reassurance in full words: "I am fine", "he's healthy".
            "i|we|she|he|they am|are|is fine|ok|okay|safe|healthy",
            "healthy|sanos|sanas|sano|sana",
            "warm enough",
            "nothing|nada violent|violento|violenta",
            "estoy|estamos|esta|estan bien",
            "turned|shut|switched * off",
            "bucket~|towel~|tray|trash can",
            "catching it",
            "under control",
            "contained|holding",
            "for now",
            "still works|working|heating|cooling|running",
            "not freezing|cold",
            "not that|too|so cold|hot|bad",
            "mild",
            "a little|bit",
            "small|slow|slowly|tiny|minor",
            "no es * emergencia|urgente|urgencia",
            "no hay prisa|urgencia",
            "sin prisa|apuro",
            "no hay apuro",
            "nadie * enfermo|enferma|herido|herida|peligro|lastimado",
            "cubeta|balde|barreno|toalla|toallas",
            "ya * apague|apagamos|cerre|cerramos|arregl~",
            "no * tanto frio",
            "un poco",
        ],
    ),
    (
        "past or hypothetical",
        &[
            "year~|month~|week~|day~ ago",
            "last year|month|week|winter|summer",
            "winter~|summer~|decade~ ago",
            "mes|semana|invierno|verano pasado|pasada",
            concat!(job_doers!(), " ", job_done_verbs!()),
            job_done_verbs_es!(),
            "in|from|back yyyy",
            "last spring|fall",
            "turned out",
            "was nothing",
            "already|was|got|been fixed|repaired|checked|resolved|replaced",
            "what if",
            "what * do|should * if",
            "in case",
            "if ever",
            "one day",
            "hace anos|meses|tiempo",
            "hace un ano",
            "ano pasado",
            "que pasa|hago|hacemos si",
            "si algun dia",
            "si alguna vez",
            "ya esta|fue arreglad~|reparad~",
            "record|expunge~|sealed|borrar",
        ],
    ),
    (
        "figure of speech",
        &[
            "is|was|looks|so fire|lit|killer",
            "a|the bomb",
            "de|que fuego|arde",
            "killing me",
            "me esta matando",
            "lol|haha|hahaha|jaja|jajaja|lmao",
            "killer",
            "dumpster fire",
            "surface of the sun",
        ],
    ),
    (
        "happening now",
        &[
            "right now",
            "now",
            "currently",
            "ahora",
            "getting worse|bigger|higher|stronger",
            "spreading",
            "keeps|still coming|pouring|rising|spreading|growing",
            "cant|wont|couldnt stop|shut|turn",
            "everywhere",
            "pouring|gushing|spraying|rushing",
            "help",
            "hurry",
            "911",
            "as we speak",
            "nonstop|non stop",
            "en este momento",
            "no puedo|podemos cerrar|parar|apagar",
            "se esta|sigue regando|extendiendo|saliendo",
            "ayuda",
        ],
    ),
    (
        "people at risk",
        &[
            "trapped",
            "cant breathe",
            "dizzy|headache~|nause~|vomit~|faint~",
            "passed out",
            "unconscious|bleeding|burned|burnt|injured",
            "baby|babies|infant|newborn|toddler|elderly|grandma|grandpa|grandmother|grandfather|pregnant|oxygen|disabled|wheelchair",
            "mareado|mareada|bebe|embarazada|anciano|anciana|abuela|abuelo|atrapad~|herido|herida|sangr~",
            "dolor de cabeza",
            "duele~ * cabeza",
            "pinned|crushed",
            "insulin|inhaler|epipen|insulina|medicina|medicinas|medicamento~",
            // Age, frailty and being alone: who is exposed, however it is said
            // (an age in years counts only when very young or old: `frail_age`).
            "nnn month|months|week|weeks old",
            "years of age",
            "old|older|elderly man|woman|lady|folks|people|person|couple|neighbor|neighbour|tenant|parents",
            "alone|sola|solita|solito",
            "allergic|asthma|asthmatic|alergico|alergica|asma",
            "walker|cane|bedridden|dialysis|medical|medication",
            "de nnn meses|semanas",
            "senora|senor|persona|gente mayor",
            "silla de ruedas|oxigeno|enferma|enfermo",
        ],
    ),
    (
        "threat from people",
        &[
            "intruder~|prowler|burglar~|robber~|stalk~",
            "break|broke|breaking|broken in|into",
            "kick|kicking|kicked|pried * in|open|door|lock|window",
            "circling|lurking|casing",
            "squat~|okupa~",
            "forced * open|door|lock|window|entry",
            "trying to get in",
            "someone|somebody|guy|man|stranger * inside|upstairs|in the house",
            "hiding|scared|afraid|terrified|threaten~",
            "knife|gun|weapon|abus~|violent",
            "hit|beat|beats|attacked|choked me|her|him|us",
            "forzaron|forzada|forzado|se metieron|ladron~|robar|robaron|intrus~",
            "amenaz~|cuchillo|pistola|arma|miedo|escondid~|golpeo|golpearon|acos~",
            "alguien * adentro|dentro",
        ],
    ),
    (
        "thanks or resolved",
        &[
            "thanks|thank|thx|ty|gracias",
            "works|working|running great|fine|perfect|perfectly|good",
            "all done|set|filed|good|fixed",
            "awesome|amazing|excellent|stars|review",
            "back to normal",
            "como nuevo|nueva",
            "ya quedo|quedaron|funciona",
            "funciona * bien",
            "todo bien",
        ],
    ),
    (
        "question or routine request",
        &[
            "how much|many|long|often",
            "what do|does * charge|cost",
            "price|prices|pricing|cost|costs|quote|estimate|ballpark|rates",
            "do|can|could|would you|u",
            "schedule|reschedule|appointment|appt|book|cancel|move",
            "sometime|someday|eventually|next week|month|year|quarter|season|spring|summer|fall|winter",
            "this|before spring|summer|fall|winter",
            "bid|bids|bidding|subcontract~|new build|new construction|remodel|remodels|drawings",
            "school project|hypothetically|asking for",
            "looking for|to",
            "want to talk",
            "cuando puedan|pueda|tengan|quieran",
            "just curious|curious|wondering",
            "available|availability|open on",
            "cuanto|cuanta|cuesta|cobran|precio|precios|costo|presupuesto|cotiz~",
            "hacen|tienen|trabajan|trabajais|pueden|podrian",
            "cita|agendar|programar|cambiar|revisar|revision|mantenimiento|servicio",
            "disponible|disponibles|informacion",
        ],
    ),
    (
        "extreme heat or cold",
        &[
            "below zero|freezing",
            "nnn below",
            "heat wave|heatwave|heat advisory|heat stroke|heatstroke",
            "hundred degrees",
            "a hundred and|degrees",
            "triple digits",
            "snow|snowing|snowstorm|blizzard|ice storm",
            "bajo cero|ola de calor|golpe de calor",
            "nevando|nieve|helada|heladas|congelando|congelado|congelada",
        ],
    ),
];

/// Extra dense features after the cue groups: a temperature written as a
/// number that is dangerous to live in ("it's 104 outside", "4 degrees out",
/// "hace 40 grados"), and that danger with someone at risk in it (the head
/// is linear: it cannot learn "elderly AND 102 degrees" from each alone).
pub const CUE_EXTRA: usize = 2;

/// How many values [`cue_counts`] returns.
pub const CUE_VALUES: usize = CUES.len() + CUE_EXTRA;

/// A number with a unit or a place beside it that reads as a dangerous
/// temperature: Fahrenheit 95..=130 or at most 50 degrees, Celsius
/// ("grados") 38..=55 or at most 5, any "N below".
fn extreme_temperature(tokens: &[Token]) -> bool {
    tokens.iter().enumerate().any(|(i, t)| {
        let Ok(n) = t.word.parse::<u32>() else { return false };
        let next = tokens.get(i + 1).filter(|u| u.clause == t.clause).map_or("", |u| u.word.as_str());
        match next {
            "grados" | "celsius" => (38..=55).contains(&n) || n <= 5,
            "below" => true,
            "degrees" | "degree" | "deg" | "f" | "fahrenheit" => (95..=130).contains(&n) || n <= 50,
            "out" | "outside" | "inside" | "today" | "in" | "here" | "afuera" => (95..=130).contains(&n),
            _ => false,
        }
    })
}

/// An age that leaves someone frail: "my 80 year old mother", "a 2 yr old",
/// "de 88 años" (at most 5 or at least 65 years). A 17-year-old signing a
/// contract or a 40-year-old owner is nobody at risk.
fn frail_age(tokens: &[Token]) -> bool {
    let frail = |n: u32| n <= 5 || (65..=115).contains(&n);
    tokens.iter().enumerate().any(|(i, t)| {
        let Ok(n) = t.word.parse::<u32>() else { return false };
        let word =
            |k: usize| tokens.get(i + k).filter(|u| u.clause == t.clause).map_or("", |u| u.word.as_str());
        let before = i.checked_sub(1).map(|j| tokens[j].word.as_str()).unwrap_or("");
        let english = matches!(word(1), "year" | "years" | "yr" | "yrs" | "yo")
            && (word(1) == "yo" || word(2) == "old" || word(2) == "of");
        let spanish = before == "de" && word(1) == "anos";
        (english || spanish) && frail(n)
    })
}

/// A temperature read out that is uncomfortable, not dangerous: "about 60
/// degrees" inside, "like sixty two in here", "a 30 grados". Heat out at 60
/// degrees is a repair for today; the head read the number as the danger.
fn mild_temperature(tokens: &[Token]) -> bool {
    const TENS: &[&str] =
        &["fifty", "sixty", "seventy", "eighty", "fifties", "sixties", "seventies", "eighties"];
    tokens.iter().enumerate().any(|(i, t)| {
        let word =
            |k: usize| tokens.get(i + k).filter(|u| u.clause == t.clause).map_or("", |u| u.word.as_str());
        let unit = |w: &str| matches!(w, "degrees" | "degree" | "deg" | "f" | "in" | "inside");
        if TENS.contains(&t.word.as_str()) {
            return unit(word(1)) || unit(word(2));
        }
        let Ok(n) = t.word.parse::<u32>() else { return false };
        match word(1) {
            "grados" | "celsius" => (15..=35).contains(&n),
            w if unit(w) => (55..=94).contains(&n),
            _ => false,
        }
    })
}

/// Does the caller say outright that it can wait ("not an emergency", "no
/// rush", "no es urgente")? Not when they take it back after ("not an
/// emergency but soon", "no es urgente pero ..."): labelled messages so
/// worded are time-sensitive.
pub(crate) fn says_it_can_wait(message: &str) -> bool {
    // Not "no pressure" (a symptom), nor "puede esperar" ("no puede esperar").
    const CUES: [&str; 24] = [
        "not an emergency",
        "it can wait",
        "not a emergency",
        "no emergency",
        "not urgent",
        "isnt urgent",
        "nothing urgent",
        "no rush",
        "no hurry",
        "not in a hurry",
        "no big deal",
        "not a big deal",
        "not a huge deal",
        "no es urgente",
        "nada urgente",
        "no hay urgencia",
        "no es una emergencia",
        "no es emergencia",
        "sin prisa",
        "sin apuro",
        "no hay apuro",
        "no hay prisa",
        "no corre prisa",
        "no tengo prisa",
    ];
    const TAKEN_BACK: [&str; 6] = [" but ", " though", " pero ", " aunque ", " sin embargo", " however"];
    let lower = format!(" {} ", message.to_lowercase().replace(['\'', '’'], ""));
    CUES.iter().filter_map(|c| lower.find(c).map(|at| at + c.len())).any(|end| {
        let after = &lower[end..];
        !TAKEN_BACK.iter().any(|t| after.contains(t))
    })
}

/// How many phrases of each [`CUES`] group the message has (at most two
/// count: the head weighs the kind of evidence, not its repetition), then
/// the [`CUE_EXTRA`] values.
pub fn cue_counts(text: &str) -> [f32; CUE_VALUES] {
    static COMPILED: OnceLock<Vec<Vec<Vec<Elem>>>> = OnceLock::new();
    let compiled = COMPILED.get_or_init(|| {
        CUES.iter().map(|(_, patterns)| patterns.iter().map(|p| compile_words(p)).collect()).collect()
    });
    let tokens = tokenize(text);
    let mut out = [0f32; CUE_VALUES];
    for (slot, group) in out.iter_mut().zip(compiled) {
        *slot = group.iter().filter(|p| occurs_unnegated(p, &tokens)).count().min(2) as f32;
    }
    let temperature = f32::from(u8::from(extreme_temperature(&tokens)));
    let contained = CUES.iter().position(|(name, _)| *name == "contained");
    if let Some(i) = contained.filter(|_| mild_temperature(&tokens)) {
        out[i] = (out[i] + 1.0).min(2.0);
    }
    let at_risk = CUES.iter().position(|(name, _)| *name == "people at risk");
    if let Some(i) = at_risk.filter(|_| frail_age(&tokens)) {
        out[i] = (out[i] + 1.0).min(2.0);
    }
    let people = at_risk.map_or(0.0, |i| out[i]);
    let heat_or_cold =
        CUES.iter().position(|(name, _)| *name == "extreme heat or cold").map_or(0.0, |i| out[i]);
    out[CUES.len()] = temperature;
    out[CUES.len() + 1] = f32::from(u8::from(people > 0.0 && (temperature > 0.0 || heat_or_cold > 0.0)));
    out
}
