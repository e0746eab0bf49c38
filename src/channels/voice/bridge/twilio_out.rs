//! What the bridge writes to Twilio's media stream: the model's audio, a
//! chunk followed by its mark in the same write when one is due (marks go
//! per group, see `playback`); `clear` when the caller talks over it; pings;
//! the close. Audio and marks are framed from their templates' pieces
//! straight into the socket's write buffer ([`TextOut`]): no message is
//! built, copied or checked as UTF-8 per chunk (issue 17). They are
//! buffered, and flushed once the bridge has handled everything that woke
//! it. A failed write is logged and the call goes on: Twilio's side ending
//! is noticed by the reading side.

use std::fmt::Display;

use futures_util::{Sink, SinkExt};
use tokio::io::AsyncWrite;
use tokio_tungstenite::tungstenite::Message;

use crate::channels::voice::twilio_wire as tw;
use crate::http::websocket::{self, FastSocket};

/// A socket a text message can be fed to as the pieces of a template.
pub(super) trait TextOut {
    type Error: Display;

    /// Buffers one text message: `parts` one after the other.
    async fn feed_text(&mut self, parts: &[&str]) -> Result<(), Self::Error>;
}

impl<S: AsyncWrite + Unpin> TextOut for FastSocket<S> {
    type Error = websocket::Error;

    async fn feed_text(&mut self, parts: &[&str]) -> Result<(), websocket::Error> {
        FastSocket::feed_text(self, parts).await
    }
}

pub(super) struct TwilioOut<S> {
    /// The whole media stream, unsplit: the bridge reads it through
    /// [`TwilioOut::socket`] (no lock shared by two halves, no extra wakers).
    socket: S,
    stream_sid: String,
    /// `stream_sid` quoted for JSON, for the per-frame templates.
    sid_json: String,
    /// Audio or marks written but not flushed yet.
    unflushed: bool,
}

impl<S> TwilioOut<S>
where
    S: Sink<Message> + TextOut + Unpin,
    <S as Sink<Message>>::Error: Display,
{
    pub(super) fn new(socket: S, stream_sid: String) -> TwilioOut<S> {
        let sid_json = tw::quoted_sid(&stream_sid);
        TwilioOut { socket, stream_sid, sid_json, unflushed: false }
    }

    /// The media stream, for reading what Twilio sends.
    pub(super) fn socket(&mut self) -> &mut S {
        &mut self.socket
    }

    /// A chunk of model audio (base64, already checked), and mark `seq`
    /// after it when one is due. Buffered: it goes out with [`TwilioOut::flush`].
    pub(super) async fn play(&mut self, delta: &str, seq: Option<u64>) {
        let media = tw::media_parts(&self.sid_json, delta);
        Self::feed(&mut self.socket, &mut self.unflushed, &media).await;
        if let Some(seq) = seq {
            self.mark(seq).await;
        }
    }

    /// Mark `seq` on its own: everything written before it is one group.
    /// Buffered like audio.
    pub(super) async fn mark(&mut self, seq: u64) {
        let mut name = itoa::Buffer::new();
        let mark = tw::mark_parts(&self.sid_json, name.format(seq));
        Self::feed(&mut self.socket, &mut self.unflushed, &mark).await;
    }

    /// Only buffers (up to the socket's write batch): what a wakeup of the
    /// bridge writes goes out in one write when it is done. The socket and
    /// flag apart: `parts` borrow the stream id.
    async fn feed(socket: &mut S, unflushed: &mut bool, parts: &[&str]) {
        *unflushed = true;
        if let Err(e) = socket.feed_text(parts).await {
            tracing::debug!(error = %e, "could not write to the media stream");
        }
    }

    /// Writes out whatever audio and marks are buffered.
    pub(super) async fn flush(&mut self) {
        if !std::mem::take(&mut self.unflushed) {
            return;
        }
        if let Err(e) = self.socket.flush().await {
            tracing::debug!(error = %e, "could not write to the media stream");
        }
    }

    /// Twilio drops the audio it has not played yet (sent at once, after
    /// anything buffered).
    pub(super) async fn clear(&mut self) {
        self.unflushed = false;
        if let Err(e) = self.socket.send(Message::text(tw::clear(&self.stream_sid))).await {
            tracing::debug!(error = %e, "could not write to the media stream");
        }
    }

    /// False when the stream can no longer be written to.
    pub(super) async fn ping(&mut self) -> bool {
        self.unflushed = false;
        self.socket.send(Message::Ping(Default::default())).await.is_ok()
    }

    /// Closes the stream (its `<Connect action>` then asks us what next).
    pub(super) async fn close(&mut self) {
        self.unflushed = false;
        let _ = self.socket.send(Message::Close(None)).await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::{json, Value};

    use super::*;

    /// The test sinks take a message fed as parts as the same text sent whole.
    impl TextOut for Vec<Message> {
        type Error = std::convert::Infallible;
        async fn feed_text(&mut self, parts: &[&str]) -> Result<(), Self::Error> {
            self.push(Message::text(parts.concat()));
            Ok(())
        }
    }

    impl TextOut for Recorder {
        type Error = std::convert::Infallible;
        async fn feed_text(&mut self, parts: &[&str]) -> Result<(), Self::Error> {
            self.sent.push(Message::text(parts.concat()));
            Ok(())
        }
    }

    fn texts(sent: &[Message]) -> Vec<Value> {
        sent.iter().map(|m| serde_json::from_str(m.to_text().unwrap()).unwrap()).collect()
    }

    #[tokio::test]
    async fn audio_goes_out_with_its_mark_and_clear_names_the_stream() {
        let mut twilio = TwilioOut::new(Vec::new(), "MZ\"1".into());
        twilio.play("//8=", Some(7)).await;
        twilio.play("AA==", None).await;
        twilio.mark(8).await;
        twilio.flush().await;
        twilio.clear().await;
        assert_eq!(
            texts(&twilio.socket),
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
        assert!(matches!(twilio.socket[5..], [Message::Ping(_), Message::Close(None)]));
    }

    /// A sink that records how many messages it held at each flush.
    #[derive(Default)]
    struct Recorder {
        sent: Vec<Message>,
        flushed_at: Vec<usize>,
    }

    impl Sink<Message> for Recorder {
        type Error = std::convert::Infallible;
        fn poll_ready(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn start_send(mut self: std::pin::Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
            self.sent.push(item);
            Ok(())
        }
        fn poll_flush(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            let held = self.sent.len();
            self.flushed_at.push(held);
            std::task::Poll::Ready(Ok(()))
        }
        fn poll_close(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn audio_and_marks_wait_for_one_flush_and_clear_goes_at_once() {
        let mut twilio = TwilioOut::new(Recorder::default(), "MZ1".into());
        twilio.play("//8=", Some(1)).await;
        twilio.play("AA==", None).await;
        twilio.mark(2).await;
        assert!(twilio.socket.flushed_at.is_empty(), "nothing is flushed per message");
        twilio.flush().await;
        twilio.flush().await;
        assert_eq!(twilio.socket.flushed_at, vec![4], "one flush for the four, none when nothing is new");
        twilio.play("AA==", None).await;
        twilio.clear().await;
        assert_eq!(twilio.socket.flushed_at, vec![4, 6], "clear flushes at once, after the audio before it");
    }
}
