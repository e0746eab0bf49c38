//! Measuring understanding: triage accuracy and per-level precision/recall,
//! and knowledge questions answered from the right passage, before (rules
//! alone; full-text retrieval) and after (rules + classifier; full text +
//! the built-in model's vectors). On the development sets here; on the
//! held-out sets in `heldout.rs`. `-- --nocapture` prints the tables.

use frontdesk::agent::local_model;
use frontdesk::agent::triage::Rules;
use frontdesk::domain::{BusinessType, Priority};
use frontdesk::ids::BusinessId;
use frontdesk::retrieval::{question_parts, Glossary};
use frontdesk::store::sqlite::SqliteStore;
use frontdesk::store::{KnowledgeQuery, Store};

/// (wanted, got, text) per triaged message.
pub type Triaged = Vec<(Priority, Priority, String)>;

/// Triage rows: business_type, level, [lang,] text (a header line first).
pub fn triage_rows(tsv: &str) -> Vec<(BusinessType, Priority, String)> {
    tsv.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let text = cols.last().unwrap().trim().to_string();
            let kind = BusinessType::parse(cols[0]).unwrap_or_else(|| panic!("business type: {line}"));
            let level = Priority::parse(cols[1]).unwrap_or_else(|| panic!("level: {line}"));
            (kind, level, text)
        })
        .collect()
}

/// Before (the rules alone) and after (rules + classifier).
pub fn triage(rows: &[(BusinessType, Priority, String)]) -> (Triaged, Triaged) {
    let mut before = Vec::new();
    let mut after = Vec::new();
    for (kind, want, text) in rows {
        before.push((*want, Rules::rules_only(*kind).classify_rules(text).level, text.clone()));
        after.push((*want, Rules::cached(*kind, &Default::default()).classify(text).level, text.clone()));
    }
    (before, after)
}

/// Accuracy and a markdown table of per-level precision and recall; the
/// third value is (URGENT precision, URGENT recall).
pub fn triage_report(rows: &Triaged) -> (f64, String, (f64, f64)) {
    let mut table = String::from("| level | precision | recall | support |\n| --- | --- | --- | --- |\n");
    let mut urgent = (0.0, 0.0);
    for lvl in [Priority::Urgent, Priority::High, Priority::Normal] {
        let tp = rows.iter().filter(|(w, g, _)| *w == lvl && *g == lvl).count() as f64;
        let predicted = rows.iter().filter(|(_, g, _)| *g == lvl).count() as f64;
        let support = rows.iter().filter(|(w, _, _)| *w == lvl).count();
        let precision = if predicted > 0.0 { tp / predicted } else { 1.0 };
        let recall = if support > 0 { tp / support as f64 } else { 1.0 };
        table.push_str(&format!("| {lvl} | {precision:.2} | {recall:.2} | {support} |\n"));
        if lvl == Priority::Urgent {
            urgent = (precision, recall);
        }
    }
    let accuracy = rows.iter().filter(|(w, g, _)| w == g).count() as f64 / rows.len().max(1) as f64;
    (accuracy, table, urgent)
}

fn demo_bundle() -> frontdesk::domain::BusinessBundle {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo/acme-plumbing.toml"))
            .unwrap();
    frontdesk::provision::parse_bundle(&text).unwrap()
}

/// The demo business's own glossary, as the engine reads it beside the
/// shared one (`channels::engine::context`).
pub fn demo_glossary() -> Glossary {
    Glossary::new(&demo_bundle().glossary)
}

/// The demo business in a fresh store: (runtime, store, business id).
pub fn demo_store() -> (tokio::runtime::Runtime, SqliteStore, String, tempfile::TempDir) {
    let bundle = demo_bundle();
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = SqliteStore::open(&dir.path().join("k.db")).unwrap();
    let id = rt.block_on(store.import_business(bundle)).unwrap().business_id;
    (rt, store, String::from(id), dir)
}

/// For each (message, expected titles of its parts): whether every part's
/// top passage is one of the expected titles, before (full text) and after
/// (hybrid). A message of several questions is searched part by part, and
/// counts right when the parts' top titles cover what is expected.
pub fn knowledge(cases: &[(String, Vec<String>)]) -> Vec<(bool, bool, String, Vec<String>)> {
    let (rt, store, id, _dir) = demo_store();
    let model = local_model::get().unwrap();
    let glossary = demo_glossary();
    let top = |text: &str, hybrid: bool| -> String {
        // As the engine embeds a query for the built-in model (`channels::engine::search`).
        let embedding = hybrid.then(|| (model.id().to_string(), model.embed(&glossary.glossed(text))));
        let q = KnowledgeQuery { text: text.to_string(), embedding, limit: 1 };
        rt.block_on(store.search_knowledge(&BusinessId::from(&id), &q))
            .unwrap()
            .first()
            .map(|p| p.title.clone())
            .unwrap_or_default()
    };
    cases
        .iter()
        .map(|(message, expected)| {
            let parts = question_parts(message);
            let right = |hybrid: bool| {
                let got: Vec<String> = parts.iter().map(|p| top(p, hybrid)).collect();
                // Each expected title is some part's top passage.
                (expected.iter().all(|e| got.contains(e)), got)
            };
            let (before, _) = right(false);
            let (after, got) = right(true);
            (before, after, message.clone(), got)
        })
        .collect()
}

/// For each question with no answering document (`NONE` rows): whether the
/// engine declines to answer it from the knowledge base (no part's hybrid
/// passages cover it, see `retrieval::extract_answer`), and the answer it
/// would give otherwise. A wrong passage read out as an answer is worse
/// than "someone will follow up".
pub fn abstentions(questions: &[String]) -> Vec<(bool, String, Option<String>)> {
    let (rt, store, id, _dir) = demo_store();
    let model = local_model::get().unwrap();
    let glossary = demo_glossary();
    questions
        .iter()
        .map(|message| {
            let answer = question_parts(message).iter().find_map(|part| {
                // As the engine searches (`channels::engine::search`, three passages).
                let embedding = Some((model.id().to_string(), model.embed(&glossary.glossed(part))));
                let q = KnowledgeQuery { text: part.clone(), embedding, limit: 3 };
                let passages = rt.block_on(store.search_knowledge(&BusinessId::from(&id), &q)).unwrap();
                glossary.extract_answer(part, &passages)
            });
            (answer.is_none(), message.clone(), answer)
        })
        .collect()
}

pub fn knowledge_report(results: &[(bool, bool, String, Vec<String>)]) -> String {
    let n = results.len().max(1) as f64;
    let before = results.iter().filter(|r| r.0).count();
    let after = results.iter().filter(|r| r.1).count();
    let misses: Vec<String> =
        results.iter().filter(|r| !r.1).map(|r| format!("  miss: {} -> {:?}", r.2, r.3)).collect();
    format!(
        "| retrieval | right passage |\n| --- | --- |\n| full text (before) | {before}/{} ({:.0}%) |\n| full text + built-in model (after) | {after}/{} ({:.0}%) |\n{}",
        results.len(),
        before as f64 * 100.0 / n,
        results.len(),
        after as f64 * 100.0 / n,
        misses.join("\n")
    )
}

#[test]
fn development_knowledge_questions() {
    let tsv = include_str!("../data/dev/knowledge.tsv");
    let cases: Vec<(String, Vec<String>)> = tsv
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (q, titles) = l.split_once('\t').unwrap();
            (q.to_string(), titles.split('|').map(str::to_string).collect())
        })
        .collect();
    let results = knowledge(&cases);
    println!("development knowledge, {} questions\n{}", cases.len(), knowledge_report(&results));
    let after = results.iter().filter(|r| r.1).count();
    let before = results.iter().filter(|r| r.0).count();
    // Measured when written: 19/22 before, 17/22 after. A guard against a
    // large regression, not a target.
    assert!(after + 2 >= before && after >= 15, "hybrid retrieval: {after}/22 (full text {before}/22)");
}

#[test]
fn development_triage_sets() {
    let mut rows = triage_rows(include_str!("../data/triage_labelled.tsv"));
    rows.extend(triage_rows(include_str!("../data/triage_holdout.tsv")));
    rows.extend(triage_rows(include_str!("../data/dev/triage.tsv")));
    let (before, after) = triage(&rows);
    let (ab, tb, _) = triage_report(&before);
    let (aa, ta, _) = triage_report(&after);
    // The classifier was trained on these rows: "after" here is training
    // fit, not an estimate (the cross-validated one is in triage_tests.rs).
    println!(
        "development triage (training fit), {} messages\nbefore {ab:.3}\n{tb}after {aa:.3}\n{ta}",
        rows.len()
    );
    assert!(aa >= ab);
}

/// How the demo business's knowledge ranks for the questions in
/// FRONTDESK_EXPLAIN (one a line): per question part, full text alone, the
/// built-in model alone and the two fused, five passages each. A tool for
/// reading development misses.
///
///   FRONTDESK_EXPLAIN="do you work saturdays" cargo test --test integration explain_knowledge -- --ignored --nocapture
#[test]
#[ignore]
fn explain_knowledge() {
    let Ok(questions) = std::env::var("FRONTDESK_EXPLAIN") else { return };
    let (rt, store, id, _dir) = demo_store();
    let model = local_model::get().unwrap();
    let glossary = demo_glossary();
    let show = |text: &str, embed: Option<&str>| {
        let embedding = embed.map(|e| (model.id().to_string(), model.embed(&glossary.glossed(e))));
        let q = KnowledgeQuery { text: text.to_string(), embedding, limit: 5 };
        let found = rt.block_on(store.search_knowledge(&BusinessId::from(&id), &q)).unwrap();
        found
            .iter()
            .map(|p| format!("{}:{}", p.chunk_id, p.title.chars().take(14).collect::<String>()))
            .collect::<Vec<_>>()
            .join("  ")
    };
    for question in questions.lines().filter(|l| !l.trim().is_empty()) {
        println!("{question}");
        for part in question_parts(question) {
            println!("  part: {part}\n    words: {:?}", glossary.query_words(&part));
            println!("    full text: {}", show(&part, None));
            println!("    model:     {}", show("", Some(&part)));
            println!("    fused:     {}", show(&part, Some(&part)));
        }
    }
}
