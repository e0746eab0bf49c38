//! The notifications outbox in SQLite: writing rows with the events that
//! cause them ([`enqueue`]), and the queries behind [`OutboxStore`].

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use super::{db_err, enum_col, json_col, opt_time_col, query_all, time_col, to_json};
use crate::domain::{
    new_id, now, LocalEmail, Notification, NotificationPrefs, NotifyChannel, NotifyEvent, PlanTier,
};
use crate::notify::outbox_rows::{self, Targets};
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
        created_at: time_col(r, 9)?,
        updated_at: time_col(r, 10)?,
        next_attempt_at: time_col(r, 11)?,
        last_error: r.get(12)?,
        sent_at: opt_time_col(r, 13)?,
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
fn load_targets(conn: &Connection, business_id: &str) -> Result<Targets> {
    conn.query_row(
        "SELECT plan_tier, notification_email, notification_phone_number, notification_webhook_url
         FROM businesses WHERE id = ?1",
        [business_id],
        |r| Ok(Targets::new(enum_col(r, 0, PlanTier::parse)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .optional()
    .map_err(db_err)?
    .ok_or_else(|| StoreError::NotFound(format!("business {business_id}")))
}

/// Writes the outbox rows `event` calls for ([`outbox_rows::select`]), in
/// the caller's transaction, so the notification exists exactly when the
/// event does. Enqueueing the same event again writes nothing. A channel
/// whose daily cap ([`NotifyPolicy::caps`]) is reached is left out, and the
/// skip recorded as a `notification_capped` analytics event. Returns the new
/// rows' ids and channels.
pub(crate) fn enqueue(
    tx: &Transaction<'_>,
    policy: &NotifyPolicy,
    business_id: &str,
    event: &Event,
) -> Result<Vec<(String, NotifyChannel)>> {
    let targets = load_targets(tx, business_id)?;
    let prefs = read_prefs(tx, business_id)?;
    let selection = outbox_rows::select(policy, &targets, &prefs, business_id, event, chrono::Utc::now());
    let ts = now();
    if let Some(lead_id) = &selection.drop_pending_new_lead {
        tx.execute(
            "DELETE FROM notifications WHERE lead_id = ?1 AND business_id = ?2 AND kind = 'new_lead'
                 AND state = 'pending'",
            params![lead_id, business_id],
        )
        .map_err(db_err)?;
    }
    let mut ids = Vec::new();
    for row in selection.rows {
        if let Some(why) = over_cap(tx, policy, business_id, row.channel, row.kind)? {
            tracing::warn!(business_id, channel = %row.channel, kind = %row.kind, "{why}");
            tx.execute(
                "INSERT INTO analytics_events (business_id, kind, channel, data, created_at)
                 VALUES (?1, 'notification_capped', NULL, ?2, ?3)",
                params![
                    business_id,
                    to_json(&serde_json::json!({ "channel": row.channel, "kind": row.kind }))?,
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
                    row.lead_id,
                    row.kind.as_str(),
                    row.channel.as_str(),
                    row.recipient,
                    to_json(&row.payload)?,
                    row.idempotency_key,
                    row.due_at,
                    ts
                ],
            )
            .map_err(db_err)?;
        if inserted == 1 {
            ids.push((id, row.channel));
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
    let kinds = crate::store::outbox::cap_kinds(class);
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
    crate::domain::rfc3339(chrono::Utc::now() - chrono::Duration::hours(24))
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
    outbox_rows::over_cap(policy, channel, kind, |class| {
        count_sent(conn, business_id, channel, class, &since)
    })
}

/// Why a test on `channel` cannot be sent, in the owner's words.
pub(super) fn test_refusal(
    conn: &Connection,
    policy: &NotifyPolicy,
    business_id: &str,
    channel: NotifyChannel,
) -> Result<Option<String>> {
    let targets = load_targets(conn, business_id)?;
    if let Some(why) = outbox_rows::test_refusal(policy, &targets, channel) {
        return Ok(Some(why));
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
        created_at: time_col(r, 7)?,
    })
}
