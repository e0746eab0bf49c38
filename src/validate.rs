//! One validator per field, shared by the business file importer, the web
//! UI's forms and the admin API. Each returns the normalised value or a
//! message that names what was expected; callers add the field name.

use std::str::FromStr;

/// Trimmed text of 1..=max characters.
pub fn required_text(raw: &str, max: usize) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        Err("must not be empty".into())
    } else if trimmed.chars().count() > max {
        Err(format!("is too long (at most {max} characters)"))
    } else {
        Ok(trimmed.to_string())
    }
}

/// Like [`required_text`], but empty means "not set".
pub fn optional_text(raw: &str, max: usize) -> Result<Option<String>, String> {
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        required_text(raw, max).map(Some)
    }
}

/// At most this many entries in a business's own glossary: it is for the
/// owner's wording, a few dozen phrases, not a second shared table.
pub const MAX_GLOSSES: usize = 300;
/// The longest customer phrase of a glossary entry, in characters.
pub const MAX_GLOSS_PHRASE: usize = 80;
/// The longest list of document words of a glossary entry, in characters.
pub const MAX_GLOSS_WORDS: usize = 200;

/// A glossary entry, normalised: the phrase trimmed, its spaces single;
/// the document words lower case, single-spaced. Err names the part at fault.
pub fn gloss(phrase: &str, words: &str) -> Result<crate::domain::Gloss, (&'static str, String)> {
    let single = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let phrase = single(phrase);
    let words = single(words).to_lowercase();
    let check = |s: &str, max: usize, what: &str| {
        if s.is_empty() {
            Err(format!("the {what} is empty"))
        } else if s.chars().count() > max {
            Err(format!("the {what} is too long (at most {max} characters)"))
        } else {
            Ok(())
        }
    };
    check(&phrase, MAX_GLOSS_PHRASE, "customer's phrase").map_err(|m| ("phrase", m))?;
    check(&words, MAX_GLOSS_WORDS, "document words").map_err(|m| ("words", m))?;
    Ok(crate::domain::Gloss { phrase, words })
}

pub fn email(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    if email_address::EmailAddress::is_valid(s) {
        Ok(s.to_string())
    } else {
        Err(format!("not an email address: '{s}'"))
    }
}

/// A phone number in the business's country (or international), as E.164.
pub fn phone(raw: &str, country: &str) -> Result<String, String> {
    crate::agent::answers::normalise_phone(raw, country)
        .map_err(|_| format!("not a valid phone number for {country}: '{}'", raw.trim()))
}

/// An http(s) URL with a host, such as a webhook.
pub fn http_url(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    match url::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(s.to_string()),
        _ => Err(format!("expected an http(s) URL such as https://hooks.example.com/frontdesk, got '{s}'")),
    }
}

/// `https://example.com/` -> `https://example.com`; paths and queries are refused.
pub fn origin(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    let url = url::Url::parse(s).map_err(|e| format!("not a URL: '{s}' ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("expected an http(s) origin such as https://example.com, got '{s}'"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(format!("an origin has no path or query: '{s}'"));
    }
    Ok(url.origin().ascii_serialization())
}

/// A site the owner types, as an origin: `www.bobsplumbing.com` gets
/// `https://`, and a page address (`…/contact`) is cut to its site.
pub fn site(raw: &str) -> Result<String, String> {
    let s = raw.trim().trim_end_matches('/');
    let with_scheme = if s.contains("://") { s.to_string() } else { format!("https://{s}") };
    match url::Url::parse(&with_scheme) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some_and(|h| h.contains('.') || h == "localhost") =>
        {
            Ok(u.origin().ascii_serialization())
        }
        _ => Err(format!("'{s}' does not look like a website address such as www.example.com")),
    }
}

/// A lead field key from what the owner typed: `Job Address` -> `job_address`.
pub fn field_key(raw: &str) -> Result<String, String> {
    let mut key = String::new();
    for c in raw.trim().chars() {
        if c.is_ascii_alphanumeric() {
            key.push(c.to_ascii_lowercase());
        } else if !key.is_empty() && !key.ends_with('_') {
            key.push('_');
        }
    }
    let key = key.trim_end_matches('_').trim_start_matches(|c: char| c.is_ascii_digit()).to_string();
    let key: String = key.chars().take(40).collect::<String>().trim_end_matches('_').to_string();
    if is_field_name(&key) {
        Ok(key)
    } else {
        Err(format!(
            "use letters or numbers for the name it is saved as, such as job address (got '{}')",
            raw.trim()
        ))
    }
}

/// One time of day: `7`, `7am`, `7:30 pm`, `19:00` -> minutes after midnight.
fn time_of_day(raw: &str) -> Option<u32> {
    let t = raw.trim().replace([' ', '.'], "");
    let (t, pm) = match (t.strip_suffix("am"), t.strip_suffix("pm")) {
        (Some(rest), _) => (rest.to_string(), Some(false)),
        (_, Some(rest)) => (rest.to_string(), Some(true)),
        _ => (t, None),
    };
    let (h, m) = match t.split_once(':') {
        Some((h, m)) => (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?),
        None => (t.parse::<u32>().ok()?, 0),
    };
    if m > 59 {
        return None;
    }
    let h = match pm {
        Some(_) if !(1..=12).contains(&h) => return None,
        Some(true) if h < 12 => h + 12,
        Some(false) if h == 12 => 0,
        _ => h,
    };
    (h <= 24 && (h < 24 || m == 0)).then_some(h * 60 + m)
}

/// A day's opening hours: `7am-6pm`, `07:00 – 18:00`, `closed`, `24 hours`,
/// as `07:00-18:00`, `closed` or `00:00-24:00`.
pub fn day_hours(raw: &str) -> Result<String, String> {
    let s = raw.trim().to_lowercase();
    if matches!(s.as_str(), "closed" | "close" | "shut" | "no" | "off") {
        return Ok("closed".into());
    }
    if (s.contains("24") && s.contains("hour")) || s == "24/7" || s == "24h" {
        return Ok("00:00-24:00".into());
    }
    let s = s.replace(['–', '—'], "-").replace(" to ", "-");
    let parsed = s.split_once('-').and_then(|(a, b)| Some((time_of_day(a)?, time_of_day(b)?)));
    match parsed {
        Some((open, close)) if close > open => {
            Ok(format!("{:02}:{:02}-{:02}:{:02}", open / 60, open % 60, close / 60, close % 60))
        }
        _ => Err(format!("write hours like 7am-6pm, or closed (got '{}')", raw.trim())),
    }
}

/// A day closed: `2026-12-25 Christmas Day` (the name is optional).
pub fn holiday(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    let (date, name) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
    match chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d") {
        Ok(d) if name.trim().chars().count() <= 80 => {
            Ok(format!("{} {}", d.format("%Y-%m-%d"), name.trim()).trim().to_string())
        }
        _ => Err(format!("write a day closed like 2026-12-25 Christmas Day (got '{s}')")),
    }
}

/// ISO 3166 alpha-2, upper-cased, that phone numbers know.
pub fn country(raw: &str) -> Result<String, String> {
    let upper = raw.trim().to_ascii_uppercase();
    if upper.len() == 2 && phonenumber::country::Id::from_str(&upper).is_ok() {
        Ok(upper)
    } else {
        Err(format!("expected a two-letter country code such as US or GB, got '{}'", raw.trim()))
    }
}

/// An IANA zone name (America/Chicago) or UTC.
pub fn timezone(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    match s.parse::<chrono_tz::Tz>() {
        Ok(tz) => Ok(tz.name().to_string()),
        Err(_) => Err(format!("expected UTC or a zone name such as America/Chicago, got '{s}'")),
    }
}

/// `#0ea5e9` or `#fff`, lower-cased.
pub fn hex_colour(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    if is_hex_colour(s) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(format!("expected a colour like #0ea5e9, got '{s}'"))
    }
}

pub fn is_hex_colour(s: &str) -> bool {
    s.strip_prefix('#').is_some_and(|h| matches!(h.len(), 3 | 6) && h.chars().all(|c| c.is_ascii_hexdigit()))
}

/// `[a-z][a-z0-9_]{0,39}`: lead fields and colour names.
pub fn is_field_name(s: &str) -> bool {
    s.len() <= 40
        && s.chars().next().is_some_and(|ch| ch.is_ascii_lowercase())
        && s.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
}

pub fn field_name(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    if is_field_name(s) {
        Ok(s.to_string())
    } else {
        Err(format!("expected a snake_case field name such as phone, got '{s}'"))
    }
}

pub fn is_language_tag(s: &str) -> bool {
    let mut parts = s.split('-');
    parts.next().is_some_and(|p| (2..=3).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()))
        && parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

pub fn language_tag(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    if is_language_tag(s) {
        Ok(s.to_string())
    } else {
        Err(format!("expected a language tag such as en-US, got '{s}'"))
    }
}

/// Twilio `<Say>` voices anyone may use; every other (Polly.*, Google.*) is premium.
pub const BASIC_TWILIO_VOICES: &[&str] = &["alice", "man", "woman"];

/// `alice`, `man`, `woman`, or a `Polly.` / `Google.` voice name.
pub fn twilio_voice(raw: &str) -> Result<String, String> {
    let s = raw.trim();
    let premium = ["Polly.", "Google."].iter().any(|p| {
        s.strip_prefix(p).is_some_and(|rest| {
            !rest.is_empty()
                && rest.len() <= 60
                && rest.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
    });
    if BASIC_TWILIO_VOICES.contains(&s) || premium {
        Ok(s.to_string())
    } else {
        Err(format!("expected alice, man, woman, or a Polly.* or Google.* voice, got '{s}'"))
    }
}

/// Whether a voice needs the premium-voices feature.
pub fn is_premium_voice(twilio_voice: &str, realtime_voice: &str) -> bool {
    !BASIC_TWILIO_VOICES.contains(&twilio_voice)
        || realtime_voice != crate::domain::AgentConfig::default().realtime_voice
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_field_normalises_or_says_what_it_expected() {
        assert_eq!(required_text("  Acme  ", 10).as_deref(), Ok("Acme"));
        assert_eq!(required_text("   ", 10), Err("must not be empty".to_string()));
        assert!(required_text("x".repeat(11).as_str(), 10).unwrap_err().contains("at most 10"));
        assert_eq!(optional_text("", 10), Ok(None));
        assert_eq!(email(" a@b.example ").as_deref(), Ok("a@b.example"));
        assert!(email("not-an-email").unwrap_err().contains("not an email"));
        assert_eq!(phone("(312) 555-0142", "US").as_deref(), Ok("+13125550142"));
        assert!(phone("12", "US").is_err());
        assert_eq!(origin("https://x.example/").as_deref(), Ok("https://x.example"));
        assert!(origin("https://x.example/path").is_err());
        assert_eq!(country("gb").as_deref(), Ok("GB"));
        assert!(country("XX").is_err());
        assert_eq!(timezone("America/Chicago").as_deref(), Ok("America/Chicago"));
        assert!(timezone("Mars/Olympus").is_err());
        assert_eq!(hex_colour("#ABC").as_deref(), Ok("#abc"));
        assert!(hex_colour("red").is_err());
        assert!(http_url("ftp://x.example").is_err());
        assert_eq!(twilio_voice("Polly.Joanna").as_deref(), Ok("Polly.Joanna"));
        assert!(twilio_voice("robot").is_err());
        assert!(is_premium_voice("Polly.Joanna", "marin") && is_premium_voice("alice", "cedar"));
        assert!(!is_premium_voice("alice", "marin"));
        assert!(language_tag("en-US").is_ok() && language_tag("english!").is_err());
        assert_eq!(site("www.bobsplumbing.com").as_deref(), Ok("https://www.bobsplumbing.com"));
        assert_eq!(site("http://localhost:8080/contact").as_deref(), Ok("http://localhost:8080"));
        assert!(site("bob").is_err());
        assert_eq!(field_key("Job Address").as_deref(), Ok("job_address"));
        assert_eq!(field_key("  E-mail (work) ").as_deref(), Ok("e_mail_work"));
        assert!(field_key("!!!").is_err());
    }

    #[test]
    fn hours_and_holidays_read_as_people_write_them() {
        assert_eq!(day_hours("7am-6pm").as_deref(), Ok("07:00-18:00"));
        assert_eq!(day_hours("7:30 am – 5 pm").as_deref(), Ok("07:30-17:00"));
        assert_eq!(day_hours("08:00 to 14:00").as_deref(), Ok("08:00-14:00"));
        assert_eq!(day_hours("Closed").as_deref(), Ok("closed"));
        assert_eq!(day_hours("24 hours").as_deref(), Ok("00:00-24:00"));
        assert!(day_hours("12pm-12am").unwrap_err().contains("7am-6pm"));
        assert!(day_hours("6pm-7am").is_err());
        assert!(day_hours("sometimes").is_err());
        assert_eq!(holiday("2026-12-25  Christmas Day").as_deref(), Ok("2026-12-25 Christmas Day"));
        assert_eq!(holiday("2026-01-01").as_deref(), Ok("2026-01-01"));
        assert!(holiday("Christmas").is_err());
    }
}
