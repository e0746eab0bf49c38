//! The notifications outbox in Postgres: the rows `notify::outbox_rows`
//! selects, inserted in the event's transaction, and [`OutboxStore`]. Any
//! number of workers (processes) claim with `FOR UPDATE SKIP LOCKED` and a
//! lease, so each row is delivered once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::business::{read_prefs, write_prefs};
use super::rows::{lead, lead_rows, transcript_tail};
use super::{db_err, get, get_enum, get_opt_time, get_time, get_u32, in_tx, PgStore};
use crate::domain::{
    new_id, now, rfc3339, LocalEmail, Notification, NotificationPrefs, NotificationState, NotifyChannel,
    NotifyEvent, PlanTier,
};
use crate::ids::BusinessId;
use crate::notify::outbox_rows::{self, Targets};
use crate::notify::policy::{CapClass, NotifyPolicy};
use crate::store::outbox::{
    CallConnect, Claimed, DeliveryContext, DigestCandidate, Event, OutboxStore, Outcome, Usage,
};
use crate::store::{Result, StoreError};

/// Transcript lines an email carries at most.
const TRANSCRIPT_LINES: u32 = 200;
/// Leads a digest lists at most.
const DIGEST_LEADS: i64 = 200;

const NOTIFICATION_COLUMNS: &str =
    "id, business_id, lead_id, kind, channel, recipient, payload, state, attempts, created_at, updated_at, \
     next_attempt_at, last_error, sent_at, provider_id";

fn notification_row(r: &Row) -> Result<Notification> {
    Ok(Notification {
        id: get(r, 0)?,
        business_id: get(r, 1)?,
        lead_id: get(r, 2)?,
        kind: get(r, 3)?,
        channel: get(r, 4)?,
        recipient: get(r, 5)?,
        payload: get(r, 6)?,
        state: get(r, 7)?,
        attempts: get_u32(r, 8)?,
        created_at: get_time(r, 9)?,
        updated_at: get_time(r, 10)?,
        next_attempt_at: get_time(r, 11)?,
        last_error: get(r, 12)?,
        sent_at: get_opt_time(r, 13)?,
        provider_id: get(r, 14)?,
    })
}

fn local_email_row(r: &Row) -> Result<LocalEmail> {
    Ok(LocalEmail {
        notification_id: get(r, 0)?,
        business_id: get(r, 1)?,
        message_id: get(r, 2)?,
        recipient: get(r, 3)?,
        subject: get(r, 4)?,
        text_body: get(r, 5)?,
        html_body: get(r, 6)?,
        created_at: get_time(r, 7)?,
    })
}

async fn load_targets(c: &impl GenericClient, business_id: &str) -> Result<Targets> {
    let r = c
        .query_opt(
            "SELECT plan_tier, notification_email, notification_phone_number, notification_webhook_url
             FROM businesses WHERE id = $1",
            &[&business_id],
        )
        .await
        .map_err(db_err)?
        .ok_or_else(|| StoreError::NotFound(format!("business {business_id}")))?;
    Ok(Targets::new(get_enum(&r, 0, PlanTier::parse)?, get(&r, 1)?, get(&r, 2)?, get(&r, 3)?))
}

/// Inserts the rows `event` calls for ([`outbox_rows::select`]) in the
/// caller's transaction; a channel over its daily cap is left out and the
/// skip recorded. Returns the new rows' ids and channels.
pub(super) async fn enqueue(
    c: &impl GenericClient,
    policy: &NotifyPolicy,
    business_id: &str,
    event: &Event,
) -> Result<Vec<(String, NotifyChannel)>> {
    let targets = load_targets(c, business_id).await?;
    let prefs = read_prefs(c, business_id).await?;
    let selection = outbox_rows::select(policy, &targets, &prefs, business_id, event, chrono::Utc::now());
    let ts = now();
    if let Some(lead_id) = &selection.drop_pending_new_lead {
        c.execute(
            "DELETE FROM notifications WHERE lead_id = $1 AND business_id = $2 AND kind = 'new_lead'
                 AND state = 'pending'",
            &[lead_id, &business_id],
        )
        .await
        .map_err(db_err)?;
    }
    let mut ids = Vec::new();
    for row in selection.rows {
        if let Some(why) = over_cap(c, policy, business_id, row.channel, row.kind).await? {
            tracing::warn!(business_id, channel = %row.channel, kind = %row.kind, "{why}");
            let data = serde_json::json!({ "channel": row.channel, "kind": row.kind });
            super::rows::event(c, business_id, "notification_capped", None, &data, &ts).await?;
            continue;
        }
        let id = new_id();
        let inserted = c
            .execute(
                "INSERT INTO notifications (id, business_id, lead_id, kind, channel, recipient, payload,
                     idempotency_key, state, attempts, next_attempt_at, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, $10, $10)
                 ON CONFLICT (idempotency_key) DO NOTHING",
                &[
                    &id,
                    &business_id,
                    &row.lead_id,
                    &row.kind.as_str(),
                    &row.channel.as_str(),
                    &row.recipient,
                    &row.payload,
                    &row.idempotency_key,
                    &row.due_at,
                    &ts,
                ],
            )
            .await
            .map_err(db_err)?;
        if inserted == 1 {
            ids.push((id, row.channel));
        }
    }
    Ok(ids)
}

/// Rows of a business on `channel` since `since` drawing on `class`.
async fn count_sent(
    c: &impl GenericClient,
    business_id: &str,
    channel: NotifyChannel,
    class: CapClass,
    since: &str,
) -> Result<u64> {
    let kinds = crate::store::outbox::cap_kinds(class);
    let r = c
        .query_one(
            &format!(
                "SELECT COUNT(*) FROM notifications WHERE business_id = $1 AND channel = $2 AND created_at >= $3
                 AND {kinds}"
            ),
            &[&business_id, &channel.as_str(), &since],
        )
        .await
        .map_err(db_err)?;
    Ok(get::<i64>(&r, 0)? as u64)
}

fn day_ago() -> String {
    rfc3339(chrono::Utc::now() - chrono::Duration::hours(24))
}

async fn over_cap(
    c: &impl GenericClient,
    policy: &NotifyPolicy,
    business_id: &str,
    channel: NotifyChannel,
    kind: NotifyEvent,
) -> Result<Option<String>> {
    let since = day_ago();
    let mut counts = Vec::new();
    for (class, _) in policy.caps.limits(channel, CapClass::of(kind)) {
        counts.push((class, count_sent(c, business_id, channel, class, &since).await?));
    }
    outbox_rows::over_cap(policy, channel, kind, |class| {
        Ok(counts.iter().find(|(k, _)| *k == class).map_or(0, |(_, n)| *n))
    })
}

pub(super) async fn notifications(c: &impl GenericClient, business_id: &str) -> Result<Vec<Notification>> {
    c.query(
        &format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE business_id = $1 ORDER BY created_at, id"
        ),
        &[&business_id],
    )
    .await
    .map_err(db_err)?
    .iter()
    .map(notification_row)
    .collect()
}

fn at_offset(ms: u64) -> String {
    let at = chrono::Utc::now() + chrono::Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX / 2));
    rfc3339(at)
}

#[async_trait]
impl OutboxStore for PgStore {
    async fn notifications_page(
        &self,
        business_id: &BusinessId,
        state: Option<NotificationState>,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<Notification>> {
        let c = self.client().await?;
        c.query(
            &format!(
                "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE business_id = $1
                     AND ($2::text IS NULL OR state = $2)
                 ORDER BY created_at DESC, id LIMIT $3 OFFSET $4"
            ),
            &[&business_id, &state.map(|s| s.as_str()), &i64::from(limit.min(500)), &i64::from(offset)],
        )
        .await
        .map_err(db_err)?
        .iter()
        .map(notification_row)
        .collect()
    }

    async fn notification_counts(&self, business_id: &BusinessId) -> Result<Vec<(NotificationState, u64)>> {
        let c = self.client().await?;
        let counted = c
            .query(
                "SELECT state, COUNT(*) FROM notifications WHERE business_id = $1 GROUP BY state",
                &[&business_id],
            )
            .await
            .map_err(db_err)?
            .iter()
            .map(|r| Ok((get::<String>(r, 0)?, get::<i64>(r, 1)? as u64)))
            .collect::<Result<Vec<_>>>()?;
        Ok(NotificationState::ALL
            .iter()
            .map(|s| (*s, counted.iter().find(|(n, _)| n == s.as_str()).map_or(0, |(_, k)| *k)))
            .collect())
    }

    async fn retry_notification(&self, business_id: &BusinessId, notification_id: &str) -> Result<()> {
        in_tx!(self, |tx| {
            let state = tx
                .query_opt(
                    "SELECT state FROM notifications WHERE id = $1 AND business_id = $2 FOR UPDATE",
                    &[&notification_id, &business_id],
                )
                .await
                .map_err(db_err)?
                .map(|r| get::<String>(&r, 0))
                .transpose()?;
            match state.as_deref() {
                None => return Err(StoreError::NotFound(format!("notification {notification_id}"))),
                Some("dead") => {
                    tx.execute(
                        "UPDATE notifications SET state = 'pending', attempts = 0, next_attempt_at = $1,
                             updated_at = $1 WHERE id = $2 AND business_id = $3",
                        &[&now(), &notification_id, &business_id],
                    )
                    .await
                    .map_err(db_err)?;
                }
                Some(other) => {
                    return Err(StoreError::Conflict(format!(
                        "only a dead notification can be retried (this one is {other})"
                    )))
                }
            }
        })
    }

    async fn enqueue_test_notification(
        &self,
        business_id: &BusinessId,
        channel: NotifyChannel,
        policy: NotifyPolicy,
    ) -> Result<String> {
        in_tx!(self, |tx| {
            let targets = load_targets(&tx, business_id).await?;
            let why = match outbox_rows::test_refusal(&policy, &targets, channel) {
                Some(why) => Some(why),
                None => over_cap(&tx, &policy, business_id, channel, NotifyEvent::Test).await?,
            };
            if let Some(why) = why {
                return Err(StoreError::Invalid(why));
            }
            let event = Event::Test { channel, nonce: new_id() };
            enqueue(&tx, &policy, business_id, &event)
                .await?
                .into_iter()
                .next()
                .map(|(id, _)| id)
                .ok_or_else(|| StoreError::Invalid(format!("no {channel} notification could be enqueued")))?
        })
    }

    async fn notification_prefs(&self, business_id: &BusinessId) -> Result<NotificationPrefs> {
        let c = self.client().await?;
        super::business::load_business(&c, business_id).await?;
        read_prefs(&c, business_id).await
    }

    async fn set_notification_prefs(&self, business_id: &BusinessId, prefs: NotificationPrefs) -> Result<()> {
        in_tx!(self, |tx| {
            super::business::load_business(&tx, business_id).await?;
            write_prefs(&tx, business_id, &prefs).await?
        })
    }

    async fn webhook_secret(&self, business_id: &BusinessId) -> Result<String> {
        let c = self.client().await?;
        c.query_opt("SELECT webhook_secret FROM businesses WHERE id = $1", &[&business_id])
            .await
            .map_err(db_err)?
            .map(|r| get::<Option<String>>(&r, 0))
            .transpose()?
            .flatten()
            .ok_or_else(|| StoreError::NotFound(format!("business {business_id}")))
    }

    async fn local_emails(&self, business_id: &BusinessId, limit: u32) -> Result<Vec<LocalEmail>> {
        let c = self.client().await?;
        c.query(
            "SELECT notification_id, business_id, message_id, recipient, subject, text_body, html_body, created_at
             FROM local_emails WHERE business_id = $1 ORDER BY id DESC LIMIT $2",
            &[&business_id, &i64::from(limit.min(500))],
        )
        .await
        .map_err(db_err)?
        .iter()
        .map(local_email_row)
        .collect()
    }

    async fn notification_usage(&self, business_id: &BusinessId, since: DateTime<Utc>) -> Result<Vec<Usage>> {
        let (c, since) = (self.client().await?, rfc3339(since));
        let mut out = Vec::new();
        for &channel in &[NotifyChannel::Email, NotifyChannel::Sms, NotifyChannel::VoiceCall] {
            for class in [CapClass::Everyday, CapClass::Urgent, CapClass::Test] {
                let count = count_sent(&c, business_id, channel, class, &since).await?;
                out.push(Usage { channel, class, count });
            }
        }
        Ok(out)
    }

    /// Only rows whose lease ran out: with several instances, a row in
    /// flight may belong to a worker that is alive.
    async fn resume_in_flight(&self) -> Result<u64> {
        let c = self.client().await?;
        c.execute(
            "UPDATE notifications SET state = 'pending', lease_token = NULL, lease_until = NULL,
                 next_attempt_at = $1, updated_at = $1 WHERE state = 'in_flight' AND lease_until <= $1",
            &[&now()],
        )
        .await
        .map_err(db_err)
    }

    async fn claim_due(&self, channel: NotifyChannel, limit: u32, lease_ms: u64) -> Result<Vec<Claimed>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (ts, until, token) = (now(), at_offset(lease_ms), new_id());
        let c = self.client().await?;
        // One statement: rows another worker holds are skipped, never waited for.
        let rows = c
            .query(
                "UPDATE notifications SET state = 'in_flight', lease_token = $1, lease_until = $2,
                     attempts = attempts + 1, updated_at = $3
                 WHERE id IN (SELECT id FROM notifications WHERE channel = $4
                     AND ((state = 'pending' AND next_attempt_at <= $3)
                          OR (state = 'in_flight' AND lease_until <= $3))
                     ORDER BY next_attempt_at LIMIT $5 FOR UPDATE SKIP LOCKED)
                 RETURNING id, business_id, lead_id, kind, channel, recipient, payload, idempotency_key, attempts",
                &[&token, &until, &ts, &channel.as_str(), &i64::from(limit)],
            )
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(Claimed {
                    id: get(r, 0)?,
                    business_id: get(r, 1)?,
                    lead_id: get(r, 2)?,
                    kind: get_enum(r, 3, NotifyEvent::parse)?,
                    channel: get_enum(r, 4, NotifyChannel::parse)?,
                    recipient: get(r, 5)?,
                    payload: get(r, 6)?,
                    idempotency_key: get(r, 7)?,
                    attempts: get_u32(r, 8)?,
                    lease_token: token.clone(),
                })
            })
            .collect()
    }

    async fn delivery_context(&self, claimed: &Claimed) -> Result<DeliveryContext> {
        let c = self.client().await?;
        let business = super::business::load_business(&c, &claimed.business_id).await?;
        let lead = match &claimed.lead_id {
            Some(id) => match lead(&c, &claimed.business_id, id).await {
                Ok(l) => Some(l),
                Err(StoreError::NotFound(_)) => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        let transcript = match lead.as_ref().and_then(|l| l.conversation_id.as_deref()) {
            Some(conversation) => transcript_tail(&c, conversation, TRANSCRIPT_LINES).await?,
            None => Vec::new(),
        };
        let webhook_secret: Option<String> = get(
            &c.query_one("SELECT webhook_secret FROM businesses WHERE id = $1", &[&claimed.business_id])
                .await
                .map_err(db_err)?,
            0,
        )?;
        let digest_leads = if claimed.kind == NotifyEvent::Digest {
            let field = |k: &str| claimed.payload[k].as_str().unwrap_or_default().to_string();
            lead_rows(
                &c,
                "business_id = $1 AND created_at >= $2 AND created_at < $3
                 ORDER BY CASE priority WHEN 'URGENT' THEN 0 WHEN 'HIGH' THEN 1 ELSE 2 END, created_at LIMIT $4",
                &[&claimed.business_id, &field("since"), &field("until"), &DIGEST_LEADS],
            )
            .await?
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
    }

    async fn finish_delivery(&self, id: &str, lease_token: &str, outcome: Outcome) -> Result<bool> {
        let (state, next, error, provider) = match outcome {
            Outcome::Sent { provider_id } => ("sent", None, None, provider_id),
            Outcome::Kept { provider_id } => ("kept", None, None, provider_id),
            Outcome::Retry { error, at } => ("pending", Some(rfc3339(at)), Some(error), None),
            Outcome::Dead { error } => ("dead", None, Some(error), None),
        };
        let c = self.client().await?;
        let n = c
            .execute(
                "UPDATE notifications SET state = $1, next_attempt_at = COALESCE($2, next_attempt_at),
                     last_error = COALESCE($3, CASE WHEN $1 IN ('sent', 'kept') THEN NULL ELSE last_error END),
                     provider_id = COALESCE($4, provider_id),
                     sent_at = CASE WHEN $1 IN ('sent', 'kept') THEN $5 ELSE sent_at END,
                     lease_token = NULL, lease_until = NULL, updated_at = $5
                 WHERE id = $6 AND lease_token = $7 AND state = 'in_flight'",
                &[&state, &next, &error, &provider, &now(), &id, &lease_token],
            )
            .await
            .map_err(db_err)?;
        Ok(n == 1)
    }

    async fn save_local_email(&self, email: LocalEmail) -> Result<()> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO local_emails (business_id, notification_id, message_id, recipient, subject,
                 text_body, html_body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (notification_id) DO NOTHING",
            &[
                &email.business_id,
                &email.notification_id,
                &email.message_id,
                &email.recipient,
                &email.subject,
                &email.text_body,
                &email.html_body,
                &rfc3339(email.created_at),
            ],
        )
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn next_due_at(&self) -> Result<Option<DateTime<Utc>>> {
        let c = self.client().await?;
        let next: Option<String> = get(
            &c.query_one("SELECT MIN(next_attempt_at) FROM notifications WHERE state = 'pending'", &[])
                .await
                .map_err(db_err)?,
            0,
        )?;
        next.map(|t| crate::store::stored_time(&t)).transpose()
    }

    async fn digest_candidates(&self) -> Result<Vec<DigestCandidate>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT b.id, b.timezone, p.prefs FROM businesses b
                     LEFT JOIN notification_prefs p ON p.business_id = b.id
                 WHERE COALESCE(trim(b.notification_email), '') <> ''",
                &[],
            )
            .await
            .map_err(db_err)?;
        let mut out = Vec::new();
        for r in &rows {
            let prefs: Option<serde_json::Value> = get(r, 2)?;
            let prefs = match prefs {
                Some(v) => match serde_json::from_value(v) {
                    Ok(p) => p,
                    Err(_) => continue,
                },
                None => NotificationPrefs::default(),
            };
            out.push(DigestCandidate { business_id: get(r, 0)?, timezone: get(r, 1)?, prefs });
        }
        Ok(out)
    }

    async fn enqueue_digest(
        &self,
        business_id: &BusinessId,
        event: Event,
        policy: NotifyPolicy,
    ) -> Result<bool> {
        let Event::Digest { since, until, .. } = &event else {
            return Err(StoreError::Invalid("not a digest".into()));
        };
        let (since, until) = (crate::domain::rfc3339(*since), crate::domain::rfc3339(*until));
        in_tx!(self, |tx| {
            let key = format!("{}:{}", event.key(business_id), NotifyChannel::Email.as_str());
            let done = tx
                .query_opt("SELECT 1 FROM notifications WHERE idempotency_key = $1", &[&key])
                .await
                .map_err(db_err)?
                .is_some();
            if done {
                false
            } else {
                let leads: i64 = get(
                    &tx.query_one(
                        "SELECT COUNT(*) FROM leads WHERE business_id = $1 AND created_at >= $2 AND created_at < $3",
                        &[&business_id, &since, &until],
                    )
                    .await
                    .map_err(db_err)?,
                    0,
                )?;
                leads > 0 && !enqueue(&tx, &policy, business_id, &event).await?.is_empty()
            }
        })
    }

    async fn call_connect(&self, notification_id: &str) -> Result<CallConnect> {
        let c = self.client().await?;
        let r = c
            .query_opt(
                "SELECT n.business_id, l.contact_phone, b.twilio_phone_number FROM notifications n
                     JOIN businesses b ON b.id = n.business_id
                     LEFT JOIN leads l ON l.id = n.lead_id AND l.business_id = n.business_id
                 WHERE n.id = $1 AND n.channel = 'voice_call'",
                &[&notification_id],
            )
            .await
            .map_err(db_err)?
            .ok_or_else(|| StoreError::NotFound(format!("notification {notification_id}")))?;
        Ok(CallConnect { business_id: get(&r, 0)?, caller_phone: get(&r, 1)?, business_number: get(&r, 2)? })
    }
}
