//! `/api/admin/notifications…`: the outbox, its counts, retry, a test per
//! channel, the owner's preferences and the emails kept locally. The same
//! actions as the Notifications page; staff may read the outbox, not change
//! anything. Its answers are here too, camelCase as every answer (see
//! `answers`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use warp::http::Method;
use warp::reply::Response;

use super::{created, ok, ApiReq};
use crate::domain::{LocalEmail, Notification, NotificationPrefs, NotificationState, NotifyChannel};
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
        ["counts"] if get => {
            ok(NotificationCounts::new(&app.store.notification_counts(&c.business()?.id).await?))
        }
        ["test"] if post => {
            let id = actions::send_test_notification(app, c, &req.json(&super::fields::TEST_NOTIFICATION)?)
                .await?;
            created(NotificationQueued { id: &id, state: NotificationState::Pending })
        }
        ["prefs"] if get => {
            c.require_manager()?;
            let prefs = app.store.notification_prefs(&c.business()?.id).await?;
            ok(PrefsAnswer::new(&prefs, app.config.notify.digest_hour))
        }
        ["prefs"] if put || post => {
            let prefs = actions::save_notification_prefs(app, c, &req.json(&super::fields::PREFS)?).await?;
            ok(PrefsAnswer::new(&prefs, app.config.notify.digest_hour))
        }
        ["local-emails"] if get => {
            let limit = notify_forms::outbox_filter(&req.query_input())?.limit;
            let emails = app.store.local_emails(&c.business()?.id, limit).await?;
            let emails = emails.iter().map(LocalEmailView::from).collect();
            ok(LocalEmailsAnswer { emails, smtp_configured: !app.config.smtp.host.is_empty() })
        }
        [id, "retry"] if post => {
            actions::retry_notification(app, c, id).await?;
            ok(NotificationQueued { id, state: NotificationState::Pending })
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
    ok(NotificationsAnswer {
        notifications: rows.iter().map(NotificationView::from).collect(),
        total,
        limit: filter.limit,
        offset: filter.offset,
        counts: NotificationCounts::new(&counts),
    })
}

/// `GET /api/admin/notifications`: one page of the outbox, newest first.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationsAnswer<'a> {
    pub notifications: Vec<NotificationView<'a>>,
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
    pub counts: NotificationCounts,
}

/// State code (`in_flight`, as each row's `state` says) -> rows, and `total`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationCounts {
    #[serde(flatten)]
    pub by_state: BTreeMap<&'static str, u64>,
    pub total: u64,
}

impl NotificationCounts {
    pub fn new(counts: &[(NotificationState, u64)]) -> Self {
        NotificationCounts {
            by_state: counts.iter().map(|(s, n)| (s.as_str(), *n)).collect(),
            total: counts.iter().map(|(_, n)| n).sum(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationView<'a> {
    pub id: &'a str,
    pub business_id: &'a str,
    pub lead_id: Option<&'a str>,
    pub kind: &'a str,
    pub channel: &'a str,
    pub recipient: &'a str,
    /// The event as it was queued (and as a webhook receives it).
    pub payload: &'a serde_json::Value,
    pub state: &'a str,
    pub attempts: u32,
    #[serde(with = "crate::domain::rfc3339_serde")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::domain::rfc3339_serde")]
    pub updated_at: DateTime<Utc>,
    #[serde(with = "crate::domain::rfc3339_serde")]
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<&'a str>,
    #[serde(with = "crate::domain::rfc3339_serde::option")]
    pub sent_at: Option<DateTime<Utc>>,
    pub provider_id: Option<&'a str>,
}

impl<'a> From<&'a Notification> for NotificationView<'a> {
    fn from(n: &'a Notification) -> Self {
        NotificationView {
            id: &n.id,
            business_id: &n.business_id,
            lead_id: n.lead_id.as_deref(),
            kind: &n.kind,
            channel: &n.channel,
            recipient: &n.recipient,
            payload: &n.payload,
            state: &n.state,
            attempts: n.attempts,
            created_at: n.created_at,
            updated_at: n.updated_at,
            next_attempt_at: n.next_attempt_at,
            last_error: n.last_error.as_deref(),
            sent_at: n.sent_at,
            provider_id: n.provider_id.as_deref(),
        }
    }
}

/// A notification queued (`test`) or queued again (`retry`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationQueued<'a> {
    pub id: &'a str,
    pub state: NotificationState,
}

/// `GET /api/admin/notifications/prefs`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrefsAnswer<'a> {
    pub new_lead: &'a [NotifyChannel],
    pub call_ended: &'a [NotifyChannel],
    pub digest: bool,
    /// None: the instance's `defaultDigestHour`.
    pub digest_hour: Option<u8>,
    pub default_digest_hour: u32,
}

impl<'a> PrefsAnswer<'a> {
    pub fn new(p: &'a NotificationPrefs, default_digest_hour: u32) -> Self {
        PrefsAnswer {
            new_lead: &p.new_lead,
            call_ended: &p.call_ended,
            digest: p.digest,
            digest_hour: p.digest_hour,
            default_digest_hour,
        }
    }
}

/// `GET /api/admin/notifications/local-emails`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalEmailsAnswer<'a> {
    pub emails: Vec<LocalEmailView<'a>>,
    pub smtp_configured: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalEmailView<'a> {
    pub notification_id: &'a str,
    pub business_id: &'a str,
    pub message_id: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub text_body: &'a str,
    pub html_body: &'a str,
    #[serde(with = "crate::domain::rfc3339_serde")]
    pub created_at: DateTime<Utc>,
}

impl<'a> From<&'a LocalEmail> for LocalEmailView<'a> {
    fn from(e: &'a LocalEmail) -> Self {
        LocalEmailView {
            notification_id: &e.notification_id,
            business_id: &e.business_id,
            message_id: &e.message_id,
            recipient: &e.recipient,
            subject: &e.subject,
            text_body: &e.text_body,
            html_body: &e.html_body,
            created_at: e.created_at,
        }
    }
}
