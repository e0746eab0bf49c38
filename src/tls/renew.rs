//! Keeping one domain's certificate fresh: the stored one is used as long as
//! it is good (no new order on restart: CAs rate-limit), renewed inside the
//! CA's renewal window (ARI, RFC 9773) where it publishes one, else when a
//! third of its lifetime is left; failures are retried with a doubling wait.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::acme::{certificate_id, Acme};
use super::pem::{CertInfo, Certificate};
use super::status::TlsStatus;

/// Look again at least this often: an ARI window can move (a CA revoking early).
const RECHECK: Duration = Duration::from_secs(12 * 3600);
const MAX_BACKOFF: Duration = Duration::from_secs(24 * 3600);

/// The renewal time without a CA's window: a third of the lifetime left.
pub fn third_left(info: &CertInfo) -> DateTime<Utc> {
    info.not_after - (info.not_after - info.not_before) / 3
}

/// The wait after `failures` failed attempts in a row.
pub fn backoff(base: Duration, failures: u32) -> Duration {
    base.saturating_mul(2u32.saturating_pow(failures.min(20))).min(MAX_BACKOFF)
}

/// A random time in the CA's suggested window (as RFC 9773 asks), never in the past.
fn in_window(start: DateTime<Utc>, end: DateTime<Utc>) -> DateTime<Utc> {
    let span = (end - start).num_seconds().max(0);
    let at = start + chrono::Duration::seconds(rand::Rng::gen_range(&mut rand::thread_rng(), 0..=span));
    at.max(Utc::now())
}

async fn renew_at(acme: &Acme, cert: &Certificate) -> DateTime<Utc> {
    if let (Ok(account), Some(id)) = (acme.account().await, certificate_id(cert)) {
        match account.renewal_info(&id).await {
            Ok((info, _)) => {
                let window = &info.suggested_window;
                let start = DateTime::from_timestamp(window.start.unix_timestamp(), 0);
                let end = DateTime::from_timestamp(window.end.unix_timestamp(), 0);
                if let (Some(start), Some(end)) = (start, end) {
                    return in_window(start, end);
                }
            }
            Err(instant_acme::Error::Unsupported(_)) => {}
            Err(e) => tracing::debug!(error = %e, "no renewal information from the CA"),
        }
    }
    third_left(&cert.info)
}

/// Sleeps `wait`, or less if woken (SIGHUP). True when woken.
async fn pause(wait: Duration, wake: &Notify) -> bool {
    tokio::select! {
        () = tokio::time::sleep(wait) => false,
        () = wake.notified() => true,
    }
}

/// Runs for the life of the process, for one domain.
pub async fn manage(
    acme: Arc<Acme>,
    domain: String,
    mut current: Option<Certificate>,
    status: TlsStatus,
    wake: Arc<Notify>,
    retry_base: Duration,
) {
    let mut failures = 0u32;
    loop {
        if let Some(cert) = &current {
            let due = renew_at(&acme, cert).await;
            status.serving(&domain, cert.info.not_after, Some(due));
            let left = (due - Utc::now()).to_std().unwrap_or_default();
            if !left.is_zero() {
                pause(left.min(RECHECK), &wake).await;
                continue;
            }
            tracing::info!(domain, not_after = %cert.info.not_after, "renewing the certificate");
        }
        match acme.obtain(&domain, current.as_ref()).await {
            Ok(cert) => {
                acme.resolver.set(std::slice::from_ref(&domain), cert.key.clone());
                status.recovered(&domain);
                tracing::info!(domain, not_after = %cert.info.not_after, "certificate obtained and in use");
                failures = 0;
                current = Some(cert);
            }
            Err(e) => {
                let wait = backoff(retry_base, failures);
                failures += 1;
                let retry_at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                let meanwhile = if current.is_some() {
                    "the current certificate stays in use"
                } else {
                    "serving plain HTTP meanwhile"
                };
                tracing::warn!(
                    domain,
                    attempt = failures,
                    retry_in_secs = wait.as_secs(),
                    error = %e,
                    "could not get a certificate; {meanwhile}"
                );
                status.failed(&domain, &e.to_string(), Some(retry_at));
                if pause(wait, &wake).await {
                    failures = 0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_at_a_third_left_and_backoff_doubles_to_a_day() {
        let now = Utc::now();
        let info = CertInfo { names: vec![], not_before: now, not_after: now + chrono::Duration::days(90) };
        assert_eq!(third_left(&info), now + chrono::Duration::days(60));
        let base = Duration::from_secs(60);
        assert_eq!(backoff(base, 0), base);
        assert_eq!(backoff(base, 3), Duration::from_secs(480));
        assert_eq!(backoff(base, 40), MAX_BACKOFF);
        let (start, end) = (now + chrono::Duration::days(1), now + chrono::Duration::days(2));
        let at = in_window(start, end);
        assert!(at >= start && at <= end);
        assert!(in_window(now - chrono::Duration::days(2), now - chrono::Duration::days(1)) >= now);
    }
}
