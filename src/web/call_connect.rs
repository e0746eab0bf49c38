//! `POST /api/notify/calls/{notification_id}/connect`: Twilio posts the key
//! the owner pressed during an emergency call (`notify::call`). "1"
//! connects the owner to the caller with `<Dial>`. Only signed requests
//! get here: the same Twilio check as the voice webhooks (`http::twilio`),
//! anything else gets 403.

use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::http::twilio::{signed, Form};
use crate::http::with_state;
use crate::notify::twiml;
use crate::state::AppState;
use crate::store::StoreError;

pub fn routes(app: AppState) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let deadline = app.body_deadline();
    warp::path!("api" / "notify" / "calls" / String / "connect")
        .and(signed(app.config.clone(), deadline))
        .and(with_state(app))
        .then(connect)
}

fn xml(body: String) -> Response {
    warp::reply::with_header(body, "content-type", "text/xml; charset=utf-8").into_response()
}

async fn connect(id: String, form: Form, app: AppState) -> Response {
    let twilio = &app.config.twilio;
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
    match (form.get("Digits").map(str::trim), target.caller_phone.as_deref()) {
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
