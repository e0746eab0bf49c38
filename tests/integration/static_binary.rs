//! The release is one static file that runs in an empty root: no dynamic
//! loader, no shared libraries, no /etc, no environment. Checked on the
//! binary the tests run (same flags as the release) and, when it has been
//! built (CI builds it first), on the stripped release binary itself.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::instance::*;

/// The release binary `cargo build --release` writes.
fn release_binary() -> Option<PathBuf> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/x86_64-unknown-linux-gnu/release/frontdesk");
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("FRONTDESK_REQUIRE_RELEASE").is_err(),
        "FRONTDESK_REQUIRE_RELEASE is set but {} was not built (cargo build --release)",
        path.display()
    );
    eprintln!("NOTICE: no release binary at {}; its static checks were skipped", path.display());
    None
}

/// (has a program interpreter, i.e. is dynamically linked; has a symbol table, i.e. is not stripped)
fn elf_facts(path: &Path) -> (bool, bool) {
    let elf = std::fs::read(path).unwrap();
    assert_eq!(&elf[..5], b"\x7fELF\x02", "a 64-bit ELF file");
    let u16_at = |at: usize| u16::from_le_bytes(elf[at..at + 2].try_into().unwrap()) as usize;
    let u32_at = |at: usize| u32::from_le_bytes(elf[at..at + 4].try_into().unwrap());
    let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().unwrap()) as usize;
    let (phoff, phsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    let (shoff, shsize, shnum) = (u64_at(0x28), u16_at(0x3a), u16_at(0x3c));
    const PT_INTERP: u32 = 3;
    const SHT_SYMTAB: u32 = 2;
    let interp = (0..phnum).any(|i| u32_at(phoff + i * phsize) == PT_INTERP);
    let symtab = (0..shnum).any(|i| u32_at(shoff + i * shsize + 4) == SHT_SYMTAB);
    (interp, symtab)
}

fn assert_static(path: &Path) {
    let (interp, _) = elf_facts(path);
    assert!(!interp, "{} asks for a dynamic loader", path.display());
    let ldd = Command::new("ldd").arg(path).output().unwrap();
    let said = format!("{}{}", stdout(&ldd), stderr(&ldd));
    assert!(
        said.contains("not a dynamic executable") || said.contains("statically linked"),
        "ldd {}: {said}",
        path.display()
    );
}

/// An empty directory holding only a copy of `binary`.
fn empty_root(binary: &Path) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    std::fs::copy(binary, root.path().join("frontdesk")).unwrap();
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
    root
}

/// `chroot ROOT /frontdesk` with an empty environment (chroot itself is
/// looked up here: with no PATH the child would not find it).
fn chroot(root: &Path) -> Command {
    let chroot = ["/usr/sbin/chroot", "/sbin/chroot", "/usr/bin/chroot"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("chroot (coreutils)");
    let mut cmd = Command::new(chroot);
    cmd.arg(root).arg("/frontdesk").env_clear();
    cmd
}

fn can_chroot() -> bool {
    let root = Command::new("id").arg("-u").output().map(|o| stdout(&o).trim() == "0").unwrap_or(false);
    if !root {
        eprintln!("NOTICE: not root, so the empty-root (chroot) runs were skipped");
    }
    root
}

#[tokio::test]
async fn the_binary_is_static_and_serves_from_an_empty_root() {
    assert_static(Path::new(BIN));
    if !can_chroot() {
        let out = Command::new(BIN).arg("version").env_clear().output().unwrap();
        assert_success(&out, &["version"]);
        return;
    }
    let root = empty_root(Path::new(BIN));
    let out = chroot(root.path()).arg("version").output().unwrap();
    assert_success(&out, &["version (chroot)"]);
    assert!(
        stdout(&out).starts_with(&format!("frontdesk {}", env!("CARGO_PKG_VERSION"))),
        "{}",
        stdout(&out)
    );

    let mut serve = chroot(root.path());
    serve.env("FRONTDESK_DATA_DIR", "/data").env("RUST_LOG", "warn").args([
        "serve",
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
    ]);
    let server = Server::start(serve);
    let health: serde_json::Value = reqwest::get(server.url("/health")).await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");
    assert!(root.path().join("data/frontdesk.db").exists());

    // Its own health check, by address and by a name from the root's /etc/hosts:
    // name lookups work in a static binary (glibc's files and DNS sources are built in).
    let port = server.base.rsplit(':').next().unwrap();
    std::fs::create_dir(root.path().join("etc")).unwrap();
    std::fs::write(root.path().join("etc/hosts"), "127.0.0.1 static.frontdesk.test\n").unwrap();
    for url in [server.url("/health"), format!("http://static.frontdesk.test:{port}/health")] {
        let out = chroot(root.path()).args(["health", "--url", &url]).output().unwrap();
        assert_success(&out, &["health", &url]);
        assert!(stdout(&out).contains("200 (ok)"), "{}", stdout(&out));
    }
    drop(server);
}

#[test]
fn the_release_binary_is_one_static_stripped_file() {
    let Some(release) = release_binary() else { return };
    assert_static(&release);
    let (_, symbols) = elf_facts(&release);
    assert!(!symbols, "{} is not stripped", release.display());
    let size = std::fs::metadata(&release).unwrap().len();
    eprintln!("release binary: {} bytes ({:.1} MiB)", size, size as f64 / 1048576.0);
    if can_chroot() {
        let root = empty_root(&release);
        let out = chroot(root.path()).arg("version").output().unwrap();
        assert_success(&out, &["version (release, chroot)"]);
    }
}
