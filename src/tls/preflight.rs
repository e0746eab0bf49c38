//! What `config check` can tell about TLS beyond the settings themselves:
//! whether the ports can be bound now, whether the ACME directory answers,
//! and which certificates are already at hand.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use super::{error_chain, pem, storage::Storage};
use crate::config::{AcmeChallenge, Config, Problem, TlsMode};

/// Lines describing the TLS setup, and warnings about what will not work.
pub async fn check(config: &Config) -> (Vec<String>, Vec<Problem>) {
    let t = &config.tls;
    let mut lines = Vec::new();
    let mut warnings = Vec::new();
    let mut warn = |key: &str, message: String| warnings.push(Problem { key: key.into(), message });
    if !t.enabled() {
        lines.push(format!(
            "TLS off: plain HTTP on port {} (use a TLS proxy in front for Twilio)",
            config.server.port
        ));
        return (lines, warnings);
    }
    lines.push(format!(
        "TLS {}: {} on port {}; HTTP port {} answers ACME challenges and redirects",
        t.mode.as_str(),
        if t.domains.0.is_empty() { "(names from the certificate)".into() } else { t.domains.0.join(", ") },
        t.https_port,
        t.http_port
    ));
    for p in port_problems(config) {
        warn(&p.key, p.message);
    }
    match t.mode {
        TlsMode::Acme => {
            let directory = t.directory_url();
            match reach_directory(config, &directory).await {
                Ok(()) => lines.push(format!("ACME directory {directory} answers")),
                Err(e) => warn(
                    "tls.acme_directory",
                    format!(
                        "{directory} does not answer ({e}): certificates cannot be obtained until it does"
                    ),
                ),
            }
            let storage = Storage::new(&config.data_dir, &directory);
            for domain in &t.domains.0 {
                match storage.certificate(domain).filter(|c| c.info.covers(domain)) {
                    Some(cert) => lines.push(format!(
                        "{domain}: certificate valid until {}, renewed from {}",
                        cert.info.not_after,
                        super::renew::third_left(&cert.info)
                    )),
                    None => {
                        lines.push(format!("{domain}: no certificate yet; one is ordered when serve starts"))
                    }
                }
            }
        }
        TlsMode::Files => {
            let (cert, key) = (std::path::Path::new(&t.cert_file), std::path::Path::new(&t.key_file));
            if let Ok(loaded) = pem::certified_key(cert, key) {
                lines.push(format!(
                    "{}: for {}, valid until {}",
                    cert.display(),
                    loaded.info.names.join(", "),
                    loaded.info.not_after
                ));
                if loaded.info.not_after < chrono::Utc::now() {
                    warn("tls.cert_file", format!("expired on {}", loaded.info.not_after));
                }
                for domain in t.domains.0.iter().filter(|d| !loaded.info.covers(d)) {
                    warn("tls.domains", format!("{domain} is not a name of {}", cert.display()));
                }
            }
        }
        TlsMode::Off => {}
    }
    (lines, warnings)
}

/// The two ports bound now, as serve will: what fails if one is taken.
fn port_problems(config: &Config) -> Vec<Problem> {
    let t = &config.tls;
    let mut problems = Vec::new();
    let mut warn = |key: &str, message: String| problems.push(Problem { key: key.into(), message });
    for (key, port) in [("tls.https_port", t.https_port), ("tls.http_port", t.http_port)] {
        if let Err(e) = TcpListener::bind(SocketAddr::new(config.server.bind, port)) {
            let consequence = match key {
                "tls.https_port" => "serve will fail",
                _ if t.mode == TlsMode::Acme && t.acme_challenge == AcmeChallenge::Http01 => {
                    "serve will fail (http-01)"
                }
                _ => "serve goes on without the redirect (ACME then uses TLS-ALPN-01)",
            };
            let hint = if port < 1024 && e.kind() == std::io::ErrorKind::PermissionDenied {
                "; ports below 1024 need root or CAP_NET_BIND_SERVICE"
            } else {
                "; a running frontdesk holds it?"
            };
            warn(key, format!("cannot bind {}:{port} now ({e}{hint}): {consequence}", config.server.bind));
        }
    }
    problems
}

async fn reach_directory(config: &Config, url: &str) -> Result<(), String> {
    let roots = match config.tls.acme_ca_bundle.as_str() {
        "" => Vec::new(),
        path => pem::roots(std::path::Path::new(path))?,
    };
    let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(5));
    for root in &roots {
        builder = builder
            .add_root_certificate(reqwest::Certificate::from_der(root.as_ref()).map_err(|e| e.to_string())?);
    }
    let client = builder.build().map_err(|e| e.to_string())?;
    let response = client.get(url).send().await.map_err(|e| error_chain(&e))?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    let directory: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
    match directory.get("newOrder") {
        Some(_) => Ok(()),
        None => Err("not an ACME directory (no newOrder)".into()),
    }
}
