//! What the engine tells a speech-to-speech model on a phone call, and the
//! short summary a call leaves with its lead. No I/O: plain text from data.

use super::alerts::{self, Wording};
use super::answers;
use super::conversation::{self, Context, State};
use super::triage::Rules;
use crate::domain::{BusinessType, Priority, Speaker};

/// A knowledge document in brief, for the model's instructions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnowledgeBrief {
    pub title: String,
    pub excerpt: String,
}

/// Lines of the conversation carried into a fresh model session.
const CARRIED_LINES: usize = 30;
/// The owner's own phrases named as examples, per level.
const EXAMPLES: usize = 12;

/// The instructions for the realtime model: persona, the questions still to
/// ask, the emergency rules, what the knowledge base covers, how to end, and
/// (when a session is replaced mid-call) the conversation so far.
// Long because it is one prompt written top to bottom, each section a few
// lines of text; split, the prompt's order would be harder to read.
pub fn instructions(
    ctx: &Context,
    state: &State,
    knowledge: &[KnowledgeBrief],
    history: &[(Speaker, String)],
    can_transfer: bool,
) -> String {
    let b = &ctx.business;
    let a = &ctx.agent;
    let mut p = format!(
        "{persona}\n\nYou are {agent}, answering the phone for {name} ({kind}). This is a live phone call: \
         keep every reply to one or two short sentences, ask one question at a time, and sound warm and calm. \
         Phone audio is poor: repeat phone numbers, email addresses and street addresses back to the caller \
         to confirm them. Speak the caller's language.\n",
        persona = a.persona_prompt.trim(),
        agent = a.agent_name,
        name = b.name,
        kind = b.business_type.as_str().to_lowercase().replace('_', " "),
    );
    p.push_str(
        "Save every detail with save_lead_field as soon as the caller gives it; if the result says it is \
         not valid, ask again politely. Use search_knowledge for anything about the business and never \
         invent hours, prices or policies.\n",
    );

    let urgent = state.level() == Priority::Urgent;
    if urgent {
        let wording = alerts::wording(state);
        let alert = match wording {
            Wording::Alerted => "The team has been alerted.",
            Wording::NotAlerted => "Nobody could be alerted automatically: never say that anyone was.",
            Wording::Test => "This is a test call: nobody is alerted.",
        };
        let message = alerts::emergency_message(ctx, state, wording);
        p.push_str(&format!(
            "\nTHIS CALL IS AN EMERGENCY ({reasons}). {alert} Tell the caller: \"{message}\" If there is gas, \
             smoke, fire, carbon monoxide or water near electrics, tell them to get to safety and call the \
             emergency services first. Then ask only the essential questions below, as quickly as possible.\n",
            reasons = if state.reasons.is_empty() { "reported by the caller".into() } else { super::triage::joined(&state.reasons) },
        ));
    } else {
        let (urgent, high) = emergency_examples(ctx.business.business_type);
        let mut urgent: Vec<String> = urgent.iter().map(|p| p.to_string()).collect();
        urgent.extend(owner_phrases(ctx, Priority::Urgent));
        let mut high: Vec<String> = high.iter().map(|p| p.to_string()).collect();
        high.extend(owner_phrases(ctx, Priority::High));
        p.push_str(&format!(
            "\nEmergencies: if the caller describes {urgent}, or any danger to people (gas, smoke, fire, \
             carbon monoxide, sparks), call set_emergency_level with URGENT right away. For {high}, use HIGH.\n",
            urgent = urgent.join(", "),
            high = high.join(", "),
        ));
    }

    let pending = conversation::pending_questions(ctx, state);
    if pending.is_empty() {
        p.push_str("\nYou have every detail you need.\n");
    } else {
        p.push_str(if urgent {
            "\nEssential questions still to ask, in order:\n"
        } else {
            "\nQuestions still to ask, in order:\n"
        });
        for q in pending {
            p.push_str(&format!(
                "- \"{}\" (field {}, {}{})\n",
                conversation::ask(ctx, state, q),
                q.maps_to_lead_field.as_deref().unwrap_or("notes"),
                q.expected_format,
                if q.is_required { "" } else { ", optional: accept a no" }
            ));
        }
    }
    if let Some(number) = &state.caller_id {
        p.push_str(&format!(
            "The caller is calling from {}: offer it as their callback number instead of asking for one.\n",
            answers::spoken_phone(number, &b.country)
        ));
    }
    let captured = conversation::lead_draft(ctx, state).captured;
    let given: Vec<String> = captured
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "first_message" | "caller_id" | "emergency_reasons"))
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    if !given.is_empty() {
        p.push_str(&format!("Already captured: {}.\n", given.join("; ")));
    }

    let facts = super::facts::brief(&ctx.facts);
    if !facts.is_empty() {
        p.push_str(&format!("\nBusiness facts (answer from these):\n- {}\n", facts.join("\n- ")));
    }
    if !knowledge.is_empty() {
        p.push_str("\nThe knowledge base covers (search it for details):\n");
        for k in knowledge {
            p.push_str(&format!("- {}: {}\n", k.title, k.excerpt));
        }
    }

    let completion = if urgent {
        let name = conversation::lead_draft(ctx, state).name;
        alerts::completion_message(ctx, state, name.as_deref(), alerts::wording(state))
    } else {
        a.voice_completion_message.clone().filter(|m| !m.trim().is_empty()).unwrap_or_else(|| {
            "Thank you, I have everything I need. Someone will call you back shortly.".into()
        })
    };
    p.push_str(&format!(
        "\nWhen every question is answered, say \"{completion}\", ask whether there is anything else, and \
         when the caller is done, call end_call."
    ));
    if can_transfer {
        p.push_str(" If the caller asks for a person, or you cannot help, call transfer_to_human.");
    } else {
        p.push_str(
            " If the caller asks for a person, say someone will call them back, and take their details.",
        );
    }
    p.push('\n');

    if !history.is_empty() {
        p.push_str("\nThe conversation so far (continue it; do not greet again):\n");
        let start = history.len().saturating_sub(CARRIED_LINES);
        for (role, text) in &history[start..] {
            let who = if *role == Speaker::User { "Caller" } else { "You" };
            p.push_str(&format!("{who}: {text}\n"));
        }
    }
    p
}

/// What counts as an emergency for each kind of business, in plain words.
fn emergency_examples(kind: BusinessType) -> (&'static [&'static str], &'static [&'static str]) {
    match kind {
        BusinessType::Plumbing => (
            &[
                "a burst pipe",
                "flooding or water pouring in",
                "sewage backing up into the house",
                "no water at all",
            ],
            &["a leak", "a clogged drain", "no hot water", "an overflowing toilet"],
        ),
        BusinessType::Hvac => (
            &[
                "no heat in freezing weather",
                "a burning smell from the furnace",
                "no cooling in dangerous heat",
            ],
            &["heating or air conditioning not working", "a leaking unit", "strange noises"],
        ),
        BusinessType::Law => (
            &[
                "someone just arrested or held in custody",
                "police at the door",
                "a hearing today or tomorrow",
            ],
            &["papers just served", "a deadline this week"],
        ),
        BusinessType::RealEstate => (
            &["a break-in", "a flood or fire at a property"],
            &["a tenant locked out", "a broken lock", "no heat at a rental"],
        ),
        BusinessType::Other => (&["someone injured"], &["something broken that stops work"]),
    }
}

/// The owner's own emergency phrases for a level (beyond the defaults).
fn owner_phrases(ctx: &Context, level: Priority) -> Vec<String> {
    let defaults = Rules::cached(ctx.business.business_type, &Default::default()).phrases();
    ctx.rules
        .phrases()
        .into_iter()
        .filter(|(l, p)| *l == level && !defaults.iter().any(|(_, d)| d == p))
        .map(|(_, p)| format!("\"{p}\""))
        .take(EXAMPLES)
        .collect()
}

/// The opening line of a call.
pub fn greeting(ctx: &Context) -> String {
    match ctx.agent.voice_greeting_message.as_deref().filter(|m| !m.trim().is_empty()) {
        Some(greeting) => greeting.to_string(),
        None => format!(
            "Thank you for calling {}. This is {}. How can I help you today?",
            ctx.business.name, ctx.agent.agent_name
        ),
    }
}

/// The last line before the agent hangs up.
pub fn goodbye(ctx: &Context) -> String {
    match ctx.agent.voice_end_call_message.as_deref().filter(|m| !m.trim().is_empty()) {
        Some(goodbye) => goodbye.to_string(),
        None => format!("Thank you for calling {}. Goodbye!", ctx.business.name),
    }
}

/// One line for the owner: priority, who, what, how to call back.
pub fn summary(ctx: &Context, state: &State) -> String {
    let lead = conversation::lead_draft(ctx, state);
    let mut parts = Vec::new();
    if state.level() >= Priority::High {
        parts.push(state.level().as_str().to_string());
    }
    parts.push(lead.name.clone().unwrap_or_else(|| "Unknown caller".into()));
    if let Some(phone) = &lead.phone {
        parts.push(answers::spoken_phone(phone, &ctx.business.country));
    }
    let issue = lead
        .notes
        .clone()
        .or_else(|| state.first_message.clone())
        .or_else(|| (!state.reasons.is_empty()).then(|| super::triage::joined(&state.reasons)));
    if let Some(issue) = issue {
        parts.push(issue.chars().take(160).collect());
    }
    if let Some(address) = &lead.address {
        parts.push(address.clone());
    }
    if state.human_requested {
        parts.push("asked for a person".into());
    }
    parts.join(" — ")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::agent::triage::{Reason, Rules};
    use crate::domain::{starter_questions, AgentConfig, Business, BusinessType, PlanTier};
    use crate::plans::Plans;

    fn ctx() -> Context {
        let business = Business {
            id: "b".into(),
            name: "Acme Plumbing".into(),
            business_type: BusinessType::Plumbing,
            plan_tier: PlanTier::Pro,
            twilio_phone_number: None,
            notification_email: None,
            notification_phone_number: None,
            notification_webhook_url: None,
            country: "US".into(),
            timezone: "UTC".into(),
            website_origins: vec![],
            created_at: crate::domain::parse_rfc3339("2025-01-01T00:00:00.000Z").unwrap(),
            updated_at: crate::domain::parse_rfc3339("2025-01-01T00:00:00.000Z").unwrap(),
        };
        let agent = AgentConfig {
            agent_name: "Ava".into(),
            voice_emergency_message: Some("I'm paging the on-call plumber now.".into()),
            ..AgentConfig::default()
        };
        Context::new(
            business,
            agent,
            starter_questions(),
            Arc::new(Rules::for_business(BusinessType::Plumbing)),
            Plans::default(),
        )
    }

    #[test]
    fn instructions_carry_persona_questions_rules_knowledge_and_history() {
        let ctx = ctx();
        let state = State { caller_id: Some("+13125550142".into()), ..State::default() };
        let kb = [KnowledgeBrief { title: "Hours".into(), excerpt: "Mon-Fri 7am-6pm".into() }];
        let text = instructions(&ctx, &state, &kb, &[], true);
        assert!(text.contains("You are Ava, answering the phone for Acme Plumbing (plumbing)"), "{text}");
        assert!(text.contains("\"May I have your name?\" (field name, TEXT)"), "{text}");
        assert!(text.contains("Is (312) 555-0142 the best number"), "{text}");
        assert!(text.contains("- Hours: Mon-Fri 7am-6pm"), "{text}");
        assert!(text.contains("URGENT") && text.contains("transfer_to_human"), "{text}");
        assert!(!text.contains("conversation so far"));

        let mut urgent = State { alerted: Some(true), ..state.clone() };
        urgent.raise(Priority::Urgent, &[Reason::Rule("burst pipe".into())], None);
        let history = vec![(Speaker::User, "A pipe burst!".to_string())];
        let text = instructions(&ctx, &urgent, &kb, &history, false);
        assert!(text.contains("THIS CALL IS AN EMERGENCY (burst pipe)"), "{text}");
        assert!(text.contains("I'm paging the on-call plumber now."), "{text}");
        assert!(text.contains("Essential questions"), "{text}");
        assert!(!text.contains("optional"), "only essential questions in an emergency: {text}");
        assert!(text.contains("Caller: A pipe burst!"), "{text}");
        assert!(!text.contains("transfer_to_human"));
    }

    #[test]
    fn summaries_read_as_one_line() {
        let ctx = ctx();
        let mut state = State { caller_id: Some("+13125550142".into()), ..State::default() };
        state.first_message = Some("Water is pouring through the ceiling".into());
        state.raise(Priority::Urgent, &[Reason::Rule("flood".into())], None);
        assert_eq!(
            summary(&ctx, &state),
            "URGENT — Unknown caller — (312) 555-0142 — Water is pouring through the ceiling"
        );
        assert_eq!(
            greeting(&ctx),
            "Thank you for calling Acme Plumbing. This is Ava. How can I help you today?"
        );
    }
}
