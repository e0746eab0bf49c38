//! What a response's tool calls do: each run by the engine (knowledge searches off the
//! call's loop, through the tool runner), then what the call does next.

use super::*;

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
            if call.name == tool_runner::SEARCH {
                // Searching may wait on an embedding model: off the call's loop.
                let query = tool_runner::search_query(&call.arguments);
                let (app, business_id, q) = (self.app.clone(), self.ctx.business.id.clone(), query.clone());
                let glossary = self.ctx.glossary.clone();
                let search = async move {
                    engine::search(&app, &business_id, &glossary, &q).await.unwrap_or_default()
                };
                self.tools.spawn_search(call.call_id, query, search);
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
            None if self.tools.running() => {
                let wait = Duration::from_millis(self.app.config.voice.tool_filler_ms);
                self.gate.filler_at(Instant::now() + wait);
            }
            None => self.request_response(Ask::Free).await,
        }
    }

    pub(super) async fn on_tool_done(&mut self, done: ToolDone) {
        let found = !done.passages.is_empty();
        let output = tools::knowledge_output(&done.passages);
        self.send_model(rt::function_output(&done.call_id, &output)).await;
        let kind = if found { "knowledge_answered" } else { "knowledge_unanswered" };
        self.save_lines(Vec::new(), false, vec![(kind.to_string(), json!({ "question": done.query }))]);
        if !self.tools.running() {
            self.gate.cancel_filler();
            self.request_response(Ask::Free).await;
        }
    }
}
