//! Credentials: argon2id password hashes and the JWT signing secret.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::config::{Config, Secret};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("password must be at least {MIN_PASSWORD_LEN} characters")]
    PasswordTooShort,
    #[error("password must be at most {MAX_PASSWORD_LEN} characters")]
    PasswordTooLong,
    /// Among the passwords attackers try first (a common password, a
    /// keyboard walk, a word with digits, the email or business name).
    #[error("password is too easy to guess ({0}); a few unrelated words make a strong one")]
    PasswordTooCommon(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("cannot keep the JWT secret in {path}: {source}")]
    SecretFile { path: String, source: std::io::Error },
}

pub const MIN_PASSWORD_LEN: usize = 10;
pub const MAX_PASSWORD_LEN: usize = 256;
/// zxcvbn's score below which a password is refused: 3 means its estimate
/// is at least 10^8 guesses, out of reach of the common-password lists and
/// the patterns (words plus digits, keyboard walks, dates) they are tried with.
const MIN_STRENGTH: u8 = 3;
/// zxcvbn's work grows with the length; the first characters decide.
const STRENGTH_CHARS: usize = 100;

/// Refuses passwords that are too short, too long, or among the ones tried
/// first (zxcvbn: its dictionaries of common passwords, names and words, and
/// keyboard, date and repeat patterns). `context` holds what an attacker
/// knows of the account (its email, the business's name).
pub fn check_password(password: &str, context: &[&str]) -> Result<(), AuthError> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_LEN {
        return Err(AuthError::PasswordTooShort);
    }
    if length > MAX_PASSWORD_LEN {
        return Err(AuthError::PasswordTooLong);
    }
    let head: String = password.chars().take(STRENGTH_CHARS).collect();
    // "Acme Plumbing" and "owner@acme.example" as zxcvbn's user words:
    // whole, run together, and word by word.
    let mut words = Vec::new();
    for c in context.iter().map(|c| c.to_lowercase()) {
        words.push(c.chars().filter(|ch| ch.is_alphanumeric()).collect::<String>());
        words.extend(c.split(|ch: char| !ch.is_alphanumeric()).filter(|w| w.len() >= 3).map(str::to_string));
        words.push(c);
    }
    let words: Vec<&str> = words.iter().map(String::as_str).filter(|w| !w.is_empty()).collect();
    let estimate = zxcvbn::zxcvbn(&head, &words);
    if u8::from(estimate.score()) < MIN_STRENGTH {
        let hint = estimate
            .feedback()
            .and_then(|f| f.warning())
            .map(|w| w.to_string().trim_end_matches('.').to_lowercase())
            .unwrap_or_else(|| "it is close to a common password".into());
        return Err(AuthError::PasswordTooCommon(hint));
    }
    Ok(())
}

/// Hashes a password with argon2id and a random salt (PHC string format).
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    hash_password_for(password, &[])
}

/// [`hash_password`], with what is known of the account for the strength check.
pub fn hash_password_for(password: &str, context: &[&str]) -> Result<String, AuthError> {
    check_password(password, context)?;
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// Constant-time check of a password against a stored PHC hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

/// The configured JWT secret, or the one generated on first start and kept
/// (mode 0600) in the data directory, so logins survive restarts.
pub fn jwt_secret(config: &Config) -> Result<Secret, AuthError> {
    if !config.auth.jwt_secret.is_empty() {
        return Ok(config.auth.jwt_secret.clone());
    }
    let path = config.data_dir.join("jwt_secret");
    let err = |source| AuthError::SecretFile { path: path.display().to_string(), source };
    match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= 32 => return Ok(Secret::new(s.trim())),
        Ok(_) | Err(_) => {}
    }
    crate::files::private_dir(&config.data_dir).map_err(err)?;
    let mut bytes = [0u8; 48];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let secret = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes);
    crate::files::write_private(&path, secret.as_bytes()).map_err(err)?;
    Ok(Secret::new(secret))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hashes_verify_and_short_passwords_are_refused() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong horse battery", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(matches!(hash_password("short"), Err(AuthError::PasswordTooShort)));
    }

    #[test]
    fn common_and_guessable_passwords_are_refused() {
        for common in
            ["password1234", "qwertyuiop", "1234567890", "iloveyou12", "Summer2024!", "trustno1trustno1"]
        {
            let e = check_password(common, &[]).unwrap_err();
            assert!(matches!(e, AuthError::PasswordTooCommon(_)), "{common}: {e:?}");
            assert!(e.to_string().contains("too easy to guess"), "{e}");
        }
        // What an attacker knows of the account counts against it.
        assert!(check_password("acmeplumbing2024", &["acme plumbing", "owner@acme.example"]).is_err());
        for strong in ["correct horse battery staple", "a brand new password", "operator-password"] {
            assert!(check_password(strong, &[]).is_ok(), "{strong}");
        }
        assert!(matches!(check_password(&"x9!".repeat(100), &[]), Err(AuthError::PasswordTooLong)));
    }

    #[test]
    fn generated_jwt_secret_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
        let a = jwt_secret(&config).unwrap();
        let b = jwt_secret(&config).unwrap();
        assert_eq!(a, b);
        assert!(a.expose().len() >= 32);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("jwt_secret")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
