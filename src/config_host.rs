//! The public address (`server.hostname`): the host, and port when not the
//! default, that Twilio and browsers use to reach this instance. It names
//! the `wss://` stream URL, the public URL in links and the default email
//! sender, so it is worked out once, here, for `serve` and `config check`
//! alike.
//!
//! Set explicitly (`FRONTDESK_HOSTNAME` or the file), a bad value is an
//! error. Otherwise it is derived, and a derived value is never fatal: from
//! `HOSTNAME` (which Docker and many shells set to a container id or machine
//! name, so only a public-looking name is taken), else the host of
//! `TWILIO_WEBHOOK_BASE_URL`, else the first TLS domain.

use super::{Loaded, Source};

/// `host` or `host:port`, normalised (lower case, no default port).
pub fn parse_public_host(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    let shape = "expected a bare host name such as frontdesk.example.com or frontdesk.example.com:8443 \
                 (no scheme or path)";
    if raw.is_empty() || raw.contains("://") || raw.contains(['/', '?', '#', '@', ' ', '\\']) {
        return Err(shape.into());
    }
    let url = url::Url::parse(&format!("https://{raw}/")).map_err(|e| format!("{shape}: {e}"))?;
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| shape.to_string())?;
    Ok(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    })
}

/// Docker sets `HOSTNAME` to the container id: 12 or 64 hex digits.
pub fn looks_like_container_id(value: &str) -> bool {
    matches!(value.len(), 12 | 64) && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The host part of a `host[:port]` value, for addresses such as the sender.
pub fn without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.split_once(']').map_or(host, |(h, _)| h.trim_start_matches('['));
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

impl Loaded {
    /// Fills in `server.hostname` when it was not set explicitly.
    pub(super) fn derive_hostname(&mut self, env: &dyn Fn(&str) -> Option<String>) {
        if !self.config.server.hostname.is_empty() {
            return;
        }
        if let Some(raw) = env(super::HOSTNAME_ENV).map(|h| h.trim().to_string()).filter(|h| !h.is_empty()) {
            let ignored = if looks_like_container_id(&raw) {
                Err(format!("'{raw}' looks like a container id, not a public name"))
            } else if !without_port(&raw).contains('.') {
                Err(format!("'{raw}' is a machine name, not a public domain name"))
            } else {
                parse_public_host(&raw)
            };
            match ignored {
                Ok(host) => return self.derived(host, Source::Env(super::HOSTNAME_ENV)),
                Err(why) => self.warning(
                    "HOSTNAME (server.hostname)",
                    format!("{why}: ignored; set FRONTDESK_HOSTNAME to this instance's public name"),
                ),
            }
        }
        let webhook = url::Url::parse(&self.config.twilio.webhook_base_url).ok();
        if let Some(host) = webhook.as_ref().and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(port) => format!("{h}:{port}"),
                None => h.to_string(),
            })
        }) {
            return self.derived(host, Source::Derived("twilio.webhook_base_url"));
        }
        if self.config.tls.enabled() {
            if let Some(host) = self.config.tls.public_host() {
                self.derived(host, Source::Derived("tls.domains"));
            }
        }
    }

    fn derived(&mut self, host: String, source: Source) {
        self.config.server.hostname = host;
        self.sources.insert("server.hostname", source);
    }

    /// An explicit `server.hostname` must be a host name; a derived one was
    /// checked when it was derived.
    pub(super) fn validate_hostname(&mut self) {
        if self.config.server.hostname.is_empty() {
            return;
        }
        match parse_public_host(&self.config.server.hostname) {
            Ok(host) => self.config.server.hostname = host,
            Err(message) => self.problem(self.shown("server.hostname"), message),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hosts_ports_and_container_ids() {
        assert_eq!(parse_public_host("FD.Example.com").unwrap(), "fd.example.com");
        assert_eq!(parse_public_host("fd.example.com:8443").unwrap(), "fd.example.com:8443");
        assert_eq!(parse_public_host("fd.example.com:443").unwrap(), "fd.example.com");
        assert!(parse_public_host("https://fd.example.com").is_err());
        assert!(parse_public_host("fd.example.com/voice").is_err());
        assert!(parse_public_host("fd.example.com:99999").is_err());
        assert!(looks_like_container_id("3f4e2a1b9c8d"));
        assert!(!looks_like_container_id("fd-example-1"));
        assert_eq!(without_port("fd.example.com:8443"), "fd.example.com");
        assert_eq!(without_port("[::1]:8443"), "::1");
        assert_eq!(without_port("fd.example.com"), "fd.example.com");
    }
}
