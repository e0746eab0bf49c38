//! The Notifications page: the outbox (counts per state, a filter, paging,
//! retrying a dead row), a test on each channel, where the owner is told
//! (addresses) and about what (preferences), and the emails kept on this
//! server when no SMTP server is configured. Staff see the outbox only.

use warp::http::StatusCode;

use super::{form_error, local_time, redirect_with, render_status, Page, PageError, PageResult};
use crate::domain::{
    Business, Notification, NotificationPrefs, NotificationState, NotifyChannel, NotifyEvent,
};
use crate::error::ApiError;
use crate::notify::policy::Refusal;
use crate::web::actions;
use crate::web::forms::zone;
use crate::web::input::{ActionError, FieldErrors, Input};
use crate::web::notify_forms::{self, OutboxFilter, PAGE_SIZE};
use crate::web::templates::{
    Field, LimitRow, LocalEmailRow, NotificationsPage, OutboxRow, OutboxView, PrefRow, PrefsView, StateTab,
    TestChannel,
};

const PATH: &str = "/settings/notifications";
/// Local emails listed at most.
const LOCAL_EMAILS: u32 = 20;

/// Forms sent back with what was wrong.
#[derive(Default)]
pub struct Shown {
    pub addresses: Option<(Input, FieldErrors)>,
    pub prefs: Option<(Input, FieldErrors)>,
    pub test_error: Option<(String, StatusCode)>,
}

fn channel_label(c: &str) -> &'static str {
    match NotifyChannel::parse(c) {
        Some(NotifyChannel::Email) => "Email",
        Some(NotifyChannel::Sms) => "SMS",
        Some(NotifyChannel::VoiceCall) => "Phone call",
        Some(NotifyChannel::Webhook) => "Webhook",
        None => "Other",
    }
}

fn kind_label(kind: &str) -> &'static str {
    match NotifyEvent::parse(kind) {
        Some(NotifyEvent::NewLead) => "New lead",
        Some(NotifyEvent::UrgentLead) => "URGENT lead",
        Some(NotifyEvent::UrgentUpdate) => "URGENT update (caller's details)",
        Some(NotifyEvent::CallEnded) => "Call ended",
        Some(NotifyEvent::Digest) => "Daily digest",
        Some(NotifyEvent::Test) => "Test",
        None => "Other",
    }
}

fn state_label(state: NotificationState) -> &'static str {
    match state {
        NotificationState::Pending => "Waiting",
        NotificationState::InFlight => "Sending",
        NotificationState::Sent => "Delivered",
        NotificationState::Kept => "Kept on this server — not emailed",
        NotificationState::Dead => "Failed",
    }
}

/// The tab's short name.
fn tab_label(state: NotificationState) -> &'static str {
    match state {
        NotificationState::Kept => "Kept on this server",
        other => state_label(other),
    }
}

fn row(n: &Notification, tz: chrono_tz::Tz) -> OutboxRow {
    let state = NotificationState::parse(&n.state);
    OutboxRow {
        id: n.id.clone(),
        when: local_time(n.created_at, tz),
        kind: n.kind.clone(),
        kind_label: kind_label(&n.kind),
        channel_label: channel_label(&n.channel),
        recipient: n.recipient.clone(),
        attempts: n.attempts,
        state: n.state.clone(),
        state_label: state.map_or("Other", state_label),
        next_try: (state == Some(NotificationState::Pending) && n.attempts > 0)
            .then(|| local_time(n.next_attempt_at, tz)),
        last_error: n.last_error.clone().unwrap_or_default(),
        sent: n.sent_at.map(|t| local_time(t, tz)).unwrap_or_default(),
        lead_id: n.lead_id.as_ref().map(|id| id.to_string()),
    }
}

/// `?state=…&page=…`, or "" for the first page of every state.
fn query(state: Option<NotificationState>, page: u32) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    if let Some(s) = state {
        q.append_pair("state", s.as_str());
    }
    if page > 1 {
        q.append_pair("page", &page.to_string());
    }
    let q = q.finish();
    if q.is_empty() {
        q
    } else {
        format!("?{q}")
    }
}

fn recipient(b: &Business, c: NotifyChannel) -> String {
    let address = match c {
        NotifyChannel::Email => &b.notification_email,
        NotifyChannel::Sms | NotifyChannel::VoiceCall => &b.notification_phone_number,
        NotifyChannel::Webhook => &b.notification_webhook_url,
    };
    address.clone().unwrap_or_default()
}

fn upgrade_hint(p: &crate::plans::PlanRequired) -> String {
    let text = p.to_string();
    let mut chars = text.chars();
    let first: String = chars.next().map(|c| c.to_uppercase().collect()).unwrap_or_default();
    format!("{first}{}.", chars.as_str())
}

fn tests(page: &Page<'_>, b: &Business) -> Vec<TestChannel> {
    let policy = page.app.notify_policy();
    NotifyChannel::ALL
        .iter()
        .map(|&c| {
            let refusal = policy.check(b.plan_tier, c, NotifyEvent::Test).err();
            let switched_off = matches!(refusal, Some(Refusal::SwitchedOff | Refusal::NotForEvent))
                .then_some(
                    "Phone-call alerts are switched off on this server (ENABLE_EMERGENCY_VOICE_CALLS).",
                );
            let missing = policy.missing_setup(c);
            TestChannel {
                value: c.as_str(),
                label: channel_label(c.as_str()),
                to: recipient(b, c),
                upgrade: match &refusal {
                    Some(Refusal::Plan(p)) => Some(upgrade_hint(p)),
                    _ => None,
                },
                // Email can still be kept here to look at; texts and calls cannot go at all.
                off: switched_off.or(missing.filter(|_| c != NotifyChannel::Email)),
                note: missing.filter(|_| c == NotifyChannel::Email),
            }
        })
        .collect()
}

/// The daily caps and what this business used of them in the last 24 hours.
async fn limits(page: &Page<'_>, b: &Business) -> Result<Vec<LimitRow>, PageError> {
    use crate::notify::policy::CapClass;
    let caps = page.app.notify_policy().caps;
    let since = chrono::Utc::now() - chrono::Duration::hours(24);
    let usage = page.app.store.notification_usage(&b.id, since).await?;
    let used = |c: NotifyChannel, class: CapClass| {
        usage.iter().find(|u| u.channel == c && u.class == class).map_or(0, |u| u.count)
    };
    let shown = |n: u64, cap: u32| if cap == 0 { format!("{n} (no limit)") } else { format!("{n} of {cap}") };
    Ok([
        (NotifyChannel::Email, caps.email),
        (NotifyChannel::Sms, caps.sms),
        (NotifyChannel::VoiceCall, caps.call),
    ]
    .into_iter()
    .map(|(c, cap)| LimitRow {
        label: channel_label(c.as_str()),
        everyday: shown(used(c, CapClass::Everyday), cap),
        urgent: shown(used(c, CapClass::Urgent), caps.urgent),
        tests: shown(used(c, CapClass::Test), caps.tests),
    })
    .collect())
}

/// The preferences grid: stored values, or the form sent back (channels the
/// plan lacks always show what is stored).
fn pref_rows(
    page: &Page<'_>,
    b: &Business,
    stored: &NotificationPrefs,
    sent: Option<&Input>,
) -> Vec<PrefRow> {
    let policy = page.app.notify_policy();
    NotifyChannel::ALL
        .iter()
        .filter(|&&c| policy.check(b.plan_tier, c, NotifyEvent::NewLead) != Err(Refusal::NotForEvent))
        .map(|&c| {
            let upgrade = match policy.check(b.plan_tier, c, NotifyEvent::NewLead) {
                Err(Refusal::Plan(p)) => Some(upgrade_hint(&p)),
                _ => None,
            };
            let on = |key: &str, list: &[NotifyChannel]| match sent {
                Some(form) if upgrade.is_none() => form.all(key).contains(&c.as_str()),
                _ => list.contains(&c),
            };
            PrefRow {
                value: c.as_str(),
                label: channel_label(c.as_str()),
                new_lead: on("new_lead", &stored.new_lead),
                call_ended: on("call_ended", &stored.call_ended),
                upgrade,
            }
        })
        .collect()
}

fn address_fields() -> Vec<Field> {
    vec![
        Field::new(
            "notification_email",
            "Alert email",
            "email",
            "New leads, emergencies and the daily digest by email",
        ),
        Field::new(
            "notification_phone_number",
            "Mobile number for text messages",
            "tel",
            "Emergencies by SMS (and a call on PRO)",
        ),
        Field::new(
            "notification_webhook_url",
            "Webhook URL",
            "url",
            "New leads are POSTed here as signed JSON (CRM, automation)",
        ),
    ]
}

fn address_values(b: &Business) -> Input {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    Input::from_pairs([
        ("notification_email".to_string(), opt(&b.notification_email)),
        ("notification_phone_number".to_string(), opt(&b.notification_phone_number)),
        ("notification_webhook_url".to_string(), opt(&b.notification_webhook_url)),
    ])
}

async fn outbox(page: &Page<'_>, b: &Business) -> Result<OutboxView, PageError> {
    let (filter, errors) = match notify_forms::outbox_filter(&page.req.query_input()) {
        Ok(f) => (f, FieldErrors::default()),
        Err(e) => (OutboxFilter { state: None, limit: PAGE_SIZE, offset: 0 }, form_error(e)?),
    };
    let store = &page.app.store;
    let counts = store.notification_counts(&b.id).await?;
    let rows = store.notifications_page(&b.id, filter.state, filter.limit, filter.offset).await?;
    let total: u64 =
        counts.iter().filter(|(s, _)| filter.state.is_none_or(|f| f == *s)).map(|(_, n)| n).sum();
    let mut tabs = vec![StateTab {
        key: "all",
        query: String::new(),
        label: "All",
        count: counts.iter().map(|(_, n)| n).sum(),
        current: filter.state.is_none(),
    }];
    tabs.extend(counts.iter().map(|&(s, n)| StateTab {
        key: s.as_str(),
        query: query(Some(s), 1),
        label: tab_label(s),
        count: n,
        current: filter.state == Some(s),
    }));
    let current = filter.offset / filter.limit.max(1) + 1;
    let tz = zone(b);
    Ok(OutboxView {
        tabs,
        state: filter.state.map(|s| s.as_str().to_string()).unwrap_or_default(),
        prev_page: (current > 1).then(|| format!("{PATH}{}", query(filter.state, current - 1))),
        next_page: (u64::from(filter.offset) + (rows.len() as u64) < total)
            .then(|| format!("{PATH}{}", query(filter.state, current + 1))),
        rows: rows.iter().map(|n| row(n, tz)).collect(),
        errors,
    })
}

/// The preferences form: stored, or as sent back with its errors.
async fn prefs(
    page: &Page<'_>,
    b: &Business,
    shown: Option<(Input, FieldErrors)>,
) -> Result<PrefsView, PageError> {
    let stored = page.app.store.notification_prefs(&b.id).await?;
    let (sent, errors) = match shown {
        Some((form, e)) => (Some(form), e),
        None => (None, FieldErrors::default()),
    };
    Ok(PrefsView {
        rows: pref_rows(page, b, &stored, sent.as_ref()),
        digest: sent.as_ref().map_or(stored.digest, |f| f.flag("digest")),
        digest_hour: match &sent {
            Some(f) => f.get("digest_hour").to_string(),
            None => stored.digest_hour.map(|h| h.to_string()).unwrap_or_default(),
        },
        default_hour: page.app.config.notify.digest_hour,
        errors,
    })
}

pub async fn show(page: &Page<'_>, shown: Shown) -> PageResult {
    let b = page.business()?;
    let l = page.layout("Notifications", PATH).await;
    let outbox = outbox(page, b).await?;
    let manage = page.caller.can_manage();
    let (prefs, webhook_secret) = if manage {
        (prefs(page, b, shown.prefs).await?, page.app.store.webhook_secret(&b.id).await?)
    } else {
        (PrefsView::default(), String::new())
    };
    let (v, errors) = shown.addresses.unwrap_or_else(|| (address_values(b), FieldErrors::default()));
    let status = match &shown.test_error {
        Some((_, status)) => *status,
        None if !errors.is_empty() || !prefs.errors.is_empty() || !outbox.errors.is_empty() => {
            StatusCode::BAD_REQUEST
        }
        None => StatusCode::OK,
    };
    let tz = zone(b);
    let local_emails = page.app.store.local_emails(&b.id, LOCAL_EMAILS).await?;
    let page_data = NotificationsPage {
        l,
        outbox,
        tests: if manage { tests(page, b) } else { Vec::new() },
        test_error: shown.test_error.map(|(m, _)| m),
        v,
        errors,
        fields: address_fields(),
        webhook_secret,
        prefs,
        smtp: !page.app.config.smtp.host.is_empty(),
        limits: if manage { limits(page, b).await? } else { Vec::new() },
        tests_per_minute: page.app.config.notify.tests_per_minute,
        local_emails: local_emails
            .into_iter()
            .map(|e| LocalEmailRow {
                when: local_time(e.created_at, tz),
                to: e.recipient,
                subject: e.subject,
                text: e.text_body,
            })
            .collect(),
    };
    render_status(&page_data, status)
}

pub async fn save_addresses(page: &Page<'_>) -> PageResult {
    let form = page.req.form();
    match actions::save_notifications(page.app, page.caller, &form).await {
        Ok(()) => Ok(redirect_with(PATH, "Notification settings saved.")),
        Err(e) => {
            let errors = form_error(e)?;
            show(page, Shown { addresses: Some((form, errors)), ..Shown::default() }).await
        }
    }
}

pub async fn save_prefs(page: &Page<'_>) -> PageResult {
    let form = page.req.form();
    match actions::save_notification_prefs(page.app, page.caller, &form).await {
        Ok(_) => Ok(redirect_with(PATH, "Notification preferences saved.")),
        Err(e) => {
            let errors = form_error(e)?;
            show(page, Shown { prefs: Some((form, errors)), ..Shown::default() }).await
        }
    }
}

/// A refused test is shown next to the buttons, not as an error page.
pub async fn send_test(page: &Page<'_>) -> PageResult {
    let form = page.req.form();
    let refused = match actions::send_test_notification(page.app, page.caller, &form).await {
        Ok(_) => {
            let channel = NotifyChannel::parse(form.get("channel"));
            let message = if channel == Some(NotifyChannel::Email) && page.app.config.smtp.host.is_empty() {
                "Test email kept on this server — not emailed: no mail server is set up. It is under \"Emails kept on this server\" below.".to_string()
            } else {
                let label = channel_label(form.get("channel")).to_lowercase();
                format!("Test {label} queued: it goes out at once.")
            };
            return Ok(redirect_with(PATH, &message));
        }
        Err(ActionError::Api(ApiError::PlanRequired(p))) => (upgrade_hint(&p), StatusCode::FORBIDDEN),
        Err(e) => {
            let errors = form_error(e)?;
            let why: Vec<&str> = errors.0.iter().map(|(_, m)| m.as_str()).collect();
            (format!("Test not sent: {}.", why.join("; ")), StatusCode::BAD_REQUEST)
        }
    };
    show(page, Shown { test_error: Some(refused), ..Shown::default() }).await
}

pub async fn retry(page: &Page<'_>, id: &str) -> PageResult {
    actions::retry_notification(page.app, page.caller, id).await?;
    let back = NotificationState::parse(page.req.form().get("state"));
    Ok(redirect_with(&format!("{PATH}{}", query(back, 1)), "Notification queued again: it goes out at once."))
}
