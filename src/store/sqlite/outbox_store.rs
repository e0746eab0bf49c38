//! [`OutboxStore`] for SQLite: the owner's view of the outbox and the
//! delivery worker's claims.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::conversation::{lead, lead_rows, transcript_tail};
use super::outbox::{
    claimed_row, enqueue, local_email_row, notification_row, read_prefs, test_refusal, write_prefs,
};
use super::{db_err, query_all, SqliteStore};
use crate::domain::{
    new_id, now, rfc3339, LocalEmail, Notification, NotificationPrefs, NotificationState, NotifyChannel,
    NotifyEvent,
};
use crate::ids::BusinessId;
use crate::notify::policy::{CapClass, NotifyPolicy};
use crate::store::outbox::{
    CallConnect, Claimed, DeliveryContext, DigestCandidate, Event, OutboxStore, Outcome, Usage,
};
use crate::store::{stored_time, Result, StoreError};

/// Transcript lines an email carries at most.
const TRANSCRIPT_LINES: u32 = 200;
/// Leads a digest lists at most.
const DIGEST_LEADS: u32 = 200;

fn at_offset(ms: u64) -> String {
    let at = chrono::Utc::now() + chrono::Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX / 2));
    rfc3339(at)
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn notifications_page(
        &self,
        business_id: &BusinessId,
        state: Option<NotificationState>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<Notification>> {
        let id = business_id.to_string();
        let state = state.map(|s| s.as_str());
        self.read(move |c| {
            query_all(
                c,
                &format!(
                    "SELECT {} FROM notifications WHERE business_id = ?1 AND (?2 IS NULL OR state = ?2)
                     ORDER BY created_at DESC, id LIMIT ?3 OFFSET ?4",
                    super::outbox::NOTIFICATION_COLUMNS
                ),
                params![id, state, limit.min(500), offset],
                notification_row,
            )
        })
        .await
    }

    async fn notification_counts(&self, business_id: &BusinessId) -> Result<Vec<(NotificationState, u64)>> {
        let id = business_id.to_string();
        self.read(move |c| {
            let counted: Vec<(String, u64)> = query_all(
                c,
                "SELECT state, COUNT(*) FROM notifications WHERE business_id = ?1 GROUP BY state",
                [&id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok(NotificationState::ALL
                .iter()
                .map(|s| (*s, counted.iter().find(|(n, _)| n == s.as_str()).map_or(0, |(_, k)| *k)))
                .collect())
        })
        .await
    }

    async fn retry_notification(&self, business_id: &BusinessId, notification_id: &str) -> Result<()> {
        let (b, n) = (business_id.to_string(), notification_id.to_string());
        self.write(move |tx| {
            let state: Option<String> = tx
                .query_row(
                    "SELECT state FROM notifications WHERE id = ?1 AND business_id = ?2",
                    [&n, &b],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_err)?;
            match state.as_deref() {
                None => Err(StoreError::NotFound(format!("notification {n}"))),
                Some("dead") => {
                    let ts = now();
                    tx.execute(
                        "UPDATE notifications SET state = 'pending', attempts = 0, next_attempt_at = ?1,
                             updated_at = ?1 WHERE id = ?2 AND business_id = ?3",
                        params![ts, n, b],
                    )
                    .map_err(db_err)?;
                    Ok(())
                }
                Some(other) => Err(StoreError::Conflict(format!(
                    "only a dead notification can be retried (this one is {other})"
                ))),
            }
        })
        .await
    }

    async fn enqueue_test_notification(
        &self,
        business_id: &BusinessId,
        channel: NotifyChannel,
        policy: NotifyPolicy,
    ) -> Result<String> {
        let b = business_id.to_string();
        self.write(move |tx| {
            if let Some(why) = test_refusal(tx, &policy, &b, channel)? {
                return Err(StoreError::Invalid(why));
            }
            let event = Event::Test { channel, nonce: new_id() };
            enqueue(tx, &policy, &b, &event)?
                .into_iter()
                .next()
                .map(|(id, _)| id)
                .ok_or_else(|| StoreError::Invalid(format!("no {channel} notification could be enqueued")))
        })
        .await
    }

    async fn notification_prefs(&self, business_id: &BusinessId) -> Result<NotificationPrefs> {
        let b = business_id.to_string();
        self.read(move |c| {
            super::business::load_business(c, &b)?;
            read_prefs(c, &b)
        })
        .await
    }

    async fn set_notification_prefs(&self, business_id: &BusinessId, prefs: NotificationPrefs) -> Result<()> {
        let b = business_id.to_string();
        self.write(move |tx| {
            super::business::load_business(tx, &b)?;
            write_prefs(tx, &b, &prefs)
        })
        .await
    }

    async fn webhook_secret(&self, business_id: &BusinessId) -> Result<String> {
        let b = business_id.to_string();
        self.read(move |c| {
            c.query_row("SELECT webhook_secret FROM businesses WHERE id = ?1", [&b], |r| {
                r.get::<_, Option<String>>(0)
            })
            .optional()
            .map_err(db_err)?
            .flatten()
            .ok_or_else(|| StoreError::NotFound(format!("business {b}")))
        })
        .await
    }

    async fn local_emails(&self, business_id: &BusinessId, limit: u32) -> Result<Vec<LocalEmail>> {
        let b = business_id.to_string();
        self.read(move |c| {
            query_all(
                c,
                "SELECT notification_id, business_id, message_id, recipient, subject, text_body, html_body, created_at
                 FROM local_emails WHERE business_id = ?1 ORDER BY id DESC LIMIT ?2",
                params![b, limit.min(500)],
                local_email_row,
            )
        })
        .await
    }

    async fn notification_usage(&self, business_id: &BusinessId, since: DateTime<Utc>) -> Result<Vec<Usage>> {
        let (b, since) = (business_id.to_string(), rfc3339(since));
        self.read(move |c| {
            let mut out = Vec::new();
            for &channel in &[NotifyChannel::Email, NotifyChannel::Sms, NotifyChannel::VoiceCall] {
                for class in [CapClass::Everyday, CapClass::Urgent, CapClass::Test] {
                    let count = super::outbox::count_sent(c, &b, channel, class, &since)?;
                    out.push(Usage { channel, class, count });
                }
            }
            Ok(out)
        })
        .await
    }

    async fn resume_in_flight(&self) -> Result<u64> {
        self.write(|tx| {
            let ts = now();
            let n = tx
                .execute(
                    "UPDATE notifications SET state = 'pending', lease_token = NULL, lease_until = NULL,
                         next_attempt_at = ?1, updated_at = ?1 WHERE state = 'in_flight'",
                    [&ts],
                )
                .map_err(db_err)?;
            Ok(n as u64)
        })
        .await
    }

    async fn claim_due(&self, channel: NotifyChannel, limit: u32, lease_ms: u64) -> Result<Vec<Claimed>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // The worker asks every second on every channel: look on a reader first,
        // so an idle outbox never takes the write lock.
        let due: bool = self
            .read(move |c| {
                c.query_row(
                    "SELECT EXISTS (SELECT 1 FROM notifications WHERE channel = ?1
                         AND ((state = 'pending' AND next_attempt_at <= ?2)
                              OR (state = 'in_flight' AND lease_until <= ?2)))",
                    params![channel.as_str(), now()],
                    |r| r.get(0),
                )
                .map_err(db_err)
            })
            .await?;
        if !due {
            return Ok(Vec::new());
        }
        self.write(move |tx| {
            let (ts, until, token) = (now(), at_offset(lease_ms), new_id());
            let mut stmt = tx
                .prepare_cached(
                    "UPDATE notifications SET state = 'in_flight', lease_token = ?1, lease_until = ?2,
                         attempts = attempts + 1, updated_at = ?3
                     WHERE id IN (SELECT id FROM notifications WHERE channel = ?4
                         AND ((state = 'pending' AND next_attempt_at <= ?3)
                              OR (state = 'in_flight' AND lease_until <= ?3))
                         ORDER BY next_attempt_at LIMIT ?5)
                     RETURNING id, business_id, lead_id, kind, channel, recipient, payload, idempotency_key, attempts",
                )
                .map_err(db_err)?;
            let rows = stmt
                .query_map(params![token, until, ts, channel.as_str(), limit], |r| claimed_row(r, &token))
                .map_err(db_err)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(db_err)?;
            Ok(rows)
        })
        .await
    }

    async fn delivery_context(&self, claimed: &Claimed) -> Result<DeliveryContext> {
        let claimed = claimed.clone();
        self.read(move |c| {
            let business = super::business::load_business(c, &claimed.business_id)?;
            let lead = match &claimed.lead_id {
                Some(id) => match lead(c, &claimed.business_id, id) {
                    Ok(l) => Some(l),
                    Err(StoreError::NotFound(_)) => None,
                    Err(e) => return Err(e),
                },
                None => None,
            };
            let transcript = match lead.as_ref().and_then(|l| l.conversation_id.as_deref()) {
                Some(conversation) => transcript_tail(c, conversation, TRANSCRIPT_LINES)?,
                None => Vec::new(),
            };
            let webhook_secret: Option<String> = c
                .query_row("SELECT webhook_secret FROM businesses WHERE id = ?1", [&claimed.business_id], |r| {
                    r.get(0)
                })
                .map_err(db_err)?;
            let digest_leads = if claimed.kind == NotifyEvent::Digest {
                let field = |k: &str| claimed.payload[k].as_str().unwrap_or_default().to_string();
                lead_rows(
                    c,
                    "business_id = ?1 AND created_at >= ?2 AND created_at < ?3
                     ORDER BY CASE priority WHEN 'URGENT' THEN 0 WHEN 'HIGH' THEN 1 ELSE 2 END, created_at LIMIT ?4",
                    params![claimed.business_id, field("since"), field("until"), DIGEST_LEADS],
                )?
            } else {
                Vec::new()
            };
            Ok(DeliveryContext {
                business,
                lead,
                transcript,
                webhook_secret: webhook_secret.unwrap_or_default(),
                digest_leads,
            })
        })
        .await
    }

    async fn finish_delivery(&self, id: &str, lease_token: &str, outcome: Outcome) -> Result<bool> {
        let (id, token) = (id.to_string(), lease_token.to_string());
        self.write(move |tx| {
            let ts = now();
            let (state, next, error, provider) = match outcome {
                Outcome::Sent { provider_id } => ("sent", None, None, provider_id),
                Outcome::Kept { provider_id } => ("kept", None, None, provider_id),
                Outcome::Retry { error, at } => ("pending", Some(rfc3339(at)), Some(error), None),
                Outcome::Dead { error } => ("dead", None, Some(error), None),
            };
            let n = tx
                .execute(
                    "UPDATE notifications SET state = ?1, next_attempt_at = COALESCE(?2, next_attempt_at),
                         last_error = COALESCE(?3, CASE WHEN ?1 IN ('sent', 'kept') THEN NULL ELSE last_error END),
                         provider_id = COALESCE(?4, provider_id),
                         sent_at = CASE WHEN ?1 IN ('sent', 'kept') THEN ?5 ELSE sent_at END,
                         lease_token = NULL, lease_until = NULL, updated_at = ?5
                     WHERE id = ?6 AND lease_token = ?7 AND state = 'in_flight'",
                    params![state, next, error, provider, ts, id, token],
                )
                .map_err(db_err)?;
            Ok(n == 1)
        })
        .await
    }

    async fn save_local_email(&self, email: LocalEmail) -> Result<()> {
        self.write(move |tx| {
            tx.execute(
                "INSERT OR IGNORE INTO local_emails (business_id, notification_id, message_id, recipient, subject,
                     text_body, html_body, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    email.business_id,
                    email.notification_id,
                    email.message_id,
                    email.recipient,
                    email.subject,
                    email.text_body,
                    email.html_body,
                    rfc3339(email.created_at)
                ],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>> {
        let next: Option<String> = self
            .read(|c| {
                c.query_row(
                    "SELECT MIN(next_attempt_at) FROM notifications WHERE state = 'pending'",
                    [],
                    |r| r.get(0),
                )
                .map_err(db_err)
            })
            .await?;
        next.map(|t| stored_time(&t)).transpose()
    }

    async fn digest_candidates(&self) -> Result<Vec<DigestCandidate>> {
        self.read(|c| {
            let rows: Vec<(String, String, Option<String>)> = query_all(
                c,
                "SELECT b.id, b.timezone, p.prefs FROM businesses b
                     LEFT JOIN notification_prefs p ON p.business_id = b.id
                 WHERE COALESCE(trim(b.notification_email), '') <> ''",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            Ok(rows
                .into_iter()
                .filter_map(|(business_id, timezone, prefs)| {
                    let prefs = match prefs {
                        Some(json) => serde_json::from_str(&json).ok()?,
                        None => NotificationPrefs::default(),
                    };
                    Some(DigestCandidate { business_id: BusinessId::from(business_id), timezone, prefs })
                })
                .collect())
        })
        .await
    }

    async fn enqueue_digest(
        &self,
        business_id: &BusinessId,
        event: Event,
        policy: NotifyPolicy,
    ) -> Result<bool> {
        let b = business_id.to_string();
        self.write(move |tx| {
            let Event::Digest { since, until, .. } = &event else {
                return Err(StoreError::Invalid("not a digest".into()));
            };
            let (since, until) = (rfc3339(*since), rfc3339(*until));
            let key = format!("{}:{}", event.key(&b), NotifyChannel::Email.as_str());
            let done: bool = tx
                .query_row("SELECT EXISTS (SELECT 1 FROM notifications WHERE idempotency_key = ?1)", [&key], |r| {
                    r.get(0)
                })
                .map_err(db_err)?;
            if done {
                return Ok(false);
            }
            let leads: u64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM leads WHERE business_id = ?1 AND created_at >= ?2 AND created_at < ?3",
                    params![b, since, until],
                    |r| r.get(0),
                )
                .map_err(db_err)?;
            Ok(leads > 0 && !enqueue(tx, &policy, &b, &event)?.is_empty())
        })
        .await
    }

    async fn call_connect(&self, notification_id: &str) -> Result<CallConnect> {
        let n = notification_id.to_string();
        self.read(move |c| {
            c.query_row(
                "SELECT n.business_id, l.contact_phone, b.twilio_phone_number FROM notifications n
                     JOIN businesses b ON b.id = n.business_id
                     LEFT JOIN leads l ON l.id = n.lead_id AND l.business_id = n.business_id
                 WHERE n.id = ?1 AND n.channel = 'voice_call'",
                [&n],
                |r| {
                    Ok(CallConnect {
                        business_id: r.get(0)?,
                        caller_phone: r.get(1)?,
                        business_number: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(db_err)?
            .ok_or_else(|| StoreError::NotFound(format!("notification {n}")))
        })
        .await
    }
}
