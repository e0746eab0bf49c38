//! Reply latency: one row per turn, and its median and p90 per local day and
//! channel and for the period by nearest rank, as on SQLite: the rollup's
//! counts per 64 ms (migration 0015) give each rank's slice, and a seek into
//! that slice the exact value.

use deadpool_postgres::GenericClient;

use super::{db_err, get, get_enum, get_u32};
use crate::domain::{rfc3339, Channel};
use crate::store::admin::{LatencyStat, PERIOD};
use crate::store::{LatencySample, Result};

/// Nothing is recorded for a test conversation (nor another business's).
pub(super) async fn record(c: &impl GenericClient, s: &LatencySample) -> Result<()> {
    let ms = i32::try_from(s.ms).unwrap_or(i32::MAX);
    c.execute(
        "INSERT INTO response_latency (business_id, conversation_id, channel, mode, ms, day, created_at)
         SELECT business_id, id, $3, $4, $5, $6, $7 FROM conversations
         WHERE id = $2 AND business_id = $1 AND NOT is_test",
        &[&s.business_id, &s.conversation_id, &s.channel.as_str(), &s.mode, &ms, &s.day, &rfc3339(s.at)],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Median and p90 per day and channel, then per channel for the whole
/// period (`span` "period"); `business_id` None is every business.
pub(super) async fn stats(
    c: &impl GenericClient,
    business_id: Option<&str>,
    first_day: &str,
    last_day: &str,
) -> Result<Vec<LatencyStat>> {
    let (scope, replies_scope) = match business_id {
        Some(_) => ("business_id = $1", "r.business_id = $1"),
        None => ("$1::text IS NULL", "$1::text IS NULL"),
    };
    let rows = c
        .query(
            &STATS.replace("{scope}", scope).replace("{replies_scope}", replies_scope),
            &[&business_id, &first_day, &last_day],
        )
        .await
        .map_err(db_err)?;
    rows.iter()
        .map(|r| {
            let day: Option<String> = get(r, 0)?;
            let median: i32 = get(r, 3)?;
            let p90: i32 = get(r, 4)?;
            Ok(LatencyStat {
                span: day.unwrap_or_else(|| PERIOD.to_string()),
                channel: get_enum(r, 1, Channel::parse)?,
                turns: get_u32(r, 2)?,
                median_ms: u32::try_from(median).unwrap_or(0),
                p90_ms: u32::try_from(p90).unwrap_or(0),
            })
        })
        .collect()
}

/// One statement, so the counts and the slices see the same rows: the
/// rollup's counts per 64 ms for each day (`d`) and for the period (`p`,
/// day NULL), each rank's bucket and offset from the running counts, then
/// the value: a walk into that day's bucket in index order, or for the
/// period a seek into the bucket on each day that has replies in it
/// (`day = ANY`) and a sort of those few.
const STATS: &str = "
WITH d AS (
    SELECT day, channel, bucket, SUM(turns)::int AS n
    FROM response_latency_rollup
    WHERE {scope} AND day BETWEEN $2 AND $3 AND turns > 0
    GROUP BY channel, day, bucket),
b AS (
    SELECT day, channel, bucket, n, NULL::text[] AS days FROM d
    UNION ALL
    SELECT NULL, channel, bucket, SUM(n)::int, array_agg(day) FROM d GROUP BY channel, bucket),
c AS (
    SELECT day, channel, bucket, n, days,
        SUM(n) OVER (PARTITION BY day, channel ORDER BY bucket) AS upto,
        SUM(n) OVER (PARTITION BY day, channel) AS total
    FROM b),
q AS (
    SELECT day, channel, total, k.which, bucket, days, k.rank - (upto - n) - 1 AS off
    FROM c, LATERAL (VALUES (1, (total + 1) / 2), (2, (total * 9 + 9) / 10)) AS k(which, rank)
    WHERE k.rank > upto - n AND k.rank <= upto),
v AS (
    SELECT day, channel, total, which,
        (SELECT r.ms FROM response_latency r
         WHERE {replies_scope} AND r.day = q.day AND r.channel = q.channel
           AND r.ms >= q.bucket * 64 AND r.ms < q.bucket * 64 + 64
         ORDER BY r.ms OFFSET q.off LIMIT 1) AS ms
    FROM q WHERE day IS NOT NULL
    UNION ALL
    SELECT day, channel, total, which,
        (SELECT r.ms FROM response_latency r
         WHERE {replies_scope} AND r.day = ANY(q.days) AND r.channel = q.channel
           AND r.ms >= q.bucket * 64 AND r.ms < q.bucket * 64 + 64
         ORDER BY r.ms OFFSET q.off LIMIT 1)
    FROM q WHERE day IS NULL)
SELECT day, channel, total, MAX(ms) FILTER (WHERE which = 1), MAX(ms) FILTER (WHERE which = 2)
FROM v GROUP BY day, channel, total
ORDER BY day IS NULL, day, channel";
