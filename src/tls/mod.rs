//! Built-in HTTPS. Certificates come from an ACME CA (`acme`: obtained,
//! stored in the data directory, renewed) or from the operator's files
//! (`files`: reloaded on change); either way they are handed to rustls
//! through one resolver, so a new certificate is used from the next
//! handshake on while open connections and calls carry on untouched.
//!
//! Where things are: `acme` (an order), `renew` (when, and retrying),
//! `storage` (the files under `<data_dir>/tls`), `resolver` (SNI and the
//! TLS-ALPN-01 answer), `port80` (HTTP-01 answers and the redirect),
//! `files` (files mode), `status` (what /health shows), `pem` (parsing).
//! [`client_config`] is the outbound side: the one rustls client config.

pub mod acme;
mod client;
mod files;
pub mod pem;
pub mod port80;
pub mod preflight;
pub mod renew;
pub mod resolver;
pub mod status;
pub mod storage;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Notify;
use tokio_rustls::server::TlsStream;
use warp::http::Request;

pub use status::{TlsHealth, TlsStatus};

use crate::config::{Config, TlsConfig, TlsMode};
use crate::http::conn::{AppService, ConnService};
use port80::{Http01, HttpPort};
use resolver::{Resolver, ACME_TLS_ALPN};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Acme(String),
    #[error("certificate storage: {0}")]
    Storage(String),
    /// A root certificate given to [`client_config`] that rustls rejects.
    #[error("{0}")]
    Root(rustls::Error),
}

impl From<instant_acme::Error> for TlsError {
    fn from(e: instant_acme::Error) -> Self {
        TlsError::Acme(error_chain(&e))
    }
}

/// An error with its causes: the cause (connection refused, unknown
/// issuer) is the useful part of an HTTP client's error.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    message
}

/// The process's rustls client configuration for outbound TLS (the model's
/// WebSocket, Postgres): the shared ring provider, its safe protocol
/// versions, the Mozilla roots plus `extra_roots` (a private CA), no client
/// certificate and no ALPN. Returned by value: tokio-postgres-rustls takes
/// it so, and the WebSocket client keeps one `Arc` for the process.
pub fn client_config(
    extra_roots: &[rustls::pki_types::CertificateDer<'static>],
) -> Result<rustls::ClientConfig, TlsError> {
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    for root in extra_roots {
        roots.add(root.clone()).map_err(TlsError::Root)?;
    }
    Ok(rustls::ClientConfig::builder_with_provider(pem::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The TLS side of a serving process.
pub struct Tls {
    config: TlsConfig,
    data_dir: PathBuf,
    resolver: Arc<Resolver>,
    http01: Arc<Http01>,
    status: TlsStatus,
    acceptor: tokio_rustls::TlsAcceptor,
    /// SIGHUP: reload the files, or retry ACME at once.
    wake: Arc<Notify>,
}

impl Tls {
    /// Sets up the resolver with what is already at hand (stored ACME
    /// certificates, the operator's files), so HTTPS works from the first
    /// connection when they are good.
    pub fn new(config: &Config, status: TlsStatus) -> Result<Arc<Tls>, TlsError> {
        let resolver = Arc::new(Resolver::new(config.tls.domains.first()));
        let mut server = rustls::ServerConfig::builder_with_provider(pem::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        // HTTP/1.1 only: media streams are HTTP/1.1 WebSockets, and a single
        // protocol keeps the header-read deadline covering every connection.
        server.alpn_protocols = vec![b"http/1.1".to_vec(), ACME_TLS_ALPN.to_vec()];
        let tls = Arc::new(Tls {
            config: config.tls.clone(),
            data_dir: config.data_dir.clone(),
            resolver,
            http01: Arc::default(),
            status,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
            wake: Arc::new(Notify::new()),
        });
        match config.tls.mode {
            TlsMode::Files => {
                let (cert, key) = tls.files();
                if !files::load(&tls, &cert, &key) {
                    return Err(TlsError::Config(format!("cannot load {}", cert.display())));
                }
            }
            TlsMode::Acme => {
                let storage = tls.storage();
                for domain in &config.tls.domains.0 {
                    if let Some(cert) = storage.certificate(domain).filter(|c| c.info.covers(domain)) {
                        tls.resolver.set(std::slice::from_ref(domain), cert.key.clone());
                        tls.status.serving(domain, cert.info.not_after, None);
                    }
                }
            }
            TlsMode::Off => {}
        }
        Ok(tls)
    }

    fn files(&self) -> (PathBuf, PathBuf) {
        (PathBuf::from(&self.config.cert_file), PathBuf::from(&self.config.key_file))
    }

    fn storage(&self) -> storage::Storage {
        storage::Storage::new(&self.data_dir, &self.config.directory_url())
    }

    /// Starts obtaining and renewing (acme) or watching the files, and
    /// listens for SIGHUP. `http_port_open`: HTTP-01 can be answered.
    pub fn start(self: &Arc<Self>, http_port_open: bool) -> Result<(), TlsError> {
        spawn_hangup(self.wake.clone());
        match self.config.mode {
            TlsMode::Files => {
                let (cert, key) = self.files();
                tokio::spawn(files::watch(self.clone(), cert, key, self.wake.clone()));
            }
            TlsMode::Acme => {
                let roots = match self.config.acme_ca_bundle.as_str() {
                    "" => Vec::new(),
                    path => pem::roots(std::path::Path::new(path)).map_err(TlsError::Config)?,
                };
                let acme = Arc::new(acme::Acme {
                    directory: self.config.directory_url(),
                    email: self.config.acme_email.clone(),
                    challenge: self.config.acme_challenge,
                    http_port_open,
                    http: client::AcmeHttp::new(&roots)?,
                    storage: self.storage(),
                    resolver: self.resolver.clone(),
                    http01: self.http01.clone(),
                    account: Default::default(),
                });
                let storage = self.storage();
                for domain in &self.config.domains.0 {
                    let current = storage.certificate(domain).filter(|c| c.info.covers(domain));
                    tokio::spawn(renew::manage(
                        acme.clone(),
                        domain.clone(),
                        current,
                        self.status.clone(),
                        self.wake.clone(),
                        Duration::from_secs(self.config.acme_retry_secs.max(1)),
                    ));
                }
            }
            TlsMode::Off => {}
        }
        Ok(())
    }

    /// The TLS handshake. None when it was a TLS-ALPN-01 validation (the
    /// certificate was the whole answer; there is no HTTP to follow).
    pub async fn accept<IO>(&self, io: IO) -> std::io::Result<Option<TlsStream<IO>>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let stream = self.acceptor.accept(io).await?;
        if stream.get_ref().1.alpn_protocol() == Some(ACME_TLS_ALPN) {
            return Ok(None);
        }
        Ok(Some(stream))
    }

    /// The service for a connection to the HTTP port.
    pub fn http_port<S: AppService>(self: &Arc<Self>, app: ConnService<S>) -> HttpPort<S> {
        HttpPort { app, tls: self.clone() }
    }

    /// Where a plain-HTTP request goes on HTTPS, once there is a
    /// certificate for its host; None while there is none (serve it as is).
    fn redirect(&self, request: &Request<Incoming>) -> Option<String> {
        let requested = port80::request_host(request);
        let host = match &requested {
            Some(h) if self.resolver.has(h) => h.clone(),
            // Files mode: the operator's certificate may be a wildcard.
            Some(h) if self.config.mode == TlsMode::Files => h.clone(),
            _ => {
                let primary = self.config.domains.first()?;
                self.resolver.has(primary).then(|| primary.to_string())?
            }
        };
        let port = match self.config.https_port {
            443 => String::new(),
            port => format!(":{port}"),
        };
        let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
        Some(format!("https://{host}{port}{path}"))
    }
}

/// SIGHUP wakes the certificate tasks (reload files, retry ACME now).
fn spawn_hangup(wake: Arc<Notify>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hangup) = signal(SignalKind::hangup()) else { return };
        while hangup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading certificates");
            wake.notify_waiters();
        }
    });
    #[cfg(not(unix))]
    let _ = wake;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// An extra root (a private CA) is accepted, one rustls cannot read is
    /// refused as a root, and no ALPN is offered.
    #[test]
    fn client_config_takes_extra_roots_and_refuses_bad_ones() {
        let key = rcgen::KeyPair::generate().unwrap();
        let ca =
            rcgen::CertificateParams::new(vec!["ca.example.com".into()]).unwrap().self_signed(&key).unwrap();
        let config = client_config(&[ca.der().clone()]).unwrap();
        assert!(config.alpn_protocols.is_empty());
        let bad = client_config(&[rustls::pki_types::CertificateDer::from(vec![1, 2, 3])]).unwrap_err();
        assert!(matches!(bad, TlsError::Root(_)), "{bad}");
    }
}
