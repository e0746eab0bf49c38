//! The held-out sets. Set A (`tests/data/heldout/`, written on 2026-11-29
//! by someone who had not seen the code) was measured once after phase 1;
//! its misses were then read while tuning, and on 2026-11-30 its triage rows
//! joined the classifier's training data, so it is development data now.
//! Sets C and D (`heldout_c/`, `heldout_d/`) were measured once each and
//! joined the training data in round four (issue 12); set E (`heldout_e/`)
//! likewise in round five. Sets F and G (`heldout_f/`, `heldout_g/`) were
//! measured as unseen data in rounds five and six and became development
//! data in round seven (their misses read, their triage rows trained on).
//! Set H (`heldout_h/`, written before round seven's tuning) was measured
//! as unseen data in round seven and became development data in round
//! eight: its misses read (`knowledge_fgh_report`, `conversations_fgh_failures`,
//! `cargo test --lib development_misses`) and its triage rows trained on, so
//! its triage figures are in-sample from then on. Set I (`heldout_i/`,
//! written before round eight's tuning, measured as unseen data in round
//! eight: see `heldout_sets.rs`) became development data in round nine, its
//! misses read by the same reports; set J (`heldout_j/`, written before
//! round nine's tuning, measured as unseen data in round nine: see
//! `heldout_sets.rs`) likewise in round ten. Set K (`heldout_k/`, written
//! before round ten's tuning) is held out: see `heldout_sets.rs`.
//!
//!   cargo test --test integration heldout_report -- --ignored --nocapture
//!
//! prints the before/after tables the README quotes. The floor tests run in
//! CI so a regression shows: on F, G and H as development figures (their
//! triage in-sample), on I, J and K in `heldout_sets.rs` (K held out, I and J development
//! data since).

use super::conversations::{play, summary, Script};
use super::measure::{abstentions, knowledge, knowledge_report, triage, triage_report, triage_rows};

const TRIAGE: &str = include_str!("../data/heldout/triage.tsv");
const KNOWLEDGE: &str = include_str!("../data/heldout/knowledge.tsv");
const TRIAGE_C: &str = include_str!("../data/heldout_c/triage.tsv");
const KNOWLEDGE_C: &str = include_str!("../data/heldout_c/knowledge.tsv");
const TRIAGE_D: &str = include_str!("../data/heldout_d/triage.tsv");
const KNOWLEDGE_D: &str = include_str!("../data/heldout_d/knowledge.tsv");
const TRIAGE_E: &str = include_str!("../data/heldout_e/triage.tsv");
const KNOWLEDGE_E: &str = include_str!("../data/heldout_e/knowledge.tsv");
const TRIAGE_F: &str = include_str!("../data/heldout_f/triage.tsv");
const KNOWLEDGE_F: &str = include_str!("../data/heldout_f/knowledge.tsv");
const CONVERSATIONS_F: &str = include_str!("../data/heldout_f/conversations.json");
const TRIAGE_G: &str = include_str!("../data/heldout_g/triage.tsv");
const KNOWLEDGE_G: &str = include_str!("../data/heldout_g/knowledge.tsv");
const CONVERSATIONS_G: &str = include_str!("../data/heldout_g/conversations.json");
const TRIAGE_H: &str = include_str!("../data/heldout_h/triage.tsv");
const KNOWLEDGE_H: &str = include_str!("../data/heldout_h/knowledge.tsv");
const CONVERSATIONS_H: &str = include_str!("../data/heldout_h/conversations.json");
const KNOWLEDGE_I: &str = include_str!("../data/heldout_i/knowledge.tsv");
const CONVERSATIONS_I: &str = include_str!("../data/heldout_i/conversations.json");
const KNOWLEDGE_J: &str = include_str!("../data/heldout_j/knowledge.tsv");
const CONVERSATIONS_J: &str = include_str!("../data/heldout_j/conversations.json");
/// Every development set's knowledge questions (K, held out, is not here).
const DEVELOPMENT_KNOWLEDGE: [&str; 9] = [
    KNOWLEDGE,
    KNOWLEDGE_C,
    KNOWLEDGE_D,
    KNOWLEDGE_E,
    KNOWLEDGE_F,
    KNOWLEDGE_G,
    KNOWLEDGE_H,
    KNOWLEDGE_I,
    KNOWLEDGE_J,
];

/// (lang, question, expected titles); `NONE` rows have no answering document.
fn knowledge_rows() -> Vec<(String, String, Vec<String>)> {
    knowledge_rows_of(KNOWLEDGE)
}

fn knowledge_rows_of(tsv: &str) -> Vec<(String, String, Vec<String>)> {
    tsv.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            let titles = cols[1].split(" | ").map(|t| t.trim().to_string()).collect();
            (cols[0].to_string(), cols[2].trim().to_string(), titles)
        })
        .collect()
}

/// Triage tables for all messages, then English and Spanish apart; with
/// `misses`, every message judged wrong (never for a set still held out).
fn triage_by_language(set: &str, tsv: &str, misses: bool) {
    let lines: Vec<&str> = tsv.lines().skip(1).filter(|l| !l.trim().is_empty()).collect();
    let rows = triage_rows(tsv);
    for (name, lang) in [("all", None), ("en", Some("en")), ("es", Some("es"))] {
        let subset: Vec<_> = lines
            .iter()
            .zip(&rows)
            .filter(|(l, _)| lang.is_none_or(|lang| l.split('\t').nth(2) == Some(lang)))
            .map(|(_, r)| r.clone())
            .collect();
        let (before, after) = triage(&subset);
        let (ab, tb, _) = triage_report(&before);
        let (aa, ta, _) = triage_report(&after);
        println!("{set} triage ({name}), {} messages\nrules alone: accuracy {ab:.3}\n{tb}rules + classifier: accuracy {aa:.3}\n{ta}", subset.len());
        if misses && lang.is_none() {
            for (w, g, t) in after.iter().filter(|(w, g, _)| w != g) {
                println!("  want {w}, got {g}: {t}");
            }
        }
    }
}

#[test]
#[ignore]
fn heldout_report() {
    triage_by_language("held-out", TRIAGE, true);
    let all = knowledge_rows();
    let answerable: Vec<(String, Vec<String>)> =
        all.iter().filter(|r| r.2 != ["NONE"]).map(|r| (r.1.clone(), r.2.clone())).collect();
    for (name, lang) in [("all", None), ("en", Some("en")), ("es", Some("es"))] {
        let cases: Vec<(String, Vec<String>)> = all
            .iter()
            .filter(|r| r.2 != ["NONE"] && lang.is_none_or(|l| r.0 == l))
            .map(|r| (r.1.clone(), r.2.clone()))
            .collect();
        println!(
            "held-out knowledge ({name}), {} answerable questions\n{}",
            cases.len(),
            knowledge_report(&knowledge(&cases))
        );
    }
    println!(
        "({} of {} questions have no answering document and are not scored)",
        all.len() - answerable.len(),
        all.len()
    );
}

/// Held-out set F, measured once on 2026-11-30 after round five (issue 12):
/// rules + classifier accuracy 0.897, URGENT recall 0.97 at precision 0.87;
/// 47 of 60 knowledge questions answered from the right passage (full text
/// and the built-in model). Round six used it as validation (never reading
/// its misses): accuracy 0.912, URGENT recall 0.99 at precision 0.88, 53 of
/// 60 questions. A regression below these, less a margin, fails CI;
/// only the totals are printed. Not targets: nothing was tuned to reach
/// them. Since round seven F is development data and its triage rows are
/// trained on (in-sample accuracy 0.991), so this floor only catches a
/// regression.
#[test]
fn heldout_urgent_recall_floor() {
    triage_floors("F", TRIAGE_F, TriageFloors { recall: 0.95, precision: 0.84, accuracy: 0.88 });
}

#[test]
fn heldout_f_knowledge_floor() {
    // Measured 47 after round five, 53 after round six's fusion (a second and
    // last measurement of set F as unseen data), 59 after round seven, which
    // read its misses; the floor keeps a margin of three.
    knowledge_floor("F", KNOWLEDGE_F, 56);
}

/// Held-out set C (`tests/data/heldout_c/`, written 2026-11-29 before phase
/// 2 by a writer who saw no engine code): totals only, never the messages
/// it gets wrong, so nobody tunes on it.
///
///   cargo test --test integration heldout_c_report -- --ignored --nocapture
#[test]
#[ignore]
fn heldout_c_report() {
    totals_report("C", TRIAGE_C, KNOWLEDGE_C);
}

/// Held-out set D (`tests/data/heldout_d/`, written 2026-11-30 before that
/// day's tuning by a writer who saw no engine code): totals only.
///
///   cargo test --test integration heldout_d_report -- --ignored --nocapture
#[test]
#[ignore]
fn heldout_d_report() {
    totals_report("D", TRIAGE_D, KNOWLEDGE_D);
}

/// Held-out set E (`tests/data/heldout_e/`, written 2026-11-30 before round
/// four's tuning, issue 12): totals only.
///
///   cargo test --test integration heldout_e_report -- --ignored --nocapture
#[test]
#[ignore]
fn heldout_e_report() {
    totals_report("E", TRIAGE_E, KNOWLEDGE_E);
}

/// Held-out set F (`tests/data/heldout_f/`, written 2026-11-30 before round
/// five's tuning, issue 12): totals only.
///
///   cargo test --test integration heldout_f_report -- --ignored --nocapture
#[test]
#[ignore]
fn heldout_f_report() {
    totals_report("F", TRIAGE_F, KNOWLEDGE_F);
}

/// Held-out set G, measured twice on 2026-11-30 (issue 12), with main's
/// engine before round six and after it: triage accuracy 0.875 both times,
/// URGENT recall 0.95 then 0.93 at precision 0.84 then 0.85; knowledge 46
/// then 47 of 60; lead fields 263 then 264 of 280. Floors a little under the
/// final figures fail CI on a regression. Since round seven G is
/// development data (its triage rows trained on, its misses read):
/// knowledge 52 of 60, lead fields 268 of 280; knowledge 57 of 60 after
/// round eight.
#[test]
fn heldout_g_floors() {
    triage_floors("G", TRIAGE_G, TriageFloors { recall: 0.90, precision: 0.81, accuracy: 0.84 });
    knowledge_floor("G", KNOWLEDGE_G, 55);
}

/// Held-out set G (`tests/data/heldout_g/`, written 2026-11-30 before round
/// six's tuning by a writer who read no engine code and did not tune):
/// totals only.
///
///   cargo test --test integration heldout_g_report -- --ignored --nocapture
#[test]
#[ignore]
fn heldout_g_report() {
    totals_report("G", TRIAGE_G, KNOWLEDGE_G);
}

/// Set G's 40 conversations on the real binary: totals per field only.
/// Measured 263 then 264 of 280 (before and after round six), 268 after
/// round seven (development data since), 276 after round eight (lead
/// capture and triage merged); a regression below 273 fails CI.
///
///   cargo test --test integration conversations_heldout_g_report -- --nocapture
#[tokio::test]
async fn conversations_heldout_g_report() {
    lead_fields_floor("G", CONVERSATIONS_G, 273).await;
}

/// Held-out set H (`tests/data/heldout_h/`, written 2026-11-30 before round
/// seven's tuning by a writer who read no engine code and did not tune):
/// held out through round seven (totals only), development data from round
/// eight. Baseline (main before round seven):
/// accuracy 0.828, URGENT recall 0.94 at precision 0.79; knowledge 48 of 60.
/// After round seven: accuracy 0.831, URGENT recall 0.93 at precision 0.82;
/// knowledge 49 of 60.
///
///   cargo test --test integration heldout_h_report -- --ignored --nocapture
#[test]
#[ignore]
fn heldout_h_report() {
    totals_report("H", TRIAGE_H, KNOWLEDGE_H);
}

/// Held-out set H, measured twice (main before round seven, and after it):
/// floors a little under the final figures fail CI on a regression. Since
/// round eight H is development data: its knowledge misses were read (58 of
/// 60 after round eight's retrieval changes) and its triage rows are trained
/// on, so its triage figures are in-sample and these floors only catch a
/// regression; its out-of-fold figures come from
/// `cargo test --lib development_sets -- --ignored --nocapture`.
#[test]
fn heldout_h_floors() {
    triage_floors("H", TRIAGE_H, TriageFloors { recall: 0.90, precision: 0.78, accuracy: 0.80 });
    knowledge_floor("H", KNOWLEDGE_H, 56);
}

/// Set H's 40 conversations on the real binary: totals per field only.
/// Measured as held-out data 258 of 280 lead fields before round seven and
/// 263 after. H is development data from round eight (its failures read
/// while tuning lead capture, its triage rows trained on): 279 after round
/// eight; a regression below 276 fails CI.
///
///   cargo test --test integration conversations_heldout_h_report -- --nocapture
#[tokio::test]
async fn conversations_heldout_h_report() {
    lead_fields_floor("H", CONVERSATIONS_H, 276).await;
}

/// The least URGENT recall, URGENT precision and accuracy CI holds a set to.
pub(super) struct TriageFloors {
    pub(super) recall: f64,
    pub(super) precision: f64,
    pub(super) accuracy: f64,
}

/// Fails when a set's triage (rules + classifier) falls under its floors;
/// prints nothing else, so a held-out set's misses stay unseen.
pub(super) fn triage_floors(set: &str, tsv: &str, floors: TriageFloors) {
    let (_, after) = triage(&triage_rows(tsv));
    let (accuracy, _, (precision, recall)) = triage_report(&after);
    assert!(
        recall >= floors.recall && precision >= floors.precision && accuracy >= floors.accuracy,
        "set {set} triage fell: URGENT recall {recall:.3} (floor {}), precision {precision:.3} ({}), accuracy {accuracy:.3} ({})",
        floors.recall,
        floors.precision,
        floors.accuracy
    );
}

/// Fails when fewer than `least` of a set's answerable questions get the
/// right passage first.
pub(super) fn knowledge_floor(set: &str, tsv: &str, least: usize) {
    let cases: Vec<(String, Vec<String>)> =
        knowledge_rows_of(tsv).into_iter().filter(|r| r.2 != ["NONE"]).map(|r| (r.1, r.2)).collect();
    let right = knowledge(&cases).iter().filter(|r| r.1).count();
    assert!(right >= least, "set {set} knowledge fell to {right}/{} (floor {least})", cases.len());
}

/// Plays a set's conversations and fails when fewer than `least` lead
/// fields come out right; prints totals per field only.
pub(super) async fn lead_fields_floor(set: &str, json: &str, least: usize) {
    let scripts: Vec<Script> = serde_json::from_str(json).unwrap();
    let outcomes = play(&scripts).await;
    let right = conversation_totals(set, &outcomes);
    let total = outcomes.iter().map(|o| o.fields.len()).sum::<usize>();
    assert!(right >= least, "set {set} lead fields fell to {right}/{total} (floor {least})");
}

/// Lead fields right in all, and per field; never which conversation.
fn conversation_totals(set: &str, outcomes: &[super::conversations::Outcome]) -> usize {
    let (right, total, whole, n) = summary(outcomes);
    println!("held-out {set} conversations: lead fields right {right}/{total}, conversations all right {whole}/{n}");
    let mut per_field: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
    for (field, ok, _) in outcomes.iter().flat_map(|o| &o.fields) {
        let e = per_field.entry(field).or_default();
        e.0 += usize::from(*ok);
        e.1 += 1;
    }
    for (field, (r, t)) in per_field {
        println!("  {field}: {r}/{t}");
    }
    right
}

/// Set F's 40 conversations on the real binary: totals per field only.
/// Measured once after round five: 270 of 280 fields right; 274 after round
/// seven, which read its misses, 276 after round eight; a regression below
/// 274 fails CI.
///
///   cargo test --test integration conversations_heldout_f_report -- --nocapture
#[tokio::test]
async fn conversations_heldout_f_report() {
    lead_fields_floor("F", CONVERSATIONS_F, 274).await;
}

/// Triage and knowledge totals of a set; the knowledge misses too, with
/// FRONTDESK_SHOW_FAILURES=1, for the sets that are development data.
pub(super) fn totals_report(set: &str, triage_tsv: &str, knowledge_tsv: &str) {
    triage_by_language(&format!("held-out {set}"), triage_tsv, false);
    let all = knowledge_rows_of(knowledge_tsv);
    for (name, lang) in [("all", None), ("en", Some("en")), ("es", Some("es"))] {
        let cases: Vec<(String, Vec<String>)> = all
            .iter()
            .filter(|r| r.2 != ["NONE"] && lang.is_none_or(|l| r.0 == l))
            .map(|r| (r.1.clone(), r.2.clone()))
            .collect();
        let results = knowledge(&cases);
        // Sets C and D (round four), E (round five), F and G (round seven)
        // are development data: their misses may be read. Any other set is
        // held out and never shown so.
        if ["C", "D", "E", "F", "G"].contains(&set)
            && name == "all"
            && std::env::var("FRONTDESK_SHOW_FAILURES").is_ok()
        {
            for r in results.iter().filter(|r| !r.1) {
                println!("  miss: {} -> {:?}", r.2, r.3);
            }
        }
        let before = results.iter().filter(|r| r.0).count();
        let after = results.iter().filter(|r| r.1).count();
        println!(
            "held-out {set} knowledge ({name}): right passage, full text {before}/{n}, full text + built-in model {after}/{n}",
            n = results.len()
        );
    }
}

/// The knowledge sets that are development data (A, C, D, E and the dev
/// set): totals, and each miss with FRONTDESK_SHOW_FAILURES=1. What
/// retrieval changes are judged on; set F is never among them.
///
///   cargo test --test integration knowledge_development_report -- --ignored --nocapture
#[test]
#[ignore]
fn knowledge_development_report() {
    let dev: Vec<(String, Vec<String>)> = include_str!("../data/dev/knowledge.tsv")
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once('\t'))
        .map(|(q, t)| (q.to_string(), t.split('|').map(|t| t.trim().to_string()).collect()))
        .collect();
    let mut sets = vec![("dev", dev)];
    for (name, tsv) in [("A", KNOWLEDGE), ("C", KNOWLEDGE_C), ("D", KNOWLEDGE_D), ("E", KNOWLEDGE_E)] {
        let cases =
            knowledge_rows_of(tsv).into_iter().filter(|r| r.2 != ["NONE"]).map(|r| (r.1, r.2)).collect();
        sets.push((name, cases));
    }
    let (mut before, mut after, mut n) = (0, 0, 0);
    for (name, cases) in sets {
        let results = knowledge(&cases);
        let b = results.iter().filter(|r| r.0).count();
        let a = results.iter().filter(|r| r.1).count();
        println!("{name}: full text {b}/{m}, full text + built-in model {a}/{m}", m = results.len());
        if std::env::var("FRONTDESK_SHOW_FAILURES").is_ok() {
            for r in results.iter().filter(|r| !r.1) {
                println!("  miss: {} -> {:?}", r.2, r.3);
            }
        }
        (before, after, n) = (before + b, after + a, n + results.len());
    }
    println!("development knowledge: full text {before}/{n}, full text + built-in model {after}/{n}");
}

/// Knowledge of sets F, G, H and I, development data since rounds seven (F,
/// G), eight (H) and nine (I): totals and each miss. Then every set's questions that no
/// document answers (`NONE` rows, A to I): how many the engine declines to
/// answer, and what it would say to the others; and how many answerable
/// questions get an answer at all. Set I joined in round nine, set J in
/// round ten; set K is never among them.
///
///   cargo test --test integration knowledge_fgh_report -- --ignored --nocapture
#[test]
#[ignore]
fn knowledge_fgh_report() {
    for (name, tsv) in
        [("F", KNOWLEDGE_F), ("G", KNOWLEDGE_G), ("H", KNOWLEDGE_H), ("I", KNOWLEDGE_I), ("J", KNOWLEDGE_J)]
    {
        let cases: Vec<(String, Vec<String>)> =
            knowledge_rows_of(tsv).into_iter().filter(|r| r.2 != ["NONE"]).map(|r| (r.1, r.2)).collect();
        let results = knowledge(&cases);
        println!("{name}:\n{}", knowledge_report(&results));
    }
    let mut none = Vec::new();
    for tsv in DEVELOPMENT_KNOWLEDGE {
        none.extend(knowledge_rows_of(tsv).into_iter().filter(|r| r.2 == ["NONE"]).map(|r| r.1));
    }
    let results = abstentions(&none);
    for (_, question, answer) in results.iter().filter(|r| !r.0) {
        println!("  answered: {question} -> {answer:?}");
    }
    let declined = results.iter().filter(|r| r.0).count();
    // Declining is easy when nothing is answered: the answerable questions
    // answered at all, beside it.
    let mut answerable = Vec::new();
    for tsv in DEVELOPMENT_KNOWLEDGE {
        answerable.extend(knowledge_rows_of(tsv).into_iter().filter(|r| r.2 != ["NONE"]).map(|r| r.1));
    }
    let answered = abstentions(&answerable).iter().filter(|r| !r.0).count();
    println!("answerable questions given an answer: {answered}/{}", answerable.len());
    println!("questions with no answering document, declined: {declined}/{}", results.len());
}

/// Set E's conversations with each failing one's fields and transcript:
/// set E is development data since round five (set F is never shown so).
///
///   cargo test --test integration conversations_e_failures -- --ignored --nocapture
#[tokio::test]
#[ignore]
async fn conversations_e_failures() {
    let scripts: Vec<Script> =
        serde_json::from_str(include_str!("../data/heldout_e/conversations.json")).unwrap();
    let outcomes = play(&scripts).await;
    for o in outcomes.iter().filter(|o| !o.all_right()) {
        println!("{}:", o.id);
        for (field, _, got) in o.fields.iter().filter(|f| !f.1) {
            println!("  wrong {field}: {got}");
        }
        for (said, reply) in &o.transcript {
            println!("  > {said}\n  < {reply}");
        }
    }
    let (right, total, whole, n) = summary(&outcomes);
    println!("set E conversations: lead fields right {right}/{total}, conversations all right {whole}/{n}");
}

/// Sets F and G are development data since round seven, H since round
/// eight, I since round nine and J since round ten (issue 12): each failing conversation with what was expected, what
/// was saved and its transcript, then the totals. `FRONTDESK_SETS=H` plays
/// only the sets named.
///
///   cargo test --test integration conversations_fgh_failures -- --ignored --nocapture
#[tokio::test]
#[ignore]
async fn conversations_fgh_failures() {
    let only = std::env::var("FRONTDESK_SETS").unwrap_or_default();
    for (set, json) in [
        ("F", CONVERSATIONS_F),
        ("G", CONVERSATIONS_G),
        ("H", CONVERSATIONS_H),
        ("I", CONVERSATIONS_I),
        ("J", CONVERSATIONS_J),
    ] {
        if !only.is_empty() && !only.contains(set) {
            continue;
        }
        let scripts: Vec<Script> = serde_json::from_str(json).unwrap();
        let outcomes = play(&scripts).await;
        for (script, o) in scripts.iter().zip(&outcomes).filter(|(_, o)| !o.all_right()) {
            println!("{}: expected {:?}", o.id, script.expected);
            for (field, _, got) in o.fields.iter().filter(|f| !f.1) {
                println!("  wrong {field}: {got}");
            }
            for (said, reply) in &o.transcript {
                println!("  > {said}\n  < {reply}");
            }
        }
        let (right, total, whole, n) = summary(&outcomes);
        println!(
            "set {set} conversations: lead fields right {right}/{total}, conversations all right {whole}/{n}"
        );
    }
}
