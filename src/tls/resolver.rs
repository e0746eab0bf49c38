//! Which certificate a TLS handshake gets: chosen per handshake by SNI, so a
//! renewed certificate is swapped in for new connections while open ones
//! (calls in progress) keep the session they have. A handshake offering the
//! `acme-tls/1` protocol is a TLS-ALPN-01 validation and gets the challenge
//! certificate for that name instead.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The ALPN protocol of TLS-ALPN-01 (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

#[derive(Debug, Default)]
pub struct Resolver {
    /// By lower-case DNS name.
    certs: RwLock<HashMap<String, Arc<CertifiedKey>>>,
    /// The name whose certificate a handshake without a known SNI gets.
    primary: RwLock<Option<String>>,
    challenges: RwLock<HashMap<String, Arc<CertifiedKey>>>,
}

impl Resolver {
    pub fn new(primary: Option<&str>) -> Resolver {
        Resolver { primary: RwLock::new(primary.map(str::to_string)), ..Resolver::default() }
    }

    /// Serves `key` for each of `names` from the next handshake on.
    pub fn set(&self, names: &[String], key: Arc<CertifiedKey>) {
        let mut certs = self.certs.write().unwrap_or_else(|p| p.into_inner());
        for name in names {
            certs.insert(name.to_ascii_lowercase(), key.clone());
        }
        let mut primary = self.primary.write().unwrap_or_else(|p| p.into_inner());
        if primary.is_none() {
            *primary = names.first().map(|n| n.to_ascii_lowercase());
        }
    }

    /// Replaces every certificate (files mode: one file, all its names).
    pub fn replace(&self, names: &[String], key: Arc<CertifiedKey>) {
        self.certs.write().unwrap_or_else(|p| p.into_inner()).clear();
        *self.primary.write().unwrap_or_else(|p| p.into_inner()) = None;
        self.set(names, key);
    }

    pub fn has(&self, name: &str) -> bool {
        self.certs.read().unwrap_or_else(|p| p.into_inner()).contains_key(&name.to_ascii_lowercase())
    }

    pub fn get(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        self.certs.read().unwrap_or_else(|p| p.into_inner()).get(&name.to_ascii_lowercase()).cloned()
    }

    pub fn set_challenge(&self, name: &str, key: Arc<CertifiedKey>) {
        self.challenges.write().unwrap_or_else(|p| p.into_inner()).insert(name.to_ascii_lowercase(), key);
    }

    pub fn clear_challenge(&self, name: &str) {
        self.challenges.write().unwrap_or_else(|p| p.into_inner()).remove(&name.to_ascii_lowercase());
    }

    fn fallback(&self) -> Option<Arc<CertifiedKey>> {
        let certs = self.certs.read().unwrap_or_else(|p| p.into_inner());
        let primary = self.primary.read().unwrap_or_else(|p| p.into_inner());
        primary.as_ref().and_then(|p| certs.get(p)).or_else(|| certs.values().next()).cloned()
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let name = hello.server_name().map(str::to_ascii_lowercase);
        let validation = hello.alpn().is_some_and(|mut protocols| protocols.any(|p| p == ACME_TLS_ALPN));
        if validation {
            let challenges = self.challenges.read().unwrap_or_else(|p| p.into_inner());
            return name.and_then(|n| challenges.get(&n).cloned());
        }
        name.and_then(|n| self.get(&n)).or_else(|| self.fallback())
    }
}
