//! The assistant's line in the transcript: the model's transcript of an
//! item is held until the item's audio has played or been cut off, so the
//! transcript says what the caller heard (a line cut short ends in " …");
//! and the item the caller talked over, whose remaining audio is never played.

use crate::channels::voice::playback::Playback;

/// What a line the caller cut off ends with in the transcript.
const CUT_SHORT: &str = " …";

#[derive(Debug)]
struct Held {
    item: String,
    text: String,
}

#[derive(Debug, Default)]
pub(super) struct HeldLine {
    held: Option<Held>,
    /// The caller talked over this item.
    interrupted: Option<String>,
}

impl HeldLine {
    /// Audio of `item` may be played: the caller did not talk over it.
    pub(super) fn plays(&self, item: &str) -> bool {
        self.interrupted.as_deref() != Some(item)
    }

    /// The model's transcript of `item`: the lines to save now, in order (a
    /// line held before, then this one unless its audio is still playing,
    /// in which case it is held).
    pub(super) fn said(
        &mut self,
        item: String,
        transcript: &str,
        playback: &Playback,
    ) -> [Option<String>; 2] {
        let before = self.release();
        let text = transcript.trim();
        if text.is_empty() {
            return [before, None];
        }
        let cut = !self.plays(&item);
        let playing = playback.playing_item(&item);
        self.held = Some(Held { item, text: text.to_string() });
        [before, if playing { None } else { self.take(cut) }]
    }

    /// A mark was echoed: the held line, once its audio has all played.
    pub(super) fn heard(&mut self, playback: &Playback) -> Option<String> {
        let played = self.held.as_ref().is_some_and(|h| !playback.playing_item(&h.item));
        if played {
            self.release()
        } else {
            None
        }
    }

    /// The caller cut `item` off: the held line (marked when it is `item`'s),
    /// and the rest of `item`'s audio is dropped from now on.
    pub(super) fn cut(&mut self, item: String) -> Option<String> {
        let cut_held = self.held.as_ref().is_some_and(|h| h.item == item);
        self.interrupted = Some(item);
        self.take(cut_held)
    }

    /// The held line, as said in full (another line came, or the call is
    /// leaving the AI).
    pub(super) fn release(&mut self) -> Option<String> {
        self.take(false)
    }

    fn take(&mut self, cut_short: bool) -> Option<String> {
        let mut line = self.held.take()?.text;
        if cut_short {
            line.push_str(CUT_SHORT);
        }
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    #[test]
    fn a_line_is_held_while_its_audio_plays_and_saved_once_heard() {
        let (mut playback, mut held) = (Playback::default(), HeldLine::default());
        let mark = playback.sent("item_1", 800, 0);
        assert_eq!(held.said("item_1".into(), " Hello there. ", &playback), [None, None]);
        assert_eq!(held.heard(&playback), None, "still playing");
        playback.echoed(&mark, 100);
        assert_eq!(held.heard(&playback), line("Hello there."));
        assert_eq!(held.release(), None, "saved once");
    }

    #[test]
    fn a_line_whose_audio_already_played_is_saved_at_once() {
        let (playback, mut held) = (Playback::default(), HeldLine::default());
        assert_eq!(held.said("item_1".into(), "Hi.", &playback), [None, line("Hi.")]);
        assert_eq!(held.said("item_2".into(), "  ", &playback), [None, None], "nothing said");
    }

    #[test]
    fn the_next_line_releases_the_one_before_it_first() {
        let (mut playback, mut held) = (Playback::default(), HeldLine::default());
        playback.sent("item_1", 800, 0);
        held.said("item_1".into(), "One.", &playback);
        assert_eq!(held.said("item_2".into(), "Two.", &playback), [line("One."), line("Two.")]);
    }

    #[test]
    fn a_cut_marks_the_line_and_drops_the_rest_of_the_items_audio() {
        let (mut playback, mut held) = (Playback::default(), HeldLine::default());
        playback.sent("item_1", 800, 0);
        held.said("item_1".into(), "We open at nine and", &playback);
        assert!(held.plays("item_1"));
        assert_eq!(held.cut("item_1".into()), line("We open at nine and …"));
        assert!(!held.plays("item_1") && held.plays("item_2"));
        // Its transcript arriving after the cut is marked too.
        let playback = Playback::default();
        assert_eq!(held.said("item_1".into(), "Late.", &playback), [None, line("Late. …")]);
    }

    #[test]
    fn cutting_another_item_saves_the_held_line_whole() {
        let (mut playback, mut held) = (Playback::default(), HeldLine::default());
        playback.sent("item_1", 800, 0);
        held.said("item_1".into(), "First.", &playback);
        assert_eq!(held.cut("item_2".into()), line("First."));
        assert_eq!(held.cut("item_3".into()), None);
    }
}
