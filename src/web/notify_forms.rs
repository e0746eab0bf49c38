//! Reading the Notifications page's forms (and their JSON twins): the outbox
//! filter, the channel of a test, and the owner's preferences.

use super::input::{finish, ActionError, FieldErrors, Input};
use crate::domain::{NotificationPrefs, NotificationState, NotifyChannel, NotifyEvent, PlanTier};
use crate::notify::policy::{NotifyPolicy, Refusal};
use crate::plans::PlanRequired;

/// Rows of the outbox a page (or an API call without `limit`) shows.
pub const PAGE_SIZE: u32 = 50;
/// Most rows one API call returns.
pub const MAX_LIMIT: u32 = 200;

/// Which outbox rows to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxFilter {
    /// None: every state.
    pub state: Option<NotificationState>,
    pub limit: u32,
    pub offset: u32,
}

fn number(e: &mut FieldErrors, input: &Input, key: &str, min: u32, max: u32) -> Option<u32> {
    let raw = input.get(key).trim();
    if raw.is_empty() {
        return None;
    }
    e.check(
        key,
        raw.parse::<u32>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or(format!("expected a whole number from {min} to {max}, got '{raw}'")),
    )
}

/// `state` (empty or `all`: every state), `limit`, `offset`, or a 1-based `page`.
pub fn outbox_filter(input: &Input) -> Result<OutboxFilter, ActionError> {
    let mut e = FieldErrors::default();
    let state = match input.get("state").trim() {
        "" | "all" => None,
        raw => e.check(
            "state",
            NotificationState::parse(raw)
                .ok_or(format!("expected {}, got '{raw}'", NotificationState::choices())),
        ),
    };
    let limit = number(&mut e, input, "limit", 1, MAX_LIMIT).unwrap_or(PAGE_SIZE);
    let mut offset = number(&mut e, input, "offset", 0, u32::MAX).unwrap_or(0);
    if let Some(page) = number(&mut e, input, "page", 1, 1_000_000) {
        offset = (page - 1).saturating_mul(limit);
    }
    finish(e, Some(OutboxFilter { state, limit, offset }))
}

/// The channel a test goes to.
pub fn channel(input: &Input) -> Result<NotifyChannel, ActionError> {
    let raw = input.get("channel").trim();
    NotifyChannel::parse(raw).ok_or_else(|| {
        ActionError::field("channel", format!("expected {}, got '{raw}'", NotifyChannel::choices()))
    })
}

/// Channels named in `key` (repeated values, or lines/commas in one), or None when absent.
fn channels(input: &Input, e: &mut FieldErrors, key: &str) -> Option<Vec<NotifyChannel>> {
    if !input.has(key) {
        return None;
    }
    let mut out = Vec::new();
    for name in input.lines(key).iter().flat_map(|l| l.split(',')).map(str::trim).filter(|n| !n.is_empty()) {
        match NotifyChannel::parse(name) {
            Some(c) if !out.contains(&c) => out.push(c),
            Some(_) => {}
            None => e.add(key, format!("expected {}, got '{name}'", NotifyChannel::choices())),
        }
    }
    Some(out)
}

/// The owner's preferences from the form: `new_lead` and `call_ended`
/// (channels), `digest` (on/off), `digest_hour` (0-23, empty: the instance's
/// default). A field left out keeps its value. Channels the plan lacks keep
/// their stored choice (they come back with the plan); turning one on is
/// refused with the plan that has it.
pub fn prefs(
    input: &Input,
    current: &NotificationPrefs,
    plan: PlanTier,
    policy: &NotifyPolicy,
) -> Result<NotificationPrefs, ActionError> {
    let mut e = FieldErrors::default();
    let mut p = current.clone();
    let mut missing: Option<PlanRequired> = None;
    for (key, event) in [("new_lead", NotifyEvent::NewLead), ("call_ended", NotifyEvent::CallEnded)] {
        let Some(wanted) = channels(input, &mut e, key) else { continue };
        let stored = if event == NotifyEvent::NewLead { &current.new_lead } else { &current.call_ended };
        let mut chosen = Vec::new();
        for &c in NotifyChannel::ALL {
            let on = match policy.check(plan, c, event) {
                Ok(()) => wanted.contains(&c),
                Err(Refusal::Plan(needed)) => {
                    if wanted.contains(&c) && !stored.contains(&c) {
                        missing.get_or_insert(needed);
                    }
                    stored.contains(&c)
                }
                Err(Refusal::NotForEvent) if wanted.contains(&c) => {
                    e.add(key, format!("{c}: a phone call is placed only for emergencies"));
                    false
                }
                Err(_) => stored.contains(&c),
            };
            if on {
                chosen.push(c);
            }
        }
        if event == NotifyEvent::NewLead {
            p.new_lead = chosen;
        } else {
            p.call_ended = chosen;
        }
    }
    if input.has("digest") {
        p.digest = input.flag("digest");
    }
    if input.has("digest_hour") {
        let raw = input.get("digest_hour").trim();
        p.digest_hour = match raw {
            "" | "default" => None,
            _ => e
                .check(
                    "digest_hour",
                    raw.parse::<u8>()
                        .ok()
                        .filter(|h| *h <= 23)
                        .map(Some)
                        .ok_or(format!("expected an hour from 0 to 23, got '{raw}'")),
                )
                .flatten(),
        };
    }
    let p = finish(e, Some(p))?;
    match missing {
        Some(plan_required) => Err(plan_required.into()),
        None => Ok(p),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::error::ApiError;
    use NotifyChannel::*;

    fn form(s: &str) -> Input {
        Input::from_urlencoded(s.as_bytes())
    }

    #[test]
    fn filters_read_state_limit_offset_and_page() {
        let f = outbox_filter(&form("state=dead&limit=10&page=3")).unwrap();
        assert_eq!(f, OutboxFilter { state: Some(NotificationState::Dead), limit: 10, offset: 20 });
        assert_eq!(outbox_filter(&form("state=all")).unwrap().state, None);
        assert_eq!(outbox_filter(&form("")).unwrap().limit, PAGE_SIZE);
        let Err(ActionError::Fields(e)) = outbox_filter(&form("state=lost&limit=0&offset=-1")) else {
            panic!("bad filters are refused")
        };
        assert!(e.get("state").unwrap().contains("pending, in_flight, sent, kept or dead"));
        assert!(e.get("limit").unwrap().contains("from 1 to 200"));
        assert!(e.get("offset").is_some());
    }

    #[test]
    fn preferences_validate_and_keep_what_the_plan_lacks() {
        let policy = NotifyPolicy::default();
        let stored = NotificationPrefs::default();
        // FREE: SMS and webhook are greyed out, so the form leaves them out; they stay.
        let p = prefs(
            &form("new_lead=&new_lead=email&digest=false&digest_hour=7"),
            &stored,
            PlanTier::Free,
            &policy,
        )
        .unwrap();
        assert_eq!(p.new_lead, [Email, Sms, Webhook]);
        assert!(!p.digest);
        assert_eq!(p.digest_hour, Some(7));
        let p = prefs(&form("new_lead="), &stored, PlanTier::Basic, &policy).unwrap();
        assert!(p.new_lead.is_empty(), "{p:?}");
        assert_eq!(p.call_ended, [Webhook], "left out: kept");
        // Turning on a channel the plan lacks names the plan.
        let none = NotificationPrefs { call_ended: vec![], ..stored.clone() };
        match prefs(&form("call_ended=sms"), &none, PlanTier::Free, &policy) {
            Err(ActionError::Api(ApiError::PlanRequired(p))) => assert_eq!(p.required, PlanTier::Basic),
            other => panic!("{other:?}"),
        }
        let Err(ActionError::Fields(e)) = prefs(
            &form("digest_hour=25&new_lead=fax&call_ended=voice_call"),
            &stored,
            PlanTier::Pro,
            &policy,
        ) else {
            panic!("bad input is refused")
        };
        assert_eq!(e.get("digest_hour"), Some("expected an hour from 0 to 23, got '25'"));
        assert!(e.get("new_lead").unwrap().contains("got 'fax'"));
        assert!(e.get("call_ended").unwrap().contains("only for emergencies"));
        assert_eq!(prefs(&form("digest_hour="), &stored, PlanTier::Pro, &policy).unwrap().digest_hour, None);
    }
}
