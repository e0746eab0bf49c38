//! Chat and retrieval speed, on this machine:
//!   cargo bench --bench chat
//! 1. engine turns (the local dialogue alone, no I/O);
//! 2. full turns over HTTP against a real server (loopback, SQLite writes,
//!    sessions), from concurrent clients;
//! 3. knowledge retrieval over 10,000 chunks: full text, and fused with
//!    sqlite-vec nearest neighbours.
//!
//! Prints a markdown table; the README quotes it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use frontdesk::agent::conversation::{self, Context, State};
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
    let id = rt.block_on(store.import_business(bundle)).unwrap().business_id;
    let chunks = rt.block_on(store.chunks_to_embed("bench-256", 100_000)).unwrap();
    assert_eq!(chunks.len(), 10_000, "the index holds 10,000 chunks");
    // Deterministic pseudo-random unit vectors stand in for a model's.
    let vector = |seed: u64| -> Vec<f32> {
        let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let v: Vec<f32> = (0..256)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 2000) as f32 / 1000.0 - 1.0
            })
            .collect();
        let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
        v.into_iter().map(|a| a / n).collect()
    };
    let rows: Vec<(i64, Vec<f32>)> = chunks.iter().map(|(cid, _)| (*cid, vector(*cid as u64))).collect();
    for batch in rows.chunks(1000) {
        rt.block_on(store.save_embeddings("bench-256", batch.to_vec())).unwrap();
    }
    // Questions of 3 to 6 words drawn from the same vocabulary.
    let queries: Vec<String> = (0..200)
        .map(|_| {
            let n = 3 + rng.next() % 4;
            (0..n).map(|_| word(rng.zipf(VOCAB))).collect::<Vec<_>>().join(" ")
        })
        .collect();
    let mut out = Vec::new();
    for hybrid in [false, true] {
        let mut samples = Vec::new();
        let start = Instant::now();
        for i in 0..1_000u64 {
            let text = queries[i as usize % queries.len()].clone();
            let embedding = hybrid.then(|| ("bench-256".to_string(), vector(1_000_000 + i)));
            let q = KnowledgeQuery { text, embedding, limit: 3 };
            let t = Instant::now();
            let found = rt.block_on(store.search_knowledge(&id, &q)).unwrap();
            samples.push(t.elapsed());
            std::hint::black_box(found);
        }
        let name = if hybrid {
            "retrieval, 10,000 chunks: BM25 + sqlite-vec (256 dims), fused"
        } else {
            "retrieval, 10,000 chunks: BM25 (FTS5)"
        };
        out.push(row(name, samples, start.elapsed()));
    }
    out
}

fn main() {
    println!("| measurement | samples | throughput | p50 | p99 | max |");
    println!("| --- | --- | --- | --- | --- | --- |");
    println!("{}", bench_engine());
    println!("{}", bench_http(1, 300));
    println!("{}", bench_http(16, 60));
    for r in bench_retrieval() {
        println!("{r}");
    }
}
