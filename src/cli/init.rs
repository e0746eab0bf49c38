//! `frontdesk init`: first-time setup, interactive or fully scripted.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context;

use crate::config::Config;
use crate::domain::{
    starter_questions, AgentConfig, BusinessBundle, BusinessType, NewBusiness, PlanTier, Role,
};
use crate::store::NewUser;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Name of the first business
    #[arg(long)]
    business_name: Option<String>,
    /// REAL_ESTATE, LAW, HVAC, PLUMBING or OTHER
    #[arg(long)]
    business_type: Option<String>,
    /// FREE, BASIC or PRO
    #[arg(long, default_value = "FREE")]
    plan: String,
    /// Create the first business from an import file instead
    #[arg(long, value_name = "FILE", conflicts_with_all = ["business_name", "business_type", "demo"])]
    from_file: Option<PathBuf>,
    /// Create the first business from the embedded demo (Acme Plumbing)
    #[arg(long, conflicts_with_all = ["business_name", "business_type"])]
    demo: bool,
    /// Email of the first owner
    #[arg(long)]
    owner_email: Option<String>,
    /// Read the owner's password from the first line of standard input
    #[arg(long)]
    password_stdin: bool,
}

pub async fn run(args: Args, config: Config) -> anyhow::Result<()> {
    let interactive = std::io::stdin().is_terminal() && !args.password_stdin;
    crate::files::private_dir(&config.data_dir)
        .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    let store = super::open_store(&config).await?;
    crate::auth::jwt_secret(&config)?;
    let users = store.count_users().await?;
    if users > 0 {
        anyhow::bail!(
            "already initialised ({users} user(s) in {}); add people with `frontdesk user add`",
            config.sqlite_path().display()
        );
    }

    // Gather and check every answer before writing anything.
    let bundle = business_bundle(&args, interactive)?;
    let email = match (&args.owner_email, interactive) {
        (Some(e), _) => e.clone(),
        (None, true) => super::prompt("Owner email", None)?,
        (None, false) => anyhow::bail!("--owner-email: required when not run at a terminal"),
    };
    crate::cli::user::validate(&email, "owner", Some("pending"))?;
    let password = super::read_password(args.password_stdin, &[&email, &bundle.business.name])?;
    let password_hash = crate::auth::hash_password_for(&password, &[&email, &bundle.business.name])?;

    let outcome = store.import_business(bundle).await?;
    store
        .create_user(NewUser {
            email: email.trim().to_string(),
            password_hash,
            role: Role::Owner,
            business_id: Some(outcome.business_id.clone()),
        })
        .await?;
    println!("{}", outcome.business_id);
    eprintln!(
        "initialised {}\n  business id: {}\n  owner:       {}\nnext: `frontdesk serve`, then open {}/",
        config.data_dir.display(),
        outcome.business_id,
        email.trim(),
        config.public_url()
    );
    Ok(())
}

fn business_bundle(args: &Args, interactive: bool) -> anyhow::Result<BusinessBundle> {
    let from_text = |text: &str, origin: &str, dir: Option<&std::path::Path>| {
        let parsed = match dir {
            Some(dir) => crate::provision::parse_bundle_at(text, dir),
            None => crate::provision::parse_bundle(text),
        };
        parsed.map_err(|errors| {
            let lines: Vec<String> = errors.iter().map(|e| format!("{origin}:{e}")).collect();
            anyhow::anyhow!("{}", lines.join("\n"))
        })
    };
    if let Some(file) = &args.from_file {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        // `[[knowledge]] file` paths are relative to the business file.
        let dir = file.parent().unwrap_or(std::path::Path::new(""));
        return from_text(&text, &file.display().to_string(), Some(dir));
    }
    if args.demo {
        let text = crate::assets::demo_business().context("the demo business is missing from this build")?;
        return from_text(text, "demo", None);
    }
    let name = match (&args.business_name, interactive) {
        (Some(n), _) => n.clone(),
        (None, true) => super::prompt("Business name", None)?,
        (None, false) => {
            anyhow::bail!("--business-name: required when not run at a terminal (or use --from-file)")
        }
    };
    if name.trim().is_empty() {
        anyhow::bail!("--business-name: must not be empty");
    }
    let kind = match (&args.business_type, interactive) {
        (Some(t), _) => t.clone(),
        (None, true) => {
            super::prompt(&format!("Business type ({})", BusinessType::choices()), Some("OTHER"))?
        }
        (None, false) => "OTHER".to_string(),
    };
    let business_type = BusinessType::parse(&kind)
        .with_context(|| format!("--business-type: expected {}, got '{kind}'", BusinessType::choices()))?;
    let plan_tier = PlanTier::parse(&args.plan)
        .with_context(|| format!("--plan: expected {}, got '{}'", PlanTier::choices(), args.plan))?;
    Ok(BusinessBundle {
        business: NewBusiness { plan_tier, ..NewBusiness::named(name.trim(), business_type) },
        agent: AgentConfig::default(),
        questions: starter_questions(),
        knowledge: Vec::new(),
        emergency_rules: Default::default(),
        notifications: Default::default(),
        facts: Default::default(),
        glossary: Vec::new(),
    })
}
