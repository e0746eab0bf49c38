//! WebSocket upgrades with our own buffer sizes. warp's `ws()` gives every
//! socket tungstenite's default 128 KiB read buffer, which a phone call's
//! frames (a few hundred bytes) never need; with a thousand calls that is
//! most of the memory. This does the same RFC 6455 handshake and hands over a
//! [`FastSocket`]: frames read and parsed on the socket itself (no
//! zero-filled read buffer, no per-message copy, no split halves; issue 17;
//! `fastwebsockets` only masks), seen by the caller as the same
//! `Stream`/`Sink` of tungstenite `Message`s a tokio-tungstenite socket is.
//! The hot messages skip the `Message` too: [`FastSocket::feed_text`] frames
//! a text from its pieces straight into the write buffer.
//! The client end (the model's socket) opens with [`client::connect`].

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, BytesMut};
use fastwebsockets::OpCode;
use futures_util::future::Either;
use futures_util::{FutureExt, Sink, Stream};
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
        // `then`, not an `async` block, which would keep `handle` (and all
        // it captured) beside the future it made for the socket's whole life.
        tokio::spawn(self.on_upgrade.then(move |upgraded| match upgraded {
            Ok(upgraded) => Either::Left(handle(FastSocket::server(TokioIo::new(upgraded), limits))),
            Err(e) => {
                tracing::debug!(error = %e, "WebSocket upgrade failed");
                Either::Right(std::future::ready(()))
            }
        }));
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

/// What the read buffer holds: a whole frame (taken out of it), or the
/// start of one and how many bytes it needs in all.
enum Parsed {
    Frame(Read),
    Need(usize),
}

/// Bytes read from the socket at a time (more for a larger frame).
const READ_CHUNK: usize = 4 * 1024;
/// Below this much room, the read buffer is made room in before a read.
const MIN_ROOM: usize = 1024;
/// Room the write buffer keeps once written out.
const KEEP_OUT: usize = 2 * 1024;

/// A WebSocket, server or client end, on the socket itself: frames are read
/// into one buffer and parsed here (no zero fill, the payload handed over
/// without a copy, no lock or task-local stream between the bridge and the
/// socket: issue 17); writes are framed into one buffer that goes out on
/// flush. Pings are answered and a close is echoed, as tungstenite does,
/// and fragmented messages are put together (up to `max_message`). A read
/// dropped by `select!` loses nothing: what was read stays in the buffer.
pub struct FastSocket<S> {
    io: S,
    /// Bytes read and not yet parsed.
    read: BytesMut,
    /// The reading side ended (an error, or the peer's end of stream).
    read_done: bool,
    /// Framed bytes waiting to be written; `written` of them already are.
    out: Vec<u8>,
    written: usize,
    limits: Limits,
    /// The client end: frames sent are masked and frames read must not be
    /// (the server end: the other way round).
    client: bool,
    /// A fragmented message being put together.
    partial: Option<(OpCode, BytesMut)>,
    /// A pong or the close reply is in `out`: it goes out before the next read.
    reply_pending: bool,
    close_sent: bool,
}

impl<S> FastSocket<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    /// `stream` has done the server side of the handshake.
    pub fn server(stream: S, limits: Limits) -> FastSocket<S> {
        FastSocket::new(stream, BytesMut::with_capacity(READ_CHUNK), limits, false)
    }

    /// `stream` has done the client side of the handshake; `early` holds
    /// what the server sent after its response head (read with it), which
    /// is the start of the first frames.
    pub fn client(stream: S, early: Vec<u8>, limits: Limits) -> FastSocket<S> {
        let mut read = BytesMut::with_capacity(READ_CHUNK.max(early.len()));
        read.extend_from_slice(&early);
        FastSocket::new(stream, read, limits, true)
    }

    fn new(io: S, read: BytesMut, limits: Limits, client: bool) -> FastSocket<S> {
        FastSocket {
            io,
            read,
            read_done: false,
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

/// The frame at the start of `buf`, taken out of it and unmasked. Each end
/// refuses the other's frames masked the wrong way (RFC 6455 5.1): a client
/// (`client`) one that is masked, a server one that is not; either must
/// close the connection on it. Errors end the stream.
fn parse(buf: &mut BytesMut, max_message: usize, client: bool) -> Result<Parsed, Error> {
    let (Some(&b0), Some(&b1)) = (buf.first(), buf.get(1)) else { return Ok(Parsed::Need(2)) };
    if b0 & 0x70 != 0 {
        return Err(Error::Protocol("reserved bits set"));
    }
    let opcode = match b0 & 0x0F {
        0 => OpCode::Continuation,
        1 => OpCode::Text,
        2 => OpCode::Binary,
        8 => OpCode::Close,
        9 => OpCode::Ping,
        10 => OpCode::Pong,
        _ => return Err(Error::Protocol("unknown opcode")),
    };
    let fin = b0 & 0x80 != 0;
    let masked = b1 & 0x80 != 0;
    if masked && client {
        return Err(Error::Protocol("a frame from the server is masked"));
    }
    if !masked && !client {
        return Err(Error::Protocol("a frame from the client is not masked"));
    }
    let extra = match b1 & 0x7F {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let head = 2 + extra + if masked { 4 } else { 0 };
    let Some(head_bytes) = buf.get(..head) else { return Ok(Parsed::Need(head)) };
    let len = match extra {
        0 => u64::from(b1 & 0x7F),
        2 => u64::from(u16::from_be_bytes([head_bytes[2], head_bytes[3]])),
        _ => {
            let mut n = [0u8; 8];
            n.copy_from_slice(&head_bytes[2..10]);
            u64::from_be_bytes(n)
        }
    };
    let mask = masked
        .then(|| [head_bytes[head - 4], head_bytes[head - 3], head_bytes[head - 2], head_bytes[head - 1]]);
    if matches!(opcode, OpCode::Close | OpCode::Ping | OpCode::Pong) {
        if !fin {
            return Err(Error::Protocol("a control frame is fragmented"));
        }
        if len > 125 {
            return Err(Error::Protocol("a control frame is longer than 125 bytes"));
        }
    }
    let len = match usize::try_from(len) {
        Ok(len) if len <= max_message => len,
        _ => return Err(Error::TooLarge(max_message)),
    };
    if buf.len() < head + len {
        return Ok(Parsed::Need(head + len));
    }
    buf.advance(head);
    let mut payload = buf.split_to(len);
    if let Some(mask) = mask {
        fastwebsockets::unmask(&mut payload, mask);
    }
    Ok(Parsed::Frame(Read { fin, opcode, payload }))
}

impl<S> FastSocket<S>
where
    S: AsyncRead + Unpin,
{
    /// The next frame: parsed from what was read, else read from the socket.
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Read, Error>>> {
        loop {
            if self.read_done {
                return Poll::Ready(None);
            }
            let need = match parse(&mut self.read, self.limits.max_message, self.client) {
                Ok(Parsed::Frame(frame)) => return Poll::Ready(Some(Ok(frame))),
                Ok(Parsed::Need(need)) => need,
                Err(e) => {
                    self.read_done = true;
                    return Poll::Ready(Some(Err(e)));
                }
            };
            // Room for the whole frame, or a chunk: reserving on an emptied
            // buffer takes its memory back from the front once the payloads
            // handed out are gone, so reads keep landing in the same place.
            let room = self.read.capacity() - self.read.len();
            if room < MIN_ROOM || room < need - self.read.len() {
                self.read.reserve((need - self.read.len()).max(READ_CHUNK));
            }
            let read = std::pin::pin!(self.io.read_buf(&mut self.read));
            match ready!(read.poll(cx)) {
                Ok(0) => {
                    self.read_done = true;
                    let eof = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
                    return Poll::Ready(Some(Err(eof.into())));
                }
                Ok(_) => {}
                Err(e) => {
                    self.read_done = true;
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
        }
    }
}

impl<S> FastSocket<S>
where
    S: AsyncWrite + Unpin,
{
    /// Frames one message, whose payload is `parts` one after the other,
    /// into `out` (unfragmented): a server's frames are not masked, a
    /// client's are, with a fresh random key each (RFC 6455 5.3). Parts, so
    /// a message written from a template needs no buffer of its own.
    fn queue<P: AsRef<[u8]>>(&mut self, opcode: OpCode, parts: &[P]) {
        let len: usize = parts.iter().map(|part| part.as_ref().len()).sum();
        let mask = self.client.then(rand::random::<[u8; 4]>);
        let mut head = [0u8; 14];
        head[0] = 0x80 | opcode as u8;
        let mut size = match len {
            0..=125 => {
                head[1] = len as u8;
                2
            }
            126..=0xFFFF => {
                head[1] = 126;
                head[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                4
            }
            _ => {
                head[1] = 127;
                head[2..10].copy_from_slice(&(len as u64).to_be_bytes());
                10
            }
        };
        if let Some(mask) = mask {
            head[1] |= 0x80;
            head[size..size + 4].copy_from_slice(&mask);
            size += 4;
        }
        self.out.reserve(size + len);
        self.out.extend_from_slice(&head[..size]);
        let start = self.out.len();
        for part in parts {
            self.out.extend_from_slice(part.as_ref());
        }
        if let Some(mask) = mask {
            fastwebsockets::unmask(&mut self.out[start..], mask);
        }
    }

    /// Room for another message: what is buffered is written out first once
    /// it reaches the write batch.
    fn poll_room(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.out.len() >= self.limits.write_batch {
            ready!(self.poll_write_out(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    /// Buffers a text message whose payload is `parts` one after the other,
    /// as `SinkExt::feed` of `Message::text(parts.concat())` would, without
    /// building the message: the pieces of a template are framed straight
    /// into the write buffer, with no copy and no UTF-8 check on the way
    /// (`&str`s: UTF-8 already). Goes out on the next flush, or with the
    /// write batch.
    pub async fn feed_text(&mut self, parts: &[&str]) -> Result<(), Error> {
        std::future::poll_fn(|cx| self.poll_room(cx)).await?;
        if self.close_sent {
            return Err(Error::Closed);
        }
        self.queue(OpCode::Text, parts);
        Ok(())
    }

    /// Writes out what `out` holds.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        while self.written < self.out.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.out[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into()));
            }
            self.written += n;
        }
        self.out.clear();
        self.written = 0;
        // One large message (the model's session.update, a tool's passages)
        // would otherwise keep its room for the rest of the call; a call's
        // steady writes are a few hundred bytes (issue 17: memory per call).
        if self.out.capacity() > KEEP_OUT {
            self.out.shrink_to(KEEP_OUT);
        }
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
                    self.queue(OpCode::Pong, &[&payload[..]]);
                    self.reply_pending = true;
                }
                Ok(Some(Message::Ping(payload.freeze())))
            }
            OpCode::Pong => Ok(Some(Message::Pong(payload.freeze()))),
            OpCode::Close => {
                if !self.close_sent {
                    // The reply carries the peer's status code back (RFC 6455 5.5.1).
                    let code = payload.get(..2).unwrap_or_default();
                    self.queue(OpCode::Close, &[code]);
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
    S: AsyncRead + AsyncWrite + Unpin,
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
            let frame = match ready!(this.poll_frame(cx)) {
                Some(Ok(frame)) => frame,
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
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
    S: AsyncWrite + Unpin,
{
    type Error = Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_room(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        if self.close_sent {
            return Err(Error::Closed);
        }
        match message {
            Message::Text(text) => self.queue(OpCode::Text, &[text.as_bytes()]),
            Message::Binary(data) => self.queue(OpCode::Binary, &[&data[..]]),
            Message::Ping(data) => self.queue(OpCode::Ping, &[&data[..]]),
            Message::Pong(data) => self.queue(OpCode::Pong, &[&data[..]]),
            Message::Close(frame) => {
                let mut payload = Vec::new();
                if let Some(frame) = frame {
                    payload.extend_from_slice(&u16::from(frame.code).to_be_bytes());
                    payload.extend_from_slice(frame.reason.as_bytes());
                }
                self.queue(OpCode::Close, &[&payload[..]]);
                self.close_sent = true;
            }
            Message::Frame(_) => return Err(Error::Protocol("raw frames are not sent")),
        }
        Ok(())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        ready!(self.poll_write_out(cx))?;
        self.reply_pending = false;
        Pin::new(&mut self.io).poll_flush(cx).map_err(Error::from)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if !self.close_sent {
            self.queue::<&[u8]>(OpCode::Close, &[]);
            self.close_sent = true;
        }
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.io).poll_shutdown(cx).map_err(Error::from)
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
    async fn a_large_message_does_not_keep_its_room_once_written() {
        let (mut server, mut client) = pair(1 << 16).await;
        server.send(Message::text("s".repeat(6000))).await.unwrap();
        assert_eq!(client.next().await.unwrap().unwrap(), Message::text("s".repeat(6000)));
        assert!(server.out.capacity() <= KEEP_OUT, "room kept: {}", server.out.capacity());
        // A steady message keeps its room: no allocation per write.
        server.send(Message::text("t".repeat(300))).await.unwrap();
        let room = server.out.capacity();
        server.send(Message::text("u".repeat(300))).await.unwrap();
        assert_eq!(server.out.capacity(), room);
        assert_eq!(client.next().await.unwrap().unwrap(), Message::text("t".repeat(300)));
    }

    /// `ours` at the server end (`client` false) or the client end, on a
    /// pipe that holds a 70 KB frame; `theirs`, tungstenite, at the other.
    async fn either_end(
        client: bool,
        write_batch: usize,
    ) -> (FastSocket<tokio::io::DuplexStream>, WebSocketStream<tokio::io::DuplexStream>) {
        let (a, b) = tokio::io::duplex(1 << 20);
        let limits = Limits { max_message: 1 << 20, write_batch };
        if client {
            (
                FastSocket::client(a, Vec::new(), limits),
                WebSocketStream::from_raw_socket(b, Role::Server, None).await,
            )
        } else {
            (FastSocket::server(a, limits), WebSocketStream::from_raw_socket(b, Role::Client, None).await)
        }
    }

    #[tokio::test]
    async fn a_text_fed_as_parts_is_the_text_sent_whole_from_either_end() {
        let (long, huge) = ("p".repeat(300), "h".repeat(70_000));
        // Every length form, parts empty or not, a character of two bytes.
        let cases: [&[&str]; 6] = [
            &[r#"{"a":"#, "\"é\"", "}"],
            &[],
            &["", ""],
            &["x", &long, "y"],
            &["[", &"q".repeat(124), "]"],
            &[&huge, "!"],
        ];
        for client in [false, true] {
            let (mut ours, mut theirs) = either_end(client, 1 << 20).await;
            for parts in cases {
                ours.feed_text(parts).await.unwrap();
                ours.feed(Message::text(parts.concat())).await.unwrap();
            }
            ours.flush().await.unwrap();
            for parts in cases {
                // Tungstenite refuses a client's frame that is not masked, and a server's that is.
                let fed = theirs.next().await.unwrap().unwrap();
                assert_eq!(fed, Message::text(parts.concat()), "client end: {client}");
                assert_eq!(theirs.next().await.unwrap().unwrap(), fed);
            }
        }
        // The server end's frames are not masked: byte for byte the same.
        let (server, mut raw) = tokio::io::duplex(1 << 20);
        let mut server = FastSocket::server(server, Limits { max_message: 1 << 20, write_batch: 1 << 20 });
        for parts in cases {
            server.feed_text(parts).await.unwrap();
            server.flush().await.unwrap();
            let fed = server_bytes(&mut raw).await;
            server.feed(Message::text(parts.concat())).await.unwrap();
            server.flush().await.unwrap();
            assert_eq!(fed, server_bytes(&mut raw).await);
        }
    }

    /// What the server end has written so far.
    async fn server_bytes(raw: &mut tokio::io::DuplexStream) -> Vec<u8> {
        use tokio::io::AsyncReadExt;
        let mut bytes = vec![0u8; 1 << 20];
        let n = raw.read(&mut bytes).await.unwrap();
        bytes.truncate(n);
        bytes
    }

    #[tokio::test]
    async fn parts_wait_for_the_write_batch_and_nothing_is_fed_after_the_close() {
        let (mut ours, mut theirs) = either_end(true, 64).await;
        let wait = std::time::Duration::from_millis(50);
        ours.feed_text(&["a", "b"]).await.unwrap();
        ours.feed_text(&["c".repeat(100).as_str()]).await.unwrap();
        assert!(tokio::time::timeout(wait, theirs.next()).await.is_err(), "under the batch: nothing written");
        // Over the batch: what is buffered goes out before the next message is framed.
        ours.feed_text(&["d"]).await.unwrap();
        assert_eq!(theirs.next().await.unwrap().unwrap(), Message::text("ab"));
        assert_eq!(theirs.next().await.unwrap().unwrap(), Message::text("c".repeat(100)));
        assert!(tokio::time::timeout(wait, theirs.next()).await.is_err(), "the last one waits for a flush");
        ours.flush().await.unwrap();
        assert_eq!(theirs.next().await.unwrap().unwrap(), Message::text("d"));
        ours.feed(Message::Close(None)).await.unwrap();
        assert!(matches!(ours.feed_text(&["late"]).await, Err(Error::Closed)));
    }

    #[tokio::test]
    async fn a_read_dropped_half_way_loses_nothing() {
        let (mut server, client) = pair(1 << 16).await;
        let mut raw = client.into_inner();
        // One masked text frame, written in two parts with a dropped read between them.
        let frame = frame(0x81, "x".repeat(200).as_bytes(), 2, Some([1, 2, 3, 4]));
        raw.write_all(&frame[..3]).await.unwrap();
        let early = tokio::time::timeout(std::time::Duration::from_millis(50), server.next()).await;
        assert!(early.is_err(), "half a frame is not a message");
        raw.write_all(&frame[3..]).await.unwrap();
        assert_eq!(server.next().await.unwrap().unwrap(), Message::text("x".repeat(200)));
    }

    /// A frame's bytes: `b0` (FIN, opcode), the payload's length in the
    /// shortest form or a longer one (`wide`: 0, 2 or 8 length bytes), masked with `mask` if any.
    fn frame(b0: u8, payload: &[u8], wide: usize, mask: Option<[u8; 4]>) -> Vec<u8> {
        let m = if mask.is_some() { 0x80 } else { 0 };
        let mut out = vec![b0];
        match wide {
            0 => out.push(m | payload.len() as u8),
            2 => {
                out.push(m | 126);
                out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
            }
            _ => {
                out.push(m | 127);
                out.extend_from_slice(&(payload.len() as u64).to_be_bytes());
            }
        }
        let mut body = payload.to_vec();
        if let Some(mask) = mask {
            out.extend_from_slice(&mask);
            fastwebsockets::unmask(&mut body, mask);
        }
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn every_length_form_masked_or_not_is_read_and_a_partial_frame_waits() {
        let big = vec![b'y'; 70_000];
        // Payload, length bytes past the first two, mask.
        type Case<'a> = (&'a [u8], usize, Option<[u8; 4]>);
        let cases: [Case<'_>; 5] = [
            (b"hi", 0, None),
            (b"hello", 0, Some([1, 2, 3, 4])),
            (&big[..200], 2, None),
            (&big[..300], 2, Some([9, 8, 7, 6])),
            (&big, 8, Some([0xff, 0, 0xff, 0])),
        ];
        for (payload, wide, mask) in cases {
            // Unmasked frames are what a client reads, masked ones what a server does.
            let client = mask.is_none();
            let bytes = frame(0x81, payload, wide, mask);
            for cut in 0..bytes.len() {
                let mut buf = BytesMut::from(&bytes[..cut]);
                match parse(&mut buf, 1 << 20, client).unwrap() {
                    Parsed::Need(n) => {
                        assert!(n > cut && n <= bytes.len(), "{n} for {cut} of {}", bytes.len())
                    }
                    Parsed::Frame(_) => panic!("a frame from {cut} of {} bytes", bytes.len()),
                }
                assert_eq!(buf.len(), cut, "nothing is taken from a partial frame");
                if cut > 40 {
                    break; // past every header form; the rest only lacks payload
                }
            }
            let mut buf = BytesMut::from(&bytes[..]);
            buf.extend_from_slice(&frame(0x8A, b"", 0, mask.map(|_| [5, 6, 7, 8])));
            let Parsed::Frame(read) = parse(&mut buf, 1 << 20, client).unwrap() else {
                panic!("whole frame")
            };
            assert!(read.fin && read.opcode == OpCode::Text && &read.payload[..] == payload);
            let Parsed::Frame(pong) = parse(&mut buf, 1 << 20, client).unwrap() else {
                panic!("the next frame")
            };
            assert!(pong.opcode == OpCode::Pong && pong.payload.is_empty() && buf.is_empty());
        }
    }

    #[test]
    fn frames_breaking_the_protocol_or_the_limit_are_refused() {
        // Read as a client, since these frames are not masked.
        let bad = |bytes: Vec<u8>, max: usize| parse(&mut BytesMut::from(&bytes[..]), max, true).err();
        assert!(matches!(bad(frame(0xC1, b"x", 0, None), 99), Some(Error::Protocol(_))), "reserved bit");
        assert!(matches!(bad(frame(0x83, b"x", 0, None), 99), Some(Error::Protocol(_))), "unknown opcode");
        assert!(matches!(bad(frame(0x09, b"x", 0, None), 99), Some(Error::Protocol(_))), "fragmented ping");
        let long_ping = frame(0x89, &[0; 126], 2, None);
        assert!(matches!(bad(long_ping, 999), Some(Error::Protocol(_))), "ping over 125 bytes");
        assert!(matches!(bad(frame(0x82, &[0; 9], 0, None), 8), Some(Error::TooLarge(8))));
        // Refused from the header alone: the payload need not arrive first.
        let huge = [0x82, 127, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff].to_vec();
        assert!(matches!(bad(huge, 1 << 20), Some(Error::TooLarge(_))));
        assert!(bad(frame(0x82, &[0; 8], 0, None), 8).is_none(), "the limit itself is fine");
    }

    #[test]
    fn each_end_refuses_frames_masked_the_wrong_way() {
        // RFC 6455 5.1: a client masks every frame, a server none.
        let read = |bytes: Vec<u8>, client: bool| parse(&mut BytesMut::from(&bytes[..]), 99, client);
        let mask = Some([1, 2, 3, 4]);
        for b0 in [0x81, 0x82, 0x89, 0x8A, 0x88] {
            assert!(
                matches!(read(frame(b0, b"", 0, None), false), Err(Error::Protocol(_))),
                "{b0:x} to a server"
            );
            assert!(
                matches!(read(frame(b0, b"", 0, mask), true), Err(Error::Protocol(_))),
                "{b0:x} to a client"
            );
            assert!(
                matches!(read(frame(b0, b"", 0, mask), false), Ok(Parsed::Frame(_))),
                "{b0:x} to a server"
            );
            assert!(
                matches!(read(frame(b0, b"", 0, None), true), Ok(Parsed::Frame(_))),
                "{b0:x} to a client"
            );
        }
        // Refused from the first two bytes, before the rest arrives.
        assert!(matches!(read(frame(0x81, b"hello", 0, None)[..2].to_vec(), false), Err(Error::Protocol(_))));
    }

    #[tokio::test]
    async fn an_unmasked_frame_from_the_client_ends_the_stream() {
        let (server, client) = tokio::io::duplex(1 << 16);
        let mut server = FastSocket::server(server, Limits { max_message: 1024, write_batch: 1024 });
        let mut raw = client;
        raw.write_all(&frame(0x81, b"ok", 0, Some([1, 2, 3, 4]))).await.unwrap();
        raw.write_all(&frame(0x81, b"plain", 0, None)).await.unwrap();
        assert_eq!(server.next().await.unwrap().unwrap(), Message::text("ok"));
        assert!(matches!(server.next().await, Some(Err(Error::Protocol(_)))));
        assert!(server.next().await.is_none());
    }

    #[tokio::test]
    async fn a_bad_frame_ends_the_stream_after_its_error() {
        let (server, client) = tokio::io::duplex(1 << 16);
        let mut server = FastSocket::server(server, Limits { max_message: 1024, write_batch: 1024 });
        let mut raw = client;
        raw.write_all(&frame(0x81, b"ok", 0, Some([1, 2, 3, 4]))).await.unwrap();
        raw.write_all(&frame(0xC1, b"x", 0, Some([5, 6, 7, 8]))).await.unwrap();
        assert_eq!(server.next().await.unwrap().unwrap(), Message::text("ok"));
        assert!(server.next().await.unwrap().is_err());
        assert!(server.next().await.is_none());
    }
}
