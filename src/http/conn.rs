//! One connection: HTTP/1.1 through hyper with a header-read deadline and
//! upgrades (media-stream WebSockets), over a socket that holds its slot in
//! the connection limits for as long as it is open, upgraded or not.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use warp::http::{header, HeaderValue, Request};
use warp::reply::Response;
use warp::Filter;

use super::limits::Open;

/// The client's socket address, put on every request by the accept loop.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// The peer's socket address (what `warp::addr::remote()` gave when warp ran
/// the server). None only for requests that did not come through a socket.
pub fn peer_addr() -> impl Filter<Extract = (Option<SocketAddr>,), Error = Infallible> + Copy {
    warp::ext::optional::<PeerAddr>().map(|peer: Option<PeerAddr>| peer.map(|p| p.0))
}

/// Largest buffer hyper keeps per connection (a request head must fit): a
/// slow client trickling headers holds at most this much.
const MAX_BUF: usize = 64 * 1024;

/// The routes as a hyper service (what `warp::service` gives, adapted).
pub trait AppService:
    hyper::service::Service<
        Request<Incoming>,
        Response = Response,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<T> AppService for T where
    T: hyper::service::Service<
            Request<Incoming>,
            Response = Response,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

pub type BoxResponse = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// Serves HTTP on `io` until the client leaves or `stop` turns true, then
/// finishes the request in flight and closes.
pub async fn serve<IO, S>(io: IO, service: S, header_timeout: Duration, mut stop: watch::Receiver<bool>)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<Request<Incoming>, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(MAX_BUF)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
        () = stopped(&mut stop) => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// Resolves once the server is stopping (the value is not held across an await).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}

/// The app for one connection: the peer address goes in as a request
/// extension, and on HTTPS every response gets `Strict-Transport-Security`
/// and `Secure` cookies.
#[derive(Clone)]
pub struct ConnService<S> {
    pub app: S,
    pub peer: SocketAddr,
    /// An HTTPS connection: cookies are marked `Secure`.
    pub https: bool,
    /// `Strict-Transport-Security` for HTTPS responses (None: not sent).
    pub hsts: Option<HeaderValue>,
}

impl<S: AppService> hyper::service::Service<Request<Incoming>> for ConnService<S> {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxResponse;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        request.extensions_mut().insert(PeerAddr(self.peer));
        let response = self.app.call(request);
        let (https, hsts) = (self.https, self.hsts.clone());
        Box::pin(async move {
            let mut response = response.await?;
            if https {
                secure(&mut response, hsts);
            }
            Ok(response)
        })
    }
}

/// HTTPS only: tells browsers to stay on HTTPS, and marks cookies `Secure`
/// so they are never sent over plain HTTP.
fn secure(response: &mut Response, hsts: Option<HeaderValue>) {
    let headers = response.headers_mut();
    if let Some(hsts) = hsts {
        headers.entry(header::STRICT_TRANSPORT_SECURITY).or_insert(hsts);
    }
    let cookies: Vec<HeaderValue> = headers.get_all(header::SET_COOKIE).iter().cloned().collect();
    if cookies.is_empty() {
        return;
    }
    headers.remove(header::SET_COOKIE);
    for cookie in cookies {
        let secured = match cookie.to_str() {
            Ok(text) if !text.split(';').any(|a| a.trim().eq_ignore_ascii_case("secure")) => {
                HeaderValue::from_str(&format!("{text}; Secure")).unwrap_or(cookie)
            }
            _ => cookie,
        };
        headers.append(header::SET_COOKIE, secured);
    }
}

/// A socket that stays counted as open until it is dropped.
pub struct Tracked<IO> {
    pub io: IO,
    pub _open: Open,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Tracked<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Tracked<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn https_responses_get_hsts_and_secure_cookies() {
        let mut response = Response::new("ok".into());
        let h = response.headers_mut();
        h.append(header::SET_COOKIE, HeaderValue::from_static("a=1; Path=/; HttpOnly"));
        h.append(header::SET_COOKIE, HeaderValue::from_static("b=2; Secure"));
        secure(&mut response, Some(HeaderValue::from_static("max-age=60")));
        let cookies: Vec<&str> =
            response.headers().get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
        assert_eq!(cookies, ["a=1; Path=/; HttpOnly; Secure", "b=2; Secure"]);
        assert_eq!(response.headers()[header::STRICT_TRANSPORT_SECURITY], "max-age=60");
    }
}
