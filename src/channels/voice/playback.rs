//! What the caller has actually heard of the assistant's audio, from the
//! marks Twilio echoes and the stream's own clock (inbound media timestamps).
//!
//! Assistant audio sent to Twilio is followed by a mark; Twilio echoes a mark
//! once everything before it has played. Marks are cheap but not free (one
//! message each way), so audio arriving in small deltas is marked per group:
//! a group closes after an item's first chunk, once it holds
//! [`MARK_EVERY_MS`] of audio, when another item starts, or when the bridge
//! says so (the model sent something other than
//! audio, which ends every item's audio). Audio not yet marked counts as
//! playing. On barge-in, the audio heard of the item playing is what its
//! last echoed mark covers plus the time since, never beyond the next mark
//! (or the end of what was sent). Playback time restarts with every new
//! item, so an earlier, uninterrupted answer never inflates a later
//! truncation.

use std::collections::VecDeque;
use std::sync::Arc;

/// G.711 μ-law at 8 kHz.
pub const BYTES_PER_MS: u64 = 8;
/// Audio a mark covers before the next one is due: 100 ms, so a model that
/// sends 20 ms deltas costs one mark in five, and one sending 100 ms chunks
/// or more still has a mark after each.
pub const MARK_EVERY_MS: u64 = 100;

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

/// Audio sent since the last mark.
#[derive(Debug, Clone)]
struct Open {
    item: Arc<str>,
    /// Audio of `item` sent in all, ms (what the group's mark will cover).
    cum_ms: u64,
    /// Of which in this group.
    group_ms: u64,
}

/// The marks ledger of one call.
#[derive(Debug, Default)]
pub struct Playback {
    next_seq: u64,
    pending: VecDeque<Pending>,
    /// Sent, not yet marked: it plays after everything pending.
    open: Option<Open>,
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
    /// `bytes` of `item`'s μ-law audio are being sent now, marked at once;
    /// returns the mark to send after them.
    pub fn sent(&mut self, item: &str, bytes: u64, now_ms: u64) -> String {
        self.sent_seq(item, bytes, now_ms).to_string()
    }

    /// As [`Playback::sent`], the mark's name as a number (no allocation
    /// while the item goes on).
    pub fn sent_seq(&mut self, item: &str, bytes: u64, now_ms: u64) -> u64 {
        // A group of another item closed first would need its own mark;
        // callers that mark every chunk never leave one open.
        let _ = self.audio(item, bytes, now_ms);
        self.close().unwrap_or(self.next_seq)
    }

    /// `bytes` of `item`'s μ-law audio are being sent now, unmarked. Returns
    /// the mark closing the group of another item, to send before them.
    pub fn audio(&mut self, item: &str, bytes: u64, now_ms: u64) -> Option<u64> {
        let before = match &self.open {
            Some(open) if &*open.item != item => self.close(),
            _ => None,
        };
        if self.pending.is_empty() && self.open.is_none() {
            // Nothing queued at Twilio: this chunk starts playing now.
            self.play_start_ms = now_ms;
            self.last_echo = None;
        }
        if !matches!(&self.sending, Some((id, _)) if &**id == item) {
            self.sending = Some((Arc::from(item), 0));
        }
        let Some((id, sent)) = &mut self.sending else { return before };
        *sent += bytes;
        let cum_bytes = *sent;
        let cum_ms = cum_bytes / BYTES_PER_MS;
        let group_ms = bytes / BYTES_PER_MS;
        match &mut self.open {
            Some(open) => {
                open.cum_ms = cum_ms;
                open.group_ms += group_ms;
            }
            None => self.open = Some(Open { item: id.clone(), cum_ms, group_ms }),
        }
        before
    }

    /// The mark closing the open group, when it holds `every_ms` of audio
    /// or the start of its item (marked at once, so a short answer's
    /// playback is anchored by an echo early).
    pub fn mark_due(&mut self, every_ms: u64) -> Option<u64> {
        let open = self.open.as_ref()?;
        if open.group_ms < every_ms && open.cum_ms > open.group_ms {
            return None;
        }
        self.close()
    }

    /// The mark closing the open group, if any: to send now.
    pub fn close(&mut self) -> Option<u64> {
        let open = self.open.take()?;
        self.next_seq += 1;
        self.pending.push_back(Pending { seq: self.next_seq, item: open.item, cum_ms: open.cum_ms });
        Some(self.next_seq)
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
        !self.pending.is_empty() || self.open.is_some()
    }

    /// Audio of `item` is still queued or playing.
    pub fn playing_item(&self, item: &str) -> bool {
        self.pending.iter().any(|p| &*p.item == item) || self.open.as_ref().is_some_and(|o| &*o.item == item)
    }

    /// The caller started talking at `now_ms`: where to cut the item being
    /// played (None when nothing is playing). Forgets everything queued.
    pub fn interrupt(&mut self, now_ms: u64) -> Option<Cut> {
        let (item, cum_ms) = match (self.pending.front(), &self.open) {
            (Some(p), _) => (p.item.clone(), p.cum_ms),
            (None, Some(o)) => (o.item.clone(), o.cum_ms),
            (None, None) => return None,
        };
        let (base, since) = match &self.last_echo {
            Some(e) if e.item == item => (e.cum_ms, e.at_ms),
            // The previous item finished at its last echo; this one started then.
            Some(e) => (0, e.at_ms),
            None => (0, self.play_start_ms),
        };
        let heard = (base + now_ms.saturating_sub(since)).min(cum_ms).max(base);
        self.pending.clear();
        self.open = None;
        self.last_echo = None;
        self.sending = None;
        Some(Cut { item_id: item.to_string(), audio_end_ms: heard })
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

    /// Audio in `ms` chunks of `item`, marked as the bridge marks it.
    fn stream(p: &mut Playback, item: &str, chunks: &[u64], now_ms: u64) -> Vec<Option<u64>> {
        chunks
            .iter()
            .map(|ms| {
                assert_eq!(p.audio(item, ms * BYTES_PER_MS, now_ms), None);
                p.mark_due(MARK_EVERY_MS)
            })
            .collect()
    }

    #[test]
    fn small_deltas_are_marked_per_group_and_the_start_at_once() {
        let mut p = Playback::default();
        let marks = stream(&mut p, "item_a", &[20; 11], 0);
        let marked: Vec<usize> =
            marks.iter().enumerate().filter(|(_, m)| m.is_some()).map(|(i, _)| i).collect();
        // The first chunk, then every 100 ms of audio.
        assert_eq!(marked, [0, 5, 10]);
        assert!(p.playing_item("item_a"));
        // The first two marks played; 60 ms later the caller talks: 120 + 60.
        p.echoed(&marks[0].unwrap().to_string(), 100);
        p.echoed(&marks[5].unwrap().to_string(), 200);
        assert!(p.playing(), "the last group is still queued");
        assert_eq!(p.interrupt(260), Some(Cut { item_id: "item_a".into(), audio_end_ms: 180 }));
        // Chunks of 100 ms or more: a mark after each, as before.
        let mut p = Playback::default();
        assert!(stream(&mut p, "item_b", &[100, 100, 250], 0).iter().all(Option::is_some));
    }

    #[test]
    fn an_open_group_is_playing_is_cut_within_what_was_sent_and_closes_on_demand() {
        let mut p = Playback::default();
        stream(&mut p, "item_a", &[20, 20, 20], 1000);
        assert!(p.close().is_some(), "the open group gets its mark");
        assert_eq!(p.close(), None, "nothing left open");
        // Nothing echoed: 500 ms later, no more than the first mark covers.
        assert_eq!(p.interrupt(1500), Some(Cut { item_id: "item_a".into(), audio_end_ms: 20 }));
        assert!(!p.playing());
        // Unmarked audio alone: no more than was sent.
        assert_eq!(p.audio("item_a", 640, 1000), None);
        assert!(p.playing_item("item_a"));
        assert_eq!(p.interrupt(1500), Some(Cut { item_id: "item_a".into(), audio_end_ms: 80 }));
        // Another item closes the first one's group before its own audio.
        let mut p = Playback::default();
        stream(&mut p, "item_a", &[20, 20], 0);
        let before = p.audio("item_b", 160, 0);
        assert!(before.is_some());
        p.echoed(&before.unwrap().to_string(), 40);
        assert!(!p.playing_item("item_a") && p.playing_item("item_b"));
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
