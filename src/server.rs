//! Process wiring: shared state, the listener, graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::agent::embed::Embedder;
use crate::agent::llm::{self, ChatModel};
use crate::agent::provider::{self, ReplyProvider};
use crate::config::{Config, DatabaseUrl, Secret};
use crate::plans::Plans;
use crate::sessions::{SessionStore, Sessions, Shared};
use crate::store::sqlite::SqliteStore;
use crate::store::{Store, StoreError};
use crate::twilio::TwilioClient;
use crate::web::ratelimit::RateLimiter;

/// Everything a request handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub sessions: Arc<dyn SessionStore>,
    /// The store several instances share (Redis, when configured) for
    /// sessions, limits and call state; this process's memory otherwise.
    pub shared: Shared,
    /// Which instance this is (`server.instance_name`, else host and pid).
    pub instance: Arc<str>,
    pub jwt_secret: Secret,
    pub started: Instant,
    /// Open media-stream WebSockets, for limits and /health.
    pub websockets: Arc<AtomicUsize>,
    pub chat_limits: ChatLimits,
    /// Who words replies: `openai` when a key and chat model are configured, else `local`.
    pub replies: Arc<dyn ReplyProvider>,
    /// The embedding model, when a key and `OPENAI_EMBEDDING_MODEL` are configured.
    pub embedder: Option<Embedder>,
    /// One turn at a time per session: two quick messages must not both
    /// start from the same state and lose each other's answers.
    pub turn_locks: moka::sync::Cache<String, Arc<tokio::sync::Mutex<()>>>,
    /// What each plan tier may do (`ENABLE_PLAN_TIERS`).
    pub plans: Plans,
    /// Twilio's REST API, when an account SID and auth token are configured.
    pub twilio: Option<TwilioClient>,
    /// Decisions passed between a call's webhooks and its media stream.
    pub voice: Arc<crate::channels::voice::Calls>,
    /// Wakes the notifications worker after rows were enqueued.
    pub notify_wake: Arc<Notify>,
    /// The web UI's login throttles.
    pub web: crate::web::auth::WebState,
    /// Certificates: mode, domains, expiry, last error (for /health and the operator).
    pub tls: crate::tls::TlsStatus,
}

/// Chat messages allowed per minute, per client address and per session.
#[derive(Clone)]
pub struct ChatLimits {
    pub per_ip: RateLimiter,
    pub per_session: RateLimiter,
}

impl ChatLimits {
    pub fn new(per_ip: u32, per_session: u32, store: &Shared) -> Self {
        let minute = Duration::from_secs(60);
        ChatLimits {
            per_ip: RateLimiter::new("chat-ip", per_ip, minute, store),
            per_session: RateLimiter::new("chat-session", per_session, minute, store),
        }
    }
}

/// Opens the backend the configuration names (creating and migrating it):
/// SQLite by default, Postgres for a `postgres://` URL.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StoreError> {
    match DatabaseUrl::parse(config.database.url.expose()) {
        Ok(DatabaseUrl::Postgres(url)) => Ok(Arc::new(crate::store::postgres::PgStore::open(&url).await?)),
        Ok(_) => Ok(Arc::new(SqliteStore::open(&config.sqlite_path())?)),
        Err(message) => Err(StoreError::Invalid(message)),
    }
}

impl AppState {
    pub fn new(config: Config, store: Arc<dyn Store>) -> anyhow::Result<AppState> {
        let jwt_secret = crate::auth::jwt_secret(&config)?;
        let shared = Shared::open(&config.redis, 100_000)?;
        let sessions = Arc::new(Sessions::new(shared.clone(), Duration::from_secs(config.redis.ttl_secs)));
        let openai = &config.openai;
        let embedder = (!openai.api_key.is_empty() && !openai.embedding_model.is_empty()).then(|| {
            Embedder::new(
                &openai.base_url,
                openai.api_key.expose(),
                &openai.embedding_model,
                Duration::from_secs(10),
            )
        });
        let chat_model =
            (!config.openai.api_key.is_empty() && !config.openai.chat_model.is_empty()).then(|| {
                ChatModel::new(
                    &config.openai.base_url,
                    config.openai.api_key.expose(),
                    &config.openai.chat_model,
                    Duration::from_millis(config.openai.chat_timeout_ms),
                )
            });
        let replies: Arc<dyn ReplyProvider> = match chat_model {
            Some(model) => Arc::new(llm::OpenAi(model)),
            None => Arc::new(provider::Local),
        };
        let chat_limits =
            ChatLimits::new(config.chat.per_ip_per_minute, config.chat.per_session_per_minute, &shared);
        let plans = Plans { enforce: config.features.plan_tiers };
        Ok(AppState {
            tls: crate::tls::TlsStatus::new(&config.tls),
            plans,
            twilio: TwilioClient::from_config(&config.twilio),
            voice: Arc::new(crate::channels::voice::Calls::new(&shared)),
            web: crate::web::auth::WebState::new(&shared),
            instance: crate::sessions::instance_id(&config.server.instance_name).into(),
            config: Arc::new(config),
            store,
            sessions,
            shared,
            jwt_secret,
            started: Instant::now(),
            websockets: Arc::new(AtomicUsize::new(0)),
            chat_limits,
            replies,
            embedder,
            turn_locks: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(600))
                .build(),
            notify_wake: Arc::new(Notify::new()),
        })
    }

    /// How long a request body may take to arrive.
    pub fn body_deadline(&self) -> Duration {
        Duration::from_secs(self.config.server.body_read_timeout_secs)
    }

    /// The rules enqueued notifications follow on this instance.
    pub fn notify_policy(&self) -> crate::notify::policy::NotifyPolicy {
        crate::notify::policy::NotifyPolicy::from_config(&self.config, self.plans)
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
    let listeners = crate::http::Listeners { http: Some(listener), https: None };
    crate::http::serve(state, listeners, None, shutdown).await;
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
