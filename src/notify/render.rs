//! What a notification says: subject and bodies (text and HTML, through
//! askama templates with HTML auto-escaping), the SMS line and the words of
//! the emergency call. No I/O.

use askama::Template;

use crate::domain::{field_label, Lead, NotifyEvent, Priority, Speaker, INTERNAL_FIELDS};
use crate::store::outbox::{Claimed, DeliveryContext};

const UNKNOWN: &str = "Unknown caller";

/// The facts every message is worded from.
#[derive(Debug, Clone)]
pub struct Summary {
    pub event: NotifyEvent,
    pub business: String,
    pub priority: Priority,
    pub caller: String,
    /// The callback number in E.164, when known.
    pub phone: Option<String>,
    /// The same, written as people read it.
    pub phone_display: Option<String>,
    pub email: Option<String>,
    pub address: Option<String>,
    pub issue: String,
    /// (question or field, answer), in a stable order.
    pub answers: Vec<(String, String)>,
    /// (who, what) lines of the conversation.
    pub transcript: Vec<(String, String)>,
    pub lead_url: Option<String>,
    pub call_sid: Option<String>,
}

fn shorten(text: &str, max: usize) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= max {
        return text;
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}

/// "+13125550142" -> "(312) 555-0142" for the business's own country,
/// international form otherwise.
pub fn display_phone(e164: &str, country: &str) -> String {
    let Ok(number) = phonenumber::parse(None, e164) else { return e164.to_string() };
    let home: Option<phonenumber::country::Id> = country.to_ascii_uppercase().parse().ok();
    let mode = if home.is_some() && number.country().id() == home {
        phonenumber::Mode::National
    } else {
        phonenumber::Mode::International
    };
    number.format().mode(mode).to_string()
}

/// What the caller needs help with, in a few plain words.
fn issue_of(lead: &Lead) -> String {
    shorten(&lead.summary(), 80)
}

impl Summary {
    pub fn new(claimed: &Claimed, ctx: &DeliveryContext, public_url: &str) -> Summary {
        let lead = ctx.lead.as_ref();
        let country = ctx.business.country.as_str();
        let phone = lead.and_then(|l| l.contact_phone.clone());
        Summary {
            event: claimed.kind,
            business: ctx.business.name.clone(),
            priority: lead.map_or(Priority::Normal, |l| l.priority),
            caller: lead.and_then(|l| l.contact_name.clone()).unwrap_or_else(|| UNKNOWN.into()),
            phone_display: phone.as_deref().map(|p| display_phone(p, country)),
            phone,
            email: lead.and_then(|l| l.contact_email.clone()),
            address: lead.and_then(|l| l.address.clone()),
            issue: lead.map_or_else(|| "test".into(), issue_of),
            answers: lead
                .map(|l| {
                    l.captured
                        .iter()
                        .filter(|(k, _)| !INTERNAL_FIELDS.contains(&k.as_str()))
                        .map(|(k, v)| (field_label(k), v.clone()))
                        .collect()
                })
                .unwrap_or_default(),
            transcript: ctx
                .transcript
                .iter()
                .map(|m| {
                    let who = if m.role == Speaker::User { "Caller" } else { "Agent" };
                    (who.to_string(), m.content.clone())
                })
                .collect(),
            lead_url: lead.map(|l| format!("{}/leads/{}", public_url.trim_end_matches('/'), l.id)),
            call_sid: claimed.payload["call_sid"].as_str().map(str::to_string),
        }
    }

    /// "Marcus Lee — (312) 555-0177 — 22 Elm St": what the owner acts on.
    fn who(&self) -> String {
        let mut parts = Vec::new();
        if self.caller != UNKNOWN {
            parts.push(self.caller.clone());
        }
        parts.extend(self.phone_display.clone());
        if matches!(self.event, NotifyEvent::UrgentLead | NotifyEvent::UrgentUpdate) {
            parts.extend(self.address.clone());
        }
        if parts.is_empty() {
            return match self.event {
                NotifyEvent::UrgentLead => "caller's details to follow".into(),
                _ => UNKNOWN.into(),
            };
        }
        parts.join(" — ")
    }

    /// "URGENT: water leak or flooding — Marcus Lee — (312) 555-0177 — 22 Elm St".
    pub fn subject(&self) -> String {
        let subject = match self.event {
            NotifyEvent::UrgentLead => format!("URGENT: {} — {}", self.issue, self.who()),
            NotifyEvent::UrgentUpdate => format!("URGENT update: {} — {}", self.issue, self.who()),
            NotifyEvent::NewLead => format!("New lead: {} — {}", self.issue, self.who()),
            NotifyEvent::CallEnded => format!("Call ended: {} — {}", self.who(), self.issue),
            NotifyEvent::Digest => format!("{}: your daily lead summary", self.business),
            NotifyEvent::Test => format!("Test notification from frontdesk for {}", self.business),
        };
        shorten(&subject, 150)
    }

    /// One SMS (at most two segments): priority, caller, issue, callback number.
    pub fn sms(&self) -> String {
        let text = match self.event {
            NotifyEvent::Test => format!("frontdesk test for {}: SMS notifications work.", self.business),
            _ => {
                let head = match (self.event, self.priority) {
                    (NotifyEvent::UrgentUpdate, _) => "URGENT update",
                    (_, Priority::Urgent) => "URGENT",
                    (_, Priority::High) => "HIGH priority",
                    _ => "New lead",
                };
                let callback =
                    self.phone_display.as_deref().map(|p| format!(" Call back: {p}.")).unwrap_or_default();
                let address = self.address.as_deref().map(|a| format!(" At: {a}.")).unwrap_or_default();
                let link = self.lead_url.as_deref().map(|u| format!(" {u}")).unwrap_or_default();
                format!(
                    "{head} ({}): {} — {}.{callback}{address}{link}",
                    self.business, self.caller, self.issue
                )
            }
        };
        shorten(&text, 300)
    }

    /// What the owner hears when the emergency call is answered.
    pub fn call_script(&self) -> String {
        match self.event {
            NotifyEvent::Test => format!("This is a test call from frontdesk for {}.", self.business),
            _ => {
                let phone = self.phone.as_deref().map(spell_digits);
                let callback = phone.map(|p| format!(" Their number is {p}.")).unwrap_or_default();
                format!(
                    "Urgent message from your receptionist for {}. {} reports: {}.{callback}",
                    self.business, self.caller, self.issue
                )
            }
        }
    }
}

/// "+13125550142" -> "3 1 2, 5 5 5, 0 1 4 2": read digit by digit.
fn spell_digits(e164: &str) -> String {
    let digits: Vec<char> = e164.chars().filter(char::is_ascii_digit).collect();
    let national = if digits.len() == 11 && digits[0] == '1' { &digits[1..] } else { &digits[..] };
    national.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(" ")
}

#[derive(Template)]
#[template(
    ext = "txt",
    source = "{{ heading }}

{% if let Some(url) = s.lead_url %}Open the lead: {{ url }}

{% endif %}Caller: {{ s.caller }}
{% if let Some(p) = s.phone_display %}Phone: {{ p }}
{% endif %}{% if let Some(e) = s.email %}Email: {{ e }}
{% endif %}{% if let Some(a) = s.address %}Address: {{ a }}
{% endif %}Priority: {{ s.priority }}
Issue: {{ s.issue }}
{% if !s.answers.is_empty() %}
Answers
{% for (q, a) in s.answers %}- {{ q }}: {{ a }}
{% endfor %}{% endif %}{% if !s.transcript.is_empty() %}
Transcript
{% for (who, what) in s.transcript %}{{ who }}: {{ what }}
{% endfor %}{% endif %}
-- 
frontdesk, the receptionist of {{ s.business }}
"
)]
struct LeadText<'a> {
    heading: &'a str,
    s: &'a Summary,
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r#"<!doctype html>
<html><body style="font-family: system-ui, sans-serif; color: #111; max-width: 640px">
<h2 style="margin-bottom: 4px{% if urgent %}; color: #b91c1c{% endif %}">{{ heading }}</h2>
{% if let Some(url) = s.lead_url %}<p><a href="{{ url }}">Open the lead in frontdesk</a></p>{% endif %}
<table cellpadding="4" style="border-collapse: collapse">
<tr><th align="left">Caller</th><td>{{ s.caller }}</td></tr>
{% if let Some(p) = s.phone %}<tr><th align="left">Phone</th><td><a href="tel:{{ p }}">{% if let Some(d) = s.phone_display %}{{ d }}{% endif %}</a></td></tr>{% endif %}
{% if let Some(e) = s.email %}<tr><th align="left">Email</th><td>{{ e }}</td></tr>{% endif %}
{% if let Some(a) = s.address %}<tr><th align="left">Address</th><td>{{ a }}</td></tr>{% endif %}
<tr><th align="left">Priority</th><td>{{ s.priority }}</td></tr>
<tr><th align="left">Issue</th><td>{{ s.issue }}</td></tr>
</table>
{% if !s.answers.is_empty() %}<h3>Answers</h3>
<table cellpadding="4" style="border-collapse: collapse">
{% for (q, a) in s.answers %}<tr><th align="left">{{ q }}</th><td>{{ a }}</td></tr>
{% endfor %}</table>{% endif %}
{% if !s.transcript.is_empty() %}<h3>Transcript</h3>
{% for (who, what) in s.transcript %}<p><b>{{ who }}:</b> {{ what }}</p>
{% endfor %}{% endif %}
<p style="color: #666; font-size: 12px">frontdesk, the receptionist of {{ s.business }}</p>
</body></html>
"#
)]
struct LeadHtml<'a> {
    heading: &'a str,
    urgent: bool,
    s: &'a Summary,
}

/// One line of a digest.
pub struct DigestLine {
    pub priority: Priority,
    pub who: String,
    pub issue: String,
    pub url: String,
}

#[derive(Template)]
#[template(
    ext = "txt",
    source = "{{ business }}: {{ lines.len() }} new lead(s) in the 24 hours before {{ until }}.

{% for l in lines %}- [{{ l.priority }}] {{ l.who }} — {{ l.issue }}
  {{ l.url }}
{% endfor %}
-- 
frontdesk
"
)]
struct DigestText<'a> {
    business: &'a str,
    until: &'a str,
    lines: &'a [DigestLine],
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r#"<!doctype html>
<html><body style="font-family: system-ui, sans-serif; color: #111; max-width: 640px">
<h2>{{ business }}: {{ lines.len() }} new lead(s)</h2>
<p>In the 24 hours before {{ until }}.</p>
<ul>{% for l in lines %}<li><b>{{ l.priority }}</b> <a href="{{ l.url }}">{{ l.who }}</a> — {{ l.issue }}</li>
{% endfor %}</ul>
<p style="color: #666; font-size: 12px">frontdesk</p>
</body></html>
"#
)]
struct DigestHtml<'a> {
    business: &'a str,
    until: &'a str,
    lines: &'a [DigestLine],
}

/// A rendered email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub urgent: bool,
}

fn heading(s: &Summary) -> String {
    match s.event {
        NotifyEvent::UrgentLead => format!("URGENT: {}", s.issue),
        NotifyEvent::UrgentUpdate => format!("URGENT update: {}", s.issue),
        NotifyEvent::NewLead => "A new lead".into(),
        NotifyEvent::CallEnded => "A call just ended".into(),
        NotifyEvent::Test => "Email notifications work".into(),
        NotifyEvent::Digest => "Daily summary".into(),
    }
}

/// The email for a notification.
pub fn email(claimed: &Claimed, ctx: &DeliveryContext, public_url: &str) -> Result<Email, askama::Error> {
    let s = Summary::new(claimed, ctx, public_url);
    if claimed.kind == NotifyEvent::Digest {
        return digest_email(&s, claimed, ctx, public_url);
    }
    let heading = heading(&s);
    let urgent = s.priority == Priority::Urgent || s.event == NotifyEvent::UrgentUpdate;
    Ok(Email {
        subject: s.subject(),
        text: LeadText { heading: &heading, s: &s }.render()?,
        html: LeadHtml { heading: &heading, urgent, s: &s }.render()?,
        urgent,
    })
}

fn digest_email(
    s: &Summary,
    claimed: &Claimed,
    ctx: &DeliveryContext,
    public_url: &str,
) -> Result<Email, askama::Error> {
    let lines: Vec<DigestLine> = ctx
        .digest_leads
        .iter()
        .map(|l| DigestLine {
            priority: l.priority,
            who: match &l.contact_phone {
                Some(p) => format!(
                    "{}, {}",
                    l.contact_name.as_deref().unwrap_or("Unknown"),
                    display_phone(p, &ctx.business.country)
                ),
                None => l.contact_name.clone().unwrap_or_else(|| "Unknown".into()),
            },
            issue: issue_of(l),
            url: format!("{}/leads/{}", public_url.trim_end_matches('/'), l.id),
        })
        .collect();
    let until = claimed.payload["date"].as_str().unwrap_or_default().to_string();
    let business = ctx.business.name.as_str();
    Ok(Email {
        subject: format!("{}: {} new lead(s) — {until}", s.business, lines.len()),
        text: DigestText { business, until: &until, lines: &lines }.render()?,
        html: DigestHtml { business, until: &until, lines: &lines }.render()?,
        urgent: false,
    })
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
