//! The conversation engine shared by chat and both voice modes.
//!
//! One turn in, one reply out, plus what to persist. The engine owns the
//! lead-capture flow and triage; a reply provider (local rules or an LLM)
//! only changes how replies are worded. No I/O here: channels load the
//! business, run retrieval and save what the turn returns.
//!
//! A little over 600 lines: the lead-capture flow's steps read best side by
//! side; the tests are in `conversation_tests.rs`.

use super::alerts::{self, Wording};
use super::answers::{self, Rejection};
use super::corrections;
pub use super::state::{Answer, Context, State};
use crate::domain::{ExpectedFormat, LeadDraft, Priority, Question};
use crate::retrieval::{self, Passage};

/// Re-asks of one question before the raw answer is kept and we move on.
const MAX_REASKS: u8 = 2;

/// What one turn produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub reply: String,
    /// URGENT or HIGH, when the conversation is one.
    pub emergency: Option<Priority>,
    /// The conversation just became URGENT: record the escalation now.
    pub escalate: bool,
    /// Saved as soon as it has a contact detail, and updated every turn after.
    pub lead: Option<LeadDraft>,
    pub done: bool,
    /// A knowledge question was answered from the knowledge base.
    pub answered_from_knowledge: bool,
    /// This turn escalated: the reply to give instead when no alert could be
    /// queued (the store decides, in the turn's transaction).
    pub unalerted_reply: Option<String>,
    /// The provider already streamed the reply (the local engine never does:
    /// the channel sends it once it is saved).
    pub streamed: bool,
}

/// A piece of a reply; the emergency and completion messages depend on
/// whether an alert was queued, known only once the turn is saved.
enum Part {
    Text(String),
    Emergency,
    Completion,
}

fn render(ctx: &Context, state: &State, parts: &[Part], wording: Wording) -> String {
    let text: Vec<String> = parts
        .iter()
        .map(|p| match p {
            Part::Text(t) => t.clone(),
            Part::Emergency => alerts::emergency_message(ctx, state, wording),
            Part::Completion => {
                let lead = lead_draft(ctx, state);
                let done = alerts::completion_message(ctx, state, lead.name.as_deref(), wording);
                match taken(ctx, &lead) {
                    Some(summary) => format!("{done} {summary}"),
                    None => done,
                }
            }
        })
        .collect();
    text.join(" ").trim().to_string()
}

/// What was taken, said back at the close so a wrong detail can still be
/// corrected: "I have (312) 555-0142, dana@example.com and 12 Elm St,
/// Lakemont, and the problem: my kitchen sink is blocked." Never a question
/// (the visitor would take it for one); None when nothing was taken.
fn taken(ctx: &Context, lead: &LeadDraft) -> Option<String> {
    let plain = |t: &str| t.replace(['?', '¿'], "").trim().trim_end_matches(['.', '!', ',']).to_string();
    let mut details: Vec<String> = Vec::new();
    if let Some(phone) = &lead.phone {
        details.push(answers::spoken_phone(phone, &ctx.business.country));
    }
    details.extend(lead.email.iter().cloned());
    details.extend(lead.address.iter().map(|a| plain(a)));
    if let Some(time) = lead.captured.get("preferred_time").filter(|t| !t.ends_with("(unverified)")) {
        details.push(format!("\"{}\" for the visit", plain(time)));
    }
    let problem = lead.notes.as_deref().and_then(|n| {
        // The first sentence that says something: not "Good evening." or "My name is ...".
        let sentences: Vec<&str> =
            n.split(['.', '!', '?', '\n']).map(str::trim).filter(|s| !s.is_empty()).collect();
        let first = sentences
            .iter()
            .find(|s| retrieval::query_terms(s).len() >= 2 && answers::find_name(s).is_none())
            .or(sentences.first())?;
        let first = answers::without_greeting(first);
        let mut short: String = first.chars().take(80).collect();
        if first.chars().count() > 80 {
            short.push('…');
        }
        Some(plain(&short))
    });
    if details.is_empty() && problem.is_none() {
        return None;
    }
    let list = match details.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    };
    Some(match (list.is_empty(), problem) {
        (false, Some(p)) => format!("I have {list}, and the problem: {p}."),
        (false, None) => format!("I have {list}."),
        (true, Some(p)) => format!("I have the problem: {p}."),
        (true, None) => return None,
    })
}

/// Does this message ask something (rather than answer)? Not "qué"
/// or "cómo" first: "qué tal", "cómo está" greet.
pub fn is_question(text: &str) -> bool {
    let t = without_question_lead_ins(&text.trim().to_lowercase());
    const OPENERS: [&str; 49] = [
        "what's",
        "whats",
        "how's",
        "where's",
        "did you",
        "have you",
        "is that",
        "is this",
        "any chance",
        "i was wondering",
        "i wonder",
        "just wondering",
        "wondering if",
        "cuánto",
        "cuándo",
        "dónde",
        "trabajan ",
        "atienden ",
        "do you",
        "does ",
        "can you",
        "can i",
        "can we",
        "are you",
        "is there",
        "is it",
        // "is the call-out fee the same on a Sunday": asked, though no "?" was typed or heard.
        "is the ",
        "is your ",
        "are the ",
        "are your ",
        "cobran ",
        "are there",
        "how ",
        "what ",
        "when ",
        "where ",
        "which ",
        "who ",
        "why ",
        "will you",
        "could you",
        "could i",
        "would you",
        "should i",
        "should we",
        "do i",
        "do we",
        "tienen",
        "¿",
    ];
    // A question mark anywhere: "should I turn the power off? it's near the switch".
    t.contains(['?', '¿']) || OPENERS.iter().any(|o| t.starts_with(o))
}

/// `text` (lower case) without the words that lead into a question ("also
/// do you work Sundays", "oh and how much is it", "y también, ¿cuánto ...").
fn without_question_lead_ins(text: &str) -> String {
    const LEAD_INS: [&str; 27] = [
        "also",
        "and",
        "oh",
        "ok",
        "okay",
        "so",
        "but",
        "btw",
        "by the way",
        "quick question",
        "one more thing",
        "one more question",
        "another question",
        "um",
        "uh",
        "hey",
        "plus",
        "y",
        "también",
        "tambien",
        "otra cosa",
        "oiga",
        "oye",
        "mire",
        "una pregunta",
        "otra pregunta",
        "pregunta",
    ];
    let mut rest = text.trim();
    loop {
        let cue = LEAD_INS.iter().find(|cue| {
            rest.starts_with(*cue) && rest[cue.len()..].starts_with(|c: char| c.is_whitespace() || c == ',')
        });
        let Some(cue) = cue else { return rest.to_string() };
        rest = rest[cue.len()..].trim_start_matches([',', ' ', '-', ':']).trim_start();
    }
}

/// Runs one visitor turn. `passages` are the knowledge-base matches for
/// `message`, best first (empty when it is not a question).
pub fn turn(ctx: &Context, state: &mut State, message: &str, passages: &[Passage]) -> Turn {
    let message = message.trim();
    let escalate = note(ctx, state, message);

    let knowledge_answer = if is_question(message) { answer_questions(ctx, message, passages) } else { None };
    let mut parts: Vec<Part> = Vec::new();

    // "ok thanks, bye" answers nothing; "sorry, my number is ..." changes an
    // earlier answer rather than answering the pending question.
    let leaving = answers::is_farewell(message);
    let corrected = !leaving && apply_correction(ctx, state, message);

    // An answer to the pending question (unless they asked us something instead).
    let mut reask = None;
    let mut answered = None;
    let pending = state.current.filter(|o| !state.answers.contains_key(o) && !state.skipped.contains(o));
    if let Some(q) = pending.filter(|_| !leaving && !corrected).and_then(|o| ctx.question(o)) {
        // A question is not an answer to "name/phone/address?", but may well
        // describe the problem ("can you fix a leaking tap?").
        // Nor to "which day suits you?": a question there is asked instead.
        let asked_instead = is_question(message)
            && (knowledge_answer.is_some()
                || q.expected_format != ExpectedFormat::Text
                || is_detail_field(q));
        if !(asked_instead || (escalate && is_distress_not_name(q, message))) {
            match take_answer(ctx, state, q, message) {
                AnswerOutcome::Accepted => answered = Some(q),
                AnswerOutcome::Skipped => {}
                AnswerOutcome::Reask(text) => reask = Some(text),
            }
        }
    }
    let before = state.answers.len();
    absorb_volunteered(ctx, state, message);
    // An email given when the number was asked is kept, not refused: the
    // question is put again without spending one of its re-asks.
    if let (Some(_), Some(q)) = (&reask, pending.and_then(|o| ctx.question(o))) {
        if state.answers.len() > before && !state.answers.contains_key(&q.order) {
            state.reasks = state.reasks.saturating_sub(1);
            reask = Some(format!("Thanks, I've noted that. {}", ask(ctx, state, q)));
        }
    }

    if escalate {
        parts.push(Part::Emergency);
    }
    if let Some(answer) = &knowledge_answer {
        parts.push(Part::Text(answer.clone()));
    } else if is_question(message) && !escalate && reask.is_none() && looks_like_info_request(message) {
        parts.push(Part::Text(format!(
            "I don't have that information at hand, but someone from {} will follow up with you.",
            ctx.business.name
        )));
    }

    if corrected {
        parts.push(Part::Text("Thanks, I've updated that.".into()));
    }
    if leaving {
        parts.push(farewell(ctx, state));
    } else if let Some(text) = reask {
        parts.push(Part::Text(text));
    } else {
        parts.extend(next_step(ctx, state, answered, escalate, knowledge_answer.is_some()));
    }

    let lead = Some(lead_draft(ctx, state)).filter(LeadDraft::has_contact);
    // The escalation's wording waits for the store: both versions go with the turn.
    let (reply, unalerted_reply) = if escalate && !state.test {
        (render(ctx, state, &parts, Wording::Alerted), Some(render(ctx, state, &parts, Wording::NotAlerted)))
    } else {
        (render(ctx, state, &parts, alerts::wording(state)), None)
    };
    Turn {
        reply,
        emergency: (state.level() >= Priority::High).then(|| state.level()),
        escalate,
        lead,
        done: state.done,
        answered_from_knowledge: knowledge_answer.is_some(),
        unalerted_reply,
        streamed: false,
    }
}

/// After the visitor's message is taken: the next question (acknowledging
/// the answer just given), or the completion once every question is done.
fn next_step(
    ctx: &Context,
    state: &mut State,
    answered: Option<&Question>,
    escalate: bool,
    knowledge_answered: bool,
) -> Option<Part> {
    match next_question(ctx, state) {
        Some(q) => {
            let lead_in = answered.map(|q| acknowledgement(q, state)).unwrap_or_default();
            let opener = if state.turns == 1 && !escalate && !knowledge_answered {
                "I can help with that. ".to_string()
            } else {
                String::new()
            };
            let text = format!("{lead_in}{opener}{}", ask(ctx, state, q));
            state.current = Some(q.order);
            state.reasks = 0;
            Some(Part::Text(text))
        }
        None => {
            state.current = None;
            if !state.done {
                state.done = true;
                Some(Part::Completion)
            } else if !knowledge_answered {
                Some(Part::Text(format!(
                    "Thanks, we have everything we need. Someone from {} will be in touch soon.",
                    ctx.business.name
                )))
            } else {
                None
            }
        }
    }
}

/// What every turn learns from a message before any reply: the first
/// message, triage (the level only rises), a wish for a person. True when
/// the conversation just became URGENT (record the escalation now, once).
fn note(ctx: &Context, state: &mut State, message: &str) -> bool {
    state.turns += 1;
    // A name, a number or an address says nothing about urgency, and the
    // classifier, which judges by topic, misreads them ("12 Water St"): for
    // those, and for a few words, the explicit rules alone decide.
    let answering_detail = state
        .current
        .filter(|o| !state.answers.contains_key(o))
        .and_then(|o| ctx.question(o))
        .is_some_and(|q| q.expected_format != ExpectedFormat::Text || is_detail_field(q));
    // Triage reads no email address (the rules' tokens and the classifier's
    // text leave them out), and an address is no word of a description.
    let described = message.split_whitespace().filter(|w| !w.contains('@')).count();
    // Nor does a street address: "I'm at 73 Heron Lane, ..." moved the
    // classifier as names and numbers did (triage leaves those out itself).
    let told = answers::without_street_address(message);
    let mut decision = if answering_detail || described < 4 {
        ctx.rules.classify_rules(&told)
    } else {
        ctx.rules.classify(&told)
    };
    // "The tap drips, no big deal", "no es urgente": the caller's own word
    // that it can wait makes routine what a rule read as time-sensitive
    // (never a danger: a hazard or an URGENT reading stands).
    if decision.level == Priority::High
        && decision.hazard.is_none()
        && super::phrases::says_it_can_wait(message)
    {
        decision.level = Priority::Normal;
    }
    state.raise(decision.level, &decision.reasons, decision.hazard);
    if state.first_message.is_none() {
        state.first_message = Some(message.chars().take(answers::MAX_TEXT_ANSWER).collect());
        take_problem_from_opening(ctx, state, message);
    }
    if wants_human(message) {
        state.human_requested = true;
    }
    escalate_now(state)
}

/// True once, when the conversation has become URGENT and the escalation
/// has not been recorded yet.
pub fn escalate_now(state: &mut State) -> bool {
    let escalate = state.level() == Priority::Urgent && !state.escalated;
    state.escalated |= escalate;
    escalate
}

/// A caller's words when another model is answering (a realtime call): the
/// engine still triages them and keeps any contact detail they contain.
/// True when the conversation just became URGENT.
pub fn observe(ctx: &Context, state: &mut State, message: &str) -> bool {
    let message = message.trim();
    let escalate = note(ctx, state, message);
    absorb_volunteered(ctx, state, message);
    escalate
}

/// "Water is pouring through the ceiling!" is not the answer to "May I have
/// your name?": in the message that reveals an emergency, a name question is
/// answered only by something that reads as a name.
fn is_distress_not_name(q: &Question, message: &str) -> bool {
    q.expected_format == ExpectedFormat::Text
        && q.maps_to_lead_field.as_deref() == Some("name")
        && answers::find_name(message).is_none()
}

enum AnswerOutcome {
    Accepted,
    Skipped,
    Reask(String),
}

fn take_answer(ctx: &Context, state: &mut State, q: &Question, message: &str) -> AnswerOutcome {
    // A refusal is never stored as the answer: optional or not, the question is left.
    if answers::is_decline(message) && offered_number(state, q).is_none() {
        skip(state, q);
        return AnswerOutcome::Skipped;
    }
    // "I'd rather not give my email", "whenever works": a refusal in a
    // sentence leaves an optional question, unless it holds an answer after
    // all ("no mornings, Tuesday afternoon is best").
    let holds_answer = answers::find_email(message).is_some()
        || answers::find_phone(message, &ctx.business.country).is_some()
        || (q.expected_format == ExpectedFormat::Text && mentions_time(message));
    if !q.is_required && !holds_answer && answers::is_soft_decline(message) {
        skip(state, q);
        return AnswerOutcome::Skipped;
    }
    if let Some(caller_id) = offered_number(state, q) {
        if answers::is_affirmative(message) {
            state.answers.insert(q.order, Answer { value: caller_id, valid: true });
            return AnswerOutcome::Accepted;
        }
        if answers::find_phone(message, &ctx.business.country).is_none() {
            // "No" (or anything but a number): ask for the number itself.
            state.caller_id_declined = true;
            return AnswerOutcome::Reask(q.question_text.clone());
        }
    }
    let value = match (q.expected_format, q.maps_to_lead_field.as_deref()) {
        // "It's Dana" answers a name question as "Dana".
        (ExpectedFormat::Text, Some("name")) => answers::name_answer(message),
        (ExpectedFormat::Text, Some("address")) => answers::address_answer(message),
        // "I'm Dana, 312-555-0142, my sink leaks" answers the phone question too.
        // With two numbers, the one they prefer ("... but my cell is better").
        (ExpectedFormat::Phone, _) => answers::find_phone(message, &ctx.business.country)
            .map_or_else(|| answers::validate(ExpectedFormat::Phone, message, &ctx.business.country), Ok),
        (format, _) => answers::validate(format, message, &ctx.business.country),
    };
    match value {
        Ok(value) => {
            state.answers.insert(q.order, Answer { value, valid: true });
            AnswerOutcome::Accepted
        }
        // A remark where the email was asked ("the tenant will let you in")
        // is no mistyped address: it goes with the notes, and the question
        // is put again as it was.
        Err(Rejection::NotEmail) if state.reasks < MAX_REASKS && !answers::attempts_email(message) => {
            state.reasks += 1;
            // Only a remark that says something ("hmm, one sec" is no note).
            let noted = retrieval::query_terms(message).len() >= 3 && add_to_notes(ctx, state, message);
            let lead_in = if noted { "Thanks, I've added that to the notes." } else { "Thanks." };
            AnswerOutcome::Reask(format!("{lead_in} {}", q.question_text))
        }
        Err(rejection) if state.reasks < MAX_REASKS => {
            state.reasks += 1;
            AnswerOutcome::Reask(reask_text(rejection, q))
        }
        Err(Rejection::NotName | Rejection::NotAddress) => {
            // A goodbye is not a name: better no name than a wrong one.
            state.skipped.insert(q.order);
            AnswerOutcome::Skipped
        }
        Err(_) => {
            // Keep what they said rather than lose it; a person can read it.
            state.answers.insert(q.order, Answer { value: message.to_string(), valid: false });
            AnswerOutcome::Accepted
        }
    }
}

/// Adds a remark to the problem's description, when there is one to add
/// to. True when it was added.
fn add_to_notes(ctx: &Context, state: &mut State, remark: &str) -> bool {
    let notes = ctx.questions.iter().find(|q| {
        q.expected_format == ExpectedFormat::Text && q.maps_to_lead_field.as_deref() == Some("notes")
    });
    let Some(answer) = notes.and_then(|q| state.answers.get_mut(&q.order)) else { return false };
    let joined = format!("{} {}", answer.value.trim_end(), remark.trim());
    answer.value = joined.chars().take(answers::MAX_TEXT_ANSWER).collect();
    true
}

/// A question declined. Asked for a day or time and declining ("no,
/// whenever suits"), the visitor takes back a time said in passing earlier
/// ("could you come tomorrow?"): their latest word on it stands.
fn skip(state: &mut State, q: &Question) {
    state.skipped.insert(q.order);
    if q.maps_to_lead_field.as_deref() == Some("preferred_time") {
        state.volunteered_time = None;
    }
}

/// The caller-ID number offered for a phone question, until declined.
fn offered_number(state: &State, q: &Question) -> Option<String> {
    (q.expected_format == ExpectedFormat::Phone && !state.caller_id_declined)
        .then(|| state.caller_id.clone())
        .flatten()
}

/// How a question is put: a phone question on a call offers the number
/// the caller is calling from.
pub fn ask(ctx: &Context, state: &State, q: &Question) -> String {
    match offered_number(state, q) {
        Some(number) => format!(
            "Is {} the best number to reach you on?",
            answers::spoken_phone(&number, &ctx.business.country)
        ),
        None => q.question_text.clone(),
    }
}

fn reask_text(rejection: Rejection, q: &Question) -> String {
    match rejection {
        Rejection::NotEmail => {
            "Hmm, that doesn't look like an email address. Could you check it? (Something like name@example.com.)"
                .into()
        }
        Rejection::PhoneTooShort => "Could you include the area code, please? For example (312) 555-0142.".into(),
        Rejection::NotPhone => {
            "Sorry, I couldn't read that as a phone number. What's the best number to reach you?".into()
        }
        Rejection::PhoneInvalid => {
            "Hmm, that number doesn't look right to me: could you check it? (With the area code, for example (312) 555-0142.)"
                .into()
        }
        Rejection::Empty => format!("Sorry, I didn't catch that. {}", q.question_text),
        Rejection::NotName => format!("Sorry, I didn't catch your name. {}", q.question_text),
        Rejection::NotAddress => format!(
            "Sorry, I need the street address (number, street and town) so we can find you. {}",
            q.question_text
        ),
    }
}

/// Does the message name a day or a time of day ("Tuesday", "mornings", "mañana")?
fn mentions_time(message: &str) -> bool {
    const WHEN: [&str; 34] = [
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
        "night",
        "noon",
        "today",
        "tomorrow",
        "week",
        "am",
        "pm",
        "lunes",
        "martes",
        "miercoles",
        "miércoles",
        "jueves",
        "viernes",
        "sabado",
        "sábado",
        "domingo",
        "mañana",
        "tarde",
        "noche",
        "semana",
        "hoy",
        "mediodía",
    ];
    message.chars().any(|c| c.is_ascii_digit())
        || message
            .to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| WHEN.iter().any(|t| w == *t || (w.len() > t.len() && w.starts_with(t) && t.len() > 4)))
}

/// Fields whose answers are details (who, where, when), not a description.
fn is_detail_field(q: &Question) -> bool {
    matches!(q.maps_to_lead_field.as_deref(), Some("name" | "email" | "phone" | "address" | "preferred_time"))
}

/// Words that say what someone wants without saying what the problem is.
const GENERIC_REQUEST: [&str; 14] = [
    "plumber", "plumb", "someon", "help", "servic", "appoint", "book", "come", "look", "hello", "hola",
    "call", "need", "necesito",
];

/// The first message usually says what the problem is ("I need a quote for
/// a new water heater", "water is pouring from the ceiling"): it answers the
/// problem question, which is then not asked again. A greeting, a bare
/// "need a plumber" or a question about the business does not; a question
/// beside a description does not undo it ("do you do remodels? I'd like the
/// old tub swapped for a walk-in shower"), so only the sentences that ask
/// nothing are weighed.
fn take_problem_from_opening(ctx: &Context, state: &mut State, message: &str) {
    let topic = |text: &str| {
        retrieval::query_terms(text)
            .into_iter()
            .filter(|t| {
                !GENERIC_REQUEST.iter().any(|g| t.starts_with(g)) && !t.chars().any(|c| c.is_ascii_digit())
            })
            .count()
    };
    let told = statements(message);
    let describes = (state.level() >= Priority::High && topic(message) >= 1) || topic(&told) >= 3;
    if !describes {
        return;
    }
    let problem = ctx.questions.iter().find(|q| {
        q.expected_format == ExpectedFormat::Text && q.maps_to_lead_field.as_deref() == Some("notes")
    });
    if let Some(q) = problem.filter(|q| !state.answers.contains_key(&q.order)) {
        let value = message.chars().take(answers::MAX_TEXT_ANSWER).collect();
        state.answers.insert(q.order, Answer { value, valid: true });
    }
}

/// The sentences and clauses of `text` that ask nothing, joined: "So my
/// shower is weak, can someone come next week?" -> "So my shower is weak,".
fn statements(text: &str) -> String {
    told_and_asked(text).0
}

/// `text` cut into sentences and clauses: (those that ask nothing, those
/// that ask something), each joined.
fn told_and_asked(text: &str) -> (String, String) {
    let (mut told, mut asked): (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if matches!(c, '.' | '!' | '?' | '\n' | ',') {
            let sentence = &text[start..i + c.len_utf8()];
            if c != '?' && !is_question(sentence) { &mut told } else { &mut asked }.push(sentence.trim());
            start = i + c.len_utf8();
        }
    }
    let tail = &text[start..];
    if is_question(tail) { &mut asked } else { &mut told }.push(tail.trim());
    (told.join(" ").trim().to_string(), asked.join(" ").trim().to_string())
}

/// The questions of a message to search and answer: retrieval's parts; and
/// for one question beside a statement ("Do you work Saturdays? My kitchen
/// sink is clogged"), the question alone first, whose words the statement
/// would otherwise outweigh, then the whole message (the statement may name
/// what the question is about: "I have a tankless heater, do you service those?").
pub fn asked_parts(message: &str) -> Vec<String> {
    let parts = retrieval::question_parts(message);
    if parts.len() > 1 || !is_question(message) {
        return parts;
    }
    let (told, asked) = told_and_asked(message);
    if told.is_empty() || asked.is_empty() || retrieval::query_terms(&asked).is_empty() {
        return parts;
    }
    vec![asked, message.to_string()]
}

/// "Sorry, my number is actually ...", "it's 14 Oak Ave not 41": replaces
/// an answer already given. True when something was changed.
fn apply_correction(ctx: &Context, state: &mut State, message: &str) -> bool {
    let stored: Vec<&str> = state.answers.values().map(|a| a.value.as_str()).collect();
    if !answers::is_correction(message) && !corrections::contrasts_with(message, &stored) {
        return false;
    }
    let country = &ctx.business.country;
    let mut changed = false;
    for q in &ctx.questions {
        let Some(old) = state.answers.get(&q.order) else { continue };
        let found = match (q.expected_format, q.maps_to_lead_field.as_deref()) {
            (ExpectedFormat::Phone, _) => answers::find_phone(message, country)
                .or_else(|| corrections::phone(&old.value, message, country)),
            (ExpectedFormat::Email, _) => answers::find_email(message),
            (ExpectedFormat::Text, Some("name")) => {
                answers::find_name(message).or_else(|| corrections::name(&old.value, message))
            }
            (ExpectedFormat::Text, Some("address")) => {
                answers::find_address(message).or_else(|| corrections::address(&old.value, message))
            }
            _ => None,
        };
        if let Some(value) = found.filter(|v| *v != old.value) {
            state.answers.insert(q.order, Answer { value, valid: true });
            changed = true;
        }
    }
    changed
}

/// Every question in a message answered, each from the business's facts or
/// its knowledge base ("Do you work Saturdays? And what's the call-out fee?").
fn answer_questions(ctx: &Context, message: &str, passages: &[Passage]) -> Option<String> {
    let parts = asked_parts(message);
    // One question beside a statement: the whole message is only a fallback.
    let one_question = parts.last().is_some_and(|p| p == message) && parts.len() == 2;
    let mut found: Vec<String> = Vec::new();
    for part in parts {
        if one_question && !found.is_empty() {
            break;
        }
        let answer = super::facts::answer(&part, &ctx.facts, ctx.today)
            .or_else(|| ctx.glossary.extract_answer(&part, passages));
        if let Some(answer) = answer.filter(|a| !found.contains(a)) {
            found.push(answer);
        }
    }
    (!found.is_empty()).then(|| found.join(" "))
}

/// The reply to a goodbye: the closing when there is a way back to them,
/// else one line on how to be called back.
fn farewell(ctx: &Context, state: &mut State) -> Part {
    if state.done {
        return Part::Text("Thanks for getting in touch. Have a good day!".into());
    }
    if lead_draft(ctx, state).has_contact() {
        state.done = true;
        state.current = None;
        return Part::Completion;
    }
    // The question stays open: if they come back with their name, it counts.
    Part::Text(format!(
        "No problem. If you'd like someone from {} to get back to you, just leave your name and number here. Have a good day!",
        ctx.business.name
    ))
}

/// Fills questions the visitor answered without being asked: an email,
/// a number, a name, an address given with its lead-in ("..., and the
/// address is 12 Elm St"), and keeps a visit time said early.
fn absorb_volunteered(ctx: &Context, state: &mut State, message: &str) {
    let country = ctx.business.country.clone();
    if state.volunteered_time.is_none() {
        state.volunteered_time = answers::visit_time(message);
    }
    for q in &ctx.questions {
        if state.answers.contains_key(&q.order) {
            continue;
        }
        let found = match (q.expected_format, q.maps_to_lead_field.as_deref()) {
            (ExpectedFormat::Email, _) => answers::find_email(message),
            (ExpectedFormat::Phone, _) => answers::find_phone(message, &country),
            (ExpectedFormat::Text, Some("name")) => answers::find_name(message),
            // With a lead-in ("the address is ...") or written as a street
            // address ("12 Elm Street, Springfield" where the number was asked).
            (ExpectedFormat::Text, Some("address")) => {
                answers::find_address(message).or_else(|| answers::find_street_address(message))
            }
            _ => None,
        };
        if let Some(value) = found {
            state.answers.insert(q.order, Answer { value, valid: true });
        }
    }
}

/// The questions asked in this conversation: all of them, or in an URGENT
/// one only those marked essential (the required ones if none are).
fn active_questions<'a>(ctx: &'a Context, state: &State) -> Vec<&'a Question> {
    if state.level() == Priority::Urgent {
        let essential: Vec<&Question> =
            ctx.questions.iter().filter(|q| q.is_essential_for_emergency).collect();
        if !essential.is_empty() {
            return essential;
        }
        return ctx.questions.iter().filter(|q| q.is_required).collect();
    }
    ctx.questions.iter().collect()
}

/// The questions still to ask, in order.
pub fn pending_questions<'a>(ctx: &'a Context, state: &State) -> Vec<&'a Question> {
    active_questions(ctx, state)
        .into_iter()
        .filter(|q| !state.answers.contains_key(&q.order) && !state.skipped.contains(&q.order))
        .collect()
}

pub fn remaining_questions(ctx: &Context, state: &State) -> usize {
    pending_questions(ctx, state).len()
}

fn next_question<'a>(ctx: &'a Context, state: &State) -> Option<&'a Question> {
    pending_questions(ctx, state).into_iter().next()
}

fn acknowledgement(answered: &Question, state: &State) -> String {
    match (answered.maps_to_lead_field.as_deref(), state.answers.get(&answered.order)) {
        (Some("name"), Some(a)) => format!("Thanks, {}! ", a.value),
        _ => "Thanks. ".into(),
    }
}

fn wants_human(message: &str) -> bool {
    let t = message.to_lowercase();
    [
        "speak to a human",
        "talk to a human",
        "real person",
        "speak to someone",
        "talk to someone",
        "a human",
        "representative",
    ]
    .iter()
    .any(|p| t.contains(p))
}

/// Questions worth a "someone will follow up" when we cannot answer them
/// (not small talk like "how are you?").
fn looks_like_info_request(message: &str) -> bool {
    !retrieval::query_terms(message).is_empty()
}

/// Builds the lead from the answers so far.
pub fn lead_draft(ctx: &Context, state: &State) -> LeadDraft {
    let mut lead = LeadDraft { priority: state.level(), ..LeadDraft::default() };
    for (order, answer) in &state.answers {
        let Some(q) = ctx.question(*order) else { continue };
        let key = q.maps_to_lead_field.clone().unwrap_or_else(|| q.question_text.clone());
        let value = Some(answer.value.clone());
        match (key.as_str(), answer.valid) {
            ("name", _) => lead.name = value,
            ("email", true) => lead.email = value,
            ("phone", true) => lead.phone = value,
            ("address", _) => lead.address = value,
            ("notes", _) => lead.notes = value,
            _ => {}
        }
        let shown =
            if answer.valid { answer.value.clone() } else { format!("{} (unverified)", answer.value) };
        lead.captured.insert(key, shown);
    }
    if let Some(time) = &state.volunteered_time {
        lead.captured.entry("preferred_time".into()).or_insert_with(|| time.clone());
    }
    if let Some(first) = &state.first_message {
        lead.captured.insert("first_message".into(), first.clone());
    }
    if !state.reasons.is_empty() {
        lead.captured.insert("emergency_reasons".into(), super::triage::joined(&state.reasons));
    }
    if state.level() == Priority::Urgent {
        if let Some(problem) = alerts::problem(state) {
            lead.captured.insert("problem".into(), problem);
        }
    }
    if let Some(caller_id) = &state.caller_id {
        // Until they give another, the number they called from is the way back to them.
        lead.phone.get_or_insert_with(|| caller_id.clone());
        lead.captured.insert("caller_id".into(), caller_id.clone());
    }
    lead
}

#[cfg(test)]
#[path = "conversation_tests.rs"]
mod tests;
