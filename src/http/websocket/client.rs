//! The client end of a WebSocket (the model's Realtime socket): TCP, TLS for
//! `wss`, our own RFC 6455 opening handshake, then a [`FastSocket`].
//!
//! Our own handshake because `fastwebsockets`' takes a 101 only if
//! `Connection` is exactly "upgrade", where RFC 6455 4.1 (and RFC 7230 6.1)
//! ask for an "upgrade" token anywhere in a comma list, in any case.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use base64::Engine;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use url::Url;
use warp::http::{HeaderName, HeaderValue, StatusCode};

use super::{FastSocket, Limits};

/// Largest response head read from the server (status line and headers).
pub const MAX_HEAD: usize = 16 * 1024;
/// Most header lines a response head may have.
const MAX_HEADERS: usize = 64;

pub type ClientSocket = FastSocket<Stream>;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("bad WebSocket URL: {0}")]
    Url(String),
    #[error("header {0} cannot be sent (not a valid name or value)")]
    Header(String),
    #[error("could not connect to {host}: {source}")]
    Connect { host: String, source: io::Error },
    #[error("TLS: {0}")]
    Tls(String),
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("the server closed the connection before answering the upgrade")]
    Closed,
    #[error("the server's response head is over {0} bytes")]
    HeadTooLarge(usize),
    #[error("malformed HTTP response: {0}")]
    Malformed(#[from] httparse::Error),
    /// Not `101 Switching Protocols` (the text keeps what tungstenite said).
    #[error("HTTP error: {0}")]
    Status(StatusCode),
    #[error("the 101 response's Upgrade header does not name websocket")]
    NoUpgrade,
    #[error("the 101 response's Connection header has no upgrade token")]
    NoConnectionUpgrade,
    #[error("the 101 response's Sec-WebSocket-Accept does not match the key sent")]
    AcceptMismatch,
    #[error("the server chose {0}, which was not asked for")]
    Unrequested(&'static str),
}

/// TCP, or TLS over TCP.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// Opens a WebSocket to `url` (`ws://` or `wss://`), sending `headers`
/// with the upgrade request (their values are never logged or put in an
/// error). The caller bounds the whole of it in time.
pub async fn connect(
    url: &str,
    headers: &[(&str, &str)],
    limits: Limits,
) -> Result<ClientSocket, ClientError> {
    let url = Url::parse(url).map_err(|e| ClientError::Url(e.to_string()))?;
    let tls = match url.scheme() {
        "ws" => false,
        "wss" => true,
        other => return Err(ClientError::Url(format!("the scheme is {other}, not ws or wss"))),
    };
    let port = url.port_or_known_default().ok_or_else(|| ClientError::Url("no port".into()))?;
    let host = url.host().ok_or_else(|| ClientError::Url("no host".into()))?;
    let connected = match &host {
        url::Host::Domain(domain) => TcpStream::connect((*domain, port)).await,
        url::Host::Ipv4(ip) => TcpStream::connect((*ip, port)).await,
        url::Host::Ipv6(ip) => TcpStream::connect((*ip, port)).await,
    };
    let tcp = connected.map_err(|source| ClientError::Connect { host: host.to_string(), source })?;
    // Frames are small and written once per wakeup: no waiting for more.
    tcp.set_nodelay(true)?;
    let stream = if tls {
        let name = match host {
            url::Host::Domain(domain) => ServerName::try_from(domain.to_string())
                .map_err(|e| ClientError::Tls(format!("{domain}: {e}")))?,
            url::Host::Ipv4(ip) => ServerName::from(std::net::IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => ServerName::from(std::net::IpAddr::V6(ip)),
        };
        let connector = tokio_rustls::TlsConnector::from(tls_config()?);
        let tls = connector.connect(name, tcp).await.map_err(|e| ClientError::Tls(e.to_string()))?;
        Stream::Tls(Box::new(tls))
    } else {
        Stream::Plain(tcp)
    };
    let host_header = match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        (None, _) => return Err(ClientError::Url("no host".into())),
    };
    let target = &url[url::Position::BeforePath..url::Position::AfterQuery];
    handshake(stream, &host_header, target, headers, limits).await
}

/// The Mozilla roots, as tokio-tungstenite's `rustls-tls-webpki-roots`
/// had; one config for the process, so sessions can be resumed.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, ClientError> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| crate::tls::client_config(&[]).map(Arc::new).map_err(|e| e.to_string()))
        .clone()
        .map_err(ClientError::Tls)
}

/// Sends the upgrade request for `target` (path and query) on `stream`
/// and checks the answer; bytes read past the response head are the
/// socket's first.
async fn handshake<S>(
    mut stream: S,
    host: &str,
    target: &str,
    headers: &[(&str, &str)],
    limits: Limits,
) -> Result<FastSocket<S>, ClientError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 16]>());
    let mut request = format!(
        "GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n"
    );
    for (name, value) in headers {
        // Checked so that no value can end the line early and add its own.
        if HeaderName::from_bytes(name.as_bytes()).is_err() || HeaderValue::from_str(value).is_err() {
            return Err(ClientError::Header((*name).to_string()));
        }
        request.push_str(name);
        request.push_str(": ");
        request.push_str(value);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    stream.flush().await?;

    let accept = derive_accept_key(key.as_bytes());
    let mut buf = Vec::with_capacity(1024);
    loop {
        buf.reserve(1024);
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(ClientError::Closed);
        }
        if let Some(head) = check_head(&buf, &accept)? {
            let early = buf.split_off(head);
            return Ok(FastSocket::client(stream, early, limits));
        }
        if buf.len() >= MAX_HEAD {
            return Err(ClientError::HeadTooLarge(MAX_HEAD));
        }
    }
}

/// The response head's length if `buf` holds all of it and it accepts the
/// upgrade; `None` if more is to come.
fn check_head(buf: &[u8], accept: &str) -> Result<Option<usize>, ClientError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf)? {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial => return Ok(None),
    };
    let code = response.code.unwrap_or_default();
    if code != 101 {
        return Err(match StatusCode::from_u16(code) {
            Ok(status) => ClientError::Status(status),
            Err(_) => ClientError::Malformed(httparse::Error::Status),
        });
    }
    let values =
        |name: &'static str| response.headers.iter().filter(move |h| h.name.eq_ignore_ascii_case(name));
    // A header may come as several lines, each a comma list (RFC 7230 3.2.2).
    let has_token = |name: &'static str, token: &str| {
        values(name).any(|h| {
            h.value.split(|&b| b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
        })
    };
    if !has_token("upgrade", "websocket") {
        return Err(ClientError::NoUpgrade);
    }
    if !has_token("connection", "upgrade") {
        return Err(ClientError::NoConnectionUpgrade);
    }
    let mut accepts = values("sec-websocket-accept");
    match (accepts.next(), accepts.next()) {
        (Some(h), None) if h.value.trim_ascii() == accept.as_bytes() => {}
        _ => return Err(ClientError::AcceptMismatch),
    }
    // Neither was asked for: frames compressed or in a subprotocol could not be read right.
    if values("sec-websocket-extensions").any(|h| !h.value.trim_ascii().is_empty()) {
        return Err(ClientError::Unrequested("an extension"));
    }
    if values("sec-websocket-protocol").next().is_some() {
        return Err(ClientError::Unrequested("a subprotocol"));
    }
    Ok(Some(len))
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use futures_util::{SinkExt, StreamExt};
    use tokio::net::TcpListener;
    use tokio_tungstenite::tungstenite::protocol::Role;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::WebSocketStream;

    use super::*;

    const LIMITS: Limits = Limits { max_message: 1024, write_batch: 1024 };

    /// A server that reads the upgrade request and answers, in one write,
    /// with what `answer` makes of the accept key the request's key calls
    /// for; then it speaks WebSocket (server end) and echoes one message.
    async fn server(answer: fn(&str) -> Vec<u8>) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/v1/realtime?model=gpt-realtime", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            while !request.ends_with(b"\r\n\r\n") {
                let mut byte = [0u8; 1];
                tcp.read_exact(&mut byte).await.unwrap();
                request.push(byte[0]);
            }
            let request = String::from_utf8(request).unwrap();
            let key = request
                .lines()
                .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
                .unwrap()
                .trim()
                .to_string();
            // A client that refuses the head may close before reading it all.
            if tcp.write_all(&answer(&derive_accept_key(key.as_bytes()))).await.is_err() {
                return request;
            }
            let mut ws = WebSocketStream::from_raw_socket(tcp, Role::Server, None).await;
            // Echo one message (a masked frame is required of the client).
            if let Some(Ok(message)) = ws.next().await {
                let _ = ws.send(message).await;
            }
            request
        });
        (url, task)
    }

    async fn open(
        answer: fn(&str) -> Vec<u8>,
    ) -> (Result<ClientSocket, ClientError>, tokio::task::JoinHandle<String>) {
        let (url, task) = server(answer).await;
        (connect(&url, &[("Authorization", "Bearer sk-test")], LIMITS).await, task)
    }

    fn accepted(connection: &str, accept: &str) -> Vec<u8> {
        format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: {connection}\r\nSec-WebSocket-Accept: {accept}\r\n\r\n")
            .into_bytes()
    }

    async fn echoes(socket: Result<ClientSocket, ClientError>) {
        let mut socket = socket.unwrap();
        socket.send(Message::text("hello")).await.unwrap();
        assert_eq!(socket.next().await.unwrap().unwrap(), Message::text("hello"));
    }

    #[tokio::test]
    async fn connection_upgrade_is_a_token_in_any_case_in_a_list() {
        let (socket, task) = open(|accept| accepted("Upgrade", accept)).await;
        echoes(socket).await;
        let request = task.await.unwrap();
        assert!(request.starts_with("GET /v1/realtime?model=gpt-realtime HTTP/1.1\r\n"), "{request}");
        for line in [
            "Connection: Upgrade",
            "Upgrade: websocket",
            "Sec-WebSocket-Version: 13",
            "Authorization: Bearer sk-test",
        ] {
            assert!(request.contains(&format!("{line}\r\n")), "{line} in {request}");
        }
        assert!(request.contains("\r\nHost: 127.0.0.1:"), "{request}");

        let (socket, _) = open(|accept| accepted("keep-alive, Upgrade", accept)).await;
        echoes(socket).await;
        let (socket, _) = open(|accept| {
            format!("HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nconnection: upgrade\r\nsec-websocket-accept: {accept}\r\n\r\n")
                .into_bytes()
        })
        .await;
        echoes(socket).await;
    }

    #[tokio::test]
    async fn a_101_that_does_not_accept_this_key_or_upgrade_is_refused() {
        let (socket, _) = open(|_| accepted("Upgrade", "dGhlIHNhbXBsZSBub25jZQ==")).await;
        assert!(matches!(socket, Err(ClientError::AcceptMismatch)));
        let (socket, _) = open(|accept| accepted("close", accept)).await;
        assert!(matches!(socket, Err(ClientError::NoConnectionUpgrade)));
        let (socket, _) = open(|accept| {
            format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n")
                .into_bytes()
        })
        .await;
        assert!(matches!(socket, Err(ClientError::NoUpgrade)));
    }

    #[tokio::test]
    async fn another_status_is_refused_with_the_status_in_the_error() {
        let (socket, _) =
            open(|_| b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n".to_vec()).await;
        let error = socket.err().unwrap();
        assert!(matches!(error, ClientError::Status(StatusCode::SERVICE_UNAVAILABLE)));
        assert_eq!(error.to_string(), "HTTP error: 503 Service Unavailable");
    }

    #[tokio::test]
    async fn a_frame_in_the_same_packet_as_the_101_is_delivered() {
        let (socket, _) = open(|accept| {
            let mut bytes = accepted("Upgrade", accept);
            // An unmasked text frame, "hi", as a server sends it.
            bytes.extend_from_slice(&[0x81, 2, b'h', b'i']);
            bytes
        })
        .await;
        let mut socket = socket.unwrap();
        assert_eq!(socket.next().await.unwrap().unwrap(), Message::text("hi"));
        echoes(Ok(socket)).await;
    }

    #[tokio::test]
    async fn a_masked_frame_from_the_server_is_refused() {
        let (socket, _) = open(|accept| {
            let mut bytes = accepted("Upgrade", accept);
            let mask = [1, 2, 3, 4];
            bytes.extend_from_slice(&[0x81, 0x82]);
            bytes.extend_from_slice(&mask);
            bytes.extend_from_slice(&[b'h' ^ mask[0], b'i' ^ mask[1]]);
            bytes
        })
        .await;
        // RFC 6455 5.1: a client closes the connection on a masked frame.
        assert!(socket.unwrap().next().await.unwrap().is_err());
    }

    #[tokio::test]
    async fn a_head_over_the_cap_is_refused() {
        let (socket, _) = open(|accept| {
            let mut bytes = b"HTTP/1.1 101 Switching Protocols\r\nX-Padding: ".to_vec();
            bytes.extend(std::iter::repeat_n(b'a', MAX_HEAD));
            bytes.extend_from_slice(b"\r\n");
            bytes.extend_from_slice(accepted("Upgrade", accept).split_at(34).1);
            bytes
        })
        .await;
        assert!(matches!(socket, Err(ClientError::HeadTooLarge(MAX_HEAD))));
    }
}
