//! When a business's daily digest is due: at its chosen local hour, in its
//! own timezone, once per local day (the day is part of the idempotency key,
//! so a restart never sends two).

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

#[cfg(test)]
use crate::domain::rfc3339;
use crate::store::outbox::Event;

/// The UTC instant of `hour`:00 local time on `date` (the first such
/// instant when clocks go back, the hour after a gap when they go forward).
fn local_hour(tz: Tz, date: NaiveDate, hour: u32) -> Option<DateTime<Utc>> {
    let naive = date.and_hms_opt(hour, 0, 0)?;
    tz.from_local_datetime(&naive)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(naive + Duration::hours(1))).earliest())
        .map(|t| t.with_timezone(&Utc))
}

/// The digest due at `now` for a business in `timezone` (an IANA name;
/// unknown names count as UTC) at local `hour`: None before that hour, else
/// the event for today covering the 24 hours (one local day) before it.
pub fn due(timezone: &str, hour: u8, now: DateTime<Utc>) -> Option<Event> {
    let tz: Tz = timezone.parse().unwrap_or(Tz::UTC);
    let local = now.with_timezone(&tz);
    if local.hour() < u32::from(hour) {
        return None;
    }
    let date = local.date_naive();
    let until = local_hour(tz, date, u32::from(hour))?;
    let since = local_hour(tz, date.pred_opt()?, u32::from(hour))?;
    Some(Event::Digest { date: date.to_string(), since, until })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        crate::domain::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn due_at_the_local_hour_once_per_local_day() {
        // 17:59 in Chicago (CDT, UTC-5) is not yet 18:00.
        assert_eq!(due("America/Chicago", 18, at("2025-06-10T22:59:00Z")), None);
        let Some(Event::Digest { date, since, until }) =
            due("America/Chicago", 18, at("2025-06-10T23:05:00Z"))
        else {
            panic!("due at 18:05 local");
        };
        assert_eq!(date, "2025-06-10");
        assert_eq!(rfc3339(until), "2025-06-10T23:00:00.000Z");
        assert_eq!(rfc3339(since), "2025-06-09T23:00:00.000Z");
        // Past local midnight it is the next local day, not yet due.
        assert_eq!(due("America/Chicago", 18, at("2025-06-11T05:30:00Z")), None);
        // Unknown zones are UTC.
        let Some(Event::Digest { date, .. }) = due("Mars/Olympus", 0, at("2025-06-10T00:00:00Z")) else {
            panic!("due at midnight UTC");
        };
        assert_eq!(date, "2025-06-10");
    }

    #[test]
    fn a_day_with_a_clock_change_is_23_hours() {
        // Europe/London moves to BST on 2025-03-30: that day's window is 23 hours.
        let Some(Event::Digest { since, until, .. }) = due("Europe/London", 18, at("2025-03-30T17:30:00Z"))
        else {
            panic!("due");
        };
        assert_eq!(rfc3339(since), "2025-03-29T18:00:00.000Z");
        assert_eq!(rfc3339(until), "2025-03-30T17:00:00.000Z");
    }
}
