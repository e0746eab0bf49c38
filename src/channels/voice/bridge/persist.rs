//! Saving a call as it goes, in order and off the call's loop: transcript lines, the lead,
//! the session for gather mode, and the end.

use super::*;

/// Saving happens in order, off the call's loop.
pub(super) enum Persist {
    /// A turn, and the session to keep for gather mode (None once gather
    /// mode owns the session).
    Turn(Box<TurnRecord>, Option<Box<Session>>),
    Flush(oneshot::Sender<()>),
    Finish {
        summary: String,
        reason: String,
    },
}

/// Writes a call's turns in order; the session is saved after each, so the
/// call can carry on turn by turn from exactly where it was.
pub(super) async fn persister(app: AppState, call_sid: String, mut rx: mpsc::UnboundedReceiver<Persist>) {
    let mut lead_id = None;
    while let Some(job) = rx.recv().await {
        match job {
            Persist::Turn(record, session) => {
                match app.store.record_turn(*record).await {
                    Ok(id) => {
                        lead_id = id.or(lead_id);
                        // A new lead or an escalation may have queued notifications.
                        app.notify_wake.notify_one();
                    }
                    Err(e) => tracing::error!(error = %e, "could not save the call's transcript"),
                }
                if let Some(mut session) = session {
                    session.lead_id = lead_id.clone().or(session.lead_id.clone());
                    engine::save_session(&app, &call_sid, &session).await;
                }
            }
            Persist::Flush(done) => {
                let _ = done.send(());
            }
            Persist::Finish { summary, reason } => {
                crate::channels::voice::finish_call(&app, &call_sid, &summary, &reason).await;
            }
        }
    }
}

impl Bridge {
    /// Saves transcript lines and the lead so far (and the escalation, once).
    pub(super) fn save_lines(
        &mut self,
        lines: Vec<(String, String)>,
        escalate: bool,
        events: Vec<(String, Value)>,
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
        };
        self.session.remember(lines);
        let session = (!self.session_handed_over).then(|| Box::new(self.session.clone()));
        let _ = self.persist.send(Persist::Turn(Box::new(record), session));
    }

    /// Saves the held assistant line, marked when the caller cut it short.
    pub(super) fn release_line(&mut self, cut_short: bool) {
        if let Some((_, mut line)) = self.held_line.take() {
            if cut_short {
                line.push_str(" …");
            }
            self.save_lines(vec![("assistant".into(), line)], false, Vec::new());
        }
    }

    /// Waits until everything queued is saved.
    pub(super) async fn flush(&mut self) {
        let (tx, rx) = oneshot::channel();
        if self.persist.send(Persist::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    pub(super) async fn finish(mut self) {
        self.close_model().await;
        self.release_line(false);
        // The lead as it stands, even when nothing was said: a caller's number is worth a call back.
        self.save_lines(Vec::new(), false, Vec::new());
        let summary = voice::summary(&self.ctx, &self.session.state);
        let _ = self.persist.send(Persist::Finish { summary, reason: self.ended_reason.to_string() });
        drop(self.persist);
        let _ = self.persister.await;
        tracing::info!(reason = self.ended_reason, "call ended");
    }
}
