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
//! Prints a markdown table; the README quotes it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use frontdesk::agent::conversation::{self, Context, State};
use frontdesk::agent::local_model;
use frontdesk::agent::triage::Rules;
use frontdesk::config::Config;
use frontdesk::domain::{AgentConfig, BusinessBundle, BusinessType, KnowledgeDoc, NewBusiness};
use frontdesk::server::{self, AppState};
use frontdesk::store::sqlite::SqliteStore;
use frontdesk::store::{KnowledgeQuery, Store};

const SCRIPT: [&str; 7] = [
    "Hi, do you work on Saturdays?",
    "Dana Smith",
    "312-555-0142",
    "12 Elm Street, Springfield",
    "The kitchen sink is leaking under the cabinet",
    "dana@example.com",
    "Tuesday morning",
];

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn row(name: &str, mut samples: Vec<Duration>, wall: Duration) -> String {
    samples.sort();
    format!(
        "| {name} | {} | {:.0}/s | {:.3} ms | {:.3} ms | {:.3} ms |",
        samples.len(),
        samples.len() as f64 / wall.as_secs_f64(),
        percentile(&samples, 0.50).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().unwrap().as_secs_f64() * 1e3,
    )
}

fn demo_bundle() -> BusinessBundle {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo/acme-plumbing.toml"))
            .unwrap();
    frontdesk::provision::parse_bundle(&text).unwrap()
}

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
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (url, id) = (url.clone(), id.clone());
            tasks.push(tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut samples = Vec::new();
                for _ in 0..conversations {
                    let mut session: Option<String> = None;
                    for message in SCRIPT {
                        let mut body = serde_json::json!({ "businessId": id, "message": message });
                        if let Some(s) = &session {
                            body["sessionId"] = serde_json::json!(s);
                        }
                        let t = Instant::now();
                        let res: serde_json::Value =
                            http.post(&url).json(&body).send().await.unwrap().json().await.unwrap();
                        samples.push(t.elapsed());
                        session = res["sessionId"].as_str().map(str::to_string);
                    }
                }
                samples
            }));
        }
        let mut samples = Vec::new();
        for t in tasks {
            samples.extend(t.await.unwrap());
        }
        let wall = start.elapsed();
        let _ = stop.send(());
        row(
            &format!("HTTP turn, {clients} concurrent clients (POST /api/chat, SQLite writes)"),
            samples,
            wall,
        )
    })
}

/// A deterministic xorshift generator, so every run indexes the same text.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A word rank with a Zipf-like skew: a few words are very common, most are rare.
    fn zipf(&mut self, n: u64) -> u64 {
        let u = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        ((n as f64).powf(u) as u64).saturating_sub(1).min(n - 1)
    }
}

/// Word `i` of a synthetic vocabulary of pronounceable words.
fn word(i: u64) -> String {
    const SYL: [&str; 16] = [
        "ka", "lo", "mi", "ter", "su", "van", "del", "po", "ri", "nex", "bo", "la", "chi", "mu", "sen", "tra",
    ];
    let mut w = String::new();
    let mut x = i + 16;
    while x > 0 {
        w.push_str(SYL[(x % 16) as usize]);
        x /= 16;
    }
    w
}

fn bench_retrieval() -> Vec<String> {
    // 2,500 documents of 4 paragraphs of ~90 words from a 20,000-word
    // vocabulary with a Zipf-like spread (like real text: "the" everywhere,
    // "backflow" rarely); each paragraph becomes its own chunk: 10,000 chunks.
    const VOCAB: u64 = 20_000;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let knowledge: Vec<KnowledgeDoc> = (0..2_500)
        .map(|d| KnowledgeDoc {
            title: format!("Note {d}"),
            content: (0..4)
                .map(|_| {
                    let words: Vec<String> = (0..90).map(|_| word(rng.zipf(VOCAB))).collect();
                    format!("{}.", words.join(" "))
                })
                .collect::<Vec<_>>()
                .join("\n\n"),
            source_url: None,
        })
        .collect();
    let bundle = BusinessBundle {
        business: NewBusiness::named("Big Knowledge Co", BusinessType::Plumbing),
        agent: AgentConfig::default(),
        questions: Vec::new(),
        knowledge,
        emergency_rules: Default::default(),
        notifications: Default::default(),
        facts: Default::default(),
    };
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
    // Questions of 3 to 6 words drawn from the same vocabulary.
    let queries: Vec<String> = (0..200)
        .map(|_| {
            let n = 3 + rng.next() % 4;
            (0..n).map(|_| word(rng.zipf(VOCAB))).collect::<Vec<_>>().join(" ")
        })
        .collect();
    for hybrid in [false, true] {
        let mut samples = Vec::new();
        let start = Instant::now();
        for i in 0..1_000u64 {
            let text = queries[i as usize % queries.len()].clone();
            let t = Instant::now();
            let embedding = hybrid.then(|| (model.id().to_string(), model.embed(&text)));
            let q = KnowledgeQuery { text, embedding, limit: 3 };
            let found = rt.block_on(store.search_knowledge(&id, &q)).unwrap();
            samples.push(t.elapsed());
            std::hint::black_box(found);
        }
        let name = if hybrid {
            "retrieval, 10,000 chunks: BM25 + built-in model + sqlite-vec (256 dims), fused"
        } else {
            "retrieval, 10,000 chunks: BM25 (FTS5)"
        };
        out.push(row(name, samples, start.elapsed()));
    }
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

fn main() {
    println!("| measurement | samples | throughput | p50 | p99 | max |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for r in bench_model() {
        println!("{r}");
    }
    println!("{}", bench_engine());
    println!("{}", bench_http(1, 300));
    println!("{}", bench_http(16, 60));
    for r in bench_retrieval() {
        println!("{r}");
    }
}
