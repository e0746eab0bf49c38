//! Reply latency: one row per turn, and its median and p90 per local day and
//! channel and for the period, in one statement (grouping sets;
//! `percentile_disc` is the nearest rank, as on SQLite).

use deadpool_postgres::GenericClient;

use super::{db_err, get, get_enum, get_u32};
use crate::domain::Channel;
use crate::store::admin::{LatencyStat, PERIOD};
use crate::store::{LatencySample, Result};

/// Nothing is recorded for a test conversation (nor another business's).
pub(super) async fn record(c: &impl GenericClient, s: &LatencySample) -> Result<()> {
    let ms = i32::try_from(s.ms).unwrap_or(i32::MAX);
    c.execute(
        "INSERT INTO response_latency (business_id, conversation_id, channel, mode, ms, day, created_at)
         SELECT business_id, id, $3, $4, $5, $6, $7 FROM conversations
         WHERE id = $2 AND business_id = $1 AND NOT is_test",
        &[&s.business_id, &s.conversation_id, &s.channel.as_str(), &s.mode, &ms, &s.day, &s.at],
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
    let rows = c
        .query(
            "SELECT day, channel, COUNT(*),
                 percentile_disc(0.5) WITHIN GROUP (ORDER BY ms),
                 percentile_disc(0.9) WITHIN GROUP (ORDER BY ms)
             FROM response_latency
             WHERE ($1::text IS NULL OR business_id = $1) AND day BETWEEN $2 AND $3
             GROUP BY GROUPING SETS ((day, channel), (channel))
             ORDER BY day IS NULL, day, channel",
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
