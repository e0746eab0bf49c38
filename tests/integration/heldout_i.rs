//! Held-out set I (`tests/data/heldout_i/`, see its README): written on
//! 2026-11-30 16:42–16:48 UTC, before round eight's tuning, by a writer who
//! read no engine code and does not tune. Measure only: its reports print
//! totals, never its misses, and nothing is tuned on it. Baseline (main at
//! e1c3a49, before round eight): triage accuracy 0.847, URGENT recall 0.95 at
//! precision 0.85; knowledge 54 of 60; lead fields 257 of 280.
//!
//!   cargo test --test integration heldout_i_report -- --ignored --nocapture
//!   cargo test --test integration conversations_heldout_i_report -- --ignored --nocapture

use super::heldout::{lead_fields_floor, totals_report};

const TRIAGE_I: &str = include_str!("../data/heldout_i/triage.tsv");
const KNOWLEDGE_I: &str = include_str!("../data/heldout_i/knowledge.tsv");
const CONVERSATIONS_I: &str = include_str!("../data/heldout_i/conversations.json");

/// Triage (per level and language) and knowledge totals.
#[test]
#[ignore]
fn heldout_i_report() {
    totals_report("I", TRIAGE_I, KNOWLEDGE_I);
}

/// Lead fields right, in all and per field.
#[tokio::test]
#[ignore]
async fn conversations_heldout_i_report() {
    lead_fields_floor("I", CONVERSATIONS_I, 0).await;
}
