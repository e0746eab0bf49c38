//! The business's facts on one page: opening hours per weekday, days closed,
//! service area, prices and fees, about us, the number customers call.
//! Every plan has it.

use super::{form_error, redirect_with, render_status, status_for, Page, PageResult};
use crate::domain::{BusinessFacts, WEEKDAYS};
use crate::web::actions;
use crate::web::input::{FieldErrors, Input};
use crate::web::templates::{hour_fields, FactsPage};

/// The stored facts as form values.
pub fn values(f: &BusinessFacts, country: &str) -> Input {
    let mut pairs: Vec<(String, String)> = WEEKDAYS
        .iter()
        .enumerate()
        .map(|(i, d)| (format!("hours.{d}"), f.hours.day(i).map(shown_hours).unwrap_or_default()))
        .collect();
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    pairs.extend([
        ("holidays".to_string(), f.holidays.join("\n")),
        ("service_area".to_string(), opt(&f.service_area)),
        ("prices".to_string(), opt(&f.prices)),
        ("about".to_string(), opt(&f.about)),
        (
            "phone".to_string(),
            f.phone.as_deref().map(|p| crate::notify::render::display_phone(p, country)).unwrap_or_default(),
        ),
    ]);
    Input::from_pairs(pairs)
}

/// `07:00-18:00` as the owner typed it: "7am-6pm".
fn shown_hours(v: &str) -> String {
    match crate::agent::facts::spoken_hours(v).as_str() {
        "open 24 hours" => "24 hours".into(),
        other => other.replace(" to ", "-"),
    }
}

pub async fn show(page: &Page<'_>, shown: Option<Input>, errors: FieldErrors) -> PageResult {
    page.caller.require_manager()?;
    let b = page.business()?;
    let l = page.layout("Facts", "/settings/facts").await;
    let v = match shown {
        Some(v) => v,
        None => values(&page.app.store.business_facts(&b.id).await?, &b.country),
    };
    let status = status_for(&errors);
    render_status(&FactsPage { l, v, errors, days: hour_fields() }, status)
}

pub async fn save(page: &Page<'_>) -> PageResult {
    let form = page.req.form();
    match actions::save_facts(page.app, page.caller, &form).await {
        Ok(_) => {
            Ok(redirect_with("/settings/facts", "Facts saved: your receptionist answers from them now."))
        }
        Err(e) => show(page, Some(form), form_error(e)?).await,
    }
}
