//! Business files: the demo parses, round trips, and every bad value is
//! reported with its line.

use super::*;

const MINIMAL: &str = "[business]\nname = \"Rivera Law\"\nbusiness_type = \"law\"\n";

#[test]
fn the_demo_file_parses() {
    let demo = include_str!("../assets/demo/acme-plumbing.toml");
    let bundle = parse_bundle(demo).unwrap();
    assert_eq!(bundle.business.business_type, BusinessType::Plumbing);
    assert!(bundle.questions.len() >= 4);
    assert!(bundle.questions.iter().any(|q| q.is_essential_for_emergency));
    assert!(bundle.knowledge.len() >= 5);
    assert!(bundle.business.twilio_phone_number.as_deref().is_some_and(|n| n.starts_with('+')));
}

#[test]
fn minimal_files_take_defaults() {
    let b = parse_bundle(MINIMAL).unwrap();
    assert_eq!(b.business.name, "Rivera Law");
    assert_eq!(b.business.business_type, BusinessType::Law);
    assert_eq!(b.business.plan_tier, PlanTier::Free);
    assert_eq!(b.business.country, "US");
    assert_eq!(b.agent, AgentConfig::default());
    assert!(b.questions.is_empty() && b.knowledge.is_empty());
}

#[test]
fn round_trip() {
    let demo = parse_bundle(include_str!("../assets/demo/acme-plumbing.toml")).unwrap();
    let text = render_bundle(&demo);
    assert_eq!(parse_bundle(&text).unwrap(), demo, "{text}");
    let minimal = parse_bundle(MINIMAL).unwrap();
    assert_eq!(parse_bundle(&render_bundle(&minimal)).unwrap(), minimal);
}

#[test]
fn phones_are_normalised_with_the_country() {
    let text = "[business]\nname = \"X\"\ncountry = \"gb\"\ntwilio_phone_number = \"020 7946 0958\"\n\
                website_origins = [\"https://x.example/\"]\n";
    let b = parse_bundle(text).unwrap();
    assert_eq!(b.business.country, "GB");
    assert_eq!(b.business.twilio_phone_number.as_deref(), Some("+442079460958"));
    assert_eq!(b.business.website_origins, ["https://x.example"]);
}

#[test]
fn every_problem_is_reported_with_its_line() {
    let text = r#"[business]
name = "  "
business_type = "BAKERY"
notification_email = "bob@"
twilio_phone_number = "12"
website_origins = ["https://x.example/path"]
colour = "red"

[agent]
color_theme = { primary = "blue" }

[[questions]]
question_text = "Name?"
expected_format = "SMS"

[[questions]]
question_text = "Phone?"
order = 1

[[knowledge]]
title = "Hours"
"#;
    let errors = parse_bundle(text).unwrap_err();
    let found: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
    for expected in [
        (2, "business.name"),
        (3, "business.business_type"),
        (4, "business.notification_email"),
        (5, "business.twilio_phone_number"),
        (6, "business.website_origins[0]"),
        (7, "business.colour"),
        (10, "agent.color_theme.primary"),
        (14, "questions[1].expected_format"),
        (16, "questions[2].order"),
        (20, "knowledge[1].content"),
    ] {
        assert!(found.contains(&expected), "missing {expected:?} in {errors:#?}");
    }
    assert!(errors.windows(2).all(|w| w[0].line <= w[1].line), "sorted by line");
    let shown = errors.iter().find(|e| e.field == "business.business_type").unwrap().to_string();
    assert_eq!(
        shown,
        "line 3: business.business_type: expected REAL_ESTATE, LAW, HVAC, PLUMBING or OTHER, got 'BAKERY'"
    );
}

#[test]
fn syntax_errors_and_missing_sections() {
    let errors = parse_bundle("[business]\nname = \"Unclosed\n").unwrap_err();
    assert_eq!(errors[0].line, 2, "{errors:?}");
    assert!(errors[0].message.starts_with("invalid TOML"));
    let errors = parse_bundle("[agent]\nagent_name = \"A\"\n").unwrap_err();
    assert_eq!(errors[0].field, "business");
    let errors = parse_bundle("[business]\nbusiness_type = \"LAW\"\n").unwrap_err();
    assert_eq!((errors[0].line, errors[0].field.as_str()), (1, "business.name"));
}

#[test]
fn emergency_rules_round_trip() {
    let text = "[business]\nname = \"X\"\n\n[emergency_rules]\nurgent = [\"septic alarm\"]\nhigh = [\"slow drain\"]\n\
                remove = [\"no hot water\"]\n";
    let b = parse_bundle(text).unwrap();
    assert_eq!(
        b.emergency_rules.add,
        [(Priority::Urgent, "septic alarm".into()), (Priority::High, "slow drain".into())]
    );
    assert_eq!(b.emergency_rules.remove, ["no hot water"]);
    assert_eq!(parse_bundle(&render_bundle(&b)).unwrap(), b);
    let errors =
        parse_bundle("[business]\nname = \"X\"\n[emergency_rules]\nurgent = [\"\", 3]\nsevere = []\n")
            .unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["emergency_rules.urgent[0]", "emergency_rules.urgent[1]", "emergency_rules.severe"]);
}
