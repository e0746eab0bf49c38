//! The one-time code that makes the first account. Until someone has signed
//! up, whoever reaches `/setup` first would become owner (or, with imported
//! businesses, operator of all of them); so `serve` prints a random code on
//! its console, as appliances do, and `/setup` asks for it. Only whoever can
//! read the server's console (or journal) can create the first account.

use std::sync::{Arc, Mutex};

use subtle::ConstantTimeEq;

/// The current code, if one was issued and not used yet; cheap to clone.
#[derive(Clone, Default)]
pub struct SetupToken(Arc<Mutex<Option<String>>>);

impl SetupToken {
    /// Makes a new code (replacing any earlier one) and returns it.
    pub fn issue(&self) -> String {
        let mut bytes = [0u8; 18];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        let token = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes);
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(token.clone());
        }
        token
    }

    /// Whether `given` is the current code (constant time).
    pub fn matches(&self, given: &str) -> bool {
        let given = given.trim();
        match self.0.lock().ok().and_then(|slot| slot.clone()) {
            Some(token) => !given.is_empty() && bool::from(token.as_bytes().ct_eq(given.as_bytes())),
            None => false,
        }
    }

    /// The code has done its job.
    pub fn clear(&self) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_issued_code_matches_and_only_until_cleared() {
        let t = SetupToken::default();
        assert!(!t.matches(""));
        let code = t.issue();
        assert!(code.len() >= 24);
        assert!(t.matches(&code) && t.matches(&format!(" {code} ")));
        assert!(!t.matches("guess") && !t.matches(""));
        t.clear();
        assert!(!t.matches(&code));
    }
}
