//! Conversations, transcripts and leads; a turn's notifications are enqueued
//! in its transaction (`outbox::enqueue`).

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};
use serde_json::json;

use super::{db_err, enum_col, json_col, query_all, time_col, to_json};
use crate::domain::{
    new_id, now, Channel, Lead, LeadAlert, LeadDraft, LeadStatus, Message, Priority, Profile, Speaker,
};
use crate::ids::{BusinessId, ConversationId, LeadId};
use crate::store::outbox::Event;
use crate::store::{Result, StoreError, TurnRecord, TurnSaved};

pub(super) fn agent_profile(conn: &Connection, id: &str) -> Result<Profile> {
    super::business::read_profile(conn, id)
}

pub(super) fn start_conversation(
    tx: &Transaction<'_>,
    business_id: &str,
    channel: Channel,
    external_id: Option<&str>,
    test: bool,
) -> Result<ConversationId> {
    super::business::load_business(tx, business_id)?;
    let id = ConversationId::from(new_id());
    let ts = now();
    tx.execute(
        "INSERT INTO conversations (id, business_id, channel, external_id, started_at, is_test)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, business_id, channel.as_str(), external_id, ts, test],
    )
    .map_err(db_err)?;
    if test {
        // Tests stay out of the owner's analytics.
        return Ok(id);
    }
    tx.execute(
        "INSERT INTO analytics_events (business_id, kind, channel, data, created_at)
         VALUES (?1, 'conversation_started', ?2, '{}', ?3)",
        params![business_id, channel.as_str(), ts],
    )
    .map_err(db_err)?;
    Ok(id)
}

pub(super) fn record_turn(tx: &Transaction<'_>, turn: &TurnRecord) -> Result<TurnSaved> {
    let ts = now();
    let owner: Option<(BusinessId, bool)> = tx
        .query_row(
            "SELECT business_id, is_test FROM conversations WHERE id = ?1",
            [&turn.conversation_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db_err)?;
    let test = match owner {
        Some((business, test)) if business == turn.business_id => test,
        _ => return Err(StoreError::NotFound(format!("conversation {}", turn.conversation_id))),
    };
    tx.execute(
        "UPDATE conversations SET emergency_level = ?1 WHERE id = ?2",
        params![turn.level.as_str(), turn.conversation_id],
    )
    .map_err(db_err)?;
    for (kind, data) in turn.events.iter().filter(|_| !test) {
        tx.execute(
            "INSERT INTO analytics_events (business_id, kind, channel, data, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![turn.business_id, kind, turn.channel.as_str(), to_json(data)?, ts],
        )
        .map_err(db_err)?;
    }
    // Whether this turn's escalation queued an alert that leaves this server.
    let mut alerted = false;
    let lead_id = match &turn.lead {
        Some(draft) => {
            let (lead_id, created) = upsert_lead(tx, turn, draft, &ts, test)?;
            if test {
                // A test never alerts anyone.
            } else if turn.escalate {
                // An URGENT lead is news on every channel, at once.
                let event = Event::UrgentLead { lead_id: lead_id.clone(), known: draft.known_fields() };
                let rows = super::outbox::enqueue(tx, &turn.notify, &turn.business_id, &event)?;
                alerted = rows.iter().any(|(_, channel)| turn.notify.live(*channel));
                tx.execute(
                    "INSERT INTO analytics_events (business_id, kind, channel, data, created_at)
                     VALUES (?1, 'emergency_escalated', NULL, ?2, ?3)",
                    params![
                        turn.business_id,
                        to_json(
                            &json!({"lead_id": lead_id, "priority": Priority::Urgent, "alerted": alerted})
                        )?,
                        ts
                    ],
                )
                .map_err(db_err)?;
            } else {
                if created {
                    let event = Event::NewLead { lead_id: lead_id.clone() };
                    super::outbox::enqueue(tx, &turn.notify, &turn.business_id, &event)?;
                }
                follow_up(tx, turn, &lead_id, draft)?;
            }
            Some(lead_id)
        }
        None => existing_lead(tx, &turn.conversation_id)?,
    };
    let lines = turn.lines(alerted);
    for (role, content) in &lines {
        tx.execute(
            "INSERT INTO messages (conversation_id, role, content, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![turn.conversation_id, role.as_str(), content, ts],
        )
        .map_err(db_err)?;
    }
    let reply = TurnRecord::reply(&lines);
    Ok(TurnSaved { lead_id, alerted: turn.escalate.then_some(alerted), reply })
}

/// After an URGENT alert went out without the caller's name, number or
/// address: one follow-up carrying them, queued as soon as one of them is
/// captured, held at most `urgent_hold` for the rest, and sent at once when
/// nothing more is to be asked.
fn follow_up(tx: &Transaction<'_>, turn: &TurnRecord, lead_id: &str, draft: &LeadDraft) -> Result<()> {
    if draft.priority != Priority::Urgent {
        return Ok(());
    }
    let first: Option<String> = tx
        .query_row(
            "SELECT payload FROM notifications WHERE lead_id = ?1 AND kind = 'urgent_lead' ORDER BY created_at LIMIT 1",
            [lead_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    let Some(first) = first else { return Ok(()) };
    let known: Vec<String> = serde_json::from_str::<serde_json::Value>(&first)
        .ok()
        .and_then(|p| serde_json::from_value(p["known"].clone()).ok())
        .unwrap_or_default();
    if draft.known_fields().iter().all(|f| known.contains(f)) {
        return Ok(());
    }
    let queued: bool = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM notifications WHERE lead_id = ?1 AND kind = 'urgent_update')",
            [lead_id],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    if !queued {
        let event = Event::UrgentUpdate { lead_id: LeadId::from(lead_id), complete: turn.details_complete };
        super::outbox::enqueue(tx, &turn.notify, &turn.business_id, &event)?;
    } else if turn.details_complete {
        release_follow_up(tx, lead_id)?;
    }
    Ok(())
}

/// A held follow-up goes now (every detail is in, or the call ended).
pub(super) fn release_follow_up(tx: &Transaction<'_>, lead_id: &str) -> Result<()> {
    let ts = now();
    tx.execute(
        "UPDATE notifications SET next_attempt_at = ?1, updated_at = ?1
         WHERE lead_id = ?2 AND kind = 'urgent_update' AND state = 'pending' AND attempts = 0 AND next_attempt_at > ?1",
        params![ts, lead_id],
    )
    .map_err(db_err)?;
    Ok(())
}

fn existing_lead(tx: &Transaction<'_>, conversation_id: &str) -> Result<Option<LeadId>> {
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
    test: bool,
) -> Result<(LeadId, bool)> {
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
    let id = LeadId::from(new_id());
    tx.execute(
        "INSERT INTO leads (id, business_id, conversation_id, channel, status, priority, contact_name, contact_email,
             contact_phone, address, notes, captured_data, created_at, updated_at, is_test)
         VALUES (?1, ?2, ?3, ?4, 'NEW', ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13)",
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
            ts,
            test
        ],
    )
    .map_err(db_err)?;
    if test {
        return Ok((id, true));
    }
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
        |r| {
            Ok(Message {
                role: enum_col(r, 0, Speaker::parse)?,
                content: r.get(1)?,
                created_at: time_col(r, 2)?,
            })
        },
    )?;
    Ok(rows)
}

/// A lead's columns, and whether its URGENT alert reached anyone (from the outbox).
pub(super) const LEAD_COLUMNS: &str =
    "id, business_id, conversation_id, channel, status, priority, contact_name, contact_email, \
     contact_phone, address, notes, captured_data, created_at, updated_at, is_test, owner_notes, \
     CASE WHEN priority <> 'URGENT' OR is_test = 1 THEN NULL \
          WHEN EXISTS (SELECT 1 FROM notifications n WHERE n.lead_id = leads.id \
                AND n.kind IN ('urgent_lead', 'urgent_update') AND n.state = 'sent') THEN 'sent' \
          WHEN EXISTS (SELECT 1 FROM notifications n WHERE n.lead_id = leads.id \
                AND n.kind IN ('urgent_lead', 'urgent_update') AND n.state IN ('pending', 'in_flight')) THEN 'sending' \
          ELSE 'not_sent' END";

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
        created_at: time_col(r, 12)?,
        updated_at: time_col(r, 13)?,
        is_test: r.get(14)?,
        owner_notes: r.get(15)?,
        alert: r.get::<_, Option<String>>(16)?.as_deref().and_then(LeadAlert::parse),
    })
}

/// The owner's notes on a lead, whether it was a test, or the lead itself.
pub(super) fn set_lead_notes(
    tx: &Transaction<'_>,
    business_id: &str,
    lead_id: &str,
    notes: Option<&str>,
) -> Result<()> {
    let n = tx
        .execute(
            "UPDATE leads SET owner_notes = ?1, updated_at = ?2 WHERE id = ?3 AND business_id = ?4",
            params![notes, now(), lead_id, business_id],
        )
        .map_err(db_err)?;
    super::admin::changed(n, "lead")
}

pub(super) fn set_lead_test(
    tx: &Transaction<'_>,
    business_id: &str,
    lead_id: &str,
    test: bool,
) -> Result<()> {
    let n = tx
        .execute(
            "UPDATE leads SET is_test = ?1, updated_at = ?2 WHERE id = ?3 AND business_id = ?4",
            params![test, now(), lead_id, business_id],
        )
        .map_err(db_err)?;
    super::admin::changed(n, "lead")?;
    tx.execute(
        "UPDATE conversations SET is_test = ?1 WHERE id = (SELECT conversation_id FROM leads WHERE id = ?2)",
        params![test, lead_id],
    )
    .map_err(db_err)?;
    Ok(())
}

/// Deletes a lead and its conversation (transcript, call row's link); its
/// notifications stay in the outbox, without the lead.
pub(super) fn delete_lead(tx: &Transaction<'_>, business_id: &str, lead_id: &str) -> Result<()> {
    let conversation: Option<Option<String>> = tx
        .query_row(
            "SELECT conversation_id FROM leads WHERE id = ?1 AND business_id = ?2",
            [lead_id, business_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    let Some(conversation) = conversation else { return Err(StoreError::NotFound("lead".into())) };
    tx.execute("DELETE FROM leads WHERE id = ?1 AND business_id = ?2", [lead_id, business_id])
        .map_err(db_err)?;
    if let Some(c) = conversation {
        tx.execute("DELETE FROM conversations WHERE id = ?1 AND business_id = ?2", [&c, business_id])
            .map_err(db_err)?;
    }
    Ok(())
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
        |r| {
            Ok(Message {
                role: enum_col(r, 0, Speaker::parse)?,
                content: r.get(1)?,
                created_at: time_col(r, 2)?,
            })
        },
    )?;
    rows.reverse();
    Ok(rows)
}
