//! The owner's triage marks on leads ("this was / was not an emergency"):
//! exemplars for the business's triage classifier.

use deadpool_postgres::GenericClient;

use super::{changed, db_err, get};
use crate::domain::{now, Priority};
use crate::store::Result;

/// Marks a lead of the business; a later mark replaces an earlier one.
pub(super) async fn mark(
    c: &impl GenericClient,
    business_id: &str,
    lead_id: &str,
    level: Priority,
    text: &str,
) -> Result<()> {
    let n = c
        .execute(
            "INSERT INTO triage_marks (lead_id, business_id, level, text, created_at)
             SELECT id, business_id, $3, $4, $5 FROM leads WHERE id = $1 AND business_id = $2
             ON CONFLICT (lead_id) DO UPDATE SET level = excluded.level, text = excluded.text,
                 created_at = excluded.created_at",
            &[&lead_id, &business_id, &level.as_str(), &text, &now()],
        )
        .await
        .map_err(db_err)?;
    changed(n, &format!("lead {lead_id}"))
}

/// Every mark of a business, oldest first: (level, message).
pub(super) async fn of_business(
    c: &impl GenericClient,
    business_id: &str,
) -> Result<Vec<(Priority, String)>> {
    let rows = c
        .query(
            "SELECT level, text FROM triage_marks WHERE business_id = $1 ORDER BY created_at, lead_id",
            &[&business_id],
        )
        .await
        .map_err(db_err)?;
    let mut out = Vec::new();
    for r in &rows {
        if let Some(level) = Priority::parse(&get::<String>(r, 0)?) {
            out.push((level, get(r, 1)?));
        }
    }
    Ok(out)
}
