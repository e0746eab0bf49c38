//! Answers from the business's facts (hours, days closed, service area,
//! prices, about us), on every plan and every channel. Plain functions over
//! data: the channel passes the facts and today's date in.

use chrono::{Datelike, NaiveDate};

use crate::domain::{BusinessFacts, WEEKDAYS};

/// What a question asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Topic {
    Hours,
    Area,
    Prices,
    About,
}

fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty())
        .map(|w| w.trim_matches('-').to_string())
        .collect()
}

fn topics(words: &[String], text: &str) -> Vec<Topic> {
    let has = |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()));
    let phrase = |list: &[&str]| list.iter().any(|p| text.contains(p));
    let mut out = Vec::new();
    let day_named = words.iter().any(|w| day_index(w).is_some());
    if has(&[
        "open", "opening", "hours", "close", "closed", "closing", "weekend", "weekends", "holiday",
        "holidays",
    ]) || day_named
        || phrase(&["what time", "when are you", "work on"])
    {
        out.push(Topic::Hours);
    }
    if has(&[
        "area",
        "areas",
        "serve",
        "service-area",
        "cover",
        "travel",
        "located",
        "location",
        "town",
        "towns",
        "city",
        "zip",
        "near",
    ]) || phrase(&["come out to", "come to", "where are you"])
    {
        out.push(Topic::Area);
    }
    if has(&[
        "price", "prices", "pricing", "cost", "costs", "fee", "fees", "charge", "charges", "rate", "rates",
        "call-out", "callout", "quote", "estimate",
    ]) || phrase(&["how much"])
    {
        out.push(Topic::Prices);
    }
    if has(&["licensed", "insured", "experience", "about"]) || phrase(&["who are you", "how long have you"]) {
        out.push(Topic::About);
    }
    out
}

/// 0 = Monday, from "saturday", "saturdays", "sat".
fn day_index(word: &str) -> Option<usize> {
    let w = word.strip_suffix('s').filter(|w| w.ends_with("day")).unwrap_or(word);
    const SHORT: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    WEEKDAYS
        .iter()
        .position(|d| *d == w)
        .or_else(|| SHORT.iter().position(|d| *d == w))
        .or_else(|| ["tues", "thurs"].iter().position(|d| *d == w).map(|i| i * 2 + 1))
}

/// `07:30` -> "7:30am", `18:00` -> "6pm", `24:00` -> "midnight".
fn clock(hhmm: &str) -> String {
    let (h, m) = hhmm.split_once(':').unwrap_or((hhmm, "00"));
    let (h, m): (u32, u32) = (h.parse().unwrap_or(0), m.parse().unwrap_or(0));
    if h == 24 || (h == 0 && m == 0) {
        return "midnight".into();
    }
    let (h12, half) = match h {
        0 => (12, "am"),
        1..=11 => (h, "am"),
        12 => (12, "pm"),
        _ => (h - 12, "pm"),
    };
    if m == 0 {
        format!("{h12}{half}")
    } else {
        format!("{h12}:{m:02}{half}")
    }
}

/// "7am to 6pm", "closed", "open 24 hours".
pub fn spoken_hours(value: &str) -> String {
    match value {
        "closed" => "closed".into(),
        "00:00-24:00" => "open 24 hours".into(),
        other => match other.split_once('-') {
            Some((open, close)) => format!("{} to {}", clock(open), clock(close)),
            None => other.to_string(),
        },
    }
}

fn capitalised(day: &str) -> String {
    let mut c = day.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// The week in one sentence, days with the same hours grouped:
/// "Monday to Friday 7am to 6pm, Saturday 8am to 2pm; closed Sunday".
pub fn week_summary(facts: &BusinessFacts) -> Option<String> {
    let mut open: Vec<String> = Vec::new();
    let mut closed: Vec<String> = Vec::new();
    let mut i = 0;
    while i < 7 {
        let Some(value) = facts.hours.day(i) else {
            i += 1;
            continue;
        };
        let mut j = i;
        while j + 1 < 7 && facts.hours.day(j + 1) == Some(value) {
            j += 1;
        }
        let days = if j > i {
            format!("{} to {}", capitalised(WEEKDAYS[i]), capitalised(WEEKDAYS[j]))
        } else {
            capitalised(WEEKDAYS[i])
        };
        if value == "closed" {
            closed.push(days);
        } else {
            open.push(format!("{days} {}", spoken_hours(value)));
        }
        i = j + 1;
    }
    if open.is_empty() && closed.is_empty() {
        return None;
    }
    let mut text = String::new();
    if !open.is_empty() {
        text.push_str(&format!("We're open {}", open.join(", ")));
    }
    if !closed.is_empty() {
        text.push_str(if open.is_empty() { "We're closed " } else { "; closed " });
        text.push_str(&closed.join(" and "));
    }
    text.push('.');
    Some(text)
}

/// Days closed as (date, name).
fn holidays(facts: &BusinessFacts) -> Vec<(NaiveDate, String)> {
    facts
        .holidays
        .iter()
        .filter_map(|h| {
            let (date, name) = h.split_once(' ').unwrap_or((h, ""));
            NaiveDate::parse_from_str(date, "%Y-%m-%d").ok().map(|d| (d, name.trim().to_string()))
        })
        .collect()
}

fn hours_answer(facts: &BusinessFacts, words: &[String], today: Option<NaiveDate>) -> Option<String> {
    let closed_days = holidays(facts);
    // A holiday named, or asked about.
    let named: Vec<&(NaiveDate, String)> = closed_days
        .iter()
        .filter(|(_, name)| {
            let name_words = self::words(name);
            !name_words.is_empty() && name_words.iter().any(|n| n.len() > 3 && words.contains(n))
        })
        .collect();
    if let Some((date, name)) = named.first() {
        return Some(format!("We're closed on {name} ({}).", date.format("%B %-d")));
    }
    let asks_today = words.iter().any(|w| w == "today" || w == "now" || w == "tonight");
    let asks_tomorrow = words.iter().any(|w| w == "tomorrow");
    let date = match (today, asks_today, asks_tomorrow) {
        (Some(t), true, _) => Some(t),
        (Some(t), _, true) => t.succ_opt(),
        _ => None,
    };
    let weekday = date
        .map(|d| d.weekday().num_days_from_monday() as usize)
        .or_else(|| words.iter().find_map(|w| day_index(w)));
    if let Some(d) = date {
        if let Some((_, name)) = closed_days.iter().find(|(h, _)| *h == d) {
            let when = if asks_today { "today" } else { "tomorrow" };
            return Some(format!(
                "We're closed {when}{}.",
                if name.is_empty() { String::new() } else { format!(" for {name}") }
            ));
        }
    }
    if let Some(day) = weekday {
        let name = capitalised(WEEKDAYS[day]);
        let when = match (date, asks_today) {
            (Some(_), true) => format!("Today ({name})"),
            (Some(_), false) => format!("Tomorrow ({name})"),
            _ => format!("On {name}s"),
        };
        return match facts.hours.day(day) {
            Some("closed") => Some(format!("{when} we're closed.")),
            Some(value) => Some(format!(
                "{when} we're {}.",
                if value == "00:00-24:00" {
                    "open 24 hours".to_string()
                } else {
                    format!("open {}", spoken_hours(value))
                }
            )),
            None => week_summary(facts),
        };
    }
    if words.iter().any(|w| w.starts_with("holiday")) && !closed_days.is_empty() {
        let list: Vec<String> = closed_days
            .iter()
            .map(|(d, n)| {
                if n.is_empty() {
                    d.format("%B %-d").to_string()
                } else {
                    format!("{n} ({})", d.format("%B %-d"))
                }
            })
            .collect();
        return Some(format!("We're closed on {}.", list.join(", ")));
    }
    week_summary(facts)
}

/// An answer from the facts when the question is about them and they say
/// something; None otherwise (the knowledge base, or a follow-up, takes it).
pub fn answer(message: &str, facts: &BusinessFacts, today: Option<NaiveDate>) -> Option<String> {
    if facts.is_empty() {
        return None;
    }
    let lower = message.to_lowercase();
    let words = words(message);
    let mut parts: Vec<String> = Vec::new();
    for topic in topics(&words, &lower) {
        let part = match topic {
            Topic::Hours => hours_answer(facts, &words, today),
            Topic::Area => {
                facts.service_area.as_ref().map(|a| format!("We serve {}.", a.trim_end_matches('.')))
            }
            Topic::Prices => facts.prices.clone(),
            Topic::About => facts.about.clone(),
        };
        if let Some(part) = part.filter(|p| !parts.contains(p)) {
            parts.push(part);
        }
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The facts as lines for a model's instructions (chat or phone).
pub fn brief(facts: &BusinessFacts) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(week) = week_summary(facts) {
        out.push(format!("Opening hours: {week}"));
    }
    let closed = holidays(facts);
    if !closed.is_empty() {
        let list: Vec<String> =
            closed.iter().map(|(d, n)| format!("{} {n}", d.format("%Y-%m-%d")).trim().to_string()).collect();
        out.push(format!("Closed on: {}", list.join(", ")));
    }
    if let Some(a) = &facts.service_area {
        out.push(format!("Service area: {a}"));
    }
    if let Some(p) = &facts.prices {
        out.push(format!("Prices and fees: {p}"));
    }
    if let Some(a) = &facts.about {
        out.push(format!("About the business: {a}"));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::WeekHours;

    fn facts() -> BusinessFacts {
        let weekday = Some("07:00-18:00".to_string());
        BusinessFacts {
            hours: WeekHours {
                monday: weekday.clone(),
                tuesday: weekday.clone(),
                wednesday: weekday.clone(),
                thursday: weekday.clone(),
                friday: weekday,
                saturday: Some("08:00-14:00".into()),
                sunday: Some("closed".into()),
            },
            holidays: vec!["2026-12-25 Christmas Day".into()],
            service_area: Some("Lakemont and towns within 25 miles".into()),
            prices: Some("The call-out fee is $89, then $120 an hour.".into()),
            about: Some("Family-run since 1998, licensed and insured.".into()),
            phone: None,
        }
    }

    #[test]
    fn hours_by_day_week_today_and_holidays() {
        let f = facts();
        assert_eq!(
            answer("Do you work on Saturdays?", &f, None).unwrap(),
            "On Saturdays we're open 8am to 2pm."
        );
        assert_eq!(answer("Are you open on Sunday?", &f, None).unwrap(), "On Sundays we're closed.");
        assert_eq!(
            answer("What are your opening hours?", &f, None).unwrap(),
            "We're open Monday to Friday 7am to 6pm, Saturday 8am to 2pm; closed Sunday."
        );
        let christmas = NaiveDate::from_ymd_opt(2026, 12, 25);
        assert_eq!(
            answer("Are you open today?", &f, christmas).unwrap(),
            "We're closed today for Christmas Day."
        );
        let tuesday = NaiveDate::from_ymd_opt(2026, 12, 1);
        assert_eq!(
            answer("are you open today?", &f, tuesday).unwrap(),
            "Today (Tuesday) we're open 7am to 6pm."
        );
        assert_eq!(
            answer("Open on Christmas?", &f, None).unwrap(),
            "We're closed on Christmas Day (December 25)."
        );
    }

    #[test]
    fn several_topics_in_one_question_and_nothing_when_unasked() {
        let f = facts();
        let a = answer("Do you do Saturdays, and what's the call-out fee?", &f, None).unwrap();
        assert!(a.contains("8am to 2pm") && a.contains("$89"), "{a}");
        assert_eq!(
            answer("Do you come out to Lakemont?", &f, None).unwrap(),
            "We serve Lakemont and towns within 25 miles."
        );
        assert!(answer("Are you licensed?", &f, None).unwrap().contains("licensed and insured"));
        assert_eq!(answer("Can you fix a leaking tap?", &f, None), None);
        assert_eq!(answer("What are your hours?", &BusinessFacts::default(), None), None);
        let no_prices = BusinessFacts { prices: None, ..f };
        assert_eq!(answer("How much do you charge?", &no_prices, None), None);
    }

    #[test]
    fn clock_times_read_naturally() {
        assert_eq!(spoken_hours("07:30-17:00"), "7:30am to 5pm");
        assert_eq!(spoken_hours("00:00-24:00"), "open 24 hours");
        assert_eq!(spoken_hours("12:00-24:00"), "12pm to midnight");
        assert_eq!(brief(&facts()).len(), 5);
    }
}
