//! The owner's triage marks on leads ("this was / was not an emergency"):
//! exemplars for the business's triage classifier.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::{db_err, query_all};
use crate::domain::{now, Priority};
use crate::store::{Result, StoreError};

/// Marks a lead of the business; a later mark replaces an earlier one.
pub(super) fn mark(
    tx: &Transaction<'_>,
    business_id: &str,
    lead_id: &str,
    level: Priority,
    text: &str,
) -> Result<()> {
    let known: bool = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM leads WHERE id = ?1 AND business_id = ?2)",
            params![lead_id, business_id],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    if !known {
        return Err(StoreError::NotFound(format!("lead {lead_id}")));
    }
    tx.execute(
        "INSERT OR REPLACE INTO triage_marks (lead_id, business_id, level, text, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![lead_id, business_id, level.as_str(), text, now()],
    )
    .map_err(db_err)?;
    Ok(())
}

/// The level the owner gave a lead, if any.
pub(super) fn of_lead(conn: &Connection, business_id: &str, lead_id: &str) -> Result<Option<Priority>> {
    let level: Option<String> = conn
        .query_row(
            "SELECT level FROM triage_marks WHERE lead_id = ?1 AND business_id = ?2",
            params![lead_id, business_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)?;
    Ok(level.and_then(|l| Priority::parse(&l)))
}

/// Every mark of a business, oldest first: (level, message).
pub(super) fn of_business(conn: &Connection, business_id: &str) -> Result<Vec<(Priority, String)>> {
    let rows: Vec<(String, String)> = query_all(
        conn,
        "SELECT level, text FROM triage_marks WHERE business_id = ?1 ORDER BY created_at, lead_id",
        [business_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(rows.into_iter().filter_map(|(l, t)| Some((Priority::parse(&l)?, t))).collect())
}
