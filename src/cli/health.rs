//! `frontdesk health`: asks a running server's `/health`, for a container
//! HEALTHCHECK (the image has no curl). Exit 0 when it answers 200.

use std::time::Duration;

use anyhow::Context;

use crate::config::Config;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// URL to ask (default: this configuration's own port on the loopback address)
    #[arg(long)]
    url: Option<String>,
    /// Seconds to wait for an answer
    #[arg(long, default_value_t = 5)]
    timeout: u64,
}

pub async fn run(args: Args, config: &Config) -> anyhow::Result<()> {
    let urls = match args.url {
        Some(url) => vec![url],
        None => own_urls(config),
    };
    // The server's own certificate names its domain, not the loopback
    // address: only this liveness probe skips the name check.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout))
        .redirect(reqwest::redirect::Policy::none())
        .danger_accept_invalid_certs(true)
        .build()?;
    let mut last = None;
    for url in &urls {
        match client.get(url).send().await {
            Ok(response) => {
                let status = response.status();
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                let state = body["status"].as_str().unwrap_or("?");
                println!("{url}: {} ({state})", status.as_u16());
                return match status.is_success() {
                    true => Ok(()),
                    false => Err(anyhow::anyhow!("{url} answered {status}")),
                };
            }
            Err(e) => last = Some(anyhow::anyhow!(crate::tls::error_chain(&e)).context(url.clone())),
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("no URL to ask"))).context("frontdesk is not answering")
}

/// HTTPS first when TLS is on (before the first certificate the HTTP port
/// serves everything, so it is asked next).
fn own_urls(config: &Config) -> Vec<String> {
    let host = match config.server.bind {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_string(),
        ip if ip.is_unspecified() => "[::1]".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    match config.tls.enabled() {
        true => vec![
            format!("https://{host}:{}/health", config.tls.https_port),
            format!("http://{host}:{}/health", config.tls.http_port),
        ],
        false => vec![format!("http://{host}:{}/health", config.server.port)],
    }
}
