//! What a conversation turn reads and remembers: the business's
//! [`Context`] and the conversation's [`State`]. Apart from the engine so
//! that the wording of alerts, the tools and the providers can read them
//! without depending on the engine that uses them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::triage::{Hazard, Reason, Rules};
use crate::domain::{AgentConfig, Business, BusinessFacts, Priority, Question};
use crate::plans::Plans;

/// What the engine knows about a business for one turn.
#[derive(Clone)]
pub struct Context {
    pub business: Business,
    pub agent: AgentConfig,
    /// The questions in force: ordered, already cut to the plan's limit.
    pub questions: Vec<Question>,
    pub rules: Arc<Rules>,
    /// Hours, area, prices, about: answered on every plan.
    pub facts: BusinessFacts,
    /// The business's local date, for "are you open today?".
    pub today: Option<chrono::NaiveDate>,
    /// The business's own glossary, beside the shared one, for its searches
    /// and for whether a passage answers a question.
    pub glossary: Arc<crate::retrieval::Glossary>,
}

impl Context {
    /// `plans` cuts the questions to what the business's plan allows.
    pub fn new(
        business: Business,
        agent: AgentConfig,
        mut questions: Vec<Question>,
        rules: Arc<Rules>,
        plans: Plans,
    ) -> Self {
        questions.sort_by_key(|q| q.order);
        if let Some(limit) = plans.question_limit(business.plan_tier) {
            questions.truncate(limit);
        }
        Context {
            business,
            agent,
            questions,
            rules,
            facts: BusinessFacts::default(),
            today: None,
            glossary: Arc::default(),
        }
    }

    /// The business's facts, and its local date.
    pub fn with_facts(mut self, facts: BusinessFacts, today: Option<chrono::NaiveDate>) -> Self {
        self.facts = facts;
        self.today = today;
        self
    }

    /// The business's own glossary.
    pub fn with_glossary(mut self, glossary: &[crate::domain::Gloss]) -> Self {
        self.glossary = Arc::new(crate::retrieval::Glossary::new(glossary));
        self
    }

    pub(super) fn question(&self, order: u32) -> Option<&Question> {
        self.questions.iter().find(|q| q.order == order)
    }
}

/// One captured answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub value: String,
    /// False when the visitor never gave a valid value and we kept what they said.
    pub valid: bool,
}

/// Everything remembered between turns (kept in the session store).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub turns: u32,
    pub level: Option<Priority>,
    pub reasons: Vec<Reason>,
    pub hazard: Option<Hazard>,
    /// The escalation has been recorded (once per conversation).
    pub escalated: bool,
    /// Answers by question order.
    pub answers: BTreeMap<u32, Answer>,
    pub skipped: BTreeSet<u32>,
    /// The question awaiting an answer.
    pub current: Option<u32>,
    pub reasks: u8,
    /// The visitor's first message: usually what the problem is.
    pub first_message: Option<String>,
    pub human_requested: bool,
    pub done: bool,
    /// The caller's number from caller ID (phone calls), E.164: offered as the
    /// callback number ("is that the best number?") and kept with the lead.
    #[serde(default)]
    pub caller_id: Option<String>,
    #[serde(default)]
    pub caller_id_declined: bool,
    /// A test conversation (the owner's preview, the demo page): nobody is alerted.
    #[serde(default)]
    pub test: bool,
    /// A day or time for the visit said before it was asked ("¿Mañana
    /// podrían pasar?"): the lead's preferred time until they answer the
    /// question, and when the question is never asked (an emergency) or declined.
    #[serde(default)]
    pub volunteered_time: Option<String>,
    /// After the escalation was saved: whether an alert was queued.
    #[serde(default)]
    pub alerted: Option<bool>,
}

impl State {
    pub fn level(&self) -> Priority {
        self.level.unwrap_or(Priority::Normal)
    }

    /// Raises the level; never lowers it.
    pub fn raise(&mut self, level: Priority, reasons: &[Reason], hazard: Option<Hazard>) -> bool {
        if level <= self.level() {
            return false;
        }
        self.level = Some(level);
        self.reasons = reasons.to_vec();
        if hazard.is_some() {
            self.hazard = hazard;
        }
        true
    }
}
