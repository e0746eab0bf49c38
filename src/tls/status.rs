//! What the certificates are doing, for `/health` and the operator's page:
//! per domain, when the certificate expires, when it will be renewed, and
//! the last error with the next attempt.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::config::{TlsConfig, TlsMode};

#[derive(Clone)]
pub struct TlsStatus(Arc<RwLock<State>>);

struct State {
    mode: TlsMode,
    domains: Vec<Domain>,
}

#[derive(Clone)]
struct Domain {
    name: String,
    not_after: Option<DateTime<Utc>>,
    renew_at: Option<DateTime<Utc>>,
    last_error: Option<(DateTime<Utc>, String)>,
    retry_at: Option<DateTime<Utc>>,
}

impl Domain {
    fn new(name: &str) -> Domain {
        Domain { name: name.to_string(), not_after: None, renew_at: None, last_error: None, retry_at: None }
    }
}

/// `tls` in `/health`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TlsHealth {
    pub mode: String,
    pub domains: Vec<String>,
    /// The earliest expiry among the certificates in use.
    pub not_after: Option<String>,
    /// The most recent error, naming its domain; cleared by a success.
    pub last_error: Option<String>,
    pub certificates: Vec<CertHealth>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CertHealth {
    pub domain: String,
    pub not_after: Option<String>,
    pub renew_at: Option<String>,
    pub last_error: Option<String>,
    pub retry_at: Option<String>,
}

fn stamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl TlsStatus {
    pub fn new(config: &TlsConfig) -> TlsStatus {
        let domains = config.domains.0.iter().map(|d| Domain::new(d)).collect();
        TlsStatus(Arc::new(RwLock::new(State { mode: config.mode, domains })))
    }

    fn update(&self, name: &str, f: impl FnOnce(&mut Domain)) {
        let mut state = self.0.write().unwrap_or_else(|p| p.into_inner());
        match state.domains.iter_mut().find(|d| d.name == name) {
            Some(domain) => f(domain),
            None => {
                let mut domain = Domain::new(name);
                f(&mut domain);
                state.domains.push(domain);
            }
        }
    }

    /// A certificate for `name` is in use (an earlier error stays shown
    /// until [`TlsStatus::recovered`]: a renewal may still be failing).
    pub fn serving(&self, name: &str, not_after: DateTime<Utc>, renew_at: Option<DateTime<Utc>>) {
        self.update(name, |d| {
            d.not_after = Some(not_after);
            d.renew_at = renew_at;
        });
    }

    /// A certificate for `name` was obtained or loaded: errors are over.
    pub fn recovered(&self, name: &str) {
        self.update(name, |d| {
            d.last_error = None;
            d.retry_at = None;
        });
    }

    /// Getting (or loading) a certificate for `name` failed.
    pub fn failed(&self, name: &str, error: &str, retry_at: Option<DateTime<Utc>>) {
        self.update(name, |d| {
            d.last_error = Some((Utc::now(), error.to_string()));
            d.retry_at = retry_at;
        });
    }

    /// Files mode names its domains from the certificate.
    pub fn replace_domains(&self, names: &[String]) {
        let mut state = self.0.write().unwrap_or_else(|p| p.into_inner());
        state.domains.retain(|d| names.contains(&d.name));
        for name in names {
            if !state.domains.iter().any(|d| &d.name == name) {
                state.domains.push(Domain::new(name));
            }
        }
    }

    pub fn health(&self) -> TlsHealth {
        let state = self.0.read().unwrap_or_else(|p| p.into_inner());
        let last_error = state
            .domains
            .iter()
            .filter_map(|d| d.last_error.as_ref().map(|(at, e)| (at, format!("{}: {e}", d.name))))
            .max_by_key(|(at, _)| *at)
            .map(|(_, e)| e);
        TlsHealth {
            mode: state.mode.as_str().to_string(),
            domains: state.domains.iter().map(|d| d.name.clone()).collect(),
            not_after: state.domains.iter().filter_map(|d| d.not_after).min().as_ref().map(stamp),
            last_error,
            certificates: state
                .domains
                .iter()
                .map(|d| CertHealth {
                    domain: d.name.clone(),
                    not_after: d.not_after.as_ref().map(stamp),
                    renew_at: d.renew_at.as_ref().map(stamp),
                    last_error: d.last_error.as_ref().map(|(_, e)| e.clone()),
                    retry_at: d.retry_at.as_ref().map(stamp),
                })
                .collect(),
        }
    }
}
