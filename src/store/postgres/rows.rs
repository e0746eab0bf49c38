//! What several parts of the Postgres store read or write alike: leads and
//! their rows, transcripts, and the analytics event row. A leaf: it imports
//! no sibling, so conversation, outbox, reports and calls can all use it.

use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::{db_err, get, get_enum, get_json, get_time};
use crate::domain::{Channel, Lead, LeadAlert, LeadStatus, Message, Priority, Speaker};
use crate::ids::{BusinessId, CallSid, ConversationId, LeadId};
use crate::store::{Result, StoreError};

/// The typed ids as text columns, so rows map to them directly (the
/// columns stay TEXT: not every id is a UUID).
macro_rules! text_column {
    ($($name:ty),+) => {$(
        impl tokio_postgres::types::ToSql for $name {
            fn to_sql(
                &self,
                ty: &tokio_postgres::types::Type,
                out: &mut bytes::BytesMut,
            ) -> std::result::Result<tokio_postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
                <&str as tokio_postgres::types::ToSql>::to_sql(&self.as_str(), ty, out)
            }

            fn accepts(ty: &tokio_postgres::types::Type) -> bool {
                <&str as tokio_postgres::types::ToSql>::accepts(ty)
            }

            tokio_postgres::types::to_sql_checked!();
        }

        impl<'a> tokio_postgres::types::FromSql<'a> for $name {
            fn from_sql(
                ty: &tokio_postgres::types::Type,
                raw: &'a [u8],
            ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
                <String as tokio_postgres::types::FromSql>::from_sql(ty, raw).map(<$name>::from)
            }

            fn accepts(ty: &tokio_postgres::types::Type) -> bool {
                <String as tokio_postgres::types::FromSql>::accepts(ty)
            }
        }
    )+};
}

text_column!(BusinessId, LeadId, CallSid, ConversationId);

pub(super) async fn event(
    c: &impl GenericClient,
    business_id: &str,
    kind: &str,
    channel: Option<Channel>,
    data: &serde_json::Value,
    ts: &str,
) -> Result<()> {
    let channel = channel.map(Channel::as_str);
    c.execute(
        "INSERT INTO analytics_events (business_id, kind, channel, data, created_at) VALUES ($1, $2, $3, $4, $5)",
        &[&business_id, &kind, &channel, data, &ts],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}

fn message_row(r: &Row) -> Result<Message> {
    Ok(Message { role: get_enum(r, 0, Speaker::parse)?, content: get(r, 1)?, created_at: get_time(r, 2)? })
}

pub(super) async fn transcript(c: &impl GenericClient, conversation_id: &str) -> Result<Vec<Message>> {
    c.query(
        "SELECT role, content, created_at FROM messages WHERE conversation_id = $1 ORDER BY id",
        &[&conversation_id],
    )
    .await
    .map_err(db_err)?
    .iter()
    .map(message_row)
    .collect()
}

/// The lines of a lead's conversation, checked to be the business's.
pub(super) async fn business_transcript(
    c: &impl GenericClient,
    business_id: &str,
    conversation_id: &str,
) -> Result<Vec<Message>> {
    c.query(
        "SELECT m.role, m.content, m.created_at FROM messages m
         JOIN conversations c ON c.id = m.conversation_id
         WHERE m.conversation_id = $1 AND c.business_id = $2 ORDER BY m.id",
        &[&conversation_id, &business_id],
    )
    .await
    .map_err(db_err)?
    .iter()
    .map(message_row)
    .collect()
}

/// The last `limit` lines of a conversation, oldest first.
pub(super) async fn transcript_tail(
    c: &impl GenericClient,
    conversation_id: &str,
    limit: u32,
) -> Result<Vec<Message>> {
    let mut rows = c
        .query(
            "SELECT role, content, created_at FROM messages WHERE conversation_id = $1 ORDER BY id DESC LIMIT $2",
            &[&conversation_id, &i64::from(limit)],
        )
        .await
        .map_err(db_err)?
        .iter()
        .map(message_row)
        .collect::<Result<Vec<_>>>()?;
    rows.reverse();
    Ok(rows)
}

/// A lead's columns, and whether its URGENT alert reached anyone (from the outbox).
pub(super) const LEAD_COLUMNS: &str =
    "id, business_id, conversation_id, channel, status, priority, contact_name, contact_email, \
     contact_phone, address, notes, captured_data, created_at, updated_at, is_test, owner_notes, \
     CASE WHEN priority <> 'URGENT' OR is_test THEN NULL \
          WHEN EXISTS (SELECT 1 FROM notifications n WHERE n.lead_id = leads.id \
                AND n.kind IN ('urgent_lead', 'urgent_update') AND n.state = 'sent') THEN 'sent' \
          WHEN EXISTS (SELECT 1 FROM notifications n WHERE n.lead_id = leads.id \
                AND n.kind IN ('urgent_lead', 'urgent_update') AND n.state IN ('pending', 'in_flight')) THEN 'sending' \
          ELSE 'not_sent' END";

pub(super) fn lead_row(r: &Row) -> Result<Lead> {
    Ok(Lead {
        id: get(r, 0)?,
        business_id: get(r, 1)?,
        conversation_id: get(r, 2)?,
        channel: get_enum(r, 3, Channel::parse)?,
        status: get_enum(r, 4, LeadStatus::parse)?,
        priority: get_enum(r, 5, Priority::parse)?,
        contact_name: get(r, 6)?,
        contact_email: get(r, 7)?,
        contact_phone: get(r, 8)?,
        address: get(r, 9)?,
        notes: get(r, 10)?,
        captured: get_json(r, 11)?,
        created_at: get_time(r, 12)?,
        updated_at: get_time(r, 13)?,
        is_test: get(r, 14)?,
        owner_notes: get(r, 15)?,
        alert: get::<Option<String>>(r, 16)?.as_deref().and_then(LeadAlert::parse),
    })
}

pub(super) async fn lead(c: &impl GenericClient, business_id: &str, lead_id: &str) -> Result<Lead> {
    lead_rows(c, "id = $1 AND business_id = $2", &[&lead_id, &business_id])
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::NotFound(format!("lead {lead_id}")))
}

/// Leads matching `filter` (a WHERE clause, with its ORDER BY and LIMIT).
pub(super) async fn lead_rows(
    c: &impl GenericClient,
    filter: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Lead>> {
    c.query(&format!("SELECT {LEAD_COLUMNS} FROM leads WHERE {filter}"), params)
        .await
        .map_err(db_err)?
        .iter()
        .map(lead_row)
        .collect()
}
