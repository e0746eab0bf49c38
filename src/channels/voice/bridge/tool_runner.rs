//! The tool runner: the function calls of the response in progress (run
//! once it completes, dropped if it does not), and the knowledge searches
//! running in the background, whose results come back through a channel.

use std::future::Future;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::channels::voice::realtime_wire::ResponseStatus;
use crate::retrieval::Passage;

/// The tool whose work runs off the call's loop.
pub(super) const SEARCH: &str = crate::agent::tools::ToolName::SearchKnowledge.as_str();

/// A function call the model made in a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FunctionCall {
    pub(super) call_id: String,
    pub(super) name: String,
    pub(super) arguments: String,
}

/// A tool finished in the background (knowledge search).
#[derive(Debug)]
pub(super) struct ToolDone {
    pub(super) call_id: String,
    pub(super) query: String,
    pub(super) passages: Vec<Passage>,
}

#[derive(Debug)]
pub(super) struct ToolRunner {
    /// Calls of the response in progress.
    calls: Vec<FunctionCall>,
    /// Searches running in the background.
    running: usize,
    tx: mpsc::Sender<ToolDone>,
    rx: mpsc::Receiver<ToolDone>,
}

impl Default for ToolRunner {
    fn default() -> ToolRunner {
        let (tx, rx) = mpsc::channel(8);
        ToolRunner { calls: Vec::new(), running: 0, tx, rx }
    }
}

impl ToolRunner {
    /// The model called a function in the response in progress.
    pub(super) fn called(&mut self, call: FunctionCall) {
        self.calls.push(call);
    }

    /// The response ended: its calls, to run if it completed. An interrupted
    /// or failed response's calls are not run (nor kept).
    pub(super) fn response_done(&mut self, status: ResponseStatus) -> Vec<FunctionCall> {
        let calls = std::mem::take(&mut self.calls);
        if status == ResponseStatus::Completed || calls.is_empty() {
            return calls;
        }
        tracing::info!(?status, n = calls.len(), "tool calls of an unfinished response dropped");
        Vec::new()
    }

    /// A fresh model session: the old one's calls are forgotten (its
    /// searches still answer, into the new one).
    pub(super) fn forget_calls(&mut self) {
        self.calls.clear();
    }

    /// Searches are running in the background.
    pub(super) fn running(&self) -> bool {
        self.running > 0
    }

    /// Runs `search` in the background; its passages come back through
    /// [`ToolRunner::next_done`].
    pub(super) fn spawn_search(
        &mut self,
        call_id: String,
        query: String,
        search: impl Future<Output = Vec<Passage>> + Send + 'static,
    ) {
        let tx = self.tx.clone();
        self.running += 1;
        tokio::spawn(async move {
            let passages = search.await;
            let _ = tx.send(ToolDone { call_id, query, passages }).await;
        });
    }

    /// The next search to finish. The runner keeps a sender, so this never
    /// ends; and nothing is awaited after a result is taken, so it is safe
    /// to use in `select!`.
    pub(super) async fn next_done(&mut self) -> Option<ToolDone> {
        let done = self.rx.recv().await;
        if done.is_some() {
            self.running = self.running.saturating_sub(1);
        }
        done
    }
}

/// The `query` a knowledge search was called with (empty when absent).
pub(super) fn search_query(arguments: &str) -> String {
    serde_json::from_str::<Value>(arguments)
        .ok()
        .and_then(|v| v.get("query").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn call(id: &str) -> FunctionCall {
        FunctionCall { call_id: id.into(), name: "end_call".into(), arguments: "{}".into() }
    }

    #[test]
    fn calls_of_a_completed_response_are_run_and_others_dropped() {
        let mut tools = ToolRunner::default();
        tools.called(call("call_1"));
        tools.called(call("call_2"));
        assert_eq!(tools.response_done(ResponseStatus::Completed), vec![call("call_1"), call("call_2")]);
        assert_eq!(tools.response_done(ResponseStatus::Completed), vec![], "taken once");
        tools.called(call("call_3"));
        assert_eq!(tools.response_done(ResponseStatus::Cancelled), vec![]);
        assert_eq!(tools.response_done(ResponseStatus::Completed), vec![], "dropped, not kept");
        tools.called(call("call_4"));
        tools.forget_calls();
        assert_eq!(tools.response_done(ResponseStatus::Completed), vec![]);
    }

    #[tokio::test]
    async fn searches_run_in_the_background_and_are_counted_until_they_answer() {
        let mut tools = ToolRunner::default();
        assert!(!tools.running());
        let (release, wait) = tokio::sync::oneshot::channel::<()>();
        tools.spawn_search("call_1".into(), "hours".into(), async move {
            let _ = wait.await;
            Vec::new()
        });
        tools.spawn_search("call_2".into(), "prices".into(), async { Vec::new() });
        assert!(tools.running());
        let first = tools.next_done().await.unwrap();
        assert_eq!((first.call_id.as_str(), first.query.as_str()), ("call_2", "prices"));
        assert!(tools.running(), "one still runs");
        release.send(()).unwrap();
        assert_eq!(tools.next_done().await.unwrap().call_id, "call_1");
        assert!(!tools.running());
    }

    #[test]
    fn the_query_of_a_search() {
        assert_eq!(search_query(r#"{"query":"opening hours"}"#), "opening hours");
        assert_eq!(search_query(r#"{"q":1}"#), "");
        assert_eq!(search_query("not json"), "");
    }
}
