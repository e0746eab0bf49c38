//! The owner's settings, questions and knowledge documents; users and first-run
//! setup. Every statement names the business it acts on.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::business::{load_business, user_row, write_bundle, write_rules};
use super::{db_err, enum_col, query_all, to_json, SqliteStore};
use crate::domain::{
    new_id, now, AgentConfig, BusinessBundle, EmergencyRules, ExpectedFormat, KnowledgeDoc, Question, Role,
    User,
};
use crate::store::admin::{BusinessSettings, KnowledgeEntry, NotificationSettings, QuestionRow};
use crate::store::{NewUser, Result, StoreError};

const USER_COLUMNS: &str = "id, email, password_hash, role, business_id, created_at";

/// Inserts a user; `Conflict` when the email is taken.
pub(super) fn insert_user(tx: &Transaction<'_>, user: &NewUser) -> Result<User> {
    if let Some(bid) = &user.business_id {
        load_business(tx, bid)?;
    }
    let taken: bool = tx
        .query_row("SELECT EXISTS (SELECT 1 FROM users WHERE email = ?1)", [&user.email], |r| r.get(0))
        .map_err(db_err)?;
    if taken {
        return Err(StoreError::Conflict(format!("a user with email {} already exists", user.email)));
    }
    let id = new_id();
    let ts = now();
    tx.execute(
        "INSERT INTO users (id, email, password_hash, role, business_id, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![id, user.email, user.password_hash, user.role.as_str(), user.business_id, ts],
    )
    .map_err(db_err)?;
    user_by_id(tx, &id)
}

pub(super) fn user_by_id(conn: &Connection, id: &str) -> Result<User> {
    conn.query_row(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"), [id], user_row)
        .optional()
        .map_err(db_err)?
        .ok_or_else(|| StoreError::NotFound("user".into()))
}

pub(super) fn create_first_user(
    tx: &Transaction<'_>,
    bundle: Option<&BusinessBundle>,
    user: &NewUser,
) -> Result<User> {
    let users: i64 = tx.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0)).map_err(db_err)?;
    if users > 0 {
        return Err(StoreError::Conflict("this instance is already set up".into()));
    }
    match bundle {
        Some(bundle) => {
            let outcome = write_bundle(tx, bundle)?;
            insert_user(tx, &NewUser { business_id: Some(outcome.business_id), ..user.clone() })
        }
        None => insert_user(tx, &NewUser { business_id: None, role: Role::Operator, ..user.clone() }),
    }
}

/// Fails with NotFound when no row of `business_id` changed.
pub(super) fn changed(n: usize, what: &str) -> Result<()> {
    if n == 0 {
        Err(StoreError::NotFound(what.to_string()))
    } else {
        Ok(())
    }
}

pub(super) fn update_business_settings(tx: &Transaction<'_>, id: &str, s: &BusinessSettings) -> Result<()> {
    let n = tx
        .execute(
            "UPDATE businesses SET name = ?1, business_type = ?2, country = ?3, timezone = ?4, updated_at = ?5
             WHERE id = ?6",
            params![s.name, s.business_type.as_str(), s.country, s.timezone, now(), id],
        )
        .map_err(db_err)?;
    changed(n, "business")
}

pub(super) fn update_notifications(tx: &Transaction<'_>, id: &str, s: &NotificationSettings) -> Result<()> {
    let n = tx
        .execute(
            "UPDATE businesses SET notification_email = ?1, notification_phone_number = ?2,
                 notification_webhook_url = ?3, updated_at = ?4 WHERE id = ?5",
            params![s.email, s.phone, s.webhook_url, now(), id],
        )
        .map_err(db_err)?;
    changed(n, "business")
}

pub(super) fn set_origins(tx: &Transaction<'_>, id: &str, origins: &[String]) -> Result<()> {
    let n = tx
        .execute(
            "UPDATE businesses SET website_origins = ?1, updated_at = ?2 WHERE id = ?3",
            params![to_json(&origins)?, now(), id],
        )
        .map_err(db_err)?;
    changed(n, "business")
}

pub(super) fn set_twilio_number(tx: &Transaction<'_>, id: &str, number: Option<&str>) -> Result<()> {
    if let Some(number) = number {
        let owner: Option<String> = tx
            .query_row(
                "SELECT name FROM businesses WHERE twilio_phone_number = ?1 AND id <> ?2",
                params![number, id],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err)?;
        if let Some(owner) = owner {
            return Err(StoreError::Conflict(format!("{number} already belongs to business '{owner}'")));
        }
    }
    let n = tx
        .execute(
            "UPDATE businesses SET twilio_phone_number = ?1, updated_at = ?2 WHERE id = ?3",
            params![number, now(), id],
        )
        .map_err(db_err)?;
    changed(n, "business")
}

pub(super) fn update_agent(tx: &Transaction<'_>, id: &str, a: &AgentConfig) -> Result<()> {
    load_business(tx, id)?;
    super::business::upsert_agent(tx, id, a, &now()).map(|_| ())
}

pub(super) fn set_rules(tx: &Transaction<'_>, id: &str, rules: &EmergencyRules) -> Result<()> {
    load_business(tx, id)?;
    write_rules(tx, id, rules)
}

fn config_id(conn: &Connection, business_id: &str) -> Result<String> {
    conn.query_row("SELECT id FROM agent_configs WHERE business_id = ?1", [business_id], |r| r.get(0))
        .optional()
        .map_err(db_err)?
        .ok_or_else(|| StoreError::NotFound("business".into()))
}

pub(super) fn questions(conn: &Connection, business_id: &str) -> Result<Vec<QuestionRow>> {
    let config = config_id(conn, business_id)?;
    query_all(
        conn,
        "SELECT id, question_text, expected_format, \"order\", is_required, maps_to_lead_field,
             is_essential_for_emergency
         FROM lead_capture_questions WHERE config_id = ?1 ORDER BY \"order\"",
        [&config],
        |r| {
            Ok(QuestionRow {
                id: r.get(0)?,
                question: Question {
                    question_text: r.get(1)?,
                    expected_format: enum_col(r, 2, ExpectedFormat::parse)?,
                    order: r.get(3)?,
                    is_required: r.get(4)?,
                    maps_to_lead_field: r.get(5)?,
                    is_essential_for_emergency: r.get(6)?,
                },
            })
        },
    )
}

pub(super) fn add_question(tx: &Transaction<'_>, business_id: &str, q: &Question) -> Result<QuestionRow> {
    let config = config_id(tx, business_id)?;
    let order: u32 = tx
        .query_row(
            "SELECT COALESCE(MAX(\"order\"), 0) + 1 FROM lead_capture_questions WHERE config_id = ?1",
            [&config],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    let id = new_id();
    tx.execute(
        "INSERT INTO lead_capture_questions (id, config_id, question_text, expected_format, \"order\",
             is_required, maps_to_lead_field, is_essential_for_emergency, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
        params![
            id,
            config,
            q.question_text,
            q.expected_format.as_str(),
            order,
            q.is_required,
            q.maps_to_lead_field,
            q.is_essential_for_emergency,
            now()
        ],
    )
    .map_err(db_err)?;
    Ok(QuestionRow { id, question: Question { order, ..q.clone() } })
}

pub(super) fn update_question(tx: &Transaction<'_>, business_id: &str, id: &str, q: &Question) -> Result<()> {
    let config = config_id(tx, business_id)?;
    let n = tx
        .execute(
            "UPDATE lead_capture_questions SET question_text = ?1, expected_format = ?2, is_required = ?3,
                 maps_to_lead_field = ?4, is_essential_for_emergency = ?5, updated_at = ?6
             WHERE id = ?7 AND config_id = ?8",
            params![
                q.question_text,
                q.expected_format.as_str(),
                q.is_required,
                q.maps_to_lead_field,
                q.is_essential_for_emergency,
                now(),
                id,
                config
            ],
        )
        .map_err(db_err)?;
    changed(n, "question")
}

pub(super) fn delete_question(tx: &Transaction<'_>, business_id: &str, id: &str) -> Result<()> {
    let config = config_id(tx, business_id)?;
    let n = tx
        .execute("DELETE FROM lead_capture_questions WHERE id = ?1 AND config_id = ?2", params![id, config])
        .map_err(db_err)?;
    changed(n, "question")?;
    let ids: Vec<String> = questions(tx, business_id)?.into_iter().map(|q| q.id).collect();
    renumber(tx, &config, &ids)
}

pub(super) fn reorder_questions(tx: &Transaction<'_>, business_id: &str, ids: &[String]) -> Result<()> {
    let config = config_id(tx, business_id)?;
    let mut current: Vec<String> = questions(tx, business_id)?.into_iter().map(|q| q.id).collect();
    let mut wanted = ids.to_vec();
    current.sort();
    wanted.sort();
    if current != wanted {
        return Err(StoreError::Invalid(
            "the new order must list each of the business's questions once".into(),
        ));
    }
    renumber(tx, &config, ids)
}

/// Orders 1..n in the given sequence; goes through negative numbers first so
/// the unique (config, order) index never sees two rows at once.
fn renumber(tx: &Transaction<'_>, config: &str, ids: &[String]) -> Result<()> {
    tx.execute("UPDATE lead_capture_questions SET \"order\" = -\"order\" WHERE config_id = ?1", [config])
        .map_err(db_err)?;
    for (i, id) in ids.iter().enumerate() {
        tx.execute(
            "UPDATE lead_capture_questions SET \"order\" = ?1 WHERE id = ?2 AND config_id = ?3",
            params![i as i64 + 1, id, config],
        )
        .map_err(db_err)?;
    }
    Ok(())
}

const ENTRY_SQL: &str = "SELECT d.id, d.title, d.content, d.source_url,
        (SELECT COUNT(*) FROM knowledge_chunks c WHERE c.document_id = d.id), d.indexed_at, d.created_at, d.updated_at
     FROM knowledge_documents d WHERE d.business_id = ?1";

fn entry_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<KnowledgeEntry> {
    Ok(KnowledgeEntry {
        id: r.get(0)?,
        title: r.get(1)?,
        content: r.get(2)?,
        source_url: r.get(3)?,
        chunks: r.get(4)?,
        indexed_at: super::opt_time_col(r, 5)?,
        created_at: super::time_col(r, 6)?,
        updated_at: super::time_col(r, 7)?,
    })
}

pub(super) fn knowledge_entries(conn: &Connection, business_id: &str) -> Result<Vec<KnowledgeEntry>> {
    query_all(conn, &format!("{ENTRY_SQL} ORDER BY d.created_at, d.rowid"), [business_id], entry_row)
}

pub(super) fn knowledge_entry(conn: &Connection, business_id: &str, id: &str) -> Result<KnowledgeEntry> {
    conn.query_row(&format!("{ENTRY_SQL} AND d.id = ?2"), [business_id, id], entry_row)
        .optional()
        .map_err(db_err)?
        .ok_or_else(|| StoreError::NotFound("knowledge document".into()))
}

pub(super) fn add_knowledge(
    tx: &Transaction<'_>,
    business_id: &str,
    doc: &KnowledgeDoc,
) -> Result<KnowledgeEntry> {
    load_business(tx, business_id)?;
    let id = new_id();
    tx.execute(
        "INSERT INTO knowledge_documents (id, business_id, title, content, source_url, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![id, business_id, doc.title, doc.content, doc.source_url, now()],
    )
    .map_err(db_err)?;
    super::knowledge::index_document(tx, business_id, &id)?;
    knowledge_entry(tx, business_id, &id)
}

pub(super) fn update_knowledge(
    tx: &Transaction<'_>,
    business_id: &str,
    id: &str,
    doc: &KnowledgeDoc,
) -> Result<KnowledgeEntry> {
    let n = tx
        .execute(
            "UPDATE knowledge_documents SET title = ?1, content = ?2, source_url = ?3, updated_at = ?4
             WHERE id = ?5 AND business_id = ?6",
            params![doc.title, doc.content, doc.source_url, now(), id, business_id],
        )
        .map_err(db_err)?;
    changed(n, "knowledge document")?;
    super::knowledge::index_document(tx, business_id, id)?;
    knowledge_entry(tx, business_id, id)
}

pub(super) fn delete_knowledge(tx: &Transaction<'_>, business_id: &str, id: &str) -> Result<()> {
    // Chunks first: their FTS trigger needs the rows.
    let owned: bool = tx
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM knowledge_documents WHERE id = ?1 AND business_id = ?2)",
            [id, business_id],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    if !owned {
        return Err(StoreError::NotFound("knowledge document".into()));
    }
    // Through drop_chunks so the chunks' vectors and sign bits go with them
    // (a bare DELETE left them behind, taking coarse candidates' slots).
    super::knowledge::drop_chunks(tx, id)?;
    tx.execute("DELETE FROM knowledge_documents WHERE id = ?1 AND business_id = ?2", [id, business_id])
        .map_err(db_err)?;
    super::knowledge::index_document(tx, business_id, id)
}

impl SqliteStore {
    pub(super) async fn write_for<T, F>(&self, business_id: &str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>, &str) -> Result<T> + Send + 'static,
    {
        let id = business_id.to_string();
        self.write(move |tx| f(tx, &id)).await
    }

    pub(super) async fn read_for<T, F>(&self, business_id: &str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &str) -> Result<T> + Send + 'static,
    {
        let id = business_id.to_string();
        self.read(move |c| f(c, &id)).await
    }
}
