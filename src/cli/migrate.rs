//! `frontdesk migrate`

use anyhow::Context;

use crate::config::Config;
use crate::store::sqlite::{self, migrate};

pub async fn run(config: &Config) -> anyhow::Result<()> {
    if config.postgres_url().is_some() {
        // Opening applies the pending migrations (under an advisory lock).
        let store = super::open_store(config).await?;
        println!("postgres: now at schema version {}", store.schema_version().await?);
        return Ok(());
    }
    let path = config.sqlite_path();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::files::create_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut conn =
        sqlite::open_connection(&path, false).with_context(|| format!("opening {}", path.display()))?;
    let applied = migrate::run(&mut conn)?;
    if applied.is_empty() {
        println!("{}: up to date at schema version {}", path.display(), migrate::current(&conn)?);
    } else {
        for m in &applied {
            println!("applied {:04}_{}", m.version, m.name);
        }
        println!("{}: now at schema version {}", path.display(), migrate::current(&conn)?);
    }
    Ok(())
}
