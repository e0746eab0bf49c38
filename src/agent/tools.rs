//! The tools a model may call, for every channel. The model proposes; the
//! engine validates and decides: answers are checked exactly as in the local
//! dialogue, and the emergency level only ever rises.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::answers;
use super::conversation::{Answer, Context, State};
use crate::domain::{ExpectedFormat, Priority};
use crate::retrieval::Passage;

/// Where the model's knowledge searches go.
#[async_trait]
pub trait KnowledgeSource: Send + Sync {
    async fn search(&self, query: &str) -> Vec<Passage>;
}

/// Which channel's hand-off tools the model gets besides the common ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handoff {
    /// `request_human` (a person calls back) and `end_conversation`.
    Chat,
    /// `transfer_to_human` (the live call is put through) and `end_call`.
    Voice,
}

/// One tool: name, what it is for, JSON Schema of its arguments.
#[derive(Debug, Clone)]
pub struct Tool {
    pub name: &'static str,
    pub description: &'static str,
    pub parameters: Value,
}

impl Tool {
    /// Chat Completions' shape: `{"type":"function","function":{...}}`.
    pub fn chat_json(&self) -> Value {
        json!({ "type": "function", "function": {
            "name": self.name, "description": self.description, "parameters": self.parameters } })
    }

    /// The Realtime API's flat shape: `{"type":"function","name",...}`.
    pub fn realtime_json(&self) -> Value {
        json!({ "type": "function", "name": self.name, "description": self.description,
            "parameters": self.parameters })
    }
}

/// The tools for a conversation with this business.
pub fn tools(ctx: &Context, handoff: Handoff) -> Vec<Tool> {
    let fields: Vec<String> = ctx.questions.iter().filter_map(|q| q.maps_to_lead_field.clone()).collect();
    let object = |properties: Value, required: &[&str]| json!({ "type": "object", "properties": properties, "required": required });
    let mut out = vec![
        Tool {
            name: "save_lead_field",
            description: "Save a detail the customer gave. The result says whether it was valid.",
            parameters: object(
                json!({ "field": { "type": "string", "enum": fields }, "value": { "type": "string" } }),
                &["field", "value"],
            ),
        },
        Tool {
            name: "set_emergency_level",
            description: "Raise the urgency when the customer describes an emergency.",
            parameters: object(
                json!({ "level": { "type": "string", "enum": ["HIGH", "URGENT"] }, "reason": { "type": "string" } }),
                &["level", "reason"],
            ),
        },
        Tool {
            name: "search_knowledge",
            description: "Search the business's knowledge base (hours, prices, services, policies). \
                          A passage from the business's website carries its source_url, which you may give \
                          the customer as the page to read more.",
            parameters: object(json!({ "query": { "type": "string" } }), &["query"]),
        },
    ];
    match handoff {
        Handoff::Chat => out.extend([
            Tool {
                name: "request_human",
                description: "The visitor wants to talk to a person.",
                parameters: object(json!({ "reason": { "type": "string" } }), &["reason"]),
            },
            Tool {
                name: "end_conversation",
                description: "Everything is captured and the visitor has been thanked.",
                parameters: object(json!({ "summary": { "type": "string" } }), &["summary"]),
            },
        ]),
        Handoff::Voice => out.extend([
            Tool {
                name: "transfer_to_human",
                description: "Put the caller through to a person at the business now. Say one short line \
                              first; the call is transferred when it has been heard.",
                parameters: object(json!({ "reason": { "type": "string" } }), &["reason"]),
            },
            Tool {
                name: "end_call",
                description:
                    "Everything is captured and the caller has been thanked: say goodbye and hang up.",
                parameters: object(json!({ "summary": { "type": "string" } }), &["summary"]),
            },
        ]),
    }
    out
}

/// What a tool call asks the channel to do, besides its output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    None,
    /// Put the live call through to a person.
    Transfer {
        reason: String,
    },
    /// Say goodbye and end the call.
    EndCall {
        summary: String,
    },
}

/// The result of one tool call.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Goes back to the model as the tool's output.
    pub output: Value,
    pub effect: Effect,
    pub answered_from_knowledge: bool,
}

/// Runs a tool the model asked for.
pub async fn execute(
    ctx: &Context,
    state: &mut State,
    name: &str,
    arguments: &str,
    knowledge: &dyn KnowledgeSource,
) -> Outcome {
    let args: Value = serde_json::from_str(arguments).unwrap_or(Value::Null);
    let arg = |name: &str| args.get(name).and_then(Value::as_str).unwrap_or_default().trim().to_string();
    let plain = |output| Outcome { output, effect: Effect::None, answered_from_knowledge: false };
    match name {
        "save_lead_field" => plain(save_field(ctx, state, &arg("field"), &arg("value"))),
        "set_emergency_level" => {
            let level = Priority::parse(&arg("level")).unwrap_or(Priority::Normal);
            let raised = state.raise(level, &[arg("reason")], None);
            plain(json!({ "level": state.level(), "raised": raised }))
        }
        "search_knowledge" => {
            let passages = knowledge.search(&arg("query")).await;
            Outcome {
                answered_from_knowledge: !passages.is_empty(),
                output: knowledge_output(&passages),
                effect: Effect::None,
            }
        }
        "request_human" => {
            state.human_requested = true;
            plain(
                json!({ "ok": true, "note": "The team has been told the visitor wants a person to call back." }),
            )
        }
        "end_conversation" => {
            state.done = true;
            plain(json!({ "ok": true }))
        }
        "transfer_to_human" => {
            state.human_requested = true;
            Outcome {
                output: json!({ "ok": true, "note": "Tell the caller in one short sentence that you are putting them through now." }),
                effect: Effect::Transfer { reason: arg("reason") },
                answered_from_knowledge: false,
            }
        }
        "end_call" => {
            state.done = true;
            Outcome {
                output: json!({ "ok": true, "note": "Say goodbye in one short sentence; the call ends when it has been heard." }),
                effect: Effect::EndCall { summary: arg("summary") },
                answered_from_knowledge: false,
            }
        }
        other => plain(json!({ "error": format!("unknown tool {other}") })),
    }
}

/// What `search_knowledge` answers: the passages found, best first, each
/// with the web page it came from when it came from one (to cite).
pub fn knowledge_output(passages: &[Passage]) -> Value {
    let passages: Vec<Value> = passages
        .iter()
        .map(|p| match &p.source_url {
            Some(url) => json!({ "title": p.title, "text": p.text, "source_url": url }),
            None => json!({ "title": p.title, "text": p.text }),
        })
        .collect();
    json!({ "passages": passages })
}

/// Validates and stores a field exactly as the local dialogue would.
fn save_field(ctx: &Context, state: &mut State, field: &str, value: &str) -> Value {
    let Some(q) = ctx.questions.iter().find(|q| q.maps_to_lead_field.as_deref() == Some(field)) else {
        return json!({ "saved": false, "error": format!("unknown field {field}") });
    };
    match answers::validate(q.expected_format, value, &ctx.business.country) {
        Ok(v) => {
            state.answers.insert(q.order, Answer { value: v.clone(), valid: true });
            json!({ "saved": true, "value": v })
        }
        Err(e) => json!({ "saved": false, "error": format!("{e:?}"), "hint": match q.expected_format {
            ExpectedFormat::Email => "ask for a valid email address",
            ExpectedFormat::Phone => "ask for the full number with area code",
            ExpectedFormat::Text => "ask again",
        }}),
    }
}
