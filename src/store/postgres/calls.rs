//! Phone calls: the call row, its conversation, status callbacks, the end.

use deadpool_postgres::GenericClient;
use serde_json::json;
use tokio_postgres::Row;

use super::business::load_business;
use super::rows::event;
use super::{db_err, get, get_opt_enum, get_opt_time, get_opt_u32, get_time, to_json};
use crate::domain::{now, Business, Call, CallMode, Channel, EndedReason};
use crate::ids::{CallSid, ConversationId};
use crate::notify::policy::NotifyPolicy;
use crate::store::outbox::Event;
use crate::store::{CallStatus, NewCall, Result, StoreError};

pub(super) async fn business_by_number(c: &impl GenericClient, number: &str) -> Result<Business> {
    let row = c
        .query_opt("SELECT id FROM businesses WHERE twilio_phone_number = $1", &[&number])
        .await
        .map_err(db_err)?;
    match row {
        Some(r) => load_business(c, &get::<String>(&r, 0)?).await,
        None => Err(StoreError::NotFound(format!("business with number {number}"))),
    }
}

/// Twilio retries webhooks, and they may land on different instances: one
/// call's writes go one at a time.
async fn lock_call(c: &impl GenericClient, call_sid: &str) -> Result<()> {
    c.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&format!("frontdesk-call:{call_sid}")])
        .await
        .map_err(db_err)?;
    Ok(())
}

pub(super) async fn start_call(c: &impl GenericClient, call: &NewCall) -> Result<ConversationId> {
    lock_call(c, &call.call_sid).await?;
    let existing = c
        .query_opt("SELECT conversation_id FROM calls WHERE call_sid = $1", &[&call.call_sid])
        .await
        .map_err(db_err)?;
    if let Some(r) = existing {
        if let Some(conversation_id) = get::<Option<ConversationId>>(&r, 0)? {
            return Ok(conversation_id);
        }
    }
    let conversation_id = super::conversation::start_conversation(
        c,
        &call.business_id,
        Channel::Voice,
        Some(call.call_sid.as_str()),
        false,
    )
    .await?;
    let ts = now();
    // A status callback may have created the row first.
    c.execute(
        "INSERT INTO calls (call_sid, business_id, conversation_id, from_number, to_number, status, mode,
             started_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'in-progress', $6, $7, $7)
         ON CONFLICT (call_sid) DO UPDATE SET business_id = excluded.business_id,
             conversation_id = excluded.conversation_id, mode = excluded.mode,
             from_number = COALESCE(calls.from_number, excluded.from_number),
             to_number = COALESCE(calls.to_number, excluded.to_number), updated_at = excluded.updated_at",
        &[
            &call.call_sid,
            &call.business_id,
            &conversation_id,
            &call.from_number,
            &call.to_number,
            &call.mode.as_str(),
            &ts,
        ],
    )
    .await
    .map_err(db_err)?;
    let data = json!({ "call_sid": call.call_sid, "mode": call.mode });
    event(c, &call.business_id, "call_started", Some(Channel::Voice), &data, &ts).await?;
    Ok(conversation_id)
}

pub(super) async fn record_status(c: &impl GenericClient, s: &CallStatus) -> Result<()> {
    lock_call(c, &s.call_sid).await?;
    let ts = now();
    c.execute(
        "INSERT INTO call_events (call_sid, status, sequence, data, created_at) VALUES ($1, $2, $3, $4, $5)",
        &[&s.call_sid, &s.status, &s.sequence, &to_json(&s.data)?, &ts],
    )
    .await
    .map_err(db_err)?;
    let known = c
        .query_opt("SELECT 1 FROM calls WHERE call_sid = $1", &[&s.call_sid])
        .await
        .map_err(db_err)?
        .is_some();
    if !known {
        let business_id: Option<String> = match &s.to_number {
            Some(to) => c
                .query_opt("SELECT id FROM businesses WHERE twilio_phone_number = $1", &[to])
                .await
                .map_err(db_err)?
                .map(|r| get(&r, 0))
                .transpose()?,
            None => None,
        };
        c.execute(
            "INSERT INTO calls (call_sid, business_id, from_number, to_number, status, started_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
            &[&s.call_sid, &business_id, &s.from_number, &s.to_number, &s.status, &ts],
        )
        .await
        .map_err(db_err)?;
    }
    // Only a callback at least as new as every one before it sets the status.
    let newest: Option<i64> = get(
        &c.query_one("SELECT MAX(sequence) FROM call_events WHERE call_sid = $1", &[&s.call_sid])
            .await
            .map_err(db_err)?,
        0,
    )?;
    let is_newest = match (s.sequence, newest) {
        (Some(seq), Some(max)) => seq >= max,
        _ => true,
    };
    if is_newest {
        c.execute(
            "UPDATE calls SET status = $1, updated_at = $2 WHERE call_sid = $3",
            &[&s.status, &ts, &s.call_sid],
        )
        .await
        .map_err(db_err)?;
    }
    c.execute(
        "UPDATE calls SET duration_seconds = COALESCE($1, duration_seconds),
             recording_url = COALESCE($2, recording_url), updated_at = $3 WHERE call_sid = $4",
        &[&s.duration_seconds.map(i64::from), &s.recording_url, &ts, &s.call_sid],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(super) async fn finish_call(
    c: &impl GenericClient,
    call_sid: &str,
    summary: &str,
    reason: EndedReason,
    notify: &NotifyPolicy,
) -> Result<()> {
    lock_call(c, call_sid).await?;
    let Call { business_id, conversation_id, started_at, ended_at, mode, .. } = call(c, call_sid).await?;
    let ts = now();
    c.execute(
        "UPDATE calls SET summary = $1, ended_reason = COALESCE(ended_reason, $2), ended_at = COALESCE(ended_at, $3),
             updated_at = $3 WHERE call_sid = $4",
        &[&summary, &reason.as_str(), &ts, &call_sid],
    )
    .await
    .map_err(db_err)?;
    if let Some(conversation_id) = &conversation_id {
        c.execute(
            "UPDATE conversations SET ended_at = COALESCE(ended_at, $1) WHERE id = $2",
            &[&ts, conversation_id],
        )
        .await
        .map_err(db_err)?;
    }
    let (None, Some(business_id)) = (ended_at, business_id) else { return Ok(()) };
    let seconds = crate::domain::parse_rfc3339(&ts).map_or(0, |end| (end - started_at).num_seconds().max(0));
    let data = json!({ "call_sid": call_sid, "duration_seconds": seconds, "reason": reason, "mode": mode });
    event(c, &business_id, "call_ended", Some(Channel::Voice), &data, &ts).await?;
    let lead_id = match &conversation_id {
        Some(id) => super::conversation::existing_lead(c, id).await?,
        None => None,
    };
    if let Some(lead) = &lead_id {
        // Nothing more will be captured: a held URGENT follow-up goes now.
        super::conversation::release_follow_up(c, lead).await?;
    }
    let event_ = Event::CallEnded { call_sid: CallSid::from(call_sid), lead_id };
    super::outbox::enqueue(c, notify, &business_id, &event_).await?;
    Ok(())
}

const CALL_COLUMNS: &str = "call_sid, business_id, conversation_id, from_number, to_number, status, \
     duration_seconds, recording_url, summary, mode, ended_reason, started_at, updated_at, ended_at";

fn call_row(r: &Row) -> Result<Call> {
    Ok(Call {
        call_sid: get(r, 0)?,
        business_id: get(r, 1)?,
        conversation_id: get(r, 2)?,
        from_number: get(r, 3)?,
        to_number: get(r, 4)?,
        status: get(r, 5)?,
        duration_seconds: get_opt_u32(r, 6)?,
        recording_url: get(r, 7)?,
        summary: get(r, 8)?,
        mode: get_opt_enum(r, 9, CallMode::parse)?,
        ended_reason: get_opt_enum(r, 10, EndedReason::parse)?,
        started_at: get_time(r, 11)?,
        updated_at: get_time(r, 12)?,
        ended_at: get_opt_time(r, 13)?,
    })
}

pub(super) async fn call(c: &impl GenericClient, call_sid: &str) -> Result<Call> {
    c.query_opt(&format!("SELECT {CALL_COLUMNS} FROM calls WHERE call_sid = $1"), &[&call_sid])
        .await
        .map_err(db_err)?
        .map(|r| call_row(&r))
        .transpose()?
        .ok_or_else(|| StoreError::NotFound(format!("call {call_sid}")))
}

pub(super) async fn call_events(
    c: &impl GenericClient,
    call_sid: &str,
) -> Result<Vec<(String, Option<i64>)>> {
    c.query("SELECT status, sequence FROM call_events WHERE call_sid = $1 ORDER BY id", &[&call_sid])
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| Ok((get(r, 0)?, get(r, 1)?)))
        .collect()
}
