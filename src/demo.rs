//! The demo's sample week (`serve --demo`): leads, calls and chats spread
//! over the last seven days, so a first look at the dashboard and analytics
//! shows something. Plain data; the store writes it.

use crate::domain::{Channel, LeadStatus, Priority, Speaker};

/// One past conversation of the demo business.
#[derive(Debug, Clone)]
pub struct Sample {
    pub days_ago: i64,
    /// UTC hour of day it started.
    pub hour: u32,
    pub channel: Channel,
    pub priority: Priority,
    pub status: LeadStatus,
    /// None: a chat that asked something and left no lead.
    pub name: Option<&'static str>,
    pub phone: Option<&'static str>,
    pub address: Option<&'static str>,
    pub problem: &'static str,
    /// (speaker, text)
    pub lines: Vec<(Speaker, &'static str)>,
    /// A call's length in seconds.
    pub call_seconds: Option<u32>,
}

fn lead(
    days_ago: i64,
    hour: u32,
    channel: Channel,
    priority: Priority,
    status: LeadStatus,
    who: (&'static str, &'static str, Option<&'static str>),
    problem: &'static str,
) -> Sample {
    let (name, phone, address) = who;
    Sample {
        days_ago,
        hour,
        channel,
        priority,
        status,
        name: Some(name),
        phone: Some(phone),
        address,
        problem,
        lines: vec![
            (Speaker::User, problem),
            (Speaker::Assistant, "Thanks, I've passed this on and someone will call you back."),
        ],
        call_seconds: (channel == Channel::Voice).then_some(60 + (hour * 7 + days_ago as u32 * 13) % 180),
    }
}

/// A week of the Acme Plumbing demo (fictional names, 555 numbers).
// A table of data: the week's conversations, one entry each.
pub fn sample_week() -> Vec<Sample> {
    use Channel::{Chat, Voice};
    use LeadStatus::{Closed, Contacted, New, Qualified};
    use Priority::{High, Normal, Urgent};
    let mut out = vec![
        lead(
            0,
            14,
            Chat,
            Normal,
            New,
            ("Priya Shah", "+13125550111", Some("8 Birch Lane")),
            "Quote for a new water heater",
        ),
        lead(
            0,
            9,
            Voice,
            High,
            New,
            ("Tom Becker", "+13125550112", None),
            "Kitchen sink is clogged and backing up",
        ),
        lead(
            1,
            22,
            Chat,
            Urgent,
            Contacted,
            ("Marcus Lee", "+13125550177", Some("22 Elm Street")),
            "A pipe burst and water is coming through the ceiling",
        ),
        lead(
            2,
            11,
            Voice,
            Normal,
            Qualified,
            ("Ana Gomez", "+13125550113", Some("140 Oak Avenue")),
            "Bathroom remodel, need a plumber for the fixtures",
        ),
        lead(
            3,
            16,
            Chat,
            High,
            Contacted,
            ("Li Wei", "+13125550114", None),
            "No hot water since this morning",
        ),
        lead(4, 8, Voice, Normal, Closed, ("Sam Carter", "+13125550115", None), "Annual boiler service"),
        lead(5, 19, Chat, Normal, New, ("Jo Park", "+13125550116", None), "Toilet keeps running"),
        lead(
            6,
            13,
            Voice,
            Urgent,
            Closed,
            ("Rita Moss", "+13125550117", Some("3 Lake Road")),
            "Sewage backing up into the basement",
        ),
    ];
    for (days_ago, hour, q) in [
        (0, 10, "Do you work on Saturdays?"),
        (1, 15, "How much is a service call?"),
        (3, 12, "Do you serve Lakemont?"),
        (5, 17, "Are you open on Sundays?"),
    ] {
        out.push(Sample {
            days_ago,
            hour,
            channel: Chat,
            priority: Normal,
            status: New,
            name: None,
            phone: None,
            address: None,
            problem: q,
            lines: vec![(Speaker::User, q)],
            call_seconds: None,
        });
    }
    out
}
