//! The data directory holds password hashes, secrets and customer data: it
//! is 0700 and its files 0600 whatever the umask, and an older install's
//! readable files are tightened at start.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::json;

use crate::support::instance::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

fn sidecar(db: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

#[tokio::test]
async fn the_data_directory_and_its_files_are_private_whatever_the_umask() {
    let fd = Instance::new();
    let out = fd
        .command_with_umask("000")
        .args(["business", "import", demo_file().to_str().unwrap()])
        .output()
        .unwrap();
    assert_success(&out, &["business", "import"]);
    let business = stdout(&out).trim().to_string();
    // An older version left them readable by everyone.
    // (On Postgres nothing has made the data directory yet.)
    std::fs::create_dir_all(fd.data_dir()).unwrap();
    std::fs::set_permissions(fd.data_dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // On Postgres the data directory holds the signing secret only.
    let sqlite = !sqlite_only(
        "the_data_directory_and_its_files_are_private (the database file part)",
        "its file, WAL and backup",
    );
    if sqlite {
        std::fs::set_permissions(fd.db(), std::fs::Permissions::from_mode(0o644)).unwrap();
    }

    let mut cmd = fd.command_with_umask("000");
    cmd.args(["serve", "--port", "0", "--bind", "127.0.0.1"]);
    let server = Server::start(cmd);
    // A write, so the WAL and its index exist while the server runs.
    let body = json!({ "businessId": business, "message": "Hi, my sink is blocked" });
    let res = reqwest::Client::new().post(server.url("/api/chat")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(mode(&fd.data_dir()), 0o700);
    assert_eq!(mode(&fd.data_dir().join("jwt_secret")), 0o600);
    if !sqlite {
        return;
    }
    for file in [fd.db(), sidecar(&fd.db(), "-wal"), sidecar(&fd.db(), "-shm")] {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }

    // A backup, into a folder that does not exist yet.
    let copy = fd.dir.path().join("backups/nightly.db");
    let out = fd.command_with_umask("000").args(["backup", copy.to_str().unwrap()]).output().unwrap();
    assert_success(&out, &["backup"]);
    assert_eq!(mode(&copy), 0o600);
    assert_eq!(mode(copy.parent().unwrap()), 0o700);
    drop(server);
}
