//! `frontdesk migrate`

use anyhow::Context;

use crate::config::Config;
use crate::store::postgres::PgStore;
use crate::store::sqlite::{self, migrate};
use crate::store::Store;

pub async fn run(config: &Config) -> anyhow::Result<()> {
    if let Some(url) = config.postgres_url() {
        // Opening applies the pending migrations (under an advisory lock).
        let (store, applied) = PgStore::open_migrating(&url)
            .await
            .with_context(|| format!("database postgres {}", crate::config::redact_url(&url)))?;
        let version = store.schema_version().await?;
        report(&format!("postgres schema {}", store.schema()), &applied, version);
        return Ok(());
    }
    let path = config.sqlite_path();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::files::create_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut conn =
        sqlite::open_connection(&path, false).with_context(|| format!("opening {}", path.display()))?;
    let applied = migrate::run(&mut conn)?;
    let applied: Vec<(u32, &str)> = applied.iter().map(|m| (m.version, m.name.as_str())).collect();
    report(&path.display().to_string(), &applied, migrate::current(&conn)?);
    Ok(())
}

/// The same lines for either backend, so an operator's script reads one form.
fn report(what: &str, applied: &[(u32, &str)], version: u32) {
    if applied.is_empty() {
        println!("{what}: up to date at schema version {version}");
    } else {
        for (v, name) in applied {
            println!("applied {v:04}_{name}");
        }
        println!("{what}: now at schema version {version}");
    }
}
