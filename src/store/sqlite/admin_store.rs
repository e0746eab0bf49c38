//! [`AdminStore`] for SQLite: each method runs its statements (in `admin.rs`
//! and `reports.rs`) on a reader, or in one write transaction.

use rusqlite::{params, OptionalExtension};

use super::admin::*;
use super::{db_err, reports, SqliteStore};
use crate::domain::rfc3339;
use crate::domain::{
    now, AgentConfig, BusinessBundle, BusinessFacts, EmergencyRules, Gloss, KnowledgeDoc, Lead, LeadStatus,
    Priority, Question, User,
};
use crate::ids::{BusinessId, LeadId};
use crate::store::admin::{
    ActivityData, AdminStore, BusinessActivity, BusinessSettings, KnowledgeEntry, LatencyStat, LeadDetail,
    LeadFilter, NotificationSettings, Outcomes, QuestionRow,
};
use crate::store::{NewUser, Result};
use chrono::{DateTime, Utc};

#[async_trait::async_trait]
impl AdminStore for SqliteStore {
    async fn user(&self, id: &str) -> Result<User> {
        self.read_for(id, user_by_id).await
    }

    async fn create_first_user(&self, bundle: Option<BusinessBundle>, user: NewUser) -> Result<User> {
        self.write(move |tx| create_first_user(tx, bundle.as_ref(), &user)).await
    }

    async fn set_user_password(&self, user_id: &str, password_hash: &str) -> Result<()> {
        let hash = password_hash.to_string();
        self.write_for(user_id, move |tx, id| {
            let n = tx
                .execute(
                    "UPDATE users SET password_hash = ?1, updated_at = ?2 WHERE id = ?3",
                    params![hash, now(), id],
                )
                .map_err(db_err)?;
            changed(n, "user")
        })
        .await
    }

    async fn update_business_settings(
        &self,
        business_id: &BusinessId,
        settings: BusinessSettings,
    ) -> Result<()> {
        self.write_for(business_id, move |tx, id| update_business_settings(tx, id, &settings)).await
    }

    async fn update_notification_settings(
        &self,
        business_id: &BusinessId,
        settings: NotificationSettings,
    ) -> Result<()> {
        self.write_for(business_id, move |tx, id| update_notifications(tx, id, &settings)).await
    }

    async fn set_website_origins(&self, business_id: &BusinessId, origins: Vec<String>) -> Result<()> {
        self.write_for(business_id, move |tx, id| set_origins(tx, id, &origins)).await
    }

    async fn set_twilio_number(&self, business_id: &BusinessId, number: Option<String>) -> Result<()> {
        self.write_for(business_id, move |tx, id| set_twilio_number(tx, id, number.as_deref())).await
    }

    async fn update_agent(&self, business_id: &BusinessId, agent: AgentConfig) -> Result<()> {
        self.write_for(business_id, move |tx, id| update_agent(tx, id, &agent)).await
    }

    async fn set_emergency_rules(&self, business_id: &BusinessId, rules: EmergencyRules) -> Result<()> {
        self.write_for(business_id, move |tx, id| set_rules(tx, id, &rules)).await
    }

    async fn questions(&self, business_id: &BusinessId) -> Result<Vec<QuestionRow>> {
        self.read_for(business_id, questions).await
    }

    async fn add_question(&self, business_id: &BusinessId, question: Question) -> Result<QuestionRow> {
        self.write_for(business_id, move |tx, id| add_question(tx, id, &question)).await
    }

    async fn update_question(&self, business_id: &BusinessId, id: &str, question: Question) -> Result<()> {
        let qid = id.to_string();
        self.write_for(business_id, move |tx, id| update_question(tx, id, &qid, &question)).await
    }

    async fn delete_question(&self, business_id: &BusinessId, id: &str) -> Result<()> {
        let qid = id.to_string();
        self.write_for(business_id, move |tx, id| delete_question(tx, id, &qid)).await
    }

    async fn reorder_questions(&self, business_id: &BusinessId, ids: Vec<String>) -> Result<()> {
        self.write_for(business_id, move |tx, id| reorder_questions(tx, id, &ids)).await
    }

    async fn knowledge_entries(&self, business_id: &BusinessId) -> Result<Vec<KnowledgeEntry>> {
        self.read_for(business_id, knowledge_entries).await
    }

    async fn knowledge_entry(&self, business_id: &BusinessId, id: &str) -> Result<KnowledgeEntry> {
        let doc = id.to_string();
        self.read_for(business_id, move |c, id| knowledge_entry(c, id, &doc)).await
    }

    async fn add_knowledge(&self, business_id: &BusinessId, doc: KnowledgeDoc) -> Result<KnowledgeEntry> {
        self.write_for(business_id, move |tx, id| add_knowledge(tx, id, &doc)).await
    }

    async fn update_knowledge(
        &self,
        business_id: &BusinessId,
        id: &str,
        doc: KnowledgeDoc,
    ) -> Result<KnowledgeEntry> {
        let doc_id = id.to_string();
        self.write_for(business_id, move |tx, id| update_knowledge(tx, id, &doc_id, &doc)).await
    }

    async fn delete_knowledge(&self, business_id: &BusinessId, id: &str) -> Result<()> {
        let doc_id = id.to_string();
        self.write_for(business_id, move |tx, id| delete_knowledge(tx, id, &doc_id)).await
    }

    async fn find_leads(&self, business_id: &BusinessId, filter: LeadFilter) -> Result<(Vec<Lead>, u64)> {
        self.read_for(business_id, move |c, id| reports::find_leads(c, id, &filter)).await
    }

    async fn lead_detail(&self, business_id: &BusinessId, lead_id: &LeadId) -> Result<LeadDetail> {
        let lead = lead_id.to_string();
        self.read_for(business_id, move |c, id| reports::lead_detail(c, id, &lead)).await
    }

    async fn set_lead_status(
        &self,
        business_id: &BusinessId,
        lead_id: &LeadId,
        status: LeadStatus,
    ) -> Result<Lead> {
        let lead = lead_id.to_string();
        self.write_for(business_id, move |tx, id| reports::set_lead_status(tx, id, &lead, status)).await
    }

    async fn mark_triage(
        &self,
        business_id: &BusinessId,
        lead_id: &LeadId,
        level: Priority,
        text: &str,
    ) -> Result<()> {
        let (lead, text) = (lead_id.to_string(), text.to_string());
        self.write_for(business_id, move |tx, id| super::triage_marks::mark(tx, id, &lead, level, &text))
            .await
    }

    async fn triage_mark(&self, business_id: &BusinessId, lead_id: &LeadId) -> Result<Option<Priority>> {
        let lead = lead_id.to_string();
        self.read_for(business_id, move |c, id| super::triage_marks::of_lead(c, id, &lead)).await
    }

    async fn activity(&self, business_id: &BusinessId, since: DateTime<Utc>) -> Result<ActivityData> {
        let since = rfc3339(since);
        self.read_for(business_id, move |c, id| reports::activity(c, id, &since)).await
    }

    async fn outcomes(&self, business_id: &BusinessId, since: DateTime<Utc>) -> Result<Outcomes> {
        let since = rfc3339(since);
        self.read_for(business_id, move |c, id| reports::outcomes(c, id, &since)).await
    }

    async fn response_latency(
        &self,
        business_id: &BusinessId,
        first_day: &str,
        last_day: &str,
    ) -> Result<Vec<LatencyStat>> {
        let (first, last) = (first_day.to_string(), last_day.to_string());
        self.read_for(business_id, move |c, id| super::latency::stats(c, Some(id), &first, &last)).await
    }

    async fn all_response_latency(&self, first_day: &str, last_day: &str) -> Result<Vec<LatencyStat>> {
        let (first, last) = (first_day.to_string(), last_day.to_string());
        self.read(move |c| super::latency::stats(c, None, &first, &last)).await
    }

    async fn businesses_activity(&self, since: DateTime<Utc>) -> Result<Vec<BusinessActivity>> {
        let since = rfc3339(since);
        self.read(move |c| reports::businesses_activity(c, &since)).await
    }

    async fn business_facts(&self, business_id: &BusinessId) -> Result<BusinessFacts> {
        self.read_for(business_id, |c, id| {
            super::business::load_business(c, id)?;
            super::business::read_facts(c, id)
        })
        .await
    }

    async fn set_business_facts(&self, business_id: &BusinessId, facts: BusinessFacts) -> Result<()> {
        self.write_for(business_id, move |tx, id| {
            super::business::load_business(tx, id)?;
            super::business::write_facts(tx, id, &facts)
        })
        .await
    }

    async fn business_glossary(&self, business_id: &BusinessId) -> Result<Vec<Gloss>> {
        self.read_for(business_id, |c, id| {
            super::business::load_business(c, id)?;
            super::knowledge::read_glossary(c, id)
        })
        .await
    }

    async fn set_business_glossary(&self, business_id: &BusinessId, glossary: Vec<Gloss>) -> Result<()> {
        self.write_for(business_id, move |tx, id| {
            super::business::load_business(tx, id)?;
            super::knowledge::write_glossary(tx, id, &glossary)
        })
        .await
    }

    async fn widget_seen(
        &self,
        business_id: &BusinessId,
    ) -> Result<Option<(String, chrono::DateTime<chrono::Utc>)>> {
        self.read_for(business_id, |c, id| {
            let seen: Option<(Option<String>, Option<chrono::DateTime<chrono::Utc>>)> = c
                .query_row(
                    "SELECT widget_seen_origin, widget_seen_at FROM businesses WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, super::opt_time_col(r, 1)?)),
                )
                .optional()
                .map_err(db_err)?;
            match seen {
                None => Err(crate::store::StoreError::NotFound("business".into())),
                Some((Some(origin), Some(at))) => Ok(Some((origin, at))),
                Some(_) => Ok(None),
            }
        })
        .await
    }

    async fn note_widget_seen(&self, business_id: &BusinessId, origin: &str) -> Result<()> {
        let origin = origin.to_string();
        self.write_for(business_id, move |tx, id| {
            tx.execute(
                "UPDATE businesses SET widget_seen_origin = ?1, widget_seen_at = ?2
                 WHERE id = ?3 AND widget_seen_at IS NULL",
                params![origin, now(), id],
            )
            .map_err(db_err)?;
            Ok(())
        })
        .await
    }

    async fn set_lead_notes(
        &self,
        business_id: &BusinessId,
        lead_id: &LeadId,
        notes: Option<String>,
    ) -> Result<()> {
        let lead = lead_id.to_string();
        self.write_for(business_id, move |tx, id| {
            super::conversation::set_lead_notes(tx, id, &lead, notes.as_deref())
        })
        .await
    }

    async fn set_lead_test(&self, business_id: &BusinessId, lead_id: &LeadId, test: bool) -> Result<()> {
        let lead = lead_id.to_string();
        self.write_for(business_id, move |tx, id| super::conversation::set_lead_test(tx, id, &lead, test))
            .await
    }

    async fn delete_lead(&self, business_id: &BusinessId, lead_id: &LeadId) -> Result<()> {
        let lead = lead_id.to_string();
        self.write_for(business_id, move |tx, id| super::conversation::delete_lead(tx, id, &lead)).await
    }
}
