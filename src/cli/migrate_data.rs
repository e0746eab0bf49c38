//! `frontdesk migrate-data --to URL`: an appliance's SQLite database copied
//! into an empty Postgres, verified, and what to change next.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;

use crate::config::{redact_url, Config};
use crate::server::InstanceLock;
use crate::store::postgres::{import, PgUrl};
use crate::store::sqlite::export::Export;
use crate::store::transfer::Copied;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The empty Postgres database to copy into: postgres://... or
    /// postgresql://user:pw@host:port/db?schema=NAME (as DATABASE_URL takes it)
    #[arg(long, value_name = "URL")]
    to: String,
    /// The SQLite database to copy (default: this configuration's, <data-dir>/frontdesk.db)
    #[arg(long, value_name = "FILE")]
    from: Option<PathBuf>,
}

pub async fn run(args: Args, config: &Config) -> anyhow::Result<()> {
    let url = PgUrl::parse(&args.to)
        .map_err(|e| anyhow::anyhow!("--to: {}", e.0.trim_start_matches("DATABASE_URL: ")))?;
    let shown = redact_url(&args.to);
    let db = args.from.clone().unwrap_or_else(|| config.sqlite_path());
    let running = args.from.is_none()
        && db.is_file()
        && matches!(InstanceLock::try_acquire(&config.data_dir), Ok(None));
    let started = Instant::now();
    let source = Export::snapshot(&db).with_context(|| format!("SQLite database {}", db.display()))?;
    eprintln!(
        "snapshot of {} taken (schema version {}); copying into {shown} (schema \"{}\")",
        db.display(),
        source.version(),
        url.schema
    );
    let copied = import::copy_from_sqlite(&url, &source)
        .await
        .with_context(|| format!("Postgres {shown} (nothing was copied)"))?;
    let elapsed = started.elapsed();
    drop(source);
    print_report(&copied);
    println!(
        "copied {} rows in {:.2} s into schema \"{}\" (version {}); {} was only read and is unchanged.",
        copied.counts.iter().map(|c| c.target).sum::<u64>(),
        elapsed.as_secs_f64(),
        url.schema,
        copied.target_version,
        db.display()
    );
    if running {
        println!(
            "note: a frontdesk server is running on {}: what it saves from now on is not in Postgres. \
             Stop it, then run migrate-data again into an empty schema before switching.",
            config.data_dir.display()
        );
    }
    println!(
        "\nNext:\n  1. Set DATABASE_URL to the URL you passed to --to ({shown}) in the environment or \
         `database.url` in the config file.\n  2. For several instances behind a load balancer, also set \
         REDIS_URL=redis://HOST:6379 and the same JWT_SECRET on every instance{}.\n  3. Restart frontdesk \
         (`frontdesk health` should report the postgres backend). Keep {} as a backup until you are happy.",
        if config.auth.jwt_secret.is_empty() {
            format!(" (this one signs sessions with {})", config.data_dir.join("jwt_secret").display())
        } else {
            String::new()
        },
        db.display()
    );
    Ok(())
}

fn print_report(copied: &Copied) {
    let width = copied.counts.iter().map(|c| c.table.len()).max().unwrap_or(5).max(5);
    println!("{:<width$}  {:>12}  {:>12}", "table", "sqlite rows", "postgres rows");
    let mut counts: Vec<_> = copied.counts.iter().collect();
    counts.sort_by(|a, b| a.table.cmp(&b.table));
    for c in counts {
        println!("{:<width$}  {:>12}  {:>12}", c.table, c.source, c.target);
    }
    for s in &copied.skipped {
        println!("not copied: {} ({})", s.table, s.why);
    }
    for note in &copied.notes {
        println!("note: {note}");
    }
}
