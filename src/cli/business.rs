//! `frontdesk business import|export|list|plan`

use std::path::PathBuf;

use anyhow::Context;

use crate::config::Config;
use crate::domain::PlanTier;
use crate::ids::BusinessId;
use crate::provision;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create or update a business from a TOML file; prints its id
    Import {
        /// Business file ([business], [agent], [[questions]], [[knowledge]]); a knowledge
        /// entry's `file` is read relative to it
        file: PathBuf,
    },
    /// Print a business as an import file
    Export {
        id: String,
        /// Write to this file instead of standard output
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// List businesses
    List {
        /// One JSON array, for scripts
        #[arg(long)]
        json: bool,
    },
    /// Change a business's plan (FREE, BASIC or PRO); a downgrade keeps all data
    Plan { id: String, plan: String },
}

pub async fn run(command: Command, config: Config) -> anyhow::Result<()> {
    match command {
        Command::Import { file } => import(&file, &config).await,
        Command::Export { id, output } => {
            let store = super::open_store(&config).await?;
            let text = provision::render_bundle(&store.business_bundle(&BusinessId::from(id)).await?);
            match output {
                Some(path) => {
                    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
                }
                None => {
                    print!("{text}");
                    Ok(())
                }
            }
        }
        Command::List { json } => {
            let store = super::open_store(&config).await?;
            let list = store.list_businesses().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            if list.is_empty() {
                println!("no businesses yet: `frontdesk business import FILE` or `frontdesk init`");
                return Ok(());
            }
            println!("{:<32}  {:<5}  {:<11}  {:<16}  {:>5}  NAME", "ID", "PLAN", "TYPE", "NUMBER", "LEADS");
            for s in list {
                let b = &s.business;
                println!(
                    "{:<32}  {:<5}  {:<11}  {:<16}  {:>5}  {}",
                    b.id,
                    b.plan_tier,
                    b.business_type,
                    b.twilio_phone_number.as_deref().unwrap_or("-"),
                    s.leads,
                    b.name
                );
            }
            Ok(())
        }
        Command::Plan { id, plan } => {
            let tier = PlanTier::parse(&plan)
                .with_context(|| format!("plan: expected {}, got '{plan}'", PlanTier::choices()))?;
            let store = super::open_store(&config).await?;
            let id = BusinessId::from(id);
            let before = store.business(&id).await?;
            store.set_plan(&id, tier).await?;
            println!("{}: plan {} -> {}", before.name, before.plan_tier, tier);
            Ok(())
        }
    }
}

async fn import(file: &PathBuf, config: &Config) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    // Validate everything before opening the database: a bad file writes nothing.
    // `[[knowledge]] file` paths are relative to the business file.
    let dir = file.parent().unwrap_or(std::path::Path::new(""));
    let bundle = match provision::parse_bundle_at(&text, dir) {
        Ok(bundle) => bundle,
        Err(errors) => {
            for e in &errors {
                eprintln!("{}:{e}", file.display());
            }
            anyhow::bail!("{} has {} error(s); nothing was imported", file.display(), errors.len());
        }
    };
    let store = super::open_store(config).await?;
    let name = bundle.business.name.clone();
    let outcome =
        store.import_business(bundle).await.with_context(|| format!("importing {}", file.display()))?;
    eprintln!("{} business '{name}'", if outcome.created { "created" } else { "updated" });
    println!("{}", outcome.business_id);
    Ok(())
}
