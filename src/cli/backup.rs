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
