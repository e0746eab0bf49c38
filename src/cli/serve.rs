//! `frontdesk serve`

use std::net::IpAddr;

use anyhow::Context;

use crate::config::Config;
use crate::server::{self, AppState, InstanceLock};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Port to listen on (overrides PORT and the config file)
    #[arg(long)]
    pub port: Option<u16>,
    /// Address to listen on (overrides FRONTDESK_BIND and the config file)
    #[arg(long)]
    pub bind: Option<IpAddr>,
    /// Load the demo business (Acme Plumbing) when the database has no business yet
    #[arg(long)]
    pub demo: bool,
}

pub async fn run(args: Args, config: Config) -> anyhow::Result<()> {
    let _lock = InstanceLock::try_acquire(&config.data_dir)
        .with_context(|| format!("data directory {}", config.data_dir.display()))?
        .with_context(|| {
            format!("another frontdesk is already serving from {}", config.data_dir.display())
        })?;
    let store = super::open_store(&config)?;
    // A server that cannot save would take chats and calls and lose them: refuse to start.
    store.writable().await.context("frontdesk cannot start")?;
    if args.demo && store.list_businesses().await?.is_empty() {
        let text = crate::assets::demo_business().context("the demo business is missing from this build")?;
        let bundle = crate::provision::parse_bundle(text)
            .map_err(|errors| anyhow::anyhow!("embedded demo business is invalid: {}", errors[0]))?;
        let outcome = store.import_business(bundle).await?;
        // A week of sample leads, calls and chats, so the dashboard and analytics show something.
        store.add_samples(&outcome.business_id, crate::demo::sample_week()).await?;
        tracing::info!(business_id = %outcome.business_id, "loaded the demo business");
        println!("demo business loaded: {}", outcome.business_id);
        let url = crate::config::redact_url(&config.public_url());
        println!("try its chat widget at {url}/demo/{}", outcome.business_id);
    }
    let listener = server::bind(&config)
        .await
        .with_context(|| format!("cannot listen on {}:{}", config.server.bind, config.server.port))?;
    let addr = listener.local_addr()?;
    // With --port 0 the system chose: links built from the configuration name the real port.
    let mut config = config;
    config.server.port = addr.port();
    let state = AppState::new(config, store)?;
    if state.store.count_users().await? == 0 {
        // Only someone who can read this console may create the first account.
        let token = state.web.setup_token.issue();
        let url = crate::config::redact_url(&state.config.public_url());
        println!("first-run setup: open {url}/setup?token={token} to create the first account");
        tracing::info!("no account yet: the setup link with its one-time code is on standard output");
    }
    tracing::info!(%addr, data_dir = %state.config.data_dir.display(), "frontdesk listening");
    // One plain line on stdout that scripts and tests can wait for.
    println!("frontdesk listening on http://{addr}");
    tokio::spawn(crate::indexer::run(state.clone()));
    let notifier = crate::notify::spawn(state.clone()).map_err(|e| anyhow::anyhow!("notifications: {e}"))?;
    let grace = std::time::Duration::from_secs(state.config.server.shutdown_grace_secs);
    server::serve(state, listener, server::shutdown_signal()).await;
    notifier.shutdown(grace).await;
    Ok(())
}
