//! `frontdesk backup FILE`

use std::path::PathBuf;

use anyhow::Context;

use crate::config::Config;
use crate::store::sqlite;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the backup (a single SQLite file)
    file: PathBuf,
}

pub fn run(args: Args, config: &Config) -> anyhow::Result<()> {
    if let Some(url) = config.postgres_url() {
        anyhow::bail!("{}", pg_dump_advice(&url));
    }
    let db = config.sqlite_path();
    if !db.exists() {
        anyhow::bail!("no database at {} (nothing to back up)", db.display());
    }
    if let Some(dir) = args.file.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::files::create_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    sqlite::backup_file(&db, &args.file)?;
    let version = sqlite::verify_file(&args.file)?;
    let bytes = std::fs::metadata(&args.file).map(|m| m.len()).unwrap_or(0);
    println!(
        "backup written to {} ({bytes} bytes, schema version {version}, integrity ok)",
        args.file.display()
    );
    Ok(())
}

/// What to do instead on Postgres: its own tools copy it consistently.
pub(super) fn pg_dump_advice(url: &str) -> String {
    let schema =
        crate::store::postgres::PgUrl::parse(url).map(|u| u.schema).unwrap_or_else(|_| "public".into());
    format!(
        "DATABASE_URL names a Postgres database: frontdesk backup and restore copy a SQLite file. Back it up with \
         Postgres's own tools, for example\n  pg_dump --format=custom --schema={schema} --file=frontdesk.dump \
         'postgresql://USER@HOST:PORT/DB'\nand restore with pg_restore --clean --dbname=... frontdesk.dump \
         (the URL without its ?schema= parameter, which only frontdesk understands)"
    )
}
