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
use crate::notify::call::say_voice;
use crate::state::AppState;
use crate::store::StoreError;
use crate::twiml::{render, Verb};

pub fn routes(app: AppState) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let deadline = app.body_deadline();
    warp::path!("api" / "notify" / "calls" / String / "connect")
        .and(signed(app.config.clone(), deadline))
        .and(with_state(app))
        .then(answer)
}

fn xml(body: String) -> Response {
    warp::reply::with_header(body, "content-type", "text/xml; charset=utf-8").into_response()
}

async fn answer(id: String, form: Form, app: AppState) -> Response {
    let twilio = &app.config.twilio;
    let target = match app.store.call_connect(&id).await {
        Ok(t) => t,
        Err(StoreError::NotFound(_)) => {
            return warp::reply::with_status(
                xml(goodbye("alice", "This alert has expired. Goodbye.")),
                StatusCode::NOT_FOUND,
            )
            .into_response()
        }
        Err(e) => {
            tracing::error!(notification_id = %id, error = %e, "cannot look up an emergency call");
            return xml(goodbye("alice", "Sorry, something went wrong. Please check your messages."));
        }
    };
    match (form.get("Digits").map(str::trim), target.caller_phone.as_deref()) {
        (Some("1"), Some(caller)) => {
            tracing::info!(notification_id = %id, business_id = %target.business_id, "connecting the owner to the caller");
            let caller_id = Some(twilio.phone_number.as_str())
                .filter(|n| !n.is_empty())
                .or(target.business_number.as_deref());
            xml(connect_twiml("alice", caller, caller_id))
        }
        (Some("1"), None) => {
            xml(goodbye("alice", "The caller's number is not known. Please check your messages."))
        }
        _ => xml(goodbye("alice", "Goodbye.")),
    }
}

/// Connects the owner to the caller, showing `caller_id` (our number).
pub fn connect_twiml(voice: &str, caller: &str, caller_id: Option<&str>) -> String {
    render(&[
        Verb::say("Connecting you to the caller now.", &say_voice(voice)),
        Verb::Dial {
            number: caller.to_string(),
            caller_id: caller_id.map(str::to_string),
            timeout_secs: 30,
            action: None,
        },
    ])
}

/// Ends the call politely.
pub fn goodbye(voice: &str, text: &str) -> String {
    render(&[Verb::say(text, &say_voice(voice)), Verb::Hangup])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn press_one_dials_the_caller_and_anything_else_hangs_up() {
        let dial = connect_twiml("alice", "+13125550142", Some("+13125550100"));
        assert!(
            dial.contains(
                "<Say voice=\"alice\">Connecting you to the caller now.</Say>\
                 <Dial timeout=\"30\" callerId=\"+13125550100\"><Number>+13125550142</Number></Dial>"
            ),
            "{dial}"
        );
        assert!(goodbye("alice", "Bye & thanks")
            .ends_with("<Say voice=\"alice\">Bye &amp; thanks</Say><Hangup/></Response>"));
    }
}
