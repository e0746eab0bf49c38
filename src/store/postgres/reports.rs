//! Leads as the owner browses them, analytics rows, triage marks, and the
//! demo's sample week.

use deadpool_postgres::GenericClient;
use serde_json::json;
use tokio_postgres::types::ToSql;

use super::rows::{business_transcript, event, lead_rows};
use super::{db_err, get, get_enum, get_u32, to_json};
use crate::demo::Sample;
use crate::domain::{new_id, Channel, Lead, Priority};
use crate::store::admin::{
    ActivityData, BusinessActivity, CallEndings, CallOutcomes, CallRecord, EmergencyOutcomes, EventRow,
    LeadDetail, LeadFilter, Outcomes, StatusWeek,
};
use crate::store::rollup::QuarterHours;
use crate::store::{contains_pattern, phone_pattern, Result, StoreError};

/// The WHERE clause and its (text) parameters; the business always comes first.
// A per-backend copy of SQLite's: `$n` placeholders, ILIKE, JSON cast to text.
fn lead_where(business_id: &str, f: &LeadFilter) -> (String, Vec<String>) {
    let mut sql = String::from("business_id = $1");
    let mut args = vec![business_id.to_string()];
    let equal = [
        ("status", f.status.map(|s| s.as_str())),
        ("priority", f.priority.map(|p| p.as_str())),
        ("channel", f.channel.map(|c| c.as_str())),
    ];
    for (col, value) in equal.iter().filter_map(|(col, v)| v.map(|v| (*col, v))) {
        args.push(value.to_string());
        sql.push_str(&format!(" AND {col} = ${}", args.len()));
    }
    for (op, value) in [(">=", &f.from), ("<", &f.to)] {
        if let Some(value) = value {
            args.push(value.clone());
            sql.push_str(&format!(" AND created_at {op} ${}", args.len()));
        }
    }
    if let Some(q) = f.search.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        args.push(contains_pattern(q));
        let n = args.len();
        // ILIKE: SQLite's LIKE ignores ASCII case too.
        let mut like: Vec<String> = [
            "contact_name",
            "contact_email",
            "contact_phone",
            "address",
            "notes",
            "captured_data::text",
            "owner_notes",
        ]
        .iter()
        .map(|col| format!("{col} ILIKE ${n} ESCAPE '\\'"))
        .collect();
        if let Some(phone) = phone_pattern(q) {
            args.push(phone);
            like.push(format!("contact_phone LIKE ${}", args.len()));
        }
        sql.push_str(&format!(" AND ({})", like.join(" OR ")));
    }
    (sql, args)
}

pub(super) async fn find_leads(
    c: &impl GenericClient,
    business_id: &str,
    f: &LeadFilter,
) -> Result<(Vec<Lead>, u64)> {
    let (clause, args) = lead_where(business_id, f);
    let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
    let total: i64 = get(
        &c.query_one(&format!("SELECT COUNT(*) FROM leads WHERE {clause}"), &params).await.map_err(db_err)?,
        0,
    )?;
    let limit = if f.limit == 0 { 100 } else { f.limit };
    let filter = format!("{clause} ORDER BY created_at DESC, id LIMIT {limit} OFFSET {}", f.offset);
    let leads = lead_rows(c, &filter, &params).await?;
    Ok((leads, total as u64))
}

pub(super) async fn lead_detail(
    c: &impl GenericClient,
    business_id: &str,
    lead_id: &str,
) -> Result<LeadDetail> {
    let lead = super::rows::lead(c, business_id, lead_id).await?;
    let (transcript, call) = match &lead.conversation_id {
        Some(conversation) => {
            let transcript = business_transcript(c, business_id, conversation).await?;
            let call = c
                .query_opt(
                    "SELECT call_sid, from_number, status, duration_seconds, recording_url, summary, started_at
                     FROM calls WHERE conversation_id = $1 AND business_id = $2 ORDER BY started_at DESC LIMIT 1",
                    &[conversation, &business_id],
                )
                .await
                .map_err(db_err)?
                .map(|r| {
                    Ok::<_, StoreError>(CallRecord {
                        call_sid: get(&r, 0)?,
                        from_number: get(&r, 1)?,
                        status: get(&r, 2)?,
                        duration_seconds: get(&r, 3)?,
                        recording_url: get(&r, 4)?,
                        summary: get(&r, 5)?,
                        started_at: super::get_time(&r, 6)?,
                    })
                })
                .transpose()?;
            (transcript, call)
        }
        None => (Vec::new(), None),
    };
    Ok(LeadDetail { lead, transcript, call })
}

pub(super) async fn activity(c: &impl GenericClient, business_id: &str, since: &str) -> Result<ActivityData> {
    // Counted as they arrived (analytics_rollup, migration 0015), as on
    // SQLite: conversations per channel and quarter hour, questions per UTC
    // day and text, by their first asking (the report keeps the earliest
    // wording).
    let events = c
        .query(
            "SELECT kind, NULLIF(channel, ''), NULLIF(question, ''), first_at, count FROM analytics_rollup
             WHERE business_id = $1 AND kind IN ('knowledge_answered', 'knowledge_unanswered')
               AND bucket >= substr($2, 1, 10)
             ORDER BY first_at",
            &[&business_id, &since],
        )
        .await
        .map_err(db_err)?
        .into_iter()
        .chain(
            c.query(
                "SELECT kind, NULLIF(channel, ''), NULLIF(question, ''), first_at, count FROM analytics_rollup
                 WHERE business_id = $1 AND kind = 'conversation_started' AND bucket >= substr($2, 1, 16)",
                &[&business_id, &since],
            )
            .await
            .map_err(db_err)?,
        )
        .map(|r| {
            let channel: Option<String> = get(&r, 1)?;
            let question: Option<String> = get(&r, 2)?;
            Ok(EventRow {
                kind: get(&r, 0)?,
                channel: channel.as_deref().and_then(Channel::parse),
                data: question.map_or(serde_json::Value::Null, |q| json!({ "question": q })),
                created_at: super::get_time(&r, 3)?,
                count: get_u32(&r, 4)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let leads = c
        .query(
            "SELECT priority, channel, created_at FROM leads WHERE business_id = $1 AND created_at >= $2",
            &[&business_id, &since],
        )
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| {
            Ok((get_enum(r, 0, Priority::parse)?, get_enum(r, 1, Channel::parse)?, super::get_time(r, 2)?))
        })
        .collect::<Result<Vec<_>>>()?;
    let calls = c
        .query(
            "SELECT started_at, duration_seconds FROM calls WHERE business_id = $1 AND started_at >= $2",
            &[&business_id, &since],
        )
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| Ok((super::get_time(r, 0)?, get(r, 1)?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(ActivityData { events, leads, calls })
}

/// The same figures as on SQLite, from the same quarter-hour rollups
/// (migration 0015) plus the rows of a partial first quarter hour; hung-up
/// calls' leads, the p90 and the owner's marks read live (see SQLite's).
/// The SQL is per backend (one statement here with `percentile_disc`; on
/// SQLite several, with index hints and the p90 as an OFFSET); the rule that
/// turns the counts into outcomes is shared ([`CallOutcomes::from_endings`]).
pub(super) async fn outcomes(c: &impl GenericClient, business_id: &str, since: &str) -> Result<Outcomes> {
    let q = QuarterHours::from_since(since)?;
    let args: [&(dyn ToSql + Sync); 4] = [&business_id, &since, &q.first_bucket, &q.head_end];
    // Every week's edge from now back past `since` (one more for clocks
    // that disagree with the database's).
    let weeks = i32::try_from(q.weeks_back() + 2).unwrap_or(i32::MAX);
    let row = c
        .query_one(
            "WITH k AS (
                 SELECT calls, answered, agent_hung_up, caller_hung_up, transferred, voicemail, seconds, timed
                 FROM call_rollup WHERE business_id = $1 AND bucket >= $3
                 UNION ALL
                 SELECT 1, (mode IS NOT NULL)::int, COALESCE(ended_reason = 'agent_hung_up', FALSE)::int,
                     COALESCE(ended_reason = 'caller_hung_up', FALSE)::int,
                     COALESCE(ended_reason = 'transferred', FALSE)::int,
                     COALESCE(ended_reason = 'voicemail', FALSE)::int,
                     COALESCE(duration_seconds, 0), (duration_seconds IS NOT NULL)::int
                 FROM calls WHERE business_id = $1 AND started_at >= $2 AND started_at < $4),
             e AS (
                 SELECT urgent, high FROM lead_rollup WHERE business_id = $1 AND bucket >= $3
                 UNION ALL
                 SELECT (priority = 'URGENT')::int, (priority = 'HIGH')::int FROM leads
                 WHERE business_id = $1 AND created_at >= $2 AND created_at < $4 AND NOT is_test)
             SELECT COALESCE(SUM(calls), 0)::bigint, COALESCE(SUM(answered), 0)::bigint,
                 COALESCE(SUM(agent_hung_up), 0)::bigint, COALESCE(SUM(caller_hung_up), 0)::bigint,
                 COALESCE(SUM(transferred), 0)::bigint, COALESCE(SUM(voicemail), 0)::bigint,
                 -- As AVG: the numeric sum over the count.
                 (SUM(seconds)::numeric / NULLIF(SUM(timed), 0))::float8,
                 (SELECT COUNT(*) FROM calls h
                  WHERE h.business_id = $1 AND h.started_at >= $2 AND h.ended_reason = 'caller_hung_up'
                    AND EXISTS (SELECT 1 FROM leads l WHERE l.conversation_id = h.conversation_id
                                AND l.business_id = $1 AND l.created_at >= $2)),
                 -- Nearest rank: the ceil(0.9 n)-th shortest call.
                 (SELECT percentile_disc(0.9) WITHIN GROUP (ORDER BY duration_seconds) FROM calls
                  WHERE business_id = $1 AND started_at >= $2),
                 (SELECT COALESCE(SUM(urgent), 0)::bigint FROM e), (SELECT COALESCE(SUM(high), 0)::bigint FROM e),
                 (SELECT COUNT(*) FROM triage_marks m JOIN leads l ON l.id = m.lead_id
                  WHERE m.business_id = $1 AND m.level = 'NORMAL' AND l.business_id = $1 AND l.created_at >= $2
                    AND NOT l.is_test AND l.priority IN ('URGENT', 'HIGH'))
             FROM k",
            &args,
        )
        .await
        .map_err(db_err)?;
    let endings = CallEndings {
        total: get_u32(&row, 0)?,
        answered: get_u32(&row, 1)?,
        agent_hung_up: get_u32(&row, 2)?,
        caller_hung_up: get_u32(&row, 3)?,
        transferred: get_u32(&row, 4)?,
        voicemail: get_u32(&row, 5)?,
        hung_up_with_lead: get_u32(&row, 7)?,
    };
    let calls = CallOutcomes::from_endings(endings, get(&row, 6)?, get(&row, 8)?);
    let (urgent, high, marked) = (get_u32(&row, 9)?, get_u32(&row, 10)?, get_u32(&row, 11)?);
    let emergencies = EmergencyOutcomes::new(urgent, high, marked);
    let lead_status_by_week = c
        .query(STATUS_BY_WEEK, &[args[0], args[1], args[2], args[3], &weeks])
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| {
            Ok(StatusWeek {
                weeks_ago: get_u32(r, 0)?,
                new: get_u32(r, 1)?,
                contacted: get_u32(r, 2)?,
                qualified: get_u32(r, 3)?,
                closed: get_u32(r, 4)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Outcomes { calls, emergencies, lead_status_by_week, ..Outcomes::default() })
}

/// Leads by status and whole weeks before now() (the transaction's
/// instant). A rollup quarter hour counts in one week unless a week's edge
/// (now() - k weeks, k = 1..$5) falls in it: those few, and a partial first
/// quarter hour ($2 to $4), are read from the leads themselves. ($5 comes
/// as a number so the plan knows the edges are few: an estimate of
/// thousands made Postgres compile the statement with JIT, 60 ms.)
const STATUS_BY_WEEK: &str = "
WITH edge AS (
    SELECT DISTINCT quarter_hour(to_char((now() - k * interval '7 days') AT TIME ZONE 'UTC',
                                         'YYYY-MM-DD\"T\"HH24:MI')) AS b
    FROM generate_series(1, $5::int) AS k),
rows AS (
    SELECT GREATEST(FLOOR(EXTRACT(EPOCH FROM (now() - (bucket || ':00Z')::timestamptz)) / 604800), 0) AS w,
        status_new AS a, status_contacted AS b, status_qualified AS c, status_closed AS d
    FROM lead_rollup WHERE business_id = $1 AND bucket >= $3 AND bucket NOT IN (SELECT b FROM edge)
    UNION ALL
    SELECT GREATEST(FLOOR(EXTRACT(EPOCH FROM (now() - l.created_at::timestamptz)) / 604800), 0),
        (l.status = 'NEW')::int, (l.status = 'CONTACTED')::int, (l.status = 'QUALIFIED')::int,
        (l.status = 'CLOSED')::int
    FROM edge JOIN leads l ON l.business_id = $1 AND l.created_at >= edge.b || ':00.000Z'
        AND l.created_at < to_char((edge.b || ':00Z')::timestamptz AT TIME ZONE 'UTC' + interval '15 minutes',
                                   'YYYY-MM-DD\"T\"HH24:MI') || ':00.000Z'
    WHERE edge.b >= $3 AND NOT l.is_test
    UNION ALL
    SELECT GREATEST(FLOOR(EXTRACT(EPOCH FROM (now() - created_at::timestamptz)) / 604800), 0),
        (status = 'NEW')::int, (status = 'CONTACTED')::int, (status = 'QUALIFIED')::int, (status = 'CLOSED')::int
    FROM leads WHERE business_id = $1 AND created_at >= $2 AND created_at < $4 AND NOT is_test)
SELECT w::bigint, SUM(a)::bigint, SUM(b)::bigint, SUM(c)::bigint, SUM(d)::bigint FROM rows
GROUP BY w HAVING SUM(a + b + c + d) > 0 ORDER BY w";

pub(super) async fn businesses_activity(
    c: &impl GenericClient,
    since: &str,
) -> Result<Vec<BusinessActivity>> {
    c.query(
        "SELECT b.id,
             (SELECT COUNT(*) FROM conversations c WHERE c.business_id = b.id AND c.started_at >= $1),
             (SELECT COUNT(*) FROM leads l WHERE l.business_id = b.id AND l.created_at >= $1),
             (SELECT MAX(c.started_at) FROM conversations c WHERE c.business_id = b.id)
         FROM businesses b",
        &[&since],
    )
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| {
        Ok(BusinessActivity {
            business_id: get(r, 0)?,
            conversations: get_u32(r, 1)?,
            leads: get_u32(r, 2)?,
            last_activity_at: super::get_opt_time(r, 3)?,
        })
    })
    .collect()
}

/// A past moment of the demo's week; never in the future.
fn at(days_ago: i64, hour: u32, minute: i64) -> String {
    let day = chrono::Utc::now().date_naive() - chrono::Duration::days(days_ago);
    let t =
        day.and_hms_opt(hour.min(23), 0, 0).unwrap_or_default().and_utc() + chrono::Duration::minutes(minute);
    crate::domain::rfc3339(t.min(chrono::Utc::now()))
}

/// The demo's sample week (as `sqlite/demo.rs`): history, no notifications.
pub(super) async fn add_samples(c: &impl GenericClient, business_id: &str, samples: &[Sample]) -> Result<()> {
    super::business::load_business(c, business_id).await?;
    for (i, s) in samples.iter().enumerate() {
        let ts = at(s.days_ago, s.hour, (i as i64 * 7) % 50);
        let channel = Some(s.channel);
        let conversation = new_id();
        c.execute(
            "INSERT INTO conversations (id, business_id, channel, external_id, emergency_level, started_at, ended_at)
             VALUES ($1, $2, $3, NULL, $4, $5, $5)",
            &[&conversation, &business_id, &s.channel.as_str(), &s.priority.as_str(), &ts],
        )
        .await
        .map_err(db_err)?;
        event(c, business_id, "conversation_started", channel, &json!({}), &ts).await?;
        for (role, text) in &s.lines {
            c.execute(
                "INSERT INTO messages (conversation_id, role, content, created_at) VALUES ($1, $2, $3, $4)",
                &[&conversation, &role.as_str(), text, &ts],
            )
            .await
            .map_err(db_err)?;
        }
        if s.name.is_none() {
            event(c, business_id, "knowledge_answered", channel, &json!({ "question": s.problem }), &ts)
                .await?;
            continue;
        }
        let lead = new_id();
        let captured = json!({ "first_message": s.problem, "problem": s.problem });
        c.execute(
            "INSERT INTO leads (id, business_id, conversation_id, channel, status, priority, contact_name,
                 contact_phone, address, notes, captured_data, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
            &[
                &lead,
                &business_id,
                &conversation,
                &s.channel.as_str(),
                &s.status.as_str(),
                &s.priority.as_str(),
                &s.name,
                &s.phone,
                &s.address,
                &s.problem,
                &to_json(&captured)?,
                &ts,
            ],
        )
        .await
        .map_err(db_err)?;
        event(c, business_id, "lead_created", channel, &json!({ "lead_id": lead }), &ts).await?;
        if s.priority == Priority::Urgent {
            let data = json!({ "lead_id": lead, "priority": "URGENT" });
            event(c, business_id, "emergency_escalated", None, &data, &ts).await?;
        }
        if let Some(seconds) = s.call_seconds {
            let sid = format!("CAdemo{}", &new_id()[..26]);
            c.execute(
                "INSERT INTO calls (call_sid, business_id, conversation_id, from_number, to_number, status,
                     duration_seconds, summary, mode, ended_reason, started_at, updated_at, ended_at)
                 VALUES ($1, $2, $3, $4, NULL, 'completed', $5, $6, 'gather', 'agent_hung_up', $7, $7, $7)",
                &[&sid, &business_id, &conversation, &s.phone, &i64::from(seconds), &s.problem, &ts],
            )
            .await
            .map_err(db_err)?;
            event(c, business_id, "call_started", Some(Channel::Voice), &json!({ "call_sid": sid }), &ts)
                .await?;
            let data = json!({ "call_sid": sid, "duration_seconds": seconds, "reason": "agent_hung_up", "mode": "gather" });
            event(c, business_id, "call_ended", Some(Channel::Voice), &data, &ts).await?;
        }
    }
    Ok(())
}
