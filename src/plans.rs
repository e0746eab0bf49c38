//! What each plan tier may do: the one place that decides.
//!
//! Two kinds of rule live here. **Features** a plan has or lacks (the voice
//! agent, SMS alerts, …), each with a behaviour an owner can see; and
//! **limits** ([`LIMITS`]: lead questions, knowledge documents and their size,
//! conversations and calls a month). Both are checked through [`Plans`], and
//! both refuse with the same [`PlanRequired`] (one 403 shape everywhere).
//!
//! FREE: the chat widget, answers from the business's facts, 5 lead
//! questions, email alerts, basic analytics. BASIC adds unlimited questions,
//! a knowledge base, priority email (URGENT emails marked high priority),
//! SMS and webhook alerts, analytics over time. PRO adds the voice agent,
//! premium voices, emergency calls, advanced analytics, a larger knowledge
//! base, branding removal and voice configuration.
//!
//! With `ENABLE_PLAN_TIERS=false` every business gets everything.

use serde::Serialize;

use crate::domain::PlanTier;

/// One plan's limits; `None` is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// Lead questions the receptionist asks (more are kept, not asked).
    pub questions: Option<usize>,
    /// Knowledge documents the owner may keep (0: the plan has no knowledge base).
    pub documents: Option<usize>,
    /// Largest knowledge document, bytes.
    pub document_bytes: usize,
    /// Conversations (chats and calls) a month.
    pub conversations_per_month: Option<u64>,
}

/// Every plan's limits: shown on the plan page and in the README, enforced
/// by [`Plans::within`].
pub const LIMITS: [(PlanTier, Limits); 3] = [
    (
        PlanTier::Free,
        Limits {
            questions: Some(5),
            documents: Some(0),
            document_bytes: MAX_DOCUMENT_BYTES,
            conversations_per_month: None,
        },
    ),
    (
        PlanTier::Basic,
        Limits {
            questions: None,
            documents: Some(25),
            document_bytes: MAX_DOCUMENT_BYTES,
            conversations_per_month: None,
        },
    ),
    (
        PlanTier::Pro,
        Limits {
            questions: None,
            documents: Some(250),
            document_bytes: MAX_DOCUMENT_BYTES,
            conversations_per_month: None,
        },
    ),
];

/// Largest knowledge document on any plan, bytes (as the importer reads them).
pub const MAX_DOCUMENT_BYTES: usize = 1_000_000;

/// A counted limit a change may run into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    Questions,
    Documents,
}

impl Limit {
    fn of(self, limits: &Limits) -> Option<usize> {
        match self {
            Limit::Questions => limits.questions,
            Limit::Documents => limits.documents,
        }
    }

    /// How the owner reads it ("lead questions").
    pub fn label(self) -> &'static str {
        match self {
            Limit::Questions => "lead questions",
            Limit::Documents => "knowledge documents",
        }
    }
}

/// The limits of one plan.
pub fn limits(plan: PlanTier) -> &'static Limits {
    // LIMITS names every tier; the FREE row is the safe fallback.
    LIMITS.iter().find(|(p, _)| *p == plan).map_or(&LIMITS[0].1, |(_, l)| l)
}

/// A capability a plan may or may not include.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    ChatWidget,
    BasicFaq,
    EmailNotifications,
    BasicAnalytics,
    KnowledgeBaseManagement,
    PriorityEmail,
    EnhancedAnalytics,
    VoiceAgent,
    PremiumVoices,
    EmergencyVoiceCalls,
    AdvancedAnalytics,
    BrandingRemoval,
    VoiceConfiguration,
    SmsNotifications,
    WebhookNotifications,
}

impl Feature {
    pub const ALL: &'static [Feature] = &[
        Feature::ChatWidget,
        Feature::BasicFaq,
        Feature::EmailNotifications,
        Feature::BasicAnalytics,
        Feature::KnowledgeBaseManagement,
        Feature::PriorityEmail,
        Feature::EnhancedAnalytics,
        Feature::VoiceAgent,
        Feature::PremiumVoices,
        Feature::EmergencyVoiceCalls,
        Feature::AdvancedAnalytics,
        Feature::BrandingRemoval,
        Feature::VoiceConfiguration,
        Feature::SmsNotifications,
        Feature::WebhookNotifications,
    ];

    /// The lowest plan that includes this feature.
    pub fn required_plan(self) -> PlanTier {
        match self {
            Feature::ChatWidget
            | Feature::BasicFaq
            | Feature::EmailNotifications
            | Feature::BasicAnalytics => PlanTier::Free,
            Feature::KnowledgeBaseManagement
            | Feature::PriorityEmail
            | Feature::EnhancedAnalytics
            | Feature::SmsNotifications
            | Feature::WebhookNotifications => PlanTier::Basic,
            Feature::VoiceAgent
            | Feature::PremiumVoices
            | Feature::EmergencyVoiceCalls
            | Feature::AdvancedAnalytics
            | Feature::BrandingRemoval
            | Feature::VoiceConfiguration => PlanTier::Pro,
        }
    }

    /// How the owner reads it ("the voice agent").
    pub fn label(self) -> &'static str {
        match self {
            Feature::ChatWidget => "the chat widget",
            Feature::BasicFaq => "answers from the business's facts",
            Feature::EmailNotifications => "email notifications",
            Feature::BasicAnalytics => "basic analytics",
            Feature::KnowledgeBaseManagement => "knowledge-base management",
            Feature::PriorityEmail => "priority email notifications",
            Feature::EnhancedAnalytics => "enhanced analytics",
            Feature::VoiceAgent => "the voice agent",
            Feature::PremiumVoices => "premium voices",
            Feature::EmergencyVoiceCalls => "emergency voice calls",
            Feature::AdvancedAnalytics => "advanced analytics",
            Feature::BrandingRemoval => "branding removal",
            Feature::VoiceConfiguration => "voice configuration",
            Feature::SmsNotifications => "SMS notifications",
            Feature::WebhookNotifications => "lead webhooks",
        }
    }

    /// What the owner gets, in one line (the plan page).
    pub fn behaviour(self) -> &'static str {
        match self {
            Feature::ChatWidget => "A chat on your website that answers visitors and takes their details",
            Feature::BasicFaq => "Opening hours, area, prices and about-us answered from Settings → Facts",
            Feature::EmailNotifications => "New leads and emergencies by email",
            Feature::BasicAnalytics => "Chats, calls, leads and emergencies for the last 30 days",
            Feature::KnowledgeBaseManagement => "Add your own documents; the receptionist answers from them",
            Feature::PriorityEmail => "Emergency emails marked high priority, so mail apps put them first",
            Feature::EnhancedAnalytics => "Charts by day",
            Feature::VoiceAgent => "The receptionist answers your phone number",
            Feature::PremiumVoices => "Amazon Polly, Google and extra realtime voices",
            Feature::EmergencyVoiceCalls => "For an emergency, a phone call to you that connects the caller",
            Feature::AdvancedAnalytics => {
                "How calls ended and how long they took, false alarms, what leads became, conversion, CSV"
            }
            Feature::BrandingRemoval => "No “Powered by frontdesk” on the chat",
            Feature::VoiceConfiguration => "Greeting, voice, language and answering mode of calls",
            Feature::SmsNotifications => "New leads and emergencies by text message",
            Feature::WebhookNotifications => "Leads posted (signed) to your own system",
        }
    }
}

/// The plan rules in force on this instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plans {
    /// False (`ENABLE_PLAN_TIERS=false`): every business gets every feature.
    pub enforce: bool,
}

impl Default for Plans {
    fn default() -> Self {
        Plans { enforce: true }
    }
}

/// What the plan refused: a feature it lacks, or a limit reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Needed {
    Feature(Feature),
    Limit(Limit),
}

/// A feature the business's plan lacks, or a limit it has reached. Every
/// refusal, wherever it happens, is this one error (403 `plan_required`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PlanRequired {
    pub needed: Needed,
    pub current: PlanTier,
    pub required: PlanTier,
    /// For a limit: how many the current plan allows.
    pub limit: Option<usize>,
}

impl std::fmt::Display for PlanRequired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.needed, self.limit) {
            (Needed::Limit(what), Some(0)) => {
                write!(
                    f,
                    "{} need the {} plan (this business is on {})",
                    what.label(),
                    self.required,
                    self.current
                )
            }
            (Needed::Limit(what), Some(n)) => write!(
                f,
                "the {} plan includes {n} {}; more need the {} plan",
                self.current,
                what.label(),
                self.required
            ),
            (Needed::Limit(what), None) => write!(f, "more {} need the {} plan", what.label(), self.required),
            (Needed::Feature(feature), _) => write!(
                f,
                "{} needs the {} plan (this business is on {})",
                feature.label(),
                self.required,
                self.current
            ),
        }
    }
}

impl PlanRequired {
    /// The snake_case name of what was refused (`voice_agent`, `questions`).
    pub fn needed_name(&self) -> String {
        serde_json::to_value(self.needed)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

impl Plans {
    pub fn allows(self, plan: PlanTier, feature: Feature) -> bool {
        !self.enforce || plan >= feature.required_plan()
    }

    /// Ok, or the error that names the plan needed.
    pub fn require(self, plan: PlanTier, feature: Feature) -> Result<(), PlanRequired> {
        if self.allows(plan, feature) {
            Ok(())
        } else {
            Err(PlanRequired {
                needed: Needed::Feature(feature),
                current: plan,
                required: feature.required_plan(),
                limit: None,
            })
        }
    }

    /// How many of `what` the plan allows; None for no limit.
    pub fn limit(self, plan: PlanTier, what: Limit) -> Option<usize> {
        if self.enforce {
            what.of(limits(plan))
        } else {
            None
        }
    }

    /// Ok when the business, which has `used` of `what`, may add one more;
    /// else the error naming the lowest plan that allows it.
    pub fn within(self, plan: PlanTier, what: Limit, used: usize) -> Result<(), PlanRequired> {
        let Some(max) = self.limit(plan, what).filter(|&max| used >= max) else { return Ok(()) };
        let required = LIMITS
            .iter()
            .find(|(p, l)| *p > plan && what.of(l).is_none_or(|m| m > used))
            .map_or(PlanTier::Pro, |(p, _)| *p);
        Err(PlanRequired { needed: Needed::Limit(what), current: plan, required, limit: Some(max) })
    }

    /// Lead questions the plan may use; None for no limit.
    pub fn question_limit(self, plan: PlanTier) -> Option<usize> {
        self.limit(plan, Limit::Questions)
    }

    /// Every feature and whether the plan has it, for the UI and the API.
    pub fn features(self, plan: PlanTier) -> Vec<(Feature, bool)> {
        Feature::ALL.iter().map(|&f| (f, self.allows(plan, f))).collect()
    }
}

/// The limits table as the owner reads it: (what, value per plan in
/// [`PlanTier::ALL`] order). The plan page and the README show these rows.
pub fn limit_rows() -> Vec<(&'static str, Vec<String>)> {
    let strict = Plans::default();
    let count = |n: Option<usize>| match n {
        None => "no limit".to_string(),
        Some(0) => "—".to_string(),
        Some(n) => n.to_string(),
    };
    let per_plan = |f: &dyn Fn(PlanTier, &Limits) -> String| -> Vec<String> {
        LIMITS.iter().map(|(p, l)| f(*p, l)).collect()
    };
    let listed = |plan: PlanTier, items: &[(Feature, &str)]| -> String {
        let names: Vec<&str> =
            items.iter().filter(|(f, _)| strict.allows(plan, *f)).map(|(_, name)| *name).collect();
        names.join(", ")
    };
    vec![
        ("Lead questions asked", per_plan(&|_, l| count(l.questions))),
        ("Knowledge documents", per_plan(&|_, l| count(l.documents))),
        ("Largest document", per_plan(&|_, l| format!("{} MB", l.document_bytes / 1_000_000))),
        (
            "Conversations a month (chats and calls)",
            per_plan(&|_, l| count(l.conversations_per_month.map(|n| n as usize))),
        ),
        (
            "Channels",
            per_plan(&|p, _| listed(p, &[(Feature::ChatWidget, "chat"), (Feature::VoiceAgent, "phone")])),
        ),
        (
            "Alerts by",
            per_plan(&|p, _| {
                listed(
                    p,
                    &[
                        (Feature::EmailNotifications, "email"),
                        (Feature::SmsNotifications, "SMS"),
                        (Feature::WebhookNotifications, "webhook"),
                        (Feature::EmergencyVoiceCalls, "phone call"),
                    ],
                )
            }),
        ),
    ]
}

/// [`limit_rows`] as a Markdown table (the README carries it; a test keeps it current).
pub fn limits_markdown() -> String {
    let mut out = String::from("| limit |");
    for p in PlanTier::ALL {
        out.push_str(&format!(" {p} |"));
    }
    out.push_str(
        "
| --- |",
    );
    out.push_str(&" --- |".repeat(PlanTier::ALL.len()));
    out.push('\n');
    for (what, values) in limit_rows() {
        out.push_str(&format!("| {what} | {} |\n", values.join(" | ")));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_readme_shows_the_limits_table() {
        let readme = include_str!("../README.md");
        let table = limits_markdown();
        assert!(readme.contains(&table), "README.md should carry this table:\n{table}");
    }

    #[test]
    fn tiers_include_the_lower_ones() {
        let plans = Plans::default();
        for &f in Feature::ALL {
            assert!(plans.allows(PlanTier::Pro, f), "{f:?}");
            if plans.allows(PlanTier::Free, f) {
                assert!(plans.allows(PlanTier::Basic, f), "{f:?}");
            }
        }
        assert!(plans.allows(PlanTier::Free, Feature::ChatWidget));
        assert!(!plans.allows(PlanTier::Free, Feature::KnowledgeBaseManagement));
        assert!(plans.allows(PlanTier::Basic, Feature::KnowledgeBaseManagement));
        assert!(!plans.allows(PlanTier::Basic, Feature::VoiceAgent));
        assert_eq!(plans.question_limit(PlanTier::Free), Some(5));
        assert_eq!(plans.question_limit(PlanTier::Basic), None);
    }

    #[test]
    fn the_limits_table_agrees_with_the_features_and_grows_with_the_plan() {
        for (i, (plan, l)) in LIMITS.iter().enumerate() {
            assert_eq!(PlanTier::ALL[i], *plan, "one row per tier, in order");
            let kb = Plans::default().allows(*plan, Feature::KnowledgeBaseManagement);
            assert_eq!(l.documents == Some(0), !kb, "{plan}");
            if i > 0 {
                let lower = &LIMITS[i - 1].1;
                for what in [Limit::Questions, Limit::Documents] {
                    let (a, b) = (what.of(lower), what.of(l));
                    assert!(b.is_none() || a.is_some_and(|a| b.is_some_and(|b| b >= a)), "{plan} {what:?}");
                }
            }
        }
    }

    #[test]
    fn a_limit_names_the_lowest_plan_that_allows_one_more() {
        let plans = Plans::default();
        assert!(plans.within(PlanTier::Free, Limit::Questions, 4).is_ok());
        let e = plans.within(PlanTier::Free, Limit::Questions, 5).unwrap_err();
        assert_eq!((e.required, e.limit), (PlanTier::Basic, Some(5)));
        assert_eq!(e.to_string(), "the FREE plan includes 5 lead questions; more need the BASIC plan");
        assert_eq!(e.needed_name(), "questions");
        let e = plans.within(PlanTier::Free, Limit::Documents, 0).unwrap_err();
        assert_eq!(e.required, PlanTier::Basic);
        assert_eq!(e.to_string(), "knowledge documents need the BASIC plan (this business is on FREE)");
        // BASIC's 25 documents: the 26th needs PRO; PRO's own limit has no higher plan.
        assert!(plans.within(PlanTier::Basic, Limit::Documents, 24).is_ok());
        assert_eq!(plans.within(PlanTier::Basic, Limit::Documents, 25).unwrap_err().required, PlanTier::Pro);
        assert_eq!(plans.within(PlanTier::Pro, Limit::Documents, 250).unwrap_err().required, PlanTier::Pro);
        assert!(Plans { enforce: false }.within(PlanTier::Free, Limit::Documents, 10_000).is_ok());
    }

    #[test]
    fn the_error_names_both_plans_and_switching_off_allows_all() {
        let e = Plans::default().require(PlanTier::Basic, Feature::VoiceAgent).unwrap_err();
        assert_eq!((e.current, e.required), (PlanTier::Basic, PlanTier::Pro));
        assert_eq!(e.to_string(), "the voice agent needs the PRO plan (this business is on BASIC)");
        assert_eq!(e.needed_name(), "voice_agent");
        let off = Plans { enforce: false };
        assert!(Feature::ALL.iter().all(|&f| off.allows(PlanTier::Free, f)));
        assert_eq!(off.question_limit(PlanTier::Free), None);
    }
}
