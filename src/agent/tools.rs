//! The tools a model may call, for every channel. The model proposes; the
//! engine validates and decides: answers are checked exactly as in the local
//! dialogue, and the emergency level only ever rises.

use async_trait::async_trait;
use serde_json::{json, Value};

use super::answers;
use super::conversation::{Answer, Context, State};
use super::triage::Reason;
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

/// The tools by name: the wire names live here once, so a typo in a
/// channel's dispatch cannot silently become "unknown tool".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolName {
    SaveLeadField,
    SetEmergencyLevel,
    SearchKnowledge,
    RequestHuman,
    EndConversation,
    TransferToHuman,
    EndCall,
}

impl ToolName {
    const ALL: [ToolName; 7] = [
        ToolName::SaveLeadField,
        ToolName::SetEmergencyLevel,
        ToolName::SearchKnowledge,
        ToolName::RequestHuman,
        ToolName::EndConversation,
        ToolName::TransferToHuman,
        ToolName::EndCall,
    ];

    /// The name the model sees and calls.
    pub const fn as_str(self) -> &'static str {
        match self {
            ToolName::SaveLeadField => "save_lead_field",
            ToolName::SetEmergencyLevel => "set_emergency_level",
            ToolName::SearchKnowledge => "search_knowledge",
            ToolName::RequestHuman => "request_human",
            ToolName::EndConversation => "end_conversation",
            ToolName::TransferToHuman => "transfer_to_human",
            ToolName::EndCall => "end_call",
        }
    }

    /// The tool a model's call names; `None` for a name we never offered.
    pub fn parse(name: &str) -> Option<ToolName> {
        ToolName::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl std::fmt::Display for ToolName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One tool: name, what it is for, JSON Schema of its arguments.
#[derive(Debug, Clone)]
pub struct Tool {
    pub name: ToolName,
    pub description: &'static str,
    pub parameters: Value,
}

impl Tool {
    /// Chat Completions' shape: `{"type":"function","function":{...}}`.
    pub fn chat_json(&self) -> Value {
        json!({ "type": "function", "function": {
            "name": self.name.as_str(), "description": self.description, "parameters": self.parameters } })
    }

    /// The Realtime API's flat shape: `{"type":"function","name",...}`.
    pub fn realtime_json(&self) -> Value {
        json!({ "type": "function", "name": self.name.as_str(), "description": self.description,
            "parameters": self.parameters })
    }
}

/// The tools for a conversation with this business.
pub fn tools(ctx: &Context, handoff: Handoff) -> Vec<Tool> {
    let fields: Vec<String> = ctx.questions.iter().filter_map(|q| q.maps_to_lead_field.clone()).collect();
    let object = |properties: Value, required: &[&str]| json!({ "type": "object", "properties": properties, "required": required });
    let mut out = vec![
        Tool {
            name: ToolName::SaveLeadField,
            description: "Save a detail the customer gave. The result says whether it was valid.",
            parameters: object(
                json!({ "field": { "type": "string", "enum": fields }, "value": { "type": "string" } }),
                &["field", "value"],
            ),
        },
        Tool {
            name: ToolName::SetEmergencyLevel,
            description: "Raise the urgency when the customer describes an emergency.",
            parameters: object(
                json!({ "level": { "type": "string", "enum": ["HIGH", "URGENT"] }, "reason": { "type": "string" } }),
                &["level", "reason"],
            ),
        },
        Tool {
            name: ToolName::SearchKnowledge,
            description: "Search the business's knowledge base (hours, prices, services, policies). \
                          A passage from the business's website carries its source_url, which you may give \
                          the customer as the page to read more.",
            parameters: object(json!({ "query": { "type": "string" } }), &["query"]),
        },
    ];
    match handoff {
        Handoff::Chat => out.extend([
            Tool {
                name: ToolName::RequestHuman,
                description: "The visitor wants to talk to a person.",
                parameters: object(json!({ "reason": { "type": "string" } }), &["reason"]),
            },
            Tool {
                name: ToolName::EndConversation,
                description: "Everything is captured and the visitor has been thanked.",
                parameters: object(json!({ "summary": { "type": "string" } }), &["summary"]),
            },
        ]),
        Handoff::Voice => out.extend([
            Tool {
                name: ToolName::TransferToHuman,
                description: "Put the caller through to a person at the business now. Say one short line \
                              first; the call is transferred when it has been heard.",
                parameters: object(json!({ "reason": { "type": "string" } }), &["reason"]),
            },
            Tool {
                name: ToolName::EndCall,
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
    match ToolName::parse(name) {
        Some(ToolName::SaveLeadField) => plain(save_field(ctx, state, &arg("field"), &arg("value"))),
        Some(ToolName::SetEmergencyLevel) => {
            let level = Priority::parse(&arg("level")).unwrap_or(Priority::Normal);
            let raised = state.raise(level, &[Reason::Rule(arg("reason"))], None);
            plain(json!({ "level": state.level(), "raised": raised }))
        }
        Some(ToolName::SearchKnowledge) => {
            let passages = knowledge.search(&arg("query")).await;
            Outcome {
                answered_from_knowledge: !passages.is_empty(),
                output: knowledge_output(&passages),
                effect: Effect::None,
            }
        }
        Some(ToolName::RequestHuman) => {
            state.human_requested = true;
            plain(
                json!({ "ok": true, "note": "The team has been told the visitor wants a person to call back." }),
            )
        }
        Some(ToolName::EndConversation) => {
            state.done = true;
            plain(json!({ "ok": true }))
        }
        Some(ToolName::TransferToHuman) => {
            state.human_requested = true;
            Outcome {
                output: json!({ "ok": true, "note": "Tell the caller in one short sentence that you are putting them through now." }),
                effect: Effect::Transfer { reason: arg("reason") },
                answered_from_knowledge: false,
            }
        }
        Some(ToolName::EndCall) => {
            state.done = true;
            Outcome {
                output: json!({ "ok": true, "note": "Say goodbye in one short sentence; the call ends when it has been heard." }),
                effect: Effect::EndCall { summary: arg("summary") },
                answered_from_knowledge: false,
            }
        }
        None => plain(json!({ "error": format!("unknown tool {name}") })),
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

#[cfg(test)]
mod tests {
    use super::ToolName;

    #[test]
    fn every_tool_name_reads_back_and_unknown_names_are_none() {
        for tool in ToolName::ALL {
            assert_eq!(ToolName::parse(tool.as_str()), Some(tool));
        }
        let names: std::collections::HashSet<_> = ToolName::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(names.len(), ToolName::ALL.len(), "two tools share a wire name");
        assert_eq!(ToolName::parse("save_lead"), None);
        assert_eq!(ToolName::parse(""), None);
    }
}
