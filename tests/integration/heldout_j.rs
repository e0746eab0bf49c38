//! Held-out set J (`tests/data/heldout_j/`, see its README): written on
//! 2026-11-30 20:09–20:15 UTC, before round nine's tuning, by a writer who
//! read no engine code and does not tune. Measure only: its reports print
//! totals, never its misses, and nothing is tuned on it.
//!
//!   cargo test --test integration heldout_j_report -- --ignored --nocapture
//!   cargo test --test integration conversations_heldout_j -- --ignored --nocapture

use super::heldout::{lead_fields_floor, totals_report};

const TRIAGE_J: &str = include_str!("../data/heldout_j/triage.tsv");
const KNOWLEDGE_J: &str = include_str!("../data/heldout_j/knowledge.tsv");
const CONVERSATIONS_J: &str = include_str!("../data/heldout_j/conversations.json");

/// Triage (per level and language) and knowledge totals.
#[test]
#[ignore]
fn heldout_j_report() {
    totals_report("J", TRIAGE_J, KNOWLEDGE_J);
}

/// Set J's 40 conversations on the real binary: lead fields right, in all
/// and per field.
#[tokio::test]
#[ignore]
async fn conversations_heldout_j_report() {
    lead_fields_floor("J", CONVERSATIONS_J, 0).await;
}
