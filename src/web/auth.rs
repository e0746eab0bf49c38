//! Who is asking: login with throttling, JWT sessions (a cookie for the
//! pages, a bearer token for the API), CSRF checks, and the caller's role and
//! business.
//!
//! A token names the user and carries a fingerprint of their password hash,
//! so changing the password ends every older session. Role and business are
//! read from the user's row on every request, never trusted from the token.
//!
//! Roles: `owner` manages their business (settings, questions, knowledge,
//! notifications) but not its plan; `staff` sees the dashboard, leads and
//! analytics and changes a lead's status, nothing else; `operator` manages
//! every business, creates businesses and changes plans, acting on the
//! business chosen in the switcher (no impersonation of users).

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use warp::http::HeaderMap;

use crate::domain::{Business, Role, User};
use crate::error::ApiError;
use crate::ids::BusinessId;
use crate::state::AppState;
use crate::store::StoreError;

/// Cookie that carries the page session.
pub const SESSION_COOKIE: &str = "fd_session";
/// Cookie an operator's business switcher sets (a preference, not a credential).
pub const BUSINESS_COOKIE: &str = "fd_business";
/// A page session lasts this long; signing in again starts a new one.
pub const WEB_SESSION: Duration = Duration::from_secs(12 * 3600);
/// An API token lasts this long.
pub const API_TOKEN: Duration = Duration::from_secs(24 * 3600);
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    /// User id.
    pub sub: String,
    /// "web" (cookie) or "api" (bearer).
    pub kind: String,
    /// Fingerprint of the password hash the token was issued under.
    pub pwd: String,
    /// This session's CSRF token (web sessions).
    pub csrf: String,
    pub iat: i64,
    pub exp: i64,
}

/// The first 16 hex digits of the SHA-256 of a password hash.
pub fn fingerprint(password_hash: &str) -> String {
    let digest = Sha256::digest(password_hash.as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn random_token() -> String {
    let mut bytes = [0u8; 24];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
}

/// Signs a new session token for `user`.
pub fn issue(
    app: &AppState,
    user: &User,
    kind: &str,
    lifetime: Duration,
) -> Result<(String, Claims), ApiError> {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: user.id.clone(),
        kind: kind.to_string(),
        pwd: fingerprint(&user.password_hash),
        csrf: random_token(),
        iat: now,
        exp: now + lifetime.as_secs() as i64,
    };
    let key = EncodingKey::from_secret(app.jwt_secret.expose().as_bytes());
    let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
        .map_err(|e| ApiError::Internal(format!("signing a session: {e}")))?;
    Ok((token, claims))
}

/// The claims of a valid, unexpired token of `kind`.
pub fn decode(app: &AppState, token: &str, kind: &str) -> Option<Claims> {
    let key = DecodingKey::from_secret(app.jwt_secret.expose().as_bytes());
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation).ok()?.claims;
    (claims.kind == kind).then_some(claims)
}

/// How a token is named in the revocation list: the hex SHA-256 of it.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The user a token belongs to, unless it was signed out or their password
/// changed since. A revocation list that cannot be read counts as revoked.
pub async fn session_user(app: &AppState, token: &str, claims: &Claims) -> Option<User> {
    match app.store.session_revoked(&token_hash(token)).await {
        Ok(false) => {}
        Ok(true) => return None,
        Err(e) => {
            tracing::warn!(error = %e, "cannot check whether a session was signed out; treating it as ended");
            return None;
        }
    }
    let user = app.store.user(&claims.sub).await.ok()?;
    (fingerprint(&user.password_hash) == claims.pwd).then_some(user)
}

/// Ends a session on the server: the token is refused from now on, even if a
/// copy of it survives (a copied cookie, a leaked bearer token).
pub async fn revoke(app: &AppState, token: &str, claims: &Claims) -> Result<(), ApiError> {
    app.store.revoke_session(&token_hash(token), claims.exp).await?;
    tracing::info!(user = %claims.sub, kind = %claims.kind, "signed out");
    Ok(())
}

/// Why a login failed; the message never says which part was wrong.
#[derive(Debug, PartialEq, Eq)]
pub enum LoginError {
    Wrong,
    /// This address tried this account too often lately: wait this long.
    Throttled(Duration),
    /// Every password-hashing slot is taken: try again in a moment.
    Busy,
    Unavailable(String),
}

impl LoginError {
    pub fn message(&self) -> String {
        match self {
            LoginError::Wrong => "Wrong email or password.".into(),
            LoginError::Throttled(wait) => format!(
                "Too many sign-in attempts. Please wait {} and try again.",
                crate::web::throttle::describe(*wait)
            ),
            LoginError::Busy => "Too many sign-ins at once. Please try again in a moment.".into(),
            LoginError::Unavailable(_) => {
                "Sign-in is unavailable right now. Please try again shortly.".into()
            }
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Wrong => ApiError::Unauthorized(e.message()),
            LoginError::Throttled(_) => ApiError::TooManyRequests(e.message()),
            LoginError::Busy => ApiError::Busy(e.message()),
            LoginError::Unavailable(detail) => ApiError::Unavailable(detail),
        }
    }
}

/// Checks an email and password, throttled per account and client address
/// (see `web::throttle`), hashing on the bounded password threads.
pub async fn login(app: &AppState, email: &str, password: &str, ip: &str) -> Result<User, LoginError> {
    let email = email.trim().to_ascii_lowercase();
    // A hashing place first: when there is none, nothing else is done for
    // this request (and it counts against no one).
    let slot = app.web.passwords.slot().map_err(|_| LoginError::Busy)?;
    if let Err(wait) = app.web.logins.attempt(&email, ip).await {
        tracing::warn!(ip, "login throttled");
        return Err(LoginError::Throttled(wait));
    }
    let user = match app.store.user_by_email(&email).await {
        Ok(user) => Some(user),
        Err(StoreError::NotFound(_)) => None,
        Err(e) => return Err(LoginError::Unavailable(e.to_string())),
    };
    let hash = user.as_ref().map(|u| u.password_hash.as_str());
    let ok = slot.verify(password, hash).await.map_err(|_| LoginError::Busy)?;
    match user {
        Some(user) if ok => {
            app.web.logins.succeeded(&email, ip).await;
            Ok(user)
        }
        _ => {
            app.web.logins.failed(&email, ip).await;
            tracing::info!(ip, "login failed");
            Err(LoginError::Wrong)
        }
    }
}

/// `Set-Cookie` for a session (or its removal with an empty token).
pub fn session_cookie(app: &AppState, token: &str) -> String {
    let secure = if app.config.public_url().starts_with("https://") { "; Secure" } else { "" };
    let max_age = if token.is_empty() { 0 } else { WEB_SESSION.as_secs() };
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

/// A cookie's value from the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(warp::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Constant-time comparison of the form's token with the session's.
pub fn csrf_matches(claims: &Claims, given: &str) -> bool {
    !given.is_empty() && given.as_bytes().ct_eq(claims.csrf.as_bytes()).into()
}

/// A state-changing request from a browser must come from a page of this
/// instance: its Origin (or, without one, its Referer) must be this host or
/// a configured URL of it. Neither header: the CSRF token alone decides.
pub fn same_origin(app: &AppState, headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let claimed = match (header("origin"), header("referer")) {
        (Some(o), _) if o != "null" => o,
        (Some(_), _) => return false,
        (None, Some(r)) => r,
        (None, None) => return true,
    };
    let Ok(url) = url::Url::parse(claimed) else { return false };
    let host_port = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    if header("host").is_some_and(|h| h.eq_ignore_ascii_case(&host_port)) {
        return true;
    }
    let origin = url.origin().ascii_serialization();
    [app.config.public_url(), app.config.urls.admin_custom_domain_url.clone()]
        .iter()
        .filter_map(|u| url::Url::parse(u).ok())
        .any(|u| u.origin().ascii_serialization().eq_ignore_ascii_case(&origin))
}

/// The signed-in user and the business they are acting on.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub claims: Claims,
    /// None only for an operator on an instance with no business yet.
    pub business: Option<Business>,
}

impl Caller {
    pub fn role(&self) -> Role {
        self.user.role
    }

    pub fn is_operator(&self) -> bool {
        self.user.role == Role::Operator
    }

    /// Owners and operators change settings; staff do not.
    pub fn can_manage(&self) -> bool {
        matches!(self.user.role, Role::Owner | Role::Operator)
    }

    pub fn require_manager(&self) -> Result<(), ApiError> {
        if self.can_manage() {
            Ok(())
        } else {
            Err(ApiError::Forbidden("staff accounts cannot change settings; ask the business owner".into()))
        }
    }

    pub fn require_operator(&self) -> Result<(), ApiError> {
        if self.is_operator() {
            Ok(())
        } else {
            Err(ApiError::Forbidden("only the operator of this instance can do that".into()))
        }
    }

    /// The business acted on, or 404 for an operator with none.
    pub fn business(&self) -> Result<&Business, ApiError> {
        self.business.as_ref().ok_or_else(|| ApiError::NotFound("no business yet: create one first".into()))
    }
}

/// Resolves the business a user acts on. Owners and staff: their own, and
/// `wanted` must be it or absent (another id is "not found", never theirs).
/// Operators: `wanted` if it exists, else the first business.
pub async fn caller(
    app: &AppState,
    user: User,
    claims: Claims,
    wanted: Option<&str>,
) -> Result<Caller, ApiError> {
    let wanted = wanted.map(str::trim).filter(|w| !w.is_empty());
    let business = match (&user.role, &user.business_id) {
        (Role::Operator, _) => match wanted {
            Some(id) => Some(app.store.business(&BusinessId::from(id)).await?),
            None => app.store.list_businesses().await?.into_iter().next().map(|s| s.business),
        },
        (_, Some(own)) => {
            if wanted.is_some_and(|w| own != w) {
                return Err(ApiError::NotFound("business not found".into()));
            }
            Some(app.store.business(own).await?)
        }
        (_, None) => return Err(ApiError::Forbidden("this account belongs to no business".into())),
    };
    Ok(Caller { user, claims, business })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_differ_with_the_hash_and_cookies_parse() {
        assert_ne!(fingerprint("a"), fingerprint("b"));
        assert_eq!(fingerprint("a").len(), 16);
        let mut headers = HeaderMap::new();
        headers.insert("cookie", warp::http::HeaderValue::from_static("x=1; fd_session=abc.def; y=2"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc.def"));
        assert_eq!(cookie(&headers, "z"), None);
        let claims = Claims {
            sub: "u".into(),
            kind: "web".into(),
            pwd: String::new(),
            csrf: "token".into(),
            iat: 0,
            exp: 0,
        };
        assert!(csrf_matches(&claims, "token"));
        assert!(!csrf_matches(&claims, "toke") && !csrf_matches(&claims, ""));
    }
}
