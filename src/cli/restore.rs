//! `frontdesk restore FILE`

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::Config;
use crate::server::InstanceLock;
use crate::store::sqlite;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A file written by `frontdesk backup`
    file: PathBuf,
    /// Restore even though a running frontdesk is using the database
    #[arg(long)]
    force: bool,
}

pub fn run(args: Args, config: &Config) -> anyhow::Result<()> {
    if let Some(url) = config.postgres_url() {
        anyhow::bail!("{}", super::backup::pg_dump_advice(&url));
    }
    // Verify before touching anything.
    let version =
        sqlite::verify_file(&args.file).with_context(|| format!("backup {}", args.file.display()))?;
    let lock = InstanceLock::try_acquire(&config.data_dir)
        .with_context(|| format!("data directory {}", config.data_dir.display()))?;
    if lock.is_none() && !args.force {
        anyhow::bail!(
            "a running frontdesk is using {}; stop it first (or pass --force to restore anyway)",
            config.data_dir.display()
        );
    }
    let db = config.sqlite_path();
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::files::create_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // Keep what was there: a restore must never lose data by itself.
    if db.exists() {
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
        let aside = db.with_file_name(format!("frontdesk.db.before-restore-{stamp}"));
        sqlite::backup_file(&db, &aside)
            .with_context(|| format!("saving the current database to {}", aside.display()))?;
        println!("current database saved to {}", aside.display());
    }
    let incoming = db.with_extension("restoring");
    sqlite::copy_snapshot(&args.file, &incoming)?;
    // A stale WAL beside the new file would be replayed into it: remove it first.
    for suffix in ["-wal", "-shm"] {
        remove_if_exists(&sidecar(&db, suffix))?;
    }
    std::fs::rename(&incoming, &db).with_context(|| format!("replacing {}", db.display()))?;
    println!("restored {} into {} (schema version {version})", args.file.display(), db.display());
    Ok(())
}

fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

fn remove_if_exists(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}
