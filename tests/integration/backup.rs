//! `backup` while the database is being written, and `restore`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use frontdesk::domain::{starter_questions, BusinessBundle, BusinessType};
use frontdesk::store::{sqlite::SqliteStore, Store};

use crate::support::instance::*;

/// Every business in a consistent copy has its agent config and all four of
/// its questions: a torn transaction would show up here.
fn assert_consistent(db: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok");
    let torn: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM businesses b WHERE b.name LIKE 'Load %' AND (
                 (SELECT COUNT(*) FROM agent_configs a WHERE a.business_id = b.id) <> 1 OR
                 (SELECT COUNT(*) FROM lead_capture_questions q JOIN agent_configs a ON q.config_id = a.id
                     WHERE a.business_id = b.id) <> 4)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(torn, 0, "backup holds a half-written business");
    conn.query_row("SELECT COUNT(*) FROM businesses", [], |r| r.get(0)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_writing_then_restore_into_a_fresh_data_dir() {
    if crate::support::instance::sqlite_only(
        "backup_while_writing_then_restore_into_a_fresh_data_dir",
        "backup and restore copy the SQLite file; Postgres uses pg_dump",
    ) {
        return;
    }
    let fd = Instance::new();
    fd.import_demo();
    let server = fd.serve(&[]);

    // A second process (this test) writes continuously while backups run.
    let store = Arc::new(SqliteStore::open(&fd.db()).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, stop) = (store.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let bundle = BusinessBundle {
                    questions: starter_questions(),
                    ..BusinessBundle::with_knowledge(&format!("Load {n}"), BusinessType::Hvac, Vec::new())
                };
                store.import_business(bundle).await.unwrap();
            }
            n
        })
    };
    let client = reqwest::Client::new();
    let mut last = 0;
    for i in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        assert_eq!(client.get(server.url("/health")).send().await.unwrap().status(), 200);
        let file = fd.dir.path().join(format!("backup-{i}.db"));
        let out = fd.run(&["backup", file.to_str().unwrap()]);
        assert_success(&out, &["backup"]);
        assert!(stdout(&out).contains("integrity ok"));
        let count = assert_consistent(&file);
        assert!(count >= last, "later backups hold at least as much");
        last = count;
    }
    stop.store(true, Ordering::Relaxed);
    let written = writer.await.unwrap();
    assert!(written > 10, "the writer was really writing ({written} imports)");
    assert!(last > 1, "backups caught writes in progress");

    // Restoring into the live instance is refused while it serves.
    let backup = fd.dir.path().join("backup-2.db");
    let refused = fd.run(&["restore", backup.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("running frontdesk"), "{}", stderr(&refused));
    drop(server);

    // A new machine: restore, then serve what was backed up.
    let fresh = Instance::new();
    let out = fresh.run(&["restore", backup.to_str().unwrap()]);
    assert_success(&out, &["restore"]);
    assert_eq!(fresh.businesses().as_array().unwrap().len() as i64, last);
    let restored = fresh.serve(&[]);
    let health: serde_json::Value =
        client.get(restored.url("/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
}

#[test]
fn restore_verifies_first_and_keeps_the_previous_database() {
    if crate::support::instance::sqlite_only(
        "restore_verifies_first_and_keeps_the_previous_database",
        "backup and restore copy the SQLite file; Postgres uses pg_dump",
    ) {
        return;
    }
    let fd = Instance::new();
    let id = fd.import_demo();
    let backup = fd.dir.path().join("good.db");
    fd.ok(&["backup", backup.to_str().unwrap()]);

    // Garbage and truncated files are refused; the database is untouched.
    let junk = fd.dir.path().join("junk.db");
    std::fs::write(&junk, b"this is not a database").unwrap();
    let out = fd.run(&["restore", junk.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not a SQLite database") || stderr(&out).contains("integrity"),
        "{}",
        stderr(&out)
    );
    let bytes = std::fs::read(&backup).unwrap();
    let truncated = fd.dir.path().join("truncated.db");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    assert!(!fd.run(&["restore", truncated.to_str().unwrap()]).status.success());
    assert_eq!(fd.businesses()[0]["id"], id.as_str());

    // A good restore over an existing database keeps the old one aside.
    fd.ok(&["business", "plan", &id, "FREE"]);
    let out = fd.run(&["restore", backup.to_str().unwrap()]);
    assert_success(&out, &["restore"]);
    assert!(stdout(&out).contains("current database saved to"));
    assert_eq!(fd.businesses()[0]["plan_tier"], "PRO", "the backup's state is back");
    let kept = std::fs::read_dir(fd.data_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().starts_with("frontdesk.db.before-restore-"));
    assert!(kept);
}
