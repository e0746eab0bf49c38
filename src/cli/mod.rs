//! Command line: one file per subcommand, each an `Args` struct with `run`.

mod backup;
mod business;
mod config_check;
mod health;
mod init;
mod migrate;
mod migrate_data;
mod restore;
mod serve;
mod triage;
mod user;

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{Config, Flags, Loaded};
use crate::store::Store;

/// The async runtime for this process's CPUs. With one CPU to run on
/// (`taskset`, a container's quota: `available_parallelism` reads both) a
/// multi-threaded runtime would have one worker anyway, and pays for work
/// stealing it cannot use on every wakeup (shared queues, idle-worker
/// bookkeeping, atomics); the single-threaded scheduler does the same work
/// with less. `TOKIO_WORKER_THREADS`, when set, keeps the multi-threaded one.
fn runtime_builder() -> tokio::runtime::Builder {
    let one_cpu = !std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
    if one_cpu && std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    }
}

#[derive(Debug, Parser)]
#[command(name = "frontdesk", version, about = "An AI receptionist for small businesses, in one binary")]
pub struct Cli {
    /// TOML configuration file (also FRONTDESK_CONFIG)
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory: database, JWT secret (also FRONTDESK_DATA_DIR)
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server
    Serve(serve::Args),
    /// First-time setup: data directory, database, first business and owner
    Init(init::Args),
    /// Apply pending database migrations and exit
    Migrate,
    /// Copy this appliance's SQLite database into an empty Postgres (then point DATABASE_URL at it)
    MigrateData(migrate_data::Args),
    /// Inspect the configuration
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Import, export and list businesses
    #[command(subcommand)]
    Business(business::Command),
    /// Manage users who sign in to the web UI
    #[command(subcommand)]
    User(user::Command),
    /// Write a consistent copy of the database to FILE (safe while serving)
    Backup(backup::Args),
    /// Replace the database with a verified backup
    Restore(restore::Args),
    /// Classify a message (rules + classifier); prints {"level", "reasons", "decided_by", "nearest"}
    Triage(triage::Args),
    /// Print the version and the database schema version it writes
    Version,
    /// Ask a running server's /health; exit 0 when it answers 200 (container HEALTHCHECK)
    Health(health::Args),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (secrets redacted); exit 1 naming each invalid key
    Check,
}

/// Parses the command line, loads the configuration and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let flags = Flags {
        config_file: cli.config.clone(),
        data_dir: cli.data_dir.clone(),
        port: match &cli.command {
            Command::Serve(a) => a.port,
            _ => None,
        },
        bind: match &cli.command {
            Command::Serve(a) => a.bind,
            _ => None,
        },
    };
    let loaded = Loaded::load(&flags, &|name| std::env::var(name).ok());
    if let Command::Config { command: ConfigCommand::Check } = cli.command {
        return config_check::run(&loaded);
    }
    if !loaded.is_valid() {
        eprintln!("frontdesk: invalid configuration:");
        for p in &loaded.problems {
            eprintln!("  {p}");
        }
        eprintln!("(run `frontdesk config check` to see the effective configuration)");
        return ExitCode::from(2);
    }
    crate::telemetry::init(&loaded.config);
    if let Command::Serve(_) = cli.command {
        for w in &loaded.warnings {
            tracing::warn!(setting = %w.key, "{}", w.message);
        }
    }
    let runtime = match runtime_builder().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("frontdesk: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = loaded.config;
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(args, config).await,
            Command::Init(args) => init::run(args, config).await,
            Command::Migrate => migrate::run(&config).await,
            Command::MigrateData(args) => migrate_data::run(args, &config).await,
            Command::Business(cmd) => business::run(cmd, config).await,
            Command::User(cmd) => user::run(cmd, config).await,
            Command::Backup(args) => backup::run(args, &config),
            Command::Restore(args) => restore::run(args, &config),
            Command::Triage(args) => triage::run(args, config).await,
            Command::Health(args) => health::run(args, &config).await,
            Command::Version => {
                println!(
                    "frontdesk {} (database schema {})",
                    env!("CARGO_PKG_VERSION"),
                    crate::store::sqlite::migrate::latest()
                );
                Ok(())
            }
            Command::Config { .. } => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("frontdesk: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Opens the configured store (creating and migrating it if needed).
async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let what = match crate::config::DatabaseUrl::parse(config.database.url.expose()) {
        Ok(crate::config::DatabaseUrl::Postgres(url)) => {
            format!("postgres {}", crate::config::redact_url(&url))
        }
        _ => config.sqlite_path().display().to_string(),
    };
    crate::server::open_store(config).await.with_context(|| format!("database {what}"))
}

/// A password from the first line of stdin, or typed twice at a terminal;
/// checked (length, common passwords, `context` such as the email) before
/// anything is written.
fn read_password(from_stdin: bool, context: &[&str]) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("reading the password from stdin")?;
        let password = line.trim_end_matches(['\r', '\n']).to_string();
        crate::auth::check_password(&password, context)?;
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("no terminal to ask for a password: pass --password-stdin and pipe it in");
    }
    loop {
        let first = rpassword::prompt_password("Password: ")?;
        if let Err(e) = crate::auth::check_password(&first, context) {
            eprintln!("That will not do: {e}.");
            continue;
        }
        let again = rpassword::prompt_password("Password again: ")?;
        if first == again {
            return Ok(first);
        }
        eprintln!("The two passwords differ; try again.");
    }
}

/// Reads one answer from a terminal, with a default.
fn prompt(question: &str, default: Option<&str>) -> anyhow::Result<String> {
    use std::io::Write;
    match default {
        Some(d) => eprint!("{question} [{d}]: "),
        None => eprint!("{question}: "),
    }
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let answer = line.trim();
    Ok(if answer.is_empty() { default.unwrap_or("").to_string() } else { answer.to_string() })
}
