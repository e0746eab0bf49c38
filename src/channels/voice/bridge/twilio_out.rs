//! What the bridge writes to Twilio's media stream: the model's audio, a
//! chunk followed by its mark in the same write when one is due (marks go
//! per group, see `playback`); `clear` when the caller talks over it; pings;
//! the close. Audio and marks are written from
//! templates into one buffer whose memory is reused once a message has gone
//! out, so a chunk costs no allocation. A failed write is logged and the
//! call goes on: Twilio's side ending is noticed by the reading side.

use std::fmt::Display;

use bytes::BytesMut;
use futures_util::{Sink, SinkExt};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::channels::voice::twilio_wire as tw;

/// The message written into `out`, as a text frame sharing its memory.
pub(super) fn take_text(out: &mut BytesMut) -> Message {
    // Everything written into `out` comes from `&str`s: always UTF-8.
    Utf8Bytes::try_from(out.split().freeze()).map(Message::Text).unwrap_or_else(|_| Message::text(""))
}

pub(super) struct TwilioOut<S> {
    sink: S,
    stream_sid: String,
    /// `stream_sid` quoted for JSON, for the per-frame templates.
    sid_json: String,
    out: BytesMut,
}

impl<S> TwilioOut<S>
where
    S: Sink<Message> + Unpin,
    S::Error: Display,
{
    pub(super) fn new(sink: S, stream_sid: String) -> TwilioOut<S> {
        let sid_json = tw::quoted_sid(&stream_sid);
        TwilioOut { sink, stream_sid, sid_json, out: BytesMut::with_capacity(512) }
    }

    /// A chunk of model audio (base64, already checked), and mark `seq`
    /// after it when one is due.
    pub(super) async fn play(&mut self, delta: &str, seq: Option<u64>) {
        tw::media_into(&mut self.out, &self.sid_json, delta);
        let media = take_text(&mut self.out);
        let Some(seq) = seq else { return self.write(media).await };
        tw::mark_into(&mut self.out, &self.sid_json, seq);
        let mark = take_text(&mut self.out);
        // `feed` only buffers; `send` flushes both in one write.
        let written = match self.sink.feed(media).await {
            Ok(()) => self.sink.send(mark).await,
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            tracing::debug!(error = %e, "could not write to the media stream");
        }
    }

    /// Mark `seq` on its own: everything written before it is one group.
    pub(super) async fn mark(&mut self, seq: u64) {
        tw::mark_into(&mut self.out, &self.sid_json, seq);
        let mark = take_text(&mut self.out);
        self.write(mark).await;
    }

    async fn write(&mut self, message: Message) {
        if let Err(e) = self.sink.send(message).await {
            tracing::debug!(error = %e, "could not write to the media stream");
        }
    }

    /// Twilio drops the audio it has not played yet.
    pub(super) async fn clear(&mut self) {
        if let Err(e) = self.sink.send(Message::text(tw::clear(&self.stream_sid))).await {
            tracing::debug!(error = %e, "could not write to the media stream");
        }
    }

    /// False when the stream can no longer be written to.
    pub(super) async fn ping(&mut self) -> bool {
        self.sink.send(Message::Ping(Default::default())).await.is_ok()
    }

    /// Closes the stream (its `<Connect action>` then asks us what next).
    pub(super) async fn close(&mut self) {
        let _ = self.sink.send(Message::Close(None)).await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::{json, Value};

    use super::*;

    fn texts(sent: &[Message]) -> Vec<Value> {
        sent.iter().map(|m| serde_json::from_str(m.to_text().unwrap()).unwrap()).collect()
    }

    #[tokio::test]
    async fn audio_goes_out_with_its_mark_and_clear_names_the_stream() {
        let mut twilio = TwilioOut::new(Vec::new(), "MZ\"1".into());
        twilio.play("//8=", Some(7)).await;
        twilio.play("AA==", None).await;
        twilio.mark(8).await;
        twilio.clear().await;
        assert_eq!(
            texts(&twilio.sink),
            vec![
                json!({ "event": "media", "streamSid": "MZ\"1", "media": { "payload": "//8=" } }),
                json!({ "event": "mark", "streamSid": "MZ\"1", "mark": { "name": "7" } }),
                json!({ "event": "media", "streamSid": "MZ\"1", "media": { "payload": "AA==" } }),
                json!({ "event": "mark", "streamSid": "MZ\"1", "mark": { "name": "8" } }),
                json!({ "event": "clear", "streamSid": "MZ\"1" }),
            ]
        );
        assert!(twilio.ping().await);
        twilio.close().await;
        assert!(matches!(twilio.sink[5..], [Message::Ping(_), Message::Close(None)]));
    }
}
