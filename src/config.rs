//! Configuration, defined once.
//!
//! Every setting is one row of [`KEYS`]: its TOML key, the environment
//! variables that set it (the Node design's names first), whether it is a
//! secret, and a one-line doc. Layers apply in order: embedded defaults, the
//! TOML file, the environment, then command-line flags. Problems are collected,
//! not raised one at a time, so `frontdesk config check` can name every bad key.
//!
//! Over 600 lines on purpose: the settings are defined in one place (the
//! structs, their defaults, the `KEYS` table and the checks), and most of
//! the length is those tables of data; the tests are in `config_tests.rs`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

#[path = "config_db.rs"]
mod db;
#[path = "config_host.rs"]
mod host;
#[path = "config_tls.rs"]
mod tls;
pub use db::{PgUrl, PgUrlError};
pub use host::{looks_like_container_id, parse_public_host, without_port};
pub use tls::{AcmeChallenge, Domains, TlsConfig, TlsMode, LETSENCRYPT, LETSENCRYPT_STAGING};

/// A secret value: never printed by `Debug`, `Display` or `config check`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "[redacted]" })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
    Test,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Implicit TLS on port 465, STARTTLS otherwise.
    Auto,
    Starttls,
    Implicit,
    None,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub bind: IpAddr,
    pub port: u16,
    pub hostname: String,
    pub shutdown_grace_secs: u64,
    pub log_format: LogFormat,
    /// Reverse proxies whose `X-Forwarded-For` is believed (none by default).
    pub trusted_proxies: TrustedProxies,
    /// A request body not received whole within this many seconds is refused (408).
    pub body_read_timeout_secs: u64,
    /// A connection that has not sent a whole request head by then is closed
    /// (and a TLS handshake not finished by then).
    pub header_read_timeout_secs: u64,
    /// Open connections one client address (an IPv6 /64) may hold; 0: no cap.
    pub max_connections_per_ip: u32,
    /// Names this instance in `/health` and the logs; empty: host name and pid.
    pub instance_name: String,
}

/// CIDR blocks of reverse proxies, comma-separated in text (`127.0.0.1/32, 10.0.0.0/8`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(pub Vec<ipnet::IpNet>);

impl TrustedProxies {
    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// Empty: SQLite in the data directory.
    pub url: Secret,
    pub direct_url: Secret,
}

#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// Empty: sessions live in-process.
    pub url: Secret,
    pub password: Secret,
    pub db: u32,
    pub ttl_secs: u64,
    /// Put before every key, so deployments (and test runs) can share one Redis.
    pub key_prefix: String,
}

impl RedisConfig {
    /// `redis.url` with `redis.password` and `redis.db` applied on top, as the
    /// original design's `.env` has them: a password or a non-zero database
    /// replaces the URL's own.
    pub fn connection_url(&self) -> Result<url::Url, String> {
        let mut url = url::Url::parse(self.url.expose()).map_err(|e| e.to_string())?;
        if url.scheme() != "redis" && url.scheme() != "rediss" {
            return Err(format!("expected redis:// or rediss://, not {}://", url.scheme()));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("the URL names no host".into());
        }
        if !self.password.is_empty() {
            url.set_password(Some(self.password.expose()))
                .map_err(|()| "a password cannot be set on this URL".to_string())?;
        }
        if self.db != 0 {
            url.set_path(&format!("/{}", self.db));
        }
        Ok(url)
    }
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Empty: generated once and kept in the data directory.
    pub jwt_secret: Secret,
}

#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    pub api_key: Secret,
    pub base_url: String,
    pub realtime_model: String,
    pub chat_model: String,
    pub chat_timeout_ms: u64,
    pub embedding_model: String,
    pub embedding_poll_ms: u64,
}

#[derive(Debug, Clone)]
pub struct TwilioConfig {
    pub account_sid: String,
    pub auth_token: Secret,
    pub webhook_base_url: String,
    pub phone_number: String,
    pub api_base_url: String,
}

/// Phone calls: turn detection, timing and limits of both voice modes.
#[derive(Debug, Clone)]
pub struct VoiceConfig {
    /// Speech-to-text model for the caller's side of realtime calls.
    pub transcription_model: String,
    /// Text-to-speech model for the voice samples on the voice page.
    pub speech_model: String,
    pub vad_threshold: f64,
    pub vad_prefix_padding_ms: u32,
    pub vad_silence_ms: u32,
    /// Caller audio kept while the model session opens; older audio is dropped.
    pub audio_buffer_ms: u32,
    /// A realtime session is replaced by a fresh one (conversation carried over) after this long.
    pub realtime_session_max_secs: u64,
    /// A tool still running after this long gets a short filler line spoken.
    pub tool_filler_ms: u64,
    /// Longest wait for a goodbye or transfer line to finish playing.
    pub goodbye_timeout_ms: u64,
    /// Gather mode: a reply not ready by then is sent with a hold prompt and a redirect.
    pub gather_reply_wait_ms: u64,
    /// New realtime calls hear the busy message while the process used at
    /// least this share (percent) of its CPUs over the last second; 0 is off.
    pub max_cpu_percent: u32,
}

#[derive(Debug, Clone)]
pub struct WebSocketConfig {
    pub ping_interval_ms: u64,
    pub pong_timeout_ms: u64,
    pub max_connections: u32,
}

#[derive(Debug, Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub pass: Secret,
    pub from: String,
    pub tls: SmtpTls,
}

/// The notifications outbox worker.
#[derive(Debug, Clone)]
pub struct NotifyConfig {
    pub max_attempts: u32,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    pub poll_ms: u64,
    pub delivery_timeout_ms: u64,
    /// How long a claimed row stays a worker's: after a crash another
    /// instance takes it over once this runs out.
    pub lease_ms: u64,
    pub email_concurrency: u32,
    pub sms_concurrency: u32,
    pub call_concurrency: u32,
    pub webhook_concurrency: u32,
    pub digest_hour: u32,
    pub new_lead_delay_secs: u64,
    /// Per business, over any 24 hours (0: no limit).
    pub daily_email_cap: u32,
    pub daily_sms_cap: u32,
    pub daily_call_cap: u32,
    /// URGENT alerts and follow-ups per channel: apart from the caps above.
    pub daily_urgent_cap: u32,
    /// Tests per channel (they also count against the caps above).
    pub daily_test_cap: u32,
    /// Tests one business may send per minute, all channels together.
    pub tests_per_minute: u32,
    /// The follow-up URGENT alert waits at most this long for the caller's details.
    pub urgent_followup_hold_secs: u64,
    /// Lead webhooks may point at loopback, private or link-local addresses.
    pub allow_private_webhooks: bool,
}

/// Importing knowledge from websites (the crawler).
#[derive(Debug, Clone)]
pub struct KnowledgeConfig {
    /// Most pages one website import fetches.
    pub crawl_max_pages: u32,
    /// Pause between two fetches from one site, ms (robots.txt may ask for more).
    pub crawl_delay_ms: u64,
    /// Largest page fetched, bytes.
    pub crawl_page_bytes: u64,
    /// One fetch's time limit, seconds.
    pub crawl_timeout_secs: u64,
    /// The crawler may reach loopback addresses (tests and local sites);
    /// other private addresses stay refused.
    pub allow_loopback_crawl: bool,
}

#[derive(Debug, Clone)]
pub struct ChatConfig {
    pub per_ip_per_minute: u32,
    pub per_session_per_minute: u32,
}

#[derive(Debug, Clone)]
pub struct UrlConfig {
    pub app_primary_url: String,
    pub admin_custom_domain_url: String,
    pub widget_demo_url: String,
    pub widget_test_url: String,
}

#[derive(Debug, Clone)]
pub struct Features {
    pub realtime_api: bool,
    pub websocket_features: bool,
    pub plan_tiers: bool,
    pub emergency_voice_calls: bool,
    pub memory_monitoring: bool,
    pub verbose_logging: bool,
}

/// The effective configuration of one frontdesk process.
#[derive(Debug, Clone)]
pub struct Config {
    pub environment: Environment,
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub redis: RedisConfig,
    pub auth: AuthConfig,
    pub openai: OpenAiConfig,
    pub twilio: TwilioConfig,
    pub websocket: WebSocketConfig,
    pub voice: VoiceConfig,
    pub max_memory_usage_mb: u64,
    pub smtp: SmtpConfig,
    pub notify: NotifyConfig,
    pub chat: ChatConfig,
    pub knowledge: KnowledgeConfig,
    pub urls: UrlConfig,
    pub features: Features,
    pub tls: TlsConfig,
}

impl Default for Config {
    // A table of data: every setting's default, in the structs' order.
    fn default() -> Self {
        Config {
            environment: Environment::Development,
            data_dir: default_data_dir(),
            server: ServerConfig {
                bind: IpAddr::from([0, 0, 0, 0]),
                port: 3000,
                hostname: String::new(),
                shutdown_grace_secs: 30,
                log_format: LogFormat::Text,
                trusted_proxies: TrustedProxies::default(),
                body_read_timeout_secs: 15,
                header_read_timeout_secs: 10,
                max_connections_per_ip: 256,
                instance_name: String::new(),
            },
            database: DatabaseConfig { url: Secret::default(), direct_url: Secret::default() },
            redis: RedisConfig {
                url: Secret::default(),
                password: Secret::default(),
                db: 0,
                ttl_secs: 3600,
                key_prefix: "frontdesk:".into(),
            },
            auth: AuthConfig { jwt_secret: Secret::default() },
            openai: OpenAiConfig {
                api_key: Secret::default(),
                base_url: "https://api.openai.com/v1".into(),
                realtime_model: "gpt-realtime".into(),
                chat_model: "gpt-4o-mini".into(),
                chat_timeout_ms: 8000,
                embedding_poll_ms: 5000,
                embedding_model: String::new(),
            },
            twilio: TwilioConfig {
                account_sid: String::new(),
                auth_token: Secret::default(),
                webhook_base_url: String::new(),
                phone_number: String::new(),
                api_base_url: "https://api.twilio.com".into(),
            },
            websocket: WebSocketConfig {
                ping_interval_ms: 30_000,
                pong_timeout_ms: 5_000,
                max_connections: 100,
            },
            voice: VoiceConfig {
                transcription_model: "gpt-4o-mini-transcribe".into(),
                speech_model: "gpt-4o-mini-tts".into(),
                vad_threshold: 0.6,
                vad_prefix_padding_ms: 300,
                vad_silence_ms: 500,
                audio_buffer_ms: 5000,
                realtime_session_max_secs: 28 * 60,
                tool_filler_ms: 1200,
                goodbye_timeout_ms: 15_000,
                gather_reply_wait_ms: 3000,
                max_cpu_percent: 0,
            },
            max_memory_usage_mb: 1536,
            smtp: SmtpConfig {
                host: String::new(),
                port: 587,
                user: String::new(),
                pass: Secret::default(),
                from: String::new(),
                tls: SmtpTls::Auto,
            },
            notify: NotifyConfig {
                max_attempts: 12,
                backoff_base_ms: 30_000,
                backoff_max_ms: 3_600_000,
                poll_ms: 1000,
                delivery_timeout_ms: 30_000,
                lease_ms: 90_000,
                email_concurrency: 4,
                sms_concurrency: 4,
                call_concurrency: 2,
                webhook_concurrency: 8,
                digest_hour: 18,
                new_lead_delay_secs: 60,
                daily_email_cap: 200,
                daily_sms_cap: 50,
                daily_call_cap: 10,
                daily_urgent_cap: 20,
                daily_test_cap: 10,
                tests_per_minute: 5,
                urgent_followup_hold_secs: 60,
                allow_private_webhooks: false,
            },
            chat: ChatConfig { per_ip_per_minute: 60, per_session_per_minute: 30 },
            knowledge: KnowledgeConfig {
                crawl_max_pages: 50,
                crawl_delay_ms: 1000,
                crawl_page_bytes: 2 * 1024 * 1024,
                crawl_timeout_secs: 15,
                allow_loopback_crawl: false,
            },
            urls: UrlConfig {
                app_primary_url: String::new(),
                admin_custom_domain_url: String::new(),
                widget_demo_url: String::new(),
                widget_test_url: String::new(),
            },
            features: Features {
                realtime_api: true,
                websocket_features: true,
                plan_tiers: true,
                emergency_voice_calls: true,
                memory_monitoring: true,
                verbose_logging: false,
            },
            tls: TlsConfig::default(),
        }
    }
}

/// The installed system data directory when it exists, else `./frontdesk-data`.
fn default_data_dir() -> PathBuf {
    let system = Path::new("/var/lib/frontdesk");
    if system.is_dir() {
        system.to_path_buf()
    } else {
        PathBuf::from("frontdesk-data")
    }
}

/// One value type a key can hold: parsed from text, shown as text.
pub(crate) trait Value: Sized {
    fn parse(raw: &str) -> Result<Self, String>;
    fn show(&self) -> String;
}

impl Value for String {
    fn parse(raw: &str) -> Result<Self, String> {
        Ok(raw.trim().to_string())
    }
    fn show(&self) -> String {
        self.clone()
    }
}

impl Value for Secret {
    fn parse(raw: &str) -> Result<Self, String> {
        Ok(Secret(raw.trim().to_string()))
    }
    fn show(&self) -> String {
        if self.0.is_empty() {
            String::new()
        } else {
            "[redacted]".into()
        }
    }
}

impl Value for PathBuf {
    fn parse(raw: &str) -> Result<Self, String> {
        if raw.trim().is_empty() {
            return Err("must not be empty".into());
        }
        Ok(PathBuf::from(raw.trim()))
    }
    fn show(&self) -> String {
        self.display().to_string()
    }
}

impl Value for bool {
    fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" | "" => Ok(false),
            other => Err(format!("expected true or false, got '{other}'")),
        }
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

macro_rules! number_value {
    ($($t:ty),*) => {$(
        impl Value for $t {
            fn parse(raw: &str) -> Result<Self, String> {
                raw.trim().parse::<$t>().map_err(|_| {
                    format!("expected a whole number from {} to {}, got '{}'", <$t>::MIN, <$t>::MAX, raw.trim())
                })
            }
            fn show(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
number_value!(u16, u32, u64);

impl Value for f64 {
    fn parse(raw: &str) -> Result<Self, String> {
        raw.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("expected a number such as 0.5, got '{}'", raw.trim()))
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl Value for IpAddr {
    fn parse(raw: &str) -> Result<Self, String> {
        raw.trim()
            .parse()
            .map_err(|_| format!("expected an IP address such as 0.0.0.0 or ::1, got '{}'", raw.trim()))
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl Value for TrustedProxies {
    fn parse(raw: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            // A bare address is a block of one.
            let net = part
                .parse::<ipnet::IpNet>()
                .or_else(|_| part.parse::<IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("expected CIDR blocks such as 10.0.0.0/8, 127.0.0.1, got '{part}'"))?;
            nets.push(net);
        }
        Ok(TrustedProxies(nets))
    }
    fn show(&self) -> String {
        self.0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    }
}

impl Value for Environment {
    fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "" | "development" | "dev" => Ok(Environment::Development),
            "production" | "prod" => Ok(Environment::Production),
            "test" => Ok(Environment::Test),
            other => Err(format!("expected development, production or test, got '{other}'")),
        }
    }
    fn show(&self) -> String {
        match self {
            Environment::Development => "development",
            Environment::Production => "production",
            Environment::Test => "test",
        }
        .into()
    }
}

impl Value for LogFormat {
    fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "" | "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("expected text or json, got '{other}'")),
        }
    }
    fn show(&self) -> String {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
        .into()
    }
}

impl Value for SmtpTls {
    fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(SmtpTls::Auto),
            "starttls" => Ok(SmtpTls::Starttls),
            "tls" | "implicit" => Ok(SmtpTls::Implicit),
            "none" => Ok(SmtpTls::None),
            other => Err(format!("expected auto, starttls, tls or none, got '{other}'")),
        }
    }
    fn show(&self) -> String {
        match self {
            SmtpTls::Auto => "auto",
            SmtpTls::Starttls => "starttls",
            SmtpTls::Implicit => "tls",
            SmtpTls::None => "none",
        }
        .into()
    }
}

/// One configuration key: where it is read from and how it is documented.
pub struct Key {
    /// Dotted TOML key (`server.port`); a bare name lives at the top level.
    pub key: &'static str,
    /// Environment variables that set it, most specific last.
    pub env: &'static [&'static str],
    pub secret: bool,
    pub doc: &'static str,
    get: fn(&Config) -> String,
    set: fn(&mut Config, &str) -> Result<(), String>,
}

impl Key {
    pub fn value(&self, config: &Config) -> String {
        (self.get)(config)
    }
}

macro_rules! key {
    ($key:literal, [$($env:literal),*], $($field:ident).+, $doc:literal) => {
        key!(@ $key, [$($env),*], false, $($field).+, $doc)
    };
    (secret $key:literal, [$($env:literal),*], $($field:ident).+, $doc:literal) => {
        key!(@ $key, [$($env),*], true, $($field).+, $doc)
    };
    (@ $key:literal, [$($env:literal),*], $secret:expr, $($field:ident).+, $doc:literal) => {
        Key {
            key: $key,
            env: &[$($env),*],
            secret: $secret,
            doc: $doc,
            get: |c| Value::show(&c.$($field).+),
            set: |c, raw| {
                c.$($field).+ = Value::parse(raw)?;
                Ok(())
            },
        }
    };
}

/// Read outside [`KEYS`]: the configuration file's path (the file is a layer,
/// not a setting).
pub const CONFIG_FILE_ENV: &str = "FRONTDESK_CONFIG";
/// Read outside [`KEYS`]: the platform's host name, a fallback for
/// `server.hostname` only when it is a public name (`config_host.rs`).
pub const HOSTNAME_ENV: &str = "HOSTNAME";

/// Every environment variable the configuration reads, so tests can clear
/// them all from one list that cannot drift from the loader.
pub fn env_names() -> impl Iterator<Item = &'static str> {
    KEYS.iter().flat_map(|k| k.env.iter().copied()).chain([CONFIG_FILE_ENV, HOSTNAME_ENV])
}

/// Every setting frontdesk reads. `config.example.toml` documents each one.
#[rustfmt::skip]
pub static KEYS: &[Key] = &[
    key!("environment", ["NODE_ENV", "FRONTDESK_ENV"], environment, "development, production or test; production tightens the checks"),
    key!("data_dir", ["FRONTDESK_DATA_DIR"], data_dir, "Where the SQLite database, the JWT secret and backups live"),
    key!("server.bind", ["FRONTDESK_BIND"], server.bind, "Address to listen on"),
    key!("server.port", ["PORT"], server.port, "HTTP port (0 picks a free one)"),
    key!("server.hostname", ["FRONTDESK_HOSTNAME"], server.hostname, "Public host[:port] Twilio and browsers reach (wss:// stream URLs, links); empty: HOSTNAME if it is a public name, else the host of twilio.webhook_base_url, else the first TLS domain"),
    key!("server.shutdown_grace_secs", ["FRONTDESK_SHUTDOWN_GRACE_SECS"], server.shutdown_grace_secs, "Seconds in-flight requests and calls get to finish on SIGTERM"),
    key!("server.log_format", ["FRONTDESK_LOG_FORMAT"], server.log_format, "text or json"),
    key!("server.trusted_proxies", ["FRONTDESK_TRUSTED_PROXIES"], server.trusted_proxies, "Reverse proxies (CIDRs, comma-separated) whose X-Forwarded-For names the client; empty: the peer address is the client"),
    key!("server.body_read_timeout_secs", ["FRONTDESK_BODY_READ_TIMEOUT_SECS"], server.body_read_timeout_secs, "A request body not received whole within this many seconds is refused (408)"),
    key!("server.header_read_timeout_secs", ["FRONTDESK_HEADER_READ_TIMEOUT_SECS"], server.header_read_timeout_secs, "A connection that has not sent a whole request head (or finished its TLS handshake) by then is closed"),
    key!("server.max_connections_per_ip", ["FRONTDESK_MAX_CONNECTIONS_PER_IP"], server.max_connections_per_ip, "Open connections one client address (IPv6: one /64) may hold, media streams included; 0: no cap (behind a reverse proxy every client shares its address)"),
    key!("server.instance_name", ["FRONTDESK_INSTANCE_NAME"], server.instance_name, "Names this instance in /health and the logs; empty: host name and process id"),
    key!(secret "database.url", ["DATABASE_URL"], database.url,
        "Empty: SQLite in the data directory; or sqlite:///path/to/file.db"),
    key!(secret "database.direct_url", ["DIRECT_URL"], database.direct_url,
        "Direct (unpooled) database URL used for migrations"),
    key!(secret "redis.url", ["REDIS_URL"], redis.url, "Empty: sessions, rate limits and call state are kept in-process; redis:// or rediss:// shares them between instances"),
    key!(secret "redis.password", ["REDIS_PASSWORD"], redis.password, "Redis password; set, it replaces the URL's"),
    key!("redis.db", ["REDIS_DB"], redis.db, "Redis database number; non-zero, it replaces the URL's"),
    key!("redis.ttl_secs", ["REDIS_TTL"], redis.ttl_secs, "Idle conversation session lifetime, seconds"),
    key!("redis.key_prefix", ["FRONTDESK_REDIS_KEY_PREFIX"], redis.key_prefix, "Put before every Redis key, so several deployments can share one Redis"),
    key!(secret "auth.jwt_secret", ["JWT_SECRET"], auth.jwt_secret,
        "Signs login tokens; empty: generated once and kept in the data directory"),
    key!(secret "openai.api_key", ["OPENAI_API_KEY"], openai.api_key,
        "Empty: the local conversation engine, no network"),
    key!("openai.base_url", ["OPENAI_BASE_URL"], openai.base_url, "Any OpenAI-compatible API base URL"),
    key!("openai.realtime_model", ["OPENAI_REALTIME_MODEL"], openai.realtime_model, "Speech-to-speech model for phone calls"),
    key!("openai.chat_model", ["OPENAI_CHAT_MODEL"], openai.chat_model, "Chat-completions model"),
    key!("openai.chat_timeout_ms", ["OPENAI_CHAT_TIMEOUT_MS"], openai.chat_timeout_ms, "A chat turn the model has not finished by then is answered by the local engine"),
    key!("openai.embedding_model", ["OPENAI_EMBEDDING_MODEL"], openai.embedding_model, "Empty: knowledge search uses full-text ranking only"),
    key!("openai.embedding_poll_ms", ["OPENAI_EMBEDDING_POLL_MS"], openai.embedding_poll_ms, "How often new knowledge chunks are looked for to embed"),
    key!("twilio.account_sid", ["TWILIO_ACCOUNT_SID"], twilio.account_sid, "Twilio account SID (AC...)"),
    key!(secret "twilio.auth_token", ["TWILIO_AUTH_TOKEN"], twilio.auth_token,
        "Verifies X-Twilio-Signature and authenticates REST calls"),
    key!("twilio.webhook_base_url", ["TWILIO_WEBHOOK_BASE_URL"], twilio.webhook_base_url, "Public https:// URL Twilio posts to (signatures are checked against it)"),
    key!("twilio.phone_number", ["TWILIO_PHONE_NUMBER"], twilio.phone_number, "Default sender number for SMS and calls (E.164)"),
    key!("twilio.api_base_url", ["TWILIO_API_BASE_URL"], twilio.api_base_url, "Twilio REST API base URL"),
    key!("websocket.ping_interval_ms", ["WEBSOCKET_PING_INTERVAL"], websocket.ping_interval_ms, "Milliseconds between WebSocket pings"),
    key!("websocket.pong_timeout_ms", ["WEBSOCKET_PONG_TIMEOUT"], websocket.pong_timeout_ms, "Milliseconds to wait for a pong before dropping the socket"),
    key!("websocket.max_connections", ["MAX_WEBSOCKET_CONNECTIONS"], websocket.max_connections, "Concurrent media streams; calls beyond it hear a busy message"),
    key!("voice.transcription_model", ["OPENAI_TRANSCRIPTION_MODEL"], voice.transcription_model, "Speech-to-text model for the caller's words in realtime calls (kept in the transcript)"),
    key!("voice.speech_model", ["OPENAI_TTS_MODEL"], voice.speech_model, "Text-to-speech model for the voice samples on the voice page (made once per voice and greeting, kept in the data directory)"),
    key!("voice.vad_threshold", ["VOICE_VAD_THRESHOLD"], voice.vad_threshold, "Server VAD threshold, 0 to 1: higher ignores more line noise and speakerphone echo"),
    key!("voice.vad_prefix_padding_ms", ["VOICE_VAD_PREFIX_PADDING_MS"], voice.vad_prefix_padding_ms, "Audio kept from before the caller started speaking, ms"),
    key!("voice.vad_silence_ms", ["VOICE_VAD_SILENCE_MS"], voice.vad_silence_ms, "Silence that ends the caller's turn, ms"),
    key!("voice.audio_buffer_ms", ["VOICE_AUDIO_BUFFER_MS"], voice.audio_buffer_ms, "Caller audio kept while the realtime session opens, ms (older audio is dropped)"),
    key!("voice.realtime_session_max_secs", ["OPENAI_REALTIME_SESSION_MAX_SECS"], voice.realtime_session_max_secs, "A realtime session older than this is replaced by a fresh one, conversation carried over (OpenAI caps sessions at 30 minutes)"),
    key!("voice.tool_filler_ms", ["VOICE_TOOL_FILLER_MS"], voice.tool_filler_ms, "A tool still running after this many ms gets a short filler line, so the caller never hears dead air"),
    key!("voice.goodbye_timeout_ms", ["VOICE_GOODBYE_TIMEOUT_MS"], voice.goodbye_timeout_ms, "Longest wait, ms, for the goodbye (or transfer line) to finish playing before hanging up (or transferring)"),
    key!("voice.gather_reply_wait_ms", ["VOICE_GATHER_REPLY_WAIT_MS"], voice.gather_reply_wait_ms, "Gather mode: a reply slower than this is answered with a hold prompt and delivered by redirecting the call"),
    key!("voice.max_cpu_percent", ["VOICE_MAX_CPU_PERCENT"], voice.max_cpu_percent, "New realtime calls hear the busy message (and may leave one) while the process used at least this percent of its CPUs over the last second; 0 is off"),
    key!("max_memory_usage_mb", ["MAX_MEMORY_USAGE_MB"], max_memory_usage_mb, "Resident memory above which /health reports degraded"),
    key!("smtp.host", ["SMTP_HOST"], smtp.host, "Empty: emails go to the local outbox shown in the UI"),
    key!("smtp.port", ["SMTP_PORT"], smtp.port, "SMTP port"),
    key!("smtp.user", ["SMTP_USER"], smtp.user, "SMTP user name"),
    key!(secret "smtp.pass", ["SMTP_PASS"], smtp.pass, "SMTP password"),
    key!("smtp.from", ["SMTP_FROM"], smtp.from, "Sender address; empty: frontdesk@<hostname>"),
    key!("smtp.tls", ["SMTP_TLS"], smtp.tls, "auto (implicit TLS on 465, else STARTTLS), starttls, tls or none"),
    key!("notify.max_attempts", ["FRONTDESK_NOTIFY_MAX_ATTEMPTS"], notify.max_attempts, "Delivery attempts before a notification is dead (shown in the UI, retry by hand)"),
    key!("notify.backoff_base_ms", ["FRONTDESK_NOTIFY_BACKOFF_BASE_MS"], notify.backoff_base_ms, "Wait after the first failed attempt; doubles each time, with jitter"),
    key!("notify.backoff_max_ms", ["FRONTDESK_NOTIFY_BACKOFF_MAX_MS"], notify.backoff_max_ms, "Longest wait between attempts"),
    key!("notify.poll_ms", ["FRONTDESK_NOTIFY_POLL_MS"], notify.poll_ms, "How often the worker looks for due notifications (new leads wake it at once)"),
    key!("notify.delivery_timeout_ms", ["FRONTDESK_NOTIFY_TIMEOUT_MS"], notify.delivery_timeout_ms, "One delivery attempt slower than this fails and is retried"),
    key!("notify.lease_ms", ["FRONTDESK_NOTIFY_LEASE_MS"], notify.lease_ms, "How long a claimed notification stays one worker's; after a crash another instance delivers it once this runs out (longer than notify.delivery_timeout_ms)"),
    key!("notify.email_concurrency", ["FRONTDESK_NOTIFY_EMAIL_CONCURRENCY"], notify.email_concurrency, "Emails delivered at once (and SMTP connections kept)"),
    key!("notify.sms_concurrency", ["FRONTDESK_NOTIFY_SMS_CONCURRENCY"], notify.sms_concurrency, "SMS sent at once"),
    key!("notify.call_concurrency", ["FRONTDESK_NOTIFY_CALL_CONCURRENCY"], notify.call_concurrency, "Emergency calls placed at once"),
    key!("notify.webhook_concurrency", ["FRONTDESK_NOTIFY_WEBHOOK_CONCURRENCY"], notify.webhook_concurrency, "Webhooks posted at once"),
    key!("notify.digest_hour", ["FRONTDESK_NOTIFY_DIGEST_HOUR"], notify.digest_hour, "Local hour (0-23, each business's timezone) of the daily digest, unless the business sets its own"),
    key!("notify.new_lead_delay_secs", ["FRONTDESK_NOTIFY_NEW_LEAD_DELAY_SECS"], notify.new_lead_delay_secs, "New (non-urgent) lead notifications wait this long so they carry the whole conversation"),
    key!("notify.daily_email_cap", ["FRONTDESK_NOTIFY_DAILY_EMAIL_CAP"], notify.daily_email_cap, "Emails one business may send in any 24 hours, URGENT alerts apart (0: no limit)"),
    key!("notify.daily_sms_cap", ["FRONTDESK_NOTIFY_DAILY_SMS_CAP"], notify.daily_sms_cap, "Text messages one business may send in any 24 hours, URGENT alerts apart (0: no limit)"),
    key!("notify.daily_call_cap", ["FRONTDESK_NOTIFY_DAILY_CALL_CAP"], notify.daily_call_cap, "Phone calls one business may place in any 24 hours, URGENT alerts apart (0: no limit)"),
    key!("notify.daily_urgent_cap", ["FRONTDESK_NOTIFY_DAILY_URGENT_CAP"], notify.daily_urgent_cap, "URGENT alerts (and follow-ups) per channel one business may send in any 24 hours (0: no limit)"),
    key!("notify.daily_test_cap", ["FRONTDESK_NOTIFY_DAILY_TEST_CAP"], notify.daily_test_cap, "Test notifications per channel one business may send in any 24 hours (0: no limit)"),
    key!("notify.tests_per_minute", ["FRONTDESK_NOTIFY_TESTS_PER_MINUTE"], notify.tests_per_minute, "Test notifications one business may send per minute, all channels (0: no limit)"),
    key!("notify.urgent_followup_hold_secs", ["FRONTDESK_NOTIFY_URGENT_FOLLOWUP_HOLD_SECS"], notify.urgent_followup_hold_secs, "The follow-up URGENT alert (with the caller's number and address) waits at most this long for the rest of the details"),
    key!("notify.allow_private_webhooks", ["FRONTDESK_ALLOW_PRIVATE_WEBHOOKS"], notify.allow_private_webhooks, "Let lead webhooks reach loopback, private, link-local and other internal addresses (off: refused, so an owner cannot probe the operator's network)"),
    key!("knowledge.crawl_max_pages", ["FRONTDESK_CRAWL_MAX_PAGES"], knowledge.crawl_max_pages, "Most pages one website import fetches (also bounded by the plan's document limit)"),
    key!("knowledge.crawl_delay_ms", ["FRONTDESK_CRAWL_DELAY_MS"], knowledge.crawl_delay_ms, "Pause between two page fetches from one site, ms (a robots.txt Crawl-delay that asks for more wins)"),
    key!("knowledge.crawl_page_bytes", ["FRONTDESK_CRAWL_PAGE_BYTES"], knowledge.crawl_page_bytes, "Largest web page fetched, bytes; larger pages are skipped"),
    key!("knowledge.crawl_timeout_secs", ["FRONTDESK_CRAWL_TIMEOUT_SECS"], knowledge.crawl_timeout_secs, "Time limit of one page fetch, seconds"),
    key!("knowledge.allow_loopback_crawl", ["FRONTDESK_ALLOW_LOOPBACK_CRAWL"], knowledge.allow_loopback_crawl, "Let website imports reach loopback addresses (tests, a site on this machine); other private, link-local and internal addresses stay refused"),
    key!("chat.per_ip_per_minute", ["CHAT_RATE_LIMIT_PER_IP"], chat.per_ip_per_minute, "Chat messages one client address may send per minute (then 429; 0: no limit)"),
    key!("chat.per_session_per_minute", ["CHAT_RATE_LIMIT_PER_SESSION"], chat.per_session_per_minute, "Chat messages one conversation may send per minute (then 429; 0: no limit)"),
    key!("urls.app_primary_url", ["APP_PRIMARY_URL"], urls.app_primary_url, "Public URL of this instance, used in links; empty: derived from hostname and port"),
    key!("urls.admin_custom_domain_url", ["ADMIN_CUSTOM_DOMAIN_URL"], urls.admin_custom_domain_url, "Extra origin allowed to use the admin UI"),
    key!("urls.widget_demo_url", ["WIDGET_DEMO_URL"], urls.widget_demo_url, "Origin allowed to embed the chat widget for demos"),
    key!("urls.widget_test_url", ["WIDGET_TEST_URL"], urls.widget_test_url, "Origin allowed to embed the chat widget for tests"),
    key!("features.realtime_api", ["ENABLE_REALTIME_API"], features.realtime_api, "Answer calls with the realtime model when one is configured"),
    key!("features.websocket_features", ["ENABLE_WEBSOCKET_FEATURES"], features.websocket_features, "Accept media-stream WebSockets"),
    key!("features.plan_tiers", ["ENABLE_PLAN_TIERS"], features.plan_tiers, "Enforce FREE/BASIC/PRO limits (off: every business gets PRO features)"),
    key!("features.emergency_voice_calls", ["ENABLE_EMERGENCY_VOICE_CALLS"], features.emergency_voice_calls, "Call the owner on URGENT leads (PRO)"),
    key!("features.memory_monitoring", ["ENABLE_MEMORY_MONITORING"], features.memory_monitoring, "Report process memory in /health and warn above max_memory_usage_mb"),
    key!("features.verbose_logging", ["ENABLE_VERBOSE_LOGGING"], features.verbose_logging, "Debug-level logs when RUST_LOG is not set"),
    key!("tls.mode", ["FRONTDESK_TLS_MODE"], tls.mode, "off (plain HTTP on server.port), acme (certificates from an ACME CA such as Let's Encrypt) or files (tls.cert_file and tls.key_file)"),
    key!("tls.domains", ["FRONTDESK_TLS_DOMAINS"], tls.domains, "Domain names to serve, comma-separated (a TOML array in the file); the first is the public host name"),
    key!("tls.acme_email", ["FRONTDESK_TLS_ACME_EMAIL"], tls.acme_email, "Contact address of the ACME account (required for acme)"),
    key!("tls.acme_directory", ["FRONTDESK_TLS_ACME_DIRECTORY"], tls.acme_directory, "letsencrypt, letsencrypt-staging, or any RFC 8555 directory URL"),
    key!("tls.acme_ca_bundle", ["FRONTDESK_TLS_ACME_CA_BUNDLE"], tls.acme_ca_bundle, "PEM file of extra roots to trust for the ACME directory itself (a local Pebble); empty: public roots only"),
    key!("tls.acme_challenge", ["FRONTDESK_TLS_ACME_CHALLENGE"], tls.acme_challenge, "auto (HTTP-01 on the HTTP port, then TLS-ALPN-01 on the HTTPS port), http-01 or tls-alpn-01 (port 80 may stay closed)"),
    key!("tls.acme_retry_secs", ["FRONTDESK_TLS_ACME_RETRY_SECS"], tls.acme_retry_secs, "Wait after a failed ACME attempt; doubles each time, up to a day"),
    key!("tls.https_port", ["FRONTDESK_TLS_HTTPS_PORT"], tls.https_port, "HTTPS port when TLS is on: everything is served here"),
    key!("tls.http_port", ["FRONTDESK_TLS_HTTP_PORT"], tls.http_port, "HTTP port when TLS is on: ACME challenges, and a 308 redirect to https once a certificate is in place"),
    key!("tls.cert_file", ["FRONTDESK_TLS_CERT_FILE"], tls.cert_file, "files mode: certificate chain (PEM), reloaded on change or SIGHUP"),
    key!("tls.key_file", ["FRONTDESK_TLS_KEY_FILE"], tls.key_file, "files mode: private key (PEM)"),
    key!("tls.hsts_max_age_secs", ["FRONTDESK_TLS_HSTS_MAX_AGE_SECS"], tls.hsts_max_age_secs, "Strict-Transport-Security max-age on HTTPS responses; 0: no header"),
];

/// Where a key's effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File,
    Env(&'static str),
    Flag,
    /// Worked out from another setting (named).
    Derived(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File => f.write_str("file"),
            Source::Env(name) => write!(f, "env {name}"),
            Source::Flag => f.write_str("flag"),
            Source::Derived(from) => write!(f, "derived from {from}"),
        }
    }
}

/// A problem with one key, named the way the operator set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `server.port`, or `PORT (server.port)` when set from the environment.
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// A configuration with the origin of every value and every problem found.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub sources: BTreeMap<&'static str, Source>,
    pub problems: Vec<Problem>,
    /// Worth knowing, not fatal: `serve` logs them, `config check` prints them.
    pub warnings: Vec<Problem>,
    pub file: Option<PathBuf>,
}

/// Overrides given on the command line (the last layer).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub config_file: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub port: Option<u16>,
    pub bind: Option<IpAddr>,
}

impl Loaded {
    /// Layers defaults, the file, the environment and flags, then validates.
    pub fn load(flags: &Flags, env: &dyn Fn(&str) -> Option<String>) -> Loaded {
        let mut loaded = Loaded {
            config: Config::default(),
            sources: KEYS.iter().map(|k| (k.key, Source::Default)).collect(),
            problems: Vec::new(),
            warnings: Vec::new(),
            file: None,
        };
        let file = flags
            .config_file
            .clone()
            .or_else(|| env(CONFIG_FILE_ENV).filter(|s| !s.is_empty()).map(PathBuf::from));
        if let Some(path) = file {
            loaded.apply_file(&path);
            loaded.file = Some(path);
        }
        loaded.apply_env(env);
        loaded.apply_flags(flags);
        loaded.derive_hostname(env);
        loaded.validate();
        loaded
    }

    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem { key: key.into(), message: message.into() });
    }

    fn warning(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Problem { key: key.into(), message: message.into() });
    }

    fn apply_file(&mut self, path: &Path) {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                self.problem("config file", format!("cannot read {}: {e}", path.display()));
                return;
            }
        };
        let table: toml::Table = match text.parse() {
            Ok(table) => table,
            Err(e) => {
                self.problem("config file", format!("{}: {}", path.display(), e.to_string().trim()));
                return;
            }
        };
        let mut leaves = Vec::new();
        flatten("", &table, &mut leaves);
        for (name, value) in leaves {
            let Some(key) = KEYS.iter().find(|k| k.key == name) else {
                self.problem(name, "unknown key (see config.example.toml)");
                continue;
            };
            let raw = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Float(f) => f.to_string(),
                // A list of names (tls.domains): joined as the environment gives it.
                toml::Value::Array(items) if items.iter().all(toml::Value::is_str) => {
                    items.iter().filter_map(toml::Value::as_str).collect::<Vec<_>>().join(",")
                }
                other => {
                    self.problem(
                        name,
                        format!("expected a string, number or boolean, got {}", other.type_str()),
                    );
                    continue;
                }
            };
            self.set(key, &raw, Source::File, name.clone());
        }
    }

    fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) {
        for key in KEYS {
            for name in key.env {
                if let Some(raw) = env(name) {
                    self.set(key, &raw, Source::Env(name), format!("{name} ({})", key.key));
                }
            }
        }
    }

    fn apply_flags(&mut self, flags: &Flags) {
        if let Some(dir) = &flags.data_dir {
            self.config.data_dir = dir.clone();
            self.sources.insert("data_dir", Source::Flag);
        }
        if let Some(port) = flags.port {
            self.config.server.port = port;
            self.sources.insert("server.port", Source::Flag);
        }
        if let Some(bind) = flags.bind {
            self.config.server.bind = bind;
            self.sources.insert("server.bind", Source::Flag);
        }
    }

    fn set(&mut self, key: &'static Key, raw: &str, source: Source, shown_as: String) {
        match (key.set)(&mut self.config, raw) {
            Ok(()) => {
                self.sources.insert(key.key, source);
            }
            Err(message) => self.problem(shown_as, message),
        }
    }

    /// Name a key the way the operator set it, for messages.
    fn shown(&self, key: &'static str) -> String {
        match self.sources.get(key) {
            Some(Source::Env(name)) => format!("{name} ({key})"),
            Some(Source::Flag) => {
                format!("--{} ({key})", key.rsplit('.').next().unwrap_or(key).replace('_', "-"))
            }
            _ => key.to_string(),
        }
    }

    /// Every check, in the order `config check` reports them.
    fn validate(&mut self) {
        let c = self.config.clone();
        let production = c.environment == Environment::Production;
        self.validate_urls(&c, production);
        self.validate_server(&c, production);
        self.validate_calls(&c, production);
        self.validate_smtp(&c);
        self.validate_notify(&c.notify);
        self.validate_tls(&c);
        if c.server.header_read_timeout_secs == 0 {
            self.problem(self.shown("server.header_read_timeout_secs"), "must be at least 1 second");
        }
        for (key, v) in [
            ("knowledge.crawl_max_pages", u64::from(c.knowledge.crawl_max_pages)),
            ("knowledge.crawl_page_bytes", c.knowledge.crawl_page_bytes),
            ("knowledge.crawl_timeout_secs", c.knowledge.crawl_timeout_secs),
        ] {
            if v == 0 {
                self.problem(self.shown(key), "must be at least 1");
            }
        }
    }

    fn validate_urls(&mut self, c: &Config, production: bool) {
        for (key, raw, required_https) in [
            ("openai.base_url", &c.openai.base_url, false),
            ("twilio.api_base_url", &c.twilio.api_base_url, false),
            ("twilio.webhook_base_url", &c.twilio.webhook_base_url, production),
            ("urls.app_primary_url", &c.urls.app_primary_url, false),
            ("urls.admin_custom_domain_url", &c.urls.admin_custom_domain_url, false),
            ("urls.widget_demo_url", &c.urls.widget_demo_url, false),
            ("urls.widget_test_url", &c.urls.widget_test_url, false),
        ] {
            if raw.is_empty() {
                continue;
            }
            // Messages name the URL as it was given, less any password in it.
            let value = &redact_url(raw);
            match url::Url::parse(raw) {
                Ok(u) if u.scheme() != "http" && u.scheme() != "https" => self
                    .problem(self.shown(key), format!("expected an http:// or https:// URL, got '{value}'")),
                Ok(u) if u.host_str().is_none() => {
                    self.problem(self.shown(key), format!("URL has no host: '{value}'"))
                }
                Ok(u) if required_https && u.scheme() != "https" => self.problem(
                    self.shown(key),
                    "must be https:// in production (Twilio only reaches public TLS endpoints)",
                ),
                Ok(_) => {}
                Err(e) => self.problem(self.shown(key), format!("malformed URL '{value}': {e}")),
            }
        }
    }

    /// The listener, sign-in, the database and Redis.
    fn validate_server(&mut self, c: &Config, production: bool) {
        self.validate_hostname();
        if c.server.body_read_timeout_secs == 0 {
            self.problem(self.shown("server.body_read_timeout_secs"), "must be at least 1 second");
        }
        if production && c.server.port == 0 {
            self.problem(self.shown("server.port"), "port 0 (a random port) is not allowed in production");
        }

        let jwt_len = c.auth.jwt_secret.expose().len();
        if jwt_len > 0 && jwt_len < 32 && production {
            self.problem(
                self.shown("auth.jwt_secret"),
                format!("must be at least 32 bytes in production (it is {jwt_len})"),
            );
        }

        if let Err(message) = DatabaseUrl::parse(c.database.url.expose()) {
            self.problem(self.shown("database.url"), message);
        }
        if !c.redis.url.is_empty() {
            if let Err(e) = c.redis.connection_url() {
                self.problem(self.shown("redis.url"), format!("invalid Redis URL: {e}"));
            }
        }
        if c.redis.ttl_secs == 0 {
            self.problem(self.shown("redis.ttl_secs"), "must be at least 1 second");
        }
    }

    /// Twilio, the voice model and the call WebSockets.
    fn validate_calls(&mut self, c: &Config, production: bool) {
        if !c.twilio.account_sid.is_empty() && !c.twilio.account_sid.starts_with("AC") {
            self.problem(self.shown("twilio.account_sid"), "a Twilio account SID starts with AC");
        }
        if !c.twilio.phone_number.is_empty() && !is_e164(&c.twilio.phone_number) {
            self.problem(
                self.shown("twilio.phone_number"),
                format!("expected an E.164 number such as +15551234567, got '{}'", c.twilio.phone_number),
            );
        }
        if production && !c.twilio.account_sid.is_empty() && c.twilio.auth_token.is_empty() {
            self.problem(
                self.shown("twilio.auth_token"),
                "required in production when TWILIO_ACCOUNT_SID is set (webhooks cannot be verified without it)",
            );
        }
        if !(0.0..=1.0).contains(&c.voice.vad_threshold) {
            self.problem(self.shown("voice.vad_threshold"), "must be between 0 and 1");
        }
        if c.voice.realtime_session_max_secs == 0 {
            self.problem(self.shown("voice.realtime_session_max_secs"), "must be at least 1 second");
        }
        if c.websocket.ping_interval_ms == 0 {
            self.problem(self.shown("websocket.ping_interval_ms"), "must be greater than 0");
        }
        if c.websocket.pong_timeout_ms == 0 {
            self.problem(self.shown("websocket.pong_timeout_ms"), "must be greater than 0");
        }
    }

    fn validate_smtp(&mut self, c: &Config) {
        // The same parse the email sender does at start, so the two agree.
        if !c.smtp.from.is_empty() && c.smtp.from.parse::<lettre::message::Mailbox>().is_err() {
            self.problem(self.shown("smtp.from"), format!("not an email address: '{}'", c.smtp.from));
        }
        if c.smtp.from.is_empty() && c.default_sender().is_err() {
            self.warning(
                self.shown("smtp.from"),
                format!(
                    "empty, and frontdesk@{} is not an address: frontdesk@localhost is used",
                    without_port(&self.config.server.hostname)
                ),
            );
        }
        if !c.smtp.host.is_empty() && c.smtp.port == 0 {
            self.problem(self.shown("smtp.port"), "must not be 0");
        }
    }

    fn validate_notify(&mut self, n: &NotifyConfig) {
        let positive = [
            ("notify.max_attempts", u64::from(n.max_attempts)),
            ("notify.backoff_base_ms", n.backoff_base_ms),
            ("notify.poll_ms", n.poll_ms),
            ("notify.delivery_timeout_ms", n.delivery_timeout_ms),
            ("notify.email_concurrency", u64::from(n.email_concurrency)),
            ("notify.sms_concurrency", u64::from(n.sms_concurrency)),
            ("notify.call_concurrency", u64::from(n.call_concurrency)),
            ("notify.webhook_concurrency", u64::from(n.webhook_concurrency)),
        ];
        for (key, value) in positive {
            if value == 0 {
                self.problem(self.shown(key), "must be greater than 0");
            } else if key.ends_with("_concurrency") && value > 256 {
                self.problem(self.shown(key), "at most 256 at once");
            }
        }
        // A lease shorter than an attempt lets a second worker take a row
        // while the first is still sending it: a duplicate without a crash.
        if n.lease_ms <= n.delivery_timeout_ms {
            self.problem(self.shown("notify.lease_ms"), "must be longer than notify.delivery_timeout_ms");
        }
        if n.backoff_max_ms < n.backoff_base_ms {
            self.problem(self.shown("notify.backoff_max_ms"), "must not be less than notify.backoff_base_ms");
        }
        if n.digest_hour > 23 {
            self.problem(self.shown("notify.digest_hour"), "expected an hour from 0 to 23");
        }
    }

    /// The effective configuration as TOML-like lines, secrets redacted.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Some(file) = &self.file {
            out.push_str(&format!("# config file: {}\n", file.display()));
        }
        let mut section = "";
        for key in KEYS {
            let (sec, name) = key.key.split_once('.').unwrap_or(("", key.key));
            if sec != section {
                out.push_str(&format!("\n[{sec}]\n"));
                section = sec;
            }
            let source = self.sources.get(key.key).cloned().unwrap_or(Source::Default);
            let value = key.value(&self.config);
            let value =
                if key.secret && !value.is_empty() { "[redacted]".to_string() } else { redact_url(&value) };
            out.push_str(&format!("{name} = {value:?}  # {source}\n"));
        }
        out
    }
}

fn flatten<'a>(prefix: &str, table: &'a toml::Table, out: &mut Vec<(String, &'a toml::Value)>) {
    for (name, value) in table {
        let full = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
        match value {
            toml::Value::Table(inner) => flatten(&full, inner, out),
            other => out.push((full, other)),
        }
    }
}

/// A URL with any user name and password in it replaced by `[redacted]`
/// (`https://user:secret@host/` -> `https://[redacted]@host/`), for printing
/// and logging; anything that is not such a URL comes back unchanged.
pub fn redact_url(value: &str) -> String {
    let Some((scheme, rest)) = value.split_once("://") else { return value.to_string() };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://[redacted]{}", &rest[at..]),
        None => value.to_string(),
    }
}

/// Strict E.164: a plus, a non-zero digit, at most 15 digits in all.
pub fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else { return false };
    (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
}

/// Which database a URL asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// SQLite in the data directory.
    Default,
    Sqlite(PathBuf),
    /// A Postgres URL (`postgres://` or Prisma's `postgresql://...?schema=`), as given.
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<DatabaseUrl, String> {
        let url = url.trim();
        if url.is_empty() {
            return Ok(DatabaseUrl::Default);
        }
        if let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            if rest.is_empty() {
                return Err("sqlite URL has no file path (sqlite:///var/lib/frontdesk/frontdesk.db)".into());
            }
            return Ok(DatabaseUrl::Sqlite(PathBuf::from(rest)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            PgUrl::parse(url).map_err(|e| e.to_string())?;
            return Ok(DatabaseUrl::Postgres(url.to_string()));
        }
        Err("expected empty (SQLite in the data directory), sqlite:///path/to/file.db or postgres://..."
            .into())
    }
}

impl Config {
    /// The Postgres URL, when `DATABASE_URL` names one.
    pub fn postgres_url(&self) -> Option<String> {
        match DatabaseUrl::parse(self.database.url.expose()) {
            Ok(DatabaseUrl::Postgres(url)) => Some(url),
            _ => None,
        }
    }

    /// Path of the SQLite database file.
    pub fn sqlite_path(&self) -> PathBuf {
        match DatabaseUrl::parse(self.database.url.expose()) {
            Ok(DatabaseUrl::Sqlite(path)) => path,
            _ => self.data_dir.join("frontdesk.db"),
        }
    }

    /// The default email sender, `frontdesk@<public host without port>`.
    pub fn default_sender(&self) -> Result<lettre::message::Mailbox, String> {
        let host = without_port(&self.server.hostname);
        let host = if host.is_empty() { "localhost" } else { host };
        format!("frontdesk <frontdesk@{host}>").parse().map_err(|e| format!("frontdesk@{host}: {e}"))
    }

    /// The public base URL used in links (no trailing slash).
    pub fn public_url(&self) -> String {
        if !self.urls.app_primary_url.is_empty() {
            return self.urls.app_primary_url.trim_end_matches('/').to_string();
        }
        if !self.server.hostname.is_empty() {
            return format!("https://{}", self.server.hostname);
        }
        format!("http://localhost:{}", self.server.port)
    }

    /// The base of every URL Twilio requests (no trailing slash):
    /// `TWILIO_WEBHOOK_BASE_URL`, else the public URL. Twilio's signatures
    /// are computed over it, so every Twilio request is checked against it.
    pub fn twilio_base_url(&self) -> String {
        let base = self.twilio.webhook_base_url.trim_end_matches('/');
        if base.is_empty() {
            self.public_url()
        } else {
            base.to_string()
        }
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
