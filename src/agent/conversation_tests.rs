//! The engine's dialogue, turn by turn, without any server.

use std::sync::Arc;

use super::*;
use crate::agent::triage::Rules;
use crate::domain::{starter_questions, AgentConfig, Business, BusinessType, NewBusiness, PlanTier};
use crate::plans::Plans;

fn business(plan: PlanTier) -> Business {
    let b = NewBusiness::named("Acme Plumbing", BusinessType::Plumbing);
    Business {
        id: "b1".into(),
        name: b.name,
        business_type: b.business_type,
        plan_tier: plan,
        twilio_phone_number: None,
        notification_email: Some("owner@acme.example".into()),
        notification_phone_number: None,
        notification_webhook_url: None,
        country: "US".into(),
        timezone: "UTC".into(),
        website_origins: vec![],
        created_at: crate::domain::parse_rfc3339("2025-01-01T00:00:00.000Z").unwrap(),
        updated_at: crate::domain::parse_rfc3339("2025-01-01T00:00:00.000Z").unwrap(),
    }
}

fn ctx_with(plan: PlanTier, questions: Vec<Question>) -> Context {
    Context::new(
        business(plan),
        AgentConfig::default(),
        questions,
        Arc::new(Rules::for_business(BusinessType::Plumbing)),
        Plans::default(),
    )
}

fn ctx() -> Context {
    ctx_with(PlanTier::Pro, starter_questions())
}

/// A trade's questions (the address instead of the email) and a visit time.
fn trade_ctx() -> Context {
    let mut questions = crate::domain::starter_questions_for(BusinessType::Plumbing);
    questions.push(Question {
        question_text: "Is there a day or time that works best?".into(),
        expected_format: ExpectedFormat::Text,
        order: 5,
        is_required: false,
        maps_to_lead_field: Some("preferred_time".into()),
        is_essential_for_emergency: false,
    });
    ctx_with(PlanTier::Pro, questions)
}

fn say(ctx: &Context, state: &mut State, text: &str) -> Turn {
    turn(ctx, state, text, &[])
}

#[test]
fn a_normal_lead_is_captured_question_by_question() {
    let ctx = ctx();
    let mut s = State::default();
    let t = say(&ctx, &mut s, "Hi, I need a quote for a new water heater");
    assert!(t.reply.ends_with("May I have your name?"), "{}", t.reply);
    assert!(t.lead.is_none(), "no contact detail yet");
    let t = say(&ctx, &mut s, "Dana Smith");
    assert!(t.reply.starts_with("Thanks, Dana Smith!"), "{}", t.reply);
    assert!(t.reply.contains("phone number"), "{}", t.reply);
    assert_eq!(t.lead.as_ref().and_then(|l| l.name.clone()).as_deref(), Some("Dana Smith"));
    let t = say(&ctx, &mut s, "(312) 555-0142");
    assert!(t.reply.contains("email"), "{}", t.reply);
    // The first message said what the problem is: it is not asked again.
    let t = say(&ctx, &mut s, "dana@example.com");
    assert!(t.done, "{}", t.reply);
    assert!(!t.reply.contains("How can we help"), "{}", t.reply);
    let lead = t.lead.unwrap();
    assert_eq!(lead.phone.as_deref(), Some("+13125550142"));
    assert_eq!(lead.email.as_deref(), Some("dana@example.com"));
    assert_eq!(lead.notes.as_deref(), Some("Hi, I need a quote for a new water heater"));
    assert_eq!(lead.priority, Priority::Normal);
    assert_eq!(lead.captured["first_message"], "Hi, I need a quote for a new water heater");
    assert!(t.reply.contains("Thank you, Dana Smith"), "{}", t.reply);
}

#[test]
fn bad_answers_are_reasked_twice_then_kept_raw() {
    let ctx = ctx();
    let mut s = State::default();
    say(&ctx, &mut s, "hello");
    say(&ctx, &mut s, "Dana");
    let t = say(&ctx, &mut s, "555-0100");
    assert!(t.reply.contains("area code"), "{}", t.reply);
    let t = say(&ctx, &mut s, "five five five");
    assert!(t.reply.contains("couldn't read that"), "{}", t.reply);
    let t = say(&ctx, &mut s, "just call the shop");
    assert!(t.reply.contains("email"), "moves on after two re-asks: {}", t.reply);
    let lead = t.lead.unwrap();
    assert_eq!(lead.phone, None, "an invalid number is not stored as the phone");
    assert_eq!(lead.captured["phone"], "just call the shop (unverified)");
    let t = say(&ctx, &mut s, "dana at example");
    assert!(t.reply.contains("doesn't look like an email"), "{}", t.reply);
    // Email is optional: declining skips it.
    let t = say(&ctx, &mut s, "skip");
    assert!(t.reply.contains("How can we help"), "{}", t.reply);
}

#[test]
fn goodbyes_refusals_and_wrong_kinds_of_answer_are_never_stored() {
    let ctx = ctx();
    let mut s = State::default();
    say(&ctx, &mut s, "hello");
    let t = say(&ctx, &mut s, "ok thanks, bye");
    assert!(t.lead.is_none() && !t.done, "{}", t.reply);
    assert!(t.reply.contains("leave your name and number"), "{}", t.reply);
    let t = say(&ctx, &mut s, "Dana Smith");
    assert_eq!(t.lead.and_then(|l| l.name).as_deref(), Some("Dana Smith"));
    say(&ctx, &mut s, "312 555 0142");
    // "sorry, my number is ..." corrects the phone, and is not taken as the email.
    let t = say(&ctx, &mut s, "sorry, my number is actually 312-555-0119");
    assert!(t.reply.contains("updated") && t.reply.contains("email"), "{}", t.reply);
    assert_eq!(t.lead.as_ref().and_then(|l| l.phone.clone()).as_deref(), Some("+13125550119"));
    assert_eq!(t.lead.and_then(|l| l.email), None);
    // A refusal is not the problem description.
    let t = say(&ctx, &mut s, "no thanks");
    assert!(t.reply.contains("How can we help"), "{}", t.reply);
    let t = say(&ctx, &mut s, "no");
    assert!(t.done, "{}", t.reply);
    assert_eq!(t.lead.unwrap().notes, None);
}

#[test]
fn volunteered_details_are_not_asked_again() {
    let ctx = ctx();
    let mut s = State::default();
    let t = say(&ctx, &mut s, "Hi, I'm Dana, 312-555-0142 - my kitchen sink is slow");
    assert!(t.reply.contains("email"), "skips name and phone: {}", t.reply);
    let lead = t.lead.unwrap();
    assert_eq!(lead.name.as_deref(), Some("Dana"));
    assert_eq!(lead.phone.as_deref(), Some("+13125550142"));
}

#[test]
fn an_emergency_asks_only_essential_questions_and_escalates_once() {
    let ctx = ctx();
    let mut s = State::default();
    let t = say(&ctx, &mut s, "My basement is flooding!");
    assert!(t.escalate);
    assert_eq!(t.emergency, Some(Priority::Urgent));
    assert!(t.reply.contains("I've alerted"), "{}", t.reply);
    assert!(t.reply.contains("main water valve"), "{}", t.reply);
    let instead = t.unalerted_reply.clone().expect("the wording if no alert can be queued");
    assert!(!instead.contains("alert") && instead.contains("911"), "{instead}");
    assert!(instead.ends_with("May I have your name?"), "{instead}");
    assert!(t.reply.ends_with("May I have your name?"), "{}", t.reply);
    let t = say(&ctx, &mut s, "Dana");
    assert!(!t.escalate, "escalation is recorded once");
    // Email is not essential, and the description was the first thing said: done.
    let t = say(&ctx, &mut s, "312 555 0142");
    assert!(t.done, "{}", t.reply);
    assert_eq!(s.current, None);
    let lead = t.lead.unwrap();
    assert_eq!(lead.priority, Priority::Urgent);
    assert_eq!(lead.notes.as_deref(), Some("My basement is flooding!"));
}

#[test]
fn gas_gets_safety_advice() {
    let ctx = ctx();
    let mut s = State::default();
    let t = say(&ctx, &mut s, "I smell gas in the kitchen");
    assert!(t.reply.contains("leave the building") && t.reply.contains("911"), "{}", t.reply);
}

#[test]
fn free_plans_use_five_questions() {
    let questions: Vec<Question> = (1..=7)
        .map(|i| Question {
            question_text: format!("Question {i}?"),
            expected_format: ExpectedFormat::Text,
            order: i,
            is_required: true,
            maps_to_lead_field: Some(format!("q{i}")),
            is_essential_for_emergency: false,
        })
        .collect();
    let ctx = ctx_with(PlanTier::Free, questions.clone());
    assert_eq!(ctx.questions.len(), crate::plans::limits(PlanTier::Free).questions.unwrap());
    let mut s = State::default();
    let mut asked = 0;
    let mut t = say(&ctx, &mut s, "hello");
    while !t.done {
        asked += 1;
        t = say(&ctx, &mut s, "an answer");
    }
    assert_eq!(asked, 5);
    assert_eq!(ctx_with(PlanTier::Basic, questions).questions.len(), 7);
}

#[test]
fn knowledge_questions_are_answered_then_capture_continues() {
    let ctx = ctx();
    let mut s = State::default();
    let passages = [retrieval::Passage {
        chunk_id: 1,
        title: "Hours".into(),
        text: "We are open Monday to Friday 7am to 6pm. On Saturdays we work 8am to 2pm.".into(),
        source_url: None,
    }];
    let t = turn(&ctx, &mut s, "Do you work on Saturdays?", &passages);
    assert!(t.answered_from_knowledge);
    assert!(t.reply.starts_with("On Saturdays we work 8am to 2pm."), "{}", t.reply);
    assert!(t.reply.ends_with("May I have your name?"), "{}", t.reply);
    // A question we cannot answer gets an honest follow-up promise.
    let t = turn(&ctx, &mut s, "Do you install solar panels?", &[]);
    assert!(t.reply.contains("will follow up"), "{}", t.reply);
    assert!(t.reply.ends_with("May I have your name?"), "still waiting for the name: {}", t.reply);
}

#[test]
fn a_caller_confirms_the_number_they_are_calling_from() {
    let ctx = ctx();
    let mut s = State { caller_id: Some("+13125550142".into()), ..State::default() };
    let t = say(&ctx, &mut s, "Hi, my kitchen sink is clogged");
    // The caller's number is already the way back to them.
    assert_eq!(t.lead.as_ref().and_then(|l| l.phone.clone()).as_deref(), Some("+13125550142"));
    let t = say(&ctx, &mut s, "Dana Smith");
    assert!(t.reply.ends_with("Is (312) 555-0142 the best number to reach you on?"), "{}", t.reply);
    let t = say(&ctx, &mut s, "Yes, that's right");
    assert!(t.reply.contains("email"), "{}", t.reply);
    assert_eq!(t.lead.unwrap().captured["phone"], "+13125550142");

    // "No": asked for the number itself, and the one given wins.
    let mut s = State { caller_id: Some("+13125550142".into()), ..State::default() };
    say(&ctx, &mut s, "Hi, my kitchen sink is clogged");
    say(&ctx, &mut s, "Dana Smith");
    let t = say(&ctx, &mut s, "No");
    assert!(t.reply.ends_with("What is the best phone number to reach you?"), "{}", t.reply);
    let t = say(&ctx, &mut s, "312 555 0199");
    let lead = t.lead.unwrap();
    assert_eq!(lead.phone.as_deref(), Some("+13125550199"));
    assert_eq!(lead.captured["caller_id"], "+13125550142");
    // Or a different number straight away.
    let mut s = State { caller_id: Some("+13125550142".into()), ..State::default() };
    say(&ctx, &mut s, "Hi, my kitchen sink is clogged");
    say(&ctx, &mut s, "Dana Smith");
    let t = say(&ctx, &mut s, "better call my cell, 312-555-0177");
    assert_eq!(t.lead.unwrap().phone.as_deref(), Some("+13125550177"));
}

#[test]
fn a_number_given_with_other_words_answers_the_phone_question() {
    let ctx = ctx();
    let mut s = State::default();
    say(&ctx, &mut s, "Are you open on Saturdays?");
    let t = say(&ctx, &mut s, "Dana Smith");
    assert!(t.reply.contains("phone number"), "{}", t.reply);
    let t = say(&ctx, &mut s, "sure, it's 312-555-0142, my kitchen sink is leaking");
    assert!(!t.reply.contains("couldn't read"), "{}", t.reply);
    assert_eq!(t.lead.unwrap().phone.as_deref(), Some("+13125550142"));
}

#[test]
fn a_detail_corrected_by_contrast_is_changed_and_the_question_stays() {
    let ctx = ctx();
    let mut s = State::default();
    say(&ctx, &mut s, "my shower mixer is stiff and needs replacing");
    say(&ctx, &mut s, "Ravi Mehta");
    say(&ctx, &mut s, "six three oh, five five five, oh one forty one");
    // No "sorry": the digits it replaces are in the number given.
    let t = say(&ctx, &mut s, "hang on, it ends 0114, not 0141");
    assert!(t.reply.contains("updated") && t.reply.contains("email"), "{}", t.reply);
    assert_eq!(t.lead.as_ref().and_then(|l| l.phone.clone()).as_deref(), Some("+16305550114"));
    assert_eq!(t.lead.as_ref().and_then(|l| l.email.clone()), None);
    let t = say(&ctx, &mut s, "sorry, it's Ravi Mehra, with an r: Ravi Mehra");
    assert_eq!(t.lead.and_then(|l| l.name).as_deref(), Some("Ravi Mehra"));
}

#[test]
fn an_opening_that_asks_something_beside_its_description_is_the_description() {
    let ctx = trade_ctx();
    let mut s = State::default();
    say(&ctx, &mut s, "do you do kitchen remodels? I'd like the old sink swapped for a deep farmhouse one");
    say(&ctx, &mut s, "Dana Smith");
    say(&ctx, &mut s, "312 555 0142");
    let t = say(&ctx, &mut s, "12 Elm St, Lakemont");
    assert!(t.reply.contains("day or time"), "the problem is not asked again: {}", t.reply);
    assert!(t.lead.unwrap().notes.is_some_and(|n| n.contains("farmhouse")));
    // Questions alone describe nothing.
    let mut s = State::default();
    say(&ctx, &mut s, "Do you work on Saturdays? And how much is a call-out?");
    assert_eq!(s.answers.len(), 0);
}

#[test]
fn details_given_before_they_are_asked_are_kept() {
    let ctx = trade_ctx();
    let mut s = State::default();
    say(&ctx, &mut s, "My bathroom sink drains slowly, could someone come on Friday afternoon?");
    say(&ctx, &mut s, "Dana Smith");
    // The address comes with the number: it is not asked for.
    let t = say(&ctx, &mut s, "312 555 0142, and the address is 12 Elm St, Lakemont");
    assert!(!t.reply.contains("address"), "{}", t.reply);
    let lead = t.lead.unwrap();
    assert_eq!(lead.address.as_deref(), Some("12 Elm St, Lakemont"));
    // A time said in the opening is the preferred time until they answer the question.
    assert_eq!(lead.captured["preferred_time"], "could someone come on Friday afternoon?");
}

#[test]
fn an_emergency_keeps_the_visit_time_it_never_asks_for() {
    let ctx = trade_ctx();
    let mut s = State::default();
    say(&ctx, &mut s, "water is pouring through the kitchen ceiling! can you come tonight?");
    say(&ctx, &mut s, "Dana Smith");
    let t = say(&ctx, &mut s, "312 555 0142");
    let t = if t.done { t } else { say(&ctx, &mut s, "12 Elm St, Lakemont") };
    assert!(t.done, "{}", t.reply);
    assert_eq!(t.lead.unwrap().captured["preferred_time"], "can you come tonight?");
}

#[test]
fn the_closing_says_back_what_was_taken() {
    let ctx = ctx();
    let mut s = State::default();
    say(&ctx, &mut s, "Hi, I need a quote for a new water heater");
    say(&ctx, &mut s, "Dana Smith");
    say(&ctx, &mut s, "(312) 555-0142");
    let t = say(&ctx, &mut s, "dana@example.com");
    assert!(t.done, "{}", t.reply);
    assert!(
        t.reply.ends_with(
            "I have (312) 555-0142 and dana@example.com, and the problem: I need a quote for a new water heater."
        ),
        "{}",
        t.reply
    );
    assert!(!t.reply.contains('?'), "the closing asks nothing: {}", t.reply);
}

#[test]
fn an_email_given_when_the_number_was_asked_is_kept_not_refused() {
    let ctx = ctx();
    let mut s = State::default();
    say(&ctx, &mut s, "hello");
    say(&ctx, &mut s, "Dana Smith");
    let t = say(&ctx, &mut s, "dana@example.com");
    assert!(t.reply.starts_with("Thanks, I've noted that. What is the best phone number"), "{}", t.reply);
    assert_eq!(t.lead.and_then(|l| l.email).as_deref(), Some("dana@example.com"));
    assert_eq!(s.reasks, 0, "no re-ask spent");
    // The email is not asked for again.
    let t = say(&ctx, &mut s, "312 555 0142");
    assert!(t.reply.contains("How can we help"), "{}", t.reply);
}

#[test]
fn a_number_no_phone_has_is_questioned_and_an_address_given_instead_is_kept() {
    // The demo's first visitors type made-up numbers: "555" is no area code.
    let ctx = trade_ctx();
    let mut s = State::default();
    say(&ctx, &mut s, "water is pouring from the ceiling, I think a pipe burst upstairs");
    say(&ctx, &mut s, "Dana Ruiz");
    let t = say(&ctx, &mut s, "555 867 5309");
    assert!(t.reply.starts_with("Hmm, that number doesn't look right to me"), "{}", t.reply);
    // Where the number was asked, an address: kept, and the number asked again.
    let t = say(&ctx, &mut s, "12 Elm Street, Springfield");
    assert!(t.reply.starts_with("Thanks, I've noted that."), "{}", t.reply);
    assert!(t.reply.contains("number"), "{}", t.reply);
    assert_eq!(t.lead.as_ref().and_then(|l| l.address.as_deref()), Some("12 Elm Street, Springfield"));
    assert_eq!(t.lead.as_ref().and_then(|l| l.phone.as_deref()), None, "no address kept as the number");
    let t = say(&ctx, &mut s, "(312) 867-5309");
    assert_eq!(t.lead.and_then(|l| l.phone).as_deref(), Some("+13128675309"));
    assert!(!t.reply.contains("address"), "the address is not asked again: {}", t.reply);
}

#[test]
fn a_problem_told_before_a_question_in_the_same_sentence_is_the_description() {
    let ctx = trade_ctx();
    let mut s = State::default();
    say(&ctx, &mut s, "I'd like a new kitchen faucet put in, could someone come next Tuesday?");
    assert_eq!(s.level(), Priority::Normal);
    assert!(s.answers.values().any(|a| a.value.contains("faucet")), "{:?}", s.answers);
}

#[test]
fn a_question_beside_a_statement_is_answered_for_itself() {
    let ctx = ctx();
    let mut s = State::default();
    let passages = [
        retrieval::Passage {
            chunk_id: 1,
            title: "Drains".into(),
            text: "We clear clogged kitchen sinks, tubs and floor drains with cable machines.".into(),
            source_url: None,
        },
        retrieval::Passage {
            chunk_id: 2,
            title: "Hours".into(),
            text: "We are open Monday to Friday 7am to 6pm. On Saturdays we work 8am to 2pm.".into(),
            source_url: None,
        },
    ];
    let t = turn(&ctx, &mut s, "Do you work on Saturdays? My kitchen sink is clogged and slow", &passages);
    assert!(t.reply.starts_with("On Saturdays we work 8am to 2pm."), "{}", t.reply);
    assert_eq!(
        asked_parts("Do you work on Saturdays? My kitchen sink is clogged and slow"),
        vec!["Do you work on Saturdays?", "Do you work on Saturdays? My kitchen sink is clogged and slow"]
    );
    // Several questions are retrieval's parts, as before.
    assert_eq!(asked_parts("Do you work Saturdays? And what's the call-out fee?").len(), 2);
}

#[test]
fn a_question_led_in_by_also_or_and_is_answered_not_taken_as_the_time() {
    let ctx = trade_ctx();
    let mut s = State::default();
    say(&ctx, &mut s, "the kitchen faucet drips and I'd like it replaced");
    say(&ctx, &mut s, "Dana Smith");
    say(&ctx, &mut s, "312 555 0142");
    let t = say(&ctx, &mut s, "12 Elm St, Lakemont");
    assert!(t.reply.contains("day or time"), "{}", t.reply);
    for asked in [
        "oh and do you guys charge extra on weekends",
        "also what's the call-out fee",
        "y también ¿trabajan los domingos",
    ] {
        assert!(is_question(asked), "{asked}");
    }
    let t = say(&ctx, &mut s, "oh and do you guys charge extra on weekends");
    assert!(t.reply.contains("day or time"), "asked again: {}", t.reply);
    let t = say(&ctx, &mut s, "thursday after lunch");
    assert_eq!(t.lead.unwrap().captured["preferred_time"], "thursday after lunch");
    for asked in
        ["I was wondering if you fix tankless heaters", "oiga, cuánto cobran por destapar", "is that extra"]
    {
        assert!(is_question(asked), "{asked}");
    }
    // Statements are not questions for their lead-in.
    assert!(!is_question("and the tap in the garage drips too"));
    assert!(!is_question("y el baño de arriba también gotea"));
    assert!(!is_question("qué tal, se tapó el fregadero"));
}

#[test]
fn a_time_said_in_passing_is_taken_back_when_the_time_question_is_declined() {
    let ctx = trade_ctx();
    let mut s = State::default();
    say(&ctx, &mut s, "the shower drain is slow, could someone come Friday?");
    say(&ctx, &mut s, "Dana Smith");
    say(&ctx, &mut s, "312 555 0142");
    let t = say(&ctx, &mut s, "12 Elm St, Lakemont");
    assert!(t.reply.contains("day or time"), "{}", t.reply);
    let t = say(&ctx, &mut s, "no, no rush at all");
    assert!(t.done, "{}", t.reply);
    assert!(!t.lead.unwrap().captured.contains_key("preferred_time"));
    // In Spanish too.
    let mut s = State::default();
    say(&ctx, &mut s, "el lavabo del baño gotea, ¿pueden venir el lunes?");
    say(&ctx, &mut s, "Ana Ruiz");
    say(&ctx, &mut s, "312 555 0142");
    say(&ctx, &mut s, "12 Elm St, Lakemont");
    let t = say(&ctx, &mut s, "no, cuando sea");
    assert!(!t.lead.unwrap().captured.contains_key("preferred_time"));
}

#[test]
fn a_name_given_for_someone_else_answers_the_name_question() {
    let ctx = trade_ctx();
    let mut s = State::default();
    say(&ctx, &mut s, "my grandmother's bathroom tap won't stop dripping");
    let t = say(&ctx, &mut s, "the visit is for Gloria Abernathy, she's my grandmother");
    assert!(t.reply.starts_with("Thanks, Gloria Abernathy!"), "{}", t.reply);
    let mut s = State::default();
    say(&ctx, &mut s, "la llave del lavabo de mi abuela gotea");
    let t = say(&ctx, &mut s, "es para doña carmen ibáñez");
    assert!(t.reply.starts_with("Thanks, Carmen Ibáñez!"), "{}", t.reply);
}

#[test]
fn a_remark_given_for_the_email_goes_with_the_notes_and_the_email_is_asked_again() {
    let ctx = ctx();
    let mut s = State::default();
    say(&ctx, &mut s, "the kitchen sink is blocked and the disposal hums");
    say(&ctx, &mut s, "Greta Lund");
    let t = say(&ctx, &mut s, "415 555 0182");
    assert!(t.reply.contains("email"), "{}", t.reply);
    let t = say(&ctx, &mut s, "the side gate is unlocked, come round the back");
    assert!(t.reply.ends_with("What is your email address?"), "{}", t.reply);
    assert!(t.lead.as_ref().and_then(|l| l.notes.clone()).is_some_and(|n| n.contains("side gate")));
    let t = say(&ctx, &mut s, "greta@lund.example");
    assert_eq!(t.lead.unwrap().email.as_deref(), Some("greta@lund.example"));
    // In Spanish too; and a refusal typed without apostrophes leaves the question.
    let mut s = State::default();
    say(&ctx, &mut s, "el fregadero de la cocina está tapado y huele mal");
    say(&ctx, &mut s, "Julia Paz");
    say(&ctx, &mut s, "415 555 0182");
    let t = say(&ctx, &mut s, "el portero les abre, toquen el timbre del segundo piso");
    assert!(t.reply.ends_with("What is your email address?"), "{}", t.reply);
    let t = say(&ctx, &mut s, "i dont do email, sorry");
    assert!(t.lead.unwrap().email.is_none());
}

#[test]
fn a_number_corrected_while_the_address_is_asked() {
    let ctx = trade_ctx();
    for correction in [
        "nah hold on, that's my old phone. The right one is 415 555 0182.",
        "uy espera, me equivoqué de número, es el 415 555 0182",
    ] {
        let mut s = State::default();
        say(&ctx, &mut s, "the shower drain is slow and gurgles");
        say(&ctx, &mut s, "Greta Lund");
        let t = say(&ctx, &mut s, "415 555 0128");
        assert!(t.reply.contains("address"), "{}", t.reply);
        let t = say(&ctx, &mut s, correction);
        assert!(t.reply.contains("address"), "asked again: {}", t.reply);
        assert_eq!(t.lead.unwrap().phone.as_deref(), Some("+14155550182"), "{correction}");
    }
}

#[test]
fn a_question_without_its_mark_is_not_a_visit_time() {
    for asked in ["is the weekend rate any higher", "are your plumbers licensed", "cobran extra los domingos"]
    {
        assert!(is_question(asked), "{asked}");
    }
    let ctx = trade_ctx();
    let mut s = State::default();
    say(&ctx, &mut s, "the shower drain is slow and gurgles");
    say(&ctx, &mut s, "Greta Lund");
    say(&ctx, &mut s, "415 555 0182");
    let t = say(&ctx, &mut s, "12 Elm St, Lakemont");
    assert!(t.reply.contains("day or time"), "{}", t.reply);
    let t = say(&ctx, &mut s, "is the weekend rate any higher");
    assert!(t.reply.contains("day or time"), "asked again: {}", t.reply);
    let t = say(&ctx, &mut s, "monday morning then");
    assert_eq!(t.lead.unwrap().captured["preferred_time"], "monday morning then");
}

#[test]
fn a_job_the_caller_says_can_wait_is_routine_unless_they_take_it_back() {
    let ctx = trade_ctx();
    for (opening, level) in [
        ("the laundry tub tap drips on the tile, no rush at all, whenever you have a slot", Priority::Normal),
        ("la canilla del lavadero gotea sobre el piso, nada urgente, cuando puedan", Priority::Normal),
        ("the laundry tub tap drips on the tile, it can wait till next week", Priority::Normal),
        ("la canilla del lavadero gotea sobre el piso, no hay urgencia", Priority::Normal),
        ("the laundry tub tap drips on the tile, not urgent but we need it before Friday", Priority::High),
        (
            "la canilla del lavadero gotea sobre el piso, no es urgente pero la queremos antes del viernes",
            Priority::High,
        ),
        // A danger stands whatever else is said.
        ("no rush on the tap, but water is pouring through the ceiling now", Priority::Urgent),
    ] {
        let mut s = State::default();
        say(&ctx, &mut s, opening);
        assert_eq!(s.level(), level, "{opening}");
    }
}

#[test]
fn triage_reads_a_message_without_the_street_address_in_it() {
    let ctx = trade_ctx();
    for (with, without) in [
        (
            "I'd like the water heater flushed, I'm at 41 Heron Lane, Cedar Bend, and any morning suits",
            "I'd like the water heater flushed, I'm at and any morning suits",
        ),
        (
            "quisiera que revisen el calentador, estamos en Calle Luna 22, Lakemont, cualquier mañana",
            "quisiera que revisen el calentador, estamos en cualquier mañana",
        ),
    ] {
        let mut s = State::default();
        say(&ctx, &mut s, with);
        assert_eq!(s.level(), ctx.rules.classify(without).level, "{with}");
    }
}
