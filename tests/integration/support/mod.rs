//! What the suites share and nothing else: no test lives here. Each module
//! is one kind of helper; the fakes themselves are in `tests/fakes/` (the
//! load generators use them too) and are mounted here.

pub mod chat;
pub mod instance;
pub mod net;
pub mod notify;
pub mod pebble;
pub mod postgres;
pub mod ui;
pub mod voice;
pub mod webdriver;

#[path = "../../fakes/ca.rs"]
pub mod fake_ca;
#[path = "../../fakes/documents.rs"]
pub mod fake_documents;
#[path = "../../fakes/media.rs"]
pub mod fake_media;
#[path = "../../fakes/openai.rs"]
pub mod fake_openai;
#[path = "../../fakes/realtime.rs"]
pub mod fake_realtime;
#[path = "../../fakes/site.rs"]
pub mod fake_site;
#[path = "../../fakes/smtp.rs"]
pub mod fake_smtp;
#[path = "../../fakes/twilio.rs"]
pub mod fake_twilio;
