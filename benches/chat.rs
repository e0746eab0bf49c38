//! Chat and retrieval speed, on this machine:
//!   cargo bench --bench chat
//! 1. engine turns (the local dialogue alone, no I/O);
//! 2. full turns over HTTP against a real server (loopback, SQLite writes,
//!    sessions), from concurrent clients;
//! 3. the embedded sentence model: loading (memory) and one sentence;
//! 4. knowledge import of 10,000 chunks (each embedded by the built-in
//!    model), and retrieval over them: full text, and fused with sqlite-vec
//!    nearest neighbours, the query's embedding included.
//!
//! Prints a markdown table; the README quotes it. Name groups to run only
//! those: `cargo bench --bench chat -- retrieval`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::{demo_bundle, row, SCRIPT};
use frontdesk::agent::conversation::{self, Context, State};
use frontdesk::agent::local_model;
use frontdesk::agent::triage::Rules;
use frontdesk::config::Config;
use frontdesk::domain::BusinessType;
use frontdesk::server::{self, AppState};
use frontdesk::store::sqlite::SqliteStore;
use frontdesk::store::{KnowledgeQuery, Store};

fn bench_engine() -> String {
    let bundle = demo_bundle();
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = SqliteStore::open(&dir.path().join("b.db")).unwrap();
    let id = rt.block_on(store.import_business(bundle)).unwrap().business_id;
    let profile = rt.block_on(store.agent_profile(&id)).unwrap();
    let ctx = Context::new(
        profile.business,
        profile.agent,
        profile.questions,
        Rules::cached(BusinessType::Plumbing, &profile.emergency_rules),
        frontdesk::plans::Plans::default(),
    );
    let passages = rt
        .block_on(
            store
                .search_knowledge(&id, &KnowledgeQuery { text: SCRIPT[0].into(), embedding: None, limit: 3 }),
        )
        .unwrap();
    let mut samples = Vec::new();
    let start = Instant::now();
    for _ in 0..5_000 {
        let mut state = State::default();
        for (i, message) in SCRIPT.iter().enumerate() {
            let t = Instant::now();
            let turn = conversation::turn(&ctx, &mut state, message, if i == 0 { &passages } else { &[] });
            samples.push(t.elapsed());
            std::hint::black_box(turn);
        }
    }
    row("engine turn (local dialogue, no I/O)", samples, start.elapsed())
}

fn bench_http(clients: usize, conversations: usize) -> String {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
        config.chat.per_ip_per_minute = 0;
        config.chat.per_session_per_minute = 0;
        config.server.bind = [127, 0, 0, 1].into();
        config.server.port = 0;
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&config.sqlite_path()).unwrap());
        let id = store.import_business(demo_bundle()).await.unwrap().business_id;
        let listener = server::bind(&config).await.unwrap();
        let url = format!("http://{}/api/chat", listener.local_addr().unwrap());
        let state = AppState::new(config, store).unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server::serve(state, listener, async move {
            let _ = stopped.await;
        }));
        let (samples, wall) = common::chat_load(&[url], &id, clients, conversations).await;
        let _ = stop.send(());
        row(
            &format!("HTTP turn, {clients} concurrent clients (POST /api/chat, SQLite writes)"),
            samples,
            wall,
        )
    })
}

fn bench_retrieval(parts: bool) -> Vec<String> {
    let (bundle, queries) = common::knowledge_corpus(2_500);
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = SqliteStore::open(&dir.path().join("k.db")).unwrap();
    let start = Instant::now();
    let id = rt.block_on(store.import_business(bundle)).unwrap().business_id;
    let import = start.elapsed();
    let model = local_model::get().unwrap();
    let left = rt.block_on(store.chunks_to_embed(model.id(), 100_000)).unwrap();
    assert!(left.is_empty(), "every chunk is embedded at import");
    let mut out = vec![format!(
        "| import of 10,000 chunks, each embedded by the built-in model | 1 | - | {:.0} ms | - | - |",
        import.as_secs_f64() * 1e3
    )];
    for hybrid in [false, true] {
        let (samples, wall) = rt.block_on(common::retrieval(&store, &id, &queries, hybrid));
        let name = if hybrid {
            "retrieval, 10,000 chunks: BM25 + built-in model + sqlite-vec (256 dims), fused"
        } else {
            "retrieval, 10,000 chunks: BM25 (FTS5)"
        };
        out.push(row(name, samples, wall));
    }
    if parts {
        out.extend(retrieval_parts(&rt, &store, &id, &queries));
    }
    out
}

/// Where a fused query's time goes, each part timed alone over the same
/// questions: the query's words and glosses (full text's and the coverage
/// check's), its embedding, and the vector half with no words to search.
fn retrieval_parts(
    rt: &tokio::runtime::Runtime,
    store: &SqliteStore,
    id: &frontdesk::ids::BusinessId,
    queries: &[String],
) -> Vec<String> {
    let model = local_model::get().unwrap();
    let time = |f: &mut dyn FnMut(&str)| {
        let mut samples = Vec::new();
        let start = Instant::now();
        for i in 0..1_000 {
            let t = Instant::now();
            f(&queries[i % queries.len()]);
            samples.push(t.elapsed());
        }
        (samples, start.elapsed())
    };
    let mut out = Vec::new();
    let (s, w) = time(&mut |q| {
        std::hint::black_box((frontdesk::retrieval::query_words(q), frontdesk::retrieval::term_groups(q)));
    });
    out.push(row("retrieval part: query words, glosses and term groups", s, w));
    let (s, w) = time(&mut |q| {
        std::hint::black_box(model.embed(q));
    });
    out.push(row("retrieval part: embedding the query", s, w));
    let (s, w) = time(&mut |q| {
        let q = KnowledgeQuery {
            text: String::new(),
            embedding: Some((model.id().to_string(), model.embed(q))),
            limit: 3,
        };
        std::hint::black_box(rt.block_on(store.search_knowledge(id, &q)).unwrap());
    });
    out.push(row("retrieval part: vector half alone (embedding included)", s, w));
    out
}

/// Resident memory of this process, in MB (Linux).
fn rss_mb() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0.0);
    pages * 4096.0 / 1e6
}

/// Loading the embedded model (time, resident memory it adds) and embedding
/// one sentence of chat length.
fn bench_model() -> Vec<String> {
    let before = rss_mb();
    let start = Instant::now();
    let model = local_model::get().unwrap();
    let _ = model.embed("warm up every row of the table");
    let loaded = start.elapsed();
    // Touch every row, as a long-running server eventually does.
    let vocab = "the a pipe burst water heater leak gas smell furnace arrested tenant closing";
    for w in vocab.split(' ') {
        std::hint::black_box(model.embed(w));
    }
    let after = rss_mb();
    let sentences = [
        "Hi, I need a quote for a new water heater",
        "water is pouring from the ceiling, I think a pipe burst upstairs",
        "Do you work on Saturdays? and how much do you charge for a call-out?",
        "se reventó una tubería y hay agua por todas partes",
    ];
    let mut samples = Vec::new();
    let start = Instant::now();
    for i in 0..20_000 {
        let t = Instant::now();
        std::hint::black_box(model.embed(sentences[i % sentences.len()]));
        samples.push(t.elapsed());
    }
    vec![
        format!(
            "| built-in model: load (resident memory +{:.0} MB) | 1 | - | {:.1} ms | - | - |",
            after - before,
            loaded.as_secs_f64() * 1e3
        ),
        row("built-in model: embed one chat sentence", samples, start.elapsed()),
    ]
}

/// Runs every group, or only those named on the command line
/// (`cargo bench --bench chat -- retrieval`; groups: model, engine, http,
/// retrieval, retrieval-parts: retrieval and where its time goes).
fn main() {
    let named: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let run = |group: &str| named.is_empty() || named.iter().any(|n| n == group);
    println!("| measurement | samples | throughput | p50 | p99 | max |");
    println!("| --- | --- | --- | --- | --- | --- |");
    if run("model") {
        for r in bench_model() {
            println!("{r}");
        }
    }
    if run("engine") {
        println!("{}", bench_engine());
    }
    if run("http") {
        println!("{}", bench_http(1, 300));
        println!("{}", bench_http(16, 60));
    }
    if run("retrieval") || run("retrieval-parts") {
        for r in bench_retrieval(run("retrieval-parts")) {
            println!("{r}");
        }
    }
}
