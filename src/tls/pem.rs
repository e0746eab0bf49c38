//! Certificates and keys from PEM: a chain and its key checked to belong
//! together, with the names and dates the renewal and /health need.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

/// The crypto every TLS config here uses (ring: one provider in the build,
/// chosen explicitly rather than through a process default).
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider())).clone()
}

/// What renewal and /health need to know about a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// DNS names it is valid for (subject alternative names).
    pub names: Vec<String>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

impl CertInfo {
    pub fn covers(&self, domain: &str) -> bool {
        self.names.iter().any(|n| n.eq_ignore_ascii_case(domain))
    }
}

/// A certificate chain with its key, ready for rustls.
#[derive(Debug, Clone)]
pub struct Certificate {
    pub key: Arc<CertifiedKey>,
    pub info: CertInfo,
}

/// Root certificates from a PEM bundle.
pub fn roots(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let roots: Vec<_> = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: not a PEM certificate bundle: {e}", path.display()))?;
    if roots.is_empty() {
        return Err(format!("{}: no certificate in it (expected PEM)", path.display()));
    }
    Ok(roots)
}

/// Reads a certificate chain and its private key from PEM files.
pub fn certified_key(cert: &Path, key: &Path) -> Result<Certificate, String> {
    let chain = std::fs::read(cert).map_err(|e| format!("cannot read {}: {e}", cert.display()))?;
    let private = std::fs::read(key).map_err(|e| format!("cannot read {}: {e}", key.display()))?;
    parse(&chain, &private).map_err(|e| format!("{} / {}: {e}", cert.display(), key.display()))
}

/// Parses a PEM chain (leaf first) and a PEM private key that must match it.
pub fn parse(chain_pem: &[u8], key_pem: &[u8]) -> Result<Certificate, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("not a PEM certificate chain: {e}"))?;
    let leaf = chain.first().ok_or("no certificate in the chain (expected PEM)")?;
    let info = info(leaf)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| format!("not a PEM private key: {e}"))?;
    let key = CertifiedKey::from_der(chain, key, &provider())
        .map_err(|e| format!("the key does not fit the certificate: {e}"))?;
    Ok(Certificate { key: Arc::new(key), info })
}

/// Names and dates of a DER certificate.
pub fn info(der: &CertificateDer<'_>) -> Result<CertInfo, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref())
        .map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let date = |t: &x509_parser::time::ASN1Time| {
        DateTime::from_timestamp(t.timestamp(), 0).ok_or_else(|| "certificate date out of range".to_string())
    };
    let validity = cert.validity();
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(dns) = name {
                names.push(dns.to_ascii_lowercase());
            }
        }
    }
    Ok(CertInfo { names, not_before: date(&validity.not_before)?, not_after: date(&validity.not_after)? })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_chain_and_its_key_load_and_a_stranger_key_is_refused() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert =
            rcgen::CertificateParams::new(vec!["fd.example.com".into()]).unwrap().self_signed(&key).unwrap();
        let loaded = parse(cert.pem().as_bytes(), key.serialize_pem().as_bytes()).unwrap();
        assert_eq!(loaded.info.names, ["fd.example.com"]);
        assert!(loaded.info.covers("FD.example.com"));
        assert!(loaded.info.not_after > loaded.info.not_before);
        let other = rcgen::KeyPair::generate().unwrap();
        let err = parse(cert.pem().as_bytes(), other.serialize_pem().as_bytes()).unwrap_err();
        assert!(err.contains("does not fit"), "{err}");
        assert!(parse(b"nonsense", key.serialize_pem().as_bytes()).is_err());
    }
}
