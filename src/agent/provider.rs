//! Reply providers: who words the replies. `local` (the default, no network)
//! is the engine's own dialogue; `openai` is any OpenAI-compatible chat model
//! driving the engine through tools (`openai::chat::OpenAi`, outside the engine). Either way the engine decides what is
//! saved; a failing provider's turn is answered by `local`.

use async_trait::async_trait;
use tokio::sync::mpsc;

use super::conversation::{self, Context, State, Turn};
use super::tools::KnowledgeSource;
use crate::domain::{Channel, Speaker};
use crate::retrieval::Passage;

/// Everything a provider reads for one turn (the state is passed apart, as
/// the one thing it changes).
#[derive(Clone, Copy)]
pub struct TurnInput<'a> {
    pub ctx: &'a Context,
    /// Chat replies are read; phone replies are spoken.
    pub channel: Channel,
    /// Recent (speaker, text) lines, oldest first.
    pub history: &'a [(Speaker, String)],
    pub message: &'a str,
    /// Knowledge matches for the message (empty when it asks nothing).
    pub passages: &'a [Passage],
    pub knowledge: &'a dyn KnowledgeSource,
    /// Reply text as it is produced, for streaming channels.
    pub deltas: Option<&'a mpsc::Sender<String>>,
}

/// Why a provider could not word a turn (the local dialogue answers it instead).
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("model request failed: {0}")]
    Http(String),
    #[error("model answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("model stream was malformed: {0}")]
    Protocol(String),
    #[error("model took longer than {0:?}")]
    Timeout(std::time::Duration),
    #[error("model kept calling tools without answering")]
    NoAnswer,
}

#[async_trait]
pub trait ReplyProvider: Send + Sync {
    fn name(&self) -> &'static str;
    /// On error the state is unchanged.
    async fn turn(&self, state: &mut State, input: TurnInput<'_>) -> Result<Turn, LlmError>;
}

/// The deterministic dialogue: persona messages, the question flow, triage
/// and extractive knowledge answers.
pub struct Local;

#[async_trait]
impl ReplyProvider for Local {
    fn name(&self) -> &'static str {
        "local"
    }

    /// Nothing is streamed here: the reply may depend on whether the turn's
    /// alert was queued, so the channel sends it once the turn is saved.
    async fn turn(&self, state: &mut State, input: TurnInput<'_>) -> Result<Turn, LlmError> {
        Ok(conversation::turn(input.ctx, state, input.message, input.passages))
    }
}
