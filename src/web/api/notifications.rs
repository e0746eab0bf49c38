//! `/api/admin/notifications…`: the outbox, its counts, retry, a test per
//! channel, the owner's preferences and the emails kept locally. The same
//! actions as the Notifications page; staff may read the outbox, not change
//! anything.

use serde_json::{json, Value};
use warp::http::Method;
use warp::reply::Response;

use super::{created, ok, ApiReq};
use crate::domain::{NotificationPrefs, NotificationState};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::actions;
use crate::web::auth::Caller;
use crate::web::input::ActionError;
use crate::web::notify_forms;

type Result<T> = std::result::Result<T, ActionError>;

/// `rest`: the path after `/api/admin/notifications`.
pub(super) async fn dispatch(app: &AppState, c: &Caller, req: &ApiReq, rest: &[&str]) -> Result<Response> {
    let get = req.method == Method::GET || req.method == Method::HEAD;
    let (post, put) = (req.method == Method::POST, req.method == Method::PUT);
    match rest {
        [] if get => list(app, c, req).await,
        ["counts"] if get => ok(counts_json(&app.store.notification_counts(&c.business()?.id).await?)),
        ["test"] if post => {
            let id = actions::send_test_notification(app, c, &req.json(&super::fields::TEST_NOTIFICATION)?)
                .await?;
            created(json!({ "id": id, "state": NotificationState::Pending }))
        }
        ["prefs"] if get => {
            c.require_manager()?;
            ok(prefs_json(app, &app.store.notification_prefs(&c.business()?.id).await?))
        }
        ["prefs"] if put || post => ok(prefs_json(
            app,
            &actions::save_notification_prefs(app, c, &req.json(&super::fields::PREFS)?).await?,
        )),
        ["local-emails"] if get => {
            let limit = notify_forms::outbox_filter(&req.query_input())?.limit;
            let emails = app.store.local_emails(&c.business()?.id, limit).await?;
            ok(json!({ "emails": emails, "smtp_configured": !app.config.smtp.host.is_empty() }))
        }
        [id, "retry"] if post => {
            actions::retry_notification(app, c, id).await?;
            ok(json!({ "id": id, "state": NotificationState::Pending }))
        }
        _ => Err(ApiError::NotFound(format!("no such endpoint: {} {}", req.method, req.path)).into()),
    }
}

async fn list(app: &AppState, c: &Caller, req: &ApiReq) -> Result<Response> {
    let b = c.business()?;
    let filter = notify_forms::outbox_filter(&req.query_input())?;
    let counts = app.store.notification_counts(&b.id).await?;
    let rows = app.store.notifications_page(&b.id, filter.state, filter.limit, filter.offset).await?;
    let total: u64 =
        counts.iter().filter(|(s, _)| filter.state.is_none_or(|f| f == *s)).map(|(_, n)| n).sum();
    ok(json!({
        "notifications": rows,
        "total": total,
        "limit": filter.limit,
        "offset": filter.offset,
        "counts": counts_json(&counts),
    }))
}

fn counts_json(counts: &[(NotificationState, u64)]) -> Value {
    let mut out: serde_json::Map<String, Value> =
        counts.iter().map(|(s, n)| (s.as_str().to_string(), json!(n))).collect();
    out.insert("total".into(), json!(counts.iter().map(|(_, n)| n).sum::<u64>()));
    Value::Object(out)
}

fn prefs_json(app: &AppState, p: &NotificationPrefs) -> Value {
    json!({
        "new_lead": p.new_lead,
        "call_ended": p.call_ended,
        "digest": p.digest,
        "digest_hour": p.digest_hour,
        "default_digest_hour": app.config.notify.digest_hour,
    })
}
