//! Email: lettre over SMTP (pooled connections, STARTTLS or implicit TLS),
//! or, with no SMTP host configured, the local outbox the UI shows.

use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::Message;
use sha2::{Digest, Sha256};

use super::render;
use super::smtp_pool::SmtpPool;
use super::{Delivered, DeliveryError};
use crate::config::Config;
use crate::domain::LocalEmail;
use crate::plans::{Feature, Plans};
use crate::store::outbox::{Claimed, DeliveryContext};
use crate::store::Store;

enum Transport {
    Smtp(SmtpPool),
    /// No SMTP host: keep emails in the database.
    Local,
}

pub struct EmailSender {
    transport: Transport,
    from: Mailbox,
    /// The right-hand side of Message-IDs.
    domain: String,
    public_url: String,
    /// Whose URGENT emails are marked high priority (BASIC and up).
    plans: Plans,
}

/// The sender address: `smtp.from`, else frontdesk@<public host>. A derived
/// address that does not parse is never fatal: frontdesk@localhost is used
/// (and `config check` says so).
fn sender(config: &Config) -> Result<Mailbox, String> {
    if !config.smtp.from.is_empty() {
        return config.smtp.from.parse().map_err(|e| format!("smtp.from: {e}"));
    }
    config.default_sender().or_else(|e| {
        tracing::warn!(error = %e, "no smtp.from and the derived sender is not an address; using frontdesk@localhost");
        "frontdesk <frontdesk@localhost>".parse().map_err(|e| format!("frontdesk@localhost: {e}"))
    })
}

impl EmailSender {
    pub fn new(config: &Config, plans: Plans) -> Result<EmailSender, String> {
        let from = sender(config)?;
        let domain = from.email.domain().to_string();
        let transport = if config.smtp.host.is_empty() {
            Transport::Local
        } else {
            let timeout = Duration::from_millis(config.notify.delivery_timeout_ms);
            Transport::Smtp(SmtpPool::new(&config.smtp, timeout, config.notify.email_concurrency as usize))
        };
        Ok(EmailSender { transport, from, domain, public_url: config.public_url(), plans })
    }

    /// The Message-ID of a notification: the same on every retry, so a
    /// receiving system can drop a second copy after a crash.
    pub fn message_id(&self, idempotency_key: &str) -> String {
        let digest = Sha256::digest(idempotency_key.as_bytes());
        let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        format!("<{hex}.notify@{}>", self.domain)
    }

    pub async fn deliver(
        &self,
        store: &dyn Store,
        claimed: &Claimed,
        ctx: &DeliveryContext,
    ) -> Result<Delivered, DeliveryError> {
        let mut rendered = render::email(claimed, ctx, &self.public_url)
            .map_err(|e| DeliveryError::Permanent(format!("cannot render the email: {e}")))?;
        // Every plan's URGENT email is sent at once; only priority email marks it.
        rendered.urgent &= self.plans.allows(ctx.business.plan_tier, Feature::PriorityEmail);
        let message_id = self.message_id(&claimed.idempotency_key);
        match &self.transport {
            Transport::Local => {
                let email = LocalEmail {
                    notification_id: claimed.id.clone(),
                    business_id: claimed.business_id.clone(),
                    message_id: message_id.clone(),
                    recipient: claimed.recipient.clone(),
                    subject: rendered.subject,
                    text_body: rendered.text,
                    html_body: rendered.html,
                    created_at: chrono::Utc::now(),
                };
                store.save_local_email(email).await.map_err(|e| DeliveryError::Transient(e.to_string()))?;
                Ok(Delivered::Kept(Some(message_id)))
            }
            Transport::Smtp(smtp) => {
                let message = self.message(claimed, &message_id, rendered)?;
                smtp.send(&message).await?;
                Ok(Delivered::Sent(Some(message_id)))
            }
        }
    }

    fn message(
        &self,
        claimed: &Claimed,
        message_id: &str,
        rendered: render::Email,
    ) -> Result<Message, DeliveryError> {
        let to: Mailbox = claimed
            .recipient
            .parse()
            .map_err(|e| DeliveryError::Permanent(format!("not an email address ({e})")))?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject)
            .message_id(Some(message_id.to_string()));
        if rendered.urgent {
            // Priority email (BASIC and up): mail clients flag these; harmless where they don't.
            builder = builder
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("X-Priority"),
                    "1 (Highest)".into(),
                ))
                .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Importance"), "high".into()));
        }
        builder
            .multipart(MultiPart::alternative_plain_html(rendered.text, rendered.html))
            .map_err(|e| DeliveryError::Permanent(format!("cannot build the email: {e}")))
    }
}
