//! One conversation turn end to end, for every channel: load the business,
//! restore the session, retrieve knowledge, run the engine, save the turn.

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::agent::conversation::{self, Context, State, Turn};
use crate::agent::local_model;
use crate::agent::provider::{self, ReplyProvider, TurnInput};
use crate::agent::tools;
use crate::agent::triage::Rules;
use crate::domain::{new_id, Channel, Priority, Speaker};
use crate::ids::{BusinessId, ConversationId, LeadId};
use crate::retrieval::{Glossary, Passage};
use crate::sessions::TurnLease;
use crate::state::AppState;
use crate::store::{KnowledgeQuery, LatencySample, StoreError, TurnRecord};

/// Knowledge passages considered per question.
const PASSAGES: usize = 3;
/// Transcript lines kept in the session for a model's context.
const HISTORY: usize = 24;
/// Longest a turn holds its conversation against turns on other instances.
const TURN_HOLD: std::time::Duration = std::time::Duration::from_secs(60);

/// What a session remembers between turns (JSON in the session store).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub business_id: BusinessId,
    pub conversation_id: ConversationId,
    pub channel: Channel,
    pub state: State,
    /// Recent (speaker, text) lines, oldest first.
    pub history: Vec<(Speaker, String)>,
    #[serde(default)]
    pub lead_id: Option<LeadId>,
    /// Phone (gather mode): turns in a row the caller said nothing.
    #[serde(default)]
    pub silences: u8,
}

impl Session {
    pub fn new(
        business_id: &BusinessId,
        conversation_id: ConversationId,
        channel: Channel,
        state: State,
    ) -> Session {
        Session {
            business_id: business_id.clone(),
            conversation_id,
            channel,
            state,
            history: Vec::new(),
            lead_id: None,
            silences: 0,
        }
    }

    /// Adds transcript lines, keeping the last [`HISTORY`].
    pub fn remember(&mut self, lines: impl IntoIterator<Item = (Speaker, String)>) {
        self.history.extend(lines);
        let excess = self.history.len().saturating_sub(HISTORY);
        self.history.drain(..excess);
    }
}

/// How long a reply took to start, stamped now and with the business's
/// local date (the day it counts on).
pub fn latency_sample(
    business: &crate::domain::Business,
    conversation_id: &ConversationId,
    channel: Channel,
    mode: &'static str,
    elapsed: std::time::Duration,
) -> LatencySample {
    let now = chrono::Utc::now();
    let zone: chrono_tz::Tz = business.timezone.parse().unwrap_or(chrono_tz::UTC);
    LatencySample {
        business_id: business.id.clone(),
        conversation_id: conversation_id.clone(),
        channel,
        mode,
        ms: u32::try_from(elapsed.as_millis()).unwrap_or(u32::MAX),
        at: now,
        day: now.with_timezone(&zone).date_naive().to_string(),
    }
}

/// Records how long a reply took to start, off the caller's path: the
/// write never delays the reply, and a failure is only logged.
pub fn record_latency(app: &AppState, sample: LatencySample) {
    let store = app.store.clone();
    tokio::spawn(async move {
        if let Err(e) = store.record_latency(sample).await {
            tracing::warn!(error = %e, "could not record a reply's latency");
        }
    });
}

/// A business's session, when the session store still has it.
pub async fn load_session(app: &AppState, id: &str, business_id: &BusinessId) -> Option<Session> {
    app.sessions
        .get(id)
        .await
        .and_then(|json| serde_json::from_str::<Session>(&json).ok())
        .filter(|s| &s.business_id == business_id)
}

pub async fn save_session(app: &AppState, id: &str, session: &Session) {
    match serde_json::to_string(session) {
        Ok(json) => app.sessions.put(id, json).await,
        Err(e) => tracing::error!(error = %e, "session could not be serialised"),
    }
}

/// The result of a turn, as channels report it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub session_id: String,
    pub conversation_id: ConversationId,
    pub text: String,
    pub emergency: Option<Priority>,
    pub lead_id: Option<LeadId>,
    pub done: bool,
    /// The visitor asked for a person (a call can be put through).
    pub human_requested: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    #[error("business {0} not found")]
    UnknownBusiness(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no reply: {0}")]
    Provider(String),
}

impl From<TurnError> for crate::error::ApiError {
    fn from(e: TurnError) -> Self {
        match e {
            TurnError::UnknownBusiness(id) => {
                crate::error::ApiError::NotFound(format!("business {id} not found"))
            }
            TurnError::Store(e) => e.into(),
            TurnError::Provider(e) => crate::error::ApiError::Internal(e),
        }
    }
}

/// Knowledge search for the model's tool, scoped to one business.
struct StoreKnowledge<'a> {
    app: &'a AppState,
    business_id: &'a BusinessId,
    glossary: &'a Glossary,
}

#[async_trait::async_trait]
impl tools::KnowledgeSource for StoreKnowledge<'_> {
    async fn search(&self, query: &str) -> Vec<Passage> {
        search(self.app, self.business_id, self.glossary, query).await.unwrap_or_default()
    }
}

/// Searches a business's knowledge base: full text fused with the nearest
/// chunks by meaning. The query is embedded by the OpenAI model when one is
/// configured (and answers in time), else by the embedded model, which
/// reads it through the shared glossary and the business's own (the store
/// searches the words of both).
pub async fn search(
    app: &AppState,
    business_id: &BusinessId,
    glossary: &Glossary,
    text: &str,
) -> Result<Vec<Passage>, StoreError> {
    let remote = match &app.embedder {
        Some(embedder) => match embedder.embed(&[text.to_string()]).await {
            Ok(mut vectors) => vectors.pop().map(|v| (embedder.model.clone(), v)),
            Err(e) => {
                tracing::warn!(error = %e, "query embedding failed; the built-in model's instead");
                None
            }
        },
        None => None,
    };
    let embedding =
        remote.or_else(|| local_model::get().map(|m| (m.id().to_string(), m.embed(&glossary.glossed(text)))));
    let query = KnowledgeQuery { text: text.to_string(), embedding, limit: PASSAGES };
    app.store.search_knowledge(business_id, &query).await
}

/// The passages for every question in a message, searched one by one and
/// taken in turns (each question's best first), without repeats.
async fn search_each_question(
    app: &AppState,
    business_id: &BusinessId,
    glossary: &Glossary,
    message: &str,
) -> Result<Vec<Passage>, StoreError> {
    let parts = conversation::asked_parts(message);
    if parts.len() < 2 {
        return search(app, business_id, glossary, message).await;
    }
    let mut found = Vec::new();
    for part in &parts {
        found.push(search(app, business_id, glossary, part).await?);
    }
    let mut merged: Vec<Passage> = Vec::new();
    for rank in 0..PASSAGES {
        for passages in &found {
            if let Some(p) = passages.get(rank).filter(|p| !merged.iter().any(|m| m.chunk_id == p.chunk_id)) {
                merged.push(p.clone());
            }
        }
    }
    Ok(merged)
}

/// Loads what the engine needs to know about a business.
pub async fn context(app: &AppState, business_id: &BusinessId) -> Result<Context, TurnError> {
    let profile = match app.store.agent_profile(business_id).await {
        Err(StoreError::NotFound(_)) => return Err(TurnError::UnknownBusiness(business_id.to_string())),
        other => other?,
    };
    let rules = Rules::cached_with_marks(
        profile.business.business_type,
        &profile.emergency_rules,
        &profile.triage_marks,
    );
    let tz: chrono_tz::Tz = profile.business.timezone.parse().unwrap_or(chrono_tz::UTC);
    let today = chrono::Utc::now().with_timezone(&tz).date_naive();
    Ok(Context::new(profile.business, profile.agent, profile.questions, rules, app.plans)
        .with_facts(profile.facts, Some(today))
        .with_glossary(&profile.glossary))
}

/// Sends a saved reply to a streaming client a sentence at a time.
async fn stream_reply(deltas: Option<&mpsc::Sender<String>>, text: &str) {
    let Some(tx) = deltas else { return };
    for sentence in crate::retrieval::sentences(text) {
        if tx.send(format!("{sentence} ")).await.is_err() {
            break;
        }
    }
}

/// Runs one visitor message through the engine and saves everything it
/// produced. `session_id` None (or unknown, or another business's) starts a
/// new conversation, a `test` one when asked (the owner's preview, the demo
/// page: nobody is alerted). Reply text is also sent to `deltas`: as a model
/// writes it, or once saved (the local engine, and any turn that escalates,
/// whose wording depends on whether an alert was queued).
pub async fn run_turn(
    app: &AppState,
    ctx: &Context,
    channel: Channel,
    session_id: Option<&str>,
    message: &str,
    deltas: Option<mpsc::Sender<String>>,
    test: bool,
) -> Result<Reply, TurnError> {
    let lock = session_id.map(|id| app.turn_locks.get_with(id.to_string(), Default::default));
    let _turn = match &lock {
        Some(lock) => Some(lock.lock().await),
        None => None,
    };
    // With Redis the conversation's next message may reach another instance:
    // the turn holds a shared lease too.
    let lease = match session_id {
        Some(id) if app.shared.backend() == "redis" => {
            let lease = TurnLease::acquire(&app.shared, id, TURN_HOLD, TURN_HOLD).await;
            if lease.is_none() {
                tracing::warn!(
                    session_id = id,
                    "an earlier turn of this conversation is still running elsewhere; going ahead"
                );
            }
            lease
        }
        _ => None,
    };
    let result = turn(app, ctx, channel, session_id, message, deltas, test).await;
    if let Some(lease) = lease {
        lease.release().await;
    }
    result
}

/// The session `session_id` names, or a new one with a new conversation.
async fn open_session(
    app: &AppState,
    business_id: &BusinessId,
    channel: Channel,
    session_id: Option<&str>,
    test: bool,
) -> Result<(String, Session), TurnError> {
    if let Some(id) = session_id {
        if let Some(found) = load_session(app, id, business_id).await {
            return Ok((id.to_string(), found));
        }
    }
    let conversation_id = app.store.start_conversation(business_id, channel, None, test).await?;
    let state = State { test, ..State::default() };
    Ok((new_id(), Session::new(business_id, conversation_id, channel, state)))
}

/// The provider's turn; when it fails the visitor still gets an answer: the
/// local dialogue takes this turn.
async fn reply(app: &AppState, state: &mut State, input: TurnInput<'_>) -> Result<Turn, TurnError> {
    match app.replies.turn(state, input).await {
        Ok(turn) => Ok(turn),
        Err(e) => {
            let business_id = &input.ctx.business.id;
            tracing::warn!(error = %e, provider = app.replies.name(), %business_id, "reply provider failed; local engine answers");
            provider::Local.turn(state, input).await.map_err(|e| TurnError::Provider(e.to_string()))
        }
    }
}

/// The analytics events a turn records: a question answered from the
/// knowledge base, or one it could not answer.
fn knowledge_events(answered: bool, passages: &[Passage], message: &str) -> Vec<(String, serde_json::Value)> {
    let kind = if answered {
        "knowledge_answered"
    } else if !passages.is_empty() || conversation::is_question(message) {
        "knowledge_unanswered"
    } else {
        return Vec::new();
    };
    vec![(kind.to_string(), serde_json::json!({ "question": message }))]
}

/// A turn, once it has the conversation to itself.
async fn turn(
    app: &AppState,
    ctx: &Context,
    channel: Channel,
    session_id: Option<&str>,
    message: &str,
    deltas: Option<mpsc::Sender<String>>,
    test: bool,
) -> Result<Reply, TurnError> {
    let business_id = &ctx.business.id;
    let (session_id, mut session) = open_session(app, business_id, channel, session_id, test).await?;

    let passages = if conversation::is_question(message) {
        search_each_question(app, business_id, &ctx.glossary, message).await?
    } else {
        Vec::new()
    };
    let source = StoreKnowledge { app, business_id, glossary: &ctx.glossary };
    let history = session.history.clone();
    let input = TurnInput {
        ctx,
        channel,
        history: &history,
        message,
        passages: &passages,
        knowledge: &source,
        deltas: deltas.as_ref(),
    };
    let turn = reply(app, &mut session.state, input).await?;
    let events = knowledge_events(turn.answered_from_knowledge, &passages, message);
    let details_complete = session.state.done || conversation::remaining_questions(ctx, &session.state) == 0;
    let saved = app
        .store
        .record_turn(TurnRecord {
            business_id: business_id.clone(),
            conversation_id: session.conversation_id.clone(),
            channel,
            messages: vec![(Speaker::User, message.to_string()), (Speaker::Assistant, turn.reply.clone())],
            lead: turn.lead.clone().or_else(|| {
                // An emergency is a lead even before we know who it is.
                turn.escalate.then(|| conversation::lead_draft(ctx, &session.state))
            }),
            level: session.state.level(),
            escalate: turn.escalate,
            notify: app.notify_policy(),
            events,
            unalerted_reply: turn.unalerted_reply.clone(),
            details_complete,
        })
        .await?;
    let lead_id = saved.lead_id.clone();
    if let Some(alerted) = saved.alerted {
        session.state.alerted = Some(alerted);
    }
    let text = saved.reply.clone().unwrap_or_else(|| turn.reply.clone());
    if !turn.streamed {
        stream_reply(deltas.as_ref(), &text).await;
    }
    if lead_id.is_some() {
        // A new or URGENT lead may have enqueued notifications: deliver now, not at the next poll.
        app.notify_wake.notify_one();
    }
    if turn.escalate {
        tracing::warn!(%business_id, conversation_id = %session.conversation_id, reasons = ?crate::agent::triage::reasons_for_log(&session.state.reasons),
            alerted = ?saved.alerted, test = session.state.test, "emergency escalated");
    }

    session.lead_id = lead_id.clone().or(session.lead_id);
    session.remember([(Speaker::User, message.to_string()), (Speaker::Assistant, text.clone())]);
    save_session(app, &session_id, &session).await;
    Ok(Reply {
        session_id,
        conversation_id: session.conversation_id,
        text,
        emergency: turn.emergency,
        lead_id: session.lead_id,
        done: turn.done,
        human_requested: session.state.human_requested,
    })
}
