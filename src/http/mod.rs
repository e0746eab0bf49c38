//! The HTTP server: our own accept loop over plain TCP and TLS, serving the
//! warp routes through hyper. It keeps what warp's server did (graceful
//! stop, TCP_NODELAY, WebSocket upgrades) and adds what it lacked: a
//! header-read (and TLS handshake) deadline, a cap on the connections one
//! client address may hold open, HTTPS, and the peer address handed to the
//! routes as a request extension ([`peer_addr`]).
//!
//! Beside the loop, the warp plumbing that the web UI and the channels both
//! use: bodies, the client's address, WebSocket upgrades, compression, rate
//! limits, `with_state` and the JSON rejection. Nothing here knows a route.

pub mod body;
pub mod client_ip;
pub mod compress;
pub mod conn;
mod filters;
mod limits;
pub mod ratelimit;
pub mod twilio;
pub mod websocket;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use warp::http::HeaderValue;

pub use conn::{peer_addr, AppService, BoxResponse, ConnService, PeerAddr};
pub use filters::{get_or_head, recover, with_state};
pub use limits::Connections;

use crate::tls::Tls;

/// The sockets to serve. Without TLS: `http` serves everything. With TLS:
/// `https` serves everything and `http` (if it could be bound) answers ACME
/// challenges and redirects to https.
pub struct Listeners {
    pub http: Option<TcpListener>,
    pub https: Option<TcpListener>,
}

/// How connections are treated.
#[derive(Clone)]
pub struct Settings {
    pub header_timeout: Duration,
    pub max_connections_per_ip: u32,
    pub grace: Duration,
    pub hsts: Option<HeaderValue>,
}

impl Settings {
    pub fn from_config(config: &crate::config::Config) -> Settings {
        let max_age = config.tls.hsts_max_age_secs;
        Settings {
            header_timeout: Duration::from_secs(config.server.header_read_timeout_secs.max(1)),
            max_connections_per_ip: config.server.max_connections_per_ip,
            grace: Duration::from_secs(config.server.shutdown_grace_secs),
            hsts: (max_age > 0).then(|| HeaderValue::from_str(&format!("max-age={max_age}")).ok()).flatten(),
        }
    }
}

/// Serves `app` until `shutdown` resolves, then stops accepting and gives
/// open connections (calls included) the grace period to finish.
pub async fn serve_app<S: AppService>(
    app: S,
    settings: Settings,
    listeners: Listeners,
    tls: Option<Arc<Tls>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let connections = Connections::new(settings.max_connections_per_ip);
    let (stop, stopping) = watch::channel(false);
    let server = Server { app, settings: settings.clone(), connections: connections.clone(), stopping, tls };
    let server = Arc::new(server);
    if let Some(listener) = listeners.http {
        tokio::spawn(server.clone().accept(listener, false));
    }
    if let Some(listener) = listeners.https {
        tokio::spawn(server.clone().accept(listener, true));
    }
    shutdown.await;
    tracing::info!("shutting down: no new connections, waiting for in-flight work");
    let _ = stop.send(true);
    tokio::select! {
        () = connections.idle() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(settings.grace) => {
            tracing::warn!(
                grace_secs = settings.grace.as_secs(),
                open = connections.total(),
                "grace period over; closing remaining connections"
            );
        }
    }
}

struct Server<S> {
    app: S,
    settings: Settings,
    connections: Arc<Connections>,
    stopping: watch::Receiver<bool>,
    tls: Option<Arc<Tls>>,
}

impl<S: AppService> Server<S> {
    async fn accept(self: Arc<Self>, listener: TcpListener, https: bool) {
        let mut stopping = self.stopping.clone();
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = conn::stopped(&mut stopping) => return,
            };
            let (stream, peer) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of descriptors or a connection reset before we got
                    // to it: keep serving the others.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some((open, share)) = self.connections.admit(peer.ip()) else {
                tracing::debug!(%peer, "too many open connections from this address; closed");
                continue;
            };
            // Small frames back to back (audio, then its mark) must not wait
            // for the first one's acknowledgement (Nagle).
            let _ = stream.set_nodelay(true);
            let io = conn::Tracked { io: stream, _open: open };
            let server = self.clone();
            tokio::spawn(async move {
                match https {
                    true => server.serve_https(io, peer).await,
                    false => server.serve_http(io, peer).await,
                }
                // HTTP is over on this socket: closed, or handed to a WebSocket.
                drop(share);
            });
        }
    }

    fn service(&self, peer: SocketAddr, https: bool) -> ConnService<S> {
        ConnService { app: self.app.clone(), peer, https, hsts: self.settings.hsts.clone() }
    }

    async fn serve_http(&self, io: conn::Tracked<TcpStream>, peer: SocketAddr) {
        let (timeout, stop) = (self.settings.header_timeout, self.stopping.clone());
        let service = self.service(peer, false);
        match &self.tls {
            // TLS on: this port answers ACME challenges and redirects.
            Some(tls) => conn::serve(io, tls.http_port(service), timeout, stop).await,
            None => conn::serve(io, service, timeout, stop).await,
        }
    }

    async fn serve_https(&self, io: conn::Tracked<TcpStream>, peer: SocketAddr) {
        let Some(tls) = &self.tls else { return };
        let mut stopping = self.stopping.clone();
        let handshake = tokio::time::timeout(self.settings.header_timeout, tls.accept(io));
        let stream = tokio::select! {
            result = handshake => match result {
                Ok(Ok(Some(stream))) => stream,
                // A TLS-ALPN-01 validation: the handshake was the answer.
                Ok(Ok(None)) => return,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake too slow; closed");
                    return;
                }
            },
            () = conn::stopped(&mut stopping) => return,
        };
        conn::serve(stream, self.service(peer, true), self.settings.header_timeout, self.stopping.clone())
            .await;
    }
}
