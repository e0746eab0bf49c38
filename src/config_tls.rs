//! The `[tls]` settings: their value types, defaults and checks. Kept beside
//! `config.rs` (a child module, so it shares the one key table's machinery).

use super::{Config, Environment, Loaded, Value};

/// Where certificates come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain HTTP on `server.port` (development, or behind the operator's own proxy).
    Off,
    /// Obtained and renewed from an ACME CA (Let's Encrypt by default).
    Acme,
    /// PEM files the operator provides, reloaded when they change.
    Files,
}

/// How the ACME CA checks that this server answers for a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcmeChallenge {
    /// HTTP-01 on the HTTP port, TLS-ALPN-01 on the HTTPS port when that fails
    /// (or when the HTTP port cannot be bound).
    Auto,
    Http01,
    TlsAlpn01,
}

/// Domain names, lower-cased, in the order given (the first is the primary).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Domains(pub Vec<String>);

impl Domains {
    pub fn first(&self) -> Option<&str> {
        self.0.first().map(String::as_str)
    }
}

#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub mode: TlsMode,
    pub domains: Domains,
    pub acme_email: String,
    /// An RFC 8555 directory URL, or `letsencrypt` / `letsencrypt-staging`.
    pub acme_directory: String,
    /// A PEM file of extra roots to trust for the directory itself (a local Pebble).
    pub acme_ca_bundle: String,
    pub acme_challenge: AcmeChallenge,
    /// Wait after the first failed attempt; doubles each time up to a day.
    pub acme_retry_secs: u64,
    pub https_port: u16,
    pub http_port: u16,
    pub cert_file: String,
    pub key_file: String,
    /// `Strict-Transport-Security` max-age on HTTPS responses; 0 sends none.
    pub hsts_max_age_secs: u64,
}

pub const LETSENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
pub const LETSENCRYPT_STAGING: &str = "https://acme-staging-v02.api.letsencrypt.org/directory";

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            mode: TlsMode::Off,
            domains: Domains::default(),
            acme_email: String::new(),
            acme_directory: "letsencrypt".into(),
            acme_ca_bundle: String::new(),
            acme_challenge: AcmeChallenge::Auto,
            acme_retry_secs: 60,
            https_port: 443,
            http_port: 80,
            cert_file: String::new(),
            key_file: String::new(),
            hsts_max_age_secs: 31_536_000,
        }
    }
}

impl TlsConfig {
    pub fn enabled(&self) -> bool {
        self.mode != TlsMode::Off
    }

    /// The directory URL, shorthands expanded.
    pub fn directory_url(&self) -> String {
        match self.acme_directory.trim() {
            "" | "letsencrypt" => LETSENCRYPT.into(),
            "letsencrypt-staging" => LETSENCRYPT_STAGING.into(),
            url => url.into(),
        }
    }

    /// The public `host[:port]` of the first domain (the port when not 443).
    pub fn public_host(&self) -> Option<String> {
        let domain = self.domains.first()?;
        Some(match self.https_port {
            443 => domain.to_string(),
            port => format!("{domain}:{port}"),
        })
    }
}

impl Config {
    /// The TLS ports actually bound (port 0 picks one): a public host
    /// derived from the first domain follows.
    pub fn set_tls_ports(&mut self, https_port: u16, http_port: Option<u16>) {
        let derived = self.tls.public_host();
        self.tls.https_port = https_port;
        if let Some(port) = http_port {
            self.tls.http_port = port;
        }
        if derived.is_some() && derived.as_deref() == Some(self.server.hostname.as_str()) {
            self.server.hostname = self.tls.public_host().unwrap_or_default();
        }
    }
}

impl Value for TlsMode {
    fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "" | "off" | "none" => Ok(TlsMode::Off),
            "acme" => Ok(TlsMode::Acme),
            "files" => Ok(TlsMode::Files),
            other => Err(format!("expected off, acme or files, got '{other}'")),
        }
    }
    fn show(&self) -> String {
        self.as_str().into()
    }
}

impl TlsMode {
    pub fn as_str(&self) -> &'static str {
        match self {
            TlsMode::Off => "off",
            TlsMode::Acme => "acme",
            TlsMode::Files => "files",
        }
    }
}

impl Value for AcmeChallenge {
    fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(AcmeChallenge::Auto),
            "http-01" => Ok(AcmeChallenge::Http01),
            "tls-alpn-01" => Ok(AcmeChallenge::TlsAlpn01),
            other => Err(format!("expected auto, http-01 or tls-alpn-01, got '{other}'")),
        }
    }
    fn show(&self) -> String {
        match self {
            AcmeChallenge::Auto => "auto",
            AcmeChallenge::Http01 => "http-01",
            AcmeChallenge::TlsAlpn01 => "tls-alpn-01",
        }
        .into()
    }
}

impl Value for Domains {
    /// Comma-separated (a TOML array arrives joined the same way).
    fn parse(raw: &str) -> Result<Self, String> {
        let mut names = Vec::new();
        for name in raw.split(',').map(|n| n.trim().trim_end_matches('.').to_ascii_lowercase()) {
            if name.is_empty() {
                continue;
            }
            check_domain(&name)?;
            if !names.contains(&name) {
                names.push(name);
            }
        }
        Ok(Domains(names))
    }
    fn show(&self) -> String {
        self.0.join(",")
    }
}

/// A name an ACME CA can issue for with HTTP-01 or TLS-ALPN-01.
fn check_domain(name: &str) -> Result<(), String> {
    if name.starts_with("*.") {
        return Err(format!("'{name}': wildcard names need DNS-01, which frontdesk does not do"));
    }
    if name.parse::<std::net::IpAddr>().is_ok() {
        return Err(format!("'{name}' is an IP address; certificates are issued for domain names"));
    }
    let valid_label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if name.len() > 253 || !name.split('.').all(valid_label) {
        return Err(format!("'{name}' is not a domain name (letters, digits, hyphens and dots)"));
    }
    Ok(())
}

impl Loaded {
    pub(super) fn validate_tls(&mut self, c: &Config) {
        let t = &c.tls;
        if !t.enabled() {
            if !t.domains.0.is_empty() {
                self.warning(
                    self.shown("tls.domains"),
                    "set, but tls.mode is off: no certificate is obtained (set tls.mode = \"acme\")",
                );
            }
            return;
        }
        if t.https_port == t.http_port && t.https_port != 0 {
            self.problem(self.shown("tls.http_port"), "must differ from tls.https_port");
        }
        if c.environment == Environment::Production && (t.https_port == 0 || t.http_port == 0) {
            self.problem(self.shown("tls.https_port"), "port 0 (a random port) is not allowed in production");
        }
        match t.mode {
            TlsMode::Acme => self.validate_acme(t),
            TlsMode::Files => self.validate_files(t),
            TlsMode::Off => {}
        }
    }

    fn validate_acme(&mut self, t: &TlsConfig) {
        if t.domains.0.is_empty() {
            self.problem(self.shown("tls.domains"), "tls.mode is acme: name at least one domain");
        }
        if t.acme_email.is_empty() {
            self.problem(
                self.shown("tls.acme_email"),
                "tls.mode is acme: an email address for the ACME account is required",
            );
        } else if !email_address::EmailAddress::is_valid(&t.acme_email) {
            self.problem(self.shown("tls.acme_email"), format!("not an email address: '{}'", t.acme_email));
        }
        let directory = t.directory_url();
        match url::Url::parse(&directory) {
            Ok(u) if u.scheme() == "https" && u.host_str().is_some() => {}
            Ok(_) => self.problem(
                self.shown("tls.acme_directory"),
                format!("expected an https:// ACME directory URL, letsencrypt or letsencrypt-staging, got '{directory}'"),
            ),
            Err(e) => self.problem(
                self.shown("tls.acme_directory"),
                format!("malformed URL '{directory}': {e} (or use letsencrypt / letsencrypt-staging)"),
            ),
        }
        if !t.acme_ca_bundle.is_empty() {
            if let Err(e) = crate::tls::pem::roots(std::path::Path::new(&t.acme_ca_bundle)) {
                self.problem(self.shown("tls.acme_ca_bundle"), e);
            }
        }
    }

    fn validate_files(&mut self, t: &TlsConfig) {
        if t.cert_file.is_empty() || t.key_file.is_empty() {
            let key = if t.cert_file.is_empty() { "tls.cert_file" } else { "tls.key_file" };
            self.problem(self.shown(key), "tls.mode is files: set both tls.cert_file and tls.key_file (PEM)");
            return;
        }
        let (cert, key) = (std::path::Path::new(&t.cert_file), std::path::Path::new(&t.key_file));
        if let Err(e) = crate::tls::pem::certified_key(cert, key) {
            self.problem(self.shown("tls.cert_file"), e);
        }
    }
}
