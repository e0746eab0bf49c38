//! `frontdesk serve`

use std::net::{IpAddr, SocketAddr};

use anyhow::Context;

use crate::config::{AcmeChallenge, Config, TlsMode};
use crate::http::Listeners;
use crate::server::{self, AppState, InstanceLock};
use crate::store::Store;

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
    // One process per SQLite file; on Postgres several instances share the database.
    let _lock = match config.postgres_url() {
        Some(_) => None,
        None => Some(
            InstanceLock::try_acquire(&config.data_dir)
                .with_context(|| format!("data directory {}", config.data_dir.display()))?
                .with_context(|| {
                    format!("another frontdesk is already serving from {}", config.data_dir.display())
                })?,
        ),
    };
    let store = super::open_store(&config).await?;
    // A server that cannot save would take chats and calls and lose them: refuse to start.
    store.writable().await.context("frontdesk cannot start")?;
    warm_up().await;
    let mut config = config;
    // With port 0 the system chooses: links built from the configuration name the real port.
    let listeners = listen(&mut config)?;
    if args.demo {
        load_demo(&config, store.as_ref()).await?;
    }
    let state = AppState::new(config, store)?;
    tracing::info!(instance = %state.instance, sessions = state.shared.backend(), "frontdesk instance");
    if state.store.count_users().await? == 0 {
        // Only someone who can read this console may create the first account.
        let token = state.web.setup_token.issue().await;
        let url = crate::config::redact_url(&state.config.public_url());
        println!("first-run setup: open {url}/setup?token={token} to create the first account");
        tracing::info!("no account yet: the setup link with its one-time code is on standard output");
    }
    let tls = match state.config.tls.enabled() {
        true => {
            let tls = crate::tls::Tls::new(&state.config, state.tls.clone())?;
            tls.start(listeners.http.is_some())?;
            Some(tls)
        }
        false => None,
    };
    tokio::spawn(crate::indexer::run(state.clone()));
    crate::import::recover(&state).await;
    let notifier = crate::notify::spawn(state.clone()).map_err(|e| anyhow::anyhow!("notifications: {e}"))?;
    announce(&state.config, &listeners)?;
    let grace = std::time::Duration::from_secs(state.config.server.shutdown_grace_secs);
    server::serve_on(state, listeners, tls, server::shutdown_signal()).await;
    notifier.shutdown(grace).await;
    Ok(())
}

/// Loads what every first chat or call would otherwise load, before any
/// socket is served: the built-in sentence model, the triage head and its
/// embedded examples (~90 ms, ~13 MB), and the phone-number metadata (read
/// when a caller's number is normalised). Loaded on first use instead, the
/// first caller waits for it on the async thread the live calls share, and
/// the memory appears only once traffic arrives. The two load side by side.
async fn warm_up() {
    let started = std::time::Instant::now();
    let models = tokio::task::spawn_blocking(|| {
        // Any business type: the examples of every type are embedded at once.
        let _ =
            crate::agent::triage_model::Classifier::for_business(crate::domain::BusinessType::Plumbing, &[]);
        crate::agent::local_model::get().is_some()
    });
    let phones = tokio::task::spawn_blocking(|| {
        let started = std::time::Instant::now();
        (crate::agent::answers::warm_phone_metadata(), started.elapsed())
    });
    let (models, phones) = tokio::join!(models, phones);
    match models {
        Ok(loaded) => tracing::info!(
            model = loaded,
            ms = started.elapsed().as_millis() as u64,
            "built-in sentence model and triage head loaded"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "built-in models could not be loaded ahead; they load on first use")
        }
    }
    match phones {
        Ok((parsed, took)) => {
            tracing::info!(parsed, ms = took.as_millis() as u64, "phone-number metadata loaded")
        }
        Err(e) => tracing::warn!(error = %e, "phone-number metadata not loaded ahead; it loads on first use"),
    }
}

async fn load_demo(config: &Config, store: &dyn Store) -> anyhow::Result<()> {
    if !store.list_businesses().await?.is_empty() {
        return Ok(());
    }
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
    Ok(())
}

/// Binds what the mode needs: `server.port` without TLS; the HTTPS port and,
/// if it can be had, the HTTP port with TLS.
fn listen(config: &mut Config) -> anyhow::Result<Listeners> {
    let ip = config.server.bind;
    if !config.tls.enabled() {
        let http = bind(ip, config.server.port)?;
        config.server.port = http.local_addr()?.port();
        return Ok(Listeners { http: Some(http), https: None });
    }
    let https = bind(ip, config.tls.https_port)?;
    let http = match bind(ip, config.tls.http_port) {
        Ok(listener) => Some(listener),
        Err(e) if config.tls.mode == TlsMode::Acme && config.tls.acme_challenge == AcmeChallenge::Http01 => {
            return Err(e.context("tls.acme_challenge is http-01, which needs the HTTP port"));
        }
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "no HTTP port: no redirect to https, and ACME uses TLS-ALPN-01");
            None
        }
    };
    let http_port = match &http {
        Some(listener) => Some(listener.local_addr()?.port()),
        None => None,
    };
    config.set_tls_ports(https.local_addr()?.port(), http_port);
    Ok(Listeners { http, https: Some(https) })
}

fn bind(ip: IpAddr, port: u16) -> anyhow::Result<tokio::net::TcpListener> {
    server::bind_to(SocketAddr::new(ip, port)).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::PermissionDenied && port < 1024 {
            " (ports below 1024 need root or CAP_NET_BIND_SERVICE; the systemd unit grants it)"
        } else {
            ""
        };
        anyhow::anyhow!("cannot listen on {ip}:{port}: {e}{hint}")
    })
}

/// One plain line per socket on stdout, which scripts and tests wait for.
fn announce(config: &Config, listeners: &Listeners) -> anyhow::Result<()> {
    if let Some(https) = &listeners.https {
        let addr = https.local_addr()?;
        tracing::info!(%addr, domains = %config.tls.domains.0.join(","), mode = config.tls.mode.as_str(), "frontdesk listening (HTTPS)");
        println!("frontdesk listening on https://{addr}");
    }
    if let Some(http) = &listeners.http {
        let addr = http.local_addr()?;
        tracing::info!(%addr, data_dir = %config.data_dir.display(), "frontdesk listening");
        match listeners.https.is_some() {
            true => println!(
                "frontdesk listening on http://{addr} (ACME challenges; redirects to https once a certificate is in place)"
            ),
            false => println!("frontdesk listening on http://{addr}"),
        }
    }
    Ok(())
}
