//! HTTP routes. Each concern has its own module; this one assembles them,
//! logs every request and turns every rejection into JSON.

pub mod actions;
pub mod analytics;
pub mod api;
pub mod auth;
pub mod body;
pub mod charts;
pub mod client_ip;
pub mod compress;
pub mod export;
pub mod forms;
pub mod hashing;
pub mod health;
pub mod input;
pub mod notify_forms;
pub mod operator_analytics;
pub mod pages;
pub mod ratelimit;
pub mod setup_token;
pub mod templates;
pub mod throttle;
pub mod websocket;

use std::convert::Infallible;

use serde_json::json;
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

use crate::error::ApiError;
use crate::server::AppState;

/// Passes the shared state to a handler.
pub fn with_state(state: AppState) -> impl Filter<Extract = (AppState,), Error = Infallible> + Clone {
    warp::any().map(move || state.clone())
}

pub fn routes(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone {
    let log = warp::log::custom(|info| {
        // Path only: query strings can carry tokens.
        tracing::info!(
            target: "frontdesk::http",
            method = %info.method(),
            path = %info.path(),
            status = info.status().as_u16(),
            latency_ms = info.elapsed().as_secs_f64() * 1000.0,
            "request"
        );
    });
    // Each group boxed: its future lives on the heap, so the request's
    // future stays small however many filters a group stacks (a debug build
    // ran out of stack on the nested voice webhooks otherwise).
    let routes = boxed(health::routes(state.clone()))
        .or(boxed(crate::channels::chat::routes(state.clone())))
        .unify()
        .or(boxed(crate::channels::voice::routes(state.clone())))
        .unify()
        .or(boxed(crate::notify::connect::routes(state.clone())))
        .unify()
        .or(boxed(api::routes(state.clone())))
        .unify()
        .or(boxed(pages::routes(state)))
        .unify()
        .recover(recover);
    let accept_encoding =
        warp::header::optional::<String>("accept-encoding").or(warp::any().map(|| None)).unify();
    accept_encoding
        .and(routes)
        .then(|accept: Option<String>, reply| async move {
            compress::maybe(compress::negotiate(accept.as_deref()), Reply::into_response(reply)).await
        })
        .with(log)
}

fn boxed<F, R>(filter: F) -> warp::filters::BoxedFilter<(warp::reply::Response,)>
where
    F: Filter<Extract = (R,), Error = Rejection> + Clone + Send + Sync + 'static,
    R: Reply + 'static,
{
    filter.map(|reply: R| reply.into_response()).boxed()
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
