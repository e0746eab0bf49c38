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
        (18, "questions[2].order"),
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
fn the_glossary_round_trips_and_bad_entries_are_named() {
    let text = "[business]\nname = \"Cool Air\"\nbusiness_type = \"HVAC\"\n\n[glossary]\n\
                \"no heat\" = \"Furnace  Repair\"\nmini-split = \"ductless\"\n";
    let b = parse_bundle(text).unwrap();
    assert_eq!(
        b.glossary,
        [
            Gloss { phrase: "mini-split".into(), words: "ductless".into() },
            Gloss { phrase: "no heat".into(), words: "furnace repair".into() },
        ],
        "normalised, in order of phrase"
    );
    assert_eq!(parse_bundle(&render_bundle(&b)).unwrap(), b);
    // The demo's own glossary is its business's, exported with it.
    let demo = parse_bundle(include_str!("../assets/demo/acme-plumbing.toml")).unwrap();
    assert!(demo.glossary.iter().any(|g| g.phrase == "be home" && g.words == "adult home"));
    assert!(render_bundle(&demo).contains("\"be home\" = \"adult home\""));

    let long = "x".repeat(validate::MAX_GLOSS_PHRASE + 1);
    let bad =
        format!("[business]\nname = \"X\"\n[glossary]\n\"\" = \"adult\"\nok = \"\"\nn = 3\n{long} = \"y\"\n");
    let errors = parse_bundle(&bad).unwrap_err();
    let got: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
    let long_field = format!("glossary.{long:?}");
    assert_eq!(
        got,
        [(4, "glossary.\"\""), (5, "glossary.\"ok\""), (6, "glossary.\"n\""), (7, long_field.as_str())],
        "{errors:?}"
    );
    assert!(errors[0].message.contains("phrase is empty") && errors[3].message.contains("too long"));
    let many: String = (0..=validate::MAX_GLOSSES).map(|i| format!("w{i} = \"x\"\n")).collect();
    let errors = parse_bundle(&format!("[business]\nname = \"X\"\n[glossary]\n{many}")).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].field == "glossary" && errors[0].message.contains("too many entries"), "{errors:?}");
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

#[test]
fn a_knowledge_only_bundle_is_a_file_of_a_name_a_type_and_documents() {
    let text = format!(
        "{MINIMAL}[[knowledge]]\ntitle = \"Fees\"\ncontent = \"A first meeting is free.\"\n\
         [[knowledge]]\ntitle = \"Hours\"\ncontent = \"Weekdays only.\"\nsource_url = \"https://law.example/hours\"\n"
    );
    let docs = vec![
        KnowledgeDoc { title: "Fees".into(), content: "A first meeting is free.".into(), source_url: None },
        KnowledgeDoc {
            title: "Hours".into(),
            content: "Weekdays only.".into(),
            source_url: Some("https://law.example/hours".into()),
        },
    ];
    let bundle = BusinessBundle::with_knowledge("Rivera Law", BusinessType::Law, docs);
    assert_eq!(parse_bundle(&text).unwrap(), bundle);
    assert_eq!(parse_bundle(&render_bundle(&bundle)).unwrap(), bundle);
}

#[test]
fn round_trip_keeps_awkward_text() {
    let mut b = parse_bundle(MINIMAL).unwrap();
    b.business.website_origins = vec!["https://a.example".into(), "http://localhost:8080".into()];
    b.business.notification_email = Some("o'brien@law.example".into());
    b.agent.persona_prompt = "Line one.\nLine two has \"\"\" and ''' in it.\\".into();
    b.agent.voice_end_call_message = Some("Bye — ¡adiós!".into());
    b.agent.voice_mode = crate::domain::VoiceMode::Gather;
    b.agent.realtime_voice = "cedar".into();
    b.business.notification_webhook_url = Some("https://hooks.example.com/fd?key=a&b=1".into());
    b.agent.color_theme.insert("accent_2".into(), "#abc".into());
    b.questions = crate::domain::starter_questions();
    b.questions[1].maps_to_lead_field = None;
    b.knowledge.push(KnowledgeDoc {
        title: "Quotes \"q\" \\ '''".into(),
        content: "a\n\"\"\"\nb '''\\\n\ttab\r\nend \\".into(),
        source_url: Some("https://law.example/fees?x=1".into()),
    });
    let text = render_bundle(&b);
    assert!(text.starts_with("# frontdesk business file — import with `frontdesk business import FILE`\n"));
    assert_eq!(text.matches("order = ").count(), 4, "orders are written out: {text}");
    assert_eq!(parse_bundle(&text).unwrap(), b, "{text}");
}

#[test]
fn values_are_normalised() {
    let text = "[business]\nname = \"  Padded  \"\nbusiness_type = \"real_estate\"\nplan_tier = \"Basic\"\n\
                notification_email = \"\"\n\n[agent]\nvoice_greeting_message = \"\"\n\n\
                [[questions]]\nquestion_text = \"Second\"\norder = 2\nexpected_format = \"email\"\n\n\
                [[questions]]\nquestion_text = \"First\"\norder = 1\n";
    let b = parse_bundle(text).unwrap();
    assert_eq!(b.business.name, "Padded");
    assert_eq!((b.business.business_type, b.business.plan_tier), (BusinessType::RealEstate, PlanTier::Basic));
    assert_eq!(b.business.notification_email, None);
    assert_eq!(b.agent.voice_greeting_message, None);
    let texts: Vec<&str> = b.questions.iter().map(|q| q.question_text.as_str()).collect();
    assert_eq!(texts, ["First", "Second"], "sorted by order");
    assert_eq!(b.questions[1].expected_format, ExpectedFormat::Email);
    assert!(b.questions[0].is_required && !b.questions[0].is_essential_for_emergency);
}

/// Each case: a file, then the line and field it must report and a piece of the message.
// A table of cases: long because of the data.
#[test]
fn each_bad_value_names_its_line_and_field() {
    let head = "[business]\nname = \"X\"\n";
    let long = "n".repeat(81);
    let cases: Vec<(String, usize, &str, &str)> = vec![
        (format!("{head}country = \"XX\"\n"), 3, "business.country", "two-letter"),
        (format!("{head}timezone = \"Mars Time\"\n"), 3, "business.timezone", "America/Chicago"),
        (
            format!("{head}website_origins = [\"ftp://x.example\"]\n"),
            3,
            "business.website_origins[0]",
            "origin",
        ),
        (format!("{head}website_origins = \"https://x.example\"\n"), 3, "business.website_origins", "list"),
        (
            format!("{head}notification_phone_number = \"+1 555\"\n"),
            3,
            "business.notification_phone_number",
            "phone",
        ),
        (format!("{head}plan_tier = 3\n"), 3, "business.plan_tier", "expected a string"),
        ("[business]\nname = 3\n".into(), 2, "business.name", "expected a string"),
        (format!("{head}[agent]\nagent_name = \"{long}\"\n"), 4, "agent.agent_name", "too long"),
        (format!("{head}[agent]\nwelcome_message = \" \"\n"), 4, "agent.welcome_message", "empty"),
        (format!("{head}[agent]\ntwilio_language = \"english\"\n"), 4, "agent.twilio_language", "en-US"),
        (
            format!("{head}[agent]\ncolor_theme = {{ Primary = \"#fff\" }}\n"),
            4,
            "agent.color_theme.Primary",
            "snake_case",
        ),
        (
            format!("{head}[agent]\ncolor_theme = {{ primary = \"#ggg\" }}\n"),
            4,
            "agent.color_theme.primary",
            "colour",
        ),
        (format!("{head}[agent]\ncolor_theme = \"blue\"\n"), 4, "agent.color_theme", "table"),
        (format!("{head}[agent]\ntone = \"warm\"\n"), 4, "agent.tone", "unknown key"),
        (
            format!("{head}[agent]\nvoice_mode = \"stream\"\n"),
            4,
            "agent.voice_mode",
            "auto, realtime or gather",
        ),
        (format!("{head}[agent]\nrealtime_voice = \"joanna\"\n"), 4, "agent.realtime_voice", "marin"),
        (
            format!("{head}notification_webhook_url = \"ftp://crm.example\"\n"),
            3,
            "business.notification_webhook_url",
            "http(s) URL",
        ),
        (
            format!("{head}[[questions]]\nquestion_text = \"Q\"\nmaps_to_lead_field = \"Lead Name\"\n"),
            5,
            "questions[1].maps_to_lead_field",
            "snake_case",
        ),
        (
            format!("{head}[[questions]]\nquestion_text = \"Q\"\nis_required = \"yes\"\n"),
            5,
            "questions[1].is_required",
            "true or false",
        ),
        (
            format!("{head}[[questions]]\nquestion_text = \"Q\"\norder = 0\n"),
            5,
            "questions[1].order",
            "whole number",
        ),
        (
            format!("{head}[[questions]]\nexpected_format = \"TEXT\"\n"),
            3,
            "questions[1].question_text",
            "required",
        ),
        (
            format!("{head}[[knowledge]]\ntitle = \"T\"\ncontent = \"C\"\nsource_url = \"file:///etc\"\n"),
            6,
            "knowledge[1].source_url",
            "http(s)",
        ),
        (
            format!("{head}[[knowledge]]\ntitle = \"T\"\ncontent = \"C\"\nurl = \"https://x.example\"\n"),
            6,
            "knowledge[1].url",
            "unknown key",
        ),
        (format!("{head}\n[owner]\nemail = \"a@b.example\"\n"), 4, "owner", "unknown key"),
        (format!("{head}business = 1\n"), 3, "business.business", "unknown key"),
    ];
    for (text, line, field, message) in cases {
        let errors = parse_bundle(&text).unwrap_err();
        assert_eq!(errors.len(), 1, "{text}\n{errors:#?}");
        let e = &errors[0];
        assert_eq!((e.line, e.field.as_str()), (line, field), "{text}\n{e}");
        assert!(e.message.contains(message), "{e}");
    }
}

#[test]
fn the_email_error_reads_as_documented() {
    let text = format!("{}[business]\nname = \"X\"\nnotification_email = \"bob@\"\n", "\n".repeat(9));
    let errors = parse_bundle(&text).unwrap_err();
    assert_eq!(errors[0].to_string(), "line 12: business.notification_email: not an email address: 'bob@'");
}

#[test]
fn knowledge_content_is_limited_in_bytes() {
    // 400,000 three-byte characters: under the character count, over the byte limit.
    let text = format!(
        "[business]\nname = \"X\"\n[[knowledge]]\ntitle = \"Big\"\ncontent = \"{}\"\n",
        "€".repeat(400_000)
    );
    let errors = parse_bundle(&text).unwrap_err();
    assert_eq!((errors[0].line, errors[0].field.as_str()), (5, "knowledge[1].content"));
    assert!(errors[0].message.contains("bytes"));
}

#[test]
fn duplicate_orders() {
    // Explicit: reported on the duplicate's `order` line.
    let text = "[business]\nname = \"X\"\n[[questions]]\nquestion_text = \"A\"\norder = 2\n\
                [[questions]]\nquestion_text = \"B\"\norder = 2\n";
    let errors = parse_bundle(text).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!((errors[0].line, errors[0].field.as_str()), (8, "questions[2].order"));
    assert!(errors[0].message.contains("questions[1]"));
    // Implicit (the position): reported on the table's line.
    let text = "[business]\nname = \"X\"\n[[questions]]\nquestion_text = \"A\"\norder = 2\n\
                [[questions]]\nquestion_text = \"B\"\n";
    let errors = parse_bundle(text).unwrap_err();
    assert_eq!((errors[0].line, errors[0].field.as_str()), (6, "questions[2].order"));
    // A bad order is one error, not also a clash with another question's position.
    let text = "[business]\nname = \"X\"\n[[questions]]\nquestion_text = \"A\"\n\
                [[questions]]\nquestion_text = \"B\"\norder = -1\n";
    assert_eq!(parse_bundle(text).unwrap_err().len(), 1);
}

#[test]
fn every_syntax_error_is_reported_once_per_line() {
    let errors = parse_bundle("[business]\nname = \"X\"\nx = = 3\ny = 'open\n").unwrap_err();
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [3, 4], "{errors:#?}");
    assert!(errors.iter().all(|e| e.field == "file" && e.message.starts_with("invalid TOML")));
    let errors = parse_bundle("[business]\nname = \"X\"\n\n[business]\nplan_tier = \"PRO\"\n").unwrap_err();
    assert_eq!(errors[0].line, 4, "duplicate table: {errors:?}");
}

#[test]
fn notification_preferences_round_trip_and_bad_values_are_named() {
    let text =
        "[business]\nname = \"X\"\n\n[notifications]\nnew_lead = [\"webhook\", \"EMAIL\"]\ncall_ended = []\n\
                digest = false\ndigest_hour = 7\n";
    let b = parse_bundle(text).unwrap();
    assert_eq!(b.notifications.new_lead, [NotifyChannel::Webhook, NotifyChannel::Email]);
    assert!(b.notifications.call_ended.is_empty());
    assert!(!b.notifications.digest);
    assert_eq!(b.notifications.digest_hour, Some(7));
    assert_eq!(parse_bundle(&render_bundle(&b)).unwrap(), b);
    assert_eq!(parse_bundle(MINIMAL).unwrap().notifications, NotificationPrefs::default());

    let errors = parse_bundle(
        "[business]\nname = \"X\"\n[notifications]\nnew_lead = [\"fax\", \"sms\", \"sms\"]\ndigest = \"yes\"\n\
         digest_hour = 24\nquiet = true\n",
    )
    .unwrap_err();
    let found: Vec<(usize, &str)> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
    assert_eq!(
        found,
        [
            (4, "notifications.new_lead[0]"),
            (4, "notifications.new_lead[2]"),
            (5, "notifications.digest"),
            (6, "notifications.digest_hour"),
            (7, "notifications.quiet")
        ],
        "{errors:?}"
    );
    assert!(errors[0].message.contains("email, sms, voice_call or webhook"), "{}", errors[0]);
}

/// A business file with these `[[knowledge]]` entries, parsed from `dir`.
fn with_knowledge(dir: &Path, entries: &str) -> Result<BusinessBundle, Vec<ImportError>> {
    parse_bundle_at(&format!("{MINIMAL}\n{entries}"), dir)
}

#[test]
fn knowledge_files_are_read_relative_to_the_business_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("docs")).unwrap();
    std::fs::write(dir.path().join("docs/faq.md"), "## Parking\n\nPark behind the bakery on Elm Street.\n")
        .unwrap();
    std::fs::write(
        dir.path().join("about.html"),
        "<html><head><title>About Rivera</title></head><body><p>Founded in 1998 by Ana Rivera.</p></body></html>",
    )
    .unwrap();
    let b = with_knowledge(
        dir.path(),
        "[[knowledge]]\nfile = \"docs/faq.md\"\n\n[[knowledge]]\ntitle = \"Our story\"\nfile = \"about.html\"\n\
         source_url = \"https://rivera.example/about\"\n\n[[knowledge]]\ntitle = \"Fees\"\ncontent = \"Free first call.\"\n",
    )
    .unwrap();
    let docs: Vec<(&str, &str)> =
        b.knowledge.iter().map(|k| (k.title.as_str(), k.content.as_str())).collect();
    assert_eq!(docs[0].0, "faq", "no title: the file name's stem");
    assert!(docs[0].1.contains("## Parking") && docs[0].1.contains("Elm Street"), "{docs:?}");
    assert_eq!(docs[1].0, "Our story", "the entry's title wins over the document's");
    assert!(docs[1].1.contains("Founded in 1998"), "{docs:?}");
    assert_eq!(b.knowledge[1].source_url.as_deref(), Some("https://rivera.example/about"));
    assert_eq!(docs[2], ("Fees", "Free first call."));
    // An export holds the text, and reads back without the files.
    assert_eq!(parse_bundle(&render_bundle(&b)).unwrap(), b);
}

#[test]
fn bad_knowledge_files_name_the_entry_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("blank.txt"), "  \n\n").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "Open Monday to Friday.").unwrap();
    std::fs::write(dir.path().join("huge.txt"), vec![b'a'; crate::import::extract::MAX_FILE_BYTES + 1])
        .unwrap();
    let cases = [
        ("file = \"gone.pdf\"", "knowledge[1].file", "gone.pdf"),
        ("file = \"tool.exe\"", "knowledge[1].file", "tool.exe"),
        ("file = \"blank.txt\"", "knowledge[1].file", "blank.txt"),
        ("file = \"huge.txt\"", "knowledge[1].file", "larger than 10 MB"),
        ("file = \"notes.txt\"\ncontent = \"x\"", "knowledge[1].file", "not both"),
        ("title = \"Nothing\"", "knowledge[1].content", "is required"),
        ("file = 3", "knowledge[1].file", "expected a string"),
    ];
    for (entry, field, words) in cases {
        let errors = with_knowledge(dir.path(), &format!("[[knowledge]]\n{entry}\n")).unwrap_err();
        assert_eq!(errors.len(), 1, "{entry}: {errors:?}");
        assert_eq!(errors[0].field, field, "{entry}");
        assert!(errors[0].message.contains(words), "{entry}: {}", errors[0]);
    }
    // Text that is not a file on disk (the embedded demo) cannot name files.
    let errors = parse_bundle(&format!("{MINIMAL}\n[[knowledge]]\nfile = \"notes.txt\"\n")).unwrap_err();
    assert_eq!(errors[0].field, "knowledge[1].file");
}
