//! Businesses, agent configurations, questions, knowledge documents and users.

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use super::{db_err, enum_col, json_col, query_all, time_col, to_json};
use crate::domain::{
    new_id, now, AgentConfig, Business, BusinessBundle, BusinessFacts, BusinessType, EmergencyRules,
    ExpectedFormat, KnowledgeDoc, NewBusiness, PlanTier, Priority, Profile, Question, Role, User, VoiceMode,
};
use crate::store::{ImportOutcome, Result, StoreError};

pub(super) const BUSINESS_COLUMNS: &str =
    "id, name, business_type, plan_tier, twilio_phone_number, notification_email, \
     notification_phone_number, country, timezone, website_origins, created_at, updated_at, \
     notification_webhook_url";

pub(super) fn business_row(row: &Row<'_>) -> rusqlite::Result<Business> {
    Ok(Business {
        id: row.get(0)?,
        name: row.get(1)?,
        business_type: enum_col(row, 2, BusinessType::parse)?,
        plan_tier: enum_col(row, 3, PlanTier::parse)?,
        twilio_phone_number: row.get(4)?,
        notification_email: row.get(5)?,
        notification_phone_number: row.get(6)?,
        country: row.get(7)?,
        timezone: row.get(8)?,
        website_origins: json_col(row, 9)?,
        created_at: time_col(row, 10)?,
        updated_at: time_col(row, 11)?,
        notification_webhook_url: row.get(12)?,
    })
}

pub(super) fn user_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        email: row.get(1)?,
        password_hash: row.get(2)?,
        role: enum_col(row, 3, Role::parse)?,
        business_id: row.get(4)?,
        created_at: time_col(row, 5)?,
    })
}

pub(super) fn load_business(conn: &Connection, id: &str) -> Result<Business> {
    conn.query_row(&format!("SELECT {BUSINESS_COLUMNS} FROM businesses WHERE id = ?1"), [id], business_row)
        .optional()
        .map_err(db_err)?
        .ok_or_else(|| StoreError::NotFound(format!("business {id}")))
}

/// Finds the business an import should update: same number first, then same name.
fn match_existing(tx: &Transaction<'_>, b: &NewBusiness) -> Result<Option<String>> {
    if let Some(number) = &b.twilio_phone_number {
        let by_number: Option<String> = tx
            .query_row("SELECT id FROM businesses WHERE twilio_phone_number = ?1", [number], |r| r.get(0))
            .optional()
            .map_err(db_err)?;
        if by_number.is_some() {
            return Ok(by_number);
        }
    }
    let ids: Vec<String> =
        query_all(tx, "SELECT id FROM businesses WHERE name = ?1 COLLATE NOCASE", [b.name.trim()], |r| {
            r.get(0)
        })?;
    match ids.len() {
        0 => Ok(None),
        1 => Ok(ids.into_iter().next()),
        n => Err(StoreError::Conflict(format!(
            "{n} businesses are named '{}'; give twilio_phone_number to say which one to update",
            b.name
        ))),
    }
}

pub(super) fn write_bundle(tx: &Transaction<'_>, bundle: &BusinessBundle) -> Result<ImportOutcome> {
    let b = &bundle.business;
    let ts = now();
    let origins = to_json(&b.website_origins)?;
    let existing = match_existing(tx, b)?;
    let created = existing.is_none();
    let business_id = existing.unwrap_or_else(new_id);
    if let Some(number) = &b.twilio_phone_number {
        let owner: Option<String> = tx
            .query_row(
                "SELECT name FROM businesses WHERE twilio_phone_number = ?1 AND id <> ?2",
                params![number, business_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        if let Some(owner) = owner {
            return Err(StoreError::Conflict(format!(
                "twilio_phone_number {number} already belongs to business '{owner}'"
            )));
        }
    }
    tx.execute(
        "INSERT INTO businesses (id, name, business_type, plan_tier, twilio_phone_number, notification_email,
             notification_phone_number, country, timezone, website_origins, created_at, updated_at,
             notification_webhook_url, webhook_secret)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12, lower(hex(randomblob(32))))
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, business_type = excluded.business_type,
             plan_tier = excluded.plan_tier, twilio_phone_number = excluded.twilio_phone_number,
             notification_email = excluded.notification_email,
             notification_phone_number = excluded.notification_phone_number, country = excluded.country,
             timezone = excluded.timezone, website_origins = excluded.website_origins,
             notification_webhook_url = excluded.notification_webhook_url,
             updated_at = excluded.updated_at",
        params![
            business_id,
            b.name.trim(),
            b.business_type.as_str(),
            b.plan_tier.as_str(),
            b.twilio_phone_number,
            b.notification_email,
            b.notification_phone_number,
            b.country,
            b.timezone,
            origins,
            ts,
            b.notification_webhook_url
        ],
    )
    .map_err(db_err)?;

    let config_id = upsert_agent(tx, &business_id, &bundle.agent, &ts)?;

    // The file is the whole truth for questions and documents: replace them.
    replace_questions(tx, &config_id, &bundle.questions, &ts)?;
    replace_documents(tx, &business_id, &bundle.knowledge, &ts)?;
    write_rules(tx, &business_id, &bundle.emergency_rules)?;
    super::outbox::write_prefs(tx, &business_id, &bundle.notifications)?;
    write_facts(tx, &business_id, &bundle.facts)?;
    super::knowledge::write_glossary(tx, &business_id, &bundle.glossary)?;
    super::knowledge::index_documents(tx, &business_id)?;
    Ok(ImportOutcome { business_id: business_id.into(), created })
}

fn replace_questions(tx: &Transaction<'_>, config_id: &str, questions: &[Question], ts: &str) -> Result<()> {
    tx.execute("DELETE FROM lead_capture_questions WHERE config_id = ?1", [&config_id]).map_err(db_err)?;
    for q in questions {
        tx.execute(
            "INSERT INTO lead_capture_questions (id, config_id, question_text, expected_format, \"order\",
                 is_required, maps_to_lead_field, is_essential_for_emergency, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
            params![
                new_id(),
                config_id,
                q.question_text,
                q.expected_format.as_str(),
                q.order,
                q.is_required,
                q.maps_to_lead_field,
                q.is_essential_for_emergency,
                ts
            ],
        )
        .map_err(db_err)?;
    }
    Ok(())
}

fn replace_documents(tx: &Transaction<'_>, business_id: &str, docs: &[KnowledgeDoc], ts: &str) -> Result<()> {
    tx.execute("DELETE FROM knowledge_documents WHERE business_id = ?1", [&business_id]).map_err(db_err)?;
    for doc in docs {
        tx.execute(
            "INSERT INTO knowledge_documents (id, business_id, title, content, source_url, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![new_id(), business_id, doc.title, doc.content, doc.source_url, ts],
        )
        .map_err(db_err)?;
    }
    Ok(())
}

/// Creates or replaces a business's agent configuration; returns its id.
// A per-backend copy of Postgres's: the same upsert, with `?n` placeholders on the blocking writer.
pub(super) fn upsert_agent(
    tx: &Transaction<'_>,
    business_id: &str,
    a: &AgentConfig,
    ts: &str,
) -> Result<String> {
    tx
        .query_row(
            "INSERT INTO agent_configs (id, business_id, agent_name, persona_prompt, welcome_message, color_theme,
                 lead_capture_completion_message, voice_greeting_message, voice_completion_message,
                 voice_emergency_message, voice_end_call_message, twilio_voice, twilio_language,
                 created_at, updated_at, voice_mode, realtime_voice)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14, ?15, ?16)
             ON CONFLICT (business_id) DO UPDATE SET agent_name = excluded.agent_name,
                 persona_prompt = excluded.persona_prompt, welcome_message = excluded.welcome_message,
                 color_theme = excluded.color_theme,
                 lead_capture_completion_message = excluded.lead_capture_completion_message,
                 voice_greeting_message = excluded.voice_greeting_message,
                 voice_completion_message = excluded.voice_completion_message,
                 voice_emergency_message = excluded.voice_emergency_message,
                 voice_end_call_message = excluded.voice_end_call_message,
                 twilio_voice = excluded.twilio_voice, twilio_language = excluded.twilio_language,
                 voice_mode = excluded.voice_mode, realtime_voice = excluded.realtime_voice,
                 updated_at = excluded.updated_at
             RETURNING id",
            params![
                new_id(),
                business_id,
                a.agent_name,
                a.persona_prompt,
                a.welcome_message,
                to_json(&a.color_theme)?,
                a.lead_capture_completion_message,
                a.voice_greeting_message,
                a.voice_completion_message,
                a.voice_emergency_message,
                a.voice_end_call_message,
                a.twilio_voice,
                a.twilio_language,
                ts,
                a.voice_mode.as_str(),
                a.realtime_voice
            ],
            |r| r.get(0),
        )
        .map_err(db_err)
}

/// The business, its agent configuration and its questions in order.
pub(super) fn read_profile(conn: &Connection, id: &str) -> Result<Profile> {
    let b = load_business(conn, id)?;
    let (config_id, agent) = conn
        .query_row(
            "SELECT id, agent_name, persona_prompt, welcome_message, color_theme, lead_capture_completion_message,
                 voice_greeting_message, voice_completion_message, voice_emergency_message,
                 voice_end_call_message, twilio_voice, twilio_language, voice_mode, realtime_voice
             FROM agent_configs WHERE business_id = ?1",
            [id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    AgentConfig {
                        agent_name: r.get(1)?,
                        persona_prompt: r.get(2)?,
                        welcome_message: r.get(3)?,
                        color_theme: json_col(r, 4)?,
                        lead_capture_completion_message: r.get(5)?,
                        voice_greeting_message: r.get(6)?,
                        voice_completion_message: r.get(7)?,
                        voice_emergency_message: r.get(8)?,
                        voice_end_call_message: r.get(9)?,
                        twilio_voice: r.get(10)?,
                        twilio_language: r.get(11)?,
                        voice_mode: enum_col(r, 12, VoiceMode::parse)?,
                        realtime_voice: r.get(13)?,
                    },
                ))
            },
        )
        .optional()
        .map_err(db_err)?
        .unwrap_or_else(|| (String::new(), AgentConfig::default()));
    let questions = query_all(
        conn,
        "SELECT question_text, expected_format, \"order\", is_required, maps_to_lead_field,
                 is_essential_for_emergency
             FROM lead_capture_questions WHERE config_id = ?1 ORDER BY \"order\"",
        [&config_id],
        |r| {
            Ok(Question {
                question_text: r.get(0)?,
                expected_format: enum_col(r, 1, ExpectedFormat::parse)?,
                order: r.get(2)?,
                is_required: r.get(3)?,
                maps_to_lead_field: r.get(4)?,
                is_essential_for_emergency: r.get(5)?,
            })
        },
    )?;
    let emergency_rules = read_rules(conn, id)?;
    let facts = read_facts(conn, id)?;
    let glossary = super::knowledge::read_glossary(conn, id)?;
    let triage_marks = super::triage_marks::of_business(conn, id)?;
    Ok(Profile { business: b, agent, questions, emergency_rules, facts, glossary, triage_marks })
}

/// The business's facts; the defaults (nothing said) when none were saved.
pub(super) fn read_facts(conn: &Connection, business_id: &str) -> Result<BusinessFacts> {
    let json: Option<String> = conn
        .query_row("SELECT facts FROM business_facts WHERE business_id = ?1", [business_id], |r| r.get(0))
        .optional()
        .map_err(db_err)?;
    match json {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| StoreError::Invalid(format!("stored business facts are unreadable: {e}"))),
        None => Ok(BusinessFacts::default()),
    }
}

pub(super) fn write_facts(tx: &Transaction<'_>, business_id: &str, facts: &BusinessFacts) -> Result<()> {
    tx.execute(
        "INSERT INTO business_facts (business_id, facts, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (business_id) DO UPDATE SET facts = excluded.facts, updated_at = excluded.updated_at",
        params![business_id, to_json(facts)?, now()],
    )
    .map_err(db_err)?;
    Ok(())
}

pub(super) fn read_bundle(conn: &Connection, id: &str) -> Result<BusinessBundle> {
    let Profile { business: b, agent, questions, emergency_rules, facts, glossary, .. } =
        read_profile(conn, id)?;
    let knowledge = query_all(
        conn,
        "SELECT title, content, source_url FROM knowledge_documents WHERE business_id = ?1
             ORDER BY created_at, rowid",
        [id],
        |r| Ok(KnowledgeDoc { title: r.get(0)?, content: r.get(1)?, source_url: r.get(2)? }),
    )?;
    Ok(BusinessBundle {
        business: NewBusiness::from(b),
        agent,
        questions,
        knowledge,
        emergency_rules,
        notifications: super::outbox::read_prefs(conn, id)?,
        facts,
        glossary,
    })
}

/// Replaces the owner's triage changes.
pub(super) fn write_rules(tx: &Transaction<'_>, business_id: &str, rules: &EmergencyRules) -> Result<()> {
    tx.execute("DELETE FROM emergency_rules WHERE business_id = ?1", [business_id]).map_err(db_err)?;
    let ts = now();
    let rows = rules
        .add
        .iter()
        .map(|(level, phrase)| ("add", Some(level.as_str()), phrase))
        .chain(rules.remove.iter().map(|phrase| ("remove", None, phrase)));
    for (action, level, phrase) in rows {
        tx.execute(
            "INSERT OR IGNORE INTO emergency_rules (business_id, action, level, phrase, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![business_id, action, level, phrase.trim(), ts],
        )
        .map_err(db_err)?;
    }
    Ok(())
}

fn read_rules(conn: &Connection, business_id: &str) -> Result<EmergencyRules> {
    let rows = query_all(
        conn,
        "SELECT action, level, phrase FROM emergency_rules WHERE business_id = ?1 ORDER BY id",
        [business_id],
        |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, String>(2)?)),
    )?;
    let mut rules = EmergencyRules::default();
    for (action, level, phrase) in rows {
        match (action.as_str(), level.as_deref().and_then(Priority::parse)) {
            ("add", Some(level)) => rules.add.push((level, phrase)),
            _ => rules.remove.push(phrase),
        }
    }
    Ok(rules)
}
