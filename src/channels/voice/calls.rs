//! Voice state that outlives one request of a call, and the per-business
//! voice budgets: what `AppState` holds for the phone. Kept apart from the
//! handlers so the state can be built without them.

use std::sync::Arc;
use std::time::Duration;

use super::stream_token;
use crate::http::ratelimit::RateLimiter;
use crate::sessions::Shared;

/// Samples one business may have synthesised per hour (each costs the
/// operator an OpenAI request; a greeting edited over and over must not
/// turn into a bill).
pub const SYNTHESES_PER_HOUR: u32 = 30;

/// Test calls one business may place per hour.
pub const TEST_CALLS_PER_HOUR: u32 = 3;

/// The per-business budget of test calls, counted across instances.
fn test_call_limiter(store: &Shared) -> RateLimiter {
    RateLimiter::new("test_calls", TEST_CALLS_PER_HOUR, Duration::from_secs(3600), store)
}

/// What a call does when its media stream ends, decided by the bridge and
/// read by the stream's `<Connect action>` when Twilio could not be told
/// directly (no REST credentials, or the REST call failed).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum NextStep {
    /// Carry on turn by turn (the realtime model failed).
    Gather,
    Transfer {
        number: String,
    },
    Hangup,
    /// Every line is busy: take a message.
    Voicemail,
}

/// How long a call's passed-on decisions are kept.
const CALL_STATE: Duration = Duration::from_secs(1800);

/// Voice state passed from one request of a call to the next, which may
/// land on another instance: it lives in the shared store. What lives for
/// the whole call stays in the call's own task (a media stream's bridge, on
/// the instance that accepted the stream).
pub struct Calls {
    kv: Shared,
    /// The voice page's "listen" samples being made.
    pub samples: Samples,
    /// Test calls placed per business ("call my receptionist"), counted across instances.
    pub test_calls: RateLimiter,
    /// This instance's CPU, checked before a realtime call is taken.
    pub cpu: super::cpu_guard::CpuGuard,
}

impl Calls {
    pub fn new(store: &Shared) -> Calls {
        Calls {
            kv: store.space(100_000),
            samples: Samples::new(store),
            test_calls: test_call_limiter(store),
            cpu: super::cpu_guard::CpuGuard::new(),
        }
    }

    pub async fn set_next(&self, call_sid: &str, step: NextStep) {
        match serde_json::to_string(&step) {
            Ok(json) => self.kv.set(&format!("call:next:{call_sid}"), &json, CALL_STATE).await,
            Err(e) => tracing::error!(call_sid, error = %e, "next step could not be serialised"),
        }
    }

    pub async fn next(&self, call_sid: &str) -> Option<NextStep> {
        let json = self.kv.get(&format!("call:next:{call_sid}")).await?;
        serde_json::from_str(&json).ok()
    }

    /// Marks a stream token used; false when it already was (a replay).
    pub async fn first_use(&self, token: &str) -> bool {
        let ttl = Duration::from_secs(stream_token::LIFETIME_SECS.unsigned_abs() * 2);
        self.kv.set_nx(&format!("stream:used:{token}"), "1", ttl).await
    }

    /// Gather mode: the caller holds while a reply is worked out. Returns
    /// the turn's id, which [`Calls::reply_ready`] names.
    pub(crate) async fn hold_reply(&self, call_sid: &str) -> String {
        let turn = crate::domain::new_id();
        self.kv.set(&reply_key(call_sid), &format!("waiting {turn}"), CALL_STATE).await;
        turn
    }

    /// The held turn's reply is ready (unless a newer turn replaced it, or
    /// `again`: a reply taken but not delivered is offered once more).
    pub(crate) async fn reply_ready(&self, call_sid: &str, turn: &str, twiml: &str, again: bool) -> bool {
        let from = if again { format!("delivered {turn}") } else { format!("waiting {turn}") };
        self.kv.cas(&reply_key(call_sid), &from, &format!("ready {turn} {twiml}"), CALL_STATE).await
    }

    /// The ready reply's TwiML, once, to whoever asks first (the hold loop's
    /// redirect, on any instance, or the REST update).
    pub(crate) async fn take_reply(&self, call_sid: &str) -> Option<String> {
        let key = reply_key(call_sid);
        let current = self.kv.get(&key).await?;
        let mut parts = current.splitn(3, ' ');
        let (Some("ready"), Some(turn), Some(twiml)) = (parts.next(), parts.next(), parts.next()) else {
            return None;
        };
        let taken = self.kv.cas(&key, &current, &format!("delivered {turn}"), CALL_STATE).await;
        taken.then(|| twiml.to_string())
    }

    /// Whether a held reply is still coming (not yet taken).
    pub(crate) async fn reply_pending(&self, call_sid: &str) -> bool {
        let current = self.kv.get(&reply_key(call_sid)).await;
        current.is_some_and(|v| v.starts_with("waiting ") || v.starts_with("ready "))
    }
}

fn reply_key(call_sid: &str) -> String {
    format!("call:reply:{call_sid}")
}

/// One lock per business and voice (two quick clicks make one request),
/// and the per-business synthesis budget.
pub struct Samples {
    pub(super) locks: moka::sync::Cache<String, Arc<tokio::sync::Mutex<()>>>,
    pub(super) budget: RateLimiter,
}

impl Samples {
    /// The budget of new samples is counted across instances (`store`); the
    /// locks that stop two requests making one sample are per instance.
    pub fn new(store: &Shared) -> Self {
        Samples {
            locks: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_idle(Duration::from_secs(600))
                .build(),
            budget: RateLimiter::new("voice_samples", SYNTHESES_PER_HOUR, Duration::from_secs(3600), store),
        }
    }
}
