//! Conversations, transcripts and leads; a turn's notifications are enqueued
//! in its transaction (`outbox::enqueue`).

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use serde_json::json;

use super::{db_err, enum_col, json_col, query_all, to_json};
use crate::domain::{new_id, now, Channel, Lead, LeadDraft, LeadStatus, Message, Priority, Profile};
use crate::store::outbox::Event;
use crate::store::{Result, StoreError, TurnRecord};

pub(super) fn agent_profile(conn: &Connection, id: &str) -> Result<Profile> {
    super::business::read_profile(conn, id)
}

pub(super) fn start_conversation(
    tx: &Transaction<'_>,
    business_id: &str,
    channel: Channel,
    external_id: Option<&str>,
) -> Result<String> {
    super::business::load_business(tx, business_id)?;
    let id = new_id();
    let ts = now();
    tx.execute(
        "INSERT INTO conversations (id, business_id, channel, external_id, started_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, business_id, channel.as_str(), external_id, ts],
    )
    .map_err(db_err)?;
    tx.execute(
        "INSERT INTO analytics_events (business_id, kind, channel, data, created_at)
         VALUES (?1, 'conversation_started', ?2, '{}', ?3)",
        params![business_id, channel.as_str(), ts],
    )
    .map_err(db_err)?;
    Ok(id)
}

pub(super) fn record_turn(tx: &Transaction<'_>, turn: &TurnRecord) -> Result<Option<String>> {
    let ts = now();
    let owner: Option<String> = tx
        .query_row("SELECT business_id FROM conversations WHERE id = ?1", [&turn.conversation_id], |r| {
            r.get(0)
        })
        .optional()
        .map_err(db_err)?;
    if owner.as_deref() != Some(turn.business_id.as_str()) {
        return Err(StoreError::NotFound(format!("conversation {}", turn.conversation_id)));
    }
    for (role, content) in &turn.messages {
        tx.execute(
            "INSERT INTO messages (conversation_id, role, content, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![turn.conversation_id, role, content, ts],
        )
        .map_err(db_err)?;
    }
    tx.execute(
        "UPDATE conversations SET emergency_level = ?1 WHERE id = ?2",
        params![turn.level.as_str(), turn.conversation_id],
    )
    .map_err(db_err)?;
    for (kind, data) in &turn.events {
        tx.execute(
            "INSERT INTO analytics_events (business_id, kind, channel, data, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![turn.business_id, kind, turn.channel.as_str(), to_json(data)?, ts],
        )
        .map_err(db_err)?;
    }
    let Some(draft) = &turn.lead else { return existing_lead(tx, &turn.conversation_id) };
    let (lead_id, created) = upsert_lead(tx, turn, draft, &ts)?;
    // An URGENT lead is news on every channel; a new one on the channels the owner chose.
    let event = if turn.escalate {
        Some(Event::UrgentLead { lead_id: lead_id.clone() })
    } else {
        created.then(|| Event::NewLead { lead_id: lead_id.clone() })
    };
    if let Some(event) = event {
        super::outbox::enqueue(tx, &turn.notify, &turn.business_id, &event)?;
    }
    if turn.escalate {
        tx.execute(
            "INSERT INTO analytics_events (business_id, kind, channel, data, created_at)
             VALUES (?1, 'emergency_escalated', NULL, ?2, ?3)",
            params![
                turn.business_id,
                to_json(&json!({"lead_id": lead_id, "priority": Priority::Urgent}))?,
                ts
            ],
        )
        .map_err(db_err)?;
    }
    Ok(Some(lead_id))
}

fn existing_lead(tx: &Transaction<'_>, conversation_id: &str) -> Result<Option<String>> {
    tx.query_row("SELECT id FROM leads WHERE conversation_id = ?1", [conversation_id], |r| r.get(0))
        .optional()
        .map_err(db_err)
}

/// The lead's id, and whether it was created now.
fn upsert_lead(
    tx: &Transaction<'_>,
    turn: &TurnRecord,
    draft: &LeadDraft,
    ts: &str,
) -> Result<(String, bool)> {
    let captured = to_json(&draft.captured)?;
    if let Some(id) = existing_lead(tx, &turn.conversation_id)? {
        // Priority only ever rises; status is the owner's.
        tx.execute(
            "UPDATE leads SET contact_name = ?1, contact_email = ?2, contact_phone = ?3, address = ?4, notes = ?5,
                 captured_data = ?6, updated_at = ?7,
                 priority = CASE WHEN ?8 = 'URGENT' OR (?8 = 'HIGH' AND priority IN ('LOW', 'NORMAL'))
                                 OR (?8 = 'NORMAL' AND priority = 'LOW') THEN ?8 ELSE priority END
             WHERE id = ?9",
            params![
                draft.name, draft.email, draft.phone, draft.address, draft.notes, captured, ts,
                draft.priority.as_str(), id
            ],
        )
        .map_err(db_err)?;
        return Ok((id, false));
    }
    let id = new_id();
    tx.execute(
        "INSERT INTO leads (id, business_id, conversation_id, channel, status, priority, contact_name, contact_email,
             contact_phone, address, notes, captured_data, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, 'NEW', ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
        params![
            id,
            turn.business_id,
            turn.conversation_id,
            turn.channel.as_str(),
            draft.priority.as_str(),
            draft.name,
            draft.email,
            draft.phone,
            draft.address,
            draft.notes,
            captured,
            ts
        ],
    )
    .map_err(db_err)?;
    tx.execute(
        "INSERT INTO analytics_events (business_id, kind, channel, data, created_at) VALUES (?1, 'lead_created', ?2, ?3, ?4)",
        params![turn.business_id, turn.channel.as_str(), to_json(&json!({"lead_id": id}))?, ts],
    )
    .map_err(db_err)?;
    Ok((id, true))
}

pub(super) fn transcript(conn: &Connection, conversation_id: &str) -> Result<Vec<Message>> {
    let rows = query_all(
        conn,
        "SELECT role, content, created_at FROM messages WHERE conversation_id = ?1 ORDER BY id",
        [conversation_id],
        |r| Ok(Message { role: r.get(0)?, content: r.get(1)?, created_at: r.get(2)? }),
    )?;
    Ok(rows)
}

pub(super) const LEAD_COLUMNS: &str =
    "id, business_id, conversation_id, channel, status, priority, contact_name, contact_email, \
     contact_phone, address, notes, captured_data, created_at, updated_at";

pub(super) fn lead_row(r: &Row<'_>) -> rusqlite::Result<Lead> {
    Ok(Lead {
        id: r.get(0)?,
        business_id: r.get(1)?,
        conversation_id: r.get(2)?,
        channel: enum_col(r, 3, Channel::parse)?,
        status: enum_col(r, 4, LeadStatus::parse)?,
        priority: enum_col(r, 5, Priority::parse)?,
        contact_name: r.get(6)?,
        contact_email: r.get(7)?,
        contact_phone: r.get(8)?,
        address: r.get(9)?,
        notes: r.get(10)?,
        captured: json_col(r, 11)?,
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
    })
}

pub(super) fn lead(conn: &Connection, business_id: &str, lead_id: &str) -> Result<Lead> {
    conn.query_row(
        &format!("SELECT {LEAD_COLUMNS} FROM leads WHERE id = ?1 AND business_id = ?2"),
        [lead_id, business_id],
        lead_row,
    )
    .optional()
    .map_err(db_err)?
    .ok_or_else(|| StoreError::NotFound(format!("lead {lead_id}")))
}

pub(super) fn leads(conn: &Connection, business_id: &str) -> Result<Vec<Lead>> {
    lead_rows(conn, "business_id = ?1 ORDER BY created_at DESC, id", [business_id])
}

/// Leads matching `filter` (a WHERE clause, with its ORDER BY and LIMIT).
pub(super) fn lead_rows<P: rusqlite::Params>(
    conn: &Connection,
    filter: &str,
    params: P,
) -> Result<Vec<Lead>> {
    query_all(conn, &format!("SELECT {LEAD_COLUMNS} FROM leads WHERE {filter}"), params, lead_row)
}

/// The last `limit` lines of a conversation, oldest first.
pub(super) fn transcript_tail(conn: &Connection, conversation_id: &str, limit: u32) -> Result<Vec<Message>> {
    let mut rows = query_all(
        conn,
        "SELECT role, content, created_at FROM messages WHERE conversation_id = ?1 ORDER BY id DESC LIMIT ?2",
        params![conversation_id, limit],
        |r| Ok(Message { role: r.get(0)?, content: r.get(1)?, created_at: r.get(2)? }),
    )?;
    rows.reverse();
    Ok(rows)
}
