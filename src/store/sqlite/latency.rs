//! Reply latency: one row per turn, and its median and p90 per local day and
//! channel, and for the period, by nearest rank. Each figure is an ordered
//! walk of one index range to the wanted rank (`LIMIT 1 OFFSET k`): no
//! sort, so 100,000 replies cost a walk of about 60,000 index entries.

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, Transaction};

use super::{db_err, enum_col, query_all};
use crate::domain::Channel;
use crate::store::admin::{LatencyStat, PERIOD};
use crate::store::{LatencySample, Result};

/// Nothing is recorded for a test conversation (nor another business's).
pub(super) fn record(tx: &Transaction<'_>, s: &LatencySample) -> Result<()> {
    tx.execute(
        "INSERT INTO response_latency (business_id, conversation_id, channel, mode, ms, day, created_at)
         SELECT business_id, id, ?3, ?4, ?5, ?6, ?7 FROM conversations
         WHERE id = ?2 AND business_id = ?1 AND is_test = 0",
        params![s.business_id, s.conversation_id, s.channel.as_str(), s.mode, s.ms, s.day, s.at],
    )
    .map_err(db_err)?;
    Ok(())
}

/// The ceil(n/2)-th and ceil(0.9 n)-th ranks, from 1.
fn ranks(n: u32) -> (u32, u32) {
    (n.div_ceil(2), (n * 9).div_ceil(10))
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
    let (scope, index, period_index) = match business_id {
        Some(_) => ("business_id = ?1 AND", "response_latency_day", "response_latency_ms"),
        None => ("?1 IS NULL AND", "response_latency_all", "response_latency_all"),
    };
    let business = Value::from(business_id.map(str::to_string));
    // One snapshot: the counts and the walks see the same rows.
    let tx = conn.unchecked_transaction().map_err(db_err)?;
    let conn: &Connection = &tx;
    let counts: Vec<(String, Channel, u32)> = query_all(
        conn,
        &format!(
            "SELECT day, channel, COUNT(*) FROM response_latency INDEXED BY {index}
             WHERE {scope} channel IN ('CHAT', 'VOICE') AND day BETWEEN ?2 AND ?3
             GROUP BY channel, day ORDER BY day, channel"
        ),
        params![business, first_day, last_day],
        |r| Ok((r.get(0)?, enum_col(r, 1, Channel::parse)?, r.get(2)?)),
    )?;
    let mut out = Vec::with_capacity(counts.len() + 2);
    let day_sql = format!(
        "SELECT ms FROM response_latency INDEXED BY {index}
         WHERE {scope} channel = ?2 AND day = ?3 ORDER BY ms {{order}} LIMIT 1 OFFSET ?4"
    );
    for (day, channel, n) in &counts {
        let args = [business.clone(), Value::from(channel.as_str().to_string()), Value::from(day.clone())];
        out.push(rank_stat(conn, &day_sql, args, day, *channel, *n)?);
    }
    let period_sql = format!(
        "SELECT ms FROM response_latency INDEXED BY {period_index}
         WHERE {scope} channel = ?2 AND day BETWEEN ?3 AND ?4 ORDER BY ms {{order}} LIMIT 1 OFFSET ?5"
    );
    for channel in [Channel::Chat, Channel::Voice] {
        let n: u32 = counts.iter().filter(|c| c.1 == channel).map(|c| c.2).sum();
        if n == 0 {
            continue;
        }
        let args = [
            business.clone(),
            Value::from(channel.as_str().to_string()),
            Value::from(first_day.to_string()),
            Value::from(last_day.to_string()),
        ];
        out.push(rank_stat(conn, &period_sql, args, PERIOD, channel, n)?);
    }
    Ok(out)
}

/// The median walks up from the fastest reply, the p90 down from the
/// slowest (a tenth of the way): `sql` has an `{order}` to fill and takes
/// `args`, then the OFFSET.
fn rank_stat<const N: usize>(
    conn: &Connection,
    sql: &str,
    args: [Value; N],
    span: &str,
    channel: Channel,
    n: u32,
) -> Result<LatencyStat> {
    let (median, p90) = ranks(n);
    let at = |order: &str, offset: u32| -> Result<u32> {
        let mut all: Vec<Value> = args.to_vec();
        all.push(Value::from(i64::from(offset)));
        let mut statement = conn.prepare_cached(&sql.replace("{order}", order)).map_err(db_err)?;
        statement.query_row(params_from_iter(all.iter()), |r| r.get(0)).map_err(db_err)
    };
    Ok(LatencyStat {
        span: span.to_string(),
        channel,
        turns: n,
        median_ms: at("ASC", median - 1)?,
        p90_ms: at("DESC", n - p90)?,
    })
}

#[cfg(test)]
mod tests {
    use super::ranks;

    #[test]
    fn nearest_ranks() {
        assert_eq!(ranks(1), (1, 1));
        assert_eq!(ranks(2), (1, 2));
        assert_eq!(ranks(10), (5, 9));
        assert_eq!(ranks(11), (6, 10));
    }
}
