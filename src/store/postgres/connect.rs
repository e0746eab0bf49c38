//! From `DATABASE_URL` (parsed in `config::db`) to a connection pool, TLS
//! when `sslmode` asks for it.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tokio_postgres::config::SslMode;

use crate::config::{PgUrl, PgUrlError};
use crate::store::{Result, StoreError};

impl From<PgUrlError> for StoreError {
    fn from(e: PgUrlError) -> Self {
        StoreError::Invalid(e.0)
    }
}

impl PgUrl {
    /// The pool (connections open lazily, on first use).
    pub fn pool(&self) -> Result<Pool> {
        let manager_config = ManagerConfig { recycling_method: RecyclingMethod::Fast };
        let manager = match self.config.get_ssl_mode() {
            SslMode::Disable => {
                Manager::from_config(self.config.clone(), tokio_postgres::NoTls, manager_config)
            }
            _ => Manager::from_config(self.config.clone(), self.tls()?, manager_config),
        };
        Pool::builder(manager)
            .max_size(self.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(30)))
            .create_timeout(Some(Duration::from_secs(15)))
            .build()
            .map_err(|e| StoreError::Invalid(format!("DATABASE_URL: {e}")))
    }

    /// TLS that verifies the server: the Mozilla roots, plus `sslrootcert`.
    fn tls(&self) -> Result<tokio_postgres_rustls::MakeRustlsConnect> {
        let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        if let Some(path) = &self.root_cert {
            let pem = std::fs::read(path)
                .map_err(|e| StoreError::Invalid(format!("DATABASE_URL sslrootcert {path}: {e}")))?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert =
                    cert.map_err(|e| StoreError::Invalid(format!("DATABASE_URL sslrootcert {path}: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| StoreError::Invalid(format!("DATABASE_URL sslrootcert {path}: {e}")))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| StoreError::Invalid(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn verified_tls_builds() {
        let u = PgUrl::parse("postgres://postgres@127.0.0.1/test?sslmode=verify-full").unwrap();
        assert!(u.tls().is_ok());
    }
}
