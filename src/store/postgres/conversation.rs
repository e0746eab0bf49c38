//! Conversations and leads as turns write them; a turn's notifications are
//! enqueued in its transaction (`outbox::enqueue`). The reads other parts
//! share (leads, transcripts) and the event row are in `rows`.

use deadpool_postgres::GenericClient;
use serde_json::json;

use super::rows::event;
use super::{changed, db_err, get, to_json};
use crate::domain::{new_id, now, Channel, LeadDraft, Priority};
use crate::ids::{BusinessId, ConversationId, LeadId};
use crate::store::outbox::Event;
use crate::store::{Result, StoreError, TurnRecord, TurnSaved};

pub(super) async fn start_conversation(
    c: &impl GenericClient,
    business_id: &str,
    channel: Channel,
    external_id: Option<&str>,
    test: bool,
) -> Result<ConversationId> {
    super::business::load_business(c, business_id).await?;
    let id = ConversationId::from(new_id());
    let ts = now();
    c.execute(
        "INSERT INTO conversations (id, business_id, channel, external_id, started_at, is_test)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[&id, &business_id, &channel.as_str(), &external_id, &ts, &test],
    )
    .await
    .map_err(db_err)?;
    if !test {
        // Tests stay out of the owner's analytics.
        event(c, business_id, "conversation_started", Some(channel), &json!({}), &ts).await?;
    }
    Ok(id)
}

pub(super) async fn record_turn(c: &impl GenericClient, turn: &TurnRecord) -> Result<TurnSaved> {
    let ts = now();
    // Locks the conversation: two turns of one conversation (on two
    // instances) never both create its lead.
    let owner = c
        .query_opt(
            "SELECT business_id, is_test FROM conversations WHERE id = $1 FOR UPDATE",
            &[&turn.conversation_id],
        )
        .await
        .map_err(db_err)?;
    let test = match owner {
        Some(r) if get::<BusinessId>(&r, 0)? == turn.business_id => get::<bool>(&r, 1)?,
        _ => return Err(StoreError::NotFound(format!("conversation {}", turn.conversation_id))),
    };
    c.execute(
        "UPDATE conversations SET emergency_level = $1 WHERE id = $2",
        &[&turn.level.as_str(), &turn.conversation_id],
    )
    .await
    .map_err(db_err)?;
    if !test {
        for (kind, data) in &turn.events {
            event(c, &turn.business_id, kind, Some(turn.channel), data, &ts).await?;
        }
    }
    // Whether this turn's escalation queued an alert that leaves this server.
    let mut alerted = false;
    let lead_id = match &turn.lead {
        Some(draft) => {
            let (lead_id, created) = upsert_lead(c, turn, draft, &ts, test).await?;
            if test {
                // A test never alerts anyone.
            } else if turn.escalate {
                // An URGENT lead is news on every channel, at once.
                let event_ = Event::UrgentLead { lead_id: lead_id.clone(), known: draft.known_fields() };
                let rows = super::outbox::enqueue(c, &turn.notify, &turn.business_id, &event_).await?;
                alerted = rows.iter().any(|(_, channel)| turn.notify.live(*channel));
                let data = json!({"lead_id": lead_id, "priority": Priority::Urgent, "alerted": alerted});
                event(c, &turn.business_id, "emergency_escalated", None, &data, &ts).await?;
            } else {
                if created {
                    let event_ = Event::NewLead { lead_id: lead_id.clone() };
                    super::outbox::enqueue(c, &turn.notify, &turn.business_id, &event_).await?;
                }
                follow_up(c, turn, &lead_id, draft).await?;
            }
            Some(lead_id)
        }
        None => existing_lead(c, &turn.conversation_id).await?,
    };
    let lines = turn.lines(alerted);
    for (role, content) in &lines {
        c.execute(
            "INSERT INTO messages (conversation_id, role, content, created_at) VALUES ($1, $2, $3, $4)",
            &[&turn.conversation_id, &role.as_str(), content, &ts],
        )
        .await
        .map_err(db_err)?;
    }
    let reply = TurnRecord::reply(&lines);
    Ok(TurnSaved { lead_id, alerted: turn.escalate.then_some(alerted), reply })
}

/// After an URGENT alert went out without the caller's name, number or
/// address: one follow-up carrying them (as on SQLite, `sqlite/conversation.rs`).
async fn follow_up(
    c: &impl GenericClient,
    turn: &TurnRecord,
    lead_id: &str,
    draft: &LeadDraft,
) -> Result<()> {
    if draft.priority != Priority::Urgent {
        return Ok(());
    }
    let first = c
        .query_opt(
            "SELECT payload FROM notifications WHERE lead_id = $1 AND kind = 'urgent_lead'
             ORDER BY created_at LIMIT 1",
            &[&lead_id],
        )
        .await
        .map_err(db_err)?;
    let Some(first) = first else { return Ok(()) };
    let payload: serde_json::Value = get(&first, 0)?;
    let known: Vec<String> = serde_json::from_value(payload["known"].clone()).unwrap_or_default();
    if draft.known_fields().iter().all(|f| known.contains(f)) {
        return Ok(());
    }
    let queued: bool = get(
        &c.query_one(
            "SELECT EXISTS (SELECT 1 FROM notifications WHERE lead_id = $1 AND kind = 'urgent_update')",
            &[&lead_id],
        )
        .await
        .map_err(db_err)?,
        0,
    )?;
    if !queued {
        let event_ = Event::UrgentUpdate { lead_id: LeadId::from(lead_id), complete: turn.details_complete };
        super::outbox::enqueue(c, &turn.notify, &turn.business_id, &event_).await?;
    } else if turn.details_complete {
        release_follow_up(c, lead_id).await?;
    }
    Ok(())
}

/// A held follow-up goes now (every detail is in, or the call ended).
pub(super) async fn release_follow_up(c: &impl GenericClient, lead_id: &str) -> Result<()> {
    c.execute(
        "UPDATE notifications SET next_attempt_at = $1, updated_at = $1
         WHERE lead_id = $2 AND kind = 'urgent_update' AND state = 'pending' AND attempts = 0
             AND next_attempt_at > $1",
        &[&now(), &lead_id],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(super) async fn existing_lead(c: &impl GenericClient, conversation_id: &str) -> Result<Option<LeadId>> {
    c.query_opt("SELECT id FROM leads WHERE conversation_id = $1", &[&conversation_id])
        .await
        .map_err(db_err)?
        .map(|r| get(&r, 0))
        .transpose()
}

/// The lead's id, and whether it was created now.
async fn upsert_lead(
    c: &impl GenericClient,
    turn: &TurnRecord,
    draft: &LeadDraft,
    ts: &str,
    test: bool,
) -> Result<(LeadId, bool)> {
    let captured = to_json(&draft.captured)?;
    if let Some(id) = existing_lead(c, &turn.conversation_id).await? {
        // Priority only ever rises; status is the owner's.
        c.execute(
            "UPDATE leads SET contact_name = $1, contact_email = $2, contact_phone = $3, address = $4, notes = $5,
                 captured_data = $6, updated_at = $7,
                 priority = CASE WHEN $8 = 'URGENT' OR ($8 = 'HIGH' AND priority IN ('LOW', 'NORMAL'))
                                 OR ($8 = 'NORMAL' AND priority = 'LOW') THEN $8 ELSE priority END
             WHERE id = $9",
            &[
                &draft.name,
                &draft.email,
                &draft.phone,
                &draft.address,
                &draft.notes,
                &captured,
                &ts,
                &draft.priority.as_str(),
                &id,
            ],
        )
        .await
        .map_err(db_err)?;
        return Ok((id, false));
    }
    let id = LeadId::from(new_id());
    c.execute(
        "INSERT INTO leads (id, business_id, conversation_id, channel, status, priority, contact_name, contact_email,
             contact_phone, address, notes, captured_data, created_at, updated_at, is_test)
         VALUES ($1, $2, $3, $4, 'NEW', $5, $6, $7, $8, $9, $10, $11, $12, $12, $13)",
        &[
            &id,
            &turn.business_id,
            &turn.conversation_id,
            &turn.channel.as_str(),
            &draft.priority.as_str(),
            &draft.name,
            &draft.email,
            &draft.phone,
            &draft.address,
            &draft.notes,
            &captured,
            &ts,
            &test,
        ],
    )
    .await
    .map_err(db_err)?;
    if !test {
        event(c, &turn.business_id, "lead_created", Some(turn.channel), &json!({"lead_id": id}), ts).await?;
    }
    Ok((id, true))
}

pub(super) async fn set_lead_notes(
    c: &impl GenericClient,
    business_id: &str,
    lead_id: &str,
    notes: Option<&str>,
) -> Result<()> {
    let n = c
        .execute(
            "UPDATE leads SET owner_notes = $1, updated_at = $2 WHERE id = $3 AND business_id = $4",
            &[&notes, &now(), &lead_id, &business_id],
        )
        .await
        .map_err(db_err)?;
    changed(n, "lead")
}

pub(super) async fn set_lead_test(
    c: &impl GenericClient,
    business_id: &str,
    lead_id: &str,
    test: bool,
) -> Result<()> {
    let n = c
        .execute(
            "UPDATE leads SET is_test = $1, updated_at = $2 WHERE id = $3 AND business_id = $4",
            &[&test, &now(), &lead_id, &business_id],
        )
        .await
        .map_err(db_err)?;
    changed(n, "lead")?;
    c.execute(
        "UPDATE conversations SET is_test = $1 WHERE id = (SELECT conversation_id FROM leads WHERE id = $2)",
        &[&test, &lead_id],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Deletes a lead and its conversation; its notifications stay, without the lead.
pub(super) async fn delete_lead(c: &impl GenericClient, business_id: &str, lead_id: &str) -> Result<()> {
    let row = c
        .query_opt(
            "SELECT conversation_id FROM leads WHERE id = $1 AND business_id = $2",
            &[&lead_id, &business_id],
        )
        .await
        .map_err(db_err)?;
    let Some(row) = row else { return Err(StoreError::NotFound("lead".into())) };
    let conversation: Option<String> = get(&row, 0)?;
    c.execute("DELETE FROM leads WHERE id = $1 AND business_id = $2", &[&lead_id, &business_id])
        .await
        .map_err(db_err)?;
    if let Some(conv) = conversation {
        c.execute("DELETE FROM conversations WHERE id = $1 AND business_id = $2", &[&conv, &business_id])
            .await
            .map_err(db_err)?;
    }
    Ok(())
}
