//! A media stream's ticket. Twilio signs the WebSocket upgrade over a fixed
//! URL with no parameters, so one captured signature would open streams
//! forever, and the `start` message that follows names its call and business
//! in plain text. So `incoming` makes a short-lived token for exactly one
//! call (HMAC over the CallSid, the business and an expiry, with this
//! instance's secret), passes it as the stream's `<Parameter name="token">`,
//! and the stream is joined to that call only when `start` brings it back
//! in time, once.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long after `incoming` the stream may start (Twilio connects within seconds).
pub const LIFETIME_SECS: i64 = 120;

/// Why a stream's token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the stream carries no token")]
    Missing,
    #[error("the stream's token is malformed or not for this call")]
    Invalid,
    #[error("the stream's token has expired")]
    Expired,
}

fn mac(secret: &[u8], call_sid: &str, business_id: &str, expires: i64) -> Hmac<Sha256> {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
    for part in ["media-stream", call_sid, business_id, &expires.to_string()] {
        mac.update(part.as_bytes());
        mac.update(&[0]);
    }
    mac
}

/// `{expiry}.{signature}` for a stream of `call_sid` to `business_id`.
pub fn issue(secret: &[u8], call_sid: &str, business_id: &str, now: i64) -> String {
    let expires = now + LIFETIME_SECS;
    let tag = mac(secret, call_sid, business_id, expires).finalize().into_bytes();
    format!("{expires}.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag))
}

/// Ok when `token` was issued by [`issue`] for this call and business and has not expired.
pub fn check(
    secret: &[u8],
    token: &str,
    call_sid: &str,
    business_id: &str,
    now: i64,
) -> Result<(), TokenError> {
    if token.is_empty() {
        return Err(TokenError::Missing);
    }
    let (expires, tag) = token.split_once('.').ok_or(TokenError::Invalid)?;
    let expires: i64 = expires.parse().map_err(|_| TokenError::Invalid)?;
    let tag =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(tag).map_err(|_| TokenError::Invalid)?;
    mac(secret, call_sid, business_id, expires).verify_slice(&tag).map_err(|_| TokenError::Invalid)?;
    if now > expires {
        return Err(TokenError::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_only_its_own_call_and_only_in_time() {
        let secret = b"instance secret";
        let token = issue(secret, "CA1", "biz1", 1000);
        assert_eq!(check(secret, &token, "CA1", "biz1", 1000), Ok(()));
        assert_eq!(check(secret, &token, "CA1", "biz1", 1000 + LIFETIME_SECS), Ok(()));
        assert_eq!(check(secret, &token, "CA1", "biz1", 1001 + LIFETIME_SECS), Err(TokenError::Expired));
        assert_eq!(check(secret, &token, "CA2", "biz1", 1000), Err(TokenError::Invalid));
        assert_eq!(check(secret, &token, "CA1", "biz2", 1000), Err(TokenError::Invalid));
        assert_eq!(check(b"another instance", &token, "CA1", "biz1", 1000), Err(TokenError::Invalid));
        // A later expiry cannot be written in: it is under the signature.
        let (_, tag) = token.split_once('.').unwrap();
        assert_eq!(check(secret, &format!("999999.{tag}"), "CA1", "biz1", 1000), Err(TokenError::Invalid));
        assert_eq!(check(secret, "", "CA1", "biz1", 1000), Err(TokenError::Missing));
        assert_eq!(check(secret, "garbage", "CA1", "biz1", 1000), Err(TokenError::Invalid));
    }
}
