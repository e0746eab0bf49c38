//! The Postgres backend (`DATABASE_URL=postgres://...`): tokio-postgres with
//! a deadpool pool, so several frontdesk processes can share one database.
//!
//! Each trait method runs on one pooled connection, its writes in one
//! transaction. Where SQLite's single writer serialised things for free,
//! rows are locked instead: a conversation's turns (`FOR UPDATE` on the
//! conversation), a call's webhooks and imports (advisory locks), and the
//! outbox claims (`FOR UPDATE SKIP LOCKED` with leases).

mod admin;
mod business;
mod calls;
pub mod connect;
mod conversation;
pub mod import;
mod knowledge;
mod knowledge_imports;
mod latency;
pub mod migrate;
mod outbox;
mod reports;
mod rows;
mod triage_marks;
mod vectors;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Object, Pool};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::FromSql;
use tokio_postgres::Row;

use super::{
    CallStatus, ImportOutcome, KnowledgeQuery, NewCall, NewUser, Result, Store, StoreError, StoreInspect,
    TurnRecord,
};
pub use crate::config::PgUrl;
use crate::domain::{
    now, Business, BusinessBundle, BusinessSummary, Call, Channel, EndedReason, Lead, Message, Notification,
    PlanTier, Profile, User,
};
use crate::ids::{BusinessId, CallSid, ConversationId, LeadId};
use crate::retrieval::Passage;

pub struct PgStore {
    pool: Pool,
    schema: String,
    /// Knowledge vectors this process has read, for ranking by meaning.
    vectors: vectors::VectorCache,
}

/// The database's own message (tokio-postgres's Display says only "db error").
pub(crate) fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    }
}

pub(crate) fn db_err(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if [
            SqlState::UNIQUE_VIOLATION,
            SqlState::FOREIGN_KEY_VIOLATION,
            SqlState::CHECK_VIOLATION,
            SqlState::NOT_NULL_VIOLATION,
        ]
        .contains(code)
        {
            return crate::store::constraint_conflict(db.message());
        }
    }
    StoreError::Unavailable(describe(&e))
}

/// A column, or Unavailable naming it.
pub(crate) fn get<'a, T: FromSql<'a>>(r: &'a Row, idx: usize) -> Result<T> {
    r.try_get(idx).map_err(|e| StoreError::Unavailable(format!("column {idx}: {e}")))
}

/// A bigint column that must fit a u32 (counts, orders, attempts).
pub(crate) fn get_u32(r: &Row, idx: usize) -> Result<u32> {
    let v: i64 = get(r, idx)?;
    u32::try_from(v).map_err(|_| StoreError::Invalid(format!("column {idx}: {v} out of range")))
}

pub(crate) fn get_opt_u32(r: &Row, idx: usize) -> Result<Option<u32>> {
    let v: Option<i64> = get(r, idx)?;
    v.map(|v| u32::try_from(v).map_err(|_| StoreError::Invalid(format!("column {idx}: {v} out of range"))))
        .transpose()
}

/// A text column holding one of an enum's names.
pub(crate) fn get_enum<T>(r: &Row, idx: usize, parse: fn(&str) -> Option<T>) -> Result<T> {
    let text: String = get(r, idx)?;
    parse(&text).ok_or_else(|| StoreError::Invalid(format!("column {idx}: unexpected value '{text}'")))
}

/// A timestamp column read once into a moment (any stored form; see `row_time`).
pub(crate) fn get_time(r: &Row, idx: usize) -> Result<chrono::DateTime<chrono::Utc>> {
    let text: String = get(r, idx)?;
    Ok(crate::store::row_time(&text))
}

/// A nullable timestamp column.
pub(crate) fn get_opt_time(r: &Row, idx: usize) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    let text: Option<String> = get(r, idx)?;
    Ok(text.as_deref().map(crate::store::row_time))
}

/// A nullable text column holding one of an enum's names.
pub(crate) fn get_opt_enum<T>(r: &Row, idx: usize, parse: fn(&str) -> Option<T>) -> Result<Option<T>> {
    let text: Option<String> = get(r, idx)?;
    text.map(|text| {
        parse(&text).ok_or_else(|| StoreError::Invalid(format!("column {idx}: unexpected value '{text}'")))
    })
    .transpose()
}

/// A jsonb column as a typed value.
pub(crate) fn get_json<T: serde::de::DeserializeOwned>(r: &Row, idx: usize) -> Result<T> {
    let v: serde_json::Value = get(r, idx)?;
    serde_json::from_value(v).map_err(|e| StoreError::Invalid(format!("column {idx}: {e}")))
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| StoreError::Invalid(e.to_string()))
}

/// Fails with NotFound when no row changed.
pub(crate) fn changed(n: u64, what: &str) -> Result<()> {
    if n == 0 {
        Err(StoreError::NotFound(what.to_string()))
    } else {
        Ok(())
    }
}

/// Runs `$body` (which uses `$tx`) in one transaction on a pooled
/// connection and gives `Ok` of its value; an error on the way (`?` in
/// `$body` returns from the caller) rolls it back.
macro_rules! in_tx {
    ($store:expr, |$tx:ident| $body:expr) => {{
        let mut client = $store.client().await?;
        let $tx = client.transaction().await.map_err($crate::store::postgres::db_err)?;
        let out = $body;
        $tx.commit().await.map_err($crate::store::postgres::db_err)?;
        Ok(out)
    }};
}
pub(crate) use in_tx;

impl PgStore {
    /// Connects, applies migrations and checks the schema version.
    pub async fn open(url: &str) -> Result<PgStore> {
        Ok(PgStore::open_migrating(url).await?.0)
    }

    /// [`PgStore::open`], also giving the migrations it applied (version,
    /// name), oldest first: what `frontdesk migrate` prints.
    pub async fn open_migrating(url: &str) -> Result<(PgStore, Vec<(u32, &'static str)>)> {
        let url = PgUrl::parse(url)?;
        if !url.ignored.is_empty() {
            tracing::info!(parameters = ?url.ignored, "DATABASE_URL parameters frontdesk does not use were ignored");
        }
        let pool = url.pool()?;
        let store = PgStore { pool, schema: url.schema.clone(), vectors: vectors::cache() };
        let mut client = store.client().await?;
        let applied = migrate::run(&mut client, &url.schema).await?;
        if !applied.is_empty() {
            tracing::info!(schema = %url.schema, versions = ?applied, "postgres migrations applied");
        }
        knowledge::probe_pgvector(&client).await;
        knowledge::embed_missing(&store).await?;
        let names = migrate::embedded();
        let applied =
            applied.into_iter().map(|v| (v, names.iter().find(|m| m.0 == v).map_or("", |m| m.1))).collect();
        Ok((store, applied))
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }

    pub(crate) async fn client(&self) -> Result<Object> {
        self.pool.get().await.map_err(|e| StoreError::Unavailable(format!("postgres: {e}")))
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<()> {
        let c = self.client().await?;
        c.query_one("SELECT COUNT(*) FROM schema_migrations", &[]).await.map_err(db_err)?;
        Ok(())
    }

    async fn writable(&self) -> Result<()> {
        let c = self.client().await?;
        let read_only: String =
            get(&c.query_one("SHOW transaction_read_only", &[]).await.map_err(db_err)?, 0)?;
        if read_only == "on" {
            return Err(StoreError::Unavailable("the database is read-only (a standby?)".into()));
        }
        Ok(())
    }

    async fn revoke_session(&self, token_hash: &str, expires_at: i64) -> Result<()> {
        let c = self.client().await?;
        let now = chrono::Utc::now().timestamp();
        c.execute("DELETE FROM revoked_sessions WHERE expires_at < $1", &[&now]).await.map_err(db_err)?;
        c.execute(
            "INSERT INTO revoked_sessions (token_hash, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&token_hash, &expires_at],
        )
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn session_revoked(&self, token_hash: &str) -> Result<bool> {
        let c = self.client().await?;
        let row = c
            .query_opt("SELECT 1 FROM revoked_sessions WHERE token_hash = $1", &[&token_hash])
            .await
            .map_err(db_err)?;
        Ok(row.is_some())
    }

    async fn schema_version(&self) -> Result<u32> {
        migrate::current(&self.client().await?).await
    }

    async fn import_business(&self, bundle: BusinessBundle) -> Result<ImportOutcome> {
        in_tx!(self, |tx| {
            // Imports match by number and name: one at a time.
            tx.execute("SELECT pg_advisory_xact_lock(hashtext('frontdesk-import'))", &[])
                .await
                .map_err(db_err)?;
            business::write_bundle(&tx, &bundle).await?
        })
    }

    async fn business(&self, id: &BusinessId) -> Result<Business> {
        business::load_business(&self.client().await?, id).await
    }

    async fn business_bundle(&self, id: &BusinessId) -> Result<BusinessBundle> {
        business::read_bundle(&self.client().await?, id).await
    }

    async fn list_businesses(&self) -> Result<Vec<BusinessSummary>> {
        let c = self.client().await?;
        let rows = c
            .query(
                &format!(
                    "SELECT {},
                        (SELECT COUNT(*) FROM lead_capture_questions q JOIN agent_configs a ON q.config_id = a.id
                            WHERE a.business_id = businesses.id),
                        (SELECT COUNT(*) FROM knowledge_documents k WHERE k.business_id = businesses.id),
                        (SELECT COUNT(*) FROM leads l WHERE l.business_id = businesses.id),
                        (SELECT COUNT(*) FROM users u WHERE u.business_id = businesses.id)
                     FROM businesses ORDER BY lower(name), created_at",
                    business::BUSINESS_COLUMNS
                ),
                &[],
            )
            .await
            .map_err(db_err)?;
        let counts = business::BUSINESS_COLUMNS.split(',').count();
        rows.iter()
            .map(|r| {
                Ok(BusinessSummary {
                    business: business::business_row(r)?,
                    questions: get_u32(r, counts)?,
                    knowledge_docs: get_u32(r, counts + 1)?,
                    leads: get_u32(r, counts + 2)?,
                    users: get_u32(r, counts + 3)?,
                })
            })
            .collect()
    }

    async fn set_plan(&self, business_id: &BusinessId, plan: PlanTier) -> Result<()> {
        let c = self.client().await?;
        let n = c
            .execute(
                "UPDATE businesses SET plan_tier = $1, updated_at = $2 WHERE id = $3",
                &[&plan.as_str(), &now(), &business_id],
            )
            .await
            .map_err(db_err)?;
        changed(n, &format!("business {business_id}"))
    }

    async fn count_users(&self) -> Result<u64> {
        let c = self.client().await?;
        let n: i64 = get(&c.query_one("SELECT COUNT(*) FROM users", &[]).await.map_err(db_err)?, 0)?;
        Ok(n as u64)
    }

    async fn create_user(&self, user: NewUser) -> Result<User> {
        in_tx!(self, |tx| admin::insert_user(&tx, &user).await?)
    }

    async fn user_by_email(&self, email: &str) -> Result<User> {
        let email = email.trim();
        let c = self.client().await?;
        c.query_opt(
            &format!("SELECT {} FROM users WHERE lower(email) = lower($1)", admin::USER_COLUMNS),
            &[&email],
        )
        .await
        .map_err(db_err)?
        .map(|r| business::user_row(&r))
        .transpose()?
        .ok_or_else(|| StoreError::NotFound(format!("user {email}")))
    }

    async fn set_password_hash(&self, email: &str, password_hash: &str) -> Result<()> {
        let email = email.trim();
        let c = self.client().await?;
        let n = c
            .execute(
                "UPDATE users SET password_hash = $1, updated_at = $2 WHERE lower(email) = lower($3)",
                &[&password_hash, &now(), &email],
            )
            .await
            .map_err(db_err)?;
        changed(n, &format!("user {email}"))
    }

    async fn agent_profile(&self, business_id: &BusinessId) -> Result<Profile> {
        business::read_profile(&self.client().await?, business_id).await
    }

    async fn search_knowledge(
        &self,
        business_id: &BusinessId,
        query: &KnowledgeQuery,
    ) -> Result<Vec<Passage>> {
        knowledge::search(&self.client().await?, &self.vectors, business_id, query).await
    }

    async fn knowledge_overview(
        &self,
        business_id: &BusinessId,
        limit: usize,
    ) -> Result<Vec<(String, String)>> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT title, substr(content, 1, 600) FROM knowledge_documents WHERE business_id = $1
                     ORDER BY created_at, seq LIMIT $2",
                &[&business_id, &(limit as i64)],
            )
            .await
            .map_err(db_err)?;
        rows.iter().map(|r| Ok((get(r, 0)?, get(r, 1)?))).collect()
    }

    async fn chunks_to_embed(&self, model: &str, limit: usize) -> Result<Vec<(i64, String)>> {
        knowledge::chunks_to_embed(&self.client().await?, model, limit).await
    }

    async fn save_embeddings(&self, model: &str, vectors: Vec<(i64, Vec<f32>)>) -> Result<()> {
        in_tx!(self, |tx| knowledge::save_embeddings(&tx, model, &vectors).await?)
    }

    async fn start_conversation(
        &self,
        business_id: &BusinessId,
        channel: Channel,
        external_id: Option<&str>,
        test: bool,
    ) -> Result<ConversationId> {
        in_tx!(self, |tx| conversation::start_conversation(&tx, business_id, channel, external_id, test)
            .await?)
    }

    async fn record_turn(&self, turn: TurnRecord) -> Result<crate::store::TurnSaved> {
        in_tx!(self, |tx| conversation::record_turn(&tx, &turn).await?)
    }

    async fn lead(&self, business_id: &BusinessId, lead_id: &LeadId) -> Result<Lead> {
        rows::lead(&self.client().await?, business_id, lead_id).await
    }

    async fn business_by_number(&self, number: &str) -> Result<Business> {
        calls::business_by_number(&self.client().await?, number).await
    }

    async fn start_call(&self, call: NewCall) -> Result<ConversationId> {
        in_tx!(self, |tx| calls::start_call(&tx, &call).await?)
    }

    async fn record_call_status(&self, status: CallStatus) -> Result<()> {
        in_tx!(self, |tx| calls::record_status(&tx, &status).await?)
    }

    async fn finish_call(
        &self,
        call_sid: &CallSid,
        summary: &str,
        ended_reason: EndedReason,
        notify: crate::store::NotifyPolicy,
    ) -> Result<()> {
        in_tx!(self, |tx| calls::finish_call(&tx, call_sid, summary, ended_reason, &notify).await?)
    }

    async fn call(&self, call_sid: &CallSid) -> Result<Call> {
        calls::call(&self.client().await?, call_sid).await
    }

    async fn record_latency(&self, sample: crate::store::LatencySample) -> Result<()> {
        latency::record(&self.client().await?, &sample).await
    }

    async fn add_samples(&self, business_id: &BusinessId, samples: Vec<crate::demo::Sample>) -> Result<()> {
        in_tx!(self, |tx| reports::add_samples(&tx, business_id, &samples).await?)
    }
}

/// Test read-backs (see [`StoreInspect`]).
#[async_trait]
impl StoreInspect for PgStore {
    async fn transcript(&self, conversation_id: &ConversationId) -> Result<Vec<Message>> {
        rows::transcript(&self.client().await?, conversation_id).await
    }

    async fn leads(&self, business_id: &BusinessId) -> Result<Vec<Lead>> {
        rows::lead_rows(
            &self.client().await?,
            "business_id = $1 ORDER BY created_at DESC, id",
            &[&business_id],
        )
        .await
    }

    async fn notifications(&self, business_id: &BusinessId) -> Result<Vec<Notification>> {
        outbox::notifications(&self.client().await?, business_id).await
    }

    async fn call_events(&self, call_sid: &CallSid) -> Result<Vec<(String, Option<i64>)>> {
        calls::call_events(&self.client().await?, call_sid).await
    }
}
