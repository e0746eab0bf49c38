//! The crawler's HTTP: a clear User-Agent, timeouts, a byte cap per
//! response, redirects followed by hand (each hop checked), and the same
//! private-address refusal as lead webhooks (`notify::destination`): an
//! address literal is judged before any connection, a name by every address
//! it resolves to (the connection goes only to an address that passed).
//! Loopback may be let through by the operator for tests and local sites;
//! other private, link-local and internal addresses never are.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::config::KnowledgeConfig;
use crate::notify::destination::{internal_name, is_public};

/// What the crawler says it is (robots.txt rules are matched on "frontdesk").
pub const USER_AGENT: &str = concat!(
    "frontdesk/",
    env!("CARGO_PKG_VERSION"),
    " (knowledge import: the business's receptionist reading its own site)"
);
/// The name robots.txt groups are matched on.
pub const ROBOTS_AGENT: &str = "frontdesk";
/// Redirects followed for one fetch.
const MAX_REDIRECTS: usize = 5;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum FetchError {
    #[error("refused: {0} is a private or internal address")]
    Refused(String),
    #[error("not an http(s) URL")]
    Scheme,
    #[error("HTTP {0}")]
    Status(u16),
    #[error("larger than {0} bytes")]
    TooLarge(u64),
    #[error("too many redirects")]
    Redirects,
    #[error("not a web page ({0})")]
    NotHtml(String),
    #[error("{0}")]
    Network(String),
}

impl FetchError {
    /// A failure that says nothing about whether the page still exists.
    pub fn is_transient(&self) -> bool {
        matches!(self, FetchError::Network(_))
            || matches!(self, FetchError::Status(s) if *s >= 500 || *s == 429)
    }
}

/// Which addresses the crawler may reach.
#[derive(Debug, Clone, Copy)]
pub struct AddressPolicy {
    pub allow_loopback: bool,
}

impl AddressPolicy {
    pub fn allows(self, ip: IpAddr) -> bool {
        is_public(ip) || (self.allow_loopback && ip.is_loopback())
    }

    /// Checks a URL's scheme and, when its host is an address literal or an
    /// internal name, the host: before anything connects.
    pub fn check(self, url: &Url) -> Result<(), FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::Scheme);
        }
        match url.host() {
            Some(url::Host::Ipv4(v4)) if !self.allows(IpAddr::V4(v4)) => {
                Err(FetchError::Refused(v4.to_string()))
            }
            Some(url::Host::Ipv6(v6)) if !self.allows(IpAddr::V6(v6)) => {
                Err(FetchError::Refused(v6.to_string()))
            }
            Some(url::Host::Domain(name)) if internal_name(name) && !self.allow_loopback => {
                Err(FetchError::Refused(name.to_string()))
            }
            None => Err(FetchError::Scheme),
            _ => Ok(()),
        }
    }
}

/// A resolver that hands the client only addresses the policy allows.
struct Guarded(AddressPolicy);

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found.into_iter().filter(|a| policy.allows(a.ip())).collect();
            if allowed.is_empty() {
                return Err(FetchError::Refused(host).into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// A fetched response body.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Where it was found, after redirects.
    pub url: Url,
    pub content_type: String,
    pub body: Vec<u8>,
}

#[derive(Clone)]
pub struct Fetcher {
    http: reqwest::Client,
    policy: AddressPolicy,
    max_bytes: u64,
}

impl Fetcher {
    pub fn new(config: &KnowledgeConfig) -> Result<Fetcher, FetchError> {
        let policy = AddressPolicy { allow_loopback: config.allow_loopback_crawl };
        let timeout = Duration::from_secs(config.crawl_timeout_secs.max(1));
        let http = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT)
            // A proxy would resolve names itself, past the guard.
            .no_proxy()
            .dns_resolver(Arc::new(Guarded(policy)))
            .build()
            .map_err(|e| FetchError::Network(e.to_string()))?;
        Ok(Fetcher { http, policy, max_bytes: config.crawl_page_bytes })
    }

    pub fn policy(&self) -> AddressPolicy {
        self.policy
    }

    /// GETs `url`, following redirects (each hop checked), reading at most
    /// the byte cap.
    pub async fn get(&self, url: &Url) -> Result<Fetched, FetchError> {
        let mut url = url.clone();
        for _ in 0..=MAX_REDIRECTS {
            self.policy.check(&url)?;
            let resp = self.http.get(url.clone()).send().await.map_err(network)?;
            let status = resp.status();
            if status.is_redirection() {
                let next = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| url.join(l).ok())
                    .ok_or(FetchError::Status(status.as_u16()))?;
                url = next;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Status(status.as_u16()));
            }
            let content_type = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_ascii_lowercase();
            let body = self.read_capped(resp).await?;
            return Ok(Fetched { url, content_type, body });
        }
        Err(FetchError::Redirects)
    }

    async fn read_capped(&self, mut resp: reqwest::Response) -> Result<Vec<u8>, FetchError> {
        if resp.content_length().is_some_and(|n| n > self.max_bytes) {
            return Err(FetchError::TooLarge(self.max_bytes));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(network)? {
            if (body.len() + chunk.len()) as u64 > self.max_bytes {
                return Err(FetchError::TooLarge(self.max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// A transport error in plain words, with the refusal kept when the guard said no.
fn network(e: reqwest::Error) -> FetchError {
    let mut source: Option<&dyn std::error::Error> = Some(&e);
    while let Some(s) = source {
        if let Some(f) = s.downcast_ref::<FetchError>() {
            return f.clone();
        }
        source = s.source();
    }
    if e.is_timeout() {
        FetchError::Network("timed out".into())
    } else if e.is_connect() {
        FetchError::Network("could not connect".into())
    } else {
        FetchError::Network("the connection failed".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_targets_are_refused_before_connecting() {
        let strict = AddressPolicy { allow_loopback: false };
        let loopback = AddressPolicy { allow_loopback: true };
        for raw in [
            "http://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/",
            "http://192.168.1.1/",
        ] {
            let u = Url::parse(raw).unwrap();
            assert!(matches!(strict.check(&u), Err(FetchError::Refused(_))), "{raw}");
            assert!(matches!(loopback.check(&u), Err(FetchError::Refused(_))), "{raw} with loopback allowed");
        }
        let local = Url::parse("http://127.0.0.1:8080/").unwrap();
        assert!(strict.check(&local).is_err());
        assert!(loopback.check(&local).is_ok());
        assert!(matches!(
            strict.check(&Url::parse("http://db.internal/").unwrap()),
            Err(FetchError::Refused(_))
        ));
        assert!(matches!(strict.check(&Url::parse("ftp://example.com/").unwrap()), Err(FetchError::Scheme)));
        assert!(strict.check(&Url::parse("https://example.com/").unwrap()).is_ok());
    }
}
