//! Businesses, agent configurations, questions, knowledge documents, rules,
//! facts, notification preferences and users' rows.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::{db_err, get, get_enum, get_json, get_time, get_u32, to_json};
use crate::domain::{
    new_id, now, AgentConfig, Business, BusinessBundle, BusinessFacts, BusinessType, EmergencyRules,
    ExpectedFormat, KnowledgeDoc, NewBusiness, NotificationPrefs, PlanTier, Priority, Profile, Question,
    Role, User, VoiceMode,
};
use crate::store::{ImportOutcome, Result, StoreError};

pub(super) const BUSINESS_COLUMNS: &str =
    "id, name, business_type, plan_tier, twilio_phone_number, notification_email, \
     notification_phone_number, country, timezone, website_origins, created_at, updated_at, \
     notification_webhook_url";

pub(super) fn business_row(r: &Row) -> Result<Business> {
    Ok(Business {
        id: get(r, 0)?,
        name: get(r, 1)?,
        business_type: get_enum(r, 2, BusinessType::parse)?,
        plan_tier: get_enum(r, 3, PlanTier::parse)?,
        twilio_phone_number: get(r, 4)?,
        notification_email: get(r, 5)?,
        notification_phone_number: get(r, 6)?,
        country: get(r, 7)?,
        timezone: get(r, 8)?,
        website_origins: get_json(r, 9)?,
        created_at: get_time(r, 10)?,
        updated_at: get_time(r, 11)?,
        notification_webhook_url: get(r, 12)?,
    })
}

pub(super) fn user_row(r: &Row) -> Result<User> {
    Ok(User {
        id: get(r, 0)?,
        email: get(r, 1)?,
        password_hash: get(r, 2)?,
        role: get_enum(r, 3, Role::parse)?,
        business_id: get(r, 4)?,
        created_at: get_time(r, 5)?,
    })
}

pub(super) async fn load_business(c: &impl GenericClient, id: &str) -> Result<Business> {
    c.query_opt(&format!("SELECT {BUSINESS_COLUMNS} FROM businesses WHERE id = $1"), &[&id])
        .await
        .map_err(db_err)?
        .map(|r| business_row(&r))
        .transpose()?
        .ok_or_else(|| StoreError::NotFound(format!("business {id}")))
}

/// A fresh key for signing the business's webhooks (hex, 32 random bytes).
pub(super) fn webhook_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Finds the business an import should update: same number first, then same name.
async fn match_existing(c: &impl GenericClient, b: &NewBusiness) -> Result<Option<String>> {
    if let Some(number) = &b.twilio_phone_number {
        let by_number = c
            .query_opt("SELECT id FROM businesses WHERE twilio_phone_number = $1", &[number])
            .await
            .map_err(db_err)?;
        if let Some(r) = by_number {
            return Ok(Some(get(&r, 0)?));
        }
    }
    let rows = c
        .query("SELECT id FROM businesses WHERE lower(name) = lower($1)", &[&b.name.trim()])
        .await
        .map_err(db_err)?;
    match rows.len() {
        0 => Ok(None),
        1 => Ok(Some(get(&rows[0], 0)?)),
        n => Err(StoreError::Conflict(format!(
            "{n} businesses are named '{}'; give twilio_phone_number to say which one to update",
            b.name
        ))),
    }
}

pub(super) async fn write_bundle(c: &impl GenericClient, bundle: &BusinessBundle) -> Result<ImportOutcome> {
    let b = &bundle.business;
    let ts = now();
    let existing = match_existing(c, b).await?;
    let created = existing.is_none();
    let business_id = existing.unwrap_or_else(new_id);
    if let Some(number) = &b.twilio_phone_number {
        let owner = c
            .query_opt(
                "SELECT name FROM businesses WHERE twilio_phone_number = $1 AND id <> $2",
                &[number, &business_id],
            )
            .await
            .map_err(db_err)?;
        if let Some(owner) = owner {
            let owner: String = get(&owner, 0)?;
            return Err(StoreError::Conflict(format!(
                "twilio_phone_number {number} already belongs to business '{owner}'"
            )));
        }
    }
    c.execute(
        "INSERT INTO businesses (id, name, business_type, plan_tier, twilio_phone_number, notification_email,
             notification_phone_number, country, timezone, website_origins, created_at, updated_at,
             notification_webhook_url, webhook_secret)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, business_type = excluded.business_type,
             plan_tier = excluded.plan_tier, twilio_phone_number = excluded.twilio_phone_number,
             notification_email = excluded.notification_email,
             notification_phone_number = excluded.notification_phone_number, country = excluded.country,
             timezone = excluded.timezone, website_origins = excluded.website_origins,
             notification_webhook_url = excluded.notification_webhook_url,
             updated_at = excluded.updated_at",
        &[
            &business_id,
            &b.name.trim(),
            &b.business_type.as_str(),
            &b.plan_tier.as_str(),
            &b.twilio_phone_number,
            &b.notification_email,
            &b.notification_phone_number,
            &b.country,
            &b.timezone,
            &to_json(&b.website_origins)?,
            &ts,
            &b.notification_webhook_url,
            &webhook_secret(),
        ],
    )
    .await
    .map_err(db_err)?;

    let config_id = upsert_agent(c, &business_id, &bundle.agent, &ts).await?;

    // The file is the whole truth for questions and documents: replace them.
    c.execute("DELETE FROM lead_capture_questions WHERE config_id = $1", &[&config_id])
        .await
        .map_err(db_err)?;
    for q in &bundle.questions {
        insert_question(c, &new_id(), &config_id, q, i64::from(q.order), &ts).await?;
    }
    c.execute("DELETE FROM knowledge_documents WHERE business_id = $1", &[&business_id])
        .await
        .map_err(db_err)?;
    for doc in &bundle.knowledge {
        c.execute(
            "INSERT INTO knowledge_documents (id, business_id, title, content, source_url, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
            &[&new_id(), &business_id, &doc.title, &doc.content, &doc.source_url, &ts],
        )
        .await
        .map_err(db_err)?;
    }
    write_rules(c, &business_id, &bundle.emergency_rules).await?;
    write_prefs(c, &business_id, &bundle.notifications).await?;
    write_facts(c, &business_id, &bundle.facts).await?;
    super::knowledge::write_glossary(c, &business_id, &bundle.glossary).await?;
    super::knowledge::index_documents(c, &business_id).await?;
    Ok(ImportOutcome { business_id: business_id.into(), created })
}

pub(super) async fn insert_question(
    c: &impl GenericClient,
    id: &str,
    config_id: &str,
    q: &Question,
    order: i64,
    ts: &str,
) -> Result<()> {
    c.execute(
        "INSERT INTO lead_capture_questions (id, config_id, question_text, expected_format, \"order\",
             is_required, maps_to_lead_field, is_essential_for_emergency, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        &[
            &id,
            &config_id,
            &q.question_text,
            &q.expected_format.as_str(),
            &order,
            &q.is_required,
            &q.maps_to_lead_field,
            &q.is_essential_for_emergency,
            &ts,
        ],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Creates or replaces a business's agent configuration; returns its id.
// A per-backend copy of SQLite's: the same upsert, with `$n` placeholders on an async client.
pub(super) async fn upsert_agent(
    c: &impl GenericClient,
    business_id: &str,
    a: &AgentConfig,
    ts: &str,
) -> Result<String> {
    let row = c
        .query_one(
            "INSERT INTO agent_configs (id, business_id, agent_name, persona_prompt, welcome_message, color_theme,
                 lead_capture_completion_message, voice_greeting_message, voice_completion_message,
                 voice_emergency_message, voice_end_call_message, twilio_voice, twilio_language,
                 created_at, updated_at, voice_mode, realtime_voice)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15, $16)
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
            &[
                &new_id(),
                &business_id,
                &a.agent_name,
                &a.persona_prompt,
                &a.welcome_message,
                &to_json(&a.color_theme)?,
                &a.lead_capture_completion_message,
                &a.voice_greeting_message,
                &a.voice_completion_message,
                &a.voice_emergency_message,
                &a.voice_end_call_message,
                &a.twilio_voice,
                &a.twilio_language,
                &ts,
                &a.voice_mode.as_str(),
                &a.realtime_voice,
            ],
        )
        .await
        .map_err(db_err)?;
    get(&row, 0)
}

pub(super) fn question_row(r: &Row, from: usize) -> Result<Question> {
    Ok(Question {
        question_text: get(r, from)?,
        expected_format: get_enum(r, from + 1, ExpectedFormat::parse)?,
        order: get_u32(r, from + 2)?,
        is_required: get(r, from + 3)?,
        maps_to_lead_field: get(r, from + 4)?,
        is_essential_for_emergency: get(r, from + 5)?,
    })
}

/// The business, its agent configuration and its questions in order.
pub(super) async fn read_profile(c: &impl GenericClient, id: &str) -> Result<Profile> {
    let b = load_business(c, id).await?;
    let row = c
        .query_opt(
            "SELECT id, agent_name, persona_prompt, welcome_message, color_theme, lead_capture_completion_message,
                 voice_greeting_message, voice_completion_message, voice_emergency_message,
                 voice_end_call_message, twilio_voice, twilio_language, voice_mode, realtime_voice
             FROM agent_configs WHERE business_id = $1",
            &[&id],
        )
        .await
        .map_err(db_err)?;
    let (config_id, agent) = match row {
        Some(r) => (
            get::<String>(&r, 0)?,
            AgentConfig {
                agent_name: get(&r, 1)?,
                persona_prompt: get(&r, 2)?,
                welcome_message: get(&r, 3)?,
                color_theme: get_json(&r, 4)?,
                lead_capture_completion_message: get(&r, 5)?,
                voice_greeting_message: get(&r, 6)?,
                voice_completion_message: get(&r, 7)?,
                voice_emergency_message: get(&r, 8)?,
                voice_end_call_message: get(&r, 9)?,
                twilio_voice: get(&r, 10)?,
                twilio_language: get(&r, 11)?,
                voice_mode: get_enum(&r, 12, VoiceMode::parse)?,
                realtime_voice: get(&r, 13)?,
            },
        ),
        None => (String::new(), AgentConfig::default()),
    };
    let questions = c
        .query(
            "SELECT question_text, expected_format, \"order\", is_required, maps_to_lead_field,
                 is_essential_for_emergency
             FROM lead_capture_questions WHERE config_id = $1 ORDER BY \"order\"",
            &[&config_id],
        )
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| question_row(r, 0))
        .collect::<Result<Vec<_>>>()?;
    let emergency_rules = read_rules(c, id).await?;
    let facts = read_facts(c, id).await?;
    let glossary = super::knowledge::read_glossary(c, id).await?;
    let triage_marks = super::triage_marks::of_business(c, id).await?;
    Ok(Profile { business: b, agent, questions, emergency_rules, facts, glossary, triage_marks })
}

/// The business's facts; the defaults (nothing said) when none were saved.
pub(super) async fn read_facts(c: &impl GenericClient, business_id: &str) -> Result<BusinessFacts> {
    let row = c
        .query_opt("SELECT facts FROM business_facts WHERE business_id = $1", &[&business_id])
        .await
        .map_err(db_err)?;
    match row {
        Some(r) => get_json(&r, 0)
            .map_err(|e| StoreError::Invalid(format!("stored business facts are unreadable: {e}"))),
        None => Ok(BusinessFacts::default()),
    }
}

pub(super) async fn write_facts(
    c: &impl GenericClient,
    business_id: &str,
    facts: &BusinessFacts,
) -> Result<()> {
    c.execute(
        "INSERT INTO business_facts (business_id, facts, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (business_id) DO UPDATE SET facts = excluded.facts, updated_at = excluded.updated_at",
        &[&business_id, &to_json(facts)?, &now()],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(super) async fn read_bundle(c: &impl GenericClient, id: &str) -> Result<BusinessBundle> {
    let Profile { business: b, agent, questions, emergency_rules, facts, glossary, .. } =
        read_profile(c, id).await?;
    let knowledge = c
        .query(
            "SELECT title, content, source_url FROM knowledge_documents WHERE business_id = $1
                 ORDER BY created_at, seq",
            &[&id],
        )
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| Ok(KnowledgeDoc { title: get(r, 0)?, content: get(r, 1)?, source_url: get(r, 2)? }))
        .collect::<Result<Vec<_>>>()?;
    Ok(BusinessBundle {
        business: NewBusiness::from(b),
        agent,
        questions,
        knowledge,
        emergency_rules,
        notifications: read_prefs(c, id).await?,
        facts,
        glossary,
    })
}

/// Replaces the owner's triage changes.
pub(super) async fn write_rules(
    c: &impl GenericClient,
    business_id: &str,
    rules: &EmergencyRules,
) -> Result<()> {
    c.execute("DELETE FROM emergency_rules WHERE business_id = $1", &[&business_id]).await.map_err(db_err)?;
    let ts = now();
    let rows = rules
        .add
        .iter()
        .map(|(level, phrase)| ("add", Some(level.as_str()), phrase))
        .chain(rules.remove.iter().map(|phrase| ("remove", None, phrase)));
    for (action, level, phrase) in rows {
        c.execute(
            "INSERT INTO emergency_rules (business_id, action, level, phrase, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            &[&business_id, &action, &level, &phrase.trim(), &ts],
        )
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

async fn read_rules(c: &impl GenericClient, business_id: &str) -> Result<EmergencyRules> {
    let rows = c
        .query(
            "SELECT action, level, phrase FROM emergency_rules WHERE business_id = $1 ORDER BY id",
            &[&business_id],
        )
        .await
        .map_err(db_err)?;
    let mut rules = EmergencyRules::default();
    for r in &rows {
        let (action, level, phrase): (String, Option<String>, String) = (get(r, 0)?, get(r, 1)?, get(r, 2)?);
        match (action.as_str(), level.as_deref().and_then(Priority::parse)) {
            ("add", Some(level)) => rules.add.push((level, phrase)),
            _ => rules.remove.push(phrase),
        }
    }
    Ok(rules)
}

/// The owner's preferences; the defaults when none were saved.
pub(super) async fn read_prefs(c: &impl GenericClient, business_id: &str) -> Result<NotificationPrefs> {
    let row = c
        .query_opt("SELECT prefs FROM notification_prefs WHERE business_id = $1", &[&business_id])
        .await
        .map_err(db_err)?;
    match row {
        // Unreadable means a newer or damaged row: say so, keep the row.
        Some(r) => get_json(&r, 0)
            .map_err(|e| StoreError::Invalid(format!("stored notification preferences are unreadable: {e}"))),
        None => Ok(NotificationPrefs::default()),
    }
}

pub(super) async fn write_prefs(
    c: &impl GenericClient,
    business_id: &str,
    prefs: &NotificationPrefs,
) -> Result<()> {
    if prefs.digest_hour.is_some_and(|h| h > 23) {
        return Err(StoreError::Invalid("digest_hour: expected an hour from 0 to 23".into()));
    }
    c.execute(
        "INSERT INTO notification_prefs (business_id, prefs, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (business_id) DO UPDATE SET prefs = excluded.prefs, updated_at = excluded.updated_at",
        &[&business_id, &to_json(prefs)?, &now()],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}
