//! Saving a call as it goes, in order and off the call's loop: transcript lines, the lead,
//! the session for gather mode, and the end.

use super::*;

/// Saving happens in order, off the call's loop.
pub(super) enum Persist {
    /// A turn, the session to keep for gather mode (None once gather mode
    /// owns the session), and who waits to hear what the save did.
    Turn(Box<TurnRecord>, Option<Box<Session>>, Option<oneshot::Sender<TurnSaved>>),
    Flush(oneshot::Sender<()>),
    /// A reply's latency: the end of the caller's speech to its first audio.
    /// Boxed, as the turn is: the channel's blocks hold 32 jobs each, and
    /// every call has one (issue 17: memory per call).
    Latency(Box<crate::store::LatencySample>),
    Finish {
        summary: String,
        reason: EndedReason,
    },
}

/// Writes a call's turns in order; the session is saved after each, so the
/// call can carry on turn by turn from exactly where it was.
pub(super) async fn persister(app: AppState, call_sid: String, mut rx: mpsc::UnboundedReceiver<Persist>) {
    let mut lead_id = None;
    while let Some(job) = rx.recv().await {
        match job {
            Persist::Turn(record, session, waiting) => {
                let escalate = record.escalate;
                let saved = match app.store.record_turn(*record).await {
                    Ok(saved) => {
                        lead_id = saved.lead_id.clone().or(lead_id);
                        // A new lead or an escalation may have queued notifications.
                        app.notify_wake.notify_one();
                        saved
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "could not save the call's transcript");
                        // Nothing was queued: never tell the caller otherwise.
                        TurnSaved { alerted: escalate.then_some(false), ..TurnSaved::default() }
                    }
                };
                if let Some(waiting) = waiting {
                    let _ = waiting.send(saved);
                }
                if let Some(mut session) = session {
                    session.lead_id = lead_id.clone().or(session.lead_id.clone());
                    engine::save_session(&app, &call_sid, &session).await;
                }
            }
            Persist::Latency(sample) => {
                if let Err(e) = app.store.record_latency(*sample).await {
                    tracing::warn!(error = %e, "could not record a reply's latency");
                }
            }
            Persist::Flush(done) => {
                let _ = done.send(());
            }
            Persist::Finish { summary, reason } => {
                crate::channels::voice::finish_call(
                    &app,
                    &crate::ids::CallSid::from(call_sid.as_str()),
                    &summary,
                    reason,
                )
                .await;
            }
        }
    }
}

impl Bridge {
    /// Saves transcript lines and the lead so far.
    pub(super) fn save_lines(
        &mut self,
        lines: Vec<(Speaker, String)>,
        escalate: bool,
        events: Vec<(String, Value)>,
    ) {
        self.queue_lines(lines, escalate, events, None);
    }

    /// Saves the escalation and waits for it: whether an alert was queued
    /// decides what the caller is told.
    pub(super) async fn save_escalation(&mut self, lines: Vec<(Speaker, String)>) {
        let (tx, rx) = oneshot::channel();
        self.queue_lines(lines, true, Vec::new(), Some(tx));
        let saved = tokio::time::timeout(std::time::Duration::from_secs(10), rx).await;
        let alerted = saved.ok().and_then(Result::ok).and_then(|s| s.alerted).unwrap_or(false);
        self.session.state.alerted = Some(alerted);
    }

    fn queue_lines(
        &mut self,
        lines: Vec<(Speaker, String)>,
        escalate: bool,
        events: Vec<(String, Value)>,
        waiting: Option<oneshot::Sender<TurnSaved>>,
    ) {
        let state = &self.session.state;
        let lead = Some(conversation::lead_draft(&self.ctx, state)).filter(|l| l.has_contact() || escalate);
        let record = TurnRecord {
            business_id: self.ctx.business.id.clone(),
            conversation_id: self.session.conversation_id.clone(),
            channel: Channel::Voice,
            messages: lines.clone(),
            lead,
            level: state.level(),
            escalate,
            events,
            notify: self.app.notify_policy(),
            unalerted_reply: None,
            details_complete: conversation::remaining_questions(&self.ctx, state) == 0,
        };
        self.session.remember(lines);
        let session = (!self.ending.has_left()).then(|| Box::new(self.session.clone()));
        let _ = self.persist.send(Persist::Turn(Box::new(record), session, waiting));
    }

    /// Saves the held assistant line, as said in full.
    pub(super) fn release_line(&mut self) {
        let line = self.line.release();
        self.save_said(line);
    }

    /// Saves an assistant line the held line let go of.
    pub(super) fn save_said(&mut self, line: Option<String>) {
        if let Some(line) = line {
            self.save_lines(vec![(Speaker::Assistant, line)], false, Vec::new());
        }
    }

    /// The first audio of a reply went to Twilio: how long after the caller
    /// stopped speaking (nothing for audio nobody waited for, as the greeting).
    pub(super) fn first_audio_sent(&mut self) {
        let Some(stopped) = self.speech_ended.take() else { return };
        let conversation = &self.session.conversation_id;
        let sample = engine::latency_sample(
            &self.ctx.business,
            conversation,
            Channel::Voice,
            "realtime",
            stopped.elapsed(),
        );
        let _ = self.persist.send(Persist::Latency(Box::new(sample)));
    }

    /// Waits until everything queued is saved.
    pub(super) async fn flush(&mut self) {
        let (tx, rx) = oneshot::channel();
        if self.persist.send(Persist::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    pub(super) async fn finish(mut self: Box<Self>) {
        self.close_model().await;
        self.release_line();
        // The lead as it stands, even when nothing was said: a caller's number is worth a call back.
        self.save_lines(Vec::new(), false, Vec::new());
        let summary = voice::summary(&self.ctx, &self.session.state);
        let reason = self.ending.reason();
        let _ = self.persist.send(Persist::Finish { summary, reason });
        let Bridge { persist, persister, .. } = *self;
        drop(persist);
        let _ = persister.await;
        tracing::info!(reason = reason.as_str(), "call ended");
    }
}
