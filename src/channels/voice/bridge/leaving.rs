//! Leaving the AI: the last line heard, then a hang-up or a transfer (through Twilio's REST
//! API, or by closing the stream).

use super::*;

impl Bridge {
    pub(super) fn begin_ending(&mut self, step: NextStep, reason: EndedReason) {
        let wait = Duration::from_millis(self.app.config.voice.goodbye_timeout_ms);
        self.ending.begin(step, reason, Instant::now() + wait);
    }

    /// The last line has been heard: hang up or transfer through Twilio.
    pub(super) async fn leave(&mut self) {
        let Some(step) = self.ending.leave() else { return };
        self.hand_over(step).await;
    }

    /// Moves the call out of the media stream: through Twilio's REST API when
    /// we can, else by closing the stream so its `<Connect action>` asks us.
    pub(super) async fn hand_over(&mut self, step: NextStep) {
        self.close_model().await;
        self.release_line();
        self.flush().await;
        self.app.voice.set_next(&self.call_sid, step.clone()).await;
        // From here the session store is gather mode's (it may have asked a question).
        self.ending.handing_over();
        let update = match &step {
            NextStep::Hangup => Some(CallUpdate::Complete),
            NextStep::Transfer { number } => Some(CallUpdate::Twiml(crate::channels::voice::twiml::render(
                &transfer(&self.app, &self.ctx, number),
            ))),
            NextStep::Gather | NextStep::Voicemail => {
                let verbs = next_step_twiml(&self.app, &self.ctx, &self.call_sid, &step).await;
                Some(CallUpdate::Twiml(crate::channels::voice::twiml::render(&verbs)))
            }
        };
        let mut redirected = false;
        if let (Some(twilio), Some(update)) = (&self.app.twilio, update) {
            match twilio.update_call(&self.call_sid, &update).await {
                Ok(()) => redirected = true,
                Err(e) => {
                    tracing::warn!(error = %e, ?step, "could not redirect the call; closing the stream instead")
                }
            }
        }
        if !redirected {
            self.twilio.close().await;
        }
        tracing::info!(?step, redirected, "call left the AI");
        self.ending.left(Instant::now() + LINGER);
    }
}
