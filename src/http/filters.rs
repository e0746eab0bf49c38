//! The warp filters every route group shares (web pages, the API, chat, the
//! phone webhooks): handing the state to a handler, GET with HEAD, and the
//! one place a rejection becomes a JSON error.

use std::convert::Infallible;

use serde_json::json;
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

use crate::error::ApiError;

/// Passes the shared state to a handler.
pub fn with_state<S: Clone + Send + Sync + 'static>(
    state: S,
) -> impl Filter<Extract = (S,), Error = Infallible> + Clone {
    warp::any().map(move || state.clone())
}

/// GET, and HEAD wherever GET is (the server sends HEAD's headers without the body).
pub fn get_or_head() -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::get().or(warp::head()).unify()
}

/// The one place rejections become responses.
pub async fn recover(rejection: Rejection) -> Result<warp::reply::Response, Infallible> {
    if let Some(e) = rejection.find::<ApiError>() {
        if let ApiError::Internal(detail) | ApiError::Unavailable(detail) = e {
            tracing::error!(error = %detail, "request failed");
        }
        return Ok(e.reply());
    }
    let (status, code, message) = if rejection.is_not_found() {
        (StatusCode::NOT_FOUND, "not_found", "no such endpoint".to_string())
    } else if let Some(e) = rejection.find::<warp::filters::body::BodyDeserializeError>() {
        (StatusCode::BAD_REQUEST, "bad_request", format!("invalid JSON body: {e}"))
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "request body too large".to_string())
    } else if rejection.find::<warp::reject::UnsupportedMediaType>().is_some() {
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "unsupported content type".to_string())
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed".to_string())
    } else if let Some(e) = rejection.find::<warp::reject::InvalidQuery>() {
        (StatusCode::BAD_REQUEST, "bad_request", e.to_string())
    } else if let Some(e) = rejection.find::<warp::reject::MissingHeader>() {
        (StatusCode::BAD_REQUEST, "bad_request", e.to_string())
    } else {
        tracing::error!(?rejection, "unhandled rejection");
        (StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error".to_string())
    };
    Ok(warp::reply::with_status(warp::reply::json(&json!({ "error": message, "code": code })), status)
        .into_response())
}
