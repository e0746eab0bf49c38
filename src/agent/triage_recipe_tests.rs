//! Scratch: the head's training recipe, compared by 5-fold cross-validation
//! on the built-in rows (the folds of `cross_validated`: row i in fold
//! i % 5). Features are built once per word-slot setting; each recipe
//! trains five heads and is scored through the rules + classifier
//! combination, at today's thresholds and at the best ones of a grid that
//! keeps URGENT recall. Slow in a debug build; run optimised:
//!   RECIPES='lbfgs l2=1e-3 std; descent steps=400 rate=2' \
//!   CARGO_PROFILE_DEV_OPT_LEVEL=3 cargo test --lib recipe_search -- --ignored --nocapture
//! A recipe is words: `descent` or `lbfgs`, then `steps=`, `rate=`,
//! `iters=`, `l2=`, `ws=` (word scale), `wb=` (word slots), `uw=` (URGENT
//! weight), `std` (standardised dense features); unset ones are `RECIPE`'s.

use std::collections::HashMap;
use std::time::Instant;

use super::*;
use crate::agent::triage_model::{
    built_in_rows, training_rows_with, Features, Head, Nearest, Optimiser, Recipe, RECIPE,
};

const FOLDS: usize = 5;

fn parse(spec: &str) -> Recipe {
    let mut r = RECIPE;
    let (mut steps, mut rate, mut iters) = (400, 2.0, 500);
    let mut lbfgs = false;
    for word in spec.split_whitespace() {
        let (k, v) = word.split_once('=').unwrap_or((word, ""));
        match k {
            "descent" => lbfgs = false,
            "lbfgs" => lbfgs = true,
            "steps" => steps = v.parse().unwrap(),
            "rate" => rate = v.parse().unwrap(),
            "iters" => iters = v.parse().unwrap(),
            "l2" => r.l2 = v.parse().unwrap(),
            "ws" => r.word_scale = v.parse().unwrap(),
            "wb" => r.word_buckets = v.parse().unwrap(),
            "uw" => r.urgent_weight = v.parse().unwrap(),
            "std" => r.standardise = true,
            other => panic!("unknown recipe word {other}"),
        }
    }
    r.optimiser =
        if lbfgs { Optimiser::Lbfgs { iterations: iters } } else { Optimiser::Descent { steps, rate } };
    r
}

/// Rules + classifier on each row, with its out-of-fold probabilities.
fn levels(cases: &[Case], probs: &[[f32; 3]], t: &Thresholds) -> Vec<(Priority, Priority)> {
    let nearest =
        Nearest { text: String::new(), level: Normal, similarity: 0.0, source: ExampleSource::BuiltIn };
    cases
        .iter()
        .zip(probs)
        .map(|(c, p)| {
            // The classifier's own cut: fewer than three words, rules alone.
            if c.words < 3 {
                return (c.want, c.rules.level);
            }
            let (i, &top) = p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap();
            let vote = Vote {
                level: [Normal, High, Urgent][i],
                confidence: top,
                urgent: p[2],
                words: c.words,
                nearest: nearest.clone(),
                nearest_by_level: Vec::new(),
            };
            (c.want, combine_at(c.rules.clone(), vote, t).level)
        })
        .collect()
}

/// (accuracy, URGENT precision, URGENT recall).
fn scores(rows: &[(Priority, Priority)]) -> (f64, f64, f64) {
    let count = |f: &dyn Fn(&(Priority, Priority)) -> bool| rows.iter().filter(|r| f(r)).count() as f64;
    let tp = count(&|(w, g)| *w == Urgent && *g == Urgent);
    (
        count(&|(w, g)| w == g) / rows.len() as f64,
        tp / count(&|(_, g)| *g == Urgent).max(1.0),
        tp / count(&|(w, _)| *w == Urgent),
    )
}

struct Case {
    want: Priority,
    rules: Decision,
    words: usize,
}

/// Row i's fold: i % 5, or with `FOLDS=hash` one from its text (a second split, for robustness).
fn folds(rows: &[(BusinessType, Priority, &str)]) -> Vec<usize> {
    let hashed = std::env::var("FOLDS").is_ok_and(|v| v == "hash");
    rows.iter()
        .enumerate()
        .map(|(i, (_, _, text))| {
            if hashed {
                let h = text
                    .bytes()
                    .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
                (h % FOLDS as u64) as usize
            } else {
                i % FOLDS
            }
        })
        .collect()
}

fn out_of_fold(features: &[(Features, Priority)], fold_of: &[usize], recipe: &Recipe) -> Vec<[f32; 3]> {
    let mut probs = vec![[0f32; 3]; features.len()];
    for fold in 0..FOLDS {
        let train: Vec<_> =
            features.iter().zip(fold_of).filter(|(_, f)| **f != fold).map(|(x, _)| x.clone()).collect();
        let head = Head::train_with(&train, recipe);
        for (i, (x, _)) in features.iter().enumerate().filter(|(i, _)| fold_of[*i] == fold) {
            probs[i] = head.probabilities(x);
        }
    }
    probs
}

/// The threshold grid: `tune_thresholds`' plus the lowering and short-message cuts.
fn grid() -> Vec<Thresholds> {
    let mut out = Vec::new();
    for raise in [0.25f32, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6] {
        for raise_short in [0.4f32, 0.5, 0.6] {
            // 0: the head's level whenever it differs (the rules only a feature).
            for calm in [0.0f32, 0.4, 0.5, 0.6, 0.7, 0.8] {
                for higher in [0.0f32, 0.3, 0.35, 0.4, 0.5, 1.1] {
                    for lower in [0.0f32, 0.45, 0.55, 0.65, 1.1] {
                        out.push(Thresholds { raise, raise_short, calm, higher, lower, ..THRESHOLDS });
                    }
                }
            }
        }
    }
    out
}

#[test]
#[ignore]
fn recipe_search() {
    let specs = std::env::var("RECIPES").unwrap_or_else(|_| "descent steps=400 rate=2".into());
    let rows = built_in_rows();
    let fold_of = folds(&rows);
    let by_rules: Vec<Rules> = BusinessType::ALL.iter().map(|k| Rules::rules_only(*k)).collect();
    let rules_of = |kind: BusinessType| &by_rules[BusinessType::ALL.iter().position(|k| *k == kind).unwrap()];
    let cases: Vec<Case> = rows
        .iter()
        .map(|(kind, want, text)| Case {
            want: *want,
            rules: rules_of(*kind).classify_rules(text),
            words: text.split_whitespace().filter(|w| w.chars().any(char::is_alphabetic)).count(),
        })
        .collect();
    let rules_alone: Vec<(Priority, Priority)> = cases.iter().map(|c| (c.want, c.rules.level)).collect();
    let (a, p, r) = scores(&rules_alone);
    println!("{} rows; rules alone: accuracy {a:.3}, URGENT P/R {p:.3}/{r:.3}", rows.len());
    let mut features: HashMap<(usize, u32), Vec<(Features, Priority)>> = HashMap::new();
    let grid = grid();
    // Today's cross-validated URGENT recall (0.955): no recipe may lose it.
    let floor: f64 = std::env::var("MIN_RECALL").map_or(0.955, |v| v.parse().unwrap());
    println!(
        "| recipe | fit s | acc | URGENT P | URGENT R | tuned: acc | P | R | raise/short/calm/higher/lower |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for spec in specs.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let recipe = parse(spec);
        let x = features.entry((recipe.word_buckets, recipe.word_scale.to_bits())).or_insert_with(|| {
            training_rows_with(
                &rows,
                |k, t| rules_of(k).classify_rules(t).level,
                recipe.word_buckets,
                recipe.word_scale,
            )
        });
        let started = Instant::now();
        let probs = out_of_fold(x, &fold_of, &recipe);
        let fit = started.elapsed().as_secs_f64() / FOLDS as f64;
        let (a, p, r) = scores(&levels(&cases, &probs, &THRESHOLDS));
        // The best thresholds that keep URGENT recall: accuracy plus URGENT precision.
        let best = grid
            .iter()
            .map(|t| (scores(&levels(&cases, &probs, t)), t))
            .filter(|((_, _, r), _)| *r >= floor)
            .max_by(|a, b| (a.0 .0 + a.0 .1).total_cmp(&(b.0 .0 + b.0 .1)));
        let tuned = best.map_or("-".to_string(), |((a, p, r), t)| {
            format!(
                "{a:.3} | {p:.3} | {r:.3} | {}/{}/{}/{}/{}",
                t.raise, t.raise_short, t.calm, t.higher, t.lower
            )
        });
        println!("| {spec} | {fit:.1} | {a:.3} | {p:.3} | {r:.3} | {tuned} |");
    }
}
