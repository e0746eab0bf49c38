//! The engine's text inputs: chat and gather messages turn after turn,
//! volunteered names, emails and phones, triage (with the owner's own
//! phrases), knowledge retrieval helpers, and what a phone model is told
//! (business and caller names, the transcript so far).

use std::sync::Arc;

use proptest::prelude::*;

use super::{config, text};
use crate::agent::conversation::{self, Context, State};
use crate::agent::triage::Rules;
use crate::agent::{answers, voice};
use crate::domain::{
    starter_questions, AgentConfig, Business, BusinessType, EmergencyRules, PlanTier, Priority, Speaker,
};
use crate::plans::Plans;
use crate::retrieval::{self, Passage};

fn context(name: &str, agent_name: &str, phrases: &[String]) -> Context {
    let mut overrides = EmergencyRules::default();
    for (i, p) in phrases.iter().enumerate() {
        let level = [Priority::Urgent, Priority::High, Priority::Normal][i % 3];
        overrides.add.push((level, p.clone()));
    }
    overrides.remove.extend(phrases.iter().take(1).cloned());
    let business = Business {
        id: "b1".into(),
        name: name.to_string(),
        business_type: BusinessType::Plumbing,
        plan_tier: PlanTier::Pro,
        twilio_phone_number: Some("+13125550100".into()),
        notification_email: None,
        notification_phone_number: None,
        notification_webhook_url: None,
        country: "US".into(),
        timezone: "UTC".into(),
        website_origins: vec![],
        created_at: crate::domain::parse_rfc3339("2025-01-01T00:00:00.000Z").unwrap(),
        updated_at: crate::domain::parse_rfc3339("2025-01-01T00:00:00.000Z").unwrap(),
    };
    let agent = AgentConfig { agent_name: agent_name.to_string(), ..AgentConfig::default() };
    let rules = Arc::new(Rules::with_overrides(BusinessType::Plumbing, &overrides));
    Context::new(business, agent, starter_questions(), rules, Plans::default())
}

proptest! {
    #![proptest_config(config())]

    /// A whole conversation of arbitrary messages: every turn answers, and the
    /// lead, summary and phone instructions can be built from what it kept.
    #[test]
    fn conversations_of_any_text_never_panic(
        messages in prop::collection::vec(text(), 1..6),
        name in text(),
        agent in text(),
        phrases in prop::collection::vec(text(), 0..3),
    ) {
        let ctx = context(&name, &agent, &phrases);
        let mut state = State::default();
        let mut history = Vec::new();
        for message in &messages {
            let passages = [Passage { chunk_id: 1, title: name.clone(), text: message.clone(), source_url: None }];
            let turn = conversation::turn(&ctx, &mut state, message, &passages);
            prop_assert!(!turn.reply.trim().is_empty());
            history.push((Speaker::User, message.clone()));
            history.push((Speaker::Assistant, turn.reply));
        }
        let _ = conversation::lead_draft(&ctx, &state);
        let _ = voice::summary(&ctx, &state);
        let _ = voice::greeting(&ctx);
        let _ = voice::goodbye(&ctx);
        let _ = voice::instructions(&ctx, &state, &[], &history, true);
    }

    #[test]
    fn answers_and_names_of_any_text(t in text()) {
        if let Some(name) = answers::find_name(&t) {
            prop_assert!(t.contains(name.split(' ').next().unwrap_or_default()));
        }
        if let Some(email) = answers::find_email(&t) {
            prop_assert!(email.contains('@'));
        }
        if let Some(phone) = answers::find_phone(&t, "US") {
            prop_assert!(phone.starts_with('+'));
        }
        for format in [crate::domain::ExpectedFormat::Text, crate::domain::ExpectedFormat::Email, crate::domain::ExpectedFormat::Phone] {
            let _ = answers::validate(format, &t, "GB");
        }
        let _ = (answers::is_decline(&t), answers::is_affirmative(&t), conversation::is_question(&t));
    }

    #[test]
    fn triage_and_retrieval_of_any_text(t in text(), doc in text()) {
        let _ = Rules::for_business(BusinessType::Hvac).classify(&t);
        let _ = retrieval::query_terms(&t);
        let words = retrieval::query_words(&t);
        let _ = crate::store::sqlite::fts_query(&words, true);
        for chunk in retrieval::chunk(&doc) {
            prop_assert!(!chunk.is_empty());
        }
        let _ = retrieval::sentences(&doc);
        let passages = [Passage { chunk_id: 1, title: "t".into(), text: doc.clone(), source_url: None }];
        let _ = retrieval::extract_answer(&t, &passages);
    }
}
