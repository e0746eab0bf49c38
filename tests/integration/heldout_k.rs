//! Held-out set K (`tests/data/heldout_k/`, see its README): written on
//! 2026-11-30 23:15–23:21 UTC, before round ten's tuning, by a writer who
//! read no engine code and does not tune; its triage rows are shuffled so an
//! annotator cannot read a label from a row's position. Measure only: its
//! reports print totals, never its misses, and nothing is tuned on it.
//!
//!   cargo test --test integration heldout_k_report -- --ignored --nocapture
//!   cargo test --test integration conversations_heldout_k -- --ignored --nocapture

use super::heldout::{lead_fields_floor, totals_report};

const TRIAGE_K: &str = include_str!("../data/heldout_k/triage.tsv");
const KNOWLEDGE_K: &str = include_str!("../data/heldout_k/knowledge.tsv");
const CONVERSATIONS_K: &str = include_str!("../data/heldout_k/conversations.json");

/// Triage (per level and language) and knowledge totals.
#[test]
#[ignore]
fn heldout_k_report() {
    totals_report("K", TRIAGE_K, KNOWLEDGE_K);
}

/// Set K's 40 conversations on the real binary: lead fields right, in all
/// and per field (totals only).
#[tokio::test]
#[ignore]
async fn conversations_heldout_k_report() {
    lead_fields_floor("K", CONVERSATIONS_K, 0).await;
}
