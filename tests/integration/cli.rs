//! init, business, user, migrate and version, through the real binary.

use crate::support::instance::*;

#[test]
fn scripted_init_creates_business_owner_and_secret_once() {
    let fd = Instance::new();
    let args = [
        "init",
        "--business-name",
        "Rivera Law",
        "--business-type",
        "law",
        "--plan",
        "BASIC",
        "--owner-email",
        "dana@rivera-law.example",
        "--password-stdin",
    ];
    let out = fd.run_with_stdin(&args, &format!("{PASSWORD}\n"));
    assert_success(&out, &args);
    let id = stdout(&out).trim().to_string();
    assert_eq!(id.len(), 32, "prints the business id: {id}");
    let list = fd.businesses();
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["name"], "Rivera Law");
    assert_eq!(list[0]["business_type"], "LAW");
    assert_eq!(list[0]["plan_tier"], "BASIC");
    assert_eq!(list[0]["users"], 1);
    assert!(list[0]["questions"].as_u64().unwrap() >= 3, "starter questions");
    assert!(fd.data_dir().join("jwt_secret").exists());

    // A second init refuses and changes nothing.
    let again = fd.run_with_stdin(&args, &format!("{PASSWORD}\n"));
    assert!(!again.status.success());
    assert!(stderr(&again).contains("already initialised"), "{}", stderr(&again));
    assert_eq!(fd.businesses().as_array().unwrap().len(), 1);
}

#[test]
fn init_validates_before_writing() {
    let fd = Instance::new();
    let cases: [(&[&str], &str, &str); 4] = [
        (&["init", "--business-name", "X", "--owner-email", "nope", "--password-stdin"], PASSWORD, "--email"),
        (
            &[
                "init",
                "--business-name",
                "X",
                "--business-type",
                "BAKERY",
                "--owner-email",
                "a@b.example",
                "--password-stdin",
            ],
            PASSWORD,
            "--business-type",
        ),
        (
            &["init", "--business-name", "X", "--owner-email", "a@b.example", "--password-stdin"],
            "short",
            "at least",
        ),
        (&["init", "--owner-email", "a@b.example", "--password-stdin"], PASSWORD, "--business-name"),
    ];
    for (args, password, expected) in cases {
        let out = fd.run_with_stdin(args, &format!("{password}\n"));
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(fd.businesses().as_array().unwrap().len(), 0, "nothing was written");
}

/// `init --from-file` reads `[[knowledge]] file` entries beside the file.
#[test]
fn init_from_a_file_reads_its_knowledge_files() {
    let fd = Instance::new();
    let dir = fd.dir.path().join("biz");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("parking.md"), "## Parking\n\nPark behind the bakery on Elm Street.\n").unwrap();
    let file = dir.join("business.toml");
    std::fs::write(
        &file,
        "[business]\nname = \"Rivera Law\"\nbusiness_type = \"LAW\"\n\n[[knowledge]]\nfile = \"parking.md\"\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let args = ["init", "--from-file", path, "--owner-email", "ana@rivera.example", "--password-stdin"];
    assert_success(&fd.run_with_stdin(&args, &format!("{PASSWORD}\n")), &args);
    let id = fd.businesses()[0]["id"].as_str().unwrap().to_string();
    let exported = fd.ok(&["business", "export", &id]);
    assert!(exported.contains("title = \"parking\"") && exported.contains("Elm Street"), "{exported}");
}

#[test]
fn init_from_the_demo_file_and_serve_demo() {
    let fd = Instance::new();
    let args = ["init", "--demo", "--owner-email", "owner@acme.example", "--password-stdin"];
    assert_success(&fd.run_with_stdin(&args, &format!("{PASSWORD}\n")), &args);
    assert_eq!(fd.businesses()[0]["business_type"], "PLUMBING");

    // serve --demo on an empty database loads the demo business.
    let empty = Instance::new();
    let server = empty.serve(&["--demo"]);
    assert!(
        server.stdout_lines.iter().any(|l| l.starts_with("demo business loaded")),
        "{:?}",
        server.stdout_lines
    );
    drop(server);
    assert_eq!(empty.businesses()[0]["name"], fd.businesses()[0]["name"]);
}

#[test]
fn import_is_idempotent_and_export_round_trips() {
    let fd = Instance::new();
    let id = fd.import_demo();
    let again = fd.import_demo();
    assert_eq!(id, again, "re-import updates the same business");
    assert_eq!(fd.businesses().as_array().unwrap().len(), 1);

    let exported = fd.ok(&["business", "export", &id]);
    // The business's own glossary goes with it.
    assert!(
        exported.contains("[glossary]") && exported.contains("\"be home\" = \"adult home\""),
        "{exported}"
    );
    let file = fd.dir.path().join("exported.toml");
    std::fs::write(&file, format!("{exported}\n")).unwrap();
    // Importing the export changes nothing: same id, same export.
    assert_eq!(fd.ok(&["business", "import", file.to_str().unwrap()]), id);
    assert_eq!(fd.ok(&["business", "export", &id]), exported);

    let list = fd.businesses();
    assert_eq!(list[0]["twilio_phone_number"], "+13125550100");
    assert!(list[0]["knowledge_docs"].as_u64().unwrap() >= 5);
}

#[test]
fn bad_import_files_report_lines_and_change_nothing() {
    let fd = Instance::new();
    let id = fd.import_demo();
    let before = fd.ok(&["business", "export", &id]);

    let bad = fd.dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[business]\nname = \"Acme Plumbing & Drain\"\nbusiness_type = \"BAKERY\"\n\
         notification_email = \"bob@\"\ntwilio_phone_number = \"+15005550006\"\n\n\
         [[questions]]\nquestion_text = \"Name?\"\nexpected_format = \"SMS\"\nfavourite = 1\n",
    )
    .unwrap();
    let out = fd.run(&["business", "import", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    for expected in
        ["bad.toml:line 3", "business_type", "line 4", "notification_email", "line 9", "expected_format"]
    {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert!(err.contains("nothing was imported"), "{err}");
    assert_eq!(fd.ok(&["business", "export", &id]), before, "stored data unchanged");

    // A syntax error names its line too.
    std::fs::write(&bad, "[business]\nname = \"Unclosed\n").unwrap();
    let out = fd.run(&["business", "import", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));
    assert_eq!(fd.ok(&["business", "export", &id]), before);
}

#[test]
fn users_and_plans() {
    let fd = Instance::new();
    let id = fd.import_demo();
    let add = [
        "user",
        "add",
        "--email",
        "tech@acme.example",
        "--business",
        &id,
        "--role",
        "staff",
        "--password-stdin",
    ];
    assert_success(&fd.run_with_stdin(&add, &format!("{PASSWORD}\n")), &add);
    // Same email twice is refused.
    let dup = fd.run_with_stdin(&add, &format!("{PASSWORD}\n"));
    assert!(!dup.status.success() && stderr(&dup).contains("already exists"), "{}", stderr(&dup));
    // Operators belong to no business; owners need one.
    let op = fd.run_with_stdin(
        &[
            "user",
            "add",
            "--email",
            "msp@it.example",
            "--business",
            &id,
            "--role",
            "operator",
            "--password-stdin",
        ],
        PASSWORD,
    );
    assert!(stderr(&op).contains("--business"), "{}", stderr(&op));
    let unknown = fd.run_with_stdin(
        &["user", "add", "--email", "x@y.example", "--business", "nope", "--password-stdin"],
        PASSWORD,
    );
    assert!(stderr(&unknown).contains("business nope not found"), "{}", stderr(&unknown));
    let op = ["user", "add", "--email", "msp@it.example", "--role", "operator", "--password-stdin"];
    assert_success(&fd.run_with_stdin(&op, PASSWORD), &op);

    let passwd = ["user", "passwd", "--email", "tech@acme.example", "--password-stdin"];
    assert_success(&fd.run_with_stdin(&passwd, "another long password\n"), &passwd);
    let missing =
        fd.run_with_stdin(&["user", "passwd", "--email", "ghost@acme.example", "--password-stdin"], PASSWORD);
    assert!(!missing.status.success());

    // Downgrade and upgrade keep every row.
    fd.ok(&["business", "plan", &id, "free"]);
    let list = fd.businesses();
    assert_eq!(list[0]["plan_tier"], "FREE");
    assert!(list[0]["knowledge_docs"].as_u64().unwrap() >= 5);
    let bad = fd.run(&["business", "plan", &id, "GOLD"]);
    assert!(stderr(&bad).contains("FREE, BASIC or PRO"), "{}", stderr(&bad));
}

#[test]
fn migrate_and_newer_databases() {
    let fd = Instance::new();
    let first = fd.ok(&["migrate"]);
    // Both backends list what they applied, then say they are up to date.
    let init = if on_postgres() { "applied 0011_init" } else { "applied 0001_init" };
    assert!(first.contains(init), "{first}");
    let again = fd.ok(&["migrate"]);
    assert!(again.contains("up to date at schema version"), "{again}");
    let version = fd.ok(&["version"]);
    assert!(version.starts_with("frontdesk "), "{version}");

    // A database from a newer frontdesk is refused, clearly, and left alone.
    fd.sql(&[("INSERT INTO schema_migrations VALUES (999, 'future', 'x')", vec![])]);
    for args in [&["migrate"][..], &["business", "list"][..]] {
        let out = fd.run(args);
        assert!(!out.status.success());
        assert!(stderr(&out).contains("schema version 999"), "{}", stderr(&out));
    }
}

#[test]
fn install_script_dry_run_lists_every_step() {
    let out = std::process::Command::new("sh")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh"))
        .args(["--dry-run", "--binary", BIN])
        .output()
        .unwrap();
    assert_success(&out, &["install.sh --dry-run"]);
    let text = stdout(&out);
    for step in [
        "/usr/local/bin/frontdesk",
        "/var/lib/frontdesk",
        "frontdesk.service",
        "frontdesk-backup.timer",
        "init",
    ] {
        assert!(text.contains(step), "missing {step}:\n{text}");
    }
    assert!(!text.contains("+ "), "a dry run runs nothing:\n{text}");
}

#[test]
fn install_script_sets_up_https_for_a_domain() {
    let install = |args: &[&str]| {
        std::process::Command::new("sh")
            .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh"))
            .args(["--dry-run", "--binary", BIN])
            .args(args)
            .output()
            .unwrap()
    };
    let out =
        install(&["--domain", "fd.example.com", "--domain=www.fd.example.com", "--email", "ops@example.com"]);
    assert_success(&out, &["install.sh --domain"]);
    let text = stdout(&out);
    for line in [
        "mode = \"acme\"",
        "domains = [\"fd.example.com\", \"www.fd.example.com\"]",
        "acme_email = \"ops@example.com\"",
        "https://fd.example.com/api/voice/incoming",
        "https://fd.example.com/api/voice/status",
    ] {
        assert!(text.contains(line), "missing {line}:\n{text}");
    }
    for (args, error) in [
        (&["--domain", "FD Example"][..], "--domain: 'FD' is not a domain name"),
        (&["--domain", "fd.example.com"][..], "--domain needs --email"),
        (
            &["--domain", "fd.example.com", "--email", "nobody"][..],
            "--email: 'nobody' is not an email address",
        ),
    ] {
        let out = install(args);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr(&out).contains(error), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn triage_prints_the_decision_as_json() {
    let fd = Instance::new();
    let out = fd.ok(&[
        "triage",
        "--business-type",
        "PLUMBING",
        "Help, a pipe burst and water is pouring through the ceiling",
    ]);
    let decision: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(decision["level"], "URGENT");
    assert!(
        decision["reasons"].as_array().unwrap().iter().any(|r| r == "burst pipe" || r == "pipe burst"),
        "{out}"
    );
    assert_eq!(decision["decided_by"], "rules", "{out}");
    assert_eq!(decision["nearest"]["level"], "URGENT", "the nearest labelled example: {out}");
    let out = fd.ok(&["triage", "--business-type", "hvac", "fireplace inspection, no leaks"]);
    assert!(out.starts_with(r#"{"level":"NORMAL","reasons":["inspection"],"decided_by":"rules""#), "{out}");
    // A paraphrase no rule lists: the classifier decides, and says what it resembles.
    let out = fd.ok(&[
        "triage",
        "--business-type",
        "PLUMBING",
        "the supply hose to the dishwasher split and the kitchen is a lake",
    ]);
    let decision: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (decision["level"].as_str(), decision["decided_by"].as_str()),
        (Some("URGENT"), Some("classifier")),
        "{out}"
    );
    // Its reason is the example it resembles, as `like "<text>"`.
    let like = format!("like \"{}\"", decision["nearest"]["text"].as_str().unwrap_or_default());
    assert_eq!(decision["reasons"], serde_json::json!([like]), "{out}");
    let bad = fd.run(&["triage", "--business-type", "BAKERY", "hi"]);
    assert!(stderr(&bad).contains("--business-type: expected"), "{}", stderr(&bad));

    // A business's own rule changes apply with --business.
    let file = fd.dir.path().join("rules.toml");
    std::fs::write(
        &file,
        "[business]\nname = \"Septic Pros\"\nbusiness_type = \"PLUMBING\"\n\n[emergency_rules]\nurgent = [\"septic alarm\"]\nremove = [\"no hot water\"]\n",
    )
    .unwrap();
    let id = fd.ok(&["business", "import", file.to_str().unwrap()]);
    let out = fd.ok(&["triage", "--business", &id, "the septic alarm is going off"]);
    assert!(out.starts_with(r#"{"level":"URGENT","reasons":["septic alarm"]"#), "{out}");
    let out = fd.ok(&["triage", "--business", &id, "no hot water today"]);
    assert!(out.starts_with(r#"{"level":"NORMAL""#), "{out}");
    let exported = fd.ok(&["business", "export", &id]);
    assert!(exported.contains("[emergency_rules]") && exported.contains("septic alarm"), "{exported}");
}
