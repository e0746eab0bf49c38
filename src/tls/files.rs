//! `tls.mode = "files"`: the operator's certificate and key, reloaded when
//! either file changes (looked at every two seconds) or on SIGHUP. A reload
//! that fails (a half-written file, a key that does not fit) keeps the
//! certificate in use and says why in the log and in /health.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::Notify;

use super::pem;
use super::Tls;

const POLL: Duration = Duration::from_secs(2);

type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Loads the files into the resolver; the error is kept in the status.
pub fn load(tls: &Tls, cert: &Path, key: &Path) -> bool {
    match pem::certified_key(cert, key) {
        Ok(loaded) => {
            tls.resolver.replace(&loaded.info.names, loaded.key.clone());
            tls.status.replace_domains(&loaded.info.names);
            for name in &loaded.info.names {
                tls.status.serving(name, loaded.info.not_after, None);
                tls.status.recovered(name);
            }
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot load the TLS certificate files; the one in use stays");
            let names = tls.status.health().domains;
            for name in names.iter().take(1) {
                tls.status.failed(name, &e, None);
            }
            false
        }
    }
}

pub async fn watch(tls: Arc<Tls>, cert: PathBuf, key: PathBuf, wake: Arc<Notify>) {
    let mut seen = (stamp(&cert), stamp(&key));
    loop {
        let hup = tokio::select! {
            () = tokio::time::sleep(POLL) => false,
            () = wake.notified() => true,
        };
        let now = (stamp(&cert), stamp(&key));
        if !hup && now == seen {
            continue;
        }
        seen = now;
        if load(&tls, &cert, &key) {
            tracing::info!(cert = %cert.display(), reason = if hup { "SIGHUP" } else { "file changed" }, "TLS certificate reloaded");
        }
    }
}
