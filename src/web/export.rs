//! Leads as CSV, written with the `csv` crate. Cells that a spreadsheet would
//! run as a formula (starting with = + - @, tab or carriage return) get a
//! leading apostrophe.

use std::collections::BTreeSet;

use crate::domain::Lead;
use crate::error::ApiError;

/// Most leads one export holds.
pub const MAX_EXPORT: u32 = 50_000;

/// A phone number in E.164 (`+13125550142`): a spreadsheet reads it as a
/// number, never as a formula, so it needs no guard and stays readable.
fn is_e164(value: &str) -> bool {
    value.strip_prefix('+').is_some_and(|d| {
        (7..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    })
}

/// A cell a spreadsheet will show as text.
pub fn safe_cell(value: &str) -> String {
    if is_e164(value) {
        return value.to_string();
    }
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    }
}

/// One row per lead: the fixed fields, then one column per captured answer.
pub fn leads_csv(leads: &[Lead], tz: chrono_tz::Tz) -> Result<Vec<u8>, ApiError> {
    let answers: BTreeSet<&str> = leads
        .iter()
        .flat_map(|l| l.captured.keys().map(String::as_str))
        .filter(|k| !crate::domain::INTERNAL_FIELDS.contains(k))
        .collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut head: Vec<String> =
        ["id", "created", "channel", "status", "priority", "name", "phone", "email", "address", "notes"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    head.extend(answers.iter().map(|a| format!("answer: {a}")));
    let err = |e: csv::Error| ApiError::Internal(format!("writing CSV: {e}"));
    w.write_record(&head).map_err(err)?;
    for lead in leads {
        let created = lead.created_at.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let mut row = vec![
            lead.id.to_string(),
            created,
            lead.channel.to_string(),
            lead.status.to_string(),
            lead.priority.to_string(),
            opt(&lead.contact_name),
            opt(&lead.contact_phone),
            opt(&lead.contact_email),
            opt(&lead.address),
            opt(&lead.notes),
        ];
        row.extend(answers.iter().map(|a| lead.captured.get(*a).cloned().unwrap_or_default()));
        w.write_record(row.iter().map(|c| safe_cell(c))).map_err(err)?;
    }
    w.into_inner().map_err(|e| ApiError::Internal(format!("writing CSV: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::domain::{Channel, LeadStatus, Priority};

    #[test]
    fn formulas_are_defused_and_answers_get_columns() {
        assert_eq!(safe_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(safe_cell("+1 312"), "'+1 312");
        assert_eq!(safe_cell("+13125550142"), "+13125550142", "a phone number stays readable");
        assert_eq!(safe_cell("+1+1"), "'+1+1");
        assert_eq!(safe_cell("Dana"), "Dana");
        let lead = Lead {
            id: "l1".into(),
            business_id: "b".into(),
            conversation_id: None,
            channel: Channel::Chat,
            status: LeadStatus::New,
            priority: Priority::Urgent,
            contact_name: Some("=cmd|' /C calc'!A0".into()),
            contact_email: None,
            contact_phone: Some("+13125550142".into()),
            address: Some("12 Elm St, \"Unit 2\"".into()),
            notes: None,
            captured: [("budget".to_string(), "@sum".to_string())].into(),
            created_at: crate::domain::parse_rfc3339("2025-03-10T14:05:00.000Z").unwrap(),
            updated_at: crate::domain::parse_rfc3339("2025-03-10T14:05:00.000Z").unwrap(),
            alert: None,
            is_test: false,
            owner_notes: None,
        };
        let text = String::from_utf8(leads_csv(&[lead], chrono_tz::America::Chicago).unwrap()).unwrap();
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            "id,created,channel,status,priority,name,phone,email,address,notes,answer: budget"
        );
        assert_eq!(
            lines.next().unwrap(),
            "l1,2025-03-10 09:05,CHAT,NEW,URGENT,'=cmd|' /C calc'!A0,+13125550142,,\"12 Elm St, \"\"Unit 2\"\"\",,'@sum"
        );
    }
}
