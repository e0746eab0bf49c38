//! The one check of a Twilio request, for every route Twilio calls (the
//! voice webhooks, the emergency call's "press 1"): `X-Twilio-Signature`
//! over the URL Twilio requested (`twilio::request_url` from the public
//! base) and the form fields. A bad or missing signature is a 403 before
//! any handler runs.

use std::sync::Arc;
use std::time::Duration;

use warp::hyper::body::Bytes;
use warp::path::FullPath;
use warp::{Filter, Rejection};

use crate::config::Config;
use crate::error::ApiError;

/// Largest Twilio request body read.
const MAX_BODY: u64 = 64 * 1024;

/// A Twilio request whose signature checked out: its form fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form(pub Vec<(String, String)>);

impl Form {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn call_sid(&self) -> Result<&str, Rejection> {
        self.get("CallSid")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| warp::reject::custom(ApiError::BadRequest("CallSid is missing".into())))
    }

    /// Placed through the REST API by this instance: the owner's test call
    /// (`test_call`), from the business's number to the owner.
    pub fn outbound(&self) -> bool {
        self.get("Direction") == Some("outbound-api")
    }

    /// The business's own number: the one called, or for a test call the one calling.
    pub fn business_number(&self) -> Option<&str> {
        if self.outbound() {
            self.get("From")
        } else {
            self.get("To")
        }
    }

    /// The other party's number: the caller, or for a test call the owner called.
    pub fn caller_number(&self) -> Option<&str> {
        if self.outbound() {
            self.get("To")
        } else {
            self.get("From")
        }
    }

    /// The fields as one JSON object (kept with a call's events).
    pub fn json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.0.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect(),
        )
    }
}

/// Extracts the form of a signed Twilio POST, or rejects with 403.
pub fn signed(
    config: Arc<Config>,
    deadline: Duration,
) -> impl Filter<Extract = (Form,), Error = Rejection> + Clone {
    warp::post()
        .and(warp::path::full())
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(warp::header::optional::<String>("x-twilio-signature"))
        .and(super::body::limited(MAX_BODY, deadline))
        .and_then(move |path: FullPath, query: String, signature: Option<String>, body: Bytes| {
            let config = config.clone();
            async move {
                let url = crate::twilio::request_url(&config.twilio_base_url(), path.as_str(), &query);
                let token = config.twilio.auth_token.expose();
                crate::twilio::check_request(token, signature.as_deref(), &url, &body).map(Form).map_err(
                    |refused| {
                        tracing::warn!(path = path.as_str(), reason = %refused, "refused a Twilio request");
                        warp::reject::custom(ApiError::Forbidden(refused.to_string()))
                    },
                )
            }
        })
}
