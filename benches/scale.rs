//! Scaling out, on this machine:
//!   FRONTDESK_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!   FRONTDESK_TEST_REDIS_URL=redis://127.0.0.1:6379 cargo bench --bench scale
//! 1. chat turns over HTTP (the demo conversation, as in benches/chat.rs)
//!    from 1 and 16 concurrent clients: on SQLite; on Postgres with one
//!    instance; on Postgres with two instances sharing one schema and one
//!    Redis key prefix, each message going to the other instance than the
//!    one before;
//! 2. knowledge retrieval over 10,000 chunks: SQLite (FTS5, and FTS5 fused
//!    with sqlite-vec) and Postgres (full text, and full text fused with the
//!    embeddings); whether pgvector could be enabled is printed.
//!
//! Postgres and Redis parts are skipped, with a notice, when their variables
//! are unset; each run uses a schema and key prefix of its own, dropped after.
//! The instances run in this process, each with its own pool and sessions
//! client, as `serve` builds them. Prints a markdown table; the README
//! quotes it. `-- --quick` is a smoke test of the code, not a measurement.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::{demo_bundle, row};
use frontdesk::config::{Config, RedisConfig, Secret};
use frontdesk::server::{self, AppState};
use frontdesk::store::postgres::PgStore;
use frontdesk::store::sqlite::SqliteStore;
use frontdesk::store::Store;

/// A Postgres schema of this run's own; dropped when this goes out of scope.
struct PgSchema {
    base: String,
    name: String,
}

impl PgSchema {
    fn new(base: &str, what: &str) -> PgSchema {
        let name = format!("fd_bench_{what}_{}", &frontdesk::domain::new_id()[..12]);
        PgSchema { base: base.to_string(), name }
    }

    /// The URL frontdesk is given (Prisma's `?schema=` form).
    fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}schema={}", self.base, self.name)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        // Its own thread and runtime: this may run inside (or unwinding out of) another runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await.unwrap();
                tokio::spawn(conn);
                client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE")).await.unwrap();
            })
        })
        .join();
    }
}

/// A Redis key prefix of this run's own; its keys are deleted when this goes out of scope.
struct RedisPrefix {
    config: RedisConfig,
}

impl RedisPrefix {
    fn new(url: &str) -> RedisPrefix {
        RedisPrefix {
            config: RedisConfig {
                url: Secret::new(url.to_string()),
                password: Secret::default(),
                db: 0,
                ttl_secs: 3600,
                key_prefix: format!("frontdesk-bench:{}:", uuid::Uuid::new_v4()),
            },
        }
    }
}

impl Drop for RedisPrefix {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(self.config.url.expose()) else { return };
        let Ok(mut conn) = client.get_connection() else { return };
        let pattern = format!("{}*", self.config.key_prefix);
        let keys: Vec<String> = match redis::cmd("KEYS").arg(&pattern).query(&mut conn) {
            Ok(keys) => keys,
            Err(_) => return,
        };
        for chunk in keys.chunks(500) {
            let _: redis::RedisResult<()> = redis::cmd("DEL").arg(chunk).query(&mut conn);
        }
    }
}

/// In-process frontdesk servers; stopped when this goes out of scope.
struct Instances {
    chat_urls: Vec<String>,
    _stops: Vec<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Instances {
    /// One server per store, all with the same JWT secret and sessions backend.
    async fn start(
        stores: Vec<Arc<dyn Store>>,
        database_url: &str,
        redis: Option<&RedisConfig>,
    ) -> Instances {
        let dir = tempfile::tempdir().unwrap();
        let (mut chat_urls, mut stops) = (Vec::new(), Vec::new());
        for (i, store) in stores.into_iter().enumerate() {
            let mut config = Config { data_dir: dir.path().join(format!("node{i}")), ..Config::default() };
            std::fs::create_dir_all(&config.data_dir).unwrap();
            config.chat.per_ip_per_minute = 0;
            config.chat.per_session_per_minute = 0;
            config.server.instance_name = format!("bench-{i}");
            config.auth.jwt_secret = Secret::new("scale-bench-secret-0123456789abcdef0123456789");
            config.database.url = Secret::new(database_url.to_string());
            if let Some(redis) = redis {
                config.redis = redis.clone();
            }
            let state = AppState::new(config, store).unwrap();
            let listener = server::bind_to("127.0.0.1:0".parse().unwrap()).unwrap();
            chat_urls.push(format!("http://{}/api/chat", listener.local_addr().unwrap()));
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            tokio::spawn(server::serve(state, listener, async move {
                let _ = stopped.await;
            }));
            stops.push(stop);
        }
        Instances { chat_urls, _stops: stops, _dir: dir }
    }
}

/// How much work each measurement does.
#[derive(Clone, Copy)]
struct Size {
    /// (concurrent clients, conversations each) for each chat row.
    chat: [(usize, usize); 2],
    /// Knowledge documents (four chunks each).
    documents: usize,
    chat_rows: bool,
    retrieval_rows: bool,
}

impl Size {
    /// The full run, or with `--quick` a smoke test that the code works;
    /// `--only chat` or `--only retrieval` for one half.
    fn from_args() -> Size {
        let args: Vec<String> = std::env::args().collect();
        let only = args.windows(2).find(|w| w[0] == "--only").map(|w| w[1].as_str());
        let (chat_rows, retrieval_rows) = (only != Some("retrieval"), only != Some("chat"));
        if args.iter().any(|a| a == "--quick") {
            Size { chat: [(1, 10), (16, 2)], documents: 100, chat_rows, retrieval_rows }
        } else {
            Size { chat: [(1, 300), (16, 60)], documents: 2_500, chat_rows, retrieval_rows }
        }
    }
}

/// Rows for 1 and 16 concurrent clients against `instances`.
async fn chat_rows(size: Size, label: &str, instances: &Instances, business_id: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (clients, conversations) in size.chat {
        let (samples, wall) =
            common::chat_load(&instances.chat_urls, business_id, clients, conversations).await;
        let who = if clients == 1 { "1 client".to_string() } else { format!("{clients} concurrent clients") };
        out.push(row(&format!("{label}: HTTP chat turn, {who}"), samples, wall));
    }
    out
}

async fn chat_sqlite(size: Size) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("frontdesk.db")).unwrap());
    let id = store.import_business(demo_bundle()).await.unwrap().business_id;
    let instances = Instances::start(vec![store], "", None).await;
    chat_rows(size, "SQLite, 1 instance", &instances, &id).await
}

/// One and two instances on one Postgres schema. One instance: sessions in
/// memory, then in Redis (as deployed), then in Redis with
/// `synchronous_commit=off` (commits not waiting for the WAL to reach the
/// disk: what that wait costs). Two instances share sessions through Redis.
async fn chat_postgres(
    size: Size,
    base: &str,
    redis_url: Option<&str>,
    notices: &mut Vec<String>,
) -> Vec<String> {
    let schema = PgSchema::new(base, "chat");
    let url = schema.url();
    let relaxed = format!("{url}&options=-c%20synchronous_commit%3Doff");
    let redis = redis_url.map(RedisPrefix::new);
    let first: Arc<dyn Store> = Arc::new(PgStore::open(&url).await.unwrap());
    let id = first.import_business(demo_bundle()).await.unwrap().business_id;
    let mut out = Vec::new();
    let mut one_instance = vec![(url.as_str(), None, "sessions in memory")];
    match &redis {
        Some(r) => one_instance.extend([
            (url.as_str(), Some(&r.config), "sessions in Redis"),
            (relaxed.as_str(), Some(&r.config), "sessions in Redis, synchronous_commit=off"),
        ]),
        None => notices
            .push("Postgres with sessions in Redis skipped: FRONTDESK_TEST_REDIS_URL is not set".into()),
    }
    for (url, redis, sessions) in one_instance {
        // One pool where the URL is the same: the database is shared with
        // other work, and its connections (max_connections) are few.
        let store: Arc<dyn Store> =
            if url == schema.url() { first.clone() } else { Arc::new(PgStore::open(url).await.unwrap()) };
        let one = Instances::start(vec![store], url, redis).await;
        out.extend(chat_rows(size, &format!("Postgres, 1 instance, {sessions}"), &one, &id).await);
    }
    if let Some(r) = &redis {
        // Each with its own pool (16 connections), as two processes would have.
        let second: Arc<dyn Store> = Arc::new(PgStore::open(&url).await.unwrap());
        let two = Instances::start(vec![first, second], &url, Some(&r.config)).await;
        let label = "Postgres, 2 instances, sessions in Redis, each message to the other";
        out.extend(chat_rows(size, label, &two, &id).await);
    }
    out
}

/// Imports the 10,000-chunk business into `store` and searches it both ways.
async fn retrieval_rows(size: Size, store: &dyn Store, label: &str, hybrid_label: &str) -> Vec<String> {
    let (bundle, queries) = common::knowledge_corpus(size.documents);
    let chunks = size.documents * 4;
    let start = Instant::now();
    let id = store.import_business(bundle).await.unwrap().business_id;
    let import = start.elapsed();
    let mut out = vec![format!(
        "| {label}: import of {chunks} chunks, each embedded by the built-in model | 1 | - | {:.0} ms | - | - |",
        import.as_secs_f64() * 1e3
    )];
    let (samples, wall) = common::retrieval(store, &id, &queries, false).await;
    out.push(row(&format!("{label}: retrieval, {chunks} chunks, full text"), samples, wall));
    let (samples, wall) = common::retrieval(store, &id, &queries, true).await;
    out.push(row(&format!("{label}: retrieval, {chunks} chunks, {hybrid_label}"), samples, wall));
    out
}

async fn retrieval_sqlite(size: Size) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("k.db")).unwrap();
    retrieval_rows(size, &store, "SQLite", "FTS5 + sqlite-vec (256 dims), fused").await
}

/// Whether `CREATE EXTENSION vector` works here: None if so, else why not.
/// Tried in a transaction that is rolled back, so the database is unchanged.
async fn pgvector_missing(base: &str) -> Option<String> {
    let (mut client, conn) = tokio_postgres::connect(base, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    let tx = client.transaction().await.unwrap();
    let result = tx.batch_execute("CREATE EXTENSION IF NOT EXISTS vector").await;
    let _ = tx.rollback().await;
    result.err().map(|e| e.as_db_error().map_or_else(|| e.to_string(), |db| db.message().to_string()))
}

async fn retrieval_postgres(size: Size, base: &str, notices: &mut Vec<String>) -> Vec<String> {
    notices.push(match pgvector_missing(base).await {
        Some(why) => format!(
            "pgvector skipped: `CREATE EXTENSION vector` failed ({why}); the Postgres rows are full text, and full text fused with the built-in model's embeddings (real[]) ranked by cosine in the frontdesk process"
        ),
        None => "pgvector is available, but the Postgres backend does not use it: its vector half ranks the embeddings (real[]) by cosine in the frontdesk process".into(),
    });
    let schema = PgSchema::new(base, "knowledge");
    let store = PgStore::open(&schema.url()).await.unwrap();
    retrieval_rows(size, &store, "Postgres", "full text + embeddings (256 dims) ranked in process, fused")
        .await
}

fn main() {
    let size = Size::from_args();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let database = std::env::var("FRONTDESK_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty());
    let redis = std::env::var("FRONTDESK_TEST_REDIS_URL").ok().filter(|u| !u.is_empty());
    let mut notices = Vec::new();
    println!("| measurement | samples | throughput | p50 | p99 | max |");
    println!("| --- | --- | --- | --- | --- | --- |");
    let print = |rows: Vec<String>| rows.iter().for_each(|r| println!("{r}"));
    if size.chat_rows {
        print(rt.block_on(chat_sqlite(size)));
        match &database {
            Some(base) => print(rt.block_on(chat_postgres(size, base, redis.as_deref(), &mut notices))),
            None => notices.push("Postgres skipped: FRONTDESK_TEST_DATABASE_URL is not set".into()),
        }
    }
    if size.retrieval_rows {
        print(rt.block_on(retrieval_sqlite(size)));
        match &database {
            Some(base) => print(rt.block_on(retrieval_postgres(size, base, &mut notices))),
            None => notices.push("Postgres retrieval skipped: FRONTDESK_TEST_DATABASE_URL is not set".into()),
        }
    }
    println!();
    for notice in notices {
        println!("- {notice}");
    }
}
