//! Leads as the owner browses them, and the rows analytics are computed from.

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Transaction};

use super::conversation::{lead_row, LEAD_COLUMNS};
use super::{db_err, enum_col, query_all};
use crate::domain::{now, Channel, Lead, LeadStatus, Message, Priority, Speaker};
use crate::store::admin::{
    ActivityData, BusinessActivity, CallEndings, CallOutcomes, CallRecord, EmergencyOutcomes, EventRow,
    LeadDetail, LeadFilter, Outcomes, StatusWeek,
};
use crate::store::rollup::{ranks, QuarterHours};
use crate::store::{contains_pattern, phone_pattern, Result, StoreError};

/// The WHERE clause and its parameters; the business always comes first.
// A per-backend copy of Postgres's: `?n` placeholders, LIKE (case-blind for ASCII).
fn lead_where(business_id: &str, f: &LeadFilter) -> (String, Vec<Value>) {
    let mut sql = String::from("business_id = ?1");
    let mut args: Vec<Value> = vec![Value::Text(business_id.to_string())];
    let equal = [
        ("status", f.status.map(|s| s.as_str())),
        ("priority", f.priority.map(|p| p.as_str())),
        ("channel", f.channel.map(|c| c.as_str())),
    ];
    let mut conditions: Vec<(&str, String)> =
        equal.iter().filter_map(|(col, v)| v.map(|v| (*col, v.to_string()))).collect();
    let ranges: Vec<(&str, String)> = [(">=", &f.from), ("<", &f.to)]
        .into_iter()
        .filter_map(|(op, v)| v.clone().map(|v| (op, v)))
        .collect();
    for (col, value) in conditions.drain(..) {
        args.push(Value::Text(value));
        sql.push_str(&format!(" AND {col} = ?{}", args.len()));
    }
    for (op, value) in ranges {
        args.push(Value::Text(value));
        sql.push_str(&format!(" AND created_at {op} ?{}", args.len()));
    }
    if let Some(q) = f.search.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        args.push(Value::Text(contains_pattern(q)));
        let n = args.len();
        let mut like: Vec<String> = [
            "contact_name",
            "contact_email",
            "contact_phone",
            "address",
            "notes",
            "captured_data",
            "owner_notes",
        ]
        .iter()
        .map(|col| format!("{col} LIKE ?{n} ESCAPE '\\'"))
        .collect();
        if let Some(phone) = phone_pattern(q) {
            args.push(Value::Text(phone));
            like.push(format!("contact_phone LIKE ?{}", args.len()));
        }
        sql.push_str(&format!(" AND ({})", like.join(" OR ")));
    }
    (sql, args)
}

pub(super) fn find_leads(conn: &Connection, business_id: &str, f: &LeadFilter) -> Result<(Vec<Lead>, u64)> {
    let (clause, args) = lead_where(business_id, f);
    let total: u64 = conn
        .query_row(
            &format!("SELECT COUNT(*) FROM leads WHERE {clause}"),
            params_from_iter(args.iter()),
            |r| r.get(0),
        )
        .map_err(db_err)?;
    let limit = if f.limit == 0 { 100 } else { f.limit };
    let sql = format!(
        "SELECT {LEAD_COLUMNS} FROM leads WHERE {clause} ORDER BY created_at DESC, id LIMIT {limit} OFFSET {}",
        f.offset
    );
    let leads = query_all(conn, &sql, params_from_iter(args.iter()), lead_row)?;
    Ok((leads, total))
}

pub(super) fn lead_detail(conn: &Connection, business_id: &str, lead_id: &str) -> Result<LeadDetail> {
    let lead = super::conversation::lead(conn, business_id, lead_id)?;
    let (transcript, call) = match &lead.conversation_id {
        Some(conversation) => {
            let transcript = query_all(
                conn,
                "SELECT m.role, m.content, m.created_at FROM messages m
                 JOIN conversations c ON c.id = m.conversation_id
                 WHERE m.conversation_id = ?1 AND c.business_id = ?2 ORDER BY m.id",
                [conversation, business_id],
                |r| {
                    Ok(Message {
                        role: enum_col(r, 0, Speaker::parse)?,
                        content: r.get(1)?,
                        created_at: super::time_col(r, 2)?,
                    })
                },
            )?;
            let call = conn
                .query_row(
                    "SELECT call_sid, from_number, status, duration_seconds, recording_url, summary, started_at
                     FROM calls WHERE conversation_id = ?1 AND business_id = ?2 ORDER BY started_at DESC LIMIT 1",
                    [conversation, business_id],
                    |r| {
                        Ok(CallRecord {
                            call_sid: r.get(0)?,
                            from_number: r.get(1)?,
                            status: r.get(2)?,
                            duration_seconds: r.get(3)?,
                            recording_url: r.get(4)?,
                            summary: r.get(5)?,
                            started_at: super::time_col(r, 6)?,
                        })
                    },
                )
                .optional()
                .map_err(db_err)?;
            (transcript, call)
        }
        None => (Vec::new(), None),
    };
    Ok(LeadDetail { lead, transcript, call })
}

pub(super) fn set_lead_status(
    tx: &Transaction<'_>,
    business_id: &str,
    lead_id: &str,
    status: LeadStatus,
) -> Result<Lead> {
    let n = tx
        .execute(
            "UPDATE leads SET status = ?1, updated_at = ?2 WHERE id = ?3 AND business_id = ?4",
            params![status.as_str(), now(), lead_id, business_id],
        )
        .map_err(db_err)?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("lead {lead_id}")));
    }
    super::conversation::lead(tx, business_id, lead_id)
}

pub(super) fn activity(conn: &Connection, business_id: &str, since: &str) -> Result<ActivityData> {
    // Counted as they arrived (analytics_rollup, kept by triggers):
    // conversations per channel and quarter hour, exact at the period's start
    // (a local midnight is a quarter hour); questions per UTC day and text,
    // from the UTC day the period starts in. The report merges questions and
    // keeps the earliest wording.
    // Conversations in the rollup's order (counting needs none); questions
    // by their first asking, so the report keeps the earliest wording
    // without sorting thousands of conversation rows too.
    let event = |r: &rusqlite::Row<'_>| {
        let channel: Option<String> = r.get(1)?;
        let question: Option<String> = r.get(2)?;
        Ok(EventRow {
            kind: r.get(0)?,
            channel: channel.as_deref().and_then(Channel::parse),
            data: question.map_or(serde_json::Value::Null, |q| serde_json::json!({ "question": q })),
            created_at: super::time_col(r, 3)?,
            count: r.get(4)?,
        })
    };
    let mut events = query_all(
        conn,
        "SELECT kind, NULLIF(channel, ''), NULLIF(question, ''), first_at, count FROM analytics_rollup
         WHERE business_id = ?1 AND kind IN ('knowledge_answered', 'knowledge_unanswered')
           AND bucket >= substr(?2, 1, 10)
         ORDER BY 4",
        [business_id, since],
        event,
    )?;
    events.extend(query_all(
        conn,
        "SELECT kind, NULLIF(channel, ''), NULLIF(question, ''), first_at, count FROM analytics_rollup
         WHERE business_id = ?1 AND kind = 'conversation_started' AND bucket >= substr(?2, 1, 16)",
        [business_id, since],
        event,
    )?);
    let leads = query_all(
        conn,
        "SELECT priority, channel, created_at FROM leads WHERE business_id = ?1 AND created_at >= ?2",
        [business_id, since],
        |r| Ok((enum_col(r, 0, Priority::parse)?, enum_col(r, 1, Channel::parse)?, super::time_col(r, 2)?)),
    )?;
    let calls = query_all(
        conn,
        "SELECT started_at, duration_seconds FROM calls WHERE business_id = ?1 AND started_at >= ?2",
        [business_id, since],
        |r| Ok((super::time_col(r, 0)?, r.get(1)?)),
    )?;
    Ok(ActivityData { events, leads, calls })
}

/// Call endings and lengths, emergencies and lead statuses for the period
/// from `since`: counts from the quarter-hour rollups (migration 0015) plus
/// the rows of a partial first quarter hour; what depends on other tables or
/// on the current instant is read live where it must be (see each part).
pub(super) fn outcomes(conn: &Connection, business_id: &str, since: &str) -> Result<Outcomes> {
    let q = QuarterHours::from_since(since)?;
    // One snapshot: the rollups and the rows beside them agree.
    let tx = conn.unchecked_transaction().map_err(db_err)?;
    let args = params![business_id, since, q.first_bucket, q.head_end];
    let (mut endings, lengths) = call_counts(&tx, args)?;
    endings.hung_up_with_lead = hung_up_with_lead(&tx, business_id, since)?;
    let p90_seconds = p90_seconds(&tx, business_id, since, lengths.timed)?;
    let emergencies = emergencies(&tx, business_id, since, args)?;
    let lead_status_by_week = query_all(&tx, STATUS_BY_WEEK, args, |r| {
        Ok(StatusWeek {
            weeks_ago: r.get(0)?,
            new: r.get(1)?,
            contacted: r.get(2)?,
            qualified: r.get(3)?,
            closed: r.get(4)?,
        })
    })?;
    Ok(Outcomes {
        calls: CallOutcomes::from_endings(endings, lengths.average_seconds, p90_seconds),
        emergencies,
        lead_status_by_week,
        ..Outcomes::default()
    })
}

/// The call rollup's lengths for a period.
struct CallLengths {
    average_seconds: Option<f64>,
    /// Calls with a known duration.
    timed: i64,
}

/// `args`: business, since, the first whole quarter hour, the end of the
/// partial one before it.
fn call_counts(tx: &Connection, args: &[&dyn rusqlite::ToSql]) -> Result<(CallEndings, CallLengths)> {
    tx.query_row(
        "SELECT COALESCE(SUM(calls), 0), COALESCE(SUM(answered), 0),
             COALESCE(SUM(agent_hung_up), 0), COALESCE(SUM(caller_hung_up), 0),
             COALESCE(SUM(transferred), 0), COALESCE(SUM(voicemail), 0),
             COALESCE(SUM(seconds), 0), COALESCE(SUM(timed), 0)
         FROM (SELECT calls, answered, agent_hung_up, caller_hung_up, transferred, voicemail, seconds, timed
               FROM call_rollup WHERE business_id = ?1 AND bucket >= ?3
               UNION ALL
               SELECT 1, mode IS NOT NULL, ended_reason IS 'agent_hung_up', ended_reason IS 'caller_hung_up',
                   ended_reason IS 'transferred', ended_reason IS 'voicemail',
                   COALESCE(duration_seconds, 0), duration_seconds IS NOT NULL
               FROM calls WHERE business_id = ?1 AND started_at >= ?2 AND started_at < ?4)",
        args,
        |r| {
            let seconds: i64 = r.get(6)?;
            let timed: i64 = r.get(7)?;
            let endings = CallEndings {
                total: r.get(0)?,
                answered: r.get(1)?,
                agent_hung_up: r.get(2)?,
                caller_hung_up: r.get(3)?,
                transferred: r.get(4)?,
                voicemail: r.get(5)?,
                hung_up_with_lead: 0,
            };
            // As AVG: the exact sum over the count.
            let average_seconds = (timed > 0).then(|| seconds as f64 / timed as f64);
            Ok((endings, CallLengths { average_seconds, timed }))
        },
    )
    .map_err(db_err)
}

/// Whether a hung-up call left a lead is a question about leads (made
/// during the call, or later): asked of the hung-up calls only, a lookup
/// each on leads.conversation_id.
fn hung_up_with_lead(tx: &Connection, business_id: &str, since: &str) -> Result<u32> {
    tx.query_row(
        "SELECT COUNT(*) FROM calls c INDEXED BY calls_hung_up
         WHERE c.business_id = ?1 AND c.started_at >= ?2 AND c.ended_reason = 'caller_hung_up'
           AND EXISTS (SELECT 1 FROM leads l INDEXED BY leads_conversation WHERE l.conversation_id = c.conversation_id
                       AND l.business_id = ?1 AND l.created_at >= ?2)",
        [business_id, since],
        |r| r.get(0),
    )
    .map_err(db_err)
}

/// Nearest rank: the ceil(0.9 n)-th shortest of the n timed calls (n from
/// the rollup), counted from the longest so the sort keeps only the
/// longest tenth, over a covering index.
fn p90_seconds(tx: &Connection, business_id: &str, since: &str, timed: i64) -> Result<Option<i64>> {
    match u32::try_from(timed) {
        Ok(n) if n > 0 => tx
            .query_row(
                "SELECT duration_seconds FROM calls INDEXED BY calls_duration
                 WHERE business_id = ?1 AND started_at >= ?2 AND duration_seconds IS NOT NULL
                 ORDER BY duration_seconds DESC LIMIT 1 OFFSET ?3",
                params![business_id, since, n - ranks(n).1],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err),
        _ => Ok(None),
    }
}

/// URGENT and HIGH from the lead rollup (plus a partial first quarter
/// hour); the owner's marks are few (one per lead judged): read live.
fn emergencies(
    tx: &Connection,
    business_id: &str,
    since: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<EmergencyOutcomes> {
    let (urgent, high): (u32, u32) = tx
        .query_row(
            "SELECT COALESCE(SUM(urgent), 0), COALESCE(SUM(high), 0)
             FROM (SELECT urgent, high FROM lead_rollup WHERE business_id = ?1 AND bucket >= ?3
                   UNION ALL
                   SELECT priority = 'URGENT', priority = 'HIGH' FROM leads
                   WHERE business_id = ?1 AND created_at >= ?2 AND created_at < ?4 AND is_test = 0)",
            args,
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(db_err)?;
    let marked: u32 = tx
        .query_row(
            "SELECT COUNT(*) FROM triage_marks m INDEXED BY triage_marks_level CROSS JOIN leads l ON l.id = m.lead_id
             WHERE m.business_id = ?1 AND m.level = 'NORMAL' AND l.business_id = ?1 AND l.created_at >= ?2
               AND l.is_test = 0 AND l.priority IN ('URGENT', 'HIGH')",
            [business_id, since],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    Ok(EmergencyOutcomes::new(urgent, high, marked))
}

/// Leads by status and whole weeks before now (`julianday('now')`, one
/// instant for the statement). A quarter hour of the rollup counts in one
/// week unless a week's edge (now - 7k days) falls in or beside it: those
/// quarter hours, the current one and anything later, and a partial first
/// one (?2 to ?4) are read from the leads themselves.
const STATUS_BY_WEEK: &str = "
WITH n AS (SELECT julianday('now') AS j, strftime('%Y-%m-%dT%H:%M', 'now') AS m),
     lim AS (SELECT substr(m, 1, 14) || printf('%02d', CAST(substr(m, 15, 2) AS INTEGER) / 15 * 15) AS b FROM n),
     -- Edges back to the period's start or the business's first lead, if later.
     edge(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM edge, n WHERE n.j - 7 * (k + 1) >= max(julianday(?2),
                     julianday((SELECT MIN(bucket) FROM lead_rollup WHERE business_id = ?1 AND bucket >= ?3))) - 1),
     near(at) AS (SELECT strftime('%Y-%m-%dT%H:%M', n.j - 7 * k, d.by) FROM edge, n,
                      (SELECT '-15 minutes' AS by UNION ALL SELECT '+0 minutes' UNION ALL SELECT '+15 minutes') AS d),
     live(b) AS (SELECT DISTINCT substr(at, 1, 14) || printf('%02d', CAST(substr(at, 15, 2) AS INTEGER) / 15 * 15)
                 FROM near),
     edges(b) AS (SELECT b FROM live WHERE b >= ?3 AND b < (SELECT b FROM lim)),
     rows(w, new, contacted, qualified, closed) AS (
         SELECT CAST((n.j - julianday(r.bucket)) / 7 AS INTEGER), r.status_new, r.status_contacted, r.status_qualified, r.status_closed
         FROM lead_rollup r, n
         WHERE r.business_id = ?1 AND r.bucket >= ?3 AND r.bucket < (SELECT b FROM lim)
           AND r.bucket NOT IN (SELECT b FROM edges)
         UNION ALL
         SELECT CAST((n.j - julianday(l.created_at)) / 7 AS INTEGER), l.status = 'NEW', l.status = 'CONTACTED',
             l.status = 'QUALIFIED', l.status = 'CLOSED'
         FROM leads l, n WHERE l.business_id = ?1 AND l.created_at >= ?2 AND l.created_at < ?4 AND l.is_test = 0
         UNION ALL
         SELECT CAST((n.j - julianday(l.created_at)) / 7 AS INTEGER), l.status = 'NEW', l.status = 'CONTACTED',
             l.status = 'QUALIFIED', l.status = 'CLOSED'
         FROM leads l, n
         WHERE l.business_id = ?1 AND l.created_at >= max((SELECT b FROM lim) || ':00.000Z', ?4)
           AND l.created_at >= ?2 AND l.is_test = 0
         UNION ALL
         SELECT CAST((n.j - julianday(l.created_at)) / 7 AS INTEGER), l.status = 'NEW', l.status = 'CONTACTED',
             l.status = 'QUALIFIED', l.status = 'CLOSED'
         FROM edges e, n, leads l
         WHERE l.business_id = ?1 AND l.created_at >= e.b || ':00.000Z'
           AND l.created_at < strftime('%Y-%m-%dT%H:%M', e.b, '+15 minutes') || ':00.000Z' AND l.is_test = 0)
SELECT w, SUM(new), SUM(contacted), SUM(qualified), SUM(closed) FROM rows
GROUP BY w HAVING SUM(new + contacted + qualified + closed) > 0 ORDER BY w";

pub(super) fn businesses_activity(conn: &Connection, since: &str) -> Result<Vec<BusinessActivity>> {
    query_all(
        conn,
        "SELECT b.id,
             (SELECT COUNT(*) FROM conversations c WHERE c.business_id = b.id AND c.started_at >= ?1),
             (SELECT COUNT(*) FROM leads l WHERE l.business_id = b.id AND l.created_at >= ?1),
             (SELECT MAX(c.started_at) FROM conversations c WHERE c.business_id = b.id)
         FROM businesses b",
        [since],
        |r| {
            Ok(BusinessActivity {
                business_id: r.get(0)?,
                conversations: r.get(1)?,
                leads: r.get(2)?,
                last_activity_at: super::opt_time_col(r, 3)?,
            })
        },
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_rollup_counts_exactly_from_the_periods_first_quarter_hour() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::sqlite::migrate::run(&mut conn).unwrap();
        conn.execute(
            "INSERT INTO businesses (id, name, business_type, plan_tier, created_at, updated_at)
             VALUES ('b', 'B', 'PLUMBING', 'PRO', 'x', 'x')",
            [],
        )
        .unwrap();
        let event = |kind: &str, channel: &str, data: &str, at: &str| {
            conn.execute(
                "INSERT INTO analytics_events (business_id, kind, channel, data, created_at) VALUES ('b', ?1, ?2, ?3, ?4)",
                params![kind, channel, data, at],
            )
            .unwrap();
        };
        // The period starts at a local midnight: 05:00 UTC (Chicago, CDT).
        let since = "2025-03-10T05:00:00.000Z";
        event("conversation_started", "CHAT", "{}", "2025-03-10T04:59:59.999Z");
        event("conversation_started", "CHAT", "{}", "2025-03-10T05:00:00.000Z");
        event("conversation_started", "CHAT", "{}", "2025-03-10T05:14:59.000Z");
        event("conversation_started", "VOICE", "{}", "2025-03-10T05:15:00.000Z");
        event("knowledge_answered", "CHAT", r#"{"question": "Open Saturday?"}"#, "2025-03-10T06:00:00.000Z");
        event("knowledge_answered", "CHAT", r#"{"question": "Open Saturday?"}"#, "2025-03-10T07:00:00.000Z");
        event("knowledge_unanswered", "CHAT", "not json", "2025-03-10T07:00:00.000Z");
        let rows = activity(&conn, "b", since).unwrap().events;
        let count = |kind: &str, channel: Option<Channel>| -> u32 {
            rows.iter()
                .filter(|e| e.kind == kind && (channel.is_none() || e.channel == channel))
                .map(|e| e.count)
                .sum()
        };
        assert_eq!(count("conversation_started", Some(Channel::Chat)), 2, "04:59:59 is before the period");
        assert_eq!(count("conversation_started", Some(Channel::Voice)), 1);
        let saturday: Vec<_> = rows.iter().filter(|e| e.kind == "knowledge_answered").collect();
        assert_eq!((saturday.len(), saturday[0].count), (1, 2));
        assert_eq!(
            crate::domain::rfc3339(saturday[0].created_at),
            "2025-03-10T06:00:00.000Z",
            "the earliest"
        );
        assert_eq!(count("knowledge_unanswered", None), 1, "bad data is counted, without a question");
        // Removing an event takes it out again.
        conn.execute("DELETE FROM analytics_events WHERE created_at = '2025-03-10T05:15:00.000Z'", [])
            .unwrap();
        assert_eq!(
            activity(&conn, "b", since)
                .unwrap()
                .events
                .iter()
                .filter(|e| e.channel == Some(Channel::Voice))
                .map(|e| e.count)
                .sum::<u32>(),
            0
        );
    }

    #[test]
    fn search_wildcards_are_literal_and_the_business_comes_first() {
        assert_eq!(contains_pattern("50%_off"), "%50\\%\\_off%");
        let f = LeadFilter {
            status: Some(LeadStatus::New),
            search: Some("dana".into()),
            ..LeadFilter::default()
        };
        let (sql, args) = lead_where("b1", &f);
        assert!(sql.starts_with("business_id = ?1 AND status = ?2"), "{sql}");
        assert!(sql.contains("contact_email LIKE ?3"), "{sql}");
        assert_eq!(args.len(), 3);
        let by_phone = LeadFilter { search: Some("(312) 555-0142".into()), ..LeadFilter::default() };
        let (sql, args) = lead_where("b1", &by_phone);
        assert!(sql.contains("contact_phone LIKE ?3"), "{sql}");
        assert_eq!(args[2], Value::Text("%3125550142%".into()));
    }
}
