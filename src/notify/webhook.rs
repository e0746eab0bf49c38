//! Lead webhooks: the lead as JSON, POSTed to the owner's URL and signed
//! with HMAC-SHA256 so the receiver can tell it came from this business.
//!
//! Headers: `X-Frontdesk-Event`, `X-Frontdesk-Idempotency-Key` (the same on
//! every retry), `X-Frontdesk-Timestamp` (Unix seconds) and
//! `X-Frontdesk-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use super::destination;
use super::render::Summary;
use super::DeliveryError;
use crate::domain::{Lead, Message, NotifyEvent};
use crate::store::outbox::{Claimed, DeliveryContext};

#[derive(Serialize)]
struct Body<'a> {
    event: NotifyEvent,
    idempotency_key: &'a str,
    notification_id: &'a str,
    business: BusinessRef<'a>,
    lead: Option<&'a Lead>,
    lead_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_sid: Option<&'a str>,
    transcript: &'a [Message],
}

#[derive(Serialize)]
struct BusinessRef<'a> {
    id: &'a str,
    name: &'a str,
}

/// `sha256=<hex>` over `timestamp.body`: what receivers recompute.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

pub struct WebhookPoster {
    http: reqwest::Client,
    /// `notify.allow_private_webhooks`: internal addresses may be reached.
    allow_private: bool,
}

impl WebhookPoster {
    pub fn new(timeout: Duration, allow_private: bool) -> WebhookPoster {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(timeout.min(Duration::from_secs(15)))
            // A redirect could point the owner's webhook anywhere, this instance included.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("frontdesk/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(4);
        if !allow_private {
            // Connect only to addresses checked at send time; a proxy would resolve names itself.
            builder = builder.dns_resolver(std::sync::Arc::new(destination::PublicOnly)).no_proxy();
        }
        WebhookPoster { http: builder.build().unwrap_or_default(), allow_private }
    }

    pub async fn deliver(
        &self,
        claimed: &Claimed,
        ctx: &DeliveryContext,
        summary: &Summary,
    ) -> Result<Option<String>, DeliveryError> {
        let body = serde_json::to_vec(&Body {
            event: claimed.kind,
            idempotency_key: &claimed.idempotency_key,
            notification_id: &claimed.id,
            business: BusinessRef { id: &ctx.business.id, name: &ctx.business.name },
            lead: ctx.lead.as_ref(),
            lead_url: summary.lead_url.as_deref(),
            call_sid: summary.call_sid.as_deref(),
            transcript: &ctx.transcript,
        })
        .map_err(|e| DeliveryError::Permanent(format!("cannot encode the lead: {e}")))?;
        if ctx.webhook_secret.is_empty() {
            return Err(DeliveryError::Permanent("the business has no webhook secret".into()));
        }
        if !self.allow_private {
            if let Some(refused) = destination::literal_refused(&claimed.recipient) {
                return Err(DeliveryError::Permanent(refused));
            }
        }
        let timestamp = chrono::Utc::now().timestamp();
        let response = self
            .http
            .post(&claimed.recipient)
            .header("content-type", "application/json")
            .header("x-frontdesk-event", claimed.kind.as_str())
            .header("x-frontdesk-idempotency-key", &claimed.idempotency_key)
            .header("x-frontdesk-timestamp", timestamp.to_string())
            .header("x-frontdesk-signature", signature(&ctx.webhook_secret, timestamp, &body))
            .body(body)
            .send()
            .await
            .map_err(|e| match refused_by_resolver(&e) {
                Some(refused) => DeliveryError::Permanent(refused),
                None => DeliveryError::Transient(format!("webhook: {}", e.without_url())),
            })?;
        // Only the status matters; the body is never read.
        let status = response.status();
        drop(response);
        match status.as_u16() {
            200..=299 => Ok(Some(format!("HTTP {}", status.as_u16()))),
            408 | 429 => Err(DeliveryError::Transient(format!("webhook answered {status}"))),
            400..=499 => Err(DeliveryError::Permanent(format!("webhook answered {status}"))),
            _ => Err(DeliveryError::Transient(format!("webhook answered {status}"))),
        }
    }
}

/// The refusal `destination::PublicOnly` gave, if that is why sending failed.
fn refused_by_resolver(e: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(err) = source {
        let text = err.to_string();
        if text.starts_with("not sent: ") {
            return Some(text);
        }
        source = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Checked with: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac secret
        assert_eq!(
            signature("secret", 1_700_000_000, br#"{"a":1}"#),
            "sha256=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686"
        );
    }
}
