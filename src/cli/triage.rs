//! `frontdesk triage`: how triage classifies a message, as JSON: the level,
//! the reasons, which part decided (`rules` or `classifier`) and the nearest
//! labelled example.

use anyhow::Context;

use crate::agent::triage::{Overrides, Rules};
use crate::config::Config;
use crate::domain::BusinessType;
use crate::ids::BusinessId;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// REAL_ESTATE, LAW, HVAC, PLUMBING or OTHER (the default rules)
    #[arg(long, required_unless_present = "business")]
    business_type: Option<String>,
    /// Use this business's type and its owner's rule changes instead
    #[arg(long, conflicts_with = "business_type")]
    business: Option<String>,
    /// The message to classify
    text: String,
}

pub async fn run(args: Args, config: Config) -> anyhow::Result<()> {
    let rules = match (&args.business, &args.business_type) {
        (Some(id), _) => {
            let store = super::open_store(&config).await?;
            let profile = store
                .agent_profile(&BusinessId::from(id.as_str()))
                .await
                .with_context(|| format!("--business {id}"))?;
            Rules::with_marks(profile.business.business_type, &profile.emergency_rules, &profile.triage_marks)
        }
        (None, Some(kind)) => {
            let kind = BusinessType::parse(kind).with_context(|| {
                format!("--business-type: expected {}, got '{kind}'", BusinessType::choices())
            })?;
            Rules::with_overrides(kind, &Overrides::default())
        }
        (None, None) => anyhow::bail!("give --business-type or --business"),
    };
    println!("{}", serde_json::to_string(&rules.classify(&args.text))?);
    Ok(())
}
