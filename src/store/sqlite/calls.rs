//! Phone calls: the call row, its conversation, status callbacks, the end.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use serde_json::json;

use super::business::load_business;
use super::{db_err, opt_enum_col, opt_time_col, query_all, time_col, to_json};
use crate::domain::{now, Business, Call, CallMode, Channel, EndedReason};
use crate::ids::{CallSid, ConversationId, LeadId};
use crate::notify::policy::NotifyPolicy;
use crate::store::outbox::Event;
use crate::store::{CallStatus, NewCall, Result, StoreError};

pub(super) fn business_by_number(conn: &Connection, number: &str) -> Result<Business> {
    let id: Option<String> = conn
        .query_row("SELECT id FROM businesses WHERE twilio_phone_number = ?1", [number], |r| r.get(0))
        .optional()
        .map_err(db_err)?;
    match id {
        Some(id) => load_business(conn, &id),
        None => Err(StoreError::NotFound(format!("business with number {number}"))),
    }
}

pub(super) fn start_call(tx: &Transaction<'_>, call: &NewCall) -> Result<ConversationId> {
    let existing: Option<Option<ConversationId>> = tx
        .query_row("SELECT conversation_id FROM calls WHERE call_sid = ?1", [&call.call_sid], |r| r.get(0))
        .optional()
        .map_err(db_err)?;
    if let Some(Some(conversation_id)) = existing {
        return Ok(conversation_id);
    }
    let conversation_id = super::conversation::start_conversation(
        tx,
        &call.business_id,
        Channel::Voice,
        Some(call.call_sid.as_str()),
        false,
    )?;
    let ts = now();
    // A status callback may have created the row first.
    tx.execute(
        "INSERT INTO calls (call_sid, business_id, conversation_id, from_number, to_number, status, mode,
             started_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'in-progress', ?6, ?7, ?7)
         ON CONFLICT (call_sid) DO UPDATE SET business_id = excluded.business_id,
             conversation_id = excluded.conversation_id, mode = excluded.mode,
             from_number = COALESCE(calls.from_number, excluded.from_number),
             to_number = COALESCE(calls.to_number, excluded.to_number), updated_at = excluded.updated_at",
        params![
            call.call_sid,
            call.business_id,
            conversation_id,
            call.from_number,
            call.to_number,
            call.mode.as_str(),
            ts
        ],
    )
    .map_err(db_err)?;
    tx.execute(
        "INSERT INTO analytics_events (business_id, kind, channel, data, created_at)
         VALUES (?1, 'call_started', 'VOICE', ?2, ?3)",
        params![call.business_id, to_json(&json!({ "call_sid": call.call_sid, "mode": call.mode }))?, ts],
    )
    .map_err(db_err)?;
    Ok(conversation_id)
}

pub(super) fn record_status(tx: &Transaction<'_>, s: &CallStatus) -> Result<()> {
    let ts = now();
    tx.execute(
        "INSERT INTO call_events (call_sid, status, sequence, data, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![s.call_sid, s.status, s.sequence, to_json(&s.data)?, ts],
    )
    .map_err(db_err)?;
    let known: bool = tx
        .query_row("SELECT EXISTS (SELECT 1 FROM calls WHERE call_sid = ?1)", [&s.call_sid], |r| r.get(0))
        .map_err(db_err)?;
    if !known {
        let business_id: Option<String> = match &s.to_number {
            Some(to) => tx
                .query_row("SELECT id FROM businesses WHERE twilio_phone_number = ?1", [to], |r| r.get(0))
                .optional()
                .map_err(db_err)?,
            None => None,
        };
        tx.execute(
            "INSERT INTO calls (call_sid, business_id, from_number, to_number, status, started_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![s.call_sid, business_id, s.from_number, s.to_number, s.status, ts],
        )
        .map_err(db_err)?;
    }
    // Only a callback at least as new as every one before it sets the status.
    let newest: Option<i64> = tx
        .query_row(
            "SELECT MAX(sequence) FROM call_events WHERE call_sid = ?1 AND sequence IS NOT NULL",
            [&s.call_sid],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    let is_newest = match (s.sequence, newest) {
        (Some(seq), Some(max)) => seq >= max,
        _ => true,
    };
    if is_newest {
        tx.execute(
            "UPDATE calls SET status = ?1, updated_at = ?2 WHERE call_sid = ?3",
            params![s.status, ts, s.call_sid],
        )
        .map_err(db_err)?;
    }
    tx.execute(
        "UPDATE calls SET duration_seconds = COALESCE(?1, duration_seconds),
             recording_url = COALESCE(?2, recording_url), updated_at = ?3 WHERE call_sid = ?4",
        params![s.duration_seconds, s.recording_url, ts, s.call_sid],
    )
    .map_err(db_err)?;
    Ok(())
}

pub(super) fn finish_call(
    tx: &Transaction<'_>,
    call_sid: &str,
    summary: &str,
    reason: EndedReason,
    notify: &NotifyPolicy,
) -> Result<()> {
    let Call { business_id, conversation_id, started_at, ended_at, mode, .. } = call(tx, call_sid)?;
    let ts = now();
    tx.execute(
        "UPDATE calls SET summary = ?1, ended_reason = COALESCE(ended_reason, ?2), ended_at = COALESCE(ended_at, ?3),
             updated_at = ?3 WHERE call_sid = ?4",
        params![summary, reason.as_str(), ts, call_sid],
    )
    .map_err(db_err)?;
    if let Some(conversation_id) = &conversation_id {
        tx.execute(
            "UPDATE conversations SET ended_at = COALESCE(ended_at, ?1) WHERE id = ?2",
            params![ts, conversation_id],
        )
        .map_err(db_err)?;
    }
    if ended_at.is_none() {
        if let Some(business_id) = business_id {
            let seconds =
                crate::domain::parse_rfc3339(&ts).map_or(0, |end| (end - started_at).num_seconds().max(0));
            let data =
                json!({ "call_sid": call_sid, "duration_seconds": seconds, "reason": reason, "mode": mode });
            tx.execute(
                "INSERT INTO analytics_events (business_id, kind, channel, data, created_at)
                 VALUES (?1, 'call_ended', 'VOICE', ?2, ?3)",
                params![business_id, to_json(&data)?, ts],
            )
            .map_err(db_err)?;
            let lead_id: Option<LeadId> = match &conversation_id {
                Some(id) => tx
                    .query_row("SELECT id FROM leads WHERE conversation_id = ?1", [id], |r| r.get(0))
                    .optional()
                    .map_err(db_err)?,
                None => None,
            };
            if let Some(lead) = &lead_id {
                // Nothing more will be captured: a held URGENT follow-up goes now.
                super::conversation::release_follow_up(tx, lead)?;
            }
            let event = Event::CallEnded { call_sid: CallSid::from(call_sid), lead_id };
            super::outbox::enqueue(tx, notify, &business_id, &event)?;
        }
    }
    Ok(())
}

const CALL_COLUMNS: &str = "call_sid, business_id, conversation_id, from_number, to_number, status, \
     duration_seconds, recording_url, summary, mode, ended_reason, started_at, updated_at, ended_at";

fn call_row(r: &Row<'_>) -> rusqlite::Result<Call> {
    Ok(Call {
        call_sid: r.get(0)?,
        business_id: r.get(1)?,
        conversation_id: r.get(2)?,
        from_number: r.get(3)?,
        to_number: r.get(4)?,
        status: r.get(5)?,
        duration_seconds: r.get(6)?,
        recording_url: r.get(7)?,
        summary: r.get(8)?,
        mode: opt_enum_col(r, 9, CallMode::parse)?,
        ended_reason: opt_enum_col(r, 10, EndedReason::parse)?,
        started_at: time_col(r, 11)?,
        updated_at: time_col(r, 12)?,
        ended_at: opt_time_col(r, 13)?,
    })
}

pub(super) fn call(conn: &Connection, call_sid: &str) -> Result<Call> {
    conn.query_row(&format!("SELECT {CALL_COLUMNS} FROM calls WHERE call_sid = ?1"), [call_sid], call_row)
        .optional()
        .map_err(db_err)?
        .ok_or_else(|| StoreError::NotFound(format!("call {call_sid}")))
}

pub(super) fn call_events(conn: &Connection, call_sid: &str) -> Result<Vec<(String, Option<i64>)>> {
    query_all(
        conn,
        "SELECT status, sequence FROM call_events WHERE call_sid = ?1 ORDER BY id",
        [call_sid],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}
