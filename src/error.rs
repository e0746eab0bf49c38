//! The HTTP face of errors: every failure answers JSON `{"error", "code"}`
//! with the right status; internals stay in the logs.

use warp::http::StatusCode;
use warp::reject::Reject;

use crate::plans::PlanRequired;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    /// No valid session or token: 401.
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooManyRequests(String),
    /// A request body over its limit: 413.
    #[error("{0}")]
    TooLarge(String),
    /// A request body that did not arrive in time: 408.
    #[error("{0}")]
    RequestTimeout(String),
    /// Overloaded right now (every slot taken): 503 with a message the client may read.
    #[error("{0}")]
    Busy(String),
    /// A dependency failed (the database): 503; the detail is for the logs only.
    #[error("the service is temporarily unavailable; please try again shortly")]
    Unavailable(String),
    /// The business's plan lacks a feature or reached a limit: 403 naming both plans.
    #[error(transparent)]
    PlanRequired(#[from] PlanRequired),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::PlanRequired(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Busy(_) | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Stable snake_case code for clients.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::PlanRequired(_) => "plan_required",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooManyRequests(_) => "rate_limited",
            ApiError::TooLarge(_) => "payload_too_large",
            ApiError::RequestTimeout(_) => "request_timeout",
            ApiError::Busy(_) => "busy",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl ApiError {
    /// The JSON body: `{"error", "code"}`, plus `currentPlan`, `requiredPlan`,
    /// `upgradeUrl`, `feature` and `limit` (null for a feature) when a plan
    /// refused: the same keys for every plan refusal.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({ "error": self.to_string(), "code": self.code() });
        if let ApiError::Busy(_) | ApiError::TooManyRequests(_) = self {
            body["retryAfter"] = serde_json::json!(RETRY_AFTER_SECS);
        }
        if let ApiError::PlanRequired(e) = self {
            body["currentPlan"] = serde_json::json!(e.current);
            body["requiredPlan"] = serde_json::json!(e.required);
            body["upgradeUrl"] = serde_json::json!(UPGRADE_PATH);
            body["feature"] = serde_json::json!(e.needed_name());
            body["limit"] = serde_json::json!(e.limit);
        }
        body
    }

    /// The response for this error (with `Retry-After` when trying again later helps).
    pub fn reply(&self) -> warp::reply::Response {
        use warp::Reply;
        let mut response =
            warp::reply::with_status(warp::reply::json(&self.body()), self.status()).into_response();
        if let ApiError::Busy(_) | ApiError::TooManyRequests(_) = self {
            response
                .headers_mut()
                .insert(warp::http::header::RETRY_AFTER, warp::http::HeaderValue::from(RETRY_AFTER_SECS));
        }
        if let ApiError::RequestTimeout(_) = self {
            // The rest of the body may still be on its way: do not read it as the next request.
            response
                .headers_mut()
                .insert(warp::http::header::CONNECTION, warp::http::HeaderValue::from_static("close"));
        }
        response
    }
}

/// Seconds a refused client is told to wait before trying again.
pub const RETRY_AFTER_SECS: u64 = 2;

/// Where the owner reads about plans and asks for an upgrade.
pub const UPGRADE_PATH: &str = "/settings/plan";

impl Reject for ApiError {}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Invalid(m) => ApiError::BadRequest(m),
            StoreError::Unavailable(m) => {
                // The database's words (paths, tables, SQL) are for the log.
                tracing::error!(detail = %m, "database error");
                ApiError::Unavailable(
                    "The database is not available right now. Please try again in a moment.".into(),
                )
            }
            e @ StoreError::TooNew { .. } => ApiError::Internal(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::PlanTier;
    use crate::plans::{Feature, Limit, Plans};

    #[test]
    fn the_databases_own_words_never_reach_a_client() {
        let e: ApiError =
            StoreError::Unavailable("no such table: leads (/var/lib/frontdesk/frontdesk.db)".into()).into();
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        let text = e.body()["error"].as_str().unwrap().to_string();
        assert!(!text.contains("leads") && !text.contains("/var/lib"), "{text}");
    }

    #[test]
    fn a_missing_plan_answers_403_naming_both_plans() {
        let e: ApiError = Plans::default().require(PlanTier::Free, Feature::VoiceAgent).unwrap_err().into();
        assert_eq!(e.status(), StatusCode::FORBIDDEN);
        let body = e.body();
        assert_eq!(body["currentPlan"], "FREE");
        assert_eq!(body["requiredPlan"], "PRO");
        assert_eq!(body["upgradeUrl"], UPGRADE_PATH);
        assert_eq!(body["code"], "plan_required");
        assert!(body["error"].as_str().unwrap().contains("voice agent"));
        assert_eq!((body["feature"].as_str(), body["limit"].is_null()), (Some("voice_agent"), true));
        let e: ApiError = Plans::default().within(PlanTier::Free, Limit::Questions, 5).unwrap_err().into();
        let limit = e.body();
        assert_eq!((limit["feature"].as_str(), limit["limit"].as_u64()), (Some("questions"), Some(5)));
        let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&body), keys(&limit), "one shape for features and limits");
        assert!(ApiError::NotFound("x".into()).body().get("currentPlan").is_none());
    }
}
