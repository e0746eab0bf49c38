//! WebSocket upgrades with our own buffer sizes. warp's `ws()` gives every
//! socket tungstenite's default 128 KiB read buffer, which a phone call's
//! frames (a few hundred bytes) never need; with a thousand calls that is
//! most of the memory. This does the same RFC 6455 handshake and hands over a
//! tokio-tungstenite stream configured by the caller.

use std::future::Future;

use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;
use warp::http::{header, HeaderValue, StatusCode};
use warp::hyper::upgrade::{OnUpgrade, Upgraded};
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::error::ApiError;

pub type ServerSocket = WebSocketStream<TokioIo<Upgraded>>;

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
    pub fn on_upgrade<F, Fut>(self, config: WebSocketConfig, handle: F) -> Response
    where
        F: FnOnce(ServerSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let accept = derive_accept_key(self.key.as_bytes());
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => {
                    let socket =
                        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config))
                            .await;
                    handle(socket).await;
                }
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

/// Buffers sized for small frames (audio chunks, events).
pub fn small_frames(max_message: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message))
}
