//! Writes the demo's sample week (`crate::demo`) with past timestamps:
//! conversations, transcripts, leads, calls and their analytics events. No
//! notifications: these are history, not news.

use rusqlite::{params, Transaction};
use serde_json::json;

use super::{db_err, to_json};
use crate::demo::Sample;
use crate::domain::{new_id, Channel, Priority};
use crate::store::Result;

fn at(days_ago: i64, hour: u32, minute: i64) -> String {
    let day = chrono::Utc::now().date_naive() - chrono::Duration::days(days_ago);
    let t =
        day.and_hms_opt(hour.min(23), 0, 0).unwrap_or_default().and_utc() + chrono::Duration::minutes(minute);
    // Never in the future: today's samples stay before now.
    crate::domain::rfc3339(t.min(chrono::Utc::now()))
}

fn event(
    tx: &Transaction<'_>,
    business_id: &str,
    kind: &str,
    channel: Option<Channel>,
    data: serde_json::Value,
    ts: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO analytics_events (business_id, kind, channel, data, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![business_id, kind, channel.map(|c| c.as_str()), to_json(&data)?, ts],
    )
    .map_err(db_err)?;
    Ok(())
}

pub(super) fn add_samples(tx: &Transaction<'_>, business_id: &str, samples: &[Sample]) -> Result<()> {
    super::business::load_business(tx, business_id)?;
    for (i, s) in samples.iter().enumerate() {
        let ts = at(s.days_ago, s.hour, (i as i64 * 7) % 50);
        let conversation = new_id();
        tx.execute(
            "INSERT INTO conversations (id, business_id, channel, external_id, emergency_level, started_at, ended_at)
             VALUES (?1, ?2, ?3, NULL, ?4, ?5, ?5)",
            params![conversation, business_id, s.channel.as_str(), s.priority.as_str(), ts],
        )
        .map_err(db_err)?;
        event(tx, business_id, "conversation_started", Some(s.channel), json!({}), &ts)?;
        for (role, text) in &s.lines {
            tx.execute(
                "INSERT INTO messages (conversation_id, role, content, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![conversation, role.as_str(), text, ts],
            )
            .map_err(db_err)?;
        }
        if s.name.is_none() {
            event(
                tx,
                business_id,
                "knowledge_answered",
                Some(s.channel),
                json!({ "question": s.problem }),
                &ts,
            )?;
            continue;
        }
        let lead = new_id();
        let captured = json!({ "first_message": s.problem, "problem": s.problem });
        tx.execute(
            "INSERT INTO leads (id, business_id, conversation_id, channel, status, priority, contact_name,
                 contact_phone, address, notes, captured_data, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
            params![
                lead,
                business_id,
                conversation,
                s.channel.as_str(),
                s.status.as_str(),
                s.priority.as_str(),
                s.name,
                s.phone,
                s.address,
                s.problem,
                to_json(&captured)?,
                ts
            ],
        )
        .map_err(db_err)?;
        event(tx, business_id, "lead_created", Some(s.channel), json!({ "lead_id": lead }), &ts)?;
        if s.priority == Priority::Urgent {
            event(
                tx,
                business_id,
                "emergency_escalated",
                None,
                json!({ "lead_id": lead, "priority": "URGENT" }),
                &ts,
            )?;
        }
        if let Some(seconds) = s.call_seconds {
            let sid = format!("CAdemo{}", &new_id()[..26]);
            tx.execute(
                "INSERT INTO calls (call_sid, business_id, conversation_id, from_number, to_number, status,
                     duration_seconds, summary, mode, ended_reason, started_at, updated_at, ended_at)
                 VALUES (?1, ?2, ?3, ?4, NULL, 'completed', ?5, ?6, 'gather', 'agent_hung_up', ?7, ?7, ?7)",
                params![sid, business_id, conversation, s.phone, seconds, s.problem, ts],
            )
            .map_err(db_err)?;
            event(tx, business_id, "call_started", Some(Channel::Voice), json!({ "call_sid": sid }), &ts)?;
            let data = json!({ "call_sid": sid, "duration_seconds": seconds, "reason": "agent_hung_up", "mode": "gather" });
            event(tx, business_id, "call_ended", Some(Channel::Voice), data, &ts)?;
        }
    }
    Ok(())
}
