//! `POST /api/notify/calls/{notification_id}/connect`: Twilio posts the key
//! the owner pressed during an emergency call. "1" connects the owner to the
//! caller with `<Dial>`. Only signed requests (`X-Twilio-Signature` over
//! `TWILIO_WEBHOOK_BASE_URL` + path) are answered; anything else gets 403.

use warp::http::StatusCode;
use warp::hyper::body::Bytes;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::{call, twiml};
use crate::error::ApiError;
use crate::http::with_state;
use crate::state::AppState;
use crate::store::StoreError;

const MAX_BODY_BYTES: u64 = 64 * 1024;

pub fn routes(app: AppState) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let deadline = app.body_deadline();
    warp::path!("api" / "notify" / "calls" / String / "connect")
        .and(warp::post())
        .and(with_state(app))
        .and(warp::header::optional::<String>("x-twilio-signature"))
        .and(crate::http::body::limited(MAX_BODY_BYTES, deadline))
        .then(connect)
}

fn xml(body: String) -> Response {
    warp::reply::with_header(body, "content-type", "text/xml; charset=utf-8").into_response()
}

async fn connect(id: String, app: AppState, signature: Option<String>, body: Bytes) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let twilio = &app.config.twilio;
    let url = format!("{}{}", twilio.webhook_base_url.trim_end_matches('/'), call::connect_path(&id));
    let signed = !twilio.webhook_base_url.is_empty()
        && crate::twilio::validate(
            twilio.auth_token.expose(),
            signature.as_deref().unwrap_or_default(),
            &url,
            &form,
        );
    if !signed {
        tracing::warn!(notification_id = %id, "unsigned or badly signed call-connect request refused");
        return ApiError::Forbidden("invalid or missing X-Twilio-Signature".into()).reply();
    }
    let target = match app.store.call_connect(&id).await {
        Ok(t) => t,
        Err(StoreError::NotFound(_)) => {
            return warp::reply::with_status(
                xml(twiml::goodbye("alice", "This alert has expired. Goodbye.")),
                StatusCode::NOT_FOUND,
            )
            .into_response()
        }
        Err(e) => {
            tracing::error!(notification_id = %id, error = %e, "cannot look up an emergency call");
            return xml(twiml::goodbye("alice", "Sorry, something went wrong. Please check your messages."));
        }
    };
    let digits = form.iter().find(|(k, _)| k == "Digits").map(|(_, v)| v.trim());
    match (digits, target.caller_phone.as_deref()) {
        (Some("1"), Some(caller)) => {
            tracing::info!(notification_id = %id, business_id = %target.business_id, "connecting the owner to the caller");
            let caller_id = Some(twilio.phone_number.as_str())
                .filter(|n| !n.is_empty())
                .or(target.business_number.as_deref());
            xml(twiml::connect("alice", caller, caller_id))
        }
        (Some("1"), None) => {
            xml(twiml::goodbye("alice", "The caller's number is not known. Please check your messages."))
        }
        _ => xml(twiml::goodbye("alice", "Goodbye.")),
    }
}
