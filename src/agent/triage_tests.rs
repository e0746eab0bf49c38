//! Triage rules: word boundaries, negation, paraphrase, Spanish, overrides,
//! and precision/recall on the labelled set in tests/data.

use super::*;
use crate::agent::phrases::{cue_counts, CUES};
use crate::agent::triage_model::Vote;

/// The rules alone: these tests pin down the rule engine's behaviour; the
/// combined triage is measured on the development sets below.
fn level(kind: BusinessType, text: &str) -> Priority {
    Rules::rules_only(kind).classify_rules(text).level
}

#[test]
fn whole_words_only() {
    let r = Rules::rules_only(BusinessType::Hvac);
    assert_eq!(r.classify_rules("fireplace inspection please").level, Normal);
    assert_eq!(r.classify_rules("my firewall blocks your site").level, Normal);
    assert_eq!(r.classify_rules("there is a fire in the kitchen").level, Urgent);
    assert_eq!(r.classify_rules("the fire department inspected it").level, Normal);
}

#[test]
fn negation_stays_in_its_clause() {
    let p = BusinessType::Plumbing;
    assert_eq!(level(p, "no leaks, just a quote"), Normal);
    assert_eq!(level(p, "there's no gas smell"), Normal);
    assert_eq!(level(p, "not flooding, but the faucet is leaking"), High);
    assert_eq!(level(p, "no leaks but I smell gas"), Urgent);
    // The phrase itself may start with "no", also after another complaint
    // with its own "no".
    assert_eq!(level(BusinessType::Hvac, "no heat since last night"), Urgent);
    assert_eq!(level(p, "no leaks and no hot water since monday"), High);
    // A contraction's apostrophe goes: "nothing's" negates as "nothing" does.
    assert_eq!(level(p, "nothing's leaking, I want a quote for a new tank"), Normal);
}

#[test]
fn a_danger_asked_about_as_if_is_not_happening() {
    let p = BusinessType::Plumbing;
    assert_eq!(level(p, "what do I do if the water heater ever leaks gas"), Normal);
    assert_eq!(level(p, "¿qué hago si algún día huele a gas en la cocina?"), Normal);
    assert_eq!(level(BusinessType::Law, "what if my cousin gets arrested at the border"), Normal);
    // Only that clause: a danger told in another one still counts.
    assert_eq!(level(p, "I wondered what if it floods, and now I smell gas"), Urgent);
    assert_eq!(
        level(p, "if it ever gets fixed I'll be glad. The pipe burst and water is everywhere"),
        Urgent
    );
}

/// A hearing tomorrow, with nothing else said, is time-sensitive with nobody
/// in danger: HIGH by the label definitions every set since round six was
/// written to (their writers left "court tomorrow" out as ambiguous). The
/// rule still says URGENT; the head, trained on those sets, lowers it.
#[test]
fn a_hearing_tomorrow_alone_is_high() {
    let d = Rules::for_business(BusinessType::Law).classify("I have a hearing tomorrow");
    assert_eq!(d.level, High);
    assert_eq!(d.decided_by, DecidedBy::Classifier);
    let d = Rules::for_business(BusinessType::Law).classify_rules("I have a hearing tomorrow");
    assert_eq!(d.level, Urgent);
}

#[test]
fn paraphrases_of_danger() {
    let cases = [
        (BusinessType::Plumbing, "I smell gas", Some(Gas)),
        (BusinessType::Plumbing, "rotten egg smell in the basement", Some(Gas)),
        (BusinessType::Hvac, "our CO alarm is going off", Some(Co)),
        (BusinessType::Plumbing, "water pouring through the ceiling", Some(Flood)),
        (BusinessType::Other, "it smells like something is burning", Some(Fire)),
        (BusinessType::Law, "my son was arrested", None),
        (BusinessType::Law, "I have a hearing today", None),
    ];
    for (kind, text, hazard) in cases {
        let d = Rules::for_business(kind).classify(text);
        assert_eq!(d.level, Urgent, "{text}");
        assert_eq!(d.decided_by, DecidedBy::Rules, "{text}");
        assert_eq!(d.hazard, hazard, "{text}");
        assert!(!d.reasons.is_empty());
    }
}

#[test]
fn spanish_with_or_without_accents() {
    let p = BusinessType::Plumbing;
    assert_eq!(level(p, "Se inundó el sótano"), Urgent);
    assert_eq!(level(p, "se inundo el sotano"), Urgent);
    assert_eq!(level(p, "huele a gas"), Urgent);
    assert_eq!(level(BusinessType::Hvac, "sin calefacción"), Urgent);
    assert_eq!(level(BusinessType::Law, "arrestaron a mi hijo"), Urgent);
    assert_eq!(level(p, "necesito un presupuesto, sin fugas"), Normal);
}

#[test]
fn reasons_and_json() {
    let d = Rules::for_business(BusinessType::Plumbing).classify("burst pipe, water everywhere!");
    assert_eq!(d.level, Urgent);
    assert_eq!(d.reasons, [Reason::Rule("burst pipe".into()), Reason::Rule("water everywhere".into())]);
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["reasons"], serde_json::json!(["burst pipe", "water everywhere"]));
    assert_eq!(json["nearest"]["source"], "built-in", "{json}");
    assert_eq!(json["level"], "URGENT");
    assert_eq!(json["hazard"], "flood");
    assert_eq!(json["decided_by"], "rules");
    assert_eq!(json["nearest"]["level"], "URGENT", "{json}");
    assert!(json["nearest"]["similarity"].as_f64().unwrap() > 0.5, "{json}");
    let calm = Rules::for_business(BusinessType::Plumbing).classify_rules("hello");
    assert_eq!(
        serde_json::to_value(&calm).unwrap(),
        serde_json::json!({"level": "NORMAL", "reasons": [], "decided_by": "rules"})
    );
}

#[test]
fn owners_add_and_remove_phrases() {
    let kind = BusinessType::Plumbing;
    let overrides =
        Overrides { add: vec![(Urgent, "septic alarm".into())], remove: vec!["no hot water".into()] };
    let r = Rules::with_overrides(kind, &overrides);
    assert_eq!(r.classify_rules("the septic alarm is beeping").level, Urgent);
    assert_eq!(r.classify_rules("no hot water since monday").level, Normal);
    assert!(r.phrases().contains(&(Urgent, "septic alarm".into())));
    assert!(!r.phrases().iter().any(|(_, p)| p == "no hot water"));
    assert_eq!(Rules::for_business(kind).classify_rules("no hot water").level, High);
    // An owner's mark decides for messages close to it, whatever the
    // built-in triage says: marked the other way, the level follows the mark.
    let text = "the septic alarm is beeping again";
    let plain = Rules::for_business(kind).classify(text).level;
    let wanted = if plain == Urgent { Normal } else { Urgent };
    let marked =
        Rules::with_marks(kind, &Overrides::default(), &[(wanted, "the septic alarm is beeping".into())]);
    let d = marked.classify(text);
    assert_eq!(d.level, wanted, "{d:?}");
    assert_eq!(d.nearest.as_ref().map(|n| n.source), Some(ExampleSource::Owner));
    assert_eq!(serde_json::to_value(&d).unwrap()["nearest"]["source"], "owner");
}

/// Levels wanted and found (by the rules alone) for each row of a labelled TSV.
fn evaluate(data: &str) -> Vec<(Priority, Priority, &str)> {
    let mut rows = Vec::new();
    for line in data.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let mut cols = line.splitn(3, '\t');
        let (kind, want, text) = (cols.next().unwrap(), cols.next().unwrap(), cols.next().unwrap());
        let kind = BusinessType::parse(kind).unwrap();
        let want = Priority::parse(want).unwrap();
        let got = Rules::for_business(kind).classify_rules(text).level;
        rows.push((want, got, text));
    }
    rows
}

/// Per level: (precision, recall, support), as a markdown table.
fn report(rows: &[(Priority, Priority, &str)]) -> (String, Vec<(Priority, f64, f64)>) {
    let mut table = String::from("| level | precision | recall | support |\n| --- | --- | --- | --- |\n");
    let mut scores = Vec::new();
    for lvl in [Urgent, High, Normal] {
        let tp = rows.iter().filter(|(w, g, _)| *w == lvl && *g == lvl).count() as f64;
        let predicted = rows.iter().filter(|(_, g, _)| *g == lvl).count() as f64;
        let support = rows.iter().filter(|(w, _, _)| *w == lvl).count();
        let precision = if predicted > 0.0 { tp / predicted } else { 1.0 };
        let recall = tp / support as f64;
        table.push_str(&format!("| {lvl} | {precision:.2} | {recall:.2} | {support} |\n"));
        scores.push((lvl, precision, recall));
    }
    (table, scores)
}

/// The rules alone: per-level precision and recall on the labelled set.
#[test]
fn labelled_set_precision_and_recall() {
    let rows = evaluate(include_str!("../../tests/data/triage_labelled.tsv"));
    assert!(rows.len() >= 100, "at least 100 labelled messages");
    let (table, scores) = report(&rows);
    let (_, precision, recall) = scores[0];
    assert_eq!(recall, 1.0, "a missed URGENT is the costliest error");
    assert!(precision >= 0.9, "URGENT precision {precision}");
    let mut mistakes = Vec::new();
    for (w, g, t) in &rows {
        if w != g {
            mistakes.push(format!("want {w}, got {g}: {t}"));
        }
    }
    let accuracy = rows.iter().filter(|(w, g, _)| w == g).count() as f64 / rows.len() as f64;
    println!("{table}accuracy {accuracy:.3} over {} messages\n{}", rows.len(), mistakes.join("\n"));
    assert!(accuracy >= 0.9, "accuracy {accuracy}:\n{}", mistakes.join("\n"));
}

/// The rules alone on the old held-out set (seen by earlier tuning, so
/// development data now).
#[test]
fn holdout_set_report() {
    let rows = evaluate(include_str!("../../tests/data/triage_holdout.tsv"));
    let (table, scores) = report(&rows);
    let mistakes: Vec<String> =
        rows.iter().filter(|(w, g, _)| w != g).map(|(w, g, t)| format!("want {w}, got {g}: {t}")).collect();
    println!("holdout:\n{table}{}", mistakes.join("\n"));
    assert!(scores[0].2 >= 0.8, "URGENT recall on the holdout set fell below 0.8:\n{}", mistakes.join("\n"));
}

/// Every development row (labelled, old held-out, dev), triaged by the
/// rules alone and voted on by a classifier whose head never saw the row:
/// 5-fold cross-validation (and the row is never its own nearest example).
fn cross_validated() -> Vec<(Priority, Decision, Option<Vote>, &'static str)> {
    use crate::agent::triage_model::{Classifier, Head};
    const FOLDS: usize = 5;
    let rows = crate::agent::triage_model::built_in_rows();
    let features = training_rows(&rows);
    let mut out = Vec::new();
    for fold in 0..FOLDS {
        let train: Vec<_> =
            features.iter().enumerate().filter(|(i, _)| i % FOLDS != fold).map(|(_, f)| f.clone()).collect();
        let head = std::sync::Arc::new(Head::train(&train));
        for (i, (kind, want, text)) in rows.iter().enumerate().filter(|(i, _)| i % FOLDS == fold) {
            let _ = i;
            let r = Rules::for_business(*kind);
            let c = Classifier::with_head(*kind, Some(head.clone()), &[]).without(text);
            let decision = r.classify_rules(text);
            let vote = c.vote(text, decision.level);
            out.push((*want, decision, vote, *text));
        }
    }
    out
}

fn at(
    cases: &[(Priority, Decision, Option<Vote>, &'static str)],
    t: Option<&Thresholds>,
) -> Vec<(Priority, Priority, &'static str)> {
    cases
        .iter()
        .map(|(w, r, v, text)| {
            let got = match (t, v) {
                (Some(t), Some(v)) => combine_at(r.clone(), v.clone(), t).level,
                _ => r.level,
            };
            (*w, got, *text)
        })
        .collect()
}

fn accuracy(rows: &[(Priority, Priority, &str)]) -> f64 {
    rows.iter().filter(|(w, g, _)| w == g).count() as f64 / rows.len() as f64
}

/// Development sets, before (rules alone) and after (rules + classifier,
/// 5-fold cross-validated). Printed for the README; its floors guard
/// regressions. Five trainings take minutes in a debug build, so it is run
/// by hand after a change to the rules, the head or the rows:
///   cargo test --lib development_sets -- --ignored --nocapture
#[test]
#[ignore]
fn development_sets_before_and_after() {
    let cases = cross_validated();
    let before = at(&cases, None);
    let after = at(&cases, Some(&THRESHOLDS));
    let (tb, sb) = report(&before);
    let (ta, sa) = report(&after);
    let mistakes: Vec<String> =
        after.iter().filter(|(w, g, _)| w != g).map(|(w, g, t)| format!("want {w}, got {g}: {t}")).collect();
    println!(
        "development, {} messages\nrules alone (accuracy {:.3}):\n{tb}\nrules + classifier (accuracy {:.3}):\n{ta}\n{}",
        cases.len(),
        accuracy(&before),
        accuracy(&after),
        mistakes.join("\n")
    );
    // Sets F, G, H, I and J apart (development data since rounds seven to
    // ten), and the rows written for training: out-of-fold figures.
    for (set, tsv) in [
        ("F", include_str!("../../tests/data/heldout_f/triage.tsv")),
        ("G", include_str!("../../tests/data/heldout_g/triage.tsv")),
        ("H", include_str!("../../tests/data/heldout_h/triage.tsv")),
        ("training_r8", include_str!("../../tests/data/training_r8/triage.tsv")),
        ("I", include_str!("../../tests/data/heldout_i/triage.tsv")),
        ("training_r9", include_str!("../../tests/data/training_r9/triage.tsv")),
        ("training_r10", include_str!("../../tests/data/training_r10/triage.tsv")),
        ("training_r11", include_str!("../../tests/data/training_r11/triage.tsv")),
        ("J", include_str!("../../tests/data/heldout_j/triage.tsv")),
        ("training_r12", include_str!("../../tests/data/training_r12/triage.tsv")),
    ] {
        let texts: std::collections::HashSet<&str> =
            tsv.lines().skip(1).filter_map(|l| l.split('\t').nth(3)).map(str::trim).collect();
        let rows: Vec<_> = after.iter().filter(|(_, _, t)| texts.contains(t)).cloned().collect();
        let (table, _) = report(&rows);
        println!(
            "set {set}, {} rows, cross-validated (accuracy {:.3}):\n{table}",
            rows.len(),
            accuracy(&rows)
        );
    }
    assert!(sa[0].2 >= sb[0].2, "the classifier must not lose URGENT recall");
    assert!(accuracy(&after) >= accuracy(&before), "the classifier must not lower accuracy");
}

/// Scratch: grid search of the thresholds on the development sets.
#[test]
#[ignore]
fn tune_thresholds() {
    let cases = cross_validated();
    let score = |t: &Thresholds| {
        let rows = at(&cases, Some(t));
        let (_, s) = report(&rows);
        (s[0].1, s[0].2, accuracy(&rows))
    };
    let mut best = Vec::new();
    for raise in [0.25f32, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6] {
        for calm in [0.4f32, 0.5, 0.6, 0.7, 0.8] {
            for higher in [0.3f32, 0.35, 0.4, 0.45, 0.5, 0.6, 1.1] {
                let t = Thresholds { raise, calm, higher, ..THRESHOLDS };
                let (p, r, a) = score(&t);
                best.push((r * 2.0 + p + a, p, r, a, t));
            }
        }
    }
    best.sort_by(|a, b| b.0.total_cmp(&a.0));
    for b in best.iter().take(15) {
        println!("{:.3} P{:.3} R{:.3} A{:.3} {:?}", b.0, b.1, b.2, b.3, b.4);
    }
    let (p, r, a) = score(&THRESHOLDS);
    println!("current P{p:.3} R{r:.3} A{a:.3}");
}

/// The head lowers a HIGH rule match it is sure is routine, and needs more
/// to raise a message of a few words.
#[test]
fn the_head_lowers_high_and_needs_more_for_short_messages() {
    use crate::agent::triage_model::Nearest;
    let nearest =
        Nearest { text: "x".into(), level: Normal, similarity: 0.5, source: ExampleSource::BuiltIn };
    let vote = |level, confidence, urgent, words| Vote {
        level,
        confidence,
        urgent,
        words,
        nearest: nearest.clone(),
        nearest_by_level: Vec::new(),
    };
    let rules = |level| Decision {
        level,
        reasons: Vec::new(),
        hazard: None,
        decided_by: DecidedBy::Rules,
        nearest: None,
    };
    assert_eq!(combine(rules(High), vote(Normal, 0.7, 0.1, 8)).level, Normal);
    assert_eq!(combine(rules(High), vote(Normal, 0.5, 0.1, 8)).level, High);
    assert_eq!(combine(rules(Normal), vote(Urgent, 0.45, 0.45, 4)).level, Normal);
    assert_eq!(combine(rules(Normal), vote(Urgent, 0.45, 0.45, 8)).level, Urgent);
}

#[test]
fn the_classifier_never_reads_names_numbers_or_emails() {
    assert_eq!(
        without_contact_details(
            "Hi! I'm Dana Whitfield, my number is (312) 555-0142 and my disposal is jammed"
        ),
        "Hi! my number is and my disposal is jammed"
    );
    assert_eq!(without_contact_details("write to dana@example.com please"), "write to please");
    assert_eq!(without_contact_details("I'm Ann Lee, 312-555-0101, my tap drips"), "my tap drips");
    assert_eq!(without_contact_details("Me llamo Ana Ruiz y tengo una fuga"), "y tengo una fuga");
    assert_eq!(
        without_contact_details("AC is out, it's 105 degrees and my father is 91"),
        "AC is out, it's 105 degrees and my father is 91"
    );
}

/// The committed head was trained on today's built-in rows, rules and
/// recipe (a fingerprint: retraining in a debug test takes half a minute).
#[test]
fn committed_head_was_trained_on_the_built_in_rows() {
    use crate::agent::triage_model::{built_in_head, built_in_rows};
    let committed = built_in_head().expect("committed head loads");
    assert_eq!(
        committed.trained_on,
        fingerprint(&built_in_rows()),
        "retrain: cargo test --lib write_triage_head -- --ignored"
    );
}

fn fingerprint(rows: &[(BusinessType, Priority, &str)]) -> String {
    crate::agent::triage_model::training_fingerprint(rows, |kind, text| {
        Rules::rules_only(kind).classify_rules(text).level
    })
}

/// The committed head is exactly what training on the built-in rows gives
/// (slow in a debug build; run after retraining).
#[test]
#[ignore]
fn committed_head_matches_the_training_data() {
    use crate::agent::triage_model::{built_in_head, built_in_rows, Head};
    let fresh = Head::train(&training_rows(&built_in_rows()));
    let committed = built_in_head().expect("committed head loads");
    let diff = fresh.distance(&committed);
    assert!(diff < 1e-3, "retrain: cargo test --lib write_triage_head -- --ignored (max diff {diff})");
}

/// Retrains the head on every built-in row and writes `assets/triage/head.json`.
#[test]
#[ignore]
fn write_triage_head() {
    use crate::agent::triage_model::{built_in_rows, Head};
    let rows = built_in_rows();
    let mut head = Head::train(&training_rows(&rows));
    head.trained_on = fingerprint(&rows);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/triage/head.json");
    std::fs::write(path, serde_json::to_string(&head).unwrap()).unwrap();
}

/// Scratch: the cross-validated votes, one row per development message
/// (wanted level, rules level, the head's level, its confidence, P(URGENT),
/// words, type, text), for choosing thresholds outside Rust.
#[test]
#[ignore]
fn dump_cross_validated_votes() {
    let mut out = String::new();
    for (want, rules, vote, text) in cross_validated() {
        let words = text.split_whitespace().filter(|w| w.chars().any(char::is_alphabetic)).count();
        let (level, confidence, urgent) =
            vote.map_or(("-".to_string(), 0.0, 0.0), |v| (v.level.to_string(), v.confidence, v.urgent));
        out.push_str(&format!(
            "{want}\t{}\t{level}\t{confidence:.4}\t{urgent:.4}\t{words}\t{}\n",
            rules.level,
            text.replace('\t', " ")
        ));
    }
    std::fs::write("/tmp/h12f_cv_votes.tsv", out).unwrap();
}

/// Scratch: every development row's rules level and embedding, one per
/// line, for experiments with the head outside Rust.
#[test]
#[ignore]
fn dump_development_features() {
    use crate::agent::triage_model::built_in_rows;
    let model = crate::agent::local_model::get().unwrap();
    let mut out = String::new();
    for (kind, level, text) in built_in_rows() {
        let rules = Rules::rules_only(kind).classify_rules(text).level;
        let v: Vec<String> = model.embed(text).iter().map(|x| format!("{x:.5}")).collect();
        out.push_str(&format!("{kind}\t{level}\t{rules}\t{}\t{}\n", text.replace('\t', " "), v.join(",")));
    }
    std::fs::write("/tmp/h12_dev_features.tsv", out).unwrap();
    // The development conversations' openings, with the conversation's priority.
    let mut out = String::new();
    for file in ["dev", "heldout", "heldout_c", "heldout_d"] {
        let path = format!("{}/tests/data/{file}/conversations.json", env!("CARGO_MANIFEST_DIR"));
        let scripts: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        for c in scripts.as_array().unwrap() {
            let text = without_contact_details(c["opening"].as_str().unwrap());
            let level = c["expected"]["priority"].as_str().unwrap();
            let rules = Rules::rules_only(BusinessType::Plumbing).classify_rules(&text).level;
            let v: Vec<String> = model.embed(&text).iter().map(|x| format!("{x:.5}")).collect();
            out.push_str(&format!(
                "PLUMBING\t{level}\t{rules}\t{}\t{}\n",
                text.replace('\t', " "),
                v.join(",")
            ));
        }
    }
    std::fs::write("/tmp/h12_openings.tsv", out).unwrap();
}

/// The head's phrase cues read phrases a bag of words cannot: a danger shut
/// off or said to be safe, a past one, a figure of speech, one happening now.
#[test]
fn cues_tell_contained_and_past_from_happening_now() {
    let group = |name: &str| CUES.iter().position(|(n, _)| *n == name).unwrap();
    let (contained, past, figure, now, people) = (
        group("contained"),
        group("past or hypothetical"),
        group("figure of speech"),
        group("happening now"),
        group("people at risk"),
    );
    let c = cue_counts("we shut the water off and put a bucket under it, nobody's hurt");
    assert_eq!(c[contained], 2.0, "{c:?}");
    assert_eq!(c[now], 0.0, "{c:?}");
    let c = cue_counts("water is pouring through the ceiling right now and my grandma can't get out");
    assert_eq!((c[contained], c[now], c[people]), (0.0, 2.0, 1.0), "{c:?}");
    assert_eq!(cue_counts("the pipe burst two years ago, it's fixed")[past], 1.0);
    assert_eq!(cue_counts("¿qué pasa si algún día huele a gas?")[past], 2.0);
    assert_eq!(cue_counts("this listing is fire lol")[figure], 2.0);
    // Negated words are not cues of their own: "not freezing" is, "freezing" alone is not.
    assert_eq!(cue_counts("the house is freezing")[contained], 0.0);
    assert_eq!(cue_counts("it's not freezing yet")[contained], 1.0);
    // A negation before a cue cancels it in its clause, not after a comma.
    assert_eq!(cue_counts("the stain is not spreading")[now], 0.0);
    assert_eq!(cue_counts("no idea why, the stain is spreading")[now], 1.0);
    assert_eq!(cue_counts("nobody is trapped")[people], 0.0);
}

/// A temperature written as a number counts when it is dangerous to live
/// in, and more with someone at risk in it.
#[test]
fn cues_read_dangerous_temperatures() {
    let (temperature, at_risk) = (CUES.len(), CUES.len() + 1);
    let c = cue_counts("the cooling quit, it's 108 outside and my grandfather lives here");
    assert_eq!((c[temperature], c[at_risk]), (1.0, 1.0), "{c:?}");
    let c = cue_counts("the heat is off and it's 20 degrees, I have a newborn");
    assert_eq!((c[temperature], c[at_risk]), (1.0, 1.0), "{c:?}");
    assert_eq!(cue_counts("se fue la luz, hace 41 grados y mi abuela está sola")[at_risk], 1.0);
    assert_eq!(cue_counts("thermostat reads 72 degrees but the bedroom feels warm")[temperature], 0.0);
    assert_eq!(cue_counts("la recámara está a 27 grados")[temperature], 0.0);
    assert_eq!(cue_counts("the oven is stuck at 450 and my 3 year old is home")[temperature], 0.0);
    assert_eq!(cue_counts("come at 4 today, my 80 year old mother will let you in")[temperature], 0.0);
}

/// Sets F and G (development data since round seven), H (since round eight)
/// and I (since round nine): their misses with the committed head, each with the rules' level
/// and the head's P(URGENT), for reading failure classes. Once the head is
/// trained on a set these figures are in-sample; `development_sets` prints
/// their cross-validated ones:
///   cargo test --lib development_misses -- --ignored --nocapture
#[test]
#[ignore]
fn development_misses() {
    let sets = [
        ("F", include_str!("../../tests/data/heldout_f/triage.tsv")),
        ("G", include_str!("../../tests/data/heldout_g/triage.tsv")),
        ("H", include_str!("../../tests/data/heldout_h/triage.tsv")),
        ("I", include_str!("../../tests/data/heldout_i/triage.tsv")),
        ("J", include_str!("../../tests/data/heldout_j/triage.tsv")),
    ];
    for (set, tsv) in sets {
        let mut rows = Vec::new();
        let mut misses = Vec::new();
        for line in tsv.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let cols: Vec<&str> = line.split('\t').collect();
            let (kind, want, lang, text) =
                (BusinessType::parse(cols[0]).unwrap(), Priority::parse(cols[1]).unwrap(), cols[2], cols[3]);
            let rules = Rules::for_business(kind);
            let by_rules = rules.classify_rules(text).level;
            let got = rules.classify(text).level;
            if got != want {
                let p = crate::agent::triage_model::Classifier::for_business(kind, &[])
                    .vote(&without_contact_details(text), by_rules)
                    .map_or(-1.0, |v| v.urgent);
                misses.push(format!("want {want} got {got} rules {by_rules} p {p:.2} {kind} {lang}: {text}"));
            }
            rows.push((want, got, text));
        }
        let (table, _) = report(&rows);
        println!("set {set}: accuracy {:.3}\n{table}{}\n", accuracy(&rows), misses.join("\n"));
    }
}

#[test]
fn the_rules_read_no_email_address() {
    for kind in [BusinessType::Other, BusinessType::Plumbing, BusinessType::Hvac] {
        assert_eq!(level(kind, "the outlet sparks and smells like burning"), Priority::Urgent, "{kind:?}");
        assert_eq!(
            level(kind, "write to kim@sparkmail.example about a quote for a new kitchen outlet"),
            Priority::Normal,
            "{kind:?}"
        );
    }
}

/// Round eight's classes of failure (issue 12), each in words of its own:
/// dialect, a negated context, indirect emergencies, water held in an
/// appliance, Spanish breakdowns and burst pipes, deadlines days away, a
/// figure of speech.
#[test]
fn round_eight_rule_classes() {
    use BusinessType::{Hvac, Law, Other, Plumbing, RealEstate};
    // A dropped g is the word: "nothin' leakin'" negates as "nothing leaking".
    assert_eq!(level(Plumbing, "nothin' leakin', I just want a price on a new tank"), Normal);
    assert_eq!(level(Plumbing, "it's comin' through the hall ceiling from the bathroom"), Urgent);
    // A negated context does not cancel the rule it belongs to.
    assert_eq!(level(Hvac, "the co alarm is sounding and it is not the battery"), Urgent);
    assert_eq!(level(Hvac, "the co alarm needs a new battery"), Normal);
    // Indirect emergencies name no hazard word.
    let d = Rules::rules_only(Hvac).classify_rules("since the boiler came on we all have headaches");
    assert_eq!((d.level, d.hazard), (Urgent, Some(Co)));
    assert_eq!(level(Other, "my dad is stuck in the elevator between floors"), Urgent);
    assert_eq!(level(Other, "the tree came down and his leg is pinned under it"), Urgent);
    assert_eq!(level(RealEstate, "a man threatened the tenant with a knife"), Urgent);
    assert_eq!(level(Other, "someone tried to pry open the back window"), Urgent);
    assert_eq!(level(Other, "my son is locked in the bathroom and can't get out"), Urgent);
    // Locked out is for today; with a small child inside, an emergency.
    assert_eq!(level(Other, "locked out of the house, nobody home, need a locksmith today"), High);
    assert_eq!(level(Other, "locked out and my newborn is inside in her crib"), Urgent);
    // Water standing in an appliance is a drain problem.
    assert_eq!(level(Other, "dishwasher won't drain, two inches of water sitting in it"), High);
    // Spanish: something broken, and a pipe that broke.
    assert_eq!(level(Plumbing, "el fregadero no drena desde ayer"), High);
    assert_eq!(level(Hvac, "el año pasado se descompuso el aire, ya funciona"), Normal);
    assert_eq!(level(Plumbing, "se rompió un tubo y sale agua a chorros"), Urgent);
    // A deadline days away is time-sensitive, not an emergency.
    assert_eq!(level(Law, "the bank says it will garnish my wages in two weeks"), High);
    assert_eq!(level(Law, "I have to answer the complaint within 20 days"), High);
    assert_eq!(level(RealEstate, "closing is Wednesday and the appraisal is missing"), High);
    // A figure of speech.
    assert_eq!(level(RealEstate, "that kitchen is a dumpster fire, we would redo it"), Normal);
}

/// An age counts as someone at risk when very young or old, not a teenager
/// or an adult; a temperature read out that is uncomfortable, not dangerous,
/// counts as contained.
#[test]
fn cues_read_frail_ages_and_mild_temperatures() {
    let contained = CUES.iter().position(|(n, _)| *n == "contained").unwrap();
    assert_eq!(cue_counts("the boiler quit, it's about 61 degrees in the house")[contained], 1.0);
    assert_eq!(cue_counts("furnace is out and it's like sixty five inside")[contained], 1.0);
    assert_eq!(cue_counts("el aire no enfría, la sala está a 29 grados")[contained], 1.0);
    assert_eq!(cue_counts("the furnace is out and it's 38 degrees in here")[contained], 0.0);
    assert_eq!(cue_counts("we need the furnace looked at in 60 days")[contained], 0.0);
    let people = CUES.iter().position(|(n, _)| *n == "people at risk").unwrap();
    assert_eq!(cue_counts("my 82 year old dad is home by himself")[people], 1.0);
    assert_eq!(cue_counts("la casa es de mi papá de 90 años")[people], 1.0);
    assert_eq!(cue_counts("can my 17 year old sign the lease")[people], 0.0);
    assert_eq!(cue_counts("mi socio de 30 años quiere firmar")[people], 0.0);
}

/// Scratch: the rules' level of every built-in row (type,
/// wanted level, rules' level, text), for diffing a rule change in seconds
/// before the minutes of cross-validation:
///   cargo test --lib dump_rules_levels -- --ignored
#[test]
#[ignore]
fn dump_rules_levels() {
    use crate::agent::triage_model::built_in_rows;
    let rules: Vec<Rules> = BusinessType::ALL.iter().map(|k| Rules::rules_only(*k)).collect();
    let mut out = String::new();
    for (kind, want, text) in built_in_rows() {
        let i = BusinessType::ALL.iter().position(|k| *k == kind).unwrap_or(0);
        let got = rules[i].classify_rules(text).level;
        out.push_str(&format!("{kind}\t{want}\t{got}\t{}\n", text.replace('\t', " ")));
    }
    std::fs::write("/tmp/fa_rules_levels.tsv", out).unwrap();
}

/// Round nine's classes of failure (issue 12), each in words of its own:
/// a negation carried through a list, a danger long past, "no X problem",
/// a faucet dripping into its basin, a hidden leak, water running into the
/// building, downed lines, break-ins, keys inside, dead equipment, dated
/// legal and real-estate deadlines, court within the hour, wire fraud,
/// Spanish breakdowns and heating that shuts itself off.
#[test]
fn round_nine_rule_classes() {
    use BusinessType::{Hvac, Law, Other, Plumbing, RealEstate};
    let mut wrong = Vec::new();
    let mut check = |kind: BusinessType, text: &str, want: Priority| {
        let got = level(kind, text);
        if got != want {
            wrong.push(format!("want {want}, got {got}: {text}"));
        }
    };
    // A message that must not raise an alarm, whatever else it is.
    let mut false_alarms = Vec::new();
    let mut not_urgent = |kind: BusinessType, text: &str| {
        let got = level(kind, text);
        if got == Urgent {
            false_alarms.push(format!("want not Urgent, got {got}: {text}"));
        }
    };
    // A negation carries through "or" and Spanish "ni".
    check(Other, "the porch outlet stopped working, no smoke or flames or sparks", High);
    check(Other, "el enchufe del pasillo no funciona, no sale humo ni chispas", High);
    check(Other, "the outlet by the sink is sparking", Urgent);
    // A danger long past is not happening; one told as going on again is.
    check(Plumbing, "a pipe burst in our cellar three years ago, now we'd like the drains scoped", Normal);
    check(Plumbing, "back in 2016 the basement flooded, we want a backflow valve quoted", Normal);
    check(
        Other,
        "el año pasado hubo un incendio en la cocina, ya está reparado, queremos una revisión",
        Normal,
    );
    check(Plumbing, "the pipe that burst last winter burst again and water is everywhere", Urgent);
    check(Hvac, "no heat since last winter and it's freezing in here", Urgent);
    // A job the business already did is past; the same thing back again is not.
    check(Plumbing, "you guys fixed a burst pipe for us in March, now we want a softener quote", Normal);
    check(Plumbing, "nos arreglaron una fuga en mayo, ahora queremos un presupuesto", Normal);
    check(Plumbing, "you fixed the burst pipe but now water is pouring through the ceiling again", Urgent);
    // A problem denied is not the absence of heat.
    check(Hvac, "the blower hums a little, no heating issue at all, just curious", Normal);
    check(Hvac, "no heat in the whole house", Urgent);
    // A faucet dripping into its own basin is routine; a drip elsewhere is not.
    check(Plumbing, "the laundry tub faucet drips into the tub, whenever you're free", Normal);
    check(Plumbing, "el grifo de la cocina gotea un poco, cuando puedan", Normal);
    check(Plumbing, "the trap under the vanity drips onto the cabinet floor", High);
    // A hidden leak.
    check(Plumbing, "we hear hissing inside the wall behind the shower, nothing looks wet", High);
    check(Plumbing, "our water bill tripled and nobody is home more than usual", High);
    // Water running into the building, not into a bowl.
    check(Plumbing, "a split hose has water running down into the basement stairwell", Urgent);
    // A power line down, sagging or humming; a hypothetical one is not.
    check(Other, "a utility line is sagging onto our shed roof and humming", Urgent);
    check(Other, "hay un cable de alta tensión caído sobre la cerca del patio", Urgent);
    check(Other, "what if a power line ever falls on my car, who do I call", Normal);
    // A break-in, with the building left open; a key broken in a lock is not.
    check(Other, "somebody pried the warehouse door open overnight and it won't close", Urgent);
    check(Other, "forzaron la puerta del local y quedó abierta", Urgent);
    not_urgent(Other, "my key broke in the lock of the shed");
    // Keys inside: locked out; with a child inside, an emergency.
    check(Other, "the door shut behind me and my keys are inside", High);
    check(Other, "dejé las llaves adentro del carro, estoy en el súper", High);
    check(Other, "keys inside the car and my 2 year old is strapped in the back", Urgent);
    // Equipment a business runs on that died.
    check(Other, "the walk-in freezer at our cafe died overnight", High);
    check(Other, "se murió la heladera del negocio y está llena de mercadería", High);
    // A hearing or interview on a named day, a notice with days on it, a
    // license at stake, wages withheld: HIGH. Court within the hour: URGENT.
    check(Law, "my custody hearing is on Thursday and I have no attorney", High);
    check(Law, "the mediation got set for the 14th and I have nobody", High);
    check(Law, "tengo juicio el viernes y mi abogado renunció", High);
    check(Law, "the landlord handed me a notice to vacate, thirty days", High);
    check(Law, "the state board wants to revoke my contractor license", High);
    check(Law, "my employer hasn't paid us in a month and keeps stalling", High);
    check(Law, "mi jefe no me paga desde hace un mes", High);
    check(Law, "my ex took the kids to another state without my permission", High);
    check(Law, "my hearing starts in 45 minutes and my lawyer is not here", Urgent);
    check(Law, "la audiencia es en una hora y no tengo abogado", Urgent);
    // Dates that run out: HIGH, unless months or years away.
    check(RealEstate, "our financing commitment expires on the 3rd", High);
    check(RealEstate, "la reserva de la tasa vence el lunes", High);
    check(Law, "my passport expires in 3 years, can you help me renew it", Normal);
    check(RealEstate, "the open house starts in two hours and the lockbox is jammed", High);
    // Money sent to a thief: URGENT; asking how to avoid it: routine.
    check(RealEstate, "someone hacked my email and the deposit was sent to their account", Urgent);
    check(RealEstate, "the title company says the payoff account changed by email this morning", Urgent);
    check(RealEstate, "el correo con la cuenta para la transferencia cambió, creo que es estafa", Urgent);
    check(RealEstate, "how do we avoid wire fraud when we buy?", Normal);
    // Spanish breakdowns; heating that shuts itself off is a repair for today.
    check(Hvac, "el aire de la oficina no enfría", High);
    check(Hvac, "dejó de funcionar el minisplit del cuarto", High);
    check(Hvac, "la caldera se apaga sola a cada rato", High);
    check(Hvac, "the boiler keeps shutting off every hour, we're warm enough", High);
    check(Hvac, "the heat is off and my 85 year old dad lives alone there", Urgent);
    not_urgent(Hvac, "the heat is off but it is not freezing, no rush");
    check(Hvac, "the AC makes a really loud rattling noise", High);
    // Wiring heating up, someone shocked by a live part.
    check(Hvac, "there's a hot electrical smell from the return vent", Urgent);
    check(Other, "my helper just got shocked by the shop vac cord and his hand is tingling", Urgent);
    not_urgent(Other, "I was shocked by the price of the last quote");
    // Someone shut inside; keys locked inside are not a person.
    check(Other, "our stock boy got stuck inside the cold room and the handle is broken", Urgent);
    not_urgent(Other, "my keys are locked inside the truck at the depot");
    // Equipment stuck or not kicking on.
    check(Hvac, "the heat pump is stuck in defrost mode", High);
    check(Hvac, "the condenser won't kick on this afternoon", High);
    // An auction on a named day; wages withheld for months goes on.
    check(RealEstate, "the auction's on Friday and the title search isn't back", High);
    check(Law, "no me pagan hace tres meses y el dueño no contesta", High);
    check(Plumbing, "hace dos años se inundó el sótano, queremos revisar el drenaje", Normal);
    wrong.extend(false_alarms);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A day of the month written as an ordinal is a date (`nnnth`).
#[test]
fn ordinals_are_dates() {
    use crate::agent::phrases::word_matches;
    let alts = vec![("nnnth".to_string(), false)];
    for word in ["1st", "2nd", "3rd", "20th", "31st"] {
        assert!(word_matches(&alts, word), "{word}");
    }
    for word in ["20", "th", "4x4", "2ndary"] {
        assert!(!word_matches(&alts, word), "{word}");
    }
}

/// Round ten's classes (issue 12), in words of their own: a danger denied
/// after it is named (Spanish word order), and water standing in a fixture
/// that will not drain.
#[test]
fn round_ten_rule_classes() {
    use BusinessType::{Hvac, Plumbing};
    // Denied right after it is named: not happening.
    assert_eq!(level(Hvac, "la caldera no enciende desde ayer, olor a gas no hay"), High);
    assert_eq!(level(Plumbing, "el termo no calienta; olor a gas, ninguno"), High);
    // Not a denial: the "no hay" is about someone else.
    assert_eq!(level(Plumbing, "huele a gas en la cocina y no hay nadie en casa"), Urgent);
    assert_eq!(level(Plumbing, "olor a gas fuerte, no hay luz en el pasillo"), Urgent);
    // Standing water in a fixture that won't drain is a drain problem.
    assert_eq!(level(Plumbing, "the stall shower won't drain, two inches of water sit in it"), High);
    assert_eq!(level(Plumbing, "la ducha no drena y hay agua estancada de una pulgada"), High);
    // Water on the floor is still a flood.
    assert_eq!(
        level(Plumbing, "the shower won't drain. Now water is pouring onto the hallway floor"),
        Urgent
    );
    assert_eq!(level(Plumbing, "two inches of water on the basement floor"), Urgent);
}

/// The nearest example behind a classifier's decision stays out of logs; the
/// rules' names are kept.
#[test]
fn logged_reasons_leave_out_the_nearest_example() {
    let reasons = vec![
        Reason::Rule("pipe burst".into()),
        Reason::Like("my tenant Ana at 4 Elm St says water is everywhere".into()),
    ];
    let logged = reasons_for_log(&reasons);
    assert_eq!(logged, ["pipe burst", "like a labelled example"]);
    assert!(!format!("{logged:?}").contains("Elm"));
}

/// Reasons are stored (sessions, the lead's `emergency_reasons`) and shown
/// as the strings they always were: a rule's name, `like "<example>"`.
#[test]
fn reasons_keep_their_stored_strings() {
    let reasons =
        vec![Reason::Rule("water + pour + ceiling".into()), Reason::Like("the pipe \"burst\"".into())];
    let stored = serde_json::to_string(&reasons).unwrap();
    assert_eq!(stored, r#"["water + pour + ceiling","like \"the pipe \"burst\"\""]"#);
    assert_eq!(serde_json::from_str::<Vec<Reason>>(&stored).unwrap(), reasons);
    assert_eq!(joined(&reasons), r#"water + pour + ceiling, like "the pipe "burst"""#);
    // A session stored before reasons were typed reads back the same.
    let old = r#"["burst pipe","like \"water everywhere\""]"#;
    let read: Vec<Reason> = serde_json::from_str(old).unwrap();
    assert_eq!(read, [Reason::Rule("burst pipe".into()), Reason::Like("water everywhere".into())]);
    assert_eq!(serde_json::to_string(&read).unwrap(), old);
}
