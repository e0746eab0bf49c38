//! The delivery worker: claims due rows per channel with a lease, delivers
//! them concurrently (a separate bound per channel, so a slow SMTP server
//! never holds up an SMS), and records each attempt's end: sent, retried
//! after an exponential backoff with jitter, or dead.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::email::EmailSender;
use super::policy::Backoff;
use super::render::Summary;
use super::webhook::WebhookPoster;
use super::{call, digest, sms, Delivered, DeliveryError};
use crate::domain::NotifyChannel;
use crate::state::AppState;
use crate::store::outbox::{Claimed, Outcome};
use crate::store::{Store, StoreError};
use crate::twilio::TwilioClient;

/// How often digests are looked for.
const DIGEST_EVERY: Duration = Duration::from_secs(60);

/// The channels' senders, built once from the configuration.
struct Deliverers {
    email: EmailSender,
    webhook: WebhookPoster,
    twilio: Option<TwilioClient>,
    from: String,
    webhook_base_url: String,
    public_url: String,
}

impl Deliverers {
    async fn deliver(&self, store: &dyn Store, claimed: &Claimed) -> Result<Delivered, DeliveryError> {
        let ctx = store.delivery_context(claimed).await.map_err(|e| match e {
            StoreError::NotFound(what) => DeliveryError::Permanent(format!("{what} no longer exists")),
            other => DeliveryError::Transient(other.to_string()),
        })?;
        let summary = Summary::new(claimed, &ctx, &self.public_url);
        let twilio = self.twilio.as_ref();
        let sent = match claimed.channel {
            NotifyChannel::Email => return self.email.deliver(store, claimed, &ctx).await,
            NotifyChannel::Sms => sms::deliver(twilio, &self.from, claimed, &ctx, &summary).await,
            NotifyChannel::VoiceCall => {
                call::deliver(twilio, &self.from, &self.webhook_base_url, claimed, &ctx, &summary).await
            }
            NotifyChannel::Webhook => self.webhook.deliver(claimed, &ctx, &summary).await,
        };
        sent.map(Delivered::Sent)
    }
}

/// One channel's queue: its concurrency bound, and whether more rows may be due.
struct Lane {
    channel: NotifyChannel,
    permits: Arc<Semaphore>,
    more: bool,
}

/// The running worker; stop it with [`Notifier::shutdown`].
pub struct Notifier {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Notifier {
    /// Stops claiming, gives deliveries in flight `grace` to finish, then
    /// abandons them: their rows stay in flight and are resumed at the next start.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(true);
        let mut task = self.task;
        if tokio::time::timeout(grace + Duration::from_secs(1), &mut task).await.is_err() {
            task.abort();
        }
    }
}

/// Starts the worker. Fails on an SMTP configuration lettre cannot use.
pub fn spawn(app: AppState) -> Result<Notifier, String> {
    let config = &app.config;
    let deliverers = Deliverers {
        email: EmailSender::new(config, app.plans)?,
        webhook: WebhookPoster::new(
            Duration::from_millis(config.notify.delivery_timeout_ms),
            config.notify.allow_private_webhooks,
        ),
        twilio: app.twilio.clone(),
        from: config.twilio.phone_number.clone(),
        webhook_base_url: config.twilio.webhook_base_url.clone(),
        public_url: config.public_url(),
    };
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(run(app, Arc::new(deliverers), stopped));
    Ok(Notifier { stop, task })
}

async fn run(app: AppState, deliverers: Arc<Deliverers>, mut stop: watch::Receiver<bool>) {
    let n = &app.config.notify;
    let backoff = Backoff {
        base: Duration::from_millis(n.backoff_base_ms),
        max: Duration::from_millis(n.backoff_max_ms),
        max_attempts: n.max_attempts,
    };
    let timeout = Duration::from_millis(n.delivery_timeout_ms);
    // A lease outlives any attempt (config validation), so only a stuck or
    // crashed worker loses its row.
    let lease_ms = n.lease_ms;
    let poll = Duration::from_millis(n.poll_ms);
    match app.store.resume_in_flight().await {
        Ok(0) => {}
        Ok(resumed) => tracing::info!(resumed, "resuming notifications left in flight"),
        Err(e) => tracing::error!(error = %e, "cannot resume notifications left in flight"),
    }
    let lane =
        |channel, limit: u32| Lane { channel, permits: Arc::new(Semaphore::new(limit as usize)), more: true };
    let mut lanes = [
        lane(NotifyChannel::Email, n.email_concurrency),
        lane(NotifyChannel::Sms, n.sms_concurrency),
        lane(NotifyChannel::VoiceCall, n.call_concurrency),
        lane(NotifyChannel::Webhook, n.webhook_concurrency),
    ];
    let mut tasks = JoinSet::new();
    let mut next_digest = Instant::now();
    loop {
        for lane in lanes.iter_mut().filter(|l| l.more) {
            let free = lane.permits.available_permits();
            if free == 0 {
                continue;
            }
            match app.store.claim_due(lane.channel, free as u32, lease_ms).await {
                Ok(rows) => {
                    lane.more = rows.len() == free;
                    for row in rows {
                        // Claimed no more than the free permits: this always succeeds.
                        let Ok(permit) = lane.permits.clone().try_acquire_owned() else { break };
                        let (app, deliverers) = (app.clone(), deliverers.clone());
                        tasks.spawn(async move {
                            deliver_one(&app, &deliverers, row, backoff, timeout).await;
                            drop(permit);
                        });
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, channel = %lane.channel, "cannot claim notifications");
                    lane.more = false;
                }
            }
        }
        if Instant::now() >= next_digest {
            enqueue_digests(&app).await;
            next_digest = Instant::now() + DIGEST_EVERY;
        }
        tokio::select! {
            () = app.notify_wake.notified() => lanes.iter_mut().for_each(|l| l.more = true),
            () = tokio::time::sleep(poll) => lanes.iter_mut().for_each(|l| l.more = true),
            // A finished delivery frees a permit: lanes with more rows claim again.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = stop.changed() => break,
        }
    }
    let grace = Duration::from_secs(app.config.server.shutdown_grace_secs);
    let drained = tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            left = tasks.len(),
            "notifications still in flight at shutdown; resumed at the next start"
        );
        tasks.abort_all();
    }
}

async fn deliver_one(
    app: &AppState,
    deliverers: &Deliverers,
    row: Claimed,
    backoff: Backoff,
    timeout: Duration,
) {
    let started = Instant::now();
    // Debug only: with the outcome lines it says which rows a worker held when it died.
    tracing::debug!(notification_id = row.id.as_str(), attempt = row.attempts, "delivering notification");
    let result =
        tokio::time::timeout(timeout, deliverers.deliver(app.store.as_ref(), &row)).await.unwrap_or_else(
            |_| Err(DeliveryError::Transient(format!("no answer within {} ms", timeout.as_millis()))),
        );
    let ms = started.elapsed().as_millis() as u64;
    let (id, business_id, channel, kind, attempt) =
        (row.id.as_str(), row.business_id.as_str(), row.channel.as_str(), row.kind.as_str(), row.attempts);
    let outcome = match result {
        Ok(Delivered::Sent(provider_id)) => {
            tracing::info!(
                notification_id = id,
                business_id,
                channel,
                kind,
                attempt,
                ms,
                "notification sent"
            );
            Outcome::Sent { provider_id }
        }
        Ok(Delivered::Kept(provider_id)) => {
            tracing::info!(notification_id = id, business_id, channel, kind, "kept on this server (no SMTP)");
            Outcome::Kept { provider_id }
        }
        Err(DeliveryError::Permanent(error)) => {
            tracing::warn!(notification_id = id, business_id, channel, kind, attempt, %error, "notification dead");
            Outcome::Dead { error }
        }
        Err(DeliveryError::Transient(error)) if backoff.exhausted(row.attempts) => {
            tracing::warn!(notification_id = id, business_id, channel, kind, attempt, %error,
                "notification dead after its last attempt");
            Outcome::Dead { error: format!("gave up after {} attempts: {error}", row.attempts) }
        }
        Err(DeliveryError::Transient(error)) => {
            let wait = backoff.delay(row.attempts);
            tracing::info!(notification_id = id, business_id, channel, kind, attempt, %error,
                retry_in_ms = wait.as_millis() as u64, "notification will be retried");
            let at =
                chrono::Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::zero());
            Outcome::Retry { error, at }
        }
    };
    match app.store.finish_delivery(&row.id, &row.lease_token, outcome).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(notification_id = id, "notification's lease was lost before it was recorded")
        }
        // The row stays in flight; its lease expires and it is tried again.
        Err(e) => tracing::error!(notification_id = id, error = %e, "cannot record a delivery"),
    }
}

/// Enqueues every digest now due (each at most once per business and local day).
async fn enqueue_digests(app: &AppState) {
    let candidates = match app.store.digest_candidates().await {
        Ok(c) => c,
        Err(e) => return tracing::error!(error = %e, "cannot look for digests"),
    };
    let default_hour = u8::try_from(app.config.notify.digest_hour).unwrap_or(18);
    let now = chrono::Utc::now();
    for c in candidates.into_iter().filter(|c| c.prefs.digest) {
        let Some(event) = digest::due(&c.timezone, c.prefs.digest_hour.unwrap_or(default_hour), now) else {
            continue;
        };
        match app.store.enqueue_digest(&c.business_id, event, app.notify_policy()).await {
            Ok(true) => {
                tracing::info!(business_id = %c.business_id, "daily digest enqueued");
                app.notify_wake.notify_one();
            }
            Ok(false) => {}
            Err(e) => tracing::error!(business_id = %c.business_id, error = %e, "cannot enqueue a digest"),
        }
    }
}
