//! What the chat and scale benchmarks share: the demo conversation, the
//! 10,000-chunk knowledge corpus, the HTTP chat load and the retrieval loop,
//! the table row they print, and starting a server process.

// Each bench uses part of this module; what one leaves out is not dead.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use frontdesk::agent::local_model;
use frontdesk::domain::{BusinessBundle, BusinessType, KnowledgeDoc};
use frontdesk::ids::BusinessId;
use frontdesk::store::{KnowledgeQuery, Store};

/// The demo business's seven-message conversation.
pub const SCRIPT: [&str; 7] = [
    "Hi, do you work on Saturdays?",
    "Dana Smith",
    "312-555-0142",
    "12 Elm Street, Springfield",
    "The kitchen sink is leaking under the cabinet",
    "dana@example.com",
    "Tuesday morning",
];

pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// `| name | samples | throughput | p50 | p99 | max |`
pub fn row(name: &str, mut samples: Vec<Duration>, wall: Duration) -> String {
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

pub fn demo_bundle() -> BusinessBundle {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo/acme-plumbing.toml"))
            .unwrap();
    frontdesk::provision::parse_bundle(&text).unwrap()
}

/// `clients` concurrent visitors, each holding `conversations` conversations
/// of SCRIPT in a row over `POST /api/chat`. Message `j` of client `c` goes
/// to `chat_urls[(c + j) % len]`: with several instances, every message
/// lands on another instance than the one before (the worst case for
/// shared sessions). Gives each turn's time and the wall time.
pub async fn chat_load(
    chat_urls: &[String],
    business_id: &str,
    clients: usize,
    conversations: usize,
) -> (Vec<Duration>, Duration) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (urls, id) = (chat_urls.to_vec(), business_id.to_string());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut samples = Vec::new();
            for _ in 0..conversations {
                let mut session: Option<String> = None;
                for (j, message) in SCRIPT.iter().enumerate() {
                    let mut body = serde_json::json!({ "businessId": id, "message": message });
                    if let Some(s) = &session {
                        body["sessionId"] = serde_json::json!(s);
                    }
                    let url = &urls[(c + j) % urls.len()];
                    let t = Instant::now();
                    let res = http.post(url).json(&body).send().await.unwrap();
                    let status = res.status();
                    let res: serde_json::Value = res.json().await.unwrap();
                    samples.push(t.elapsed());
                    assert!(status.is_success(), "{status}: {res}");
                    let id = res["sessionId"].as_str().map(str::to_string);
                    assert!(session.is_none() || session == id, "one conversation across instances: {res}");
                    session = id;
                }
            }
            samples
        }));
    }
    let mut samples = Vec::new();
    for t in tasks {
        samples.extend(t.await.unwrap());
    }
    (samples, start.elapsed())
}

/// A deterministic xorshift generator, so every run indexes the same text.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A word rank with a Zipf-like skew: a few words are very common, most are rare.
    pub fn zipf(&mut self, n: u64) -> u64 {
        let u = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        ((n as f64).powf(u) as u64).saturating_sub(1).min(n - 1)
    }
}

/// Word `i` of a synthetic vocabulary of pronounceable words.
pub fn word(i: u64) -> String {
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

/// A business with 4 × `documents` knowledge chunks (10,000 for 2,500), and
/// 200 questions about them.
///
/// Documents of 4 paragraphs of ~90 words from a 20,000-word
/// vocabulary with a Zipf-like spread (like real text: "the" everywhere,
/// "backflow" rarely); each paragraph becomes its own chunk. Questions are
/// 3 to 6 words drawn from the same vocabulary.
pub fn knowledge_corpus(documents: usize) -> (BusinessBundle, Vec<String>) {
    const VOCAB: u64 = 20_000;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let knowledge: Vec<KnowledgeDoc> = (0..documents)
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
    let bundle = BusinessBundle::with_knowledge("Big Knowledge Co", BusinessType::Plumbing, knowledge);
    let queries = (0..200)
        .map(|_| {
            let n = 3 + rng.next() % 4;
            (0..n).map(|_| word(rng.zipf(VOCAB))).collect::<Vec<_>>().join(" ")
        })
        .collect();
    (bundle, queries)
}

/// 1,000 searches of `business_id`'s knowledge, one after the other: full
/// text only, or (`hybrid`) fused with the nearest chunks by the built-in
/// model's embedding of the question (embedding time included).
pub async fn retrieval(
    store: &dyn Store,
    business_id: &BusinessId,
    queries: &[String],
    hybrid: bool,
) -> (Vec<Duration>, Duration) {
    let model = local_model::get().unwrap();
    let mut samples = Vec::new();
    let start = Instant::now();
    for i in 0..1_000 {
        let text = queries[i % queries.len()].clone();
        let t = Instant::now();
        let embedding = hybrid.then(|| (model.id().to_string(), model.embed(&text)));
        let q = KnowledgeQuery { text, embedding, limit: 3 };
        let found = store.search_knowledge(business_id, &q).await.unwrap();
        samples.push(t.elapsed());
        std::hint::black_box(found);
    }
    (samples, start.elapsed())
}

/// Starts `command` with its stdout piped and waits for the line
/// `{prefix}ADDR` it prints once listening; the rest of its output is
/// drained so the process never blocks on a full pipe.
pub fn spawn_listening(command: &mut Command, prefix: &str) -> (Child, String) {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let addr = loop {
        let mut line = String::new();
        assert!(reader.read_line(&mut line).unwrap() > 0, "the server exited before listening");
        if let Some(addr) = line.trim().strip_prefix(prefix) {
            break addr.to_string();
        }
    };
    std::thread::spawn(move || for _ in reader.lines() {});
    (child, addr)
}
