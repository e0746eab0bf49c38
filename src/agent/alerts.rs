//! What a caller or visitor is told about the alert in an emergency, and what
//! the owner reads the problem as. The rule: nobody is told that someone was
//! alerted unless an alert was queued (the channel learns it from the store,
//! in the turn's own transaction); otherwise they are told what to do
//! instead: the business's number, and the emergency number when anyone may
//! be in danger. Plain functions over data.

use super::state::{Context, State};
use super::triage::Hazard;
use crate::agent::answers;
use crate::domain::Priority;

/// How the emergency is worded for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wording {
    /// At least one alert was queued.
    Alerted,
    /// None could be: say what to do instead.
    NotAlerted,
    /// A test conversation: nobody is ever alerted.
    Test,
}

/// The wording for turns after the escalation was saved.
pub fn wording(state: &State) -> Wording {
    match (state.test, state.alerted) {
        (true, _) => Wording::Test,
        (false, Some(true)) => Wording::Alerted,
        // Not known to have been queued: never claim it.
        (false, _) => Wording::NotAlerted,
    }
}

/// The public emergency number for a country.
pub fn emergency_number(country: &str) -> &'static str {
    match country.to_ascii_uppercase().as_str() {
        "GB" | "IE" => "999",
        "AU" => "000",
        "NZ" => "111",
        "US" | "CA" | "MX" | "PR" => "911",
        _ => "112",
    }
}

/// The number customers call: the one in the facts, else the business's line.
fn business_number(ctx: &Context) -> Option<String> {
    ctx.facts
        .phone
        .clone()
        .or_else(|| ctx.business.twilio_phone_number.clone())
        .map(|n| answers::spoken_phone(&n, &ctx.business.country))
}

/// What to do when nobody could be alerted.
pub fn instead(ctx: &Context) -> String {
    let number = emergency_number(&ctx.business.country);
    match business_number(ctx) {
        Some(phone) => format!(
            "Please call {} directly on {phone}. If anyone is in danger, call {number} now.",
            ctx.business.name
        ),
        None => format!(
            "If anyone is in danger, call {number} now. Leave your name and number here and the {} team will \
             see them as soon as they check.",
            ctx.business.name
        ),
    }
}

fn safety_advice(ctx: &Context, state: &State) -> Option<String> {
    let number = emergency_number(&ctx.business.country);
    match state.hazard? {
        Hazard::Gas => Some(format!(
            "If you smell gas, leave the building now, don't use switches or anything that could spark, and call {number} and your gas company from outside."
        )),
        Hazard::CarbonMonoxide => Some(format!(
            "If a carbon monoxide alarm is sounding, get everyone outside into fresh air now and call {number}."
        )),
        Hazard::Fire => Some(format!("If there is fire or smoke, get everyone out and call {number}.")),
        Hazard::Electrical => Some(
            "Stay away from sparking outlets or wet electrics; switch off the power at the breaker if it's safe."
                .into(),
        ),
        Hazard::Flood => Some("If it's safe, turn off the main water valve to stop the flow.".into()),
    }
}

/// Said once, when the conversation becomes URGENT.
pub fn emergency_message(ctx: &Context, state: &State, wording: Wording) -> String {
    let mut text = match wording {
        Wording::Alerted => ctx
            .agent
            .voice_emergency_message
            .clone()
            .filter(|m| !m.trim().is_empty())
            .unwrap_or_else(|| {
                format!(
                    "This sounds urgent. I've alerted the {} team so someone can get back to you as fast as possible.",
                    ctx.business.name
                )
            }),
        Wording::NotAlerted => format!(
            "This sounds urgent, but I can't reach the {} team automatically right now. {}",
            ctx.business.name,
            instead(ctx)
        ),
        Wording::Test => format!(
            "This sounds urgent. This is a test conversation, so nobody is alerted; in a real one the {} team \
             would be alerted right now.",
            ctx.business.name
        ),
    };
    if let Some(advice) = safety_advice(ctx, state) {
        text.push(' ');
        text.push_str(&advice);
    }
    text
}

/// Said once every question is answered. An emergency never uses the
/// owner's everyday completion message ("first thing tomorrow"), which would
/// contradict what was said about the alert.
pub fn completion_message(ctx: &Context, state: &State, name: Option<&str>, wording: Wording) -> String {
    let name = name.map(|n| format!(", {n}")).unwrap_or_default();
    if state.level() == Priority::Urgent {
        return match wording {
            Wording::Alerted => format!(
                "Thank you{name}. The {} team has your details and will get back to you as fast as they can.",
                ctx.business.name
            ),
            Wording::NotAlerted => {
                format!("Thank you{name}. I've saved your details. {}", instead(ctx))
            }
            Wording::Test => format!("Thank you{name}. This was a test conversation, so nobody was alerted."),
        };
    }
    if let Some(m) = ctx.agent.lead_capture_completion_message.as_ref().filter(|m| !m.trim().is_empty()) {
        return m.clone();
    }
    format!(
        "Thank you{name}! We have your details and someone from {} will be in touch shortly.",
        ctx.business.name
    )
}

/// The problem in a few plain words for the owner's alert: the danger when
/// there is one, else the caller's own first sentence.
pub fn problem(state: &State) -> Option<String> {
    let plain = match state.hazard {
        Some(Hazard::Flood) => Some("water leak or flooding"),
        Some(Hazard::Gas) => Some("gas smell"),
        Some(Hazard::CarbonMonoxide) => Some("carbon monoxide alarm"),
        Some(Hazard::Fire) => Some("fire or smoke"),
        Some(Hazard::Electrical) => Some("sparking or burning electrics"),
        None => None,
    };
    if let Some(p) = plain {
        return Some(p.to_string());
    }
    let first = state.first_message.as_deref()?;
    let sentence = first.split(['.', '!', '?', '\n']).map(str::trim).find(|s| !s.is_empty())?;
    let mut out: String = sentence.chars().take(answers::MAX_TEXT_ANSWER.min(80)).collect();
    if sentence.chars().count() > out.chars().count() {
        out.push('…');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::agent::triage::{Reason, Rules};
    use crate::domain::{starter_questions, AgentConfig, Business, BusinessType, PlanTier};
    use crate::plans::Plans;

    fn ctx(phone: Option<&str>) -> Context {
        let business = Business {
            id: "b".into(),
            name: "Acme Plumbing".into(),
            business_type: BusinessType::Plumbing,
            plan_tier: PlanTier::Free,
            twilio_phone_number: phone.map(str::to_string),
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
            lead_capture_completion_message: Some(
                "We'll call you first thing the next business morning.".into(),
            ),
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

    fn urgent() -> State {
        let mut s =
            State { first_message: Some("My basement is flooding! Please help".into()), ..State::default() };
        s.raise(Priority::Urgent, &[Reason::Rule("flood".into())], Some(Hazard::Flood));
        s
    }

    #[test]
    fn nobody_is_told_of_an_alert_that_was_not_queued() {
        let c = ctx(Some("+13125550100"));
        let s = urgent();
        let alerted = emergency_message(&c, &s, Wording::Alerted);
        assert!(alerted.contains("I've alerted the Acme Plumbing team"), "{alerted}");
        let not = emergency_message(&c, &s, Wording::NotAlerted);
        assert!(!not.contains("alerted") && !not.contains("alerting"), "{not}");
        assert!(
            not.contains("(312) 555-0100") && not.contains("911") && not.contains("main water valve"),
            "{not}"
        );
        let test = emergency_message(&c, &s, Wording::Test);
        assert!(test.contains("test conversation, so nobody is alerted"), "{test}");
        let no_number = instead(&ctx(None));
        assert!(no_number.contains("call 911 now") && !no_number.contains("directly"), "{no_number}");
        assert_eq!(wording(&s), Wording::NotAlerted, "unknown means not claimed");
        assert_eq!(wording(&State { alerted: Some(true), ..s.clone() }), Wording::Alerted);
        assert_eq!(wording(&State { test: true, alerted: Some(true), ..s }), Wording::Test);
    }

    #[test]
    fn an_emergency_completion_never_contradicts_the_emergency_message() {
        let c = ctx(Some("+13125550100"));
        let done = completion_message(&c, &urgent(), Some("Dana"), Wording::Alerted);
        assert!(!done.contains("next business morning"), "{done}");
        assert!(done.starts_with("Thank you, Dana."), "{done}");
        assert!(completion_message(&c, &State::default(), None, Wording::Alerted)
            .contains("next business morning"));
        assert!(completion_message(&c, &urgent(), None, Wording::NotAlerted).contains("(312) 555-0100"));
    }

    #[test]
    fn the_problem_reads_plainly() {
        assert_eq!(problem(&urgent()).as_deref(), Some("water leak or flooding"));
        let s = State {
            first_message: Some("My husband was arrested last night. What do I do?".into()),
            ..State::default()
        };
        assert_eq!(problem(&s).as_deref(), Some("My husband was arrested last night"));
    }
}
