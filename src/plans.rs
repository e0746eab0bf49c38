//! What each plan tier may do: the one place that decides.
//!
//! FREE: chat widget, basic FAQ answers, at most 5 lead questions, email
//! notifications, basic analytics. BASIC: everything in FREE plus unlimited
//! questions, knowledge-base management, priority email notifications, SMS
//! notifications, lead webhooks, enhanced analytics. PRO: everything in BASIC plus the voice agent, premium
//! voices, emergency voice calls, advanced analytics, session management,
//! branding removal and voice configuration.
//!
//! With `ENABLE_PLAN_TIERS=false` every business gets everything.

use serde::Serialize;

use crate::domain::PlanTier;

/// Lead questions a FREE business may use.
pub const FREE_QUESTION_LIMIT: usize = 5;

/// A capability a plan may or may not include.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    ChatWidget,
    BasicFaq,
    EmailNotifications,
    BasicAnalytics,
    UnlimitedQuestions,
    KnowledgeBaseManagement,
    PriorityEmail,
    EnhancedAnalytics,
    VoiceAgent,
    PremiumVoices,
    EmergencyVoiceCalls,
    AdvancedAnalytics,
    SessionManagement,
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
        Feature::UnlimitedQuestions,
        Feature::KnowledgeBaseManagement,
        Feature::PriorityEmail,
        Feature::EnhancedAnalytics,
        Feature::VoiceAgent,
        Feature::PremiumVoices,
        Feature::EmergencyVoiceCalls,
        Feature::AdvancedAnalytics,
        Feature::SessionManagement,
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
            Feature::UnlimitedQuestions
            | Feature::KnowledgeBaseManagement
            | Feature::PriorityEmail
            | Feature::EnhancedAnalytics
            | Feature::SmsNotifications
            | Feature::WebhookNotifications => PlanTier::Basic,
            Feature::VoiceAgent
            | Feature::PremiumVoices
            | Feature::EmergencyVoiceCalls
            | Feature::AdvancedAnalytics
            | Feature::SessionManagement
            | Feature::BrandingRemoval
            | Feature::VoiceConfiguration => PlanTier::Pro,
        }
    }

    /// How the owner reads it ("the voice agent").
    pub fn label(self) -> &'static str {
        match self {
            Feature::ChatWidget => "the chat widget",
            Feature::BasicFaq => "FAQ answers",
            Feature::EmailNotifications => "email notifications",
            Feature::BasicAnalytics => "basic analytics",
            Feature::UnlimitedQuestions => "more than 5 lead questions",
            Feature::KnowledgeBaseManagement => "knowledge-base management",
            Feature::PriorityEmail => "priority email notifications",
            Feature::EnhancedAnalytics => "enhanced analytics",
            Feature::VoiceAgent => "the voice agent",
            Feature::PremiumVoices => "premium voices",
            Feature::EmergencyVoiceCalls => "emergency voice calls",
            Feature::AdvancedAnalytics => "advanced analytics",
            Feature::SessionManagement => "session management",
            Feature::BrandingRemoval => "branding removal",
            Feature::VoiceConfiguration => "voice configuration",
            Feature::SmsNotifications => "SMS notifications",
            Feature::WebhookNotifications => "lead webhooks",
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

/// A feature the business's plan lacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} needs the {required} plan (this business is on {current})", .feature.label())]
pub struct PlanRequired {
    pub feature: Feature,
    pub current: PlanTier,
    pub required: PlanTier,
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
            Err(PlanRequired { feature, current: plan, required: feature.required_plan() })
        }
    }

    /// Lead questions the plan may use; None for no limit.
    pub fn question_limit(self, plan: PlanTier) -> Option<usize> {
        (!self.allows(plan, Feature::UnlimitedQuestions)).then_some(FREE_QUESTION_LIMIT)
    }

    /// Every feature and whether the plan has it, for the UI and the API.
    pub fn features(self, plan: PlanTier) -> Vec<(Feature, bool)> {
        Feature::ALL.iter().map(|&f| (f, self.allows(plan, f))).collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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
    fn the_error_names_both_plans_and_switching_off_allows_all() {
        let e = Plans::default().require(PlanTier::Basic, Feature::VoiceAgent).unwrap_err();
        assert_eq!((e.current, e.required), (PlanTier::Basic, PlanTier::Pro));
        assert_eq!(e.to_string(), "the voice agent needs the PRO plan (this business is on BASIC)");
        let off = Plans { enforce: false };
        assert!(Feature::ALL.iter().all(|&f| off.allows(PlanTier::Free, f)));
        assert_eq!(off.question_limit(PlanTier::Free), None);
    }
}
