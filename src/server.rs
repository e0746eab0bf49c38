//! Process wiring, at the top of the tree: the routes of every part
//! mounted together, the listener, graceful shutdown. The state the handlers
//! share is built in `state` (re-exported here for embedders and tests).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use warp::{Filter, Rejection, Reply};

use crate::config::{Config, DatabaseUrl};
use crate::http::{compress, Listeners};
pub use crate::state::{AppState, ChatLimits};
use crate::store::sqlite::SqliteStore;
use crate::store::{Store, StoreError};
use crate::tls::Tls;

/// Opens the backend the configuration names (creating and migrating it):
/// SQLite by default, Postgres for a `postgres://` URL.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StoreError> {
    match DatabaseUrl::parse(config.database.url.expose()) {
        Ok(DatabaseUrl::Postgres(url)) => Ok(Arc::new(crate::store::postgres::PgStore::open(&url).await?)),
        Ok(_) => Ok(Arc::new(SqliteStore::open(&config.sqlite_path())?)),
        Err(message) => Err(StoreError::Invalid(message)),
    }
}

/// Binds the configured plain-HTTP address (`server.bind`, `server.port`).
pub async fn bind(config: &Config) -> std::io::Result<TcpListener> {
    bind_to(SocketAddr::new(config.server.bind, config.server.port))
}

/// Binds `addr` for serving. Accepted sockets get TCP_NODELAY (see
/// `crate::http`): a media stream writes small frames back to back.
pub fn bind_to(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket =
        if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Serves plain HTTP on `listener` until `shutdown` resolves, then stops
/// accepting and gives open connections `shutdown_grace_secs` to finish.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let listeners = Listeners { http: Some(listener), https: None };
    serve_on(state, listeners, None, shutdown).await;
}

/// Serves the app until `shutdown` resolves, then stops accepting and gives
/// open connections (calls included) the grace period to finish.
pub async fn serve_on(
    state: AppState,
    listeners: Listeners,
    tls: Option<Arc<Tls>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let settings = crate::http::Settings::from_config(&state.config);
    let app = TowerToHyperService::new(warp::service(routes(state)));
    crate::http::serve_app(app, settings, listeners, tls, shutdown).await;
}

/// Every route of the app, under one log line per request, JSON
/// rejections and response compression.
pub fn routes(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone {
    let log = warp::log::custom(|info| {
        // Path only: query strings can carry tokens.
        tracing::info!(
            target: "frontdesk::http",
            method = %info.method(),
            path = %info.path(),
            status = info.status().as_u16(),
            latency_ms = info.elapsed().as_secs_f64() * 1000.0,
            "request"
        );
    });
    // Each group boxed: its future lives on the heap, so the request's
    // future stays small however many filters a group stacks (a debug build
    // ran out of stack on the nested voice webhooks otherwise).
    let routes = boxed(crate::web::health::routes(state.clone()))
        .or(boxed(crate::channels::chat::routes(state.clone())))
        .unify()
        .or(boxed(crate::channels::voice::routes(state.clone())))
        .unify()
        .or(boxed(crate::web::call_connect::routes(state.clone())))
        .unify()
        .or(boxed(crate::web::api::routes(state.clone())))
        .unify()
        .or(boxed(crate::web::pages::routes(state)))
        .unify()
        .recover(crate::http::recover);
    let accept_encoding =
        warp::header::optional::<String>("accept-encoding").or(warp::any().map(|| None)).unify();
    accept_encoding
        .and(routes)
        .then(|accept: Option<String>, reply| async move {
            compress::maybe(compress::negotiate(accept.as_deref()), Reply::into_response(reply)).await
        })
        .with(log)
}

fn boxed<F, R>(filter: F) -> warp::filters::BoxedFilter<(warp::reply::Response,)>
where
    F: Filter<Extract = (R,), Error = Rejection> + Clone + Send + Sync + 'static,
    R: Reply + 'static,
{
    filter.map(|reply: R| reply.into_response()).boxed()
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Held by a serving process for its whole life, so `restore` can tell that
/// the database is in use. The OS drops the lock if the process dies.
pub struct InstanceLock {
    _file: std::fs::File,
}

impl InstanceLock {
    /// Ok(None) when another process holds it.
    pub fn try_acquire(data_dir: &std::path::Path) -> std::io::Result<Option<InstanceLock>> {
        crate::files::private_dir(data_dir)?;
        let path = data_dir.join("frontdesk.lock");
        crate::files::private_file(&path)?;
        let file = std::fs::OpenOptions::new().write(true).open(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(InstanceLock { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }
}
