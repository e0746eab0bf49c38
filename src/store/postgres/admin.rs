//! [`AdminStore`] for Postgres: the owner's settings, questions, knowledge
//! documents and leads, users and first-run setup. Every statement names the
//! business it acts on.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::business::{insert_question, load_business, question_row, user_row, write_bundle, write_rules};
use super::{changed, db_err, get, get_u32, in_tx, reports, to_json, PgStore};
use crate::domain::rfc3339;
use crate::domain::{
    new_id, now, AgentConfig, BusinessBundle, BusinessFacts, EmergencyRules, Gloss, KnowledgeDoc, Lead,
    LeadStatus, Priority, Question, Role, User,
};
use crate::ids::{BusinessId, LeadId};
use crate::store::admin::{
    ActivityData, AdminStore, BusinessActivity, BusinessSettings, KnowledgeEntry, LatencyStat, LeadDetail,
    LeadFilter, NotificationSettings, Outcomes, QuestionRow,
};
use crate::store::{NewUser, Result, StoreError};
use chrono::{DateTime, Utc};

pub(super) const USER_COLUMNS: &str = "id, email, password_hash, role, business_id, created_at";

/// Inserts a user; `Conflict` when the email is taken.
pub(super) async fn insert_user(c: &impl GenericClient, user: &NewUser) -> Result<User> {
    if let Some(bid) = &user.business_id {
        load_business(c, bid).await?;
    }
    let taken = c
        .query_opt("SELECT 1 FROM users WHERE lower(email) = lower($1)", &[&user.email])
        .await
        .map_err(db_err)?
        .is_some();
    if taken {
        return Err(StoreError::Conflict(format!("a user with email {} already exists", user.email)));
    }
    let id = new_id();
    c.execute(
        "INSERT INTO users (id, email, password_hash, role, business_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
        &[&id, &user.email, &user.password_hash, &user.role.as_str(), &user.business_id, &now()],
    )
    .await
    .map_err(db_err)?;
    user_by_id(c, &id).await
}

async fn user_by_id(c: &impl GenericClient, id: &str) -> Result<User> {
    c.query_opt(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"), &[&id])
        .await
        .map_err(db_err)?
        .map(|r| user_row(&r))
        .transpose()?
        .ok_or_else(|| StoreError::NotFound("user".into()))
}

async fn config_id(c: &impl GenericClient, business_id: &str) -> Result<String> {
    c.query_opt("SELECT id FROM agent_configs WHERE business_id = $1", &[&business_id])
        .await
        .map_err(db_err)?
        .map(|r| get(&r, 0))
        .transpose()?
        .ok_or_else(|| StoreError::NotFound("business".into()))
}

async fn questions(c: &impl GenericClient, business_id: &str) -> Result<Vec<QuestionRow>> {
    let config = config_id(c, business_id).await?;
    c.query(
        "SELECT id, question_text, expected_format, \"order\", is_required, maps_to_lead_field,
             is_essential_for_emergency
         FROM lead_capture_questions WHERE config_id = $1 ORDER BY \"order\"",
        &[&config],
    )
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| Ok(QuestionRow { id: get(r, 0)?, question: question_row(r, 1)? }))
    .collect()
}

/// Orders 1..n in the given sequence; goes through negative numbers first so
/// the unique (config, order) constraint never sees two rows at once.
async fn renumber(c: &impl GenericClient, config: &str, ids: &[String]) -> Result<()> {
    c.execute("UPDATE lead_capture_questions SET \"order\" = -\"order\" WHERE config_id = $1", &[&config])
        .await
        .map_err(db_err)?;
    for (i, id) in ids.iter().enumerate() {
        c.execute(
            "UPDATE lead_capture_questions SET \"order\" = $1 WHERE id = $2 AND config_id = $3",
            &[&(i as i64 + 1), id, &config],
        )
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

const ENTRY_SQL: &str = "SELECT d.id, d.title, d.content, d.source_url,
        (SELECT COUNT(*) FROM knowledge_chunks c WHERE c.document_id = d.id), d.indexed_at, d.created_at, d.updated_at
     FROM knowledge_documents d WHERE d.business_id = $1";

fn entry_row(r: &Row) -> Result<KnowledgeEntry> {
    Ok(KnowledgeEntry {
        id: get(r, 0)?,
        title: get(r, 1)?,
        content: get(r, 2)?,
        source_url: get(r, 3)?,
        chunks: get_u32(r, 4)?,
        indexed_at: super::get_opt_time(r, 5)?,
        created_at: super::get_time(r, 6)?,
        updated_at: super::get_time(r, 7)?,
    })
}

async fn knowledge_entry(c: &impl GenericClient, business_id: &str, id: &str) -> Result<KnowledgeEntry> {
    c.query_opt(&format!("{ENTRY_SQL} AND d.id = $2"), &[&business_id, &id])
        .await
        .map_err(db_err)?
        .map(|r| entry_row(&r))
        .transpose()?
        .ok_or_else(|| StoreError::NotFound("knowledge document".into()))
}

#[async_trait::async_trait]
impl AdminStore for PgStore {
    async fn user(&self, id: &str) -> Result<User> {
        user_by_id(&self.client().await?, id).await
    }

    async fn create_first_user(&self, bundle: Option<BusinessBundle>, user: NewUser) -> Result<User> {
        in_tx!(self, |tx| {
            // Two setup forms submitted at once (on two instances): one wins.
            tx.execute("SELECT pg_advisory_xact_lock(hashtext('frontdesk-setup'))", &[])
                .await
                .map_err(db_err)?;
            let users: i64 = get(&tx.query_one("SELECT COUNT(*) FROM users", &[]).await.map_err(db_err)?, 0)?;
            if users > 0 {
                return Err(StoreError::Conflict("this instance is already set up".into()));
            }
            match &bundle {
                Some(bundle) => {
                    let outcome = write_bundle(&tx, bundle).await?;
                    insert_user(&tx, &NewUser { business_id: Some(outcome.business_id), ..user.clone() })
                        .await?
                }
                None => {
                    insert_user(&tx, &NewUser { business_id: None, role: Role::Operator, ..user.clone() })
                        .await?
                }
            }
        })
    }

    async fn set_user_password(&self, user_id: &str, password_hash: &str) -> Result<()> {
        let c = self.client().await?;
        let n = c
            .execute(
                "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3",
                &[&password_hash, &now(), &user_id],
            )
            .await
            .map_err(db_err)?;
        changed(n, "user")
    }

    async fn update_business_settings(&self, business_id: &BusinessId, s: BusinessSettings) -> Result<()> {
        let c = self.client().await?;
        let n = c
            .execute(
                "UPDATE businesses SET name = $1, business_type = $2, country = $3, timezone = $4, updated_at = $5
                 WHERE id = $6",
                &[&s.name, &s.business_type.as_str(), &s.country, &s.timezone, &now(), &business_id],
            )
            .await
            .map_err(db_err)?;
        changed(n, "business")
    }

    async fn update_notification_settings(
        &self,
        business_id: &BusinessId,
        s: NotificationSettings,
    ) -> Result<()> {
        let c = self.client().await?;
        let n = c
            .execute(
                "UPDATE businesses SET notification_email = $1, notification_phone_number = $2,
                     notification_webhook_url = $3, updated_at = $4 WHERE id = $5",
                &[&s.email, &s.phone, &s.webhook_url, &now(), &business_id],
            )
            .await
            .map_err(db_err)?;
        changed(n, "business")
    }

    async fn set_website_origins(&self, business_id: &BusinessId, origins: Vec<String>) -> Result<()> {
        let c = self.client().await?;
        let n = c
            .execute(
                "UPDATE businesses SET website_origins = $1, updated_at = $2 WHERE id = $3",
                &[&to_json(&origins)?, &now(), &business_id],
            )
            .await
            .map_err(db_err)?;
        changed(n, "business")
    }

    async fn set_twilio_number(&self, business_id: &BusinessId, number: Option<String>) -> Result<()> {
        in_tx!(self, |tx| {
            if let Some(number) = &number {
                let owner = tx
                    .query_opt(
                        "SELECT name FROM businesses WHERE twilio_phone_number = $1 AND id <> $2",
                        &[number, &business_id],
                    )
                    .await
                    .map_err(db_err)?;
                if let Some(owner) = owner {
                    let owner: String = get(&owner, 0)?;
                    return Err(StoreError::Conflict(format!(
                        "{number} already belongs to business '{owner}'"
                    )));
                }
            }
            let n = tx
                .execute(
                    "UPDATE businesses SET twilio_phone_number = $1, updated_at = $2 WHERE id = $3",
                    &[&number, &now(), &business_id],
                )
                .await
                .map_err(db_err)?;
            changed(n, "business")?
        })
    }

    async fn update_agent(&self, business_id: &BusinessId, agent: AgentConfig) -> Result<()> {
        in_tx!(self, |tx| {
            load_business(&tx, business_id).await?;
            super::business::upsert_agent(&tx, business_id, &agent, &now()).await?;
        })
    }

    async fn set_emergency_rules(&self, business_id: &BusinessId, rules: EmergencyRules) -> Result<()> {
        in_tx!(self, |tx| {
            load_business(&tx, business_id).await?;
            write_rules(&tx, business_id, &rules).await?
        })
    }

    async fn questions(&self, business_id: &BusinessId) -> Result<Vec<QuestionRow>> {
        questions(&self.client().await?, business_id).await
    }

    async fn add_question(&self, business_id: &BusinessId, q: Question) -> Result<QuestionRow> {
        in_tx!(self, |tx| {
            let config = config_id(&tx, business_id).await?;
            // Locks the configuration: two additions at once get different orders.
            tx.execute("SELECT 1 FROM agent_configs WHERE id = $1 FOR UPDATE", &[&config])
                .await
                .map_err(db_err)?;
            let order: i64 = get(
                &tx.query_one(
                    "SELECT COALESCE(MAX(\"order\"), 0) + 1 FROM lead_capture_questions WHERE config_id = $1",
                    &[&config],
                )
                .await
                .map_err(db_err)?,
                0,
            )?;
            let id = new_id();
            insert_question(&tx, &id, &config, &q, order, &now()).await?;
            let order = u32::try_from(order).map_err(|_| StoreError::Invalid("too many questions".into()))?;
            QuestionRow { id, question: Question { order, ..q } }
        })
    }

    async fn update_question(&self, business_id: &BusinessId, id: &str, q: Question) -> Result<()> {
        let c = self.client().await?;
        let config = config_id(&c, business_id).await?;
        let n = c
            .execute(
                "UPDATE lead_capture_questions SET question_text = $1, expected_format = $2, is_required = $3,
                     maps_to_lead_field = $4, is_essential_for_emergency = $5, updated_at = $6
                 WHERE id = $7 AND config_id = $8",
                &[
                    &q.question_text,
                    &q.expected_format.as_str(),
                    &q.is_required,
                    &q.maps_to_lead_field,
                    &q.is_essential_for_emergency,
                    &now(),
                    &id,
                    &config,
                ],
            )
            .await
            .map_err(db_err)?;
        changed(n, "question")
    }

    async fn delete_question(&self, business_id: &BusinessId, id: &str) -> Result<()> {
        in_tx!(self, |tx| {
            let config = config_id(&tx, business_id).await?;
            let n = tx
                .execute(
                    "DELETE FROM lead_capture_questions WHERE id = $1 AND config_id = $2",
                    &[&id, &config],
                )
                .await
                .map_err(db_err)?;
            changed(n, "question")?;
            let ids: Vec<String> = questions(&tx, business_id).await?.into_iter().map(|q| q.id).collect();
            renumber(&tx, &config, &ids).await?
        })
    }

    async fn reorder_questions(&self, business_id: &BusinessId, ids: Vec<String>) -> Result<()> {
        in_tx!(self, |tx| {
            let config = config_id(&tx, business_id).await?;
            let mut current: Vec<String> =
                questions(&tx, business_id).await?.into_iter().map(|q| q.id).collect();
            let mut wanted = ids.clone();
            current.sort();
            wanted.sort();
            if current != wanted {
                return Err(StoreError::Invalid(
                    "the new order must list each of the business's questions once".into(),
                ));
            }
            renumber(&tx, &config, &ids).await?
        })
    }

    async fn knowledge_entries(&self, business_id: &BusinessId) -> Result<Vec<KnowledgeEntry>> {
        let c = self.client().await?;
        c.query(&format!("{ENTRY_SQL} ORDER BY d.created_at, d.seq"), &[&business_id])
            .await
            .map_err(db_err)?
            .iter()
            .map(entry_row)
            .collect()
    }

    async fn knowledge_entry(&self, business_id: &BusinessId, id: &str) -> Result<KnowledgeEntry> {
        knowledge_entry(&self.client().await?, business_id, id).await
    }

    async fn add_knowledge(&self, business_id: &BusinessId, doc: KnowledgeDoc) -> Result<KnowledgeEntry> {
        in_tx!(self, |tx| {
            load_business(&tx, business_id).await?;
            let id = new_id();
            tx.execute(
                "INSERT INTO knowledge_documents (id, business_id, title, content, source_url, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6)",
                &[&id, &business_id, &doc.title, &doc.content, &doc.source_url, &now()],
            )
            .await
            .map_err(db_err)?;
            super::knowledge::index_document(&tx, business_id, &id).await?;
            knowledge_entry(&tx, business_id, &id).await?
        })
    }

    async fn update_knowledge(
        &self,
        business_id: &BusinessId,
        id: &str,
        doc: KnowledgeDoc,
    ) -> Result<KnowledgeEntry> {
        in_tx!(self, |tx| {
            let n = tx
                .execute(
                    "UPDATE knowledge_documents SET title = $1, content = $2, source_url = $3, updated_at = $4
                     WHERE id = $5 AND business_id = $6",
                    &[&doc.title, &doc.content, &doc.source_url, &now(), &id, &business_id],
                )
                .await
                .map_err(db_err)?;
            changed(n, "knowledge document")?;
            super::knowledge::index_document(&tx, business_id, id).await?;
            knowledge_entry(&tx, business_id, id).await?
        })
    }

    async fn delete_knowledge(&self, business_id: &BusinessId, id: &str) -> Result<()> {
        in_tx!(self, |tx| {
            let n = tx
                .execute(
                    "DELETE FROM knowledge_documents WHERE id = $1 AND business_id = $2",
                    &[&id, &business_id],
                )
                .await
                .map_err(db_err)?;
            changed(n, "knowledge document")?;
            // Its chunks went with it (ON DELETE CASCADE); recount the words.
            super::knowledge::index_document(&tx, business_id, id).await?
        })
    }

    async fn find_leads(&self, business_id: &BusinessId, filter: LeadFilter) -> Result<(Vec<Lead>, u64)> {
        reports::find_leads(&self.client().await?, business_id, &filter).await
    }

    async fn lead_detail(&self, business_id: &BusinessId, lead_id: &LeadId) -> Result<LeadDetail> {
        reports::lead_detail(&self.client().await?, business_id, lead_id).await
    }

    async fn set_lead_status(
        &self,
        business_id: &BusinessId,
        lead_id: &LeadId,
        status: LeadStatus,
    ) -> Result<Lead> {
        let c = self.client().await?;
        let n = c
            .execute(
                "UPDATE leads SET status = $1, updated_at = $2 WHERE id = $3 AND business_id = $4",
                &[&status.as_str(), &now(), &lead_id, &business_id],
            )
            .await
            .map_err(db_err)?;
        changed(n, &format!("lead {lead_id}"))?;
        super::rows::lead(&c, business_id, lead_id).await
    }

    async fn mark_triage(
        &self,
        business_id: &BusinessId,
        lead_id: &LeadId,
        level: Priority,
        text: &str,
    ) -> Result<()> {
        super::triage_marks::mark(&self.client().await?, business_id, lead_id, level, text).await
    }

    async fn triage_mark(&self, business_id: &BusinessId, lead_id: &LeadId) -> Result<Option<Priority>> {
        let c = self.client().await?;
        let level: Option<String> = c
            .query_opt(
                "SELECT level FROM triage_marks WHERE lead_id = $1 AND business_id = $2",
                &[&lead_id, &business_id],
            )
            .await
            .map_err(db_err)?
            .map(|r| get(&r, 0))
            .transpose()?;
        Ok(level.and_then(|l| Priority::parse(&l)))
    }

    async fn activity(&self, business_id: &BusinessId, since: DateTime<Utc>) -> Result<ActivityData> {
        reports::activity(&self.client().await?, business_id, &rfc3339(since)).await
    }

    async fn outcomes(&self, business_id: &BusinessId, since: DateTime<Utc>) -> Result<Outcomes> {
        reports::outcomes(&self.client().await?, business_id, &rfc3339(since)).await
    }

    async fn response_latency(
        &self,
        business_id: &BusinessId,
        first_day: &str,
        last_day: &str,
    ) -> Result<Vec<LatencyStat>> {
        super::latency::stats(&self.client().await?, Some(business_id), first_day, last_day).await
    }

    async fn all_response_latency(&self, first_day: &str, last_day: &str) -> Result<Vec<LatencyStat>> {
        super::latency::stats(&self.client().await?, None, first_day, last_day).await
    }

    async fn businesses_activity(&self, since: DateTime<Utc>) -> Result<Vec<BusinessActivity>> {
        reports::businesses_activity(&self.client().await?, &rfc3339(since)).await
    }

    async fn business_facts(&self, business_id: &BusinessId) -> Result<BusinessFacts> {
        let c = self.client().await?;
        load_business(&c, business_id).await?;
        super::business::read_facts(&c, business_id).await
    }

    async fn set_business_facts(&self, business_id: &BusinessId, facts: BusinessFacts) -> Result<()> {
        let c = self.client().await?;
        load_business(&c, business_id).await?;
        super::business::write_facts(&c, business_id, &facts).await
    }

    async fn business_glossary(&self, business_id: &BusinessId) -> Result<Vec<Gloss>> {
        let c = self.client().await?;
        load_business(&c, business_id).await?;
        super::knowledge::read_glossary(&c, business_id).await
    }

    async fn set_business_glossary(&self, business_id: &BusinessId, glossary: Vec<Gloss>) -> Result<()> {
        let c = self.client().await?;
        load_business(&c, business_id).await?;
        super::knowledge::write_glossary(&c, business_id, &glossary).await
    }

    async fn widget_seen(
        &self,
        business_id: &BusinessId,
    ) -> Result<Option<(String, chrono::DateTime<chrono::Utc>)>> {
        let c = self.client().await?;
        let r = c
            .query_opt(
                "SELECT widget_seen_origin, widget_seen_at FROM businesses WHERE id = $1",
                &[&business_id],
            )
            .await
            .map_err(db_err)?
            .ok_or_else(|| StoreError::NotFound("business".into()))?;
        match (get::<Option<String>>(&r, 0)?, super::get_opt_time(&r, 1)?) {
            (Some(origin), Some(at)) => Ok(Some((origin, at))),
            _ => Ok(None),
        }
    }

    async fn note_widget_seen(&self, business_id: &BusinessId, origin: &str) -> Result<()> {
        let c = self.client().await?;
        c.execute(
            "UPDATE businesses SET widget_seen_origin = $1, widget_seen_at = $2
             WHERE id = $3 AND widget_seen_at IS NULL",
            &[&origin, &now(), &business_id],
        )
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn set_lead_notes(
        &self,
        business_id: &BusinessId,
        lead_id: &LeadId,
        notes: Option<String>,
    ) -> Result<()> {
        super::conversation::set_lead_notes(&self.client().await?, business_id, lead_id, notes.as_deref())
            .await
    }

    async fn set_lead_test(&self, business_id: &BusinessId, lead_id: &LeadId, test: bool) -> Result<()> {
        in_tx!(self, |tx| super::conversation::set_lead_test(&tx, business_id, lead_id, test).await?)
    }

    async fn delete_lead(&self, business_id: &BusinessId, lead_id: &LeadId) -> Result<()> {
        in_tx!(self, |tx| super::conversation::delete_lead(&tx, business_id, lead_id).await?)
    }
}
