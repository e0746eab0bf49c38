//! The chat suites' business served by the real binary, and `/api/chat`
//! turns against it.

use frontdesk::store::InspectableStore;
use serde_json::{json, Value};

use crate::support::instance::*;

/// A plumbing business with known questions and one knowledge document.
const BUSINESS: &str = concat!(
    r#"
[business]
name = "Test Plumbing"
business_type = "PLUMBING"
plan_tier = "PRO"
notification_email = "owner@test-plumbing.example"
notification_phone_number = "+13125550199"
country = "US"
website_origins = ["https://test-plumbing.example"]

[agent]
agent_name = "Pip"
welcome_message = "Hi, I'm Pip. How can I help?"

"#,
    contact_questions!(),
    r#"
[[questions]]
question_text = "And your email address?"
expected_format = "EMAIL"
maps_to_lead_field = "email"
is_required = false

[[questions]]
question_text = "What's the address of the property?"
maps_to_lead_field = "address"
is_essential_for_emergency = true

[[knowledge]]
title = "Opening hours"
content = """
We are open Monday to Friday from 7am to 6pm.

On Saturdays we work from 8am to 2pm. We are closed on Sundays, but our emergency line answers around the clock.
"""

[[knowledge]]
title = "Prices"
content = "Our service call fee is $89, which is waived if you go ahead with the repair. Labour is $120 per hour."
"#
);

pub struct Chat {
    // Fields drop in order: the server stops before its database goes.
    pub server: Server,
    pub fd: Instance,
    pub business_id: String,
    client: reqwest::Client,
}

impl Chat {
    pub fn start() -> Chat {
        Chat::start_with(&[])
    }

    /// Serves the test business with extra environment variables.
    pub fn start_with(env: &[(&str, &str)]) -> Chat {
        let fd = Instance::new();
        let file = fd.dir.path().join("business.toml");
        std::fs::write(&file, BUSINESS).unwrap();
        let business_id = fd.ok(&["business", "import", file.to_str().unwrap()]);
        let mut cmd = fd.command();
        cmd.envs(env.iter().copied()).args(["serve", "--port", "0", "--bind", "127.0.0.1"]);
        let server = Server::start(cmd);
        Chat { fd, server, business_id, client: reqwest::Client::new() }
    }

    pub async fn post(&self, body: Value) -> (u16, Value) {
        let res = self.client.post(self.server.url("/api/chat")).json(&body).send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap())
    }

    /// Sends a message in a session; returns the JSON answer.
    pub async fn say(&self, session: &mut Option<String>, message: &str) -> Value {
        let mut body = json!({ "businessId": self.business_id, "message": message });
        if let Some(id) = session {
            body["sessionId"] = json!(id);
        }
        let (status, answer) = self.post(body).await;
        assert_eq!(status, 200, "{answer}");
        *session = answer["sessionId"].as_str().map(str::to_string);
        answer
    }

    pub fn store(&self) -> std::sync::Arc<dyn InspectableStore> {
        self.fd.store()
    }
}
