//! Settings pages: voice (PRO), business, widget, emergency rules, and the
//! plan table (notifications have their own page module).

use std::sync::Arc;

use super::{form_error, redirect_with, render, render_status, status_for, Page, PageResult};
use crate::agent::triage::Rules;
use crate::domain::{AgentConfig, Business, BusinessType, PlanTier, Priority, VoiceMode, REALTIME_VOICES};
use crate::plans::Feature;
use crate::web::actions;
use crate::web::input::{ActionError, FieldErrors, Input};
use crate::web::templates::{
    EmergencyPage, Field, FormParts, PlanPage, SimpleFormPage, VoicePage, WidgetPage,
};

fn pairs(items: &[(&str, String)]) -> Input {
    Input::from_pairs(items.iter().map(|(k, v)| (k.to_string(), v.clone())))
}

/// "X needs the PLAN plan." when the plan lacks the feature.
fn blocked(page: &Page<'_>, plan: PlanTier, feature: Feature) -> Option<String> {
    page.app.plans.require(plan, feature).err().map(|e| format!("{}.", capitalise(&e.to_string())))
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// This instance's address as the owner reaches it: the configured public
/// URL (APP_PRIMARY_URL or HOSTNAME), else the host the browser used.
pub fn site_url(app: &crate::state::AppState, headers: &warp::http::HeaderMap) -> String {
    let urls = &app.config;
    let configured = !urls.urls.app_primary_url.is_empty() || !urls.server.hostname.is_empty();
    match headers.get("host").and_then(|h| h.to_str().ok()) {
        Some(host) if !configured && !host.is_empty() && !host.contains(['/', ' ', '"']) => {
            format!("http://{host}")
        }
        _ => app.config.public_url(),
    }
}

/// The URLs to paste into Twilio: exactly those the voice channel checks
/// signatures against and puts in its TwiML (`TWILIO_WEBHOOK_BASE_URL`, else
/// this instance's public URL; the stream on `HOSTNAME`).
pub fn voice_urls(app: &crate::state::AppState) -> (String, String, String, String) {
    use crate::channels::voice::{public_url, stream_url};
    (
        public_url(app, "/api/voice/incoming"),
        public_url(app, "/api/voice/status"),
        public_url(app, "/api/voice/handle-speech"),
        stream_url(app),
    )
}

/// What the operator still has to configure before Twilio can reach the agent.
fn voice_setup_warning(app: &crate::state::AppState) -> Option<String> {
    let t = &app.config.twilio;
    let url = voice_urls(app).0;
    if !url.starts_with("https://") || !public_host(&url) {
        return Some(format!(
            "Twilio cannot reach {url}: it only calls public https addresses. The operator turns on built-in \
             HTTPS (tls.mode = acme with this instance's domain), or sets TWILIO_WEBHOOK_BASE_URL to the public \
             https address of a proxy in front, such as https://frontdesk.example.com."
        ));
    }
    t.auth_token.is_empty().then(|| {
        "The operator has not set TWILIO_AUTH_TOKEN yet: calls cannot be verified, so none are answered."
            .into()
    })
}

/// Whether a URL's host could be reached from the internet (not localhost,
/// a loopback, private or link-local address).
fn public_host(url: &str) -> bool {
    let Some(host) = url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_string)) else {
        return false;
    };
    let host = host.trim_matches(['[', ']']);
    if host == "localhost" || host.ends_with(".localhost") || host.ends_with(".local") {
        return false;
    }
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => {
            !(ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified())
        }
        Ok(std::net::IpAddr::V6(ip)) => {
            !(ip.is_loopback() || ip.is_unspecified() || (ip.segments()[0] & 0xfe00) == 0xfc00)
        }
        Err(_) => true,
    }
}

pub(super) fn voice_values(a: &AgentConfig, b: &Business) -> Input {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    pairs(&[
        ("voice_greeting_message", opt(&a.voice_greeting_message)),
        ("voice_completion_message", opt(&a.voice_completion_message)),
        ("voice_emergency_message", opt(&a.voice_emergency_message)),
        ("voice_end_call_message", opt(&a.voice_end_call_message)),
        ("twilio_voice", a.twilio_voice.clone()),
        ("twilio_language", a.twilio_language.clone()),
        ("voice_mode", a.voice_mode.as_str().to_string()),
        ("realtime_voice", a.realtime_voice.clone()),
        ("twilio_phone_number", opt(&b.twilio_phone_number)),
    ])
}

/// Twilio voices offered: the basic three, then premium ones.
const TWILIO_VOICES: &[(&str, &str)] = &[
    ("alice", "Alice (basic)"),
    ("woman", "Woman (basic)"),
    ("man", "Man (basic)"),
    ("Polly.Joanna", "Polly Joanna (premium)"),
    ("Polly.Matthew", "Polly Matthew (premium)"),
    ("Polly.Amy", "Polly Amy, British (premium)"),
    ("Polly.Lupe", "Polly Lupe, Spanish (premium)"),
    ("Google.en-US-Neural2-F", "Google Neural2 F (premium)"),
    ("Google.en-US-Neural2-D", "Google Neural2 D (premium)"),
];

pub async fn voice(page: &Page<'_>, shown: Option<Input>, errors: FieldErrors) -> PageResult {
    let status = status_for(&errors);
    voice_with_status(page, shown, errors, status).await
}

/// The voice page, shown with `status` (a test call Twilio refused: 502).
pub async fn voice_with_status(
    page: &Page<'_>,
    shown: Option<Input>,
    errors: FieldErrors,
    status: warp::http::StatusCode,
) -> PageResult {
    use crate::channels::voice::{samples, test_call};
    page.caller.require_manager()?;
    let b = page.business()?;
    let l = page.layout("Voice", "/settings/voice").await;
    let agent = page.app.store.agent_profile(&b.id).await?.agent;
    let mut v = voice_values(&agent, b);
    if let Some(form) = shown {
        v = form;
    }
    if v.get("test_call_to").is_empty() {
        v = v.with("test_call_to", b.notification_phone_number.as_deref().unwrap_or_default());
    }
    let mut twilio_voices: Vec<(String, String)> =
        TWILIO_VOICES.iter().map(|(k, label)| (k.to_string(), label.to_string())).collect();
    if !twilio_voices.iter().any(|(k, _)| *k == agent.twilio_voice) {
        twilio_voices.push((agent.twilio_voice.clone(), agent.twilio_voice.clone()));
    }
    let realtime_voices: Vec<(String, String)> = REALTIME_VOICES
        .iter()
        .map(|v| {
            (v.to_string(), if *v == "marin" { "marin (basic)".into() } else { format!("{v} (premium)") })
        })
        .collect();
    let samples_on = samples::available(page.app);
    let page_data = VoicePage {
        l,
        v,
        errors,
        blocked: blocked(page, b.plan_tier, Feature::VoiceConfiguration),
        premium: page.app.plans.allows(b.plan_tier, Feature::PremiumVoices),
        number: b
            .twilio_phone_number
            .clone()
            .unwrap_or_else(|| "not assigned yet (ask your provider)".into()),
        urls: voice_urls(page.app),
        setup_warning: voice_setup_warning(page.app),
        twilio_voices,
        samples: if samples_on { realtime_voices.clone() } else { Vec::new() },
        samples_note: (!samples_on).then(|| samples::NO_KEY_NOTE.to_string()),
        realtime_voices,
        modes: VoiceMode::ALL
            .iter()
            .map(|m| {
                let label = match m {
                    VoiceMode::Auto => "Automatic (realtime when available)",
                    VoiceMode::Realtime => "Realtime speech",
                    VoiceMode::Gather => "Turn by turn",
                };
                (m.as_str().to_string(), label.to_string())
            })
            .collect(),
        test_call_blocked: test_call::blocked(page.app, b),
        test_calls_per_hour: crate::channels::voice::calls::TEST_CALLS_PER_HOUR,
    };
    render_status(&page_data, status)
}

async fn after<F>(
    page: &Page<'_>,
    result: Result<(), ActionError>,
    to: &str,
    done: &str,
    again: F,
) -> PageResult
where
    F: AsyncFnOnce(Input, FieldErrors) -> PageResult,
{
    match result {
        Ok(()) => Ok(redirect_with(to, done)),
        Err(e) => {
            let errors = form_error(e)?;
            again(page.req.form(), errors).await
        }
    }
}

pub async fn save_voice(page: &Page<'_>) -> PageResult {
    let result = actions::save_voice(page.app, page.caller, &page.req.form()).await;
    after(page, result, "/settings/voice", "Voice settings saved.", async |v, e| {
        voice(page, Some(v), e).await
    })
    .await
}

pub async fn save_number(page: &Page<'_>) -> PageResult {
    let form = page.req.form();
    match actions::save_twilio_number(page.app, page.caller, &form).await {
        Ok(()) => Ok(redirect_with("/settings/voice", "Number saved.")),
        Err(e) => {
            let errors = form_error(e)?;
            let b = page.business()?;
            let agent = page.app.store.agent_profile(&b.id).await?.agent;
            let shown = voice_values(&agent, b).with("twilio_phone_number", form.get("twilio_phone_number"));
            voice(page, Some(shown), errors).await
        }
    }
}

async fn simple(
    page: &Page<'_>,
    title: &str,
    nav: &str,
    v: Input,
    errors: FieldErrors,
    parts: FormParts,
) -> PageResult {
    page.caller.require_manager()?;
    let l = page.layout(title, nav).await;
    let status = status_for(&errors);
    render_status(&SimpleFormPage::new(l, v, errors, parts), status)
}

fn business_parts() -> FormParts {
    FormParts {
        heading: "Business",
        intro: "",
        action: "/settings/business",
        submit: "Save business",
        fields: vec![
            Field::new("name", "Business name", "text", ""),
            Field::select(
                "business_type",
                "Type of business",
                BusinessType::ALL.iter().map(|t| t.as_str()).collect(),
            ),
            Field::new(
                "country",
                "Country",
                "text",
                "Two letters, such as US or GB: phone numbers are read in this country",
            ),
            Field::new(
                "timezone",
                "Time zone",
                "text",
                "Such as America/Chicago: dates on your pages and reports",
            ),
        ],
    }
}

pub async fn business(page: &Page<'_>, shown: Option<Input>, errors: FieldErrors) -> PageResult {
    let b = page.business()?;
    let v = shown.unwrap_or_else(|| {
        pairs(&[
            ("name", b.name.clone()),
            ("business_type", b.business_type.as_str().to_string()),
            ("country", b.country.clone()),
            ("timezone", b.timezone.clone()),
        ])
    });
    simple(page, "Business", "/settings/business", v, errors, business_parts()).await
}

pub async fn save_business(page: &Page<'_>) -> PageResult {
    let result = actions::save_business(page.app, page.caller, &page.req.form()).await;
    after(page, result, "/settings/business", "Business saved.", async |v, e| {
        business(page, Some(v), e).await
    })
    .await
}

pub async fn widget(page: &Page<'_>, shown: Option<Input>, errors: FieldErrors) -> PageResult {
    page.caller.require_manager()?;
    let b = page.business()?;
    let l = page.layout("Widget", "/settings/widget").await;
    let v = shown.unwrap_or_else(|| pairs(&[("website_origins", b.website_origins.join("\n"))]));
    let snippet = format!(
        "<script src=\"{}/widget.js\" data-business=\"{}\" async></script>",
        site_url(page.app, &page.req.headers),
        b.id
    );
    let status = status_for(&errors);
    let page_data = WidgetPage {
        l,
        v,
        errors,
        heading: "Chat widget",
        intro: "",
        action: "/settings/widget",
        submit: "Save sites",
        fields: vec![Field::new(
            "website_origins",
            "Sites allowed to show your chat",
            "textarea",
            "One per line, as in the address bar: www.example.com",
        )],
        snippet,
    };
    render_status(&page_data, status)
}

pub async fn save_widget(page: &Page<'_>) -> PageResult {
    let result = actions::save_origins(page.app, page.caller, &page.req.form()).await;
    after(page, result, "/settings/widget", "Sites saved.", async |v, e| widget(page, Some(v), e).await).await
}

fn rules_values(rules: &crate::domain::EmergencyRules) -> Input {
    let at = |level: Priority| {
        rules.add.iter().filter(|(l, _)| *l == level).map(|(_, p)| p.as_str()).collect::<Vec<_>>().join("\n")
    };
    pairs(&[
        ("urgent", at(Priority::Urgent)),
        ("high", at(Priority::High)),
        ("normal", at(Priority::Normal)),
        ("remove", rules.remove.join("\n")),
    ])
}

pub async fn emergency(page: &Page<'_>, shown: Option<Input>, errors: FieldErrors) -> PageResult {
    page.caller.require_manager()?;
    let b = page.business()?;
    let l = page.layout("Emergencies", "/settings/emergency").await;
    let profile = page.app.store.agent_profile(&b.id).await?;
    let rules: Arc<Rules> = Rules::cached(b.business_type, &profile.emergency_rules);
    let message = page.req.query_input().get("message").trim().chars().take(1000).collect::<String>();
    let decision = (!message.is_empty()).then(|| {
        let d = rules.classify(&message);
        // "water + pour + ceiling" reads as the words it found together.
        let found: Vec<String> = d.reasons.iter().map(|r| r.to_string().replace(" + ", ", ")).collect();
        (d.level.to_string(), found.join("; "))
    });
    let phrases = [Priority::Urgent, Priority::High, Priority::Normal]
        .iter()
        .map(|level| {
            let list = rules.phrases().into_iter().filter(|(l, _)| l == level).map(|(_, p)| p).collect();
            (level.to_string(), list)
        })
        .collect();
    let v = shown.unwrap_or_else(|| rules_values(&profile.emergency_rules));
    let status = status_for(&errors);
    let page_data = EmergencyPage {
        l,
        v,
        errors,
        heading: "Emergencies",
        intro: "Phrases that make a conversation URGENT or HIGH, on top of the built-in rules for your type of business. One phrase per line.",
        action: "/settings/emergency",
        submit: "Save phrases",
        fields: vec![
            Field::new("urgent", "Also URGENT", "textarea", "Escalated at once: text, email and (PRO) a call"),
            Field::new("high", "Also HIGH", "textarea", ""),
            Field::new("normal", "Routine (NORMAL)", "textarea", ""),
            Field::new("remove", "Built-in phrases to switch off", "textarea", "Exactly as listed under Phrases in force"),
        ],
        message,
        decision,
        phrases,
    };
    render_status(&page_data, status)
}

pub async fn save_emergency(page: &Page<'_>) -> PageResult {
    let result = actions::save_rules(page.app, page.caller, &page.req.form()).await;
    after(page, result, "/settings/emergency", "Emergency phrases saved.", async |v, e| {
        emergency(page, Some(v), e).await
    })
    .await
}

pub async fn plan(page: &Page<'_>) -> PageResult {
    let l = page.layout("Plan", "/settings/plan").await;
    let plans = PlanTier::ALL.to_vec();
    let strict = crate::plans::Plans { enforce: true };
    let rows = Feature::ALL
        .iter()
        .map(|f| {
            (capitalise(f.label()), f.behaviour(), plans.iter().map(|p| strict.allows(*p, *f)).collect())
        })
        .collect();
    let business = page.business()?.id.clone();
    let command = format!("frontdesk business plan {business} PRO");
    let limits = crate::plans::limit_rows();
    render(&PlanPage { l, enforced: page.app.plans.enforce, command, plans, rows, limits })
}
