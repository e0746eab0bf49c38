//! How a call ends: on the call, then (after a tool's transfer or hang-up)
//! a last line to be heard, then handed over to Twilio (hang-up, transfer,
//! turn by turn), then waiting for Twilio's `stop`; and why it ended.

use tokio::time::Instant;

use crate::channels::voice::NextStep;
use crate::domain::EndedReason;

/// The call leaves the AI once its last line has been heard.
#[derive(Debug, PartialEq)]
struct LastLine {
    step: NextStep,
    reason: EndedReason,
    /// The response carrying the line has finished generating.
    spoken: bool,
    /// Leave by then even if the line has not finished playing.
    deadline: Instant,
}

#[derive(Debug, Default, PartialEq)]
enum Stage {
    #[default]
    OnCall,
    LastLine(LastLine),
    /// The call is being moved out of the stream: its session is gather
    /// mode's from here, and nothing more is played or forwarded.
    HandingOver,
    /// The call has left the AI; waiting for Twilio's `stop` until then.
    Left {
        linger_until: Instant,
    },
}

/// A deadline of the ending that has passed.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Late {
    /// The last line did not finish playing in time: leave anyway.
    LastLine,
    /// Twilio did not end the stream: close it.
    Stop,
}

#[derive(Debug)]
pub(super) struct Ending {
    stage: Stage,
    reason: EndedReason,
}

impl Default for Ending {
    /// A call ends because the caller hung up unless something else ends it.
    fn default() -> Ending {
        Ending { stage: Stage::OnCall, reason: EndedReason::CallerHungUp }
    }
}

impl Ending {
    /// Why the call ended (so far).
    pub(super) fn reason(&self) -> EndedReason {
        self.reason
    }

    /// Nothing is ending: the caller and the model talk.
    pub(super) fn on_call(&self) -> bool {
        self.stage == Stage::OnCall
    }

    /// The call is being handed over or has left the AI.
    pub(super) fn has_left(&self) -> bool {
        matches!(self.stage, Stage::HandingOver | Stage::Left { .. })
    }

    /// A last line is to be heard.
    pub(super) fn last_line_pending(&self) -> bool {
        matches!(self.stage, Stage::LastLine(_))
    }

    /// A tool moves the call on after the next line, heard by `deadline`
    /// (once the call has left the AI, nothing moves it back).
    pub(super) fn begin(&mut self, step: NextStep, reason: EndedReason, deadline: Instant) {
        if self.has_left() {
            return;
        }
        self.stage = Stage::LastLine(LastLine { step, reason, spoken: false, deadline });
    }

    /// The caller spoke over the last line ("wait, one more thing"): they
    /// keep the line. True when there was one.
    pub(super) fn cancel(&mut self) -> bool {
        let pending = self.last_line_pending();
        if pending {
            self.stage = Stage::OnCall;
        }
        pending
    }

    /// The response carrying the last line has finished generating.
    pub(super) fn spoken(&mut self) {
        if let Stage::LastLine(line) = &mut self.stage {
            line.spoken = true;
        }
    }

    /// The last line has been spoken and nothing is playing any more.
    pub(super) fn heard(&self, playing: bool) -> bool {
        matches!(&self.stage, Stage::LastLine(line) if line.spoken) && !playing
    }

    /// Leaving now: where the call goes, its reason recorded (`None` when
    /// no last line was pending).
    pub(super) fn leave(&mut self) -> Option<NextStep> {
        let Stage::LastLine(line) = std::mem::take(&mut self.stage) else { return None };
        self.reason = line.reason;
        Some(line.step)
    }

    /// The model failed: false when the call has left the AI already; else
    /// the call falls back to turn by turn, any last line forgotten.
    pub(super) fn fall_back(&mut self) -> bool {
        if self.has_left() {
            return false;
        }
        self.reason = EndedReason::Fallback;
        self.stage = Stage::OnCall;
        true
    }

    pub(super) fn handing_over(&mut self) {
        self.stage = Stage::HandingOver;
    }

    /// Handed over: wait for Twilio's `stop` until `linger_until`.
    pub(super) fn left(&mut self, linger_until: Instant) {
        self.stage = Stage::Left { linger_until };
    }

    /// The ending's next deadline.
    pub(super) fn deadline(&self) -> Option<Instant> {
        match &self.stage {
            Stage::LastLine(line) => Some(line.deadline),
            Stage::Left { linger_until } => Some(*linger_until),
            Stage::OnCall | Stage::HandingOver => None,
        }
    }

    /// Which deadline has passed at `now`, if any.
    pub(super) fn late(&self, now: Instant) -> Option<Late> {
        match &self.stage {
            Stage::Left { linger_until } if *linger_until <= now => Some(Late::Stop),
            Stage::LastLine(line) if line.deadline <= now => Some(Late::LastLine),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn hanging_up(deadline: Instant) -> Ending {
        let mut ending = Ending::default();
        ending.begin(NextStep::Hangup, EndedReason::AgentHungUp, deadline);
        ending
    }

    #[test]
    fn the_last_line_is_left_once_spoken_and_played() {
        let now = Instant::now();
        let mut ending = hanging_up(now + Duration::from_secs(5));
        assert!(ending.last_line_pending() && !ending.on_call());
        assert!(!ending.heard(false), "not spoken yet");
        ending.spoken();
        assert!(!ending.heard(true), "still playing");
        assert!(ending.heard(false));
        assert_eq!(ending.leave(), Some(NextStep::Hangup));
        assert_eq!(ending.reason(), EndedReason::AgentHungUp);
        assert_eq!(ending.leave(), None, "once");
    }

    #[test]
    fn the_caller_speaking_over_the_last_line_keeps_the_call() {
        let mut ending = hanging_up(Instant::now());
        assert!(ending.cancel());
        assert!(ending.on_call());
        assert!(!ending.cancel());
        assert_eq!(ending.leave(), None);
        assert_eq!(ending.reason(), EndedReason::CallerHungUp);
    }

    #[test]
    fn deadlines_of_the_last_line_and_of_lingering() {
        let now = Instant::now();
        let later = now + Duration::from_secs(10);
        let mut ending = hanging_up(later);
        assert_eq!(ending.deadline(), Some(later));
        assert_eq!(ending.late(now), None);
        assert_eq!(ending.late(later), Some(Late::LastLine));
        ending.leave();
        ending.handing_over();
        assert!(ending.has_left());
        assert_eq!(ending.deadline(), None);
        ending.left(later);
        assert!(ending.has_left());
        assert_eq!(ending.late(now), None);
        assert_eq!(ending.late(later), Some(Late::Stop));
        assert_eq!(Ending::default().deadline(), None);
    }

    #[test]
    fn a_failed_model_falls_back_unless_the_call_has_left() {
        let mut ending = Ending::default();
        ending.begin(
            NextStep::Transfer { number: "+15550000000".into() },
            EndedReason::Transferred,
            Instant::now(),
        );
        assert!(ending.fall_back());
        assert!(ending.on_call(), "the last line is forgotten");
        assert_eq!(ending.reason(), EndedReason::Fallback);
        let mut ending = Ending::default();
        ending.left(Instant::now());
        assert!(!ending.fall_back());
        assert_eq!(ending.reason(), EndedReason::CallerHungUp);
        ending.begin(NextStep::Hangup, EndedReason::AgentHungUp, Instant::now());
        assert!(ending.has_left() && ending.leave().is_none(), "leaving is for good");
    }
}
