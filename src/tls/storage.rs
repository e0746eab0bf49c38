//! Where ACME state lives: `<data_dir>/tls/<directory>/`, one folder per
//! ACME directory (a staging certificate must never be served as a
//! production one), holding `account.json` (the account key) and one
//! `<domain>.pem` per domain (private key and chain in one file, written
//! atomically, so a crash never leaves a key without its certificate).
//! The folders are 0700 and the files 0600.

use std::path::{Path, PathBuf};

use instant_acme::AccountCredentials;
use sha2::{Digest, Sha256};

use super::pem::{self, Certificate};
use super::TlsError;

pub struct Storage {
    dir: PathBuf,
}

impl Storage {
    pub fn new(data_dir: &Path, directory_url: &str) -> Storage {
        let host = url::Url::parse(directory_url)
            .ok()
            .and_then(|u| {
                u.host_str().map(|h| h.replace(|c: char| !c.is_ascii_alphanumeric() && c != '.', "_"))
            })
            .unwrap_or_else(|| "acme".into());
        let hash: String =
            Sha256::digest(directory_url.as_bytes()).iter().take(4).map(|b| format!("{b:02x}")).collect();
        Storage { dir: data_dir.join("tls").join(format!("{host}-{hash}")) }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn io(&self, path: &Path) -> impl Fn(std::io::Error) -> TlsError + '_ {
        let path = path.display().to_string();
        move |e| TlsError::Storage(format!("{path}: {e}"))
    }

    fn prepare(&self) -> Result<(), TlsError> {
        if let Some(tls) = self.dir.parent() {
            crate::files::private_dir(tls).map_err(self.io(tls))?;
        }
        crate::files::private_dir(&self.dir).map_err(self.io(&self.dir))
    }

    pub fn account(&self) -> Result<Option<AccountCredentials>, TlsError> {
        let path = self.dir.join("account.json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| TlsError::Storage(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io(&path)(e)),
        }
    }

    pub fn save_account(&self, credentials: &AccountCredentials) -> Result<(), TlsError> {
        self.prepare()?;
        let path = self.dir.join("account.json");
        let json = serde_json::to_vec_pretty(credentials).map_err(|e| TlsError::Storage(e.to_string()))?;
        crate::files::write_private(&path, &json).map_err(self.io(&path))
    }

    fn certificate_path(&self, domain: &str) -> PathBuf {
        self.dir.join(format!("{domain}.pem"))
    }

    /// The stored certificate for `domain`; an unreadable one is treated as
    /// missing (a new one is ordered) and said so in the log.
    pub fn certificate(&self, domain: &str) -> Option<Certificate> {
        let path = self.certificate_path(domain);
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read the stored certificate");
                return None;
            }
        };
        match pem::parse(&text, &text) {
            Ok(cert) => Some(cert),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "stored certificate is unusable; a new one will be ordered");
                None
            }
        }
    }

    /// Stores a new key and chain for `domain` (PEM), replacing the old pair at once.
    pub fn save_certificate(&self, domain: &str, key_pem: &str, chain_pem: &str) -> Result<(), TlsError> {
        self.prepare()?;
        let path = self.certificate_path(domain);
        let text = format!("{}\n{}", key_pem.trim_end(), chain_pem);
        crate::files::write_private(&path, text.as_bytes()).map_err(self.io(&path))
    }
}
