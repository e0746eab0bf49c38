//! What every request handler shares (`AppState`) and how it is built from
//! the configuration. Low in the tree on purpose: the web UI, the channels,
//! the notifier and the importer all take it, so it imports none of their
//! handlers, only the state types they keep (each in a file of its own).

use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::agent::provider::{self, ReplyProvider};
use crate::channels::voice::calls::Calls;
use crate::config::{Config, Secret};
use crate::http::ratelimit::RateLimiter;
use crate::openai::chat::{self, ChatModel};
use crate::openai::embed::Embedder;
use crate::plans::Plans;
use crate::sessions::{SessionStore, Sessions, Shared};
use crate::store::Store;
use crate::tls::status::TlsStatus;
use crate::twilio::TwilioClient;
use crate::web::hashing::PasswordWork;
use crate::web::setup_token::SetupToken;
use crate::web::throttle::{Throttle, ATTEMPTS_PER_ADDRESS};

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
    pub voice: Arc<Calls>,
    /// Wakes the notifications worker after rows were enqueued.
    pub notify_wake: Arc<Notify>,
    /// The web UI's login throttles.
    pub web: WebState,
    /// Certificates: mode, domains, expiry, last error (for /health and the operator).
    pub tls: TlsStatus,
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
            Some(model) => Arc::new(chat::OpenAi(model)),
            None => Arc::new(provider::Local),
        };
        let chat_limits =
            ChatLimits::new(config.chat.per_ip_per_minute, config.chat.per_session_per_minute, &shared);
        let plans = Plans { enforce: config.features.plan_tiers };
        Ok(AppState {
            tls: TlsStatus::new(&config.tls),
            plans,
            twilio: TwilioClient::from_config(&config.twilio),
            voice: Arc::new(Calls::new(&shared)),
            web: WebState::new(&shared),
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

/// State of the web UI: password throttles and the setup code (in the
/// shared store), and hashing (this process's).
#[derive(Clone)]
pub struct WebState {
    /// Sign-in attempts, per account and client address.
    pub logins: Throttle,
    /// Password changes (the current password is a guess too), per user and address.
    pub password_changes: Throttle,
    /// Where every password is hashed or checked.
    pub passwords: PasswordWork,
    /// The code `/setup` asks for before the first account exists.
    pub setup_token: SetupToken,
}

impl WebState {
    pub fn new(store: &Shared) -> Self {
        WebState {
            logins: Throttle::new("login", ATTEMPTS_PER_ADDRESS, store),
            password_changes: Throttle::new("password", ATTEMPTS_PER_ADDRESS, store),
            passwords: PasswordWork::for_this_machine(),
            setup_token: SetupToken::new(store),
        }
    }
}
