//! From `DATABASE_URL` (parsed in `config::db`) to a connection pool, TLS
//! when `sslmode` asks for it.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tokio_postgres::config::SslMode;

use crate::config::{PgUrl, PgUrlError};
use crate::store::{Result, StoreError};
use crate::tls::TlsError;

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
        let root_cert_error = |path: &str, e: &dyn std::fmt::Display| {
            StoreError::Invalid(format!("DATABASE_URL sslrootcert {path}: {e}"))
        };
        let mut extra_roots = Vec::new();
        if let Some(path) = &self.root_cert {
            let pem = std::fs::read(path).map_err(|e| root_cert_error(path, &e))?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                extra_roots.push(cert.map_err(|e| root_cert_error(path, &e))?);
            }
        }
        let config = crate::tls::client_config(&extra_roots).map_err(|e| match (e, &self.root_cert) {
            (TlsError::Root(e), Some(path)) => root_cert_error(path, &e),
            (e, _) => StoreError::Invalid(format!("TLS: {e}")),
        })?;
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

    /// A root rustls refuses is reported against `sslrootcert`, as before
    /// the TLS client config was shared.
    #[test]
    fn a_bad_root_names_sslrootcert() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.pem");
        std::fs::write(&path, "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n").unwrap();
        let url =
            format!("postgres://postgres@127.0.0.1/test?sslmode=verify-full&sslrootcert={}", path.display());
        let Err(e) = PgUrl::parse(&url).unwrap().tls() else { panic!("a bad root was accepted") };
        assert!(e.to_string().contains(&format!("DATABASE_URL sslrootcert {}: ", path.display())), "{e}");
    }
}
