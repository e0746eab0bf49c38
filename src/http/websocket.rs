//! WebSocket upgrades with our own buffer sizes. warp's `ws()` gives every
//! socket tungstenite's default 128 KiB read buffer, which a phone call's
//! frames (a few hundred bytes) never need; with a thousand calls that is
//! most of the memory. This does the same RFC 6455 handshake and hands over a
//! [`FastSocket`]: frames read by `fastwebsockets` (no zero-filled read
//! buffer, no per-message copy; issue 17), seen by the caller as the same
//! `Stream`/`Sink` of tungstenite `Message`s a tokio-tungstenite socket is.
//! The client end (the model's socket) opens with [`client::connect`].

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::BytesMut;
use fastwebsockets::{Frame, OpCode, Payload, Role, WebSocketError};
use futures_util::{Sink, Stream};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use warp::http::{header, HeaderValue, StatusCode};
use warp::hyper::upgrade::{OnUpgrade, Upgraded};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::error::ApiError;

pub mod client;

pub type ServerSocket = FastSocket<TokioIo<Upgraded>>;

/// A request to upgrade to a WebSocket, checked.
pub struct Upgrade {
    key: String,
    on_upgrade: OnUpgrade,
}

/// Matches a WebSocket upgrade request (GET, `Connection: upgrade`,
/// `Upgrade: websocket`, version 13, a key).
pub fn upgrade() -> impl Filter<Extract = (Upgrade,), Error = Rejection> + Clone {
    warp::get()
        .and(warp::header::optional::<String>("connection"))
        .and(warp::header::optional::<String>("upgrade"))
        .and(warp::header::optional::<String>("sec-websocket-version"))
        .and(warp::header::optional::<String>("sec-websocket-key"))
        .and(warp::ext::get::<OnUpgrade>().map(Some).or(warp::any().map(|| None)).unify())
        .and_then(check)
}

async fn check(
    connection: Option<String>,
    upgrade: Option<String>,
    version: Option<String>,
    key: Option<String>,
    on_upgrade: Option<OnUpgrade>,
) -> Result<Upgrade, Rejection> {
    let bad = |m: &str| warp::reject::custom(ApiError::BadRequest(m.into()));
    let connection_upgrade =
        connection.is_some_and(|c| c.split(',').any(|token| token.trim().eq_ignore_ascii_case("upgrade")));
    if !connection_upgrade || !upgrade.is_some_and(|u| u.trim().eq_ignore_ascii_case("websocket")) {
        return Err(bad("expected a WebSocket upgrade request"));
    }
    if version.as_deref().map(str::trim) != Some("13") {
        return Err(bad("only WebSocket version 13 is supported"));
    }
    let key = key.filter(|k| !k.trim().is_empty()).ok_or_else(|| bad("Sec-WebSocket-Key is missing"))?;
    let on_upgrade = on_upgrade.ok_or_else(|| bad("this connection cannot be upgraded"))?;
    Ok(Upgrade { key: key.trim().to_string(), on_upgrade })
}

impl Upgrade {
    /// Answers `101 Switching Protocols` and runs `handle` on the socket.
    pub fn on_upgrade<F, Fut>(self, limits: Limits, handle: F) -> Response
    where
        F: FnOnce(ServerSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let accept = derive_accept_key(self.key.as_bytes());
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => handle(FastSocket::server(TokioIo::new(upgraded), limits)).await,
                Err(e) => tracing::debug!(error = %e, "WebSocket upgrade failed"),
            }
        });
        let mut response = warp::reply().into_response();
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(value) = HeaderValue::from_str(&accept) {
            headers.insert(header::SEC_WEBSOCKET_ACCEPT, value);
        }
        response
    }
}

/// What a [`FastSocket`] accepts and buffers.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest message (and frame) read; a larger one ends the stream with an error.
    pub max_message: usize,
    /// Bytes written are held until a flush, or until this many are waiting.
    pub write_batch: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Frame(#[from] WebSocketError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("a message is larger than {0} bytes")]
    TooLarge(usize),
    #[error("a text message is not UTF-8")]
    Utf8,
    #[error("protocol error: {0}")]
    Protocol(&'static str),
    #[error("the WebSocket is closed")]
    Closed,
}

/// A frame as read, owning its (unmasked) payload.
struct Read {
    fin: bool,
    opcode: OpCode,
    payload: BytesMut,
}

type Frames = Pin<Box<dyn Stream<Item = Result<Read, WebSocketError>> + Send>>;

/// A WebSocket, server or client end: `fastwebsockets` reads the frames
/// (into one reused buffer, no zero fill, the payload handed over without a
/// copy); writes are framed into one buffer that goes out on flush. Pings
/// are answered and a close is echoed, as tungstenite does, and fragmented
/// messages are put together (up to `max_message`). The reading side lives
/// in its own stream, so a read dropped by `select!` loses nothing
/// (`read_frame` itself is not cancel-safe).
pub struct FastSocket<S> {
    frames: Frames,
    write: tokio::io::WriteHalf<S>,
    /// Framed bytes waiting to be written; `written` of them already are.
    out: Vec<u8>,
    written: usize,
    limits: Limits,
    /// The client end: frames sent are masked.
    client: bool,
    /// A fragmented message being put together.
    partial: Option<(OpCode, BytesMut)>,
    /// A pong or the close reply is in `out`: it goes out before the next read.
    reply_pending: bool,
    close_sent: bool,
}

impl<S> FastSocket<S>
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    /// `stream` has done the server side of the handshake.
    pub fn server(stream: S, limits: Limits) -> FastSocket<S> {
        let (read, write) = tokio::io::split(stream);
        FastSocket::new(frames(read, limits), write, limits, false)
    }

    /// `stream` has done the client side of the handshake; `early` holds
    /// what the server sent after its response head (read with it), which
    /// is the start of the first frames.
    pub fn client(stream: S, early: Vec<u8>, limits: Limits) -> FastSocket<S> {
        let (read, write) = tokio::io::split(stream);
        let frames = if early.is_empty() {
            frames(read, limits)
        } else {
            frames(std::io::Cursor::new(early).chain(read), limits)
        };
        FastSocket::new(frames, write, limits, true)
    }

    fn new(frames: Frames, write: tokio::io::WriteHalf<S>, limits: Limits, client: bool) -> FastSocket<S> {
        FastSocket {
            frames,
            write,
            out: Vec::new(),
            written: 0,
            limits,
            client,
            partial: None,
            reply_pending: false,
            close_sent: false,
        }
    }
}

/// The frames read from `read`, as a stream that keeps its place when a
/// read is dropped.
fn frames<R>(read: R, limits: Limits) -> Frames
where
    R: AsyncRead + Unpin + Send + 'static,
{
    // The server role on both ends: it only means that a masked frame is
    // unmasked. A server must not mask (RFC 6455 5.1) but fastwebsockets
    // does not tell whether it did, so a masked frame is read right rather
    // than handed on still masked; unmasked ones pass untouched.
    let (mut ws, _) = fastwebsockets::after_handshake_split(read, tokio::io::sink(), Role::Server);
    // Pings and closes are answered here, through `out`, not by the read half.
    ws.set_auto_pong(false);
    ws.set_auto_close(false);
    // fastwebsockets refuses a frame of exactly its limit; tungstenite accepts it.
    ws.set_max_message_size(limits.max_message.saturating_add(1));
    let frames = futures_util::stream::unfold(Some(ws), |ws| async move {
        let mut ws = ws?;
        let mut no_reply = |_: Frame<'_>| async { Ok::<(), std::io::Error>(()) };
        let read = ws.read_frame(&mut no_reply).await.map(|frame| Read {
            fin: frame.fin,
            opcode: frame.opcode,
            payload: match frame.payload {
                Payload::Bytes(bytes) => bytes,
                other => BytesMut::from(&other[..]),
            },
        });
        // After an error the stream ends: nothing more can be read in sync.
        let next = read.is_ok().then_some(ws);
        Some((read, next))
    });
    Box::pin(frames)
}

impl<S> FastSocket<S>
where
    S: AsyncWrite,
{
    /// Frames `payload` into `out`: a server's frames are not masked, a
    /// client's are, with a fresh random key each (RFC 6455 5.3).
    fn queue(&mut self, opcode: OpCode, payload: &[u8]) {
        let mut head = [0u8; 16];
        let mask = self.client.then(rand::random::<[u8; 4]>);
        let size = Frame::new(true, opcode, mask, Payload::Borrowed(payload)).fmt_head(&mut head);
        self.out.extend_from_slice(&head[..size]);
        let start = self.out.len();
        self.out.extend_from_slice(payload);
        if let Some(mask) = mask {
            fastwebsockets::unmask(&mut self.out[start..], mask);
        }
    }

    /// Writes out what `out` holds.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        while self.written < self.out.len() {
            let n = ready!(Pin::new(&mut self.write).poll_write(cx, &self.out[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into()));
            }
            self.written += n;
        }
        self.out.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }

    /// What a frame read means: a message, or nothing yet (a fragment).
    fn on_frame(&mut self, frame: Read) -> Result<Option<Message>, Error> {
        let Read { fin, opcode, payload } = frame;
        match opcode {
            OpCode::Text | OpCode::Binary if self.partial.is_some() => {
                Err(Error::Protocol("a new message inside a fragmented one"))
            }
            OpCode::Text | OpCode::Binary if fin => message(opcode, payload).map(Some),
            OpCode::Text | OpCode::Binary => {
                self.partial = Some((opcode, payload));
                Ok(None)
            }
            OpCode::Continuation => {
                let Some((opcode, mut whole)) = self.partial.take() else {
                    return Err(Error::Protocol("a continuation frame without a message"));
                };
                if whole.len() + payload.len() > self.limits.max_message {
                    return Err(Error::TooLarge(self.limits.max_message));
                }
                whole.extend_from_slice(&payload);
                if fin {
                    return message(opcode, whole).map(Some);
                }
                self.partial = Some((opcode, whole));
                Ok(None)
            }
            OpCode::Ping => {
                if !self.close_sent {
                    self.queue(OpCode::Pong, &payload);
                    self.reply_pending = true;
                }
                Ok(Some(Message::Ping(payload.freeze())))
            }
            OpCode::Pong => Ok(Some(Message::Pong(payload.freeze()))),
            OpCode::Close => {
                if !self.close_sent {
                    // The reply carries the peer's status code back (RFC 6455 5.5.1).
                    let code = payload.get(..2).unwrap_or_default();
                    self.queue(OpCode::Close, code);
                    self.close_sent = true;
                    self.reply_pending = true;
                }
                Ok(Some(Message::Close(None)))
            }
        }
    }
}

fn message(opcode: OpCode, payload: BytesMut) -> Result<Message, Error> {
    if opcode == OpCode::Binary {
        return Ok(Message::Binary(payload.freeze()));
    }
    Utf8Bytes::try_from(payload.freeze()).map(Message::Text).map_err(|_| Error::Utf8)
}

impl<S> Stream for FastSocket<S>
where
    S: AsyncWrite,
{
    type Item = Result<Message, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        // A reply queued by an earlier read goes out before reading on (a
        // failed write is the reading side's to notice).
        if this.reply_pending && this.poll_write_out(cx).is_ready() {
            this.reply_pending = false;
        }
        loop {
            let frame = match ready!(this.frames.as_mut().poll_next(cx)) {
                Some(Ok(frame)) => frame,
                Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                None => return Poll::Ready(None),
            };
            match this.on_frame(frame) {
                Ok(Some(message)) => {
                    // A pong or close reply goes out at once if the socket takes it.
                    if this.reply_pending && this.poll_write_out(cx).is_ready() {
                        this.reply_pending = false;
                    }
                    return Poll::Ready(Some(Ok(message)));
                }
                Ok(None) => {}
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
        }
    }
}

impl<S> Sink<Message> for FastSocket<S>
where
    S: AsyncWrite,
{
    type Error = Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.out.len() >= self.limits.write_batch {
            ready!(self.poll_write_out(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(mut self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        if self.close_sent {
            return Err(Error::Closed);
        }
        match message {
            Message::Text(text) => self.queue(OpCode::Text, text.as_bytes()),
            Message::Binary(data) => self.queue(OpCode::Binary, &data),
            Message::Ping(data) => self.queue(OpCode::Ping, &data),
            Message::Pong(data) => self.queue(OpCode::Pong, &data),
            Message::Close(frame) => {
                let mut payload = Vec::new();
                if let Some(frame) = frame {
                    payload.extend_from_slice(&u16::from(frame.code).to_be_bytes());
                    payload.extend_from_slice(frame.reason.as_bytes());
                }
                self.queue(OpCode::Close, &payload);
                self.close_sent = true;
            }
            Message::Frame(_) => return Err(Error::Protocol("raw frames are not sent")),
        }
        Ok(())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        ready!(self.poll_write_out(cx))?;
        self.reply_pending = false;
        Pin::new(&mut self.write).poll_flush(cx).map_err(Error::from)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if !self.close_sent {
            self.queue(OpCode::Close, &[]);
            self.close_sent = true;
        }
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.write).poll_shutdown(cx).map_err(Error::from)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use futures_util::{SinkExt, StreamExt};
    use tokio::io::AsyncWriteExt;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode as Op};
    use tokio_tungstenite::tungstenite::protocol::frame::Frame as TFrame;
    use tokio_tungstenite::tungstenite::protocol::Role;
    use tokio_tungstenite::WebSocketStream;

    use super::*;

    async fn pair(
        max_message: usize,
    ) -> (FastSocket<tokio::io::DuplexStream>, WebSocketStream<tokio::io::DuplexStream>) {
        let (server, client) = tokio::io::duplex(1 << 16);
        let server = FastSocket::server(server, Limits { max_message, write_batch: 1024 });
        let client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        (server, client)
    }

    #[tokio::test]
    async fn messages_both_ways_fragments_joined_pings_answered() {
        let (mut server, mut client) = pair(1024).await;
        client.send(Message::text("hello")).await.unwrap();
        client.send(Message::binary(vec![1, 2, 3])).await.unwrap();
        client.send(Message::Frame(TFrame::message("hel", Op::Data(Data::Text), false))).await.unwrap();
        client.send(Message::Frame(TFrame::message("lo!", Op::Data(Data::Continue), true))).await.unwrap();
        client.send(Message::Ping(vec![9].into())).await.unwrap();
        assert_eq!(server.next().await.unwrap().unwrap(), Message::text("hello"));
        assert_eq!(server.next().await.unwrap().unwrap(), Message::binary(vec![1, 2, 3]));
        assert_eq!(server.next().await.unwrap().unwrap(), Message::text("hello!"));
        assert_eq!(server.next().await.unwrap().unwrap(), Message::Ping(vec![9].into()));
        server.feed(Message::text("a".repeat(300))).await.unwrap();
        server.feed(Message::text("b")).await.unwrap();
        server.flush().await.unwrap();
        assert_eq!(client.next().await.unwrap().unwrap(), Message::Pong(vec![9].into()));
        assert_eq!(client.next().await.unwrap().unwrap(), Message::text("a".repeat(300)));
        assert_eq!(client.next().await.unwrap().unwrap(), Message::text("b"));
        client.send(Message::Close(None)).await.unwrap();
        assert_eq!(server.next().await.unwrap().unwrap(), Message::Close(None));
        assert!(server.send(Message::text("late")).await.is_err(), "nothing is sent after the close");
        assert!(matches!(client.next().await, Some(Ok(Message::Close(_))) | None), "the close is echoed");
    }

    #[tokio::test]
    async fn a_message_over_the_limit_ends_the_stream() {
        let (mut server, mut client) = pair(8).await;
        client.send(Message::text("12345678")).await.unwrap();
        assert_eq!(
            server.next().await.unwrap().unwrap(),
            Message::text("12345678"),
            "the limit itself is fine"
        );
        client.send(Message::text("123456789")).await.unwrap();
        assert!(server.next().await.unwrap().is_err());
        assert!(server.next().await.is_none());
        let (mut server, mut client) = pair(8).await;
        client.send(Message::Frame(TFrame::message("12345", Op::Data(Data::Text), false))).await.unwrap();
        client.send(Message::Frame(TFrame::message("6789", Op::Data(Data::Continue), true))).await.unwrap();
        assert!(matches!(server.next().await, Some(Err(Error::TooLarge(8)))), "fragments count together");
    }

    #[tokio::test]
    async fn a_read_dropped_half_way_loses_nothing() {
        let (mut server, client) = pair(1 << 16).await;
        let mut raw = client.into_inner();
        // One masked text frame, written in two parts with a dropped read between them.
        let mut frame = Vec::new();
        TFrame::message("x".repeat(200), Op::Data(Data::Text), true).format(&mut frame).unwrap();
        raw.write_all(&frame[..3]).await.unwrap();
        let early = tokio::time::timeout(std::time::Duration::from_millis(50), server.next()).await;
        assert!(early.is_err(), "half a frame is not a message");
        raw.write_all(&frame[3..]).await.unwrap();
        assert_eq!(server.next().await.unwrap().unwrap(), Message::text("x".repeat(200)));
    }
}
