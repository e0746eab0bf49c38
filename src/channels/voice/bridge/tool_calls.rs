//! The tools the model calls during a call, run by the engine; knowledge searches off the
//! call's loop.

use super::*;

/// A function call the model made in a response.
pub(super) struct FunctionCall {
    pub(super) call_id: String,
    pub(super) name: String,
    pub(super) arguments: String,
}

/// A tool finished in the background (knowledge search).
pub(super) struct ToolDone {
    pub(super) call_id: String,
    pub(super) query: String,
    pub(super) passages: Vec<Passage>,
}

/// Knowledge searches run in the background, never inline.
pub(super) struct NoSearch;

#[async_trait::async_trait]
impl KnowledgeSource for NoSearch {
    async fn search(&self, _query: &str) -> Vec<Passage> {
        Vec::new()
    }
}

impl Bridge {
    pub(super) async fn run_tools(&mut self, calls: Vec<FunctionCall>) {
        let level_before = self.session.state.level();
        // What the call does once this batch's line has been said.
        let mut next: Option<(NextStep, EndedReason)> = None;
        for call in calls {
            if call.name == "search_knowledge" {
                // Searching may wait on an embedding model: off the call's loop.
                let query = serde_json::from_str::<Value>(&call.arguments)
                    .ok()
                    .and_then(|v| v.get("query").and_then(Value::as_str).map(str::to_string))
                    .unwrap_or_default();
                let (app, business_id, tx) =
                    (self.app.clone(), self.ctx.business.id.clone(), self.tool_tx.clone());
                self.tools_running += 1;
                tokio::spawn(async move {
                    let passages = engine::search(&app, &business_id, &query).await.unwrap_or_default();
                    let _ = tx.send(ToolDone { call_id: call.call_id, query, passages }).await;
                });
                continue;
            }
            let outcome =
                tools::execute(&self.ctx, &mut self.session.state, &call.name, &call.arguments, &NoSearch)
                    .await;
            let mut output = outcome.output;
            match outcome.effect {
                Effect::Transfer { reason } => match self.ctx.business.notification_phone_number.clone() {
                    Some(number) => {
                        tracing::info!(reason, "transferring the call");
                        next = Some((NextStep::Transfer { number }, EndedReason::Transferred));
                    }
                    None => {
                        output = json!({ "ok": false, "error": "Nobody can take the call now: offer to take a \
                                                                message so someone calls back." });
                    }
                },
                Effect::EndCall { .. } => next = Some((NextStep::Hangup, EndedReason::AgentHungUp)),
                Effect::None => {}
            }
            self.send_model(rt::function_output(&call.call_id, &output)).await;
        }
        let escalate = level_before < Priority::Urgent && conversation::escalate_now(&mut self.session.state);
        if escalate {
            // What the caller is told waits for the alert to be queued (or not).
            self.save_escalation(Vec::new()).await;
            self.on_emergency(true).await;
        } else {
            self.save_lines(Vec::new(), false, Vec::new());
        }
        match next {
            Some((NextStep::Hangup, reason)) => {
                let goodbye = voice::goodbye(&self.ctx);
                self.begin_ending(NextStep::Hangup, reason);
                self.request_response(Ask::Told(format!(
                    "Say goodbye with exactly these words: \"{goodbye}\""
                )))
                .await;
            }
            Some((step, reason)) => {
                self.begin_ending(step, reason);
                self.request_response(Ask::Free).await;
            }
            None if self.tools_running > 0 => {
                let wait = Duration::from_millis(self.app.config.voice.tool_filler_ms);
                self.gate.filler_at(Instant::now() + wait);
            }
            None => self.request_response(Ask::Free).await,
        }
    }

    pub(super) async fn on_tool_done(&mut self, done: ToolDone) {
        self.tools_running = self.tools_running.saturating_sub(1);
        let found = !done.passages.is_empty();
        let output = tools::knowledge_output(&done.passages);
        self.send_model(rt::function_output(&done.call_id, &output)).await;
        let kind = if found { "knowledge_answered" } else { "knowledge_unanswered" };
        self.save_lines(Vec::new(), false, vec![(kind.to_string(), json!({ "question": done.query }))]);
        if self.tools_running == 0 {
            self.gate.cancel_filler();
            self.request_response(Ask::Free).await;
        }
    }
}
