//! The `openai` reply provider: any OpenAI-compatible chat-completions
//! endpoint, streamed, with tools the engine executes. The model words the
//! conversation; the engine decides what is saved (answers are validated
//! exactly as in the local dialogue) and the level only ever rises.

use std::time::Duration;

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::agent::alerts::{self, Wording};
use crate::agent::answers;
use crate::agent::conversation::{self, Context, State, Turn};
use crate::agent::provider::{LlmError, ReplyProvider, TurnInput};
use crate::agent::tools::{self, Handoff};
use crate::domain::{Channel, Priority};

/// Model rounds per turn (tool calls, then the answer).
const MAX_ROUNDS: usize = 4;

/// A chat-completions client.
#[derive(Clone)]
pub struct ChatModel {
    http: reqwest::Client,
    base_url: String,
    api_key: String,
    model: String,
    /// The whole turn, all rounds included.
    pub timeout: Duration,
}

impl ChatModel {
    pub fn new(base_url: &str, api_key: &str, model: &str, timeout: Duration) -> Self {
        ChatModel {
            http: super::http_client(None),
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key: api_key.to_string(),
            model: model.to_string(),
            timeout,
        }
    }
}

/// One tool call as streamed.
#[derive(Debug, Default, Clone)]
struct ToolCall {
    id: String,
    name: String,
    arguments: String,
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Delta,
}

#[derive(Deserialize, Default)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    tool_calls: Vec<ToolCallDelta>,
}

#[derive(Deserialize)]
struct ToolCallDelta {
    #[serde(default)]
    index: usize,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<FunctionDelta>,
}

#[derive(Deserialize)]
struct FunctionDelta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

/// Runs one turn with the model. On any error the caller falls back to the
/// local dialogue for this turn; `state` is only changed on success.
pub async fn turn(model: &ChatModel, state: &mut State, input: TurnInput<'_>) -> Result<Turn, LlmError> {
    let mut draft = state.clone();
    let outcome = tokio::time::timeout(model.timeout, run(model, &mut draft, input))
        .await
        .map_err(|_| LlmError::Timeout(model.timeout))??;
    *state = draft;
    Ok(outcome)
}

async fn run(model: &ChatModel, state: &mut State, input: TurnInput<'_>) -> Result<Turn, LlmError> {
    let TurnInput { ctx, channel, history, message, knowledge, deltas, .. } = input;
    state.turns += 1;
    if state.first_message.is_none() {
        state.first_message = Some(message.chars().take(answers::MAX_TEXT_ANSWER).collect());
    }
    // The rules always run: the model may raise the level, never lower it.
    let decision = ctx.rules.classify(message);
    state.raise(decision.level, &decision.reasons, decision.hazard);
    let was_escalated = state.escalated;

    let mut messages = vec![json!({ "role": "system", "content": system_prompt(ctx, state, channel) })];
    for (role, text) in history {
        messages.push(json!({ "role": role, "content": text }));
    }
    messages.push(json!({ "role": "user", "content": message }));

    let mut answered_from_knowledge = false;
    let mut streamed = false;
    let tool_specs =
        Value::Array(tools::tools(ctx, Handoff::Chat).iter().map(tools::Tool::chat_json).collect());
    for _ in 0..MAX_ROUNDS {
        // A turn that escalates is not streamed: what it says about the alert
        // is only known once the turn is saved.
        let escalating = !was_escalated && state.level() == Priority::Urgent;
        let stream_to = if escalating { None } else { deltas };
        let (content, calls) = complete(model, &messages, &tool_specs, stream_to).await?;
        streamed |= stream_to.is_some() && !content.is_empty();
        if calls.is_empty() {
            let escalate = !was_escalated && conversation::escalate_now(state);
            let remaining = conversation::remaining_questions(ctx, state);
            state.done = state.done || remaining == 0;
            let lead = Some(conversation::lead_draft(ctx, state)).filter(|l| l.has_contact());
            let content = content.trim();
            // The engine words the alert; the model was told not to.
            let with = |w: Wording| format!("{} {content}", alerts::emergency_message(ctx, state, w));
            let (reply, unalerted_reply) = match (escalate, state.test) {
                (true, false) => (with(Wording::Alerted), Some(with(Wording::NotAlerted))),
                (true, true) => (with(Wording::Test), None),
                _ => (content.to_string(), None),
            };
            return Ok(Turn {
                reply: reply.trim().to_string(),
                emergency: (state.level() >= Priority::High).then(|| state.level()),
                escalate,
                lead,
                done: state.done,
                answered_from_knowledge,
                unalerted_reply,
                streamed,
            });
        }
        messages.push(json!({
            "role": "assistant",
            "content": if content.is_empty() { Value::Null } else { json!(content) },
            "tool_calls": calls.iter().map(|c| json!({
                "id": c.id, "type": "function", "function": { "name": c.name, "arguments": c.arguments }
            })).collect::<Vec<_>>(),
        }));
        for call in &calls {
            let outcome = tools::execute(ctx, state, &call.name, &call.arguments, knowledge).await;
            answered_from_knowledge |= outcome.answered_from_knowledge;
            messages.push(
                json!({ "role": "tool", "tool_call_id": call.id, "content": outcome.output.to_string() }),
            );
        }
    }
    Err(LlmError::NoAnswer)
}

/// Streams one completion; returns its text and tool calls.
async fn complete(
    model: &ChatModel,
    messages: &[Value],
    tools: &Value,
    deltas: Option<&mpsc::Sender<String>>,
) -> Result<(String, Vec<ToolCall>), LlmError> {
    let body = json!({
        "model": model.model,
        "messages": messages,
        "tools": tools,
        "tool_choice": "auto",
        "stream": true,
        "temperature": 0.3,
    });
    let res = model
        .http
        .post(format!("{}/chat/completions", model.base_url))
        .bearer_auth(&model.api_key)
        .json(&body)
        .send()
        .await
        .map_err(|e| LlmError::Http(e.without_url().to_string()))?;
    if !res.status().is_success() {
        let status = res.status().as_u16();
        let body = res.text().await.unwrap_or_default().chars().take(300).collect();
        return Err(LlmError::Status { status, body });
    }
    let mut content = String::new();
    let mut calls: Vec<ToolCall> = Vec::new();
    let mut buffer = String::new();
    let mut stream = res.bytes_stream();
    while let Some(bytes) = stream.next().await {
        let bytes = bytes.map_err(|e| LlmError::Http(e.without_url().to_string()))?;
        buffer.push_str(&String::from_utf8_lossy(&bytes));
        while let Some(end) = buffer.find('\n') {
            let line: String = buffer.drain(..=end).collect();
            let Some(data) = line.trim().strip_prefix("data:").map(str::trim) else { continue };
            if data == "[DONE]" {
                return Ok((content, calls));
            }
            let chunk: Chunk = serde_json::from_str(data).map_err(|e| LlmError::Protocol(e.to_string()))?;
            for choice in chunk.choices {
                if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
                    if let Some(tx) = deltas {
                        let _ = tx.send(text.clone()).await;
                    }
                    content.push_str(&text);
                }
                for d in choice.delta.tool_calls {
                    if calls.len() <= d.index {
                        calls.resize(d.index + 1, ToolCall::default());
                    }
                    let call = &mut calls[d.index];
                    if let Some(id) = d.id {
                        call.id = id;
                    }
                    if let Some(f) = d.function {
                        call.name.push_str(&f.name.unwrap_or_default());
                        call.arguments.push_str(&f.arguments.unwrap_or_default());
                    }
                }
            }
        }
    }
    Err(LlmError::Protocol("stream ended without [DONE]".into()))
}

fn system_prompt(ctx: &Context, state: &State, channel: Channel) -> String {
    let b = &ctx.business;
    let mut p = format!(
        "{persona}\nYou are {agent}, answering {where} for {name} ({kind}).\n\
         {style} Ask one question at a time.\n\
         Answer hours, service area and prices from the business facts below; use search_knowledge for \
         anything else about the business and never invent hours, prices or policies.\n\
         Save every detail with save_lead_field as soon as it is given; if it is not valid, ask again politely.\n",
        persona = ctx.agent.persona_prompt,
        agent = ctx.agent.agent_name,
        name = b.name,
        kind = b.business_type,
        where = if channel == Channel::Voice { "the phone" } else { "the website chat" },
        style = if channel == Channel::Voice {
            "Your replies are spoken on a phone line: one or two short sentences, no lists, links or \
             symbols; repeat numbers and addresses back to confirm them."
        } else {
            "Keep replies short (under 60 words), warm and plain."
        },
    );
    let facts = crate::agent::facts::brief(&ctx.facts);
    if !facts.is_empty() {
        p.push_str(&format!("Business facts:\n- {}\n", facts.join("\n- ")));
    }
    if state.level() == Priority::Urgent {
        let alert = match alerts::wording(state) {
            _ if !state.escalated => {
                "Do not say whether anyone has been alerted: the system tells the visitor.".to_string()
            }
            Wording::Alerted => "The team has been alerted.".to_string(),
            Wording::Test => "This is a test conversation: nobody is alerted; say so if asked.".to_string(),
            Wording::NotAlerted => format!(
                "Nobody could be alerted automatically: never say anyone was. Tell the visitor: {}",
                alerts::instead(ctx)
            ),
        };
        p.push_str(&format!(
            "This is an EMERGENCY. {alert} Give safety advice if there is gas, fire or carbon monoxide, and ask only the remaining questions below.\n"
        ));
    }
    p.push_str("Details still to collect, in order:\n");
    for q in conversation::pending_questions(ctx, state) {
        p.push_str(&format!(
            "- {} (field {}, {}{})\n",
            q.question_text,
            q.maps_to_lead_field.as_deref().unwrap_or("notes"),
            q.expected_format,
            if q.is_required { "" } else { ", optional" }
        ));
    }
    let captured = conversation::lead_draft(ctx, state).captured;
    if !captured.is_empty() {
        p.push_str(&format!("Already captured: {}\n", serde_json::to_string(&captured).unwrap_or_default()));
    }
    p
}

/// An OpenAI-compatible chat-completions model with the engine's tools.
pub struct OpenAi(pub ChatModel);

#[async_trait::async_trait]
impl ReplyProvider for OpenAi {
    fn name(&self) -> &'static str {
        "openai"
    }

    async fn turn(&self, state: &mut State, input: TurnInput<'_>) -> Result<Turn, LlmError> {
        turn(&self.0, state, input).await
    }
}
