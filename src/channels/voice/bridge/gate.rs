//! The response gate: the model speaks one response at a time. A request
//! made while a response is in progress (or before the session is ready)
//! waits for it, the latest request winning; and when a tool takes long, a
//! filler line ("let me look that up") is asked for once its time comes.

use tokio::time::Instant;

use crate::channels::voice::realtime_wire::Response;

/// What the filler asks the model to say.
const FILLER: &str = "Say in a few words that you are looking that up.";

/// A `response.create`: as the model sees fit, or with instructions for this
/// response only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Ask {
    Free,
    Told(String),
}

impl Ask {
    pub(super) fn instructions(&self) -> Option<&str> {
        match self {
            Ask::Free => None,
            Ask::Told(text) => Some(text),
        }
    }
}

/// The model's response, as far as we know.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Current {
    #[default]
    Idle,
    /// `response.create` sent; the model has not said `response.created` yet
    /// (and may refuse it with an `error`).
    Requested,
    Running,
}

#[derive(Debug, Default)]
pub(super) struct ResponseGate {
    current: Current,
    /// Sent once no response is in progress.
    queued: Option<Ask>,
    filler_at: Option<Instant>,
}

impl ResponseGate {
    /// Asks the model to speak: the request to send now (the gate is busy
    /// from then on), or `None` when it waits for the current response or
    /// for the session to be ready.
    pub(super) fn request(&mut self, ask: Ask, model_ready: bool) -> Option<Ask> {
        if self.busy() || !model_ready {
            self.queued = Some(ask);
            return None;
        }
        // Marked busy at once so a second request waits for this one.
        self.current = Current::Requested;
        Some(ask)
    }

    /// A response is requested or in progress.
    pub(super) fn busy(&self) -> bool {
        self.current != Current::Idle
    }

    /// `response.created`: without its `response` nothing is known to be in
    /// progress, and one without an id is as good as unconfirmed.
    pub(super) fn created(&mut self, response: Option<&Response>) {
        self.current = match response {
            None => Current::Idle,
            Some(r) if r.id.is_empty() => Current::Requested,
            Some(_) => Current::Running,
        };
    }

    /// The model answered with an error: a response we asked for and it
    /// refused is not in progress.
    pub(super) fn refused(&mut self) {
        if self.current == Current::Requested {
            self.current = Current::Idle;
        }
    }

    /// `response.done`.
    pub(super) fn done(&mut self) {
        self.current = Current::Idle;
    }

    /// The request that waited, if any.
    pub(super) fn take_queued(&mut self) -> Option<Ask> {
        self.queued.take()
    }

    /// A fresh model session: nothing of the old one is in progress or waits.
    pub(super) fn reset(&mut self) {
        self.current = Current::Idle;
        self.queued = None;
    }

    /// Tools are running: the filler is said at `at` unless they finish first.
    pub(super) fn filler_at(&mut self, at: Instant) {
        self.filler_at = Some(at);
    }

    /// The tools finished: no filler.
    pub(super) fn cancel_filler(&mut self) {
        self.filler_at = None;
    }

    pub(super) fn filler_deadline(&self) -> Option<Instant> {
        self.filler_at
    }

    /// At `now`: the filler to ask for when its time has come, tools still
    /// run and nothing else is being said (it is due once either way).
    pub(super) fn filler_due(&mut self, now: Instant, tools_running: bool) -> Option<Ask> {
        if self.filler_at.is_none_or(|at| at > now) {
            return None;
        }
        self.filler_at = None;
        (tools_running && !self.busy()).then(|| Ask::Told(FILLER.to_string()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Duration;

    use super::*;

    fn response(id: &str) -> Response {
        Response { id: id.into(), ..Response::default() }
    }

    #[test]
    fn one_response_at_a_time_and_the_latest_request_waits() {
        let mut gate = ResponseGate::default();
        assert_eq!(gate.request(Ask::Free, true), Some(Ask::Free));
        assert!(gate.busy());
        assert_eq!(gate.request(Ask::Told("a".into()), true), None);
        assert_eq!(gate.request(Ask::Told("b".into()), true), None, "the latest wins");
        gate.created(Some(&response("resp_1")));
        assert!(gate.busy());
        gate.done();
        assert!(!gate.busy());
        assert_eq!(gate.take_queued(), Some(Ask::Told("b".into())));
        assert_eq!(gate.take_queued(), None);
    }

    #[test]
    fn nothing_is_sent_before_the_session_is_ready() {
        let mut gate = ResponseGate::default();
        assert_eq!(gate.request(Ask::Told("greet".into()), false), None);
        assert!(!gate.busy());
        assert_eq!(
            gate.take_queued().and_then(|a| a.instructions().map(str::to_string)),
            Some("greet".into())
        );
    }

    #[test]
    fn a_refused_request_frees_the_gate_but_a_running_response_does_not() {
        let mut gate = ResponseGate::default();
        gate.request(Ask::Free, true);
        gate.refused();
        assert!(!gate.busy());
        gate.request(Ask::Free, true);
        gate.created(Some(&response("resp_1")));
        gate.refused();
        assert!(gate.busy(), "an error does not end a running response");
        // The server may start responses of its own (server VAD).
        let mut gate = ResponseGate::default();
        gate.created(Some(&response("resp_2")));
        assert!(gate.busy());
        gate.created(None);
        assert!(!gate.busy());
        gate.created(Some(&response("")));
        gate.refused();
        assert!(!gate.busy(), "no id: as good as unconfirmed");
    }

    #[test]
    fn a_reset_forgets_the_old_session() {
        let mut gate = ResponseGate::default();
        gate.request(Ask::Free, true);
        gate.request(Ask::Told("later".into()), true);
        gate.reset();
        assert!(!gate.busy());
        assert_eq!(gate.take_queued(), None);
    }

    #[test]
    fn the_filler_comes_once_when_tools_still_run_and_the_model_is_quiet() {
        let now = Instant::now();
        let at = now + Duration::from_millis(700);
        let mut gate = ResponseGate::default();
        gate.filler_at(at);
        assert_eq!(gate.filler_deadline(), Some(at));
        assert_eq!(gate.filler_due(now, true), None, "not yet");
        assert!(matches!(gate.filler_due(at, true), Some(Ask::Told(_))));
        assert_eq!(gate.filler_due(at, true), None, "once");
        assert_eq!(gate.filler_deadline(), None);
        // Due while the model speaks, or after the tools finished: spent, not said.
        gate.filler_at(at);
        gate.request(Ask::Free, true);
        assert_eq!(gate.filler_due(at, true), None);
        assert_eq!(gate.filler_deadline(), None);
        gate.done();
        gate.filler_at(at);
        assert_eq!(gate.filler_due(at, false), None);
        gate.filler_at(at);
        gate.cancel_filler();
        assert_eq!(gate.filler_deadline(), None);
    }
}
