//! The one-time code that makes the first account. Until someone has signed
//! up, whoever reaches `/setup` first would become owner (or, with imported
//! businesses, operator of all of them); so `serve` prints a random code on
//! its console, as appliances do, and `/setup` asks for it. Only whoever can
//! read the server's console (or journal) can create the first account.
//!
//! With several instances each prints its own code, and any of them may
//! receive the form: codes live in the shared store (by their SHA-256, so
//! the store never holds a usable code), and the first account made with
//! any of them voids them all.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::sessions::Shared;

/// A code is good for this long (or until the first account exists).
const LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);
/// Set once the first account exists: no code works after it.
const USED: &str = "setup:used";

/// Issues and checks setup codes; cheap to clone.
#[derive(Clone)]
pub struct SetupToken {
    codes: Shared,
}

fn key(code: &str) -> String {
    let digest = Sha256::digest(code.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("setup:code:{hex}")
}

impl SetupToken {
    pub fn new(store: &Shared) -> SetupToken {
        SetupToken { codes: store.space(1_000) }
    }

    /// Makes a new code and returns it (a server with no account yet, so
    /// setup is open again: a database emptied since the last one).
    pub async fn issue(&self) -> String {
        let mut bytes = [0u8; 18];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        let token = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes);
        self.codes.del(USED).await;
        self.codes.set(&key(&token), "1", LIFETIME).await;
        token
    }

    /// Whether `given` is a current code. Looked up by its hash: the
    /// comparison reveals nothing about the code through its timing.
    pub async fn matches(&self, given: &str) -> bool {
        let given = given.trim();
        if given.is_empty() || self.codes.get(USED).await.is_some() {
            return false;
        }
        self.codes.get(&key(given)).await.is_some()
    }

    /// The codes have done their job, on every instance.
    pub async fn clear(&self) {
        self.codes.set(USED, "1", LIFETIME).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_issued_code_matches_and_only_until_cleared() {
        let t = SetupToken::new(&Shared::memory(0));
        assert!(!t.matches("").await);
        let code = t.issue().await;
        assert!(code.len() >= 24);
        assert!(t.matches(&code).await && t.matches(&format!(" {code} ")).await);
        assert!(!t.matches("guess").await && !t.matches("").await);
        t.clear().await;
        assert!(!t.matches(&code).await);
    }
}
