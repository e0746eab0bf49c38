//! What both backends share to read the analytics rollups (their migrations
//! 0015): where a period starts among the UTC quarter hours the call and lead
//! rollups are kept by, and how an exact quantile is found from reply counts
//! per 64 ms of latency.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, Utc};

use super::{Result, StoreError};
use crate::domain::Channel;

/// The width of a latency rollup bucket (`bucket = ms / 64` in the migrations).
pub const LATENCY_BUCKET_MS: u32 = 64;

/// A period starting at `since`, as the quarter-hour rollups see it: whole
/// buckets from `first_bucket` on, and the rows in `[since, head_end)`
/// (empty when `since` is on a quarter hour, as every local midnight is)
/// read live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarterHours {
    /// 'YYYY-MM-DDTHH:MM', as the rollups' `bucket`.
    pub first_bucket: String,
    /// The first bucket's start, as the rows' timestamps are written.
    pub head_end: String,
    first: DateTime<Utc>,
}

impl QuarterHours {
    pub fn from_since(since: &str) -> Result<QuarterHours> {
        let at = DateTime::parse_from_rfc3339(since)
            .map_err(|e| StoreError::Invalid(format!("period start {since:?}: {e}")))?
            .with_timezone(&Utc);
        let quarter = Duration::minutes(15);
        let floor = at.duration_trunc(quarter).map_err(|e| StoreError::Invalid(format!("{since:?}: {e}")))?;
        let first = if floor == at { floor } else { floor + quarter };
        Ok(QuarterHours {
            first_bucket: first.format("%Y-%m-%dT%H:%M").to_string(),
            head_end: crate::domain::rfc3339(first),
            first,
        })
    }

    /// Whole weeks from the first bucket to now (0 when it is in the future).
    pub fn weeks_back(&self) -> i64 {
        (Utc::now() - self.first).num_weeks().max(0)
    }
}

/// The ceil(n/2)-th and ceil(0.9 n)-th ranks, from 1 (nearest rank).
pub fn ranks(n: u32) -> (u32, u32) {
    (n.div_ceil(2), (n * 9).div_ceil(10))
}

/// Replies per 64 ms bucket, in bucket order.
pub type Buckets = BTreeMap<u32, u32>;

/// The bucket holding the `rank`-th fastest reply (from 1) and that reply's
/// offset among the bucket's own replies (from 0).
pub fn locate(buckets: &Buckets, rank: u32) -> Option<(u32, u32)> {
    let mut before = 0;
    for (&bucket, &n) in buckets {
        if before + n >= rank {
            return Some((bucket, rank - 1 - before));
        }
        before += n;
    }
    None
}

/// One quantile to read: the `offset`-th reply (from 0, fastest first) of
/// those in `bucket` for `channel` on `days`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    pub channel: Channel,
    pub days: Vec<String>,
    pub bucket: u32,
    pub offset: u32,
}

impl Slice {
    /// The latencies the bucket spans, `[lo, hi)`.
    pub fn range(&self) -> (u32, u32) {
        (self.bucket * LATENCY_BUCKET_MS, (self.bucket + 1) * LATENCY_BUCKET_MS)
    }
}

/// One span's figures to read: its turns, and the slices holding its median
/// and p90.
#[derive(Debug, Clone)]
pub struct SpanPlan {
    pub span: String,
    pub channel: Channel,
    pub turns: u32,
    pub median: Slice,
    pub p90: Slice,
}

/// From the rollup's rows (day, channel, bucket, turns), the slices to read
/// for each day and channel, then each channel's period (`span` PERIOD).
pub fn plan(rows: &[(String, Channel, u32, u32)]) -> Vec<SpanPlan> {
    let mut by_day: BTreeMap<(String, Channel), Buckets> = BTreeMap::new();
    let mut period: BTreeMap<Channel, BTreeMap<u32, (u32, Vec<String>)>> = BTreeMap::new();
    for (day, channel, bucket, n) in rows {
        if *n == 0 {
            continue;
        }
        *by_day.entry((day.clone(), *channel)).or_default().entry(*bucket).or_default() += n;
        let slot = period.entry(*channel).or_default().entry(*bucket).or_default();
        slot.0 += n;
        if slot.1.last() != Some(day) {
            slot.1.push(day.clone());
        }
    }
    let mut out = Vec::new();
    let mut span = |span: &str, channel: Channel, buckets: &Buckets, days: &dyn Fn(u32) -> Vec<String>| {
        let turns: u32 = buckets.values().sum();
        let (median, p90) = ranks(turns);
        let slice = |rank| {
            locate(buckets, rank).map(|(bucket, offset)| Slice {
                channel,
                days: days(bucket),
                bucket,
                offset,
            })
        };
        if let (Some(median), Some(p90)) = (slice(median), slice(p90)) {
            out.push(SpanPlan { span: span.to_string(), channel, turns, median, p90 });
        }
    };
    for ((day, channel), buckets) in &by_day {
        span(day, *channel, buckets, &|_| vec![day.clone()]);
    }
    for (channel, slots) in &period {
        let buckets: Buckets = slots.iter().map(|(b, (n, _))| (*b, *n)).collect();
        let days = |bucket: u32| slots.get(&bucket).map(|s| s.1.clone()).unwrap_or_default();
        span(super::admin::PERIOD, *channel, &buckets, &days);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn nearest_ranks() {
        assert_eq!(ranks(1), (1, 1));
        assert_eq!(ranks(2), (1, 2));
        assert_eq!(ranks(10), (5, 9));
        assert_eq!(ranks(11), (6, 10));
    }

    #[test]
    fn a_period_starts_on_a_quarter_hour_or_reads_its_head_live() {
        let q = QuarterHours::from_since("2025-03-10T05:00:00.000Z").unwrap();
        assert_eq!(
            (q.first_bucket.as_str(), q.head_end.as_str()),
            ("2025-03-10T05:00", "2025-03-10T05:00:00.000Z")
        );
        let q = QuarterHours::from_since("2025-03-10T05:00:00.001Z").unwrap();
        assert_eq!(
            (q.first_bucket.as_str(), q.head_end.as_str()),
            ("2025-03-10T05:15", "2025-03-10T05:15:00.000Z")
        );
        let q = QuarterHours::from_since("2025-03-10T23:59:00.000Z").unwrap();
        assert_eq!(q.first_bucket, "2025-03-11T00:00");
        assert!(QuarterHours::from_since("last week").is_err());
        let three_weeks = crate::domain::rfc3339(Utc::now() - Duration::days(22));
        assert_eq!(QuarterHours::from_since(&three_weeks).unwrap().weeks_back(), 3);
    }

    #[test]
    fn quantiles_are_found_in_their_bucket_at_their_offset() {
        let buckets: Buckets = [(3, 2), (5, 3), (9, 5)].into_iter().collect();
        assert_eq!(locate(&buckets, 1), Some((3, 0)));
        assert_eq!(locate(&buckets, 2), Some((3, 1)));
        assert_eq!(locate(&buckets, 3), Some((5, 0)));
        assert_eq!(locate(&buckets, 10), Some((9, 4)));
        assert_eq!(locate(&buckets, 11), None);
        let rows = vec![
            ("2025-03-10".to_string(), Channel::Chat, 3, 2),
            ("2025-03-10".to_string(), Channel::Chat, 9, 1),
            ("2025-03-11".to_string(), Channel::Chat, 3, 1),
            ("2025-03-11".to_string(), Channel::Chat, 5, 4),
        ];
        let plans = plan(&rows);
        assert_eq!(plans.len(), 3);
        let period = plans.iter().find(|p| p.span == crate::store::admin::PERIOD).unwrap();
        // 8 turns: bucket 3 holds 3 over both days, so the median (rank 4) is bucket 5's first.
        assert_eq!(period.turns, 8);
        assert_eq!((period.median.bucket, period.median.offset), (5, 0));
        assert_eq!(period.median.days, vec!["2025-03-11".to_string()]);
        assert_eq!((period.p90.bucket, period.p90.offset), (9, 0));
        assert_eq!(period.p90.days, vec!["2025-03-10".to_string()]);
        let first = &plans[0];
        assert_eq!(
            (first.span.as_str(), first.turns, first.median.bucket, first.p90.bucket),
            ("2025-03-10", 3, 3, 9)
        );
        assert_eq!(period.median.range(), (320, 384));
    }
}
