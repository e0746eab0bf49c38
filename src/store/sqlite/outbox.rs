//! The notifications outbox in SQLite: writing rows with the events that
//! cause them ([`enqueue`]), and the queries behind [`OutboxStore`].

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use super::{db_err, enum_col, json_col, query_all, to_json};
use crate::domain::{
    new_id, now, LocalEmail, Notification, NotificationPrefs, NotifyChannel, NotifyEvent, PlanTier,
};
use crate::notify::policy::{CapClass, NotifyPolicy};
use crate::store::outbox::{Claimed, Event};
use crate::store::{Result, StoreError};

pub(super) const NOTIFICATION_COLUMNS: &str =
    "id, business_id, lead_id, kind, channel, recipient, payload, state, attempts, created_at, updated_at, \
     next_attempt_at, last_error, sent_at, provider_id";

pub(super) fn notification_row(r: &Row<'_>) -> rusqlite::Result<Notification> {
    Ok(Notification {
        id: r.get(0)?,
        business_id: r.get(1)?,
        lead_id: r.get(2)?,
        kind: r.get(3)?,
        channel: r.get(4)?,
        recipient: r.get(5)?,
        payload: json_col(r, 6)?,
        state: r.get(7)?,
        attempts: r.get(8)?,
        created_at: r.get(9)?,
        updated_at: r.get(10)?,
        next_attempt_at: r.get(11)?,
        last_error: r.get(12)?,
        sent_at: r.get(13)?,
        provider_id: r.get(14)?,
    })
}

pub(super) fn claimed_row(r: &Row<'_>, lease_token: &str) -> rusqlite::Result<Claimed> {
    Ok(Claimed {
        id: r.get(0)?,
        business_id: r.get(1)?,
        lead_id: r.get(2)?,
        kind: enum_col(r, 3, NotifyEvent::parse)?,
        channel: enum_col(r, 4, NotifyChannel::parse)?,
        recipient: r.get(5)?,
        payload: json_col(r, 6)?,
        idempotency_key: r.get(7)?,
        attempts: r.get(8)?,
        lease_token: lease_token.to_string(),
    })
}

/// The owner's preferences; the defaults when none were saved.
pub(crate) fn read_prefs(conn: &Connection, business_id: &str) -> Result<NotificationPrefs> {
    let json: Option<String> = conn
        .query_row("SELECT prefs FROM notification_prefs WHERE business_id = ?1", [business_id], |r| r.get(0))
        .optional()
        .map_err(db_err)?;
    match json {
        // Stored by this code; unreadable means a newer or damaged row: say so, keep the row.
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| StoreError::Invalid(format!("stored notification preferences are unreadable: {e}"))),
        None => Ok(NotificationPrefs::default()),
    }
}

pub(crate) fn write_prefs(tx: &Transaction<'_>, business_id: &str, prefs: &NotificationPrefs) -> Result<()> {
    if prefs.digest_hour.is_some_and(|h| h > 23) {
        return Err(StoreError::Invalid("digest_hour: expected an hour from 0 to 23".into()));
    }
    tx.execute(
        "INSERT INTO notification_prefs (business_id, prefs, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (business_id) DO UPDATE SET prefs = excluded.prefs, updated_at = excluded.updated_at",
        params![business_id, to_json(prefs)?, now()],
    )
    .map_err(db_err)?;
    Ok(())
}

/// Where a business can be reached, and on which plan.
struct Targets {
    plan: PlanTier,
    email: Option<String>,
    phone: Option<String>,
    webhook: Option<String>,
}

impl Targets {
    fn load(conn: &Connection, business_id: &str) -> Result<Targets> {
        let set = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        conn.query_row(
            "SELECT plan_tier, notification_email, notification_phone_number, notification_webhook_url
             FROM businesses WHERE id = ?1",
            [business_id],
            |r| {
                Ok(Targets {
                    plan: enum_col(r, 0, PlanTier::parse)?,
                    email: set(r.get(1)?),
                    phone: set(r.get(2)?),
                    webhook: set(r.get(3)?),
                })
            },
        )
        .optional()
        .map_err(db_err)?
        .ok_or_else(|| StoreError::NotFound(format!("business {business_id}")))
    }

    fn recipient(&self, channel: NotifyChannel) -> Option<&str> {
        match channel {
            NotifyChannel::Email => self.email.as_deref(),
            NotifyChannel::Sms | NotifyChannel::VoiceCall => self.phone.as_deref(),
            NotifyChannel::Webhook => self.webhook.as_deref(),
        }
    }
}

/// Writes the outbox rows `event` calls for, in the caller's transaction, so
/// the notification exists exactly when the event does.
///
/// Which channels: the business's plan ([`NotifyPolicy::channels`]), the
/// owner's preferences (except URGENT, which takes every channel the plan
/// allows), and whether the business has an address for the channel (email,
/// phone, webhook URL). One row per channel, keyed `<event key>:<channel>`:
/// enqueueing the same event again writes nothing. An URGENT lead replaces
/// the lead's new-lead rows that have not been sent yet. New leads are due
/// after `policy.new_lead_delay`, the rest at once. A channel whose daily
/// cap ([`NotifyPolicy::caps`]) is reached is left out, and the skip
/// recorded as a `notification_capped` analytics event. Returns the new
/// rows' ids and channels.
pub(crate) fn enqueue(
    tx: &Transaction<'_>,
    policy: &NotifyPolicy,
    business_id: &str,
    event: &Event,
) -> Result<Vec<(String, NotifyChannel)>> {
    let targets = Targets::load(tx, business_id)?;
    let prefs = read_prefs(tx, business_id)?;
    let test_channel = match event {
        Event::Test { channel, .. } => Some(*channel),
        _ => None,
    };
    let channels = policy.channels(targets.plan, &prefs, event.kind(), test_channel);
    let ts = now();
    let later = |wait: std::time::Duration| {
        let at = chrono::Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::zero());
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let due = match event {
        Event::NewLead { .. } if !policy.new_lead_delay.is_zero() => later(policy.new_lead_delay),
        Event::UrgentUpdate { complete: false, .. } => later(policy.urgent_hold),
        _ => ts.clone(),
    };
    if let Event::UrgentLead { lead_id, .. } = event {
        tx.execute(
            "DELETE FROM notifications WHERE lead_id = ?1 AND business_id = ?2 AND kind = 'new_lead'
                 AND state = 'pending'",
            params![lead_id, business_id],
        )
        .map_err(db_err)?;
    }
    let payload = to_json(&event.payload())?;
    let key = event.key(business_id);
    let mut ids = Vec::new();
    for channel in channels {
        let Some(recipient) = targets.recipient(channel) else { continue };
        if let Some(why) = over_cap(tx, policy, business_id, channel, event.kind())? {
            tracing::warn!(business_id, channel = %channel, kind = %event.kind(), "{why}");
            tx.execute(
                "INSERT INTO analytics_events (business_id, kind, channel, data, created_at)
                 VALUES (?1, 'notification_capped', NULL, ?2, ?3)",
                params![
                    business_id,
                    to_json(&serde_json::json!({ "channel": channel, "kind": event.kind() }))?,
                    ts
                ],
            )
            .map_err(db_err)?;
            continue;
        }
        let id = new_id();
        let inserted = tx
            .execute(
                "INSERT OR IGNORE INTO notifications (id, business_id, lead_id, kind, channel, recipient, payload,
                     idempotency_key, state, attempts, next_attempt_at, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', 0, ?9, ?10, ?10)",
                params![
                    id,
                    business_id,
                    event.lead_id(),
                    event.kind().as_str(),
                    channel.as_str(),
                    recipient,
                    payload,
                    format!("{key}:{}", channel.as_str()),
                    due,
                    ts
                ],
            )
            .map_err(db_err)?;
        if inserted == 1 {
            ids.push((id, channel));
        }
    }
    Ok(ids)
}

/// Rows of a business on `channel` since `since` drawing on `class`.
pub(super) fn count_sent(
    conn: &Connection,
    business_id: &str,
    channel: NotifyChannel,
    class: CapClass,
    since: &str,
) -> Result<u64> {
    let kinds = match class {
        CapClass::Urgent => "kind IN ('urgent_lead', 'urgent_update')",
        CapClass::Test => "kind = 'test'",
        CapClass::Everyday => "kind NOT IN ('urgent_lead', 'urgent_update')",
    };
    conn.query_row(
        &format!(
            "SELECT COUNT(*) FROM notifications WHERE business_id = ?1 AND channel = ?2 AND created_at >= ?3 AND {kinds}"
        ),
        params![business_id, channel.as_str(), since],
        |r| r.get(0),
    )
    .map_err(db_err)
}

/// 24 hours ago, as the caps count.
pub(super) fn day_ago() -> String {
    (chrono::Utc::now() - chrono::Duration::hours(24)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Why one more `kind` message on `channel` would pass a daily cap, in the
/// owner's words; None while it is within every cap.
pub(super) fn over_cap(
    conn: &Connection,
    policy: &NotifyPolicy,
    business_id: &str,
    channel: NotifyChannel,
    kind: crate::domain::NotifyEvent,
) -> Result<Option<String>> {
    let since = day_ago();
    for (class, limit) in policy.caps.limits(channel, CapClass::of(kind)) {
        if count_sent(conn, business_id, channel, class, &since)? >= u64::from(limit) {
            let what = match class {
                CapClass::Urgent => "emergency alerts",
                CapClass::Test => "tests",
                CapClass::Everyday => "messages",
            };
            return Ok(Some(format!(
                "the daily limit of {limit} {what} by {} for this business is reached; it resets over the next 24 hours",
                channel_words(channel)
            )));
        }
    }
    Ok(None)
}

fn channel_words(channel: NotifyChannel) -> &'static str {
    match channel {
        NotifyChannel::Email => "email",
        NotifyChannel::Sms => "text message",
        NotifyChannel::VoiceCall => "phone call",
        NotifyChannel::Webhook => "webhook",
    }
}

/// Why a test on `channel` cannot be sent, in the owner's words.
pub(super) fn test_refusal(
    conn: &Connection,
    policy: &NotifyPolicy,
    business_id: &str,
    channel: NotifyChannel,
) -> Result<Option<String>> {
    let targets = Targets::load(conn, business_id)?;
    if !policy.allows(targets.plan, channel, NotifyEvent::Test) {
        return Ok(Some(match channel {
            NotifyChannel::VoiceCall if !policy.voice_calls => {
                "emergency phone calls are switched off on this server (ENABLE_EMERGENCY_VOICE_CALLS)".into()
            }
            _ => format!("{}s are not included in the {} plan", channel_words(channel), targets.plan),
        }));
    }
    if targets.recipient(channel).is_none() {
        let field = match channel {
            NotifyChannel::Email => "an alert email",
            NotifyChannel::Sms | NotifyChannel::VoiceCall => "a mobile number",
            NotifyChannel::Webhook => "a webhook URL",
        };
        return Ok(Some(format!("add {field} on the Notifications page first")));
    }
    if matches!(channel, NotifyChannel::Sms | NotifyChannel::VoiceCall) && !policy.twilio_live {
        return Ok(policy.missing_setup(channel).map(str::to_string));
    }
    over_cap(conn, policy, business_id, channel, NotifyEvent::Test)
}

pub(super) fn notifications(conn: &Connection, business_id: &str) -> Result<Vec<Notification>> {
    query_all(
        conn,
        &format!(
            "SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE business_id = ?1 ORDER BY created_at, id"
        ),
        [business_id],
        notification_row,
    )
}

pub(super) fn local_email_row(r: &Row<'_>) -> rusqlite::Result<LocalEmail> {
    Ok(LocalEmail {
        notification_id: r.get(0)?,
        business_id: r.get(1)?,
        message_id: r.get(2)?,
        recipient: r.get(3)?,
        subject: r.get(4)?,
        text_body: r.get(5)?,
        html_body: r.get(6)?,
        created_at: r.get(7)?,
    })
}
