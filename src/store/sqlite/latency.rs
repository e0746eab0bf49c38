//! Reply latency: one row per turn, and its median and p90 per local day and
//! channel, and for the period, by nearest rank. The rollup (migration 0015)
//! counts replies per day, channel and 64 ms: those counts give each figure's
//! rank and the 64 ms slice that holds it, and a short walk of that slice
//! (`LIMIT 1 OFFSET k`) gives the exact value.

use rusqlite::types::Value;
use rusqlite::{params, Connection, Transaction};

use super::{db_err, enum_col, query_all};
use crate::domain::{rfc3339, Channel};
use crate::store::admin::{LatencyStat, PERIOD};
use crate::store::rollup::{plan, Slice};
use crate::store::{LatencySample, Result};

/// Nothing is recorded for a test conversation (nor another business's).
pub(super) fn record(tx: &Transaction<'_>, s: &LatencySample) -> Result<()> {
    tx.execute(
        "INSERT INTO response_latency (business_id, conversation_id, channel, mode, ms, day, created_at)
         SELECT business_id, id, ?3, ?4, ?5, ?6, ?7 FROM conversations
         WHERE id = ?2 AND business_id = ?1 AND is_test = 0",
        params![s.business_id, s.conversation_id, s.channel.as_str(), s.mode, s.ms, s.day, rfc3339(s.at)],
    )
    .map_err(db_err)?;
    Ok(())
}

/// Median and p90 per day and channel, then per channel for the whole
/// period (`span` "period"); `business_id` None is every business.
pub(super) fn stats(
    conn: &Connection,
    business_id: Option<&str>,
    first_day: &str,
    last_day: &str,
) -> Result<Vec<LatencyStat>> {
    // The business (when one) comes first in every statement and index.
    let (scope, rollup_index, index) = match business_id {
        Some(_) => ("business_id = ?1 AND", "", "response_latency_day"),
        None => ("?1 IS NULL AND", "INDEXED BY response_latency_rollup_all", "response_latency_all"),
    };
    let business = Value::from(business_id.map(str::to_string));
    // One snapshot: the counts and the walks see the same rows.
    let tx = conn.unchecked_transaction().map_err(db_err)?;
    let conn: &Connection = &tx;
    let rows: Vec<(String, Channel, u32, u32)> = query_all(
        conn,
        &format!(
            "SELECT day, channel, bucket, SUM(turns) FROM response_latency_rollup {rollup_index}
             WHERE {scope} channel IN ('CHAT', 'VOICE') AND day BETWEEN ?2 AND ?3
             GROUP BY channel, day, bucket ORDER BY channel, day, bucket"
        ),
        params![business, first_day, last_day],
        |r| Ok((r.get(0)?, enum_col(r, 1, Channel::parse)?, r.get(2)?, r.get(3)?)),
    )?;
    let day_sql = format!(
        "SELECT ms FROM response_latency INDEXED BY {index}
         WHERE {scope} channel = ?2 AND day = ?3 AND ms >= ?4 AND ms < ?5 ORDER BY ms LIMIT 1 OFFSET ?6"
    );
    // The period's slice lies in several days: a seek into each, then a
    // sort of the slice's few replies.
    let period_sql = format!(
        "SELECT ms FROM response_latency INDEXED BY {index}
         WHERE {scope} channel = ?2 AND day IN (SELECT value FROM json_each(?3)) AND ms >= ?4 AND ms < ?5
         ORDER BY ms LIMIT 1 OFFSET ?6"
    );
    let read = |slice: &Slice| -> Result<u32> {
        let (lo, hi) = slice.range();
        let (sql, days) = match slice.days.as_slice() {
            [day] => (&day_sql, day.clone()),
            days => (&period_sql, serde_json::Value::from(days.to_vec()).to_string()),
        };
        let mut statement = conn.prepare_cached(sql).map_err(db_err)?;
        statement
            .query_row(params![business, slice.channel.as_str(), days, lo, hi, slice.offset], |r| r.get(0))
            .map_err(db_err)
    };
    let mut spans = plan(&rows);
    // Days first (by day, then channel), then the period's, as before.
    spans.sort_by(|a, b| (a.span == PERIOD, &a.span, a.channel).cmp(&(b.span == PERIOD, &b.span, b.channel)));
    spans
        .iter()
        .map(|s| {
            Ok(LatencyStat {
                span: s.span.clone(),
                channel: s.channel,
                turns: s.turns,
                median_ms: read(&s.median)?,
                p90_ms: read(&s.p90)?,
            })
        })
        .collect()
}
