//! What the caller has actually heard of the assistant's audio, from the
//! marks Twilio echoes and the stream's own clock (inbound media timestamps).
//!
//! Every chunk of assistant audio sent to Twilio is followed by a mark; Twilio
//! echoes a mark once everything before it has played. On barge-in, the audio
//! heard of the item playing is what its last echoed mark covers plus the time
//! since, never beyond the next mark (audio we sent but is not yet played).
//! Playback time restarts with every new item, so an earlier, uninterrupted
//! answer never inflates a later truncation.

use std::collections::VecDeque;
use std::sync::Arc;

/// G.711 μ-law at 8 kHz.
pub const BYTES_PER_MS: u64 = 8;

#[derive(Debug, Clone)]
struct Pending {
    seq: u64,
    /// Shared with the other chunks of the item: no copy per chunk.
    item: Arc<str>,
    /// Audio of `item` sent up to and including this chunk, ms.
    cum_ms: u64,
}

#[derive(Debug, Clone)]
struct Echo {
    item: Arc<str>,
    cum_ms: u64,
    at_ms: u64,
}

/// The marks ledger of one call.
#[derive(Debug, Default)]
pub struct Playback {
    next_seq: u64,
    pending: VecDeque<Pending>,
    last_echo: Option<Echo>,
    /// Stream time at which the oldest pending chunk started playing, when
    /// nothing has been echoed since (the Twilio buffer was empty).
    play_start_ms: u64,
    /// The item being sent and how many bytes of it (8 a millisecond).
    sending: Option<(Arc<str>, u64)>,
}

/// Where to cut an interrupted assistant item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    pub item_id: String,
    pub audio_end_ms: u64,
}

impl Playback {
    /// `bytes` of `item`'s μ-law audio are being sent now; returns the mark
    /// to send after them.
    pub fn sent(&mut self, item: &str, bytes: u64, now_ms: u64) -> String {
        self.sent_seq(item, bytes, now_ms).to_string()
    }

    /// As [`Playback::sent`], the mark's name as a number (no allocation
    /// while the item goes on).
    pub fn sent_seq(&mut self, item: &str, bytes: u64, now_ms: u64) -> u64 {
        if self.pending.is_empty() {
            // Nothing queued at Twilio: this chunk starts playing now.
            self.play_start_ms = now_ms;
            self.last_echo = None;
        }
        let (id, cum_bytes) = match &mut self.sending {
            Some((id, sent)) if &**id == item => {
                *sent += bytes;
                (id.clone(), *sent)
            }
            _ => {
                let id: Arc<str> = Arc::from(item);
                self.sending = Some((id.clone(), bytes));
                (id, bytes)
            }
        };
        let cum_ms = cum_bytes / BYTES_PER_MS;
        self.next_seq += 1;
        self.pending.push_back(Pending { seq: self.next_seq, item: id, cum_ms });
        self.next_seq
    }

    /// Twilio echoed mark `name`: everything up to it has played.
    pub fn echoed(&mut self, name: &str, now_ms: u64) {
        let Ok(seq) = name.parse::<u64>() else { return };
        if !self.pending.iter().any(|p| p.seq == seq) {
            return; // cleared, or not ours
        }
        while let Some(p) = self.pending.pop_front() {
            if p.seq == seq {
                self.last_echo = Some(Echo { item: p.item, cum_ms: p.cum_ms, at_ms: now_ms });
                break;
            }
        }
    }

    /// Assistant audio is still queued or playing at Twilio.
    pub fn playing(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Audio of `item` is still queued or playing.
    pub fn playing_item(&self, item: &str) -> bool {
        self.pending.iter().any(|p| &*p.item == item)
    }

    /// The caller started talking at `now_ms`: where to cut the item being
    /// played (None when nothing is playing). Forgets everything queued.
    pub fn interrupt(&mut self, now_ms: u64) -> Option<Cut> {
        let front = self.pending.front()?.clone();
        let (base, since) = match &self.last_echo {
            Some(e) if e.item == front.item => (e.cum_ms, e.at_ms),
            // The previous item finished at its last echo; this one started then.
            Some(e) => (0, e.at_ms),
            None => (0, self.play_start_ms),
        };
        let heard = (base + now_ms.saturating_sub(since)).min(front.cum_ms).max(base);
        self.pending.clear();
        self.last_echo = None;
        self.sending = None;
        Some(Cut { item_id: front.item.to_string(), audio_end_ms: heard })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_cut_is_what_was_played_plus_the_time_since_bounded_by_the_next_mark() {
        let mut p = Playback::default();
        // Five 200 ms chunks sent at once at t=1000 (the model is faster than real time).
        let marks: Vec<String> = (0..5).map(|_| p.sent("item_a", 1600, 1000)).collect();
        assert!(p.playing());
        p.echoed(&marks[0], 1200);
        p.echoed(&marks[1], 1400);
        // Interrupted 130 ms after the second mark played: 400 + 130.
        assert_eq!(p.interrupt(1530), Some(Cut { item_id: "item_a".into(), audio_end_ms: 530 }));
        assert!(!p.playing());
        assert_eq!(p.interrupt(1600), None, "nothing is playing any more");
    }

    #[test]
    fn never_past_what_was_sent_and_from_the_start_when_nothing_echoed() {
        let mut p = Playback::default();
        p.sent("item_a", 800, 5000);
        // No echo yet, 60 ms in.
        assert_eq!(p.interrupt(5060).unwrap().audio_end_ms, 60);
        let mut p = Playback::default();
        p.sent("item_a", 800, 5000);
        // Twilio's clock says 900 ms passed, but only 100 ms was ever sent.
        assert_eq!(p.interrupt(5900).unwrap().audio_end_ms, 100);
    }

    #[test]
    fn a_finished_answer_does_not_inflate_the_next_cut() {
        let mut p = Playback::default();
        let a = p.sent("item_a", 16000, 0);
        p.echoed(&a, 2000);
        assert!(!p.playing());
        // Ten seconds of caller talk later, a new answer starts.
        p.sent("item_b", 2400, 12_000);
        p.sent("item_b", 2400, 12_000);
        assert_eq!(p.interrupt(12_250), Some(Cut { item_id: "item_b".into(), audio_end_ms: 250 }));
    }

    #[test]
    fn the_second_item_of_a_response_is_timed_from_the_end_of_the_first() {
        let mut p = Playback::default();
        let a = p.sent("item_a", 3200, 100);
        p.sent("item_b", 3200, 150);
        p.echoed(&a, 500);
        // item_a is done; item_b has played 120 ms.
        assert_eq!(p.interrupt(620), Some(Cut { item_id: "item_b".into(), audio_end_ms: 120 }));
    }

    #[test]
    fn marks_cleared_or_unknown_are_ignored() {
        let mut p = Playback::default();
        let a = p.sent("item_a", 800, 0);
        p.interrupt(10);
        p.echoed(&a, 20); // Twilio echoes cleared marks too
        p.echoed("not-a-mark", 20);
        assert!(!p.playing());
    }
}
